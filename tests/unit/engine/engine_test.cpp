#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/live_state.h"
#include "engine/ranking_guard.h"
#include "engine/recommender.h"
#include "engine/sliding_window.h"
#include "resilience/fault_injector.h"
#include "store/lru_recommendation_cache.h"

namespace recserve::engine {
namespace {

constexpr int64_t kNow = 1'800'000'000;

TEST(SlidingWindow, CountsExpireAsTheWindowSlides) {
  SlidingWindowCounter hour(3600, 60);
  hour.Add("a", kNow - 10, kNow, 5);
  hour.Add("b", kNow - 1800, kNow, 3);
  hour.Add("old", kNow - 7200, kNow, 100);  // outside the window: ignored
  EXPECT_EQ(hour.CountOf("a", kNow), 5u);
  EXPECT_EQ(hour.CountOf("old", kNow), 0u);
  auto top = hour.Top(kNow, 10);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].first, "a");
  // 40 minutes later b (30 min old then) has left the window, a is still in it.
  EXPECT_EQ(hour.CountOf("b", kNow + 2400), 0u);
  EXPECT_EQ(hour.CountOf("a", kNow + 2400), 5u);
  // Two hours later nothing is left; new events count again from zero.
  EXPECT_TRUE(hour.Top(kNow + 7200, 10).empty());
  hour.Add("a", kNow + 7200, kNow + 7200);
  EXPECT_EQ(hour.CountOf("a", kNow + 7200), 1u);
}

TEST(SlidingWindow, FutureEventsCountNowAndTiesBreakById) {
  SlidingWindowCounter w(3600, 60);
  w.Add("z", kNow + 100, kNow);
  w.Add("y", kNow, kNow);
  auto top = w.Top(kNow, 1);
  ASSERT_EQ(top.size(), 1u);
  EXPECT_EQ(top[0].first, "y");
}

Event MakeEvent(std::string user, std::string item, std::optional<int64_t> ts = std::nullopt) {
  return Event{std::move(user), std::move(item), "view", ts, ""};
}

TEST(LiveState, AppliesHistoryPopularityAndTrending) {
  LiveState live;
  ASSERT_TRUE(live.Apply({MakeEvent("u1", "a"), MakeEvent("u1", "b"), MakeEvent("u2", "b"),
                          MakeEvent("u3", "c", kNow - 5 * 3600)},
                         kNow)
                  .ok());
  EXPECT_EQ(live.RecentItems("u1"), (std::vector<std::string>{"b", "a"}));
  EXPECT_NE(live.UserGeneration("u1"), 0u);
  EXPECT_EQ(live.UserGeneration("nobody"), 0u);
  EXPECT_TRUE(live.Popular()->empty());  // lists are published by RebuildLists, not by Apply
  live.RebuildLists(kNow);
  auto popular = live.Popular();
  ASSERT_EQ(popular->size(), 3u);
  EXPECT_EQ((*popular)[0], (std::pair<std::string, uint64_t>{"b", 2}));
  auto hour = live.Trending(TrendingWindow::kOneHour);
  ASSERT_EQ(hour->size(), 2u);  // c is 5 hours old: only in the 24h window
  auto day = live.Trending(TrendingWindow::kOneDay);
  EXPECT_EQ(day->size(), 3u);
  // An hour and a bit later the 1h window is empty, the 24h one is not.
  live.RebuildLists(kNow + 3700);
  EXPECT_TRUE(live.Trending(TrendingWindow::kOneHour)->empty());
  EXPECT_EQ(live.Trending(TrendingWindow::kOneDay)->size(), 3u);
}

TEST(LiveState, HistoryIsBounded) {
  LiveState live;
  std::vector<Event> events;
  for (size_t i = 0; i < LiveState::kHistoryLength + 10; ++i) {
    events.push_back(MakeEvent("u", "item" + std::to_string(i)));
  }
  ASSERT_TRUE(live.Apply(events, kNow).ok());
  auto recent = live.RecentItems("u");
  ASSERT_EQ(recent.size(), LiveState::kHistoryLength);
  EXPECT_EQ(recent.front(), "item" + std::to_string(LiveState::kHistoryLength + 9));
}

