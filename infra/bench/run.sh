#!/usr/bin/env bash
# One command for the load figures in BENCHMARKS.md: builds tokenmint (the release profile, as
# `cargo run --release` does; BENCH_PROFILE=perf for opt-level 3 throughout), starts
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
# shellcheck source=lib.sh
source "$ROOT/infra/bench/lib.sh"

prepare_server
SECRET=$("$BIN" --data "$DATA" client create --id bench --scope "read write" \
  --audience https://api.example.com --json | secret_of)
# Audit events stay on (RUST_LOG=info, the default); they go to a file, as they would to a
# log shipper.
start_server

status=0
TOKENMINT_PID=$SERVER_PID "$ROOT/infra/bench/load.sh" "$BASE" bench "$SECRET" "$DURATION" \
  || status=$?
TOKENMINT_PID=$SERVER_PID "$ROOT/infra/bench/compare.sh" "$BASE" bench "$SECRET" "$ROUNDS" "$DURATION" \
  || status=$?
printf 'audit lines written by the server: %s\n' "$(wc -l <"$DATA/serve.log")"
exit "$status"
