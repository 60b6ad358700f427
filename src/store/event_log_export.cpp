#include "store/event_log_export.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "core/durable_file.h"
#include "core/json_text.h"
#include "core/text_input.h"

namespace recserve::store {
namespace {

using FieldPairs = std::vector<std::pair<std::string, std::string>>;

// A value a CSV line can carry: line breaks shown as the two characters "\n" / "\r". Used only
// for a malformed entry's row, which the pipeline quarantines and never trains on.
std::string OneLine(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out += c;
    }
  }
  return out;
}

void AppendField(std::string& row, std::string_view value, bool first = false) {
  if (!first) row += ',';
  row += CsvEscape(value);
}

// The row of an entry that did not decode: its raw values (missing ones empty) and the reason.
std::string MalformedRow(const FieldPairs& fields, std::string_view error) {
  auto raw = [&](std::string_view name) {
    for (const auto& [field, value] : fields) {
      if (field == name) return OneLine(value);
    }
    return std::string();
  };
  std::string row;
  const std::string type = raw("t");
  AppendField(row, raw("u"), /*first=*/true);
  AppendField(row, raw("i"));
  AppendField(row, raw("ts"));
  AppendField(row, ExportedEventWeight(type));
  AppendField(row, type);
  AppendField(row, raw("id"));
  AppendField(row, OneLine(error));
  return row;
}

// The reason an entry cannot become a row as it is, or "" when it decodes.
std::string DecodeError(const FieldPairs& fields, LoggedEvent& event) {
  for (const auto& [name, value] : fields) {
    if (value.find_first_of("\r\n") != std::string::npos) {
      return "event field " + name + ": holds a line break";
    }
  }
  auto decoded = EventFromFields(fields);
  if (!decoded.ok()) return decoded.status().message();
  event = std::move(decoded).value();
  return "";
}

bool ParseU64(std::string_view text, uint64_t& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

// recserve:events:shards, or 1 when absent.
Result<uint32_t> ReadShardCount(RedisClient& client, uint32_t max_shards) {
  auto reply = client.Command({"GET", kEventShardCountKey});
  if (!reply.ok()) return reply.status();
  if (reply->type == RedisReply::Type::kNil) return 1u;
  uint64_t shards = 0;
  if (reply->type != RedisReply::Type::kString || !ParseU64(reply->text, shards) || shards == 0 ||
      shards > max_shards) {
    return InvalidArgument(std::string(kEventShardCountKey) + " holds '" +
                           PrintableExcerpt(reply->text) + "': expected an integer in 1.." +
                           std::to_string(max_shards));
  }
  return static_cast<uint32_t>(shards);
}

// The shard's checkpoint, nullopt when none.
Result<std::optional<std::string>> ReadCheckpoint(RedisClient& client, uint32_t shard) {
  const std::string key = EventExportedKey(shard);
  auto reply = client.Command({"GET", key});
  if (!reply.ok()) return reply.status();
  if (reply->type == RedisReply::Type::kNil) return std::optional<std::string>();
  if (reply->type != RedisReply::Type::kString || !IsStreamId(reply->text)) {
    return InvalidArgument(key + " holds '" + PrintableExcerpt(reply->text) +
                           "': expected a stream id <ms>-<seq>");
  }
  return std::optional<std::string>(reply->text);
}

// The id of the stream's newest entry, nullopt when the stream is empty or absent.
Result<std::optional<std::string>> NewestId(RedisClient& client, const std::string& stream) {
  auto reply = client.Command({"XREVRANGE", stream, "+", "-", "COUNT", "1"});
  if (!reply.ok()) return reply.status();
  if (reply->type != RedisReply::Type::kArray || reply->elements.empty()) {
    return std::optional<std::string>();
  }
  const RedisReply& entry = reply->elements[0];
  if (entry.type != RedisReply::Type::kArray || entry.elements.empty()) {
    return Internal("XREVRANGE " + stream + ": unexpected reply shape");
  }
  return std::optional<std::string>(entry.elements[0].text);
}

// Appends the rows of shard `shard`'s entries in (from, until] to `csv`.
Status ReadShard(RedisClient& client, const EventExportOptions& options, const std::string& until,
                 ShardExport& shard, EventExportSummary& summary, std::string& csv) {
  std::string start = shard.from ? "(" + *shard.from : "-";
  const std::string count = std::to_string(options.page_size);
  for (;;) {
    auto reply = client.Command({"XRANGE", shard.stream, start, until, "COUNT", count});
    if (!reply.ok()) return reply.status();
    if (reply->type != RedisReply::Type::kArray) {
      return Internal("XRANGE " + shard.stream + ": unexpected reply type");
    }
    for (const RedisReply& entry : reply->elements) {
      if (entry.type != RedisReply::Type::kArray || entry.elements.size() != 2) {
        return Internal("XRANGE " + shard.stream + ": unexpected entry shape");
      }
      const std::string& id = entry.elements[0].text;
      FieldPairs fields;
      const auto& flat = entry.elements[1].elements;
      for (size_t f = 0; f + 1 < flat.size(); f += 2) {
        fields.emplace_back(flat[f].text, flat[f + 1].text);
      }
      LoggedEvent event;
      const std::string error = DecodeError(fields, event);
      if (error.empty()) {
        csv += ExportedEventRow(event);
      } else {
        csv += MalformedRow(fields, "stream entry " + id + ": " + error);
        ++shard.malformed;
        if (summary.samples.size() < options.max_samples) {
          summary.samples.push_back({shard.shard, id, error});
        }
      }
      csv += '\n';
      ++shard.events;
      shard.to = id;
    }
    if (reply->elements.size() < options.page_size) return Status::Ok();
    start = "(" + *shard.to;
  }
}

}  // namespace

