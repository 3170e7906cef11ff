# shellcheck shell=bash
# Helpers shared by compare.sh and load.sh. Source it; do not run it.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export BENCH_DIR

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }

# Install wrk from Debian if it is missing.
ensure_wrk() {
  command -v wrk >/dev/null 2>&1 && return 0
  log "wrk not found; installing it with apt-get"
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "wrk is missing and we are not root (install wrk first)"
    sudo=(sudo)
  fi
  if ! DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y wrk >&2; then
    "${sudo[@]}" apt-get update >&2 || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y wrk >&2 || die "apt-get install wrk failed"
  fi
  command -v wrk >/dev/null 2>&1 || die "wrk still not found after apt-get install"
}

# split_url URL -> sets URL_BASE (scheme://host[:port]) and URL_PATH (may be "").
# Refuses anything that is not plain http(s) to a loopback address: the
# benchmark only ever targets servers on this machine.
split_url() {
  local url=$1
  [[ $url =~ ^(https?://([^/]+))(/.*)?$ ]] || die "not an http(s) URL: $url"
  # shellcheck disable=SC2034 # used by the sourcing scripts
  URL_BASE=${BASH_REMATCH[1]}
  local hostport=${BASH_REMATCH[2]}
  URL_PATH=${BASH_REMATCH[3]:-}
  [[ $URL_PATH == / ]] && URL_PATH=""
  local host
  if [[ $hostport == \[* ]]; then
    host=${hostport%%]*}]
  else
    host=${hostport%%:*}
  fi
  case $host in
    localhost|127.*|'[::1]') ;;
    *) die "refusing non-loopback target '$host' (use 127.0.0.1, localhost or [::1])" ;;
  esac
}

