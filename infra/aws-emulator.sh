# shellcheck shell=bash
# Starts moto server (PyPI `moto[server]`, pinned) on 127.0.0.1 as the AWS protocol peer for
# the DynamoDB and KMS tests. Source it; it installs moto into .venv/moto on first use, starts
# the server on a free port, exports AWS_ENDPOINT_URL and test credentials, and registers an
# EXIT trap that stops the server. Any failure to install or start is fatal: the tests that
# need AWS never skip.

MOTO_VERSION=5.2.5

aws_emulator_start() {
  local root venv port log
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  venv=$root/.venv/moto
  if ! "$venv/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
    echo "installing moto[server]==$MOTO_VERSION into .venv/moto" >&2
    python3 -m venv "$venv" || { echo "error: cannot create $venv (python3 -m venv)" >&2; return 1; }
    "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" \
      || { echo "error: cannot install moto[server]==$MOTO_VERSION from PyPI" >&2; return 1; }
  fi
  port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$root/target"
  log=$root/target/moto.log
  # moto's own application, one request at a time, as DynamoDB applies each conditional write
  # atomically (infra/moto-serial.py says why).
  "$venv/bin/python" "$root/infra/moto-serial.py" 127.0.0.1 "$port" >"$log" 2>&1 &
  MOTO_PID=$!
  # `|| true`: a test script under `set -e` must not take the emulator's exit status as its own.
  trap 'kill "$MOTO_PID" 2>/dev/null; wait "$MOTO_PID" 2>/dev/null || true' EXIT
  for _ in $(seq 100); do
    if "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/')" 2>/dev/null; then
      export AWS_ENDPOINT_URL=http://127.0.0.1:$port
      export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
      unset AWS_PROFILE AWS_SESSION_TOKEN
      echo "moto $MOTO_VERSION listening on $AWS_ENDPOINT_URL (pid $MOTO_PID, log target/moto.log)" >&2
      return 0
    fi
    kill -0 "$MOTO_PID" 2>/dev/null || break
    sleep 0.2
  done
  echo "error: moto server did not start; see target/moto.log" >&2
  tail -20 "$log" >&2
  return 1
}
