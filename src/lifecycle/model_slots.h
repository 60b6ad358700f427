#pragma once
// ModelSlots<T>: the primary, shadow and previous model bundles a server holds, swapped
// atomically. Bundles are `std::shared_ptr<const T>`: a reader takes a Snapshot (three pointer
// copies under a short lock) and keeps using what it got for the whole request, so a swap never
// blocks or breaks a request in flight, and a replaced bundle is destroyed when the last reader
// drops its pointer (never under the lock, never while in use).
//
// Thread-safety: every method may be called from any thread. Writers are serialised by the same
// mutex; the critical sections only copy/move pointers (destruction of a replaced bundle happens
// after the lock is released).

#include <memory>
#include <utility>

#include "core/status.h"
#include "core/thread_annotations.h"

namespace recserve::lifecycle {

template <typename T>
class ModelSlots {
 public:
  using Ptr = std::shared_ptr<const T>;

  // A consistent view of the three slots at one instant; null means empty.
  struct Snapshot {
    Ptr primary;
    Ptr shadow;
    Ptr previous;
  };

  ModelSlots() = default;
  ModelSlots(const ModelSlots&) = delete;
  ModelSlots& operator=(const ModelSlots&) = delete;

  Snapshot Get() const {
    core::MutexLock lock(mu_);
    return slots_;
  }

  // Puts `bundle` (REQUIRES: non-null, fully loaded and validated) in the shadow slot, replacing
  // any shadow. The primary is untouched.
  Snapshot LoadShadow(Ptr bundle) {
    return Mutate([&](Snapshot& s) { std::swap(s.shadow, bundle); });
  }

  // Empties the shadow slot.
  Snapshot ClearShadow() {
    Ptr released;  // destroyed after the lock is released
    return Mutate([&](Snapshot& s) { std::swap(s.shadow, released); });
  }

  // Shadow becomes primary; the old primary becomes previous (for Rollback); shadow is emptied.
  // FailedPrecondition when there is no shadow (nothing changes).
  Result<Snapshot> PromoteShadow() {
    Ptr released;
    Snapshot result;
    {
      core::MutexLock lock(mu_);
      if (!slots_.shadow) return FailedPrecondition("no shadow model to promote");
      released = std::exchange(slots_.previous, std::move(slots_.primary));
      slots_.primary = std::move(slots_.shadow);
      slots_.shadow.reset();
      result = slots_;
    }
    return result;  // `released` (the old previous) is dropped here, outside the lock
  }

  // `bundle` (REQUIRES: non-null) becomes primary directly; the old primary becomes previous.
  Snapshot ReplacePrimary(Ptr bundle) {
    return Mutate([&](Snapshot& s) {
      std::swap(s.previous, s.primary);  // old previous lands in `bundle`, released after unlock
      std::swap(s.primary, bundle);
    });
  }

  // Previous becomes primary and the demoted primary becomes previous, so a second Rollback
  // undoes the first. The shadow is untouched. FailedPrecondition when there is no previous.
  Result<Snapshot> Rollback() {
    core::MutexLock lock(mu_);
    if (!slots_.previous) return FailedPrecondition("no previous model to roll back to");
    std::swap(slots_.primary, slots_.previous);
    return slots_;
  }

 private:
  // Applies `change` under the lock. Any pointer the change swaps into its captured arguments is
  // released by the caller's frame after the lock is gone.
  template <typename Change>
  Snapshot Mutate(Change change) {
    core::MutexLock lock(mu_);
    change(slots_);
    return slots_;
  }

  mutable core::Mutex mu_;
  Snapshot slots_ GUARDED_BY(mu_);
};

}  // namespace recserve::lifecycle
