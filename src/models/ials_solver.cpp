#include "models/ials_solver.h"

#include <Eigen/Dense>
#include <random>

#include "models/parallel_ranges.h"

namespace recserve::models {
namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// YᵀY + reg·I of the fixed side's factors: the part of every row's normal equations that does
// not depend on the row (Hu et al.'s trick), computed once per half-sweep.
Eigen::MatrixXf Gram(const Eigen::Ref<const RowMatrix>& fixed, float reg) {
  Eigen::MatrixXf gram = fixed.transpose() * fixed;
  gram.diagonal().array() += reg;
  return gram;
}

// Solves every row of `solve` against fixed factors `fixed` over the rows' observed columns:
// (G + alpha·Σ y yᵀ) x = (1 + alpha)·Σ y over the row's observed y, G = YᵀY + reg·I.
// cg_steps == 0: exact Cholesky solve, O(f²·n + f³) per row. cg_steps > 0: that many conjugate-
// gradient steps started from the row's current value (Takács et al. 2011, as `implicit` does),
// O(cg_steps·(f² + f·n)) per row; across sweeps the warm start carries the convergence.
// REQUIRES: gram == Gram(fixed, reg).
void SolveRows(const std::vector<uint64_t>& offsets, const std::vector<uint32_t>& cols,
               const Eigen::Ref<const RowMatrix>& fixed, const Eigen::MatrixXf& gram, float alpha,
               uint32_t cg_steps, int threads, RowMatrix& solve) {
  const Eigen::Index f = fixed.cols();
  uint32_t rows = static_cast<uint32_t>(solve.rows());
  ParallelRanges(rows, threads, [&](int, uint32_t begin, uint32_t end) {
    Eigen::MatrixXf a(f, f);
    Eigen::VectorXf b(f), x(f), r(f), p(f), ap(f), projected;
    RowMatrix gathered;
    for (uint32_t row = begin; row < end; ++row) {
      uint64_t lo = offsets[row], hi = offsets[row + 1];
      if (lo == hi) {
        solve.row(row).setZero();
        continue;
      }
      gathered.resize(static_cast<Eigen::Index>(hi - lo), f);
      for (uint64_t k = lo; k < hi; ++k) gathered.row(k - lo) = fixed.row(cols[k]);
      b = (1.0f + alpha) * gathered.colwise().sum().transpose();
      if (cg_steps == 0) {
        a = gram;
        a.selfadjointView<Eigen::Lower>().rankUpdate(gathered.transpose(), alpha);
        solve.row(row) = a.selfadjointView<Eigen::Lower>().llt().solve(b).transpose();
        continue;
      }
      // A·v without forming A: G·v + alpha·Yᵤᵀ(Yᵤ·v).
      auto apply = [&](const Eigen::VectorXf& v, Eigen::VectorXf& out) {
        projected.noalias() = gathered * v;
        out.noalias() = gram * v;
        out.noalias() += alpha * (gathered.transpose() * projected);
      };
      x = solve.row(row).transpose();
      apply(x, ap);
      r = b - ap;
      p = r;
      float rs_old = r.squaredNorm();
      for (uint32_t step = 0; step < cg_steps && rs_old > 1e-20f; ++step) {
        apply(p, ap);
        const float step_size = rs_old / p.dot(ap);
        x += step_size * p;
        r -= step_size * ap;
        const float rs_new = r.squaredNorm();
        p = r + (rs_new / rs_old) * p;
        rs_old = rs_new;
      }
      solve.row(row) = x.transpose();
    }
  });
}

void IalsHalfSweep(const std::vector<uint64_t>& offsets, const std::vector<uint32_t>& cols,
                   const RowMatrix& fixed, const IalsParams& p, RowMatrix& solve) {
  SolveRows(offsets, cols, fixed, Gram(fixed, p.regularization), p.alpha, p.cg_steps, p.threads,
            solve);
}

}  // namespace

IalsFactors TrainIalsFactors(const InteractionMatrix& m, const IalsParams& p) {
  const Eigen::Index f = p.factors;
  std::mt19937_64 rng(p.seed);
  std::normal_distribution<float> normal(0.0f, 0.01f);
  RowMatrix users(m.num_users, f), items(m.num_items, f);
  for (Eigen::Index i = 0; i < items.size(); ++i) items.data()[i] = normal(rng);
  users.setZero();

  const ItemMajor by_item = ItemMajor::Transpose(m);
  for (uint32_t it = 0; it < p.iterations; ++it) {
    IalsHalfSweep(m.row_offsets, m.items, items, p, users);
    IalsHalfSweep(by_item.offsets, by_item.users, users, p, items);
  }
  IalsFactors out;
  out.users.assign(users.data(), users.data() + users.size());
  out.items.assign(items.data(), items.data() + items.size());
  return out;
}

std::vector<float> RegularisedGram(std::span<const float> factors, uint32_t rows, uint32_t f,
                                   float regularization) {
  Eigen::Map<const RowMatrix> fixed(factors.data(), rows, f);
  const Eigen::MatrixXf gram = Gram(fixed, regularization);
  return std::vector<float>(gram.data(), gram.data() + gram.size());
}

std::vector<float> FoldInUser(std::span<const float> item_factors, uint32_t num_items, uint32_t f,
                              std::span<const float> gram, float alpha,
                              const std::vector<uint32_t>& history) {
  Eigen::Map<const RowMatrix> items(item_factors.data(), num_items, f);
  const Eigen::MatrixXf g = Eigen::Map<const Eigen::MatrixXf>(gram.data(), f, f);
  std::vector<uint64_t> offsets = {0, history.size()};
  RowMatrix solved(1, f);
  // Exact: one small solve per request, and the answer must not depend on a starting point.
  SolveRows(offsets, history, items, g, alpha, /*cg_steps=*/0, 1, solved);
  return std::vector<float>(solved.data(), solved.data() + f);
}

}  // namespace recserve::models
