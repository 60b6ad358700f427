"""Hostile or inconsistent model bundles through the real binary (issue 13, finding 4): a bundle
whose every checksum matches but whose ease.bin covers another catalogue size, a corrupted or
mismatched ease.bin, and a `current` pointer that escapes MODEL_DIR. Each is refused with a 4xx
(or not loaded at start-up) while the model already serving keeps serving."""
import hashlib
import json
import os
import shutil
import struct
import time
import unittest

from recserve_testing import Service, publish_small_bundle, temp_dir

TOKEN = "abuse-token"
EASE_MAGIC = b"RSEASE  "


def forge_bundle(source, target, version, files):
    """Copies the bundle `source` to `target` with `files` ({relative path: bytes}) replacing its
    files, and rewrites manifest.json so every listed size and sha256 matches the new bytes."""
    shutil.copytree(source, target)
    for rel, data in files.items():
        with open(os.path.join(target, rel), "wb") as f:
            f.write(data)
    rewrite_manifest(target, version)


def rewrite_manifest(bundle, version):
    path = os.path.join(bundle, "manifest.json")
    with open(path) as f:
        manifest = json.load(f)
    manifest["model_version"] = version
    for entry in manifest["files"]:
        with open(os.path.join(bundle, entry["path"]), "rb") as f:
            data = f.read()
        entry["size"] = len(data)
        entry["sha256"] = hashlib.sha256(data).hexdigest()
    with open(path, "w") as f:
        f.write(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def ease_file(items, value=0.0):
    """ease.bin in the models room's format (models/binary_io.h): magic, version 1, the item
    count, then the items × items weights as a float32 array."""
    weights = struct.pack("<f", value) * (items * items)
    return EASE_MAGIC + struct.pack("<IIQ", 1, items, items * items) + weights


class BundleAbuseTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = temp_dir()
        cls.root = cls._tmp.__enter__()
        cls.env = publish_small_bundle(cls.root, "runa")
        cls.models = cls.env["MODEL_DIR"]
        cls.good = os.path.realpath(os.path.join(cls.models, "current"))
        with open(os.path.join(cls.good, "manifest.json")) as f:
            cls.version = json.load(f)["model_version"]
        with open(os.path.join(cls.good, "ease.bin"), "rb") as f:
            header = f.read(16)
        assert header[:8] == EASE_MAGIC, header
        cls.items = struct.unpack("<I", header[12:16])[0]

    @classmethod
    def tearDownClass(cls):
        cls._tmp.__exit__(None, None, None)

    def setUp(self):
        # Every test starts with `current` naming the good bundle.
        current = os.path.join(self.models, "current")
        if os.path.lexists(current):
            os.remove(current)
        os.symlink(os.path.basename(self.good), current)

    def serve(self, wait_ready=True):
        # A generous request deadline: a reload parses a bundle on one of the two I/O threads,
        # and on a busy machine the next request may queue behind it; shedding it is not what
        # these tests are about.
        return Service(env=dict(self.env, ADMIN_TOKEN=TOKEN, RELOAD_MIN_INTERVAL="0.01",
                                HTTP_THREADS="2", REQUEST_TIMEOUT="30"), wait_ready=wait_ready)

    def reload(self, svc, body):
        for _ in range(100):
            status, _, raw = svc.request(
                "POST", "/models/reload", body=json.dumps(body) if body is not None else b"",
                headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
                timeout=120)
            if status != 429:
                return status, json.loads(raw)
            time.sleep(0.02)
        self.fail("reload stayed rate-limited")

    def assert_still_serving_good(self, svc):
        _, health = svc.get_json("/health")
        self.assertEqual((health["primary"], health["shadow"]), (self.version, None), health)
        status, body = svc.get_json("/recommendations/7?k=5")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["model_version"], self.version)
        self.assertEqual(len(body["items"]), 5)

    def test_ease_of_another_catalogue_size_is_refused_and_the_old_model_keeps_serving(self):
        forged = {
            # Checksums match: only the item count betrays these two.
            "ease-fewer": {"ease.bin": ease_file(self.items - 1)},
            "ease-more": {"ease.bin": ease_file(self.items + 1, 1.0)},
            # Checksums match, bytes are not an ease.bin at all.
            "ease-garbage": {"ease.bin": b"\x00garbage" * 1000},
        }
        for name, files in forged.items():
            forge_bundle(self.good, os.path.join(self.models, name), name, files)
        # Manifest not updated: the checksum no longer matches.
        stale = os.path.join(self.models, "ease-stale")
        shutil.copytree(self.good, stale)
        with open(os.path.join(stale, "ease.bin"), "wb") as f:
            f.write(ease_file(self.items - 1))

        with self.serve() as svc:
            self.assert_still_serving_good(svc)
            for name, expected in (("ease-fewer", "ease.bin covers %d items" % (self.items - 1)),
                                   ("ease-more", "ease.bin covers %d items" % (self.items + 1)),
                                   ("ease-garbage", "ease.bin"),
                                   ("ease-stale", "mismatch for ease.bin")):
                for mode in ("shadow", "primary"):
                    status, answer = self.reload(svc, {"mode": mode, "source": name})
                    self.assertEqual((status, answer.get("error")), (400, "invalid_argument"),
                                     (name, mode, answer))
                    self.assertIn(expected, answer["message"], (name, mode))
                    self.assert_still_serving_good(svc)

    def test_current_escaping_model_dir_is_refused_at_refresh_and_start(self):
        # A complete, valid bundle outside MODEL_DIR under its own version name.
        outside = os.path.join(self.root, "outside", "evil")
        shutil.copytree(self.good, outside)
        rewrite_manifest(outside, "evil")
        # An inner link that escapes: `current` -> sneaky -> outside.
        sneaky = os.path.join(self.models, "sneaky")
        if not os.path.lexists(sneaky):
            os.symlink(outside, sneaky)
        current = os.path.join(self.models, "current")
        escapes = [outside, os.path.join("..", "outside", "evil"), "sneaky"]

        with self.serve() as svc:
            self.assert_still_serving_good(svc)
            for target in escapes:
                os.remove(current)
                os.symlink(target, current)
                status, answer = self.reload(svc, None)
                self.assertEqual((status, answer.get("error")), (400, "invalid_argument"),
                                 (target, answer))
                self.assertIn("current -> " + target, answer["message"])
                self.assert_still_serving_good(svc)

        # At start-up the escaping pointer is not loaded: nothing is served from it.
        for target in escapes:
            os.remove(current)
            os.symlink(target, current)
            with self.serve(wait_ready=False) as svc:
                status, _, _ = svc.request("GET", "/ready")
                self.assertEqual(status, 503, target)
                _, health = svc.get_json("/health")
                self.assertIsNone(health["primary"], (target, health))
            self.assertIn("current -> " + target, svc.log())


if __name__ == "__main__":
    unittest.main()
