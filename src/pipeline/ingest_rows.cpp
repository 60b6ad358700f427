#include "pipeline/ingest_rows.h"

#include "core/hashing.h"

namespace recserve::pipeline::ingest_detail {

bool SplitFields(std::string_view line, std::vector<std::string_view>& views,
                 std::vector<std::string>& storage) {
  views.clear();
  if (line.find('"') == std::string_view::npos) {
    size_t start = 0;
    for (;;) {
      size_t comma = line.find(',', start);
      if (comma == std::string_view::npos) {
        views.push_back(line.substr(start));
        return true;
      }
      views.push_back(line.substr(start, comma - start));
      start = comma + 1;
    }
  }
  if (!SplitCsvLine(line, storage)) return false;
  for (const auto& s : storage) views.emplace_back(s);
  return true;
}

Status ReadHeader(LineReader& reader, const std::filesystem::path& path,
                  const std::vector<std::string>& required,
                  const std::vector<std::string>& optional, TableStats& stats) {
  RECSERVE_RETURN_IF_ERROR(reader.Open(path));
  std::string header;
  if (!reader.Next(header)) {
    if (!reader.status().ok()) return reader.status();
    return InvalidArgument(path.string() + " is empty: expected a header line");
  }
  if (header.size() >= 3 && header.compare(0, 3, "\xEF\xBB\xBF") == 0) header.erase(0, 3);
  std::vector<std::string> names;
  std::string expected;
  for (const auto& c : required) expected += (expected.empty() ? "" : ",") + c;
  std::string optional_part;
  for (const auto& c : optional) optional_part += "," + c;
  const std::string hint =
      "expected header '" + expected + "' optionally followed by '" + optional_part.substr(1) + "'";
  if (!SplitCsvLine(header, names) || names.size() < required.size() ||
      names.size() > required.size() + optional.size()) {
    return InvalidArgument(path.string() + ": wrong header: " + hint);
  }
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& want = i < required.size() ? required[i] : optional[i - required.size()];
    if (names[i] != want) {
      return InvalidArgument(path.string() + ": wrong header (column " + std::to_string(i + 1) +
                             " is '" + PrintableExcerpt(names[i]) + "'): " + hint);
    }
  }
  stats.columns = names;
  stats.empty_by_column.assign(names.size(), 0);
  return Status::Ok();
}

Status ReaderError(const LineReader& reader, const std::filesystem::path& path) {
  const Status& st = reader.status();
  return Status(st.code(), path.string() + " line " + std::to_string(reader.line_number() + 1) +
                               ": " + st.message());
}

std::future<Result<std::string>> HashInBackground(const std::filesystem::path& path) {
  return std::async(std::launch::async, [path] { return Sha256File(path); });
}

Result<InputFile> DescribeFile(const std::filesystem::path& path, uint64_t rows,
                               std::future<Result<std::string>>& hashing) {
  InputFile f;
  f.path = path.string();
  std::error_code ec;
  f.bytes = std::filesystem::file_size(path, ec);
  f.rows = rows;
  auto sha = hashing.get();
  if (!sha.ok()) return sha.status();
  f.sha256 = *sha;
  return f;
}

}  // namespace recserve::pipeline::ingest_detail
