#include "http/load_shedder.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace recserve::http {
namespace {

using std::chrono::milliseconds;

LoadSheddingOptions Options(int max_in_flight = 0) {
  LoadSheddingOptions o;
  o.request_timeout = milliseconds(500);
  o.ranking_budget = milliseconds(300);
  o.max_in_flight = max_in_flight;
  return o;
}

double ShedCount(observe::Registry& registry, std::string_view reason) {
  return registry.AddCounter("recommendation_load_shed_total", "", {"reason"})
      .WithLabels({reason})
      .Value();
}

TEST(LoadShedder, OptionsMustLeaveRoomForRanking) {
  EXPECT_TRUE(ValidateLoadSheddingOptions(Options()).ok());
  LoadSheddingOptions o = Options();
  o.ranking_budget = milliseconds(500);
  Status s = ValidateLoadSheddingOptions(o);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("RANKING_TIMEOUT"), std::string::npos);
  o = Options(-1);
  EXPECT_FALSE(ValidateLoadSheddingOptions(o).ok());
  o = Options();
  o.request_timeout = milliseconds(0);
  EXPECT_FALSE(ValidateLoadSheddingOptions(o).ok());
}

TEST(LoadShedder, RankingRequestsNeedTheirBudgetLeftLightOnesOnlyTheDeadline) {
  observe::Registry registry;
  LoadShedder shedder(Options(), registry);
  // 500 ms deadline, 300 ms ranking budget: a ranking request may have waited 200 ms at most.
  EXPECT_TRUE(shedder.Admit(RequestCost::kRanking, milliseconds(200)).admitted());
  auto late = shedder.Admit(RequestCost::kRanking, milliseconds(201));
  EXPECT_FALSE(late.admitted());
  EXPECT_EQ(late.reason(), ShedReason::kQueueWait);
  EXPECT_TRUE(shedder.Admit(RequestCost::kLight, milliseconds(500)).admitted());
  EXPECT_EQ(shedder.Admit(RequestCost::kLight, milliseconds(501)).reason(), ShedReason::kQueueWait);
  EXPECT_TRUE(shedder.Admit(RequestCost::kExempt, std::chrono::seconds(60)).admitted());
  EXPECT_EQ(ShedCount(registry, "queue_wait"), 2);
  EXPECT_EQ(ShedCount(registry, "in_flight"), 0);
}

TEST(LoadShedder, InFlightSlotIsHeldUntilTheAdmissionIsDestroyed) {
  observe::Registry registry;
  LoadShedder shedder(Options(/*max_in_flight=*/1), registry);
  {
    auto first = shedder.Admit(RequestCost::kRanking, milliseconds(0));
    ASSERT_TRUE(first.admitted());
    auto second = shedder.Admit(RequestCost::kRanking, milliseconds(0));
    EXPECT_EQ(second.reason(), ShedReason::kInFlight);
    // Light and exempt requests do not take ranking slots.
    EXPECT_TRUE(shedder.Admit(RequestCost::kLight, milliseconds(0)).admitted());
    auto moved = std::move(first);  // the slot moves with it, released once
    EXPECT_FALSE(shedder.Admit(RequestCost::kRanking, milliseconds(0)).admitted());
  }
  EXPECT_TRUE(shedder.Admit(RequestCost::kRanking, milliseconds(0)).admitted());
  EXPECT_TRUE(shedder.Admit(RequestCost::kRanking, milliseconds(0)).admitted());
  EXPECT_EQ(ShedCount(registry, "in_flight"), 2);
}

TEST(LoadShedder, ShedReplyIs503WithRetryAfterAndReason) {
  observe::Registry registry;
  LoadShedder shedder(Options(1), registry);
  Reply reply = shedder.ShedReply(ShedReason::kInFlight, "rid-1", "/recommendations/{user_id}");
  EXPECT_EQ(reply.response.result_int(), 503u);
  EXPECT_EQ(reply.response["Retry-After"], "1");
  EXPECT_EQ(reply.response["X-Request-ID"], "rid-1");
  EXPECT_EQ(reply.endpoint, "/recommendations/{user_id}");
  const std::string& body = reply.response.body();
  EXPECT_NE(body.find(R"("error":"unavailable")"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("reason":"in_flight")"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("request_id":"rid-1")"), std::string::npos) << body;
}

TEST(LoadShedder, LateAnswersAreCountedWithTheirOverrun) {
  observe::Registry registry;
  LoadShedder shedder(Options(), registry);
  shedder.RecordAnswer(0.2);
  shedder.RecordAnswer(0.5);
  shedder.RecordAnswer(0.52);
  shedder.RecordAnswer(1.7);
  auto& timeouts = registry.AddCounter("recommendation_timeouts_total", "", {"operation"});
  EXPECT_EQ(timeouts.WithLabels({"request"}).Value(), 2);
  auto& overrun =
      registry.AddHistogram("recommendation_deadline_overrun_seconds", "", {}, {}).Get();
  EXPECT_EQ(overrun.Count(), 2u);
  EXPECT_NEAR(overrun.Sum(), 0.02 + 1.2, 1e-9);
}

}  // namespace
}  // namespace recserve::http
