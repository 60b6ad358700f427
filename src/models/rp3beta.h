#pragma once
// RP3beta (Paudel et al., "Updatable, accurate, diverse, and scalable recommendations for
// interactive applications", 2017): a three-step random walk item → user → item with
// popularity penalty, as an item-to-item weight matrix
//   W[j][i] = deg(j)^-α · Σ_{u ∈ U(j) ∩ U(i)} deg(u)^-α · deg(i)^-β,  W[j][j] = 0,
// keeping each row j's `neighbours` largest weights (ties by index). A user's score for item i is
// Σ over history items j of W[j][i].
//
// Evaluated alone by `recserve evaluate` (channel "rp3beta"); serving does not call it. The
// channel is an ItemKnnChannel over ItemNeighbours whose row i holds the kept W[j][i], so it
// scores and saves (RSITEMNN, "rp3beta.bin") exactly like the kNN channels.

#include <cstdint>
#include <memory>
#include <string_view>

#include "models/interaction_matrix.h"
#include "models/item_knn_channel.h"
#include "models/neighbour_graph.h"

namespace recserve::models {

// The channel's name (not a bundle channel, so not in core/recall_channel_names.h).
inline constexpr std::string_view kRp3betaChannel = "rp3beta";

struct Rp3betaParams {
  float alpha = 0.5f;  // exponent on the transition probabilities (1/degree)
  float beta = 0.5f;   // popularity penalty on the target item
  uint32_t neighbours = 100;
};

// Builds the pruned weights in ItemNeighbours' layout (row i = the kept W[j][i], sorted by weight
// descending, ties by j). `threads` >= 1 workers over fixed item ranges; the result does not
// depend on it.
ItemNeighbours BuildRp3betaNeighbours(const InteractionMatrix& m, const Rp3betaParams& params,
                                      int threads);

// The channel, named kRp3betaChannel.
std::unique_ptr<ItemKnnChannel> TrainRp3beta(const InteractionMatrix& m,
                                             const Rp3betaParams& params, int threads);

}  // namespace recserve::models
