-- wrk script for bench/serving.sh: GET /recommendations/{user}?k=10 for users drawn at random
-- (fixed seed per wrk thread) from the file named by BENCH_USERS, one user id per line; done()
-- prints the 99.9th latency percentile, which wrk's --latency table does not show.
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

function request()
  return wrk.format("GET", "/recommendations/" .. users[math.random(#users)] .. "?k=10")
end

function done(summary, latency, requests)
  io.write(string.format("p99.9 %.2fms\n", latency:percentile(99.9) / 1000.0))
end
