#pragma once
// A small, fully populated feature snapshot for store tests: users "u0".."u<n-1>" with
// interaction_count = their index, one item "i", popular = [i], trending empty.

#include <string>

#include "store/feature_types.h"

namespace recserve::store {

inline FeatureSnapshot TestSnapshot(const std::string& version, int users) {
  FeatureSnapshot s;
  s.metadata.version = version;
  s.metadata.user_count = static_cast<uint64_t>(users);
  s.metadata.item_count = 1;
  for (int u = 0; u < users; ++u) {
    UserFeatures f;
    // Appended rather than "u" + to_string(u): GCC 12 -O3 flags that with a false -Wrestrict.
    f.user_id = std::string(1, 'u').append(std::to_string(u));
    f.recent = {{"i", 5}};
    f.event_counts = {{"view", 1}};
    f.interaction_count = static_cast<uint64_t>(u);
    s.users.push_back(f);
  }
  ItemFeatures item;
  item.item_id = "i";
  item.title = "Item \"one\"";
  item.tags = {"a", "b"};
  item.decayed_popularity = 0.25;
  s.items.push_back(item);
  s.popular = {{"i", 1}};
  return s;
}

}  // namespace recserve::store
