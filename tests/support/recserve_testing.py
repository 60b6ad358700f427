"""Shared helpers for integration tests and drills (Python standard library only).

Tests drive the real `recserve` binary (RECSERVE_BIN) and real servers: each test that needs a
private redis-server starts one with RedisServer on a free loopback port; REDIS_TEST_URL names
the shared one started by scripts/run-tests.sh.

Every Service logs as production does (LOG_FORMAT=json, deploy/k8s/base/configmap.yaml) unless
the test sets LOG_FORMAT itself, and stop() fails the test when a line of its log is not one
JSON object: whatever a test makes the server log must stay parseable.
"""
import atexit
import contextlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

SOURCE_DIR = os.environ.get("RECSERVE_SOURCE_DIR", os.getcwd())
RECSERVE_BIN = os.environ.get("RECSERVE_BIN", os.path.join(SOURCE_DIR, "build", "recserve"))
SHARED_DATA = os.environ.get("RECSERVE_SHARED_DATA",
                             os.path.join(SOURCE_DIR, "..", "shared", "data"))
ML100K = os.path.join(SHARED_DATA, "ml-100k")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_recserve(*args, env=None, timeout=600, check=True, cwd=None):
    """Runs `recserve ARGS`; returns CompletedProcess with text stdout/stderr."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    # errors="backslashreplace": a message that echoes raw input must fail an assertion, not
    # the decoding of the output.
    proc = subprocess.run([RECSERVE_BIN, *map(str, args)], capture_output=True, text=True,
                          errors="backslashreplace", env=full_env, timeout=timeout, cwd=cwd)
    if check and proc.returncode != 0:
        raise AssertionError(f"recserve {' '.join(map(str, args))} exited {proc.returncode}\n"
                             f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


class RedisServer:
    """A private redis-server on a free loopback port, in a temporary directory."""

    # Persistence flags; a subclass that must survive kill + restart overrides them.
    PERSISTENCE_ARGS = ("--appendonly", "no")

    def __init__(self, port=None):
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="recserve-redis-")
        self.proc = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}"

    def start(self, timeout=10):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             *self.PERSISTENCE_ARGS, "--dir", self.dir, "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.ping():
                return self
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on {self.port}")

    def ping(self):
        return self.cli("PING", check=False).strip() == "PONG"

    def cli(self, *args, check=True):
        proc = subprocess.run(["redis-cli", "-p", str(self.port), *map(str, args)],
                              capture_output=True, text=True, timeout=30)
        if check and proc.returncode != 0:
            raise AssertionError(proc.stderr)
        return proc.stdout

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def json_log_records(data):
    """The records of a LOG_FORMAT=json log (bytes): one JSON object with a string "msg" per
    line, strict UTF-8. Raises AssertionError naming the first line that is not."""
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # after the last newline (or an empty log)
    records = []
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line.decode("utf-8"), parse_constant=_reject_constant)
        except ValueError as err:  # UnicodeDecodeError and JSONDecodeError included
            raise AssertionError(f"log line {number} is not JSON ({err}): {line!r}") from None
        if not isinstance(record, dict) or not isinstance(record.get("msg"), str):
            raise AssertionError(f"log line {number} is not a JSON object with a string "
                                 f"\"msg\": {line!r}")
        records.append(record)
    return records


class Service:
    """A running `recserve serve` on a free loopback port; stopped with SIGTERM on exit. Logs in
    LOG_FORMAT=json unless `env` sets LOG_FORMAT; then stop() checks every line (see
    json_log_records)."""

    def __init__(self, env=None, args=(), port=None, cwd=None, wait_ready=True):
        """`wait_ready`: `with Service(...)` waits for /ready (a model loaded), else /live."""
        self.port = port or free_port()
        self.cwd = cwd
        self.wait_ready = wait_ready
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.env["PORT"] = str(self.port)
        # From the test's `env` only: a LOG_FORMAT in the caller's shell does not turn the check
        # off.
        self.env["LOG_FORMAT"] = (env or {}).get("LOG_FORMAT", "json")
        self.env.setdefault("BIND_ADDRESS", "127.0.0.1")  # tests stay on loopback
        # Hermetic variants: the shipped config/experiments.yaml (read from the working directory)
        # would put some test users in an experiment variant.
        self.env.setdefault("EXPERIMENTS_PATH",
                            os.path.join(SOURCE_DIR, "tests", "support", "no_experiments.yaml"))
        self.args = list(args)
        self.proc = None
        self.log_path = tempfile.mktemp(prefix="recserve-serve-", suffix=".log")
        # Each service its own event spool (used when a Redis URL is set), kept across stop() and
        # start() like a pod's volume, removed at exit.
        if "EVENT_SPOOL_DIR" not in self.env:
            self.env["EVENT_SPOOL_DIR"] = tempfile.mkdtemp(prefix="recserve-spool-")
            atexit.register(shutil.rmtree, self.env["EVENT_SPOOL_DIR"], True)

    def start(self, wait_ready=True, timeout=60):
        for attempt in range(3):
            try:
                return self._start_once(wait_ready, timeout)
            except RuntimeError as err:
                # free_port() cannot reserve the port: another test on the machine may take it
                # between the probe and serve's bind. Retry on a fresh port.
                if "Address already in use" not in str(err) or attempt == 2:
                    raise
                self.port = free_port()
                self.env["PORT"] = str(self.port)

    def _start_once(self, wait_ready, timeout):
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen([RECSERVE_BIN, "serve", *self.args], env=self.env,
                                     stdout=self._log, stderr=subprocess.STDOUT, cwd=self.cwd)
        deadline = time.time() + timeout
        path = "/ready" if wait_ready else "/live"
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited {self.proc.returncode}:\n{self.log()}")
            try:
                status, _, _ = self.request("GET", path, timeout=1)
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"serve not {path} within {timeout}s:\n{self.log()}")

    def log(self):
        """The log as text (bytes that are not UTF-8 shown as \\xHH escapes)."""
        with open(self.log_path, encoding="utf-8", errors="backslashreplace") as f:
            return f.read()

    def log_records(self):
        """The log's JSON records (LOG_FORMAT=json); AssertionError at a line that is not one."""
        with open(self.log_path, "rb") as f:
            return json_log_records(f.read())

    def log_messages(self):
        """The "msg" of every record, one per line: the text a runbook grep reads in a json
        log. A message may itself hold newlines."""
        return "\n".join(record["msg"] for record in self.log_records())

    def request(self, method, path, body=None, headers=None, timeout=10):
        """Returns (status, headers dict, body bytes)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if body is not None and not isinstance(body, (bytes, str)):
                body = json.dumps(body)
                headers = {"Content-Type": "application/json", **(headers or {})}
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def get_json(self, path, **kw):
        status, headers, body = self.request("GET", path, **kw)
        return status, json.loads(body) if body else None

    def post_json(self, path, payload, **kw):
        status, headers, body = self.request("POST", path, body=payload, **kw)
        return status, json.loads(body) if body else None

    def stop(self, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()
        if self.proc and self.env["LOG_FORMAT"] == "json":
            self.log_records()
        return self.proc.returncode if self.proc else None

    def __enter__(self):
        return self.start(wait_ready=self.wait_ready)

    def __exit__(self, *exc):
        self.stop()


def parse_prometheus_text(text):
    """{(name, frozenset(labels.items())): value} from Prometheus text exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_part, _, value = line.rpartition(" ")
        labels = {}
        if "{" in name_part:
            name, _, rest = name_part.partition("{")
            for item in rest.rstrip("}").split('",'):
                if not item:
                    continue
                k, _, v = item.partition("=")
                labels[k] = v.strip('"')
        else:
            name = name_part
        out[(name, frozenset(labels.items()))] = float(value)
    return out


