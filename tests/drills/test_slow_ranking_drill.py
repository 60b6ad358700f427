"""Runbook drill: a slow ranker. RANKING_TIMEOUT=0.01 with FAULT_RANKING_DELAY_MS=50 makes every
ranking miss its deadline; under bounded load from Python threads every response must still be
200 with personalised recall-order items, degraded as `timeout:model_inference` (or
`breaker_open:ranker` once the ranker breaker opens), and the timeouts counter must rise. Then
the delay is removed at run time (DELETE /admin/faults) and ranking must recover without a
restart: the ranker breaker closes and answers are ranked (not degraded) again.
Prints a one-line summary (requests, share 200, P99, counters, recovery)."""
import json
import os
import shutil
import tempfile
import threading
import time
import unittest

import recserve_testing as rt

THREADS = 4
REQUESTS_PER_THREAD = 50
FALLBACK_REASONS = {"timeout:model_inference", "breaker_open:ranker"}
ADMIN_TOKEN = "drill-token"


def metric(metrics, name, **labels):
    return metrics.get((name, frozenset(labels.items())), 0.0)


class SlowRankingDrill(unittest.TestCase):
    def test_slow_ranker_serves_recall_order(self):
        tmp = tempfile.mkdtemp(prefix="recserve-drill-slow-ranking-")
        try:
            serve_env = rt.publish_small_bundle(tmp, "slow1")
            svc = rt.Service(env={
                **serve_env,
                "RANKING_TIMEOUT": "0.01", "FAULT_RANKING_DELAY_MS": "50",
                "RECOMMENDATION_CACHE_SIZE": "0", "HTTP_THREADS": "2",
                "ADMIN_TOKEN": ADMIN_TOKEN})
            with svc:
                self.run_load(svc)
                self.recover(svc)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def run_load(self, svc):
        results = []  # (status, degraded_reason, source, n_items, seconds)
        lock = threading.Lock()

        def worker(t):
            for i in range(REQUESTS_PER_THREAD):
                user = str(1 + (t * REQUESTS_PER_THREAD + i) % 900)
                start = time.monotonic()
                try:
                    status, body = svc.get_json(f"/recommendations/{user}?k=10", timeout=10)
                except OSError:
                    status, body = 0, None
                elapsed = time.monotonic() - start
                with lock:
                    results.append((status, (body or {}).get("degraded_reason"),
                                    (body or {}).get("source"), len((body or {}).get("items", [])),
                                    elapsed))

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        metrics = rt.parse_prometheus_text(svc.request("GET", "/metrics")[2].decode())
        timeouts = metric(metrics, "recommendation_timeouts_total", operation="model_inference")
        degraded_timeout = metric(metrics, "recommendation_degraded_total",
                                  reason="timeout:model_inference")
        degraded_breaker = metric(metrics, "recommendation_degraded_total",
                                  reason="breaker_open:ranker")
        latencies = sorted(r[4] for r in results)
        ok = sum(1 for r in results if r[0] == 200)
        p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] if latencies else 0
        print(f"slow-ranking drill: requests={len(results)} share_200={ok / max(1, len(results)):.4f} "
              f"p99={p99 * 1000:.1f}ms timeouts_model_inference={timeouts:.0f} "
              f"degraded_timeout={degraded_timeout:.0f} degraded_breaker_open={degraded_breaker:.0f}",
              flush=True)
        self.assertEqual(len(results), THREADS * REQUESTS_PER_THREAD)
        for status, reason, source, n_items, _ in results:
            self.assertEqual(status, 200)
            self.assertIn(reason, FALLBACK_REASONS)
            self.assertEqual(source, "personalized")
            self.assertEqual(n_items, 10)
        self.assertGreater(timeouts, 0)
        self.assertEqual(degraded_timeout + degraded_breaker, len(results))


    def recover(self, svc):
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        status, _, body = svc.request("GET", "/admin/faults", headers=auth)
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["ranking"]["delay_ms"], 50)
        self.assertEqual(svc.request("DELETE", "/admin/faults")[0], 401)  # token required
        status, _, body = svc.request("DELETE", "/admin/faults", headers=auth)
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["ranking"]["delay_ms"], 0)
        # The breaker's cool-down passes, a half-open probe ranks in time, answers are ranked.
        started = time.monotonic()
        ranked_in_a_row = 0
        requests = 0
        while time.monotonic() - started < 30 and ranked_in_a_row < 5:
            requests += 1
            status, body = svc.get_json(f"/recommendations/{1 + requests % 900}?k=10")
            self.assertEqual(status, 200)
            ranked_in_a_row = ranked_in_a_row + 1 if not body["degraded"] else 0
            time.sleep(0.05)
        recovery = time.monotonic() - started
        metrics = rt.parse_prometheus_text(svc.request("GET", "/metrics")[2].decode())
        closed = metric(metrics, "circuit_breaker_transitions_total", dependency="ranker",
                        to="closed")
        print(f"slow-ranking drill recovery: delay removed at run time, 5 ranked answers in a row "
              f"after {recovery:.1f}s and {requests} requests, ranker breaker closed={closed:.0f}",
              flush=True)
        self.assertEqual(ranked_in_a_row, 5)


if __name__ == "__main__":
    unittest.main()
