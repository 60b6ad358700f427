#!/usr/bin/env bash
# A local Recserve fleet on loopback: one redis-server, N `recserve serve` replicas and haproxy in
# front of them, started from the project's current data/ and models/ (as the pipeline left them).
#   scripts/fleet.sh up --replicas N --port P --workdir DIR [--redis-port PORT]
#                       [--data-root DIR] [--model-dir DIR] [--timeout SECONDS] [--no-sync]
#                       [--redis-cluster] [--redis-appendfsync always|everysec]
#   scripts/fleet.sh down --workdir DIR
#   scripts/fleet.sh status --workdir DIR
#   scripts/fleet.sh kill-replica --workdir DIR --index I     (kill -9: a crash, for drills)
#   scripts/fleet.sh restart-replica --workdir DIR --index I  (stop, start again, wait for /ready)
#   scripts/fleet.sh kill-redis --workdir DIR | restart-redis --workdir DIR   (same port, same data)
# up prints one JSON object on stdout and returns once every replica's /ready and the balancer's
# /ready answer 200 (else: log tails on stderr, everything it started stopped, exit 1):
#   {"balancer": "http://127.0.0.1:P", "replicas": [{"url": URL, "pid": PID}, ...],
#    "redis": ["redis://127.0.0.1:PORT"]}
# Replicas listen on 127.0.0.1 on distinct free ports; each inherits the caller's environment plus
# REDIS_URL, FEATURE_REDIS_URL, STATE_REDIS_URL (the fleet's redis), MODEL_DIR, FEATURE_STORE_PATH,
# DATA_QUALITY_REPORT, EVENT_SPOOL_DIR=DIR/replica-<i>/spool, LOG_FORMAT=json; log DIR/replica-<i>/serve.log.
# Binary: $RECSERVE_BIN, else build/recserve. Every process runs in its own session (setsid), so it
# outlives this script; down finds them from the pid files under DIR and leaves the state files.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "fleet: $*" >&2; exit 1; }

[ $# -ge 1 ] || { usage >&2; exit 2; }
cmd=$1
shift
case "$cmd" in -h|--help|help) usage; exit 0 ;; esac
replicas=""
port=""
workdir=""
redis_port=""
data_root=$root/data
model_dir=$root/models
timeout=120
index=""
sync=1
appendfsync=""
while [ $# -gt 0 ]; do
  case "$1" in
    --replicas) replicas=${2:?--replicas needs a number}; shift 2 ;;
    --port) port=${2:?--port needs a port}; shift 2 ;;
    --workdir) workdir=${2:?--workdir needs a directory}; shift 2 ;;
    --redis-port) redis_port=${2:?--redis-port needs a port}; shift 2 ;;
    --data-root) data_root=${2:?--data-root needs a directory}; shift 2 ;;
    --model-dir) model_dir=${2:?--model-dir needs a directory}; shift 2 ;;
    --timeout) timeout=${2:?--timeout needs seconds}; shift 2 ;;
    --index) index=${2:?--index needs a number}; shift 2 ;;
    --no-sync) sync=0; shift ;;
    --redis-appendfsync) appendfsync=${2:?--redis-appendfsync needs always or everysec}; shift 2 ;;
    --redis-cluster)
      echo "fleet: --redis-cluster is not implemented yet: --redis-cluster arrives with issue 16" >&2
      exit 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "fleet: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
[ -n "$workdir" ] || { echo "fleet: --workdir is required" >&2; exit 2; }
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
if [ "$cmd" = up ]; then mkdir -p "$workdir"; fi
[ -d "$workdir" ] || die "no fleet state in $workdir"
workdir=$(cd "$workdir" && pwd)
data_root=$(realpath -m "$data_root")
model_dir=$(realpath -m "$model_dir")
bin=${RECSERVE_BIN:-$root/build/recserve}
bin=$(realpath -m "$bin")
state=$workdir/fleet.json

# ---- processes: started in their own session, identified by pid + start time -----------------

