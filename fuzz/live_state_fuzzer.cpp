// Fuzz target: a sequence of operations on one engine::LiveState with small limits (64 users,
// 16 KiB of histories, 32 items, 16 items per trending bucket, 256 pair slots), decoded from the
// input: Apply of small batches (few repeating users and items, a hot set of four items, unique
// ids up to the 256-byte limit, invalid ids; timestamps now, within the hour, within the day,
// older than a day, a little in the future, too far in the future, negative), clock jumps,
// RebuildLists at times before and after the clock, reads, and bursts of new users on one hot
// item. A fresh LiveState per input, so every input reproduces on its own.
//
// Contract checked after each operation (docs/FUZZING.md):
// - Apply succeeds exactly when every event of the batch is valid, and a refused batch changes
//   nothing (events_applied, the users gauge); after an applied batch its last user's newest
//   item is the batch's last item;
// - memory: recommendation_live_state_entries{users} <= 64 and equals the number of users with
//   a non-empty history; {items} <= 32; the histories' bytes, computed from RecentItems with
//   RecentHistories' own per-user/per-item overheads, stay <= 16 KiB unless only one user is
//   left (whose own push is never evicted); no history is longer than 50;
// - Popular() and both Trending() lists have at most 200 entries, counts >= 1, sorted by count
//   descending then id ascending, without repeats; a count never exceeds the events applied for
//   the item (all time for Popular; with timestamps inside the window plus two buckets for
//   Trending);
// - a hot item that got a burst of >= 2 new users in one batch stays in Popular (count >= 2)
//   while fewer than 31 other items ever had 2 or more events: the bounded counter only evicts
//   its least counted item, so an item that keeps getting events survives a flood of one-offs.
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "engine/live_state.h"
#include "engine/recent_histories.h"
#include "fuzz_contract.h"
#include "observe/metrics.h"

