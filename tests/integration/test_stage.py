"""`recserve stage` and scripts/stage_model.py with the real binary on real files.

Each test writes an MLflow file-store run from Python (a real model trained once per module by
`recserve pipeline` on ML-100K with small settings, plus a few extra files the tests tamper with;
manifest.json with real sha256s; meta.yaml), stages it (checksums and the model smoke test), and for every rejection checks the named reason and that
models/staging/ is byte-for-byte the same before and after.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import unittest

from recserve_testing import ML100K, RECSERVE_BIN, SOURCE_DIR, run_recserve, temp_dir

RANKER_JSON = json.dumps({"learner": {"gradient_booster": {"name": "gbtree"}},
                          "version": [1, 7, 4]}).encode()


_REAL_MODEL = {}


def real_model():
    """(files {name: bytes}, feature_schema) of a model trained once by `recserve pipeline`."""
    if not _REAL_MODEL:
        with temp_dir() as root:
            run_recserve("pipeline", "--data", ML100K, "--data-root", os.path.join(root, "data"),
                         "--models-root", os.path.join(root, "models"), "--mlruns",
                         os.path.join(root, "mlruns"), "--run-id", "real", "--no-deploy",
                         "--factors", "8", "--iterations", "2", "--trees", "20", "--depth", "3",
                         env={"OMP_WAIT_POLICY": "passive"})
            bundle = os.path.join(root, "models", "real")
            with open(os.path.join(bundle, "manifest.json")) as f:
                _REAL_MODEL["schema"] = json.load(f)["feature_schema"]
            files = {}
            for name in os.listdir(bundle):
                if name != "manifest.json":
                    with open(os.path.join(bundle, name), "rb") as f:
                        files[name] = f.read()
            _REAL_MODEL["files"] = files
    return _REAL_MODEL["files"], _REAL_MODEL["schema"]


def write_run(root, run_id, version, status=3, files=None):
    """Writes mlruns/1/<run_id>/ with a bundle whose manifest has real sizes and sha256s."""
    run_dir = os.path.join(root, "mlruns", "1", run_id)
    model_dir = os.path.join(run_dir, "artifacts", "model")
    os.makedirs(os.path.join(model_dir, "vocab"), exist_ok=True)
    model_files, schema = real_model()
    files = files or {**model_files, "factors.bin": b"\x01\x02" * 500,
                      "vocab/items.txt": b"i1\ni2\n", "version.txt": version.encode()}
    entries = []
    for rel, data in sorted(files.items()):
        with open(os.path.join(model_dir, rel), "wb") as f:
            f.write(data)
        entries.append({"path": rel, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    manifest = {"format_version": 1, "model_version": version,
                "created_at": "2026-11-29T06:00:00Z",
                "training_data_sha256": {"interactions.csv": "ab" * 32},
                "hyper_parameters": {"factors": 64}, "offline_metrics": {"ndcg_at_10": 0.15},
                "feature_schema": schema, "files": entries}
    write_manifest(run_dir, manifest)
    end_time = "null" if status == 1 else "1764396060000"
    with open(os.path.join(run_dir, "meta.yaml"), "w") as f:
        f.write(f"artifact_uri: file://{run_dir}/artifacts\nend_time: {end_time}\n"
                f"entry_point_name: ''\nexperiment_id: '1'\nlifecycle_stage: active\n"
                f"run_id: {run_id}\nrun_name: test\nrun_uuid: {run_id}\nsource_name: ''\n"
                f"source_type: 4\nsource_version: ''\nstart_time: 1764396000000\n"
                f"status: {status}\ntags: []\nuser_id: tester\n")
    return run_dir


def model_dir_of(run_dir):
    return os.path.join(run_dir, "artifacts", "model")


def read_manifest(run_dir):
    with open(os.path.join(model_dir_of(run_dir), "manifest.json")) as f:
        return json.load(f)


def write_manifest(run_dir, manifest):
    with open(os.path.join(model_dir_of(run_dir), "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)


def tree_snapshot(root):
    """{relative path: ('dir'|'link:<target>'|sha256 of bytes)} for everything under root."""
    snap = {}
    if not os.path.lexists(root):
        return snap
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            if os.path.islink(path):
                snap[rel] = "link:" + os.readlink(path)
            elif os.path.isdir(path):
                snap[rel] = "dir"
            else:
                with open(path, "rb") as f:
                    snap[rel] = hashlib.sha256(f.read()).hexdigest()
    return snap


class StageTest(unittest.TestCase):
    def setUp(self):
        self._tmp = temp_dir()
        self.root = self._tmp.__enter__()
        self.models = os.path.join(self.root, "models")
        self.staging = os.path.join(self.models, "staging")

    def tearDown(self):
        self._tmp.__exit__(None, None, None)

    def stage(self, run_dir, *extra, check=False):
        return run_recserve("stage", run_dir, "--models-root", self.models, *extra, check=check)

    def test_finished_run_is_staged_atomically(self):
        run = write_run(self.root, "a" * 32, "v1")
        proc = self.stage(run)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("a" * 32, proc.stdout)
        staged = os.path.join(self.staging, "run")
        self.assertEqual(tree_snapshot(staged), tree_snapshot(model_dir_of(run)))
        # Staging again replaces run/ and leaves no temporary or set-aside directories.
        run2 = write_run(self.root, "b" * 32, "v2")
        self.assertEqual(self.stage(run2).returncode, 0)
        self.assertEqual(os.listdir(self.staging), ["run"])
        with open(os.path.join(staged, "version.txt")) as f:
            self.assertEqual(f.read(), "v2")
        self.assertFalse(os.path.lexists(os.path.join(self.models, "current")))

    def test_deploy_publishes_version_and_points_current_at_it(self):
        run = write_run(self.root, "c" * 32, "v7")
        proc = self.stage(run, "--deploy")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(os.readlink(os.path.join(self.models, "current")), "v7")
        self.assertEqual(tree_snapshot(os.path.join(self.models, "v7")),
                         tree_snapshot(model_dir_of(run)))
        with open(os.path.join(self.models, "model_registry.json")) as f:
            registry = json.load(f)
        self.assertEqual(registry["current"]["model_version"], "v7")
        self.assertEqual(registry["current"]["run_id"], "c" * 32)
        self.assertEqual(registry["history"], [])

    def test_wrapper_script_execs_the_binary(self):
        run = write_run(self.root, "d" * 32, "v1")
        script = os.path.join(SOURCE_DIR, "scripts", "stage_model.py")
        env = dict(os.environ, RECSERVE_BIN=RECSERVE_BIN)
        ok = subprocess.run([sys.executable, script, run, "--models-root", self.models],
                            capture_output=True, text=True, env=env, timeout=120)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertTrue(os.path.isfile(os.path.join(self.staging, "run", "manifest.json")))
        missing = subprocess.run([sys.executable, script, os.path.join(self.root, "nope"),
                                  "--models-root", self.models],
                                 capture_output=True, text=True, env=env, timeout=120)
        self.assertEqual(missing.returncode, 1)
        self.assertIn("meta.yaml", missing.stderr)

    def assert_rejected(self, run_dir, *reasons):
        """Stages a good run first, then checks `run_dir` is refused and staging is unchanged."""
        good = write_run(self.root, "f" * 32, "good")
        self.assertEqual(self.stage(good).returncode, 0)
        before = tree_snapshot(self.staging)
        proc = self.stage(run_dir)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        for reason in reasons:
            self.assertIn(reason, proc.stderr)
        self.assertEqual(tree_snapshot(self.staging), before)
        self.assertEqual(sorted(os.listdir(self.models)), ["staging"])

    def test_missing_file_is_rejected(self):
        run = write_run(self.root, "1" * 32, "v1")
        os.remove(os.path.join(model_dir_of(run), "vocab", "items.txt"))
        self.assert_rejected(run, "not_found", "missing file vocab/items.txt")

    def test_checksum_mismatch_is_rejected(self):
        run = write_run(self.root, "2" * 32, "v1")
        path = os.path.join(model_dir_of(run), "factors.bin")
        with open(path, "r+b") as f:
            f.write(b"\xff")  # same size, different bytes
        self.assert_rejected(run, "data_loss", "checksum mismatch for factors.bin")

    def test_model_that_does_not_load_fails_the_smoke_test(self):
        # Checksums match (the manifest is written for these bytes), but ranker.json is not a
        # usable XGBoost model: only the smoke test (load + one request) can catch it.
        files, _ = real_model()
        run = write_run(self.root, "4" * 32, "v1", files={**files, "ranker.json": RANKER_JSON})
        self.assert_rejected(run, "failed_precondition", "smoke test")

    def test_truncated_xgboost_model_is_rejected(self):
        run = write_run(self.root, "3" * 32, "v1")
        with open(os.path.join(model_dir_of(run), "ranker.json"), "r+b") as f:
            f.truncate(10)
        self.assert_rejected(run, "data_loss", "ranker.json", "truncated")

    def test_running_run_is_rejected(self):
        run = write_run(self.root, "4" * 32, "v1", status=1)
        self.assert_rejected(run, "failed_precondition", "RUNNING", "not FINISHED")

    def test_manifest_path_outside_the_bundle_is_rejected(self):
        run = write_run(self.root, "5" * 32, "v1")
        manifest = read_manifest(run)
        manifest["files"].append({"path": "../../../../models/staging/run/manifest.json",
                                  "size": 1, "sha256": "00" * 32})
        write_manifest(run, manifest)
        self.assert_rejected(run, "invalid_argument", "unsafe file path")

    def test_symlink_escaping_the_bundle_is_rejected(self):
        run = write_run(self.root, "6" * 32, "v1")
        outside = os.path.join(self.root, "outside")
        os.makedirs(outside)
        vocab = os.path.join(model_dir_of(run), "vocab")
        shutil.move(os.path.join(vocab, "items.txt"), os.path.join(outside, "items.txt"))
        os.rmdir(vocab)
        os.symlink(outside, vocab)  # same bytes, but outside the bundle
        self.assert_rejected(run, "invalid_argument", "escapes the bundle")

    def test_missing_meta_yaml_and_bad_manifest_are_rejected(self):
        run = write_run(self.root, "7" * 32, "v1")
        os.remove(os.path.join(run, "meta.yaml"))
        self.assert_rejected(run, "not_found", "meta.yaml")
        run = write_run(self.root, "8" * 32, "v1")
        with open(os.path.join(model_dir_of(run), "manifest.json"), "w") as f:
            f.write("{\"format_version\": 2}")
        proc = self.stage(run)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("unsupported manifest format_version 2", proc.stderr)


if __name__ == "__main__":
    unittest.main()
