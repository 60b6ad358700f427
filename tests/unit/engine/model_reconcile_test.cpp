// ModelManager with a desired-models record (file backend in a temporary MODEL_DIR, shared by
// two managers that stand for two replicas): reloads write the record, Reconcile() brings the
// other replica's slots to it with the availability-preserving policy (promote and rollback
// without a load), start-up follows the record, an unpinned fleet follows `current`, and a
// bundle that fails to load keeps the old one serving.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "engine/model_manager.h"
#include "engine/model_reconciler.h"
#include "store/desired_models.h"
#include "versioned_bundles.h"

namespace recserve::engine {
namespace {

namespace fs = std::filesystem;

// One replica: its slots, its store handle (same MODEL_DIR file as the others), its manager.
struct Replica {
  Replica(const fs::path& root, std::atomic<int>& loads, observe::Registry& registry) {
    store::DesiredModelsStoreOptions store_options;
    store_options.file = root / store::kDesiredModelsFileName;
    desired = std::move(store::DesiredModelsStore::Open(store_options)).value();
    ModelManagerOptions options;
    options.models_root = root;
    options.min_interval = std::chrono::milliseconds(0);
    manager = std::make_unique<ModelManager>(
        options, slots, testing_bundles::VersionFileLoader(loads), registry, desired.get());
  }
  std::string Primary() const {
    auto s = slots.Get();
    return s.primary ? s.primary->version() : "-";
  }
  std::string Shadow() const {
    auto s = slots.Get();
    return s.shadow ? s.shadow->version() : "-";
  }

