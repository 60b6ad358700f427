#include "engine/event_follower.h"

#include <spdlog/spdlog.h>

#include "core/wall_clock.h"

namespace recserve::engine {

namespace {

constexpr size_t kCatchUpCount = 5000;  // entries per shard per catch-up read
constexpr size_t kFollowCount = 1000;
constexpr std::chrono::milliseconds kBlock{1000};

}  // namespace

EventFollower::EventFollower(EventFollowerOptions options, observe::Registry& registry)
    : options_(std::move(options)),
      started_(std::chrono::steady_clock::now()),
      delay_(registry
                 .AddHistogram(
                     "recommendation_event_to_effect_seconds",
                     "Delay from an event's acceptance by any replica to its effect on "
                     "this replica's live state (events from the shared log, after the "
                     "start-up catch-up).",
                     {}, {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10})
                 .Get()),
      read_(registry.AddCounter("recommendation_event_log_read_total",
                                "Shared-log entries this replica read, by result: applied, own "
                                "(accepted here, applied then), malformed (skipped).",
                                {"result"})) {
  for (const char* result : {"applied", "own", "malformed"}) read_.WithLabels({result});
}

void EventFollower::Start(ApplyFn apply) {
  apply_ = std::move(apply);
  thread_ = std::thread([this] { Run(); });
}

EventFollower::~EventFollower() {
  {
    core::MutexLock lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool EventFollower::Pause(std::chrono::milliseconds d) {
  auto deadline = std::chrono::steady_clock::now() + d;
  core::MutexLock lock(stop_mu_);
  while (!stopping_) {
    if (stop_cv_.wait_until(stop_mu_, deadline) == std::cv_status::timeout) break;
  }
  return !stopping_;
}

size_t EventFollower::ApplyEntries(std::vector<store::RedisEventLogReader::Entry>& entries,
                                   bool live) {
  std::vector<Event> batch;
  std::vector<int64_t> accepted_ms;
  batch.reserve(entries.size());
  uint64_t own = 0;
  uint64_t malformed = 0;
  for (auto& entry : entries) {
    if (!entry.event.ok()) {
      ++malformed;
      continue;
    }
    store::LoggedEvent& e = *entry.event;
    if (e.origin == options_.origin) {
      ++own;
      continue;
    }
    accepted_ms.push_back(e.accepted_ms);
    batch.push_back(Event{std::move(e.user_id), std::move(e.item_id), std::move(e.event_type),
                          e.timestamp, std::move(e.event_id)});
  }
  if (!batch.empty()) {
    apply_(batch, UnixSecondsNow());
    if (live) {
      int64_t now_ms = UnixMillisNow();
      for (int64_t at : accepted_ms) {
        delay_.Observe(static_cast<double>(std::max<int64_t>(0, now_ms - at)) / 1000.0);
      }
    }
  }
  read_.WithLabels({"applied"}).Inc(static_cast<double>(batch.size()));
  read_.WithLabels({"own"}).Inc(static_cast<double>(own));
  if (malformed > 0) {
    read_.WithLabels({"malformed"}).Inc(static_cast<double>(malformed));
    spdlog::warn("event log: {} malformed entries skipped", malformed);
  }
  applied_.fetch_add(batch.size(), std::memory_order_relaxed);
  return entries.size();
}

void EventFollower::Run() {
  std::unique_ptr<store::RedisEventLogReader> reader;
  bool caught_up = false;
  bool warned = false;
  std::chrono::milliseconds backoff{100};
  // Logs the first failure of an outage, then waits (backoff doubling to 2 s); false when
  // stopping.
  auto wait_after = [&](const char* what, const Status& failure) {
    if (!warned) {
      spdlog::warn("Redis connection failed: event log {} ({}); retrying", what, failure.message());
      warned = true;
    }
    if (!Pause(backoff)) return false;
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(2));
    return true;
  };
  for (;;) {
    {
      core::MutexLock lock(stop_mu_);
      if (stopping_) return;
    }
    if (!ready_.load(std::memory_order_relaxed) &&
        std::chrono::steady_clock::now() - started_ >= options_.catchup_timeout) {
      spdlog::warn(
          "event log: catch-up not finished after {} ms (Redis unavailable?): ready without the "
          "fleet's recent events; catching up when the log answers",
          options_.catchup_timeout.count());
      ready_.store(true, std::memory_order_release);
    }
    if (reader == nullptr) {
      int64_t from_ms = UnixMillisNow() - options_.catchup_window.count() * 1000;
      auto connected = store::RedisEventLogReader::Connect(
          options_.endpoint, options_.timeout, kBlock, options_.default_shards, from_ms);
      if (!connected.ok()) {
        if (!wait_after("not readable", connected.status())) return;
        continue;
      }
      reader = std::move(connected).value();
    }
    auto entries = caught_up ? reader->Read(kFollowCount, kBlock) : reader->Read(kCatchUpCount, {});
    if (!entries.ok()) {
      if (!wait_after("read failed", entries.status())) return;
      (void)reader->Reconnect();  // keeps the positions; a failure shows at the next read
      continue;
    }
    if (warned) {
      spdlog::info("Redis connection restored: event log readable again");
      warned = false;
    }
    backoff = std::chrono::milliseconds(100);
    size_t read = ApplyEntries(*entries, caught_up);
    if (!caught_up && read == 0) {
      caught_up = true;
      if (!ready_.load(std::memory_order_relaxed)) {
        spdlog::info("event log: caught up ({} events applied from the last {} s)", applied(),
                     options_.catchup_window.count());
      }
      ready_.store(true, std::memory_order_release);
    }
  }
}

}  // namespace recserve::engine
