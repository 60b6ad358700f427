"""Feature store end to end: the SQLite snapshot switch is atomic for concurrent readers, and the
Redis sync (real redis-server) writes versioned keys, switches one pointer, expires the previous
version, and leaves the previous version complete when Redis dies in the middle of a sync."""
import json
import os
import sqlite3
import subprocess
import threading
import time
import unittest

from recserve_testing import RedisServer, run_recserve, temp_dir

PREFIX = "recserve:features"


def fnv1a64(text):
    h = 14695981039346656037
    for b in text.encode():
        h ^= b
        h = (h * 1099511628211) % (1 << 64)
    return h


def make_data(directory, users, items=50, per_user=2):
    os.makedirs(directory, exist_ok=True)
    now = int(time.time())
    with open(os.path.join(directory, "interactions.csv"), "w") as f:
        f.write("user_id,item_id,timestamp,weight,event_type\n")
        for u in range(users):
            for k in range(per_user):
                f.write(f"user{u},item{(u * 3 + k) % items},{now - 7200 + (u + k) % 3600},1,"
                        f"view\n")


def run_pipeline(data, root, run_id, env=None):
    return run_recserve("pipeline", "--skip-training", "--data", data, "--data-root", root, "--run-id", run_id,
                        env=env)


class DurableRedis(RedisServer):
    """redis-server that fsyncs every write to its AOF, so it can be killed and restarted with
    everything it acknowledged."""

    PERSISTENCE_ARGS = ("--appendonly", "yes", "--appendfsync", "always")


def redis_user_count(redis, version):
    meta = json.loads(redis.cli("GET", f"{PREFIX}:v:{version}:meta"))
    total = 0
    for b in range(meta["user_buckets"]):
        total += int(redis.cli("HLEN", f"{PREFIX}:v:{version}:users:{b}"))
    return meta, total


