// EventSpool against real files in a private temporary directory: round trips, segment order,
// the size bound, reopen and recovery from torn tails and corrupt records (made by cutting and
// flipping the segment files), concurrent appends, and a forked appender killed with SIGKILL at
// a random point: every batch whose Append had returned must be there after reopen.
#include "store/event_spool.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "observe/metrics.h"

namespace recserve::store {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kSegmentHeaderBytes = 8;
constexpr uint64_t kRecordHeaderBytes = 8;

// Batch `batch` of `size` events; event j has id "<batch>-<j>".
std::vector<LoggedEvent> Batch(uint64_t batch, size_t size) {
  std::vector<LoggedEvent> events;
  for (size_t j = 0; j < size; ++j) {
    events.push_back(LoggedEvent{
        fmt::format("{}-{}", batch, j), fmt::format("u{}", batch % 97), fmt::format("i{}", j),
        "click", 1700000000 + static_cast<int64_t>(batch), 1700000000123, 0xabcdef0123456789ull});
  }
  return events;
}

// Bytes one batch takes on disk as a record.
uint64_t RecordBytes(const std::vector<LoggedEvent>& batch) {
  return kRecordHeaderBytes + EncodeEventLines(batch).size();
}

// The batch number of an event id "<batch>-<j>".
uint64_t BatchOf(const LoggedEvent& event) {
  return std::stoull(event.event_id.substr(0, event.event_id.find('-')));
}

class EventSpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("recserve-event-spool-{}-{}", ::getpid(),
                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  EventSpoolOptions Options(uint64_t max_bytes = 1ull << 30, uint64_t segment_bytes = 1ull << 20) {
    EventSpoolOptions options;
    options.dir = dir_;
    options.max_bytes = max_bytes;
    options.segment_bytes = segment_bytes;
    return options;
  }

  // Opens with a fresh registry (so recovery counters start at 0 for each open).
  std::unique_ptr<EventSpool> Open(const EventSpoolOptions& options) {
    registry_ = std::make_unique<observe::Registry>();
    auto spool = EventSpool::Open(options, registry_.get());
    EXPECT_TRUE(spool.ok()) << spool.status().ToString();
    return spool.ok() ? std::move(spool).value() : nullptr;
  }

  double CounterValue(const std::string& name, const std::string& label, const std::string& value) {
    return registry_->AddCounter(name, "", {label}).WithLabels({value}).Value();
  }
  double Recovered(const std::string& kind) {
    return CounterValue("recommendation_event_spool_recovered_total", "kind", kind);
  }
  double Appends(const std::string& result) {
    return CounterValue("recommendation_event_spool_appends_total", "result", result);
  }
  double GaugeValue(const std::string& name) { return registry_->AddGauge(name, "").Get().Value(); }

  // Every pending event, without acknowledging.
  static std::vector<LoggedEvent> ReadAll(EventSpool& spool) {
    auto chunk = spool.ReadOldest(std::numeric_limits<size_t>::max());
    EXPECT_TRUE(chunk.ok()) << chunk.status().ToString();
    return chunk.ok() ? chunk->events : std::vector<LoggedEvent>{};
  }

  // Reads and acknowledges chunks of up to `max_events` until nothing is pending.
  static std::vector<LoggedEvent> DrainAll(EventSpool& spool, size_t max_events) {
    std::vector<LoggedEvent> all;
    for (;;) {
      auto chunk = spool.ReadOldest(max_events);
      EXPECT_TRUE(chunk.ok()) << chunk.status().ToString();
      if (!chunk.ok() || chunk->empty()) break;
      all.insert(all.end(), chunk->events.begin(), chunk->events.end());
      Status acked = spool.Acknowledge(*chunk);
      EXPECT_TRUE(acked.ok()) << acked.ToString();
      if (!acked.ok()) break;
    }
    return all;
  }

  std::vector<fs::path> Segments() const {
    std::vector<fs::path> segments;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      if (entry.path().extension() == ".seg") segments.push_back(entry.path());
    }
    std::sort(segments.begin(), segments.end());
    return segments;
  }
  uint64_t SegmentBytesOnDisk() const {
    uint64_t total = 0;
    for (const fs::path& path : Segments()) total += fs::file_size(path);
    return total;
  }
  std::vector<fs::path> QuarantineFiles() const {
    std::vector<fs::path> files;
    if (!fs::exists(dir_ / "quarantine")) return files;
    for (const auto& entry : fs::directory_iterator(dir_ / "quarantine")) {
      files.push_back(entry.path());
    }
    return files;
  }

