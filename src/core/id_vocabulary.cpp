#include "core/id_vocabulary.h"

#include <algorithm>

namespace recserve {

uint32_t IdVocabulary::Intern(std::string_view id) {
  auto it = index_.find(id);
  if (it != index_.end()) return it->second;
  uint32_t idx = static_cast<uint32_t>(names_.size());
  names_.emplace_back(id);
  index_.emplace(names_.back(), idx);
  return idx;
}

std::optional<uint32_t> IdVocabulary::Find(std::string_view id) const {
  auto it = index_.find(id);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

bool AllDigitIds(const std::vector<std::string>& ids) {
  return std::all_of(ids.begin(), ids.end(), [](const std::string& s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  });
}

bool IdLess(std::string_view a, std::string_view b, bool numeric) {
  if (numeric) {
    auto strip = [](std::string_view s) {
      size_t i = 0;
      while (i + 1 < s.size() && s[i] == '0') ++i;
      return s.substr(i);
    };
    a = strip(a);
    b = strip(b);
    if (a.size() != b.size()) return a.size() < b.size();
  }
  return a < b;
}

}  // namespace recserve
