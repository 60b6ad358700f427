#include "models/ease_channel.h"

#include <Eigen/Dense>
#include <Eigen/Sparse>
#include <algorithm>

#include "models/binary_io.h"

namespace recserve::models {
namespace {

constexpr uint32_t kFormatVersion = 1;
const std::string kName(kEaseChannel);

}  // namespace

Result<EaseChannel> EaseChannel::Train(const InteractionMatrix& m, float lambda,
                                       uint32_t max_items) {
  if (m.num_items > max_items) {
    return FailedPrecondition("EASE needs a dense " + std::to_string(m.num_items) + "² matrix; " +
                              "catalogue exceeds the limit of " + std::to_string(max_items));
  }
  const Eigen::Index n = m.num_items;
  std::vector<Eigen::Triplet<float>> triplets;
  triplets.reserve(m.nnz());
  for (uint32_t u = 0; u < m.num_users; ++u) {
    for (uint32_t i : m.RowItems(u)) triplets.emplace_back(u, i, 1.0f);
  }
  Eigen::SparseMatrix<float> x(m.num_users, n);
  x.setFromTriplets(triplets.begin(), triplets.end(), [](float a, float) { return a; });
  Eigen::MatrixXd gram =
      Eigen::MatrixXd(Eigen::SparseMatrix<float>(x.transpose() * x).cast<double>());
  gram.diagonal().array() += lambda;
  Eigen::MatrixXd p = gram.llt().solve(Eigen::MatrixXd::Identity(n, n));
  EaseChannel c;
  c.num_items_ = m.num_items;
  c.weights_.resize(static_cast<size_t>(n) * n);
  for (Eigen::Index j = 0; j < n; ++j) {
    for (Eigen::Index i = 0; i < n; ++i) {
      // B_ji = -P_ji / P_ii (column i scaled by its diagonal), row j = item j's contribution.
      c.weights_[static_cast<size_t>(j) * n + i] =
          i == j ? 0.0f : static_cast<float>(-p(j, i) / p(i, i));
    }
  }
  return c;
}

const std::string& EaseChannel::name() const { return kName; }

void EaseChannel::Score(const UserQuery& query, std::span<float> out) const {
  std::fill(out.begin(), out.end(), 0.0f);
  for (uint32_t j : query.items) {
    if (j >= num_items_) continue;
    const float* row = weights_.data() + static_cast<size_t>(j) * num_items_;
    for (uint32_t i = 0; i < num_items_; ++i) out[i] += row[i];
  }
}

void EaseChannel::ScoreItems(const UserQuery& query, std::span<const uint32_t> items,
                             std::span<float> out) const {
  std::fill(out.begin(), out.end(), 0.0f);
  for (uint32_t j : query.items) {
    if (j >= num_items_) continue;
    const float* row = weights_.data() + static_cast<size_t>(j) * num_items_;
    for (size_t k = 0; k < items.size(); ++k) out[k] += row[items[k]];
  }
}

Status EaseChannel::Save(const std::filesystem::path& dir, std::vector<std::string>& files) const {
  BinaryWriter w("RSEASE", kFormatVersion);
  w.U32(num_items_);
  w.F32Array(weights_);
  files.push_back(kName + ".bin");
  return w.WriteTo(dir / files.back());
}

Result<EaseChannel> EaseChannel::Load(const ModelFiles& files) {
  BinaryReader r;
  RECSERVE_RETURN_IF_ERROR(r.Open(files, kName + ".bin", "RSEASE", kFormatVersion));
  EaseChannel c;
  c.num_items_ = r.U32();
  c.weights_ = r.F32Array();
  RECSERVE_RETURN_IF_ERROR(r.Finish());
  if (c.weights_.size() != uint64_t{c.num_items_} * c.num_items_) {
    return DataLoss("ease.bin: weight matrix size does not match the header");
  }
  return c;
}

}  // namespace recserve::models
