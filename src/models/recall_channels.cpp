#include "models/recall_channels.h"

#include <Eigen/Dense>
#include <Eigen/Sparse>
#include <algorithm>
#include <cmath>
#include <random>
#include <thread>
#include <type_traits>

#include "models/binary_io.h"
#include "models/parallel_ranges.h"

namespace recserve::models {
namespace {

constexpr uint32_t kFormatVersion = 1;

const std::string kPopularityName(kPopularityChannel);
const std::string kTrendingName(kTrendingChannel);
const std::string kIalsName(kIalsChannel);
const std::string kEaseName(kEaseChannel);

// CSR row offsets read from a file: start at 0, never decrease, end at the element count (else a
// row would index past the elements).
bool ValidRowOffsets(const std::vector<uint64_t>& offsets, uint64_t elements) {
  return !offsets.empty() && offsets.front() == 0 &&
         std::is_sorted(offsets.begin(), offsets.end()) && offsets.back() == elements;
}

// Times and windows read from trending.bin must lie within ±(9999-12-31T23:59:59Z), the latest
// event time the service accepts, so differences with a query's time cannot overflow int64.
constexpr int64_t kTimeBound = 253402300799;

bool Better(const ScoredItem& a, const ScoredItem& b) {
  return a.score != b.score ? a.score > b.score : a.item < b.item;
}

// Keeps the best `k` items offered, worst on top of a heap, so selection costs O(offered · log k).
class BestK {
 public:
  explicit BestK(size_t k) : k_(k) { best_.reserve(k); }
  bool full() const { return best_.size() >= k_; }
  // The worst kept item. REQUIRES: full() and k > 0.
  const ScoredItem& worst() const { return best_.front(); }
  void Offer(ScoredItem candidate) {
    if (k_ == 0) return;
    if (best_.size() < k_) {
      best_.push_back(candidate);
      std::push_heap(best_.begin(), best_.end(), Better);
    } else if (Better(candidate, best_.front())) {
      std::pop_heap(best_.begin(), best_.end(), Better);
      best_.back() = candidate;
      std::push_heap(best_.begin(), best_.end(), Better);
    }
  }
  // Best first.
  std::vector<ScoredItem> Take() {
    std::sort_heap(best_.begin(), best_.end(), Better);
    return std::move(best_);
  }

