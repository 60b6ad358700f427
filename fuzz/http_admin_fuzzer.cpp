// Fuzz target: raw bytes from a client → the Beast request parser with the server's limits →
// Router + http::ApiService::Handle on a stack configured as a hardened production server
// (issue 13): ADMIN_TOKEN "fuzz-token", a real engine::ModelManager over a temporary models root
// whose loader refuses every bundle, a FaultInjector, EVENTS_KEYS with one client and an events
// rate limit. Up to twelve pipelined keep-alive requests per input (enough to exhaust the burst
// of ten failed admin authentications a client address is allowed).
//
// The models root is a fresh directory under $TMPDIR holding one empty bundle directory,
// `staging/run-1`, so a reload naming it reaches the loader (which refuses it the way
// BundleServingModel::Load does, naming the directory); there is no `current`.
//
// Each input is one new client address (the failed-authentication limit starts full) and ends
// with every fault cleared (FaultInjector::ClearAll), so a fault set by one input never decides
// the next; the live state and the reload interval carry over, as in a server.
//
// Contract checked on every reply besides the one of every route (http_fuzz_support.h):
// - never 500, unless the handler fault was armed (failure_rate > 0, set by an earlier request
//   of the same input through POST /admin/faults with the token); then a 500 is "internal";
// - a 401 carries WWW-Authenticate: Bearer; a 429 carries Retry-After, a whole number >= 1;
// - admin routes (/models/reload, /admin/faults): without Authorization 401 or 429, with a wrong
//   one 403 or 429, with "Bearer fuzz-token" never 401/403; once authorized, a non-blank body
//   without Content-Type application/json is 415, and 415 is answered for nothing else;
// - POST /events: without Authorization 401, with a wrong token 403, with the events token
//   never 401/403;
// - no reply body contains the absolute path of the models root (an operator-facing message
//   names a bundle relative to MODEL_DIR).
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "core/wall_clock.h"
#include "engine/live_state.h"
#include "engine/model_manager.h"
#include "engine/recommender.h"
#include "fuzz_contract.h"
#include "http/api_service.h"
#include "http/server.h"
#include "http_fuzz_support.h"
#include "observe/metrics.h"
#include "resilience/fault_injector.h"

namespace {

namespace bhttp = boost::beast::http;
namespace fs = std::filesystem;
using recserve::fuzz::Sv;
using recserve::http::Reply;

constexpr int kMaxRequestsPerInput = 12;
constexpr std::string_view kAdminToken = "fuzz-token";
constexpr std::string_view kEventsToken = "fuzz-events-token";

// A new directory under $TMPDIR (canonical), with staging/run-1 inside.
fs::path MakeModelsRoot() {
  std::string pattern = (fs::temp_directory_path() / "recserve-fuzz-models.XXXXXX").string();
  char* made = mkdtemp(pattern.data());
  if (made == nullptr) std::abort();
  fs::path root = fs::canonical(made);
  fs::create_directories(root / "staging" / "run-1");
  return root;
}

// Refuses every bundle as the production loader refuses a corrupt one: its code and a message
// that names the directory.
recserve::Result<std::shared_ptr<const recserve::engine::ServingModel>> RefuseBundle(
    const fs::path& dir) {
  return recserve::Status(recserve::StatusCode::kDataLoss,
                          "bundle " + dir.string() + ": manifest.json: sha256 mismatch");
}

recserve::http::AdminConfig AdminFor(recserve::engine::ModelManager& models,
                                     recserve::resilience::FaultInjector& faults) {
  recserve::http::AdminConfig admin;
  admin.models = &models;
  admin.token = std::string(kAdminToken);
  admin.faults = &faults;
  return admin;
}

recserve::http::EventsConfig EventsFor() {
  recserve::http::EventsConfig events;
  events.keys.emplace("fuzz-client", std::string(kEventsToken));
  events.rate_per_client = 200;
  return events;
}

// The serving stack of a hardened `recserve serve` without a model, a cache or sockets. Built
// once; the models root is removed at exit.
struct ServingStack : recserve::fuzz::EngineStack {
  ServingStack()
      : root(MakeModelsRoot()),
        models(recserve::engine::ModelManagerOptions{root, std::chrono::milliseconds(1000)}, slots,
               RefuseBundle, registry),
        faults(/*seed=*/1),
        api(recommender, registry, recserve::http::HealthInfo{}, AdminFor(models, faults),
            EventsFor()) {}
  ~ServingStack() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }

  fs::path root;
  recserve::engine::ModelManager models;
  recserve::resilience::FaultInjector faults;
  recserve::http::ApiService api;
  uint64_t inputs = 0;
};

ServingStack* stack = nullptr;

