"""`recserve serve` over real HTTP: every endpoint, bad input, events feeding /popular and
/hot/trending, batch atomicity, request ids, /metrics after traffic (+ promtool), the exposure
log, and a SIGTERM drain with a request in flight. No model bundle is loaded here (the models
issue adds one), so recommendations are the degraded popular fallback."""
import json
import os
import tempfile
import shutil
import signal
import socket
import subprocess
import time
import unittest

import recserve_testing as rt


class ServeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="recserve-serve-test-")
        cls.exposure = os.path.join(cls.tmp, "exposure", "log.jsonl")
        report = os.path.join(cls.tmp, "report.json")
        with open(report, "w") as f:
            json.dump({"overall_quality_score": 91.5, "generated_at": "2026-11-29T06:00:00Z"}, f)
        cls.svc = rt.Service(env={
            "EXPOSURE_LOG_PATH": cls.exposure,
            "DATA_QUALITY_REPORT": report,
            "FEATURE_STORE_PATH": os.path.join(cls.tmp, "absent-feature-store.db"),
            "MAX_BODY_BYTES": "200000",
            "HTTP_THREADS": "2",
        }, args=["--bind", "127.0.0.1"])
        cls.svc.start(wait_ready=False)

    @classmethod
    def tearDownClass(cls):
        code = cls.svc.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert code == 0, f"serve exited {code}"

    def assertError(self, status, body, expected_status, code):
        self.assertEqual(status, expected_status, body)
        self.assertEqual(body["error"], code)
        self.assertTrue(body["message"])
        self.assertTrue(body["request_id"])

    def test_liveness_readiness_health(self):
        self.assertEqual(self.svc.get_json("/live"), (200, {"status": "live"}))
        status, body = self.svc.get_json("/ready")
        self.assertError(status, body, 503, "unavailable")
        status, health = self.svc.get_json("/health")
        self.assertEqual(status, 200)
        self.assertFalse(health["models_loaded"])
        self.assertEqual(health["cache"], "enabled")
        self.assertEqual(health["feature_store"], "none")  # FEATURE_STORE_PATH is absent
        self.assertIsNone(health["primary"])
        self.assertIsNone(health["shadow"])
        self.assertEqual(health["data_quality_score"], 91.5)
        self.assertEqual(health["pipeline_last_run"], "2026-11-29T06:00:00Z")

    def test_events_change_popular_and_trending(self):
        now = int(time.time())
        events = [{"user_id": "pop-u1", "item_id": "pop-hot", "event_type": "view"},
                  {"user_id": "pop-u2", "item_id": "pop-hot", "event_type": "click",
                   "timestamp": now - 60},
                  {"user_id": "pop-u3", "item_id": "pop-hot", "event_type": "view",
                   "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))},
                  {"user_id": "pop-u1", "item_id": "pop-old", "event_type": "view",
                   "timestamp": now - 5 * 3600}]
        status, body = self.svc.post_json("/events", events)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["accepted"], 4)
        # The lists are rebuilt off the request path, within moments of the events.
        rt.wait_until(lambda: "pop-old" in [i["item_id"] for i in
                                            self.svc.get_json("/popular?k=200")[1]["items"]], 10)
        status, popular = self.svc.get_json("/popular?k=200")
        self.assertEqual(status, 200)
        ids = [i["item_id"] for i in popular["items"]]
        self.assertIn("pop-hot", ids)
        self.assertIn("pop-old", ids)
        hot = next(i for i in popular["items"] if i["item_id"] == "pop-hot")
        self.assertGreaterEqual(hot["score"], 3)
        status, hour = self.svc.get_json("/hot/trending?timeframe=1h&k=200")
        self.assertEqual(status, 200)
        hour_ids = [i["item_id"] for i in hour["items"]]
        self.assertIn("pop-hot", hour_ids)
        self.assertNotIn("pop-old", hour_ids)  # five hours old: outside the 1h window
        status, day = self.svc.get_json("/hot/trending?timeframe=24h&k=200")
        self.assertIn("pop-old", [i["item_id"] for i in day["items"]])
        status, one = self.svc.get_json("/popular?k=1")
        self.assertEqual(len(one["items"]), 1)

    def test_rejected_batch_applies_nothing(self):
        batch = [{"user_id": "atom-u", "item_id": "atom-item", "event_type": "view"},
                 {"user_id": "atom-u", "item_id": "", "event_type": "view"}]
        status, body = self.svc.post_json("/events", batch)
        self.assertError(status, body, 400, "invalid_argument")
        self.assertIn("events[1].item_id", body["message"])
        status, popular = self.svc.get_json("/popular?k=200")
        self.assertNotIn("atom-item", [i["item_id"] for i in popular["items"]])
        status, trending = self.svc.get_json("/hot/trending?timeframe=24h&k=200")
        self.assertNotIn("atom-item", [i["item_id"] for i in trending["items"]])

    def test_bad_event_bodies(self):
        for body in [b"{not json", b"[]", b"42", b'{"user_id":"u","item_id":"i"}',
                     b'{"user_id":"u","item_id":"i","event_type":"v","timestamp":"soon"}',
                     json.dumps([{"user_id": "u", "item_id": "i", "event_type": "v"}] * 1001)]:
            status, _, raw = self.svc.request("POST", "/events", body=body)
            self.assertError(status, json.loads(raw), 400, "invalid_argument")

    def test_oversized_body_is_413(self):
        big = json.dumps([{"user_id": "u" * 200, "item_id": "i", "event_type": "view"}] * 1000)
        self.assertGreater(len(big), 200000)
        status, _, raw = self.svc.request("POST", "/events", body=big)
        self.assertError(status, json.loads(raw), 413, "resource_exhausted")
        self.assertEqual(self.svc.get_json("/live")[0], 200)  # still serving

    def test_oversized_header_is_rejected(self):
        status, _, raw = self.svc.request("GET", "/popular", headers={"X-Big": "a" * 40000})
        self.assertError(status, json.loads(raw), 431, "resource_exhausted")

    def test_bad_k_unknown_paths_wrong_methods(self):
        for path in ["/popular?k=0", "/popular?k=201", "/popular?k=abc", "/popular?k=",
                     "/recommendations/u1?k=-1", "/hot/trending?timeframe=1h&k=1000",
                     "/hot/trending?timeframe=7d", "/popular?k=%zz", "/recommendations/u1?k=%4",
                     "/popular?x=1&k=%g0"]:
            status, body = self.svc.get_json(path)
            self.assertError(status, body, 400, "invalid_argument")
        status, body = self.svc.get_json("/no/such/path")
        self.assertError(status, body, 404, "not_found")
        status, headers, raw = self.svc.request("DELETE", "/popular")
        self.assertError(status, json.loads(raw), 405, "method_not_allowed")
        self.assertEqual(headers.get("Allow"), "GET")
        status, _, raw = self.svc.request("GET", "/events")
        self.assertError(status, json.loads(raw), 405, "method_not_allowed")

    def test_recommendations_without_model(self):
        self.svc.post_json("/events", {"user_id": "rec-u", "item_id": "rec-item",
                                       "event_type": "view"})
        status, body = self.svc.get_json("/recommendations/rec-u?k=5")
        self.assertEqual(status, 200, body)
        self.assertEqual(set(body), {"request_id", "user_id", "items", "model_version", "variant",
                                     "source", "degraded", "degraded_reason"})
        self.assertEqual(body["user_id"], "rec-u")
        self.assertEqual(body["source"], "popular")
        self.assertTrue(body["degraded"])
        self.assertEqual(body["degraded_reason"], "no_model")
        self.assertIsNone(body["model_version"])
        self.assertEqual(body["variant"], "primary")
        self.assertLessEqual(len(body["items"]), 5)
        self.assertIn("rec-item", [i["item_id"] for i in self.svc.get_json(
            "/recommendations/someone-else?k=200")[1]["items"]])
        status, body = self.svc.get_json("/similar/rec-item?k=5")
        self.assertError(status, body, 404, "not_found")
        status, body = self.svc.get_json("/recommend/detail/rec-item?user_id=rec-u&k=5")
        self.assertError(status, body, 404, "not_found")

    def test_request_id_is_echoed_sanitised_or_generated(self):
        status, headers, raw = self.svc.request("GET", "/popular?k=3",
                                                headers={"X-Request-ID": "trace-42"})
        self.assertEqual(headers["X-Request-ID"], "trace-42")
        self.assertEqual(json.loads(raw)["request_id"], "trace-42")
        status, headers, raw = self.svc.request("GET", "/nope",
                                                headers={"X-Request-ID": "a<b>\"c" + "x" * 100})
        rid = headers["X-Request-ID"]
        self.assertEqual(rid, "abc" + "x" * 61)
        self.assertEqual(json.loads(raw)["request_id"], rid)
        _, h1, _ = self.svc.request("GET", "/live")
        _, h2, _ = self.svc.request("GET", "/live")
        self.assertRegex(h1["X-Request-ID"], "^[0-9a-f]{32}$")
        self.assertNotEqual(h1["X-Request-ID"], h2["X-Request-ID"])

    def test_keep_alive_serves_many_requests_on_one_connection(self):
        conn = rt.http.client.HTTPConnection("127.0.0.1", self.svc.port, timeout=10)
        try:
            for _ in range(20):
                conn.request("GET", "/popular?k=2")
                resp = conn.getresponse()
                self.assertEqual(resp.status, 200)
                resp.read()
        finally:
            conn.close()

    def test_slow_client_is_dropped_after_read_timeout(self):
        # A private instance with a short read timeout: a client that never finishes its header
        # is disconnected, and other clients are served meanwhile.
        svc = rt.Service(env={"HTTP_READ_TIMEOUT": "0.5"})
        svc.start(wait_ready=False)
        try:
            s = socket.create_connection(("127.0.0.1", svc.port), timeout=5)
            s.sendall(b"GET /popular HTTP/1.1\r\nHost: x\r\n")
            self.assertEqual(svc.get_json("/live")[0], 200)
            self.assertEqual(s.recv(100), b"")  # closed by the server, no response
            s.close()
        finally:
            self.assertEqual(svc.stop(), 0)

    def test_metrics_after_traffic(self):
        self.svc.get_json("/popular?k=2")
        self.svc.get_json("/popular?k=0")
        self.svc.get_json("/recommendations/metrics-user?k=3")
        self.svc.post_json("/events", {"user_id": "m", "item_id": "m", "event_type": "view"})
        self.svc.request("POST", "/events", body=b"nope")
        self.svc.get_json("/definitely/unknown")
        status, headers, raw = self.svc.request("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/plain; version=0.0.4"))
        text = raw.decode()
        m = rt.parse_prometheus_text(text)

        def value(name, **labels):
            return m.get((name, frozenset(labels.items())), 0.0)

        self.assertGreaterEqual(value("recommendation_requests_total", endpoint="/popular",
                                      status="200", variant="primary"), 1)
        self.assertGreaterEqual(value("recommendation_requests_total", endpoint="/popular",
                                      status="400", variant="primary"), 1)
        self.assertGreaterEqual(value("recommendation_requests_total",
                                      endpoint="/recommendations/{user_id}", status="200",
                                      variant="primary"), 1)
        self.assertGreaterEqual(value("recommendation_requests_total", endpoint="unmatched",
                                      status="404", variant="primary"), 1)
        count = value("recommendation_latency_seconds_count", endpoint="/popular",
                      variant="primary")
        self.assertGreaterEqual(count, 2)
        self.assertEqual(value("recommendation_latency_seconds_bucket", endpoint="/popular",
                               variant="primary", le="+Inf"), count)
        self.assertGreaterEqual(value("recommendation_degraded_total", reason="no_model"), 1)
        self.assertGreaterEqual(value("recommendation_cache_requests_total", result="bypass"), 1)
        self.assertGreaterEqual(value("recommendation_events_total", result="accepted"), 1)
        self.assertGreaterEqual(value("recommendation_events_total", result="rejected"), 1)
        self.assertEqual(value("data_quality_score"), 91.5)
        self.assertGreater(value("data_pipeline_last_success_timestamp_seconds"), 1.7e9)
        self.assertIn(("recommendation_in_flight_requests", frozenset()), m)
        self.assertIn(("recommendation_exposure_log_dropped_total", frozenset()), m)
        for name in ["process_cpu_seconds_total", "process_resident_memory_bytes",
                     "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
                     "process_start_time_seconds"]:
            self.assertIn((name, frozenset()), m, name)
        self.assertGreater(value("process_resident_memory_bytes"), 1e6)
        # No user or item id ever becomes a label value.
        self.assertNotIn("metrics-user", text)
        promtool = shutil.which("promtool")
        if promtool:
            proc = subprocess.run([promtool, "check", "metrics"], input=text, text=True,
                                  capture_output=True, timeout=60)
            self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)

    def test_exposure_log_records_recommendations(self):
        self.svc.get_json("/recommendations/exposed-user?k=4",
                          headers={"X-Request-ID": "exposure-check"})
        deadline = time.time() + 10
        record = None
        while time.time() < deadline and record is None:
            if os.path.exists(self.exposure):
                with open(self.exposure) as f:
                    for line in f:
                        r = json.loads(line)
                        if r["request_id"] == "exposure-check":
                            record = r
            time.sleep(0.05)
        self.assertIsNotNone(record, "exposure record not written")
        self.assertEqual(record["user_id"], "exposed-user")
        self.assertEqual(record["degraded_reason"], "no_model")
        self.assertEqual(record["variant"], "primary")
        self.assertIsInstance(record["items"], list)
        self.assertGreater(record["timestamp"], 1.7e9)


