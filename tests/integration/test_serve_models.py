"""`recserve serve` with a real trained bundle: `recserve pipeline` trains ML-100K with small
settings and publishes models/<version>/ + models/current + the SQLite feature store; serve loads
MODEL_DIR/current and FEATURE_STORE_PATH. Checks personalised answers (history from the feature
store dropped, events changing the next answer), cold start, /similar, /recommend/detail, /health,
/ready, recommendation_model_info, and that a corrupted bundle is refused at start (popular
fallback, /ready 503) without crashing."""
import json
import os
import shutil
import sqlite3
import tempfile
import unittest

import recserve_testing as rt

# Small but real training settings: these tests check the wiring, not model quality.
USER = "196"  # a known ML-100K user


def feature_store_recent(db_path, user_id):
    """The user's recent items as the current feature-store snapshot holds them."""
    conn = sqlite3.connect(db_path)
    try:
        row = conn.execute(
            "SELECT u.data FROM user_features u JOIN current_snapshot c "
            "ON u.snapshot_id = c.snapshot_id WHERE u.user_id = ?", (user_id,)).fetchone()
    finally:
        conn.close()
    # docs/FEATURE_STORE.md: "recent" is [[item_id, unix seconds], ...], newest first.
    return [str(item) for item, _ in json.loads(row[0])["recent"]]


class ServeModelsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="recserve-serve-models-")
        cls.models = os.path.join(cls.tmp, "models")
        cls.db = os.path.join(cls.tmp, "data", "feature_store.db")
        serve_env = rt.publish_small_bundle(cls.tmp, "wired1")
        cls.svc = rt.Service(env={**serve_env, "HTTP_THREADS": "2"})
        cls.svc.start()

    @classmethod
    def tearDownClass(cls):
        cls.svc.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_health_ready_and_model_info(self):
        status, health = self.svc.get_json("/health")
        self.assertEqual(status, 200)
        self.assertTrue(health["models_loaded"])
        self.assertEqual(health["primary"], "wired1")
        self.assertEqual(health["feature_store"], "sqlite")
        self.assertEqual(self.svc.request("GET", "/ready")[0], 200)
        metrics = rt.parse_prometheus_text(self.svc.request("GET", "/metrics")[2].decode())
        key = ("recommendation_model_info",
               frozenset({"variant": "primary", "version": "wired1"}.items()))
        self.assertEqual(metrics.get(key), 1.0)

    def test_known_user_is_personalised_without_seen_items(self):
        status, body = self.svc.get_json(f"/recommendations/{USER}?k=10")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["source"], "personalized")
        self.assertEqual(body["model_version"], "wired1")
        self.assertIsNone(body["degraded_reason"])
        items = [i["item_id"] for i in body["items"]]
        self.assertEqual(len(items), 10)
        self.assertEqual(len(set(items)), 10)
        seen = feature_store_recent(self.db, USER)
        self.assertTrue(seen, "the feature store should hold the user's recent items")
        self.assertFalse(set(items) & set(seen), (items, seen))
        # Same request, same answer (deterministic model, cached or not).
        self.assertEqual([i["item_id"] for i in
                          self.svc.get_json(f"/recommendations/{USER}?k=10")[1]["items"]], items)

    def test_event_changes_next_answer(self):
        user = "305"
        before = [i["item_id"] for i in
                  self.svc.get_json(f"/recommendations/{user}?k=10")[1]["items"]]
        status, _ = self.svc.post_json("/events", {"user_id": user, "item_id": before[0],
                                                   "event_type": "view"})
        self.assertEqual(status, 200)
        after = [i["item_id"] for i in
                 self.svc.get_json(f"/recommendations/{user}?k=10")[1]["items"]]
        self.assertNotIn(before[0], after)
        self.assertNotEqual(before, after)

    def test_unknown_user_gets_popular_not_degraded(self):
        status, body = self.svc.get_json("/recommendations/no-such-user-xyz?k=5")
        self.assertEqual(status, 200)
        self.assertEqual(body["source"], "popular")
        self.assertIsNone(body["degraded_reason"])
        self.assertEqual(len(body["items"]), 5)

    def test_similar_and_detail(self):
        status, body = self.svc.get_json("/similar/242?k=5")
        self.assertEqual(status, 200, body)
        self.assertEqual(len(body["items"]), 5)
        self.assertNotIn("242", [i["item_id"] for i in body["items"]])
        status, _ = self.svc.get_json("/similar/no-such-item?k=5")
        self.assertEqual(status, 404)
        status, body = self.svc.get_json(f"/recommend/detail/242?user_id={USER}&k=6")
        self.assertEqual(status, 200, body)
        self.assertEqual(len(body["items"]), 6)

    def test_corrupted_bundle_is_refused_at_start(self):
        bad_root = os.path.join(self.tmp, "bad-models")
        shutil.copytree(os.path.join(self.models, "wired1"), os.path.join(bad_root, "wired1"))
        os.symlink("wired1", os.path.join(bad_root, "current"))
        with open(os.path.join(bad_root, "wired1", "ranker.json"), "a") as f:
            f.write(" ")
        svc = rt.Service(env={"MODEL_DIR": bad_root, "FEATURE_STORE_PATH": self.db,
                              "HTTP_THREADS": "1"})
        svc.start(wait_ready=False)
        try:
            self.assertEqual(svc.request("GET", "/ready")[0], 503)
            status, body = svc.get_json(f"/recommendations/{USER}?k=5")
            self.assertEqual(status, 200)
            self.assertEqual(body["degraded_reason"], "no_model")
            self.assertIn("ranker.json", svc.log())
        finally:
            svc.stop()


if __name__ == "__main__":
    unittest.main()
