#include "core/text_input.h"

#include <algorithm>
#include <cstring>

namespace recserve {

namespace {
constexpr size_t kChunkBytes = 1 << 18;
}

LineReader::~LineReader() {
  if (file_ != nullptr) gzclose(file_);
}

Status LineReader::Open(const std::filesystem::path& path, size_t max_line_bytes) {
  path_ = path;
  max_line_bytes_ = max_line_bytes;
  file_ = gzopen(path.c_str(), "rb");
  if (file_ == nullptr) return status_ = NotFound("cannot open " + path.string());
  gzbuffer(file_, kChunkBytes);
  buf_.resize(kChunkBytes);
  return status_ = Status::Ok();
}

bool LineReader::Fill() {
  if (eof_ || !status_.ok()) return false;
  if (pos_ > 0) {
    std::memmove(buf_.data(), buf_.data() + pos_, len_ - pos_);
    len_ -= pos_;
    pos_ = 0;
  }
  if (len_ == buf_.size()) buf_.resize(buf_.size() * 2);
  int got = gzread(file_, buf_.data() + len_, static_cast<unsigned>(buf_.size() - len_));
  if (got < 0) {
    int errnum = 0;
    const char* msg = gzerror(file_, &errnum);
    status_ = DataLoss(path_.string() + ": read error near line " +
                       std::to_string(line_number_ + 1) + ": " + (msg ? msg : "unknown"));
    return false;
  }
  if (got == 0) {
    // gzread returns 0 both at a clean end and at a truncated gzip stream; gzerror tells.
    int errnum = 0;
    const char* msg = gzerror(file_, &errnum);
    if (errnum != Z_OK && errnum != Z_STREAM_END) {
      status_ = DataLoss(path_.string() + ": compressed stream is corrupt or truncated (" +
                         (msg ? msg : "unknown") + ")");
      return false;
    }
    eof_ = true;
    return false;
  }
  len_ += static_cast<size_t>(got);
  bytes_read_ += static_cast<uint64_t>(got);
  return true;
}

uint64_t LineReader::file_bytes_read() const {
  if (file_ == nullptr) return 0;
  const auto offset = gzoffset(file_);
  return offset > 0 ? static_cast<uint64_t>(offset) : 0;
}

bool LineReader::Next(std::string& line) {
  if (file_ == nullptr || !status_.ok()) return false;
  size_t scan_from = pos_;
  for (;;) {
    const char* start = buf_.data() + scan_from;
    const void* nl = std::memchr(start, '\n', len_ - scan_from);
    if (nl != nullptr) {
      size_t end = static_cast<size_t>(static_cast<const char*>(nl) - buf_.data());
      size_t stop = end;
      if (stop > pos_ && buf_[stop - 1] == '\r') --stop;
      if (stop - pos_ > max_line_bytes_) break;
      line.assign(buf_.data() + pos_, stop - pos_);
      pos_ = end + 1;
      ++line_number_;
      return true;
    }
    if (len_ - pos_ > max_line_bytes_) break;
    size_t consumed = len_ - pos_;
    if (!Fill()) {
      if (!status_.ok()) return false;
      if (len_ > pos_) {  // last line without a newline
        size_t stop = len_;
        if (buf_[stop - 1] == '\r') --stop;
        line.assign(buf_.data() + pos_, stop - pos_);
        pos_ = len_;
        ++line_number_;
        return true;
      }
      return false;
    }
    scan_from = pos_ + consumed;
  }
  status_ = ResourceExhausted(path_.string() + ": line " + std::to_string(line_number_ + 1) +
                              " is longer than " + std::to_string(max_line_bytes_) + " bytes");
  return false;
}

bool SplitCsvLine(std::string_view line, std::vector<std::string>& fields) {
  fields.clear();
  std::string field;
  size_t i = 0;
  const size_t n = line.size();
  for (;;) {
    field.clear();
    if (i < n && line[i] == '"') {
      ++i;
      for (;;) {
        if (i >= n) return false;  // unterminated quote
        char c = line[i++];
        if (c == '"') {
          if (i < n && line[i] == '"') {
            field.push_back('"');
            ++i;
          } else {
            break;
          }
        } else {
          field.push_back(c);
        }
      }
      if (i < n && line[i] != ',') return false;  // text after a closing quote
    } else {
      while (i < n && line[i] != ',') {
        if (line[i] == '"') return false;
        field.push_back(line[i++]);
      }
    }
    fields.push_back(field);
    if (i >= n) return true;
    ++i;  // skip the comma; a trailing comma yields one more empty field
    if (i == n) {
      fields.emplace_back();
      return true;
    }
  }
}

std::string PrintableExcerpt(std::string_view text, size_t max_bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  const size_t n = std::min(text.size(), max_bytes);
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 0xF]);
    }
  }
  if (text.size() > max_bytes) out += "...";
  return out;
}

std::string CsvEscape(std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(field);
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

}  // namespace recserve
