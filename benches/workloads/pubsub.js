'use strict';
// The pub/sub workloads of `npm run bench` (issue 14), each a row of the server table:
// - pubsub-10k: one topic, 10,000 subscribers, 64 B publishes one after the other (loadgen
//   broadcast: each publish reached everyone before the next);
// - pubsub-rooms: 1,000 topics x 10 subscribers, 64 B publishes from random subscribers, 100 in
//   flight (loadgen rooms: a chat);
// - pubsub-redis3: the same chat over 3 lws processes on one port (reusePort) sharing topics
//   through one redis-server: deliveries/s and end-to-end latency, beside pubsub-rooms (lws only).
// Servers: lws (server.publish; WebSocketServer: wss.publish), uWebSockets.js (app.publish) and
// ws (a loop over the topic's clients), in pubsub-servers/; rust-tokio, the ceiling, is
// benches/loadgen's `ceiling --rooms` (the same protocol). run.js calls `measure` with its process and CPU helpers.

const path = require('path');
const readline = require('readline');
const { spawn } = require('child_process');

const SERVERS_DIR = path.join(__dirname, '..', 'servers');
const script = (name) => path.relative(SERVERS_DIR, path.join(__dirname, 'pubsub-servers', name));

/** The pub/sub server for one of run.js's server rows (its env kept; `serverArgs` after the
 * port), or null where there is none. */
function pubsubServer(srv) {
  const base = srv.name.replace(/ \(baseline\)$/, '');
  if (base === 'lws' || base === 'lws threads:0') return { ...srv, script: script('lws.js') };
  if (base === 'lws WebSocketServer') return { ...srv, script: script('lws-wss.js') };
  if (base === 'uWS.js') return { ...srv, script: script('uws.js') };
  if (base === 'ws' || base === 'ws+bufferutil') return { ...srv, script: script('ws.js') };
  if (base === 'rust-tokio') return { ...srv, serverArgs: ['--rooms'] };
  return null;
}

const METRICS = {
  'pubsub-fanout': [
    ['rate', 'deliveries/s', 'higher', 0],
    ['server_us', 'server CPU µs/delivery (all threads)', 'lower', 3],
    ['server_main_us', 'server CPU µs/delivery (main thread)', 'lower', 3],
    ['p50_ms', 'p50 ms until a publish reached every subscriber', 'lower', 1],
    ['client_us', 'loadgen CPU µs/delivery (receiving side)', 'lower', 2, 'no ratio'],
  ],
  'pubsub-rooms': [
    ['rate', 'deliveries/s', 'higher', 0],
    ['server_us', 'server CPU µs/delivery (all threads)', 'lower', 3],
    ['server_main_us', 'server CPU µs/delivery (main thread)', 'lower', 3],
    ['p50_us', 'p50 µs until a publish reached its whole room', 'lower', 0],
    ['p99_us', 'p99 µs until a publish reached its whole room', 'lower', 0],
    ['client_us', 'loadgen CPU µs/delivery (check: the load generator\'s share)', 'lower', 2, 'no ratio'],
  ],
};
METRICS['pubsub-redis'] = [
  ...METRICS['pubsub-rooms'].map(([key, label, ...rest]) => [key, label.replace('server CPU', 'servers\' CPU (3 processes)'), ...rest]),
  ['redis_us', 'redis-server CPU µs/delivery', 'lower', 3, 'no ratio'],
];

function workloads(quick) {
  const secs = quick ? 2 : 8;
  const subscribers = quick ? 2000 : 10000;
  const rooms = ['--conns', String(subscribers), '--room-size', '10', '--size', '64', '--concurrency', '100', '--secs', String(secs)];
  return [
    { id: 'pubsub-10k', kind: 'pubsub-fanout', measure,
      title: `publish 64 B to one topic of ${subscribers.toLocaleString('en-US')} subscribers, 50 times`,
      args: ['--conns', String(subscribers), '--count', '50', '--size', '64', '--concurrency', '200', '--secs', '60'], secs: 60 },
    { id: 'pubsub-rooms', kind: 'pubsub-rooms', measure,
      title: `chat: ${(subscribers / 10).toLocaleString('en-US')} topics x 10 subscribers, 64 B from random members, 100 in flight, ${secs} s`,
      args: rooms, secs },
    { id: 'pubsub-redis3', kind: 'pubsub-redis', measure,
      title: `the same chat over 3 lws processes (reusePort) through one Redis, ${secs} s (lws only)`,
      args: rooms, secs },
  ];
}

