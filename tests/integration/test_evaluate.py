"""`recserve evaluate` on MovieLens-100K under the EVALUATION.md protocol (real binary, real files).

Checks the popularity baseline and the RP3beta channel against the independent reference to 1e-4
(split, filtering and metrics), the two-stage final list against the bar (NDCG@10 >= 0.1455, above every channel alone),
the JSON shape, and clear errors on bad input. Runs the `--fast` grid (smaller iALS grid only) to
keep the suite short; the bar is asserted in that configuration.
"""
import json
import os
import tempfile
import unittest

from recserve_testing import ML100K, run_recserve

POPULARITY_REFERENCE = {"recall@10": 0.0585, "recall@20": 0.1065, "ndcg@10": 0.0768,
                        "ndcg@20": 0.0899, "hitrate@10": 0.3694, "coverage@10": 0.0386}
# EVALUATION.md's RP3beta row (k = 100, chosen α 0.5, β 0.5).
RP3BETA_REFERENCE = {"recall@10": 0.1158, "recall@20": 0.1992, "ndcg@10": 0.1281,
                     "ndcg@20": 0.1507, "hitrate@10": 0.5297, "coverage@10": 0.1307}
METRIC_KEYS = ["recall@10", "recall@20", "ndcg@10", "ndcg@20", "hitrate@10", "coverage@10"]
ENV = {"OMP_WAIT_POLICY": "passive"}


class EvaluateMl100kTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="recserve-evaluate-")
        cls.output = os.path.join(cls.tmp.name, "eval.json")
        cls.proc = run_recserve("evaluate", "--data", ML100K, "--split", "user_temporal",
                                "--min-weight", "4", "--fast", "--threads", "2",
                                "--output", cls.output, env=ENV, timeout=900)
        with open(cls.output) as f:
            cls.result = json.load(f)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_dataset_matches_protocol(self):
        d = self.result["dataset"]
        self.assertEqual(d["split"], "user_temporal")
        self.assertEqual(d["min_weight"], 4)
        self.assertEqual(d["train_pairs"], 44296)
        self.assertEqual(d["train_users"], 942)
        self.assertEqual(d["catalogue"], 1347)
        self.assertEqual(d["test_users"], 942)
        self.assertEqual(d["test_pairs"], 10931)
        self.assertEqual(len(d["interactions_sha256"]), 64)

    def test_popularity_matches_reference(self):
        for key, expected in POPULARITY_REFERENCE.items():
            self.assertAlmostEqual(self.result["popularity"][key], expected, delta=1e-4, msg=key)

    def test_rp3beta_matches_reference(self):
        # Tuned on validation over a grid that contains the reference's choice.
        self.assertEqual(self.result["params"]["rp3beta_alpha"], "0.5")
        self.assertEqual(self.result["params"]["rp3beta_beta"], "0.5")
        for key, expected in RP3BETA_REFERENCE.items():
            self.assertAlmostEqual(self.result["channels"]["rp3beta"][key], expected, delta=1e-4,
                                   msg=key)

    def test_final_meets_bar_and_beats_every_channel(self):
        final = self.result["final"]["ndcg@10"]
        self.assertGreaterEqual(final, 0.1455)
        self.assertGreaterEqual(len(self.result["channels"]), 4)
        for name, metrics in self.result["channels"].items():
            self.assertGreater(final, metrics["ndcg@10"], msg=name)

    def test_json_shape(self):
        for section in [self.result["popularity"], self.result["final"],
                        *self.result["channels"].values()]:
            self.assertEqual(sorted(section), sorted(METRIC_KEYS))
            for value in section.values():
                self.assertGreaterEqual(value, 0.0)
                self.assertLessEqual(value, 1.0)
        for name in ["item_knn", "recent_knn", "ials", "rp3beta"]:
            self.assertIn(name, self.result["channels"])
        self.assertIn("params", self.result)
        self.assertEqual(sorted(self.result["seconds"]), ["evaluate", "train"])
        self.assertGreater(self.result["ann"]["recall@20_vs_exact"], 0.9)

    def test_table_on_stdout(self):
        self.assertIn("popularity", self.proc.stdout)
        self.assertIn("final", self.proc.stdout)
        self.assertIn("ndcg@10", self.proc.stdout)


class EvaluateBadInputTest(unittest.TestCase):
    def test_unknown_split_is_a_usage_error(self):
        proc = run_recserve("evaluate", "--data", ML100K, "--split", "sideways", check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("unknown split", proc.stderr)

    def test_missing_directory(self):
        with tempfile.TemporaryDirectory() as d:
            proc = run_recserve("evaluate", "--data", os.path.join(d, "none"), check=False)
            self.assertEqual(proc.returncode, 1)
            self.assertIn("interactions.csv", proc.stderr)

    def test_malformed_row_names_the_line(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "interactions.csv"), "w") as f:
                f.write("user_id,item_id,timestamp,weight\n1,2,100,5\n1,3,notatime,5\n")
            proc = run_recserve("evaluate", "--data", d, check=False)
            self.assertEqual(proc.returncode, 1)
            self.assertIn("interactions.csv:3", proc.stderr)

    def test_time_split_without_timestamps_points_to_random_hash(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "interactions.csv"), "w") as f:
                f.write("user_id,item_id,timestamp,weight\n1,2,,5\n1,3,,5\n")
            proc = run_recserve("evaluate", "--data", d, "--split", "temporal", check=False)
            self.assertEqual(proc.returncode, 1)
            self.assertIn("random_hash", proc.stderr)


if __name__ == "__main__":
    unittest.main()
