"""`recserve pipeline` on `recserve datagen` data with bad rows: the quarantine counts by reason
and the report's numbers are checked against an independent Python reading of the same files."""
import collections
import csv
import datetime
import json
import os
import re
import unittest

from recserve_testing import run_recserve, temp_dir

ROWS = 20000
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?)?(Z|[+-]\d{2}:\d{2})?$")


def parse_time(text):
    """Unix seconds, or None for anything the pipeline calls a bad timestamp (docs/DATA_FORMAT.md:
    unix seconds or ISO-8601, UTC unless an offset is given)."""
    if text.isdigit():
        return int(text)
    if not ISO.match(text):
        return None
    try:
        parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return int(parsed.timestamp())


def classify(path, item_ids, now):
    """Python's own verdict for each interaction row, in the pipeline's documented check order
    (field count, empty id, timestamp, weight, future, unknown item, exact duplicate). Returns
    (Counter of reasons, accepted users, accepted items, accepted row count)."""
    reasons = collections.Counter()
    users, items, seen = set(), set(), set()
    accepted = 0
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        for row in reader:
            if len(row) not in (4, 5) or len(row) != len(header):
                reasons["bad_field_count"] += 1
                continue
            user, item, ts_text, weight_text = row[:4]
            event = row[4] if len(row) > 4 else ""
            if not user or not item:
                reasons["empty_id"] += 1
                continue
            ts = parse_time(ts_text)
            if ts is None:
                reasons["unparsable_timestamp"] += 1
                continue
            weight = float(weight_text) if weight_text else 1.0
            if weight < 0:
                reasons["negative_weight"] += 1
                continue
            if ts > now + 300:
                reasons["future_timestamp"] += 1
                continue
            if item not in item_ids:
                reasons["unknown_item"] += 1
                continue
            key = (user, item, ts, weight, event)
            if key in seen:
                reasons["duplicate"] += 1
                continue
            seen.add(key)
            users.add(user)
            items.add(item)
            accepted += 1
    return reasons, users, items, accepted


class DatagenBadRowsTest(unittest.TestCase):
    def test_quarantine_and_report_match_independent_count(self):
        with temp_dir() as work:
            data = os.path.join(work, "in")
            root = os.path.join(work, "out")
            gen = run_recserve("datagen", "--output", data, "--interactions", str(ROWS),
                               "--users", "2000", "--items", "500", "--seed", "11",
                               "--bad-rows", "0.02")
            kinds = {m.group(1): int(m.group(2))
                     for m in re.finditer(r"datagen: bad rows (\w+): (\d+)", gen.stderr)}
            self.assertEqual(set(kinds), {"missing_fields", "non_numeric_timestamp",
                                          "negative_weight", "unknown_item", "duplicate_row",
                                          "future_timestamp"}, gen.stderr)
            self.assertGreater(sum(kinds.values()), 0)

            proc = run_recserve("pipeline", "--skip-training", "--data", data, "--data-root", root,
                                "--run-id", "dg1", "--max-reject-ratio", "0.05")
            with open(os.path.join(root, "evaluation", "data_quality_report_v2.json")) as f:
                report = json.load(f)
            now = int(os.path.getmtime(os.path.join(root, "evaluation",
                                                    "data_quality_report_v2.json")))
            with open(os.path.join(data, "items.csv"), newline="") as f:
                item_ids = {row[0] for row in csv.reader(f)}
            expected, users, items, accepted = classify(
                os.path.join(data, "interactions.csv"), item_ids, now)

            # The independent count agrees with datagen's own per-kind summary...
            self.assertEqual(expected["bad_field_count"] + expected["empty_id"],
                             kinds["missing_fields"])
            self.assertEqual(expected["unparsable_timestamp"], kinds["non_numeric_timestamp"])
            self.assertEqual(expected["negative_weight"], kinds["negative_weight"])
            self.assertEqual(expected["unknown_item"], kinds["unknown_item"])
            self.assertEqual(expected["future_timestamp"], kinds["future_timestamp"])
            # datagen's duplicates copy a good row; a natural repeat would add to them.
            self.assertGreaterEqual(expected["duplicate"], kinds["duplicate_row"])

            # ...and with the pipeline's quarantine file and report.
            with open(os.path.join(root, "quarantine", "dg1", "rejected.csv"), newline="") as f:
                quarantined = collections.Counter(r["reason"] for r in csv.DictReader(f))
            self.assertEqual(dict(quarantined), {k: v for k, v in expected.items() if v})
            inter = report["tables"]["interactions"]
            anomalies = {k: v for k, v in inter["anomalies"].items() if v}
            self.assertEqual(anomalies, {k: v for k, v in expected.items() if v})
            self.assertEqual(inter["input_rows"], ROWS)
            self.assertEqual(inter["rejected_rows"], sum(expected.values()))
            self.assertEqual(inter["row_count"], accepted)
            self.assertEqual(inter["coverage"]["unique_users"], len(users))
            self.assertEqual(inter["coverage"]["unique_items"], len(items))
            self.assertEqual(report["tables"]["items"]["row_count"], len(item_ids) - 1)
            self.assertIn(f"{ROWS} rows read, {accepted} accepted, {ROWS - accepted} rejected; "
                          f"{len(users)} users, ", proc.stdout)


if __name__ == "__main__":
    unittest.main()
