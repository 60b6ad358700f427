#include "store/desired_models.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <fstream>
#include <sstream>
#include <vector>

#include "core/durable_file.h"
#include "core/json_text.h"
#include "core/wall_clock.h"

namespace recserve::store {
namespace {

// KEYS[1] the hash. ARGV: mode ("cas" | "newer"), new generation, expected generation, primary,
// shadow, previous, shadow_rollout, updated_ms, channel. Returns {1, new} when written, else
// {0, stored}. One script, so the compare and the write are atomic on the server.
constexpr std::string_view kWriteScript = R"lua(
local stored = tonumber(redis.call('HGET', KEYS[1], 'generation') or '0')
local new = tonumber(ARGV[2])
if ARGV[1] == 'cas' then
  if stored ~= tonumber(ARGV[3]) then return {0, stored} end
elseif stored >= new then
  return {0, stored}
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'generation', ARGV[2], 'primary', ARGV[4], 'shadow', ARGV[5],
           'previous', ARGV[6], 'shadow_rollout', ARGV[7], 'updated_ms', ARGV[8])
redis.call('PUBLISH', ARGV[9], ARGV[2])
return {1, new}
)lua";

template <typename T>
bool ParseNumber(std::string_view text, T& out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

bool ParseDouble(const std::string& text, double& out) {
  char* end = nullptr;
  errno = 0;
  out = std::strtod(text.c_str(), &end);
  return errno == 0 && end == text.c_str() + text.size() && !text.empty();
}

// flock(2) on `path` for the scope: serialises the file backend's writers across processes
// sharing MODEL_DIR.
class FileLock {
 public:
  explicit FileLock(const std::filesystem::path& path)
      : fd_(::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644)) {
    if (fd_ < 0) {
      status_ = FileErrorStatus("open", path, errno);
      return;
    }
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) {
        status_ = FileErrorStatus("flock", path, errno);
        return;
      }
    }
  }
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the lock
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  const Status& status() const { return status_; }

 private:
  int fd_;
  Status status_;
};

std::filesystem::path LockPath(const std::filesystem::path& file) {
  return std::filesystem::path(file.string() + ".lock");
}

}  // namespace

std::string_view DesiredModelsSourceName(DesiredModelsSource source) {
  switch (source) {
    case DesiredModelsSource::kRedis:
      return "redis";
    case DesiredModelsSource::kFile:
      return "file";
    case DesiredModelsSource::kNone:
      break;
  }
  return "none";
}

Result<std::unique_ptr<DesiredModelsStore>> DesiredModelsStore::Open(
    DesiredModelsStoreOptions options) {
  std::optional<RedisEndpoint> endpoint;
  if (!options.redis_url.empty()) {
    auto parsed = RedisEndpoint::Parse(options.redis_url);
    if (!parsed.ok()) return parsed.status();
    endpoint = std::move(parsed).value();
  }
  return std::unique_ptr<DesiredModelsStore>(
      new DesiredModelsStore(std::move(options), std::move(endpoint)));
}

DesiredModelsStore::DesiredModelsStore(DesiredModelsStoreOptions options,
                                       std::optional<RedisEndpoint> endpoint)
    : options_(std::move(options)), endpoint_(std::move(endpoint)) {}

DesiredModelsStore::~DesiredModelsStore() = default;

RedisClient* DesiredModelsStore::Connected() {
  if (!endpoint_) return nullptr;
  if (client_ && client_->usable()) return client_.get();
  auto now = std::chrono::steady_clock::now();
  if (last_connect_ && now - *last_connect_ < options_.reconnect_interval) return nullptr;
  last_connect_ = now;
  if (client_) {
    if (!client_->Reconnect().ok()) return nullptr;
    return client_.get();
  }
  auto connected = RedisClient::Connect(*endpoint_, options_.timeouts);
  if (!connected.ok()) {
    spdlog::debug("desired models: Redis not reached: {}", connected.status().message());
    return nullptr;
  }
  client_ = std::move(connected).value();
  return client_.get();
}

