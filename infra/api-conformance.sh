#!/usr/bin/env bash
# The HTTP API against its description (docs/openapi.yaml), on a running `tokenmint serve`:
# 1. the description names exactly the served endpoints: every path in it answers (not 404),
#    and every endpoint the metadata document advertises is in it;
# 2. schemathesis (PyPI, pinned, in .venv/schemathesis) generates a bounded number of requests
#    per operation, authenticated and not, and fails on any 5xx or any answer whose status,
#    content type, headers or body the description does not allow.
#
# usage: infra/api-conformance.sh TOKENMINT_BINARY [max_examples=40]
set -euo pipefail
BIN=$1
EXAMPLES=${2:-40}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCHEMATHESIS_VERSION=4.32.5
venv=$ROOT/.venv/schemathesis
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  echo "installing schemathesis==$SCHEMATHESIS_VERSION into .venv/schemathesis" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

DATA=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SERVER_PID=
cleanup() {
  [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$DATA"
}
trap cleanup EXIT
SECRET=$("$BIN" --data "$DATA" client create --id conformance --scope "read write" \
  --audience https://api.example.com --introspect --grant client_credentials \
  --grant token-exchange --grant refresh_token --json 2>/dev/null |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
"$BIN" --data "$DATA" serve --addr "127.0.0.1:$PORT" >"$DATA/serve.log" 2>&1 &
SERVER_PID=$!
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 50); do
  curl -s -o /dev/null "$BASE/.well-known/jwks.json" && break
  sleep 0.1
done

"$venv/bin/python" - "$ROOT/docs/openapi.yaml" "$BASE" <<'PY'
import json, sys, urllib.error, urllib.parse, urllib.request
import yaml
spec, base = yaml.safe_load(open(sys.argv[1])), sys.argv[2]
paths = set(spec["paths"])
def status(method, path):
    req = urllib.request.Request(base + path, method=method, data=b"" if method == "POST" else None)
    try:
        return urllib.request.urlopen(req).status
    except urllib.error.HTTPError as e:
        return e.code
for path, ops in spec["paths"].items():
    for method in ops:
        s = status(method.upper(), path)
        assert s != 404, f"{method.upper()} {path} is described but not served"
assert status("GET", "/not-an-endpoint") == 404
meta = json.load(urllib.request.urlopen(base + "/.well-known/oauth-authorization-server"))
for key in ("token_endpoint", "jwks_uri", "introspection_endpoint", "revocation_endpoint"):
    path = urllib.parse.urlparse(meta[key]).path
    assert path in paths, f"{key} {path} is served but not described"
print(f"openapi: {len(paths)} described paths, all served; every advertised endpoint described")
PY

"$venv/bin/schemathesis" run "$ROOT/docs/openapi.yaml" --url "$BASE" --auth "conformance:$SECRET" \
  --max-examples "$EXAMPLES" --seed 20261123 --request-timeout 10 \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance
