#include "store/event_spool.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/crc.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>
#include <system_error>
#include <utility>

#include "core/durable_file.h"
#include "observe/metrics.h"

namespace recserve::store {
namespace fs = std::filesystem;

namespace {

constexpr char kSegmentMagic[4] = {'R', 'S', 'E', 'V'};
constexpr uint32_t kSegmentVersion = 1;
constexpr uint64_t kSegmentHeaderBytes = 8;  // magic + version
constexpr uint64_t kRecordHeaderBytes = 8;   // payload length + CRC-32
constexpr std::string_view kSegmentPrefix = "spool-";
constexpr std::string_view kSegmentSuffix = ".seg";
constexpr size_t kSegmentDigits = 12;
constexpr std::string_view kAckFileName = "ack";
constexpr std::string_view kQuarantineDirName = "quarantine";

void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

uint32_t Crc32(std::string_view bytes) {
  boost::crc_32_type crc;
  crc.process_bytes(bytes.data(), bytes.size());
  return crc.checksum();
}

std::string SegmentHeader() {
  std::string header(kSegmentMagic, sizeof(kSegmentMagic));
  PutU32(header, kSegmentVersion);
  return header;
}

// Events in an EncodeEventLines payload: one per line, no trailing newline.
uint64_t CountEventLines(std::string_view payload) {
  if (payload.empty()) return 0;
  return static_cast<uint64_t>(std::count(payload.begin(), payload.end(), '\n')) + 1;
}

// An I/O failure: Unavailable, naming the call, the path and strerror.
Status IoError(const std::string& what, const fs::path& path, int err) {
  return Unavailable("event spool: " + what + " " + path.string() + ": " + std::strerror(err));
}

Status WriteAllAt(int fd, uint64_t offset, std::string_view bytes, const fs::path& path) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n =
        ::pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("write", path, errno);
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

// Reads exactly `len` bytes at `offset`; DataLoss if the file ends first.
Status ReadExactlyAt(int fd, uint64_t offset, size_t len, std::string& out, const fs::path& path) {
  out.resize(len);
  size_t done = 0;
  while (done < len) {
    ssize_t n = ::pread(fd, out.data() + done, len - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("read", path, errno);
    }
    if (n == 0) {
      return DataLoss("event spool: " + path.string() + " ends at " +
                      std::to_string(offset + done) + ", inside a record");
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

std::optional<uint64_t> ParseU64(std::string_view text) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

// The sequence number of "spool-<12 digits>.seg", or nullopt for any other name.
std::optional<uint64_t> ParseSegmentName(std::string_view name) {
  if (name.size() != kSegmentPrefix.size() + kSegmentDigits + kSegmentSuffix.size() ||
      !name.starts_with(kSegmentPrefix) || !name.ends_with(kSegmentSuffix)) {
    return std::nullopt;
  }
  return ParseU64(name.substr(kSegmentPrefix.size(), kSegmentDigits));
}

struct AckPosition {
  uint64_t segment = 0;
  uint64_t offset = 0;
};

std::string FormatAck(const AckPosition& ack) {
  return fmt::format("segment {}\noffset {}\n", ack.segment, ack.offset);
}

std::optional<AckPosition> ParseAck(std::string_view text) {
  AckPosition ack;
  bool has_segment = false;
  bool has_offset = false;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    size_t space = line.find(' ');
    if (space == std::string_view::npos) return std::nullopt;
    std::optional<uint64_t> value = ParseU64(line.substr(space + 1));
    if (!value) return std::nullopt;
    std::string_view key = line.substr(0, space);
    if (key == "segment") {
      ack.segment = *value;
      has_segment = true;
    } else if (key == "offset") {
      ack.offset = *value;
      has_offset = true;
    }
  }
  if (!has_segment || !has_offset) return std::nullopt;
  return ack;
}

// Creates `dir` (mode 0700) and its missing parents; the new name is synced into its parent.
Status EnsureDirectory(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return Status::Ok();
  fs::path parent = dir.has_parent_path() ? dir.parent_path() : fs::path(".");
  fs::create_directories(parent, ec);
  if (ec) return Unavailable("event spool: create " + parent.string() + ": " + ec.message());
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return IoError("mkdir", dir, errno);
  Status synced = FsyncDirectory(parent);
  if (!synced.ok()) return Unavailable("event spool: " + synced.message());
  return Status::Ok();
}

}  // namespace

struct EventSpool::Metrics {
  explicit Metrics(observe::Registry& registry)
      : bytes(registry
                  .AddGauge("recommendation_event_spool_bytes",
                            "Unacknowledged record bytes in the local event spool")
                  .Get()),
        events(registry
                   .AddGauge("recommendation_event_spool_events",
                             "Unacknowledged events in the local event spool")
                   .Get()),
        appends(registry.AddCounter("recommendation_event_spool_appends_total",
                                    "Event batches offered to the local spool, by outcome",
                                    {"result"})),
        recovered(registry.AddCounter(
            "recommendation_event_spool_recovered_total",
            "Bad records the event spool's recovery cut off (torn_tail) or set aside (quarantined)",
            {"kind"})),
        appends_ok(appends.WithLabels({"ok"})),
        appends_full(appends.WithLabels({"full"})),
        appends_error(appends.WithLabels({"error"})),
        torn_tail(recovered.WithLabels({"torn_tail"})),
        quarantined(recovered.WithLabels({"quarantined"})) {}

  observe::Gauge& bytes;
  observe::Gauge& events;
  observe::Family<observe::Counter>& appends;
  observe::Family<observe::Counter>& recovered;
  observe::Counter& appends_ok;
  observe::Counter& appends_full;
  observe::Counter& appends_error;
  observe::Counter& torn_tail;
  observe::Counter& quarantined;
};

namespace {

// What recovery found in one segment file.
struct SegmentScan {
  bool keep = false;         // holds unacknowledged records
  uint64_t start = 0;        // first unacknowledged record
  uint64_t end = 0;          // end of the last good record
  uint64_t bytes = 0;        // unacknowledged record bytes
  uint64_t events = 0;       // unacknowledged events
  bool torn_tail = false;    // a torn tail was truncated
  bool quarantined = false;  // bytes were moved to quarantine/
};

// Moves `bytes` (cut from `segment` at `offset`) into dir/quarantine/ as a new file, synced.
Status WriteQuarantine(const fs::path& dir, const fs::path& segment, uint64_t offset,
                       std::string_view bytes) {
  fs::path qdir = dir / kQuarantineDirName;
  if (::mkdir(qdir.c_str(), 0700) != 0 && errno != EEXIST) return IoError("mkdir", qdir, errno);
  fs::path target =
      qdir / fmt::format("{}.at-{}.{}", segment.filename().string(), offset, UniqueTempSuffix());
  int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return IoError("create", target, errno);
  Status status = WriteAllAt(fd, 0, bytes, target);
  if (status.ok() && ::fsync(fd) != 0) status = IoError("fsync", target, errno);
  ::close(fd);
  if (status.ok()) status = FsyncDirectory(qdir);
  if (status.ok()) status = FsyncDirectory(dir);
  if (!status.ok()) return Unavailable("event spool: quarantine: " + status.message());
  return Status::Ok();
}

// Scans one segment from `scan_from`, cutting off a torn tail (`last` segment only) or moving
// the rest of the file to quarantine at the first bad record.
Result<SegmentScan> ScanSegment(const fs::path& dir, const fs::path& path, bool last,
                                uint64_t scan_from) {
  SegmentScan scan;
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return IoError("open", path, errno);
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return IoError("stat", path, errno);
  const uint64_t size = static_cast<uint64_t>(st.st_size);

  // The header: a short last segment is a creation that never completed (no record was ever
  // appended to it); anything else that is not our header is set aside whole.
  std::string header;
  bool header_ok = false;
  if (size >= kSegmentHeaderBytes) {
    RECSERVE_RETURN_IF_ERROR(ReadExactlyAt(fd, 0, kSegmentHeaderBytes, header, path));
    header_ok = header == SegmentHeader();
  }
  if (!header_ok) {
    if (last && size < kSegmentHeaderBytes) return scan;  // nothing kept: the caller deletes it
    std::string all;
    RECSERVE_RETURN_IF_ERROR(ReadExactlyAt(fd, 0, size, all, path));
    RECSERVE_RETURN_IF_ERROR(WriteQuarantine(dir, path, 0, all));
    spdlog::warn("event spool: {} has no valid segment header ({} bytes); moved to {}/",
                 path.string(), size, kQuarantineDirName);
    scan.quarantined = true;
    return scan;  // the caller deletes the original
  }

  scan.start = std::max<uint64_t>(scan_from, kSegmentHeaderBytes);
  if (scan.start >= size) {
    if (scan.start > size) {
      spdlog::warn(
          "event spool: ack offset {} is past the end of {} ({} bytes); treating it as "
          "fully acknowledged",
          scan.start, path.string(), size);
    }
    return scan;
  }
  std::string body;
  RECSERVE_RETURN_IF_ERROR(ReadExactlyAt(fd, scan.start, size - scan.start, body, path));

  uint64_t pos = 0;  // within body
  std::string_view problem;
  bool torn = false;
  while (pos < body.size()) {
    const uint64_t remain = body.size() - pos;
    if (remain < kRecordHeaderBytes) {
      problem = "record header cut short";
      torn = true;
      break;
    }
    const uint32_t len = GetU32(body.data() + pos);
    const uint32_t crc = GetU32(body.data() + pos + 4);
    if (len > EventSpool::kMaxRecordPayloadBytes) {
      problem = "impossible record length";
      break;
    }
    if (kRecordHeaderBytes + len > remain) {
      problem = "record cut short";
      torn = true;
      break;
    }
    std::string_view payload(body.data() + pos + kRecordHeaderBytes, len);
    if (len == 0) {
      problem = "empty record";
      break;
    }
    if (Crc32(payload) != crc) {
      problem = "checksum mismatch";
      // The last record of the file failing its checksum is an append whose pages reached the
      // disk only in part: as torn as a short one.
      torn = kRecordHeaderBytes + len == remain;
      break;
    }
    scan.events += CountEventLines(payload);
    scan.bytes += kRecordHeaderBytes + len;
    pos += kRecordHeaderBytes + len;
  }
  scan.end = scan.start + pos;
  // A file whose size reached the disk before its data reads as zeros from the bad record on:
  // also an append that never completed.
  if (!torn && pos < body.size() &&
      std::all_of(body.begin() + static_cast<std::ptrdiff_t>(pos), body.end(),
                  [](char c) { return c == '\0'; })) {
    torn = true;
  }

  if (pos < body.size()) {
    const uint64_t cut = scan.end;
    const uint64_t dropped = size - cut;
    if (last && torn) {
      scan.torn_tail = true;
      spdlog::warn("event spool: {}: {} at offset {}; truncated the torn tail ({} bytes)",
                   path.string(), problem, cut, dropped);
    } else {
      RECSERVE_RETURN_IF_ERROR(WriteQuarantine(dir, path, cut, std::string_view(body).substr(pos)));
      scan.quarantined = true;
      spdlog::warn(
          "event spool: {}: {} at offset {}; moved the rest of the segment ({} bytes) "
          "to {}/, kept the {} records' bytes before it",
          path.string(), problem, cut, dropped, kQuarantineDirName, scan.bytes);
    }
    if (::ftruncate(fd, static_cast<off_t>(cut)) != 0) return IoError("truncate", path, errno);
    if (::fdatasync(fd) != 0) return IoError("fdatasync", path, errno);
  }
  scan.keep = scan.bytes > 0;
  return scan;
}

}  // namespace

EventSpool::EventSpool(EventSpoolOptions options, std::unique_ptr<Metrics> metrics)
    : options_(std::move(options)), metrics_(std::move(metrics)) {}

EventSpool::~EventSpool() {
  // REQUIRES (of the owner): no call in flight. Every returned Append is already on disk.
  if (active_fd_ >= 0) ::close(active_fd_);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the directory's lock
}

Result<std::unique_ptr<EventSpool>> EventSpool::Open(EventSpoolOptions options,
                                                     observe::Registry* registry) {
  if (options.dir.empty()) return InvalidArgument("event spool: EVENT_SPOOL_DIR is empty");
  if (options.max_bytes == 0) return InvalidArgument("event spool: max_bytes must be > 0");
  if (options.segment_bytes <= kSegmentHeaderBytes) {
    return InvalidArgument("event spool: segment_bytes must exceed the 8-byte segment header");
  }
  RECSERVE_RETURN_IF_ERROR(EnsureDirectory(options.dir));
  // One process per spool: two replicas appending to and replaying one directory would
  // interleave segments and acknowledge each other's records.
  const fs::path lock_path = options.dir / "LOCK";
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) {
    return Unavailable("event spool: cannot open " + lock_path.string() + ": " +
                       std::strerror(errno));
  }
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd);
    return FailedPrecondition("event spool: " + options.dir.string() +
                              " is in use by another process (each replica needs its own "
                              "EVENT_SPOOL_DIR)");
  }
  std::unique_ptr<Metrics> metrics;
  if (registry != nullptr) metrics = std::make_unique<Metrics>(*registry);
  std::unique_ptr<EventSpool> spool(new EventSpool(std::move(options), std::move(metrics)));
  spool->lock_fd_ = lock_fd;
  RECSERVE_RETURN_IF_ERROR(spool->Recover());
  return spool;
}

fs::path EventSpool::SegmentPath(uint64_t seq) const {
  std::string digits = std::to_string(seq);
  if (digits.size() < kSegmentDigits) digits.insert(0, kSegmentDigits - digits.size(), '0');
  return options_.dir / (std::string(kSegmentPrefix) + digits + std::string(kSegmentSuffix));
}

Status EventSpool::Recover() {
  core::MutexLock lock(mu_);
  const fs::path& dir = options_.dir;

  AckPosition ack;
  {
    std::ifstream in(dir / kAckFileName, std::ios::binary);
    if (in) {
      std::stringstream text;
      text << in.rdbuf();
      std::optional<AckPosition> parsed = ParseAck(text.str());
      if (parsed) {
        ack = *parsed;
      } else {
        // Written atomically, so this is damage from outside: replaying everything again is
        // the at-least-once side of the choice.
        spdlog::warn("event spool: {} is unreadable; replaying every segment from its start",
                     (dir / kAckFileName).string());
      }
    }
  }

  std::vector<uint64_t> seqs;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.starts_with(std::string(kAckFileName) + ".tmp-")) {
      fs::remove(it->path(), ec);  // a WriteFileAtomically cut short
      ec.clear();
      continue;
    }
    if (std::optional<uint64_t> seq = ParseSegmentName(name)) seqs.push_back(*seq);
  }
  if (ec) return Unavailable("event spool: list " + dir.string() + ": " + ec.message());
  std::sort(seqs.begin(), seqs.end());

  uint64_t max_seq = ack.segment;
  uint64_t bytes = 0;
  uint64_t events = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    const uint64_t seq = seqs[i];
    const fs::path path = SegmentPath(seq);
    max_seq = std::max(max_seq, seq);
    if (seq < ack.segment) {
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) return IoError("unlink", path, errno);
      continue;
    }
    Result<SegmentScan> scan =
        ScanSegment(dir, path, i + 1 == seqs.size(), seq == ack.segment ? ack.offset : 0);
    if (!scan.ok()) return scan.status();
    if (metrics_ && scan->torn_tail) metrics_->torn_tail.Inc();
    if (metrics_ && scan->quarantined) metrics_->quarantined.Inc();
    if (!scan->keep) {
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) return IoError("unlink", path, errno);
      continue;
    }
    if (segments_.empty()) ack_offset_ = scan->start;
    segments_.push_back(Segment{seq, scan->end});
    bytes += scan->bytes;
    events += scan->events;
  }
  pending_bytes_ = bytes;
  pending_events_ = events;

  const bool had_pending = !segments_.empty();
  RECSERVE_RETURN_IF_ERROR(StartSegment(max_seq + 1));
  if (!had_pending) ack_offset_ = kSegmentHeaderBytes;
  PublishGauges();
  if (had_pending) {
    spdlog::info("event spool {}: {} events ({} bytes) in {} segments await replay", dir.string(),
                 events, bytes, segments_.size() - 1);
  }
  return Status::Ok();
}

