#!/usr/bin/env python3
"""Event-to-effect delay across replicas (docs/PERFORMANCE.md, "Durable event ingest (issue 15)").

Brings up a local fleet (scripts/fleet.sh, 3 replicas), then:
  1. rate phase: single-event POST /events batches to replica 0 at RATE per second for SECONDS
     (one keep-alive connection, paced), reading recommendation_event_to_effect_seconds from
     replicas 1 and 2 before and after: p50/p99 of the difference, interpolated within the
     histogram's buckets (the replica's own measurement: acceptance on replica 0 -> applied here);
  2. direct phase: PROBES times, a fresh item id posted to replica 0 (one batch, 20 distinct users,
     so it tops the 1h trending list) and replica 1's /hot/trending polled every ~2 ms until it
     shows: the delay after replica 0's 200 as a client sees it (includes the poll's own latency).
Stops the fleet afterwards. Not part of `make test`.

Usage: bench/event_to_effect.py [--rate 200] [--seconds 20] [--probes 40] [--replicas 3]
Env: RECSERVE_BIN (build/recserve), FLEET_DATA_ROOT / FLEET_MODEL_DIR (default data/ and models/;
when models/current is missing a small ML-100K bundle is trained into the workdir, as
bench/fleet_events.sh does), RECSERVE_SHARED_DATA (../shared/data).
"""
import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
os.environ.setdefault("RECSERVE_SOURCE_DIR", ROOT)
from fleet_testing import Fleet  # noqa: E402

HIST = "recommendation_event_to_effect_seconds"


