#pragma once
// EventSpool: the local durable spool of POST /events batches while the shared event log (Redis
// Streams, store/logged_event.h) is unavailable. A batch is answered 200 only once it is durably
// recorded somewhere; here that means appended to a segment file and fdatasynced. A replayer
// later reads the oldest records, writes them to Redis and acknowledges them. Delivery is
// at-least-once: after a kill -9 at any point a record may be replayed again (the shared log
// dedups by event id) but an appended record is never lost.
//
// On disk (EVENT_SPOOL_DIR, created 0700):
//   spool-<12 digits>.seg  segments, replayed in name order. Each starts with an 8-byte header
//                          ("RSEV" + u32 version 1, little-endian) followed by records
//                          [u32 payload length LE][u32 CRC-32 of payload LE][payload], the payload
//                          being one batch as EncodeEventLines text. A segment rolls past
//                          segment_bytes; fully acknowledged segments are deleted.
//   ack                    the replay position: "segment <n>\noffset <bytes>\n", replaced with
//                          core/durable_file.h WriteFileAtomically. Records of segments before
//                          <n>, and of segment <n> ending at or before <bytes>, are acknowledged.
//   quarantine/            bytes recovery refused to replay (see Open), kept for an operator.
//
// Group commit: Append writes its record under the mutex, then waits until a sync covers it. The
// first waiter with no sync in flight becomes the leader: it fdatasyncs the segment, outside the
// mutex, for every record written before it started, then wakes the rest; a waiter whose record
// came later leads the next round. N concurrent appends cost about two fdatasyncs, not N.
//
// Thread-safety: Append, pending_bytes and pending_events from any number of threads at once.
// ReadOldest and Acknowledge are meant for one replayer thread; they run concurrently with
// Appends and are serialised against each other by their own mutex.

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/thread_annotations.h"
#include "store/logged_event.h"

namespace recserve::observe {
class Counter;
class Gauge;
class Registry;
}  // namespace recserve::observe

namespace recserve::store {

struct EventSpoolOptions {
  // EVENT_SPOOL_DIR: created (mode 0700, parents as needed) when missing.
  std::filesystem::path dir;
  // EVENT_SPOOL_MAX_BYTES: bound on unacknowledged record bytes (headers and payloads). Disk use
  // is at most this plus one partly acknowledged segment plus 8 bytes per segment.
  uint64_t max_bytes = 256ull << 20;
  // A segment rolls to the next file once a record would take it past this size (a single
  // larger record still gets a segment of its own).
  uint64_t segment_bytes = 16ull << 20;
};

class EventSpool {
 public:
  // Largest record payload Append takes (and recovery believes a length field for).
  static constexpr uint32_t kMaxRecordPayloadBytes = 64u << 20;

  // The oldest unacknowledged records ReadOldest returned, and where they lie (opaque).
  class Chunk {
   public:
    std::vector<LoggedEvent> events;
    bool empty() const { return events.empty(); }

   private:
    friend class EventSpool;
    uint64_t begin_segment_ = 0;
    uint64_t begin_offset_ = 0;
    uint64_t end_segment_ = 0;
    uint64_t end_offset_ = 0;
    uint64_t bytes_ = 0;        // record bytes (headers + payloads) the chunk spans
    uint64_t event_count_ = 0;  // events.size() as read (the caller may move events out)
  };

  // Opens or creates options.dir, removes what the ack file says is replayed, and recovers each
  // remaining segment:
  //   - a torn record (cut short by the end of the file) or a checksum-failing record that ends
  //     exactly at the end of the LAST segment is an append that never completed: the file is
  //     truncated before it (recovered_total{kind="torn_tail"}, a warning log);
  //   - any other bad record (checksum, impossible length, bad header, a short non-last segment)
  //     moves the rest of its segment to quarantine/ and keeps the records before it
  //     (recovered_total{kind="quarantined"}, a warning log).
  // Segments left without records are deleted; appends go to a fresh segment. Corrupt data never
  // fails Open; an I/O error (unreadable or uncreatable directory, failed rename, ...) does:
  // Unavailable. `registry` may be null (no metrics); it must outlive the spool.
  static Result<std::unique_ptr<EventSpool>> Open(EventSpoolOptions options,
                                                  observe::Registry* registry);

  ~EventSpool();
  EventSpool(const EventSpool&) = delete;
  EventSpool& operator=(const EventSpool&) = delete;

