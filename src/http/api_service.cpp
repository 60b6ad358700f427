#include "http/api_service.h"

#include <spdlog/spdlog.h>
#include <algorithm>
#include <charconv>
#include <chrono>
#include <mutex>
#include <random>
#include <set>

#include "core/external_id.h"
#include "core/text_input.h"
#include "http/wire_json.h"

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

std::string_view Sv(boost::beast::string_view s) { return {s.data(), s.size()}; }
boost::beast::string_view Bsv(std::string_view s) { return {s.data(), s.size()}; }

constexpr std::string_view kUnmatchedEndpoint = "unmatched";

// Reply::variant must outlive the server; variant names come from config/experiments.yaml and
// can change on reload, so each distinct name is kept once for the life of the process (a
// handful: bounded by the variants ever configured).
std::string_view InternVariantLabel(const std::string& variant) {
  static std::mutex mu;
  static std::set<std::string, std::less<>> labels;
  std::lock_guard lock(mu);
  return *labels.insert(variant).first;
}

Reply MakeReply(unsigned status, std::string body, const std::string& request_id,
                std::string_view endpoint, std::string_view content_type = "application/json") {
  Reply reply;
  reply.response.result(status);
  reply.response.version(11);
  reply.response.set(bhttp::field::content_type, Bsv(content_type));
  reply.response.set("X-Request-ID", request_id);
  reply.response.body() = std::move(body);
  reply.endpoint = endpoint;
  return reply;
}

Reply ErrorReply(unsigned http_status, std::string_view code, std::string_view message,
                 const std::string& request_id, std::string_view endpoint) {
  JsonWriter w;
  w.BeginObject()
      .Key("error")
      .String(code)
      .Key("message")
      .String(message)
      .Key("request_id")
      .String(request_id)
      .EndObject();
  return MakeReply(http_status, w.Take(), request_id, endpoint);
}

Reply StatusReply(const Status& status, const std::string& request_id, std::string_view endpoint) {
  return ErrorReply(HttpStatusFor(status.code()), StatusCodeName(status.code()), status.message(),
                    request_id, endpoint);
}

// True when the query string has a `name` key, whatever its value (even a malformed one).
bool HasQueryKey(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view key = query.substr(0, std::min(amp, query.find('=')));
    if (key == name) return true;
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
  }
  return false;
}

// k from the query string: absent → default; otherwise an integer (range checked by the engine).
// A malformed percent-escape (k=%zz) is a bad k, not an absent one.
Result<int64_t> QueryK(std::string_view query, int64_t default_k = 10) {
  std::string text;
  if (!QueryParam(query, "k", text)) {
    if (HasQueryKey(query, "k")) return InvalidArgument("k must be an integer within 1..200");
    return default_k;
  }
  int64_t k = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), k);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return InvalidArgument("k must be an integer within 1..200");
  }
  return k;
}

// What the load shedder may refuse: never probes, scrapes and model reloads (a saturated
// replica must still answer them); the routes that rank need RANKING_TIMEOUT of budget.
// Equal strings in time independent of where they differ (the token must not leak by timing).
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return diff == 0;
}

// The routes user traffic takes: the SLO's routes (monitoring/ filters on exactly these).
constexpr std::string_view kUserRoutes[] = {"/recommendations/{user_id}",
                                            "/recommend/detail/{item_id}", "/similar/{item_id}",
                                            "/popular", "/hot/trending"};

bool IsAdminEndpoint(std::string_view endpoint) {
  return endpoint == "/models/reload" || endpoint == "/admin/faults";
}

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

int64_t NowUnixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
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
      requests_(
          registry.AddCounter("recommendation_requests_total",
                              "Requests answered, by route template, HTTP status and variant.",
                              {"endpoint", "status", "variant"})),
      latency_(registry.AddHistogram(
          "recommendation_latency_seconds",
          "Time from request read to response written, by route template and variant.",
          {"endpoint", "variant"}, observe::LatencyBuckets())),
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
      requests_.WithLabels({endpoint, status, "primary"});
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
  requests_.WithLabels({reply.endpoint, status, reply.variant}).Inc();
  latency_.WithLabels({reply.endpoint, reply.variant}).Observe(handling_seconds);
  if (shedder_ != nullptr) shedder_->RecordAnswer(total_seconds);
}

