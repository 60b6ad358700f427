"""The feedback loop: events logged in the fleet's shared Redis stream log (src/store/logged_event.h)
are exported by `recserve events-export` and trained on by `recserve pipeline --events`, both
driven by the real scripts/run_pipeline.sh against a private redis-server.

The data: two taste groups (users a*/b* on items A*/B*). Several a-users give `new-item-1`, an
item no batch row names, through the log only; after one run of the script the new bundle knows
the item and `recserve serve` recommends it to an a-user who has not seen it. Also: a second
export without new events exports nothing, the checkpoint only moves forward, a malformed entry
is quarantined and counted, and a re-export after a lost checkpoint trains each event once."""
import csv
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import recserve_testing as rt

NEW_ITEM = "new-item-1"
TARGET = "a0"  # an a-user who has seen every A item and not NEW_ITEM
GIVERS = [f"a{u}" for u in range(1, 11)]
SHARDS = 2
SCRIPT = os.path.join(rt.SOURCE_DIR, "scripts", "run_pipeline.sh")


def fnv1a64(text):
    h = 0xcbf29ce484222325
    for byte in text.encode():
        h = ((h ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def stream_key(shard):
    return "recserve:events:{e%d}" % shard


def checkpoint_key(shard):
    return stream_key(shard) + ":exported"


def write_dataset(directory, now):
    """interactions.csv and an items.csv catalogue that does not list `new-item-1`: an item first
    seen through the API is not in a catalogue export yet, and is trained on anyway."""
    os.makedirs(directory, exist_ok=True)
    rows = ["user_id,item_id,timestamp,weight,event_type"]
    t = now - 10 * 86400
    for group, items in (("a", "A"), ("b", "B")):
        for u in range(30):
            for k in range(10):
                # The target has seen all ten; the others a seeded seven of ten.
                if (group, u) != ("a", 0) and (u * 7 + k * 3) % 10 >= 7:
                    continue
                t += 37
                rows.append(f"{group}{u},{items}{k},{t},1,view")
    with open(os.path.join(directory, "interactions.csv"), "w") as f:
        f.write("\n".join(rows) + "\n")
    with open(os.path.join(directory, "items.csv"), "w") as f:
        f.write("item_id,title,tags\n")
        for items in "AB":
            for k in range(10):
                f.write(f"{items}{k},Item {items}{k},group-{items}\n")


class EventFeedbackTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="recserve-feedback-")
        cls.redis = rt.RedisServer().start()
        cls.now = int(time.time())
        cls.data = os.path.join(cls.tmp, "in")
        cls.root = os.path.join(cls.tmp, "data")
        cls.models = os.path.join(cls.tmp, "models")
        write_dataset(cls.data, cls.now)
        cls.redis.cli("SET", "recserve:events:shards", SHARDS)
        types = ["view", "click", "purchase"]
        for n, user in enumerate(GIVERS):
            cls.xadd(user, NEW_ITEM, types[n % 3], f"ev-{n}", cls.now - 600 + n)
        # A malformed entry: its time is not unix seconds (a foreign writer).
        cls.redis.cli("XADD", stream_key(1), "*", "id", "ev-bad", "u", "a5", "i", "A1", "t",
                      "view", "ts", "yesterday", "at", "1", "o", "00000000000000ab")
        cls.script = cls.run_script("--run-id", "fb1", *rt.SMALL_TRAINING)

    @classmethod
    def tearDownClass(cls):
        cls.redis.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def xadd(cls, user, item, event_type, event_id, ts):
        shard = fnv1a64(user) % SHARDS
        return cls.redis.cli("XADD", stream_key(shard), "*", "id", event_id, "u", user, "i",
                             item, "t", event_type, "ts", ts, "at", ts * 1000, "o",
                             "00000000000000ab").strip()

    @classmethod
    def run_script(cls, *args):
        env = dict(os.environ, RECSERVE_BIN=rt.RECSERVE_BIN, STATE_REDIS_URL=cls.redis.url,
                   OMP_WAIT_POLICY="passive")
        env.pop("REDIS_URL", None)
        proc = subprocess.run(
            ["bash", SCRIPT, "--data", cls.data, "--data-root", cls.root, "--models-root",
             cls.models, "--mlruns", os.path.join(cls.tmp, "mlruns"), *args],
            capture_output=True, text=True, env=env, timeout=600)
        if proc.returncode != 0:
            raise AssertionError(f"run_pipeline.sh exited {proc.returncode}\n"
                                 f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
        return proc

    def export(self, out):
        proc = rt.run_recserve("events-export", "--redis", self.redis.url, "--out", out)
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def checkpoints(self):
        return [self.redis.cli("GET", checkpoint_key(s)).strip() for s in range(SHARDS)]

    def newest_ids(self):
        out = []
        for s in range(SHARDS):
            reply = self.redis.cli("XREVRANGE", stream_key(s), "+", "-", "COUNT", "1").split()
            out.append(reply[0] if reply else "")
        return out

    def report(self):
        with open(os.path.join(self.root, "evaluation", "data_quality_report_v2.json")) as f:
            return json.load(f)

    # -- the loop ---------------------------------------------------------------------------

    def test_a_export_summary_and_file(self):
        summary = json.loads([line for line in self.script.stdout.splitlines()
                              if line.startswith("{")][0])
        self.assertEqual(summary["events"], len(GIVERS) + 1)
        self.assertEqual(summary["malformed"], 1)
        self.assertEqual([s["shard"] for s in summary["shards"]], list(range(SHARDS)))
        self.assertEqual(sum(s["events"] for s in summary["shards"]), len(GIVERS) + 1)
        self.assertEqual(summary["malformed_samples"][0]["shard"], 1)
        self.assertIn("ts", summary["malformed_samples"][0]["error"])
        path = summary["file"]
        self.assertEqual(os.path.dirname(path), os.path.join(self.root, "events"))
        self.assertRegex(os.path.basename(path), r"^events-\d{8}T\d{6}Z(-\d+)?\.csv$")
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(len(rows), len(GIVERS) + 1)
        by_id = {r["event_id"]: r for r in rows}
        self.assertEqual(by_id["ev-0"]["item_id"], NEW_ITEM)
        self.assertEqual((by_id["ev-0"]["weight"], by_id["ev-1"]["weight"],
                          by_id["ev-2"]["weight"]), ("1", "2", "5"))
        self.assertEqual(by_id["ev-0"]["decode_error"], "")
        self.assertIn("ts: not an integer", by_id["ev-bad"]["decode_error"])
        # The checkpoints moved to each stream's newest entry, after the file was written.
        self.assertEqual(self.checkpoints(), self.newest_ids())

    def test_b_new_bundle_knows_the_item_and_serve_recommends_it(self):
        with open(os.path.join(self.data, "interactions.csv")) as f:
            self.assertNotIn(NEW_ITEM, f.read())
        self.assertIn("api events: 1 files, 11 rows read, 10 accepted, 1 rejected",
                      self.script.stdout)
        with open(os.path.join(self.models, "fb1", "model_set.bin"), "rb") as f:
            self.assertIn(NEW_ITEM.encode(), f.read())
        env = {"MODEL_DIR": self.models,
               "FEATURE_STORE_PATH": os.path.join(self.root, "feature_store.db"),
               "HTTP_THREADS": "1"}
        with rt.Service(env=env) as svc:
            status, _ = svc.get_json(f"/similar/{NEW_ITEM}?k=3")
            self.assertEqual(status, 200)
            status, body = svc.get_json(f"/recommendations/{TARGET}?k=5")
            self.assertEqual(status, 200, body)
            self.assertEqual(body["source"], "personalized")
            self.assertEqual(body["model_version"], "fb1")
            items = [i["item_id"] for i in body["items"]]
            self.assertIn(NEW_ITEM, items)
            # The givers have seen it: it is filtered from their answers.
            status, body = svc.get_json(f"/recommendations/{GIVERS[0]}?k=5")
            self.assertEqual(status, 200, body)
            self.assertNotIn(NEW_ITEM, [i["item_id"] for i in body["items"]])

    def test_c_malformed_entry_is_quarantined_and_counted(self):
        events = self.report()["tables"]["api_events"]
        self.assertEqual(events["input_rows"], len(GIVERS) + 1)
        self.assertEqual(events["row_count"], len(GIVERS))
        self.assertEqual(events["rejected_rows"], 1)
        self.assertEqual(events["anomalies"]["malformed_event"], 1)
        # Not in items.csv, but from the API: a new item, not an unknown_item reject.
        self.assertEqual(events["new_items"], 1)
        self.assertEqual(events["anomalies"]["unknown_item"], 0)
        self.assertEqual(self.report()["tables"]["interactions"]["rejected_rows"], 0)
        roles = [f["role"] for f in self.report()["input_files"]]
        self.assertEqual(roles, ["interactions", "items", "api_events"])
        with open(os.path.join(self.root, "quarantine", "fb1", "rejected.csv"), newline="") as f:
            rejected = list(csv.DictReader(f))
        self.assertEqual(len(rejected), 1)
        self.assertEqual(rejected[0]["reason"], "malformed_event")
        self.assertTrue(rejected[0]["file"].startswith("events-"))
        self.assertIn("ev-bad", rejected[0]["line"])

    # -- the export's bookkeeping (after the full run) ----------------------------------------

    def test_d_second_export_exports_nothing_and_checkpoint_moves_only_forward(self):
        before = self.checkpoints()
        out = os.path.join(self.tmp, "again.csv")
        summary = self.export(out)
        self.assertEqual(summary["events"], 0)
        self.assertFalse(any(s["checkpoint_advanced"] for s in summary["shards"]))
        with open(out) as f:
            self.assertEqual(f.read(), "user_id,item_id,timestamp,weight,event_type,event_id,"
                                       "decode_error\n")
        self.assertEqual(self.checkpoints(), before)
        # A new event moves its shard's checkpoint forward, the other shard's stays.
        new_id = self.xadd("b3", "B3", "click", "ev-late", self.now)
        shard = fnv1a64("b3") % SHARDS
        summary = self.export(os.path.join(self.tmp, "late.csv"))
        self.assertEqual(summary["events"], 1)
        self.assertEqual(summary["shards"][shard]["to"], new_id)
        after = self.checkpoints()
        self.assertEqual(after[shard], new_id)
        self.assertEqual(after[1 - shard], before[1 - shard])
        # A checkpoint beyond the newest entry (another exporter already past it) exports
        # nothing and stays; the script's compare-and-set itself is tested in
        # tests/unit/store/event_log_export_test.cpp.
        ahead = "99999999999999-0"
        self.redis.cli("SET", checkpoint_key(shard), ahead)
        summary = self.export(os.path.join(self.tmp, "ahead.csv"))
        self.assertEqual(summary["shards"][shard]["events"], 0)
        self.assertEqual(self.checkpoints()[shard], ahead)
        self.redis.cli("SET", checkpoint_key(shard), new_id)

    def test_e_reexport_after_lost_checkpoint_trains_each_event_once(self):
        # A crash after the file was written but before the checkpoint: the next export repeats
        # the events; the pipeline keeps one row per event id.
        events_dir = os.path.join(self.root, "events")
        saved = self.checkpoints()
        for s in range(SHARDS):
            self.redis.cli("DEL", checkpoint_key(s))
        try:
            summary = self.export(os.path.join(events_dir, "events-zz-reexport.csv"))
            self.assertGreaterEqual(summary["events"], len(GIVERS) + 1)
            proc = rt.run_recserve("pipeline", "--skip-training", "--data", self.data,
                                   "--data-root", os.path.join(self.tmp, "replay"),
                                   "--events", events_dir, "--run-id", "replay1")
            with open(os.path.join(self.tmp, "replay", "evaluation",
                                   "data_quality_report_v2.json")) as f:
                events = json.load(f)["tables"]["api_events"]
            # Every event accepted once (the re-export holds all of them, the first export the
            # givers' ones again); each repeat rejected as a duplicate of its event id.
            self.assertEqual(events["row_count"], summary["events"] - summary["malformed"],
                             proc.stdout)
            self.assertEqual(events["anomalies"]["duplicate"], len(GIVERS))
            self.assertEqual(events["anomalies"]["malformed_event"], 2)
        finally:
            os.remove(os.path.join(events_dir, "events-zz-reexport.csv"))
            for s, value in enumerate(saved):
                if value:
                    self.redis.cli("SET", checkpoint_key(s), value)


if __name__ == "__main__":
    unittest.main()
