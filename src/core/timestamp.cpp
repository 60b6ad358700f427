#include "core/timestamp.h"

#include <ctime>

#include "core/text_input.h"

namespace recserve {

namespace {

// Reads exactly `width` ASCII digits at `pos`; false when the text is shorter or one is not a
// digit.
bool ReadDigits(std::string_view s, size_t pos, size_t width, int64_t& out) {
  if (pos + width > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + width; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

unsigned DaysInMonth(int64_t year, int64_t month) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

Status Refuse(std::string_view text, const char* why) {
  return InvalidArgument("not a timestamp (" + std::string(why) + "): '" +
                         PrintableExcerpt(text, kMaxTimestampLength) + "'");
}

// The zone at text[pos..]: "Z", "+hh:mm", "+hhmm" (or "-"), which must end the text.
Result<int64_t> ParseZone(std::string_view text, size_t pos) {
  if (text[pos] == 'Z') {
    if (pos + 1 != text.size()) return Refuse(text, "unexpected text after Z");
    return int64_t{0};
  }
  if (text[pos] != '+' && text[pos] != '-') return Refuse(text, "unexpected text after the time");
  int64_t hours = 0, minutes = 0;
  size_t minutes_at = pos + 3;
  if (minutes_at < text.size() && text[minutes_at] == ':') ++minutes_at;
  if (!ReadDigits(text, pos + 1, 2, hours) || !ReadDigits(text, minutes_at, 2, minutes) ||
      minutes_at + 2 != text.size()) {
    return Refuse(text, "expected a zone Z, +hh:mm or +hhmm at the end");
  }
  if (hours > 23 || minutes > 59) return Refuse(text, "UTC offset out of range");
  return (text[pos] == '-' ? -1 : 1) * (hours * 3600 + minutes * 60);
}

}  // namespace

bool IsLeapYear(int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day) {
  year -= month <= 2;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(year - era * 400);
  const unsigned doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

Result<int64_t> ParseTimestamp(std::string_view text) {
  if (text.empty()) return InvalidArgument("empty timestamp");
  if (text.size() > kMaxTimestampLength) return Refuse(text, "too long");
  if (text.find_first_not_of("0123456789") == std::string_view::npos) {
    if (text.size() > 12) return Refuse(text, "more than 12 digits of unix seconds");
    int64_t seconds = 0;
    ReadDigits(text, 0, text.size(), seconds);
    return seconds;
  }
  int64_t year = 0, month = 0, day = 0;
  if (text.size() < 10 || !ReadDigits(text, 0, 4, year) || text[4] != '-' ||
      !ReadDigits(text, 5, 2, month) || text[7] != '-' || !ReadDigits(text, 8, 2, day)) {
    return Refuse(text, "expected unix seconds or YYYY-MM-DD");
  }
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month)) {
    return Refuse(text, "no such date");
  }
  const int64_t midnight =
      DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400;
  if (text.size() == 10) return midnight;

  if (text[10] != 'T' && text[10] != ' ')
    return Refuse(text, "expected T or a space after the date");
  int64_t hour = 0, minute = 0, second = 0;
  if (!ReadDigits(text, 11, 2, hour) || text.size() < 16 || text[13] != ':' ||
      !ReadDigits(text, 14, 2, minute)) {
    return Refuse(text, "expected hh:mm after the date");
  }
  size_t pos = 16;
  if (pos < text.size() && text[pos] == ':') {
    if (!ReadDigits(text, pos + 1, 2, second))
      return Refuse(text, "expected two digits of seconds");
    pos += 3;
    if (pos < text.size() && text[pos] == '.') {
      const size_t digits_start = ++pos;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
      if (pos == digits_start || pos - digits_start > 9) {
        return Refuse(text, "expected 1 to 9 digits of fraction");
      }
    }
  }
  if (hour > 23 || minute > 59 || second > 60) return Refuse(text, "no such time of day");
  int64_t offset = 0;
  if (pos < text.size()) {
    Result<int64_t> zone = ParseZone(text, pos);
    if (!zone.ok()) return zone.status();
    offset = *zone;
  }
  return midnight + hour * 3600 + minute * 60 + second - offset;
}

std::string FormatUtc(int64_t unix_seconds, const char* format) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  return std::string(buf, std::strftime(buf, sizeof buf, format, &tm));
}

std::string FormatIsoUtc(int64_t unix_seconds) { return FormatUtc(unix_seconds, kIsoUtcFormat); }

}  // namespace recserve
