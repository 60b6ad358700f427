#include "http/api_service.h"

#include <spdlog/spdlog.h>
#include <algorithm>
#include <chrono>
#include <random>

#include "http/api_replies.h"

namespace recserve::http {

namespace bhttp = boost::beast::http;

unsigned HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kRateLimited:
      return 429;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
      return 409;
    case StatusCode::kResourceExhausted:
      return 413;
    case StatusCode::kUnsupportedMediaType:
      return 415;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kDeadlineExceeded:
      return 504;
    case StatusCode::kDataLoss:
    case StatusCode::kInternal:
      return 500;
  }
  return 500;
}

std::string SanitizeOrGenerateRequestId(std::string_view incoming) {
  constexpr size_t kMaxRequestIdLength = 64;
  std::string id;
  for (char c : incoming) {
    if (id.size() == kMaxRequestIdLength) break;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':';
    if (ok) id.push_back(c);
  }
  if (!id.empty()) return id;
  thread_local std::mt19937_64 rng{
      std::random_device{}() ^
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())};
  static constexpr char kHex[] = "0123456789abcdef";
  id.resize(32);
  uint64_t a = rng(), b = rng();
  for (int i = 0; i < 16; ++i) {
    id[i] = kHex[(a >> (4 * i)) & 0xF];
    id[16 + i] = kHex[(b >> (4 * i)) & 0xF];
  }
  return id;
}

namespace {

constexpr std::string_view kUnmatchedEndpoint = "unmatched";

// The routes user traffic takes: the SLO's routes (monitoring/ filters on exactly these).
constexpr std::string_view kUserRoutes[] = {"/recommendations/{user_id}",
                                            "/recommend/detail/{item_id}", "/similar/{item_id}",
                                            "/popular", "/hot/trending"};

bool IsAdminEndpoint(std::string_view endpoint) {
  return endpoint == "/models/reload" || endpoint == "/admin/faults";
}

// What the load shedder may refuse: never probes, scrapes and model reloads (a saturated
// replica must still answer them); the routes that rank need RANKING_TIMEOUT of budget.
RequestCost CostOf(std::string_view endpoint) {
  if (endpoint == "/recommendations/{user_id}" || endpoint == "/recommend/detail/{item_id}") {
    return RequestCost::kRanking;
  }
  if (endpoint == "/health" || endpoint == "/live" || endpoint == "/ready" ||
      endpoint == "/metrics" || endpoint == "/models/reload" || endpoint == "/admin/faults") {
    return RequestCost::kExempt;
  }
  return RequestCost::kLight;
}

}  // namespace

// Failed admin authentications a client address may make: a burst of 10, then one per second.
constexpr double kAdminFailuresPerSecond = 1.0;
constexpr double kAdminFailureBurst = 10.0;
// Client addresses (or events key names) whose buckets are remembered.
constexpr size_t kRateLimitedClients = 100000;

ApiService::ApiService(engine::Recommender& recommender, observe::Registry& registry,
                       HealthInfo health, AdminConfig admin, EventsConfig events)
    : recommender_(recommender),
      registry_(registry),
      health_(std::move(health)),
      admin_(std::move(admin)),
      events_(std::move(events)),
      admin_failures_(kAdminFailuresPerSecond, kAdminFailureBurst, kRateLimitedClients),
      request_metrics_(registry),
      in_flight_(
          registry.AddGauge("recommendation_in_flight_requests", "Requests being handled now.")
              .Get()),
      auth_failures_(registry.AddCounter(
          "recommendation_admin_auth_failures_total",
          "Admin calls refused before they ran, by reason: missing (no credentials), rejected "
          "(wrong token), disabled (no ADMIN_TOKEN on a non-loopback address), rate_limited "
          "(too many failures from the client), content_type (a body that is not JSON).",
          {"reason"})),
      events_refused_(registry.AddCounter(
          "recommendation_events_refused_total",
          "POST /events batches refused before validation, by reason: unauthenticated, "
          "rate_limited.",
          {"reason"})),
      handler_exceptions_(HandlerExceptionsCounter(registry)) {
  for (const char* reason : {"missing", "rejected", "disabled", "rate_limited", "content_type"}) {
    auth_failures_.WithLabels({reason});
  }
  for (const char* reason : {"unauthenticated", "rate_limited"})
    events_refused_.WithLabels({reason});
  if (events_.rate_per_client > 0) {
    events_limiter_ = std::make_unique<resilience::KeyedRateLimiter>(
        events_.rate_per_client,
        std::max(events_.rate_per_client, static_cast<double>(kMaxEventsPerBatch)),
        kRateLimitedClients);
  }
  router_.Add("GET", "/recommendations/{user_id}", &ApiService::Recommendations);
  router_.Add("GET", "/recommend/detail/{item_id}", &ApiService::Detail);
  router_.Add("GET", "/similar/{item_id}", &ApiService::SimilarItems);
  router_.Add("GET", "/popular", &ApiService::PopularItems);
  router_.Add("GET", "/hot/trending", &ApiService::Trending);
  router_.Add("POST", "/events", &ApiService::Events);
  router_.Add("GET", "/health", &ApiService::Health);
  router_.Add("GET", "/live", &ApiService::Live);
  router_.Add("GET", "/ready", &ApiService::Ready);
  router_.Add("GET", "/metrics", &ApiService::Metrics);
  router_.Add("POST", "/models/reload", &ApiService::ModelsReload);
  router_.Add("GET", "/admin/faults", &ApiService::Faults);
  router_.Add("POST", "/admin/faults", &ApiService::Faults);
  router_.Add("DELETE", "/admin/faults", &ApiService::Faults);
  // The error statuses of the user routes exist at 0 from the start, so the SLO's error ratio
  // sees the first one (rate() needs a previous sample).
  for (std::string_view endpoint : kUserRoutes) {
    for (const char* status : {"500", "503", "504"}) {
      request_metrics_.requests.WithLabels({endpoint, status, "primary"});
    }
  }
}

