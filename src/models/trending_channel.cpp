#include "models/trending_channel.h"

#include <algorithm>

#include "models/binary_io.h"
#include "models/top_k.h"

namespace recserve::models {
namespace {

constexpr uint32_t kFormatVersion = 1;
const std::string kName(kTrendingChannel);

// Times and windows read from trending.bin must lie within ±(9999-12-31T23:59:59Z), the latest
// event time the service accepts, so differences with a query's time cannot overflow int64.
constexpr int64_t kTimeBound = 253402300799;

}  // namespace

TrendingChannel TrendingChannel::Train(const InteractionMatrix& m, int64_t window_seconds) {
  TrendingChannel c;
  c.window_seconds_ = window_seconds;
  c.timeline_ = ItemTimeline::Build(m);
  c.BuildOrder();
  return c;
}

void TrendingChannel::BuildOrder() {
  // bound_[i] is the most events item i has in any window (t - window, t]: such a window holds
  // the most events when t is one of the item's own event times, so a two-pointer pass over the
  // sorted times finds it.
  const float total = static_cast<float>(timeline_.times.size());
  bound_.assign(timeline_.num_items(), 0.0f);
  for (uint32_t i = 0; i < timeline_.num_items(); ++i) {
    const uint64_t begin = timeline_.offsets[i], end = timeline_.offsets[i + 1];
    uint64_t peak = 0;
    for (uint64_t left = begin, right = begin; right < end; ++right) {
      // left <= right bounds the scan when the window is empty (a zero or negative length).
      while (left <= right && timeline_.times[left] <= timeline_.times[right] - window_seconds_) {
        ++left;
      }
      peak = std::max(peak, right - left + 1);
    }
    // The same float arithmetic as ItemScore, so bound_[i] >= ItemScore(i, now) for every now.
    bound_[i] = static_cast<float>(peak) + static_cast<float>(timeline_.Count(i)) / (1.0f + total);
  }
  order_ = OrderByScore(bound_);
}

float TrendingChannel::ItemScore(uint32_t item, int64_t now) const {
  float total = static_cast<float>(timeline_.times.size());
  float recent = static_cast<float>(timeline_.CountIn(item, now - window_seconds_, now));
  return recent + static_cast<float>(timeline_.Count(item)) / (1.0f + total);
}

const std::string& TrendingChannel::name() const { return kName; }

void TrendingChannel::Score(const UserQuery& query, std::span<float> out) const {
  int64_t now = query.ReferenceTime();
  for (uint32_t i = 0; i < timeline_.num_items(); ++i) out[i] = ItemScore(i, now);
}

std::vector<ScoredItem> TrendingChannel::Top(const UserQuery& query, size_t count,
                                             const std::vector<char>& excluded) const {
  const int64_t now = query.ReferenceTime();
  BestK best(count);
  for (uint32_t i : order_) {
    // order_ is by bound descending (ties by index ascending) and no item scores above its
    // bound, so once an item's bound loses to the worst kept item every later item loses too.
    if (best.full() && (count == 0 || !RanksBefore({i, bound_[i]}, best.worst()))) break;
    if (i < excluded.size() && excluded[i]) continue;
    best.Offer({i, ItemScore(i, now)});
  }
  return best.Take();
}

void TrendingChannel::ScoreItems(const UserQuery& query, std::span<const uint32_t> items,
                                 std::span<float> out) const {
  const int64_t now = query.ReferenceTime();
  for (size_t k = 0; k < items.size(); ++k) out[k] = ItemScore(items[k], now);
}

Status TrendingChannel::Save(const std::filesystem::path& dir,
                             std::vector<std::string>& files) const {
  BinaryWriter w("RSTREND", kFormatVersion);
  w.I64(window_seconds_);
  w.U64Array(timeline_.offsets);
  w.I64Array(timeline_.times);
  files.push_back(kName + ".bin");
  return w.WriteTo(dir / files.back());
}

Result<TrendingChannel> TrendingChannel::Load(const ModelFiles& files) {
  BinaryReader r;
  RECSERVE_RETURN_IF_ERROR(r.Open(files, kName + ".bin", "RSTREND", kFormatVersion));
  TrendingChannel c;
  c.window_seconds_ = r.I64();
  c.timeline_.offsets = r.U64Array();
  c.timeline_.times = r.I64Array();
  RECSERVE_RETURN_IF_ERROR(r.Finish());
  auto in_bounds = [](int64_t t) { return t >= -kTimeBound && t <= kTimeBound; };
  if (!ValidRowOffsets(c.timeline_.offsets, c.timeline_.times.size()) || c.window_seconds_ < 0 ||
      c.window_seconds_ > kTimeBound ||
      !std::all_of(c.timeline_.times.begin(), c.timeline_.times.end(), in_bounds)) {
    return DataLoss("trending.bin: inconsistent offsets, or a time or window out of range");
  }
  c.BuildOrder();
  return c;
}

}  // namespace recserve::models
