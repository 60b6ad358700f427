"""`recserve pipeline` from data to a served model: training, the immutable bundle under the
models root, its MLflow file-store run, models/current and the registry; staging that run with
scripts/stage_model.py (checksums + smoke test); a failed training changes nothing."""
import hashlib
import json
import os
import subprocess
import sys
import unittest

from recserve_testing import ML100K, RECSERVE_BIN, SOURCE_DIR, run_recserve, temp_dir

# Small but real training settings: the test checks plumbing, not quality (test_evaluate does).
SMALL = ["--factors", "16", "--iterations", "4", "--trees", "40", "--depth", "4", "--threads", "2"]


def load_json(*parts):
    with open(os.path.join(*parts)) as f:
        return json.load(f)


def read_text(*parts):
    with open(os.path.join(*parts)) as f:
        return f.read()


def tree_listing(root):
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            out[os.path.relpath(p, root)] = os.path.getsize(p)
    return out


class PipelineModelsTest(unittest.TestCase):
    def run_pipeline(self, root, run_id, *extra, check=True):
        # A flag given in `extra` replaces the same flag in SMALL.
        small = []
        for i in range(0, len(SMALL), 2):
            if SMALL[i] not in extra:
                small += SMALL[i:i + 2]
        return run_recserve("pipeline", "--data", ML100K, "--data-root", os.path.join(root, "data"),
                            "--models-root", os.path.join(root, "models"),
                            "--mlruns", os.path.join(root, "mlruns"), "--run-id", run_id,
                            *small, *extra, check=check,
                            env={"OMP_WAIT_POLICY": "passive"})

    def test_run_publishes_bundle_mlflow_run_and_current(self):
        with temp_dir() as root:
            proc = self.run_pipeline(root, "m1")
            models = os.path.join(root, "models")
            self.assertEqual(os.readlink(os.path.join(models, "current")), "m1")

            manifest = load_json(models, "m1", "manifest.json")
            self.assertEqual(manifest["model_version"] if "model_version" in manifest
                             else manifest["metadata"]["model_version"], "m1")
            text = json.dumps(manifest)
            self.assertIn("ranker.json", text)
            # The training-data fingerprint is the input's real sha256.
            with open(os.path.join(ML100K, "interactions.csv"), "rb") as f:
                sha = hashlib.sha256(f.read())
            self.assertIn(sha.hexdigest(), text)

            # The evaluation the run ran: held-out validation users, the baseline, every channel
            # and the final list, each with the protocol's six metrics, in [0, 1].
            metrics = (manifest.get("offline_metrics")
                       or manifest["metadata"]["offline_metrics"])
            self.assertGreater(metrics["holdout_users"], 0)
            for model in ("popularity", "item_knn", "ials", "final"):
                for metric in ("recall10", "recall20", "ndcg10", "ndcg20", "hitrate10",
                               "coverage10"):
                    value = metrics[f"holdout_{model}_{metric}"]
                    self.assertTrue(0.0 <= value <= 1.0, (model, metric, value))
            # On ML-100K the two-stage list finds more held-out items than the popularity list.
            self.assertGreater(metrics["holdout_final_recall20"],
                               metrics["holdout_popularity_recall20"])

            registry = load_json(models, "model_registry.json")
            self.assertEqual(registry["current"]["model_version"], "m1")

            runs = [d for d in os.listdir(os.path.join(root, "mlruns", "0")) if d != "meta.yaml"]
            self.assertEqual(len(runs), 1)
            run_dir = os.path.join(root, "mlruns", "0", runs[0])
            meta = read_text(run_dir, "meta.yaml")
            self.assertIn("status: 3", meta)  # FINISHED
            self.assertEqual(read_text(run_dir, "params", "ials_factors").strip(),
                             "16")
            self.assertTrue(os.path.exists(os.path.join(run_dir, "artifacts", "model", "MLmodel")))
            # MLflow metric lines: "<timestamp> <value> <step>".
            line = read_text(run_dir, "metrics", "holdout_final_ndcg10").split()
            self.assertAlmostEqual(float(line[1]), metrics["holdout_final_ndcg10"], places=9)
            self.assertIn(runs[0], proc.stdout)

            # The runbook's staging step on that run: checksums and the smoke test pass.
            stage = subprocess.run(
                [sys.executable, os.path.join(SOURCE_DIR, "scripts", "stage_model.py"), run_dir,
                 "--models-root", models], capture_output=True, text=True, timeout=120,
                env=dict(os.environ, RECSERVE_BIN=RECSERVE_BIN))
            self.assertEqual(stage.returncode, 0, stage.stderr)
            self.assertEqual(load_json(models, "staging", "run", "manifest.json"),
                             manifest)

            # A second run deploys a new version; the first stays, immutable, in the history.
            self.run_pipeline(root, "m2")
            self.assertEqual(os.readlink(os.path.join(models, "current")), "m2")
            registry = load_json(models, "model_registry.json")
            self.assertEqual(registry["current"]["model_version"], "m2")
            self.assertEqual(registry["history"][0]["model_version"], "m1")

    def test_failed_training_changes_nothing(self):
        with temp_dir() as root:
            self.run_pipeline(root, "good")
            before = tree_listing(root)
            # Zero iALS factors cannot train: the run must fail before publishing anything.
            proc = self.run_pipeline(root, "bad", "--factors", "0", check=False)
            self.assertNotEqual(proc.returncode, 0)
            self.assertIn("unchanged", proc.stderr)
            after = {k: v for k, v in tree_listing(root).items()
                     if not k.startswith(os.path.join("data", "quarantine"))}
            before = {k: v for k, v in before.items()
                      if not k.startswith(os.path.join("data", "quarantine"))}
            self.assertEqual(after, before)
            self.assertEqual(os.readlink(os.path.join(root, "models", "current")), "good")

    def test_tampered_bundle_is_refused_by_staging(self):
        with temp_dir() as root:
            self.run_pipeline(root, "t1", "--no-deploy")
            self.assertFalse(os.path.lexists(os.path.join(root, "models", "current")))
            run_dir = os.path.join(root, "mlruns", "0",
                                   [d for d in os.listdir(os.path.join(root, "mlruns", "0"))
                                    if d != "meta.yaml"][0])
            ranker = os.path.join(run_dir, "artifacts", "model", "ranker.json")
            with open(ranker, "r+b") as f:
                f.truncate(os.path.getsize(ranker) // 2)
            proc = run_recserve("stage", run_dir, "--models-root", os.path.join(root, "models"),
                                check=False)
            self.assertEqual(proc.returncode, 1)
            self.assertIn("ranker.json", proc.stderr)
            self.assertFalse(os.path.exists(os.path.join(root, "models", "staging", "run")))


if __name__ == "__main__":
    unittest.main()