class RedisSyncTest(unittest.TestCase):
    def test_sync_switches_pointer_and_expires_previous_version(self):
        with temp_dir() as root, RedisServer() as redis:
            data = os.path.join(root, "in")
            make_data(data, users=300)
            run_pipeline(data, root, "v1")
            proc = run_recserve("sync", "--data-root", root, "--redis-url", redis.url)
            self.assertIn("version=v1 previous_version=-", proc.stderr)
            self.assertEqual(redis.cli("GET", f"{PREFIX}:current").strip(), "v1")
            meta, users = redis_user_count(redis, "v1")
            self.assertEqual(users, 300)
            self.assertEqual(meta["snapshot"]["user_count"], 300)
            # A user's record is where the documented bucket formula says, identical to SQLite.
            bucket = fnv1a64("user7") % meta["user_buckets"]
            from_redis = redis.cli("HGET", f"{PREFIX}:v:v1:users:{bucket}", "user7").strip()
            db = sqlite3.connect(os.path.join(root, "feature_store.db"))
            from_sqlite = db.execute(
                "SELECT data FROM user_features WHERE user_id='user7'").fetchone()[0]
            db.close()
            self.assertEqual(json.loads(from_redis), json.loads(from_sqlite))
            self.assertEqual(int(redis.cli("TTL", f"{PREFIX}:v:v1:users:{bucket}")), -1)
            popular = json.loads(redis.cli("GET", f"{PREFIX}:v:v1:popular"))
            self.assertEqual(len(popular), 50)

            # A full run with FEATURE_REDIS_URL set syncs at its end.
            make_data(data, users=500)
            run_pipeline(data, root, "v2", env={"FEATURE_REDIS_URL": redis.url})
            self.assertEqual(redis.cli("GET", f"{PREFIX}:current").strip(), "v2")
            _, users = redis_user_count(redis, "v2")
            self.assertEqual(users, 500)
            for key in [f"{PREFIX}:v:v1:meta", f"{PREFIX}:v:v1:users:0", f"{PREFIX}:v:v1:popular"]:
                ttl = int(redis.cli("TTL", key))
                self.assertTrue(0 < ttl <= 600, f"{key} ttl {ttl}")
            self.assertEqual(int(redis.cli("TTL", f"{PREFIX}:v:v2:users:0")), -1)

    def test_sync_without_snapshot_or_redis_fails_clearly(self):
        with temp_dir() as root:
            proc = run_recserve("sync", "--data-root", root, "--redis-url",
                                "redis://127.0.0.1:1", check=False)
            self.assertEqual(proc.returncode, 1)
            self.assertIn("no feature store", proc.stderr)
            data = os.path.join(root, "in")
            make_data(data, users=10)
            run_pipeline(data, root, "v1")
            proc = run_recserve("sync", "--data-root", root, "--redis-url",
                                "redis://127.0.0.1:1", check=False)
            self.assertEqual(proc.returncode, 1)
            self.assertIn("Redis connection failed", proc.stderr)
            proc = run_recserve("sync", "--data-root", root, "--redis-url", "http://x",
                                check=False)
            self.assertEqual(proc.returncode, 1)
            self.assertIn("bad Redis URL", proc.stderr)

    def test_redis_killed_mid_sync_keeps_previous_version_complete(self):
        with temp_dir() as root:
            redis = DurableRedis().start()
            try:
                data = os.path.join(root, "in")
                make_data(data, users=200)
                run_pipeline(data, root, "v1")
                run_recserve("sync", "--data-root", root, "--redis-url", redis.url)
                make_data(data, users=150000, items=2000, per_user=1)
                run_pipeline(data, root, "v2")
                # Slow the sync down (fault injection) so it is certainly mid-way when killed.
                env = dict(os.environ, RECSERVE_SYNC_PAUSE_MS="400")
                sync = subprocess.Popen(
                    [os.environ.get("RECSERVE_BIN", "build/recserve"), "sync", "--data-root",
                     root, "--redis-url", redis.url], env=env, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE, text=True)
                deadline = time.time() + 60
                while time.time() < deadline:
                    if redis.cli("EXISTS", f"{PREFIX}:v:v2:users:0").strip() == "1":
                        break
                    time.sleep(0.02)
                self.assertEqual(redis.cli("GET", f"{PREFIX}:current").strip(), "v1")
                redis.stop()  # SIGKILL
                _, stderr = sync.communicate(timeout=60)
                self.assertEqual(sync.returncode, 1, stderr)
                self.assertIn("previously synced version", stderr)

                redis.start()  # same port and directory: reloads the AOF
                self.assertEqual(redis.cli("GET", f"{PREFIX}:current").strip(), "v1")
                meta, users = redis_user_count(redis, "v1")
                self.assertEqual(users, 200)
                self.assertEqual(meta["snapshot"]["version"], "v1")
                self.assertEqual(redis.cli("EXISTS", f"{PREFIX}:v:v1:popular").strip(), "1")
                self.assertEqual(redis.cli("EXISTS", f"{PREFIX}:v:v2:meta").strip(), "0")
                # Staged keys of the interrupted version expire on their own.
                ttl = int(redis.cli("TTL", f"{PREFIX}:v:v2:users:0"))
                self.assertTrue(0 < ttl <= 86400, ttl)

                # The runbook's recovery: resync; the new version takes over.
                run_recserve("sync", "--data-root", root, "--redis-url", redis.url)
                self.assertEqual(redis.cli("GET", f"{PREFIX}:current").strip(), "v2")
                _, users = redis_user_count(redis, "v2")
                self.assertEqual(users, 150000)
            finally:
                redis.close()


class SqliteSwitchTest(unittest.TestCase):
    def test_readers_see_whole_snapshots_during_publishes(self):
        with temp_dir() as root:
            small, big = os.path.join(root, "small"), os.path.join(root, "big")
            make_data(small, users=50)
            make_data(big, users=20000, per_user=1)
            run_pipeline(small, root, "s0")
            db_path = os.path.join(root, "feature_store.db")
            stop = threading.Event()
            seen, errors = set(), []

            def reader():
                db = sqlite3.connect(db_path, isolation_level=None, timeout=30)
                while not stop.is_set():
                    db.execute("BEGIN")
                    sid, version, meta = db.execute(
                        "SELECT s.id, s.version, s.metadata FROM current_snapshot c "
                        "JOIN snapshots s ON s.id = c.snapshot_id").fetchone()
                    rows = db.execute("SELECT COUNT(*) FROM user_features WHERE snapshot_id=?",
                                      (sid,)).fetchone()[0]
                    db.execute("COMMIT")
                    expected = json.loads(meta)["user_count"]
                    seen.add(version)
                    if rows != expected:
                        errors.append((version, rows, expected))
                db.close()

            thread = threading.Thread(target=reader)
            thread.start()
            try:
                for i, data in enumerate([big, small, big]):
                    run_pipeline(data, root, f"s{i + 1}")
            finally:
                stop.set()
                thread.join(timeout=60)
            self.assertEqual(errors, [])
            self.assertIn("s3", seen)
            db = sqlite3.connect(db_path)
            # The current and the previous snapshot are kept; older ones are gone.
            self.assertEqual([r[0] for r in db.execute("SELECT version FROM snapshots ORDER BY id")],
                             ["s2", "s3"])
            db.close()


if __name__ == "__main__":
    unittest.main()
