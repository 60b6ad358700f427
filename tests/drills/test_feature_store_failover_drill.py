"""Runbook drill 2: the Redis feature store fails over to SQLite under load and comes back.

A private redis-server is filled by `scripts/run_pipeline.sh --sync-only` and serves as both the
feature store (FEATURE_REDIS_URL) and the cache (REDIS_URL), as in production. Python threads
keep requesting while it is killed for 10 s, restarted (empty) and resynced. Pass: >= 99.5 % of
responses are 200, /health keeps models_loaded true throughout and reports feature_store sqlite
during the outage and redis again after the resync (the breaker's half-open probe picks Redis
up; no restart, no reload), the feature_store breaker's transitions and the degraded counters
show in /metrics, and the log has the runbook's `Failed to connect to Redis feature store`
warning. Prints a one-line summary."""
import time
import unittest

import recserve_testing as rt

OUTAGE_SECONDS = 10


class FeatureStoreFailoverDrill(unittest.TestCase):
    def test_failover_under_load(self):
        with rt.drill_service("recserve-drill-fs-", "fsfailover1",
                              redis_up_at_start=True) as (svc, redis, data_root):
            self.run_drill(svc, redis, data_root)

    def run_drill(self, svc, redis, data_root):
        health = svc.get_json("/health")[1]
        self.assertEqual(health["feature_store"], "redis", health)
        self.assertTrue(health["models_loaded"])
        load = rt.SteadyLoad(svc, threads=3).start()
        healths = []
        try:
            time.sleep(1)
            redis.stop()
            outage_end = time.monotonic() + OUTAGE_SECONDS
            while time.monotonic() < outage_end:
                time.sleep(1)
                healths.append(svc.get_json("/health")[1])
            redis.start()  # empty: no persistence, as a restarted pod without a volume
            sync_started = time.monotonic()
            rt.resync_features(redis.url, data_root)
            sync_seconds = time.monotonic() - sync_started
            # The breaker's cool-down (2 s) passes, a half-open probe reads from Redis again.
            after = rt.wait_for(lambda: svc.get_json("/health")[1],
                                lambda h: h["feature_store"] == "redis", timeout=15)
            healths.append(after)
        finally:
            load.stop()
        metrics = rt.scrape(svc)
        opened = rt.metric(metrics, "circuit_breaker_transitions_total",
                           dependency="feature_store", to="open")
        closed = rt.metric(metrics, "circuit_breaker_transitions_total",
                           dependency="feature_store", to="closed")
        degraded_redis = rt.metric(metrics, "recommendation_degraded_total",
                                   reason="timeout:redis")
        degraded_breaker = rt.metric(metrics, "recommendation_degraded_total",
                                     reason="breaker_open:feature_store")
        timeouts = rt.metric(metrics, "recommendation_timeouts_total",
                             operation="redis_feature_store")
        during = [h["feature_store"] for h in healths[:-1]]
        s = load.summary()
        print(f"feature-store failover drill: requests={s['requests']} "
              f"share_200={s['share_200']:.4f} p99={s['p99_ms']:.1f}ms max={s['max_ms']:.1f}ms "
              f"breaker_open={opened:.0f} breaker_closed={closed:.0f} "
              f"degraded_timeout_redis={degraded_redis:.0f} "
              f"degraded_breaker_open_feature_store={degraded_breaker:.0f} "
              f"timeouts_redis_feature_store={timeouts:.0f} sync_seconds={sync_seconds:.2f} "
              f"health_during={'/'.join(sorted(set(during)))} "
              f"health_after={after['feature_store']} cache_after={after['cache']}", flush=True)
        self.assertGreater(s["requests"], 100)
        self.assertGreaterEqual(s["share_200"], 0.995, s["statuses"])
        self.assertTrue(all(h["models_loaded"] for h in healths), healths)
        self.assertEqual(set(during), {"sqlite"}, during)
        self.assertEqual(after["feature_store"], "redis")
        self.assertGreaterEqual(opened, 1)
        self.assertGreaterEqual(closed, 1)
        self.assertGreater(degraded_breaker, 0)
        self.assertGreater(degraded_redis, 0)
        # The runbook's grep target: the warning logged when the breaker opened.
        self.assertIn("Failed to connect to Redis feature store", svc.log())


if __name__ == "__main__":
    unittest.main()
