#include "engine/event_journal.h"

#include <spdlog/spdlog.h>

namespace recserve::engine {

EventJournal::EventJournal(EventJournalOptions options, store::RedisEventLog* log,
                           store::EventSpool* spool, observe::Registry& registry)
    : options_(options),
      log_(log),
      spool_(spool),
      recorded_(registry.AddCounter(
          "recommendation_events_recorded_total",
          "Accepted POST /events events by where they were durably recorded before the 200: "
          "log (the shared Redis log) or spool (the local spool, replayed later).",
          {"target"})),
      replayed_(registry
                    .AddCounter("recommendation_event_spool_replayed_total",
                                "Spooled events written to the shared log after Redis returned.")
                    .Get()) {
  recorded_.WithLabels({"log"});
  recorded_.WithLabels({"spool"});
  if (spool_ != nullptr) replayer_ = std::thread([this] { ReplayLoop(); });
}

EventJournal::~EventJournal() {
  {
    core::MutexLock lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (replayer_.joinable()) replayer_.join();
}

Result<EventJournal::Recorded> EventJournal::Record(const std::vector<store::LoggedEvent>& events) {
  Recorded recorded;
  // While older spooled events wait, new ones queue behind them: a user's events reach the log
  // in the order they were accepted.
  if (spool_ == nullptr || spool_->pending_events() == 0) {
    auto added = log_->Append(events);
    if (added.ok()) {
      recorded.target = JournalTarget::kLog;
      recorded.apply_here = std::move(added).value();
      recorded_.WithLabels({"log"}).Inc(static_cast<double>(events.size()));
      return recorded;
    }
    if (spool_ == nullptr || added.status().message().rfind("event log full", 0) == 0) {
      return Unavailable("events not recorded: " + added.status().message());
    }
  }
  Status spooled = spool_->Append(events);
  if (!spooled.ok()) return Unavailable("events not recorded: " + spooled.message());
  recorded.target = JournalTarget::kSpool;
  recorded.apply_here.assign(events.size(), true);
  recorded_.WithLabels({"spool"}).Inc(static_cast<double>(events.size()));
  return recorded;
}

std::string_view EventJournal::mode() {
  bool spooling = spool_ != nullptr && (spool_->pending_events() > 0 || !log_->available());
  return spooling ? "spool" : "redis";
}

uint64_t EventJournal::spooled_events() const {
  return spool_ == nullptr ? 0 : spool_->pending_events();
}

bool EventJournal::ReplayOnce() {
  if (spool_->pending_events() == 0) return false;
  if (!log_->available()) {
    // The breaker is open: probe with a fresh connection instead of waiting on POST traffic.
    if (!log_->Reconnect().ok()) return false;
  }
  auto chunk = spool_->ReadOldest(options_.replay_chunk);
  if (!chunk.ok()) {
    spdlog::error("event spool: replay read failed: {}", chunk.status().message());
    return false;
  }
  if (chunk->events.empty()) return false;
  auto added = log_->Append(chunk->events);
  if (!added.ok()) return false;
  Status acked = spool_->Acknowledge(*chunk);
  if (!acked.ok()) {
    // Replayed but not acknowledged: the next attempt writes the same ids, which the log dedups.
    spdlog::error("event spool: acknowledge failed: {}", acked.message());
    return false;
  }
  replayed_.Inc(static_cast<double>(chunk->events.size()));
  if (spool_->pending_events() == 0) {
    spdlog::info("event spool: replayed into the shared log; spool empty");
  }
  return true;
}

void EventJournal::ReplayLoop() {
  for (;;) {
    bool more = ReplayOnce();
    core::MutexLock lock(stop_mu_);
    if (stopping_) return;
    if (!more) {
      auto deadline = std::chrono::steady_clock::now() + options_.replay_interval;
      while (!stopping_) {
        if (stop_cv_.wait_until(stop_mu_, deadline) == std::cv_status::timeout) break;
      }
      if (stopping_) return;
    }
  }
}

}  // namespace recserve::engine
