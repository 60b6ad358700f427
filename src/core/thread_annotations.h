#pragma once
// Clang's thread-safety analysis attributes (-Wthread-safety), as LevelDB and Abseil spell them.
// `make thread-safety-check` compiles src/ with clang and -Werror=thread-safety, so a member
// marked GUARDED_BY(mu_) read without holding mu_ fails the build; under GCC the macros expand
// to nothing.
//
// std::mutex and std::shared_mutex carry no capability attributes in libstdc++, so guarded
// members use the annotated wrappers below (core::Mutex, core::SharedMutex) and their scoped
// locks (core::MutexLock, core::ReaderLock, core::WriterLock) instead of the std types directly.
// A condition variable is a std::condition_variable_any that waits on the Mutex itself inside a
// MutexLock scope, with the condition in a loop: `while (!ready_) cv_.wait(mu_);` (a predicate
// lambda is not seen by the analysis to hold the lock).

#include <mutex>
#include <shared_mutex>

#if defined(__clang__)
#define RECSERVE_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define RECSERVE_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) RECSERVE_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY RECSERVE_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) RECSERVE_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) RECSERVE_THREAD_ANNOTATION(pt_guarded_by(x))
#define ACQUIRED_AFTER(...) RECSERVE_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define ACQUIRED_BEFORE(...) RECSERVE_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define EXCLUSIVE_LOCKS_REQUIRED(...) \
  RECSERVE_THREAD_ANNOTATION(exclusive_locks_required(__VA_ARGS__))
#define SHARED_LOCKS_REQUIRED(...) RECSERVE_THREAD_ANNOTATION(shared_locks_required(__VA_ARGS__))
#define LOCKS_EXCLUDED(...) RECSERVE_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) RECSERVE_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) RECSERVE_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) RECSERVE_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) RECSERVE_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) RECSERVE_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define NO_THREAD_SAFETY_ANALYSIS RECSERVE_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace recserve::core {

// std::mutex with the capability attribute. Satisfies Lockable, so std::condition_variable_any
// can wait on it; core::MutexLock is the annotated scoped lock.
class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;
  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  bool try_lock() TRY_ACQUIRE(true) { return mu_.try_lock(); }

 private:
  std::mutex mu_;
};

// std::shared_mutex with the capability attribute.
class CAPABILITY("mutex") SharedMutex {
 public:
  SharedMutex() = default;
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;
  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  void lock_shared() ACQUIRE_SHARED() { mu_.lock_shared(); }
  void unlock_shared() RELEASE_SHARED() { mu_.unlock_shared(); }

 private:
  std::shared_mutex mu_;
};

// Holds a Mutex for its scope.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  // Adopts a Mutex the caller already holds (after a successful try_lock()).
  MutexLock(Mutex& mu, std::adopt_lock_t) EXCLUSIVE_LOCKS_REQUIRED(mu) : mu_(mu) {}
  ~MutexLock() RELEASE() { mu_.unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

// Holds a SharedMutex exclusively for its scope.
class SCOPED_CAPABILITY WriterLock {
 public:
  explicit WriterLock(SharedMutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~WriterLock() RELEASE() { mu_.unlock(); }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  SharedMutex& mu_;
};

// Holds a SharedMutex shared for its scope.
class SCOPED_CAPABILITY ReaderLock {
 public:
  explicit ReaderLock(SharedMutex& mu) ACQUIRE_SHARED(mu) : mu_(mu) { mu_.lock_shared(); }
  ~ReaderLock() RELEASE() { mu_.unlock_shared(); }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;

 private:
  SharedMutex& mu_;
};

}  // namespace recserve::core
