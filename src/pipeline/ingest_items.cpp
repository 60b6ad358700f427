// The items.csv reader of Ingest: item_id,title,tags[,created_at], tags '|'-separated.
#include "core/external_id.h"
#include "core/timestamp.h"
#include "pipeline/ingest_readers.h"

namespace recserve::pipeline::ingest_detail {

Status IngestItems(const IngestOptions& options, QuarantineWriter& quarantine,
                   IngestResult& result) {
  const auto& path = *options.items_path;
  TableStats stats;
  LineReader reader;
  RECSERVE_RETURN_IF_ERROR(
      ReadHeader(reader, path, {"item_id", "title", "tags"}, {"created_at"}, stats));
  auto hashing = HashInBackground(path);
  ItemCatalog& catalog = result.catalog;
  IdVocabulary& items = result.table.items;
  std::string line;
  RowChecker row(stats, quarantine, reader, path.filename().string());
  const auto& fields = row.fields();
  auto reject = [&](RejectReason reason) { row.Reject(reason); };
  while (reader.Next(line)) {
    if (!row.Split(line)) continue;
    if (fields[0].empty()) {
      reject(RejectReason::kEmptyId);
      continue;
    }
    if (!ValidateExternalId(fields[0], "item_id").ok()) {
      reject(RejectReason::kInvalidId);
      continue;
    }
    int64_t created_at = 0;
    if (fields.size() > 3 && !fields[3].empty()) {
      Result<int64_t> ts = ParseTimestamp(fields[3]);
      if (!ts.ok()) {
        reject(RejectReason::kBadTimestamp);
        continue;
      }
      created_at = *ts;
    }
    if (items.Find(fields[0])) {
      reject(RejectReason::kDuplicate);
      continue;
    }
    items.Intern(fields[0]);
    catalog.title.emplace_back(fields[1]);
    std::vector<std::string> tags;
    for (size_t start = 0; start <= fields[2].size() && !fields[2].empty();) {
      size_t bar = fields[2].find('|', start);
      if (bar == std::string_view::npos) bar = fields[2].size();
      if (bar > start) tags.emplace_back(fields[2].substr(start, bar - start));
      start = bar + 1;
    }
    catalog.tags.push_back(std::move(tags));
    catalog.created_at.push_back(created_at);
    ++stats.accepted_rows;
  }
  if (!reader.status().ok()) return ReaderError(reader, path);
  catalog.loaded = true;
  auto file = DescribeFile(path, stats.input_rows, hashing);
  if (!file.ok()) return file.status();
  file->role = "items";
  result.files.push_back(*file);
  result.items = std::move(stats);
  return Status::Ok();
}

}  // namespace recserve::pipeline::ingest_detail
