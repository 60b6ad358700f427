"""Runbook drill 4: start without Redis, then Redis appears.

`recserve serve` starts with REDIS_URL and FEATURE_REDIS_URL pointing at a loopback port where
no Redis listens. Pass: the log has `Redis connection failed` and `Failed to connect to Redis
feature store`; /health says cache disabled, feature_store sqlite, models_loaded true; requests
are answered 200. Then redis-server starts on that port and `scripts/run_pipeline.sh
--sync-only` fills it; under steady traffic and bounded polling /health must show the cache
enabled and feature_store redis without a restart or reload (the breakers' probes reconnect).
Prints a one-line summary."""
import time
import unittest

import recserve_testing as rt


class RedisStartupDrill(unittest.TestCase):
    def test_start_without_redis_then_redis_appears(self):
        with rt.drill_service("recserve-drill-startup-", "startup1",
                              redis_up_at_start=False) as (svc, redis, data_root):
            self.run_drill(svc, redis, data_root)

    def run_drill(self, svc, redis, data_root):
        log = svc.log()
        self.assertIn("Redis connection failed", log)
        self.assertIn("Failed to connect to Redis feature store", log)
        before = svc.get_json("/health")[1]
        self.assertEqual(before["cache"], "disabled", before)
        self.assertEqual(before["feature_store"], "sqlite", before)
        self.assertTrue(before["models_loaded"])
        statuses = [svc.request("GET", f"/recommendations/{u}?k=10")[0] for u in range(1, 21)]
        self.assertEqual(statuses, [200] * 20)

        load = rt.SteadyLoad(svc, threads=2).start()
        try:
            time.sleep(1)
            appeared = time.monotonic()
            redis.start()
            rt.resync_features(redis.url, data_root)
            after = rt.wait_for(
                lambda: svc.get_json("/health")[1],
                lambda h: h["cache"] == "enabled" and h["feature_store"] == "redis", timeout=20)
            picked_up_seconds = time.monotonic() - appeared
        finally:
            load.stop()
        metrics = rt.scrape(svc)
        degraded = {reason: rt.metric(metrics, "recommendation_degraded_total", reason=reason)
                    for reason in ("timeout:redis", "breaker_open:cache",
                                   "breaker_open:feature_store")}
        closed = {dep: rt.metric(metrics, "circuit_breaker_transitions_total", dependency=dep,
                                 to="closed") for dep in ("cache", "feature_store")}
        s = load.summary()
        print(f"redis-startup drill: requests={s['requests']} share_200={s['share_200']:.4f} "
              f"p99={s['p99_ms']:.1f}ms max={s['max_ms']:.1f}ms "
              f"degraded_timeout_redis={degraded['timeout:redis']:.0f} "
              f"degraded_breaker_open_cache={degraded['breaker_open:cache']:.0f} "
              f"degraded_breaker_open_feature_store={degraded['breaker_open:feature_store']:.0f} "
              f"breaker_closed_cache={closed['cache']:.0f} "
              f"breaker_closed_feature_store={closed['feature_store']:.0f} "
              f"health_before={before['cache']}/{before['feature_store']} "
              f"health_after={after['cache']}/{after['feature_store']} "
              f"picked_up_after={picked_up_seconds:.1f}s", flush=True)
        self.assertGreater(s["requests"], 20)
        self.assertGreaterEqual(s["share_200"], 0.995, s["statuses"])
        self.assertEqual(after["cache"], "enabled", after)
        self.assertEqual(after["feature_store"], "redis", after)
        self.assertTrue(after["models_loaded"])
        self.assertGreater(degraded["timeout:redis"] + degraded["breaker_open:feature_store"], 0)


if __name__ == "__main__":
    unittest.main()
