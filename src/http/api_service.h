#pragma once
// The HTTP API of `recserve serve` (docs/API.md): routes, query/body decoding, JSON responses,
// request ids and the per-request metrics. Recommendation logic lives in engine::Recommender;
// this file only translates between the wire and the engine. Every error is a Status mapped to
// one HTTP status by HttpStatusFor().

#include <optional>
#include <string>
#include <string_view>

#include "engine/recommender.h"
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

class ApiService final : public RequestHandler {
 public:
  // Everything passed must outlive this object.
  ApiService(engine::Recommender& recommender, observe::Registry& registry, HealthInfo health);

  Reply Handle(Request& request) override;
  Reply Reject(const RequestHeader& header, const Status& status) override;
  void Completed(const Reply& reply, double seconds) override;
  void InFlight(int delta) override;

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

  engine::Recommender& recommender_;
  observe::Registry& registry_;
  HealthInfo health_;
  Router<Handler> router_;
  observe::Family<observe::Counter>& requests_;
  observe::Family<observe::Histogram>& latency_;
  observe::Gauge& in_flight_;
};

}  // namespace recserve::http
