#include "models/item_knn_channel.h"

#include <algorithm>
#include <utility>

#include "models/binary_io.h"
#include "models/top_k.h"

namespace recserve::models {
namespace {

constexpr uint32_t kFormatVersion = 1;

// A per-thread dense accumulator reused across requests, so sparse scoring allocates nothing
// after a thread's first request: `value` holds sums, `touched` the slots written, which are
// reset (and only those) before the next use.
struct SparseAccumulator {
  std::vector<float> value;
  std::vector<char> used;
  std::vector<uint32_t> touched;

  void Add(uint32_t item, float v) {
    if (!used[item]) {
      used[item] = 1;
      touched.push_back(item);
    }
    value[item] += v;
  }
  void Reset() {
    for (uint32_t i : touched) value[i] = 0.0f, used[i] = 0;
    touched.clear();
  }
};

SparseAccumulator& ThreadAccumulator(uint32_t num_items) {
  thread_local SparseAccumulator acc;
  if (acc.value.size() < num_items) {
    acc.Reset();
    acc.value.assign(num_items, 0.0f);
    acc.used.assign(num_items, 0);
  }
  return acc;
}

}  // namespace

ItemKnnChannel::ItemKnnChannel(std::string name, std::shared_ptr<const ItemNeighbours> neighbours,
                               uint32_t recent_items)
    : name_(std::move(name)), neighbours_(std::move(neighbours)), recent_items_(recent_items) {}

template <typename AddFn>
void ItemKnnChannel::ForEachContribution(const UserQuery& query, AddFn add) const {
  size_t n = query.items.size();
  size_t first = (recent_items_ == 0 || n <= recent_items_) ? 0 : n - recent_items_;
  for (size_t h = first; h < n; ++h) {
    uint32_t j = query.items[h];
    if (j >= neighbours_->num_items) continue;
    for (uint64_t k = neighbours_->reverse_offsets[j]; k < neighbours_->reverse_offsets[j + 1];
         ++k) {
      add(neighbours_->reverse_item[k], neighbours_->reverse_similarity[k]);
    }
  }
}

void ItemKnnChannel::Score(const UserQuery& query, std::span<float> out) const {
  std::fill(out.begin(), out.end(), 0.0f);
  ForEachContribution(query, [&](uint32_t item, float sim) { out[item] += sim; });
}

std::vector<ScoredItem> ItemKnnChannel::Top(const UserQuery& query, size_t count,
                                            const std::vector<char>& excluded) const {
  SparseAccumulator& acc = ThreadAccumulator(neighbours_->num_items);
  ForEachContribution(query, [&](uint32_t item, float sim) { acc.Add(item, sim); });
  BestK best(count);
  for (uint32_t i : acc.touched) {
    if (i < excluded.size() && excluded[i]) continue;
    if (acc.value[i] != 0.0f) best.Offer({i, acc.value[i]});
  }
  acc.Reset();
  return best.Take();
}

void ItemKnnChannel::ScoreItems(const UserQuery& query, std::span<const uint32_t> items,
                                std::span<float> out) const {
  SparseAccumulator& acc = ThreadAccumulator(neighbours_->num_items);
  ForEachContribution(query, [&](uint32_t item, float sim) { acc.Add(item, sim); });
  for (size_t k = 0; k < items.size(); ++k) out[k] = acc.value[items[k]];
  acc.Reset();
}

Status ItemKnnChannel::Save(const std::filesystem::path& dir,
                            std::vector<std::string>& files) const {
  BinaryWriter w("RSITEMNN", kFormatVersion);
  w.U32(recent_items_);
  w.U32(neighbours_->num_items);
  w.U64Array(neighbours_->offsets);
  w.U32Array(neighbours_->neighbour);
  w.F32Array(neighbours_->similarity);
  files.push_back(name_ + ".bin");
  return w.WriteTo(dir / files.back());
}

Result<ItemKnnChannel> ItemKnnChannel::Load(const ModelFiles& files, const std::string& name) {
  BinaryReader r;
  RECSERVE_RETURN_IF_ERROR(r.Open(files, name + ".bin", "RSITEMNN", kFormatVersion));
  uint32_t recent = r.U32();
  auto n = std::make_shared<ItemNeighbours>();
  n->num_items = r.U32();
  n->offsets = r.U64Array();
  n->neighbour = r.U32Array();
  n->similarity = r.F32Array();
  RECSERVE_RETURN_IF_ERROR(r.Finish());
  if (n->offsets.size() != n->num_items + 1uLL ||
      !ValidRowOffsets(n->offsets, n->neighbour.size()) ||
      n->neighbour.size() != n->similarity.size() ||
      std::any_of(n->neighbour.begin(), n->neighbour.end(),
                  [&](uint32_t j) { return j >= n->num_items; })) {
    return DataLoss(name + ".bin: inconsistent neighbour lists");
  }
  n->BuildReverse();
  return ItemKnnChannel(name, std::move(n), recent);
}

}  // namespace recserve::models
