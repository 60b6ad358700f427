#include "engine/shadow_scorer.h"

#include "core/hashing.h"

namespace recserve::engine {

double UserRolloutBucket(std::string_view salt, std::string_view user_id) {
  std::string key;
  key.reserve(salt.size() + 1 + user_id.size());
  key.append(salt).append(":").append(user_id);
  // FNV-1a alone spreads short, similar keys ("u1", "u2", ...) badly over its top bits (a 5%
  // rollout measured 4.0% of 100k such users), so MurmurHash3's 64-bit finaliser mixes it first.
  uint64_t h = Fnv1a64(key);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  // The top 53 bits make an exactly representable double in [0, 1).
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

namespace {

std::vector<double> OverlapBuckets() { return {0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1}; }

}  // namespace

ShadowScorer::ShadowScorer(ShadowOptions options, observe::Registry& registry)
    : options_(std::move(options)),
      dropped_(registry.AddCounter(
          "recommendation_shadow_dropped_total",
          "Shadow scorings dropped: queue_full (the worker was busy) or stale (waited past "
          "SHADOW_TIMEOUT before it could start).",
          {"reason"})),
      overlap_(registry
                   .AddHistogram("recommendation_shadow_overlap",
                                 "overlap@k between the shadow and the primary list of the same "
                                 "request (shared items / k).",
                                 {}, OverlapBuckets())
                   .Get()),
      executor_("shadow", options_.threads, options_.queue_capacity) {}

bool ShadowScorer::Submit(std::function<void()> task) {
  auto deadline = std::chrono::steady_clock::now() + options_.budget;
  bool queued = executor_.TrySubmit([this, deadline, task = std::move(task)] {
    if (std::chrono::steady_clock::now() > deadline) {
      dropped_.WithLabels({"stale"}).Inc();
      return;
    }
    task();
  });
  if (!queued) dropped_.WithLabels({"queue_full"}).Inc();
  return queued;
}

}  // namespace recserve::engine