  static std::vector<LoggedEvent> Concat(uint64_t first, uint64_t last, size_t size) {
    std::vector<LoggedEvent> all;
    for (uint64_t b = first; b <= last; ++b) {
      std::vector<LoggedEvent> batch = Batch(b, size);
      all.insert(all.end(), batch.begin(), batch.end());
    }
    return all;
  }

  fs::path dir_;
  std::unique_ptr<observe::Registry> registry_;
};

TEST_F(EventSpoolTest, RoundTripKeepsEveryFieldAndCountsPending) {
  auto spool = Open(Options());
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(fs::status(dir_).permissions() & fs::perms::all, fs::perms::owner_all);
  EXPECT_EQ(spool->pending_events(), 0u);
  EXPECT_EQ(GaugeValue("recommendation_event_spool_bytes"), 0.0);
  EXPECT_EQ(Recovered("torn_tail"), 0.0);
  EXPECT_EQ(Recovered("quarantined"), 0.0);

  uint64_t bytes = 0;
  for (uint64_t b = 1; b <= 3; ++b) {
    ASSERT_TRUE(spool->Append(Batch(b, 4)).ok());
    bytes += RecordBytes(Batch(b, 4));
  }
  EXPECT_TRUE(spool->Append({}).ok());  // an empty batch writes nothing
  EXPECT_EQ(spool->pending_events(), 12u);
  EXPECT_EQ(spool->pending_bytes(), bytes);
  EXPECT_EQ(GaugeValue("recommendation_event_spool_bytes"), static_cast<double>(bytes));
  EXPECT_EQ(GaugeValue("recommendation_event_spool_events"), 12.0);
  EXPECT_EQ(Appends("ok"), 3.0);
  EXPECT_EQ(Appends("full"), 0.0);
  EXPECT_EQ(Appends("error"), 0.0);

  EXPECT_EQ(ReadAll(*spool), Concat(1, 3, 4));
  EXPECT_EQ(ReadAll(*spool), Concat(1, 3, 4)) << "reading without an ack must not consume";
  EXPECT_EQ(DrainAll(*spool, 1000), Concat(1, 3, 4));
  EXPECT_EQ(spool->pending_events(), 0u);
  EXPECT_EQ(spool->pending_bytes(), 0u);
  EXPECT_EQ(GaugeValue("recommendation_event_spool_events"), 0.0);
  EXPECT_TRUE(ReadAll(*spool).empty());
}

TEST_F(EventSpoolTest, ReadOldestReturnsWholeBatchesWithinMaxEvents) {
  auto spool = Open(Options());
  ASSERT_NE(spool, nullptr);
  for (uint64_t b = 1; b <= 4; ++b) ASSERT_TRUE(spool->Append(Batch(b, 3)).ok());

  auto chunk = spool->ReadOldest(5);  // a second batch would make 6
  ASSERT_TRUE(chunk.ok());
  EXPECT_EQ(chunk->events, Batch(1, 3));
  auto small = spool->ReadOldest(2);  // the first batch comes out whole even past max_events
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->events, Batch(1, 3));
  auto two = spool->ReadOldest(6);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->events, Concat(1, 2, 3));

  ASSERT_TRUE(spool->Acknowledge(*chunk).ok());
  EXPECT_EQ(spool->pending_events(), 9u);
  EXPECT_EQ(spool->Acknowledge(*chunk).code(), StatusCode::kFailedPrecondition)
      << "a chunk acknowledged twice";
  EXPECT_EQ(spool->Acknowledge(*two).code(), StatusCode::kFailedPrecondition)
      << "a chunk that no longer starts at the oldest record";
  EXPECT_EQ(DrainAll(*spool, 6), Concat(2, 4, 3));
}

