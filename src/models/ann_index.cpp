#include "models/ann_index.h"

#include <hnswlib/hnswlib.h>

#include <algorithm>

#include "models/binary_io.h"

namespace recserve::models {

ItemAnnIndex::~ItemAnnIndex() = default;

Result<std::unique_ptr<ItemAnnIndex>> ItemAnnIndex::Build(const std::vector<float>& vectors,
                                                          uint32_t num_items, uint32_t dim,
                                                          const AnnParams& params) {
  if (vectors.size() != uint64_t{num_items} * dim || dim == 0) {
    return InvalidArgument("ANN build: vector buffer does not match items × dim");
  }
  std::unique_ptr<ItemAnnIndex> index(new ItemAnnIndex());
  index->dim_ = dim;
  index->num_items_ = num_items;
  index->ef_search_ = params.ef_search;
  try {
    index->space_ = std::make_unique<hnswlib::InnerProductSpace>(dim);
    index->index_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(
        index->space_.get(), std::max<uint32_t>(num_items, 1), params.m, params.ef_construction,
        params.seed);
    for (uint32_t i = 0; i < num_items; ++i) {
      index->index_->addPoint(vectors.data() + static_cast<size_t>(i) * dim, i);
    }
    index->index_->setEf(params.ef_search);
  } catch (const std::exception& e) {
    return Internal(std::string("hnswlib build failed: ") + e.what());
  }
  return index;
}

Status ItemAnnIndex::Save(const std::filesystem::path& dir, std::vector<std::string>& files) const {
  BinaryWriter w("RSANNHDR", 1);
  w.U32(dim_);
  w.U32(num_items_);
  w.U32(ef_search_);
  files.push_back("ann_header.bin");
  RECSERVE_RETURN_IF_ERROR(w.WriteTo(dir / files.back()));
  try {
    index_->saveIndex((dir / "ann.hnsw").string());
  } catch (const std::exception& e) {
    return Internal(std::string("hnswlib save failed: ") + e.what());
  }
  files.push_back("ann.hnsw");
  return Status::Ok();
}

Result<std::unique_ptr<ItemAnnIndex>> ItemAnnIndex::Load(const std::filesystem::path& dir) {
  BinaryReader r;
  RECSERVE_RETURN_IF_ERROR(r.Open(dir / "ann_header.bin", "RSANNHDR", 1));
  std::unique_ptr<ItemAnnIndex> index(new ItemAnnIndex());
  index->dim_ = r.U32();
  index->num_items_ = r.U32();
  index->ef_search_ = r.U32();
  RECSERVE_RETURN_IF_ERROR(r.Finish());
  if (index->dim_ == 0) return DataLoss("ann_header.bin: zero dimension");
  std::filesystem::path file = dir / "ann.hnsw";
  if (!std::filesystem::exists(file)) return NotFound("missing " + file.string());
  try {
    index->space_ = std::make_unique<hnswlib::InnerProductSpace>(index->dim_);
    index->index_ =
        std::make_unique<hnswlib::HierarchicalNSW<float>>(index->space_.get(), file.string());
    index->index_->setEf(index->ef_search_);
  } catch (const std::exception& e) {
    return DataLoss(std::string("hnswlib load failed: ") + e.what());
  }
  if (index->index_->cur_element_count != index->num_items_) {
    return DataLoss("ann.hnsw: element count does not match ann_header.bin");
  }
  return index;
}

std::vector<std::pair<uint32_t, float>> ItemAnnIndex::Search(
    std::span<const float> query, size_t k, const std::vector<char>& excluded) const {
  std::vector<std::pair<uint32_t, float>> out;
  if (num_items_ == 0 || k == 0) return out;
  size_t skip = 0;
  for (char e : excluded) skip += e != 0;
  size_t want = std::min<size_t>(num_items_, k + skip);
  auto heap = index_->searchKnn(query.data(), want);
  while (!heap.empty()) {
    auto [distance, label] = heap.top();
    heap.pop();
    uint32_t item = static_cast<uint32_t>(label);
    if (item < excluded.size() && excluded[item]) continue;
    out.emplace_back(item, 1.0f - distance);  // hnswlib's IP distance is 1 - <q, x>
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (out.size() > k) out.resize(k);
  return out;
}

}  // namespace recserve::models
