#pragma once
// ModelManager: the admin side of the model slots (POST /models/reload, docs/API.md). It loads
// and validates a bundle completely before anything changes, then swaps one slot atomically
// (lifecycle::ModelSlots): requests in flight keep the bundle they started with, and a replaced
// bundle is freed when its last request drops it. A refused bundle leaves serving exactly as it
// was.
//
// Fleet-wide state (docs/ARCHITECTURE.md, "Fleet-wide model state"): with a
// store::DesiredModelsStore, what should be served is the fleet's desired record, not this
// replica's slots. A shadow/primary/rollback reload validates locally (loads the bundle first),
// computes the next record from the current one, compare-and-sets it, then applies it here at
// once; every replica's Reconcile() (engine/model_reconciler.h, every 500 ms and on a Redis
// notification) brings its slots to the record. Reconciling preserves availability as TF
// Serving's AvailabilityPreservingPolicy does: a new primary is loaded before it replaces the
// old one, and a bundle already held (the shadow being promoted, the previous being rolled back
// to) is swapped in without a load. A bundle that fails to load keeps the old one serving and is
// retried later. Without a record ("no explicit choice yet") the replica tracks
// MODEL_DIR/current, as before the fleet state existed; the first explicit reload pins it. An
// empty reload (refresh) never changes the record. Without a store (tests, tools) reloads change
// this replica only.
//
// Reloads are serialised (one at a time: a second concurrent call is refused with RateLimited
// rather than queued, so at most one I/O thread is ever busy loading a bundle; a reconcile that
// is loading a bundle counts as a reload in progress) and rate-limited (at most one per
// `min_interval`). Every source path must resolve inside the models root.
//
// Thread-safety: Snapshot()/shadow_rollout()/Fleet() may be called from any thread at any time
// (request path, /health: they never wait for a load); Reload()/LoadCurrent()/Start()/
// Reconcile() may be called from any thread and serialise themselves.

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
#include "store/desired_models.h"

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
  uint64_t generation = 0;               // desired record the slots match; 0: none (unpinned)
  bool changed = false;                  // this call changed a slot
  std::vector<RefreshResult> refreshed;  // refresh mode only
};

// The fleet view /health reports: the desired record as last read, what this replica has loaded,
// and whether the two agree. Cached: reading it never waits for a load or for Redis.
struct FleetModelsStatus {
  std::optional<store::DesiredModels> desired;  // nullopt: no explicit choice yet
  store::DesiredModelsSource source = store::DesiredModelsSource::kNone;
  uint64_t loaded_generation = 0;  // generation the slots were last brought to; 0: none
  std::string primary_version;     // "" when none
  std::string primary_source;      // relative to MODEL_DIR; "" when none
  std::string shadow_version;
  std::string shadow_source;
  double shadow_rollout = 0;
  // The slots match the record (or, without one, the primary is what `current` names).
  bool converged = false;
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
  // `desired` (may be null: reloads then change this replica only) must outlive it too.
  ModelManager(ModelManagerOptions options, Slots& slots, Loader loader,
               observe::Registry& registry, store::DesiredModelsStore* desired = nullptr);
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

  // Start-up: with a desired record, loads its primary and shadow (falling back to `current`
  // when the desired primary cannot be loaded, so the replica serves something while the
  // reconciler retries); without one (or without a store), LoadCurrent().
  Result<ModelState> Start();

  // One reconcile step (the reconciler thread): reads the desired record and brings the slots
  // to it, or, without a record, to `current`. A failed load keeps serving what is loaded, is
  // logged once per generation and counted in recommendation_model_reconcile_total{result}, and
  // is retried after a backoff (one period, doubling to 30 s). OK when there is no store.
  Status Reconcile();

  // What /health reports (see FleetModelsStatus).
  FleetModelsStatus Fleet() const;

  // POST /models/reload. Errors (nothing changes on any of them):
  //   InvalidArgument   bad rollout, missing/unexpected source, source outside the models root;
  //   NotFound          source does not exist;
  //   FailedPrecondition promote without a shadow, rollback without a previous model;
  //   RateLimited       another reload is running, or the last accepted one was less than
  //                     min_interval ago (a refused reload does not use up the interval);
  //   InvalidArgument   the bundle is refused by the loader (checksum, truncated model, ...),
  //                     the loader's own code and message quoted in the message;
  //   FailedPrecondition (with a store) another replica changed the record between this call's
  //                     read and its write, twice ("another reload changed the fleet's models;
  //                     retry");
  //   Unavailable       (with a store) neither Redis nor the fallback file took the record.
  // A refresh never fails as a whole here: each step's outcome is in `refreshed` ("model": the
  // reconcile to the desired record, or to `current` without one; a missing link is only
  // reported, a refused bundle is refused input). A refresh never writes the record.
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
  // Keeps recommendation_model_info{variant,version} equal to the slots, and the cached
  // FleetModelsStatus and generation gauges equal to the last read record and the slots.
  void PublishModelInfo() EXCLUSIVE_LOCKS_REQUIRED(reload_mu_);
  // Only the cached FleetModelsStatus and the generation gauges (PublishModelInfo does both).
  void PublishFleetLocked() EXCLUSIVE_LOCKS_REQUIRED(reload_mu_);

