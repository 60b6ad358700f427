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
                           observe::Registry& registry, store::DesiredModelsStore* desired)
    : options_(std::move(options)),
      slots_(slots),
      loader_(std::move(loader)),
      desired_(desired),
      reloads_(registry.AddCounter("recommendation_model_reloads_total",
                                   "POST /models/reload calls and start-up loads, by mode and "
                                   "result (ok or the error code).",
                                   {"mode", "result"})),
      model_info_(registry.AddGauge("recommendation_model_info", "1 for each loaded model bundle.",
                                    {"variant", "version"})),
      rollout_gauge_(registry.AddGauge("recommendation_shadow_rollout_ratio",
                                       "Share of users the shadow model scores (0 without a "
                                       "shadow).")),
      reconciles_(registry.AddCounter(
          "recommendation_model_reconcile_total",
          "Reconcile steps that changed the slots (applied) or could not (load_failed: a "
          "bundle did not load; store_error: the desired record could not be read).",
          {"result"})),
      desired_generation_(registry
                              .AddGauge("recommendation_model_desired_generation",
                                        "Generation of the fleet's desired model record as "
                                        "last read (0: none yet).")
                              .Get()),
      loaded_generation_(registry
                             .AddGauge("recommendation_model_loaded_generation",
                                       "Generation of the last desired record this "
                                       "replica's slots were fully brought to (0: none).")
                             .Get()) {}

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
  state.generation = applied_generation_;
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
  PublishFleetLocked();
}

void ModelManager::PublishFleetLocked() {
  Slots::Snapshot s = slots_.Get();
  FleetModelsStatus fleet;
  fleet.desired = last_desired_;
  fleet.source = last_source_;
  fleet.loaded_generation = applied_generation_;
  fleet.converged = converged_;
  if (s.primary) {
    fleet.primary_version = s.primary->version();
    fleet.primary_source = RelativeToRoot(primary_source_);
  }
  if (s.shadow) {
    fleet.shadow_version = s.shadow->version();
    fleet.shadow_source = RelativeToRoot(shadow_source_);
    fleet.shadow_rollout = shadow_rollout();
  }
  desired_generation_.Set(static_cast<double>(last_desired_ ? last_desired_->generation : 0));
  loaded_generation_.Set(static_cast<double>(applied_generation_));
  core::MutexLock lock(fleet_mu_);
  fleet_ = std::move(fleet);
}

FleetModelsStatus ModelManager::Fleet() const {
  core::MutexLock lock(fleet_mu_);
  return fleet_;
}

