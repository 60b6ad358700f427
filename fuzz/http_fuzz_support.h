#pragma once
// What the HTTP fuzz targets (http_request, http_admin) share: feeding a client's raw bytes to
// the Beast request parser with the server's limits, one pipelined request after the other, and
// the reply contract every route keeps (docs/FUZZING.md). Each target adds its own checks.

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/status.h"
#include "engine/live_state.h"
#include "engine/recommender.h"
#include "fuzz_contract.h"
#include "http/api_service.h"
#include "http/server.h"
#include "observe/metrics.h"

namespace recserve::fuzz {

namespace bhttp = boost::beast::http;

inline std::string_view Sv(boost::beast::string_view s) { return {s.data(), s.size()}; }

inline bool IsRequestIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == ':';
}

// A route template ("/recommendations/{user_id}") is lower-case letters, '_', '/' and braces.
inline bool LooksLikeEndpointLabel(std::string_view endpoint) {
  if (endpoint == "unmatched") return true;
  if (endpoint.empty() || endpoint.front() != '/') return false;
  for (char c : endpoint) {
    if (!((c >= 'a' && c <= 'z') || c == '_' || c == '/' || c == '{' || c == '}')) return false;
  }
  return true;
}

// The contract of every reply: a status in 200..599; X-Request-ID is 1..64 characters of
// [A-Za-z0-9._:-]; the endpoint label is "unmatched" or a route template; every 4xx/5xx is
// application/json with a non-empty "error", a non-empty "message" and the reply's request id;
// a 405 names the allowed methods in Allow; a 2xx JSON body parses as an object, and a 2xx that
// is not JSON is /metrics. Returns the parsed error body (null for a 2xx).
inline nlohmann::json CheckCommonReply(const http::Reply& reply) {
  const auto& response = reply.response;
  const unsigned status = response.result_int();
  const std::string& body = response.body();
  FUZZ_REQUIRE(status >= 200 && status <= 599, body);
  const std::string_view request_id = Sv(response["X-Request-ID"]);
  FUZZ_REQUIRE(!request_id.empty() && request_id.size() <= 64, request_id);
  for (char c : request_id) FUZZ_REQUIRE(IsRequestIdChar(c), request_id);
  FUZZ_REQUIRE(LooksLikeEndpointLabel(reply.endpoint), reply.endpoint);
  const std::string_view content_type = Sv(response[bhttp::field::content_type]);
  if (status >= 400) {
    FUZZ_REQUIRE(content_type == "application/json", content_type);
    auto doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    FUZZ_REQUIRE(doc.is_object(), body);
    FUZZ_REQUIRE(doc.contains("error") && doc["error"].is_string(), body);
    FUZZ_REQUIRE(!doc["error"].get<std::string>().empty(), body);
    FUZZ_REQUIRE(doc.contains("message") && doc["message"].is_string(), body);
    FUZZ_REQUIRE(!doc["message"].get<std::string>().empty(), body);
    FUZZ_REQUIRE(doc.contains("request_id") && doc["request_id"] == request_id, body);
    if (status == 405) FUZZ_REQUIRE(!Sv(response[bhttp::field::allow]).empty(), body);
    return doc;
  }
  if (content_type == "application/json") {
    auto doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    FUZZ_REQUIRE(doc.is_object(), body);
  } else {
    FUZZ_REQUIRE(reply.endpoint == "/metrics", content_type);
  }
  return nullptr;
}

// What the server answers for a read error (src/http/server_session.cpp, Session::OnRead): a limit
// is resource_exhausted (413/431), anything else the parser refused is invalid_argument (400). The
// reply's contract is checked, not the wording, so only the code has to match the server.
struct Rejection {
  Status status;
  unsigned http_status;
};
inline Rejection RejectionFor(const boost::beast::error_code& ec) {
  if (ec == bhttp::error::body_limit) {
    return {ResourceExhausted("request body over the size limit"), 413};
  }
  if (ec == bhttp::error::header_limit) {
    return {ResourceExhausted("request header over the size limit"), 431};
  }
  return {InvalidArgument("malformed HTTP request: " + ec.message()), 400};
}

// The engine below the HTTP layer of `recserve serve`, without a model, a cache, a feature
// store or sockets; a target adds its ApiService.
struct EngineStack {
  EngineStack()
      : metrics(registry), recommender({.live = live, .models = slots, .metrics = metrics}) {}

  observe::Registry registry;
  engine::LiveState live;
  engine::ModelSlot slots;
  engine::EngineMetrics metrics;
  engine::Recommender recommender;
  http::ServerOptions limits;  // the server's defaults: 16 KiB header, 1 MiB body
};

// What the server answers for a request the parser refused: 400, 413 or 431, with the reply
// contract of every route; counted as the server counts it.
inline void CheckRejection(http::ApiService& api, const http::RequestHeader& header,
                           const Rejection& rejection) {
  http::Reply reply = api.Reject(header, rejection.status, rejection.http_status);
  const unsigned status = reply.response.result_int();
  FUZZ_REQUIRE(status == 400 || status == 413 || status == 431, reply.response.body());
  CheckCommonReply(reply);
  api.Completed(reply, 0.0, 0.0);
}

// Parses up to `max_requests` pipelined requests from `input` with the server's limits, as one
// connection would send them. Calls on_request(request) for each complete request (it returns
// false when the connection ends after it) and on_reject(header, rejection) for the first one
// the parser refused (the server then closes). When the parser makes no progress, the client
// has sent everything and closed its side.
template <typename OnRequest, typename OnReject>
void ForEachRequest(std::string_view input, const http::ServerOptions& limits, int max_requests,
                    OnRequest&& on_request, OnReject&& on_reject) {
  for (int n = 0; n < max_requests && !input.empty(); ++n) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<uint32_t>(limits.max_header_bytes));
    parser.body_limit(limits.max_body_bytes);
    parser.eager(true);
    boost::beast::error_code ec;
    while (!parser.is_done()) {
      size_t used =
          input.empty() ? 0 : parser.put(boost::asio::buffer(input.data(), input.size()), ec);
      input.remove_prefix(used);
      if (ec == bhttp::error::need_more) ec = {};
      if (ec) break;
      if (used == 0) {
        if (!parser.got_some()) return;  // nothing sent: the server just closes
        parser.put_eof(ec);
        if (ec) break;
        if (!parser.is_done()) return;
      }
    }
    if (ec) {
      on_reject(parser.get().base(), RejectionFor(ec));
      return;  // the server closes the connection after a rejection
    }
    http::Request request = parser.release();
    if (!on_request(request)) return;
  }
}

}  // namespace recserve::fuzz
