#pragma once
// The HTTP API of `recserve serve` (docs/API.md): routes, query/body decoding, JSON responses,
// request ids and the per-request metrics. Recommendation logic lives in engine::Recommender;
// this file only translates between the wire and the engine. Every error is a Status mapped to
// one HTTP status by HttpStatusFor().

#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "engine/model_manager.h"
#include "engine/recommender.h"
#include "http/load_shedder.h"
#include "http/router.h"
#include "http/server.h"
#include "observe/metrics.h"

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

// The admin endpoint POST /models/reload.
struct AdminConfig {
  engine::ModelManager* models = nullptr;  // null: the endpoint answers 503
  // ADMIN_TOKEN: when non-empty, admin calls need `Authorization: Bearer <token>` (401 without
  // credentials, 403 with wrong ones). Empty: admin calls are open (bind to a private address).
  std::string token;
  // Run-time fault injection (GET/POST/DELETE /admin/faults, for drills); null: 503. Only
  // served when `token` is set: injecting faults without authentication is never allowed.
  resilience::FaultInjector* faults = nullptr;
};

class ApiService final : public RequestHandler {
 public:
  // Everything passed must outlive this object.
  ApiService(engine::Recommender& recommender, observe::Registry& registry, HealthInfo health,
             AdminConfig admin = {});

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
  Reply Faults(const Call& call);
  // OK when the request may use admin endpoints.
  Status Authorize(const Request& request) const;

  engine::Recommender& recommender_;
  observe::Registry& registry_;
  mutable std::mutex health_mu_;  // guards health_ (the data-quality fields change on reload)
  HealthInfo health_;
  AdminConfig admin_;
  Router<Handler> router_;
  observe::Family<observe::Counter>& requests_;
  observe::Family<observe::Histogram>& latency_;
  observe::Gauge& in_flight_;
  LoadShedder* shedder_ = nullptr;
};

}  // namespace recserve::http
