#pragma once
// Text helpers both datagen files share: ids as a letter and a 1-based index ("u1", "i42"),
// integers in plain decimal, and the generator's unit of time. Inline: they run for every field
// of every row.

#include <charconv>
#include <cstdint>
#include <string>

namespace recserve::datagen {

inline constexpr int64_t kSecondsPerDay = 86400;

// Appends `value` in decimal.
inline void AppendInt(std::string& out, int64_t value) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  out.append(buf, end);
}

// Appends `prefix` and index + 1: "u1" for user 0.
inline void AppendId(std::string& out, char prefix, uint64_t index) {
  out.push_back(prefix);
  AppendInt(out, static_cast<int64_t>(index) + 1);
}

}  // namespace recserve::datagen