TEST_F(EventSpoolTest, OrderIsKeptAcrossSegmentsAndAcknowledgedSegmentsAreDeleted) {
  auto spool = Open(Options(1ull << 30, 1024));
  ASSERT_NE(spool, nullptr);
  for (uint64_t b = 1; b <= 60; ++b) ASSERT_TRUE(spool->Append(Batch(b, 2)).ok());
  EXPECT_GT(Segments().size(), 5u);
  for (const fs::path& segment : Segments()) {
    EXPECT_LE(fs::file_size(segment), 1024 + RecordBytes(Batch(60, 2)));
  }
  EXPECT_EQ(ReadAll(*spool), Concat(1, 60, 2));
  EXPECT_EQ(DrainAll(*spool, 7), Concat(1, 60, 2));
  EXPECT_EQ(Segments().size(), 1u) << "only the active segment remains";
  ASSERT_TRUE(spool->Append(Batch(61, 2)).ok());
  EXPECT_EQ(ReadAll(*spool), Batch(61, 2));
}

TEST_F(EventSpoolTest, FullSpoolRefusesWithoutWritingAndAcknowledgingFreesSpace) {
  const uint64_t record = RecordBytes(Batch(1, 5));
  auto spool = Open(Options(3 * record + record / 2, 1ull << 20));
  ASSERT_NE(spool, nullptr);
  for (uint64_t b = 1; b <= 3; ++b) ASSERT_TRUE(spool->Append(Batch(b, 5)).ok());

  const uint64_t on_disk = SegmentBytesOnDisk();
  Status full = spool->Append(Batch(4, 5));
  EXPECT_EQ(full.code(), StatusCode::kResourceExhausted);
  const std::string prefix = fmt::format("event spool full: {} bytes unacknowledged of max {};",
                                         3 * record, 3 * record + record / 2);
  EXPECT_TRUE(full.message().starts_with(prefix)) << full.message();
  EXPECT_EQ(SegmentBytesOnDisk(), on_disk) << "a refused batch wrote bytes";
  EXPECT_EQ(spool->pending_events(), 15u);
  EXPECT_EQ(Appends("full"), 1.0);
  EXPECT_EQ(Appends("ok"), 3.0);

  auto chunk = spool->ReadOldest(5);
  ASSERT_TRUE(chunk.ok());
  ASSERT_TRUE(spool->Acknowledge(*chunk).ok());
  EXPECT_TRUE(spool->Append(Batch(4, 5)).ok());
  EXPECT_EQ(ReadAll(*spool), Concat(2, 4, 5));
  EXPECT_EQ(spool->Append(Batch(5, 5)).code(), StatusCode::kResourceExhausted);
}

TEST_F(EventSpoolTest, ReopenRecoversEverythingUnacknowledgedInOrder) {
  const EventSpoolOptions options = Options(1ull << 30, 512);
  {
    auto spool = Open(options);
    ASSERT_NE(spool, nullptr);
    for (uint64_t b = 1; b <= 20; ++b) ASSERT_TRUE(spool->Append(Batch(b, 2)).ok());
    auto chunk = spool->ReadOldest(6);  // batches 1..3
    ASSERT_TRUE(chunk.ok());
    ASSERT_EQ(chunk->events, Concat(1, 3, 2));
    ASSERT_TRUE(spool->Acknowledge(*chunk).ok());
  }
  auto spool = Open(options);
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(spool->pending_events(), 34u);
  EXPECT_EQ(GaugeValue("recommendation_event_spool_events"), 34.0);
  uint64_t bytes = 0;
  for (uint64_t b = 4; b <= 20; ++b) bytes += RecordBytes(Batch(b, 2));
  EXPECT_EQ(spool->pending_bytes(), bytes);
  EXPECT_EQ(Recovered("torn_tail"), 0.0);
  EXPECT_EQ(Recovered("quarantined"), 0.0);
  ASSERT_TRUE(spool->Append(Batch(21, 2)).ok());
  EXPECT_EQ(ReadAll(*spool), Concat(4, 21, 2));
}

