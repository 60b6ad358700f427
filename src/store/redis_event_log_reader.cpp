#include "store/redis_event_log_reader.h"

#include <charconv>

namespace recserve::store {

Result<std::unique_ptr<RedisEventLogReader>> RedisEventLogReader::Connect(
    const RedisEndpoint& endpoint, std::chrono::milliseconds timeout,
    std::chrono::milliseconds max_block, uint32_t default_shards, int64_t from_ms) {
  std::unique_ptr<RedisEventLogReader> reader(
      new RedisEventLogReader(endpoint, {timeout, max_block + timeout}));
  reader->from_ms_ = from_ms;
  auto client = RedisClient::Connect(reader->endpoint_, reader->timeouts_);
  if (!client.ok()) return client.status();
  reader->client_ = std::move(client).value();
  RECSERVE_RETURN_IF_ERROR(reader->LearnShards(default_shards, from_ms));
  return reader;
}

Status RedisEventLogReader::LearnShards(uint32_t default_shards, int64_t from_ms) {
  auto got = client_->Command({"GET", kEventShardCountKey});
  if (!got.ok()) return got.status();
  uint32_t shards = default_shards;
  if (got->type == RedisReply::Type::kString) {
    uint32_t fleet = 0;
    auto [end, ec] = std::from_chars(got->text.data(), got->text.data() + got->text.size(), fleet);
    if (ec == std::errc() && end == got->text.data() + got->text.size() && fleet >= 1 &&
        fleet <= 1024) {
      shards = fleet;
    }
  }
  if (shards == keys_.size()) return Status::Ok();
  // First connect, or the fleet's count appeared: shards we already read keep their position.
  const std::string start = std::to_string(std::max<int64_t>(0, from_ms)) + "-0";
  for (uint32_t s = static_cast<uint32_t>(keys_.size()); s < shards; ++s) {
    keys_.push_back(EventStreamKey(s));
    positions_.push_back(start);
  }
  keys_.resize(shards);
  positions_.resize(shards);
  return Status::Ok();
}

Status RedisEventLogReader::Reconnect() {
  auto client = RedisClient::Connect(endpoint_, timeouts_);
  if (!client.ok()) return client.status();
  client_ = std::move(client).value();
  return LearnShards(static_cast<uint32_t>(keys_.size()), from_ms_);
}

Result<std::vector<RedisEventLogReader::Entry>> RedisEventLogReader::Read(
    size_t count, std::chrono::milliseconds block) {
  if (client_ == nullptr || !client_->usable()) return Unavailable("event log reader disconnected");
  std::string count_text = std::to_string(count);
  std::string block_text = std::to_string(block.count());
  std::vector<std::string_view> args = {"XREAD", "COUNT", count_text};
  if (block.count() > 0) {
    args.push_back("BLOCK");
    args.push_back(block_text);
  }
  args.push_back("STREAMS");
  for (const std::string& key : keys_) args.push_back(key);
  for (const std::string& position : positions_) args.push_back(position);
  auto reply = client_->Command(args);
  if (!reply.ok()) return reply.status();
  std::vector<Entry> entries;
  if (reply->type == RedisReply::Type::kNil) return entries;  // the block passed
  if (reply->type != RedisReply::Type::kArray) return Internal("XREAD: unexpected reply");
  for (const RedisReply& stream : reply->elements) {
    if (stream.type != RedisReply::Type::kArray || stream.elements.size() != 2) {
      return Internal("XREAD: unexpected stream reply");
    }
    uint32_t shard = 0;
    while (shard < keys_.size() && keys_[shard] != stream.elements[0].text) ++shard;
    if (shard == keys_.size()) return Internal("XREAD: a stream it did not ask for");
    for (const RedisReply& item : stream.elements[1].elements) {
      if (item.type != RedisReply::Type::kArray || item.elements.size() != 2) {
        return Internal("XREAD: unexpected entry");
      }
      Entry entry;
      entry.shard = shard;
      entry.stream_id = item.elements[0].text;
      std::vector<std::pair<std::string, std::string>> fields;
      const auto& flat = item.elements[1].elements;
      for (size_t f = 0; f + 1 < flat.size(); f += 2) {
        fields.emplace_back(flat[f].text, flat[f + 1].text);
      }
      entry.event = EventFromFields(fields);
      entries.push_back(std::move(entry));
    }
  }
  for (const Entry& entry : entries) positions_[entry.shard] = entry.stream_id;
  return entries;
}

}  // namespace recserve::store
