#pragma once
// The seam between serving and trained models. The engine asks a ServingModel for candidates
// (Recall, once per request), orders those same candidates (Rank), and answers item pages
// (Similar) and cold starts (Popular); the
// models/lifecycle rooms provide the implementation (a loaded bundle). The engine holds the
// current models in a ModelSlot: std::shared_ptr<const ServingModel>s replaced atomically, so a
// request keeps the bundle it started with even if a reload swaps the slot meanwhile, and the old
// bundle is freed when its last request ends.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "lifecycle/model_slots.h"

namespace recserve::engine {

struct ScoredItem {
  std::string item_id;
  double score = 0;
};

// One past interaction of the user.
struct HistoryItem {
  std::string item_id;
  int64_t timestamp = 0;  // unix seconds
};

// Per-request recall settings, set by experiments (a variant's parameters) and feature flags
// (a recall channel turned off). Channel names are models::kRecallChannelNames ("popularity",
// "trending", "item_knn", "recent_knn", "ials", "ease").
struct RecallOptions {
  // Weight per channel name in the candidate quota and the fused recall order. A channel not
  // listed weighs 1; 0 turns its recall off. Names the bundle lacks are ignored.
  std::vector<std::pair<std::string, double>> channel_weights;
  // Candidates recalled for ranking; 0 means the bundle's default (200). Capped at
  // kMaxRecallCandidates.
  uint32_t candidates = 0;
};

inline constexpr uint32_t kMaxRecallCandidates = 2000;

// What recall and ranking know about one request.
struct RecommendationQuery {
  std::string user_id;
  uint32_t k = 10;
  // The user's recent items from live events, newest first (may be empty).
  std::vector<std::string> recent_items;
  // The user's whole known history: live events and the feature store's recent interactions,
  // merged, one entry per item (its newest time), newest first. Items a model does not know are
  // kept here; the model skips them.
  std::vector<HistoryItem> history;
  RecallOptions recall = {};
};

// A model's own data about one request's candidates (e.g. the per-channel scores its ranker
// reads). Opaque to the engine; each ServingModel subclasses it.
class RecallState {
 public:
  virtual ~RecallState() = default;
};

// The candidates of one request, as Recall() produced them, for Rank() to order. `items` is the
// recall order (best first, fused recall scores): what the engine serves when ranking fails.
// `model_state` is handed back to Rank() of the same model unchanged (may be null for models
// that need nothing beyond `items`). Immutable once built, so sharing it with a ranking worker
// is safe.
struct RecalledCandidates {
  std::vector<ScoredItem> items;
  std::shared_ptr<const RecallState> model_state;
};

// A loaded, immutable model bundle. Implementations must be thread-safe for concurrent const
// calls (every method is const and called from many request threads at once).
class ServingModel {
 public:
  virtual ~ServingModel() = default;

  // Bundle version as in its manifest, e.g. "20261129T063000-ab12cd".
  virtual const std::string& version() const = 0;
  virtual bool KnowsUser(std::string_view user_id) const = 0;
  virtual bool KnowsItem(std::string_view item_id) const = 0;

  // Candidates for the query from the recall channels (query.recall selects and weights them),
  // merged, in recall order, never containing an item the user has seen. An empty item list is
  // a valid answer (the engine then falls back to popular items).
  virtual Result<RecalledCandidates> Recall(const RecommendationQuery& query) const = 0;
  // The candidates of this model's Recall() for the same query, best first with ranker scores.
  // InvalidArgument when `candidates` did not come from this model's Recall();
  // FailedPrecondition when the model cannot rank (the engine then keeps recall order).
  virtual Result<std::vector<ScoredItem>> Rank(const RecommendationQuery& query,
                                               const RecalledCandidates& candidates) const = 0;
  // Up to k items most similar to `item_id`, best first. NotFound for an unknown item.
  virtual Result<std::vector<ScoredItem>> Similar(std::string_view item_id, uint32_t k) const = 0;
  // Up to k items by training-data popularity, best first.
  virtual std::vector<ScoredItem> Popular(uint32_t k) const = 0;
};

// The primary, shadow and previous models, swapped atomically (lifecycle/model_slots.h): a
// request takes a snapshot and keeps the bundles it got until it ends. ModelManager is the only
// writer in the server.
using ModelSlot = lifecycle::ModelSlots<ServingModel>;

}  // namespace recserve::engine
