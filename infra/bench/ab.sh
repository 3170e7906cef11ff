#!/usr/bin/env bash
# A/B of two tokenmint binaries under load: in each round, each binary in turn starts
# `tokenmint serve` on a fresh store in a temporary directory on 127.0.0.1, registers a
# benchmark client and runs load.sh; alternating rounds share the machine's noise.
#
# usage: infra/bench/ab.sh BEFORE_BIN AFTER_BIN [rounds=3] [duration=8s]
#   BENCH_CONCURRENCY (default "1 16 64") and BENCH_WARMUP (default 2s) pass to load.sh.
set -euo pipefail
[[ $# -ge 2 && $# -le 4 ]] || { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BEFORE=$1 AFTER=$2 ROUNDS=${3:-3} DURATION=${4:-8s}
export BENCH_CONCURRENCY=${BENCH_CONCURRENCY:-"1 16 64"} BENCH_WARMUP=${BENCH_WARMUP:-2s}
PID= DATA=
cleanup() { [[ -n $PID ]] && kill "$PID" 2>/dev/null; [[ -n $DATA ]] && rm -rf "$DATA"; return 0; }
trap cleanup EXIT
for r in $(seq "$ROUNDS"); do
  for which in before after; do
    BIN=$BEFORE; [[ $which == after ]] && BIN=$AFTER
    DATA=$(mktemp -d)
    SECRET=$("$BIN" --data "$DATA" client create --id bench --scope "read write" \
      --audience https://api.example.com --json 2>/dev/null |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$BIN" --data "$DATA" serve --addr "127.0.0.1:$port" >"$DATA/serve.log" 2>"$DATA/serve.err" &
    PID=$!
    for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/.well-known/jwks.json" && break; sleep 0.1; done
    echo "### round $r $which ($BIN)"
    TOKENMINT_PID=$PID "$ROOT/infra/bench/load.sh" "http://127.0.0.1:$port" bench "$SECRET" \
      "$DURATION" 2>/dev/null |
      grep -E '^(concurrency|[0-9]+ )'
    kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
    rm -rf "$DATA"; DATA=
  done
done