Status EventSpool::StartSegment(uint64_t seq) {
  const fs::path path = SegmentPath(seq);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return IoError("create", path, errno);
  Status status = WriteAllAt(fd, 0, SegmentHeader(), path);
  if (status.ok() && ::fdatasync(fd) != 0) status = IoError("fdatasync", path, errno);
  if (status.ok()) {
    Status synced = FsyncDirectory(options_.dir);
    if (!synced.ok()) status = Unavailable("event spool: " + synced.message());
  }
  if (!status.ok()) {
    ::close(fd);
    ::unlink(path.c_str());
    return status;
  }
  active_fd_ = fd;
  write_offset_ = kSegmentHeaderBytes;
  segments_.push_back(Segment{seq, kSegmentHeaderBytes});
  return Status::Ok();
}

Status EventSpool::RollSegment() {
  // Every record of the old segment becomes durable here, so the readers' end and the sync
  // tickets move with it; the next segment's records then need only its own fdatasync.
  if (::fdatasync(active_fd_) != 0) {
    io_error_ = IoError("fdatasync", SegmentPath(segments_.back().seq), errno);
    sync_done_.notify_all();
    return io_error_;
  }
  segments_.back().durable_end = write_offset_;
  synced_ticket_ = written_ticket_;
  sync_done_.notify_all();
  const int old_fd = active_fd_;
  RECSERVE_RETURN_IF_ERROR(StartSegment(segments_.back().seq + 1));
  ::close(old_fd);
  return Status::Ok();
}