 private:
  size_t k_;
  std::vector<ScoredItem> best_;
};

// Items ordered by `key` descending, ties by index ascending.
std::vector<uint32_t> OrderByDescending(size_t n, const auto& key) {
  std::vector<uint32_t> order(n);
  for (uint32_t i = 0; i < n; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return key(a) > key(b); });
  return order;
}

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

std::vector<ScoredItem> TopK(std::span<const float> scores, size_t k,
                             const std::vector<char>& excluded) {
  // Bounded selection, so a request costs O(n log k) and k entries of memory instead of copying
  // the whole catalogue. The order (score descending, ties by item index) is strict, so the
  // result equals a full sort's prefix.
  BestK best(std::min(k, scores.size()));
  for (uint32_t i = 0; i < scores.size(); ++i) {
    if (i < excluded.size() && excluded[i]) continue;
    best.Offer({i, scores[i]});
  }
  return best.Take();
}

// ---- defaults: dense ----

std::vector<ScoredItem> RecallChannel::Top(const UserQuery& query, size_t count,
                                           const std::vector<char>& excluded) const {
  std::vector<float> scores(excluded.size(), 0.0f);
  Score(query, scores);
  return TopK(scores, count, excluded);
}

// ---- popularity ----

PopularityChannel PopularityChannel::Train(const InteractionMatrix& m) {
  PopularityChannel c;
  c.counts_.assign(m.num_items, 0.0f);
  for (uint32_t i : m.items) c.counts_[i] += 1.0f;
  c.BuildOrder();
  return c;
}

void PopularityChannel::BuildOrder() {
  order_ = OrderByDescending(counts_.size(), [this](uint32_t i) { return counts_[i]; });
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

const std::string& PopularityChannel::name() const { return kPopularityName; }

void PopularityChannel::Score(const UserQuery&, std::span<float> out) const {
  std::copy(counts_.begin(), counts_.end(), out.begin());
}

Status PopularityChannel::Save(const std::filesystem::path& dir,
                               std::vector<std::string>& files) const {
  BinaryWriter w("RSPOPUL", kFormatVersion);
  w.F32Array(counts_);
  files.push_back("popularity.bin");
  return w.WriteTo(dir / files.back());
}

Result<PopularityChannel> PopularityChannel::Load(const ModelFiles& files) {
  BinaryReader r;
  RECSERVE_RETURN_IF_ERROR(r.Open(files, "popularity.bin", "RSPOPUL", kFormatVersion));
  PopularityChannel c;
  c.counts_ = r.F32Array();
  RECSERVE_RETURN_IF_ERROR(r.Finish());
  c.BuildOrder();
  return c;
}

// ---- trending ----

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
  order_ = OrderByDescending(bound_.size(), [this](uint32_t i) { return bound_[i]; });
}

float TrendingChannel::ItemScore(uint32_t item, int64_t now) const {
  float total = static_cast<float>(timeline_.times.size());
  float recent = static_cast<float>(timeline_.CountIn(item, now - window_seconds_, now));
  return recent + static_cast<float>(timeline_.Count(item)) / (1.0f + total);
}

std::vector<ScoredItem> TrendingChannel::Top(const UserQuery& query, size_t count,
                                             const std::vector<char>& excluded) const {
  const int64_t now = query.ReferenceTime();
  BestK best(count);
  for (uint32_t i : order_) {
    // order_ is by bound descending (ties by index ascending) and no item scores above its
    // bound, so once an item's bound loses to the worst kept item every later item loses too.
    if (best.full() && (count == 0 || !Better({i, bound_[i]}, best.worst()))) break;
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

const std::string& TrendingChannel::name() const { return kTrendingName; }

void TrendingChannel::Score(const UserQuery& query, std::span<float> out) const {
  int64_t now = query.ReferenceTime();
  for (uint32_t i = 0; i < timeline_.num_items(); ++i) out[i] = ItemScore(i, now);
}

Status TrendingChannel::Save(const std::filesystem::path& dir,
                             std::vector<std::string>& files) const {
  BinaryWriter w("RSTREND", kFormatVersion);
  w.I64(window_seconds_);
  w.U64Array(timeline_.offsets);
  w.I64Array(timeline_.times);
  files.push_back("trending.bin");
  return w.WriteTo(dir / files.back());
}

Result<TrendingChannel> TrendingChannel::Load(const ModelFiles& files) {
  BinaryReader r;
  RECSERVE_RETURN_IF_ERROR(r.Open(files, "trending.bin", "RSTREND", kFormatVersion));
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

// ---- item kNN ----

ItemNeighbours ItemNeighbours::Build(const InteractionMatrix& m, uint32_t neighbours, float shrink,
                                     int threads) {
  const ItemMajor by_item = ItemMajor::Transpose(m);
  const auto& item_offsets = by_item.offsets;
  const auto& item_users = by_item.users;
  auto count = [&](uint32_t i) {
    return static_cast<float>(item_offsets[i + 1] - item_offsets[i]);
  };

  std::vector<std::vector<std::pair<uint32_t, float>>> rows(m.num_items);
  ParallelRanges(m.num_items, threads, [&](int, uint32_t begin, uint32_t end) {
    std::vector<float> co(m.num_items, 0.0f);
    std::vector<uint32_t> touched;
    std::remove_reference_t<decltype(rows[0])> scratch;
    for (uint32_t i = begin; i < end; ++i) {
      touched.clear();
      for (uint64_t k = item_offsets[i]; k < item_offsets[i + 1]; ++k) {
        for (uint32_t j : m.RowItems(item_users[k])) {
          if (j == i) continue;
          if (co[j] == 0.0f) touched.push_back(j);
          co[j] += 1.0f;
        }
      }
      // Every co-occurring item is scored in a per-thread scratch list; the row keeps only the
      // top `neighbours`, at exactly that capacity (reserving the row for all co-occurrences made
      // memory grow with co-occurrences instead of neighbours: 11.8 GB at 20M interactions).
      scratch.clear();
      for (uint32_t j : touched) {
        float sim = co[j] / (std::sqrt(count(i) * count(j)) + shrink);
        scratch.emplace_back(j, sim);
        co[j] = 0.0f;
      }
      auto better = [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
      };
      size_t keep = std::min<size_t>(neighbours, scratch.size());
      std::partial_sort(scratch.begin(), scratch.begin() + keep, scratch.end(), better);
      rows[i].assign(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(keep));
    }
  });
  return FromRows(rows);
}

ItemNeighbours ItemNeighbours::FromRows(const std::vector<std::vector<NeighbourEntry>>& rows) {
  ItemNeighbours n;
  n.num_items = static_cast<uint32_t>(rows.size());
  n.offsets.assign(1, 0);
  for (const auto& row : rows) {
    for (const auto& [j, s] : row) {
      n.neighbour.push_back(j);
      n.similarity.push_back(s);
    }
    n.offsets.push_back(n.neighbour.size());
  }
  n.BuildReverse();
  return n;
}

void ItemNeighbours::BuildReverse() {
  reverse_offsets.assign(num_items + 1, 0);
  for (uint32_t j : neighbour) ++reverse_offsets[j + 1];
  for (uint32_t j = 0; j < num_items; ++j) reverse_offsets[j + 1] += reverse_offsets[j];
  std::vector<uint64_t> cursor(reverse_offsets.begin(), reverse_offsets.end() - 1);
  reverse_item.resize(neighbour.size());
  reverse_similarity.resize(neighbour.size());
  for (uint32_t i = 0; i < num_items; ++i) {
    for (uint64_t k = offsets[i]; k < offsets[i + 1]; ++k) {
      uint64_t at = cursor[neighbour[k]]++;
      reverse_item[at] = i;
      reverse_similarity[at] = similarity[k];
    }
  }
}

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

// ---- iALS ----

namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// YᵀY + reg·I of the fixed side's factors: the part of every row's normal equations that does
// not depend on the row (Hu et al.'s trick), computed once per half-sweep.
Eigen::MatrixXf RegularisedGram(const Eigen::Ref<const RowMatrix>& fixed, float reg) {
  Eigen::MatrixXf gram = fixed.transpose() * fixed;
  gram.diagonal().array() += reg;
  return gram;
}

// Solves every row of `solve` against fixed factors `fixed` over the rows' observed columns:
// (G + alpha·Σ y yᵀ) x = (1 + alpha)·Σ y over the row's observed y, G = YᵀY + reg·I.
// cg_steps == 0: exact Cholesky solve, O(f²·n + f³) per row. cg_steps > 0: that many conjugate-
// gradient steps started from the row's current value (Takács et al. 2011, as `implicit` does),
// O(cg_steps·(f² + f·n)) per row; across sweeps the warm start carries the convergence.
// REQUIRES: gram == RegularisedGram(fixed, reg).
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
  SolveRows(offsets, cols, fixed, RegularisedGram(fixed, p.regularization), p.alpha, p.cg_steps,
            p.threads, solve);
}

}  // namespace

IalsChannel IalsChannel::Train(const InteractionMatrix& m, const IalsParams& p) {
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
  IalsChannel c;
  c.factors_ = p.factors;
  c.num_users_ = m.num_users;
  c.num_items_ = m.num_items;
  c.regularization_ = p.regularization;
  c.alpha_ = p.alpha;
  c.user_factors_.assign(users.data(), users.data() + users.size());
  c.item_factors_.assign(items.data(), items.data() + items.size());
  c.BuildFoldInGram();
  return c;
}

void IalsChannel::BuildFoldInGram() {
  Eigen::Map<const RowMatrix> items(item_factors_.data(), num_items_, factors_);
  const Eigen::MatrixXf gram = RegularisedGram(items, regularization_);
  fold_in_gram_.assign(gram.data(), gram.data() + gram.size());
}

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

const std::string& IalsChannel::name() const { return kIalsName; }

std::vector<float> IalsChannel::UserVector(const UserQuery& query) const {
  const Eigen::Index f = factors_;
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
  Eigen::Map<const RowMatrix> items(item_factors_.data(), num_items_, f);
  const Eigen::MatrixXf gram = Eigen::Map<const Eigen::MatrixXf>(fold_in_gram_.data(), f, f);
  std::vector<uint64_t> offsets = {0, known.size()};
  RowMatrix solved(1, f);
  // Exact: one small solve per request, and the answer must not depend on a starting point.
  SolveRows(offsets, known, items, gram, alpha_, /*cg_steps=*/0, 1, solved);
  std::copy_n(solved.data(), factors_, out.begin());
  return out;
}

void IalsChannel::Score(const UserQuery& query, std::span<float> out) const {
  std::vector<float> user = UserVector(query);
  Eigen::Map<const RowMatrix> items(item_factors_.data(), num_items_, factors_);
  Eigen::Map<const Eigen::VectorXf> u(user.data(), factors_);
  Eigen::Map<Eigen::VectorXf> scores(out.data(), num_items_);
  scores.noalias() = items * u;
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

Status IalsChannel::Save(const std::filesystem::path& dir, std::vector<std::string>& files) const {
  BinaryWriter w("RSIALS", kFormatVersion);
  w.U32(factors_);
  w.U32(num_users_);
  w.U32(num_items_);
  w.F32(regularization_);
  w.F32(alpha_);
  w.F32Array(user_factors_);
  w.F32Array(item_factors_);
  files.push_back("ials.bin");
  return w.WriteTo(dir / files.back());
}

Result<IalsChannel> IalsChannel::Load(const ModelFiles& files) {
  BinaryReader r;
  RECSERVE_RETURN_IF_ERROR(r.Open(files, "ials.bin", "RSIALS", kFormatVersion));
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
  c.BuildFoldInGram();
  return c;
}

// ---- EASE ----

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

const std::string& EaseChannel::name() const { return kEaseName; }

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
  files.push_back("ease.bin");
  return w.WriteTo(dir / files.back());
}

Result<EaseChannel> EaseChannel::Load(const ModelFiles& files) {
  BinaryReader r;
  RECSERVE_RETURN_IF_ERROR(r.Open(files, "ease.bin", "RSEASE", kFormatVersion));
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