@contextlib.contextmanager
def temp_dir(prefix="recserve-test-"):
    d = tempfile.mkdtemp(prefix=prefix)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


# Small but real training settings for tests that need a served bundle, not model quality.
SMALL_TRAINING = ["--factors", "8", "--iterations", "2", "--trees", "10", "--depth", "3",
                  "--neighbours", "20", "--candidates", "50", "--threads", "1"]


def publish_small_bundle(root, run_id):
    """Runs `recserve pipeline` on ML-100K with SMALL_TRAINING under `root`: root/models/<run_id>
    + root/models/current and root/data/feature_store.db. Returns the env for `serve`."""
    run_recserve("pipeline", "--data", ML100K, "--data-root", os.path.join(root, "data"),
                 "--models-root", os.path.join(root, "models"),
                 "--mlruns", os.path.join(root, "mlruns"), "--run-id", run_id, *SMALL_TRAINING,
                 env={"OMP_WAIT_POLICY": "passive"})
    return {"MODEL_DIR": os.path.join(root, "models"),
            "FEATURE_STORE_PATH": os.path.join(root, "data", "feature_store.db")}


# ----------------------------------------------------------------------------------------------
# Drill helpers: steady load, bounded polling, metric look-ups and the runbook's resync step.
# Used by the feature-store drills (tests/drills/test_feature_store_failover_drill.py,
# tests/drills/test_redis_startup_drill.py).

