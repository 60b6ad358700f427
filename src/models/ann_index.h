#pragma once
// Approximate nearest neighbours over iALS item factors (hnswlib HNSW, inner-product space), so
// the iALS channel's candidates come from O(log n) search instead of scoring the catalogue.
// Search() is const and safe to call concurrently once built or loaded (hnswlib's search takes
// per-call visited lists); Build/Load are not concurrent with anything.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "models/model_files.h"

namespace hnswlib {
template <typename T>
class HierarchicalNSW;
class InnerProductSpace;
}  // namespace hnswlib

namespace recserve::models {

struct AnnParams {
  uint32_t m = 16;                 // graph degree
  uint32_t ef_construction = 200;  // build-time candidate list
  uint32_t ef_search = 64;  // query-time candidate list (recall vs speed); raised to k + seen items
  uint64_t seed = 42;
};

class ItemAnnIndex {
 public:
  ~ItemAnnIndex();
  ItemAnnIndex(const ItemAnnIndex&) = delete;
  ItemAnnIndex& operator=(const ItemAnnIndex&) = delete;

  // Indexes `num_items` rows of `dim` floats (row-major). Internal when hnswlib fails.
  static Result<std::unique_ptr<ItemAnnIndex>> Build(const std::vector<float>& vectors,
                                                     uint32_t num_items, uint32_t dim,
                                                     const AnnParams& params);
  // Reads ann_header.bin and ann.hnsw from `files`. hnswlib reads only from a path, so the
  // bytes of ann.hnsw are handed to it through an anonymous in-memory file (memfd), never by
  // reopening the bundle. DataLoss when the index disagrees with its header or a label is not
  // an item index below the header's count.
  static Result<std::unique_ptr<ItemAnnIndex>> Load(const ModelFiles& files);
  Status Save(const std::filesystem::path& dir, std::vector<std::string>& files) const;

  // Up to k (item, inner product) pairs, best first (ties by item index), skipping items for
  // which excluded[item] is true. REQUIRES: query.size() == dim().
  std::vector<std::pair<uint32_t, float>> Search(std::span<const float> query, size_t k,
                                                 const std::vector<char>& excluded) const;
  uint32_t dim() const { return dim_; }
  uint32_t size() const { return num_items_; }

 private:
  ItemAnnIndex() = default;
  uint32_t dim_ = 0;
  uint32_t num_items_ = 0;
  uint32_t ef_search_ = 0;
  std::unique_ptr<hnswlib::InnerProductSpace> space_;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> index_;
};

}  // namespace recserve::models
