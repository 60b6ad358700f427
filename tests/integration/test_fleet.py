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
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import recserve_testing as rt
from fleet_testing import Fleet, Load, get_json

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


def tearDownModule():
    shutil.rmtree(BUNDLE.get("root", ""), ignore_errors=True)


def make_fleet(replicas=3, **kw):
    return Fleet(replicas=replicas, env=FLEET_ENV, data_root=BUNDLE["data"],
                 model_dir=BUNDLE["models"], **kw)


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
        cls.fleet = make_fleet(cls.REPLICAS)
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


def get_json_or_none(url):
    """The status of GET url, None when nothing answers."""
    try:
        return get_json(url, timeout=2)[0]
    except OSError:
        return None


if __name__ == "__main__":
    unittest.main()
