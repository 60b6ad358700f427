#include "observe/metrics.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "observe/data_quality_summary.h"
#include "observe/exposure_log.h"
#include "observe/process_metrics.h"

namespace recserve::observe {
namespace {

bool Contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

TEST(Registry, CounterWithLabelsIsExposedWithHelpAndType) {
  Registry registry;
  auto& requests = registry.AddCounter("demo_requests_total", "Requests.", {"endpoint", "status"});
  requests.WithLabels({"/a", "200"}).Inc();
  requests.WithLabels({"/a", "200"}).Inc(2);
  requests.WithLabels({"/b", "404"}).Inc();
  std::string text = registry.Expose();
  EXPECT_TRUE(Contains(text, "# HELP demo_requests_total Requests.\n"));
  EXPECT_TRUE(Contains(text, "# TYPE demo_requests_total counter\n"));
  EXPECT_TRUE(Contains(text, "demo_requests_total{endpoint=\"/a\",status=\"200\"} 3\n"));
  EXPECT_TRUE(Contains(text, "demo_requests_total{endpoint=\"/b\",status=\"404\"} 1\n"));
}

TEST(Registry, CounterIgnoresNegativeDeltas) {
  Counter c;
  c.Inc(5);
  c.Inc(-3);
  EXPECT_EQ(c.Value(), 5);
}

TEST(Registry, LabelValuesAndHelpAreEscaped) {
  Registry registry;
  registry.AddGauge("demo_gauge", "line one\nback\\slash", {"path"})
      .WithLabels({"a\"b\\c\nd"})
      .Set(1.5);
  std::string text = registry.Expose();
  EXPECT_TRUE(Contains(text, "# HELP demo_gauge line one\\nback\\\\slash\n"));
  EXPECT_TRUE(Contains(text, "demo_gauge{path=\"a\\\"b\\\\c\\nd\"} 1.5\n"));
}

TEST(Registry, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Registry registry;
  auto& h = registry.AddHistogram("demo_seconds", "Latency.", {"endpoint"}, {0.01, 0.1, 1});
  Histogram& child = h.WithLabels({"/x"});
  child.Observe(0.005);  // bucket 0.01
  child.Observe(0.01);   // le is inclusive: bucket 0.01
  child.Observe(0.5);    // bucket 1
  child.Observe(7);      // +Inf only
  std::string text = registry.Expose();
  EXPECT_TRUE(Contains(text, "# TYPE demo_seconds histogram\n"));
  EXPECT_TRUE(Contains(text, "demo_seconds_bucket{endpoint=\"/x\",le=\"0.01\"} 2\n"));
  EXPECT_TRUE(Contains(text, "demo_seconds_bucket{endpoint=\"/x\",le=\"0.1\"} 2\n"));
  EXPECT_TRUE(Contains(text, "demo_seconds_bucket{endpoint=\"/x\",le=\"1\"} 3\n"));
  EXPECT_TRUE(Contains(text, "demo_seconds_bucket{endpoint=\"/x\",le=\"+Inf\"} 4\n"));
  EXPECT_TRUE(Contains(text, "demo_seconds_sum{endpoint=\"/x\"} 7.515\n"));
  EXPECT_TRUE(Contains(text, "demo_seconds_count{endpoint=\"/x\"} 4\n"));
}

TEST(Registry, RegisteringTwiceReturnsTheSameFamily) {
  Registry registry;
  auto& a = registry.AddCounter("demo_total", "A.");
  auto& b = registry.AddCounter("demo_total", "B.");
  EXPECT_EQ(&a, &b);
}

TEST(Registry, ConcurrentIncrementsAreNotLost) {
  Registry registry;
  auto& family = registry.AddCounter("demo_total", "Demo.", {"thread_group"});
  auto& latency = registry.AddHistogram("demo_seconds", "Demo.", {}, LatencyBuckets());
  constexpr int kThreads = 4, kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        family.WithLabels({t % 2 == 0 ? "even" : "odd"}).Inc();
        latency.Get().Observe(0.002);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(family.WithLabels({"even"}).Value() + family.WithLabels({"odd"}).Value(),
            kThreads * kPerThread);
  EXPECT_EQ(latency.Get().Count(), static_cast<uint64_t>(kThreads * kPerThread));
}

TEST(Registry, FormatsSpecialValues) {
  EXPECT_EQ(FormatMetricValue(1.0 / 0.0), "+Inf");
  EXPECT_EQ(FormatMetricValue(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(FormatMetricValue(0.0 / 0.0), "NaN");
  EXPECT_EQ(FormatMetricValue(0.25), "0.25");
}

TEST(ProcessMetrics, ReadsThisProcessFromProc) {
  Registry registry;
  RegisterProcessMetrics(registry);
  std::string text = registry.Expose();
  auto value = [&](const std::string& name) {
    size_t at = text.find("\n" + name + " ");
    EXPECT_NE(at, std::string::npos) << name;
    return std::stod(text.substr(at + name.size() + 2));
  };
  EXPECT_GT(value("process_resident_memory_bytes"), 1e5);
  EXPECT_GE(value("process_virtual_memory_bytes"), value("process_resident_memory_bytes"));
  EXPECT_GE(value("process_open_fds"), 3);
  EXPECT_GT(value("process_max_fds"), value("process_open_fds"));
  EXPECT_GT(value("process_start_time_seconds"), 1.6e9);
}

std::filesystem::path TempPath(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("recserve-observe-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  return dir / name;
}

TEST(ExposureLog, WritesOneJsonLinePerRecord) {
  Registry registry;
  Counter& dropped = registry.AddCounter("dropped_total", "d").Get();
  auto path = TempPath("exposure.jsonl");
  std::filesystem::remove(path);
  {
    ExposureLog log(dropped);
    ASSERT_TRUE(log.Open(path).ok());
    for (int i = 0; i < 3; ++i) {
      ExposureRecord r;
      r.request_id = "req-" + std::to_string(i);
      r.user_id = "u\"1";
      r.items = {{"i1", 0.5}, {"i2", 0.25}};
      r.variant = "primary";
      r.degraded_reason = "no_model";
      r.timestamp = 1700000000;
      EXPECT_TRUE(log.Append(std::move(r)));
    }
    log.Flush();
  }
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0],
            R"({"degraded_reason":"no_model","endpoint":"","items":[{"item_id":"i1","score":0.5},)"
            R"({"item_id":"i2","score":0.25}],"model_version":null,"request_id":"req-0",)"
            R"("timestamp":1700000000.0,"user_id":"u\"1","variant":"primary"})");
  EXPECT_EQ(dropped.Value(), 0);
}

TEST(ExposureLog, CountsDropsWhenNotOpenOrFull) {
  Registry registry;
  Counter& dropped = registry.AddCounter("dropped_total", "d").Get();
  ExposureLog closed(dropped);
  EXPECT_FALSE(closed.Append(ExposureRecord{}));
  EXPECT_EQ(dropped.Value(), 1);
  // Capacity 0: every record is dropped, and Append still returns at once.
  ExposureLog tiny(dropped, 0);
  ASSERT_TRUE(tiny.Open(TempPath("tiny.jsonl")).ok());
  EXPECT_FALSE(tiny.Append(ExposureRecord{}));
  EXPECT_EQ(dropped.Value(), 2);
}

TEST(DataQualitySummary, ReadsScoreAndRunTime) {
  auto path = TempPath("report.json");
  std::ofstream(path)
      << R"({"overall_quality_score": 87.5, "generated_at": "2026-11-29T06:00:00Z"})";
  auto summary = ReadDataQualitySummary(path);
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(summary->score, 87.5);
  EXPECT_EQ(summary->last_success, 1795932000);
  Registry registry;
  ExportDataQualitySummary(registry, *summary);
  EXPECT_TRUE(Contains(registry.Expose(), "\ndata_quality_score 87.5\n"));
}

TEST(DataQualitySummary, MissingAndCorruptFilesAreErrors) {
  EXPECT_EQ(ReadDataQualitySummary(TempPath("absent.json")).status().code(), StatusCode::kNotFound);
  auto path = TempPath("bad.json");
  std::ofstream(path) << "{not json";
  EXPECT_EQ(ReadDataQualitySummary(path).status().code(), StatusCode::kDataLoss);
  Registry registry;
  ExportDataQualitySummary(registry, {});
  EXPECT_FALSE(Contains(registry.Expose(), "\ndata_quality_score "));
}

}  // namespace
}  // namespace recserve::observe
