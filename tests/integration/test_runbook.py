"""docs/OPERATIONS_SOP.md: the runbook's local commands are well-formed and work.

The commands are extracted from the runbook's ```bash blocks, not copied into this test, so a
changed runbook is what gets tested. Static checks always run; the commands that only read or
check health are also run with bash against a live `recserve serve` (with a private redis-server)
and the model-lifecycle and resync commands (`scripts/stage_model.py`, the reload calls,
`scripts/run_pipeline.sh --sync-only`) are run in runbook order against a live service with a
real bundle, from a working directory laid out as the runbook assumes (`models/`, `data/`,
`scripts/`).
"""
import json
import os
import re
import shlex
import subprocess
import unittest

from recserve_testing import (RECSERVE_BIN, SOURCE_DIR, RedisServer, Service,
                              publish_small_bundle, temp_dir)

SOP = os.path.join(SOURCE_DIR, "docs", "OPERATIONS_SOP.md")
ENDPOINTS = {"/health", "/live", "/ready", "/metrics", "/models/reload", "/admin/faults"}
SCRIPTS = {"run_pipeline.sh", "stage_model.py", "reload_model.py"}
RELOAD_MODES = {"shadow", "primary", "rollback"}


def bash_blocks(text):
    return re.findall(r"```bash\n(.*?)```", text, re.S)


def commands(text):
    """Each command of the runbook's bash blocks, continuation lines joined, comments dropped."""
    out = []
    for block in bash_blocks(text):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                out.append(re.sub(r"\s+#\s.*$", "", line))
    return out


def curl_commands(text):
    return [c for c in commands(text) if c.startswith("curl ")]


def curl_path(command):
    m = re.search(r'"\$RECSERVE_URL(/[^"]*)"', command)
    return m.group(1) if m else None


def curl_body(command):
    m = re.search(r"-d '([^']*)'", command)
    return json.loads(m.group(1)) if m else None


class RunbookStaticTest(unittest.TestCase):
    def setUp(self):
        with open(SOP) as f:
            self.text = f.read()

    def test_curl_calls_use_known_endpoints_and_valid_bodies(self):
        calls = curl_commands(self.text)
        self.assertGreaterEqual(len(calls), 6)
        modes = set()
        for call in calls:
            with self.subTest(call=call):
                shlex.split(call)  # balanced quotes
                path = curl_path(call)
                self.assertIn(path, ENDPOINTS)
                if path == "/models/reload":
                    self.assertIn("-X POST", call)
                    self.assertIn('${ADMIN_TOKEN:+-H "Authorization: Bearer $ADMIN_TOKEN"}', call)
                    body = curl_body(call)
                    if body is not None:
                        self.assertIn("application/json", call)
                        self.assertIn(body["mode"], RELOAD_MODES)
                        modes.add(body["mode"])
                        if body["mode"] == "shadow":
                            self.assertTrue(0 < body["rollout"] <= 1)
                            self.assertFalse(os.path.isabs(body["source"]))
                            self.assertNotIn("..", body["source"])
        self.assertEqual(modes, RELOAD_MODES)

    def test_scripts_named_are_the_projects(self):
        named = set(re.findall(r"scripts/([\w.-]+)", self.text))
        self.assertTrue({"run_pipeline.sh", "stage_model.py"} <= named)
        self.assertLessEqual(named, SCRIPTS)
        self.assertIn("scripts/run_pipeline.sh --sync-only", commands(self.text))

    def test_every_section_anchor_is_unique_and_every_link_resolves(self):
        anchors = re.findall(r'<a id="([^"]+)"></a>', self.text)
        self.assertEqual(len(anchors), len(set(anchors)))
        for link in re.findall(r"\]\(#([^)]+)\)", self.text):
            self.assertIn(link, anchors)


