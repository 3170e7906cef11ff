#!/usr/bin/env bash
# Load profile of tokenmint alone: client_credentials at concurrency 1, 16, 64.
#
# usage: load.sh TOKENMINT_URL CLIENT_ID CLIENT_SECRET [duration=10s]
#
#   TOKENMINT_URL  base URL of a running tokenmint on loopback, e.g.
#                  http://127.0.0.1:8080 (a path in the URL, if any, is used
#                  as the token endpoint path unless TOKENMINT_PATH is set)
#
# Environment overrides (defaults in brackets):
#   TOKENMINT_PATH [/oauth2/token]  TOKENMINT_SCOPE [read]
#   TOKENMINT_RESOURCE [https://api.example.com]
#   BENCH_CONCURRENCY ["1 16 64"]  BENCH_WARMUP [3s]
#   TOKENMINT_PID: the server's pid; with it, each level also reports the server's CPU time
#   (user + system, /proc/PID/stat) per token issued, in microseconds
#
# wrk uses -t1 at concurrency 1 and -t2 otherwise.
# Exit status: 0 = ok, 1 = some non-2xx response was seen, 2 = setup error.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

[[ $# -ge 3 && $# -le 4 ]] || usage
TM_URL=$1
TM_ID=$2
TM_SECRET=$3
DURATION=${4:-10s}
[[ $DURATION =~ ^[1-9][0-9]*[smh]?$ ]] || die "duration must look like 10s, 1m: $DURATION"

split_url "$TM_URL"
TM_BASE=$URL_BASE
TM_PATH=${TOKENMINT_PATH:-${URL_PATH:-/oauth2/token}}
TM_SCOPE=${TOKENMINT_SCOPE-read}
TM_RESOURCE=${TOKENMINT_RESOURCE-https://api.example.com}
read -r -a LEVELS <<<"${BENCH_CONCURRENCY:-1 16 64}"
[[ ${#LEVELS[@]} -gt 0 ]] || die "BENCH_CONCURRENCY is empty"
for c in "${LEVELS[@]}"; do
  [[ $c =~ ^[1-9][0-9]*$ ]] || die "bad concurrency level: $c"
done
WARMUP=${BENCH_WARMUP:-3s}

ensure_wrk
command -v curl >/dev/null 2>&1 || die "curl is required"
new_run_dir load

log "== tokenmint load profile: $TM_BASE$TM_PATH, concurrency ${LEVELS[*]}, -d$DURATION --latency"
print_env
log "client_id=$TM_ID scope='$TM_SCOPE' resource='$TM_RESOURCE'; raw output: $RUN_DIR"

preflight tokenmint "$TM_BASE" "$TM_PATH" "$TM_ID" "$TM_SECRET" "$TM_SCOPE" "$TM_RESOURCE"

threads_for() { if [[ $1 -eq 1 ]]; then echo 1; else echo 2; fi; }

r=$(run_wrk warmup "$TM_BASE" "$TM_PATH" "$TM_ID" "$TM_SECRET" "$TM_SCOPE" "$TM_RESOURCE" \
  "$(threads_for "${LEVELS[-1]}")" "${LEVELS[-1]}" "$WARMUP")
NON2XX_TOTAL=$(field "$r" non2xx)
SOCKERR_TOTAL=0
log "warm-up ($WARMUP at c=${LEVELS[-1]}): $(field "$r" tokens_per_s) tokens/s, non2xx=$NON2XX_TOTAL"

printf '%-11s %-8s %12s %10s %10s %10s %10s %8s %8s %18s  %s\n' \
  concurrency threads tokens/s requests p50_ms p90_ms p99_ms non2xx sockerr cpu_us/token loadavg
for c in "${LEVELS[@]}"; do
  t=$(threads_for "$c")
  la=$(loadavg)
  before=""
  [[ -n ${TOKENMINT_PID:-} ]] && before=$(cpu_ticks "$TOKENMINT_PID")
  r=$(run_wrk "c$c" "$TM_BASE" "$TM_PATH" "$TM_ID" "$TM_SECRET" "$TM_SCOPE" "$TM_RESOURCE" \
    "$t" "$c" "$DURATION")
  cpu="-"
  if [[ -n $before ]]; then
    tokens=$(( $(field "$r" requests) - $(field "$r" non2xx) ))
    read -r total user system < <(cpu_per_token "$before" "$(cpu_ticks "$TOKENMINT_PID")" "$tokens")
    cpu="$total ($user+$system)"
  fi
  printf '%-11s %-8s %12s %10s %10s %10s %10s %8s %8s %18s  %s\n' "$c" "$t" \
    "$(field "$r" tokens_per_s)" "$(field "$r" requests)" "$(field "$r" p50_ms)" \
    "$(field "$r" p90_ms)" "$(field "$r" p99_ms)" "$(field "$r" non2xx)" \
    "$(field "$r" socket_errors)" "$cpu" "$la"
  NON2XX_TOTAL=$((NON2XX_TOTAL + $(field "$r" non2xx)))
  SOCKERR_TOTAL=$((SOCKERR_TOTAL + $(field "$r" socket_errors)))
done

echo "non-2xx (incl. warm-up): $NON2XX_TOTAL; socket errors: $SOCKERR_TOTAL; raw wrk output: $RUN_DIR"
if [[ $SOCKERR_TOTAL -gt 0 ]]; then
  log "warning: wrk reported socket errors (connect/read/write/timeout); see the raw output"
fi
if [[ $NON2XX_TOTAL -gt 0 ]]; then
  echo "FAIL: non-2xx responses were seen" >&2
  exit 1
fi
echo "OK: zero non-2xx responses"
