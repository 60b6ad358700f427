#include "core/id_vocabulary.h"

#include <algorithm>

namespace recserve {

namespace {
uint64_t HashId(std::string_view id) { return std::hash<std::string_view>{}(id); }
uint32_t TagOf(uint64_t hash) { return static_cast<uint32_t>(hash >> 32); }
}  // namespace

size_t IdVocabulary::Probe(std::string_view id, uint64_t hash) const {
  const size_t mask = slots_.size() - 1;
  const uint32_t tag = TagOf(hash);
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& slot = slots_[i];
    if (slot.index_plus_one == 0) return i;
    if (slot.hash_tag == tag && names_[slot.index_plus_one - 1] == id) return i;
  }
}

void IdVocabulary::Grow() {
  slots_.assign(slots_.empty() ? 1024 : slots_.size() * 2, Slot{});
  const size_t mask = slots_.size() - 1;
  for (uint32_t idx = 0; idx < names_.size(); ++idx) {
    const uint64_t hash = HashId(names_[idx]);
    size_t i = hash & mask;
    while (slots_[i].index_plus_one != 0) i = (i + 1) & mask;
    slots_[i] = {TagOf(hash), idx + 1};
  }
}

uint32_t IdVocabulary::Intern(std::string_view id) {
  if ((names_.size() + 1) * 2 > slots_.size()) Grow();
  const uint64_t hash = HashId(id);
  Slot& slot = slots_[Probe(id, hash)];
  if (slot.index_plus_one != 0) return slot.index_plus_one - 1;
  const auto idx = static_cast<uint32_t>(names_.size());
  names_.emplace_back(id);
  slot = {TagOf(hash), idx + 1};
  return idx;
}

std::optional<uint32_t> IdVocabulary::Find(std::string_view id) const {
  if (slots_.empty()) return std::nullopt;
  const Slot& slot = slots_[Probe(id, HashId(id))];
  if (slot.index_plus_one == 0) return std::nullopt;
  return slot.index_plus_one - 1;
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
