#include "store/shared_exposure_lists.h"

#include <fmt/format.h>

namespace recserve::store {

namespace {

// KEYS[i] a user's lists, ARGV[i] the item that user interacted with. Returns, per interaction,
// the variants credited now.
constexpr std::string_view kCreditScript = R"lua(
local out = {}
for i = 1, #KEYS do
  local credited = {}
  local needle = '\n' .. ARGV[i] .. '\n'
  local fields = redis.call('HGETALL', KEYS[i])
  for f = 1, #fields, 2 do
    local value = fields[f + 1]
    if string.sub(value, 1, 1) == '0' and string.find(value .. '\n', needle, 1, true) then
      redis.call('HSET', KEYS[i], fields[f], '1' .. string.sub(value, 2))
      table.insert(credited, fields[f])
    end
  end
  out[i] = credited
end
return out
)lua";

constexpr size_t kWriteBatch = 256;

}  // namespace

std::string ExposureListsKey(std::string_view user_id) {
  return fmt::format("recserve:lists:{{{}}}", user_id);
}

SharedExposureLists::SharedExposureLists(SharedExposureListsOptions options,
                                         observe::Registry& registry)
    : options_(std::move(options)),
      writes_(registry.AddCounter(
          "recommendation_exposure_lists_writes_total",
          "Variant lists written to the fleet's shared exposure lists, by result: ok, dropped "
          "(the write-behind queue was full), error (Redis did not take them; the hit ratio "
          "then counts this replica's own lists).",
          {"result"})) {
  for (const char* result : {"ok", "dropped", "error"}) writes_.WithLabels({result});
  writer_ = std::thread([this] { WriterLoop(); });
}

SharedExposureLists::~SharedExposureLists() {
  {
    core::MutexLock lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  writer_.join();
}

void SharedExposureLists::Record(std::string_view user_id, std::string_view variant,
                                 const std::vector<std::string>& items) {
  std::string value = "0";
  for (const std::string& item : items) {
    value.push_back('\n');
    value += item;
  }
  {
    core::MutexLock lock(queue_mu_);
    if (queue_.size() >= options_.queue_capacity) {
      writes_.WithLabels({"dropped"}).Inc();
      return;
    }
    queue_.push_back({ExposureListsKey(user_id), std::string(variant), std::move(value)});
    ++enqueued_;
  }
  queue_cv_.notify_all();
}

void SharedExposureLists::Flush() {
  core::MutexLock lock(queue_mu_);
  const uint64_t target = enqueued_;
  while (done_ < target && !stopping_) queue_cv_.wait(queue_mu_);
}

bool SharedExposureLists::WriteBatch(const std::vector<Write>& batch) {
  if (writer_client_ == nullptr || !writer_client_->usable()) {
    auto client = RedisClient::Connect(options_.endpoint, {options_.timeout, options_.timeout});
    if (!client.ok()) return false;
    writer_client_ = std::move(client).value();
  }
  const std::string ttl = std::to_string(options_.ttl.count());
  for (const Write& w : batch) {
    writer_client_->Append({"HSET", w.key, w.variant, w.value});
    writer_client_->Append({"PEXPIRE", w.key, ttl});
  }
  return writer_client_->ReadPipelined().ok();
}

void SharedExposureLists::WriterLoop() {
  std::vector<Write> batch;
  for (;;) {
    {
      core::MutexLock lock(queue_mu_);
      while (queue_.empty() && !stopping_) queue_cv_.wait(queue_mu_);
      if (queue_.empty() && stopping_) return;
      while (!queue_.empty() && batch.size() < kWriteBatch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    bool ok = WriteBatch(batch);
    writes_.WithLabels({ok ? "ok" : "error"}).Inc(static_cast<double>(batch.size()));
    {
      core::MutexLock lock(queue_mu_);
      done_ += batch.size();
    }
    queue_cv_.notify_all();
    batch.clear();
  }
}

Result<std::vector<std::vector<std::string>>> SharedExposureLists::Credit(
    const std::vector<std::pair<std::string, std::string>>& interactions) {
  std::vector<std::vector<std::string>> credited(interactions.size());
  if (interactions.empty()) return credited;
  std::vector<std::string> keys;
  keys.reserve(interactions.size());
  for (const auto& [user, item] : interactions) keys.push_back(ExposureListsKey(user));
  std::string key_count = std::to_string(keys.size());
  std::vector<std::string_view> args = {"EVAL", kCreditScript, key_count};
  for (const std::string& key : keys) args.push_back(key);
  for (const auto& interaction : interactions) args.push_back(interaction.second);
  core::MutexLock lock(credit_mu_);
  const auto now = std::chrono::steady_clock::now();
  if (now < credit_retry_at_) return Unavailable("shared exposure lists: Redis failed recently");
  if (credit_client_ == nullptr || !credit_client_->usable()) {
    auto client = RedisClient::Connect(options_.endpoint, {options_.timeout, options_.timeout});
    if (!client.ok()) {
      credit_retry_at_ = now + std::chrono::seconds(1);
      return client.status();
    }
    credit_client_ = std::move(client).value();
  }
  auto reply = credit_client_->Command(args);
  if (!reply.ok()) {
    if (!credit_client_->usable()) credit_retry_at_ = now + std::chrono::seconds(1);
    return reply.status();
  }
  if (reply->type != RedisReply::Type::kArray || reply->elements.size() != interactions.size()) {
    return Internal("exposure credit script answered an unexpected reply");
  }
  for (size_t i = 0; i < interactions.size(); ++i) {
    for (const RedisReply& variant : reply->elements[i].elements) {
      credited[i].push_back(variant.text);
    }
  }
  return credited;
}

}  // namespace recserve::store