  // Appends `batch` as one record; returns OK only once the record is on disk (fdatasync of the
  // segment, and a directory fsync when a new segment was created). An empty batch is OK and
  // writes nothing.
  //   ResourceExhausted  the record would take the unacknowledged bytes past max_bytes (or is
  //                      larger than kMaxRecordPayloadBytes); nothing was written.
  //   Unavailable        an I/O error. A failed write is cut off again; after a failed fdatasync
  //                      the kernel may have dropped the dirty pages, so the spool refuses every
  //                      later Append until it is reopened (the record may or may not survive:
  //                      the caller retries, the shared log dedups).
  Status Append(const std::vector<LoggedEvent>& batch) LOCKS_EXCLUDED(mu_);

  // The oldest unacknowledged, durable records: whole records (batches) in append order, adding
  // records while the total stays within max_events, but always at least one record when there
  // is one (so a batch larger than max_events still comes out whole). Repeated calls without an
  // Acknowledge return the same records. An empty chunk when nothing is pending.
  // DataLoss when a record fails its checksum or decoding after Open had accepted it (the disk
  // changed under the process); reopening quarantines it.
  // REQUIRES: max_events > 0.
  Result<Chunk> ReadOldest(size_t max_events) LOCKS_EXCLUDED(replay_mu_, mu_);

  // Marks every record up to and including `chunk` as replayed: the ack file is replaced
  // durably before the in-memory position moves, then fully acknowledged segments are deleted.
  // OK for an empty chunk. FailedPrecondition when `chunk` does not start at the oldest
  // unacknowledged record (already acknowledged, or from another spool); Unavailable when the
  // ack file cannot be written (the position stays; the chunk may be acknowledged again).
  Status Acknowledge(const Chunk& chunk) LOCKS_EXCLUDED(replay_mu_, mu_);

  // Unacknowledged record bytes and events (including records whose Append is still syncing).
  uint64_t pending_bytes() const LOCKS_EXCLUDED(mu_);
  uint64_t pending_events() const LOCKS_EXCLUDED(mu_);

 private:
  struct Metrics;
  struct Segment {
    uint64_t seq = 0;
    // Bytes of the file readers may use: records up to here are durable. For the active
    // segment this trails the write offset until a sync covers it.
    uint64_t durable_end = 0;
  };

  EventSpool(EventSpoolOptions options, std::unique_ptr<Metrics> metrics);

  std::filesystem::path SegmentPath(uint64_t seq) const;
  // Creates segment `seq` (header written and synced, directory synced) and makes it the active
  // segment.
  Status StartSegment(uint64_t seq) EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Syncs and closes the active segment and starts the next one. Waits out a sync in flight.
  Status RollSegment() EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Becomes the group-commit leader: fdatasyncs the active segment outside mu_ for every record
  // written so far. REQUIRES: !sync_in_progress_.
  void SyncAsLeader() EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PublishGauges() EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Open's recovery: applies the ack file, scans, truncates or quarantines, starts a segment.
  Status Recover() LOCKS_EXCLUDED(mu_);

  const EventSpoolOptions options_;
  const std::unique_ptr<Metrics> metrics_;  // null without a registry

  // Serialises ReadOldest and Acknowledge (the replayer); taken before mu_.
  core::Mutex replay_mu_ ACQUIRED_BEFORE(mu_);

  mutable core::Mutex mu_;
  std::condition_variable_any sync_done_;  // a sync finished (or failed); waits on mu_
  // Segments holding unacknowledged records or the active one, oldest first; never empty after
  // Open. The last is the active segment.
  std::vector<Segment> segments_ GUARDED_BY(mu_);
  // Offset in segments_.front() where the unacknowledged records start.
  uint64_t ack_offset_ GUARDED_BY(mu_) = 0;
  int active_fd_ GUARDED_BY(mu_) = -1;
  int lock_fd_ = -1;  // holds flock(LOCK_EX) on dir/LOCK for the spool's lifetime
  uint64_t write_offset_ GUARDED_BY(mu_) = 0;    // end of the active segment's written records
  uint64_t written_ticket_ GUARDED_BY(mu_) = 0;  // records written, counted since Open
  uint64_t synced_ticket_ GUARDED_BY(mu_) = 0;   // records known durable
  bool sync_in_progress_ GUARDED_BY(mu_) = false;
  Status io_error_ GUARDED_BY(mu_);  // sticky after a failed fdatasync
  uint64_t pending_bytes_ GUARDED_BY(mu_) = 0;
  uint64_t pending_events_ GUARDED_BY(mu_) = 0;
};

}  // namespace recserve::store
