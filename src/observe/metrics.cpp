#include "observe/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace recserve::observe {

void Counter::Inc(double delta) {
  if (!(delta >= 0)) return;
  value_.fetch_add(delta, std::memory_order_relaxed);
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)),
      buckets_(new std::atomic<uint64_t>[upper_bounds_.size() + 1]) {
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::Observe(double value) {
  if (std::isnan(value)) return;  // not a measurement; would poison _sum
  // First bucket whose upper bound is >= value ("le" semantics).
  size_t i =
      std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) - upper_bounds_.begin();
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

namespace {

constexpr char kKeySeparator = '\x1f';

template <typename Range>
std::string JoinKey(const Range& values, size_t n) {
  std::string key;
  size_t i = 0;
  for (const auto& v : values) {
    if (i == n) break;
    if (i > 0) key.push_back(kKeySeparator);
    key.append(v.data(), v.size());
    ++i;
  }
  for (; i < n; ++i) {
    if (i > 0) key.push_back(kKeySeparator);
  }
  return key;
}

template <typename Range>
std::vector<std::string> ValueVector(const Range& values, size_t n) {
  std::vector<std::string> out;
  for (const auto& v : values) {
    if (out.size() == n) break;
    out.emplace_back(v);
  }
  out.resize(n);
  return out;
}

}  // namespace

template <typename Child>
Child& Family<Child>::Find(std::string_view key,
                           const std::function<std::vector<std::string>()>& values) {
  {
    core::ReaderLock lock(mu_);
    auto it = children_.find(key);
    if (it != children_.end()) return *it->second.child;
  }
  core::WriterLock lock(mu_);
  auto it = children_.find(key);
  if (it != children_.end()) return *it->second.child;
  Entry entry{values(), factory_()};
  Child& child = *entry.child;
  children_.emplace(std::string(key), std::move(entry));
  return child;
}

template <typename Child>
Child& Family<Child>::WithLabels(std::initializer_list<std::string_view> values) {
  size_t n = label_names_.size();
  return Find(JoinKey(values, n), [&] { return ValueVector(values, n); });
}

template <typename Child>
Child& Family<Child>::WithLabels(const std::vector<std::string>& values) {
  size_t n = label_names_.size();
  return Find(JoinKey(values, n), [&] { return ValueVector(values, n); });
}

template <typename Child>
void Family<Child>::ForEach(
    const std::function<void(const std::vector<std::string>&, const Child&)>& fn) const {
  core::ReaderLock lock(mu_);
  for (const auto& [key, entry] : children_) fn(entry.values, *entry.child);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

template <typename Child>
Family<Child>& Registry::AddFamily(MetricType type, std::unique_ptr<Family<Child>> Slot::*member,
                                   const std::string& name, const std::string& help,
                                   std::vector<std::string> label_names,
                                   typename Family<Child>::Factory factory) {
  core::MutexLock lock(mu_);
  for (auto& slot : slots_) {
    if ((*slot).*member && ((*slot).*member)->name() == name) return *((*slot).*member);
  }
  auto slot = std::make_unique<Slot>();
  slot->type = type;
  (*slot).*member =
      std::make_unique<Family<Child>>(name, help, std::move(label_names), std::move(factory));
  slots_.push_back(std::move(slot));
  return *((*slots_.back()).*member);
}

Family<Counter>& Registry::AddCounter(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names) {
  return AddFamily<Counter>(MetricType::kCounter, &Slot::counter, name, help,
                            std::move(label_names), [] { return std::make_unique<Counter>(); });
}

Family<Gauge>& Registry::AddGauge(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names) {
  return AddFamily<Gauge>(MetricType::kGauge, &Slot::gauge, name, help, std::move(label_names),
                          [] { return std::make_unique<Gauge>(); });
}

Family<Histogram>& Registry::AddHistogram(const std::string& name, const std::string& help,
                                          std::vector<std::string> label_names,
                                          std::vector<double> upper_bounds) {
  return AddFamily<Histogram>(
      MetricType::kHistogram, &Slot::histogram, name, help, std::move(label_names),
      [bounds = std::move(upper_bounds)] { return std::make_unique<Histogram>(bounds); });
}

void Registry::AddCollector(std::function<void()> collector) {
  core::MutexLock lock(mu_);
  collectors_.push_back(std::move(collector));
}

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string FormatMetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

namespace {

// Appends `{a="x",b="y"}` (or nothing without labels); `extra` is an additional label pair such
// as le="0.005".
void AppendLabels(std::string& out, const std::vector<std::string>& names,
                  const std::vector<std::string>& values, std::string_view extra_name = {},
                  std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out.push_back('{');
  bool first = true;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!first) out.push_back(',');
    first = false;
    out += names[i];
    out += "=\"";
    out += EscapeLabelValue(values[i]);
    out.push_back('"');
  }
  if (!extra_name.empty()) {
    if (!first) out.push_back(',');
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out.push_back('"');
  }
  out.push_back('}');
}

void AppendHeader(std::string& out, const std::string& name, const std::string& help,
                  std::string_view type) {
  out.append("# HELP ").append(name).append(" ").append(EscapeHelp(help)).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

template <typename Child>
void AppendSimple(std::string& out, const Family<Child>& family, std::string_view type) {
  AppendHeader(out, family.name(), family.help(), type);
  family.ForEach([&](const std::vector<std::string>& values, const Child& child) {
    out += family.name();
    AppendLabels(out, family.label_names(), values);
    out.push_back(' ');
    out += FormatMetricValue(child.Value());
    out.push_back('\n');
  });
}

void AppendHistogram(std::string& out, const Family<Histogram>& family) {
  AppendHeader(out, family.name(), family.help(), "histogram");
  family.ForEach([&](const std::vector<std::string>& values, const Histogram& h) {
    uint64_t cumulative = 0;
    const auto& bounds = h.upper_bounds();
    for (size_t i = 0; i <= bounds.size(); ++i) {
      cumulative += h.BucketCount(i);
      std::string le = i < bounds.size() ? FormatMetricValue(bounds[i]) : "+Inf";
      out.append(family.name()).append("_bucket");
      AppendLabels(out, family.label_names(), values, "le", le);
      out.append(" ").append(std::to_string(cumulative)).append("\n");
    }
    out.append(family.name()).append("_sum");
    AppendLabels(out, family.label_names(), values);
    out.append(" ").append(FormatMetricValue(h.Sum())).append("\n");
    out.append(family.name()).append("_count");
    AppendLabels(out, family.label_names(), values);
    // _count equals the +Inf bucket by construction of the exposition (same snapshot).
    out.append(" ").append(std::to_string(cumulative)).append("\n");
  });
}

}  // namespace

std::string Registry::Expose() const {
  std::vector<std::function<void()>> collectors;
  {
    core::MutexLock lock(mu_);
    collectors = collectors_;
  }
  for (const auto& collect : collectors) collect();
  std::string out;
  out.reserve(16 * 1024);
  core::MutexLock lock(mu_);
  for (const auto& slot : slots_) {
    switch (slot->type) {
      case MetricType::kCounter:
        AppendSimple(out, *slot->counter, "counter");
        break;
      case MetricType::kGauge:
        AppendSimple(out, *slot->gauge, "gauge");
        break;
      case MetricType::kHistogram:
        AppendHistogram(out, *slot->histogram);
        break;
    }
  }
  return out;
}

Registry& Registry::Default() {
  static Registry* registry = new Registry();  // never destroyed: outlives every thread
  return *registry;
}

std::vector<double> LatencyBuckets() {
  return {0.0005, 0.001,  0.0015, 0.002, 0.003, 0.004, 0.005, 0.0065, 0.008,
          0.01,   0.0125, 0.015,  0.02,  0.025, 0.03,  0.04,  0.05,   0.065,
          0.08,   0.1,    0.15,   0.25,  0.5,   1.0,   2.5};
}

}  // namespace recserve::observe