# b64url_json SEGMENT -> decoded JSON of one base64url JWT segment.
b64url_json() {
  local s=${1//-/+}
  s=${s//_//}
  case $(( ${#s} % 4 )) in
    2) s="$s==" ;;
    3) s="$s=" ;;
  esac
  printf '%s' "$s" | base64 -d 2>/dev/null
}

# preflight NAME BASE_URL PATH CLIENT_ID SECRET SCOPE RESOURCE
# One token request with curl; fails unless it is a 200 with an access_token.
# Prints the JWT header (if the token is a JWT).
preflight() {
  local name=$1 base=$2 path=$3 id=$4 secret=$5 scope=$6 resource=$7
  local args=(-sS -o "$RUN_DIR/preflight-$name.json" -w '%{http_code}'
    --max-time 10 -u "$id:$secret"
    --data-urlencode grant_type=client_credentials)
  [[ -n $scope ]] && args+=(--data-urlencode "scope=$scope")
  [[ -n $resource ]] && args+=(--data-urlencode "resource=$resource")
  local code
  code=$(curl "${args[@]}" "$base$path") || die "$name: preflight request to $base$path failed"
  local body
  body=$(cat "$RUN_DIR/preflight-$name.json")
  if [[ $code != 200 ]]; then
    die "$name: preflight POST $base$path returned HTTP $code: ${body:0:300}"
  fi
  local token
  token=$(printf '%s' "$body" | sed -n 's/.*"access_token"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
  [[ -n $token ]] || die "$name: preflight response has no access_token: ${body:0:300}"
  local header=""
  if [[ $token == *.*.* ]]; then
    header=$(b64url_json "${token%%.*}")
  fi
  log "$name: preflight POST $base$path -> 200, access_token JWT header: ${header:-<not a JWT>}"
  if [[ $header != *'"alg":"ES256"'* ]]; then
    log "warning: $name: access token is not an ES256 JWT; the comparison assumes ES256 on both sides"
  fi
}

# run_wrk LABEL BASE_URL PATH CLIENT_ID SECRET SCOPE RESOURCE THREADS CONNECTIONS DURATION
# Runs wrk with cc.lua; keeps the full output in $RUN_DIR/LABEL.txt and
# prints the BENCH_RESULT line (without the prefix) on stdout.
run_wrk() {
  local label=$1 base=$2 path=$3 id=$4 secret=$5 scope=$6 resource=$7
  local threads=$8 conns=$9 duration=${10}
  local out="$RUN_DIR/$label.txt"
  BENCH_CLIENT_ID=$id BENCH_CLIENT_SECRET=$secret BENCH_PATH=$path \
    BENCH_SCOPE=$scope BENCH_RESOURCE=$resource \
    wrk "-t$threads" "-c$conns" "-d$duration" --latency -s "$BENCH_DIR/cc.lua" "$base" \
    >"$out" 2>&1 || { cat "$out" >&2; die "wrk failed ($label)"; }
  local line
  line=$(sed -n 's/^BENCH_RESULT //p' "$out")
  [[ -n $line ]] || { cat "$out" >&2; die "no BENCH_RESULT line from wrk ($label)"; }
  local sample
  sample=$(sed -n 's/^BENCH_NON2XX_SAMPLE //p' "$out")
  [[ -n $sample ]] && log "$label: first non-2xx body: $sample"
  printf '%s\n' "$line"
}

# field "KEY=VAL KEY2=VAL2 ..." KEY -> VAL
field() {
  printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

# median NUM... -> median (mean of the two middle values for an even count)
median() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
    END { if (NR == 0) { print "nan"; exit }
          if (NR % 2) printf "%.3f\n", v[(NR + 1) / 2];
          else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# max NUM... -> maximum
max() {
  printf '%s\n' "$@" | sort -g | tail -n 1
}

# sum INT...
sum() {
  local t=0 v
  for v in "$@"; do t=$((t + v)); done
  printf '%s\n' "$t"
}

# new_run_dir PREFIX -> creates results/PREFIX-<timestamp> and sets RUN_DIR
new_run_dir() {
  RUN_DIR="$BENCH_DIR/results/$1-$(date -u +%Y%m%dT%H%M%SZ)-$$"
  mkdir -p "$RUN_DIR"
  export RUN_DIR
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# cpu_ticks PID -> "USER SYSTEM": the process's CPU time so far, in clock ticks
# (getconf CLK_TCK per second), from /proc/PID/stat fields 14 and 15 (after the command
# name, which may hold spaces).
cpu_ticks() {
  local stat
  stat=$(cat "/proc/$1/stat") || die "no process $1"
  stat=${stat##*) }
  # shellcheck disable=SC2086 # split the fields on purpose
  set -- $stat
  printf '%s %s\n' "${12}" "${13}"
}

# cpu_per_token BEFORE AFTER TOKENS -> "TOTAL USER SYSTEM" in microseconds per token.
cpu_per_token() {
  awk -v b="$1" -v a="$2" -v n="$3" -v hz="$(getconf CLK_TCK)" 'BEGIN {
    split(b, x, " "); split(a, y, " ");
    u = (y[1] - x[1]) / hz * 1e6 / n; s = (y[2] - x[2]) / hz * 1e6 / n;
    printf "%.1f %.1f %.1f\n", u + s, u, s }'
}

print_env() {
  log "host: $(nproc) cores, loadavg $(loadavg), $(uname -sr)"
  log "wrk: $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-3)"
}

# The server the load scripts measure: `prepare_server` builds the profile BENCH_PROFILE
# (default `release`, the build `cargo run --release` gives; `perf` for opt-level 3 throughout)
# and makes a fresh store directory (BIN, DATA), with an EXIT trap that stops the server and every pid in
# BG_PIDS and removes DATA; `start_server` starts `tokenmint serve` on a free loopback port
# (SERVER_PID, BASE) and waits until it answers.
prepare_server() {
  local profile=${BENCH_PROFILE:-release}
  cargo build --profile "$profile" --locked -p tokenmint-cli >&2
  BIN=$ROOT/target/$profile/tokenmint
  DATA=$(mktemp -d)
  SERVER_PID=
  BG_PIDS=()
  trap stop_server EXIT
}

stop_server() {
  local p
  for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$DATA"
}

start_server() {
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$BIN" --data "$DATA" serve --addr "127.0.0.1:$port" >"$DATA/serve.log" 2>"$DATA/serve.err" &
  SERVER_PID=$!
  BASE="http://127.0.0.1:$port"
  for _ in $(seq 50); do
    curl -s -o /dev/null "$BASE/.well-known/jwks.json" && return 0
    sleep 0.1
  done
  die "tokenmint serve did not answer on $BASE"
}

# secret_of: the client_secret of `client create --json` on standard input.
secret_of() { python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])'; }
