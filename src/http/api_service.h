#pragma once
// The HTTP API of `recserve serve` (docs/API.md): routes, query/body decoding, JSON responses,
// request ids and the per-request metrics. Recommendation logic lives in engine::Recommender;
// this class only translates between the wire and the engine. Every error is a Status mapped to
// one HTTP status by HttpStatusFor().
//
// One class, its routes in one file per group: api_service.cpp (the route table, dispatch, the
// exception boundary, metrics), api_recommendation_routes.cpp (user traffic),
// api_events_route.cpp, api_health_routes.cpp, api_admin_routes.cpp; api_replies.h holds the
// reply helpers they share.

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/thread_annotations.h"
#include "engine/model_manager.h"
#include "engine/recommender.h"
#include "http/api_request_metrics.h"
#include "http/load_shedder.h"
#include "http/router.h"
#include "http/server.h"
#include "observe/metrics.h"
#include "resilience/keyed_rate_limiter.h"

namespace recserve::http {

// The one mapping from StatusCode to HTTP status on the request path.
unsigned HttpStatusFor(StatusCode code);

// X-Request-ID handling: keeps [A-Za-z0-9._:-] characters of `incoming`, at most 64 of them;
// when nothing is left, returns a new random 32-hex-digit id.
std::string SanitizeOrGenerateRequestId(std::string_view incoming);

// What /health reports besides the engine's own state.
struct HealthInfo {
  std::optional<double> data_quality_score;
  std::optional<int64_t> pipeline_last_run;  // unix seconds
};

// The admin endpoints POST /models/reload and /admin/faults (docs/API.md, "Admin calls").
struct AdminConfig {
  engine::ModelManager* models = nullptr;  // null: the endpoint answers 503
  // ADMIN_TOKEN: when non-empty, admin calls need `Authorization: Bearer <token>` (401 without
  // credentials, 403 with wrong ones; failures are counted and, past a small burst per client
  // address, answered 429 without looking at the token).
  std::string token;
  // Without a token admin calls are refused (403) unless the server listens on loopback only
  // (`loopback_only`, from BIND_ADDRESS) or an operator opted in (ADMIN_ALLOW_UNAUTHENTICATED=1,
  // for a network nobody else can reach).
  bool loopback_only = false;
  bool open_without_token = false;
  // Run-time fault injection (GET/POST/DELETE /admin/faults, for drills); null: 503. Only
  // served when `token` is set: injecting faults without authentication is never allowed.
  resilience::FaultInjector* faults = nullptr;
};

// POST /events (docs/API.md, "Event authentication and limits").
struct EventsConfig {
  // EVENTS_TOKEN / EVENTS_KEYS: client name → bearer token. Empty: events need no credentials.
  // With keys, a batch without a known token is refused (401/403) and the client's name keys
  // its rate limit.
  std::map<std::string, std::string, std::less<>> keys;
  // EVENTS_RATE_LIMIT: events per second per client (its key name, else its address); 0 turns
  // the limit off. The burst is max(rate, 1000) events, so a full batch always fits.
  double rate_per_client = 0;
};

class ApiService final : public RequestHandler {
 public:
  // Everything passed must outlive this object.
  ApiService(engine::Recommender& recommender, observe::Registry& registry, HealthInfo health,
             AdminConfig admin = {}, EventsConfig events = {});

  // Replaces the data-quality part of /health (an empty-body reload re-reads the report).
  // Thread-safe.
  void SetDataQuality(std::optional<double> score, std::optional<int64_t> pipeline_last_run);

  Reply Handle(Request& request, const RequestTiming& timing) override;
  Reply Reject(const RequestHeader& header, const Status& status, unsigned http_status) override;
  void Completed(const Reply& reply, double handling_seconds, double total_seconds) override;
  void InFlight(int delta) override;

  // Admission control and the overall deadline (LoadShedder); null (the default) admits every
  // request. Call before serving starts; `shedder` must outlive this object.
  void SetLoadShedder(LoadShedder* shedder) { shedder_ = shedder; }

 private:
  struct Call {
    Request& request;
    const PathParams& params;
    std::string_view query;
    const std::string& request_id;
    std::string_view endpoint;
    std::string_view peer;  // the client's address (RequestTiming::peer_address)
  };
  using Handler = Reply (ApiService::*)(const Call&);

  Reply Recommendations(const Call& call);
  Reply Detail(const Call& call);
  Reply SimilarItems(const Call& call);
  Reply PopularItems(const Call& call);
  Reply Trending(const Call& call);
  Reply Events(const Call& call);
  Reply Health(const Call& call);
  Reply Live(const Call& call);
  Reply Ready(const Call& call);
  Reply Metrics(const Call& call);
  Reply ModelsReload(const Call& call);
  // ModelsReload once its body is decoded (the audit line reports mode and source).
  Reply ModelsReloadAuthorized(const Call& call, const Result<engine::ReloadRequest>& request);
  Reply Faults(const Call& call);
  Reply FaultsAuthorized(const Call& call);
  // OK when the request may use admin endpoints (token, loopback or opt-in; the failed-attempt
  // limit per client). Counts failures in recommendation_admin_auth_failures_total{reason}.
  Status Authorize(const Call& call);
  // Admin POSTs with a body must declare it JSON (a browser form cannot: no cross-site request
  // forgery of a reload).
  static Status RequireJsonBody(const Call& call);
  // The events client's name (its key's name, else its address), or why it is refused.
  Result<std::string> AuthenticateEvents(const Call& call);
  // One audit line per admin call: caller, route, mode, source and result.
  void Audit(const Call& call, std::string_view action, std::string_view source,
             const Reply& reply) const;

  engine::Recommender& recommender_;
  observe::Registry& registry_;
  mutable core::Mutex health_mu_;
  HealthInfo health_ GUARDED_BY(health_mu_);  // the data-quality fields change on reload
  AdminConfig admin_;
  EventsConfig events_;
  resilience::KeyedRateLimiter admin_failures_;                   // per client address
  std::unique_ptr<resilience::KeyedRateLimiter> events_limiter_;  // null: no limit
  Router<Handler> router_;
  ApiRequestMetrics request_metrics_;
  observe::Gauge& in_flight_;
  observe::Family<observe::Counter>& auth_failures_;
  observe::Family<observe::Counter>& events_refused_;
  observe::Counter& handler_exceptions_;
  LoadShedder* shedder_ = nullptr;
};

}  // namespace recserve::http
