// Fuzz target: a POST /models/reload body → http::DecodeReloadRequest, the decoding half of
// ApiService::ModelsReload (the other half, ModelManager::Reload, is covered by unit tests on
// real files).
//
// Contract checked (docs/API.md "POST /models/reload"):
// - a rejected body is InvalidArgument with a non-empty message;
// - an accepted body is a refresh exactly when it is blank, `{}` or names mode "refresh";
// - an accepted body with a non-refresh mode named that mode, and carries `source`/`rollout`
//   only when the body had those keys (nothing is invented);
// - decoding is deterministic.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "fuzz_contract.h"
#include "http/wire_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using recserve::StatusCode;
  using recserve::engine::ReloadMode;
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto request = recserve::http::DecodeReloadRequest(body);
  auto again = recserve::http::DecodeReloadRequest(body);
  FUZZ_REQUIRE(request.ok() == again.ok(), body);
  if (!request.ok()) {
    FUZZ_REQUIRE(request.status().code() == StatusCode::kInvalidArgument, body);
    FUZZ_REQUIRE(!request.status().message().empty(), body);
    return 0;
  }
  bool blank = body.find_first_not_of(" \t\r\n") == std::string_view::npos;
  if (blank) {
    FUZZ_REQUIRE(request->mode == ReloadMode::kRefresh && !request->source, body);
    return 0;
  }
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  FUZZ_REQUIRE(doc.is_object(), body);
  if (doc.empty()) {
    FUZZ_REQUIRE(request->mode == ReloadMode::kRefresh, body);
    return 0;
  }
  const std::string& mode = doc.at("mode").get_ref<const std::string&>();
  FUZZ_REQUIRE(recserve::engine::ReloadModeName(request->mode) == mode, body);
  FUZZ_REQUIRE(request->source.has_value() == doc.contains("source"), body);
  FUZZ_REQUIRE(request->rollout.has_value() == doc.contains("rollout"), body);
  return 0;
}
