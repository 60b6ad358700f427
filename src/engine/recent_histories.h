#pragma once
// RecentHistories: each live user's most recent items (newest first, at most `history_length`),
// for at most `max_users` users and `max_bytes` of ids. Past either bound, the least recently
// active user is forgotten first: the users who are active now keep their history, and one
// client posting unique user ids cannot grow memory past the bound.
//
// Not thread-safe; LiveState serialises access.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace recserve::engine {

class RecentHistories {
 public:
  // REQUIRES: every argument > 0.
  RecentHistories(size_t history_length, size_t max_users, size_t max_bytes);
  RecentHistories(const RecentHistories&) = delete;
  RecentHistories& operator=(const RecentHistories&) = delete;

  // `item` is the user's newest item; the user becomes the most recently active.
  void Push(std::string_view user, std::string_view item);

  // Newest first; empty for an unknown (or forgotten) user. Does not change recency.
  std::vector<std::string> Items(std::string_view user) const;
  // A 64-bit hash of the user's history (its items, newest first): recommendation-cache keys
  // carry it, so a list is served only for the history it was computed from. It is a function
  // of the history's content, not of this process: replicas sharing one Redis cache give the
  // same history the same generation and different histories different ones, whatever order or
  // number of other users' events each applied (a per-process push counter, as before, let a
  // replica whose counter differed, e.g. one restarted and caught up from the log, hit another
  // replica's list computed for an older history). Never 0 for a known user; 0 for an unknown
  // (or forgotten) user.
  uint64_t Generation(std::string_view user) const;

  size_t users() const { return users_.size(); }
  size_t bytes() const { return bytes_; }
  uint64_t evictions() const { return evictions_; }

  // What one user costs beyond the bytes of its ids (map node, list node, deque blocks): an
  // estimate used for the byte bound, measured on glibc's allocator.
  static constexpr size_t kUserOverheadBytes = 160;
  static constexpr size_t kItemOverheadBytes = 40;

 private:
  struct History {
    std::deque<std::string> items;  // newest first
    uint64_t generation = 0;
    size_t bytes = 0;
    std::list<const std::string*>::iterator recency;
  };
  void EvictOverBudget();

  const size_t history_length_;
  const size_t max_users_;
  const size_t max_bytes_;
  std::unordered_map<std::string, History> users_;  // node-based: key addresses are stable
  std::list<const std::string*> recency_;           // front = most recently active
  size_t bytes_ = 0;
  uint64_t evictions_ = 0;
};

}  // namespace recserve::engine