TEST_F(EventSpoolTest, ASecondProcessCannotOpenTheSameDirectory) {
  auto spool = Open(Options());
  ASSERT_NE(spool, nullptr);
  auto second = EventSpool::Open(Options(), nullptr);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("in use by another process"), std::string::npos);
  spool.reset();  // closing releases the lock
  EXPECT_TRUE(EventSpool::Open(Options(), nullptr).ok());
}

TEST_F(EventSpoolTest, AcknowledgedRecordsNeverComeBackAfterReopen) {
  const EventSpoolOptions options = Options(1ull << 30, 700);
  uint64_t next = 1;
  uint64_t acked_through = 0;
  for (int round = 0; round < 6; ++round) {
    auto spool = Open(options);
    ASSERT_NE(spool, nullptr);
    std::vector<LoggedEvent> pending = ReadAll(*spool);
    ASSERT_EQ(pending, Concat(acked_through + 1, next - 1, 3)) << "round " << round;
    for (int i = 0; i < 9; ++i) ASSERT_TRUE(spool->Append(Batch(next++, 3)).ok());
    // Acknowledge a prefix that ends mid-segment (round 5 acknowledges everything).
    const size_t batches = round == 5 ? 1000 : 4 + static_cast<size_t>(round);
    auto chunk = spool->ReadOldest(batches * 3);
    ASSERT_TRUE(chunk.ok());
    ASSERT_TRUE(spool->Acknowledge(*chunk).ok());
    acked_through = BatchOf(chunk->events.back());
  }
  auto spool = Open(options);
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(spool->pending_events(), 0u);
  EXPECT_TRUE(ReadAll(*spool).empty());
  EXPECT_EQ(Segments().size(), 1u) << "fully acknowledged segments are deleted";
}

TEST_F(EventSpoolTest, TruncatedTailKeepsEveryCompleteRecordAndCountsTornTail) {
  const std::vector<LoggedEvent> last = Batch(5, 3);
  const uint64_t last_bytes = RecordBytes(last);
  // Cuts inside the last record: one byte, into its header, into its payload, all but a byte.
  for (uint64_t keep :
       {uint64_t{1}, uint64_t{4}, uint64_t{8}, uint64_t{9}, last_bytes / 2, last_bytes - 1}) {
    SCOPED_TRACE(fmt::format("bytes of the last record kept: {}", keep));
    fs::remove_all(dir_);
    {
      auto spool = Open(Options());
      ASSERT_NE(spool, nullptr);
      for (uint64_t b = 1; b <= 5; ++b) ASSERT_TRUE(spool->Append(Batch(b, 3)).ok());
    }
    ASSERT_EQ(Segments().size(), 1u);
    const fs::path segment = Segments().front();
    const uint64_t size = fs::file_size(segment);
    fs::resize_file(segment, size - last_bytes + keep);

    auto spool = Open(Options());
    ASSERT_NE(spool, nullptr);
    EXPECT_EQ(Recovered("torn_tail"), 1.0);
    EXPECT_EQ(Recovered("quarantined"), 0.0);
    EXPECT_EQ(fs::file_size(segment), size - last_bytes) << "the torn bytes are cut off";
    EXPECT_EQ(spool->pending_events(), 12u);
    ASSERT_TRUE(spool->Append(Batch(6, 3)).ok());
    std::vector<LoggedEvent> expected = Concat(1, 4, 3);
    std::vector<LoggedEvent> six = Batch(6, 3);
    expected.insert(expected.end(), six.begin(), six.end());
    EXPECT_EQ(ReadAll(*spool), expected);
    spool.reset();

    auto again = Open(Options());  // the repaired file reopens clean
    ASSERT_NE(again, nullptr);
    EXPECT_EQ(Recovered("torn_tail"), 0.0);
    EXPECT_EQ(ReadAll(*again), expected);
  }
}

