#pragma once
// Timestamp forms accepted on the command line and in the project's input files
// (docs/DATA_FORMAT.md): unix seconds ("1735689600") or ISO-8601 in UTC ("2025-01-01",
// "2025-01-01T00:00:00", "2025-01-01T00:00:00Z", "2025-01-01 00:00:00", with an optional
// "+hh:mm"/"-hh:mm" offset instead of Z).

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace recserve::datagen {

// Unix seconds (UTC) for `text`, or InvalidArgument naming the text.
Result<int64_t> ParseTimestamp(std::string_view text);

// Days since 1970-01-01 of the proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);

// "2025-01-01T00:00:00Z" for unix seconds.
std::string FormatIsoUtc(int64_t unix_seconds);

}  // namespace recserve::datagen
