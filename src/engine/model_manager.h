#pragma once
// ModelManager: the admin side of the model slots (POST /models/reload, docs/API.md). It loads
// and validates a bundle completely before anything changes, then swaps one slot atomically
// (lifecycle::ModelSlots): requests in flight keep the bundle they started with, and a replaced
// bundle is freed when its last request drops it. A refused bundle leaves serving exactly as it
// was.
//
// Reloads are serialised (one at a time: a second concurrent call is refused with RateLimited
// rather than queued, so at most one I/O thread is ever busy loading a bundle) and rate-limited
// (at most one per `min_interval`). Every source path must resolve inside the models root.
//
// Thread-safety: Snapshot()/shadow_rollout() may be called from any thread at any time (request
// path); Reload()/LoadCurrent() may be called from any thread and serialise themselves.

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/thread_annotations.h"
#include "engine/serving_model.h"
#include "lifecycle/model_slots.h"
#include "observe/metrics.h"

namespace recserve::engine {

enum class ReloadMode { kRefresh, kShadow, kPrimary, kRollback };

// "refresh" | "shadow" | "primary" | "rollback" (metric label and JSON value).
std::string_view ReloadModeName(ReloadMode mode);

// A decoded POST /models/reload body (http/wire_json.h DecodeReloadRequest).
struct ReloadRequest {
  ReloadMode mode = ReloadMode::kRefresh;
  std::optional<std::string> source;  // bundle directory (see ModelManager::ResolveSource)
  std::optional<double> rollout;      // shadow only: share of users shadowed, in [0, 1]
};

// Default share of users a shadow scores when the request names none (runbook section 3).
inline constexpr double kDefaultShadowRollout = 0.05;

// One dependency or configuration file an empty-body reload refreshed, and how it went.
struct RefreshResult {
  std::string name;  // e.g. "cache", "feature_store", "experiments"
  Status status;
  // The step re-read something an operator changed (a configuration file, `current`) and
  // refused it: the reload answers 4xx so `curl -f` and the client script fail loudly. A
  // dependency that is still down is only reported (its fallback keeps serving).
  bool refused_input = false;
};

// The models being served after a reload (or now).
struct ModelState {
  std::shared_ptr<const ServingModel> primary;
  std::shared_ptr<const ServingModel> shadow;
  std::shared_ptr<const ServingModel> previous;
  double shadow_rollout = 0;
  std::filesystem::path primary_source;  // canonical bundle directory; empty when none
  std::filesystem::path shadow_source;
  bool changed = false;                  // this call changed a slot
  std::vector<RefreshResult> refreshed;  // refresh mode only
};

struct ModelManagerOptions {
  // Every source must resolve inside this directory (MODEL_DIR). `current` inside it is the
  // bundle a fresh start (and a refresh) loads.
  std::filesystem::path models_root = "models";
  // Minimum time between two reloads (RELOAD_MIN_INTERVAL). A call sooner gets RateLimited.
  std::chrono::milliseconds min_interval{1000};
};

class ModelManager {
 public:
  using Slots = lifecycle::ModelSlots<ServingModel>;
  // Loads and validates a bundle directory; the production loader is BundleServingModel::Load.
  using Loader =
      std::function<Result<std::shared_ptr<const ServingModel>>(const std::filesystem::path&)>;
  // Called by a refresh (empty body): reconnect a dependency or re-read a file.
  using RefreshHook = std::function<Status()>;
  // What kind of refresh step a hook is (see RefreshResult::refused_input).
  enum class RefreshKind { kDependency, kOperatorInput };

  // `slots` is what the request path reads; it and `registry` must outlive this object.
  ModelManager(ModelManagerOptions options, Slots& slots, Loader loader,
               observe::Registry& registry);
  ModelManager(const ModelManager&) = delete;
  ModelManager& operator=(const ModelManager&) = delete;

  // Registers a refresh step under `name`. Call before serving starts (not synchronised).
  void AddRefreshHook(std::string name, RefreshHook hook,
                      RefreshKind kind = RefreshKind::kDependency);

  // Loads `<models_root>/current` as the primary when it names a different bundle than the one
  // serving (start-up and refresh). NotFound when the link is missing; InvalidArgument when it
  // resolves outside the models root (lifecycle::ResolveCurrentBundle); the loader's error when
  // the bundle is refused. Not rate-limited.
  Result<ModelState> LoadCurrent();

  // POST /models/reload. Errors (nothing changes on any of them):
  //   InvalidArgument   bad rollout, missing/unexpected source, source outside the models root;
  //   NotFound          source does not exist;
  //   FailedPrecondition promote without a shadow, rollback without a previous model;
  //   RateLimited       another reload is running, or the last accepted one was less than
  //                     min_interval ago (a refused reload does not use up the interval);
  //   InvalidArgument   the bundle is refused by the loader (checksum, truncated model, ...),
  //                     the loader's own code and message quoted in the message.
  // A refresh never fails as a whole here: each step's outcome is in `refreshed` ("model" for
  // `current`: a missing link is only reported, a refused bundle is refused input).
  Result<ModelState> Reload(const ReloadRequest& request);

  // MODEL_DIR: every source resolves inside it.
  const std::filesystem::path& models_root() const { return options_.models_root; }

  // What is served now.
  ModelState State() const;
  // Share of users the shadow scores; 0 when there is no shadow.
  double shadow_rollout() const { return shadow_rollout_.load(std::memory_order_relaxed); }

 private:
  Result<ModelState> ReloadLocked(const ReloadRequest& request)
      EXCLUSIVE_LOCKS_REQUIRED(reload_mu_);
  Result<ModelState> LoadCurrentLocked() EXCLUSIVE_LOCKS_REQUIRED(reload_mu_);
  // A reload's `source` as a canonical directory inside the models root: relative to the
  // working directory when that lands inside the root (the runbook's "models/staging/run"),
  // else relative to the root ("staging/run"); absolute paths must be inside the root.
  Result<std::filesystem::path> ResolveSource(std::string_view source) const;
  Result<std::shared_ptr<const ServingModel>> LoadSource(const std::filesystem::path& dir);
  ModelState StateLocked(bool changed) const EXCLUSIVE_LOCKS_REQUIRED(reload_mu_);
  // Keeps recommendation_model_info{variant,version} equal to the slots.
  void PublishModelInfo() EXCLUSIVE_LOCKS_REQUIRED(reload_mu_);

  ModelManagerOptions options_;
  Slots& slots_;
  Loader loader_;
  struct NamedHook {
    std::string name;
    RefreshHook hook;
    RefreshKind kind;
  };
  std::vector<NamedHook> refresh_hooks_;

  // Guards the reload state below; held for a whole reload (load included).
  mutable core::Mutex reload_mu_;
  std::optional<std::chrono::steady_clock::time_point> last_reload_ GUARDED_BY(reload_mu_);
  std::filesystem::path primary_source_ GUARDED_BY(reload_mu_);
  std::filesystem::path shadow_source_ GUARDED_BY(reload_mu_);
  std::filesystem::path previous_source_ GUARDED_BY(reload_mu_);
  std::vector<std::pair<std::string, std::string>> published_info_
      GUARDED_BY(reload_mu_);  // variant, version
  std::atomic<double> shadow_rollout_{0};

  observe::Family<observe::Counter>& reloads_;      // recommendation_model_reloads_total
  observe::Family<observe::Gauge>& model_info_;     // recommendation_model_info
  observe::Family<observe::Gauge>& rollout_gauge_;  // recommendation_shadow_rollout_ratio
};

}  // namespace recserve::engine