void ApiService::InFlight(int delta) { in_flight_.Add(delta); }

namespace {

void WriteAnswer(JsonWriter& w, const engine::RecommendationAnswer& answer) {
  w.Key("items")
      .Items(answer.items)
      .Key("model_version")
      .StringOrNull(answer.model_version)
      .Key("variant")
      .String(answer.variant)
      .Key("source")
      .String(answer.source)
      .Key("degraded")
      .Bool(!answer.degraded_reason.empty())
      .Key("degraded_reason")
      .StringOrNull(answer.degraded_reason);
}

}  // namespace

// Every id in a path or query follows the one id rule (core/external_id.h): an id the events
// route would refuse is refused here too, before it reaches a cache key or a per-user structure.
Reply ApiService::Recommendations(const Call& call) {
  const std::string& user_id = call.params.at("user_id");
  if (Status id = ValidateExternalId(user_id, "user_id"); !id.ok()) {
    return StatusReply(id, call.request_id, call.endpoint);
  }
  auto k = QueryK(call.query);
  if (!k.ok()) return StatusReply(k.status(), call.request_id, call.endpoint);
  engine::RequestContext ctx{call.request_id, std::string(call.endpoint)};
  auto answer = recommender_.Recommend(ctx, user_id, *k);
  if (!answer.ok()) return StatusReply(answer.status(), call.request_id, call.endpoint);
  JsonWriter w;
  w.BeginObject().Key("request_id").String(call.request_id).Key("user_id").String(user_id);
  WriteAnswer(w, *answer);
  w.EndObject();
  Reply reply = MakeReply(200, w.Take(), call.request_id, call.endpoint);
  reply.variant = InternVariantLabel(answer->variant);
  return reply;
}

Reply ApiService::Detail(const Call& call) {
  const std::string& item_id = call.params.at("item_id");
  auto k = QueryK(call.query);
  if (!k.ok()) return StatusReply(k.status(), call.request_id, call.endpoint);
  if (Status id = ValidateExternalId(item_id, "item_id"); !id.ok()) {
    return StatusReply(id, call.request_id, call.endpoint);
  }
  std::string user_id;
  bool has_user = QueryParam(call.query, "user_id", user_id) && !user_id.empty();
  if (has_user) {
    if (Status id = ValidateExternalId(user_id, "user_id"); !id.ok()) {
      return StatusReply(id, call.request_id, call.endpoint);
    }
  }
  engine::RequestContext ctx{call.request_id, std::string(call.endpoint)};
  auto answer = recommender_.Detail(
      ctx, item_id, has_user ? std::optional<std::string_view>(user_id) : std::nullopt, *k);
  if (!answer.ok()) return StatusReply(answer.status(), call.request_id, call.endpoint);
  JsonWriter w;
  w.BeginObject().Key("request_id").String(call.request_id).Key("item_id").String(item_id);
  w.Key("user_id").StringOrNull(user_id);
  WriteAnswer(w, *answer);
  w.EndObject();
  Reply reply = MakeReply(200, w.Take(), call.request_id, call.endpoint);
  reply.variant = InternVariantLabel(answer->variant);
  return reply;
}

Reply ApiService::SimilarItems(const Call& call) {
  const std::string& item_id = call.params.at("item_id");
  if (Status id = ValidateExternalId(item_id, "item_id"); !id.ok()) {
    return StatusReply(id, call.request_id, call.endpoint);
  }
  auto k = QueryK(call.query);
  if (!k.ok()) return StatusReply(k.status(), call.request_id, call.endpoint);
  auto answer = recommender_.Similar(item_id, *k);
  if (!answer.ok()) return StatusReply(answer.status(), call.request_id, call.endpoint);
  JsonWriter w;
  w.BeginObject()
      .Key("request_id")
      .String(call.request_id)
      .Key("item_id")
      .String(item_id)
      .Key("items")
      .Items(answer->items)
      .Key("model_version")
      .StringOrNull(answer->model_version)
      .EndObject();
  return MakeReply(200, w.Take(), call.request_id, call.endpoint);
}

