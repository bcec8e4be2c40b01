#!/bin/bash
# One connection, one message in flight (16 B echo, 3 s): the load generator's p50 and the
# server's CPU per message for each of its threads (from /proc/PID/task/*/schedstat).
# Usage, from the repository root: bash benches/results/inline-dispatch-session19/one-connection.sh lws.js|uws.js [ENV=VALUE]
set -e
PORT=23630
env $2 node benches/servers/$1 $PORT > /dev/null 2>&1 &
SERVER=$!
sleep 1
snap() { for t in /proc/$SERVER/task/*; do echo "$(cat $t/comm) $(cut -d' ' -f1 $t/schedstat)"; done; }
snap > /tmp/one-connection.before
RESULT=$(benches/loadgen/target/release/loadgen echo --port $PORT --conns 1 --size 16 --inflight 1 --secs 3 --json | tail -1)
snap > /tmp/one-connection.after
kill $SERVER; wait $SERVER 2>/dev/null || true
python3 - "$RESULT" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
def load(f):
    return {(i, l.rsplit(' ', 1)[0]): int(l.rsplit(' ', 1)[1]) for i, l in enumerate(open(f))}
a, b = load('/tmp/one-connection.before'), load('/tmp/one-connection.after')
busy = [f"{k[1]} {(b[k] - a.get(k, 0)) / r['messages'] / 1000:.1f} µs" for k in b if b[k] - a.get(k, 0) > 1e6]
print(f"{r['messages']} messages, p50 {r['p50_us']} µs; CPU per message: " + ', '.join(busy))
PY