  std::unique_ptr<store::DesiredModelsStore> desired;
  ModelSlot slots;
  std::unique_ptr<ModelManager> manager;
};

struct ReconcileFixture : ::testing::Test {
  void SetUp() override {
    root = fs::temp_directory_path() /
           ("recserve-reconcile-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    testing_bundles::MakeVersionedModelsRoot(root);
    a = std::make_unique<Replica>(root, loads_a, registry_a);
    b = std::make_unique<Replica>(root, loads_b, registry_b);
  }
  void TearDown() override { fs::remove_all(root); }

  static ReloadRequest Shadow(std::string source, double rollout) {
    return {ReloadMode::kShadow, std::move(source), rollout};
  }
  static ReloadRequest Promote() { return {ReloadMode::kPrimary, std::nullopt, std::nullopt}; }
  static ReloadRequest Rollback() { return {ReloadMode::kRollback, std::nullopt, std::nullopt}; }
  double Counter(observe::Registry& registry, const std::string& result) {
    return registry.AddCounter("recommendation_model_reconcile_total", "", {"result"})
        .WithLabels({result})
        .Value();
  }

  fs::path root;
  std::atomic<int> loads_a{0};
  std::atomic<int> loads_b{0};
  observe::Registry registry_a;
  observe::Registry registry_b;
  std::unique_ptr<Replica> a;
  std::unique_ptr<Replica> b;
};

TEST_F(ReconcileFixture, ShadowPromoteRollbackOnOneReplicaReachTheOther) {
  ASSERT_TRUE(a->manager->Start().ok());
  ASSERT_TRUE(b->manager->Start().ok());
  EXPECT_EQ(a->manager->Fleet().source, store::DesiredModelsSource::kNone);
  EXPECT_TRUE(b->manager->Fleet().converged);

  auto shadow = a->manager->Reload(Shadow("v2", 0.3));
  ASSERT_TRUE(shadow.ok()) << shadow.status().ToString();
  EXPECT_EQ(shadow->generation, 1u);  // the first explicit reload pins the record
  ASSERT_TRUE(b->manager->Reconcile().ok());
  EXPECT_EQ(b->Shadow(), "v2");
  EXPECT_DOUBLE_EQ(b->manager->shadow_rollout(), 0.3);
  EXPECT_EQ(b->manager->Fleet().loaded_generation, 1u);
  EXPECT_EQ(b->manager->Fleet().desired->primary, "v1");
  EXPECT_EQ(b->manager->Fleet().desired->shadow, "v2");

  // Promote: B's shadow becomes its primary without a load.
  int loads_before = loads_b;
  ASSERT_TRUE(a->manager->Reload(Promote()).ok());
  ASSERT_TRUE(b->manager->Reconcile().ok());
  EXPECT_EQ(loads_b, loads_before);
  EXPECT_EQ(b->Primary(), "v2");
  EXPECT_EQ(b->Shadow(), "-");
  EXPECT_EQ(b->manager->shadow_rollout(), 0);
  EXPECT_EQ(b->manager->Fleet().desired->previous, "v1");

  // Rollback: B swaps back to the bundle it still holds, again without a load.
  ASSERT_TRUE(a->manager->Reload(Rollback()).ok());
  ASSERT_TRUE(b->manager->Reconcile().ok());
  EXPECT_EQ(loads_b, loads_before);
  EXPECT_EQ(b->Primary(), "v1");
  ASSERT_TRUE(b->manager->Reload(Rollback()).ok());  // rollback of the rollback, sent to B
  ASSERT_TRUE(a->manager->Reconcile().ok());
  EXPECT_EQ(a->Primary(), "v2");
  EXPECT_EQ(a->manager->Fleet().loaded_generation, 4u);
  EXPECT_TRUE(a->manager->Fleet().converged);

  // An empty reload keeps the record: `current` (v1) does not come back.
  auto refreshed = b->manager->Reload({});
  ASSERT_TRUE(refreshed.ok());
  EXPECT_TRUE(refreshed->refreshed[0].status.ok()) << refreshed->refreshed[0].status.ToString();
  EXPECT_EQ(b->Primary(), "v2");
  EXPECT_EQ(refreshed->generation, 4u);
  auto& desired_gauge = registry_b.AddGauge("recommendation_model_desired_generation", "");
  EXPECT_EQ(desired_gauge.Get().Value(), 4);

  // A primary with a source on B: previous is the old primary; A loads it (not held there).
  ASSERT_TRUE(b->manager->Reload({ReloadMode::kPrimary, "v3", std::nullopt}).ok());
  ASSERT_TRUE(a->manager->Reconcile().ok());
  EXPECT_EQ(a->Primary(), "v3");
  EXPECT_EQ(a->manager->Fleet().desired->previous, "v2");
  EXPECT_GE(Counter(registry_a, "applied"), 2);
}

TEST_F(ReconcileFixture, ARestartedReplicaStartsOnTheDesiredModelsNotCurrent) {
  ASSERT_TRUE(a->manager->Start().ok());
  ASSERT_TRUE(a->manager->Reload({ReloadMode::kPrimary, "v2", std::nullopt}).ok());
  ASSERT_TRUE(a->manager->Reload(Shadow("v3", 0.1)).ok());
  auto started = b->manager->Start();
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  EXPECT_EQ(b->Primary(), "v2");
  EXPECT_EQ(b->Shadow(), "v3");
  EXPECT_DOUBLE_EQ(b->manager->shadow_rollout(), 0.1);
  EXPECT_EQ(started->generation, 2u);
  // Rollback on the restarted replica: v1 is not held there, so it is loaded first.
  ASSERT_TRUE(b->manager->Reload(Rollback()).ok());
  EXPECT_EQ(b->Primary(), "v1");
}

TEST_F(ReconcileFixture, AnUnreadableOrUnloadableRecordAtStartServesCurrentMeanwhile) {
  std::ofstream(root / store::kDesiredModelsFileName) << "{not json";
  ASSERT_TRUE(b->manager->Start().ok());
  EXPECT_EQ(b->Primary(), "v1");
  EXPECT_FALSE(b->manager->Fleet().converged);

  fs::remove(root / store::kDesiredModelsFileName);
  store::DesiredModels broken;
  broken.primary = "v3";
  std::ofstream(root / "v3" / "BROKEN") << "x";
  ASSERT_TRUE(a->desired->CompareAndSet(0, broken).ok());
  ASSERT_TRUE(a->manager->Start().ok());
  EXPECT_EQ(a->Primary(), "v1");
  EXPECT_FALSE(a->manager->Fleet().converged);
  EXPECT_EQ(a->manager->Fleet().desired->primary, "v3");
}

TEST_F(ReconcileFixture, AnUnpinnedFleetFollowsCurrent) {
  ASSERT_TRUE(b->manager->Start().ok());
  EXPECT_EQ(b->Primary(), "v1");
  fs::remove(root / "current");
  fs::create_directory_symlink("v3", root / "current");
  ASSERT_TRUE(b->manager->Reconcile().ok());
  EXPECT_EQ(b->Primary(), "v3");
  EXPECT_EQ(b->manager->Fleet().loaded_generation, 0u);
  EXPECT_TRUE(b->manager->Fleet().converged);
  EXPECT_FALSE(fs::exists(root / store::kDesiredModelsFileName));  // nothing pinned
}

TEST_F(ReconcileFixture, RefusedBundlesChangeNothingAnywhere) {
  ASSERT_TRUE(a->manager->Start().ok());
  std::ofstream(root / "v3" / "BROKEN") << "x";
  EXPECT_EQ(a->manager->Reload(Shadow("v3", 0.5)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(a->manager->Reload(Promote()).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(a->manager->Reload(Rollback()).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(fs::exists(root / store::kDesiredModelsFileName));
  EXPECT_EQ(a->Primary(), "v1");
}

TEST_F(ReconcileFixture, ABundleThatFailsToLoadKeepsServingAndIsRetried) {
  ASSERT_TRUE(a->manager->Start().ok());
  ASSERT_TRUE(b->manager->Start().ok());
  ASSERT_TRUE(a->manager->Reload(Shadow("v2", 0.2)).ok());
  ASSERT_TRUE(b->manager->Reconcile().ok());
  // v3 breaks on B's disk only after A validated it (written here straight to the record).
  store::DesiredModels next = *a->manager->Fleet().desired;
  next.previous = next.primary;
  next.primary = "v3";
  std::ofstream(root / "v3" / "BROKEN") << "x";
  ASSERT_TRUE(a->desired->CompareAndSet(next.generation, next).ok());
  EXPECT_FALSE(b->manager->Reconcile().ok());
  EXPECT_EQ(b->Primary(), "v1");  // still serving
  EXPECT_FALSE(b->manager->Fleet().converged);
  EXPECT_EQ(b->manager->Fleet().loaded_generation, 1u);
  EXPECT_EQ(Counter(registry_b, "load_failed"), 1);
  int loads_before = loads_b;
  EXPECT_FALSE(b->manager->Reconcile().ok());  // within the backoff: no new load
  EXPECT_EQ(loads_b, loads_before);

  fs::remove(root / "v3" / "BROKEN");
  auto refreshed = b->manager->Reload({});  // a refresh skips the backoff
  ASSERT_TRUE(refreshed.ok());
  EXPECT_TRUE(refreshed->refreshed[0].status.ok());
  EXPECT_EQ(b->Primary(), "v3");
  EXPECT_EQ(b->Shadow(), "v2");
  EXPECT_TRUE(b->manager->Fleet().converged);
  EXPECT_EQ(b->manager->Fleet().loaded_generation, 2u);
}

TEST_F(ReconcileFixture, TheReconcilerThreadConverges) {
  ASSERT_TRUE(a->manager->Start().ok());
  ASSERT_TRUE(b->manager->Start().ok());
  ModelReconciler reconciler(*b->manager, *b->desired, {std::chrono::milliseconds(10)});
  ASSERT_TRUE(a->manager->Reload({ReloadMode::kPrimary, "v2", std::nullopt}).ok());
  for (int i = 0; i < 500 && b->Primary() != "v2"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(b->Primary(), "v2");
}

}  // namespace
}  // namespace recserve::engine
