// `recserve events-export --out FILE [--redis URL]`: exports the API events the fleet's shared
// event log holds beyond each shard's checkpoint into one interactions-format file for
// `recserve pipeline --events`, then advances the checkpoints (src/store/event_log_export.h).
// Prints a one-line JSON summary on stdout. Exit 0 (also when nothing is new: the file then holds
// the header alone), 1 on a Redis or file failure, 2 on usage errors.
#include <spdlog/spdlog.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <string>

#include "app/commands.h"
#include "core/env.h"
#include "store/event_log_export.h"
#include "store/redis_client.h"

namespace recserve::app {
namespace {

struct EventsExportFlags {
  std::string redis_url;
  std::string out;
  long long timeout_ms = 5000;
};

int RunEventsExport(const EventsExportFlags& flags) {
  // The event log lives in the fleet's shared-state Redis (STATE_REDIS_URL); a deployment with
  // one Redis for everything names it REDIS_URL only (docs/CONFIGURATION.md).
  std::string url = flags.redis_url;
  if (url.empty()) url = EnvStringOr("STATE_REDIS_URL", EnvStringOr("REDIS_URL", ""));
  if (url.empty()) {
    spdlog::error("events-export: no Redis given; pass --redis URL or set STATE_REDIS_URL");
    return 2;
  }
  if (flags.timeout_ms <= 0) {
    spdlog::error("events-export: --timeout-ms must be > 0");
    return 2;
  }
  auto endpoint = store::RedisEndpoint::Parse(url);
  if (!endpoint.ok()) {
    spdlog::error("events-export: {}", endpoint.status().ToString());
    return 2;
  }
  const std::chrono::milliseconds timeout(flags.timeout_ms);
  auto client = store::RedisClient::Connect(*endpoint, {timeout, timeout});
  if (!client.ok()) {
    spdlog::error("events-export failed: {}", client.status().ToString());
    return 1;
  }
  store::EventExportOptions options;
  options.out = flags.out;
  auto summary = store::ExportEventLog(**client, options);
  if (!summary.ok()) {
    spdlog::error("events-export failed: {}", summary.status().ToString());
    return 1;
  }
  if (summary->malformed > 0) {
    spdlog::warn(
        "events-export: {} malformed entries written with a decode_error; the pipeline "
        "quarantines them as malformed_event",
        summary->malformed);
  }
  std::cout << store::EventExportSummaryJson(*summary) << "\n";
  return 0;
}

}  // namespace

Command AddEventsExportCommand(CLI::App& root) {
  auto flags = std::make_shared<EventsExportFlags>();
  Command c;
  c.cli = root.add_subcommand(
      "events-export",
      "Export the API events logged in Redis since the last export to a file for `pipeline "
      "--events`, then advance the export checkpoints");
  c.cli->add_option("--out", flags->out, "File to write (interactions format; replaced atomically)")
      ->required();
  c.cli->add_option("--redis", flags->redis_url,
                    "redis://[:password@]host[:port][/db] (default: $STATE_REDIS_URL, else "
                    "$REDIS_URL)");
  c.cli->add_option("--timeout-ms", flags->timeout_ms,
                    "Connect and per-command timeout in milliseconds (5000)");
  c.run = [flags] { return RunEventsExport(*flags); };
  return c;
}

}  // namespace recserve::app
