#pragma once
// ReloadableConfig<T>: an immutable configuration snapshot read from one file, shared by every
// request, replaced whole by Reload(). Used for config/experiments.yaml and
// config/feature_flags.yaml; the same shape as lifecycle/model_slots.h for model bundles.
//
// Readers call Get() once per request and keep the returned std::shared_ptr<const T> for the
// whole request, so a reload never changes a request half-way and a replaced snapshot is freed
// when its last reader drops it. Get() is one atomic shared_ptr load (no mutex).
//
// Reload() re-runs the loader on the same path. A loader error (missing file, syntax error,
// failed validation) is returned and the current snapshot keeps serving: a bad file never
// replaces a good one.
//
// Thread-safety: every method may be called from any thread; reloads are serialised by a mutex
// (so two concurrent reloads publish in the order they read the file), readers never take it.

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <utility>

#include "core/status.h"
#include "core/thread_annotations.h"

namespace recserve {

template <typename T>
class ReloadableConfig {
 public:
  using Ptr = std::shared_ptr<const T>;
  // Reads and validates one file. Must not throw; errors name the file and the bad field.
  using Loader = std::function<Result<T>(const std::filesystem::path&)>;

  // Loads `path` once; the loader's error when that first load fails (nothing is created).
  static Result<std::unique_ptr<ReloadableConfig>> Open(std::filesystem::path path, Loader loader) {
    Result<T> first = loader(path);
    if (!first.ok()) return first.status();
    return std::unique_ptr<ReloadableConfig>(new ReloadableConfig(
        std::move(path), std::move(loader), std::make_shared<const T>(std::move(first).value())));
  }

  ReloadableConfig(const ReloadableConfig&) = delete;
  ReloadableConfig& operator=(const ReloadableConfig&) = delete;

  // The current snapshot; never null.
  Ptr Get() const { return current_.load(std::memory_order_acquire); }

  // Re-reads the file. OK: the new snapshot is published (requests that already hold the old one
  // finish on it). Error: nothing changes, and the error says what is wrong with the file.
  Status Reload() {
    core::MutexLock lock(reload_mu_);
    Result<T> next = loader_(path_);
    if (!next.ok()) return next.status();
    Ptr replaced = current_.exchange(std::make_shared<const T>(std::move(next).value()),
                                     std::memory_order_acq_rel);
    return Status::Ok();  // `replaced` is freed here unless a reader still holds it
  }

  const std::filesystem::path& path() const { return path_; }

 private:
  ReloadableConfig(std::filesystem::path path, Loader loader, Ptr initial)
      : path_(std::move(path)), loader_(std::move(loader)), current_(std::move(initial)) {}

  const std::filesystem::path path_;
  const Loader loader_;
  core::Mutex reload_mu_;  // serialises Reload(); guards no member (current_ is atomic)
  std::atomic<Ptr> current_;
};

}  // namespace recserve