Reply ApiService::Handle(Request& request, const RequestTiming& timing) {
  std::string request_id = SanitizeOrGenerateRequestId(Sv(request["X-Request-ID"]));
  std::string_view target = Sv(request.target());
  size_t question = target.find('?');
  std::string_view path = target.substr(0, question);
  std::string_view query = question == std::string_view::npos ? "" : target.substr(question + 1);
  auto match = router_.Find(Sv(request.method_string()), path);
  std::string_view endpoint =
      match.endpoint ? std::string_view(*match.endpoint) : kUnmatchedEndpoint;
  if (match.handler == nullptr) {
    if (!match.allowed_methods.empty()) {
      std::string allow;
      for (const auto& m : match.allowed_methods) allow += (allow.empty() ? "" : ", ") + m;
      Reply reply = ErrorReply(405, "method_not_allowed",
                               std::string(Sv(request.method_string())) + " is not allowed on " +
                                   std::string(endpoint) + " (allowed: " + allow + ")",
                               request_id, endpoint);
      reply.response.set(bhttp::field::allow, allow);
      return reply;
    }
    return StatusReply(NotFound("no route for " + std::string(path)), request_id, endpoint);
  }
  std::optional<LoadShedder::Admission> admission;  // held until the handler returns
  if (shedder_ != nullptr) {
    admission.emplace(shedder_->Admit(CostOf(endpoint), timing.queue_wait()));
    if (!admission->admitted())
      return shedder_->ShedReply(admission->reason(), request_id, endpoint);
  }
  Call call{request, match.params, query, request_id, endpoint, timing.peer_address};
  // The exception boundary of the request path: nothing a handler throws may end the process.
  // Handlers return Status values; an exception here is a bug (or an injected fault), answered
  // 500 with the request id, logged and counted.
  try {
    if (admin_.faults != nullptr && !IsAdminEndpoint(endpoint) &&
        admin_.faults->Decide(resilience::FaultOperation::kHandler).fail) {
      throw std::runtime_error("injected fault: handler");
    }
    return (this->*(*match.handler))(call);
  } catch (const std::exception& e) {
    handler_exceptions_.Inc();
    spdlog::error("request {} on {} threw: {}", request_id, endpoint, e.what());
  } catch (...) {
    handler_exceptions_.Inc();
    spdlog::error("request {} on {} threw a non-standard exception", request_id, endpoint);
  }
  return StatusReply(Internal("the request failed on an internal error; it is logged with this "
                              "request id"),
                     request_id, endpoint);
}

Reply ApiService::Reject(const RequestHeader& header, const Status& status, unsigned http_status) {
  return ErrorReply(http_status, StatusCodeName(status.code()), status.message(),
                    SanitizeOrGenerateRequestId(Sv(header["X-Request-ID"])), kUnmatchedEndpoint);
}

void ApiService::Completed(const Reply& reply, double handling_seconds, double total_seconds) {
  std::string status = std::to_string(reply.response.result_int());
  request_metrics_.Record(reply.endpoint, status, reply.variant, handling_seconds);
  if (shedder_ != nullptr) shedder_->RecordAnswer(total_seconds);
}

void ApiService::InFlight(int delta) { in_flight_.Add(delta); }

}  // namespace recserve::http
