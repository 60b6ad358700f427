#pragma once
// The implicit-ALS solver (Hu, Koren, Volinsky 2008) behind models/ials_channel.h: alternating
// half-sweeps whose rows are solved by conjugate gradient or exactly (IalsParams::cg_steps), and
// the exact fold-in of one user from a history. Factor matrices are row-major std::vectors.

#include <cstdint>
#include <span>
#include <vector>

#include "models/interaction_matrix.h"

namespace recserve::models {

struct IalsParams {
  uint32_t factors = 64;
  float regularization = 10.0f;
  float alpha = 1.0f;  // confidence of an observed pair is 1 + alpha
  uint32_t iterations = 15;
  // Conjugate-gradient steps per row and sweep, warm-started from the previous sweep; 0 = exact
  // Cholesky solves. 3 steps is `implicit`'s default: about 5x less work per sweep than exact.
  uint32_t cg_steps = 3;
  uint64_t seed = 42;
  int threads = 1;
};

struct IalsFactors {
  std::vector<float> users;  // row-major num_users × factors
  std::vector<float> items;  // row-major num_items × factors
};

// Trains both factor matrices. Each half-sweep solves users (items) independently over a fixed
// partition into `threads` workers, so factors are identical for a fixed seed whatever the thread
// count.
IalsFactors TrainIalsFactors(const InteractionMatrix& m, const IalsParams& params);

// Column-major f × f: factorsᵀ·factors + regularization·I over row-major `rows` × f `factors`:
// the part of every row's normal equations that does not depend on the row.
std::vector<float> RegularisedGram(std::span<const float> factors, uint32_t rows, uint32_t f,
                                   float regularization);

// One user's factor row solved exactly from `history` (item indices below num_items, at least
// one) against fixed row-major num_items × f `item_factors`, with `gram` =
// RegularisedGram(item_factors, ...). O(f²·history + f³): no pass over the catalogue.
std::vector<float> FoldInUser(std::span<const float> item_factors, uint32_t num_items, uint32_t f,
                              std::span<const float> gram, float alpha,
                              const std::vector<uint32_t>& history);

}  // namespace recserve::models
