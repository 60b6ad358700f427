"""Hardening of a replica against hostile clients (issue 13), through the real binary on loopback:

- (the event flood of finding 0 is test_event_flood.py: its RSS bound needs the Release build;)
- admin calls: failed authentications are counted and rate-limited, bodies must be JSON, a refused
  reload does not use up the reload interval, every admin call leaves an audit line (finding 1);
- one id rule on the read routes (finding 2);
- an exception inside a handler is a 500, counted, and the replica goes on (finding 3);
- per-client connection cap, a budget for request bodies in flight, JSON depth limits (finding 5);
- event authentication, per-client event limits, distinct-user counting (finding 7).

Each class failed on 762cfaa (the commit before the fixes); see the issue's closing note. Every
wait is bounded; nothing asserts how fast the machine is."""
import json
import socket
import time
import unittest

import recserve_testing as rt

TOKEN = "hardening-token"
JSON = {"Content-Type": "application/json"}


def metric(svc, name, **labels):
    """One /metrics sample; AssertionError when /metrics did not answer 200 (e.g. the per-client
    connection cap refused the scrape itself)."""
    status, _, body = svc.request("GET", "/metrics", timeout=10)
    assert status == 200, status
    return rt.metric(rt.parse_prometheus_text(body.decode()), name, **labels)


class AdminTest(rt.ModellessServiceCase):
    ENV = {"ADMIN_TOKEN": TOKEN, "RELOAD_MIN_INTERVAL": "30"}

    def reload(self, body=None, token=TOKEN, headers=None):
        h = {"Authorization": f"Bearer {token}"} if token else {}
        if body is not None:
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        status, _, raw = self.svc.request("POST", "/models/reload",
                                          body=json.dumps(body) if body is not None else b"",
                                          headers=h, timeout=30)
        return status, json.loads(raw)

    def test_failed_authentications_are_counted_then_limited(self):
        self.assertEqual(self.reload(token=None)[0], 401)
        for _ in range(9):
            self.assertEqual(self.reload(token="wrong")[0], 403)
        status, body = self.reload()  # the right token, but the client used its failures
        self.assertEqual((status, body["error"]), (429, "rate_limited"), body)
        self.assertEqual(metric(self.svc, "recommendation_admin_auth_failures_total",
                                reason="rejected"), 9)
        self.assertEqual(metric(self.svc, "recommendation_admin_auth_failures_total",
                                reason="rate_limited"), 1)

    def test_a_body_must_be_json_and_a_refused_reload_keeps_the_interval_free(self):
        for content_type in ("text/plain", "application/x-www-form-urlencoded"):
            status, body = self.reload({"mode": "rollback"}, headers={"Content-Type": content_type})
            self.assertEqual((status, body["error"]), (415, "unsupported_media_type"), body)
        # A refused shadow load (no such bundle) does not use up RELOAD_MIN_INTERVAL (30 s)...
        status, body = self.reload({"mode": "shadow", "source": "no-such-bundle"})
        self.assertEqual(status, 404, body)
        self.assertNotIn(self.tmp, body["message"])  # no absolute server path in the answer
        status, body = self.reload()  # ...so the operator's empty reload right after runs
        self.assertEqual(status, 200, body)
        status, body = self.reload()  # and the interval still applies to accepted ones
        self.assertEqual(status, 429, body)
        self.svc.stop()
        audits = [m for m in self.svc.log_messages().splitlines() if m.startswith("admin audit")]
        self.assertGreaterEqual(len(audits), 5, self.svc.log())
        shadow = [a for a in audits if "action=shadow" in a]
        self.assertEqual(len(shadow), 1, audits)
        self.assertIn("from 127.0.0.1", shadow[0])
        self.assertIn("source=no-such-bundle", shadow[0])
        self.assertIn("status=404", shadow[0])


class ReadRoutesAndExceptionsTest(rt.ModellessServiceCase):
    ENV = {"ADMIN_TOKEN": TOKEN}

    def test_ids_follow_one_rule_and_a_throwing_handler_is_a_500(self):
        auth = {"Authorization": f"Bearer {TOKEN}", **JSON}
        status, _, raw = self.svc.request("POST", "/admin/faults",
                                          body=json.dumps({"handler": {"failure_rate": 1}}),
                                          headers=auth)
        self.assertEqual(status, 200, raw)
        status, _, raw = self.svc.request("GET", "/popular")
        self.assertEqual(status, 500, raw)
        self.assertEqual(json.loads(raw)["error"], "internal")
        status, _, _ = self.svc.request("DELETE", "/admin/faults", headers=auth)
        self.assertEqual(status, 200)
        self.assertEqual(self.svc.request("GET", "/popular")[0], 200)  # the replica went on
        self.assertEqual(metric(self.svc, "recommendation_handler_exceptions_total"), 1)
        for path in ["/recommendations/" + "u" * 300, "/similar/" + "i" * 257,
                     "/recommendations/a%FF%FEb", "/recommend/detail/i1?user_id=" + "u" * 300,
                     "/similar/a%7Fb"]:
            status, _, raw = self.svc.request("GET", path)
            self.assertEqual(status, 400, path)
            self.assertIn("1..256 bytes of UTF-8", json.loads(raw)["message"], path)


