#pragma once
// VariantLists: the last recommendation list each variant produced for each user, so an
// interaction reported by POST /events can be credited to the variants whose list held the item
// ("Shadow hit ratio", docs/METRICS.md):
//
//   recommendation_variant_lists_total{variant}  lists recorded
//   recommendation_variant_hits_total{variant}   lists that received at least one interaction
//                                                with one of their items while still the last
//                                                list of that variant for that user
//
// hits/lists is a hit ratio in [0, 1] per variant. A list counts at most one hit, so a user who
// clicks three recommended items does not outweigh three users who click one each. The shadow's
// lists are never shown: its hits are "would have hit" on the same interactions, which is the
// comparison the runbook's promotion decision needs. The shadow cohort is a uniform hash sample
// of users, so its hit ratio estimates what the shadow would do for everyone.
//
// Memory is bounded: at most `capacity` users (split over shards); the least recently recorded
// user of a shard is forgotten first.
//
// In a fleet the lists are also shared (store::SharedExposureLists, in Redis): a replica counts
// the lists it served and credits, for the events it accepts, the lists ANY replica served, each
// list once fleet-wide. Summed over the fleet (the dashboard's sum by variant) the ratio is the
// one a single replica would show for the same traffic. While Redis does not answer, a replica
// credits its own lists.
//
// Thread-safe: Record and CreditInteraction may be called from any thread.

#include <array>
#include <cstddef>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/thread_annotations.h"
#include "observe/metrics.h"
#include "store/shared_exposure_lists.h"

namespace recserve::engine {

class VariantLists {
 public:
  // `shared` may be null (a single process: local lists only); it must outlive this object.
  VariantLists(observe::Registry& registry, size_t capacity,
               store::SharedExposureLists* shared = nullptr);
  VariantLists(const VariantLists&) = delete;
  VariantLists& operator=(const VariantLists&) = delete;

  // `items` is now the last list `variant` produced for `user_id` (replacing the previous one).
  void Record(std::string_view user_id, std::string_view variant,
              const std::vector<std::string>& items);
  // `user_id` interacted with `item_id`: every variant whose last list for the user holds the
  // item and has not been credited yet gets one hit.
  void CreditInteraction(std::string_view user_id, std::string_view item_id);
  // CreditInteraction for each (user, item) of a batch of accepted events: through the shared
  // lists when there are any and Redis answers, else the local ones.
  void CreditInteractions(const std::vector<std::pair<std::string, std::string>>& interactions);

  size_t users() const;

 private:
  struct VariantList {
    std::string variant;
    std::vector<std::string> items;
    bool credited = false;
  };
  struct UserLists {
    std::vector<VariantList> lists;  // one per variant (a handful)
    std::list<std::string>::iterator recency;
  };
  struct Shard {
    mutable core::Mutex mu;
    std::unordered_map<std::string, UserLists> users GUARDED_BY(mu);
    std::list<std::string> order GUARDED_BY(mu);  // front = most recently recorded
  };
  static constexpr size_t kShards = 16;
  Shard& ShardFor(std::string_view user_id);

  size_t capacity_per_shard_;
  store::SharedExposureLists* const shared_;
  std::array<Shard, kShards> shards_;
  observe::Family<observe::Counter>& lists_;
  observe::Family<observe::Counter>& hits_;
};

}  // namespace recserve::engine