std::string ModelManager::RelativeToRoot(const std::filesystem::path& path) const {
  if (path.empty()) return "";
  std::error_code ec;
  std::filesystem::path root = std::filesystem::weakly_canonical(options_.models_root, ec);
  std::filesystem::path relative = path.lexically_relative(root);
  if (ec || relative.empty() || *relative.begin() == "..") return path.string();
  return relative.generic_string();
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
  if (desired_ != nullptr) {
    if (request.mode != ReloadMode::kRefresh) {
      if (request.mode == ReloadMode::kShadow && !request.source) {
        return InvalidArgument("mode \"shadow\" needs a source");
      }
      return ReloadDesiredLocked(request, source, rollout);
    }
    std::vector<RefreshResult> refreshed;
    bool changed = false;
    auto read = desired_->Read();
    Status reconciled = ReconcileLocked(read, /*force=*/true, &changed);
    refreshed.push_back({"model", reconciled,
                         !reconciled.ok() && reconciled.code() != StatusCode::kNotFound &&
                             reconciled.code() != StatusCode::kUnavailable});
    for (const auto& h : refresh_hooks_) {
      Status st = h.hook();
      refreshed.push_back({h.name, st, !st.ok() && h.kind == RefreshKind::kOperatorInput});
    }
    PublishModelInfo();
    ModelState state = StateLocked(changed);
    state.refreshed = std::move(refreshed);
    return state;
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

namespace recserve::engine {

namespace {

constexpr std::chrono::milliseconds kMaxRetryAfter{30000};
constexpr std::chrono::milliseconds kFirstRetryAfter{500};

}  // namespace

store::DesiredModels ModelManager::RecordOfSlotsLocked() const {
  Slots::Snapshot s = slots_.Get();
  store::DesiredModels record;
  if (s.primary) record.primary = RelativeToRoot(primary_source_);
  if (s.shadow) {
    record.shadow = RelativeToRoot(shadow_source_);
    record.shadow_rollout = shadow_rollout();
  }
  if (s.previous) record.previous = RelativeToRoot(previous_source_);
  return record;
}

Result<std::vector<ModelManager::Preloaded>> ModelManager::PreloadLocked(
    const store::DesiredModels& record) {
  std::vector<Preloaded> preloaded;
  Slots::Snapshot s = slots_.Get();
  for (const std::string* rel : {&record.primary, &record.shadow}) {
    if (rel->empty()) continue;
    auto dir = lifecycle::ResolveInsideRoot(options_.models_root, *rel);
    if (!dir.ok()) return dir.status();
    bool held = (s.primary && *dir == primary_source_) || (s.shadow && *dir == shadow_source_) ||
                (s.previous && *dir == previous_source_);
    for (const auto& p : preloaded) held = held || p.dir == *dir;
    if (held) continue;
    auto model = LoadSource(*dir);
    if (!model.ok()) return model.status();
    preloaded.push_back({*dir, std::move(model).value()});
  }
  return preloaded;
}

Result<std::shared_ptr<const ServingModel>> ModelManager::ObtainLocked(
    const std::filesystem::path& dir, const std::vector<Preloaded>& preloaded) {
  for (const auto& p : preloaded) {
    if (p.dir == dir && p.model) return p.model;
  }
  Slots::Snapshot s = slots_.Get();
  if (s.primary && dir == primary_source_) return s.primary;
  if (s.shadow && dir == shadow_source_) return s.shadow;
  if (s.previous && dir == previous_source_) return s.previous;
  return LoadSource(dir);
}

Status ModelManager::ApplyLocked(const store::DesiredModels& record,
                                 std::vector<Preloaded> preloaded, bool* changed) {
  // Primary first: when it is the loaded shadow it is promoted without a load, which also
  // empties the shadow slot the next step fills (or leaves empty).
  if (!record.primary.empty()) {
    auto target = lifecycle::ResolveInsideRoot(options_.models_root, record.primary);
    if (!target.ok()) return target.status();
    Slots::Snapshot s = slots_.Get();
    if (!s.primary || *target != primary_source_) {
      if (s.shadow && *target == shadow_source_) {
        RECSERVE_RETURN_IF_ERROR(slots_.PromoteShadow().status());
        previous_source_ = std::exchange(primary_source_, std::exchange(shadow_source_, {}));
        shadow_rollout_.store(0, std::memory_order_relaxed);
      } else if (s.previous && *target == previous_source_) {
        RECSERVE_RETURN_IF_ERROR(slots_.Rollback().status());
        std::swap(primary_source_, previous_source_);
      } else {
        // Loaded before the swap: the old primary serves until then.
        auto model = ObtainLocked(*target, preloaded);
        if (!model.ok()) return model.status();
        slots_.ReplacePrimary(std::move(model).value());
        previous_source_ = std::exchange(primary_source_, *target);
      }
      *changed = true;
    }
  }

  Slots::Snapshot s = slots_.Get();
  if (record.shadow.empty()) {
    if (s.shadow) {
      slots_.ClearShadow();
      shadow_source_.clear();
      *changed = true;
    }
    shadow_rollout_.store(0, std::memory_order_relaxed);
    return Status::Ok();
  }
  auto target = lifecycle::ResolveInsideRoot(options_.models_root, record.shadow);
  if (!target.ok()) return target.status();
  if (!s.shadow || *target != shadow_source_) {
    auto model = ObtainLocked(*target, preloaded);
    if (!model.ok()) return model.status();
    shadow_rollout_.store(record.shadow_rollout, std::memory_order_relaxed);
    slots_.LoadShadow(std::move(model).value());
    shadow_source_ = *target;
    *changed = true;
  } else if (shadow_rollout() != record.shadow_rollout) {
    shadow_rollout_.store(record.shadow_rollout, std::memory_order_relaxed);
    *changed = true;
  }
  return Status::Ok();
}

Status ModelManager::ReconcileLocked(const Result<store::DesiredModelsRead>& read, bool force,
                                     bool* changed) {
  if (!read.ok()) {
    reconciles_.WithLabels({"store_error"}).Inc();
    if (failed_message_ != read.status().ToString()) {
      spdlog::warn("model reconcile: desired record not read ({}); serving what is loaded",
                   read.status().ToString());
      failed_message_ = read.status().ToString();
    }
    return Unavailable("desired model record not read: " + read.status().message());
  }
  last_desired_ = read->record;
  last_source_ = read->source;

  std::string target_key;
  std::filesystem::path current;
  if (read->record) {
    const store::DesiredModels& d = *read->record;
    target_key = std::to_string(d.generation) + ":" + d.primary + ":" + d.shadow;
  } else {
    // No explicit choice yet: follow `current`, as a replica always did.
    auto resolved = lifecycle::ResolveCurrentBundle(options_.models_root);
    if (!resolved.ok()) {
      converged_ = slots_.Get().primary == nullptr;
      return resolved.status();
    }
    current = std::move(resolved).value();
    target_key = "current:" + current.string();
  }
  const auto now = std::chrono::steady_clock::now();
  if (!force && target_key == failed_target_ && now < retry_at_) {
    return Unavailable(failed_message_);
  }

  Status applied;
  bool slots_changed = false;
  if (read->record) {
    applied = ApplyLocked(*read->record, {}, &slots_changed);
    if (applied.ok()) applied_generation_ = read->record->generation;
    converged_ = applied.ok();
  } else {
    auto loaded = LoadCurrentLocked();
    applied = loaded.status();
    if (loaded.ok()) slots_changed = loaded->changed;
    applied_generation_ = 0;
    converged_ = applied.ok();
  }
  *changed = *changed || slots_changed;
  if (slots_changed) {
    reconciles_.WithLabels({"applied"}).Inc();
    spdlog::info("model reconcile: now serving {} (target {})",
                 slots_.Get().primary ? slots_.Get().primary->version() : "-", target_key);
  }
  if (applied.ok()) {
    failed_target_.clear();
    failed_message_.clear();
    retry_after_ = std::chrono::milliseconds(0);
    return applied;
  }
  reconciles_.WithLabels({"load_failed"}).Inc();
  if (target_key != failed_target_) {
    spdlog::warn("model reconcile: {} not applied ({}); serving what is loaded, retrying",
                 target_key, applied.ToString());
    failed_target_ = target_key;
    retry_after_ = kFirstRetryAfter;
  } else {
    retry_after_ = std::min(kMaxRetryAfter, retry_after_ * 2);
  }
  failed_message_ = applied.ToString();
  retry_at_ = now + retry_after_;
  return applied;
}

Status ModelManager::Reconcile() {
  if (desired_ == nullptr) return Status::Ok();
  uint64_t writes_before;
  {
    core::MutexLock lock(reload_mu_);
    writes_before = writes_;
  }
  auto read = desired_->Read();  // Redis or file I/O: outside the lock
  core::MutexLock lock(reload_mu_);
  // A reload on this replica wrote a newer record meanwhile: this read may be older.
  if (writes_ != writes_before) return Status::Ok();
  bool changed = false;
  Status status = ReconcileLocked(read, /*force=*/false, &changed);
  if (changed) {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
    PublishModelInfo();
  } else {
    // The info gauges are rewritten only on a change (a rewrite zeroes them for an instant).
    PublishFleetLocked();
  }
  return status;
}

Result<ModelState> ModelManager::Start() {
  if (desired_ == nullptr) return LoadCurrent();
  core::MutexLock lock(reload_mu_);
  auto read = desired_->Read();
  bool changed = false;
  Status status = ReconcileLocked(read, /*force=*/true, &changed);
  if (!status.ok() && slots_.Get().primary == nullptr && (!read.ok() || read->record)) {
    // The desired primary did not load here (or the record could not be read): serve `current`
    // meanwhile (not converged; the reconciler keeps retrying the record).
    spdlog::warn("model start: desired models not loaded ({}); serving current meanwhile",
                 status.ToString());
    auto fallback = LoadCurrentLocked();
    if (fallback.ok()) converged_ = false;
  }
  reloads_.WithLabels({"startup", status.ok() ? "ok" : StatusCodeName(status.code())}).Inc();
  PublishModelInfo();
  if (slots_.Get().primary == nullptr) {
    return status.ok() ? NotFound("no model bundle: no desired primary and no current") : status;
  }
  return StateLocked(changed);
}

Result<ModelState> ModelManager::ReloadDesiredLocked(const ReloadRequest& request,
                                                     const std::filesystem::path& source,
                                                     double rollout) {
  for (int attempt = 0;; ++attempt) {
    auto read = desired_->Read();
    if (!read.ok()) {
      return Unavailable("the fleet's desired models could not be read: " +
                         read.status().message());
    }
    const uint64_t expected = read->record ? read->record->generation : 0;
    store::DesiredModels next = read->record ? *read->record : RecordOfSlotsLocked();
    switch (request.mode) {
      case ReloadMode::kShadow:
        next.shadow = RelativeToRoot(source);
        next.shadow_rollout = rollout;
        break;
      case ReloadMode::kPrimary:
        if (request.source) {
          next.previous = std::exchange(next.primary, RelativeToRoot(source));
        } else {
          if (next.shadow.empty()) return FailedPrecondition("no shadow model to promote");
          next.previous = std::exchange(next.primary, std::exchange(next.shadow, {}));
          next.shadow_rollout = 0;
        }
        break;
      case ReloadMode::kRollback:
        if (next.previous.empty()) {
          return FailedPrecondition("no previous model to roll back to");
        }
        std::swap(next.primary, next.previous);
        break;
      case ReloadMode::kRefresh:
        return Internal("refresh does not write the desired record");
    }
    if (next.shadow.empty()) next.shadow_rollout = 0;
    // Validate before anything changes anywhere: every bundle the record needs loads here.
    auto preloaded = PreloadLocked(next);
    if (!preloaded.ok()) return preloaded.status();
    auto written = desired_->CompareAndSet(expected, next);
    if (!written.ok()) {
      if (written.status().code() == StatusCode::kFailedPrecondition && attempt == 0) continue;
      return written.status();
    }
    ++writes_;
    last_desired_ = *written;
    last_source_ = desired_->has_redis() ? store::DesiredModelsSource::kRedis
                                         : store::DesiredModelsSource::kFile;
    bool changed = false;
    Status applied = ApplyLocked(*written, std::move(preloaded).value(), &changed);
    if (!applied.ok()) {
      // Only a bundle that vanished between its load and now; the reconciler retries it.
      converged_ = false;
      PublishModelInfo();
      return Internal("desired generation " + std::to_string(written->generation) +
                      " written but not applied here: " + applied.ToString());
    }
    applied_generation_ = written->generation;
    converged_ = true;
    failed_target_.clear();
    PublishModelInfo();
    return StateLocked(true);
  }
}

}  // namespace recserve::engine
