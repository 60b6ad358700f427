// Fuzz target: a POST /events body → http::DecodeEvents → engine::LiveState::Apply, the path of
// ApiService::Events without the transport.
//
// Contract checked (docs/API.md "POST /events", docs/FUZZING.md):
// - a rejected body is InvalidArgument with a non-empty message;
// - an accepted body holds 1..kMaxEventsPerBatch events;
// - writing the decoded events back as JSON with http::JsonWriter and decoding that again gives
//   the same events (ids, event type and timestamp survive the wire unchanged);
// - LiveState::Apply either applies the whole batch (every user's recent items then start with
//   that user's last item in the batch) or rejects it with InvalidArgument naming "events[i]."
//   and changes nothing.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/live_state.h"
#include "fuzz_contract.h"
#include "http/wire_json.h"

namespace {

using recserve::engine::Event;

// A fixed clock: the same input always takes the same path (2026-11-29T00:00:00Z).
constexpr int64_t kNow = 1795910400;

std::string Encode(const std::vector<Event>& events) {
  recserve::http::JsonWriter w;
  w.BeginArray();
  for (const Event& e : events) {
    w.BeginObject()
        .Key("user_id")
        .String(e.user_id)
        .Key("item_id")
        .String(e.item_id)
        .Key("event_type")
        .String(e.event_type)
        .Key("timestamp");
    if (e.timestamp) {
      w.Int(*e.timestamp);
    } else {
      w.Null();
    }
    w.EndObject();
  }
  w.EndArray();
  return w.Take();
}

bool SameEvents(const std::vector<Event>& a, const std::vector<Event>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].user_id != b[i].user_id || a[i].item_id != b[i].item_id ||
        a[i].event_type != b[i].event_type || a[i].timestamp != b[i].timestamp) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto decoded = recserve::http::DecodeEvents(body);
  if (!decoded.ok()) {
    FUZZ_REQUIRE(decoded.status().code() == recserve::StatusCode::kInvalidArgument,
                 decoded.status().ToString());
    FUZZ_REQUIRE(!decoded.status().message().empty(), body);
    return 0;
  }
  const std::vector<Event>& events = *decoded;
  FUZZ_REQUIRE(!events.empty() && events.size() <= recserve::http::kMaxEventsPerBatch, body);

  const std::string encoded = Encode(events);
  auto again = recserve::http::DecodeEvents(encoded);
  FUZZ_REQUIRE(again.ok(), again.status().ToString() + " for " + encoded);
  FUZZ_REQUIRE(SameEvents(events, *again), encoded);

  recserve::engine::LiveState live;
  recserve::Status applied = live.Apply(events, kNow);
  if (!applied.ok()) {
    FUZZ_REQUIRE(applied.code() == recserve::StatusCode::kInvalidArgument, applied.ToString());
    FUZZ_REQUIRE(applied.message().rfind("events[", 0) == 0, applied.message());
    for (const Event& e : events) {
      FUZZ_REQUIRE(live.RecentItems(e.user_id).empty(), applied.message());
    }
    return 0;
  }
  for (const Event& e : events) {
    std::string last_item_of_user;
    for (const Event& other : events) {
      if (other.user_id == e.user_id) last_item_of_user = other.item_id;
    }
    auto recent = live.RecentItems(e.user_id);
    FUZZ_REQUIRE(!recent.empty() && recent.front() == last_item_of_user, e.user_id);
  }
  return 0;
}
