#include "store/redis_client.h"

#include <hiredis/hiredis.h>
#include <poll.h>

#include <cerrno>
#include <charconv>

namespace recserve::store {
namespace {

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

RedisReply CopyReply(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.text.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.text.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(CopyReply(r->element[i]));
      break;
    default:
      break;
  }
  return out;
}

bool ParseInt(std::string_view text, int& out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

}  // namespace

Result<RedisEndpoint> RedisEndpoint::Parse(std::string_view url) {
  auto bad = [&](const char* why) {
    return InvalidArgument("bad Redis URL '" + std::string(url) + "': " + why +
                           " (expected redis://[:password@]host[:port][/db])");
  };
  constexpr std::string_view kScheme = "redis://";
  if (url.substr(0, kScheme.size()) != kScheme) return bad("scheme must be redis://");
  std::string_view rest = url.substr(kScheme.size());
  RedisEndpoint e;
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view auth = rest.substr(0, at);
    if (!auth.empty() && auth[0] == ':') auth.remove_prefix(1);
    e.password = std::string(auth);
    rest = rest.substr(at + 1);
  }
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty() && (!ParseInt(db, e.db) || e.db < 0)) return bad("db must be a number");
    rest = rest.substr(0, slash);
  }
  if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    if (!ParseInt(rest.substr(colon + 1), e.port) || e.port <= 0 || e.port > 65535) {
      return bad("port must be 1..65535");
    }
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return bad("host is empty");
  e.host = std::string(rest);
  return e;
}

Result<std::unique_ptr<RedisClient>> RedisClient::Connect(const RedisEndpoint& endpoint,
                                                          Timeouts timeouts) {
  std::unique_ptr<RedisClient> client(new RedisClient(endpoint, timeouts));
  RECSERVE_RETURN_IF_ERROR(client->Reconnect());
  return client;
}

RedisClient::~RedisClient() {
  if (ctx_ != nullptr) redisFree(ctx_);
}

Status RedisClient::Reconnect() {
  if (ctx_ != nullptr) redisFree(ctx_);
  pending_ = 0;
  usable_ = false;
  const std::string where = endpoint_.host + ":" + std::to_string(endpoint_.port);
  ctx_ =
      redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port, ToTimeval(timeouts_.connect));
  if (ctx_ == nullptr) return Unavailable("Redis connection failed: " + where + ": out of memory");
  if (ctx_->err != 0) return Unavailable("Redis connection failed: " + where + ": " + ctx_->errstr);
  if (redisSetTimeout(ctx_, ToTimeval(timeouts_.command)) != REDIS_OK) {
    return Unavailable("Redis connection failed: " + where + ": cannot set timeout");
  }
  usable_ = true;
  if (!endpoint_.password.empty()) {
    auto r = Command({"AUTH", endpoint_.password});
    if (!r.ok())
      return Unavailable("Redis connection failed: " + where + ": AUTH: " + r.status().message());
  }
  if (endpoint_.db != 0) {
    auto r = Command({"SELECT", std::to_string(endpoint_.db)});
    if (!r.ok())
      return Unavailable("Redis connection failed: " + where + ": SELECT: " + r.status().message());
  }
  return Status::Ok();
}

Status RedisClient::IoError(const char* what) {
  usable_ = false;
  pending_ = 0;
  std::string reason = ctx_ ? ctx_->errstr : "not connected";
  bool timed_out = ctx_ && ctx_->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
  std::string msg = std::string("Redis ") + what + " failed (" + endpoint_.host + ":" +
                    std::to_string(endpoint_.port) + "): " + reason;
  return timed_out ? DeadlineExceeded(msg) : Unavailable(msg);
}

Result<RedisReply> RedisClient::Command(const std::vector<std::string_view>& args) {
  Append(args);
  if (!usable_) return IoError("command");
  void* raw = nullptr;
  while (pending_ > 0) {
    if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) return IoError("command");
    --pending_;
    if (pending_ > 0) freeReplyObject(raw);
  }
  auto* reply = static_cast<redisReply*>(raw);
  if (reply->type == REDIS_REPLY_ERROR) {
    Status st = Internal("Redis error: " + std::string(reply->str, reply->len));
    freeReplyObject(reply);
    return st;
  }
  RedisReply out = CopyReply(reply);
  freeReplyObject(reply);
  return out;
}

void RedisClient::Append(const std::vector<std::string_view>& args) {
  if (!usable_) return;
  argv_.clear();
  argvlen_.clear();
  for (std::string_view a : args) {
    argv_.push_back(a.data());
    argvlen_.push_back(a.size());
  }
  if (redisAppendCommandArgv(ctx_, static_cast<int>(args.size()), argv_.data(), argvlen_.data()) !=
      REDIS_OK) {
    usable_ = false;
    return;
  }
  ++pending_;
}

Result<std::optional<RedisReply>> RedisClient::ReadPushed(std::chrono::milliseconds wait) {
  if (!usable_) return IoError("read");
  void* raw = nullptr;
  // A message may already sit in hiredis's buffer (read together with an earlier one).
  if (redisGetReplyFromReader(ctx_, &raw) != REDIS_OK) return IoError("read");
  if (raw == nullptr) {
    pollfd p{ctx_->fd, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(wait.count()));
    if (ready < 0 && errno == EINTR) return std::optional<RedisReply>();
    if (ready < 0) return IoError("poll");
    if (ready == 0) return std::optional<RedisReply>();
    if (redisBufferRead(ctx_) != REDIS_OK) return IoError("read");
    if (redisGetReplyFromReader(ctx_, &raw) != REDIS_OK) return IoError("read");
    if (raw == nullptr) return std::optional<RedisReply>();  // the rest of it comes next read
  }
  auto* reply = static_cast<redisReply*>(raw);
  RedisReply out = CopyReply(reply);
  freeReplyObject(reply);
  return std::optional<RedisReply>(std::move(out));
}

Status RedisClient::ReadPipelined() {
  if (!usable_) return IoError("pipeline");
  Status first_error;
  while (pending_ > 0) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) return IoError("pipeline");
    --pending_;
    auto* reply = static_cast<redisReply*>(raw);
    if (reply->type == REDIS_REPLY_ERROR && first_error.ok()) {
      first_error = Internal("Redis error: " + std::string(reply->str, reply->len));
    }
    freeReplyObject(reply);
  }
  return first_error;
}

}  // namespace recserve::store
