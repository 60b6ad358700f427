"""The fleet's shared event log (issue 15, docs/API.md "What a 200 from POST /events promises"):
two real `recserve serve` replicas share one real redis-server (AOF, fsync always, so a kill and a
restart keep every acknowledged write). Events posted to one replica reach the other's trending
list and the user's answers within a second; a retried batch is applied once; while Redis is down
events are spooled (fsync'd) and replayed when it returns, none lost and none twice; a full spool
is a 503 with its reason; a restarted replica catches up from the log before it is ready."""
import json
import os
import time
import unittest
import uuid

from recserve_testing import (RedisServer, Service, metric, parse_prometheus_text,
                              publish_small_bundle, temp_dir)


class DurableRedis(RedisServer):
    PERSISTENCE_ARGS = ("--appendonly", "yes", "--appendfsync", "always")


def events(user, items, **extra):
    return [{"user_id": user, "item_id": str(i), "event_type": "click", **extra} for i in items]


def wait_until(predicate, budget):
    """Seconds until predicate() held (polled every 10 ms), or None after `budget` seconds."""
    start = time.monotonic()
    while time.monotonic() - start < budget:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.01)
    return None


class SharedEventLogTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._root = temp_dir("recserve-evlog-")
        cls.root = cls._root.__enter__()
        cls.serve_env = publish_small_bundle(cls.root, "evlog")

    @classmethod
    def tearDownClass(cls):
        cls._root.__exit__(None, None, None)

    def setUp(self):
        self.redis = DurableRedis().start()
        self.addCleanup(self.redis.close)

    def replica(self, **env):
        svc = Service(env={**self.serve_env, "REDIS_URL": self.redis.url, "EVENT_LOG_SHARDS": "3",
                           "RECOMMENDATION_CACHE_SIZE": "0", "EVENT_CATCHUP_TIMEOUT": "5",
                           **env})
        svc.start()
        self.addCleanup(svc.stop)
        return svc

    def logged_event_ids(self):
        """Every event id in the shared log, over all shards (duplicates kept)."""
        shards = int(self.redis.cli("GET", "recserve:events:shards").strip() or 1)
        ids = []
        for shard in range(shards):
            out = self.redis.cli("XRANGE", f"recserve:events:{{e{shard}}}", "-", "+")
            # Raw output: one element per line (entry id, then field, value, ...); every entry
            # has 7 field/value pairs, the first being "id" and the event id.
            lines = [line for line in out.splitlines() if line] if out.strip() else []
            for at in range(0, len(lines), 15):
                self.assertEqual(lines[at + 1], "id", lines[at:at + 15])
                ids.append(lines[at + 2])
        return ids

    def trending(self, svc):
        status, body = svc.get_json("/hot/trending?timeframe=1h&k=200")
        self.assertEqual(status, 200, body)
        return {entry["item_id"] for entry in body["items"]}

    def recommended(self, svc, user):
        status, body = svc.get_json(f"/recommendations/{user}?k=20")
        self.assertEqual(status, 200, body)
        return [entry["item_id"] for entry in body["items"]]

    def test_events_posted_to_one_replica_show_on_the_other_within_a_second(self):
        a, b = self.replica(), self.replica()
        user = f"fleet-user-{uuid.uuid4().hex[:8]}"
        shown = self.recommended(b, user)
        self.assertTrue(shown)
        item = shown[0]
        # A never-seen item id too, so trending proves the event's arrival by itself.
        fresh = f"fresh-{uuid.uuid4().hex[:8]}"
        status, body = a.post_json("/events", events(user, [item, fresh]))
        self.assertEqual((status, body["accepted"]), (200, 2), body)
        on_b = wait_until(lambda: fresh in self.trending(b), 1.0)
        self.assertIsNotNone(on_b, "the event never reached replica B's trending list")
        seen_on_b = wait_until(lambda: item not in self.recommended(b, user), 1.0)
        self.assertIsNotNone(seen_on_b, "replica B still recommends the item the user just saw")
        print(f"\nevent on A -> B trending in {on_b * 1000:.0f} ms, "
              f"B's answer for the user in {seen_on_b * 1000:.0f} ms")
        # A applied its own events at once (read your writes) and does not apply them twice.
        self.assertNotIn(item, self.recommended(a, user))
        b_metrics = parse_prometheus_text(b.request("GET", "/metrics")[2].decode())
        self.assertGreaterEqual(
            metric(b_metrics, "recommendation_event_to_effect_seconds_count"), 2)
        self.assertGreaterEqual(
            metric(b_metrics, "recommendation_event_log_read_total", result="applied"), 2)
        a_metrics = parse_prometheus_text(a.request("GET", "/metrics")[2].decode())
        self.assertEqual(metric(a_metrics, "recommendation_event_log_read_total", result="applied"), 0)
        self.assertGreaterEqual(metric(a_metrics, "recommendation_event_log_read_total", result="own"), 2)

    def test_a_retried_batch_is_applied_once_fleet_wide(self):
        a, b = self.replica(), self.replica()
        batch = events("retry-user", range(1, 21))
        body = json.dumps(batch)
        for svc in (a, a, b):  # the client retried, once through another replica
            status, _, _ = svc.request("POST", "/events", body=body,
                                       headers={"Content-Type": "application/json"})
            self.assertEqual(status, 200)
        with_ids = events("retry-user-2", range(1, 6))
        for n, e in enumerate(with_ids):
            e["event_id"] = f"client-id-{n}"
        self.assertEqual(a.post_json("/events", with_ids)[0], 200)
        self.assertEqual(b.post_json("/events", with_ids)[0], 200)
        ids = self.logged_event_ids()
        self.assertEqual(len(ids), 25, ids)
        self.assertEqual(len(set(ids)), 25)

    def test_redis_outage_spools_and_replays_every_acknowledged_event_once(self):
        a, b = self.replica(), self.replica()
        acknowledged = []
        self.assertEqual(a.post_json("/events", events("before", ["1"]))[0], 200)
        acknowledged.append(1)
        self.redis.stop()
        outage_item = f"outage-{uuid.uuid4().hex[:8]}"
        for n in range(30):
            batch = events(f"outage-user-{n}", [outage_item, str(100 + n)])
            status, body = a.post_json("/events", batch)
            self.assertEqual(status, 200, body)
            acknowledged.append(len(batch))
        _, health = a.get_json("/health")
        self.assertEqual(health["events"]["recorded_in"], "spool", health)
        self.assertEqual(health["events"]["spooled"], 60, health)
        # A applied its spooled events at once; B cannot see them until Redis is back.
        self.assertIn(outage_item, self.trending(a))
        self.redis.start()
        replayed = wait_until(lambda: a.get_json("/health")[1]["events"]["spooled"] == 0, 15)
        self.assertIsNotNone(replayed, "the spool was not replayed after Redis came back")
        ids = self.logged_event_ids()
        self.assertEqual(len(ids), sum(acknowledged), "an acknowledged event is missing")
        self.assertEqual(len(set(ids)), len(ids), "an event was logged twice")
        self.assertIsNotNone(wait_until(lambda: outage_item in self.trending(b), 5))
        messages = a.log_messages()
        self.assertIn("Redis connection failed", messages)
        self.assertIn("spool empty", messages)

    def test_a_full_spool_answers_503_with_its_reason_and_keeps_nothing(self):
        a = self.replica(EVENT_SPOOL_MAX_BYTES=str(1 << 20))
        self.redis.stop()
        long_id = "x" * 200
        statuses = []
        for n in range(20):
            batch = events(f"{long_id}-{n}", [f"{long_id}-{i}" for i in range(1000)])
            status, headers, body = a.request("POST", "/events", body=json.dumps(batch),
                                              headers={"Content-Type": "application/json"})
            statuses.append(status)
            if status != 200:
                break
        self.assertEqual(statuses[-1], 503, statuses)
        self.assertIn(200, statuses)
        answer = json.loads(body)
        self.assertIn("spool full", answer["message"])
        self.assertIn("Retry-After", headers)
        spooled = a.get_json("/health")[1]["events"]["spooled"]
        self.assertEqual(spooled, 1000 * (len(statuses) - 1))
        self.redis.start()
        self.assertIsNotNone(
            wait_until(lambda: a.get_json("/health")[1]["events"]["spooled"] == 0, 20))
        self.assertEqual(len(self.logged_event_ids()), spooled)

    def hit_ratio_run(self, serving, receiving, prefix, users=16):
        """Loads the bundle as a 100% shadow, serves /recommendations for `users` users on
        `serving` replicas (round robin), then posts to `receiving` replicas one event per user:
        the primary's first item for even users, an item outside every list for odd ones.
        Returns {variant: (hits, lists)} summed over every replica."""
        source = os.path.join(self.serve_env["MODEL_DIR"], "evlog")
        self.addCleanup(lambda: os.path.exists(self.desired_file) and os.remove(self.desired_file))
        if not serving[0].get_json("/health")[1]["shadow"]:
            status, body = serving[0].post_json("/models/reload", {
                "mode": "shadow", "source": source, "rollout": 1.0})
            self.assertEqual(status, 200, body)
        everyone = {id(r): r for r in serving + receiving}.values()
        for svc in everyone:
            self.assertIsNotNone(wait_until(lambda: svc.get_json("/health")[1]["shadow"], 10))
        lists_before = self.totals(everyone, "recommendation_variant_lists_total")
        hits_before = self.totals(everyone, "recommendation_variant_hits_total")
        firsts = {}
        for n in range(users):
            user = f"{prefix}-{n}"
            firsts[user] = self.recommended(serving[n % len(serving)], user)[0]
        self.assertIsNotNone(wait_until(
            lambda: self.totals(everyone, "recommendation_variant_lists_total")["shadow"]
            >= lists_before["shadow"] + users, 10), "the shadow did not score every request")
        for n, (user, first) in enumerate(firsts.items()):
            item = first if n % 2 == 0 else f"never-listed-{prefix}-{n}"
            status, _ = receiving[n % len(receiving)].post_json("/events", events(user, [item]))
            self.assertEqual(status, 200)
        lists = self.totals(everyone, "recommendation_variant_lists_total")
        hits = self.totals(everyone, "recommendation_variant_hits_total")
        return {v: (hits[v] - hits_before[v], lists[v] - lists_before[v])
                for v in ("primary", "shadow")}

    @staticmethod
    def totals(replicas, name):
        """{variant: value} of counter `name` summed over `replicas` (the dashboard's sum)."""
        out = {"primary": 0, "shadow": 0}
        for svc in replicas:
            samples = parse_prometheus_text(svc.request("GET", "/metrics")[2].decode())
            for variant in out:
                out[variant] += metric(samples, name, variant=variant) or 0
        return out

    @property
    def desired_file(self):
        return os.path.join(self.serve_env["MODEL_DIR"], "desired_state.json")

    def test_the_shadow_hit_ratio_does_not_depend_on_the_number_of_replicas(self):
        a, b, c = self.replica(), self.replica(), self.replica()
        one = self.hit_ratio_run([a], [a], "one")
        # Served round robin by A and B, clicked through B and C: most events reach a replica
        # that did not serve the user's list.
        fleet = self.hit_ratio_run([a, b], [b, c], "three")
        print(f"\n(hits, lists) per variant, three replicas: {fleet}, one replica: {one}")
        self.assertEqual(fleet, one)
        self.assertEqual(fleet["primary"], (8, 16))
        self.assertEqual(fleet["shadow"], (8, 16))

    def test_a_restarted_replica_catches_up_from_the_log_before_it_is_ready(self):
        a = self.replica()
        item = f"catchup-{uuid.uuid4().hex[:8]}"
        for n in range(5):
            self.assertEqual(a.post_json("/events", events(f"cu-user-{n}", [item]))[0], 200)
        b = self.replica()  # start() waits for /ready
        self.assertIsNotNone(wait_until(lambda: item in self.trending(b), 1.0))
        _, health = b.get_json("/health")
        self.assertTrue(health["events"]["caught_up"])
        self.assertIn("caught up", b.log_messages())


if __name__ == "__main__":
    unittest.main()
