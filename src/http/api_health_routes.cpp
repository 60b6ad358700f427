// The routes that report on the service itself: /health (models, cache, feature store, data
// quality), /live, /ready and /metrics.
#include <mutex>

#include "core/timestamp.h"
#include "http/api_replies.h"
#include "http/api_service.h"

namespace recserve::http {

namespace {

// {"version": ..., "source": ...} or null.
void WriteLoadedModel(JsonWriter& w, const std::string& version, const std::string& source) {
  if (version.empty()) {
    w.Null();
    return;
  }
  w.BeginObject().Key("version").String(version).Key("source").StringOrNull(source).EndObject();
}

// "models": the fleet's desired record (as last read), what this replica has loaded, and
// whether the two agree (docs/API.md, GET /health).
void WriteFleetModels(JsonWriter& w, const engine::FleetModelsStatus& fleet) {
  w.Key("models").BeginObject().Key("desired").BeginObject();
  const store::DesiredModels none;
  const store::DesiredModels& d = fleet.desired ? *fleet.desired : none;
  w.Key("generation")
      .Int(static_cast<int64_t>(d.generation))
      .Key("primary")
      .StringOrNull(d.primary)
      .Key("shadow")
      .StringOrNull(d.shadow)
      .Key("previous")
      .StringOrNull(d.previous)
      .Key("rollout")
      .Number(d.shadow_rollout)
      .Key("source")
      .String(store::DesiredModelsSourceName(fleet.source))
      .EndObject();
  w.Key("loaded")
      .BeginObject()
      .Key("generation")
      .Int(static_cast<int64_t>(fleet.loaded_generation));
  w.Key("primary");
  WriteLoadedModel(w, fleet.primary_version, fleet.primary_source);
  w.Key("shadow");
  WriteLoadedModel(w, fleet.shadow_version, fleet.shadow_source);
  w.Key("rollout").Number(fleet.shadow_rollout).EndObject();
  w.Key("converged").Bool(fleet.converged).EndObject();
}

}  // namespace

void ApiService::SetDataQuality(std::optional<double> score,
                                std::optional<int64_t> pipeline_last_run) {
  core::MutexLock lock(health_mu_);
  health_.data_quality_score = score;
  health_.pipeline_last_run = pipeline_last_run;
}

Reply ApiService::Health(const Call& call) {
  auto model = recommender_.PrimaryModel();
  auto shadow = recommender_.ShadowModel();
  HealthInfo health;
  {
    core::MutexLock lock(health_mu_);
    health = health_;
  }
  JsonWriter w;
  w.BeginObject()
      .Key("status")
      .String(model ? "ok" : "degraded")
      .Key("models_loaded")
      .Bool(model != nullptr)
      .Key("cache")
      .String(recommender_.cache_enabled() ? "enabled" : "disabled")
      .Key("feature_store")
      .String(recommender_.feature_store_backend())
      .Key("primary")
      .StringOrNull(model ? model->version() : "")
      .Key("shadow")
      .StringOrNull(shadow ? shadow->version() : "")
      .Key("shadow_rollout")
      .Number(shadow && admin_.models ? admin_.models->shadow_rollout() : 0)
      .Key("data_quality_score");
  if (health.data_quality_score) {
    w.Number(*health.data_quality_score);
  } else {
    w.Null();
  }
  w.Key("pipeline_last_run");
  if (health.pipeline_last_run) {
    w.String(FormatIsoUtc(*health.pipeline_last_run));
  } else {
    w.Null();
  }
  engine::EventsHealth events = recommender_.events_health();
  w.Key("events")
      .BeginObject()
      .Key("recorded_in")
      .String(events.recorded_in)
      .Key("spooled")
      .Int(static_cast<int64_t>(events.spooled))
      .Key("caught_up")
      .Bool(events.caught_up)
      .EndObject();
  if (admin_.models != nullptr) WriteFleetModels(w, admin_.models->Fleet());
  w.Key("request_id").String(call.request_id).EndObject();
  return MakeReply(200, w.Take(), call.request_id, call.endpoint);
}

Reply ApiService::Live(const Call& call) {
  JsonWriter w;
  w.BeginObject().Key("status").String("live").EndObject();
  return MakeReply(200, w.Take(), call.request_id, call.endpoint);
}

Reply ApiService::Ready(const Call& call) {
  if (recommender_.PrimaryModel() == nullptr) {
    return StatusReply(Unavailable("no model loaded"), call.request_id, call.endpoint);
  }
  if (!recommender_.events_health().caught_up) {
    return StatusReply(Unavailable("catching up on the fleet's event log"), call.request_id,
                       call.endpoint);
  }
  JsonWriter w;
  w.BeginObject().Key("status").String("ready").EndObject();
  return MakeReply(200, w.Take(), call.request_id, call.endpoint);
}

Reply ApiService::Metrics(const Call& call) {
  return MakeReply(200, registry_.Expose(), call.request_id, call.endpoint,
                   "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace recserve::http