TEST(LiveState, RejectedBatchAppliesNothing) {
  LiveState live;
  Status s = live.Apply({MakeEvent("u1", "a"), MakeEvent("u1", "")}, kNow);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("events[1].item_id"), std::string::npos);
  EXPECT_TRUE(live.RecentItems("u1").empty());
  live.RebuildLists(kNow);
  EXPECT_TRUE(live.Popular()->empty());
  EXPECT_EQ(live.Apply({MakeEvent("u1", "a", kNow + 3600)}, kNow).code(),
            StatusCode::kInvalidArgument);  // far future
  EXPECT_EQ(live.Apply({MakeEvent(std::string(300, 'u'), "a")}, kNow).code(),
            StatusCode::kInvalidArgument);
}

// What FakeModel's Recall hands to its Rank: the items it recalled, tagged with the recaller.
struct FakeRecallState final : RecallState {
  const ServingModel* owner = nullptr;
  std::vector<ScoredItem> items;
};

// A tiny model: users u1/u2 known; recall returns items a..e; rank reverses alphabetical order.
// Counts Recall calls and keeps the last query's recall options.
class FakeModel final : public ServingModel {
 public:
  explicit FakeModel(std::string version, bool rank_fails = false)
      : version_(std::move(version)), rank_fails_(rank_fails) {}
  const std::string& version() const override { return version_; }
  bool KnowsUser(std::string_view u) const override { return u == "u1" || u == "u2"; }
  bool KnowsItem(std::string_view i) const override { return i.size() == 1; }
  Result<RecalledCandidates> Recall(const RecommendationQuery& query) const override {
    ++recalls;
    {
      std::lock_guard lock(mu);
      last_recall = query.recall;
    }
    RecalledCandidates out;
    out.items = {{"a", 5}, {"b", 4}, {"c", 3}, {"d", 2}, {"e", 1}};
    auto state = std::make_shared<FakeRecallState>();
    state->owner = this;
    state->items = out.items;
    out.model_state = std::move(state);
    return out;
  }
  Result<std::vector<ScoredItem>> Rank(const RecommendationQuery&,
                                       const RecalledCandidates& candidates) const override {
    if (rank_fails_) return Internal("ranker broke");
    const auto* state = dynamic_cast<const FakeRecallState*>(candidates.model_state.get());
    if (state == nullptr || state->owner != this) return InvalidArgument("foreign candidates");
    std::vector<ScoredItem> c = state->items;
    std::sort(c.begin(), c.end(),
              [](const ScoredItem& x, const ScoredItem& y) { return x.item_id > y.item_id; });
    for (size_t i = 0; i < c.size(); ++i) c[i].score = 1.0 - 0.1 * static_cast<double>(i);
    return c;
  }
  Result<std::vector<ScoredItem>> Similar(std::string_view, uint32_t k) const override {
    std::vector<ScoredItem> out{{"x", 0.9}, {"y", 0.8}};
    if (out.size() > k) out.resize(k);
    return out;
  }
  std::vector<ScoredItem> Popular(uint32_t k) const override {
    std::vector<ScoredItem> out{{"p1", 10}, {"p2", 9}, {"p3", 8}};
    if (out.size() > k) out.resize(k);
    return out;
  }

  mutable std::atomic<int> recalls{0};
  mutable std::mutex mu;
  mutable RecallOptions last_recall;

 private:
  std::string version_;
  bool rank_fails_;
};

struct EngineFixture : ::testing::Test {
  observe::Registry registry;
  EngineMetrics metrics{registry};
  LiveState live;
  ModelSlot slot;
  store::LruRecommendationCache cache{1000, std::chrono::milliseconds(60000)};
  Recommender recommender{{.live = live, .models = slot, .metrics = metrics, .cache = &cache}};
  RequestContext ctx{"req", "/recommendations/{user_id}"};
};

