// ApiService's guards against hostile clients (issue 13): admin refused without a token beyond
// loopback, failed authentications limited, JSON bodies required on admin calls, one id rule on
// every route, no exception escaping a handler, events authentication and per-client limits.
#include "http/api_service.h"

#include <gtest/gtest.h>

#include <string>

#include "engine/live_state.h"
#include "engine/model_manager.h"
#include "engine/recommender.h"
#include "observe/metrics.h"
#include "resilience/fault_injector.h"

namespace recserve::http {
namespace {

struct ApiFixture : ::testing::Test {
  observe::Registry registry;
  engine::EngineMetrics metrics{registry};
  engine::LiveState live;
  engine::ModelSlot slot;
  engine::Recommender recommender{{.live = live, .models = slot, .metrics = metrics}};
  engine::ModelManager manager{
      engine::ModelManagerOptions{"/nonexistent-models", std::chrono::milliseconds(0)}, slot,
      [](const std::filesystem::path&) -> Result<std::shared_ptr<const engine::ServingModel>> {
        return InvalidArgument("no bundles in this test");
      },
      registry};
  resilience::FaultInjector faults;

  std::unique_ptr<ApiService> Make(AdminConfig admin, EventsConfig events = {}) {
    admin.models = &manager;
    admin.faults = &faults;
    return std::make_unique<ApiService>(recommender, registry, HealthInfo{}, admin, events);
  }

  static Reply Send(ApiService& api, boost::beast::http::verb method, std::string target,
                    std::string body = "", std::string content_type = "",
                    std::string authorization = "", std::string peer = "10.0.0.7") {
    Request request{method, target, 11};
    if (!content_type.empty()) request.set(boost::beast::http::field::content_type, content_type);
    if (!authorization.empty()) {
      request.set(boost::beast::http::field::authorization, authorization);
    }
    request.body() = std::move(body);
    request.prepare_payload();
    RequestTiming timing{std::chrono::steady_clock::now(), std::chrono::steady_clock::now(), peer};
    return api.Handle(request, timing);
  }

