#include "engine/recent_histories.h"

#include "core/hashing.h"

namespace recserve::engine {

namespace {

// FNV-1a over the items, each followed by a 0 byte (ids hold no control characters), so
// ["ab"] and ["a", "b"] differ. Never 0: 0 means "no live history".
uint64_t HistoryHash(const std::deque<std::string>& items) {
  uint64_t h = 14695981039346656037ULL;
  for (const std::string& item : items) {
    for (char c : item) {
      h ^= static_cast<uint8_t>(c);
      h *= 1099511628211ULL;
    }
    h *= 1099511628211ULL;  // the separator byte 0: xor is a no-op
  }
  return h == 0 ? 1 : h;
}

}  // namespace

RecentHistories::RecentHistories(size_t history_length, size_t max_users, size_t max_bytes)
    : history_length_(history_length), max_users_(max_users), max_bytes_(max_bytes) {}

void RecentHistories::Push(std::string_view user, std::string_view item) {
  auto [it, inserted] = users_.try_emplace(std::string(user));
  History& h = it->second;
  if (inserted) {
    recency_.push_front(&it->first);
    h.recency = recency_.begin();
    h.bytes = kUserOverheadBytes + it->first.size();
    bytes_ += h.bytes;
  } else {
    recency_.splice(recency_.begin(), recency_, h.recency);
  }
  h.items.emplace_front(item);
  size_t added = kItemOverheadBytes + item.size();
  h.bytes += added;
  bytes_ += added;
  if (h.items.size() > history_length_) {
    size_t removed = kItemOverheadBytes + h.items.back().size();
    h.items.pop_back();
    h.bytes -= removed;
    bytes_ -= removed;
  }
  h.generation = HistoryHash(h.items);
  EvictOverBudget();
}

void RecentHistories::EvictOverBudget() {
  // The user just pushed is at the front and is never evicted for its own push.
  while (users_.size() > 1 && (users_.size() > max_users_ || bytes_ > max_bytes_)) {
    const std::string* oldest = recency_.back();
    recency_.pop_back();
    auto it = users_.find(*oldest);
    bytes_ -= it->second.bytes;
    users_.erase(it);
    ++evictions_;
  }
}

std::vector<std::string> RecentHistories::Items(std::string_view user) const {
  auto it = users_.find(std::string(user));
  if (it == users_.end()) return {};
  return {it->second.items.begin(), it->second.items.end()};
}

uint64_t RecentHistories::Generation(std::string_view user) const {
  auto it = users_.find(std::string(user));
  return it == users_.end() ? 0 : it->second.generation;
}

}  // namespace recserve::engine