class RunbookLiveTest(unittest.TestCase):
    """Runs the runbook's local commands with bash against a live service."""

    def run_command(self, call, env, cwd):
        proc = subprocess.run(["bash", "-o", "pipefail", "-c", call], env=env, cwd=cwd,
                              capture_output=True, text=True, timeout=300)
        self.assertEqual(proc.returncode, 0, f"{call}\n{proc.stdout}{proc.stderr}")
        return proc.stdout

    def test_health_and_metrics_commands_work(self):
        with open(SOP) as f:
            calls = curl_commands(f.read())
        runnable = [c for c in calls if curl_path(c) in ("/health", "/live", "/metrics")]
        self.assertTrue(runnable)
        with temp_dir() as work, RedisServer() as redis, Service(
                env={"MODEL_DIR": os.path.join(work, "models"), "REDIS_URL": redis.url,
                     "FEATURE_REDIS_URL": redis.url}, wait_ready=False) as service:
            env = dict(os.environ, RECSERVE_URL=f"http://127.0.0.1:{service.port}")
            env.pop("ADMIN_TOKEN", None)
            for call in runnable:
                with self.subTest(call=call):
                    self.run_command(call, env, work)

    def test_lifecycle_and_resync_commands_work_in_runbook_order(self):
        with open(SOP) as f:
            text = f.read()
        lifecycle = [c for c in commands(text)
                     if c.startswith(("scripts/stage_model.py", "scripts/run_pipeline.sh --sync-only"))
                     or (c.startswith("curl ") and curl_path(c) in ("/models/reload", "/ready"))]
        self.assertTrue(any(c.startswith("scripts/stage_model.py") for c in lifecycle))
        self.assertIn("scripts/run_pipeline.sh --sync-only", lifecycle)
        with temp_dir() as work, RedisServer() as redis:
            publish_small_bundle(work, "runbook-run")
            os.symlink(os.path.join(SOURCE_DIR, "scripts"), os.path.join(work, "scripts"))
            mlruns = os.path.join(work, "mlruns", "0")
            run_dir = next(os.path.join(mlruns, r) for r in os.listdir(mlruns)
                           if os.path.isfile(os.path.join(mlruns, r, "meta.yaml")))
            token = "runbook-token"
            # The service runs where the runbook's relative paths hold: models/, data/.
            with Service(cwd=work, env={
                    "MODEL_DIR": "models", "FEATURE_STORE_PATH": "data/feature_store.db",
                    "REDIS_URL": redis.url, "FEATURE_REDIS_URL": redis.url,
                    # Below 1 ms the limit rounds to 0: the runbook's calls follow each other
                    # faster than any real operator, and a 429 here would test the clock.
                    "ADMIN_TOKEN": token, "RELOAD_MIN_INTERVAL": "0.0001"}) as service:
                env = dict(os.environ, RECSERVE_URL=f"http://127.0.0.1:{service.port}",
                           ADMIN_TOKEN=token, RECSERVE_BIN=RECSERVE_BIN,
                           FEATURE_REDIS_URL=redis.url)
                seen_modes = []
                for call in lifecycle:
                    call = call.replace("<mlflow_run_dir>", shlex.quote(run_dir))
                    with self.subTest(call=call):
                        out = self.run_command(call, env, work)
                        if curl_path(call) == "/models/reload":
                            answer = json.loads(out)
                            body = curl_body(call)
                            seen_modes.append(body["mode"] if body else "refresh")
                            self.assertEqual(answer["mode"], seen_modes[-1])
                            if seen_modes[-1] == "shadow":
                                self.assertEqual(answer["shadow"]["version"], "runbook-run")
                                self.assertEqual(answer["shadow_rollout"], body["rollout"])
                            if seen_modes[-1] == "refresh":
                                self.assertEqual(answer["cache"], "enabled")
                self.assertTrue({"refresh", "shadow", "primary", "rollback"} <= set(seen_modes))
                # The resync wrote the snapshot into Redis under the pointer the service reads.
                self.assertTrue(redis.cli("GET", "recserve:features:current").strip())
                status, health = service.get_json("/health")
                self.assertTrue(health["models_loaded"])


if __name__ == "__main__":
    unittest.main()
