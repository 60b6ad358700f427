"""Runbook drill: Redis (the recommendation cache) goes away under load and comes back. A real
redis-server is killed while Python threads keep requesting for 10 s, then restarted. Every
request must still be answered (>= 99.5% 200s), the cache breaker's transitions and the degraded
counters must show in /metrics, /health must report the cache disabled during the outage and
enabled again after the runbook's recovery (`scripts/run_pipeline.sh --sync-only`, then an
empty `POST /models/reload`, which reconnects the cache at once), and no request may be slower than
the overall deadline (REQUEST_TIMEOUT) plus 50 ms, by the server's own measure
(recommendation_deadline_overrun_seconds). Prints a one-line summary."""
import os
import shutil
import tempfile
import threading
import time
import unittest

import recserve_testing as rt

THREADS = 3
OUTAGE_SECONDS = 10
REQUEST_TIMEOUT = "0.5"
DEADLINE_SLACK_BUCKET = "0.05"  # overrun histogram bound: deadline plus 50 ms


def metric(metrics, name, **labels):
    return metrics.get((name, frozenset(labels.items())), 0.0)


class RedisOutageDrill(unittest.TestCase):
    def test_outage_under_load(self):
        tmp = tempfile.mkdtemp(prefix="recserve-drill-redis-")
        redis = rt.RedisServer()
        try:
            serve_env = rt.publish_small_bundle(tmp, "outage1")
            redis.start()
            svc = rt.Service(env={
                **serve_env,
                "REDIS_URL": redis.url, "REDIS_TIMEOUT": "0.2", "HTTP_THREADS": "2",
                "REQUEST_TIMEOUT": REQUEST_TIMEOUT})
            with svc:
                self.run_drill(svc, redis, os.path.join(tmp, "data"))
        finally:
            redis.close()
            shutil.rmtree(tmp, ignore_errors=True)

    def run_drill(self, svc, redis, data_root):
        self.assertEqual(svc.get_json("/health")[1]["cache"], "enabled")
        results = []  # (status, seconds)
        lock = threading.Lock()
        stop = threading.Event()

        def worker(t):
            i = 0
            while not stop.is_set():
                user = str(1 + (t * 1000 + i) % 943)
                i += 1
                start = time.monotonic()
                try:
                    status, _, _ = svc.request("GET", f"/recommendations/{user}?k=10", timeout=10)
                except OSError:
                    status = 0
                with lock:
                    results.append((status, time.monotonic() - start))
                time.sleep(0.01)

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
        for t in threads:
            t.start()
        try:
            time.sleep(1)
            redis.stop()
            time.sleep(OUTAGE_SECONDS / 2)
            health_during = svc.get_json("/health")[1]["cache"]
            time.sleep(OUTAGE_SECONDS / 2)
            redis.start()
            # The runbook's recovery: resync the features, then an empty reload, which
            # reconnects the cache without waiting for the breaker's own probe.
            rt.resync_features(redis.url, data_root)
            status, reload_answer = svc.post_json("/models/reload", None)
            self.assertEqual(status, 200, reload_answer)
            self.assertEqual(reload_answer["refreshed"]["cache"], "ok", reload_answer)
            health_after = svc.get_json("/health")[1]["cache"]
            time.sleep(1)  # traffic through the re-enabled cache
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)
        metrics = rt.parse_prometheus_text(svc.request("GET", "/metrics")[2].decode())
        opened = metric(metrics, "circuit_breaker_transitions_total", dependency="cache", to="open")
        closed = metric(metrics, "circuit_breaker_transitions_total", dependency="cache",
                        to="closed")
        degraded_redis = metric(metrics, "recommendation_degraded_total", reason="timeout:redis")
        degraded_breaker = metric(metrics, "recommendation_degraded_total",
                                  reason="breaker_open:cache")
        # Answers later than the deadline are observed by how much they overran it.
        late = metric(metrics, "recommendation_deadline_overrun_seconds_count")
        late_within_slack = metric(metrics, "recommendation_deadline_overrun_seconds_bucket",
                                   le=DEADLINE_SLACK_BUCKET)
        latencies = sorted(r[1] for r in results)
        ok = sum(1 for r in results if r[0] == 200)
        share = ok / max(1, len(results))
        p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] if latencies else 0
        print(f"redis-outage drill: requests={len(results)} share_200={share:.4f} "
              f"p99={p99 * 1000:.1f}ms breaker_open={opened:.0f} breaker_closed={closed:.0f} "
              f"degraded_timeout_redis={degraded_redis:.0f} "
              f"degraded_breaker_open_cache={degraded_breaker:.0f} health_during={health_during} "
              f"health_after={health_after} past_deadline={late:.0f} "
              f"past_deadline_plus_50ms={late - late_within_slack:.0f}", flush=True)
        self.assertGreater(len(results), 100)
        self.assertGreaterEqual(share, 0.995)
        self.assertGreaterEqual(opened, 1)
        self.assertGreaterEqual(closed, 1)
        self.assertGreater(degraded_redis + degraded_breaker, 0)
        self.assertEqual(health_during, "disabled")
        self.assertEqual(health_after, "enabled")
        self.assertEqual(late - late_within_slack, 0,
                         "requests slower than the overall deadline plus 50 ms")


if __name__ == "__main__":
    unittest.main()
