"""Abuse resistance of the HTTP transport (src/http/server*.cpp: server_session, server_acceptor, server_admission), against the real binary on
loopback: slowloris clients are cut off by a header deadline that trickling bytes cannot extend,
huge headers get 431 and huge bodies 413 (connection closed, server fine), 10,000 idle
connections do not starve a normal client, connections beyond MAX_CONNECTIONS get 503, idle
keep-alive connections time out on their own (shorter) timer, and accept() survives running out
of file descriptors. Every wait in here is bounded; no assertion depends on how fast the machine
is, only on what the server answered, closed and counted.

No model is needed: the transport is exercised through /live, /popular and /events."""
import contextlib
import os
import resource
import select
import shutil
import socket
import tempfile
import time
import unittest

import recserve_testing as rt

IDLE_CONNECTIONS = 10_000


def metric(svc, name, **labels):
    status, _, body = svc.request("GET", "/metrics", timeout=10)
    if status != 200:
        raise AssertionError(f"/metrics answered {status}")
    values = rt.parse_prometheus_text(body.decode())
    return values.get((name, frozenset(labels.items())), 0.0)


def closed_by_peer(sock, wait=0.0):
    """True when the server has closed `sock` (EOF or reset), reading and dropping any data."""
    readable, _, _ = select.select([sock], [], [], wait)
    if not readable:
        return False
    try:
        return sock.recv(65536) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


def read_until_closed(sock, budget_seconds=10):
    """Everything the server sends until it closes the connection (bounded)."""
    sock.settimeout(budget_seconds)
    chunks = []
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    except (ConnectionResetError, BrokenPipeError):
        pass
    return b"".join(chunks)


def status_of(raw):
    line = raw.split(b"\r\n", 1)[0].decode(errors="replace")
    parts = line.split(" ")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def no_model_env(tmp, **extra):
    """A serve environment without bundle, feature store or report: the transport alone."""
    env = {"MODEL_DIR": os.path.join(tmp, "no-models"),
           "FEATURE_STORE_PATH": os.path.join(tmp, "none.db"),
           "DATA_QUALITY_REPORT": os.path.join(tmp, "none.json"),
           "BIND_ADDRESS": "127.0.0.1", "HTTP_THREADS": "2"}
    env.update({k: str(v) for k, v in extra.items()})
    return env


@contextlib.contextmanager
def serving(env):
    """A running server without a model (so /live, not /ready, tells that it is up)."""
    svc = rt.Service(env=env)
    svc.start(wait_ready=False)
    try:
        yield svc
    finally:
        svc.stop()


@contextlib.contextmanager
def descriptor_limit(soft):
    """Temporarily sets this process's soft RLIMIT_NOFILE (children started inside inherit it)."""
    old_soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (old_soft, hard))


class HttpAbuseTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="recserve-abuse-")
        self.sockets = []

    def tearDown(self):
        for s in self.sockets:
            s.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def connect(self, svc, timeout=10):
        s = socket.create_connection(("127.0.0.1", svc.port), timeout=timeout)
        self.sockets.append(s)
        return s

    def assert_serves(self, svc, path="/live"):
        status, _, body = svc.request("GET", path, timeout=10)
        self.assertEqual(status, 200, body)

    # ---------------------------------------------------------------------------------- slowloris
    def test_slowloris_is_cut_off_by_the_header_deadline_while_others_are_served(self):
        # Header deadline 1 s from the first byte; idle and whole-request timeouts far longer, so
        # only the header deadline can close these connections. Each client sends one more header
        # byte every 0.1 s: a deadline that reset per byte would never pass.
        env = no_model_env(self.tmp, HTTP_HEADER_TIMEOUT=1, HTTP_IDLE_TIMEOUT=60,
                           HTTP_READ_TIMEOUT=60, HTTP_THREADS=1)
        drippers = 20
        drip_seconds = 10  # 10x the header deadline
        with serving(env) as svc:
            slow = [self.connect(svc) for _ in range(drippers)]
            for s in slow:
                s.sendall(b"GET /live HTTP/1.1\r\nHost: x\r\nX-Drip: ")
            open_socks = set(slow)
            served = []
            deadline = time.monotonic() + drip_seconds
            while open_socks and time.monotonic() < deadline:
                for s in list(open_socks):
                    if closed_by_peer(s):
                        open_socks.discard(s)
                        continue
                    try:
                        s.send(b"a")
                    except (BrokenPipeError, ConnectionResetError):
                        open_socks.discard(s)
                # Another client, meanwhile, gets answers.
                served.append(svc.request("GET", "/live", timeout=10)[0])
                time.sleep(0.1)
            self.assertEqual(open_socks, set(),
                             f"{len(open_socks)} dripping client(s) still connected after "
                             f"{drip_seconds} s with a 1 s header deadline")
            self.assertTrue(served)
            self.assertEqual(set(served), {200})
            self.assertGreaterEqual(
                metric(svc, "recommendation_connections_timed_out_total", phase="header"),
                drippers)
            self.assertEqual(
                metric(svc, "recommendation_connections_timed_out_total", phase="idle"), 0)

    def test_idle_connections_time_out_on_their_own_timer(self):
        # Idle timeout 0.5 s; header and request timeouts 60 s: an idle connection (new, or
        # kept alive after an answer) is closed by the idle timer alone.
        env = no_model_env(self.tmp, HTTP_IDLE_TIMEOUT=0.5, HTTP_HEADER_TIMEOUT=60,
                           HTTP_READ_TIMEOUT=60)
        with serving(env) as svc:
            fresh = self.connect(svc)
            kept = self.connect(svc)
            kept.sendall(b"GET /live HTTP/1.1\r\nHost: x\r\n\r\n")
            kept.settimeout(10)
            self.assertIn(b" 200 ", kept.recv(65536).split(b"\r\n", 1)[0] + b" ")
            self.assertTrue(rt.wait_until(lambda: closed_by_peer(fresh, 0.1), 20))
            self.assertTrue(rt.wait_until(lambda: closed_by_peer(kept, 0.1), 20))
            self.assertGreaterEqual(
                metric(svc, "recommendation_connections_timed_out_total", phase="idle"), 2)
            self.assertEqual(
                metric(svc, "recommendation_connections_timed_out_total", phase="header"), 0)

    def test_a_quiet_keep_alive_client_is_not_taken_for_a_queued_one(self):
        # Load shedding charges a request the time it may have waited for its I/O thread. A
        # client that pauses between requests on a kept-alive connection, while the server is
        # idle, waited for nothing: its requests must be served, not shed, even when the pause
        # is far longer than REQUEST_TIMEOUT.
        env = no_model_env(self.tmp, REQUEST_TIMEOUT=0.2, RANKING_TIMEOUT=0.05)
        with serving(env) as svc:
            conn = rt.http.client.HTTPConnection("127.0.0.1", svc.port, timeout=10)
            try:
                for path in ["/popular?k=3", "/recommendations/u1?k=3", "/popular?k=3"]:
                    conn.request("GET", path)
                    resp = conn.getresponse()
                    self.assertEqual(resp.status, 200, resp.read())
                    resp.read()
                    time.sleep(1)
            finally:
                conn.close()
            self.assertEqual(metric(svc, "recommendation_load_shed_total", reason="queue_wait"),
                             0)

    # ------------------------------------------------------------------------- header and body
    def test_huge_header_is_431_with_a_reason_and_the_connection_closes(self):
        with serving(no_model_env(self.tmp)) as svc:
            for request in (
                    # one enormous field
                    b"GET /live HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n",
                    # many small fields
                    b"GET /live HTTP/1.1\r\nHost: x\r\n" +
                    b"".join(b"X-F%d: v\r\n" % i for i in range(4000)) + b"\r\n",
                    # an enormous request line
                    b"GET /live?" + b"q" * 40000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"):
                s = self.connect(svc)
                try:
                    s.sendall(request)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the server may answer and close before reading everything
                raw = read_until_closed(s)
                self.assertEqual(status_of(raw), 431, raw[:200])
                self.assertIn(b"request header larger than 16384 bytes", raw)
                self.assertIn(b'"error":"resource_exhausted"', raw)
                self.assertIn(b"Connection: close", raw)
            self.assert_serves(svc)

    def test_huge_body_is_413_and_the_connection_closes(self):
        with serving(no_model_env(self.tmp, MAX_BODY_BYTES=4096)) as svc:
            # Declared too large: refused before any body byte is read.
            s = self.connect(svc)
            s.sendall(b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 1000000000\r\n\r\n")
            raw = read_until_closed(s)
            self.assertEqual(status_of(raw), 413, raw[:200])
            self.assertIn(b"request body larger than 4096 bytes", raw)
            # Chunked, growing past the limit while it arrives.
            s = self.connect(svc)
            s.sendall(b"POST /events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            try:
                for _ in range(10):
                    s.sendall(b"400\r\n" + b"[" * 1024 + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            raw = read_until_closed(s)
            self.assertEqual(status_of(raw), 413, raw[:200])
            self.assert_serves(svc)

    # --------------------------------------------------------------------------- connections
    def test_ten_thousand_idle_connections_do_not_starve_a_normal_client(self):
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        target = 20000 if hard == resource.RLIM_INFINITY else min(hard, 20000)
        if target < IDLE_CONNECTIONS + 1000:
            self.skipTest(f"descriptor hard limit {hard} is too low for {IDLE_CONNECTIONS}")
        with descriptor_limit(target):
            # The server inherits the raised limit; MAX_CONNECTIONS defaults to it minus 256.
            with serving(no_model_env(self.tmp)) as svc:
                for _ in range(IDLE_CONNECTIONS):
                    self.connect(svc)
                held = rt.wait_until(
                    lambda: metric(svc, "recommendation_open_connections") >= IDLE_CONNECTIONS,
                    60, interval=0.2)
                self.assertTrue(held, "the server did not hold 10,000 idle connections")
                for path in ["/live", "/popular?k=5", "/hot/trending?k=5"] * 10:
                    self.assert_serves(svc, path)
                status, body = svc.post_json(
                    "/events", {"user_id": "u1", "item_id": "i1", "event_type": "view"})
                self.assertEqual(status, 200, body)
                rss = metric(svc, "process_resident_memory_bytes")
                print(f"idle connections: open={metric(svc, 'recommendation_open_connections'):.0f}"
                      f" rss_mb={rss / 2**20:.1f}", flush=True)
                self.assertEqual(metric(svc, "recommendation_connections_refused_total",
                                        reason="max_connections"), 0)

    def test_connections_beyond_max_connections_get_503_and_are_closed(self):
        limit = 20
        with serving(no_model_env(self.tmp, MAX_CONNECTIONS=limit)) as svc:
            idle = [self.connect(svc) for _ in range(limit)]
            # Once the server holds all `limit` idle connections, the next one is refused.
            refused = []

            def one_more_is_refused():
                s = self.connect(svc)
                raw = read_until_closed(s)
                if status_of(raw) == 503:
                    refused.append(raw)
                    return True
                return False

            self.assertTrue(rt.wait_until(one_more_is_refused, 30, interval=0.1))
            raw = refused[0]
            self.assertIn(b"Retry-After: 1", raw)
            self.assertIn(b'"reason":"busy"', raw)
            for s in idle:
                s.close()
            # Slots free up as the server notices the closes.
            self.assertTrue(rt.wait_until(lambda: self.try_live(svc) == 200, 30, interval=0.1))
            self.assertGreaterEqual(metric(svc, "recommendation_connections_refused_total",
                                           reason="max_connections"), 1)

    @staticmethod
    def try_live(svc):
        """None while the server still refuses (503 or reset), else the status."""
        try:
            status = svc.request("GET", "/live", timeout=10)[0]
        except OSError:
            return None
        return None if status == 503 else status

    def test_accept_survives_running_out_of_descriptors(self):
        # The server gets 64 descriptors but MAX_CONNECTIONS=1000: accept() fails with EMFILE.
        # It must keep running, shed the extra connections with 503 through its reserved
        # descriptor (no busy loop on the backlog), and serve again once clients leave.
        with descriptor_limit(64):
            svc = rt.Service(env=no_model_env(self.tmp, MAX_CONNECTIONS=1000))
            svc.start(wait_ready=False)
        try:
            idle = [self.connect(svc) for _ in range(100)]
            # 64 descriptors cannot hold 100 connections: at least the last 20 are shed.
            answers = [status_of(read_until_closed(s, 10)) for s in idle[-20:]]
            self.assertEqual(answers, [503] * 20)
            for s in idle:
                s.close()
            self.assertTrue(rt.wait_until(lambda: self.try_live(svc) == 200, 30, interval=0.1))
            self.assertGreaterEqual(metric(svc, "recommendation_connections_refused_total",
                                           reason="fd_exhausted"), 1)
            self.assertIn("accept failed", svc.log())
            self.assertIsNone(svc.proc.poll())
        finally:
            self.assertEqual(svc.stop(), 0, svc.log())


if __name__ == "__main__":
    unittest.main()