def histogram(url):
    """{le: cumulative count} of HIST on one replica (le as float, +Inf included)."""
    with urllib.request.urlopen(url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith(HIST + "_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            out[float("inf") if le == "+Inf" else float(le)] = float(line.rsplit(" ", 1)[1])
    return out


def quantile(buckets, q):
    """q-quantile of a cumulative histogram, linear within the bucket (Prometheus-style)."""
    bounds = sorted(buckets)
    total = buckets[bounds[-1]]
    if total <= 0:
        return float("nan")
    rank = q * total
    prev_bound, prev_count = 0.0, 0.0
    for b in bounds:
        count = buckets[b]
        if count >= rank:
            if b == float("inf"):
                return prev_bound
            if count == prev_count:
                return b
            return prev_bound + (b - prev_bound) * (rank - prev_count) / (count - prev_count)
        prev_bound, prev_count = b, count
    return bounds[-1]


class Conn:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)

    def request(self, method, path, body=None):
        headers = {"Content-Type": "application/json"} if body is not None else {}
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        return resp.status, resp.read()


def ensure_bundle(workdir):
    data_root = os.environ.get("FLEET_DATA_ROOT", os.path.join(ROOT, "data"))
    model_dir = os.environ.get("FLEET_MODEL_DIR", os.path.join(ROOT, "models"))
    if os.path.exists(os.path.join(model_dir, "current")):
        return data_root, model_dir
    shared = os.environ.get("RECSERVE_SHARED_DATA", os.path.join(ROOT, "..", "shared", "data"))
    bundle = os.path.join(workdir, "bundle")
    print(f"event_to_effect: no {model_dir}/current; training a small ML-100K bundle into {bundle}",
          flush=True)
    subprocess.run([os.environ["RECSERVE_BIN"], "pipeline", "--data", f"{shared}/ml-100k",
                    "--data-root", f"{bundle}/data", "--models-root", f"{bundle}/models",
                    "--mlruns", f"{bundle}/mlruns", "--run-id", "bench", "--factors", "8",
                    "--iterations", "2", "--trees", "10", "--depth", "3", "--neighbours", "20",
                    "--candidates", "50", "--threads", "1"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, "OMP_WAIT_POLICY": "passive"})
    return f"{bundle}/data", f"{bundle}/models"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--probes", type=int, default=40)
    ap.add_argument("--replicas", type=int, default=3)
    args = ap.parse_args()
    os.environ.setdefault("RECSERVE_BIN", os.path.join(ROOT, "build", "recserve"))
    workdir = tempfile.mkdtemp(prefix="recserve-bench-e2e-")
    try:
        data_root, model_dir = ensure_bundle(workdir)
        env = {"EVENTS_RATE_LIMIT": "0", "REQUEST_TIMEOUT": "5", "HTTP_THREADS": "2",
               "OMP_WAIT_POLICY": "passive"}
        with Fleet(replicas=args.replicas, env=env, workdir=os.path.join(workdir, "fleet"),
                   data_root=data_root, model_dir=model_dir) as fleet:
            run(fleet, args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run(fleet, args):
    urls = [r["url"] for r in fleet.replicas]
    readers = urls[1:]
    print(f"event_to_effect: {len(urls)} replicas, {os.cpu_count()} cores, load average "
          f"{open('/proc/loadavg').read().split()[:3]}", flush=True)
    before = [histogram(u) for u in readers]
    post = Conn(urls[0])
    run_id = uuid.uuid4().hex[:8]
    interval = 1.0 / args.rate
    start = time.monotonic()
    sent = ok = 0
    next_at = start
    while time.monotonic() - start < args.seconds:
        now = time.monotonic()
        if next_at > now:
            time.sleep(next_at - now)
        next_at += interval
        body = json.dumps([{"event_id": f"e2e-{run_id}-{sent}", "user_id": str(1 + sent % 943),
                            "item_id": str(1 + (sent * 7) % 1682), "event_type": "view"}])
        status, _ = post.request("POST", "/events", body)
        sent += 1
        ok += status == 200
    elapsed = time.monotonic() - start
    time.sleep(1.5)  # the last events reach the readers
    after = [histogram(u) for u in readers]
    print(f"rate phase: {sent} single-event posts to replica 0 in {elapsed:.1f}s "
          f"({sent / elapsed:.0f}/s, {ok} answered 200)")
    merged = {}
    for i, (b, a) in enumerate(zip(before, after)):
        diff = {le: a.get(le, 0) - b.get(le, 0) for le in a}
        for le, c in diff.items():
            merged[le] = merged.get(le, 0) + c
        print(f"  replica {i + 1} histogram: {diff[float('inf')]:.0f} events, "
              f"p50 {quantile(diff, 0.5) * 1000:.1f} ms, p99 {quantile(diff, 0.99) * 1000:.1f} ms")
    print(f"  replicas 1+2: p50 {quantile(merged, 0.5) * 1000:.1f} ms, "
          f"p99 {quantile(merged, 0.99) * 1000:.1f} ms (interpolated within the buckets "
          f"1, 2.5, 5, 10, 25, 50, 100, 250 ms, ...)")

    poll = Conn(urls[1])
    delays, missed = [], 0
    for p in range(args.probes):
        item = f"e2e-fresh-{run_id}-{p}"
        body = json.dumps([{"user_id": f"e2e-probe-{run_id}-{p}-{u}", "item_id": item,
                            "event_type": "view"} for u in range(20)])
        status, _ = post.request("POST", "/events", body)
        assert status == 200, status
        posted = time.monotonic()
        seen = None
        while time.monotonic() - posted < 5:
            _, raw = poll.request("GET", "/hot/trending?timeframe=1h&k=50")
            if any(e["item_id"] == item for e in json.loads(raw)["items"]):
                seen = time.monotonic() - posted
                break
            time.sleep(0.002)
        if seen is None:
            missed += 1
        else:
            delays.append(seen)
        time.sleep(0.05)
    delays.sort()
    pick = lambda q: delays[min(len(delays) - 1, int(q * len(delays)))] * 1000  # noqa: E731
    print(f"direct phase: {len(delays)} of {args.probes} fresh items seen on replica 1's trending "
          f"after replica 0's 200: p50 {pick(0.5):.1f} ms, p99 {pick(0.99):.1f} ms, max "
          f"{delays[-1] * 1000:.1f} ms ({missed} not seen within 5 s)", flush=True)


if __name__ == "__main__":
    main()
