"""`recserve pipeline` end to end on real files: MovieLens-100K, hand-made bad rows, the
rejection threshold, corrupt inputs, and scripts/run_pipeline.sh."""
import csv
import gzip
import json
import os
import shutil
import sqlite3
import subprocess
import time
import unittest

from recserve_testing import ML100K, RECSERVE_BIN, SOURCE_DIR, run_recserve, temp_dir


def write(path, text, mode="w"):
    with open(path, mode) as f:
        f.write(text)


def published_version(root):
    db = sqlite3.connect(os.path.join(root, "feature_store.db"))
    try:
        row = db.execute("SELECT s.version FROM current_snapshot c JOIN snapshots s "
                         "ON s.id = c.snapshot_id").fetchone()
        return row[0] if row else None
    finally:
        db.close()


def file_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def small_dataset(directory, rows=200, with_items=True):
    """A clean data set: `rows` interactions over 20 users and 10 items, recent timestamps."""
    os.makedirs(directory, exist_ok=True)
    now = int(time.time())
    lines = ["user_id,item_id,timestamp,weight,event_type"]
    for i in range(rows):
        lines.append(f"u{i % 20},i{(i * 7) % 10},{now - 3600 * 30 + i * 60},1,"
                     f"{'click' if i % 3 else 'view'}")
    write(os.path.join(directory, "interactions.csv"), "\n".join(lines) + "\n")
    if with_items:
        items = ["item_id,title,tags,created_at"]
        items += [f"i{k},Item {k},tag{k % 3}|all,2026-01-0{1 + k % 9}T00:00:00Z" for k in range(10)]
        write(os.path.join(directory, "items.csv"), "\n".join(items) + "\n")
    return now


class MovieLensTest(unittest.TestCase):
    def test_ml100k_ingest_report_features(self):
        with temp_dir() as root:
            proc = run_recserve("pipeline", "--skip-training", "--data", ML100K, "--data-root", root, "--run-id", "ml1")
            self.assertIn("100000 rows read, 100000 accepted, 0 rejected; 943 users, 1682 items",
                          proc.stdout)
            with open(os.path.join(root, "evaluation", "data_quality_report_v2.json")) as f:
                report = json.load(f)
            self.assertEqual(report["schema_version"], 2)
            self.assertEqual(report["run_id"], "ml1")
            inter = report["tables"]["interactions"]
            self.assertEqual(inter["row_count"], 100000)
            self.assertEqual(inter["coverage"]["unique_users"], 943)
            self.assertEqual(inter["coverage"]["unique_items"], 1682)
            self.assertEqual(inter["coverage"]["interactions_per_user"]["min"], 20)
            self.assertEqual(inter["duplicate_ratio"], 0)
            self.assertEqual(inter["freshness"]["newest_event"], "1998-04-22T23:10:38Z")
            self.assertGreater(inter["coverage"]["item_popularity_gini"], 0.5)
            self.assertLess(inter["coverage"]["item_popularity_gini"], 0.8)
            self.assertEqual(report["tables"]["items"]["row_count"], 1682)
            self.assertEqual(report["tables"]["items"]["columns"], ["item_id", "title", "tags"])
            self.assertEqual(len(report["input_files"]), 2)
            self.assertEqual(report["input_files"][0]["rows"], 100000)
            self.assertRegex(report["input_files"][0]["sha256"], r"^[0-9a-f]{64}$")
            # Data from 1998 is stale: freshness fails, the rest passes; drift skipped on run 1.
            status = {c["name"]: c["status"] for c in report["checks"]}
            self.assertEqual(status["freshness_hours"], "fail")
            self.assertEqual(status["rejected_ratio"], "pass")
            self.assertEqual(status["psi_item_popularity"], "skipped")
            self.assertTrue(0 < report["overall_quality_score"] < 100)
            self.assertEqual(report["overall_status"], "fail")
            self.assertTrue(any("freshness_hours" in a for a in report["alerts"]))
            for c in report["checks"]:
                self.assertEqual(set(c) >= {"name", "value", "threshold", "weight", "status"}, True)

            prom = file_bytes(os.path.join(root, "evaluation", "data_quality_metrics.prom")).decode()
            self.assertIn(f"data_quality_score {report['overall_quality_score']:g}", prom)
            self.assertIn('data_quality_check_status{check="freshness_hours"} 2', prom)
            self.assertIn("data_pipeline_last_success_timestamp_seconds ", prom)
            if shutil.which("promtool"):
                check = subprocess.run(["promtool", "check", "metrics"], input=prom, text=True,
                                       capture_output=True)
                self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

            db = sqlite3.connect(os.path.join(root, "feature_store.db"))
            self.assertEqual(db.execute("PRAGMA journal_mode").fetchone()[0], "wal")
            user = json.loads(db.execute(
                "SELECT data FROM user_features WHERE user_id='196'").fetchone()[0])
            # User 196 rated 39 movies in ML-100K; recent history is newest first.
            self.assertEqual(user["n"], 39)
            self.assertEqual(len(user["recent"]), 20)
            times = [t for _, t in user["recent"]]
            self.assertEqual(times, sorted(times, reverse=True))
            item = json.loads(db.execute(
                "SELECT data FROM item_features WHERE item_id='50'").fetchone()[0])
            self.assertEqual(item["title"], "Star Wars (1977)")
            self.assertEqual(item["pop"], 583)  # the most rated movie in ML-100K
            popular = json.loads(db.execute(
                "SELECT data FROM item_lists WHERE name='popular'").fetchone()[0])
            self.assertEqual(popular[0], ["50", 583])
            db.close()

            # Second run over the same data: drift measured and ~0.
            run_recserve("pipeline", "--skip-training", "--data", ML100K, "--data-root", root, "--run-id", "ml2")
            with open(os.path.join(root, "evaluation", "data_quality_report_v2.json")) as f:
                report2 = json.load(f)
            self.assertEqual(report2["drift"]["previous_run_id"], "ml1")
            self.assertAlmostEqual(report2["drift"]["psi_item_popularity"], 0.0, places=9)
            self.assertEqual(published_version(root), "ml2")


