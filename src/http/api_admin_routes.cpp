// The admin routes: POST /models/reload and GET/POST/DELETE /admin/faults, behind Authorize
// (ADMIN_TOKEN, loopback or opt-in; failed attempts limited per client), each call audited
// (docs/API.md, "Admin calls").
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "core/text_input.h"
#include "http/api_replies.h"
#include "http/api_service.h"

namespace recserve::http {

namespace bhttp = boost::beast::http;

namespace {

// `message` with the absolute paths of MODEL_DIR and of the working directory written as
// "MODEL_DIR" and ".".
std::string WithoutServerPaths(std::string message, const std::filesystem::path& root) {
  std::error_code ec;
  std::vector<std::pair<std::string, std::string>> prefixes;
  for (const auto& p :
       {std::filesystem::weakly_canonical(root, ec), std::filesystem::absolute(root, ec)}) {
    if (!p.empty()) prefixes.emplace_back(p.string(), "MODEL_DIR");
  }
  if (auto cwd = std::filesystem::current_path(ec); !ec) prefixes.emplace_back(cwd.string(), ".");
  for (const auto& [prefix, name] : prefixes) {
    if (prefix.size() <= 1) continue;
    for (size_t at = message.find(prefix); at != std::string::npos; at = message.find(prefix, at)) {
      message.replace(at, prefix.size(), name);
      at += name.size();
    }
  }
  return message;
}

// `source` as an operator names it: relative to MODEL_DIR, never the server's absolute path.
std::string DisplaySource(const std::filesystem::path& source, const std::filesystem::path& root) {
  if (source.empty()) return "";
  std::error_code ec;
  std::filesystem::path relative =
      std::filesystem::weakly_canonical(source, ec)
          .lexically_relative(std::filesystem::weakly_canonical(root, ec));
  if (ec || relative.empty() || *relative.begin() == "..") return source.filename().string();
  return relative.string();
}

void WriteModel(JsonWriter& w, const std::shared_ptr<const engine::ServingModel>& model,
                const std::filesystem::path& source, const std::filesystem::path& root) {
  if (!model) {
    w.Null();
    return;
  }
  w.BeginObject().Key("version").String(model->version());
  w.Key("source").StringOrNull(DisplaySource(source, root)).EndObject();
}

}  // namespace

Status ApiService::Authorize(const Call& call) {
  if (admin_.token.empty()) {
    if (admin_.loopback_only || admin_.open_without_token) return Status::Ok();
    auth_failures_.WithLabels({"disabled"}).Inc();
    return PermissionDenied(
        "admin calls are disabled: ADMIN_TOKEN is not set and the server listens beyond "
        "loopback (set ADMIN_TOKEN, or ADMIN_ALLOW_UNAUTHENTICATED=1 on a private network)");
  }
  // A client that keeps failing is refused before its token is even compared.
  if (!admin_failures_.HasTokens(call.peer)) {
    auth_failures_.WithLabels({"rate_limited"}).Inc();
    return RateLimited("too many failed admin authentications from this client; retry later");
  }
  std::string_view header = Sv(call.request[bhttp::field::authorization]);
  constexpr std::string_view kBearer = "Bearer ";
  if (header.empty()) {
    auth_failures_.WithLabels({"missing"}).Inc();
    (void)admin_failures_.TryTake(call.peer);
    return Unauthenticated("admin call needs Authorization: Bearer <token>");
  }
  if (header.substr(0, kBearer.size()) != kBearer ||
      !ConstantTimeEquals(header.substr(kBearer.size()), admin_.token)) {
    auth_failures_.WithLabels({"rejected"}).Inc();
    (void)admin_failures_.TryTake(call.peer);
    return PermissionDenied("admin token rejected");
  }
  return Status::Ok();
}

Status ApiService::RequireJsonBody(const Call& call) {
  if (call.request.body().find_first_not_of(" \t\r\n") == std::string::npos) return Status::Ok();
  std::string_view type = Sv(call.request[bhttp::field::content_type]);
  std::string_view media = type.substr(0, type.find(';'));
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  bool json = media.size() == 16 &&
              std::equal(media.begin(), media.end(), "application/json", [](char a, char b) {
                return std::tolower(static_cast<unsigned char>(a)) == b;
              });
  if (json) return Status::Ok();
  return {StatusCode::kUnsupportedMediaType,
          "an admin call with a body needs Content-Type: application/json"};
}

void ApiService::Audit(const Call& call, std::string_view action, std::string_view source,
                       const Reply& reply) const {
  spdlog::info("admin audit: {} {} from {} action={} source={} status={} request_id={}",
               Sv(call.request.method_string()), call.endpoint, call.peer, action,
               PrintableExcerpt(source, 200), reply.response.result_int(), call.request_id);
}

Reply ApiService::ModelsReload(const Call& call) {
  auto request = DecodeReloadRequest(call.request.body());
  Reply reply = ModelsReloadAuthorized(call, request);
  std::string_view mode = request.ok() ? engine::ReloadModeName(request->mode) : "-";
  Audit(call, mode, request.ok() && request->source ? *request->source : "-", reply);
  return reply;
}

Reply ApiService::ModelsReloadAuthorized(const Call& call,
                                         const Result<engine::ReloadRequest>& request) {
  if (admin_.models == nullptr) {
    return StatusReply(Unavailable("model reload is not configured"), call.request_id,
                       call.endpoint);
  }
  if (Status auth = Authorize(call); !auth.ok()) {
    return AuthFailureReply(auth, call.request_id, call.endpoint);
  }
  if (Status json = RequireJsonBody(call); !json.ok()) {
    auth_failures_.WithLabels({"content_type"}).Inc();
    return StatusReply(json, call.request_id, call.endpoint);
  }
  if (!request.ok()) return StatusReply(request.status(), call.request_id, call.endpoint);
  auto state = admin_.models->Reload(*request);
  if (!state.ok()) {
    // The log keeps the server's paths for operators; the client is told paths relative to
    // MODEL_DIR (or the working directory), never where the server's disk keeps them.
    Status refused(state.status().code(),
                   WithoutServerPaths(state.status().message(), admin_.models->models_root()));
    Reply reply = StatusReply(refused, call.request_id, call.endpoint);
    if (state.status().code() == StatusCode::kRateLimited) {
      reply.response.set(bhttp::field::retry_after, "1");
    }
    return reply;
  }
  JsonWriter w;
  w.BeginObject()
      .Key("request_id")
      .String(call.request_id)
      .Key("mode")
      .String(engine::ReloadModeName(request->mode))
      .Key("changed")
      .Bool(state->changed)
      .Key("primary");
  WriteModel(w, state->primary, state->primary_source, admin_.models->models_root());
  w.Key("shadow");
  WriteModel(w, state->shadow, state->shadow_source, admin_.models->models_root());
  w.Key("shadow_rollout").Number(state->shadow_rollout);
  w.Key("previous").StringOrNull(state->previous ? state->previous->version() : "");
  w.Key("generation").Int(static_cast<int64_t>(state->generation));
  unsigned http_status = 200;
  if (request->mode == engine::ReloadMode::kRefresh) {
    w.Key("refreshed").BeginObject();
    const engine::RefreshResult* refused = nullptr;
    for (const auto& r : state->refreshed) {
      w.Key(r.name).String(
          r.status.ok() ? "ok"
                        : WithoutServerPaths(r.status.ToString(), admin_.models->models_root()));
      if (r.refused_input && refused == nullptr) refused = &r;
    }
    w.EndObject();
    w.Key("cache").String(recommender_.cache_enabled() ? "enabled" : "disabled");
    if (refused != nullptr) {
      // Every other step was still applied; the refused file or bundle left its previous
      // version serving.
      http_status = 400;
      w.Key("error").String("invalid_argument");
      w.Key("message").String(
          refused->name + ": " +
          WithoutServerPaths(refused->status.ToString(), admin_.models->models_root()));
    }
  }
  w.EndObject();
  return MakeReply(http_status, w.Take(), call.request_id, call.endpoint);
}

Reply ApiService::Faults(const Call& call) {
  Reply reply = FaultsAuthorized(call);
  Audit(call, Sv(call.request.method_string()), "-", reply);
  return reply;
}

Reply ApiService::FaultsAuthorized(const Call& call) {
  if (admin_.faults == nullptr) {
    return StatusReply(Unavailable("fault injection is not configured"), call.request_id,
                       call.endpoint);
  }
  if (admin_.token.empty()) {
    return StatusReply(PermissionDenied("fault injection over the API needs ADMIN_TOKEN to be set "
                                        "(or use the FAULT_* env vars at start)"),
                       call.request_id, call.endpoint);
  }
  if (Status auth = Authorize(call); !auth.ok()) {
    return AuthFailureReply(auth, call.request_id, call.endpoint);
  }
  if (Status json = RequireJsonBody(call); !json.ok()) {
    auth_failures_.WithLabels({"content_type"}).Inc();
    return StatusReply(json, call.request_id, call.endpoint);
  }
  auto method = call.request.method();
  if (method == bhttp::verb::delete_) {
    admin_.faults->ClearAll();
  } else if (method == bhttp::verb::post) {
    auto settings = DecodeFaultSettings(call.request.body(), *admin_.faults);
    if (!settings.ok()) return StatusReply(settings.status(), call.request_id, call.endpoint);
    for (const auto& [operation, spec] : *settings) {
      Status set = admin_.faults->Set(operation, spec);
      if (!set.ok()) return StatusReply(set, call.request_id, call.endpoint);
    }
  }
  JsonWriter w;
  w.BeginObject().Key("request_id").String(call.request_id);
  for (auto operation : {resilience::FaultOperation::kRanking, resilience::FaultOperation::kRedis,
                         resilience::FaultOperation::kHandler}) {
    resilience::FaultSpec spec = admin_.faults->Get(operation);
    w.Key(resilience::FaultOperationName(operation))
        .BeginObject()
        .Key("delay_ms")
        .Int(spec.delay.count())
        .Key("failure_rate")
        .Number(spec.failure_rate)
        .EndObject();
  }
  w.EndObject();
  return MakeReply(200, w.Take(), call.request_id, call.endpoint);
}

}  // namespace recserve::http
