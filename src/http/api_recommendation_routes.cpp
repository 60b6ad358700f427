// The routes user traffic takes (the SLO's routes): recommendations, item pages, similar
// items, popular and trending lists. Each decodes its path and query, asks the engine and
// writes the answer; errors are Status replies.
#include <optional>
#include <string>

#include "core/external_id.h"
#include "http/api_replies.h"
#include "http/api_service.h"

namespace recserve::http {

namespace {

// Completes `w` (an open object holding the route's own keys) with the answer's fields: a 200
// whose metrics carry the answer's variant.
Reply AnswerReply(JsonWriter& w, const engine::RecommendationAnswer& answer,
                  const std::string& request_id, std::string_view endpoint) {
  WriteAnswer(w, answer);
  w.EndObject();
  Reply reply = MakeReply(200, w.Take(), request_id, endpoint);
  reply.variant = InternVariantLabel(answer.variant);
  return reply;
}

// The k of a route keyed by one path id: the id checked first (the one id rule), then the query's
// k.
Result<int64_t> PathIdThenK(const std::string& id, std::string_view id_name,
                            std::string_view query) {
  RECSERVE_RETURN_IF_ERROR(ValidateExternalId(id, id_name));
  return QueryK(query);
}

}  // namespace

// Every id in a path or query follows the one id rule (core/external_id.h): an id the events
// route would refuse is refused here too, before it reaches a cache key or a per-user structure.
Reply ApiService::Recommendations(const Call& call) {
  const std::string& user_id = call.params.at("user_id");
  auto k = PathIdThenK(user_id, "user_id", call.query);
  if (!k.ok()) return StatusReply(k.status(), call.request_id, call.endpoint);
  engine::RequestContext ctx{call.request_id, std::string(call.endpoint)};
  auto answer = recommender_.Recommend(ctx, user_id, *k);
  if (!answer.ok()) return StatusReply(answer.status(), call.request_id, call.endpoint);
  JsonWriter w;
  w.BeginObject().Key("request_id").String(call.request_id).Key("user_id").String(user_id);
  return AnswerReply(w, *answer, call.request_id, call.endpoint);
}

Reply ApiService::Detail(const Call& call) {
  const std::string& item_id = call.params.at("item_id");
  auto k = QueryK(call.query);
  if (!k.ok()) return StatusReply(k.status(), call.request_id, call.endpoint);
  if (Status id = ValidateExternalId(item_id, "item_id"); !id.ok()) {
    return StatusReply(id, call.request_id, call.endpoint);
  }
  std::string user_id;
  bool has_user = QueryParam(call.query, "user_id", user_id) && !user_id.empty();
  if (has_user) {
    if (Status id = ValidateExternalId(user_id, "user_id"); !id.ok()) {
      return StatusReply(id, call.request_id, call.endpoint);
    }
  }
  engine::RequestContext ctx{call.request_id, std::string(call.endpoint)};
  auto answer = recommender_.Detail(
      ctx, item_id, has_user ? std::optional<std::string_view>(user_id) : std::nullopt, *k);
  if (!answer.ok()) return StatusReply(answer.status(), call.request_id, call.endpoint);
  JsonWriter w;
  w.BeginObject().Key("request_id").String(call.request_id).Key("item_id").String(item_id);
  w.Key("user_id").StringOrNull(user_id);
  return AnswerReply(w, *answer, call.request_id, call.endpoint);
}

Reply ApiService::SimilarItems(const Call& call) {
  const std::string& item_id = call.params.at("item_id");
  auto k = PathIdThenK(item_id, "item_id", call.query);
  if (!k.ok()) return StatusReply(k.status(), call.request_id, call.endpoint);
  auto answer = recommender_.Similar(item_id, *k);
  if (!answer.ok()) return StatusReply(answer.status(), call.request_id, call.endpoint);
  JsonWriter w;
  w.BeginObject()
      .Key("request_id")
      .String(call.request_id)
      .Key("item_id")
      .String(item_id)
      .Key("items")
      .Items(answer->items)
      .Key("model_version")
      .StringOrNull(answer->model_version)
      .EndObject();
  return MakeReply(200, w.Take(), call.request_id, call.endpoint);
}

Reply ApiService::PopularItems(const Call& call) {
  auto k = QueryK(call.query);
  if (!k.ok()) return StatusReply(k.status(), call.request_id, call.endpoint);
  auto items = recommender_.Popular(*k);
  if (!items.ok()) return StatusReply(items.status(), call.request_id, call.endpoint);
  JsonWriter w;
  w.BeginObject().Key("request_id").String(call.request_id).Key("items").Items(*items).EndObject();
  return MakeReply(200, w.Take(), call.request_id, call.endpoint);
}

Reply ApiService::Trending(const Call& call) {
  auto k = QueryK(call.query);
  if (!k.ok()) return StatusReply(k.status(), call.request_id, call.endpoint);
  std::string timeframe = "1h";
  QueryParam(call.query, "timeframe", timeframe);
  auto items = recommender_.Trending(timeframe, *k);
  if (!items.ok()) return StatusReply(items.status(), call.request_id, call.endpoint);
  JsonWriter w;
  w.BeginObject()
      .Key("request_id")
      .String(call.request_id)
      .Key("timeframe")
      .String(timeframe)
      .Key("items")
      .Items(*items)
      .EndObject();
  return MakeReply(200, w.Take(), call.request_id, call.endpoint);
}

}  // namespace recserve::http
