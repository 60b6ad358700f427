#pragma once
// External ids are strings; inside, dense uint32 indices. An IdVocabulary interns strings in
// first-seen order (or an order the caller chooses) and is stored in model bundles so serving
// and training agree on indices.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace recserve {

// Not thread-safe for Intern(); concurrent Find()/Name() on an unchanging vocabulary are safe.
class IdVocabulary {
 public:
  // Index of `id`, adding it when new.
  uint32_t Intern(std::string_view id);
  // Index of `id`, or nullopt when unknown.
  std::optional<uint32_t> Find(std::string_view id) const;
  // REQUIRES: index < size().
  const std::string& Name(uint32_t index) const { return names_[index]; }
  uint32_t size() const { return static_cast<uint32_t>(names_.size()); }
  const std::vector<std::string>& names() const { return names_; }

 private:
  // Open-addressing index into names_ (linear probing, at most half full): 8 bytes per slot and
  // no node per id, which made ingest's id lookups ~4x cheaper than std::unordered_map on 1M
  // users. A slot holds 32 bits of the id's hash (to skip most string compares) and index + 1
  // (0 = empty).
  struct Slot {
    uint32_t hash_tag = 0;
    uint32_t index_plus_one = 0;
  };
  // Slot where `id` is, or the empty slot where it would go. REQUIRES: !slots_.empty().
  size_t Probe(std::string_view id, uint64_t hash) const;
  void Grow();
  std::vector<Slot> slots_;
  std::vector<std::string> names_;
};

// True when every id is a non-empty string of ASCII digits; ids then compare as integers
// (EVALUATION.md rule 2).
bool AllDigitIds(const std::vector<std::string>& ids);

// Less-than over ids: numeric when `numeric` (shorter digit string is smaller, then
// lexicographic, leading zeros aside), else plain byte order.
bool IdLess(std::string_view a, std::string_view b, bool numeric);

}  // namespace recserve
