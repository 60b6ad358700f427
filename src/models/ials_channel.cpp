#include "models/ials_channel.h"

#include <Eigen/Dense>
#include <algorithm>
#include <utility>

#include "models/binary_io.h"
#include "models/top_k.h"

namespace recserve::models {
namespace {

constexpr uint32_t kFormatVersion = 1;
const std::string kName(kIalsChannel);

// Recall's per-query view: the user vector is computed on first use and reused by Top() and
// ScoreItems(), and Top() searches the ANN index when there is one and the query allows it.
class IalsQuery final : public ChannelQuery {
 public:
  IalsQuery(const IalsChannel& channel, const UserQuery& query, bool use_ann)
      : channel_(channel), query_(query), use_ann_(use_ann) {}

  std::vector<ScoredItem> Top(size_t count, const std::vector<char>& excluded) override {
    if (channel_.ann() && use_ann_) {
      std::vector<ScoredItem> top;
      for (const auto& [item, score] : channel_.ann()->Search(User(), count, excluded)) {
        top.push_back({item, score});
      }
      return top;
    }
    // The dense selection of RecallChannel::Top, over the user vector this query already has.
    std::vector<float> scores(excluded.size(), 0.0f);
    channel_.ScoreUser(User(), scores);
    return TopK(scores, count, excluded);
  }

  void ScoreItems(std::span<const uint32_t> items, std::span<float> out) override {
    const std::vector<float>& user = User();
    for (size_t k = 0; k < items.size(); ++k) out[k] = channel_.Dot(user, items[k]);
  }

 private:
  const std::vector<float>& User() {
    if (!user_) user_ = channel_.UserVector(query_);
    return *user_;
  }

  const IalsChannel& channel_;
  const UserQuery& query_;
  const bool use_ann_;
  std::optional<std::vector<float>> user_;
};

}  // namespace

IalsChannel IalsChannel::Train(const InteractionMatrix& m, const IalsParams& p) {
  IalsFactors trained = TrainIalsFactors(m, p);
  IalsChannel c;
  c.factors_ = p.factors;
  c.num_users_ = m.num_users;
  c.num_items_ = m.num_items;
  c.regularization_ = p.regularization;
  c.alpha_ = p.alpha;
  c.user_factors_ = std::move(trained.users);
  c.item_factors_ = std::move(trained.items);
  c.fold_in_gram_ = RegularisedGram(c.item_factors_, c.num_items_, c.factors_, c.regularization_);
  return c;
}

const std::string& IalsChannel::name() const { return kName; }

std::vector<float> IalsChannel::UserVector(const UserQuery& query) const {
  std::vector<float> out(factors_, 0.0f);
  if (query.user && *query.user < num_users_) {
    std::copy_n(user_factors_.begin() + static_cast<size_t>(*query.user) * factors_, factors_,
                out.begin());
    return out;
  }
  std::vector<uint32_t> known;
  for (uint32_t i : query.items) {
    if (i < num_items_) known.push_back(i);
  }
  if (known.empty()) return out;
  return FoldInUser(item_factors_, num_items_, factors_, fold_in_gram_, alpha_, known);
}

void IalsChannel::ScoreUser(std::span<const float> user, std::span<float> out) const {
  using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<const RowMatrix> items(item_factors_.data(), num_items_, factors_);
  Eigen::Map<const Eigen::VectorXf> u(user.data(), factors_);
  Eigen::Map<Eigen::VectorXf> scores(out.data(), num_items_);
  scores.noalias() = items * u;
}

void IalsChannel::Score(const UserQuery& query, std::span<float> out) const {
  ScoreUser(UserVector(query), out);
}

float IalsChannel::Dot(std::span<const float> user, uint32_t item) const {
  const float* row = item_factors_.data() + static_cast<size_t>(item) * factors_;
  float s = 0;
  for (size_t f = 0; f < factors_; ++f) s += user[f] * row[f];
  return s;
}

void IalsChannel::ScoreItems(const UserQuery& query, std::span<const uint32_t> items,
                             std::span<float> out) const {
  std::vector<float> user = UserVector(query);
  for (size_t k = 0; k < items.size(); ++k) out[k] = Dot(user, items[k]);
}

std::unique_ptr<ChannelQuery> IalsChannel::StartQuery(const UserQuery& query, bool use_ann) const {
  return std::make_unique<IalsQuery>(*this, query, use_ann);
}

Status IalsChannel::Save(const std::filesystem::path& dir, std::vector<std::string>& files) const {
  BinaryWriter w("RSIALS", kFormatVersion);
  w.U32(factors_);
  w.U32(num_users_);
  w.U32(num_items_);
  w.F32(regularization_);
  w.F32(alpha_);
  w.F32Array(user_factors_);
  w.F32Array(item_factors_);
  files.push_back(kName + ".bin");
  return w.WriteTo(dir / files.back());
}

Result<IalsChannel> IalsChannel::Load(const ModelFiles& files) {
  BinaryReader r;
  RECSERVE_RETURN_IF_ERROR(r.Open(files, kName + ".bin", "RSIALS", kFormatVersion));
  IalsChannel c;
  c.factors_ = r.U32();
  c.num_users_ = r.U32();
  c.num_items_ = r.U32();
  c.regularization_ = r.F32();
  c.alpha_ = r.F32();
  c.user_factors_ = r.F32Array();
  c.item_factors_ = r.F32Array();
  RECSERVE_RETURN_IF_ERROR(r.Finish());
  if (c.user_factors_.size() != uint64_t{c.num_users_} * c.factors_ ||
      c.item_factors_.size() != uint64_t{c.num_items_} * c.factors_) {
    return DataLoss("ials.bin: factor sizes do not match the header");
  }
  c.fold_in_gram_ = RegularisedGram(c.item_factors_, c.num_items_, c.factors_, c.regularization_);
  return c;
}

}  // namespace recserve::models
