#include "models/ann_index.h"

#include <hnswlib/hnswlib.h>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "models/binary_io.h"
#include "models/scored_order.h"

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

namespace {

// An anonymous in-memory file holding `bytes`, closed on destruction; path() names it for a
// library that opens files by name.
class MemoryFile {
 public:
  MemoryFile() = default;
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;
  ~MemoryFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  Status Fill(const char* name, std::string_view bytes) {
    fd_ = ::memfd_create(name, MFD_CLOEXEC);
    if (fd_ < 0) return Internal(std::string("memfd_create: ") + std::strerror(errno));
    for (size_t done = 0; done < bytes.size();) {
      ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Internal(std::string("memfd write: ") + std::strerror(errno));
      done += static_cast<size_t>(n);
    }
    return Status::Ok();
  }
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }

 private:
  int fd_ = -1;
};

}  // namespace

Result<std::unique_ptr<ItemAnnIndex>> ItemAnnIndex::Load(const ModelFiles& files) {
  BinaryReader r;
  RECSERVE_RETURN_IF_ERROR(r.Open(files, "ann_header.bin", "RSANNHDR", 1));
  std::unique_ptr<ItemAnnIndex> index(new ItemAnnIndex());
  index->dim_ = r.U32();
  index->num_items_ = r.U32();
  index->ef_search_ = r.U32();
  RECSERVE_RETURN_IF_ERROR(r.Finish());
  if (index->dim_ == 0) return DataLoss("ann_header.bin: zero dimension");
  Result<std::string_view> bytes = files.Bytes("ann.hnsw");
  if (!bytes.ok()) return bytes.status();
  MemoryFile file;
  RECSERVE_RETURN_IF_ERROR(file.Fill("ann.hnsw", *bytes));
  try {
    index->space_ = std::make_unique<hnswlib::InnerProductSpace>(index->dim_);
    index->index_ =
        std::make_unique<hnswlib::HierarchicalNSW<float>>(index->space_.get(), file.path());
    index->index_->setEf(index->ef_search_);
  } catch (const std::exception& e) {
    return DataLoss(std::string("ann.hnsw: hnswlib load failed: ") + e.what());
  }
  if (index->index_->cur_element_count != index->num_items_) {
    return DataLoss("ann.hnsw: element count does not match ann_header.bin");
  }
  // Search() answers labels as item indices: each must name an item of the catalogue.
  for (size_t i = 0; i < index->index_->cur_element_count; ++i) {
    if (index->index_->getExternalLabel(static_cast<hnswlib::tableint>(i)) >= index->num_items_) {
      return DataLoss("ann.hnsw: a label is not an item index below " +
                      std::to_string(index->num_items_));
    }
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
    return RanksBefore(a.second, a.first, b.second, b.first);
  });
  if (out.size() > k) out.resize(k);
  return out;
}

}  // namespace recserve::models
