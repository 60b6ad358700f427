#include "core/yaml_fields.h"

#include <cmath>
#include <fstream>
#include <sstream>

namespace recserve {
namespace {

Status FieldError(const YAML::Node& node, std::string_view name, std::string_view context,
                  std::string_view problem) {
  return InvalidArgument(std::string(context) + ": " + DescribeField(name, node) + ": " +
                         std::string(problem));
}

// The node's text for an error message: the scalar itself, or its YAML kind.
std::string Shown(const YAML::Node& node) {
  if (node.IsScalar()) return "'" + node.Scalar() + "'";
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) return "a list";
  return "empty";
}

}  // namespace

Result<YAML::Node> ParseYamlText(std::string_view text, std::string_view source) {
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return InvalidArgument(std::string(source) + ": YAML syntax error at line " +
                           std::to_string(e.mark.line + 1) + ", column " +
                           std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
}

Result<YAML::Node> LoadYamlFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path.string() + ": cannot read the file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return NotFound(path.string() + ": read error");
  return ParseYamlText(text.str(), path.string());
}

std::string DescribeField(std::string_view name, const YAML::Node& node) {
  std::string out = "field '" + std::string(name) + "'";
  const YAML::Mark mark = node.Mark();
  if (!mark.is_null()) out += " (line " + std::to_string(mark.line + 1) + ")";
  return out;
}

Status RejectUnknownKeys(const YAML::Node& map, std::span<const std::string_view> known,
                         std::string_view context) {
  for (const auto& entry : map) {
    const YAML::Node& key = entry.first;
    const std::string line =
        key.Mark().is_null() ? "" : " (line " + std::to_string(key.Mark().line + 1) + ")";
    if (!key.IsScalar()) {
      return InvalidArgument(std::string(context) + ": a key" + line + " is not a plain name");
    }
    bool is_known = false;
    for (std::string_view k : known) is_known = is_known || key.Scalar() == k;
    if (!is_known) {
      std::string list;
      for (std::string_view k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      return InvalidArgument(std::string(context) + ": unknown key '" + key.Scalar() + "'" + line +
                             "; known keys: " + list);
    }
  }
  return Status::Ok();
}

Result<bool> YamlBool(const YAML::Node& node, std::string_view name, std::string_view context) {
  bool value = false;
  if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
    return FieldError(node, name, context, Shown(node) + " is not on/off (true/false, yes/no)");
  }
  return value;
}

Result<double> YamlFiniteDouble(const YAML::Node& node, std::string_view name,
                                std::string_view context) {
  double value = 0;
  if (!node.IsScalar() || !YAML::convert<double>::decode(node, value) || !std::isfinite(value)) {
    return FieldError(node, name, context, Shown(node) + " is not a finite number");
  }
  return value;
}

Result<int64_t> YamlInt(const YAML::Node& node, std::string_view name, std::string_view context) {
  int64_t value = 0;
  if (!node.IsScalar() || !YAML::convert<int64_t>::decode(node, value)) {
    return FieldError(node, name, context, Shown(node) + " is not an integer");
  }
  return value;
}

Result<std::string> YamlNonEmptyString(const YAML::Node& node, std::string_view name,
                                       std::string_view context) {
  if (!node.IsScalar() || node.Scalar().empty()) {
    return FieldError(node, name, context, Shown(node) + " is not a non-empty text");
  }
  return node.Scalar();
}

}  // namespace recserve
