#pragma once
// Strict reading of small hand-edited YAML configuration files (config/experiments.yaml,
// config/feature_flags.yaml). yaml-cpp throws; these helpers turn every problem into an
// InvalidArgument Status whose message starts with the caller's `context` (file, section, entry)
// and names the field and its line, so an operator can fix the file from the message alone.
// No exception escapes these functions.

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include <yaml-cpp/yaml.h>

#include "core/status.h"

namespace recserve {

// Parses one YAML document. Empty text (or only comments) gives a Null node. InvalidArgument
// "<source>: YAML syntax error at line L, column C: ..." on a syntax error.
Result<YAML::Node> ParseYamlText(std::string_view text, std::string_view source);

// Reads and parses a file. NotFound "<path>: cannot read ..." when it cannot be opened.
Result<YAML::Node> LoadYamlFile(const std::filesystem::path& path);

// "field 'name' (line N)" for error messages; line is 1-based and omitted when unknown.
std::string DescribeField(std::string_view name, const YAML::Node& node);

// InvalidArgument "<context>: unknown key 'k' (line N); known keys: a, b" for the first key of
// the mapping `map` that is not in `known`, or for a non-string key. REQUIRES: map.IsMap().
Status RejectUnknownKeys(const YAML::Node& map, std::span<const std::string_view> known,
                         std::string_view context);
inline Status RejectUnknownKeys(const YAML::Node& map,
                                std::initializer_list<std::string_view> known,
                                std::string_view context) {
  return RejectUnknownKeys(map, std::span<const std::string_view>(known.begin(), known.size()),
                           context);
}

// Typed scalar reads. Each fails with InvalidArgument "<context>: field 'name' (line N): ..."
// when the node is not a scalar of the right kind.
// Booleans accept the YAML words true/false, yes/no, on/off, y/n (yaml-cpp's set).
Result<bool> YamlBool(const YAML::Node& node, std::string_view name, std::string_view context);
// Finite numbers only (no .nan / .inf).
Result<double> YamlFiniteDouble(const YAML::Node& node, std::string_view name,
                                std::string_view context);
Result<int64_t> YamlInt(const YAML::Node& node, std::string_view name, std::string_view context);
// Non-empty scalar text.
Result<std::string> YamlNonEmptyString(const YAML::Node& node, std::string_view name,
                                       std::string_view context);

}  // namespace recserve
