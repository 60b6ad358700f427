#include "datagen/output_file.h"

#include <cerrno>
#include <cstring>

namespace recserve::datagen {

OutputFile::~OutputFile() {
  if (plain_ != nullptr) std::fclose(plain_);
  if (gz_ != nullptr) gzclose(gz_);
}

Status OutputFile::Open(const std::filesystem::path& path, bool gzip) {
  path_ = path;
  if (gzip) {
    gz_ = gzopen(path.c_str(), "wb6");
    if (gz_ != nullptr) gzbuffer(gz_, 1 << 18);
  } else {
    plain_ = std::fopen(path.c_str(), "wb");
  }
  if (plain_ == nullptr && gz_ == nullptr) {
    return status_ =
               InvalidArgument("cannot create " + path.string() + ": " + std::strerror(errno));
  }
  buffer_.reserve(kFlushBytes + 4096);
  return status_ = Status::Ok();
}

void OutputFile::Flush() {
  if (buffer_.empty() || !status_.ok()) {
    buffer_.clear();
    return;
  }
  bool ok = true;
  if (plain_ != nullptr) {
    ok = std::fwrite(buffer_.data(), 1, buffer_.size(), plain_) == buffer_.size();
  } else if (gz_ != nullptr) {
    ok = gzwrite(gz_, buffer_.data(), static_cast<unsigned>(buffer_.size())) ==
         static_cast<int>(buffer_.size());
  }
  if (!ok) status_ = DataLoss("write failed on " + path_.string() + ": " + std::strerror(errno));
  buffer_.clear();
}

Status OutputFile::Close() {
  Flush();
  if (plain_ != nullptr) {
    if (std::fclose(plain_) != 0 && status_.ok()) {
      status_ = DataLoss("close failed on " + path_.string() + ": " + std::strerror(errno));
    }
    plain_ = nullptr;
  }
  if (gz_ != nullptr) {
    if (gzclose(gz_) != Z_OK && status_.ok()) {
      status_ = DataLoss("close failed on " + path_.string());
    }
    gz_ = nullptr;
  }
  return status_;
}

}  // namespace recserve::datagen