Reply ApiService::PopularItems(const Call& call) {
  auto k = QueryK(call.query);
  if (!k.ok()) return StatusReply(k.status(), call.request_id, call.endpoint);
  auto items = recommender_.Popular(*k);
  if (!items.ok()) return StatusReply(items.status(), call.request_id, call.endpoint);
  JsonWriter w;
  w.BeginObject().Key("request_id").String(call.request_id).Key("items").Items(*items).EndObject();
  return MakeReply(200, w.Take(), call.request_id, call.endpoint);
}

Reply ApiService::Trending(const Call& call) {
  auto k = QueryK(call.query);
  if (!k.ok()) return StatusReply(k.status(), call.request_id, call.endpoint);
  std::string timeframe = "1h";
  QueryParam(call.query, "timeframe", timeframe);
  auto items = recommender_.Trending(timeframe, *k);
  if (!items.ok()) return StatusReply(items.status(), call.request_id, call.endpoint);
  JsonWriter w;
  w.BeginObject()
      .Key("request_id")
      .String(call.request_id)
      .Key("timeframe")
      .String(timeframe)
      .Key("items")
      .Items(*items)
      .EndObject();
  return MakeReply(200, w.Take(), call.request_id, call.endpoint);
}

Result<std::string> ApiService::AuthenticateEvents(const Call& call) {
  if (events_.keys.empty()) return std::string(call.peer);
  std::string_view header = Sv(call.request[bhttp::field::authorization]);
  constexpr std::string_view kBearer = "Bearer ";
  if (header.empty()) return Unauthenticated("events need Authorization: Bearer <events token>");
  if (header.substr(0, kBearer.size()) == kBearer) {
    std::string_view presented = header.substr(kBearer.size());
    for (const auto& [name, token] : events_.keys) {
      if (ConstantTimeEquals(presented, token)) return name;
    }
  }
  return PermissionDenied("events token rejected");
}

Reply ApiService::Events(const Call& call) {
  auto client = AuthenticateEvents(call);
  if (!client.ok()) {
    events_refused_.WithLabels({"unauthenticated"}).Inc();
    Reply reply = StatusReply(client.status(), call.request_id, call.endpoint);
    if (client.status().code() == StatusCode::kUnauthenticated) {
      reply.response.set(bhttp::field::www_authenticate, "Bearer");
    }
    return reply;
  }
  auto events = DecodeEvents(call.request.body());
  if (events.ok() && events_limiter_ != nullptr) {
    auto wait = events_limiter_->TryTake(*client, static_cast<double>(events->size()));
    if (wait != std::chrono::steady_clock::duration::zero()) {
      events_refused_.WithLabels({"rate_limited"}).Inc();
      auto seconds = std::chrono::ceil<std::chrono::seconds>(wait).count();
      Reply reply = StatusReply(
          RateLimited("events are limited to " + fmt::format("{:g}", events_.rate_per_client) +
                      " per second per client; retry in " + std::to_string(seconds) + " s"),
          call.request_id, call.endpoint);
      reply.response.set(bhttp::field::retry_after, std::to_string(std::max<int64_t>(1, seconds)));
      return reply;
    }
  }
  Status status =
      events.ok() ? recommender_.IngestEvents(*events, NowUnixSeconds()) : events.status();
  if (!status.ok()) {
    if (!events.ok()) recommender_.CountRejectedBody();
    return StatusReply(status, call.request_id, call.endpoint);
  }
  JsonWriter w;
  w.BeginObject()
      .Key("request_id")
      .String(call.request_id)
      .Key("accepted")
      .Int(static_cast<int64_t>(events->size()))
      .EndObject();
  return MakeReply(200, w.Take(), call.request_id, call.endpoint);
}

void ApiService::SetDataQuality(std::optional<double> score,
                                std::optional<int64_t> pipeline_last_run) {
  std::lock_guard lock(health_mu_);
  health_.data_quality_score = score;
  health_.pipeline_last_run = pipeline_last_run;
}

