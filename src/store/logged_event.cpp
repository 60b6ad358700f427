#include "store/logged_event.h"

#include <fmt/format.h>

#include <charconv>

#include "core/hashing.h"

namespace recserve::store {

namespace {

bool ParseInt64(std::string_view text, int64_t& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool ParseHex64(std::string_view text, uint64_t& out) {
  if (text.empty() || text.size() > 16) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out, 16);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

uint32_t EventShardFor(std::string_view user_id, uint32_t shards) {
  return shards <= 1 ? 0 : static_cast<uint32_t>(Fnv1a64(user_id) % shards);
}

std::string EventShardTag(uint32_t shard) { return "{e" + std::to_string(shard) + "}"; }

std::string EventStreamKey(uint32_t shard) {
  return std::string(kEventKeyPrefix) + EventShardTag(shard);
}

std::string EventSeenKeyPrefix(uint32_t shard) { return EventStreamKey(shard) + ":seen:"; }

std::string EventExportedKey(uint32_t shard) { return EventStreamKey(shard) + ":exported"; }

std::string DeriveEventId(std::string_view body, size_t index) {
  // Built with appends: GCC 12 reports a false -Wrestrict in `"b" + std::string&&` at -O3.
  std::string id = "b";
  id.append(Sha256Hex(body), 0, 32).append(":").append(std::to_string(index));
  return id;
}

std::string OriginHex(uint64_t origin) { return fmt::format("{:016x}", origin); }

std::vector<std::pair<std::string, std::string>> EventFields(const LoggedEvent& event) {
  return {{"id", event.event_id},
          {"u", event.user_id},
          {"i", event.item_id},
          {"t", event.event_type},
          {"ts", std::to_string(event.timestamp)},
          {"at", std::to_string(event.accepted_ms)},
          {"o", OriginHex(event.origin)}};
}

Result<LoggedEvent> EventFromFields(
    const std::vector<std::pair<std::string, std::string>>& fields) {
  LoggedEvent e;
  bool seen[7] = {};
  for (const auto& [name, value] : fields) {
    if (name == "id") {
      e.event_id = value, seen[0] = true;
    } else if (name == "u") {
      e.user_id = value, seen[1] = true;
    } else if (name == "i") {
      e.item_id = value, seen[2] = true;
    } else if (name == "t") {
      e.event_type = value, seen[3] = true;
    } else if (name == "ts") {
      if (!ParseInt64(value, e.timestamp)) return InvalidArgument("event field ts: not an integer");
      seen[4] = true;
    } else if (name == "at") {
      if (!ParseInt64(value, e.accepted_ms)) {
        return InvalidArgument("event field at: not an integer");
      }
      seen[5] = true;
    } else if (name == "o") {
      if (!ParseHex64(value, e.origin)) return InvalidArgument("event field o: not 16 hex digits");
      seen[6] = true;
    }
  }
  static constexpr const char* kNames[7] = {"id", "u", "i", "t", "ts", "at", "o"};
  for (int f = 0; f < 7; ++f) {
    if (!seen[f]) return InvalidArgument(std::string("event field ") + kNames[f] + ": missing");
  }
  return e;
}

std::string EncodeEventLines(const std::vector<LoggedEvent>& events) {
  std::string out;
  for (const LoggedEvent& e : events) {
    if (!out.empty()) out.push_back('\n');
    fmt::format_to(std::back_inserter(out), "{}\t{}\t{}\t{}\t{}\t{}\t{}", e.event_id, e.user_id,
                   e.item_id, e.event_type, e.timestamp, e.accepted_ms, OriginHex(e.origin));
  }
  return out;
}

Result<std::vector<LoggedEvent>> DecodeEventLines(std::string_view text) {
  std::vector<LoggedEvent> events;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    std::string_view parts[7];
    size_t n = 0;
    while (n < 7) {
      size_t tab = line.find('\t');
      parts[n++] = line.substr(0, tab);
      if (tab == std::string_view::npos) {
        line = {};
        break;
      }
      line = line.substr(tab + 1);
    }
    if (n != 7 || !line.empty()) {
      return InvalidArgument("event line " + std::to_string(line_no) + ": not 7 fields");
    }
    LoggedEvent e{std::string(parts[0]), std::string(parts[1]), std::string(parts[2]),
                  std::string(parts[3])};
    if (!ParseInt64(parts[4], e.timestamp) || !ParseInt64(parts[5], e.accepted_ms) ||
        !ParseHex64(parts[6], e.origin)) {
      return InvalidArgument("event line " + std::to_string(line_no) + ": bad number");
    }
    events.push_back(std::move(e));
    ++line_no;
  }
  return events;
}

}  // namespace recserve::store
