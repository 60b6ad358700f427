#include "engine/model_manager.h"

#include <spdlog/spdlog.h>

#include <cmath>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "lifecycle/path_safety.h"

namespace recserve::engine {

std::string_view ReloadModeName(ReloadMode mode) {
  switch (mode) {
    case ReloadMode::kRefresh:
      return "refresh";
    case ReloadMode::kShadow:
      return "shadow";
    case ReloadMode::kPrimary:
      return "primary";
    case ReloadMode::kRollback:
      return "rollback";
  }
  return "refresh";
}

ModelManager::ModelManager(ModelManagerOptions options, Slots& slots, Loader loader,
                           observe::Registry& registry)
    : options_(std::move(options)),
      slots_(slots),
      loader_(std::move(loader)),
      reloads_(registry.AddCounter("recommendation_model_reloads_total",
                                   "POST /models/reload calls and start-up loads, by mode and "
                                   "result (ok or the error code).",
                                   {"mode", "result"})),
      model_info_(registry.AddGauge("recommendation_model_info", "1 for each loaded model bundle.",
                                    {"variant", "version"})),
      rollout_gauge_(registry.AddGauge("recommendation_shadow_rollout_ratio",
                                       "Share of users the shadow model scores (0 without a "
                                       "shadow).")) {}

void ModelManager::AddRefreshHook(std::string name, RefreshHook hook, RefreshKind kind) {
  refresh_hooks_.push_back({std::move(name), std::move(hook), kind});
}

Result<std::filesystem::path> ModelManager::ResolveSource(std::string_view source) const {
  std::filesystem::path path(source);
  if (!source.empty() && path.is_relative() && source.find('\0') == std::string_view::npos) {
    // The runbook names sources from the service's working directory ("models/staging/run"
    // with MODEL_DIR=models); accept that when it lands inside the root.
    std::error_code ec;
    std::filesystem::path from_cwd = std::filesystem::absolute(path, ec);
    if (!ec) {
      auto inside = lifecycle::ResolveInsideRoot(options_.models_root, from_cwd.string());
      if (inside.ok()) return inside;
    }
  }
  return lifecycle::ResolveInsideRoot(options_.models_root, source);
}

Result<std::shared_ptr<const ServingModel>> ModelManager::LoadSource(
    const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return NotFound("no bundle at " + dir.string());
  auto model = loader_(dir);
  // A bundle that fails validation is the caller's input being wrong (a 4xx), whatever the
  // loader's own code (DataLoss for a checksum mismatch, Internal for an unreadable model).
  if (!model.ok() && model.status().code() != StatusCode::kNotFound) {
    return InvalidArgument("bundle " + dir.string() + " refused (" +
                           std::string(StatusCodeName(model.status().code())) +
                           "): " + model.status().message());
  }
  return model;
}

ModelState ModelManager::StateLocked(bool changed) const {
  Slots::Snapshot s = slots_.Get();
  ModelState state;
  state.primary = std::move(s.primary);
  state.shadow = std::move(s.shadow);
  state.previous = std::move(s.previous);
  state.shadow_rollout = state.shadow ? shadow_rollout() : 0;
  state.primary_source = primary_source_;
  state.shadow_source = state.shadow ? shadow_source_ : std::filesystem::path();
  state.changed = changed;
  return state;
}

ModelState ModelManager::State() const {
  core::MutexLock lock(reload_mu_);
  return StateLocked(false);
}

void ModelManager::PublishModelInfo() {
  for (const auto& [variant, version] : published_info_) {
    model_info_.WithLabels({variant, version}).Set(0);
  }
  published_info_.clear();
  Slots::Snapshot s = slots_.Get();
  if (s.primary) published_info_.emplace_back("primary", s.primary->version());
  if (s.shadow) published_info_.emplace_back("shadow", s.shadow->version());
  if (s.previous) published_info_.emplace_back("previous", s.previous->version());
  for (const auto& [variant, version] : published_info_) {
    model_info_.WithLabels({variant, version}).Set(1);
  }
  rollout_gauge_.Get().Set(s.shadow ? shadow_rollout() : 0);
}

Result<ModelState> ModelManager::LoadCurrent() {
  core::MutexLock lock(reload_mu_);
  auto state = LoadCurrentLocked();
  reloads_.WithLabels({"startup", state.ok() ? "ok" : StatusCodeName(state.status().code())}).Inc();
  return state;
}

Result<ModelState> ModelManager::LoadCurrentLocked() {
  // `current` must stay inside the models root, like every reload source.
  auto resolved = lifecycle::ResolveCurrentBundle(options_.models_root);
  if (!resolved.ok()) return resolved.status();
  const std::filesystem::path target = std::move(resolved).value();
  if (!primary_source_.empty() && target == primary_source_) return StateLocked(false);
  auto model = loader_(target);
  if (!model.ok()) return model.status();
  slots_.ReplacePrimary(std::move(model).value());
  previous_source_ = std::exchange(primary_source_, target);
  PublishModelInfo();
  spdlog::info("model reload: primary {} from {}", slots_.Get().primary->version(),
               target.string());
  return StateLocked(true);
}

Result<ModelState> ModelManager::Reload(const ReloadRequest& request) {
  auto count = [&](const Status& s) {
    reloads_.WithLabels({ReloadModeName(request.mode), s.ok() ? "ok" : StatusCodeName(s.code())})
        .Inc();
  };
  if (!reload_mu_.try_lock()) {
    Status busy = RateLimited("another model reload is in progress; retry when it has finished");
    count(busy);
    return busy;
  }
  core::MutexLock lock(reload_mu_, std::adopt_lock);
  auto now = std::chrono::steady_clock::now();
  if (last_reload_ && now - *last_reload_ < options_.min_interval) {
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(options_.min_interval -
                                                                      (now - *last_reload_));
    Status limited = RateLimited("reloads are limited to one per " +
                                 std::to_string(options_.min_interval.count()) + " ms; retry in " +
                                 std::to_string(wait.count()) + " ms");
    count(limited);
    return limited;
  }
  auto state = ReloadLocked(request);
  // Only an accepted reload uses up the interval: refused calls (a bad source, a bundle that
  // fails validation) must not lock a real operator out with 429.
  if (state.ok()) last_reload_ = now;
  count(state.status());
#if defined(__GLIBC__)
  // A replaced bundle's memory was freed into the allocator's arenas; hand the free pages back
  // to the kernel so RSS returns to what the loaded bundles need (a bundle released later, by
  // the last request still holding it, is returned at the next reload).
  malloc_trim(0);
#endif
  if (state.ok()) {
    spdlog::info("model reload ({}): primary {}, shadow {} at {}", ReloadModeName(request.mode),
                 state->primary ? state->primary->version() : "-",
                 state->shadow ? state->shadow->version() : "-", state->shadow_rollout);
  } else {
    spdlog::warn("model reload ({}) refused: {}", ReloadModeName(request.mode),
                 state.status().ToString());
  }
  return state;
}

Result<ModelState> ModelManager::ReloadLocked(const ReloadRequest& request) {
  bool takes_source = request.mode == ReloadMode::kShadow || request.mode == ReloadMode::kPrimary;
  if (request.source && !takes_source) {
    return InvalidArgument(std::string("mode \"") + std::string(ReloadModeName(request.mode)) +
                           "\" takes no source");
  }
  if (request.rollout && request.mode != ReloadMode::kShadow) {
    return InvalidArgument("rollout applies to mode \"shadow\" only");
  }
  double rollout = request.rollout.value_or(kDefaultShadowRollout);
  if (!std::isfinite(rollout) || rollout < 0 || rollout > 1) {
    return InvalidArgument("rollout must be a number within 0..1");
  }
  std::filesystem::path source;
  if (request.source) {
    auto resolved = ResolveSource(*request.source);
    if (!resolved.ok()) return resolved.status();
    source = std::move(resolved).value();
  }

  switch (request.mode) {
    case ReloadMode::kShadow: {
      if (!request.source) return InvalidArgument("mode \"shadow\" needs a source");
      auto model = LoadSource(source);
      if (!model.ok()) return model.status();
      // Rollout first: a request that sees the new shadow never uses a stale share for long,
      // and the share is only read together with a non-null shadow.
      shadow_rollout_.store(rollout, std::memory_order_relaxed);
      slots_.LoadShadow(std::move(model).value());
      shadow_source_ = source;
      break;
    }
    case ReloadMode::kPrimary: {
      if (request.source) {
        auto model = LoadSource(source);
        if (!model.ok()) return model.status();
        slots_.ReplacePrimary(std::move(model).value());
        previous_source_ = std::exchange(primary_source_, source);
      } else {
        auto promoted = slots_.PromoteShadow();
        if (!promoted.ok()) return promoted.status();
        previous_source_ = std::exchange(primary_source_, std::exchange(shadow_source_, {}));
        shadow_rollout_.store(0, std::memory_order_relaxed);
      }
      break;
    }
    case ReloadMode::kRollback: {
      auto rolled = slots_.Rollback();
      if (!rolled.ok()) return rolled.status();
      std::swap(primary_source_, previous_source_);
      break;
    }
    case ReloadMode::kRefresh: {
      std::vector<RefreshResult> refreshed;
      bool changed = false;
      auto current = LoadCurrentLocked();
      if (current.ok()) changed = current->changed;
      refreshed.push_back({"model", current.status(),
                           !current.ok() && current.status().code() != StatusCode::kNotFound});
      for (const auto& h : refresh_hooks_) {
        Status s = h.hook();
        refreshed.push_back({h.name, s, !s.ok() && h.kind == RefreshKind::kOperatorInput});
      }
      PublishModelInfo();
      ModelState state = StateLocked(changed);
      state.refreshed = std::move(refreshed);
      return state;
    }
  }
  PublishModelInfo();
  return StateLocked(true);
}

}  // namespace recserve::engine
