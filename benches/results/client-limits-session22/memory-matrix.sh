#!/bin/bash
# Idle client memory (benches/clients/NAME.js idle: 10,000 connections after 1,000 of warm-up,
# the Clients table's workload) for lws.WebSocket, lws.Client and ws under three settings of the
# same Node: its defaults; V8 compiling on the JS thread only (--no-concurrent-recompilation);
# one malloc arena (MALLOC_ARENA_MAX=1). Rounds interleaved; prints KB per connection.
# Usage (from the repository root): bash benches/results/client-limits-session22/memory-matrix.sh [rounds]
set -u
ROUNDS=${1:-3}
PORT=9461
node benches/servers/uws.js $PORT > /dev/null & SERVER=$!
trap 'kill $SERVER' EXIT
sleep 1
for round in $(seq "$ROUNDS"); do
  for setting in defaults no-concurrent-recompilation one-arena; do
    for client in lws-websocket lws-client ws; do
      case $setting in
        defaults) cmd=(node) ;;
        no-concurrent-recompilation) cmd=(node --no-concurrent-recompilation) ;;
        one-arena) cmd=(env MALLOC_ARENA_MAX=1 node) ;;
      esac
      kb=$("${cmd[@]}" benches/clients/$client.js idle --url ws://127.0.0.1:$PORT/ --conns 10000 --warmup 1000 --concurrency 100 | grep -o '"kb_per_conn":[0-9.]*' | cut -d: -f2)
      echo "$round $setting $client $kb"
    done
  done
done