void EventSpool::SyncAsLeader() {
  sync_in_progress_ = true;
  const uint64_t target_ticket = written_ticket_;
  const uint64_t target_offset = write_offset_;
  const int fd = active_fd_;  // stays open: RollSegment waits for !sync_in_progress_
  mu_.unlock();
  const int rc = ::fdatasync(fd);
  const int err = errno;
  mu_.lock();
  sync_in_progress_ = false;
  if (rc == 0) {
    synced_ticket_ = std::max(synced_ticket_, target_ticket);
    segments_.back().durable_end = std::max(segments_.back().durable_end, target_offset);
  } else {
    io_error_ = IoError("fdatasync", SegmentPath(segments_.back().seq), err);
    spdlog::error("{}; the event spool refuses appends until it is reopened", io_error_.message());
  }
  sync_done_.notify_all();
}

void EventSpool::PublishGauges() {
  if (!metrics_) return;
  metrics_->bytes.Set(static_cast<double>(pending_bytes_));
  metrics_->events.Set(static_cast<double>(pending_events_));
}

Status EventSpool::Append(const std::vector<LoggedEvent>& batch) {
  if (batch.empty()) return Status::Ok();
  const std::string payload = EncodeEventLines(batch);
  if (payload.size() > kMaxRecordPayloadBytes) {
    if (metrics_) metrics_->appends_full.Inc();
    return ResourceExhausted(
        fmt::format("event spool: a batch of {} bytes exceeds the record limit of {} bytes",
                    payload.size(), kMaxRecordPayloadBytes));
  }
  std::string record;
  record.reserve(kRecordHeaderBytes + payload.size());
  PutU32(record, static_cast<uint32_t>(payload.size()));
  PutU32(record, Crc32(payload));
  record += payload;

  core::MutexLock lock(mu_);
  for (;;) {
    if (!io_error_.ok()) {
      if (metrics_) metrics_->appends_error.Inc();
      return Unavailable(
          "event spool refuses appends after an fdatasync failure (reopen to "
          "recover): " +
          io_error_.message());
    }
    if (pending_bytes_ + record.size() > options_.max_bytes) {
      if (metrics_) metrics_->appends_full.Inc();
      return ResourceExhausted(fmt::format(
          "event spool full: {} bytes unacknowledged of max {}; a batch of {} bytes waits for "
          "the replay into Redis to catch up",
          pending_bytes_, options_.max_bytes, record.size()));
    }
    if (write_offset_ > kSegmentHeaderBytes &&
        write_offset_ + record.size() > options_.segment_bytes) {
      if (sync_in_progress_) {
        sync_done_.wait(mu_);  // the leader holds the active fd outside the lock
        continue;
      }
      Status rolled = RollSegment();
      if (!rolled.ok()) {
        if (metrics_) metrics_->appends_error.Inc();
        return rolled;
      }
      continue;
    }
    break;
  }

  Status written = WriteAllAt(active_fd_, write_offset_, record, SegmentPath(segments_.back().seq));
  if (!written.ok()) {
    // Cut the partial record off so the next append does not land behind garbage; if even that
    // fails the file's tail is unknown and the spool stops taking appends.
    if (::ftruncate(active_fd_, static_cast<off_t>(write_offset_)) != 0) {
      io_error_ = IoError("truncate", SegmentPath(segments_.back().seq), errno);
    }
    if (metrics_) metrics_->appends_error.Inc();
    return written;
  }
  write_offset_ += record.size();
  pending_bytes_ += record.size();
  pending_events_ += batch.size();
  PublishGauges();
  const uint64_t ticket = ++written_ticket_;

  while (synced_ticket_ < ticket && io_error_.ok()) {
    if (!sync_in_progress_) {
      SyncAsLeader();
    } else {
      sync_done_.wait(mu_);
    }
  }
  if (synced_ticket_ < ticket) {
    if (metrics_) metrics_->appends_error.Inc();
    return io_error_;
  }
  if (metrics_) metrics_->appends_ok.Inc();
  return Status::Ok();
}

