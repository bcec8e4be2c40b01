#!/usr/bin/env bash
# Creates (if missing) a Python virtual environment at <repo>/.venv with the
# `websockets` package, used by __test__/python-client.test.js as an
# independent WebSocket peer. Prints the venv's python path on stdout (last line).
# All progress output goes to stderr so stdout stays machine-readable.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${LWS_PY_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"

if [ ! -x "$PY" ]; then
  echo "python-env: creating $VENV" >&2
  python3 -m venv "$VENV" >&2
fi

if ! "$PY" -c 'import websockets' >/dev/null 2>&1; then
  echo "python-env: installing websockets" >&2
  pip_install() {
    "$PY" -m pip install --disable-pip-version-check --no-input --quiet websockets >&2
  }
  if ! pip_install; then
    echo "python-env: pip install failed, retrying once" >&2
    sleep 2
    pip_install
  fi
  "$PY" -c 'import websockets' >&2
fi

echo "$PY"
