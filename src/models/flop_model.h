#pragma once
// The floating-point work of iALS training (models/ials_solver.h), as the bench counts it, so a
// measured time becomes GFLOP/s comparable with the machine's GEMM peak (bench/ials_bench.cpp).

#include <cstdint>

#include "models/interaction_matrix.h"

namespace recserve::models {

// Floating-point operations of one iALS iteration (both half-sweeps), plus the two f×f Gram
// products (2·f²·rows each). Exact (cg_steps 0): per row 2·f²·n (confidence rank update) + f³/3
// (Cholesky) + 2·f² (solve). CG: per row (cg_steps + 1) products A·v of 2·f² + 4·f·n each.
double IalsFlopsPerIteration(const InteractionMatrix& m, uint32_t factors, uint32_t cg_steps);

}  // namespace recserve::models
