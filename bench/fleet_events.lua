-- wrk script for bench/fleet_events.sh: POST /events with a batch of BENCH_BATCH (default 100)
-- view events per request, each with a unique `event_id` ("<BENCH_RUN>-<thread>-<request>-<j>"),
-- so no event is a duplicate of another, in this run or an earlier one on the same Redis.
-- Users 1..943 and items 1..1682 (ML-100K's ids) drawn at random, fixed seed per wrk thread.
-- done() prints the latency percentiles and events/s over the 2xx answers.
local batch = tonumber(os.getenv("BENCH_BATCH") or "") or 100
local run = os.getenv("BENCH_RUN") or tostring(os.time())
local next_thread = 1

function setup(thread)
  thread:set("thread_id", next_thread)
  next_thread = next_thread + 1
end

local counter = 0
function init()
  math.randomseed(7 + thread_id)
end

function request()
  counter = counter + 1
  local prefix = run .. "-" .. thread_id .. "-" .. counter .. "-"
  local parts = {}
  for j = 1, batch do
    parts[j] = string.format(
      '{"event_id":"%s%d","user_id":"%d","item_id":"%d","event_type":"view"}',
      prefix, j, math.random(943), math.random(1682))
  end
  return wrk.format("POST", "/events", {["Content-Type"] = "application/json"},
                    "[" .. table.concat(parts, ",") .. "]")
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local ok = summary.requests - summary.errors.status
  io.write(string.format("requests %d non2xx %d socket_errors %d\n", summary.requests,
                         summary.errors.status, summary.errors.connect + summary.errors.read +
                         summary.errors.write + summary.errors.timeout))
  io.write(string.format("events/s %.0f\n", ok * batch / seconds))
  io.write(string.format("p50 %.2fms\n", latency:percentile(50) / 1000.0))
  io.write(string.format("p99 %.2fms\n", latency:percentile(99) / 1000.0))
end
