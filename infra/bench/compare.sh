#!/usr/bin/env bash
# Compare tokenmint's client_credentials throughput with node-oidc-provider 9.
#
# usage: compare.sh TOKENMINT_URL CLIENT_ID CLIENT_SECRET [rounds=3] [duration=10s]
#
#   TOKENMINT_URL  base URL of a running tokenmint on loopback, e.g.
#                  http://127.0.0.1:8080 (a path in the URL, if any, is used
#                  as the token endpoint path unless TOKENMINT_PATH is set)
#   CLIENT_ID / CLIENT_SECRET  a tokenmint client allowed client_credentials
#
# Environment overrides (defaults in brackets):
#   TOKENMINT_PATH [/oauth2/token]  TOKENMINT_SCOPE [read]
#   TOKENMINT_RESOURCE [https://api.example.com]
#   OIDC_SCOPE [same as TOKENMINT_SCOPE]  OIDC_RESOURCE [same as TOKENMINT_RESOURCE]
#   BENCH_THREADS [2]  BENCH_CONNECTIONS [64]  BENCH_WARMUP [3s]
#   TOKENMINT_PID: the server's pid; with it, each round also reports tokenmint's CPU time
#   (user + system, /proc/PID/stat) per token issued, as it always does for node's
#
# The node server is started here on a free 127.0.0.1 port and stopped on
# exit. Each round runs tokenmint, then node, with identical wrk settings.
# Exit status: 0 = ok, 1 = some non-2xx response was seen, 2 = setup error.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

