#include "app/sync_command.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "app/commands.h"
#include "core/env.h"
#include "store/redis_feature_store.h"

namespace recserve::app {

int RunFeatureSync(const std::string& data_root, const std::string& redis_url) {
  const std::filesystem::path db_path = std::filesystem::path(data_root) / "feature_store.db";
  auto fail = [](const Status& st) {
    spdlog::error("feature sync failed: {}", st.ToString());
    return 1;
  };
  if (!std::filesystem::exists(db_path)) {
    return fail(FailedPrecondition("no feature store at " + db_path.string() +
                                   "; run `recserve pipeline` first"));
  }
  auto endpoint = store::RedisEndpoint::Parse(redis_url);
  if (!endpoint.ok()) return fail(endpoint.status());
  // FEATURE_REDIS_TIMEOUT_MS bounds connect and each pipelined round trip; a sync writes in
  // batches, so a stalled Redis fails the sync within this time instead of hanging it.
  auto timeout_ms = EnvIntOr("FEATURE_REDIS_TIMEOUT_MS", 5000);
  auto pause_ms = EnvIntOr("RECSERVE_SYNC_PAUSE_MS", 0);
  if (!timeout_ms.ok()) return fail(timeout_ms.status());
  if (!pause_ms.ok()) return fail(pause_ms.status());
  if (*timeout_ms <= 0 || *pause_ms < 0) {
    return fail(
        InvalidArgument("FEATURE_REDIS_TIMEOUT_MS must be > 0, RECSERVE_SYNC_PAUSE_MS >= 0"));
  }
  auto source = store::SqliteFeatureStore::Open(db_path);
  if (!source.ok()) return fail(source.status());
  store::RedisClient::Timeouts timeouts{std::chrono::milliseconds(*timeout_ms),
                                        std::chrono::milliseconds(*timeout_ms)};
  auto client = store::RedisClient::Connect(*endpoint, timeouts);
  if (!client.ok()) return fail(client.status());
  store::RedisSyncOptions options;
  options.pause_per_flush = std::chrono::milliseconds(*pause_ms);
  auto report = store::SyncSnapshotToRedis(**source, **client, options);
  if (!report.ok()) {
    spdlog::error(
        "feature sync failed: {}; the previously synced version (if any) is still "
        "the one served",
        report.status().ToString());
    return 1;
  }
  spdlog::info(
      "pipeline step=redis_sync version={} previous_version={} records={} commands={} "
      "seconds={:.3f} records_per_second={:.0f}",
      report->version, report->previous_version.empty() ? "-" : report->previous_version,
      report->records, report->commands, report->seconds,
      report->seconds > 0 ? static_cast<double>(report->records) / report->seconds : 0.0);
  return 0;
}

Command AddSyncCommand(CLI::App& root) {
  struct Flags {
    std::string data_root = "data";
    std::string redis_url;
  };
  auto flags = std::make_shared<Flags>();
  Command c;
  c.cli = root.add_subcommand(
      "sync", "Push the latest published feature snapshot into the Redis feature store");
  c.cli->add_option("--data-root", flags->data_root,
                    "Directory holding feature_store.db (default: data)");
  c.cli->add_option("--redis-url", flags->redis_url,
                    "redis://host:port[/db] (default: $FEATURE_REDIS_URL)");
  c.run = [flags] {
    std::string url =
        flags->redis_url.empty() ? EnvStringOr("FEATURE_REDIS_URL", "") : flags->redis_url;
    if (url.empty()) {
      spdlog::error("feature sync: no Redis given; set FEATURE_REDIS_URL or pass --redis-url");
      return 2;
    }
    return RunFeatureSync(flags->data_root, url);
  };
  return c;
}

}  // namespace recserve::app
