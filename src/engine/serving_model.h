#pragma once
// The seam between serving and trained models. The engine asks a ServingModel for candidates
// (Recall), orders them (Rank), and answers item pages (Similar) and cold starts (Popular); the
// models/lifecycle rooms provide the implementation (a loaded bundle). The engine holds the
// current models in a ModelSlot: std::shared_ptr<const ServingModel>s replaced atomically, so a
// request keeps the bundle it started with even if a reload swaps the slot meanwhile, and the old
// bundle is freed when its last request ends.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
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

  // Candidates for the query from every recall channel, merged (order not significant).
  // An empty vector is a valid answer (the engine then falls back to popular items).
  virtual Result<std::vector<ScoredItem>> Recall(const RecommendationQuery& query) const = 0;
  // `candidates` reordered best first with ranker scores.
  virtual Result<std::vector<ScoredItem>> Rank(const RecommendationQuery& query,
                                               std::vector<ScoredItem> candidates) const = 0;
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
