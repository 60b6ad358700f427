#include <gtest/gtest.h>

#include <chrono>
#include <iterator>
#include <string>
#include <string_view>

#include "http/api_service.h"
#include "http/router.h"
#include "http/wire_json.h"

namespace recserve::http {
namespace {

TEST(Router, MatchesTemplatesAndExtractsDecodedParams) {
  Router<int> router;
  router.Add("GET", "/recommendations/{user_id}", 1);
  router.Add("GET", "/popular", 2);
  router.Add("POST", "/events", 3);
  auto m = router.Find("GET", "/recommendations/user%2042");
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(*m.handler, 1);
  EXPECT_EQ(*m.endpoint, "/recommendations/{user_id}");
  EXPECT_EQ(m.params.at("user_id"), "user 42");
  EXPECT_EQ(*router.Find("GET", "/popular").handler, 2);
  EXPECT_EQ(*router.Find("GET", "/popular/").handler, 2);  // trailing slash tolerated
}

TEST(Router, UnknownPathIsNotFoundAndWrongMethodListsAllowed) {
  Router<int> router;
  router.Add("GET", "/popular", 2);
  router.Add("POST", "/events", 3);
  auto missing = router.Find("GET", "/nope");
  EXPECT_EQ(missing.handler, nullptr);
  EXPECT_EQ(missing.endpoint, nullptr);
  EXPECT_TRUE(missing.allowed_methods.empty());
  auto wrong = router.Find("GET", "/events");
  EXPECT_EQ(wrong.handler, nullptr);
  ASSERT_NE(wrong.endpoint, nullptr);
  EXPECT_EQ(*wrong.endpoint, "/events");
  EXPECT_EQ(wrong.allowed_methods, std::vector<std::string>{"POST"});
  // A placeholder needs a non-empty segment and the segment count must match.
  Router<int> r2;
  r2.Add("GET", "/similar/{item_id}", 1);
  EXPECT_EQ(r2.Find("GET", "/similar").handler, nullptr);
  EXPECT_EQ(r2.Find("GET", "/similar/a/b").handler, nullptr);
  EXPECT_EQ(r2.Find("GET", "/similar/%zz").handler, nullptr);  // malformed escape
}

TEST(Query, ParamsArePercentDecoded) {
  std::string v;
  EXPECT_TRUE(QueryParam("k=5&timeframe=24h", "timeframe", v));
  EXPECT_EQ(v, "24h");
  EXPECT_TRUE(QueryParam("user_id=a%20b+c&k=1", "user_id", v));
  EXPECT_EQ(v, "a b c");
  EXPECT_FALSE(QueryParam("kk=5", "k", v));
  EXPECT_TRUE(QueryParam("k", "k", v));
  EXPECT_EQ(v, "");
}

TEST(JsonWriter, EscapesAndStructures) {
  JsonWriter w;
  w.BeginObject()
      .Key("a")
      .String("q\"\\\n\x01")
      .Key("b")
      .BeginArray()
      .Int(1)
      .Number(0.5)
      .Null()
      .EndArray()
      .Key("c")
      .Bool(true)
      .Key("d")
      .StringOrNull("")
      .Key("bad_utf8")
      .String("\xff")
      .Key("inf")
      .Number(1.0 / 0.0)
      .EndObject();
  EXPECT_EQ(w.str(),
            "{\"a\":\"q\\\"\\\\\\n\\u0001\",\"b\":[1,0.5,null],\"c\":true,\"d\":null,"
            "\"bad_utf8\":\"\xEF\xBF\xBD\",\"inf\":null}");
}

// Found by fuzz/http_request_fuzzer: overlong forms, surrogates and code points above U+10FFFF
// used to pass through and made the response invalid JSON; valid multi-byte text stays as is.
TEST(JsonWriter, ReplacesEveryInvalidUtf8SequenceSoTheOutputParses) {
  for (const char* bad : {"\xC0\x94", "\xC1\xBF", "\xE0\x80\x80", "\xED\xA0\x80",
                          "\xF0\x80\x80\x80", "\xF4\x90\x80\x80", "\xF5\x80\x80\x80"}) {
    JsonWriter w;
    w.String(bad);
    EXPECT_EQ(w.str().find_first_of("\xC0\xC1\xF5"), std::string::npos) << w.str();
    EXPECT_EQ(w.str().substr(0, 4), "\"\xEF\xBF\xBD") << w.str();
  }
  JsonWriter ok;
  ok.String("\xC2\x9E\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF");
  EXPECT_EQ(ok.str(), "\"\xC2\x9E\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF\"");
}

TEST(DecodeEvents, AcceptsOneObjectOrAnArray) {
  auto one = DecodeEvents(R"({"user_id":"u1","item_id":42,"event_type":"view"})");
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].item_id, "42");
  EXPECT_FALSE((*one)[0].timestamp.has_value());
  auto many = DecodeEvents(
      R"([{"user_id":"u1","item_id":"a","event_type":"click","timestamp":1700000000},
          {"user_id":"u2","item_id":"b","event_type":"view","timestamp":"2023-11-14T22:13:20Z"}])");
  ASSERT_TRUE(many.ok()) << many.status().ToString();
  EXPECT_EQ((*many)[0].timestamp, 1700000000);
  EXPECT_EQ((*many)[1].timestamp, 1700000000);
}