TEST_F(EventSpoolTest, CutAtARecordBoundaryIsNotTorn) {
  {
    auto spool = Open(Options());
    ASSERT_NE(spool, nullptr);
    for (uint64_t b = 1; b <= 5; ++b) ASSERT_TRUE(spool->Append(Batch(b, 3)).ok());
  }
  const fs::path segment = Segments().front();
  fs::resize_file(segment, fs::file_size(segment) - RecordBytes(Batch(5, 3)));
  auto spool = Open(Options());
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(Recovered("torn_tail"), 0.0);
  EXPECT_EQ(ReadAll(*spool), Concat(1, 4, 3));
}

TEST_F(EventSpoolTest, ZeroFilledTailIsTorn) {
  {
    auto spool = Open(Options());
    ASSERT_NE(spool, nullptr);
    for (uint64_t b = 1; b <= 3; ++b) ASSERT_TRUE(spool->Append(Batch(b, 3)).ok());
  }
  const fs::path segment = Segments().front();
  const uint64_t size = fs::file_size(segment);
  fs::resize_file(segment, size + 300);  // size reached the disk, the data did not
  auto spool = Open(Options());
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(Recovered("torn_tail"), 1.0);
  EXPECT_EQ(Recovered("quarantined"), 0.0);
  EXPECT_EQ(fs::file_size(segment), size);
  EXPECT_EQ(ReadAll(*spool), Concat(1, 3, 3));
}

// Flips one byte of the file at `offset`.
void FlipByte(const fs::path& path, uint64_t offset) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  file.read(&c, 1);
  c = static_cast<char>(c ^ 0x20);
  file.seekp(static_cast<std::streamoff>(offset));
  file.write(&c, 1);
}

TEST_F(EventSpoolTest, FlippedByteMidSegmentQuarantinesTheRestAndKeepsTheRecordsBefore) {
  {
    auto spool = Open(Options());
    ASSERT_NE(spool, nullptr);
    for (uint64_t b = 1; b <= 10; ++b) ASSERT_TRUE(spool->Append(Batch(b, 3)).ok());
  }
  const fs::path segment = Segments().front();
  const uint64_t size = fs::file_size(segment);
  uint64_t bad = kSegmentHeaderBytes;  // start of batch 5's record
  for (uint64_t b = 1; b <= 4; ++b) bad += RecordBytes(Batch(b, 3));
  FlipByte(segment, bad + kRecordHeaderBytes + 5);

  auto spool = Open(Options());
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(Recovered("quarantined"), 1.0);
  EXPECT_EQ(Recovered("torn_tail"), 0.0);
  EXPECT_EQ(spool->pending_events(), 12u);
  EXPECT_EQ(fs::file_size(segment), bad);
  std::vector<fs::path> quarantined = QuarantineFiles();
  ASSERT_EQ(quarantined.size(), 1u);
  EXPECT_EQ(fs::file_size(quarantined.front()), size - bad) << "the rest of the segment is kept";
  ASSERT_TRUE(spool->Append(Batch(11, 3)).ok());
  std::vector<LoggedEvent> expected = Concat(1, 4, 3);
  std::vector<LoggedEvent> eleven = Batch(11, 3);
  expected.insert(expected.end(), eleven.begin(), eleven.end());
  EXPECT_EQ(ReadAll(*spool), expected);
}

TEST_F(EventSpoolTest, FlippedByteInTheLastRecordIsATornTail) {
  {
    auto spool = Open(Options());
    ASSERT_NE(spool, nullptr);
    for (uint64_t b = 1; b <= 4; ++b) ASSERT_TRUE(spool->Append(Batch(b, 3)).ok());
  }
  const fs::path segment = Segments().front();
  FlipByte(segment, fs::file_size(segment) - 3);
  auto spool = Open(Options());
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(Recovered("torn_tail"), 1.0);
  EXPECT_EQ(Recovered("quarantined"), 0.0);
  EXPECT_TRUE(QuarantineFiles().empty());
  EXPECT_EQ(ReadAll(*spool), Concat(1, 3, 3));
}

