#include "http/load_shedder.h"

#include "http/wire_json.h"

namespace recserve::http {

namespace bhttp = boost::beast::http;

Status ValidateLoadSheddingOptions(const LoadSheddingOptions& options) {
  if (options.request_timeout.count() <= 0) {
    return InvalidArgument("REQUEST_TIMEOUT must be a positive number of seconds");
  }
  if (options.ranking_budget >= options.request_timeout) {
    return InvalidArgument("REQUEST_TIMEOUT (" + std::to_string(options.request_timeout.count()) +
                           " ms) must be larger than RANKING_TIMEOUT (" +
                           std::to_string(options.ranking_budget.count()) +
                           " ms): otherwise every ranking request would be shed");
  }
  if (options.max_in_flight < 0) return InvalidArgument("MAX_IN_FLIGHT must be >= 0");
  return Status::Ok();
}

std::string_view ShedReasonLabel(ShedReason reason) {
  switch (reason) {
    case ShedReason::kQueueWait:
      return "queue_wait";
    case ShedReason::kInFlight:
      return "in_flight";
    case ShedReason::kNone:
      break;
  }
  return "";
}

LoadShedder::Admission::Admission(Admission&& other) noexcept
    : holder_(other.holder_), reason_(other.reason_) {
  other.holder_ = nullptr;
}

LoadShedder::Admission::~Admission() {
  if (holder_ != nullptr) holder_->ranking_in_flight_.fetch_sub(1, std::memory_order_relaxed);
}

LoadShedder::LoadShedder(LoadSheddingOptions options, observe::Registry& registry)
    : options_(options),
      shed_(registry.AddCounter("recommendation_load_shed_total",
                                "Requests answered 503 at admission because the service was "
                                "saturated, by reason: queue_wait, in_flight.",
                                {"reason"})),
      request_timeouts_(registry
                            .AddCounter("recommendation_timeouts_total",
                                        "Deadlines that passed, by operation.", {"operation"})
                            .WithLabels({"request"})),
      overrun_(registry
                   .AddHistogram("recommendation_deadline_overrun_seconds",
                                 "How far answers later than REQUEST_TIMEOUT overran it.", {},
                                 {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5})
                   .Get()) {
  shed_.WithLabels({ShedReasonLabel(ShedReason::kQueueWait)});
  shed_.WithLabels({ShedReasonLabel(ShedReason::kInFlight)});
}

LoadShedder::Admission LoadShedder::Admit(RequestCost cost,
                                          std::chrono::steady_clock::duration queue_wait) {
  if (cost == RequestCost::kExempt) return Admission(nullptr, ShedReason::kNone);
  auto still_needed =
      cost == RequestCost::kRanking ? options_.ranking_budget : std::chrono::milliseconds(0);
  if (queue_wait + still_needed > options_.request_timeout) {
    shed_.WithLabels({ShedReasonLabel(ShedReason::kQueueWait)}).Inc();
    return Admission(nullptr, ShedReason::kQueueWait);
  }
  if (cost != RequestCost::kRanking) return Admission(nullptr, ShedReason::kNone);
  int before = ranking_in_flight_.fetch_add(1, std::memory_order_relaxed);
  if (options_.max_in_flight > 0 && before >= options_.max_in_flight) {
    ranking_in_flight_.fetch_sub(1, std::memory_order_relaxed);
    shed_.WithLabels({ShedReasonLabel(ShedReason::kInFlight)}).Inc();
    return Admission(nullptr, ShedReason::kInFlight);
  }
  return Admission(this, ShedReason::kNone);
}

Reply LoadShedder::ShedReply(ShedReason reason, const std::string& request_id,
                             std::string_view endpoint) const {
  std::string message =
      reason == ShedReason::kInFlight
          ? "load shed: MAX_IN_FLIGHT=" + std::to_string(options_.max_in_flight) +
                " ranking requests are running; retry later"
          : "load shed: the request waited too long to be answered within REQUEST_TIMEOUT=" +
                std::to_string(options_.request_timeout.count()) + " ms; retry later";
  JsonWriter w;
  w.BeginObject()
      .Key("error")
      .String("unavailable")
      .Key("message")
      .String(message)
      .Key("reason")
      .String(ShedReasonLabel(reason))
      .Key("request_id")
      .String(request_id)
      .EndObject();
  Reply reply;
  reply.response.result(bhttp::status::service_unavailable);
  reply.response.version(11);
  reply.response.set(bhttp::field::content_type, "application/json");
  reply.response.set(bhttp::field::retry_after, "1");
  reply.response.set("X-Request-ID", request_id);
  reply.response.body() = w.Take();
  reply.endpoint = endpoint;
  return reply;
}

void LoadShedder::RecordAnswer(double total_seconds) {
  double overrun = total_seconds - std::chrono::duration<double>(options_.request_timeout).count();
  if (overrun <= 0) return;
  request_timeouts_.Inc();
  overrun_.Observe(overrun);
}

}  // namespace recserve::http
