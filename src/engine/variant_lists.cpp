#include "engine/variant_lists.h"

#include <algorithm>

#include "core/hashing.h"

namespace recserve::engine {

VariantLists::VariantLists(observe::Registry& registry, size_t capacity,
                           store::SharedExposureLists* shared)
    : capacity_per_shard_(std::max<size_t>(1, capacity / kShards)),
      shared_(shared),
      lists_(registry.AddCounter("recommendation_variant_lists_total",
                                 "Recommendation lists recorded per variant, for the hit ratio.",
                                 {"variant"})),
      hits_(registry.AddCounter("recommendation_variant_hits_total",
                                "Lists of a variant that received an interaction with one of "
                                "their items (at most one hit per list).",
                                {"variant"})) {}

VariantLists::Shard& VariantLists::ShardFor(std::string_view user_id) {
  return shards_[Fnv1a64(user_id) % kShards];
}

void VariantLists::Record(std::string_view user_id, std::string_view variant,
                          const std::vector<std::string>& items) {
  lists_.WithLabels({variant}).Inc();
  if (shared_ != nullptr) shared_->Record(user_id, variant, items);
  Shard& shard = ShardFor(user_id);
  core::MutexLock lock(shard.mu);
  auto it = shard.users.find(std::string(user_id));
  if (it == shard.users.end()) {
    if (shard.users.size() >= capacity_per_shard_) {
      shard.users.erase(shard.order.back());
      shard.order.pop_back();
    }
    shard.order.emplace_front(user_id);
    it = shard.users.emplace(std::string(user_id), UserLists{{}, shard.order.begin()}).first;
  } else {
    shard.order.splice(shard.order.begin(), shard.order, it->second.recency);
  }
  auto& lists = it->second.lists;
  auto list = std::find_if(lists.begin(), lists.end(),
                           [&](const VariantList& l) { return l.variant == variant; });
  if (list == lists.end()) {
    lists.push_back({std::string(variant), items, false});
  } else {
    list->items = items;
    list->credited = false;
  }
}

void VariantLists::CreditInteraction(std::string_view user_id, std::string_view item_id) {
  std::vector<std::string> credited;
  {
    Shard& shard = ShardFor(user_id);
    core::MutexLock lock(shard.mu);
    auto it = shard.users.find(std::string(user_id));
    if (it == shard.users.end()) return;
    for (auto& list : it->second.lists) {
      if (list.credited) continue;
      if (std::find(list.items.begin(), list.items.end(), item_id) != list.items.end()) {
        list.credited = true;
        credited.push_back(list.variant);
      }
    }
  }
  for (const auto& variant : credited) hits_.WithLabels({variant}).Inc();
}

void VariantLists::CreditInteractions(
    const std::vector<std::pair<std::string, std::string>>& interactions) {
  if (shared_ != nullptr) {
    auto credited = shared_->Credit(interactions);
    if (credited.ok()) {
      for (const auto& variants : *credited) {
        for (const auto& variant : variants) hits_.WithLabels({variant}).Inc();
      }
      return;
    }
  }
  for (const auto& [user, item] : interactions) CreditInteraction(user, item);
}

size_t VariantLists::users() const {
  size_t n = 0;
  for (const auto& shard : shards_) {
    core::MutexLock lock(shard.mu);
    n += shard.users.size();
  }
  return n;
}

}  // namespace recserve::engine
