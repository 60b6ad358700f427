"""A local fleet for integration tests (Python standard library only): scripts/fleet.sh up/down
wrapped as a context manager, JSON helpers, and steady GET load through the balancer.

    with Fleet(replicas=3, env={"HTTP_THREADS": "2"}, data_root=..., model_dir=...) as fleet:
        status, body = get_json(fleet.balancer + "/ready")
        fleet.kill_replica(1)          # kill -9
        fleet.restart_replica(1)       # back, /ready 200
        with Load(fleet.balancer, rate=100, duration=10) as load:
            ...
        print(load.summary_line())

fleet.sh runs with RECSERVE_BIN (the binary under test) and the caller's environment plus `env`;
every replica logs LOG_FORMAT=json to fleet.replica_log(i).
"""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

SOURCE_DIR = os.environ.get("RECSERVE_SOURCE_DIR", os.getcwd())
FLEET_SH = os.path.join(SOURCE_DIR, "scripts", "fleet.sh")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(method, url, body=None, headers=None, timeout=10):
    """(status, parsed JSON body or None). HTTP errors are answers, not exceptions; a connection
    failure raises OSError."""
    data = None
    headers = dict(headers or {})
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


def get_json(url, headers=None, timeout=10):
    """GET url: (status, JSON body or None)."""
    return _request("GET", url, headers=headers, timeout=timeout)


def post_json(url, body, headers=None, timeout=10):
    """POST a JSON body (any JSON value, or bytes sent as they are): (status, JSON body or None)."""
    return _request("POST", url, body=body, headers=headers, timeout=timeout)


class FleetError(AssertionError):
    pass