# The start time (clock ticks since boot, /proc/PID/stat field 22) tells a reused pid apart.
start_time() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $20}'; }

# alive PIDDIR: the process recorded in PIDDIR/pid (+ pid.start) runs and is not a zombie.
alive() {
  local dir=$1 pid st
  [ -s "$dir/pid" ] || return 1
  pid=$(cat "$dir/pid")
  st=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $1, $20}') || return 1
  [ -n "$st" ] || return 1
  [ "${st%% *}" != Z ] || return 1
  [ "${st#* }" = "$(cat "$dir/pid.start" 2>/dev/null)" ]
}

# spawn PIDDIR LOG CMD...: starts CMD in a new session (it outlives this script), stdin from
# /dev/null, stdout and stderr appended to LOG; records its pid and start time in PIDDIR.
spawn() {
  local dir=$1 log=$2
  shift 2
  rm -f "$dir/pid" "$dir/pid.start"
  # bash writes its own pid, then execs CMD in place: the recorded pid is CMD's.
  setsid bash -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' "$dir/pid" "$@" \
    </dev/null >>"$log" 2>&1 &
  for _ in $(seq 1 100); do [ -s "$dir/pid" ] && break; sleep 0.02; done
  [ -s "$dir/pid" ] || die "could not start $1"
  start_time "$(cat "$dir/pid")" >"$dir/pid.start" || true
}

