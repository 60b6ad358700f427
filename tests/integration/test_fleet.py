"""A local fleet (scripts/fleet.sh): one redis-server, three `recserve serve` replicas and haproxy on
loopback, serving one small bundle trained once for the module with the real pipeline. Checks the
JSON contract of `up`, that a replica killed with -9 under steady load through the balancer costs
at most 0.1% of requests, and that `down` then `up` on the same workdir comes back ready with the
data Redis kept.

FleetTest starts one fleet for the class (`self.fleet`, a fleet_testing.Fleet) and heals it before
every test (replicas or redis that a test killed are restarted), so more fleet tests are methods
of FleetTest: events converging across replicas (post through `self.fleet.replica_url(i)`, read
from the others), promote through the balancer (`ADMIN_HEADERS`, BUNDLE["models"] for the
source), Redis killed while events flow (`self.fleet.kill_redis()` / `restart_redis()`).
"""
import collections
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request
import uuid

import recserve_testing as rt
from fleet_testing import Fleet, Load, get_json, post_json

ADMIN_TOKEN = "fleet-test-admin-token"
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

# Every replica's environment beyond what fleet.sh sets. Deadlines are wide: these tests check
# that the balancer routes around dead replicas, and three ASan replicas share 2 cores with the
# rest of the suite, where the default 0.5 s REQUEST_TIMEOUT would shed requests under load.
FLEET_ENV = {
    "HTTP_THREADS": "2",
    "REQUEST_TIMEOUT": "5",
    "RANKING_TIMEOUT": "1",
    "ADMIN_TOKEN": ADMIN_TOKEN,
    "EXPERIMENTS_PATH": os.path.join(rt.SOURCE_DIR, "tests", "support", "no_experiments.yaml"),
    "OMP_WAIT_POLICY": "passive",
}

BUNDLE = {}


def setUpModule():
    """One small bundle + feature store trained with the real pipeline, shared by every fleet."""
    root = tempfile.mkdtemp(prefix="recserve-fleet-bundle-")
    try:
        env = rt.publish_small_bundle(root, "fleet1")
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    BUNDLE.update(root=root, models=env["MODEL_DIR"], data=os.path.join(root, "data"))
    # A second bundle, staged beside the first (not `current`), for promote and rollback.
    other = tempfile.mkdtemp(prefix="recserve-fleet-bundle2-")
    try:
        rt.publish_small_bundle(other, "fleet2")
        shutil.copytree(os.path.join(other, "models", "fleet2"),
                        os.path.join(env["MODEL_DIR"], "staging-fleet2"), symlinks=True)
    finally:
        shutil.rmtree(other, ignore_errors=True)


def tearDownModule():
    shutil.rmtree(BUNDLE.get("root", ""), ignore_errors=True)


def make_fleet(replicas=3, env=None, **kw):
    return Fleet(replicas=replicas, env={**FLEET_ENV, **(env or {})}, data_root=BUNDLE["data"],
                 model_dir=BUNDLE["models"], **kw)


def events(user, items, **extra):
    return [{"user_id": user, "item_id": str(i), "event_type": "click", **extra} for i in items]


def scrape(url):
    with urllib.request.urlopen(url + "/metrics", timeout=10) as resp:
        return rt.parse_prometheus_text(resp.read().decode())


def trending(url, k=200):
    status, body = get_json(url + f"/hot/trending?timeframe=1h&k={k}")
    assert status == 200, (url, status, body)
    return {entry["item_id"] for entry in body["items"]}


def recommended(url, user, k=20):
    status, body = get_json(url + f"/recommendations/{user}?k={k}")
    assert status == 200, (url, status, body)
    return [entry["item_id"] for entry in body["items"]]


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise AssertionError(f"no VmRSS for {pid}")


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def redis_cli(fleet, *args):
    port = fleet.redis[0].rsplit(":", 1)[1]
    return subprocess.run(["redis-cli", "-p", port, *map(str, args)], capture_output=True,
                          text=True, timeout=120, check=True).stdout


def log_shards(fleet):
    return int(redis_cli(fleet, "GET", "recserve:events:shards").strip() or 1)


