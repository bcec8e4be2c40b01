#!/bin/bash
# Idle client memory (benches/clients/harness.js idle: 10,000 connections after 1,000 of warm-up,
# the Clients table's workload) of the two thinnest ws-API clients on lws's engine
# (thinnest-ws-api.js), lws.WebSocket, lws.Client and ws, rounds interleaved; prints KB per
# connection. Usage (from the repository root):
#   bash benches/results/client-limits-session23/memory-floor.sh [rounds]
set -u
ROUNDS=${1:-5}
PORT=9462
HERE=benches/results/client-limits-session23
node benches/servers/uws.js $PORT > /dev/null & SERVER=$!
trap 'kill $SERVER' EXIT
sleep 1
idle=(idle --url ws://127.0.0.1:$PORT/ --conns 10000 --warmup 1000 --concurrency 100)
kb() { "$@" "${idle[@]}" | grep -o '"kb_per_conn":[0-9.]*' | cut -d: -f2; }
for round in $(seq "$ROUNDS"); do
  echo "$round thinnest-slots $(THINNEST=slots kb node $HERE/thinnest-ws-api.js)"
  echo "$round thinnest-emitter $(THINNEST=emitter kb node $HERE/thinnest-ws-api.js)"
  for client in lws-websocket lws-client ws; do
    echo "$round $client $(kb node benches/clients/$client.js)"
  done
done