class SteadyLoad:
    """Threads that request GET /recommendations/{user}?k=10 in a loop (users 1..943 of ML-100K,
    one request per thread every `pause` seconds) until stop(). Records (status, seconds) per
    request; status 0 means no HTTP answer at all (connection error or client timeout)."""

    def __init__(self, svc, threads=3, pause=0.01, users=943):
        self.svc = svc
        self.threads = threads
        self.pause = pause
        self.users = users
        self.results = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._workers = []

    def _work(self, t):
        i = 0
        while not self._stop.is_set():
            user = str(1 + (t * 1000 + i) % self.users)
            i += 1
            start = time.monotonic()
            try:
                status, _, _ = self.svc.request("GET", f"/recommendations/{user}?k=10", timeout=10)
            except OSError:
                status = 0
            with self._lock:
                self.results.append((status, time.monotonic() - start))
            time.sleep(self.pause)

    def start(self):
        self._workers = [threading.Thread(target=self._work, args=(t,), daemon=True)
                         for t in range(self.threads)]
        for w in self._workers:
            w.start()
        return self

    def stop(self):
        self._stop.set()
        for w in self._workers:
            w.join(timeout=30)

    def summary(self):
        """{"requests", "share_200", "p99_ms", "max_ms", "statuses"} over every recorded request."""
        with self._lock:
            results = list(self.results)
        latencies = sorted(r[1] for r in results)
        ok = sum(1 for r in results if r[0] == 200)
        statuses = {}
        for status, _ in results:
            statuses[status] = statuses.get(status, 0) + 1
        p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] if latencies else 0
        return {"requests": len(results), "share_200": ok / max(1, len(results)),
                "p99_ms": p99 * 1000, "max_ms": (latencies[-1] * 1000) if latencies else 0,
                "statuses": statuses}


def wait_until(predicate, budget_seconds, interval=0.05):
    """Polls `predicate` until it is true or the budget is spent; returns its last value."""
    deadline = time.monotonic() + budget_seconds
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def wait_for(probe, accept, timeout, interval=0.25):
    """Calls probe() until accept(value) or `timeout` seconds passed; returns the last value."""
    deadline = time.monotonic() + timeout
    value = probe()
    while not accept(value) and time.monotonic() < deadline:
        time.sleep(interval)
        value = probe()
    return value


def metric(metrics, name, **labels):
    """One sample of parse_prometheus_text() output; 0 when the series does not exist yet."""
    return metrics.get((name, frozenset(labels.items())), 0.0)


def scrape(svc):
    return parse_prometheus_text(svc.request("GET", "/metrics")[2].decode())


class ModellessServiceCase(unittest.TestCase):
    """A replica without a model (the transport and live state need none), its MODEL_DIR in a
    temporary directory; `ENV` adds to its environment."""

    ENV = {}

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="recserve-modelless-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.models = os.path.join(self.tmp, "models")
        os.makedirs(self.models)
        env = {"MODEL_DIR": self.models,
               "FEATURE_STORE_PATH": os.path.join(self.tmp, "none.db"),
               "DATA_QUALITY_REPORT": os.path.join(self.tmp, "none.json"),
               "HTTP_THREADS": "2"}
        env.update(self.ENV)
        self.svc = Service(env=env)
        self.svc.start(wait_ready=False)
        self.addCleanup(self.svc.stop)


def resync_features(redis_url, data_root):
    """The runbook's resync: `scripts/run_pipeline.sh --sync-only` into `redis_url` from the
    feature store under `data_root`. Returns the CompletedProcess (raises when it fails)."""
    env = dict(os.environ)
    env.update({"FEATURE_REDIS_URL": redis_url, "RECSERVE_BIN": RECSERVE_BIN})
    proc = subprocess.run([os.path.join(SOURCE_DIR, "scripts", "run_pipeline.sh"), "--sync-only",
                           "--data-root", data_root], capture_output=True, text=True, env=env,
                          timeout=120, cwd=SOURCE_DIR)
    if proc.returncode != 0:
        raise AssertionError(f"run_pipeline.sh --sync-only exited {proc.returncode}\n"
                             f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


@contextlib.contextmanager
def drill_service(prefix, run_id, redis_up_at_start):
    """`recserve serve` with a small bundle and REDIS_URL and FEATURE_REDIS_URL both pointing at
    one private redis-server, as in production. With `redis_up_at_start` the server runs and holds
    the synced features before serve starts; otherwise its port is chosen but nothing listens
    there until the drill calls redis.start(). Yields (svc, redis, data_root); stops both and
    removes every file afterwards."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    redis = RedisServer()
    data_root = os.path.join(tmp, "data")
    try:
        serve_env = publish_small_bundle(tmp, run_id)
        if redis_up_at_start:
            redis.start()
            resync_features(redis.url, data_root)
        with Service(env={**serve_env, "REDIS_URL": redis.url, "FEATURE_REDIS_URL": redis.url,
                          "REDIS_TIMEOUT": "0.2", "HTTP_THREADS": "2"}) as svc:
            yield svc, redis, data_root
    finally:
        redis.close()
        shutil.rmtree(tmp, ignore_errors=True)