  // Bundles loaded ahead of a record's write (a reload validates before it changes anything).
  struct Preloaded {
    std::filesystem::path dir;
    std::shared_ptr<const ServingModel> model;
  };
  // Fleet path of Reload() for shadow/primary/rollback.
  Result<ModelState> ReloadDesiredLocked(const ReloadRequest& request,
                                         const std::filesystem::path& source, double rollout)
      EXCLUSIVE_LOCKS_REQUIRED(reload_mu_);
  // The record this replica's slots stand for (when the fleet has none yet).
  store::DesiredModels RecordOfSlotsLocked() const EXCLUSIVE_LOCKS_REQUIRED(reload_mu_);
  // Loads every bundle `record` names that no slot holds. The loader's error on a refusal.
  Result<std::vector<Preloaded>> PreloadLocked(const store::DesiredModels& record)
      EXCLUSIVE_LOCKS_REQUIRED(reload_mu_);
  // A bundle for `dir`: one loaded ahead, one a slot already holds, or a fresh load.
  Result<std::shared_ptr<const ServingModel>> ObtainLocked(const std::filesystem::path& dir,
                                                           const std::vector<Preloaded>& preloaded)
      EXCLUSIVE_LOCKS_REQUIRED(reload_mu_);
  // Brings the slots to `record` (the availability-preserving policy in the class comment);
  // `*changed` is set when a slot changed. On an error the slots hold what was applied so far.
  Status ApplyLocked(const store::DesiredModels& record, std::vector<Preloaded> preloaded,
                     bool* changed) EXCLUSIVE_LOCKS_REQUIRED(reload_mu_);
  // One reconcile from `read` (see Reconcile); `force` skips the failure backoff (a refresh).
  Status ReconcileLocked(const Result<store::DesiredModelsRead>& read, bool force, bool* changed)
      EXCLUSIVE_LOCKS_REQUIRED(reload_mu_);
  // `path` (canonical) relative to MODEL_DIR, "" for an empty path.
  std::string RelativeToRoot(const std::filesystem::path& path) const;

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
  store::DesiredModelsStore* const desired_;
  uint64_t applied_generation_ GUARDED_BY(reload_mu_) = 0;
  // Bumped by every record this replica writes: a reconcile whose read started before a write
  // skips (it read a record older than the one applied).
  uint64_t writes_ GUARDED_BY(reload_mu_) = 0;
  std::optional<store::DesiredModels> last_desired_ GUARDED_BY(reload_mu_);
  store::DesiredModelsSource last_source_ GUARDED_BY(reload_mu_) =
      store::DesiredModelsSource::kNone;
  bool converged_ GUARDED_BY(reload_mu_) = false;
  // The last failed reconcile target ("<generation>:<primary>:<shadow>" or "current:<path>"),
  // logged once and retried after `retry_after_`.
  std::string failed_target_ GUARDED_BY(reload_mu_);
  std::string failed_message_ GUARDED_BY(reload_mu_);
  std::chrono::steady_clock::time_point retry_at_ GUARDED_BY(reload_mu_);
  std::chrono::milliseconds retry_after_ GUARDED_BY(reload_mu_){0};

  mutable core::Mutex fleet_mu_;
  FleetModelsStatus fleet_ GUARDED_BY(fleet_mu_);
  std::vector<std::pair<std::string, std::string>> published_info_
      GUARDED_BY(reload_mu_);  // variant, version
  std::atomic<double> shadow_rollout_{0};

  observe::Family<observe::Counter>& reloads_;      // recommendation_model_reloads_total
  observe::Family<observe::Gauge>& model_info_;     // recommendation_model_info
  observe::Family<observe::Gauge>& rollout_gauge_;  // recommendation_shadow_rollout_ratio
  observe::Family<observe::Counter>& reconciles_;   // recommendation_model_reconcile_total
  observe::Gauge& desired_generation_;              // recommendation_model_desired_generation
  observe::Gauge& loaded_generation_;               // recommendation_model_loaded_generation
};

}  // namespace recserve::engine
