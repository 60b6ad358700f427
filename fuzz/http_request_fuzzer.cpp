// Fuzz target: raw bytes from a client → the Beast request parser with the server's header and
// body limits → Router + http::ApiService::Handle (or Reject, as the server does for a request it
// could not parse) on an engine with no model, a live LiveState and no cache. Up to four
// pipelined keep-alive requests per input, as one connection would send them.
//
// Contract checked on every reply (docs/API.md, docs/FUZZING.md):
// - a status in 200..599 and never 500 (no model is a 503 on /ready, not an internal error);
// - X-Request-ID is 1..64 characters of [A-Za-z0-9._:-];
// - the endpoint label is "unmatched" or a route template, never request bytes (ids must not
//   become metric labels);
// - every 4xx/5xx is application/json with a non-empty "error" code, a non-empty "message" and
//   the reply's request id; a 405 names the allowed methods in Allow;
// - a request the parser rejected is answered 400 or 413 and the connection is not kept alive;
// - every 2xx JSON body parses as a JSON object.
#include <spdlog/spdlog.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "engine/live_state.h"
#include "engine/recommender.h"
#include "fuzz_contract.h"
#include "http/api_service.h"
#include "http/server.h"
#include "observe/metrics.h"

namespace {

namespace bhttp = boost::beast::http;
using recserve::http::Reply;

constexpr int kMaxRequestsPerInput = 4;

std::string_view Sv(boost::beast::string_view s) { return {s.data(), s.size()}; }

// The serving stack of `recserve serve` without a model, a cache, a feature store or sockets.
// Built once: state left by POST /events carries over between inputs, as it does in a server.
struct ServingStack {
  ServingStack()
      : metrics(registry),
        recommender(live, models, /*cache=*/nullptr, /*exposure_log=*/nullptr, metrics),
        api(recommender, registry, recserve::http::HealthInfo{}) {}

  recserve::observe::Registry registry;
  recserve::engine::LiveState live;
  recserve::engine::ModelSlot models;
  recserve::engine::EngineMetrics metrics;
  recserve::engine::Recommender recommender;
  recserve::http::ApiService api;
  recserve::http::ServerOptions limits;  // the server's defaults: 16 KiB header, 1 MiB body
};

bool IsRequestIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == ':';
}

// A route template ("/recommendations/{user_id}") is lower-case letters, '_', '/' and braces.
bool LooksLikeEndpointLabel(std::string_view endpoint) {
  if (endpoint == "unmatched") return true;
  if (endpoint.empty() || endpoint.front() != '/') return false;
  for (char c : endpoint) {
    if (!((c >= 'a' && c <= 'z') || c == '_' || c == '/' || c == '{' || c == '}')) return false;
  }
  return true;
}

void CheckReply(const Reply& reply) {
  const auto& response = reply.response;
  const unsigned status = response.result_int();
  const std::string& body = response.body();
  FUZZ_REQUIRE(status >= 200 && status <= 599, body);
  FUZZ_REQUIRE(status != 500, body);
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
  } else if (content_type == "application/json") {
    auto doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    FUZZ_REQUIRE(doc.is_object(), body);
  } else {
    FUZZ_REQUIRE(reply.endpoint == "/metrics", content_type);
  }
}

// What the server answers for a read error (src/http/server.cpp, Session::OnRead): a limit is
// resource_exhausted (413), anything else the parser refused is invalid_argument (400). The
// reply's contract is checked, not the wording, so only the code has to match the server.
// The transport's mapping of a parser error to a Status and an HTTP status (server.cpp).
struct Rejection {
  recserve::Status status;
  unsigned http_status;
};
Rejection RejectionFor(const boost::beast::error_code& ec) {
  if (ec == bhttp::error::body_limit) {
    return {recserve::ResourceExhausted("request body over the size limit"), 413};
  }
  if (ec == bhttp::error::header_limit) {
    return {recserve::ResourceExhausted("request header over the size limit"), 431};
  }
  return {recserve::InvalidArgument("malformed HTTP request: " + ec.message()), 400};
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ServingStack* stack = new ServingStack();  // never destroyed: lives for the process
  std::string_view input(reinterpret_cast<const char*>(data), size);
  for (int n = 0; n < kMaxRequestsPerInput && !input.empty(); ++n) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<uint32_t>(stack->limits.max_header_bytes));
    parser.body_limit(stack->limits.max_body_bytes);
    parser.eager(true);
    boost::beast::error_code ec;
    // All of the client's bytes are here: when the parser makes no progress, the client has
    // sent everything and closed its side.
    while (!parser.is_done()) {
      size_t used =
          input.empty() ? 0 : parser.put(boost::asio::buffer(input.data(), input.size()), ec);
      input.remove_prefix(used);
      if (ec == bhttp::error::need_more) ec = {};
      if (ec) break;
      if (used == 0) {
        if (!parser.got_some()) return 0;  // nothing sent: the server just closes
        parser.put_eof(ec);
        if (ec) break;
        if (!parser.is_done()) return 0;
      }
    }
    if (ec) {
      Rejection rejection = RejectionFor(ec);
      Reply reply = stack->api.Reject(parser.get().base(), rejection.status, rejection.http_status);
      const unsigned status = reply.response.result_int();
      FUZZ_REQUIRE(status == 400 || status == 413 || status == 431, reply.response.body());
      CheckReply(reply);
      stack->api.Completed(reply, 0.0, 0.0);
      return 0;  // the server closes the connection after a rejection
    }
    recserve::http::Request request = parser.release();
    auto now = std::chrono::steady_clock::now();
    Reply reply = stack->api.Handle(request, recserve::http::RequestTiming{now, now});
    CheckReply(reply);
    stack->api.Completed(reply, 0.0, 0.0);
    if (!request.keep_alive()) return 0;
  }
  return 0;
}
