#include "http/wire_json.h"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/json_text.h"
#include "core/text_input.h"
#include "core/timestamp.h"

namespace recserve::http {

void JsonWriter::Separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.empty()) {
    if (!first_.back()) out_.push_back(',');
    first_.back() = false;
  }
}

JsonWriter& JsonWriter::BeginObject() {
  if (out_.empty()) out_.reserve(512);  // one allocation for a typical response
  Separate();
  out_.push_back('{');
  first_.push_back(true);
  return *this;
}
JsonWriter& JsonWriter::EndObject() {
  out_.push_back('}');
  first_.pop_back();
  return *this;
}
JsonWriter& JsonWriter::BeginArray() {
  Separate();
  out_.push_back('[');
  first_.push_back(true);
  return *this;
}
JsonWriter& JsonWriter::EndArray() {
  out_.push_back(']');
  first_.pop_back();
  return *this;
}
JsonWriter& JsonWriter::Key(std::string_view key) {
  String(key);
  out_.push_back(':');
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::String(std::string_view value) {
  if (!after_key_) Separate();
  after_key_ = false;
  AppendJsonString(out_, value);
  return *this;
}

JsonWriter& JsonWriter::Number(double value) {
  Separate();
  if (!std::isfinite(value)) {
    out_ += "null";
  } else if (value == std::trunc(value) && std::fabs(value) < 1e15) {
    // Counts (popularity, trending) are whole numbers: integer formatting is much cheaper than
    // the shortest-round-trip float algorithm and prints the same digits.
    fmt::format_to(std::back_inserter(out_), "{}", static_cast<int64_t>(value));
  } else {
    fmt::format_to(std::back_inserter(out_), "{}", value);
  }
  return *this;
}
JsonWriter& JsonWriter::Int(int64_t value) {
  Separate();
  fmt::format_to(std::back_inserter(out_), "{}", value);
  return *this;
}
JsonWriter& JsonWriter::Bool(bool value) {
  Separate();
  out_ += value ? "true" : "false";
  return *this;
}
JsonWriter& JsonWriter::Null() {
  Separate();
  out_ += "null";
  return *this;
}
JsonWriter& JsonWriter::StringOrNull(std::string_view value) {
  return value.empty() ? Null() : String(value);
}
JsonWriter& JsonWriter::Items(const std::vector<engine::ScoredItem>& items) {
  BeginArray();
  for (const auto& item : items) {
    BeginObject().Key("item_id").String(item.item_id).Key("score").Number(item.score).EndObject();
  }
  return EndArray();
}

namespace {

// Limits on any JSON body this file parses, enforced while parsing (nlohmann's SAX interface),
// so a hostile body is refused before a large tree is built: at most kMaxJsonValues values
// (a full batch of events uses about 5,000) nested at most kMaxJsonDepth deep.
constexpr size_t kMaxJsonValues = 20000;
constexpr size_t kMaxJsonDepth = 16;

// The latest event time accepted, as a number or a string: 9999-12-31T23:59:59Z.
constexpr int64_t kMaxEventTimestamp = 253402300799;

// Builds the document while counting values and depth; stops the parse at the first limit.
class BoundedDomBuilder final : public nlohmann::json_sax<nlohmann::json> {
 public:
  nlohmann::json root;
  std::string error;  // non-empty: the parse was stopped, with this reason

  bool null() override { return Put(nullptr); }
  bool boolean(bool v) override { return Put(v); }
  bool number_integer(number_integer_t v) override { return Put(v); }
  bool number_unsigned(number_unsigned_t v) override { return Put(v); }
  bool number_float(number_float_t v, const string_t&) override { return Put(v); }
  bool string(string_t& v) override { return Put(std::move(v)); }
  bool binary(binary_t& v) override { return Put(nlohmann::json::binary(std::move(v))); }
  bool start_object(std::size_t) override { return Open(nlohmann::json::object()); }
  bool key(string_t& k) override {
    key_ = std::move(k);
    return true;
  }
  bool end_object() override { return Close(); }
  bool start_array(std::size_t) override { return Open(nlohmann::json::array()); }
  bool end_array() override { return Close(); }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception&) override {
    if (error.empty()) error = "body is not valid JSON (at byte " + std::to_string(position) + ")";
    return false;
  }

 private:
  template <typename V>
  nlohmann::json* Insert(V&& value) {
    if (++values_ > kMaxJsonValues) {
      error = "body has more than " + std::to_string(kMaxJsonValues) + " JSON values";
      return nullptr;
    }
    if (stack_.empty()) {
      root = std::forward<V>(value);
      return &root;
    }
    nlohmann::json& parent = *stack_.back();
    if (parent.is_array()) {
      parent.push_back(std::forward<V>(value));
      return &parent.back();
    }
    nlohmann::json& slot = parent[key_];
    slot = std::forward<V>(value);
    return &slot;
  }
  template <typename V>
  bool Put(V&& value) {
    return Insert(std::forward<V>(value)) != nullptr;
  }
  bool Open(nlohmann::json container) {
    if (stack_.size() >= kMaxJsonDepth) {
      error = "body nests JSON deeper than " + std::to_string(kMaxJsonDepth) + " levels";
      return false;
    }
    nlohmann::json* at = Insert(std::move(container));
    if (at == nullptr) return false;
    stack_.push_back(at);
    return true;
  }
  bool Close() {
    stack_.pop_back();
    return true;
  }

  std::vector<nlohmann::json*> stack_;
  std::string key_;
  size_t values_ = 0;
};

// The document of `body`, or InvalidArgument saying why it was refused.
Result<nlohmann::json> ParseBounded(std::string_view body) {
  BoundedDomBuilder builder;
  bool ok = nlohmann::json::sax_parse(body, &builder, nlohmann::json::input_format_t::json,
                                      /*strict=*/true, /*ignore_comments=*/false);
  if (!ok || !builder.error.empty()) {
    return InvalidArgument(builder.error.empty() ? "body is not valid JSON" : builder.error);
  }
  return std::move(builder.root);
}

Status DecodeId(const nlohmann::json& object, const char* field, const std::string& where,
                std::string& out) {
  auto it = object.find(field);
  if (it == object.end() || it->is_null()) {
    return InvalidArgument(where + field + ": missing");
  }
  if (it->is_string()) {
    out = it->get<std::string>();
  } else if (it->is_number_integer()) {
    out = it->dump();
  } else {
    return InvalidArgument(where + field + ": must be a string or an integer");
  }
  return Status::Ok();
}

Status DecodeEvent(const nlohmann::json& j, size_t index, engine::Event& event) {
  std::string where = "events[" + std::to_string(index) + "].";
  if (!j.is_object())
    return InvalidArgument(where.substr(0, where.size() - 1) + ": must be an object");
  RECSERVE_RETURN_IF_ERROR(DecodeId(j, "user_id", where, event.user_id));
  RECSERVE_RETURN_IF_ERROR(DecodeId(j, "item_id", where, event.item_id));
  auto type = j.find("event_type");
  if (type == j.end() || !type->is_string()) {
    return InvalidArgument(where + "event_type: must be a string");
  }
  event.event_type = type->get<std::string>();
  // Optional: the client's own id makes a retried event apply once (docs/API.md).
  if (j.contains("event_id") && !j["event_id"].is_null()) {
    RECSERVE_RETURN_IF_ERROR(DecodeId(j, "event_id", where, event.event_id));
  }
  auto ts = j.find("timestamp");
  if (ts == j.end() || ts->is_null()) {
    event.timestamp.reset();
  } else if (ts->is_number()) {
    double v = ts->get<double>();
    if (!std::isfinite(v) || v < 0 || v > static_cast<double>(kMaxEventTimestamp)) {
      return InvalidArgument(where + "timestamp: out of range");
    }
    event.timestamp = static_cast<int64_t>(v);
  } else if (ts->is_string()) {
    Result<int64_t> parsed = ParseTimestamp(ts->get_ref<const std::string&>());
    if (!parsed.ok()) {
      return InvalidArgument(where + "timestamp: not unix seconds or an ISO-8601 date-time");
    }
    // The same range as a number: a date before 1970 is as out of range as a negative number.
    if (*parsed < 0 || *parsed > kMaxEventTimestamp) {
      return InvalidArgument(where + "timestamp: out of range");
    }
    event.timestamp = *parsed;
  } else {
    return InvalidArgument(where + "timestamp: must be unix seconds or an ISO-8601 string");
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<engine::Event>> DecodeEvents(std::string_view body) {
  auto parsed = ParseBounded(body);
  if (!parsed.ok()) return parsed.status();
  const nlohmann::json& doc = *parsed;
  std::vector<engine::Event> events;
  if (doc.is_object()) {
    events.resize(1);
    RECSERVE_RETURN_IF_ERROR(DecodeEvent(doc, 0, events[0]));
    return events;
  }
  if (!doc.is_array()) return InvalidArgument("body must be an event object or an array of them");
  if (doc.empty()) return InvalidArgument("the event array is empty");
  if (doc.size() > kMaxEventsPerBatch) {
    return InvalidArgument("at most 1000 events per request, got " + std::to_string(doc.size()));
  }
  events.resize(doc.size());
  for (size_t i = 0; i < doc.size(); ++i) {
    RECSERVE_RETURN_IF_ERROR(DecodeEvent(doc[i], i, events[i]));
  }
  return events;
}

Result<engine::ReloadRequest> DecodeReloadRequest(std::string_view body) {
  engine::ReloadRequest request;
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return request;
  auto parsed = ParseBounded(body);
  if (!parsed.ok()) return parsed.status();
  const nlohmann::json& doc = *parsed;
  if (!doc.is_object()) return InvalidArgument("body must be a JSON object");
  if (doc.empty()) return request;
  for (const auto& [key, value] : doc.items()) {
    if (key == "mode") {
      if (!value.is_string()) return InvalidArgument("\"mode\" must be a string");
      const auto& mode = value.get_ref<const std::string&>();
      if (mode == "shadow") {
        request.mode = engine::ReloadMode::kShadow;
      } else if (mode == "primary") {
        request.mode = engine::ReloadMode::kPrimary;
      } else if (mode == "rollback") {
        request.mode = engine::ReloadMode::kRollback;
      } else if (mode == "refresh") {
        request.mode = engine::ReloadMode::kRefresh;
      } else {
        return InvalidArgument("\"mode\" must be shadow, primary, rollback or refresh");
      }
    } else if (key == "source") {
      if (!value.is_string()) return InvalidArgument("\"source\" must be a string");
      request.source = value.get<std::string>();
    } else if (key == "rollout") {
      if (!value.is_number()) return InvalidArgument("\"rollout\" must be a number within 0..1");
      request.rollout = value.get<double>();
    } else {
      return InvalidArgument("unknown key \"" + PrintableExcerpt(key, 40) +
                             "\" (expected mode, source, rollout)");
    }
  }
  if (!doc.contains("mode")) return InvalidArgument("\"mode\" is required");
  return request;
}

Result<std::vector<std::pair<resilience::FaultOperation, resilience::FaultSpec>>>
DecodeFaultSettings(std::string_view body, const resilience::FaultInjector& current) {
  auto parsed = ParseBounded(body);
  if (!parsed.ok()) return parsed.status();
  const nlohmann::json& doc = *parsed;
  if (!doc.is_object() || doc.empty()) {
    return InvalidArgument("body must be an object keyed by operation (ranking, redis, handler)");
  }
  std::vector<std::pair<resilience::FaultOperation, resilience::FaultSpec>> out;
  for (const auto& [name, settings] : doc.items()) {
    auto operation = resilience::ParseFaultOperation(name);
    if (!operation) {
      return InvalidArgument("unknown operation \"" + PrintableExcerpt(name, 40) +
                             "\" (expected ranking, redis, handler)");
    }
    if (!settings.is_object()) return InvalidArgument(name + " must be an object");  // known name
    resilience::FaultSpec spec = current.Get(*operation);
    for (const auto& [key, value] : settings.items()) {
      if (key == "delay_ms") {
        if (!value.is_number_integer() || value.get<int64_t>() < 0 ||
            value.get<int64_t>() > resilience::FaultInjector::kMaxDelay.count()) {
          return InvalidArgument(name + ".delay_ms must be an integer within 0..60000");
        }
        spec.delay = std::chrono::milliseconds(value.get<int64_t>());
      } else if (key == "failure_rate") {
        if (!value.is_number() || !(value.get<double>() >= 0 && value.get<double>() <= 1)) {
          return InvalidArgument(name + ".failure_rate must be a number within 0..1");
        }
        spec.failure_rate = value.get<double>();
      } else {
        return InvalidArgument("unknown key \"" + name + "." + PrintableExcerpt(key, 40) +
                               "\" (expected delay_ms, failure_rate)");
      }
    }
    out.emplace_back(*operation, spec);
  }
  return out;
}

}  // namespace recserve::http