TEST(DecodeEvents, RejectsBadBodiesWithAReason) {
  auto expect_bad = [](const std::string& body, const std::string& fragment) {
    auto r = DecodeEvents(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(fragment), std::string::npos) << r.status().message();
  };
  expect_bad("{not json", "not valid JSON");
  expect_bad("[]", "empty");
  expect_bad("42", "event object");
  expect_bad(R"([{"user_id":"u","item_id":"i","event_type":"v"}, 7])", "events[1]");
  expect_bad(R"({"item_id":"i","event_type":"v"})", "user_id: missing");
  expect_bad(R"({"user_id":"u","item_id":1.5,"event_type":"v"})", "item_id");
  expect_bad(R"({"user_id":"u","item_id":"i"})", "event_type");
  expect_bad(R"({"user_id":"u","item_id":"i","event_type":"v","timestamp":"yesterday"})",
             "timestamp");
  expect_bad(R"({"user_id":"u","item_id":"i","event_type":"v","timestamp":-5})", "timestamp");
  // Found by fuzz/events_json_fuzzer: a date before 1970 passed where -5 did not.
  expect_bad(R"({"user_id":"u","item_id":"i","event_type":"v","timestamp":"1012-11-28 10:00:00"})",
             "timestamp: out of range");
  std::string big = "[";
  for (int i = 0; i < 1001; ++i) {
    big += std::string(i ? "," : "") + R"({"user_id":"u","item_id":"i","event_type":"v"})";
  }
  expect_bad(big + "]", "at most 1000");
}

// Event timestamps follow core/timestamp.h (tested there); this checks DecodeEvents uses it and
// applies the 1970..9999 range to strings as to numbers.
TEST(DecodeEvents, StringTimestampsFollowTheSharedGrammar) {
  for (const char* text : {"2023-11-14T22:13:20Z", "2023-11-14T23:13:20+01:00",
                           "2023-11-14T21:13:20-0100", "2023-11-14 22:13:20.999Z", "1700000000"}) {
    auto events = DecodeEvents(std::string(R"({"user_id":"u","item_id":"i","event_type":"v",)") +
                               R"("timestamp":")" + text + R"("})");
    ASSERT_TRUE(events.ok()) << text << ": " << events.status().ToString();
    EXPECT_EQ((*events)[0].timestamp, 1700000000) << text;
  }
  for (const char* text :
       {"2023-02-31T00:00:00Z", "2023-11-14T22:13:20Zjunk", "", "999999999999"}) {
    auto events = DecodeEvents(std::string(R"({"user_id":"u","item_id":"i","event_type":"v",)") +
                               R"("timestamp":")" + text + R"("})");
    EXPECT_FALSE(events.ok()) << text;
  }
}

TEST(RequestId, SanitisedBoundedOrGenerated) {
  EXPECT_EQ(SanitizeOrGenerateRequestId("abc-123_x.y:z"), "abc-123_x.y:z");
  EXPECT_EQ(SanitizeOrGenerateRequestId("a<script>b\r\nc"), "ascriptbc");
  EXPECT_EQ(SanitizeOrGenerateRequestId(std::string(500, 'a')).size(), 64u);
  std::string generated = SanitizeOrGenerateRequestId("<>");
  EXPECT_EQ(generated.size(), 32u);
  EXPECT_NE(generated, SanitizeOrGenerateRequestId(""));
}

// The error contract of docs/API.md ("Errors"), pinned row by row: each StatusCode answers one
// HTTP status with one `error` name (also the metric label). Written out from the document, not
// from the code's switch: changing a mapping, or adding a code without a row here, fails.
struct PinnedError {
  StatusCode code;
  unsigned http_status;
  std::string_view error;
};
constexpr PinnedError kPinnedErrors[] = {
    {StatusCode::kOk, 200, "ok"},
    {StatusCode::kInvalidArgument, 400, "invalid_argument"},
    {StatusCode::kNotFound, 404, "not_found"},
    {StatusCode::kAlreadyExists, 409, "already_exists"},
    {StatusCode::kFailedPrecondition, 409, "failed_precondition"},
    {StatusCode::kUnauthenticated, 401, "unauthenticated"},
    {StatusCode::kPermissionDenied, 403, "permission_denied"},
    {StatusCode::kResourceExhausted, 413, "resource_exhausted"},
    {StatusCode::kUnsupportedMediaType, 415, "unsupported_media_type"},
    {StatusCode::kRateLimited, 429, "rate_limited"},
    {StatusCode::kDeadlineExceeded, 504, "deadline_exceeded"},
    {StatusCode::kUnavailable, 503, "unavailable"},
    {StatusCode::kDataLoss, 500, "data_loss"},
    {StatusCode::kInternal, 500, "internal"},
};

