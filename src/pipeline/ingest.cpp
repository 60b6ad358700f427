#include "pipeline/ingest.h"

#include <system_error>

#include "pipeline/ingest_readers.h"

namespace recserve::pipeline {

using ingest_detail::IngestInteractions;
using ingest_detail::IngestItems;
using ingest_detail::QuarantineWriter;

std::string_view RejectReasonName(RejectReason reason) {
  switch (reason) {
    case RejectReason::kBadFieldCount:
      return "bad_field_count";
    case RejectReason::kEmptyId:
      return "empty_id";
    case RejectReason::kBadNumber:
      return "unparsable_number";
    case RejectReason::kBadTimestamp:
      return "unparsable_timestamp";
    case RejectReason::kNegativeWeight:
      return "negative_weight";
    case RejectReason::kFutureTimestamp:
      return "future_timestamp";
    case RejectReason::kUnknownItem:
      return "unknown_item";
    case RejectReason::kDuplicate:
      return "duplicate";
    case RejectReason::kInvalidId:
      return "invalid_id";
    case RejectReason::kMalformedEvent:
      return "malformed_event";
  }
  return "unknown";
}

Result<IngestResult> Ingest(const IngestOptions& options) {
  IngestResult result;
  std::error_code ec;
  std::filesystem::create_directories(options.quarantine_dir, ec);
  if (ec) {
    return Unavailable("cannot create quarantine directory " + options.quarantine_dir.string() +
                       ": " + ec.message());
  }
  result.rejected_path = options.quarantine_dir / "rejected.csv";
  QuarantineWriter quarantine;
  RECSERVE_RETURN_IF_ERROR(quarantine.Open(result.rejected_path));
  if (options.items_path) RECSERVE_RETURN_IF_ERROR(IngestItems(options, quarantine, result));
  RECSERVE_RETURN_IF_ERROR(IngestInteractions(options, quarantine, result));
  RECSERVE_RETURN_IF_ERROR(quarantine.Close(result.rejected_path));
  // Items known only from interactions get empty catalog entries, keeping the catalog aligned.
  ItemCatalog& catalog = result.catalog;
  const size_t item_count = result.table.items.size();
  catalog.title.resize(item_count);
  catalog.tags.resize(item_count);
  catalog.created_at.resize(item_count, 0);
  return result;
}

}  // namespace recserve::pipeline
