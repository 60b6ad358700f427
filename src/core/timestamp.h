#pragma once
// Timestamps as text: the one grammar every input accepts (interactions.csv and items.csv,
// POST /events, `recserve datagen --start`, the data-quality report read back by serve) and the
// one UTC formatter family every output uses. docs/DATA_FORMAT.md states the same grammar.
//
// Grammar (ABNF, RFC 5234; every letter is case-sensitive):
//
//   timestamp    = unix-seconds / date [ ( "T" / " " ) time [ zone ] ]
//   unix-seconds = 1*12DIGIT                  ; seconds since 1970-01-01T00:00:00Z, no sign
//   date         = 4DIGIT "-" 2DIGIT "-" 2DIGIT ; proleptic Gregorian year-month-day
//   time         = 2DIGIT ":" 2DIGIT [ ":" 2DIGIT [ "." 1*9DIGIT ] ] ; hh:mm[:ss[.fraction]]
//   zone         = "Z" / ( "+" / "-" ) 2DIGIT [ ":" ] 2DIGIT           ; Z, +hh:mm or +hhmm
//
// Ranges: month 01..12; day within the month (February 29 only in leap years: divisible by 4,
// not by 100 unless by 400); hour 00..23; minute 00..59; second 00..60 (a leap second counts as
// the next minute's :00); offset hours 00..23 and minutes 00..59. No zone means UTC. The
// fraction is truncated (whole seconds). A text longer than kMaxTimestampLength is refused
// before it is read. Twelve digits reach the year 33658; a caller with a narrower range (POST
// /events: 1970..9999) checks it on the returned value.
//
// Thread-safety: every function is pure (no locale, no global state).

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace recserve {

// The longest text the grammar can produce: "2025-01-01T00:00:00.123456789+01:00" is 35 bytes.
inline constexpr size_t kMaxTimestampLength = 35;

// Unix seconds (UTC) of `text`, or InvalidArgument whose message quotes `text` (cut to
// kMaxTimestampLength bytes, non-printable bytes escaped) and says which rule it broke.
Result<int64_t> ParseTimestamp(std::string_view text);

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil); negative
// before 1970. REQUIRES: 1 <= month <= 12, 1 <= day <= 31. An impossible day (February 30) is
// not refused here: it becomes a day of the next month, so a parser checks the day first.
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);

// True for a Gregorian leap year.
bool IsLeapYear(int64_t year);

// The strftime(3) pattern of FormatIsoUtc: "2025-01-01T00:00:00Z".
inline constexpr const char* kIsoUtcFormat = "%Y-%m-%dT%H:%M:%SZ";

// `unix_seconds` as UTC text in a strftime(3) `format` (at most 63 bytes of output), e.g.
// "%Y%m%dT%H%M%SZ" for a run id. Uses gmtime_r, so it is thread-safe and ignores TZ.
std::string FormatUtc(int64_t unix_seconds, const char* format);

// `unix_seconds` as ISO-8601 UTC, "2025-01-01T00:00:00Z"; ParseTimestamp reads it back exactly.
std::string FormatIsoUtc(int64_t unix_seconds);

}  // namespace recserve