TEST(StatusMapping, EveryCodeAnswersItsPinnedHttpStatusAndErrorName) {
  for (const PinnedError& row : kPinnedErrors) {
    EXPECT_EQ(HttpStatusFor(row.code), row.http_status) << row.error;
    EXPECT_EQ(StatusCodeName(row.code), row.error);
  }
}

TEST(StatusMapping, EveryStatusCodeHasAPinnedRow) {
  // The table lists the enumerators in declaration order, kOk through kInternal (the last one):
  // a code added to core/status.h without a row here is caught by the count or the order.
  constexpr size_t kCodes = static_cast<size_t>(StatusCode::kInternal) + 1;
  ASSERT_EQ(std::size(kPinnedErrors), kCodes);
  for (size_t i = 0; i < kCodes; ++i) {
    EXPECT_EQ(static_cast<size_t>(kPinnedErrors[i].code), i) << kPinnedErrors[i].error;
  }
  // A code appended after kInternal has a name of its own; past the last code there is none.
  EXPECT_EQ(StatusCodeName(static_cast<StatusCode>(kCodes)), "unknown")
      << "a code after kInternal needs a row (and the count above updated)";
}

}  // namespace
}  // namespace recserve::http

namespace recserve::http {
namespace {

TEST(DecodeReloadRequest, EmptyBodyIsARefreshAndEveryModeDecodes) {
  for (const char* body : {"", "  \n", "{}", R"({"mode":"refresh"})"}) {
    auto r = DecodeReloadRequest(body);
    ASSERT_TRUE(r.ok()) << body;
    EXPECT_EQ(r->mode, engine::ReloadMode::kRefresh);
    EXPECT_FALSE(r->source.has_value());
  }
  auto shadow =
      DecodeReloadRequest(R"({"mode":"shadow","source":"models/staging/run","rollout":0.05})");
  ASSERT_TRUE(shadow.ok());
  EXPECT_EQ(shadow->mode, engine::ReloadMode::kShadow);
  EXPECT_EQ(*shadow->source, "models/staging/run");
  EXPECT_DOUBLE_EQ(*shadow->rollout, 0.05);
  EXPECT_EQ(DecodeReloadRequest(R"({"mode":"primary"})")->mode, engine::ReloadMode::kPrimary);
  EXPECT_EQ(DecodeReloadRequest(R"({"mode":"rollback"})")->mode, engine::ReloadMode::kRollback);
}

TEST(DecodeReloadRequest, RejectsWithTheOffendingKey) {
  struct Case {
    const char* body;
    const char* names;
  } cases[] = {
      {"not json", "JSON"},
      {"[1]", "object"},
      {R"({"mode":"promote"})", "mode"},
      {R"({"mode":1})", "mode"},
      {R"({"source":"x"})", "mode"},
      {R"({"mode":"shadow","source":7})", "source"},
      {R"({"mode":"shadow","rollout":"5%"})", "rollout"},
      {R"({"mode":"shadow","rollot":0.1})", "rollot"},
  };
  for (const auto& c : cases) {
    auto r = DecodeReloadRequest(c.body);
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.names), std::string::npos) << r.status().message();
  }
}

}  // namespace
}  // namespace recserve::http

namespace recserve::http {
namespace {

TEST(DecodeFaultSettings, SetsNamedFieldsAndKeepsTheRest) {
  resilience::FaultInjector faults;
  ASSERT_TRUE(
      faults.Set(resilience::FaultOperation::kRedis, {std::chrono::milliseconds(20), 0.5}).ok());
  auto settings =
      DecodeFaultSettings(R"({"ranking":{"delay_ms":50},"redis":{"failure_rate":0.1}})", faults);
  ASSERT_TRUE(settings.ok()) << settings.status().ToString();
  ASSERT_EQ(settings->size(), 2u);
  for (const auto& [operation, spec] : *settings) {
    if (operation == resilience::FaultOperation::kRanking) {
      EXPECT_EQ(spec.delay.count(), 50);
      EXPECT_EQ(spec.failure_rate, 0.0);
    } else {
      EXPECT_EQ(spec.delay.count(), 20);  // kept
      EXPECT_DOUBLE_EQ(spec.failure_rate, 0.1);
    }
  }
  for (const char* bad :
       {"", "[]", "{}", R"({"disk":{}})", R"({"ranking":5})", R"({"ranking":{"delay_ms":-1}})",
        R"({"ranking":{"delay_ms":60001}})", R"({"ranking":{"delay_ms":1.5}})",
        R"({"redis":{"failure_rate":2}})", R"({"redis":{"rate":0.1}})"}) {
    auto r = DecodeFaultSettings(bad, faults);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace recserve::http
