#!/usr/bin/env bash
# Runs the Autobahn fuzzingserver against the candidate WebSocket client
# (scripts/autobahn-client.js: lws.WebSocket; ws's client with --ws, the reference).
# Usage: scripts/autobahn-client.sh [CASES] [--ws | --core]
#   CASES: case patterns as run-client.sh takes them (default: every case of 1.*-10.*,
#   and the permessage-deflate groups 12.1, 13.2, 13.3, 13.5; '*' for all 517, ~15 min)
#   --ws:  the ws client instead of lws.WebSocket (agent ws-client)
#   --core: lws.Client, the node-lws style client (scripts/echo-client.js, agent lws-core-client)
# Environment: AB_PORT (default 9311), AB_TIMEOUT (default 1800 s), LWS_AB_CASE_TIMEOUT.
# Needs ../shared/autobahn/setup.sh to have run. Exits non-zero on any failed case
# (run-client.sh's status: 1 failures, 2 usage or setup errors).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
usage() { echo "usage: scripts/autobahn-client.sh [CASES] [--ws | --core]" >&2; exit 2; }
cases='1.*,2.*,3.*,4.*,5.*,6.*,7.*,9.*,10.*,12.1.*,13.2.*,13.3.*,13.5.*'
agent=lws-client
candidate=lws
driver=autobahn-client.js
seen_cases=0
for arg in "$@"; do
  case "$arg" in
    --ws) agent=ws-client; candidate=ws ;;
    --core) agent=lws-core-client; driver=echo-client.js ;;
    -h|--help) echo "usage: scripts/autobahn-client.sh [CASES] [--ws | --core]"; exit 0 ;;
    -*) echo "autobahn-client.sh: unknown option $arg" >&2; usage ;;
    *)
      [ "$seen_cases" = 0 ] || { echo "autobahn-client.sh: more than one CASES argument" >&2; usage; }
      [[ $arg =~ ^[0-9.*,]+$ ]] || { echo "autobahn-client.sh: bad CASES '$arg' (digits, '.', '*' and ',')" >&2; usage; }
      cases=$arg; seen_cases=1 ;;
  esac
done
runner=${AB_RUNNER:-$root/../shared/autobahn/run-client.sh}
[ -f "$runner" ] || { echo "autobahn-client.sh: no $runner (see ../shared/autobahn/README.md)" >&2; exit 2; }
export LWS_CLIENT_CANDIDATE=$candidate
# run-client.sh expands $AB_URL and $AB_AGENT when it runs the command (single quotes here).
AB_AGENT=$agent AB_PORT=${AB_PORT:-9311} AB_EXCLUDE=${AB_EXCLUDE:-} AB_TIMEOUT=${AB_TIMEOUT:-1800} \
  exec bash "$runner" "node '$root/scripts/$driver' \"\$AB_URL\" \"\$AB_AGENT\"" "$cases" "/tmp/lws-autobahn-client-report-$agent"