def logged_event_ids(fleet):
    """Every event id in the fleet's shared log, over all shards (duplicates kept). Raw XRANGE
    output: 15 lines per entry (the entry id, then 7 field/value pairs, "id" and the event id
    first)."""
    ids = []
    for shard in range(log_shards(fleet)):
        out = redis_cli(fleet, "XRANGE", f"recserve:events:{{e{shard}}}", "-", "+")
        lines = [line for line in out.splitlines() if line] if out.strip() else []
        assert len(lines) % 15 == 0, (shard, len(lines))
        for at in range(0, len(lines), 15):
            assert lines[at + 1] == "id", lines[at:at + 15]
            ids.append(lines[at + 2])
    return ids


def logged_length(fleet):
    return sum(int(redis_cli(fleet, "XLEN", f"recserve:events:{{e{shard}}}").strip() or 0)
               for shard in range(log_shards(fleet)))


def wait_until(predicate, budget, pause=0.01):
    """Seconds until predicate() held, or None after `budget` seconds."""
    start = time.monotonic()
    while time.monotonic() - start < budget:
        if predicate():
            return time.monotonic() - start
        time.sleep(pause)
    return None


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def proc_environ(pid):
    with open(f"/proc/{pid}/environ", "rb") as f:
        return dict(item.decode(errors="replace").split("=", 1)
                    for item in f.read().split(b"\0") if b"=" in item)


def check_json_logs(fleet):
    """Every replica log line is one JSON object (LOG_FORMAT=json, as recserve_testing.Service)."""
    for i in range(len(fleet.replicas)):
        with open(fleet.replica_log(i), "rb") as f:
            rt.json_log_records(f.read())