Reply ApiService::Health(const Call& call) {
  auto model = recommender_.PrimaryModel();
  auto shadow = recommender_.ShadowModel();
  HealthInfo health;
  {
    std::lock_guard lock(health_mu_);
    health = health_;
  }
  JsonWriter w;
  w.BeginObject()
      .Key("status")
      .String(model ? "ok" : "degraded")
      .Key("models_loaded")
      .Bool(model != nullptr)
      .Key("cache")
      .String(recommender_.cache_enabled() ? "enabled" : "disabled")
      .Key("feature_store")
      .String(recommender_.feature_store_backend())
      .Key("primary")
      .StringOrNull(model ? model->version() : "")
      .Key("shadow")
      .StringOrNull(shadow ? shadow->version() : "")
      .Key("shadow_rollout")
      .Number(shadow && admin_.models ? admin_.models->shadow_rollout() : 0)
      .Key("data_quality_score");
  if (health.data_quality_score) {
    w.Number(*health.data_quality_score);
  } else {
    w.Null();
  }
  w.Key("pipeline_last_run");
  if (health.pipeline_last_run) {
    w.String(FormatIso8601(*health.pipeline_last_run));
  } else {
    w.Null();
  }
  w.Key("request_id").String(call.request_id).EndObject();
  return MakeReply(200, w.Take(), call.request_id, call.endpoint);
}

Reply ApiService::Live(const Call& call) {
  JsonWriter w;
  w.BeginObject().Key("status").String("live").EndObject();
  return MakeReply(200, w.Take(), call.request_id, call.endpoint);
}

Reply ApiService::Ready(const Call& call) {
  if (recommender_.PrimaryModel() == nullptr) {
    return StatusReply(Unavailable("no model loaded"), call.request_id, call.endpoint);
  }
  JsonWriter w;
  w.BeginObject().Key("status").String("ready").EndObject();
  return MakeReply(200, w.Take(), call.request_id, call.endpoint);
}

Reply ApiService::Metrics(const Call& call) {
  return MakeReply(200, registry_.Expose(), call.request_id, call.endpoint,
                   "text/plain; version=0.0.4; charset=utf-8");
}

namespace {

// `message` with the absolute paths of MODEL_DIR and of the working directory written as
// "MODEL_DIR" and ".".
std::string WithoutServerPaths(std::string message, const std::filesystem::path& root) {
  std::error_code ec;
  std::vector<std::pair<std::string, std::string>> prefixes;
  for (const auto& p :
       {std::filesystem::weakly_canonical(root, ec), std::filesystem::absolute(root, ec)}) {
    if (!p.empty()) prefixes.emplace_back(p.string(), "MODEL_DIR");
  }
  if (auto cwd = std::filesystem::current_path(ec); !ec) prefixes.emplace_back(cwd.string(), ".");
  for (const auto& [prefix, name] : prefixes) {
    if (prefix.size() <= 1) continue;
    for (size_t at = message.find(prefix); at != std::string::npos; at = message.find(prefix, at)) {
      message.replace(at, prefix.size(), name);
      at += name.size();
    }
  }
  return message;
}

// `source` as an operator names it: relative to MODEL_DIR, never the server's absolute path.
std::string DisplaySource(const std::filesystem::path& source, const std::filesystem::path& root) {
  if (source.empty()) return "";
  std::error_code ec;
  std::filesystem::path relative =
      std::filesystem::weakly_canonical(source, ec)
          .lexically_relative(std::filesystem::weakly_canonical(root, ec));
  if (ec || relative.empty() || *relative.begin() == "..") return source.filename().string();
  return relative.string();
}

void WriteModel(JsonWriter& w, const std::shared_ptr<const engine::ServingModel>& model,
                const std::filesystem::path& source, const std::filesystem::path& root) {
  if (!model) {
    w.Null();
    return;
  }
  w.BeginObject().Key("version").String(model->version());
  w.Key("source").StringOrNull(DisplaySource(source, root)).EndObject();
}

}  // namespace

