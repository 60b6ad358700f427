#include "models/popularity_channel.h"

#include <algorithm>

#include "models/binary_io.h"
#include "models/top_k.h"

namespace recserve::models {
namespace {

constexpr uint32_t kFormatVersion = 1;
const std::string kName(kPopularityChannel);

}  // namespace

PopularityChannel PopularityChannel::Train(const InteractionMatrix& m) {
  PopularityChannel c;
  c.counts_.assign(m.num_items, 0.0f);
  for (uint32_t i : m.items) c.counts_[i] += 1.0f;
  c.order_ = OrderByScore(c.counts_);
  return c;
}

const std::string& PopularityChannel::name() const { return kName; }

void PopularityChannel::Score(const UserQuery&, std::span<float> out) const {
  std::copy(counts_.begin(), counts_.end(), out.begin());
}

std::vector<ScoredItem> PopularityChannel::Top(const UserQuery&, size_t count,
                                               const std::vector<char>& excluded) const {
  std::vector<ScoredItem> out;
  for (uint32_t i : order_) {
    if (out.size() >= count) break;
    if (i < excluded.size() && excluded[i]) continue;
    out.push_back({i, counts_[i]});
  }
  return out;
}

void PopularityChannel::ScoreItems(const UserQuery&, std::span<const uint32_t> items,
                                   std::span<float> out) const {
  for (size_t k = 0; k < items.size(); ++k) out[k] = counts_[items[k]];
}

Status PopularityChannel::Save(const std::filesystem::path& dir,
                               std::vector<std::string>& files) const {
  BinaryWriter w("RSPOPUL", kFormatVersion);
  w.F32Array(counts_);
  files.push_back(kName + ".bin");
  return w.WriteTo(dir / files.back());
}

Result<PopularityChannel> PopularityChannel::Load(const ModelFiles& files) {
  BinaryReader r;
  RECSERVE_RETURN_IF_ERROR(r.Open(files, kName + ".bin", "RSPOPUL", kFormatVersion));
  PopularityChannel c;
  c.counts_ = r.F32Array();
  RECSERVE_RETURN_IF_ERROR(r.Finish());
  c.order_ = OrderByScore(c.counts_);
  return c;
}

}  // namespace recserve::models