TEST_F(EventSpoolTest, DamageInAnOlderSegmentQuarantinesAndLaterSegmentsStay) {
  const EventSpoolOptions options = Options(1ull << 30, 400);
  {
    auto spool = Open(options);
    ASSERT_NE(spool, nullptr);
    for (uint64_t b = 1; b <= 30; ++b) ASSERT_TRUE(spool->Append(Batch(b, 2)).ok());
  }
  std::vector<fs::path> segments = Segments();
  ASSERT_GE(segments.size(), 3u);
  // The first segment's last record loses its final bytes: not the last segment, so not a torn
  // tail but damage, and its tail goes to quarantine. The second segment gets a bad header.
  const uint64_t first_size = fs::file_size(segments[0]);
  fs::resize_file(segments[0], first_size - 2);
  FlipByte(segments[1], 1);

  auto spool = Open(options);
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(Recovered("quarantined"), 2.0);
  EXPECT_EQ(Recovered("torn_tail"), 0.0);
  EXPECT_EQ(QuarantineFiles().size(), 2u);
  EXPECT_FALSE(fs::exists(segments[1])) << "a segment without a valid header is moved whole";
  std::vector<LoggedEvent> events = ReadAll(*spool);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(BatchOf(events.front()), 1u);
  EXPECT_EQ(BatchOf(events.back()), 30u);
  std::vector<uint64_t> batches;
  for (const LoggedEvent& e : events) {
    if (batches.empty() || batches.back() != BatchOf(e)) batches.push_back(BatchOf(e));
  }
  EXPECT_TRUE(std::is_sorted(batches.begin(), batches.end()));
  EXPECT_LT(batches.size(), 29u) << "records of the damaged segments are gone";
}

