"""A flood of 1M unique ids through a local fleet's balancer (issue 15, "Bounded live state,
fleet-wide"). Release build only (scripts/run-tests.sh RELEASE_ONLY_TESTS): the RSS bound would
count ASan's quarantine, and the flood takes minutes under ASan. Reuses test_fleet's bundle and
helpers."""
import collections
import json
import os
import sys
import threading
import time
import unittest
import uuid

import recserve_testing as rt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_fleet  # noqa: E402
from test_fleet import (check_json_logs, events, logged_length, make_fleet,  # noqa: E402,F401
                        recommended, rss_mb, scrape, trending, wait_until)
from fleet_testing import get_json, post_json  # noqa: E402,F401

setUpModule = test_fleet.setUpModule
tearDownModule = test_fleet.tearDownModule


class FleetFloodTest(unittest.TestCase):
    """1M unique ids posted as events through the balancer (issue 15, "Bounded live state,
    fleet-wide"): every replica applies all of them (its own at acceptance, the others' from the
    log) and stays within its live-state bound. A fleet of its own: the live-state caps are set
    small so that the bound means something (at the defaults a flood of short ids would stay far
    under the documented ~230 MB whatever happened), and the log keeps every event."""
    REPLICAS = 3
    USERS_CAP = 20000
    ENV = {
        "LIVE_MAX_USERS": str(USERS_CAP),
        "LIVE_MAX_HISTORY_BYTES": str(8 << 20),
        "LIVE_MAX_ITEMS": "20000",
        "LIVE_MAX_WINDOW_ITEMS": "200",
        "LIVE_DISTINCT_PAIRS": str(1 << 18),
        # Every event of the flood stays in the log (4 shards x 2M): no 503, no trimming.
        "EVENT_LOG_MAX_LENGTH": "2000000",
        "EVENTS_RATE_LIMIT": "0",
        "REQUEST_TIMEOUT": "30",
    }
    # What those caps let the live state hold, generously (docs/CONFIGURATION.md's estimates):
    # histories <= 8 MiB; 20k items x ~150 B; 156 trending buckets x 200 items x ~150 B; the
    # pair table 4 MiB: ~20 MB. The rest of the budget is the allocator's (glibc arenas keep
    # freed request buffers and the follower's batches) and the flood's transient buffers.
    BOUND_MB = 128
    EVENTS = int(os.environ.get("FLEET_FLOOD_EVENTS", "1000000"))
    BATCH = 1000
    THREADS = 4
    TIME_BUDGET = float(os.environ.get("FLEET_FLOOD_SECONDS", "150"))

    @classmethod
    def setUpClass(cls):
        cls.fleet = make_fleet(cls.REPLICAS, env=cls.ENV)
        cls.fleet.up()
        cls.addClassCleanup(cls.fleet.close)
        cls.addClassCleanup(check_json_logs, cls.fleet)

    def test_a_flood_of_1m_unique_ids_keeps_every_replica_within_its_bound(self):
        fleet = self.fleet
        urls = [fleet.replica_url(i) for i in range(self.REPLICAS)]
        pids = [r["pid"] for r in fleet.replicas]
        # Warm every replica's request path before the baseline.
        for url in urls:
            for user in (196, 1, 2):
                self.assertEqual(get_json(url + f"/recommendations/{user}?k=10")[0], 200)
            self.assertEqual(get_json(url + "/hot/trending?timeframe=1h")[0], 200)
        baseline = [rss_mb(pid) for pid in pids]
        run = uuid.uuid4().hex[:6]
        batches = self.EVENTS // self.BATCH
        next_batch = iter(range(batches))
        lock = threading.Lock()
        statuses = collections.Counter()
        acked = [0]
        peak = list(baseline)
        started = time.monotonic()
        deadline = started + self.TIME_BUDGET
        stop = threading.Event()

        def post():
            while not stop.is_set() and time.monotonic() < deadline:
                with lock:
                    b = next(next_batch, None)
                if b is None:
                    return
                body = json.dumps([{"user_id": f"f{run}u{b}-{e}", "item_id": f"f{run}i{b}-{e}",
                                    "event_type": "view"} for e in range(self.BATCH)]).encode()
                try:
                    status, _ = post_json(fleet.balancer + "/events", body, timeout=60)
                except OSError:
                    status = 0
                with lock:
                    statuses[status] += 1
                    if status == 200:
                        acked[0] += self.BATCH

        def sample():
            while not stop.wait(0.5):
                for i, pid in enumerate(pids):
                    peak[i] = max(peak[i], rss_mb(pid))

        sampler = threading.Thread(target=sample)
        sampler.start()
        posters = [threading.Thread(target=post) for _ in range(self.THREADS)]
        try:
            for w in posters:
                w.start()
            for w in posters:
                w.join()
            posted_in = time.monotonic() - started
            # Every replica reads the whole log (own entries are skipped, others' applied).
            total = logged_length(fleet)

            def converged():
                return all(rt.metric(m, "recommendation_event_log_read_total", result="applied") +
                           rt.metric(m, "recommendation_event_log_read_total", result="own")
                           >= total for m in (scrape(u) for u in urls))
            converged_in = wait_until(converged, 120, pause=0.5)
        finally:
            stop.set()
            sampler.join()
        after = [rss_mb(pid) for pid in pids]
        metrics = [scrape(u) for u in urls]
        users = [rt.metric(m, "recommendation_live_state_entries", structure="users")
                 for m in metrics]
        items = [rt.metric(m, "recommendation_live_state_entries", structure="items")
                 for m in metrics]
        answers = []
        for url in urls:
            status, body = get_json(url + "/recommendations/196?k=10")
            answers.append((status, len((body or {}).get("items", []))))
            self.assertEqual(get_json(url + "/hot/trending?timeframe=1h")[0], 200)
        cut = "" if acked[0] >= self.EVENTS else \
            f" (time-bounded: {self.TIME_BUDGET:.0f}s budget, not the {self.EVENTS} asked)"
        print(f"\nfleet flood: {acked[0]} unique-id events acknowledged through the balancer in "
              f"{posted_in:.1f}s ({acked[0] / posted_in:.0f} events/s){cut}, answers "
              f"{dict(statuses)}, {total} in the log, every replica applied all in "
              f"{converged_in if converged_in is not None else float('nan'):.1f}s more; RSS MB "
              f"baseline/peak/after (bound baseline + {self.BOUND_MB}): " +
              ", ".join(f"{b:.0f}/{p:.0f}/{a:.0f}" for b, p, a in zip(baseline, peak, after)) +
              f"; live users {[int(u) for u in users]} (cap {self.USERS_CAP}), items "
              f"{[int(i) for i in items]}; /recommendations/196 {answers}", flush=True)
        self.assertEqual(statuses.get(200, 0), sum(statuses.values()), statuses)
        self.assertGreaterEqual(acked[0], 200_000, "too few events to call it a flood")
        self.assertIsNotNone(converged_in, "a replica did not apply the whole log within 120 s")
        for i in range(self.REPLICAS):
            self.assertLessEqual(users[i], self.USERS_CAP, (i, users))
            self.assertLessEqual(peak[i], baseline[i] + self.BOUND_MB, (i, baseline, peak))
            self.assertLessEqual(after[i], baseline[i] + self.BOUND_MB, (i, baseline, after))
            self.assertEqual(answers[i], (200, 10), answers)


if __name__ == "__main__":
    unittest.main()
