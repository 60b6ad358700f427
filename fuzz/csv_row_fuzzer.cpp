// Fuzz target: one line of an input file → SplitCsvLine (core/text_input.h) and the one
// timestamp parser ParseTimestamp (core/timestamp.h) on every field, the two row-level parsers of
// `recserve pipeline` ingest. (The whole-file path, with validation and quarantine, is
// ingest_file_fuzzer.cpp.)
//
// Contract checked (docs/DATA_FORMAT.md, docs/FUZZING.md):
// - a line without a double quote always splits, into exactly the comma-separated pieces;
// - a line that splits re-joins with CsvEscape into a line that splits into the same fields;
// - PrintableExcerpt never lets a byte outside printable ASCII through and stays bounded;
// - ParseTimestamp accepts digits as exactly that many unix seconds, and an accepted ISO-8601
//   date-time means that calendar date and time of day (after its UTC offset): an impossible
//   date such as 2023-02-29 is rejected, not moved to another day; nothing longer than
//   kMaxTimestampLength is accepted.
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "core/text_input.h"
#include "core/timestamp.h"
#include "fuzz_contract.h"

namespace {

std::vector<std::string> SplitOnCommas(std::string_view line) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t comma = line.find(',', start);
    out.emplace_back(line.substr(start, comma == std::string_view::npos ? comma : comma - start));
    if (comma == std::string_view::npos) return out;
    start = comma + 1;
  }
}

int TwoDigits(std::string_view s, size_t pos) { return (s[pos] - '0') * 10 + (s[pos + 1] - '0'); }

void CheckTimestamp(std::string_view text) {
  auto parsed = recserve::ParseTimestamp(text);
  if (!parsed.ok()) return;
  FUZZ_REQUIRE(text.size() <= recserve::kMaxTimestampLength, text);
  const int64_t value = *parsed;
  if (text.find_first_not_of("0123456789") == std::string_view::npos) {
    FUZZ_REQUIRE(
        std::to_string(value) == text.substr(text.find_first_not_of('0') == std::string_view::npos
                                                 ? text.size() - 1
                                                 : text.find_first_not_of('0')),
        text);
    return;
  }
  // Accepted ISO-8601: "YYYY-MM-DD" then optionally "THH:MM[:SS[.f]][Z|±HH:MM|±HHMM]".
  FUZZ_REQUIRE(text.size() >= 10, text);
  int hour = 0, minute = 0, second = 0;
  int64_t offset = 0;
  if (text.size() > 10) {
    hour = TwoDigits(text, 11);
    minute = TwoDigits(text, 14);
    if (text.size() > 16 && text[16] == ':') second = TwoDigits(text, 17);
    // A zone sign can only appear after the time (position 16 or later).
    const size_t sign = text.find_last_of("+-");
    if (sign != std::string_view::npos && sign >= 16) {
      const size_t minutes_at = text[sign + 3] == ':' ? sign + 4 : sign + 3;
      offset = (text[sign] == '+' ? 1 : -1) *
               (TwoDigits(text, sign + 1) * 3600 + TwoDigits(text, minutes_at) * 60);
    }
  }
  if (second == 60) return;  // a leap second is the next minute's :00; no calendar check
  std::time_t local = static_cast<std::time_t>(value + offset);
  std::tm tm{};
  FUZZ_REQUIRE(gmtime_r(&local, &tm) != nullptr, text);
  const int year = (text[0] - '0') * 1000 + (text[1] - '0') * 100 + TwoDigits(text, 2);
  FUZZ_REQUIRE(tm.tm_year + 1900 == year && tm.tm_mon + 1 == TwoDigits(text, 5) &&
                   tm.tm_mday == TwoDigits(text, 8),
               text);
  FUZZ_REQUIRE(tm.tm_hour == hour && tm.tm_min == minute && tm.tm_sec == second, text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> fields;
  const bool split = recserve::SplitCsvLine(line, fields);
  if (line.find('"') == std::string_view::npos) {
    FUZZ_REQUIRE(split, line);
    FUZZ_REQUIRE(fields == SplitOnCommas(line), line);
  }
  if (split) {
    FUZZ_REQUIRE(!fields.empty(), line);
    std::string joined;
    for (size_t i = 0; i < fields.size(); ++i) {
      if (i > 0) joined.push_back(',');
      joined += recserve::CsvEscape(fields[i]);
    }
    std::vector<std::string> again;
    FUZZ_REQUIRE(recserve::SplitCsvLine(joined, again), joined);
    FUZZ_REQUIRE(again == fields, joined);
    for (const std::string& field : fields) CheckTimestamp(field);
  }
  CheckTimestamp(line);

  const std::string excerpt = recserve::PrintableExcerpt(line);
  FUZZ_REQUIRE(excerpt.size() <= 64 * 4 + 3, excerpt);
  for (char c : excerpt) FUZZ_REQUIRE(c >= 0x20 && c < 0x7f, excerpt);
  return 0;
}