Result<std::optional<DesiredModels>> DesiredModelsStore::ReadRedis(RedisClient& client) {
  auto reply = client.Command({"HGETALL", kDesiredModelsKey});
  if (!reply.ok()) return reply.status();
  if (reply->type != RedisReply::Type::kArray) return Internal("HGETALL: not an array");
  if (reply->elements.empty()) return std::optional<DesiredModels>();
  DesiredModels record;
  bool has_generation = false;
  for (size_t i = 0; i + 1 < reply->elements.size(); i += 2) {
    const std::string& field = reply->elements[i].text;
    const std::string& value = reply->elements[i + 1].text;
    bool ok = true;
    if (field == "generation") {
      ok = ParseNumber(value, record.generation);
      has_generation = ok;
    } else if (field == "primary") {
      record.primary = value;
    } else if (field == "shadow") {
      record.shadow = value;
    } else if (field == "previous") {
      record.previous = value;
    } else if (field == "shadow_rollout") {
      ok = ParseDouble(value, record.shadow_rollout);
    } else if (field == "updated_ms") {
      ok = ParseNumber(value, record.updated_ms);
    }
    if (!ok) return DataLoss(std::string(kDesiredModelsKey) + ": bad field " + field);
  }
  if (!has_generation) return DataLoss(std::string(kDesiredModelsKey) + ": no generation");
  return std::optional<DesiredModels>(std::move(record));
}

Result<bool> DesiredModelsStore::WriteRedis(RedisClient& client, const DesiredModels& record,
                                            std::optional<uint64_t> expected) {
  const std::string generation = std::to_string(record.generation);
  const std::string expected_text = std::to_string(expected.value_or(0));
  const std::string rollout = fmt::format("{}", record.shadow_rollout);
  const std::string updated = std::to_string(record.updated_ms);
  auto reply =
      client.Command({"EVAL", kWriteScript, "1", kDesiredModelsKey, expected ? "cas" : "newer",
                      generation, expected_text, record.primary, record.shadow, record.previous,
                      rollout, updated, kDesiredModelsChannel});
  if (!reply.ok()) return reply.status();
  if (reply->type != RedisReply::Type::kArray || reply->elements.size() != 2) {
    return Internal("desired-models script: unexpected reply");
  }
  return reply->elements[0].integer == 1;
}

Result<std::optional<DesiredModels>> DesiredModelsStore::ReadFile() const {
  std::ifstream in(options_.file);
  if (!in) {
    std::error_code ec;
    if (!std::filesystem::exists(options_.file, ec)) return std::optional<DesiredModels>();
    return Unavailable("cannot read " + options_.file.string());
  }
  std::stringstream text;
  text << in.rdbuf();
  auto doc = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  auto bad = [&] { return DataLoss(options_.file.string() + " is not a desired-models record"); };
  if (!doc.is_object()) return bad();
  DesiredModels record;
  auto generation = doc.find("generation");
  if (generation == doc.end() || !generation->is_number_unsigned()) return bad();
  record.generation = generation->get<uint64_t>();
  for (auto [name, field] :
       {std::pair{"primary", &record.primary}, std::pair{"shadow", &record.shadow},
        std::pair{"previous", &record.previous}}) {
    auto it = doc.find(name);
    if (it != doc.end() && !it->is_string()) return bad();
    if (it != doc.end()) *field = it->get<std::string>();
  }
  if (auto it = doc.find("shadow_rollout"); it != doc.end()) {
    if (!it->is_number()) return bad();
    record.shadow_rollout = it->get<double>();
  }
  if (auto it = doc.find("updated_ms"); it != doc.end()) {
    if (!it->is_number_integer()) return bad();
    record.updated_ms = it->get<int64_t>();
  }
  return std::optional<DesiredModels>(std::move(record));
}

Status DesiredModelsStore::WriteFile(const DesiredModels& record) const {
  nlohmann::json doc = {{"generation", record.generation},
                        {"primary", record.primary},
                        {"shadow", record.shadow},
                        {"previous", record.previous},
                        {"shadow_rollout", record.shadow_rollout},
                        {"updated_ms", record.updated_ms}};
  return WriteFileAtomically(options_.file, JsonText(doc, 2) + "\n");
}

