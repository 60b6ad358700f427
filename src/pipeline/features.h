#pragma once
// Feature building: turns the run's validated InteractionTable and ItemCatalog into one complete
// feature snapshot (store::FeatureSnapshot) for the feature store.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "pipeline/interaction_table.h"
#include "store/feature_types.h"

namespace recserve::pipeline {

struct FeatureOptions {
  std::string version;          // snapshot version (the run id)
  size_t history_length = 20;   // recent items kept per user
  double half_life_days = 7.0;  // decay of item popularity; must be > 0
  size_t list_length = 100;     // length of the popular and trending lists
  int64_t published_at = 0;     // unix seconds
  // Optional progress display: called with (users done, users in total) every 65536 users, on
  // the calling thread.
  std::function<void(uint64_t done, uint64_t total)> progress;
};

// Pure function of its inputs. Time windows (decay, trending 1h/24h, item age) are measured back
// from the newest timestamp in `table` (reference_time), so the same data always gives the same
// features. Popular: by all-time interactions, ties by decayed popularity then id. Trending: by
// interactions in the last 24h of the data, ties by the last 1h, then decayed popularity; items
// with none in the window are not trending.
store::FeatureSnapshot BuildFeatures(const InteractionTable& table, const ItemCatalog& catalog,
                                     const FeatureOptions& options);

}  // namespace recserve::pipeline
