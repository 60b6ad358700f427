#include "models/binary_io.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace recserve::models {
namespace {

template <typename T>
void AppendLittleEndian(std::string& out, T value) {
  static_assert(std::is_trivially_copyable_v<T>);
  unsigned char raw[sizeof(T)];
  std::memcpy(raw, &value, sizeof(T));
  if constexpr (std::endian::native == std::endian::big) {
    for (size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(raw[i], raw[sizeof(T) - 1 - i]);
  }
  out.append(reinterpret_cast<const char*>(raw), sizeof(T));
}

template <typename T>
T ParseLittleEndian(const char* p) {
  unsigned char raw[sizeof(T)];
  std::memcpy(raw, p, sizeof(T));
  if constexpr (std::endian::native == std::endian::big) {
    for (size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(raw[i], raw[sizeof(T) - 1 - i]);
  }
  T value;
  std::memcpy(&value, raw, sizeof(T));
  return value;
}

constexpr size_t kMagicBytes = 8;

std::string PaddedMagic(std::string_view magic) {
  std::string m(magic.substr(0, kMagicBytes));
  m.resize(kMagicBytes, ' ');
  return m;
}

}  // namespace

BinaryWriter::BinaryWriter(std::string_view magic, uint32_t version) {
  bytes_ = PaddedMagic(magic);
  U32(version);
}

void BinaryWriter::U32(uint32_t v) { AppendLittleEndian(bytes_, v); }
void BinaryWriter::U64(uint64_t v) { AppendLittleEndian(bytes_, v); }
void BinaryWriter::I64(int64_t v) { AppendLittleEndian(bytes_, v); }
void BinaryWriter::F32(float v) { AppendLittleEndian(bytes_, v); }
void BinaryWriter::String(std::string_view s) {
  U64(s.size());
  bytes_.append(s);
}
void BinaryWriter::U32Array(const std::vector<uint32_t>& v) {
  U64(v.size());
  for (uint32_t x : v) U32(x);
}
void BinaryWriter::U64Array(const std::vector<uint64_t>& v) {
  U64(v.size());
  for (uint64_t x : v) U64(x);
}
void BinaryWriter::I64Array(const std::vector<int64_t>& v) {
  U64(v.size());
  for (int64_t x : v) I64(x);
}
void BinaryWriter::F32Array(const std::vector<float>& v) {
  U64(v.size());
  for (float x : v) F32(x);
}
void BinaryWriter::StringArray(const std::vector<std::string>& v) {
  U64(v.size());
  for (const std::string& s : v) String(s);
}

Status BinaryWriter::WriteTo(const std::filesystem::path& path) const {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes_.data(), static_cast<std::streamsize>(bytes_.size()));
  out.close();
  if (!out) return Internal("cannot write " + path.string());
  return Status::Ok();
}

Status BinaryReader::Open(const ModelFiles& files, std::string_view name, std::string_view magic,
                          uint32_t version) {
  name_ = std::string(name);
  Result<std::string_view> bytes = files.Bytes(name);
  if (!bytes.ok()) return status_ = bytes.status();
  bytes_ = *bytes;
  return Start(magic, version);
}

Status BinaryReader::Open(const std::filesystem::path& path, std::string_view magic,
                          uint32_t version) {
  name_ = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) return status_ = NotFound("cannot open " + name_);
  owned_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  bytes_ = owned_;
  return Start(magic, version);
}

Status BinaryReader::Start(std::string_view magic, uint32_t version) {
  pos_ = 0;
  status_ = Status::Ok();
  if (bytes_.size() < kMagicBytes + 4 || bytes_.substr(0, kMagicBytes) != PaddedMagic(magic)) {
    return status_ = DataLoss(name_ + ": not a " + std::string(magic) + " file");
  }
  pos_ = kMagicBytes;
  uint32_t file_version = U32();
  if (file_version != version) {
    return status_ = DataLoss(name_ + ": format version " + std::to_string(file_version) +
                              ", this build reads " + std::to_string(version));
  }
  return status_;
}

bool BinaryReader::Take(size_t n, const char** out) {
  if (!status_.ok()) return false;
  if (bytes_.size() - pos_ < n) {
    status_ = DataLoss(name_ + ": truncated at byte " + std::to_string(pos_));
    return false;
  }
  *out = bytes_.data() + pos_;
  pos_ += n;
  return true;
}

uint32_t BinaryReader::U32() {
  const char* p;
  return Take(4, &p) ? ParseLittleEndian<uint32_t>(p) : 0;
}
uint64_t BinaryReader::U64() {
  const char* p;
  return Take(8, &p) ? ParseLittleEndian<uint64_t>(p) : 0;
}
int64_t BinaryReader::I64() {
  const char* p;
  return Take(8, &p) ? ParseLittleEndian<int64_t>(p) : 0;
}
float BinaryReader::F32() {
  const char* p;
  return Take(4, &p) ? ParseLittleEndian<float>(p) : 0.0f;
}

uint64_t BinaryReader::ArrayLength(size_t element_bytes) {
  uint64_t n = U64();
  if (status_.ok() && n > (bytes_.size() - pos_) / element_bytes) {
    status_ = DataLoss(name_ + ": array length " + std::to_string(n) +
                       " exceeds the file at byte " + std::to_string(pos_));
    return 0;
  }
  return n;
}

std::string BinaryReader::String() {
  uint64_t n = ArrayLength(1);
  const char* p;
  if (!Take(n, &p)) return {};
  return std::string(p, n);
}

template <typename T, typename Read>
static std::vector<T> ReadArray(uint64_t n, Read read) {
  std::vector<T> v;
  v.reserve(n);
  for (uint64_t i = 0; i < n; ++i) v.push_back(read());
  return v;
}

std::vector<uint32_t> BinaryReader::U32Array() {
  return ReadArray<uint32_t>(ArrayLength(4), [this] { return U32(); });
}
std::vector<uint64_t> BinaryReader::U64Array() {
  return ReadArray<uint64_t>(ArrayLength(8), [this] { return U64(); });
}
std::vector<int64_t> BinaryReader::I64Array() {
  return ReadArray<int64_t>(ArrayLength(8), [this] { return I64(); });
}
std::vector<float> BinaryReader::F32Array() {
  return ReadArray<float>(ArrayLength(4), [this] { return F32(); });
}
std::vector<std::string> BinaryReader::StringArray() {
  return ReadArray<std::string>(ArrayLength(8), [this] { return String(); });
}

Status BinaryReader::Finish(bool expect_end) const {
  if (!status_.ok()) return status_;
  if (expect_end && pos_ != bytes_.size()) {
    return DataLoss(name_ + ": " + std::to_string(bytes_.size() - pos_) +
                    " unexpected trailing bytes");
  }
  return Status::Ok();
}

bool ValidRowOffsets(const std::vector<uint64_t>& offsets, uint64_t elements) {
  return !offsets.empty() && offsets.front() == 0 &&
         std::is_sorted(offsets.begin(), offsets.end()) && offsets.back() == elements;
}

}  // namespace recserve::models
