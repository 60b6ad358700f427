#pragma once
// A small Prometheus metrics registry: counters, gauges and histograms, each a family with fixed
// label names, and the text exposition format 0.0.4 (GET /metrics). Metric names and label sets
// are the contract in docs/METRICS.md.
//
// Hot path: updating a child (Counter::Inc, Histogram::Observe, ...) is a few relaxed atomic
// operations, no lock. Finding a child by label values takes a shared (reader) lock on the family;
// only the first use of a new label combination takes the exclusive lock. Callers that update the
// same child on every request may keep the reference: children live as long as the registry.

#include <atomic>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/thread_annotations.h"

namespace recserve::observe {

// Monotonic value. Thread-safe.
class Counter {
 public:
  // REQUIRES: delta >= 0 (a negative delta is ignored: counters never go down).
  void Inc(double delta = 1.0);
  // Mirrors a counter kept elsewhere (e.g. kernel CPU time); for scrape-time collectors only.
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Value that goes up and down. Thread-safe.
class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Distribution over fixed upper bounds (plus the implicit +Inf bucket). Thread-safe; a scrape
// concurrent with Observe may see a count and sum from slightly different instants, which
// Prometheus tolerates.
class Histogram {
 public:
  // REQUIRES: `upper_bounds` strictly increasing, finite.
  explicit Histogram(std::vector<double> upper_bounds);
  // A NaN value is ignored.
  void Observe(double value);

  const std::vector<double>& upper_bounds() const { return upper_bounds_; }
  // Non-cumulative count of bucket i; i == upper_bounds().size() is the +Inf bucket.
  uint64_t BucketCount(size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }
  uint64_t Count() const { return count_.load(std::memory_order_relaxed); }
  double Sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0.0};
};

enum class MetricType { kCounter, kGauge, kHistogram };

// All children of one metric name. Thread-safe.
template <typename Child>
class Family {
 public:
  using Factory = std::function<std::unique_ptr<Child>()>;
  Family(std::string name, std::string help, std::vector<std::string> label_names, Factory factory)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        factory_(std::move(factory)) {}
  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;

  // The child for these label values, created on first use. The reference stays valid for the
  // registry's lifetime. REQUIRES: values.size() == label_names().size() (extra values are
  // ignored, missing ones are empty strings).
  Child& WithLabels(std::initializer_list<std::string_view> values);
  Child& WithLabels(const std::vector<std::string>& values);
  // The child of a family without labels.
  Child& Get() { return WithLabels({}); }

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // Calls fn(label values, child) for every child, in label order. Holds the reader lock.
  void ForEach(const std::function<void(const std::vector<std::string>&, const Child&)>& fn) const;

 private:
  Child& Find(std::string_view key, const std::function<std::vector<std::string>()>& values);

  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  Factory factory_;
  mutable core::SharedMutex mu_;
  struct Entry {
    std::vector<std::string> values;
    std::unique_ptr<Child> child;
  };
  // Key: label values joined by '\x1f'; std::less<> allows lookup by string_view.
  std::map<std::string, Entry, std::less<>> children_ GUARDED_BY(mu_);
};

// Owns every family. Registration happens at start-up (or lazily, thread-safe); the registry must
// outlive every reference handed out. Copy is deleted: one registry per process (Default()) or
// per test.
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Registering a name twice returns the existing family (its help and labels are kept).
  Family<Counter>& AddCounter(const std::string& name, const std::string& help,
                              std::vector<std::string> label_names = {});
  Family<Gauge>& AddGauge(const std::string& name, const std::string& help,
                          std::vector<std::string> label_names = {});
  Family<Histogram>& AddHistogram(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names,
                                  std::vector<double> upper_bounds);

  // Runs before every exposition (e.g. to read /proc); must be thread-safe.
  void AddCollector(std::function<void()> collector);

  // Prometheus text exposition 0.0.4 of every family, in registration order. Families without
  // children are written with HELP/TYPE only.
  std::string Expose() const;

  // The process-wide registry used by `recserve serve`.
  static Registry& Default();

 private:
  struct Slot {
    MetricType type;
    std::unique_ptr<Family<Counter>> counter;
    std::unique_ptr<Family<Gauge>> gauge;
    std::unique_ptr<Family<Histogram>> histogram;
  };
  // Returns the family named `name` held in `member` of some slot, or adds a new slot for it.
  template <typename Child>
  Family<Child>& AddFamily(MetricType type, std::unique_ptr<Family<Child>> Slot::*member,
                           const std::string& name, const std::string& help,
                           std::vector<std::string> label_names,
                           typename Family<Child>::Factory factory);
  mutable core::Mutex mu_;
  std::vector<std::unique_ptr<Slot>> slots_ GUARDED_BY(mu_);
  std::vector<std::function<void()>> collectors_ GUARDED_BY(mu_);
};

// Escapes a label value for the exposition format: backslash, double quote and newline.
std::string EscapeLabelValue(std::string_view value);
// Escapes HELP text: backslash and newline.
std::string EscapeHelp(std::string_view help);
// Prometheus float formatting: shortest round-trip decimal, "+Inf", "-Inf", "NaN".
std::string FormatMetricValue(double value);

// Bucket bounds for request latency in seconds: 0.5 ms .. 2.5 s, fine between 1 and 100 ms so a
// P95 in that range can be read to within a few milliseconds.
std::vector<double> LatencyBuckets();

}  // namespace recserve::observe