class FleetTest(unittest.TestCase):
    REPLICAS = 3

    @classmethod
    def setUpClass(cls):
        # Redis fsyncs its append-only file before every answer: the outage test checks our
        # durability (spool + replay), not the ~1 s that `everysec` may lose on a kill -9.
        cls.fleet = make_fleet(cls.REPLICAS, extra_args=("--redis-appendfsync", "always"))
        cls.fleet.up()
        cls.addClassCleanup(cls.fleet.close)
        cls.addClassCleanup(check_json_logs, cls.fleet)

    def setUp(self):
        self.fleet.heal()

    def test_up_prints_the_json_contract(self):
        info = self.fleet.info
        self.assertEqual(set(info), {"balancer", "replicas", "redis"})
        self.assertEqual(info["balancer"], f"http://127.0.0.1:{self.fleet.port}")
        self.assertEqual(len(info["replicas"]), self.REPLICAS)
        urls = [r["url"] for r in info["replicas"]]
        self.assertEqual(len(set(urls)), self.REPLICAS, urls)
        spools = set()
        for replica in info["replicas"]:
            self.assertEqual(set(replica), {"url", "pid"})
            self.assertTrue(replica["url"].startswith("http://127.0.0.1:"), replica)
            self.assertTrue(pid_alive(replica["pid"]), replica)
            self.assertEqual(get_json(replica["url"] + "/ready")[0], 200, replica)
            env = proc_environ(replica["pid"])
            for name in ("REDIS_URL", "FEATURE_REDIS_URL", "STATE_REDIS_URL"):
                self.assertEqual(env.get(name), info["redis"][0], name)
            self.assertEqual(env.get("LOG_FORMAT"), "json")
            self.assertEqual(os.path.realpath(env.get("MODEL_DIR", "")),
                             os.path.realpath(BUNDLE["models"]))
            self.assertEqual(env.get("ADMIN_TOKEN"), ADMIN_TOKEN)  # the caller's environment
            spools.add(env.get("EVENT_SPOOL_DIR"))
        self.assertEqual(len(spools), self.REPLICAS, spools)
        self.assertEqual(len(info["redis"]), 1)
        redis_port = info["redis"][0].rsplit(":", 1)[1]
        pong = subprocess.run(["redis-cli", "-p", redis_port, "ping"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
        self.assertEqual(pong, "PONG")
        self.assertEqual(get_json(info["balancer"] + "/ready")[0], 200)
        status, body = get_json(info["balancer"] + "/recommendations/196?k=5")
        self.assertEqual(status, 200, body)
        # Every pid is recorded under the workdir for `down`.
        state = self.fleet.state()
        self.assertEqual([r["pid"] for r in state["replicas"]],
                         [r["pid"] for r in info["replicas"]])
        self.assertTrue(pid_alive(state["haproxy_pid"]))
        self.assertTrue(all(pid_alive(p) for p in state["redis_pids"]))
        # haproxy checks every replica and sees it UP.
        self.assertTrue(all(r["balancer_state"] == "UP" for r in self.fleet.status()["replicas"]))

    def test_kill9_of_a_replica_under_load_costs_at_most_0_1_percent(self):
        victim = 1
        old_pid = self.fleet.replicas[victim]["pid"]
        with Load(self.fleet.balancer, rate=100, duration=12, threads=4) as load:
            time.sleep(3)
            self.fleet.kill_replica(victim)
            killed_at = time.monotonic() - load.started
            self.assertFalse(pid_alive(old_pid))
        summary = load.summary()
        print(f"\nfleet kill -9 (replica {victim} at {killed_at:.1f}s of {summary['seconds']:.1f}s): "
              f"{load.summary_line()}", flush=True)
        self.assertGreaterEqual(summary["requests"], 600, summary)
        self.assertGreaterEqual(summary["share_ok"], 0.999,
                                f"{load.summary_line()}; errors: {load.errors[:5]}")
        down = self.fleet.status()["replicas"][victim]
        self.assertFalse(down["running"])
        self.assertEqual(down["balancer_state"], "DOWN")
        # Back: the same port, a new process, ready, and haproxy takes it in again (rise 1).
        self.fleet.restart_replica(victim)
        self.assertNotEqual(self.fleet.replicas[victim]["pid"], old_pid)
        self.assertEqual(get_json(self.fleet.replica_url(victim) + "/ready")[0], 200)
        self.fleet.wait_balanced(timeout=10)

    def test_events_through_the_balancer_reach_every_replica_within_a_second(self):
        urls = [self.fleet.replica_url(i) for i in range(self.REPLICAS)]
        run = uuid.uuid4().hex[:8]
        probes = 20
        trending_delay = {i: [] for i in range(self.REPLICAS)}
        answer_delay = {i: [] for i in range(self.REPLICAS)}
        missing = []
        for p in range(probes):
            user = f"conv-{run}-{p}"
            shown = recommended(urls[p % self.REPLICAS], user)
            self.assertTrue(shown)
            item, fresh = shown[0], f"fresh-{run}-{p}"
            status, body = post_json(self.fleet.balancer + "/events", events(user, [item, fresh]))
            self.assertEqual((status, body and body.get("accepted")), (200, 2), body)
            posted = time.monotonic()

            def watch(i):
                seen_trending = seen_answer = None
                while time.monotonic() - posted < 3.0 and (seen_trending is None or
                                                          seen_answer is None):
                    if seen_trending is None and fresh in trending(urls[i]):
                        seen_trending = time.monotonic() - posted
                    if seen_answer is None and item not in recommended(urls[i], user):
                        seen_answer = time.monotonic() - posted
                    time.sleep(0.005)
                if seen_trending is None or seen_answer is None:
                    missing.append((p, i, seen_trending, seen_answer))
                else:
                    trending_delay[i].append(seen_trending)
                    answer_delay[i].append(seen_answer)

            watchers = [threading.Thread(target=watch, args=(i,)) for i in range(self.REPLICAS)]
            for w in watchers:
                w.start()
            for w in watchers:
                w.join()
        parts = []
        for i in range(self.REPLICAS):
            both = [max(a, b) for a, b in zip(trending_delay[i], answer_delay[i])]
            parts.append(f"replica {i} trending p50 {percentile(trending_delay[i], 0.5) * 1000:.0f}"
                         f"/max {max(trending_delay[i], default=float('nan')) * 1000:.0f} ms, "
                         f"answer p50 {percentile(answer_delay[i], 0.5) * 1000:.0f}"
                         f"/max {max(answer_delay[i], default=float('nan')) * 1000:.0f} ms, "
                         f"both max {max(both, default=float('nan')) * 1000:.0f} ms")
        print(f"\nfleet convergence ({probes} probes through the balancer, delay after the 200, "
              f"polled every ~5 ms + request time): " + "; ".join(parts), flush=True)
        self.assertFalse(missing, f"(probe, replica, trending s, answer s) not seen within 3 s: "
                                  f"{missing}")
        for i in range(self.REPLICAS):
            self.assertLessEqual(max(trending_delay[i]), 1.0, (i, trending_delay[i]))
            self.assertLessEqual(max(answer_delay[i]), 1.0, (i, answer_delay[i]))

    def replica_metric_sum(self, name, **labels):
        return sum(rt.metric(scrape(self.fleet.replica_url(i)), name, **labels)
                   for i in range(self.REPLICAS))

    def test_redis_killed_while_events_flow_loses_no_acknowledged_event_and_logs_none_twice(self):
        run = uuid.uuid4().hex[:8]
        replayed_before = self.replica_metric_sum("recommendation_event_spool_replayed_total")
        spooled_before = self.replica_metric_sum("recommendation_events_recorded_total",
                                                 target="spool")
        acked, statuses, errors = [], collections.Counter(), []
        stop = threading.Event()
        lock = threading.Lock()

        def post(t):
            n = 0
            while not stop.is_set():
                batch = [{"event_id": f"rk-{run}-{t}-{n}-{j}", "user_id": f"rk-{run}-{(n + j) % 97}",
                          "item_id": str(1 + (n * 10 + j) % 50), "event_type": "view"}
                         for j in range(10)]
                n += 1
                try:
                    status, _ = post_json(self.fleet.balancer + "/events", batch, timeout=10)
                except OSError as err:
                    status = 0
                    errors.append(repr(err))
                with lock:
                    statuses[status] += 1
                    if status == 200:
                        acked.extend(e["event_id"] for e in batch)
                time.sleep(0.01)

        posters = [threading.Thread(target=post, args=(t,)) for t in range(2)]
        for w in posters:
            w.start()
        try:
            time.sleep(1.5)
            self.fleet.kill_redis()
            killed = time.monotonic()
            time.sleep(3)
            self.fleet.restart_redis()
            outage = time.monotonic() - killed
            time.sleep(1.5)
        finally:
            stop.set()
            for w in posters:
                w.join()
        replayed_in = wait_until(lambda: all(
            get_json(self.fleet.replica_url(i) + "/health")[1]["events"]["spooled"] == 0
            for i in range(self.REPLICAS)), 30, pause=0.1)
        self.assertIsNotNone(replayed_in, "a replica's spool was not replayed within 30 s")
        logged = collections.Counter(i for i in logged_event_ids(self.fleet)
                                     if i.startswith(f"rk-{run}-"))
        replayed = self.replica_metric_sum("recommendation_event_spool_replayed_total") - \
            replayed_before
        spooled = self.replica_metric_sum("recommendation_events_recorded_total",
                                          target="spool") - spooled_before
        missing = [i for i in acked if logged[i] == 0]
        twice = {i: c for i, c in logged.items() if c > 1}
        print(f"\nfleet redis outage ({outage:.1f}s down, appendfsync always): "
              f"{len(acked)} events acknowledged (answers {dict(sorted(statuses.items()))}), "
              f"{sum(logged.values())} logged ({len(logged)} distinct), spooled {spooled:.0f}, "
              f"replayed {replayed:.0f} (spools empty {replayed_in:.1f}s after the posts stopped), "
              f"missing {len(missing)}, logged twice {len(twice)}", flush=True)
        self.assertGreater(len(acked), 0)
        self.assertGreater(spooled, 0, "no event went to a spool: the outage was not exercised")
        self.assertFalse(missing, f"acknowledged events missing from the log: {missing[:10]}")
        self.assertFalse(twice, f"events logged more than once: {list(twice.items())[:10]}")
        self.assertEqual(len(set(acked)), len(acked))

    def test_kill9_and_restart_of_a_replica_comes_up_with_the_converged_live_state(self):
        victim = 2
        urls = [self.fleet.replica_url(i) for i in range(self.REPLICAS)]
        run = uuid.uuid4().hex[:8]
        item = f"before-restart-{run}"
        user = f"restart-user-{run}"
        shown = recommended(urls[victim], user)
        seen = shown[0]
        # A few users make the item trend; `user` also saw `seen`.
        for n in range(5):
            status, _ = post_json(self.fleet.balancer + "/events", events(f"{user}-{n}", [item]))
            self.assertEqual(status, 200)
        self.assertEqual(post_json(self.fleet.balancer + "/events",
                                   events(user, [seen, item]))[0], 200)
        self.assertIsNotNone(wait_until(lambda: all(item in trending(u) for u in urls), 2.0))
        old_pid = self.fleet.replicas[victim]["pid"]
        self.fleet.kill_replica(victim)
        self.assertFalse(pid_alive(old_pid))
        start = time.monotonic()
        self.fleet.restart_replica(victim)
        ready_in = time.monotonic() - start
        url = self.fleet.replica_url(victim)
        # Right after /ready: no waiting.
        in_trending = item in trending(url)
        answer = recommended(url, user)
        _, health = get_json(url + "/health")
        metrics = scrape(url)
        applied = rt.metric(metrics, "recommendation_event_log_read_total", result="applied")
        users = rt.metric(metrics, "recommendation_live_state_entries", structure="users")
        print(f"\nfleet kill -9 + restart of replica {victim}: ready in {ready_in:.1f}s, "
              f"caught_up {health['events']['caught_up']}, {applied:.0f} log events applied in "
              f"the catch-up ({users:.0f} live users), trending has the item: {in_trending}, "
              f"the user's answer excludes the seen item: {seen not in answer}", flush=True)
        self.assertTrue(health["events"]["caught_up"], health)
        self.assertTrue(in_trending, "the restarted replica's trending misses an event posted "
                                     "before the restart")
        self.assertNotIn(seen, answer, "the restarted replica recommends an item the user saw")
        self.fleet.wait_balanced(timeout=10)

    def reload(self, body):
        """POST /models/reload through the balancer, retried while a replica's one-per-second
        limit answers 429."""
        for _ in range(20):
            status, answer = post_json(self.fleet.balancer + "/models/reload", body,
                                       headers=ADMIN_HEADERS)
            if status != 429:
                return status, answer
            time.sleep(0.5)
        return status, answer

    def test_promote_and_rollback_through_the_balancer_reach_every_replica(self):
        urls = [self.fleet.replica_url(i) for i in range(self.REPLICAS)]

        def models():
            return [(get_json(u + "/health")[1]["primary"], get_json(u + "/health")[1]["shadow"])
                    for u in urls]

        def converge(expected, what):
            took = wait_until(lambda: models() == [expected] * len(urls), 10)
            self.assertIsNotNone(took, f"{what}: the fleet did not converge: {models()}")
            return took

        (v1, _), = set(models())
        status, answer = self.reload({"mode": "shadow", "source": "staging-fleet2",
                                      "rollout": 0.5})
        self.assertEqual(status, 200, answer)
        v2 = answer["shadow"]["version"]
        self.assertNotEqual(v1, v2)
        shadow_s = converge((v1, v2), "shadow")
        status, answer = self.reload({"mode": "primary"})
        self.assertEqual(status, 200, answer)
        promote_s = converge((v2, None), "promote")
        # A replica killed and restarted comes up on the promoted model, not on `current` (v1).
        self.fleet.kill_replica(2)
        self.fleet.restart_replica(2)
        self.assertEqual(get_json(urls[2] + "/health")[1]["primary"], v2)
        # An empty reload (the runbook's "re-enable the cache") never changes the models.
        status, answer = self.reload(None)
        self.assertEqual(status, 200, answer)
        self.assertEqual(models(), [(v2, None)] * len(urls))
        status, answer = self.reload({"mode": "rollback"})
        self.assertEqual(status, 200, answer)
        rollback_s = converge((v1, None), "rollback")
        for url in urls:
            self.assertTrue(get_json(url + "/health")[1]["models"]["converged"])
        print(f"\nfleet models through the balancer: shadow on every replica in "
              f"{shadow_s * 1000:.0f} ms, promote {promote_s * 1000:.0f} ms, rollback "
              f"{rollback_s * 1000:.0f} ms; a restarted replica came up on {v2}", flush=True)

    def test_down_then_up_on_the_same_workdir_comes_back_ready(self):
        with tempfile.TemporaryDirectory(prefix="recserve-fleet-again-") as workdir:
            fleet = make_fleet(2, workdir=workdir)
            fleet.up()
            try:
                redis_port = fleet.redis[0].rsplit(":", 1)[1]
                subprocess.run(["redis-cli", "-p", redis_port, "set", "fleet-test:kept", "yes"],
                               check=True, capture_output=True, timeout=10)
                # up on a running fleet's workdir refuses.
                with self.assertRaises(AssertionError) as refused:
                    make_fleet(2, workdir=workdir).up()
                self.assertIn("is running", str(refused.exception))
                first_pids = [r["pid"] for r in fleet.replicas]
                fleet.down()
                self.assertFalse(any(pid_alive(p) for p in first_pids))
                self.assertTrue(os.path.exists(os.path.join(workdir, "fleet.json")))
                self.assertNotEqual(get_json_or_none(fleet.balancer + "/ready"), 200)
                fleet.up()
                self.assertEqual(get_json(fleet.balancer + "/ready")[0], 200)
                for replica in fleet.replicas:
                    self.assertEqual(get_json(replica["url"] + "/ready")[0], 200)
                self.assertEqual(get_json(fleet.balancer + "/recommendations/196?k=5")[0], 200)
                redis_port = fleet.redis[0].rsplit(":", 1)[1]
                kept = subprocess.run(["redis-cli", "-p", redis_port, "get", "fleet-test:kept"],
                                      capture_output=True, text=True, timeout=10).stdout.strip()
                self.assertEqual(kept, "yes", "redis restarted without its append-only file")
            finally:
                fleet.down()
            check_json_logs(fleet)


def fnv1a64(text):
    h = 14695981039346656037
    for c in text.encode():
        h = ((h ^ c) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


class FleetRestartCacheTest(unittest.TestCase):
    """A restarted replica never serves another replica's cached list for an older history of the
    user. The Redis recommendation cache is shared; its key carries the user's live-history
    generation, which used to be a per-process push counter: after a restart the catch-up applies
    the log shard by shard, so a user's counter on the restarted replica can equal the one another
    replica had for that user one event earlier. A fresh two-replica fleet (an empty log) makes
    the counts exact: Y (a later shard) then X:a then X:b on replica 0; the restarted replica 1
    applies X:a, X:b, then Y."""

    def test_a_restarted_replica_does_not_serve_a_list_cached_for_an_older_history(self):
        shards = 4  # EVENT_LOG_SHARDS' default
        x = next(str(u) for u in range(1, 944) if fnv1a64(str(u)) % shards == 0)
        y = next(f"other-{n}" for n in range(1000) if fnv1a64(f"other-{n}") % shards > 0)
        with make_fleet(2) as fleet:
            a = fleet.replica_url(0)
            click = lambda user, item: post_json(a + "/events", events(user, [item]))[0]  # noqa
            self.assertEqual(click(y, "1"), 200)
            item_a = recommended(a, x, k=10)[0]
            self.assertEqual(click(x, item_a), 200)
            cached = recommended(a, x, k=10)  # cached for the history [a]
            item_b = cached[0]
            self.assertEqual(click(x, item_b), 200)
            self.assertIsNotNone(wait_until(
                lambda: item_b not in recommended(fleet.replica_url(1), x, k=10), 2.0))
            fleet.kill_replica(1)
            fleet.restart_replica(1)
            after_restart = recommended(fleet.replica_url(1), x, k=10)
            print(f"\nfleet restart + shared cache: user {x} clicked {item_a} then {item_b}; the "
                  f"restarted replica answers {after_restart}", flush=True)
            self.assertNotIn(item_b, after_restart,
                             "the restarted replica served a list cached for an older history")
            self.assertNotIn(item_a, after_restart)


def get_json_or_none(url):
    """The status of GET url, None when nothing answers."""
    try:
        return get_json(url, timeout=2)[0]
    except OSError:
        return None


if __name__ == "__main__":
    unittest.main()
