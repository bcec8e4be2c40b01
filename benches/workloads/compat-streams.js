'use strict';
// Issue 15's rows for benches/run.js (a WORKLOAD_MODULES entry, plus its SERVERS rows, runs() and PAIRS):
//   echo16x16, echo16x1, echo64k also run against the nodejs-websocket API:
//     "lws/nodejs-websocket" vs the real "nodejs-websocket" package (servers/nodejs-websocket.js);
//   stream64m: a 64 MiB transfer read through a server's stream API, MiB/s and peak RSS:
//     "lws messageStream" vs "ws createWebSocketStream" (servers/stream-sink.js).
// The stream64m client is in this process: one ws client sending one 64 MiB message in
// 256 KiB fragments, each after the previous one was written (the same bytes for both servers).

const fs = require('fs');
const { execFileSync } = require('child_process');
const WebSocket = require('ws');

const CLK_TCK = (() => {
  try { return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100; } catch { return 100; }
})();

/** CPU seconds: the machine's busy time, the server's, and this process's (the client). */
function cpu(serverPid) {
  const busy = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 4).map(Number).reduce((a, b) => a + b, 0);
  const stat = fs.readFileSync(`/proc/${serverPid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const { user, system } = process.cpuUsage();
  return { t: process.hrtime.bigint(), busy: busy / CLK_TCK, server: (Number(f[11]) + Number(f[12])) / CLK_TCK, client: (user + system) / 1e6 };
}

const ECHO_IDS = ['echo16x16', 'echo16x1', 'echo64k'];
const STREAM_BYTES = 64 * 1024 * 1024;

const SERVERS = [
  { name: 'lws/nodejs-websocket', script: 'nodejs-websocket.js', env: { NWS_IMPL: 'lws' }, workloads: ECHO_IDS },
  { name: 'nodejs-websocket', script: 'nodejs-websocket.js', env: { NWS_IMPL: 'real' }, workloads: ECHO_IDS },
  { name: 'lws messageStream', script: 'stream-sink.js', env: { STREAM_IMPL: 'lws' }, workloads: ['stream64m'] },
  { name: 'ws createWebSocketStream', script: 'stream-sink.js', env: { STREAM_IMPL: 'ws' }, workloads: ['stream64m'] },
];

function workloads() {
  return [
    { id: 'stream64m', kind: 'stream', title: 'a 64 MiB message read through the server\'s stream API (3 transfers)',
      serverArgs: [String(STREAM_BYTES)], transfers: 3, secs: 60, measure },
  ];
}

/** run.js's `measure` hands stream64m here (`ctx`: its helpers). */
async function measure(srv, wl, { startServer, stopServer }) {
  const server = await startServer(srv, wl.serverArgs);
  try {
    return await measureStream(server, wl);
  } finally {
    await stopServer(server);
  }
}

const METRICS = {
  stream: [
    ['mib_per_s', 'MiB/s (client to server, through the stream)', 'higher', 0],
    ['peak_rss_mib', 'server peak RSS MiB (VmHWM)', 'lower', 1],
  ],
};

/** [subject, reference] ratio columns. */
const PAIRS = [['lws/nodejs-websocket', 'nodejs-websocket'], ['lws messageStream', 'ws createWebSocketStream']];

/** Whether `srv` runs workload `wl` (rows of this module run only their own workloads, and only they run stream64m). */
function runs(srv, wl) {
  if (srv.workloads) return srv.workloads.includes(wl.id);
  return wl.kind !== 'stream';
}

const pattern = Buffer.alloc(256 * 1024, 0x5a);

/** stream64m against a started server ({ port }): the best of `wl.transfers` transfers. */
async function measureStream(server, wl) {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}`);
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  const replies = [];
  let waiting = null;
  ws.on('message', (m) => { replies.push(m.toString()); if (waiting) waiting(); });
  let best = 0;
  let peak = 0;
  const before = cpu(server.pid);
  try {
    for (let i = 0; i < wl.transfers; i++) {
      const started = process.hrtime.bigint();
      for (let sent = 0; sent < STREAM_BYTES;) {
        sent += pattern.length;
        await new Promise((resolve, reject) => ws.send(pattern, { binary: true, fin: sent >= STREAM_BYTES }, (err) => (err ? reject(err) : resolve())));
      }
      await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no answer within 30 s')), 30000);
        waiting = () => { if (replies.length > i) { clearTimeout(timer); resolve(); } };
        waiting();
      });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const [bytes, rss] = replies[i].split(' ').map(Number);
      if (bytes !== STREAM_BYTES) throw new Error(`the server counted ${bytes} bytes`);
      best = Math.max(best, STREAM_BYTES / 1048576 / seconds);
      peak = Math.max(peak, rss / 1048576);
    }
  } finally {
    ws.terminate();
  }
  const after = cpu(server.pid);
  const seconds = Number(after.t - before.t) / 1e9;
  const other = (after.busy - before.busy) - (after.server - before.server) - (after.client - before.client);
  return { errors: 0, other_cpu_pct: Math.max(0, Math.round((1000 * other) / seconds) / 10), mib_per_s: best, peak_rss_mib: peak };
}

module.exports = { SERVERS, workloads, METRICS, PAIRS, runs };
