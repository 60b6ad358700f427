"""docs/OPERATIONS_SOP.md: the runbook's local commands are well-formed and work.

The commands are extracted from the runbook's ```bash blocks, not copied into this test, so a
changed runbook is what gets tested. Static checks always run; the commands that only read or
check health are also run with bash against a live `recserve serve` (with a private redis-server)
once that subcommand exists.
"""
import json
import os
import re
import shlex
import subprocess
import unittest

from recserve_testing import SOURCE_DIR, RedisServer, temp_dir
from serve_or_skip import running_service

SOP = os.path.join(SOURCE_DIR, "docs", "OPERATIONS_SOP.md")
ENDPOINTS = {"/health", "/live", "/ready", "/metrics", "/models/reload"}
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
    """Runs the runbook's read-only curl calls against a live service (no model loaded, so
    /ready and the reload calls are left to the model-lifecycle tests)."""

    def test_health_and_metrics_commands_work(self):
        with open(SOP) as f:
            calls = curl_commands(f.read())
        runnable = [c for c in calls if curl_path(c) in ("/health", "/live", "/metrics")]
        self.assertTrue(runnable)
        with temp_dir() as work, RedisServer() as redis, running_service(
                self, env={"MODEL_DIR": os.path.join(work, "models"), "REDIS_URL": redis.url,
                           "FEATURE_REDIS_URL": redis.url}) as service:
            env = dict(os.environ, RECSERVE_URL=f"http://127.0.0.1:{service.port}")
            env.pop("ADMIN_TOKEN", None)
            for call in runnable:
                with self.subTest(call=call):
                    proc = subprocess.run(["bash", "-o", "pipefail", "-c", call], env=env,
                                          capture_output=True, text=True, timeout=60)
                    self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)

if __name__ == "__main__":
    unittest.main()