Result<DesiredModelsRead> DesiredModelsStore::Read() {
  core::MutexLock lock(mu_);
  auto file = ReadFile();
  if (RedisClient* client = Connected()) {
    auto stored = ReadRedis(*client);
    if (stored.ok()) {
      DesiredModelsRead result{std::move(stored).value(), DesiredModelsSource::kRedis};
      const bool file_newer = file.ok() && file->has_value() &&
                              (!result.record || (*file)->generation > result.record->generation);
      if (file_newer) {
        // A change accepted while Redis was down (or Redis came back empty): Redis catches up.
        auto pushed = WriteRedis(*client, **file, std::nullopt);
        if (pushed.ok() && *pushed) {
          spdlog::info("desired models: generation {} from {} written to Redis",
                       (*file)->generation, options_.file.string());
          result.record = **file;
        } else if (pushed.ok()) {
          // Someone else wrote a newer one meanwhile: read what won.
          auto again = ReadRedis(*client);
          if (again.ok()) result.record = std::move(again).value();
        }
      } else if (result.record && (!file.ok() || !file->has_value() ||
                                   (*file)->generation < result.record->generation)) {
        // Keep the fallback as new as what Redis holds; under the lock, never backwards.
        FileLock flock(LockPath(options_.file));
        auto under_lock = ReadFile();
        if (flock.status().ok() && (!under_lock.ok() || !under_lock->has_value() ||
                                    (*under_lock)->generation < result.record->generation)) {
          if (Status written = WriteFile(*result.record); !written.ok()) {
            spdlog::warn("desired models: {} not refreshed: {}", options_.file.string(),
                         written.message());
          }
        }
      }
      if (!result.record) result.source = DesiredModelsSource::kNone;
      return result;
    }
    spdlog::debug("desired models: Redis read failed, using {}: {}", options_.file.string(),
                  stored.status().message());
  }
  if (!file.ok()) return file.status();
  DesiredModelsRead result;
  result.record = std::move(file).value();
  result.source = result.record ? DesiredModelsSource::kFile : DesiredModelsSource::kNone;
  return result;
}

Result<DesiredModels> DesiredModelsStore::CompareAndSet(uint64_t expected_generation,
                                                        DesiredModels next) {
  core::MutexLock lock(mu_);
  next.generation = expected_generation + 1;
  next.updated_ms = UnixMillisNow();
  FileLock flock(LockPath(options_.file));
  auto file = ReadFile();
  auto lost = [&](uint64_t stored) {
    return FailedPrecondition("another reload changed the fleet's models (generation " +
                              std::to_string(stored) + ", expected " +
                              std::to_string(expected_generation) + "); retry");
  };
  if (RedisClient* client = Connected()) {
    if (file.ok() && file->has_value()) {
      // A newer file record goes to Redis first, so the compare below sees it.
      (void)WriteRedis(*client, **file, std::nullopt);
    }
    auto written = WriteRedis(*client, next, expected_generation);
    if (written.ok() && *written) {
      if (!flock.status().ok()) {
        spdlog::warn("desired models: {} not written: {}", options_.file.string(),
                     flock.status().message());
      } else if (Status saved = WriteFile(next); !saved.ok()) {
        spdlog::warn("desired models: {} not written: {}", options_.file.string(), saved.message());
      }
      return next;
    }
    if (written.ok()) {
      auto stored = ReadRedis(*client);
      return lost(stored.ok() && stored->has_value() ? (*stored)->generation : 0);
    }
    spdlog::warn("desired models: Redis write failed, writing {} only: {}", options_.file.string(),
                 written.status().message());
  }
  if (!flock.status().ok()) {
    return Unavailable("desired models not written: " + flock.status().message());
  }
  if (!file.ok()) return Unavailable("desired models not written: " + file.status().message());
  uint64_t stored = file->has_value() ? (*file)->generation : 0;
  if (stored != expected_generation) return lost(stored);
  if (Status saved = WriteFile(next); !saved.ok()) {
    return Unavailable("desired models not written: " + saved.message());
  }
  return next;
}

Result<bool> DesiredModelsStore::WaitForNotification(std::chrono::milliseconds wait) {
  if (!endpoint_) return FailedPrecondition("no Redis: nothing to subscribe to");
  core::MutexLock lock(subscriber_mu_);
  if (!subscriber_ || !subscriber_->usable()) {
    auto now = std::chrono::steady_clock::now();
    if (last_subscribe_ && now - *last_subscribe_ < options_.reconnect_interval) {
      return Unavailable("Redis subscription down");
    }
    last_subscribe_ = now;
    subscriber_.reset();
    auto connected = RedisClient::Connect(*endpoint_, options_.timeouts);
    if (!connected.ok()) return connected.status();
    auto subscribed = (*connected)->Command({"SUBSCRIBE", kDesiredModelsChannel});
    if (!subscribed.ok()) return subscribed.status();
    subscriber_ = std::move(connected).value();
    // A change may have happened while unsubscribed: report one so the caller re-reads.
    return true;
  }
  auto message = subscriber_->ReadPushed(wait);
  if (!message.ok()) return message.status();
  return message->has_value();
}

}  // namespace recserve::store