TEST_F(EngineFixture, WithoutModelServesLivePopularDegraded) {
  ASSERT_TRUE(
      recommender.IngestEvents({MakeEvent("x", "hot"), MakeEvent("y", "hot")}, "", kNow).ok());
  live.RebuildLists(kNow);
  auto answer = recommender.Recommend(ctx, "anyone", 5);
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->source, "popular");
  EXPECT_EQ(answer->degraded_reason, "no_model");
  ASSERT_EQ(answer->items.size(), 1u);
  EXPECT_EQ(answer->items[0].item_id, "hot");
  EXPECT_EQ(metrics.degraded.WithLabels({"no_model"}).Value(), 1);
  EXPECT_EQ(metrics.cache_requests.WithLabels({"bypass"}).Value(), 1);
  EXPECT_EQ(recommender.Similar("a", 5).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(recommender.Recommend(ctx, "u", 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(recommender.Recommend(ctx, "u", 201).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(EngineFixture, KnownUserGetsRankedUnseenItemsAndCacheHitsUntilAnEvent) {
  recommender.SetPrimaryModel(std::make_shared<FakeModel>("v1"));
  auto first = recommender.Recommend(ctx, "u1", 3);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->source, "personalized");
  EXPECT_EQ(first->model_version, "v1");
  ASSERT_EQ(first->items.size(), 3u);
  EXPECT_EQ(first->items[0].item_id, "e");
  EXPECT_FALSE(first->from_cache);
  auto second = recommender.Recommend(ctx, "u1", 3);
  EXPECT_TRUE(second->from_cache);
  EXPECT_EQ(metrics.cache_requests.WithLabels({"hit"}).Value(), 1);
  // The user sees "e": the next answer is recomputed and no longer contains it.
  ASSERT_TRUE(recommender.IngestEvents({MakeEvent("u1", "e")}, "", kNow).ok());
  auto third = recommender.Recommend(ctx, "u1", 3);
  EXPECT_FALSE(third->from_cache);
  EXPECT_EQ(third->items[0].item_id, "d");
}

TEST_F(EngineFixture, ColdStartAndRankerFailureFallBack) {
  recommender.SetPrimaryModel(std::make_shared<FakeModel>("v1"));
  auto cold = recommender.Recommend(ctx, "stranger", 2);
  EXPECT_EQ(cold->source, "popular");
  EXPECT_EQ(cold->degraded_reason, "");
  EXPECT_EQ(cold->items[0].item_id, "p1");
  recommender.SetPrimaryModel(std::make_shared<FakeModel>("v2", /*rank_fails=*/true));
  auto fallback = recommender.Recommend(ctx, "u2", 2);
  EXPECT_EQ(fallback->degraded_reason, "error:model_inference");
  EXPECT_EQ(fallback->items[0].item_id, "a");  // recall order
}

// No silent nonsense for thin histories (issue 18): a history of items the model does not know
// carries no signal and gets the popular list, labelled; one known item is enough for a
// personal list; a history that filters out every candidate falls back to popular too.
TEST_F(EngineFixture, ThinHistoriesGetThePopularListLabelledAsSuch) {
  recommender.SetPrimaryModel(std::make_shared<FakeModel>("v1"));
  ASSERT_TRUE(
      recommender.IngestEvents({MakeEvent("thin", "unknown-1"), MakeEvent("thin", "zz")}, "", kNow)
          .ok());
  auto unknown_only = recommender.Recommend(ctx, "thin", 3);
  ASSERT_TRUE(unknown_only.ok());
  EXPECT_EQ(unknown_only->source, "popular");
  EXPECT_EQ(unknown_only->degraded_reason, "");
  EXPECT_EQ(unknown_only->items[0].item_id, "p1");

  ASSERT_TRUE(recommender.IngestEvents({MakeEvent("one", "a")}, "", kNow).ok());
  auto one_known = recommender.Recommend(ctx, "one", 3);
  ASSERT_TRUE(one_known.ok());
  EXPECT_EQ(one_known->source, "personalized");
  for (const auto& item : one_known->items) EXPECT_NE(item.item_id, "a");  // seen

  std::vector<Event> all;
  for (const char* item : {"a", "b", "c", "d", "e"}) all.push_back(MakeEvent("all-seen", item));
  ASSERT_TRUE(recommender.IngestEvents(all, "", kNow).ok());
  auto filtered = recommender.Recommend(ctx, "all-seen", 3);
  ASSERT_TRUE(filtered.ok());
  EXPECT_EQ(filtered->source, "popular");
  ASSERT_FALSE(filtered->items.empty());
  EXPECT_EQ(filtered->items[0].item_id, "p1");
}

// Cold-start answers are the popular snapshot every unknown user shares: caching one per user id
// would let a client fill the cache with unique ids (issue 13, finding 2).
TEST_F(EngineFixture, ColdStartAnswersAreNotCachedPerUser) {
  recommender.SetPrimaryModel(std::make_shared<FakeModel>("v1"));
  for (int i = 0; i < 50; ++i) {
    auto cold = recommender.Recommend(ctx, "stranger" + std::to_string(i), 2);
    ASSERT_TRUE(cold.ok());
    EXPECT_EQ(cold->source, "popular");
  }
  EXPECT_EQ(cache.size(), 0u);
  ASSERT_TRUE(recommender.Recommend(ctx, "u1", 3).ok());  // a known user's list is cached
  EXPECT_EQ(cache.size(), 1u);
}

// A feature store whose primary backend is down: every read comes from its fallback and says so.
class FallenBackFeatureStore final : public store::FeatureStore {
 public:
  Result<store::UserFeatures> GetUser(std::string_view user_id) override {
    if (user_id != "u1") return NotFound("no user");
    store::UserFeatures f;
    f.user_id = "u1";
    f.recent = {{"e", kNow - 60}};
    return f;
  }
  Result<store::ItemFeatures> GetItem(std::string_view) override { return NotFound("no item"); }
  Result<std::vector<store::RankedItem>> GetPopular() override {
    return std::vector<store::RankedItem>{{"f1", 7}, {"p1", 6}};
  }
  Result<std::vector<store::RankedItem>> GetTrending() override { return NotFound("none"); }
  Result<store::SnapshotMetadata> GetMetadata() override { return NotFound("none"); }
  std::string_view backend() const override { return "sqlite"; }
  UserRead ReadUser(std::string_view user_id) override {
    return {GetUser(user_id), resilience::DegradationReason::kTimeoutRedis};
  }
};

TEST_F(EngineFixture, FeatureStoreFallbackMarksAnswersAndItsPopularListFillsTheGap) {
  EXPECT_EQ(recommender.feature_store_backend(), "none");
  FallenBackFeatureStore features;
  Recommender with_store{{.live = live,
                          .models = slot,
                          .metrics = metrics,
                          .cache = &cache,
                          .feature_store = &features}};
  EXPECT_EQ(with_store.feature_store_backend(), "sqlite");
  ASSERT_TRUE(with_store.IngestEvents({MakeEvent("x", "hot")}, "", kNow).ok());
  live.RebuildLists(kNow);
  // No model: live events first, then the feature store's list.
  auto popular = with_store.Popular(5);
  ASSERT_TRUE(popular.ok());
  ASSERT_EQ(popular->size(), 3u);
  EXPECT_EQ((*popular)[0].item_id, "hot");
  EXPECT_EQ((*popular)[1].item_id, "f1");
  EXPECT_EQ((*popular)[2].item_id, "p1");
  // With a model, its list fills what is still missing (p1 only once).
  with_store.SetPrimaryModel(std::make_shared<FakeModel>("v1"));
  popular = with_store.Popular(5);
  ASSERT_EQ(popular->size(), 5u);
  EXPECT_EQ((*popular)[3].item_id, "p2");
  EXPECT_EQ((*popular)[4].item_id, "p3");

  // The stored history still counts ("e" is seen), and the answer says it came without Redis.
  for (int i = 0; i < 2; ++i) {
    auto answer = with_store.Recommend(ctx, "u1", 3);
    ASSERT_TRUE(answer.ok());
    EXPECT_EQ(answer->source, "personalized");
    EXPECT_EQ(answer->degraded_reason, "timeout:redis");
    EXPECT_FALSE(answer->from_cache);  // degraded answers are not cached
    ASSERT_EQ(answer->items.size(), 3u);
    EXPECT_EQ(answer->items[0].item_id, "d");
  }
  auto cold = with_store.Recommend(ctx, "stranger", 2);
  EXPECT_EQ(cold->source, "popular");
  EXPECT_EQ(cold->degraded_reason, "timeout:redis");
  EXPECT_EQ(cold->items[0].item_id, "hot");
  EXPECT_EQ(metrics.degraded.WithLabels({"timeout:redis"}).Value(), 3);
}

TEST_F(EngineFixture, TrendingValidatesTimeframeAndK) {
  ASSERT_TRUE(recommender.IngestEvents({MakeEvent("x", "t")}, "", kNow).ok());
  live.RebuildLists(kNow);
  auto t = recommender.Trending("1h", 10);
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->size(), 1u);
  EXPECT_EQ(recommender.Trending("7d", 10).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(recommender.Trending("1h", 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(metrics.events.WithLabels({"accepted"}).Value(), 1);
}

TEST_F(EngineFixture, SlowRankerTimesOutToRecallOrderThenBreakerOpens) {
  resilience::FaultInjector faults;
  ASSERT_TRUE(
      faults.Set(resilience::FaultOperation::kRanking, {std::chrono::milliseconds(200)}).ok());
  RankingGuardOptions options;
  options.timeout = std::chrono::milliseconds(5);
  options.breaker.min_requests = 3;
  options.breaker.open_duration = std::chrono::seconds(60);
  RankingGuard guard(options, registry, &faults);
  LiveState fresh_live;
  ModelSlot fresh_slot;
  Recommender uncached{
      {.live = fresh_live, .models = fresh_slot, .metrics = metrics, .ranking_guard = &guard}};
  uncached.SetPrimaryModel(std::make_shared<FakeModel>("v1"));
  for (int i = 0; i < 3; ++i) {
    auto answer = uncached.Recommend(ctx, "u1", 3);
    ASSERT_TRUE(answer.ok());
    EXPECT_EQ(answer->degraded_reason, "timeout:model_inference");
    ASSERT_EQ(answer->items.size(), 3u);
    EXPECT_EQ(answer->items[0].item_id, "a");  // recall order, not the ranker's reversed one
  }
  auto& timeouts = registry.AddCounter("recommendation_timeouts_total", "", {"operation"});
  EXPECT_EQ(timeouts.WithLabels({"model_inference"}).Value(), 3);
  // Three failures out of three: the ranker breaker is open and ranking is not even tried.
  auto answer = uncached.Recommend(ctx, "u1", 3);
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->degraded_reason, "breaker_open:ranker");
  EXPECT_EQ(timeouts.WithLabels({"model_inference"}).Value(), 3);
  auto& state = registry.AddGauge("circuit_breaker_state", "", {"dependency"});
  EXPECT_EQ(state.WithLabels({"ranker"}).Value(), 1);
  auto& transitions =
      registry.AddCounter("circuit_breaker_transitions_total", "", {"dependency", "to"});
  EXPECT_EQ(transitions.WithLabels({"ranker", "open"}).Value(), 1);
}

TEST_F(EngineFixture, FastRankerThroughTheGuardIsUsed) {
  RankingGuardOptions options;
  options.timeout = std::chrono::seconds(10);
  RankingGuard guard(options, registry, nullptr);
  Recommender guarded{{.live = live, .models = slot, .metrics = metrics, .ranking_guard = &guard}};
  guarded.SetPrimaryModel(std::make_shared<FakeModel>("v1"));
  auto answer = guarded.Recommend(ctx, "u1", 3);
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->degraded_reason, "");
  EXPECT_EQ(answer->items[0].item_id, "e");  // the ranker's order
  auto& seconds = registry.AddHistogram("model_inference_seconds", "", {"variant"}, {1});
  EXPECT_EQ(seconds.WithLabels({"primary"}).Count(), 1u);
}

TEST_F(EngineFixture, RankedRequestRecallsOnceWithTheRequestsRecallOptions) {
  auto model = std::make_shared<FakeModel>("v1");
  recommender.SetPrimaryModel(model);
  RequestContext with_options = ctx;
  with_options.recall.candidates = 50;
  with_options.recall.channel_weights = {{"ease", 0.0}, {"ials", 2.0}};
  auto inline_ranked = recommender.Recommend(with_options, "u1", 3);
  ASSERT_TRUE(inline_ranked.ok());
  EXPECT_EQ(inline_ranked->items[0].item_id, "e");  // ranked, from the single recall
  EXPECT_EQ(model->recalls.load(), 1);
  {
    std::lock_guard lock(model->mu);
    EXPECT_EQ(model->last_recall.candidates, 50u);
    ASSERT_EQ(model->last_recall.channel_weights.size(), 2u);
    EXPECT_EQ(model->last_recall.channel_weights[1].first, "ials");
  }
  // Through the guard as well (a worker ranks the candidates recalled on the request thread).
  RankingGuardOptions options;
  options.timeout = std::chrono::seconds(10);
  RankingGuard guard(options, registry, nullptr);
  LiveState fresh_live;
  ModelSlot fresh_slot;
  Recommender guarded{
      {.live = fresh_live, .models = fresh_slot, .metrics = metrics, .ranking_guard = &guard}};
  guarded.SetPrimaryModel(model);
  auto answer = guarded.Recommend(ctx, "u2", 3);
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->degraded_reason, "");
  EXPECT_EQ(answer->items[0].item_id, "e");
  EXPECT_EQ(model->recalls.load(), 2);
}

}  // namespace
}  // namespace recserve::engine
