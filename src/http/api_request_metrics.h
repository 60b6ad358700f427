#pragma once
// The request metrics of the HTTP API, defined once here: recommendation_requests_total
// {endpoint,status,variant} and recommendation_latency_seconds{endpoint,variant}
// (docs/METRICS.md). ApiService records every answered request; `serve` also hands
// RecordShadow to the engine, whose shadow scorings count as requests of variant "shadow"
// without an HTTP request of their own.
//
// Thread-safe. Several instances over one registry share the same families.

#include <string_view>

#include "engine/request_context.h"
#include "observe/metrics.h"

namespace recserve::http {

struct ApiRequestMetrics {
  explicit ApiRequestMetrics(observe::Registry& registry);

  // One answered request of `endpoint` (route template) with `status` and `variant`, handled in
  // `seconds`.
  void Record(std::string_view endpoint, std::string_view status, std::string_view variant,
              double seconds) {
    requests.WithLabels({endpoint, status, variant}).Inc();
    latency.WithLabels({endpoint, variant}).Observe(seconds);
  }
  // engine::ShadowRequestObserver: a shadow scoring of `endpoint`.
  void RecordShadow(std::string_view endpoint, std::string_view status, double seconds) {
    Record(endpoint, status, engine::kVariantShadow, seconds);
  }

  observe::Family<observe::Counter>& requests;
  observe::Family<observe::Histogram>& latency;
};

}  // namespace recserve::http
