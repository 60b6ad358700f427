"""scripts/reload_model.py: argument handling, request building, and a real HTTP round trip
against a loopback stub of POST /models/reload (the endpoint itself lives in the service)."""
import http.server
import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
import unittest

from recserve_testing import SOURCE_DIR

SCRIPT = os.path.join(SOURCE_DIR, "scripts", "reload_model.py")


def load_script_module():
    spec = importlib.util.spec_from_file_location("reload_model", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


reload_model = load_script_module()


def build(argv, env=None):
    return reload_model.build_request(reload_model.parse_args(argv), env or {})


class RequestBuildingTest(unittest.TestCase):
    def test_shadow_with_rollout(self):
        url, data, headers = build(["--mode", "shadow", "--source", "models/staging/run",
                                    "--rollout", "0.05", "--host", "10.0.0.1:8080"])
        self.assertEqual(url, "http://10.0.0.1:8080/models/reload")
        self.assertEqual(json.loads(data),
                         {"mode": "shadow", "source": "models/staging/run", "rollout": 0.05})
        self.assertEqual(headers["Content-Type"], "application/json")
        self.assertNotIn("Authorization", headers)

    def test_primary_promote_and_replace(self):
        _, data, _ = build(["--mode", "primary"])
        self.assertEqual(json.loads(data), {"mode": "primary"})
        _, data, _ = build(["--mode", "primary", "--source", "models/v2"])
        self.assertEqual(json.loads(data), {"mode": "primary", "source": "models/v2"})

    def test_rollback_and_refresh_bodies(self):
        _, data, _ = build(["--mode", "rollback"])
        self.assertEqual(json.loads(data), {"mode": "rollback"})
        url, data, headers = build(["--mode", "refresh", "--host", "http://h:1/"])
        self.assertEqual(url, "http://h:1/models/reload")
        self.assertEqual(data, b"")
        self.assertNotIn("Content-Type", headers)

    def test_token_from_flag_or_environment(self):
        _, _, headers = build(["--mode", "rollback"], env={"ADMIN_TOKEN": "envtok"})
        self.assertEqual(headers["Authorization"], "Bearer envtok")
        _, _, headers = build(["--mode", "rollback", "--token", "flagtok"],
                              env={"ADMIN_TOKEN": "envtok"})
        self.assertEqual(headers["Authorization"], "Bearer flagtok")

    def test_usage_errors(self):
        for argv in (["--mode", "shadow"],
                     ["--mode", "shadow", "--source", "s", "--rollout", "1.5"],
                     ["--mode", "rollback", "--source", "s"],
                     ["--mode", "primary", "--rollout", "0.1"],
                     ["--mode", "refresh", "--source", "s"]):
            with self.assertRaises(reload_model.UsageError, msg=argv):
                build(argv)


class StubReloadHandler(http.server.BaseHTTPRequestHandler):
    """Records each request; answers 200 with the state, or 400 for source 'bad'."""
    requests = []

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        StubReloadHandler.requests.append((self.path, dict(self.headers), body))
        payload = json.loads(body) if body else {}
        if payload.get("source") == "bad":
            status, answer = 400, {"error": "invalid_argument", "message": "source escapes root"}
        else:
            status, answer = 200, {"primary": "v1", "shadow": payload.get("source")}
        out = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


class HttpRoundTripTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), StubReloadHandler)
        cls.thread = threading.Thread(target=cls.server.serve_forever, daemon=True)
        cls.thread.start()
        cls.host = f"127.0.0.1:{cls.server.server_address[1]}"

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()

    def run_script(self, *args, env=None):
        full_env = dict(os.environ)
        full_env.pop("ADMIN_TOKEN", None)
        full_env.update(env or {})
        return subprocess.run([sys.executable, SCRIPT, "--host", self.host, *args],
                              capture_output=True, text=True, env=full_env, timeout=60)

    def test_success_prints_answer_and_sends_token(self):
        StubReloadHandler.requests.clear()
        proc = self.run_script("--mode", "shadow", "--source", "models/staging/run",
                               "--rollout", "0.05", env={"ADMIN_TOKEN": "s3cret"})
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(json.loads(proc.stdout), {"primary": "v1", "shadow": "models/staging/run"})
        path, headers, body = StubReloadHandler.requests[-1]
        self.assertEqual(path, "/models/reload")
        self.assertEqual(headers["Authorization"], "Bearer s3cret")
        self.assertEqual(json.loads(body)["rollout"], 0.05)

    def test_http_error_exits_nonzero_and_prints_the_answer(self):
        proc = self.run_script("--mode", "primary", "--source", "bad")
        self.assertEqual(proc.returncode, 1)
        self.assertEqual(json.loads(proc.stdout)["error"], "invalid_argument")
        self.assertIn("HTTP 400", proc.stderr)

    def test_usage_error_and_unreachable_service(self):
        self.assertEqual(self.run_script("--mode", "shadow").returncode, 2)
        self.assertEqual(self.run_script("--mode", "bogus").returncode, 2)
        # A port nothing listens on: bind, read the port, close.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = s.getsockname()[1]
        proc = subprocess.run([sys.executable, SCRIPT, "--host", f"127.0.0.1:{dead}",
                               "--mode", "rollback", "--timeout", "5"],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 3)
        self.assertIn("cannot reach", proc.stderr)


if __name__ == "__main__":
    unittest.main()
