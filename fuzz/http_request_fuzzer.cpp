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

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/live_state.h"
#include "engine/recommender.h"
#include "fuzz_contract.h"
#include "http/api_service.h"
#include "http/server.h"
#include "http_fuzz_support.h"
#include "observe/metrics.h"

namespace {

using recserve::http::Reply;

constexpr int kMaxRequestsPerInput = 4;

// The serving stack of `recserve serve` without a model, a cache, a feature store or sockets.
// Built once: state left by POST /events carries over between inputs, as it does in a server.
struct ServingStack : recserve::fuzz::EngineStack {
  ServingStack() : api(recommender, registry, recserve::http::HealthInfo{}) {}
  recserve::http::ApiService api;
};

void CheckReply(const Reply& reply) {
  recserve::fuzz::CheckCommonReply(reply);
  FUZZ_REQUIRE(reply.response.result_int() != 500, reply.response.body());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ServingStack* stack = new ServingStack();  // never destroyed: lives for the process
  std::string_view input(reinterpret_cast<const char*>(data), size);
  recserve::fuzz::ForEachRequest(
      input, stack->limits, kMaxRequestsPerInput,
      [&](recserve::http::Request& request) {
        auto now = std::chrono::steady_clock::now();
        Reply reply =
            stack->api.Handle(request, recserve::http::RequestTiming{now, now, "127.0.0.1"});
        CheckReply(reply);
        stack->api.Completed(reply, 0.0, 0.0);
        return request.keep_alive();
      },
      [&](const recserve::http::RequestHeader& header, const recserve::fuzz::Rejection& r) {
        recserve::fuzz::CheckRejection(stack->api, header, r);
      });
  return 0;
}
