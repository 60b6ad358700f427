"""`recserve datagen`: deterministic, well-formed, with the asked share of bad rows of every kind,
and with collaborative signal (item-kNN beats popularity on a held-out interaction per user).

Bad rows are recognised here independently of the generator's own counts, from the file alone.
"""
import collections
import csv
import gzip
import hashlib
import os
import re
import shutil
import tempfile
import time
import unittest

from recserve_testing import run_recserve

SMALL = ["--users", "1000", "--items", "500", "--interactions", "20000", "--seed", "7"]
INTERACTIONS_HEADER = ["user_id", "item_id", "timestamp", "weight", "event_type"]
ITEMS_HEADER = ["item_id", "title", "tags", "created_at"]
EVENT_TYPES = {"view", "click", "purchase", "rating"}


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def read_items(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def classify(fields, item_ids, seen_lines, line, now):
    """The kind of bad row `fields` is, or None for a good row."""
    if len(fields) != 5 or not fields[0] or not fields[1] or not fields[2]:
        return "missing_fields"
    if not re.fullmatch(r"-?\d+", fields[2]):
        return "non_numeric_timestamp"
    try:
        weight = float(fields[3])
    except ValueError:
        return "bad_weight"
    if weight < 0:
        return "negative_weight"
    if fields[1] not in item_ids:
        return "unknown_item"
    if int(fields[2]) > now:
        return "future_timestamp"
    if line in seen_lines:
        return "duplicate_row"
    return None


class DatagenTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="recserve-datagen-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def generate(self, name, *args):
        out = os.path.join(self.dir, name)
        proc = run_recserve("datagen", "--output", out, *args, timeout=300)
        return out, proc

    def test_same_flags_give_identical_files_and_other_seeds_differ(self):
        a, _ = self.generate("a", *SMALL)
        b, _ = self.generate("b", *SMALL)
        c, _ = self.generate("c", *SMALL[:-1], "8")
        for name in ["interactions.csv", "items.csv"]:
            self.assertEqual(sha256(os.path.join(a, name)), sha256(os.path.join(b, name)), name)
        self.assertNotEqual(sha256(os.path.join(a, "interactions.csv")),
                            sha256(os.path.join(c, "interactions.csv")))

    def test_clean_files_are_well_formed(self):
        out, _ = self.generate("clean", *SMALL)
        header, items = read_items(os.path.join(out, "items.csv"))
        self.assertEqual(header, ITEMS_HEADER)
        self.assertEqual(len(items), 500)
        item_created = {}
        for row in items:
            self.assertEqual(len(row), 4, row)
            self.assertRegex(row[0], r"^i\d+$")
            tags = row[2].split("|")
            self.assertTrue(1 <= len(tags) <= 3, row)
            item_created[row[0]] = int(row[3])
        start, end = 1735689600, 1735689600 + 90 * 86400
        self.assertTrue(any(t >= start for t in item_created.values()), "no new items")
        with open(os.path.join(out, "interactions.csv"), newline="") as f:
            rows = list(csv.reader(f))
        self.assertEqual(rows[0], INTERACTIONS_HEADER)
        self.assertEqual(len(rows) - 1, 20000)
        first_seen = {}
        for row in rows[1:]:
            self.assertEqual(len(row), 5, row)
            self.assertRegex(row[0], r"^u\d+$")
            self.assertIn(row[1], item_created)
            ts = int(row[2])
            self.assertTrue(start <= ts < end, row)
            self.assertGreaterEqual(ts, item_created[row[1]], "interaction before item existed")
            self.assertIn(row[4], EVENT_TYPES)
            self.assertGreater(float(row[3]), 0)
            first_seen[row[0]] = min(ts, first_seen.get(row[0], ts))
        late = start + 60 * 86400
        self.assertTrue(any(t >= late for t in first_seen.values()), "no users appear late")
        self.assertEqual(set(r[4] for r in rows[1:]), EVENT_TYPES)

    def test_bad_rows_share_and_kinds(self):
        out, proc = self.generate("bad", *SMALL, "--bad-rows", "0.02")
        _, items = read_items(os.path.join(out, "items.csv"))
        item_ids = {row[0] for row in items}
        now = int(time.time())
        kinds = collections.Counter()
        seen = set()
        total = 0
        with open(os.path.join(out, "interactions.csv"), newline="") as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[0].split(","), INTERACTIONS_HEADER)
        for line in lines[1:]:
            total += 1
            fields = next(csv.reader([line]))
            kind = classify(fields, item_ids, seen, line, now)
            if kind:
                kinds[kind] += 1
            seen.add(line)
        self.assertEqual(total, 20000)
        share = sum(kinds.values()) / total
        self.assertTrue(0.015 <= share <= 0.025, f"bad share {share:.4f}: {dict(kinds)}")
        for kind in ["missing_fields", "non_numeric_timestamp", "negative_weight", "unknown_item",
                     "duplicate_row", "future_timestamp"]:
            self.assertGreater(kinds[kind], 0, f"{kind} missing: {dict(kinds)}")
            # The generator's own summary agrees with what an independent reader finds.
            self.assertIn(f"bad rows {kind}: {kinds[kind]}\n", proc.stderr)

    def test_item_knn_beats_popularity(self):
        out, _ = self.generate("signal", *SMALL)
        with open(os.path.join(out, "interactions.csv"), newline="") as f:
            rows = list(csv.reader(f))[1:]
        history = collections.defaultdict(list)
        for user, item, ts, _, _ in rows:
            history[user].append((int(ts), item))
        train, held_out = {}, {}
        for user, events in history.items():
            events.sort()
            items = list(dict.fromkeys(item for _, item in events))
            if len(items) >= 3:
                held_out[user] = items[-1]
                train[user] = set(items[:-1])
        self.assertGreater(len(held_out), 200)
        popularity = collections.Counter(i for items in train.values() for i in items)
        co = collections.defaultdict(collections.Counter)
        for items in train.values():
            for a in items:
                for b in items:
                    if a != b:
                        co[a][b] += 1
        k = 10
        pop_hits = knn_hits = 0
        for user, target in held_out.items():
            seen = train[user]
            pop = [i for i, _ in popularity.most_common(k + len(seen)) if i not in seen][:k]
            scores = collections.Counter()
            for a in seen:
                for b, n in co[a].items():
                    if b not in seen:
                        scores[b] += n / (popularity[a] * popularity[b]) ** 0.5
            knn = [i for i, _ in scores.most_common(k)]
            pop_hits += target in pop
            knn_hits += target in knn
        print(f"hit@{k}: item-kNN {knn_hits}/{len(held_out)}, popularity {pop_hits}/{len(held_out)}")
        self.assertGreater(knn_hits, pop_hits)

    def test_gzip_output_holds_the_same_rows(self):
        plain, _ = self.generate("plain", *SMALL)
        packed, _ = self.generate("packed", *SMALL, "--gzip")
        for name in ["interactions.csv", "items.csv"]:
            with open(os.path.join(plain, name), "rb") as f, \
                    gzip.open(os.path.join(packed, name + ".gz"), "rb") as g:
                self.assertEqual(f.read(), g.read())

    def test_iso_start_equals_unix_start(self):
        a, _ = self.generate("iso", *SMALL, "--start", "2024-03-01T12:00:00Z", "--days", "10")
        b, _ = self.generate("unix", *SMALL, "--start", "1709294400", "--days", "10")
        self.assertEqual(sha256(os.path.join(a, "interactions.csv")),
                         sha256(os.path.join(b, "interactions.csv")))

    def test_bad_flags_are_clear_errors_and_write_nothing(self):
        for args, needle in [(["--bad-rows", "1.5"], "--bad-rows"),
                             (["--start", "yesterday"], "--start"),
                             (["--start", "2025-02-30"], "no such date"),
                             (["--users", "0"], "--users"),
                             (["--days", "0"], "--days")]:
            out = os.path.join(self.dir, "rejected")
            proc = run_recserve("datagen", "--output", out, *args, check=False)
            self.assertEqual(proc.returncode, 2, proc.stderr)
            self.assertIn(needle, proc.stderr)
            self.assertFalse(os.path.exists(out))
        proc = run_recserve("datagen", "--users", "10", check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("--output", proc.stderr + proc.stdout)


if __name__ == "__main__":
    unittest.main()
