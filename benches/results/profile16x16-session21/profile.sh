#!/bin/bash
# Profiles one echo server on 16 B x 16 in flight (100 connections): `perf record -a` for 4 s
# and `perf stat` (system calls, context switches) for 2 s inside an 8 s loadgen run.
# usage (from the repo root): benches/results/profile16x16-session21/profile.sh NAME PORT SERVER-COMMAND...
# then: node benches/results/profile16x16-session21/summarize.js NAME  (µs per message by thread and kind)
NAME=$1; PORT=$2; shift 2
D=${PROFILE_DIR:-/tmp/lws-profile}; mkdir -p $D
"$@" > $D/$NAME.srv.log 2>&1 &
SP=$!
for i in $(seq 50); do grep -q ready $D/$NAME.srv.log && break; sleep 0.1; done
LG="$(dirname "$0")/../../loadgen/target/release/loadgen"
$LG echo --port $PORT --conns 100 --size 16 --inflight 16 --secs 1 --json > /dev/null
$LG echo --port $PORT --conns 100 --size 16 --inflight 16 --secs 8 --json | tail -1 > $D/$NAME.lg.json &
LP=$!
sleep 1
perf record -a -F 4999 -o $D/$NAME.perf.data -- sleep 4 2> /dev/null
perf stat -e raw_syscalls:sys_enter,context-switches,task-clock -p $SP -x, -o $D/$NAME.stat -- sleep 2 2>/dev/null
wait $LP
ls /proc/$SP/task > $D/$NAME.tids
kill $SP; wait $SP 2>/dev/null
echo $SP > $D/$NAME.pid
