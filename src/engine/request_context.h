#pragma once
// What one request carries through the engine: who asked, on which route, with which settings
// (RequestContext, completed by RequestConfigurator), and what the engine answers
// (RecommendationAnswer). Plain values, copied freely (a shadow task keeps its own copy).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "engine/serving_model.h"

namespace recserve::engine {

inline constexpr uint32_t kMinK = 1;
inline constexpr uint32_t kMaxK = 200;

// InvalidArgument unless 1 <= k <= 200.
Status ValidateK(int64_t k);

// The variant label of the shadow model's scorings.
inline constexpr std::string_view kVariantShadow = "shadow";

struct RequestContext {
  std::string request_id;
  std::string endpoint;  // route template, for the exposure log
  std::string variant = "primary";
  // Recall settings for this request (experiment variant parameters, feature flags).
  RecallOptions recall = {};
  // Set by RequestConfigurator from the feature flags and the user's experiment variant
  // (defaults: all on). `ranker_off_reason` non-empty: a flag turned the ranker off, which is a
  // degradation; a variant without the ranker is not.
  bool ranker = true;
  std::string_view ranker_off_reason = {};
  bool use_cache = true;
  bool score_shadow = true;
  // What, besides model version, user and k, decides the list: part of the cache key.
  std::string cache_scope = {};
};

struct RecommendationAnswer {
  std::vector<ScoredItem> items;
  std::string model_version;  // empty when no model is loaded
  std::string variant = "primary";
  std::string source;           // "personalized" | "popular"
  std::string degraded_reason;  // empty when not degraded
  bool from_cache = false;
};

}  // namespace recserve::engine