class ConnectionBudgetTest(rt.ModellessServiceCase):
    ENV = {"MAX_CONNECTIONS_PER_CLIENT": "4", "MAX_BODY_BYTES": "1048576",
           "MAX_BODY_BYTES_IN_FLIGHT": "2097152"}

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.svc.port), timeout=5)
        self.addCleanup(s.close)
        return s

    def read_answer(self, s):
        s.settimeout(5)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            pass
        return data

    def test_per_client_connections_and_bodies_in_flight_are_budgeted(self):
        held = []

        def admit_one():
            # Answered once: accepted, counted and kept alive. A 503 here means the server still
            # counts a connection the client has closed (the readiness probes); try again.
            s = self.connect()
            s.sendall(b"GET /live HTTP/1.1\r\nHost: x\r\n\r\n")
            if b" 200 " in self.read_answer(s).split(b"\r\n")[0]:
                held.append(s)
            else:
                s.close()
            return len(held) == 4

        self.assertTrue(rt.wait_until(admit_one, 10))
        extra = self.connect()
        self.assertIn(b"503", self.read_answer(extra).split(b"\r\n")[0])
        for s in held:
            s.close()
        self.assertGreaterEqual(metric_via_new_connection(self, "max_connections_per_client"), 1)
        # Two bodies of 1 MiB announced fill the 2 MiB budget; a third is refused before its
        # body is read.
        head = (b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 1048576\r\n\r\n[")

        def start_upload():
            s = self.connect()
            s.sendall(head)
            return s

        uploads = []
        for _ in range(2):
            uploads.append(rt.wait_until(lambda: try_upload(start_upload), 5))
        time.sleep(0.2)
        third = start_upload()
        answer = self.read_answer(third)
        self.assertIn(b"503", answer.split(b"\r\n")[0], answer)
        self.assertEqual(metric_via_new_connection(self, None), 1)
        for s in uploads:
            s.close()
        time.sleep(0.2)
        status, _ = self.svc.post_json("/events", [{"user_id": "u", "item_id": "i",
                                                    "event_type": "view"}])
        self.assertEqual(status, 200)  # the budget came back
        deep = "[" * 100 + "]" * 100
        status, _, raw = self.svc.request("POST", "/events", body=deep, headers=JSON)
        self.assertEqual(status, 400)
        self.assertIn("deeper than", json.loads(raw)["message"])


def try_upload(start):
    """A started upload, or None when the per-client cap still counts a closing connection."""
    s = start()
    s.settimeout(0.2)
    try:
        if s.recv(1, socket.MSG_PEEK):
            s.close()
            return None
    except socket.timeout:
        pass
    return s


def metric_via_new_connection(case, refused_reason):
    """Reads a transport counter once a connection is free again (the cap counts /metrics too)."""
    def read():
        try:
            if refused_reason is None:
                return metric(case.svc, "recommendation_body_budget_refused_total") or None
            return metric(case.svc, "recommendation_connections_refused_total",
                          reason=refused_reason) or None
        except (OSError, AssertionError):
            return None
    return rt.wait_until(read, 10) or 0


class EventAuthTest(rt.ModellessServiceCase):
    ENV = {"EVENTS_TOKEN": "ev-token", "EVENTS_RATE_LIMIT": "100"}

    def post(self, events, token="ev-token"):
        headers = dict(JSON)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        status, _, raw = self.svc.request("POST", "/events", body=json.dumps(events),
                                          headers=headers)
        return status, json.loads(raw)

    def test_events_need_the_token_are_limited_per_client_and_count_distinct_users(self):
        one = [{"user_id": "u1", "item_id": "i1", "event_type": "view"}]
        self.assertEqual(self.post(one, token=None)[0], 401)
        self.assertEqual(self.post(one, token="forged")[0], 403)
        # One client repeating one user's event cannot put an item on top.
        spam = [{"user_id": "spammer", "item_id": "junk", "event_type": "view"}] * 500
        self.assertEqual(self.post(spam)[0], 200)
        liked = [{"user_id": f"fan{u}", "item_id": "liked", "event_type": "view"}
                 for u in range(3)]
        self.assertEqual(self.post(liked)[0], 200)

        def counts():
            _, body = self.svc.get_json("/hot/trending?timeframe=1h&k=5")
            return {i["item_id"]: i["score"] for i in body["items"]}

        self.assertEqual(rt.wait_until(lambda: counts() == {"liked": 3, "junk": 1} and counts(), 10),
                         {"liked": 3, "junk": 1})
        # The burst (1000) is spent: the next batch is refused with Retry-After.
        status, body = self.post([{"user_id": f"x{i}", "item_id": "y", "event_type": "view"}
                                  for i in range(600)])
        self.assertEqual((status, body["error"]), (429, "rate_limited"), body)


if __name__ == "__main__":
    unittest.main()