class ValidationTest(unittest.TestCase):
    def test_every_kind_of_bad_row_is_quarantined_with_its_reason(self):
        with temp_dir() as root:
            data = os.path.join(root, "in")
            now = small_dataset(data, rows=400)
            bad = [
                ("u1,i1,123", "bad_field_count"),
                ('u1,"i1,123,1,view', "bad_field_count"),
                (",i1,1700000000,1,view", "empty_id"),
                ("u1,i1,1700000000,abc,view", "unparsable_number"),
                ("u1,i1,yesterday,1,view", "unparsable_timestamp"),
                ("u1,i1,2026-13-01T00:00:00Z,1,view", "unparsable_timestamp"),
                ("u1,i1,1700000000,-2,view", "negative_weight"),
                (f"u1,i1,{now + 86400 * 30},1,view", "future_timestamp"),
                ("u1,nosuchitem,1700000000,1,view", "unknown_item"),
                ("u1,i1,1700000000,1,view", None),  # accepted, then duplicated below
                ("u1,i1,1700000000,1,view", "duplicate"),
                ("u2,i2,2023-11-14T22:13:20Z,,", None),  # ISO time, default weight
            ]
            with open(os.path.join(data, "interactions.csv"), "a") as f:
                for line, _ in bad:
                    f.write(line + "\n")
            proc = run_recserve("pipeline", "--skip-training", "--data", data, "--data-root", root, "--run-id", "v1")
            self.assertIn("412 rows read, 402 accepted, 10 rejected", proc.stdout)
            with open(os.path.join(root, "quarantine", "v1", "rejected.csv")) as f:
                rows = list(csv.DictReader(f))
            expected = [(401 + 1 + i, reason) for i, (_, reason) in enumerate(bad) if reason]
            self.assertEqual([(int(r["line_number"]), r["reason"]) for r in rows], expected)
            self.assertEqual(rows[0]["line"], "u1,i1,123")
            self.assertEqual(rows[1]["line"], 'u1,"i1,123,1,view')
            with open(os.path.join(root, "evaluation", "data_quality_report_v2.json")) as f:
                report = json.load(f)
            anomalies = report["tables"]["interactions"]["anomalies"]
            self.assertEqual(anomalies["unparsable_timestamp"], 2)
            self.assertEqual(anomalies["duplicate"], 1)
            self.assertEqual(anomalies["unknown_item"], 1)
            self.assertAlmostEqual(report["tables"]["interactions"]["rejected_ratio"], 10 / 412)

    def test_rejection_threshold_fails_and_keeps_previous_snapshot(self):
        with temp_dir() as root:
            good = os.path.join(root, "good")
            small_dataset(good)
            run_recserve("pipeline", "--skip-training", "--data", good, "--data-root", root, "--run-id", "good1")
            report_path = os.path.join(root, "evaluation", "data_quality_report_v2.json")
            prom_path = os.path.join(root, "evaluation", "data_quality_metrics.prom")
            before = (file_bytes(report_path), file_bytes(prom_path))

            bad = os.path.join(root, "bad")
            small_dataset(bad, rows=100)
            with open(os.path.join(bad, "interactions.csv"), "a") as f:
                for i in range(10):  # 10 of 110 rows = 9% > 5%
                    f.write(f"u{i},i1,not-a-time,1,view\n")
            proc = run_recserve("pipeline", "--skip-training", "--data", bad, "--data-root", root, "--run-id", "bad1",
                                check=False)
            self.assertEqual(proc.returncode, 1)
            self.assertIn("10 of 110 interaction rows rejected", proc.stderr)
            self.assertIn("unchanged", proc.stderr)
            self.assertEqual(published_version(root), "good1")
            self.assertEqual((file_bytes(report_path), file_bytes(prom_path)), before)
            self.assertTrue(os.path.exists(os.path.join(root, "quarantine", "bad1", "rejected.csv")))
            # A looser threshold lets the same data through.
            run_recserve("pipeline", "--skip-training", "--data", bad, "--data-root", root, "--run-id", "bad2",
                         "--max-reject-ratio", "0.1")
            self.assertEqual(published_version(root), "bad2")

    def test_gzip_input_and_iso_timestamps(self):
        with temp_dir() as root:
            data = os.path.join(root, "in")
            os.makedirs(data)
            with gzip.open(os.path.join(data, "interactions.csv.gz"), "wt") as f:
                f.write("user_id,item_id,timestamp,weight\n")
                f.write("a,x,2024-01-01T00:00:00Z,2\nb,x,2024-01-01T01:00:00+01:00,1\n"
                        "b,y,1704067200,\n")
            proc = run_recserve("pipeline", "--skip-training", "--data", data, "--data-root", root, "--run-id", "gz")
            self.assertIn("3 rows read, 3 accepted, 0 rejected; 2 users, 2 items", proc.stdout)
            db = sqlite3.connect(os.path.join(root, "feature_store.db"))
            user = json.loads(db.execute(
                "SELECT data FROM user_features WHERE user_id='b'").fetchone()[0])
            self.assertEqual(user["first"], 1704067200)
            self.assertEqual(user["last"], 1704067200)
            self.assertEqual(user["events"], {"unspecified": 2})
            db.close()


