#pragma once
// The synthetic world datagen samples rows from (generator.h describes its structure): tag
// clusters of Zipf-like sizes, items with a popularity, a primary cluster and a creation time,
// users with an activity, one or two preferred clusters and a first day. Everything is sampled
// once, in the constructor, from the one Rng stream: O(users + items) memory.

#include <cstdint>
#include <vector>

#include "datagen/generator.h"
#include "datagen/output_file.h"
#include "datagen/samplers.h"

namespace recserve::datagen {

struct UserProfile {
  uint16_t first_cluster = 0;
  uint16_t second_cluster = 0;
  uint16_t join_day = 0;  // first day (0-based) the user can appear
  bool has_second = false;
};

class World {
 public:
  // Samples the world; `options` must outlive it.
  World(const DatagenOptions& options, Rng& rng);

  // items.csv: item_id,title,tags,created_at, one row per item with sampled title and tags.
  void WriteItems(OutputFile& out, Rng& rng) const;

  // A user, by activity, who has joined by `day`.
  uint32_t SampleUser(Rng& rng, uint32_t day) const;

  // An item for `user` that exists at time `now`, or false when a few tries found none (early in
  // the period every sampled item may still be unreleased in a tiny catalogue). `in_taste` tells
  // whether it came from the user's preferred clusters.
  bool SampleItem(Rng& rng, uint32_t user, int64_t now, uint32_t& item, bool& in_taste) const;

 private:
  const DatagenOptions& options_;
  uint32_t cluster_count_ = 0;
  std::vector<uint16_t> item_cluster_;
  std::vector<int64_t> item_created_;
  std::vector<std::vector<uint32_t>> cluster_items_;
  std::vector<AliasTable> cluster_alias_;
  AliasTable global_items_;
  AliasTable user_activity_;
  std::vector<UserProfile> profiles_;
};

}  // namespace recserve::datagen
