#pragma once
// The reply helpers every route of ApiService shares (api_*.cpp): replies with the contract of
// every route (JSON body, X-Request-ID, the route template as the metric's endpoint), error
// replies from a Status, the query-string k, and the answer's JSON fields. Internal to the HTTP
// API: nothing outside src/http/api_*.cpp includes this.

#include <boost/beast/core/string.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "engine/request_context.h"
#include "http/server.h"
#include "http/wire_json.h"

namespace recserve::http {

// Beast's string_view and the standard one, both ways.
inline std::string_view Sv(boost::beast::string_view s) { return {s.data(), s.size()}; }
inline boost::beast::string_view Bsv(std::string_view s) { return {s.data(), s.size()}; }

// Reply::variant must outlive the server; variant names come from config/experiments.yaml and
// can change on reload, so each distinct name is kept once for the life of the process (a
// handful: bounded by the variants ever configured).
std::string_view InternVariantLabel(const std::string& variant);

// A reply with `status` and `body`, the request id header and the route template `endpoint`.
Reply MakeReply(unsigned status, std::string body, const std::string& request_id,
                std::string_view endpoint, std::string_view content_type = "application/json");
// {"error": code, "message": message, "request_id": ...} with `http_status`.
Reply ErrorReply(unsigned http_status, std::string_view code, std::string_view message,
                 const std::string& request_id, std::string_view endpoint);
// ErrorReply for `status`, with its HTTP status (HttpStatusFor) and code name.
Reply StatusReply(const Status& status, const std::string& request_id, std::string_view endpoint);
// StatusReply that also sets WWW-Authenticate on a 401 and Retry-After on a 429.
Reply AuthFailureReply(const Status& status, const std::string& request_id,
                       std::string_view endpoint);

// k from the query string: absent → default; otherwise an integer (range checked by the engine).
// A malformed percent-escape (k=%zz) is a bad k, not an absent one.
Result<int64_t> QueryK(std::string_view query, int64_t default_k = 10);

// Equal strings in time independent of where they differ (a token must not leak by timing).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// The fields of an engine answer: items, model_version, variant, source, degraded,
// degraded_reason.
void WriteAnswer(JsonWriter& w, const engine::RecommendationAnswer& answer);

}  // namespace recserve::http
