#!/usr/bin/env bash
# Bounded soak of `tokenmint serve` (BENCHMARKS.md §7): at least TOKENS client_credentials
# tokens, then introspections of a token for as long, at c=16, with the server's resident
# memory sampled every second. Fails on any non-2xx answer.
#
# usage: infra/bench/soak.sh [tokens=1000000] [introspect_seconds=30]
set -euo pipefail
TOKENS=${1:-1000000}
INTROSPECT_SECS=${2:-30}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
# shellcheck source=lib.sh
source "$ROOT/infra/bench/lib.sh"
ensure_wrk
new_run_dir soak

prepare_server
SECRET=$("$BIN" --data "$DATA" client create --id soak --scope "read write" \
  --audience https://api.example.com --introspect --json | secret_of)
start_server
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$SERVER_PID/status"; }
( while kill -0 "$SERVER_PID" 2>/dev/null; do printf '%s %s\n' "$(date +%s)" "$(rss)"; sleep 1; done ) \
  >"$RUN_DIR/rss.txt" &
BG_PIDS+=($!)
log "== soak: $TOKENS tokens then ${INTROSPECT_SECS}s of introspection at c=16; raw: $RUN_DIR"
print_env
rss_start=$(rss)

issued=0 bad=0 round=0
while [[ $issued -lt $TOKENS ]]; do
  round=$((round + 1))
  r=$(run_wrk "cc-$round" "$BASE" /oauth2/token soak "$SECRET" read https://api.example.com 2 16 20s)
  issued=$((issued + $(field "$r" requests) - $(field "$r" non2xx)))
  bad=$((bad + $(field "$r" non2xx)))
  log "round $round: $(field "$r" tokens_per_s) tokens/s, $issued issued so far, RSS $(rss) KiB"
done
rss_after_tokens=$(rss)

TOKEN=$(curl -sf -u "soak:$SECRET" -d grant_type=client_credentials "$BASE/oauth2/token" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
r=$(BENCH_BODY="token=$TOKEN" run_wrk introspect "$BASE" /oauth2/introspect soak "$SECRET" "" "" 2 16 "${INTROSPECT_SECS}s")
introspected=$(field "$r" requests)
bad=$((bad + $(field "$r" non2xx)))
rss_end=$(rss)
audit_lines=$(wc -l <"$DATA/serve.log")
rss_max=$(awk '$2 > m { m = $2 } END { print m }' "$RUN_DIR/rss.txt")

printf 'tokens issued: %s; introspections: %s (%s/s); non-2xx: %s; audit lines: %s\n' \
  "$issued" "$introspected" "$(field "$r" rps)" "$bad" "$audit_lines"
printf 'RSS KiB: start %s, after tokens %s, end %s, max %s (samples: %s)\n' \
  "$rss_start" "$rss_after_tokens" "$rss_end" "$rss_max" "$RUN_DIR/rss.txt"
[[ $bad -eq 0 ]]