const char* const kAdvanceCheckpointScript = R"lua(
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  if not ms then return nil end
  ms = string.gsub(ms, '^0+(%d)', '%1')
  seq = string.gsub(seq, '^0+(%d)', '%1')
  return ms, seq
end
-- a < b for unsigned decimal strings without leading zeros: shorter is smaller, then by text.
local function less(a, b)
  if #a ~= #b then return #a < #b end
  return a < b
end
local new_ms, new_seq = parse(ARGV[1])
if not new_ms then return redis.error_reply('not a stream id: ' .. ARGV[1]) end
local current = redis.call('GET', KEYS[1])
if current then
  local ms, seq = parse(current)
  if not ms then return redis.error_reply(KEYS[1] .. ' holds a value that is not a stream id') end
  local forward = less(ms, new_ms) or (ms == new_ms and less(seq, new_seq))
  if not forward then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
)lua";

std::string_view ExportedEventWeight(std::string_view event_type) {
  if (event_type == "view") return "1";
  if (event_type == "click") return "2";
  if (event_type == "purchase") return "5";
  return "";
}

std::string ExportedEventRow(const LoggedEvent& event) {
  std::string row;
  AppendField(row, event.user_id, /*first=*/true);
  AppendField(row, event.item_id);
  AppendField(row, std::to_string(event.timestamp));
  AppendField(row, ExportedEventWeight(event.event_type));
  AppendField(row, event.event_type);
  AppendField(row, event.event_id);
  row += ',';  // decode_error: empty
  return row;
}

bool IsStreamId(std::string_view text) {
  const size_t dash = text.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == text.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i != dash && (text[i] < '0' || text[i] > '9')) return false;
  }
  return true;
}

Result<bool> AdvanceEventCheckpoint(RedisClient& client, uint32_t shard,
                                    std::string_view stream_id) {
  const std::string key = EventExportedKey(shard);
  auto reply = client.Command({"EVAL", kAdvanceCheckpointScript, "1", key, stream_id});
  if (!reply.ok()) return reply.status();
  if (reply->type != RedisReply::Type::kInteger) {
    return Internal("checkpoint script on " + key + ": unexpected reply type");
  }
  return reply->integer == 1;
}

Result<EventExportSummary> ExportEventLog(RedisClient& client, const EventExportOptions& options) {
  if (options.page_size == 0) return InvalidArgument("event export: page size must be > 0");
  EventExportSummary summary;
  summary.file = options.out;
  auto shards = ReadShardCount(client, options.max_shards);
  if (!shards.ok()) return shards.status();
  std::string csv(kExportedEventsHeader);
  csv += '\n';
  for (uint32_t n = 0; n < *shards; ++n) {
    ShardExport shard;
    shard.shard = n;
    shard.stream = EventStreamKey(n);
    auto from = ReadCheckpoint(client, n);
    if (!from.ok()) return from.status();
    shard.from = *from;
    auto newest = NewestId(client, shard.stream);
    if (!newest.ok()) return newest.status();
    if (*newest) {
      RECSERVE_RETURN_IF_ERROR(ReadShard(client, options, **newest, shard, summary, csv));
    }
    summary.events += shard.events;
    summary.malformed += shard.malformed;
    summary.shards.push_back(std::move(shard));
  }
  // The file first, durably; the checkpoints only after it (see the header comment).
  RECSERVE_RETURN_IF_ERROR(WriteFileAtomically(options.out, csv));
  for (ShardExport& shard : summary.shards) {
    if (!shard.to) continue;
    auto moved = AdvanceEventCheckpoint(client, shard.shard, *shard.to);
    if (!moved.ok()) {
      return Status(moved.status().code(),
                    "wrote " + options.out.string() + " but could not advance " +
                        EventExportedKey(shard.shard) + ": " + moved.status().message() +
                        " (the next export repeats these events; the pipeline keeps one row "
                        "per event id)");
    }
    shard.checkpoint_advanced = *moved;
  }
  return summary;
}

std::string EventExportSummaryJson(const EventExportSummary& summary) {
  using nlohmann::json;
  auto optional_text = [](const std::optional<std::string>& v) {
    return v ? json(*v) : json(nullptr);
  };
  json shards = json::array();
  for (const ShardExport& s : summary.shards) {
    shards.push_back({{"shard", s.shard},
                      {"stream", s.stream},
                      {"from", optional_text(s.from)},
                      {"to", optional_text(s.to)},
                      {"events", s.events},
                      {"malformed", s.malformed},
                      {"checkpoint_advanced", s.checkpoint_advanced}});
  }
  json samples = json::array();
  for (const MalformedEntry& m : summary.samples) {
    samples.push_back({{"shard", m.shard}, {"stream_id", m.stream_id}, {"error", m.error}});
  }
  return JsonText(json{{"file", summary.file.string()},
                       {"events", summary.events},
                       {"malformed", summary.malformed},
                       {"shards", shards},
                       {"malformed_samples", samples}});
}

}  // namespace recserve::store