[[ $# -ge 3 && $# -le 5 ]] || usage
TM_URL=$1
TM_ID=$2
TM_SECRET=$3
ROUNDS=${4:-3}
DURATION=${5:-10s}
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "rounds must be a positive integer: $ROUNDS"
[[ $DURATION =~ ^[1-9][0-9]*[smh]?$ ]] || die "duration must look like 10s, 1m: $DURATION"

split_url "$TM_URL"
TM_BASE=$URL_BASE
TM_PATH=${TOKENMINT_PATH:-${URL_PATH:-/oauth2/token}}
TM_SCOPE=${TOKENMINT_SCOPE-read}
TM_RESOURCE=${TOKENMINT_RESOURCE-https://api.example.com}

# node-oidc-provider side: fixed client from oidc-provider/server.js.
OP_ID=bench
OP_SECRET=bench-secret-0123456789abcdefghijklmnopqrstuv
OP_PATH=/token
OP_SCOPE=${OIDC_SCOPE-$TM_SCOPE}
OP_RESOURCE=${OIDC_RESOURCE-$TM_RESOURCE}

THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNECTIONS:-64}
WARMUP=${BENCH_WARMUP:-3s}

ensure_wrk
command -v node >/dev/null 2>&1 || die "node is required"
command -v npm >/dev/null 2>&1 || die "npm is required"
command -v curl >/dev/null 2>&1 || die "curl is required"

OP_DIR=$BENCH_DIR/oidc-provider
if [[ ! -d $OP_DIR/node_modules/oidc-provider ]]; then
  log "installing oidc-provider (npm ci)"
  (cd "$OP_DIR" && npm ci --no-audit --no-fund >&2) || die "npm ci failed"
fi
OP_VERSION=$(node -p "require('$OP_DIR/node_modules/oidc-provider/package.json').version")

new_run_dir compare

# --- start node-oidc-provider on a free loopback port; stop it on exit -------
NODE_PID=""
cleanup() {
  if [[ -n $NODE_PID ]] && kill -0 "$NODE_PID" 2>/dev/null; then
    kill -TERM "$NODE_PID" 2>/dev/null || true
    local i
    for i in 1 2 3 4 5 6 7 8 9 10; do
      kill -0 "$NODE_PID" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$NODE_PID" 2>/dev/null; then
      kill -KILL "$NODE_PID" 2>/dev/null || true
    fi
    wait "$NODE_PID" 2>/dev/null || true
  fi
  NODE_PID=""
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

OP_PORT=$(node -e 'const s = require("net").createServer();
  s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')
OP_BASE=http://127.0.0.1:$OP_PORT
NODE_ENV=production PORT=$OP_PORT node "$OP_DIR/server.js" >"$RUN_DIR/oidc-provider.log" 2>&1 &
NODE_PID=$!
ready=""
for _ in $(seq 1 60); do
  kill -0 "$NODE_PID" 2>/dev/null || { cat "$RUN_DIR/oidc-provider.log" >&2; die "oidc-provider exited during start-up"; }
  if curl -fsS -o /dev/null --max-time 1 "$OP_BASE/.well-known/openid-configuration" 2>/dev/null; then
    ready=1
    break
  fi
  sleep 0.25
done
[[ -n $ready ]] || { cat "$RUN_DIR/oidc-provider.log" >&2; die "oidc-provider did not become ready on $OP_BASE"; }

log "== tokenmint vs node-oidc-provider: client_credentials, wrk -t$THREADS -c$CONNS -d$DURATION --latency, $ROUNDS round(s)"
print_env
log "node $(node -v), oidc-provider $OP_VERSION (pid $NODE_PID, $OP_BASE$OP_PATH, single process)"
log "tokenmint: $TM_BASE$TM_PATH client_id=$TM_ID scope='$TM_SCOPE' resource='$TM_RESOURCE'"
log "node:      $OP_BASE$OP_PATH client_id=$OP_ID scope='$OP_SCOPE' resource='$OP_RESOURCE'"
log "raw output: $RUN_DIR"

preflight tokenmint "$TM_BASE" "$TM_PATH" "$TM_ID" "$TM_SECRET" "$TM_SCOPE" "$TM_RESOURCE"
preflight node "$OP_BASE" "$OP_PATH" "$OP_ID" "$OP_SECRET" "$OP_SCOPE" "$OP_RESOURCE"

tm() { run_wrk "$1" "$TM_BASE" "$TM_PATH" "$TM_ID" "$TM_SECRET" "$TM_SCOPE" "$TM_RESOURCE" "$THREADS" "$CONNS" "$2"; }
op() { run_wrk "$1" "$OP_BASE" "$OP_PATH" "$OP_ID" "$OP_SECRET" "$OP_SCOPE" "$OP_RESOURCE" "$THREADS" "$CONNS" "$2"; }

# --- warm-up ------------------------------------------------------------------
log "warm-up: $WARMUP each"
r=$(tm warmup-tokenmint "$WARMUP")
WARM_TM_NON2XX=$(field "$r" non2xx)
log "  tokenmint warm-up: $(field "$r" tokens_per_s) tokens/s, non2xx=$WARM_TM_NON2XX"
r=$(op warmup-node "$WARMUP")
WARM_OP_NON2XX=$(field "$r" non2xx)
log "  node      warm-up: $(field "$r" tokens_per_s) tokens/s, non2xx=$WARM_OP_NON2XX"

# --- rounds -------------------------------------------------------------------
TM_TPS=() TM_P50=() TM_P99=() TM_NON2XX=() TM_SOCKERR=()
OP_TPS=() OP_P50=() OP_P99=() OP_NON2XX=() OP_SOCKERR=()
RATIO=()

TM_CPU=() TM_CPU_USER=() TM_CPU_SYS=() OP_CPU=() OP_CPU_USER=() OP_CPU_SYS=()
TM_PID=${TOKENMINT_PID:-}

printf '%-6s %-10s %12s %10s %10s %10s %8s %8s %16s  %s\n' \
  round server tokens/s requests p50_ms p99_ms non2xx sockerr cpu_us/token loadavg
for ((i = 1; i <= ROUNDS; i++)); do
  for side in tokenmint node; do
    la=$(loadavg)
    pid=$NODE_PID
    [[ $side == tokenmint ]] && pid=$TM_PID
    before=""
    [[ -n $pid ]] && before=$(cpu_ticks "$pid")
    if [[ $side == tokenmint ]]; then
      r=$(tm "round$i-tokenmint" "$DURATION")
      TM_TPS+=("$(field "$r" tokens_per_s)") TM_P50+=("$(field "$r" p50_ms)")
      TM_P99+=("$(field "$r" p99_ms)") TM_NON2XX+=("$(field "$r" non2xx)")
      TM_SOCKERR+=("$(field "$r" socket_errors)")
    else
      r=$(op "round$i-node" "$DURATION")
      OP_TPS+=("$(field "$r" tokens_per_s)") OP_P50+=("$(field "$r" p50_ms)")
      OP_P99+=("$(field "$r" p99_ms)") OP_NON2XX+=("$(field "$r" non2xx)")
      OP_SOCKERR+=("$(field "$r" socket_errors)")
    fi
    cpu="-"
    if [[ -n $before ]]; then
      tokens=$(( $(field "$r" requests) - $(field "$r" non2xx) ))
      read -r total user system < <(cpu_per_token "$before" "$(cpu_ticks "$pid")" "$tokens")
      cpu="$total ($user+$system)"
      if [[ $side == tokenmint ]]; then
        TM_CPU+=("$total") TM_CPU_USER+=("$user") TM_CPU_SYS+=("$system")
      else
        OP_CPU+=("$total") OP_CPU_USER+=("$user") OP_CPU_SYS+=("$system")
      fi
    fi
    printf '%-6s %-10s %12s %10s %10s %10s %8s %8s %16s  %s\n' "$i" "$side" \
      "$(field "$r" tokens_per_s)" "$(field "$r" requests)" "$(field "$r" p50_ms)" \
      "$(field "$r" p99_ms)" "$(field "$r" non2xx)" "$(field "$r" socket_errors)" "$cpu" "$la"
  done
  RATIO+=("$(awk -v a="${TM_TPS[-1]}" -v b="${OP_TPS[-1]}" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "inf" }')")
done

# --- summary ------------------------------------------------------------------
TM_NON2XX_TOTAL=$(sum "$WARM_TM_NON2XX" "${TM_NON2XX[@]}")
OP_NON2XX_TOTAL=$(sum "$WARM_OP_NON2XX" "${OP_NON2XX[@]}")
TM_SOCKERR_TOTAL=$(sum "${TM_SOCKERR[@]}")
OP_SOCKERR_TOTAL=$(sum "${OP_SOCKERR[@]}")
TM_MED=$(median "${TM_TPS[@]}")
OP_MED=$(median "${OP_TPS[@]}")

echo
echo "== summary ($ROUNDS round(s), -t$THREADS -c$CONNS -d$DURATION; node-oidc-provider $OP_VERSION on node $(node -v))"
printf '%-10s %16s %14s %14s %14s %14s\n' server median_tokens/s median_p50_ms median_p99_ms max_p99_ms non2xx_total
printf '%-10s %16s %14s %14s %14s %14s\n' tokenmint "$TM_MED" "$(median "${TM_P50[@]}")" \
  "$(median "${TM_P99[@]}")" "$(max "${TM_P99[@]}")" "$TM_NON2XX_TOTAL"
printf '%-10s %16s %14s %14s %14s %14s\n' node "$OP_MED" "$(median "${OP_P50[@]}")" \
  "$(median "${OP_P99[@]}")" "$(max "${OP_P99[@]}")" "$OP_NON2XX_TOTAL"
echo "ratio tokenmint/node: median of per-round ratios $(median "${RATIO[@]}") (per round: ${RATIO[*]}); ratio of medians $(awk -v a="$TM_MED" -v b="$OP_MED" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "inf" }')"
cpu_line() {
  local name=$1 total=$2 user=$3 system=$4
  [[ -n $total ]] || return 0
  # shellcheck disable=SC2086 # lists of numbers
  printf 'CPU per token, %s: median %s us (user %s, system %s)\n' "$name" \
    "$(median $total)" "$(median $user)" "$(median $system)"
}
cpu_line tokenmint "${TM_CPU[*]}" "${TM_CPU_USER[*]}" "${TM_CPU_SYS[*]}"
cpu_line node "${OP_CPU[*]}" "${OP_CPU_USER[*]}" "${OP_CPU_SYS[*]}"
echo "non-2xx (incl. warm-up): tokenmint $TM_NON2XX_TOTAL, node $OP_NON2XX_TOTAL; socket errors: tokenmint $TM_SOCKERR_TOTAL, node $OP_SOCKERR_TOTAL"
server_errors=$(grep -c '^server_error' "$RUN_DIR/oidc-provider.log" || true)
[[ $server_errors -gt 0 ]] && log "warning: oidc-provider logged server errors, see $RUN_DIR/oidc-provider.log"
echo "raw wrk output: $RUN_DIR"

if [[ $TM_SOCKERR_TOTAL -gt 0 || $OP_SOCKERR_TOTAL -gt 0 ]]; then
  log "warning: wrk reported socket errors (connect/read/write/timeout); see the raw output"
fi
if [[ $TM_NON2XX_TOTAL -gt 0 || $OP_NON2XX_TOTAL -gt 0 ]]; then
  echo "FAIL: non-2xx responses were seen" >&2
  exit 1
fi
echo "OK: zero non-2xx responses on both sides"
