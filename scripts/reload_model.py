#!/usr/bin/env python3
"""Client for the service's `POST /models/reload` (runbook section 3). Python standard library only.

  scripts/reload_model.py --mode shadow --source models/staging/run --rollout 0.05
  scripts/reload_model.py --mode primary                 # promote the current shadow
  scripts/reload_model.py --mode primary --source DIR    # replace the primary directly
  scripts/reload_model.py --mode rollback                # restore the previous primary
  scripts/reload_model.py --mode refresh                 # empty body: reload sources, reconnect

--host is a base URL or host:port (default http://127.0.0.1:8080). The admin token comes from
--token, else the ADMIN_TOKEN environment variable, and is sent as `Authorization: Bearer`.
Prints the service's answer (JSON, pretty-printed when it parses) on stdout.
Exit code: 0 on HTTP 2xx, 1 on an HTTP error status, 2 on a usage error, 3 when the service
cannot be reached.
"""
import argparse
import json
import os
import sys
import urllib.error
import urllib.request

MODES = ("shadow", "primary", "rollback", "refresh")


class UsageError(Exception):
    pass


def parse_args(argv):
    parser = argparse.ArgumentParser(description="POST /models/reload")
    parser.add_argument("--host", default="http://127.0.0.1:8080",
                        help="service base URL or host:port (default %(default)s)")
    parser.add_argument("--mode", required=True, choices=MODES)
    parser.add_argument("--source", help="bundle directory inside the service's models root")
    parser.add_argument("--rollout", type=float, help="share of users shadowed, 0..1 (shadow only)")
    parser.add_argument("--token", help="admin token (default: $ADMIN_TOKEN)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds (default %(default)s)")
    return parser.parse_args(argv)


def base_url(host):
    host = host.rstrip("/")
    return host if "://" in host else "http://" + host


def build_request(args, env):
    """Returns (url, body bytes, headers) for the parsed arguments; raises UsageError."""
    body = None
    if args.mode == "refresh":
        if args.source is not None or args.rollout is not None:
            raise UsageError("--mode refresh takes neither --source nor --rollout")
    elif args.mode == "rollback":
        if args.source is not None or args.rollout is not None:
            raise UsageError("--mode rollback takes neither --source nor --rollout")
        body = {"mode": "rollback"}
    elif args.mode == "primary":
        if args.rollout is not None:
            raise UsageError("--rollout applies to --mode shadow only")
        body = {"mode": "primary"}
        if args.source is not None:
            body["source"] = args.source
    else:  # shadow
        if not args.source:
            raise UsageError("--mode shadow needs --source")
        body = {"mode": "shadow", "source": args.source}
        if args.rollout is not None:
            if not 0.0 <= args.rollout <= 1.0:
                raise UsageError("--rollout must be within 0..1")
            body["rollout"] = args.rollout
    headers = {}
    data = b""
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    token = args.token if args.token is not None else env.get("ADMIN_TOKEN")
    if token:
        headers["Authorization"] = "Bearer " + token
    return base_url(args.host) + "/models/reload", data, headers


def print_answer(raw):
    text = raw.decode("utf-8", errors="replace")
    try:
        print(json.dumps(json.loads(text), indent=2, sort_keys=True))
    except ValueError:
        print(text)


def main(argv, env=os.environ):
    args = parse_args(argv)
    try:
        url, data, headers = build_request(args, env)
    except UsageError as e:
        print(f"reload_model.py: {e}", file=sys.stderr)
        return 2
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=args.timeout) as response:
            print_answer(response.read())
            return 0
    except urllib.error.HTTPError as e:
        print_answer(e.read())
        print(f"reload_model.py: HTTP {e.code} from {url}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError) as e:
        print(f"reload_model.py: cannot reach {url}: {e}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