# stop_all PIDDIR...: TERM to each live process, then KILL whichever still runs after 20 s.
stop_all() {
  local dir pids=()
  for dir in "$@"; do
    if alive "$dir"; then
      kill -TERM "$(cat "$dir/pid")" 2>/dev/null || true
      pids+=("$dir")
    fi
  done
  [ ${#pids[@]} -gt 0 ] || return 0
  local deadline=$(( $(date +%s) + 20 )) left
  while :; do
    left=()
    for dir in "${pids[@]}"; do alive "$dir" && left+=("$dir"); done
    [ ${#left[@]} -gt 0 ] || return 0
    [ "$(date +%s)" -lt "$deadline" ] || break
    sleep 0.1
  done
  for dir in "${left[@]}"; do
    echo "fleet: $(basename "$dir") did not stop within 20 s; KILL" >&2
    kill -KILL "$(cat "$dir/pid")" 2>/dev/null || true
  done
}

stop_all_components() {
  local dirs
  mapfile -t dirs < <(component_dirs)
  stop_all "${dirs[@]+"${dirs[@]}"}"
}

# Every component directory of the fleet in DIR, in stop order: balancer, replicas, redis.
component_dirs() {
  local d
  [ -d "$workdir/haproxy" ] && echo "$workdir/haproxy"
  for d in "$workdir"/replica-*; do [ -d "$d" ] && echo "$d"; done
  [ -d "$workdir/redis" ] && echo "$workdir/redis"
  return 0
}

free_ports() {  # N: N distinct free loopback ports, one a line
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
PY
}

port_free() {
  python3 -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null
}

http_status() {  # URL: the HTTP status, 000 when nothing answers within 2 s
  curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null || true
}

# ---- state -------------------------------------------------------------------------------------

# write_state: DIR/fleet.json, the JSON contract of `up` plus what down, status and the helpers
# read (ports, directories, the haproxy and redis pids).
write_state() {
  python3 - "$workdir" <<'PY'
import json, os, sys
workdir = sys.argv[1]
def read(path, default=None):
    try:
        with open(os.path.join(workdir, path)) as f:
            return f.read().strip()
    except OSError:
        return default
count = int(read("replicas", "0"))
replicas = []
for i in range(count):
    port = int(read(f"replica-{i}/port"))
    pid = read(f"replica-{i}/pid")
    replicas.append({"url": f"http://127.0.0.1:{port}", "pid": int(pid) if pid else None,
                     "index": i, "port": port, "dir": os.path.join(workdir, f"replica-{i}"),
                     "log": os.path.join(workdir, f"replica-{i}", "serve.log")})
redis_port = int(read("redis/port"))
state = {"balancer": f"http://127.0.0.1:{read('haproxy/port')}",
         "replicas": replicas,
         "redis": [f"redis://127.0.0.1:{redis_port}"],
         "redis_pids": [int(read("redis/pid", "0"))],
         "haproxy_pid": int(read("haproxy/pid", "0") or 0),
         "workdir": workdir}
tmp = os.path.join(workdir, "fleet.json.tmp")
with open(tmp, "w") as f:
    json.dump(state, f, indent=2)
    f.write("\n")
os.replace(tmp, os.path.join(workdir, "fleet.json"))
PY
}

# The contract printed by up (and restart-replica): balancer, replicas' url + pid, redis.
print_contract() {
  python3 - "$state" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(json.dumps({"balancer": s["balancer"],
                  "replicas": [{"url": r["url"], "pid": r["pid"]} for r in s["replicas"]],
                  "redis": s["redis"]}))
PY
}

replica_count() { cat "$workdir/replicas" 2>/dev/null || echo 0; }

print_log_tails() {
  local f
  for f in "$workdir"/redis/redis.log "$workdir"/replica-*/serve.log "$workdir"/haproxy/haproxy.log; do
    [ -f "$f" ] || continue
    echo "---- last 30 lines of $f" >&2
    tail -n 30 "$f" >&2
  done
}

# ---- redis ------------------------------------------------------------------------------------

# start_redis: redis-server on DIR/redis/port with its append-only file under DIR/redis (so a
# restart reloads what it kept). appendfsync: DIR/redis/appendfsync (up's --redis-appendfsync,
# default everysec: a kill -9 of Redis loses at most ~1 s of writes it acknowledged; `always`
# fsyncs before every answer, for drills that check that nothing acknowledged is lost). Waits
# up to 10 s for PING.
start_redis() {
  local rport fsync
  rport=$(cat "$workdir/redis/port")
  fsync=$(cat "$workdir/redis/appendfsync" 2>/dev/null || echo everysec)
  spawn "$workdir/redis" "$workdir/redis/redis.log" redis-server --port "$rport" \
    --bind 127.0.0.1 --dir "$workdir/redis" --appendonly yes --appendfsync "$fsync" --save '' \
    --daemonize no --loglevel notice
  for _ in $(seq 1 100); do
    [ "$(redis-cli -p "$rport" ping 2>/dev/null)" = PONG ] && return 0
    alive "$workdir/redis" || return 1
    sleep 0.1
  done
  return 1
}

# ---- replicas ----------------------------------------------------------------------------------

# write_replica_env I: DIR/replica-I/env (NUL-separated, mode 600: it holds the caller's secrets
# such as ADMIN_TOKEN): the caller's environment plus the fleet's settings. restart-replica
# starts the replica again from this file, so a restarted replica runs as it first did.
write_replica_env() {
  local i=$1 dir=$workdir/replica-$1 redis_url
  redis_url="redis://127.0.0.1:$(cat "$workdir/redis/port")"
  mkdir -p "$dir/spool"
  (
    umask 077
    export PORT BIND_ADDRESS REDIS_URL FEATURE_REDIS_URL STATE_REDIS_URL MODEL_DIR \
      FEATURE_STORE_PATH DATA_QUALITY_REPORT EVENT_SPOOL_DIR LOG_FORMAT OMP_WAIT_POLICY
    PORT=$(cat "$dir/port")
    BIND_ADDRESS=127.0.0.1
    REDIS_URL=$redis_url
    FEATURE_REDIS_URL=$redis_url
    STATE_REDIS_URL=$redis_url
    MODEL_DIR=$model_dir
    FEATURE_STORE_PATH=$data_root/feature_store.db
    DATA_QUALITY_REPORT=$data_root/evaluation/data_quality_report_v2.json
    EVENT_SPOOL_DIR=$dir/spool
    LOG_FORMAT=json
    OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
    env -0 >"$dir/env"
  )
  echo "$bin" >"$dir/bin"
}

start_replica() {  # I: starts replica I from its env file (working directory: the checkout)
  local dir=$workdir/replica-$1 vars
  mapfile -d '' -t vars <"$dir/env"
  (cd "$root" && spawn "$dir" "$dir/serve.log" env -i "${vars[@]}" "$(cat "$dir/bin")" serve)
}

# wait_ready DEADLINE I...: until each replica's /ready answers 200; fails on a replica that
# exits or on the deadline (epoch seconds).
wait_ready() {
  local deadline=$1 i pending
  shift
  pending=("$@")
  while [ ${#pending[@]} -gt 0 ]; do
    local next=()
    for i in "${pending[@]}"; do
      alive "$workdir/replica-$i" || { echo "fleet: replica $i exited while starting" >&2; return 1; }
      [ "$(http_status "http://127.0.0.1:$(cat "$workdir/replica-$i/port")/ready")" = 200 ] \
        || next+=("$i")
    done
    pending=("${next[@]+"${next[@]}"}")
    [ ${#pending[@]} -gt 0 ] || return 0
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "fleet: replica(s) ${pending[*]} not ready within ${timeout}s" >&2
      return 1
    fi
    sleep 0.2
  done
}

# ---- haproxy -----------------------------------------------------------------------------------

write_haproxy_cfg() {
  local dir=$workdir/haproxy i
  {
    cat <<CFG
# Written by scripts/fleet.sh: the fleet's balancer on 127.0.0.1:$(cat "$dir/port").
global
  maxconn 4096
  stats socket $dir/admin.sock mode 600 level admin

defaults
  mode http
  option log-health-checks
  timeout connect 1s
  timeout client 30s
  timeout server 10s
  timeout http-request 10s
  timeout http-keep-alive 10s
  timeout queue 5s
  timeout check 1s
  # A request whose connection fails is retried up to 3 times, each on another replica
  # (redispatch 1); GET and HEAD are also retried when a replica closes without answering
  # (kill -9 mid-request). Other methods are not replayed: an event batch may have been applied.
  retries 3
  option redispatch 1
  retry-on conn-failure empty-response

frontend recserve
  bind 127.0.0.1:$(cat "$dir/port")
  default_backend replicas

backend replicas
  balance roundrobin
  option httpchk GET /ready
  http-check expect status 200
  http-request disable-l7-retry if !METH_GET !METH_HEAD
  default-server inter 500ms fall 2 rise 1
CFG
    for ((i = 0; i < $(replica_count); i++)); do
      echo "  server replica-$i 127.0.0.1:$(cat "$workdir/replica-$i/port") check"
    done
  } >"$dir/haproxy.cfg"
}

# ---- subcommands -------------------------------------------------------------------------------

fleet_running() {
  local d dirs
  mapfile -t dirs < <(component_dirs)
  for d in "${dirs[@]+"${dirs[@]}"}"; do alive "$d" && return 0; done
  return 1
}

cmd_up() {
  is_uint "$replicas" && [ "$replicas" -ge 1 ] || { echo "fleet: --replicas N (N >= 1) is required" >&2; exit 2; }
  is_uint "$port" || { echo "fleet: --port P is required" >&2; exit 2; }
  is_uint "$timeout" || { echo "fleet: --timeout must be whole seconds" >&2; exit 2; }
  [ -z "$redis_port" ] || is_uint "$redis_port" || { echo "fleet: --redis-port must be a port" >&2; exit 2; }
  case "${appendfsync:-everysec}" in always|everysec) ;;
    *) echo "fleet: --redis-appendfsync must be always or everysec" >&2; exit 2 ;; esac
  if fleet_running; then
    die "a fleet in $workdir is running; run 'scripts/fleet.sh down --workdir $workdir' first"
  fi
  [ -x "$bin" ] || die "$bin not found; run 'make build' first (or set RECSERVE_BIN)"
  command -v redis-server >/dev/null || die "redis-server missing; run scripts/install-deps.sh"
  command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] \
    || die "haproxy missing; run scripts/install-deps.sh"
  [ -e "$model_dir/current" ] || die "no model bundle at $model_dir/current; run 'make run' or \
scripts/run_pipeline.sh first (or pass --model-dir)"
  port_free "$port" || die "port $port on 127.0.0.1 is taken"

  local deadline=$(( $(date +%s) + timeout ))
  # Whatever ends `up` before its contract is printed stops what it started, logs' tails first.
  up_done=0
  trap 'up_exit' EXIT
  fail() { die "$@"; }

  # Redis: append-only file under DIR/redis, so `up` again restarts with the data it kept. Its
  # port: --redis-port, else the one it had last time when still free, else a free one.
  mkdir -p "$workdir/redis" "$workdir/haproxy"
  if [ -z "$redis_port" ] && [ -s "$workdir/redis/port" ] && port_free "$(cat "$workdir/redis/port")"; then
    redis_port=$(cat "$workdir/redis/port")
  fi
  [ -n "$redis_port" ] || redis_port=$(free_ports 1)
  echo "$redis_port" >"$workdir/redis/port"
  echo "${appendfsync:-everysec}" >"$workdir/redis/appendfsync"
  echo "$port" >"$workdir/haproxy/port"
  echo "$replicas" >"$workdir/replicas"
  start_redis || fail "redis-server did not answer PING on 127.0.0.1:$redis_port"

  # The feature store into the fleet's redis (FEATURE_REDIS_URL), as the pipeline's redis_sync
  # step does; without it the replicas read the SQLite file (their designed fallback).
  if [ $sync -eq 1 ] && [ -f "$data_root/feature_store.db" ]; then
    if ! OMP_WAIT_POLICY=passive "$bin" sync --data-root "$data_root" \
        --redis-url "redis://127.0.0.1:$redis_port" >"$workdir/redis/sync.log" 2>&1; then
      echo "fleet: warning: feature sync into redis failed (replicas read SQLite); see" \
        "$workdir/redis/sync.log" >&2
    fi
  fi

  local i ports
  mapfile -t ports < <(free_ports "$replicas")
  for ((i = 0; i < replicas; i++)); do
    mkdir -p "$workdir/replica-$i"
    echo "${ports[$i]}" >"$workdir/replica-$i/port"
    write_replica_env "$i"
    start_replica "$i"
  done
  wait_ready "$deadline" $(seq 0 $((replicas - 1))) || fail "replicas did not become ready"

  write_haproxy_cfg
  local haproxy_bin
  haproxy_bin=$(command -v haproxy || echo /usr/sbin/haproxy)
  "$haproxy_bin" -c -q -f "$workdir/haproxy/haproxy.cfg" >"$workdir/haproxy/haproxy.log" 2>&1 \
    || fail "haproxy refused its configuration"
  spawn "$workdir/haproxy" "$workdir/haproxy/haproxy.log" "$haproxy_bin" -db \
    -f "$workdir/haproxy/haproxy.cfg"
  while [ "$(http_status "http://127.0.0.1:$port/ready")" != 200 ]; do
    alive "$workdir/haproxy" || fail "haproxy exited"
    [ "$(date +%s)" -lt "$deadline" ] || fail "the balancer's /ready did not answer 200 within ${timeout}s"
    sleep 0.2
  done
  write_state
  up_done=1
  print_contract
}

up_exit() {
  local status=$?
  [ "$up_done" -eq 0 ] || return 0
  echo "fleet: up failed; stopping what it started" >&2
  print_log_tails
  stop_all_components
  exit $(( status == 0 ? 1 : status ))
}

cmd_down() {
  [ -d "$workdir" ] || die "no fleet state in $workdir"
  stop_all_components
  echo "fleet: stopped the fleet in $workdir (state kept)" >&2
}

cmd_status() {
  [ -f "$state" ] || die "no fleet state in $workdir"
  python3 - "$state" "$(alive "$workdir/redis" && echo 1 || echo 0)" \
    "$(alive "$workdir/haproxy" && echo 1 || echo 0)" \
    "$(for ((i = 0; i < $(replica_count); i++)); do alive "$workdir/replica-$i" && echo -n 1 || echo -n 0; done)" <<'PY'
import json, socket, sys, urllib.request
s = json.load(open(sys.argv[1]))
redis_up, haproxy_up, replicas_up = sys.argv[2] == "1", sys.argv[3] == "1", sys.argv[4]

def ready(url):
    try:
        with urllib.request.urlopen(url + "/ready", timeout=2) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0

# haproxy's view of each replica (UP, DOWN, ...) from its admin socket.
checks = {}
if haproxy_up:
    try:
        sock = socket.socket(socket.AF_UNIX)
        sock.settimeout(2)
        sock.connect(s["workdir"] + "/haproxy/admin.sock")
        sock.sendall(b"show stat\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        lines = data.decode().splitlines()
        header = lines[0].lstrip("# ").split(",")
        for line in lines[1:]:
            row = dict(zip(header, line.split(",")))
            if row.get("pxname") == "replicas" and row.get("svname", "").startswith("replica-"):
                checks[int(row["svname"].split("-")[1])] = row.get("status")
    except OSError:
        pass
out = {"balancer": {"url": s["balancer"], "running": haproxy_up,
                    "ready": ready(s["balancer"]) if haproxy_up else 0},
       "replicas": [{"index": r["index"], "url": r["url"], "pid": r["pid"],
                     "running": replicas_up[r["index"]] == "1",
                     "ready": ready(r["url"]) if replicas_up[r["index"]] == "1" else 0,
                     "balancer_state": checks.get(r["index"])} for r in s["replicas"]],
       "redis": [{"url": u, "running": redis_up} for u in s["redis"]]}
print(json.dumps(out))
PY
}

check_index() {
  is_uint "$index" && [ "$index" -lt "$(replica_count)" ] \
    || { echo "fleet: --index must be 0..$(( $(replica_count) - 1 ))" >&2; exit 2; }
}

cmd_kill_replica() {
  check_index
  local dir=$workdir/replica-$index
  alive "$dir" || die "replica $index is not running"
  kill -KILL "$(cat "$dir/pid")"
  for _ in $(seq 1 100); do alive "$dir" || break; sleep 0.05; done
  echo "fleet: killed replica $index (pid $(cat "$dir/pid"))" >&2
}

cmd_restart_replica() {
  check_index
  [ -f "$state" ] || die "no fleet state in $workdir"
  local dir=$workdir/replica-$index
  stop_all "$dir"
  start_replica "$index"
  if ! wait_ready $(( $(date +%s) + timeout )) "$index"; then
    echo "---- last 30 lines of $dir/serve.log" >&2
    tail -n 30 "$dir/serve.log" >&2
    exit 1
  fi
  write_state
  print_contract
}

cmd_kill_redis() {
  alive "$workdir/redis" || die "redis is not running"
  kill -KILL "$(cat "$workdir/redis/pid")"
  for _ in $(seq 1 100); do alive "$workdir/redis" || break; sleep 0.05; done
  echo "fleet: killed redis (pid $(cat "$workdir/redis/pid"))" >&2
}

cmd_restart_redis() {
  [ -f "$state" ] || die "no fleet state in $workdir"
  stop_all "$workdir/redis"
  start_redis || die "redis-server did not answer PING on 127.0.0.1:$(cat "$workdir/redis/port")"
  write_state
  print_contract
}

case "$cmd" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  kill-replica) cmd_kill_replica ;;
  restart-replica) cmd_restart_replica ;;
  kill-redis) cmd_kill_redis ;;
  restart-redis) cmd_restart_redis ;;
  *) echo "fleet: unknown subcommand $cmd" >&2; usage >&2; exit 2 ;;
esac