class Fleet:
    """scripts/fleet.sh up on enter, down on exit. After enter: `balancer` (URL), `replicas`
    ([{"url", "pid"}], kept current by restart_replica), `redis` ([URL]), `info` (the JSON that
    up printed). `workdir`: None makes a temporary one, removed on exit unless `keep_workdir`."""

    def __init__(self, replicas=3, env=None, workdir=None, port=None, data_root=None,
                 model_dir=None, redis_port=None, timeout=120, keep_workdir=False, extra_args=()):
        self.count = replicas
        self.env = dict(env or {})
        self._own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="recserve-fleet-")
        self.port = port
        self.data_root = data_root
        self.model_dir = model_dir
        self.redis_port = redis_port
        self.timeout = timeout
        self.keep_workdir = keep_workdir
        self.extra_args = list(extra_args)
        self.info = None

    # -- fleet.sh ------------------------------------------------------------------------------
    def _run(self, *args, timeout=None):
        full_env = dict(os.environ)
        full_env.update(self.env)
        proc = subprocess.run(["bash", FLEET_SH, *map(str, args), "--workdir", self.workdir],
                              capture_output=True, text=True, env=full_env,
                              timeout=timeout or self.timeout + 60, cwd=SOURCE_DIR)
        if proc.returncode != 0:
            raise FleetError(f"fleet.sh {' '.join(map(str, args))} exited {proc.returncode}\n"
                             f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
        return proc

    def up(self):
        """fleet.sh up; sets balancer, replicas, redis. Retries once on a taken balancer port
        (free_port() cannot reserve it) when the caller did not fix it."""
        for attempt in range(2):
            port = self.port or free_port()
            args = ["up", "--replicas", self.count, "--port", port, "--timeout", self.timeout]
            if self.data_root:
                args += ["--data-root", self.data_root]
            if self.model_dir:
                args += ["--model-dir", self.model_dir]
            if self.redis_port:
                args += ["--redis-port", self.redis_port]
            try:
                proc = self._run(*args, *self.extra_args)
                break
            except FleetError as err:
                if self.port or attempt == 1 or f"port {port} on 127.0.0.1 is taken" not in str(err):
                    raise
        self.port = port
        self._set_info(proc.stdout)
        return self

    def _set_info(self, stdout):
        lines = [line for line in stdout.splitlines() if line.strip()]
        if len(lines) != 1:
            raise FleetError(f"fleet.sh printed {len(lines)} lines, not one JSON object:\n{stdout}")
        self.info = json.loads(lines[0])
        self.balancer = self.info["balancer"]
        self.replicas = self.info["replicas"]
        self.redis = self.info["redis"]

    def down(self):
        """fleet.sh down (state files kept in workdir)."""
        return self._run("down")

    def status(self):
        """fleet.sh status as a dict: balancer and each replica running/ready, haproxy's view of
        each replica ("UP", "DOWN", ...), redis running."""
        return json.loads(self._run("status").stdout)

    def kill_replica(self, i):
        """kill -9 of replica i (a crash: no drain)."""
        self._run("kill-replica", "--index", i)

    def restart_replica(self, i):
        """Stops replica i if it runs, starts it again on its port with its first environment,
        returns once its /ready is 200; updates `replicas`."""
        proc = self._run("restart-replica", "--index", i, "--timeout", self.timeout)
        self._set_info(proc.stdout)

    def kill_redis(self):
        """kill -9 of the fleet's redis-server."""
        self._run("kill-redis")

    def restart_redis(self):
        """Starts the fleet's redis-server again on its port from its append-only file."""
        self._set_info(self._run("restart-redis").stdout)

    def heal(self, timeout=30):
        """Restarts every replica that is not running or not ready (and redis when it is down),
        then waits until haproxy sees every replica UP: a test that broke the fleet leaves it
        whole for the next one."""
        status = self.status()
        if not all(r["running"] for r in status["redis"]):
            self.restart_redis()
        for r in status["replicas"]:
            if not r["running"] or r["ready"] != 200:
                self.restart_replica(r["index"])
        return self.wait_balanced(timeout)

    def state(self):
        """workdir/fleet.json: the contract plus ports, pids and directories of every part."""
        with open(os.path.join(self.workdir, "fleet.json")) as f:
            return json.load(f)

    def replica_log(self, i):
        return os.path.join(self.workdir, f"replica-{i}", "serve.log")

    def replica_url(self, i):
        return self.replicas[i]["url"]

    def wait_balanced(self, timeout=10):
        """Until haproxy sees every replica UP; returns the last status()."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.status()
            if all(r["balancer_state"] == "UP" for r in status["replicas"]):
                return status
            if time.monotonic() >= deadline:
                raise FleetError(f"not every replica UP in haproxy within {timeout}s: {status}")
            time.sleep(0.1)

    def close(self):
        try:
            self.down()
        finally:
            if self._own_workdir and not self.keep_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self.up()

    def __exit__(self, *exc):
        self.close()


class Load:
    """Steady GET load on `base_url` from `threads` threads: together about `rate` requests a
    second (each thread paced at rate/threads), for at most `duration` seconds or until stop().
    Paths cycle through `paths` (default GET /recommendations/<user>?k=10 over ML-100K's users
    1..943). Counts answers by status; status 0 = no HTTP answer (connection error, timeout), with
    the error kept in `errors`."""

    def __init__(self, base_url, rate=100, duration=10, threads=4, timeout=10, paths=None,
                 users=943):
        self.base_url = base_url.rstrip("/")
        self.rate = rate
        self.duration = duration
        self.threads = threads
        self.timeout = timeout
        self.paths = paths or [f"/recommendations/{u}?k=10" for u in range(1, users + 1)]
        self.statuses = {}
        self.errors = []
        self.latencies = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._workers = []
        self.started = None
        self.elapsed = 0.0

    def _work(self, t):
        interval = self.threads / float(self.rate)
        deadline = self.started + self.duration
        next_at = self.started + t * interval / self.threads
        i = t
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= deadline:
                break
            if next_at > now:
                self._stop.wait(next_at - now)
                continue
            next_at += interval
            path = self.paths[i % len(self.paths)]
            i += self.threads
            start = time.monotonic()
            try:
                with urllib.request.urlopen(self.base_url + path, timeout=self.timeout) as resp:
                    resp.read()
                    status = resp.status
            except urllib.error.HTTPError as err:
                status = err.code
            except OSError as err:
                status = 0
                with self._lock:
                    self.errors.append(repr(err))
            with self._lock:
                self.statuses[status] = self.statuses.get(status, 0) + 1
                self.latencies.append(time.monotonic() - start)

    def start(self):
        self.started = time.monotonic()
        self._workers = [threading.Thread(target=self._work, args=(t,), daemon=True)
                         for t in range(self.threads)]
        for w in self._workers:
            w.start()
        return self

    def wait(self):
        """Until the duration is over (or stop())."""
        for w in self._workers:
            w.join(timeout=self.duration + self.timeout + 30)
        self.elapsed = time.monotonic() - self.started

    def stop(self):
        self._stop.set()
        self.wait()

    @property
    def total(self):
        with self._lock:
            return sum(self.statuses.values())

    @property
    def ok(self):
        with self._lock:
            return self.statuses.get(200, 0)

    def share_ok(self):
        total = self.total
        return self.ok / total if total else 0.0

    def summary(self):
        with self._lock:
            latencies = sorted(self.latencies)
            statuses = dict(self.statuses)
        p = (lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
             if latencies else 0.0)
        total = sum(statuses.values())
        return {"requests": total, "ok": statuses.get(200, 0),
                "share_ok": statuses.get(200, 0) / total if total else 0.0,
                "statuses": statuses, "errors": len(self.errors), "p50_ms": p(0.5),
                "p99_ms": p(0.99), "max_ms": latencies[-1] * 1000 if latencies else 0.0,
                "seconds": self.elapsed}

    def summary_line(self):
        s = self.summary()
        statuses = " ".join(f"{k}:{v}" for k, v in sorted(s["statuses"].items()))
        return (f"{s['requests']} requests in {s['seconds']:.1f}s, {s['ok']} answered 200 "
                f"({s['share_ok']:.4%}), statuses {statuses}, connection errors {s['errors']}, "
                f"p50 {s['p50_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms, max {s['max_ms']:.1f} ms")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.wait()
