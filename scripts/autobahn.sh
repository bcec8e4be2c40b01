#!/usr/bin/env bash
# Runs the Autobahn fuzzingclient against the lws core echo server.
# Usage: scripts/autobahn.sh [CASES] [--wss] [--js-thread]
#   --wss: against WebSocketServer instead of lws.Server; --js-thread: the engine on the JS thread (threads: 0)
#   default: every case of 1.*-10.*, and the permessage-deflate groups 12.1, 13.2, 13.3, 13.5
#   (the whole of 12.*/13.* takes ~15 minutes here: run it with CASES='*')
# Environment: AB_PORT (default 9301), AB_TIMEOUT (default 1800 s).
# Needs ../shared/autobahn/setup.sh to have run. Exits non-zero on any failed case.
set -euo pipefail
cd "$(dirname "$0")/.."
cases='1.*,2.*,3.*,4.*,5.*,6.*,7.*,9.*,10.*,12.1.*,13.2.*,13.3.*,13.5.*'
mode=""
agent=lws-core
js_thread=""
for arg in "$@"; do
  case "$arg" in
    --wss) mode=--wss; agent=lws-wss ;;
    --js-thread) js_thread=--js-thread ;;
    *) cases=$arg ;;
  esac
done
[ -n "$js_thread" ] && agent=$agent-js-thread
port=${AB_PORT:-9301}
node scripts/echo-server.js "$port" $mode $js_thread > "/tmp/lws-autobahn-server-$port.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  grep -q "echo server" "/tmp/lws-autobahn-server-$port.log" && break
  sleep 0.1
done
AB_AGENT=$agent AB_EXCLUDE='' AB_TIMEOUT=${AB_TIMEOUT:-1800} \
  bash ../shared/autobahn/run.sh "ws://127.0.0.1:$port" "$cases" "/tmp/lws-autobahn-report-$agent"
