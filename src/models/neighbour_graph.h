#pragma once
// ItemNeighbours: per item, a short list of (neighbour, similarity) pairs best first, with its
// transpose for scoring. Built as top-N cosine neighbours for the kNN channels
// (models/item_knn_channel.h) and from RP3beta's walk weights (models/rp3beta.h).

#include <cstdint>
#include <utility>
#include <vector>

#include "models/interaction_matrix.h"

namespace recserve::models {

// Top-N cosine neighbours per item with shrinkage: sim(i,j) = |U_i ∩ U_j| /
// (sqrt(|U_i| |U_j|) + shrink), keeping each item's `neighbours` largest (ties by index).
struct ItemNeighbours {
  uint32_t num_items = 0;
  std::vector<uint64_t> offsets = {0};
  std::vector<uint32_t> neighbour;  // sorted by similarity descending within a row
  std::vector<float> similarity;
  // The transpose, for scoring: row j lists the items i that have j among their neighbours.
  // Derived from the rows above (never stored in files).
  std::vector<uint64_t> reverse_offsets = {0};
  std::vector<uint32_t> reverse_item;
  std::vector<float> reverse_similarity;

  // `threads` >= 1 workers; the result does not depend on it.
  static ItemNeighbours Build(const InteractionMatrix& m, uint32_t neighbours, float shrink,
                              int threads);
  // (neighbour, similarity) pairs of one row.
  using NeighbourEntry = std::pair<uint32_t, float>;
  // One row per item (rows.size() items), each already in the order to keep (best first); fills
  // the reverse lists too.
  static ItemNeighbours FromRows(const std::vector<std::vector<NeighbourEntry>>& rows);
  // Fills the reverse_* members from offsets/neighbour/similarity.
  void BuildReverse();
};

}  // namespace recserve::models
