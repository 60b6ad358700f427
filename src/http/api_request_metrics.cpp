#include "http/api_request_metrics.h"

namespace recserve::http {

ApiRequestMetrics::ApiRequestMetrics(observe::Registry& registry)
    : requests(registry.AddCounter("recommendation_requests_total",
                                   "Requests answered, by route template, HTTP status and variant.",
                                   {"endpoint", "status", "variant"})),
      latency(registry.AddHistogram(
          "recommendation_latency_seconds",
          "Time from request read to response written, by route template and variant.",
          {"endpoint", "variant"}, observe::LatencyBuckets())) {}

}  // namespace recserve::http
