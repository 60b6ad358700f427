#pragma once
// JSON on the wire: a small append-only writer for responses (hot path, no DOM allocations) and
// the decoder of POST /events bodies. Parsing uses nlohmann::json with exceptions caught here;
// nothing throws out of this file.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "engine/live_state.h"
#include "engine/model_manager.h"
#include "engine/serving_model.h"
#include "resilience/fault_injector.h"

namespace recserve::http {

// Appends JSON text to a string. The caller is responsible for structure (commas are handled by
// Key()/Value() through a one-level "first element" flag per open container).
class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);  // core/json_text.h's AppendJsonString
  JsonWriter& Number(double value);            // non-finite numbers are written as null
  JsonWriter& Int(int64_t value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  // String, or null when empty.
  JsonWriter& StringOrNull(std::string_view value);
  JsonWriter& Items(const std::vector<engine::ScoredItem>& items);  // [{item_id, score}, ...]

  std::string& str() { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void Separate();
  std::string out_;
  std::vector<bool> first_;  // one flag per open container
  bool after_key_ = false;
};

inline constexpr size_t kMaxEventsPerBatch = 1000;

// Decodes a POST /events body: one event object or an array of 1..1000 of them. Ids may be JSON
// strings or integers; `timestamp` is unix seconds (a number) or a string in the grammar of
// core/timestamp.h, within 1970-01-01..9999-12-31, or absent/null (now). InvalidArgument naming the
// event index and field for anything else.
Result<std::vector<engine::Event>> DecodeEvents(std::string_view body);

// Decodes a POST /models/reload body (docs/API.md). An empty (or all-whitespace) body and `{}`
// mean a refresh. Keys: "mode" ("shadow" | "primary" | "rollback" | "refresh"; required in a
// non-empty object), "source" (string), "rollout" (number). InvalidArgument naming the key for an
// unknown key, a wrong type or an unknown mode; the combination rules are ModelManager::Reload's.
Result<engine::ReloadRequest> DecodeReloadRequest(std::string_view body);

// Decodes a POST /admin/faults body: an object keyed by operation ("ranking", "redis"), each an
// object with "delay_ms" (integer 0..60000) and/or "failure_rate" (number 0..1); a field left out
// keeps its current value (taken from `current`). InvalidArgument naming the key otherwise.
Result<std::vector<std::pair<resilience::FaultOperation, resilience::FaultSpec>>>
DecodeFaultSettings(std::string_view body, const resilience::FaultInjector& current);

}  // namespace recserve::http
