// The live state stays within its limits whatever clients post (issue 13, finding 0), keeps the
// answers right for the active set, and counts distinct users (finding 7).
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "engine/bounded_counter.h"
#include "engine/distinct_pair_filter.h"
#include "engine/live_lists_refresher.h"
#include "engine/live_state.h"
#include "engine/recent_histories.h"
#include "observe/metrics.h"

namespace recserve::engine {
namespace {

constexpr int64_t kNow = 1'800'000'000;

Event View(std::string user, std::string item, std::optional<int64_t> ts = std::nullopt) {
  return Event{std::move(user), std::move(item), "view", ts, ""};
}

TEST(BoundedCounter, EvictsTheLeastCountedAndTheOldestAmongEquals) {
  BoundedCounter c(3);
  EXPECT_FALSE(c.Add("a", 5));
  EXPECT_FALSE(c.Add("b"));
  EXPECT_FALSE(c.Add("c"));
  auto evicted = c.Add("d");  // b and c both count 1: b was counted first
  ASSERT_TRUE(evicted);
  EXPECT_EQ(evicted->item, "b");
  EXPECT_EQ(evicted->count, 1u);
  EXPECT_EQ(c.size(), 3u);
  EXPECT_EQ(c.CountOf("a"), 5u);
  EXPECT_EQ(c.CountOf("b"), 0u);
  // A newcomer starts from its own count, never from the evicted one's.
  evicted = c.Add("e");
  ASSERT_TRUE(evicted);
  EXPECT_EQ(evicted->item, "c");
  EXPECT_EQ(c.CountOf("e"), 1u);
  EXPECT_EQ(c.CountOf("a"), 5u);  // the heavy item survives the churn
}

TEST(RecentHistories, ForgetsTheLeastRecentlyActiveUserPastEitherBound) {
  RecentHistories h(/*history_length=*/3, /*max_users=*/2, /*max_bytes=*/1 << 20);
  h.Push("u1", "a");
  h.Push("u2", "b");
  h.Push("u1", "c");  // u1 is now the most recently active
  h.Push("u3", "d");  // over two users: u2 goes
  EXPECT_EQ(h.users(), 2u);
  EXPECT_TRUE(h.Items("u2").empty());
  EXPECT_EQ(h.Items("u1"), (std::vector<std::string>{"c", "a"}));
  EXPECT_EQ(h.evictions(), 1u);
  uint64_t before = h.Generation("u1");
  h.Push("u1", "e");
  EXPECT_NE(h.Generation("u1"), before);
  EXPECT_NE(h.Generation("u1"), 0u);

  // The byte bound: 10 users of long ids fit in what 4 cost.
  size_t per_user = RecentHistories::kUserOverheadBytes + RecentHistories::kItemOverheadBytes + 200;
  RecentHistories bytes(50, 1000, 4 * per_user);
  for (int i = 0; i < 10; ++i)
    bytes.Push(std::string(100, 'u') + std::to_string(i), std::string(100, 'i'));
  EXPECT_LE(bytes.bytes(), 4 * per_user);
  EXPECT_LE(bytes.users(), 4u);
  EXPECT_GE(bytes.evictions(), 6u);
}

TEST(RecentHistories, TheGenerationIsTheHistorysContentNotThePushCount) {
  // A forgotten user that comes back has a new history, so a new generation, unless it is the
  // same history (then the same cached list is right).
  RecentHistories h(3, 1, 1 << 20);
  h.Push("u1", "a");
  uint64_t first = h.Generation("u1");
  h.Push("u2", "b");  // u1 forgotten
  EXPECT_EQ(h.Generation("u1"), 0u);
  h.Push("u1", "c");
  EXPECT_NE(h.Generation("u1"), first);
  EXPECT_NE(h.Generation("u1"), 0u);

  // Two replicas applying the same user's events among different numbers of other users'
  // events (one restarted and caught up from the log shard by shard) agree on the generation;
  // a history that differs by one item does not.
  RecentHistories live(50, 100, 1 << 20), restarted(50, 100, 1 << 20);
  live.Push("other", "1");
  live.Push("x", "a");
  uint64_t after_a = live.Generation("x");
  live.Push("x", "b");
  restarted.Push("x", "a");
  restarted.Push("x", "b");
  restarted.Push("other", "1");
  EXPECT_EQ(live.Generation("x"), restarted.Generation("x"));
  EXPECT_NE(restarted.Generation("x"), after_a);
  RecentHistories ab(50, 100, 1 << 20);
  ab.Push("x", "ab");
  RecentHistories a_b(50, 100, 1 << 20);
  a_b.Push("x", "b");
  a_b.Push("x", "a");
  EXPECT_NE(ab.Generation("x"), a_b.Generation("x"));
}

TEST(DistinctPairFilter, CountsAPairOncePerWindow) {
  DistinctPairFilter f(1024);
  auto first = f.Record("u", "i", kNow);
  EXPECT_TRUE(first.all_time && first.hour && first.day);
  auto again = f.Record("u", "i", kNow + 10);
  EXPECT_FALSE(again.all_time || again.hour || again.day);
  auto later = f.Record("u", "i", kNow + 3600);  // an hour on: counts in the hour window again
  EXPECT_FALSE(later.all_time);
  EXPECT_TRUE(later.hour);
  EXPECT_FALSE(later.day);
  EXPECT_TRUE(f.Record("u", "i", kNow + 24 * 3600).day);
  EXPECT_TRUE(f.Record("other", "i", kNow).all_time);  // another user is another pair
  EXPECT_TRUE(f.Record("i", "u", kNow).all_time);      // (a, b) is not (b, a)
}

TEST(LiveState, OneUserRepeatingEventsCannotPutAnItemOnTop) {
  LiveState live;
  std::vector<Event> spam(1000, View("spammer", "junk"));
  ASSERT_TRUE(live.Apply(spam, kNow).ok());
  ASSERT_TRUE(live.Apply({View("u1", "liked"), View("u2", "liked")}, kNow).ok());
  live.RebuildLists(kNow);
  for (auto list : {live.Popular(), live.Trending(TrendingWindow::kOneHour),
                    live.Trending(TrendingWindow::kOneDay)}) {
    ASSERT_EQ(list->size(), 2u);
    EXPECT_EQ((*list)[0], (std::pair<std::string, uint64_t>{"liked", 2}));
    EXPECT_EQ((*list)[1], (std::pair<std::string, uint64_t>{"junk", 1}));
  }
  // The spammer's history still holds what they did.
  EXPECT_EQ(live.RecentItems("spammer").size(), LiveState::kHistoryLength);
}

TEST(LiveState, AFloodOfUniqueIdsStaysWithinTheLimitsAndKeepsTheActiveSet) {
  LiveStateLimits limits;
  limits.max_users = 1000;
  limits.max_history_bytes = 1 << 20;
  limits.max_items = 500;
  limits.max_items_per_bucket = 200;
  limits.distinct_pair_slots = 1 << 12;
  observe::Registry registry;
  LiveState live(limits, &registry);
  // An active set: 50 users each viewing the same 5 items, before and after the flood.
  auto active = [&](int64_t ts) {
    std::vector<Event> batch;
    for (int u = 0; u < 50; ++u) {
      for (int i = 0; i < 5; ++i) {
        batch.push_back(View("active" + std::to_string(u), "hit" + std::to_string(i), ts));
      }
    }
    return batch;
  };
  ASSERT_TRUE(live.Apply(active(kNow), kNow).ok());
  std::string pad(150, 'x');
  for (int b = 0; b < 100; ++b) {
    std::vector<Event> flood;
    for (int e = 0; e < 1000; ++e) {
      std::string id = pad + std::to_string(b * 1000 + e);
      flood.push_back(View("u" + id, "i" + id));
    }
    ASSERT_TRUE(live.Apply(flood, kNow).ok());
  }
  ASSERT_TRUE(live.Apply(active(kNow), kNow).ok());
  live.RebuildLists(kNow);
  auto popular = live.Popular();
  ASSERT_GE(popular->size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ((*popular)[i].first.substr(0, 3), "hit") << i;
    // At least the 50 distinct users; the flood churned the pair table, so the second pass may
    // count again (the documented over-count), never less.
    EXPECT_GE((*popular)[i].second, 50u) << i;
  }
  auto hour = live.Trending(TrendingWindow::kOneHour);
  ASSERT_GE(hour->size(), 5u);
  EXPECT_EQ((*hour)[0].first.substr(0, 3), "hit");
  EXPECT_EQ(live.RecentItems("active7").size(), 5u);

  auto value = [&](const char* name, const char* structure) {
    for (const auto& line : {registry.Expose()}) {
      std::string key = std::string(name) + "{structure=\"" + structure + "\"} ";
      size_t at = line.find(key);
      if (at != std::string::npos) return std::stod(line.substr(at + key.size()));
    }
    return -1.0;
  };
  EXPECT_LE(value("recommendation_live_state_entries", "users"), 1000);
  EXPECT_LE(value("recommendation_live_state_entries", "items"), 500);
  EXPECT_GE(value("recommendation_live_state_evictions_total", "users"), 99'000);
  EXPECT_GE(value("recommendation_live_state_evictions_total", "items"), 99'000);
  EXPECT_GE(value("recommendation_live_state_evictions_total", "window_items"), 99'000);
}

TEST(LiveListsRefresher, PublishesNewEventsWithoutARequestAskingForThem) {
  LiveState live;
  LiveListsRefresher refresher(
      live, [] { return kNow; }, std::chrono::milliseconds(1), std::chrono::milliseconds(1000));
  ASSERT_TRUE(live.Apply({View("u1", "fresh")}, kNow).ok());
  // Bounded wait for the background rebuild; no timing is asserted, only that it happens.
  for (int i = 0; i < 500 && live.Popular()->empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(live.Popular()->size(), 1u);
  EXPECT_EQ((*live.Popular())[0].first, "fresh");
}

}  // namespace
}  // namespace recserve::engine
