#include "store/feature_types.h"

#include <nlohmann/json.hpp>

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

}  // namespace

std::string EncodeUser(const UserFeatures& user) {
  json recent = json::array();
  for (const auto& r : user.recent) recent.push_back({r.item_id, r.timestamp});
  json counts = json::object();
  for (const auto& [type, n] : user.event_counts) counts[type] = n;
  return json{{"id", user.user_id},          {"recent", std::move(recent)},
              {"events", std::move(counts)}, {"n", user.interaction_count},
              {"first", user.first_seen},    {"last", user.last_seen}}
      .dump();
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
  return json{{"id", item.item_id},
              {"title", item.title},
              {"tags", item.tags},
              {"pop", item.popularity},
              {"decayed", item.decayed_popularity},
              {"t1h", item.trending_1h},
              {"t24h", item.trending_24h},
              {"created", item.created_at},
              {"age", item.age_seconds}}
      .dump();
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
  json out = json::array();
  for (const auto& r : list) out.push_back({r.item_id, r.score});
  return out.dump();
}

Result<std::vector<RankedItem>> DecodeRankedList(std::string_view text) {
  return DecodeWith<std::vector<RankedItem>>(text, "item list", [](const json& j) {
    std::vector<RankedItem> list;
    for (const auto& r : j) list.push_back({r.at(0).get<std::string>(), r.at(1).get<double>()});
    return list;
  });
}

std::string EncodeMetadata(const SnapshotMetadata& m) {
  return json{{"version", m.version},
              {"published_at", m.published_at},
              {"reference_time", m.reference_time},
              {"half_life_days", m.half_life_days},
              {"user_count", m.user_count},
              {"item_count", m.item_count}}
      .dump();
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
