// The interactions.csv reader of Ingest: user_id,item_id,timestamp,weight[,event_type], with the
// exact-duplicate check over 64-bit row fingerprints.
#include <bit>
#include <charconv>
#include <cmath>
#include <limits>

#include "core/external_id.h"
#include "core/hashing.h"
#include "core/timestamp.h"
#include "pipeline/ingest_readers.h"

namespace recserve::pipeline::ingest_detail {
namespace {

constexpr uint64_t kProgressEveryRows = 1 << 16;

// Open-addressing set of 64-bit row fingerprints for the exact-duplicate check: 8 bytes per row
// instead of a node per row. Two different rows collide with probability ~n²/2^65 (about 1e-5
// for 20M rows), which would reject one valid row as a duplicate; accepted as the price of
// bounded memory.
class FingerprintSet {
 public:
  // True when `fp` was not yet present (and inserts it).
  bool Insert(uint64_t fp) {
    if (fp == 0) fp = 1;  // 0 marks an empty slot
    if ((size_ + 1) * 2 > slots_.size()) Grow();
    size_t mask = slots_.size() - 1;
    for (size_t i = fp & mask;; i = (i + 1) & mask) {
      if (slots_[i] == fp) return false;
      if (slots_[i] == 0) {
        slots_[i] = fp;
        ++size_;
        return true;
      }
    }
  }

 private:
  void Grow() {
    std::vector<uint64_t> old = std::move(slots_);
    slots_.assign(old.empty() ? 1024 : old.size() * 2, 0);
    size_ = 0;
    for (uint64_t fp : old) {
      if (fp != 0) Insert(fp);
    }
  }
  std::vector<uint64_t> slots_;
  size_t size_ = 0;
};

uint64_t Mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h *= 0xff51afd7ed558ccdULL;
  return h ^ (h >> 33);
}

bool ParseDouble(std::string_view text, double& out) {
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size() && std::isfinite(out);
}

}  // namespace

Status IngestInteractions(const IngestOptions& options, QuarantineWriter& quarantine,
                          IngestResult& result) {
  const auto& path = options.interactions_path;
  TableStats& stats = result.interactions;
  LineReader reader;
  RECSERVE_RETURN_IF_ERROR(ReadHeader(reader, path, {"user_id", "item_id", "timestamp", "weight"},
                                      {"event_type"}, stats));
  auto hashing = HashInBackground(path);
  InteractionTable& table = result.table;
  const bool items_known = result.catalog.loaded;
  const int64_t latest_allowed = options.now + kFutureToleranceSeconds;
  const uint32_t no_event_type = table.event_types.Intern("");
  FingerprintSet seen;
  std::string line;
  RowChecker row(stats, quarantine, reader, path.filename().string());
  const auto& fields = row.fields();
  auto reject = [&](RejectReason reason) { row.Reject(reason); };
  while (reader.Next(line)) {
    if (options.progress && (stats.input_rows + 1) % kProgressEveryRows == 0) {
      options.progress(stats.input_rows + 1, reader.file_bytes_read());
    }
    if (!row.Split(line)) continue;
    if (fields[0].empty() || fields[1].empty()) {
      reject(RejectReason::kEmptyId);
      continue;
    }
    if (!ValidateExternalId(fields[0], "user_id").ok() ||
        !ValidateExternalId(fields[1], "item_id").ok()) {
      reject(RejectReason::kInvalidId);
      continue;
    }
    Result<int64_t> ts = ParseTimestamp(fields[2]);
    if (!ts.ok()) {
      reject(RejectReason::kBadTimestamp);
      continue;
    }
    double weight = 1.0;
    // The table stores weights as float: a finite double beyond its range would become inf.
    if (!fields[3].empty() && (!ParseDouble(fields[3], weight) ||
                               std::fabs(weight) > std::numeric_limits<float>::max())) {
      reject(RejectReason::kBadNumber);
      continue;
    }
    if (weight < 0) {
      reject(RejectReason::kNegativeWeight);
      continue;
    }
    if (*ts > latest_allowed) {
      reject(RejectReason::kFutureTimestamp);
      continue;
    }
    uint32_t item;
    if (items_known) {
      auto found = table.items.Find(fields[1]);
      if (!found) {
        reject(RejectReason::kUnknownItem);
        continue;
      }
      item = *found;
    } else {
      item = table.items.Intern(fields[1]);
    }
    // The fingerprint covers the raw user and event strings (not yet interned: a duplicate must
    // not add ids) and the parsed item, time and weight.
    std::string_view event = fields.size() > 4 ? fields[4] : std::string_view();
    uint64_t fp = Mix(Mix(Mix(Mix(Fnv1a64(fields[0]), item), static_cast<uint64_t>(*ts)),
                          std::bit_cast<uint64_t>(weight)),
                      Fnv1a64(event));
    if (!seen.Insert(fp)) {
      reject(RejectReason::kDuplicate);
      continue;
    }
    table.user.push_back(table.users.Intern(fields[0]));
    table.item.push_back(item);
    table.timestamp.push_back(*ts);
    table.weight.push_back(static_cast<float>(weight));
    table.event_type.push_back(event.empty() ? no_event_type : table.event_types.Intern(event));
    ++stats.accepted_rows;
  }
  if (!reader.status().ok()) return ReaderError(reader, path);
  if (options.progress) options.progress(stats.input_rows, reader.file_bytes_read());
  auto file = DescribeFile(path, stats.input_rows, hashing);
  if (!file.ok()) return file.status();
  result.files.insert(result.files.begin(), *file);
  return Status::Ok();
}

}  // namespace recserve::pipeline::ingest_detail