Status ApiService::Authorize(const Call& call) {
  if (admin_.token.empty()) {
    if (admin_.loopback_only || admin_.open_without_token) return Status::Ok();
    auth_failures_.WithLabels({"disabled"}).Inc();
    return PermissionDenied(
        "admin calls are disabled: ADMIN_TOKEN is not set and the server listens beyond "
        "loopback (set ADMIN_TOKEN, or ADMIN_ALLOW_UNAUTHENTICATED=1 on a private network)");
  }
  // A client that keeps failing is refused before its token is even compared.
  if (!admin_failures_.HasTokens(call.peer)) {
    auth_failures_.WithLabels({"rate_limited"}).Inc();
    return RateLimited("too many failed admin authentications from this client; retry later");
  }
  std::string_view header = Sv(call.request[bhttp::field::authorization]);
  constexpr std::string_view kBearer = "Bearer ";
  if (header.empty()) {
    auth_failures_.WithLabels({"missing"}).Inc();
    (void)admin_failures_.TryTake(call.peer);
    return Unauthenticated("admin call needs Authorization: Bearer <token>");
  }
  if (header.substr(0, kBearer.size()) != kBearer ||
      !ConstantTimeEquals(header.substr(kBearer.size()), admin_.token)) {
    auth_failures_.WithLabels({"rejected"}).Inc();
    (void)admin_failures_.TryTake(call.peer);
    return PermissionDenied("admin token rejected");
  }
  return Status::Ok();
}

Status ApiService::RequireJsonBody(const Call& call) {
  if (call.request.body().find_first_not_of(" \t\r\n") == std::string::npos) return Status::Ok();
  std::string_view type = Sv(call.request[bhttp::field::content_type]);
  std::string_view media = type.substr(0, type.find(';'));
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  bool json = media.size() == 16 &&
              std::equal(media.begin(), media.end(), "application/json", [](char a, char b) {
                return std::tolower(static_cast<unsigned char>(a)) == b;
              });
  if (json) return Status::Ok();
  return {StatusCode::kUnsupportedMediaType,
          "an admin call with a body needs Content-Type: application/json"};
}

void ApiService::Audit(const Call& call, std::string_view action, std::string_view source,
                       const Reply& reply) const {
  spdlog::info("admin audit: {} {} from {} action={} source={} status={} request_id={}",
               Sv(call.request.method_string()), call.endpoint, call.peer, action,
               PrintableExcerpt(source, 200), reply.response.result_int(), call.request_id);
}

namespace {

// Sets WWW-Authenticate on a 401 and Retry-After on a 429.
Reply AuthFailureReply(const Status& status, const std::string& request_id,
                       std::string_view endpoint) {
  Reply reply = StatusReply(status, request_id, endpoint);
  if (status.code() == StatusCode::kUnauthenticated) {
    reply.response.set(bhttp::field::www_authenticate, "Bearer");
  } else if (status.code() == StatusCode::kRateLimited) {
    reply.response.set(bhttp::field::retry_after, "1");
  }
  return reply;
}

}  // namespace

Reply ApiService::ModelsReload(const Call& call) {
  auto request = DecodeReloadRequest(call.request.body());
  Reply reply = ModelsReloadAuthorized(call, request);
  std::string_view mode = request.ok() ? engine::ReloadModeName(request->mode) : "-";
  Audit(call, mode, request.ok() && request->source ? *request->source : "-", reply);
  return reply;
}

