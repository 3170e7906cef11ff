#!/usr/bin/env bash
# One command for the load figures in BENCHMARKS.md: builds tokenmint for throughput (profile
# `perf`: the release profile at opt-level 3; release itself is size-optimised for Lambda), starts
# `tokenmint serve` over a fresh store in a temporary directory on 127.0.0.1, registers a
# benchmark client, then runs load.sh (c=1, 16, 64) and compare.sh (against node-oidc-provider
# 9, alternating rounds), and stops the server.
#
# usage: infra/bench/run.sh [rounds=3] [duration=10s]
#   TOKENMINT_SIGNING_ALG selects the key (default ES256, as node-oidc-provider's).
set -euo pipefail
ROUNDS=${1:-3}
DURATION=${2:-10s}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

cargo build --profile perf --locked -p tokenmint-cli >&2
BIN=$ROOT/target/perf/tokenmint
DATA=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SERVER_PID=
cleanup() {
  [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$DATA"
}
trap cleanup EXIT

SECRET=$("$BIN" --data "$DATA" client create --id bench --scope "read write" \
  --audience https://api.example.com --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
# Audit events stay on (RUST_LOG=info, the default); they go to a file, as they would to a
# log shipper.
"$BIN" --data "$DATA" serve --addr "127.0.0.1:$PORT" >"$DATA/serve.log" 2>"$DATA/serve.err" &
SERVER_PID=$!
for _ in $(seq 50); do
  curl -s -o /dev/null "http://127.0.0.1:$PORT/.well-known/jwks.json" && break
  sleep 0.1
done

status=0
"$ROOT/infra/bench/load.sh" "http://127.0.0.1:$PORT" bench "$SECRET" "$DURATION" || status=$?
"$ROOT/infra/bench/compare.sh" "http://127.0.0.1:$PORT" bench "$SECRET" "$ROUNDS" "$DURATION" || status=$?
printf 'audit lines written by the server: %s\n' "$(wc -l <"$DATA/serve.log")"
exit "$status"
