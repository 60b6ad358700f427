#include "models/flop_model.h"

namespace recserve::models {

double IalsFlopsPerIteration(const InteractionMatrix& m, uint32_t factors, uint32_t cg_steps) {
  const double f = factors;
  const double rows = static_cast<double>(m.num_users) + m.num_items;
  const double nnz = static_cast<double>(m.nnz());  // observed entries, seen once per side
  const double grams = 2.0 * f * f * rows;
  if (cg_steps == 0) {
    return 2.0 * (2.0 * f * f * nnz) + rows * (f * f * f / 3.0 + 2.0 * f * f) + grams;
  }
  return (cg_steps + 1.0) * (2.0 * f * f * rows + 2.0 * (4.0 * f * nnz)) + grams;
}

}  // namespace recserve::models