void RemoveModelsRoot() { delete stack; }

bool IsBlank(std::string_view body) {
  return body.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// The media type of Content-Type (before any parameter, optional whitespace trimmed) is
// application/json, compared case-insensitively (RFC 9110 8.3.1).
bool DeclaresJson(std::string_view content_type) {
  std::string_view media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.remove_suffix(1);
  while (!media.empty() && (media.front() == ' ' || media.front() == '\t')) media.remove_prefix(1);
  constexpr std::string_view kJson = "application/json";
  return media.size() == kJson.size() &&
         std::equal(media.begin(), media.end(), kJson.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

enum class Credentials { kNone, kWrong, kRight };

Credentials CredentialsOf(const recserve::http::Request& request, std::string_view token) {
  std::string_view header = Sv(request[bhttp::field::authorization]);
  if (header.empty()) return Credentials::kNone;
  return header == "Bearer " + std::string(token) ? Credentials::kRight : Credentials::kWrong;
}

void CheckReply(const recserve::http::Request& request, const Reply& reply, bool handler_armed) {
  nlohmann::json error = recserve::fuzz::CheckCommonReply(reply);
  const auto& response = reply.response;
  const unsigned status = response.result_int();
  const std::string& body = response.body();
  if (status == 500) {
    FUZZ_REQUIRE(handler_armed, body);
    FUZZ_REQUIRE(error["error"] == "internal", body);
  }
  if (status == 401) FUZZ_REQUIRE(Sv(response[bhttp::field::www_authenticate]) == "Bearer", body);
  if (status == 429) {
    const std::string_view retry = Sv(response[bhttp::field::retry_after]);
    FUZZ_REQUIRE(!retry.empty() && retry.size() <= 6, retry);
    for (char c : retry) FUZZ_REQUIRE(c >= '0' && c <= '9', retry);
    FUZZ_REQUIRE(retry != "0", retry);
  }
  FUZZ_REQUIRE(body.find(stack->root.string()) == std::string::npos, body);

  // Past routing (a 404/405 never ran a handler) and not the injected fault.
  const bool handled = status != 404 && status != 405 && status != 500;
  const bool admin = reply.endpoint == "/models/reload" || reply.endpoint == "/admin/faults";
  if (admin && handled) {
    Credentials credentials = CredentialsOf(request, kAdminToken);
    if (credentials == Credentials::kNone) FUZZ_REQUIRE(status == 401 || status == 429, body);
    if (credentials == Credentials::kWrong) FUZZ_REQUIRE(status == 403 || status == 429, body);
    if (credentials == Credentials::kRight) FUZZ_REQUIRE(status != 401 && status != 403, body);
    // With the token, only the failed-authentication limit answers 429 before the body check.
    const bool authorized = credentials == Credentials::kRight && status != 429;
    const bool not_json =
        !IsBlank(request.body()) && !DeclaresJson(Sv(request[bhttp::field::content_type]));
    if (authorized && not_json) FUZZ_REQUIRE(status == 415, body);
  }
  if (status == 415) {
    FUZZ_REQUIRE(admin, body);
    FUZZ_REQUIRE(!IsBlank(request.body()), body);
    FUZZ_REQUIRE(!DeclaresJson(Sv(request[bhttp::field::content_type])), body);
  }
  if (reply.endpoint == "/events" && handled) {
    Credentials credentials = CredentialsOf(request, kEventsToken);
    if (credentials == Credentials::kNone) FUZZ_REQUIRE(status == 401, body);
    if (credentials == Credentials::kWrong) FUZZ_REQUIRE(status == 403, body);
    if (credentials == Credentials::kRight) FUZZ_REQUIRE(status != 401 && status != 403, body);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  stack = new ServingStack();
  std::atexit(RemoveModelsRoot);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string peer = "198.51.100.7:" + std::to_string(++stack->inputs);
  recserve::fuzz::ForEachRequest(
      input, stack->limits, kMaxRequestsPerInput,
      [&](recserve::http::Request& request) {
        const bool handler_armed =
            stack->faults.Get(recserve::resilience::FaultOperation::kHandler).failure_rate > 0;
        auto now = std::chrono::steady_clock::now();
        Reply reply = stack->api.Handle(request, recserve::http::RequestTiming{now, now, peer});
        CheckReply(request, reply, handler_armed);
        stack->api.Completed(reply, 0.0, 0.0);
        return request.keep_alive();
      },
      [&](const recserve::http::RequestHeader& header, const recserve::fuzz::Rejection& r) {
        recserve::fuzz::CheckRejection(stack->api, header, r);
      });
  stack->faults.ClearAll();
  stack->live.RebuildLists(recserve::UnixSecondsNow());
  return 0;
}