Result<EventSpool::Chunk> EventSpool::ReadOldest(size_t max_events) {
  core::MutexLock replay(replay_mu_);
  std::vector<Segment> segments;
  uint64_t start = 0;
  {
    core::MutexLock lock(mu_);
    segments = segments_;
    start = ack_offset_;
  }
  Chunk chunk;
  chunk.begin_segment_ = chunk.end_segment_ = segments.front().seq;
  chunk.begin_offset_ = chunk.end_offset_ = start;

  std::string header;
  std::string payload;
  for (size_t i = 0; i < segments.size(); ++i) {
    const Segment& segment = segments[i];
    uint64_t offset = i == 0 ? start : kSegmentHeaderBytes;
    if (offset >= segment.durable_end) continue;
    const fs::path path = SegmentPath(segment.seq);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return IoError("open", path, errno);
    struct FdCloser {
      int fd;
      ~FdCloser() { ::close(fd); }
    } closer{fd};
    while (offset < segment.durable_end) {
      RECSERVE_RETURN_IF_ERROR(ReadExactlyAt(fd, offset, kRecordHeaderBytes, header, path));
      const uint32_t len = GetU32(header.data());
      if (offset + kRecordHeaderBytes + len > segment.durable_end) {
        return DataLoss(
            fmt::format("event spool: {} offset {}: record length runs past the "
                        "durable end",
                        path.string(), offset));
      }
      RECSERVE_RETURN_IF_ERROR(ReadExactlyAt(fd, offset + kRecordHeaderBytes, len, payload, path));
      if (Crc32(payload) != GetU32(header.data() + 4)) {
        return DataLoss(
            fmt::format("event spool: {} offset {}: checksum mismatch (reopen the "
                        "spool to quarantine it)",
                        path.string(), offset));
      }
      Result<std::vector<LoggedEvent>> events = DecodeEventLines(payload);
      if (!events.ok()) {
        return DataLoss(fmt::format("event spool: {} offset {}: {}", path.string(), offset,
                                    events.status().message()));
      }
      if (!chunk.events.empty() && chunk.events.size() + events->size() > max_events) {
        return chunk;
      }
      for (LoggedEvent& event : *events) chunk.events.push_back(std::move(event));
      offset += kRecordHeaderBytes + len;
      chunk.end_segment_ = segment.seq;
      chunk.end_offset_ = offset;
      chunk.bytes_ += kRecordHeaderBytes + len;
      chunk.event_count_ += events->size();
      if (chunk.events.size() >= max_events) return chunk;
    }
  }
  return chunk;
}