namespace {

using recserve::engine::CountedItems;
using recserve::engine::Event;
using recserve::engine::LiveState;
using recserve::engine::LiveStateLimits;
using recserve::engine::RecentHistories;
using recserve::engine::TrendingWindow;

// 16 KiB: 64 users with short ids fit (about 210 bytes each), so both bounds can bind.
constexpr LiveStateLimits kLimits{/*max_users=*/64, /*max_history_bytes=*/16384,
                                  /*max_items=*/32, /*max_items_per_bucket=*/16,
                                  /*distinct_pair_slots=*/256};
constexpr int64_t kStart = 1'700'000'000;
constexpr int kHotItems = 4;
constexpr size_t kMaxOperations = 400;

class Bytes {
 public:
  Bytes(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  uint8_t Next() { return pos_ < size_ ? data_[pos_++] : 0; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

std::string Padded(std::string id, size_t length) {
  while (id.size() < length) id.push_back('x');
  return id;
}

std::string HotItem(int i) { return "hot-" + std::to_string(i); }

// What the fuzzer knows independently of LiveState.
struct Model {
  std::set<std::string> users;                         // every user an applied batch named
  std::map<std::string, std::vector<int64_t>> events;  // item → timestamps of applied events
  std::set<std::string> anchored;  // hot items that got a burst of new users in one batch
  uint64_t unique = 0;             // counter for unique ids
  int64_t now = kStart;
};

// A user id from one byte: few repeating users, unique ones up to 256 bytes, invalid ones.
// Sets `valid` to false for an id Validate refuses.
std::string UserFrom(uint8_t b, Model& m, bool& valid) {
  if (b < 160) return "u" + std::to_string(b % 24);
  if (b < 250) return Padded("user-" + std::to_string(++m.unique) + "-", (b - 160) * 2u);
  switch (b) {
    case 250:
      return Padded("max-" + std::to_string(++m.unique) + "-", 256);
    case 251:
      valid = false;
      return Padded("long-", 257);
    case 252:
      valid = false;
      return "";
    case 253:
      valid = false;
      return "bad\xff";
    case 254: {
      std::string id = "utf8-" + std::to_string(++m.unique);
      while (id.size() + 2 <= 256) id += "\xc3\xbc";  // ü
      return id;
    }
    default:
      valid = false;
      return "ctl\x01";
  }
}

std::string ItemFrom(uint8_t b, Model& m, bool& valid) {
  if (b < 96) return HotItem(b % kHotItems);
  if (b < 192) return "it" + std::to_string(b % 40);
  if (b == 255) {
    valid = false;
    return std::string(300, 'i');
  }
  return Padded("item-" + std::to_string(++m.unique) + "-", (b - 192) * 4u);
}

std::optional<int64_t> TimestampFrom(uint8_t b, int64_t now, bool& valid) {
  switch (b % 8) {
    case 0:
      return std::nullopt;
    case 1:
      return now - (b * 13) % 3600;  // within the hour
    case 2:
      return now - 3600 - b * 300;  // within the day
    case 3:
      return now - 90000 - b;  // older than a day
    case 4:
      return now + b % 300;  // a little ahead: counted at now
    case 5:
      if (b < 248) return now;
      valid = false;
      return now + 301 + b;  // too far ahead
    case 6:
      return 0;
    default:
      if (b < 248) return now - 1;
      valid = false;
      return -1;
  }
}

double GaugeValue(recserve::observe::Registry& registry, std::string_view structure) {
  return registry.AddGauge("recommendation_live_state_entries", "", {"structure"})
      .WithLabels({structure})
      .Value();
}

void CheckMemory(const LiveState& live, recserve::observe::Registry& registry, const Model& m) {
  const double users_gauge = GaugeValue(registry, "users");
  FUZZ_REQUIRE(users_gauge <= static_cast<double>(kLimits.max_users), "users gauge");
  FUZZ_REQUIRE(GaugeValue(registry, "items") <= static_cast<double>(kLimits.max_items),
               "items gauge");
  size_t live_users = 0;
  size_t bytes = 0;
  for (const std::string& user : m.users) {
    std::vector<std::string> items = live.RecentItems(user);
    FUZZ_REQUIRE(items.size() <= LiveState::kHistoryLength, user);
    FUZZ_REQUIRE(items.empty() == (live.UserGeneration(user) == 0), user);
    if (items.empty()) continue;
    ++live_users;
    bytes += RecentHistories::kUserOverheadBytes + user.size();
    for (const std::string& item : items)
      bytes += RecentHistories::kItemOverheadBytes + item.size();
  }
  FUZZ_REQUIRE(static_cast<double>(live_users) == users_gauge, std::to_string(live_users));
  FUZZ_REQUIRE(live_users <= 1 || bytes <= kLimits.max_history_bytes, std::to_string(bytes));
}

// Events of `item` with a timestamp at or after `since`.
uint64_t EventsSince(const Model& m, const std::string& item, int64_t since) {
  auto it = m.events.find(item);
  if (it == m.events.end()) return 0;
  uint64_t n = 0;
  for (int64_t ts : it->second) n += ts >= since ? 1 : 0;
  return n;
}

void CheckList(const CountedItems& list, const Model& m, int64_t since) {
  FUZZ_REQUIRE(list.size() <= LiveState::kMaxListLength, std::to_string(list.size()));
  for (size_t i = 0; i < list.size(); ++i) {
    const auto& [item, count] = list[i];
    FUZZ_REQUIRE(count >= 1, item);
    FUZZ_REQUIRE(count <= EventsSince(m, item, since), item);
    if (i == 0) continue;
    const auto& [previous, previous_count] = list[i - 1];
    FUZZ_REQUIRE(previous_count > count || (previous_count == count && previous < item), item);
  }
}

void CheckLists(const LiveState& live, const Model& m, int64_t at) {
  auto popular = live.Popular();
  CheckList(*popular, m, std::numeric_limits<int64_t>::min());
  CheckList(*live.Trending(TrendingWindow::kOneHour), m, at - 3600 - 2 * 60);
  CheckList(*live.Trending(TrendingWindow::kOneDay), m, at - 86400 - 2 * 900);
  // Items other than `hot` that ever had two or more events (an upper bound on those counted
  // twice or more).
  for (const std::string& hot : m.anchored) {
    size_t heavy = 0;
    for (const auto& [item, timestamps] : m.events) heavy += item != hot && timestamps.size() >= 2;
    if (heavy >= kLimits.max_items - 1) continue;
    bool listed = false;
    for (const auto& [item, count] : *popular) listed |= item == hot && count >= 2;
    FUZZ_REQUIRE(listed, hot);
  }
}

void Record(Model& m, const std::vector<Event>& batch) {
  for (const Event& e : batch) {
    m.users.insert(e.user_id);
    m.events[e.item_id].push_back(e.timestamp.value_or(m.now));
  }
}

// Applies `batch` and checks that it was applied exactly when `valid`.
bool ApplyChecked(LiveState& live, recserve::observe::Registry& registry, Model& m,
                  const std::vector<Event>& batch, bool valid) {
  const uint64_t applied_before = live.events_applied();
  const double users_before = GaugeValue(registry, "users");
  recserve::Status status = live.Apply(batch, m.now);
  FUZZ_REQUIRE(status.ok() == valid, status.ToString());
  if (!status.ok()) {
    FUZZ_REQUIRE(live.events_applied() == applied_before, status.ToString());
    FUZZ_REQUIRE(GaugeValue(registry, "users") == users_before, status.ToString());
    return false;
  }
  FUZZ_REQUIRE(live.events_applied() == applied_before + batch.size(), "events_applied");
  Record(m, batch);
  std::vector<std::string> newest = live.RecentItems(batch.back().user_id);
  FUZZ_REQUIRE(!newest.empty() && newest.front() == batch.back().item_id, batch.back().user_id);
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  recserve::observe::Registry registry;
  LiveState live(kLimits, &registry);
  Model m;
  Bytes in(data, size);
  for (size_t op = 0; op < kMaxOperations && !in.empty(); ++op) {
    const uint8_t code = in.Next();
    switch (code % 5) {
      case 0: {  // a batch of 1..8 events
        std::vector<Event> batch;
        bool valid = true;
        const int n = 1 + (code >> 3) % 8;
        for (int i = 0; i < n; ++i) {
          Event e;
          e.user_id = UserFrom(in.Next(), m, valid);
          e.item_id = ItemFrom(in.Next(), m, valid);
          e.event_type = "view";
          e.timestamp = TimestampFrom(in.Next(), m.now, valid);
          batch.push_back(std::move(e));
        }
        ApplyChecked(live, registry, m, batch, valid);
        break;
      }
      case 1: {  // the clock moves on
        static constexpr int64_t kSteps[] = {1, 59, 61, 899, 901, 3599, 3601, 86401};
        m.now += kSteps[in.Next() % 8];
        break;
      }
      case 2: {  // lists rebuilt at, before or after the clock
        static constexpr int64_t kOffsets[] = {0, 0, -61, -3700, 301, 3601, 86401, -90000};
        const int64_t at = m.now + kOffsets[in.Next() % 8];
        live.RebuildLists(at);
        CheckLists(live, m, at);
        break;
      }
      case 3: {  // reads
        bool valid = true;
        std::string user = UserFrom(in.Next(), m, valid);
        std::vector<std::string> items = live.RecentItems(user);
        FUZZ_REQUIRE(items.size() <= LiveState::kHistoryLength, user);
        break;
      }
      default: {  // a burst of 2..9 new users on one hot item, one batch
        const uint8_t b = in.Next();
        const std::string hot = HotItem(b % kHotItems);
        std::vector<Event> batch;
        for (int i = 0; i < 2 + (b >> 2) % 8; ++i) {
          batch.push_back({"burst-" + std::to_string(++m.unique), hot, "view", std::nullopt, ""});
        }
        if (ApplyChecked(live, registry, m, batch, true)) m.anchored.insert(hot);
        break;
      }
    }
    if (op % 32 == 31) CheckMemory(live, registry, m);
  }
  CheckMemory(live, registry, m);
  live.RebuildLists(m.now);
  CheckLists(live, m, m.now);
  return 0;
}
