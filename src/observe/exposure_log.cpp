#include "observe/exposure_log.h"
#include "core/json_text.h"

#include <nlohmann/json.hpp>

namespace recserve::observe {

std::string ExposureRecordToJson(const ExposureRecord& record) {
  nlohmann::json items = nlohmann::json::array();
  for (const auto& [item, score] : record.items) {
    items.push_back({{"item_id", item}, {"score", score}});
  }
  nlohmann::json j = {
      {"request_id", record.request_id},
      {"user_id", record.user_id},
      {"endpoint", record.endpoint},
      {"items", std::move(items)},
      {"model_version", record.model_version.empty() ? nlohmann::json(nullptr)
                                                     : nlohmann::json(record.model_version)},
      {"variant", record.variant},
      {"degraded_reason", record.degraded_reason.empty() ? nlohmann::json(nullptr)
                                                         : nlohmann::json(record.degraded_reason)},
      {"timestamp", record.timestamp},
  };
  // Invalid UTF-8 in ids is replaced rather than thrown: the log must never fail a request.
  return JsonText(j);
}

ExposureLog::ExposureLog(Counter& dropped, size_t queue_capacity)
    : dropped_(dropped), capacity_(queue_capacity) {}

ExposureLog::~ExposureLog() { Close(); }

Status ExposureLog::Open(const std::filesystem::path& path) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  out_.open(path, std::ios::app);
  if (!out_) return NotFound("cannot open exposure log '" + path.string() + "' for appending");
  writer_ = std::thread([this] { Run(); });
  return Status::Ok();
}

bool ExposureLog::Append(ExposureRecord record) {
  {
    core::MutexLock lock(mu_);
    if (writer_.joinable() && !stopping_ && queue_.size() < capacity_) {
      queue_.push_back(std::move(record));
      // Notify once per batch rather than per record; below the batch size the writer's timer
      // picks records up within kLinger. (No throughput effect was measured either way:
      // docs/PERFORMANCE.md, "Serving, session 3".)
      if (queue_.size() == kWakeBatch) wake_.notify_one();
      return true;
    }
  }
  dropped_.Inc();
  return false;
}

void ExposureLog::Flush() {
  core::MutexLock lock(mu_);
  flush_requested_ = true;
  wake_.notify_one();
  while (!((queue_.empty() && !writing_) || !writer_.joinable())) drained_.wait(mu_);
}

void ExposureLog::Close() {
  {
    core::MutexLock lock(mu_);
    stopping_ = true;
    wake_.notify_all();
  }
  if (writer_.joinable()) writer_.join();
}

void ExposureLog::Run() {
  std::deque<ExposureRecord> batch;
  // mu_ is held except while a batch is written (unlocked and relocked by hand around it).
  mu_.lock();
  while (true) {
    const auto linger_until = std::chrono::steady_clock::now() + kLinger;
    while (!(stopping_ || flush_requested_ || queue_.size() >= kWakeBatch)) {
      if (wake_.wait_until(mu_, linger_until) == std::cv_status::timeout) break;
    }
    flush_requested_ = false;
    if (queue_.empty()) {
      if (stopping_) break;
      drained_.notify_all();
      continue;
    }
    batch.swap(queue_);
    writing_ = true;
    mu_.unlock();
    std::string text;
    for (const auto& record : batch) {
      text += ExposureRecordToJson(record);
      text.push_back('\n');
    }
    out_.write(text.data(), static_cast<std::streamsize>(text.size()));
    out_.flush();
    if (!out_) {
      dropped_.Inc(static_cast<double>(batch.size()));
      out_.clear();
    }
    batch.clear();
    mu_.lock();
    writing_ = false;
    drained_.notify_all();
  }
  drained_.notify_all();
  mu_.unlock();
}

}  // namespace recserve::observe