Reply ApiService::ModelsReloadAuthorized(const Call& call,
                                         const Result<engine::ReloadRequest>& request) {
  if (admin_.models == nullptr) {
    return StatusReply(Unavailable("model reload is not configured"), call.request_id,
                       call.endpoint);
  }
  if (Status auth = Authorize(call); !auth.ok()) {
    return AuthFailureReply(auth, call.request_id, call.endpoint);
  }
  if (Status json = RequireJsonBody(call); !json.ok()) {
    auth_failures_.WithLabels({"content_type"}).Inc();
    return StatusReply(json, call.request_id, call.endpoint);
  }
  if (!request.ok()) return StatusReply(request.status(), call.request_id, call.endpoint);
  auto state = admin_.models->Reload(*request);
  if (!state.ok()) {
    // The log keeps the server's paths for operators; the client is told paths relative to
    // MODEL_DIR (or the working directory), never where the server's disk keeps them.
    Status refused(state.status().code(),
                   WithoutServerPaths(state.status().message(), admin_.models->models_root()));
    Reply reply = StatusReply(refused, call.request_id, call.endpoint);
    if (state.status().code() == StatusCode::kRateLimited) {
      reply.response.set(bhttp::field::retry_after, "1");
    }
    return reply;
  }
  JsonWriter w;
  w.BeginObject()
      .Key("request_id")
      .String(call.request_id)
      .Key("mode")
      .String(engine::ReloadModeName(request->mode))
      .Key("changed")
      .Bool(state->changed)
      .Key("primary");
  WriteModel(w, state->primary, state->primary_source, admin_.models->models_root());
  w.Key("shadow");
  WriteModel(w, state->shadow, state->shadow_source, admin_.models->models_root());
  w.Key("shadow_rollout").Number(state->shadow_rollout);
  w.Key("previous").StringOrNull(state->previous ? state->previous->version() : "");
  unsigned http_status = 200;
  if (request->mode == engine::ReloadMode::kRefresh) {
    w.Key("refreshed").BeginObject();
    const engine::RefreshResult* refused = nullptr;
    for (const auto& r : state->refreshed) {
      w.Key(r.name).String(
          r.status.ok() ? "ok"
                        : WithoutServerPaths(r.status.ToString(), admin_.models->models_root()));
      if (r.refused_input && refused == nullptr) refused = &r;
    }
    w.EndObject();
    w.Key("cache").String(recommender_.cache_enabled() ? "enabled" : "disabled");
    if (refused != nullptr) {
      // Every other step was still applied; the refused file or bundle left its previous
      // version serving.
      http_status = 400;
      w.Key("error").String("invalid_argument");
      w.Key("message").String(
          refused->name + ": " +
          WithoutServerPaths(refused->status.ToString(), admin_.models->models_root()));
    }
  }
  w.EndObject();
  return MakeReply(http_status, w.Take(), call.request_id, call.endpoint);
}

Reply ApiService::Faults(const Call& call) {
  Reply reply = FaultsAuthorized(call);
  Audit(call, Sv(call.request.method_string()), "-", reply);
  return reply;
}

Reply ApiService::FaultsAuthorized(const Call& call) {
  if (admin_.faults == nullptr) {
    return StatusReply(Unavailable("fault injection is not configured"), call.request_id,
                       call.endpoint);
  }
  if (admin_.token.empty()) {
    return StatusReply(PermissionDenied("fault injection over the API needs ADMIN_TOKEN to be set "
                                        "(or use the FAULT_* env vars at start)"),
                       call.request_id, call.endpoint);
  }
  if (Status auth = Authorize(call); !auth.ok()) {
    return AuthFailureReply(auth, call.request_id, call.endpoint);
  }
  if (Status json = RequireJsonBody(call); !json.ok()) {
    auth_failures_.WithLabels({"content_type"}).Inc();
    return StatusReply(json, call.request_id, call.endpoint);
  }
  auto method = call.request.method();
  if (method == bhttp::verb::delete_) {
    admin_.faults->ClearAll();
  } else if (method == bhttp::verb::post) {
    auto settings = DecodeFaultSettings(call.request.body(), *admin_.faults);
    if (!settings.ok()) return StatusReply(settings.status(), call.request_id, call.endpoint);
    for (const auto& [operation, spec] : *settings) {
      Status set = admin_.faults->Set(operation, spec);
      if (!set.ok()) return StatusReply(set, call.request_id, call.endpoint);
    }
  }
  JsonWriter w;
  w.BeginObject().Key("request_id").String(call.request_id);
  for (auto operation : {resilience::FaultOperation::kRanking, resilience::FaultOperation::kRedis,
                         resilience::FaultOperation::kHandler}) {
    resilience::FaultSpec spec = admin_.faults->Get(operation);
    w.Key(resilience::FaultOperationName(operation))
        .BeginObject()
        .Key("delay_ms")
        .Int(spec.delay.count())
        .Key("failure_rate")
        .Number(spec.failure_rate)
        .EndObject();
  }
  w.EndObject();
  return MakeReply(200, w.Take(), call.request_id, call.endpoint);
}

}  // namespace recserve::http
