#!/usr/bin/env bash
# Token exchange beside client_credentials on one `tokenmint serve` (BENCHMARKS.md §6).
#
# Builds the `perf` profile, starts `tokenmint serve` over a fresh store on 127.0.0.1 and
# registers two clients: "bench" (client_credentials) and "exch" (token-exchange, same
# audience). A client_credentials token of "bench" is the subject token; every exchange
# validates it (signature, issuer, times, revocation and chain lookups), reads the step-up
# rules, and signs a new token. Rounds alternate the two workloads at each concurrency, so
# both see the same machine noise; medians over rounds and the exchange/cc ratio are printed.
#
# usage: infra/bench/exchange.sh [rounds=5] [duration=10s]
set -euo pipefail
ROUNDS=${1:-5}
DURATION=${2:-10s}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
# shellcheck source=lib.sh
source "$ROOT/infra/bench/lib.sh"
ensure_wrk
new_run_dir exchange

prepare_server
CC_SECRET=$("$BIN" --data "$DATA" client create --id bench --scope "read write" \
  --audience https://api.example.com --json | secret_of)
EX_SECRET=$("$BIN" --data "$DATA" client create --id exch --scope "read" \
  --audience https://api.example.com --grant token-exchange --json | secret_of)
start_server

SUBJECT=$(curl -sf -u "bench:$CC_SECRET" -d grant_type=client_credentials -d scope=read \
  "$BASE/oauth2/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
EX_BODY="grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=$SUBJECT&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token&scope=read"
status=$(curl -s -o "$RUN_DIR/preflight.json" -w '%{http_code}' -u "exch:$EX_SECRET" \
  --data "$EX_BODY" "$BASE/oauth2/token")
[[ $status == 200 ]] || { cat "$RUN_DIR/preflight.json" >&2; die "preflight exchange answered $status"; }

log "== token exchange vs client_credentials, $ROUNDS alternating rounds of $DURATION, raw: $RUN_DIR"
print_env
threads_for() { if [[ $1 -eq 1 ]]; then echo 1; else echo 2; fi; }
bad=0
printf '%-6s %-9s %12s %10s %10s %8s\n' c grant tokens/s p50_ms p99_ms non2xx
for c in 1 16; do
  declare -a cc_t=() cc_50=() cc_99=() ex_t=() ex_50=() ex_99=()
  for round in $(seq "$ROUNDS"); do
    r=$(BENCH_BODY='' run_wrk "cc-c$c-$round" "$BASE" /oauth2/token bench "$CC_SECRET" read \
      https://api.example.com "$(threads_for "$c")" "$c" "$DURATION")
    cc_t+=("$(field "$r" tokens_per_s)"); cc_50+=("$(field "$r" p50_ms)"); cc_99+=("$(field "$r" p99_ms)")
    bad=$((bad + $(field "$r" non2xx)))
    r=$(BENCH_BODY=$EX_BODY run_wrk "ex-c$c-$round" "$BASE" /oauth2/token exch "$EX_SECRET" read \
      https://api.example.com "$(threads_for "$c")" "$c" "$DURATION")
    ex_t+=("$(field "$r" tokens_per_s)"); ex_50+=("$(field "$r" p50_ms)"); ex_99+=("$(field "$r" p99_ms)")
    bad=$((bad + $(field "$r" non2xx)))
  done
  printf '%-6s %-9s %12s %10s %10s\n' "$c" cc "$(median "${cc_t[@]}")" "$(median "${cc_50[@]}")" "$(median "${cc_99[@]}")"
  printf '%-6s %-9s %12s %10s %10s\n' "$c" exchange "$(median "${ex_t[@]}")" "$(median "${ex_50[@]}")" "$(median "${ex_99[@]}")"
  awk -v a="$(median "${ex_t[@]}")" -v b="$(median "${cc_t[@]}")" -v p="$(median "${ex_50[@]}")" -v q="$(median "${cc_50[@]}")" \
    'BEGIN { printf "c=%s ratio exchange/cc: throughput %.2f, p50 %.2f\n", "'"$c"'", a / b, p / q }'
  unset cc_t cc_50 cc_99 ex_t ex_50 ex_99
done
echo "non-2xx responses: $bad"
[[ $bad -eq 0 ]]
