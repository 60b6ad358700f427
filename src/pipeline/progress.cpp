#include "pipeline/progress.h"

#include <spdlog/spdlog.h>

#include <cstdio>

namespace recserve::pipeline {

void StepProgress::Begin(std::string step, uint64_t total_bytes) {
  step_ = std::move(step);
  total_bytes_ = total_bytes;
  started_ = Clock::now();
  last_draw_ = started_;
}

void StepProgress::Update(uint64_t rows, uint64_t bytes) {
  if (!interactive_) return;
  const auto now = Clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(250)) return;
  last_draw_ = now;
  const double seconds = std::chrono::duration<double>(now - started_).count();
  const double rate = seconds > 0 ? static_cast<double>(rows) / seconds : 0;
  std::string eta = "?";
  if (total_bytes_ > 0 && bytes > 0 && bytes <= total_bytes_) {
    eta = fmt::format("{:.0f}s", seconds * static_cast<double>(total_bytes_ - bytes) /
                                     static_cast<double>(bytes));
  }
  std::fprintf(stderr, "\r[%s] %llu rows  %.0f rows/s  ETA %s   ", step_.c_str(),
               static_cast<unsigned long long>(rows), rate, eta.c_str());
  std::fflush(stderr);
}

void StepProgress::End(uint64_t rows, std::string note) {
  const double seconds = std::chrono::duration<double>(Clock::now() - started_).count();
  if (interactive_) std::fprintf(stderr, "\r\033[K");
  spdlog::info("pipeline step={} rows={} seconds={:.3f} rows_per_second={:.0f} result={}", step_,
               rows, seconds, seconds > 0 ? static_cast<double>(rows) / seconds : 0.0, note);
  records_.push_back({step_, rows, seconds, std::move(note)});
}

std::string StepProgress::Summary() const {
  std::string out = fmt::format("{:<16} {:>12} {:>10} {:>12}  {}\n", "step", "rows", "seconds",
                                "rows/s", "result");
  double total = 0;
  for (const auto& r : records_) {
    total += r.seconds;
    out += fmt::format("{:<16} {:>12} {:>10.3f} {:>12.0f}  {}\n", r.step, r.rows, r.seconds,
                       r.seconds > 0 ? static_cast<double>(r.rows) / r.seconds : 0.0, r.note);
  }
  out += fmt::format("{:<16} {:>12} {:>10.3f}\n", "total", "", total);
  return out;
}

}  // namespace recserve::pipeline