class DrainTest(unittest.TestCase):
    def test_sigterm_lets_the_in_flight_request_finish_and_exits_0(self):
        svc = rt.Service(env={"HTTP_THREADS": "2"})
        svc.start(wait_ready=False)
        body = json.dumps({"user_id": "drain-u", "item_id": "drain-i",
                           "event_type": "view"}).encode()
        s = socket.create_connection(("127.0.0.1", svc.port), timeout=10)
        try:
            # Header and half the body now; the request is in flight when SIGTERM arrives.
            s.sendall(b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" +
                      body[:10])
            time.sleep(0.3)
            svc.proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            self.assertIsNone(svc.proc.poll(), "exited before the in-flight request finished")
            # New connections are refused while draining.
            with self.assertRaises(OSError):
                socket.create_connection(("127.0.0.1", svc.port), timeout=2).close()
            s.sendall(body[10:])
            response = b""
            while b"\r\n\r\n" not in response or not response.rstrip().endswith(b"}"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                response += chunk
            self.assertTrue(response.startswith(b"HTTP/1.1 200"), response)
            self.assertIn(b'"accepted":1', response)
        finally:
            s.close()
        self.assertEqual(svc.proc.wait(timeout=30), 0, svc.log())
        svc.stop()
        self.assertIn("drained", svc.log())


if __name__ == "__main__":
    unittest.main()
