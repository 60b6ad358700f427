-- wrk script for bench/serving.sh and bench/slo_run.sh: GET /recommendations/{user}?k=10 for
-- users drawn at random (fixed seed per wrk thread) from the file named by BENCH_USERS, one user
-- id per line. BENCH_DELAY_MS, when set, makes each connection wait that long before each request
-- (a paced load: about connections × 1000 / (delay + latency) requests/s). done() prints the
-- 95th and 99.9th latency percentiles, which wrk's --latency table does not show.
local users = {}
for line in io.lines(os.getenv("BENCH_USERS")) do
  users[#users + 1] = line
end
local seed = 7

function setup(thread)
  thread:set("seed", seed)
  seed = seed + 1
end

function init()
  math.randomseed(seed)
end

local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "")
if delay_ms then
  function delay()
    return delay_ms
  end
end

function request()
  return wrk.format("GET", "/recommendations/" .. users[math.random(#users)] .. "?k=10")
end

function done(summary, latency, requests)
  io.write(string.format("p95 %.2fms\n", latency:percentile(95) / 1000.0))
  io.write(string.format("p99.9 %.2fms\n", latency:percentile(99.9) / 1000.0))
end