/** One measurement (run.js's `measure` hands pub/sub workloads here); `ctx`: run.js's helpers. */
async function measure(srv, wl, ctx) {
  const server = pubsubServer(srv);
  // Not applicable (shown as –): a server without topics; Redis, for other than lws.Server.
  if (server === null || (wl.kind === 'pubsub-redis' && server.script !== script('lws.js'))) return { not_applicable: true, errors: 0, other_cpu_pct: 0 };
  if (wl.kind === 'pubsub-redis') return measureRedis(server, wl, ctx);
  const started = await ctx.startServer(server, server.serverArgs);
  try {
    const mode = wl.kind === 'pubsub-fanout' ? 'broadcast' : 'rooms';
    const { out, d } = await loadgen(ctx, mode, wl, started.port, [started.pid]);
    return result(out, d, wl, ctx, server);
  } catch (e) {
    e.message += started.stderr() ? `\nserver stderr: ${started.stderr()}` : '';
    throw e;
  } finally {
    await ctx.stopServer(started);
  }
}

/** The loadgen against `port`, CPU sampled at its start and stop lines for `pids` (summed). */
async function loadgen(ctx, mode, wl, port, pids, redisPid = null) {
  let a = null;
  let b = null;
  const sample = (child) => ({ servers: pids.map((pid) => ctx.cpuSample(pid, child.pid)), redis: redisPid && ctx.cpuSample(redisPid, 0) });
  const out = await ctx.runLoadgen([mode, ...wl.args, '--host', ctx.HOST, '--port', String(port)], wl.secs + 120, (line, child) => {
    if (line === 'start') a = sample(child);
    else if (line === 'stop') b = sample(child);
  });
  if (!a || !b) throw new Error('loadgen printed no start/stop lines');
  const per = a.servers.map((s, i) => ctx.cpuDelta(s, b.servers[i]));
  const d = {
    wall: per[0].wall,
    server: per.reduce((n, p) => n + p.server, 0),
    serverMain: per.reduce((n, p) => n + p.serverMain, 0),
    loadgen: per[0].loadgen,
    redis: redisPid ? ctx.cpuDelta(a.redis, b.redis).server : 0,
    softirqPct: per[0].softirqPct,
  };
  // What else ran: the whole machine's busy time less the servers', the loadgen's and Redis's.
  const busy = (b.servers[0].busy - a.servers[0].busy) / ctx.CLK_TCK;
  d.otherCpuPct = d.wall > 0 ? (100 * Math.max(0, busy - d.server - d.loadgen - d.redis)) / d.wall : 0;
  return { out, d };
}

function result(out, d, wl, ctx, srv) {
  const n = out.deliveries;
  const per = (cpu) => (n > 0 ? (cpu * 1e6) / n : null);
  const r = {
    errors: out.errors,
    rate: out.per_sec,
    other_cpu_pct: ctx.round(d.otherCpuPct, 1),
    softirq_pct: ctx.round(d.softirqPct, 1),
    server_cpu_s: ctx.round(d.server, 2),
    client_cpu_s: ctx.round(d.loadgen, 2),
    server_us: per(d.server),
    server_main_us: srv.noMainThread ? null : per(d.serverMain), // n/a: not a Node process
    client_us: per(d.loadgen),
    raw: out,
  };
  if (wl.kind === 'pubsub-fanout') r.p50_ms = out.p50_ms;
  else Object.assign(r, { p50_us: out.p50_us, p99_us: out.p99_us });
  if (wl.kind === 'pubsub-redis') r.redis_us = per(d.redis);
  if (out.first_error) r.first_error = out.first_error;
  return r;
}

/** A child that prints `ready ...` when it can be measured; killed if not ready within 20 s. */
function startReady(label, cmd, args, env) {
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  const proc = { child, pid: child.pid, stderr: () => stderr };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${label}: not ready within 20 s\n${stderr}`)); }, 20000);
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('ready') || /Ready to accept connections/.test(line)) {
        clearTimeout(timer);
        resolve(proc);
      }
    });
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited (${code ?? sig}) before ready\n${stderr}`));
    });
  });
}

/** The chat across 3 lws processes on one port (reusePort) and one redis-server. */
async function measureRedis(server, wl, ctx) {
  const [redisPort, port] = [await ctx.freePort(), await ctx.freePort()];
  const started = [];
  try {
    started.push(await startReady('redis-server', 'redis-server', ['--port', String(redisPort), '--bind', ctx.HOST,
      '--save', '', '--appendonly', 'no', '--loglevel', 'notice'], process.env));
    const env = { ...process.env, ...server.env, REDIS_URL: `redis://${ctx.HOST}:${redisPort}`, LWS_REUSE_PORT: '1' };
    for (let i = 0; i < 3; i++) {
      started.push(await startReady(`lws process ${i + 1}`, process.execPath, [path.join(SERVERS_DIR, server.script), String(port)], env));
    }
    const [redis, ...lwsProcesses] = started;
    const { out, d } = await loadgen(ctx, 'rooms', wl, port, lwsProcesses.map((p) => p.pid), redis.pid);
    return result(out, d, wl, ctx, server);
  } catch (e) {
    e.message += started.map((p) => p.stderr()).filter(Boolean).map((s) => `\nstderr: ${s}`).join('');
    throw e;
  } finally {
    await Promise.all(started.map((p) => ctx.stopServer(p)));
  }
}

module.exports = { workloads, METRICS };
