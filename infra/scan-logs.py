#!/usr/bin/env python3
"""Fails if any secret or token the test run created appears in its logs.

usage: scan-logs.py CANARIES LOG...

CANARIES holds one value per line: every client secret, access token, refresh token and
upstream token the integration tests created (tests/it/harness.rs `canary`). The LOGs are the
in-process servers' JSON log lines (debug level, audit events included) and the whole output
of `cargo test`, which carries the function binaries' and the CLI's logs. Also refused: any
compact JWS at all in a log line. The scan must have something to scan: no canaries or no log
lines is a failure too, so a broken set-up cannot pass as a clean log.
"""
import re
import sys

JWS = re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+")


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
        canaries = {line.strip() for line in f if len(line.strip()) >= 16}
    lines = []
    for path in sys.argv[2:]:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines.extend((path, n, line) for n, line in enumerate(f, 1))
    audit = sum('"target":"audit"' in l for _, _, l in lines)
    print(f"log scan: {len(canaries)} secrets and tokens, {len(lines)} log lines "
          f"({audit} audit events)")
    if not canaries or not lines or audit == 0:
        print("log scan: nothing to scan; the test logging is not set up", file=sys.stderr)
        return 1
    bad = 0
    for path, n, line in lines:
        # cargo's own test-name lines can quote nothing secret; assertion messages might.
        leaked = [c for c in canaries if c in line]
        jws = JWS.search(line)
        if leaked or jws:
            bad += 1
            what = "a test secret or token" if leaked else "a compact JWS"
            print(f"{path}:{n}: {what} in a log line: {line[:160].rstrip()}…", file=sys.stderr)
    if bad:
        print(f"log scan: {bad} log lines carry secrets or tokens", file=sys.stderr)
        return 1
    print("log scan: no secret or token in any log line")
    return 0


if __name__ == "__main__":
    sys.exit(main())
