#include "engine/bounded_counter.h"

#include <cassert>

namespace recserve::engine {

BoundedCounter::BoundedCounter(size_t capacity) : capacity_(capacity) { assert(capacity > 0); }

std::optional<BoundedCounter::Eviction> BoundedCounter::Add(std::string_view item, uint64_t count) {
  std::optional<Eviction> evicted;
  auto it = counts_.find(std::string(item));
  if (it != counts_.end()) {
    order_.erase({it->second.count, it->second.sequence, &it->first});
    it->second.count += count;
  } else {
    if (counts_.size() >= capacity_) {
      auto victim = order_.begin();
      const std::string* key = std::get<2>(*victim);
      evicted = Eviction{*key, std::get<0>(*victim)};
      order_.erase(victim);
      counts_.erase(*key);
    }
    it = counts_.emplace(std::string(item), Entry{count, 0}).first;
  }
  it->second.sequence = next_sequence_++;
  order_.insert({it->second.count, it->second.sequence, &it->first});
  return evicted;
}

uint64_t BoundedCounter::CountOf(std::string_view item) const {
  auto it = counts_.find(std::string(item));
  return it == counts_.end() ? 0 : it->second.count;
}

}  // namespace recserve::engine
