#include "store/feature_types.h"
#include "core/json_text.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <cmath>

namespace recserve::store {
namespace {

using nlohmann::json;

// Parses `text` and runs `read` on it; any parse or type error becomes DataLoss, so corrupt
// stored bytes never throw past this file.
template <typename T, typename Fn>
Result<T> DecodeWith(std::string_view text, const char* what, Fn read) {
  try {
    return read(json::parse(text));
  } catch (const json::exception& e) {
    return DataLoss(std::string("corrupt ") + what + " record: " + e.what());
  }
}

// Appends JSON text to a string. Hand-written because encoding 1M+ feature records through
// nlohmann::json (a node per value) dominated the publish step's CPU. Output is standard JSON
// read back by the nlohmann decoders below. Strings go through core/json_text.h's
// AppendJsonString, so invalid UTF-8 bytes become U+FFFD and the record always decodes.
// Non-finite doubles become null, as nlohmann writes them.
class JsonWriter {
 public:
  explicit JsonWriter(size_t reserve) { out_.reserve(reserve); }
  // Object keys come from data too (event types), so they are escaped like strings.
  JsonWriter& Key(std::string_view name) {
    String(name);
    out_ += ':';
    first_ = true;  // the value that follows takes no comma
    return *this;
  }
  JsonWriter& Open(char bracket) {
    Comma();
    out_ += bracket;
    first_ = true;
    return *this;
  }
  JsonWriter& Close(char bracket) {
    out_ += bracket;
    first_ = false;
    return *this;
  }
  JsonWriter& String(std::string_view text);
  template <typename Int>
  JsonWriter& Integer(Int value) {
    Comma();
    char buf[24];
    auto end = std::to_chars(buf, buf + sizeof buf, value).ptr;
    out_.append(buf, end);
    return *this;
  }
  JsonWriter& Double(double value) {
    Comma();
    if (!std::isfinite(value)) {
      out_ += "null";
      return *this;
    }
    char buf[32];
    auto end = std::to_chars(buf, buf + sizeof buf, value).ptr;  // shortest round-trip form
    out_.append(buf, end);
    return *this;
  }
  std::string Take() { return std::move(out_); }

 private:
  void Comma() {
    if (!first_) out_ += ',';
    first_ = false;
  }
  std::string out_;
  bool first_ = true;
};

JsonWriter& JsonWriter::String(std::string_view text) {
  Comma();
  AppendJsonString(out_, text);
  return *this;
}

}  // namespace

std::string EncodeUser(const UserFeatures& user) {
  JsonWriter w(64 + user.user_id.size() + 24 * user.recent.size() + 16 * user.event_counts.size());
  w.Open('{').Key("id").String(user.user_id).Key("recent").Open('[');
  for (const auto& r : user.recent) {
    w.Open('[').String(r.item_id).Integer(r.timestamp).Close(']');
  }
  w.Close(']').Key("events").Open('{');
  for (const auto& [type, n] : user.event_counts) w.Key(type).Integer(n);
  w.Close('}').Key("n").Integer(user.interaction_count);
  w.Key("first").Integer(user.first_seen).Key("last").Integer(user.last_seen).Close('}');
  return w.Take();
}

Result<UserFeatures> DecodeUser(std::string_view text) {
  return DecodeWith<UserFeatures>(text, "user", [](const json& j) {
    UserFeatures u;
    u.user_id = j.at("id").get<std::string>();
    for (const auto& r : j.at("recent")) {
      u.recent.push_back({r.at(0).get<std::string>(), r.at(1).get<int64_t>()});
    }
    for (const auto& [type, n] : j.at("events").items()) {
      u.event_counts.emplace_back(type, n.get<uint64_t>());
    }
    u.interaction_count = j.at("n").get<uint64_t>();
    u.first_seen = j.at("first").get<int64_t>();
    u.last_seen = j.at("last").get<int64_t>();
    return u;
  });
}

std::string EncodeItem(const ItemFeatures& item) {
  JsonWriter w(160 + item.item_id.size() + item.title.size() + 16 * item.tags.size());
  w.Open('{').Key("id").String(item.item_id).Key("title").String(item.title).Key("tags").Open('[');
  for (const auto& tag : item.tags) w.String(tag);
  w.Close(']').Key("pop").Integer(item.popularity).Key("decayed").Double(item.decayed_popularity);
  w.Key("t1h").Integer(item.trending_1h).Key("t24h").Integer(item.trending_24h);
  w.Key("created").Integer(item.created_at).Key("age").Integer(item.age_seconds).Close('}');
  return w.Take();
}

Result<ItemFeatures> DecodeItem(std::string_view text) {
  return DecodeWith<ItemFeatures>(text, "item", [](const json& j) {
    ItemFeatures i;
    i.item_id = j.at("id").get<std::string>();
    i.title = j.at("title").get<std::string>();
    i.tags = j.at("tags").get<std::vector<std::string>>();
    i.popularity = j.at("pop").get<uint64_t>();
    i.decayed_popularity = j.at("decayed").get<double>();
    i.trending_1h = j.at("t1h").get<uint64_t>();
    i.trending_24h = j.at("t24h").get<uint64_t>();
    i.created_at = j.at("created").get<int64_t>();
    i.age_seconds = j.at("age").get<int64_t>();
    return i;
  });
}

std::string EncodeRankedList(const std::vector<RankedItem>& list) {
  JsonWriter w(2 + 32 * list.size());
  w.Open('[');
  for (const auto& r : list) w.Open('[').String(r.item_id).Double(r.score).Close(']');
  w.Close(']');
  return w.Take();
}

Result<std::vector<RankedItem>> DecodeRankedList(std::string_view text) {
  return DecodeWith<std::vector<RankedItem>>(text, "item list", [](const json& j) {
    std::vector<RankedItem> list;
    for (const auto& r : j) list.push_back({r.at(0).get<std::string>(), r.at(1).get<double>()});
    return list;
  });
}

std::string EncodeMetadata(const SnapshotMetadata& m) {
  return JsonText(json{{"version", m.version},
                       {"published_at", m.published_at},
                       {"reference_time", m.reference_time},
                       {"half_life_days", m.half_life_days},
                       {"user_count", m.user_count},
                       {"item_count", m.item_count}});
}

Result<SnapshotMetadata> DecodeMetadata(std::string_view text) {
  return DecodeWith<SnapshotMetadata>(text, "snapshot metadata", [](const json& j) {
    SnapshotMetadata m;
    m.version = j.at("version").get<std::string>();
    m.published_at = j.at("published_at").get<int64_t>();
    m.reference_time = j.at("reference_time").get<int64_t>();
    m.half_life_days = j.at("half_life_days").get<double>();
    m.user_count = j.at("user_count").get<uint64_t>();
    m.item_count = j.at("item_count").get<uint64_t>();
    return m;
  });
}

}  // namespace recserve::store