TEST_F(EventSpoolTest, ConcurrentAppendsFromEightThreadsArePresentExactlyOnce) {
  constexpr int kThreads = 8;
  constexpr uint64_t kBatchesPerThread = 150;
  const EventSpoolOptions options = Options(1ull << 30, 16 << 10);  // rolls under contention
  auto spool = Open(options);
  ASSERT_NE(spool, nullptr);
  std::atomic<int> failures{0};
  std::atomic<bool> stop_replayer{false};
  std::vector<LoggedEvent> replayed;
  // A replayer reads and acknowledges while the appenders write.
  std::thread replayer([&] {
    while (!stop_replayer.load()) {
      auto chunk = spool->ReadOldest(64);
      if (!chunk.ok() || !spool->Acknowledge(*chunk).ok()) {
        ++failures;
        return;
      }
      replayed.insert(replayed.end(), chunk->events.begin(), chunk->events.end());
      if (chunk->empty()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t i = 0; i < kBatchesPerThread; ++i) {
        if (!spool->Append(Batch(static_cast<uint64_t>(t) * 100000 + i, 5)).ok()) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  // Half of what remains is read after a reopen, the rest before.
  stop_replayer.store(true);
  replayer.join();
  ASSERT_EQ(failures.load(), 0);
  spool.reset();
  spool = Open(options);
  ASSERT_NE(spool, nullptr);
  std::vector<LoggedEvent> rest = DrainAll(*spool, 100);
  replayed.insert(replayed.end(), rest.begin(), rest.end());

  ASSERT_EQ(replayed.size(), kThreads * kBatchesPerThread * 5);
  std::set<std::string> ids;
  std::map<uint64_t, uint64_t> last_of_thread;
  for (size_t k = 0; k < replayed.size(); ++k) {
    EXPECT_TRUE(ids.insert(replayed[k].event_id).second) << replayed[k].event_id;
    const uint64_t batch = BatchOf(replayed[k]);
    auto [it, first] = last_of_thread.emplace(batch / 100000, batch);
    if (!first) {
      EXPECT_GE(batch, it->second) << "one thread's batches out of order";
      it->second = batch;
    }
  }
  EXPECT_EQ(ids.size(), kThreads * kBatchesPerThread * 5);
}

// The child of the crash test: opens the spool, runs a replayer thread that acknowledges
// (reporting "acknowledging through batch n" before the call and "acknowledged" after it), and
// appends batch after batch, reporting each one after its Append returned. Never returns.
struct Report {
  // 'B': Append(batch n) returned OK. 'P': Acknowledge of batches up to n is being called (they
  // may be gone). 'A': it returned (they must be gone).
  char kind;
  uint64_t n;
};
static_assert(sizeof(Report) <= PIPE_BUF, "one write(2) per report is atomic");

[[noreturn]] void RunCrashChild(const EventSpoolOptions& options, uint64_t first_batch, int fd) {
  auto opened = EventSpool::Open(options, nullptr);
  if (!opened.ok()) ::_exit(2);
  EventSpool& spool = **opened;
  auto report = [fd](char kind, uint64_t n) {
    Report r{kind, n};
    if (::write(fd, &r, sizeof(r)) != static_cast<ssize_t>(sizeof(r))) ::_exit(4);
  };
  std::thread replayer([&] {
    for (;;) {
      auto chunk = spool.ReadOldest(40);
      if (!chunk.ok()) ::_exit(5);
      if (chunk->empty()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        continue;
      }
      report('P', BatchOf(chunk->events.back()));
      if (!spool.Acknowledge(*chunk).ok()) ::_exit(6);
      report('A', BatchOf(chunk->events.back()));
    }
  });
  replayer.detach();
  for (uint64_t n = first_batch;; ++n) {
    if (!spool.Append(Batch(n, 1 + n % 7)).ok()) ::_exit(3);
    report('B', n);
  }
}

TEST_F(EventSpoolTest, KilledAppenderLosesNoBatchWhoseAppendReturned) {
  const EventSpoolOptions options = Options(1ull << 30, 8 << 10);
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE(fmt::format("seed {}", seed));
  std::mt19937 rng(seed);
  uint64_t acked_through = 0;   // over all rounds: batches whose Acknowledge returned
  uint64_t acking_through = 0;  // over all rounds: batches whose Acknowledge was called
  for (int round = 0; round < 6; ++round) {
    SCOPED_TRACE(fmt::format("round {}", round));
    const uint64_t first_batch = static_cast<uint64_t>(round + 1) * 1000000;
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      RunCrashChild(options, first_batch, fds[1]);
    }
    ::close(fds[1]);
    std::vector<uint64_t> appended;
    auto take = [&](const Report& r) {
      if (r.kind == 'B') appended.push_back(r.n);
      if (r.kind == 'A') acked_through = std::max(acked_through, r.n);
      if (r.kind == 'P') acking_through = std::max(acking_through, r.n);
    };
    // The kill lands a random time after the first Append returned, however slow the start.
    Report r{};
    ssize_t n = 0;
    while (appended.empty() &&
           (n = ::read(fds[0], &r, sizeof(r))) == static_cast<ssize_t>(sizeof(r))) {
      take(r);
    }
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 300)(rng)));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int wstatus = 0;
    ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL)
        << "the child stopped by itself, status " << wstatus;
    while ((n = ::read(fds[0], &r, sizeof(r))) == static_cast<ssize_t>(sizeof(r))) take(r);
    ::close(fds[0]);
    ASSERT_EQ(n, 0) << "a torn report";
    ASSERT_FALSE(appended.empty()) << "the child appended nothing before the kill";

    // Recovery, in this process, of what the killed child left.
    auto spool = Open(options);
    ASSERT_NE(spool, nullptr);
    std::vector<LoggedEvent> pending = ReadAll(*spool);
    std::map<uint64_t, size_t> events_of;
    uint64_t previous = 0;
    for (const LoggedEvent& e : pending) {
      const uint64_t batch = BatchOf(e);
      ASSERT_GE(batch, previous) << "order lost";
      previous = batch;
      ++events_of[batch];
    }
    for (const auto& [batch, count] : events_of) {
      EXPECT_EQ(count, 1 + batch % 7) << "batch " << batch << " is partial";
      EXPECT_GT(batch, acked_through) << "batch " << batch << " came back after its ack";
    }
    size_t missing = 0;
    for (uint64_t batch : appended) {
      if (batch > acking_through && !events_of.contains(batch)) ++missing;
    }
    EXPECT_EQ(missing, 0u) << "of " << appended.size() << " batches whose Append returned";
    // The previous rounds' unacknowledged batches are still there too (the next child replays
    // them); none of this round's reported batches may be absent.
  }
}

}  // namespace
}  // namespace recserve::store