class CorruptInputTest(unittest.TestCase):
    def assert_fails_cleanly(self, make_input, expect):
        with temp_dir() as root:
            good = os.path.join(root, "good")
            small_dataset(good)
            run_recserve("pipeline", "--skip-training", "--data", good, "--data-root", root, "--run-id", "ok1")
            report = file_bytes(os.path.join(root, "evaluation", "data_quality_report_v2.json"))
            bad = os.path.join(root, "bad")
            os.makedirs(bad)
            make_input(bad)
            proc = run_recserve("pipeline", "--skip-training", "--data", bad, "--data-root", root, "--run-id", "bad",
                                check=False)
            self.assertEqual(proc.returncode, 1, proc.stderr)
            self.assertIn(expect, proc.stderr)
            self.assertIn("nothing was published", proc.stderr)
            self.assertEqual(published_version(root), "ok1")
            self.assertEqual(
                file_bytes(os.path.join(root, "evaluation", "data_quality_report_v2.json")), report)

    def test_truncated_gzip(self):
        def make(d):
            payload = gzip.compress(("user_id,item_id,timestamp,weight\n" +
                                     "".join(f"u{i},i{i},{1700000000 + i},1\n"
                                             for i in range(20000))).encode())
            write(os.path.join(d, "interactions.csv.gz"), payload[: len(payload) // 2], "wb")
        self.assert_fails_cleanly(make, "data_loss")

    def test_binary_garbage(self):
        self.assert_fails_cleanly(
            lambda d: write(os.path.join(d, "interactions.csv"), os.urandom(4096), "wb"),
            "wrong header")

    def test_ten_megabyte_line(self):
        def make(d):
            with open(os.path.join(d, "interactions.csv"), "w") as f:
                f.write("user_id,item_id,timestamp,weight\nu1,i1,1700000000,1\n")
                f.write("u2," + "x" * (10 << 20) + ",1700000000,1\n")
        self.assert_fails_cleanly(make, "line 3")

    def test_wrong_header(self):
        self.assert_fails_cleanly(
            lambda d: write(os.path.join(d, "interactions.csv"), "user,item,ts\nu,i,1\n"),
            "wrong header")

    def test_empty_file(self):
        self.assert_fails_cleanly(lambda d: write(os.path.join(d, "interactions.csv"), ""),
                                  "is empty")

    def test_header_only_file_publishes_nothing(self):
        with temp_dir() as root:
            data = os.path.join(root, "in")
            os.makedirs(data)
            write(os.path.join(data, "interactions.csv"), "user_id,item_id,timestamp,weight\n")
            proc = run_recserve("pipeline", "--skip-training", "--data", data, "--data-root", root, check=False)
            self.assertEqual(proc.returncode, 1)
            self.assertIn("no interaction row was accepted", proc.stderr)
            self.assertIsNone(published_version(root))

    def test_missing_directory_is_a_clear_error(self):
        with temp_dir() as root:
            proc = run_recserve("pipeline", "--skip-training", "--data", os.path.join(root, "nope"), "--data-root",
                                root, check=False)
            self.assertEqual(proc.returncode, 1)
            self.assertIn("no interactions.csv", proc.stderr)


class RunPipelineScriptTest(unittest.TestCase):
    SCRIPT = os.path.join(SOURCE_DIR, "scripts", "run_pipeline.sh")

    def run_script(self, *args, env=None):
        full = dict(os.environ, RECSERVE_BIN=RECSERVE_BIN, **(env or {}))
        return subprocess.run(["bash", self.SCRIPT, *args], capture_output=True, text=True,
                              env=full, timeout=300)

    def test_dry_run_prints_steps_and_runs_nothing(self):
        with temp_dir() as root:
            proc = self.run_script("--dry-run", "--data", ML100K, "--data-root", root)
            self.assertEqual(proc.returncode, 0)
            self.assertIn("pipeline --data " + ML100K, proc.stdout)
            self.assertFalse(os.path.exists(os.path.join(root, "feature_store.db")))
            proc = self.run_script("--dry-run", "--sync-only")
            self.assertEqual(proc.returncode, 0)
            self.assertIn(" sync", proc.stdout)

    def test_full_run_through_the_script(self):
        with temp_dir() as root:
            proc = self.run_script("--data", ML100K, "--data-root", root, "--run-id", "s1",
                                   "--skip-training")
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertEqual(published_version(root), "s1")

    def test_sync_only_without_redis_is_a_usage_error(self):
        with temp_dir() as root:
            env = {k: v for k, v in os.environ.items() if k != "FEATURE_REDIS_URL"}
            proc = subprocess.run(["bash", self.SCRIPT, "--sync-only", "--data-root", root],
                                  capture_output=True, text=True, timeout=60,
                                  env=dict(env, RECSERVE_BIN=RECSERVE_BIN))
            self.assertEqual(proc.returncode, 2)
            self.assertIn("FEATURE_REDIS_URL", proc.stderr)


if __name__ == "__main__":
    unittest.main()
