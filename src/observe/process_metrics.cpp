#include "observe/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace recserve::observe {

namespace {

struct ProcStat {
  double cpu_seconds = 0;
  double start_time_seconds = 0;
  double virtual_bytes = 0;
  double resident_bytes = 0;
};

double BootTimeSeconds() {
  std::ifstream in("/proc/stat");
  std::string key;
  while (in >> key) {
    if (key == "btime") {
      double btime = 0;
      in >> btime;
      return btime;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

// Fields of /proc/self/stat after the parenthesised command name (which may contain spaces).
bool ReadProcStat(ProcStat& out) {
  std::ifstream in("/proc/self/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  size_t close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream fields(line.substr(close + 2));
  std::string f;
  std::vector<std::string> v;
  while (fields >> f) v.push_back(f);
  // After "pid (comm) ": index 0 is field 3 (state); utime=14, stime=15, starttime=22,
  // vsize=23, rss=24 (1-based field numbers of proc(5)).
  auto field = [&](int number) -> double {
    size_t i = static_cast<size_t>(number - 3);
    return i < v.size() ? std::stod(v[i]) : 0.0;
  };
  double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  out.cpu_seconds = (field(14) + field(15)) / ticks;
  static const double boot = BootTimeSeconds();
  out.start_time_seconds = boot + field(22) / ticks;
  out.virtual_bytes = field(23);
  out.resident_bytes = field(24) * page;
  return true;
}

double OpenFds() {
  std::error_code ec;
  double n = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++n;
  }
  return n;
}

}  // namespace

void RegisterProcessMetrics(Registry& registry) {
  Counter& cpu = registry
                     .AddCounter("process_cpu_seconds_total",
                                 "Total user and system CPU time spent in "
                                 "seconds.")
                     .Get();
  Gauge& rss =
      registry.AddGauge("process_resident_memory_bytes", "Resident memory size in bytes.").Get();
  Gauge& vms =
      registry.AddGauge("process_virtual_memory_bytes", "Virtual memory size in bytes.").Get();
  Gauge& fds = registry.AddGauge("process_open_fds", "Number of open file descriptors.").Get();
  Gauge& max_fds =
      registry.AddGauge("process_max_fds", "Maximum number of open file descriptors.").Get();
  Gauge& start = registry
                     .AddGauge("process_start_time_seconds",
                               "Start time of the process since unix epoch in seconds.")
                     .Get();
  registry.AddCollector([&cpu, &rss, &vms, &fds, &max_fds, &start] {
    ProcStat stat;
    try {
      if (!ReadProcStat(stat)) return;
    } catch (const std::exception&) {
      return;  // unparsable /proc line: keep the previous values
    }
    cpu.Set(stat.cpu_seconds);
    rss.Set(stat.resident_bytes);
    vms.Set(stat.virtual_bytes);
    start.Set(stat.start_time_seconds);
    fds.Set(OpenFds());
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) max_fds.Set(static_cast<double>(limit.rlim_cur));
  });
}

}  // namespace recserve::observe
