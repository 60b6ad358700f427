#pragma once
// LoggedEvent: one accepted POST /events event as the fleet's shared event log (Redis Streams),
// the local spool and the pipeline's export hold it. The shapes below are a contract between
// replicas of different builds and the pipeline: change them only compatibly.
//
// Stream layout (docs/ARCHITECTURE.md, "The fleet's shared state"):
//   recserve:events:{e<N>}                  one stream per shard N in [0, shards); a user's events
//                                            all go to shard Fnv1a64(user_id) % shards, so one
//                                            user's events keep their order
//   recserve:events:{e<N>}:seen:<event_id>  dedup marker (SET NX, TTL = the dedup window)
//   recserve:events:{e<N>}:exported        the last stream id the pipeline exported (a reader's
//                                            checkpoint: trimming never passes it)
//   recserve:events:shards                  the shard count the fleet writes with
// The hash tag {e<N>} keeps a shard's stream, markers and checkpoint in one Redis Cluster slot
// (one script touches them atomically) while the shards spread over the cluster's masters.
//
// Entry fields (XADD ... field value ...), all text:
//   id  event id (client-supplied `event_id`, else derived from the batch: see DeriveEventId)
//   u   user id        i   item id        t   event type
//   ts  event time, unix seconds (resolved at acceptance: every replica applies the same time)
//   at  unix milliseconds when the receiving replica accepted it (event-to-effect delay)
//   o   origin: 16 hex digits naming the accepting process (it skips its own events)

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace recserve::store {

struct LoggedEvent {
  std::string event_id;
  std::string user_id;
  std::string item_id;
  std::string event_type;
  int64_t timestamp = 0;    // unix seconds
  int64_t accepted_ms = 0;  // unix milliseconds at acceptance
  uint64_t origin = 0;      // accepting process

  bool operator==(const LoggedEvent&) const = default;
};

inline constexpr std::string_view kEventKeyPrefix = "recserve:events:";
inline constexpr std::string_view kEventShardCountKey = "recserve:events:shards";

// The shard of a user: Fnv1a64(user_id) % shards (shards >= 1).
uint32_t EventShardFor(std::string_view user_id, uint32_t shards);
// "{e<N>}": the hash tag every key of shard N carries.
std::string EventShardTag(uint32_t shard);
// "recserve:events:{e<N>}".
std::string EventStreamKey(uint32_t shard);
// "recserve:events:{e<N>}:seen:" (append the event id).
std::string EventSeenKeyPrefix(uint32_t shard);
// "recserve:events:{e<N>}:exported".
std::string EventExportedKey(uint32_t shard);

// The id of event `index` of a batch without client ids: "b" + the first 32 hex digits of the
// SHA-256 of the request body + ":" + index. A retried identical body gets the same ids, so it
// is applied once; a client that may legitimately send identical bodies sends `event_id`.
std::string DeriveEventId(std::string_view body, size_t index);

// The XADD field/value pairs of an event, in the order above.
std::vector<std::pair<std::string, std::string>> EventFields(const LoggedEvent& event);
// An event from a stream entry's field/value pairs (any order; unknown fields are ignored so a
// newer writer can add fields). InvalidArgument naming the missing or malformed field.
Result<LoggedEvent> EventFromFields(const std::vector<std::pair<std::string, std::string>>& fields);

// 16 lower-case hex digits.
std::string OriginHex(uint64_t origin);

// One line per event for the spool's records: the seven fields above, tab-separated, in order
// (ids never hold control characters: core/external_id.h). EncodeEventLines joins events with
// '\n'; DecodeEventLines splits them back (InvalidArgument on a malformed line).
std::string EncodeEventLines(const std::vector<LoggedEvent>& events);
Result<std::vector<LoggedEvent>> DecodeEventLines(std::string_view text);

}  // namespace recserve::store
