#!/usr/bin/env bash
# Runs the Autobahn fuzzingclient against the lws core echo server.
# Usage: scripts/autobahn.sh [CASES]   (default: every case except 12.*/13.*, which need deflate)
# Needs ../shared/autobahn/setup.sh to have run. Exits non-zero on any failed case.
set -euo pipefail
cd "$(dirname "$0")/.."
cases=${1:-'1.*,2.*,3.*,4.*,5.*,6.*,7.*,9.*,10.*'}
port=${AB_PORT:-9301}
node scripts/echo-server.js "$port" > /tmp/lws-autobahn-server.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  grep -q "echo server" /tmp/lws-autobahn-server.log && break
  sleep 0.1
done
AB_AGENT=lws-core AB_EXCLUDE='12.*,13.*' AB_TIMEOUT=900 \
  bash ../shared/autobahn/run.sh "ws://127.0.0.1:$port" "$cases" /tmp/lws-autobahn-report