Status EventSpool::Acknowledge(const Chunk& chunk) {
  core::MutexLock replay(replay_mu_);
  if (chunk.bytes_ == 0) return Status::Ok();
  {
    core::MutexLock lock(mu_);
    if (segments_.front().seq != chunk.begin_segment_ || ack_offset_ != chunk.begin_offset_) {
      return FailedPrecondition(
          "event spool: the chunk does not start at the oldest unacknowledged record (acknowledged "
          "already, or read from another spool)");
    }
  }
  // Durable first: once the ack file names the new position, a crash replays nothing before it;
  // a crash before the rename replays the chunk again.
  Status written = WriteFileAtomically(options_.dir / kAckFileName,
                                       FormatAck({chunk.end_segment_, chunk.end_offset_}));
  if (!written.ok()) return Unavailable("event spool: ack: " + written.message());

  std::vector<fs::path> done;
  {
    core::MutexLock lock(mu_);
    while (segments_.front().seq < chunk.end_segment_) {
      done.push_back(SegmentPath(segments_.front().seq));
      segments_.erase(segments_.begin());
    }
    ack_offset_ = chunk.end_offset_;
    while (segments_.size() > 1 && ack_offset_ >= segments_.front().durable_end) {
      done.push_back(SegmentPath(segments_.front().seq));
      segments_.erase(segments_.begin());
      ack_offset_ = kSegmentHeaderBytes;
    }
    pending_bytes_ -= chunk.bytes_;
    pending_events_ -= chunk.event_count_;
    PublishGauges();
  }
  // Not synced: a deletion lost in a crash is redone by Open, which the ack file already told.
  for (const fs::path& path : done) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      spdlog::warn("event spool: could not delete acknowledged segment {}: {}", path.string(),
                   std::strerror(errno));
    }
  }
  return Status::Ok();
}

uint64_t EventSpool::pending_bytes() const {
  core::MutexLock lock(mu_);
  return pending_bytes_;
}

uint64_t EventSpool::pending_events() const {
  core::MutexLock lock(mu_);
  return pending_events_;
}

}  // namespace recserve::store
