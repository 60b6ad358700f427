#include "http/api_replies.h"

#include <algorithm>
#include <charconv>
#include <mutex>
#include <set>

#include "core/thread_annotations.h"
#include "http/api_service.h"

namespace recserve::http {

namespace bhttp = boost::beast::http;

std::string_view InternVariantLabel(const std::string& variant) {
  static core::Mutex mu;
  static std::set<std::string, std::less<>> labels;  // guarded by mu
  core::MutexLock lock(mu);
  return *labels.insert(variant).first;
}

Reply MakeReply(unsigned status, std::string body, const std::string& request_id,
                std::string_view endpoint, std::string_view content_type) {
  Reply reply;
  reply.response.result(status);
  reply.response.version(11);
  reply.response.set(bhttp::field::content_type, Bsv(content_type));
  reply.response.set("X-Request-ID", request_id);
  reply.response.body() = std::move(body);
  reply.endpoint = endpoint;
  return reply;
}

Reply ErrorReply(unsigned http_status, std::string_view code, std::string_view message,
                 const std::string& request_id, std::string_view endpoint) {
  JsonWriter w;
  w.BeginObject()
      .Key("error")
      .String(code)
      .Key("message")
      .String(message)
      .Key("request_id")
      .String(request_id)
      .EndObject();
  return MakeReply(http_status, w.Take(), request_id, endpoint);
}

Reply StatusReply(const Status& status, const std::string& request_id, std::string_view endpoint) {
  return ErrorReply(HttpStatusFor(status.code()), StatusCodeName(status.code()), status.message(),
                    request_id, endpoint);
}

Reply AuthFailureReply(const Status& status, const std::string& request_id,
                       std::string_view endpoint) {
  Reply reply = StatusReply(status, request_id, endpoint);
  if (status.code() == StatusCode::kUnauthenticated) {
    reply.response.set(bhttp::field::www_authenticate, "Bearer");
  } else if (status.code() == StatusCode::kRateLimited) {
    reply.response.set(bhttp::field::retry_after, "1");
  }
  return reply;
}

namespace {

// True when the query string has a `name` key, whatever its value (even a malformed one).
bool HasQueryKey(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view key = query.substr(0, std::min(amp, query.find('=')));
    if (key == name) return true;
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
  }
  return false;
}

}  // namespace

Result<int64_t> QueryK(std::string_view query, int64_t default_k) {
  std::string text;
  if (!QueryParam(query, "k", text)) {
    if (HasQueryKey(query, "k")) return InvalidArgument("k must be an integer within 1..200");
    return default_k;
  }
  int64_t k = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), k);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return InvalidArgument("k must be an integer within 1..200");
  }
  return k;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return diff == 0;
}

void WriteAnswer(JsonWriter& w, const engine::RecommendationAnswer& answer) {
  w.Key("items")
      .Items(answer.items)
      .Key("model_version")
      .StringOrNull(answer.model_version)
      .Key("variant")
      .String(answer.variant)
      .Key("source")
      .String(answer.source)
      .Key("degraded")
      .Bool(!answer.degraded_reason.empty())
      .Key("degraded_reason")
      .StringOrNull(answer.degraded_reason);
}

}  // namespace recserve::http
