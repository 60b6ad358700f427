#pragma once
// The training interactions as the models see them: users × items in dense indices, each user's
// row ordered oldest first (by timestamp, then item index). Built once, read-only afterwards, so
// concurrent reads are safe.

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace recserve::models {

struct InteractionMatrix {
  uint32_t num_users = 0;
  uint32_t num_items = 0;
  std::vector<uint64_t> row_offsets = {0};  // size num_users + 1
  std::vector<uint32_t> items;              // item index per event, rows concatenated
  std::vector<int64_t> timestamps;          // unix seconds per event (0 when unknown)

  // Builds the matrix from parallel columns. Duplicate (user, item) pairs are kept as given (the
  // caller deduplicates). REQUIRES: users[i] < num_users, items[i] < num_items.
  static InteractionMatrix Build(uint32_t num_users, uint32_t num_items,
                                 const std::vector<uint32_t>& users,
                                 const std::vector<uint32_t>& items,
                                 const std::vector<int64_t>& timestamps);

  size_t nnz() const { return items.size(); }
  std::span<const uint32_t> RowItems(uint32_t user) const {
    return {items.data() + row_offsets[user], items.data() + row_offsets[user + 1]};
  }
  std::span<const int64_t> RowTimes(uint32_t user) const {
    return {timestamps.data() + row_offsets[user], timestamps.data() + row_offsets[user + 1]};
  }
};

// The matrix item-major: offsets per item and the users of each item, in user order.
struct ItemMajor {
  std::vector<uint64_t> offsets;  // size num_items + 1
  std::vector<uint32_t> users;

  static ItemMajor Transpose(const InteractionMatrix& m);
};

// Per-item event times, sorted ascending, for popularity-in-a-window questions.
struct ItemTimeline {
  std::vector<uint64_t> offsets = {0};  // size num_items + 1
  std::vector<int64_t> times;

  static ItemTimeline Build(const InteractionMatrix& m);
  uint32_t num_items() const { return static_cast<uint32_t>(offsets.size() - 1); }
  uint64_t Count(uint32_t item) const { return offsets[item + 1] - offsets[item]; }
  // Events of `item` with from < t <= to.
  uint64_t CountIn(uint32_t item, int64_t from, int64_t to) const;
  // The event times of `item` at or before `at` (a prefix of its sorted times): one binary
  // search, then CountAfter answers any window ending at `at` without searching again.
  std::span<const int64_t> UpTo(uint32_t item, int64_t at) const;
  // Events of `prefix` later than `from`. REQUIRES: prefix sorted ascending.
  static uint64_t CountAfter(std::span<const int64_t> prefix, int64_t from);
  // Earliest event time of `item`; nullopt when there is none.
  std::optional<int64_t> First(uint32_t item) const;
};

// One user's request as every model reads it. `user` is the training index when the user is
// known; a brand-new user has only `items` (their recent history, oldest first).
struct UserQuery {
  std::optional<uint32_t> user;
  std::vector<uint32_t> items;      // item indices, oldest first
  std::vector<int64_t> timestamps;  // same length as items
  int64_t now = 0;                  // reference time for time features; 0 = last history time

  // Reference time: `now` when set, else the latest history timestamp (0 when empty).
  int64_t ReferenceTime() const;
  // The query for a training user: their whole row.
  static UserQuery ForTrainingUser(const InteractionMatrix& m, uint32_t user);
};

}  // namespace recserve::models
