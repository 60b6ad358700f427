#include "resilience/bounded_executor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace recserve::resilience {
namespace {

using std::chrono::milliseconds;

// A gate that tasks wait on until the test opens it.
class Gate {
 public:
  void Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return open_; });
  }
  void Open() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// A task that reports it is running on its worker, then blocks on `gate`. Once `started` is
// ready the worker is provably busy with it: it left the queue and holds the worker until the
// gate opens, so what the test submits next waits in the queue (or is refused).
std::function<void()> BlockingTask(std::shared_ptr<Gate> gate, std::promise<void>& started) {
  return [gate, &started] {
    started.set_value();
    gate->Wait();
  };
}

void AwaitStarted(std::promise<void>& started) {
  ASSERT_EQ(started.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
}

TEST(BoundedExecutor, RunsEveryAcceptedTask) {
  std::atomic<int> ran{0};
  BoundedExecutor executor("test", 2, 1000);
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(executor.TrySubmit([&] { ++ran; }));
  executor.Shutdown();
  EXPECT_EQ(ran.load(), 500);
  EXPECT_EQ(executor.stats().completed, 500u);
  EXPECT_EQ(executor.stats().accepted, 500u);
}

TEST(BoundedExecutor, SaturatedQueueRefusesWithoutBlocking) {
  auto gate = std::make_shared<Gate>();
  std::promise<void> started;
  BoundedExecutor executor("test", 1, 2);
  ASSERT_TRUE(executor.TrySubmit(BlockingTask(gate, started)));
  AwaitStarted(started);
  EXPECT_EQ(executor.stats().running, 1u);
  EXPECT_TRUE(executor.TrySubmit([gate] { gate->Wait(); }));
  EXPECT_TRUE(executor.TrySubmit([gate] { gate->Wait(); }));
  EXPECT_FALSE(executor.TrySubmit([] {})) << "queue holds 2 waiting tasks";
  EXPECT_FALSE(executor.TrySubmitWithResult([] { return 1; }).has_value());
  BoundedExecutor::Stats s = executor.stats();
  EXPECT_EQ(s.queued, 2u);
  EXPECT_EQ(s.rejected, 2u);
  gate->Open();
  executor.Shutdown();
  EXPECT_EQ(executor.stats().completed, 3u);
}

TEST(BoundedExecutor, ResultReadyBeforeDeadlineIsReturned) {
  BoundedExecutor executor("test", 1, 4);
  auto result = executor.TrySubmitWithResult([] { return std::vector<int>{3, 1, 2}; });
  ASSERT_TRUE(result.has_value());
  Result<std::vector<int>> v =
      result->AwaitUntil(std::chrono::steady_clock::now() + std::chrono::seconds(30));
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(*v, (std::vector<int>{3, 1, 2}));
  EXPECT_TRUE(result->ready());
}

TEST(BoundedExecutor, LateResultIsAbandonedSafely) {
  auto gate = std::make_shared<Gate>();
  auto finished = std::make_shared<std::atomic<bool>>(false);
  BoundedExecutor executor("ranking", 1, 4);
  {
    // The "request": waits until its deadline, gives up, and its stack frame goes away while
    // the task still runs.
    auto payload = std::make_shared<std::vector<int>>(1000, 7);
    auto result = executor.TrySubmitWithResult([gate, finished, payload] {
      gate->Wait();
      finished->store(true);
      return *payload;
    });
    ASSERT_TRUE(result.has_value());
    Result<std::vector<int>> late =
        result->AwaitUntil(std::chrono::steady_clock::now() + milliseconds(5));
    EXPECT_EQ(late.status().code(), StatusCode::kDeadlineExceeded);
    EXPECT_FALSE(result->ready());
  }
  gate->Open();  // the abandoned task now completes and writes into the shared state
  executor.Shutdown();
  EXPECT_TRUE(finished->load());
  EXPECT_EQ(executor.stats().completed, 1u);
  EXPECT_EQ(executor.stats().failed, 0u);
}

TEST(BoundedExecutor, ThrowingTasksAreContained) {
  BoundedExecutor executor("test", 1, 4);
  auto result = executor.TrySubmitWithResult([]() -> int { throw std::runtime_error("boom"); });
  ASSERT_TRUE(result.has_value());
  Result<int> r = result->AwaitUntil(std::chrono::steady_clock::now() + std::chrono::seconds(30));
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
  EXPECT_NE(r.status().message().find("boom"), std::string::npos);
  std::atomic<bool> after{false};
  ASSERT_TRUE(executor.TrySubmit([] { throw 42; }));
  ASSERT_TRUE(executor.TrySubmit([&] { after = true; }));
  executor.Shutdown();
  EXPECT_TRUE(after.load()) << "the worker survived the throwing task";
  EXPECT_EQ(executor.stats().failed, 1u) << "the result task caught its own exception";
}

// Shutdown blocks while a task runs, and still runs every queued task before it returns. The
// blocking case is forced, not left to timing: the worker is provably inside the gated task and
// Shutdown provably under way (TrySubmit refused) before the gate opens.
TEST(BoundedExecutor, ShutdownRunsQueuedTasksThenRefuses) {
  std::atomic<int> ran{0};
  auto gate = std::make_shared<Gate>();
  std::promise<void> started;
  // Room for the no-op probes below, so a refusal can only mean "shutting down".
  BoundedExecutor executor("test", 1, 100000);
  ASSERT_TRUE(executor.TrySubmit(BlockingTask(gate, started)));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(executor.TrySubmit([&] { ++ran; }));
  AwaitStarted(started);

  std::atomic<bool> shutdown_returned{false};
  std::thread shutdown([&] {
    executor.Shutdown();
    shutdown_returned = true;
  });
  bool refused = false;
  for (int i = 0; i < 30000 && !refused; ++i) {
    refused = !executor.TrySubmit([] {});
    if (!refused) std::this_thread::sleep_for(milliseconds(1));
  }
  ASSERT_TRUE(refused) << "Shutdown did not begin";
  EXPECT_FALSE(shutdown_returned.load()) << "Shutdown returned while a task was running";
  EXPECT_EQ(ran.load(), 0) << "queued tasks ran while the only worker was blocked";

  gate->Open();
  shutdown.join();
  EXPECT_EQ(ran.load(), 5);
  EXPECT_FALSE(executor.TrySubmit([&] { ++ran; }));
  executor.Shutdown();  // idempotent
}

TEST(BoundedExecutor, ConcurrentSubmittersAccountForEveryTask) {
  std::atomic<int> ran{0};
  BoundedExecutor executor("test", 2, 16);
  std::vector<std::thread> submitters;
  for (int t = 0; t < 4; ++t) {
    submitters.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) (void)executor.TrySubmit([&] { ++ran; });
    });
  }
  for (std::thread& t : submitters) t.join();
  executor.Shutdown();
  BoundedExecutor::Stats s = executor.stats();
  EXPECT_EQ(s.accepted + s.rejected, 8000u);
  EXPECT_EQ(s.completed, s.accepted);
  EXPECT_EQ(static_cast<uint64_t>(ran.load()), s.accepted);
}

}  // namespace
}  // namespace recserve::resilience
