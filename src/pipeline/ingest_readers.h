#pragma once
// The two file readers of Ingest (pipeline/ingest.h). Internal to ingest.

#include "pipeline/ingest.h"
#include "pipeline/ingest_rows.h"

namespace recserve::pipeline::ingest_detail {

// Reads *options.items_path into result.catalog and result.table.items (ids interned in file
// order), sets result.items and appends the file to result.files. Bad rows go to `quarantine`;
// damage to the file as a whole is the error (see Ingest).
Status IngestItems(const IngestOptions& options, QuarantineWriter& quarantine,
                   IngestResult& result);

// Reads options.interactions_path into result.table and result.interactions and puts the file
// first in result.files; then each of options.event_paths into result.table and
// result.api_events, appending them to result.files. Runs after IngestItems: when
// result.catalog is loaded, item ids must be known to it (kUnknownItem otherwise). Duplicates
// are rejected (kDuplicate) across all those files: a row with an event_id repeats an earlier
// row of the same event_id, a row without one an exact copy of an earlier row.
Status IngestInteractions(const IngestOptions& options, QuarantineWriter& quarantine,
                          IngestResult& result);

}  // namespace recserve::pipeline::ingest_detail
