#include "lifecycle/model_slots.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace recserve::lifecycle {
namespace {

// A bundle stand-in that counts live instances and can tell whether it is still intact.
struct FakeBundle {
  static inline std::atomic<int> live{0};
  explicit FakeBundle(int v) : version(v), check(v * 7 + 1) { live.fetch_add(1); }
  ~FakeBundle() {
    check = -1;
    live.fetch_sub(1);
  }
  FakeBundle(const FakeBundle&) = delete;
  FakeBundle& operator=(const FakeBundle&) = delete;
  bool intact() const { return check == version * 7 + 1; }
  int version;
  int check;
};

using Slots = ModelSlots<FakeBundle>;

int V(const Slots::Ptr& p) { return p ? p->version : 0; }

TEST(ModelSlotsTest, ShadowPromoteReplaceRollbackSequence) {
  Slots slots;
  EXPECT_EQ(slots.PromoteShadow().status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(slots.Rollback().status().code(), StatusCode::kFailedPrecondition);

  Slots::Snapshot s = slots.ReplacePrimary(std::make_shared<FakeBundle>(1));
  EXPECT_EQ(V(s.primary), 1);
  EXPECT_EQ(V(s.previous), 0);

  s = slots.LoadShadow(std::make_shared<FakeBundle>(2));
  EXPECT_EQ(V(s.primary), 1);
  EXPECT_EQ(V(s.shadow), 2);

  s = slots.PromoteShadow().value();
  EXPECT_EQ(V(s.primary), 2);
  EXPECT_EQ(V(s.shadow), 0);
  EXPECT_EQ(V(s.previous), 1);

  s = slots.Rollback().value();
  EXPECT_EQ(V(s.primary), 1);
  EXPECT_EQ(V(s.previous), 2);
  s = slots.Rollback().value();  // rolling back twice undoes the first
  EXPECT_EQ(V(s.primary), 2);

  s = slots.ReplacePrimary(std::make_shared<FakeBundle>(3));
  EXPECT_EQ(V(s.primary), 3);
  EXPECT_EQ(V(s.previous), 2);
  s = slots.LoadShadow(std::make_shared<FakeBundle>(4));
  s = slots.ClearShadow();
  EXPECT_EQ(V(s.shadow), 0);
  EXPECT_EQ(V(slots.Get().primary), 3);
}

TEST(ModelSlotsTest, ReplacedBundleLivesUntilItsLastReaderDropsIt) {
  const int base = FakeBundle::live.load();
  Slots slots;
  slots.ReplacePrimary(std::make_shared<FakeBundle>(1));
  Slots::Ptr held = slots.Get().primary;                  // a request in flight on bundle 1
  slots.ReplacePrimary(std::make_shared<FakeBundle>(2));  // 1 -> previous
  slots.ReplacePrimary(std::make_shared<FakeBundle>(3));  // 1 leaves the slots
  EXPECT_EQ(FakeBundle::live.load() - base, 3);           // 1 still alive for its reader
  EXPECT_TRUE(held->intact());
  held.reset();
  EXPECT_EQ(FakeBundle::live.load() - base, 2);  // 2 (previous) and 3 (primary)
}

TEST(ModelSlotsTest, ConcurrentReadersDuringSwapsSeeIntactBundles) {
  const int base = FakeBundle::live.load();
  {
    Slots slots;
    slots.ReplacePrimary(std::make_shared<FakeBundle>(1));
    std::atomic<bool> stop{false};
    std::atomic<long> reads{0};
    std::atomic<long> broken{0};
    std::vector<std::thread> readers;
    for (int t = 0; t < 4; ++t) {
      readers.emplace_back([&] {
        while (!stop.load()) {
          Slots::Snapshot s = slots.Get();
          if (!s.primary || !s.primary->intact()) broken.fetch_add(1);
          if (s.shadow && !s.shadow->intact()) broken.fetch_add(1);
          if (s.previous && !s.previous->intact()) broken.fetch_add(1);
          reads.fetch_add(1);
        }
      });
    }
    for (int i = 2; i < 2000; ++i) {
      switch (i % 4) {
        case 0:
          slots.LoadShadow(std::make_shared<FakeBundle>(i));
          break;
        case 1:
          (void)slots.PromoteShadow();
          break;
        case 2:
          slots.ReplacePrimary(std::make_shared<FakeBundle>(i));
          break;
        case 3:
          (void)slots.Rollback();
          break;
      }
    }
    // Let the readers overlap the swaps at least a little on a loaded machine.
    while (reads.load() < 1000) std::this_thread::yield();
    stop = true;
    for (auto& t : readers) t.join();
    EXPECT_EQ(broken.load(), 0);
    // Only what the slots still hold is alive.
    Slots::Snapshot s = slots.Get();
    const int held = (s.primary ? 1 : 0) + (s.shadow ? 1 : 0) + (s.previous ? 1 : 0);
    s = {};
    EXPECT_EQ(FakeBundle::live.load() - base, held);
  }
  EXPECT_EQ(FakeBundle::live.load(), base);
}

}  // namespace
}  // namespace recserve::lifecycle
