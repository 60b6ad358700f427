// POST /events: authentication by events key (EVENTS_TOKEN / EVENTS_KEYS), the per-client rate
// limit (EVENTS_RATE_LIMIT), decoding and ingestion of the batch (docs/API.md).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "core/wall_clock.h"
#include "http/api_replies.h"
#include "http/api_service.h"

namespace recserve::http {

namespace bhttp = boost::beast::http;

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
  const int64_t accepted = events.ok() ? static_cast<int64_t>(events->size()) : 0;
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
  Status status = events.ok() ? recommender_.IngestEvents(std::move(events).value(),
                                                          call.request.body(), UnixSecondsNow())
                              : events.status();
  if (!status.ok()) {
    if (!events.ok()) recommender_.CountRejectedBody();
    Reply reply = StatusReply(status, call.request_id, call.endpoint);
    // Not recorded (the spool is full, or the log refuses): nothing was kept; retry later.
    if (status.code() == StatusCode::kUnavailable)
      reply.response.set(bhttp::field::retry_after, "1");
    return reply;
  }
  JsonWriter w;
  w.BeginObject()
      .Key("request_id")
      .String(call.request_id)
      .Key("accepted")
      .Int(accepted)
      .EndObject();
  return MakeReply(200, w.Take(), call.request_id, call.endpoint);
}

}  // namespace recserve::http