  double Counter(const std::string& name, const std::string& label, const std::string& value) {
    return registry.AddCounter(name, "", {label}).WithLabels({value}).Value();
  }
};

using boost::beast::http::verb;

TEST_F(ApiFixture, AdminWithoutATokenIsRefusedBeyondLoopbackUnlessOptedIn) {
  auto closed = Make(AdminConfig{});
  Reply reply = Send(*closed, verb::post, "/models/reload");
  EXPECT_EQ(reply.response.result_int(), 403u);
  EXPECT_NE(reply.response.body().find("ADMIN_TOKEN is not set"), std::string::npos);
  EXPECT_EQ(Counter("recommendation_admin_auth_failures_total", "reason", "disabled"), 1);

  AdminConfig loopback;
  loopback.loopback_only = true;
  EXPECT_EQ(Send(*Make(loopback), verb::post, "/models/reload").response.result_int(), 200u);

  AdminConfig opted_in;
  opted_in.open_without_token = true;
  EXPECT_EQ(Send(*Make(opted_in), verb::post, "/models/reload").response.result_int(), 200u);
}

TEST_F(ApiFixture, FailedAuthenticationsAreCountedAndThenRateLimited) {
  AdminConfig admin;
  admin.token = "s3cret";
  admin.loopback_only = true;  // a token always applies, loopback or not
  auto api = Make(admin);
  EXPECT_EQ(Send(*api, verb::post, "/models/reload").response.result_int(), 401u);
  for (int i = 0; i < 9; ++i) {
    EXPECT_EQ(
        Send(*api, verb::post, "/models/reload", "", "", "Bearer wrong").response.result_int(),
        403u)
        << i;
  }
  // Ten failures used the burst: even the right token is refused now, from this address only.
  EXPECT_EQ(Send(*api, verb::post, "/models/reload", "", "", "Bearer s3cret").response.result_int(),
            429u);
  EXPECT_EQ(Send(*api, verb::post, "/models/reload", "", "", "Bearer s3cret", "10.0.0.8")
                .response.result_int(),
            200u);
  EXPECT_EQ(Counter("recommendation_admin_auth_failures_total", "reason", "missing"), 1);
  EXPECT_EQ(Counter("recommendation_admin_auth_failures_total", "reason", "rejected"), 9);
  EXPECT_EQ(Counter("recommendation_admin_auth_failures_total", "reason", "rate_limited"), 1);
}

TEST_F(ApiFixture, AdminBodiesMustBeJson) {
  AdminConfig admin;
  admin.loopback_only = true;
  auto api = Make(admin);
  std::string body = R"({"mode":"rollback"})";
  for (std::string type : {"", "text/plain", "application/x-www-form-urlencoded",
                           "multipart/form-data; boundary=x", "application/jsonp"}) {
    Reply reply = Send(*api, verb::post, "/models/reload", body, type);
    EXPECT_EQ(reply.response.result_int(), 415u) << type;
  }
  // Accepted as JSON (and then refused for its content: nothing to roll back to).
  for (std::string type : {"application/json", "Application/JSON; charset=utf-8"}) {
    EXPECT_EQ(Send(*api, verb::post, "/models/reload", body, type).response.result_int(), 409u)
        << type;
  }
  // No body, no type: the runbook's empty reload.
  EXPECT_EQ(Send(*api, verb::post, "/models/reload").response.result_int(), 200u);
}

TEST_F(ApiFixture, OneIdRuleOnEveryRoute) {
  auto api = Make(AdminConfig{});
  std::string long_id(257, 'u');
  for (std::string target :
       {"/recommendations/" + long_id, "/similar/" + long_id, "/recommend/detail/" + long_id,
        "/recommend/detail/i1?user_id=" + long_id, std::string("/recommendations/a%FF%FEb"),
        std::string("/similar/a%01b")}) {
    Reply reply = Send(*api, verb::get, target);
    EXPECT_EQ(reply.response.result_int(), 400u) << target;
    EXPECT_NE(reply.response.body().find("1..256 bytes of UTF-8"), std::string::npos) << target;
  }
  EXPECT_EQ(
      Send(*api, verb::get, "/recommendations/" + std::string(256, 'u')).response.result_int(),
      200u);
}

TEST_F(ApiFixture, AnExceptionInAHandlerIsA500AndCounted) {
  AdminConfig admin;
  admin.token = "t";
  auto api = Make(admin);
  ASSERT_TRUE(
      faults.Set(resilience::FaultOperation::kHandler, {std::chrono::milliseconds(0), 1.0}).ok());
  Reply reply = Send(*api, verb::get, "/popular");
  EXPECT_EQ(reply.response.result_int(), 500u);
  EXPECT_NE(reply.response.body().find("\"internal\""), std::string::npos);
  EXPECT_EQ(registry.AddCounter("recommendation_handler_exceptions_total", "").Get().Value(), 1);
  // Admin routes are exempt, so the fault can be cleared.
  EXPECT_EQ(Send(*api, verb::delete_, "/admin/faults", "", "", "Bearer t").response.result_int(),
            200u);
  EXPECT_EQ(Send(*api, verb::get, "/popular").response.result_int(), 200u);
}

TEST_F(ApiFixture, EventsNeedAKnownTokenWhenKeysAreSetAndArePerClientLimited) {
  EventsConfig events;
  events.keys = {{"shop", "k-shop"}, {"app", "k-app"}};
  events.rate_per_client = 100;  // burst max(100, 1000): one full batch, then 100 per second
  auto api = Make(AdminConfig{}, events);
  std::string one = R"({"user_id":"u","item_id":"i","event_type":"view"})";
  EXPECT_EQ(Send(*api, verb::post, "/events", one).response.result_int(), 401u);
  EXPECT_EQ(Send(*api, verb::post, "/events", one, "", "Bearer nope").response.result_int(), 403u);
  std::string batch = "[";
  for (int i = 0; i < 1000; ++i) batch += (i ? "," : "") + one;
  batch += "]";
  // A full batch uses the shop's whole burst; the next one would need 10 s of refill. The app's
  // bucket is its own.
  EXPECT_EQ(Send(*api, verb::post, "/events", batch, "", "Bearer k-shop").response.result_int(),
            200u);
  Reply limited = Send(*api, verb::post, "/events", batch, "", "Bearer k-shop");
  EXPECT_EQ(limited.response.result_int(), 429u);
  EXPECT_FALSE(limited.response[boost::beast::http::field::retry_after].empty());
  EXPECT_EQ(Send(*api, verb::post, "/events", batch, "", "Bearer k-app").response.result_int(),
            200u);
  EXPECT_EQ(Counter("recommendation_events_refused_total", "reason", "unauthenticated"), 2);
  EXPECT_EQ(Counter("recommendation_events_refused_total", "reason", "rate_limited"), 1);
}

TEST_F(ApiFixture, JsonDepthAndSizeAreLimitedWhileParsing) {
  auto api = Make(AdminConfig{});
  std::string deep = std::string(100, '[') + std::string(100, ']');
  Reply reply = Send(*api, verb::post, "/events", deep);
  EXPECT_EQ(reply.response.result_int(), 400u);
  EXPECT_NE(reply.response.body().find("deeper than"), std::string::npos);
  std::string wide = "[";
  for (int i = 0; i < 30000; ++i) wide += (i ? ",1" : "1");
  wide += "]";
  reply = Send(*api, verb::post, "/events", wide);
  EXPECT_EQ(reply.response.result_int(), 400u);
  EXPECT_NE(reply.response.body().find("more than 20000 JSON values"), std::string::npos);
}

}  // namespace
}  // namespace recserve::http
