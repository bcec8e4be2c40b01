#!/usr/bin/env node
'use strict';
// npm run bench [-- --quick] [-- --rounds N] [-- --servers lws,ws,...] [-- --clients lws.Client,ws,...]
//                [-- --workloads echo16x16,client-recv16,...] [-- --out DIR] [-- --chart-only]
//                [-- --scale [--loadgens N]] (only the scaling run, benches/workloads/scale.js)
//
// Servers: echo servers (lws, ws, ws + bufferutil, uWebSockets.js, and a pure-Rust tokio server
// as the ceiling) against the single-threaded Rust load generator in benches/loadgen.
// Clients: client implementations (lws.Client, lws.WebSocket, ws, ws + bufferutil; scripts in
// benches/clients) against uWebSockets.js servers (benches/servers/uws-push.js pushing messages,
// uws.js echoing).
// Both interleaved in rotated order for several rounds; reports medians and min-max, ratios vs ws
// (and vs uWebSockets.js for servers), and CPU time per message.
// Loopback only; every child process and every wait is bounded in time.
// Writes latest.json, latest.md and latest.svg (a chart of the ratios) to benches/results
// (or --out DIR); --chart-only re-renders latest.svg from an existing latest.json.

const { spawn, spawnSync, execFileSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const readline = require('readline');
const pubsub = require('./workloads/pubsub');

const ROOT = path.join(__dirname, '..');
const LOADGEN_DIR = path.join(__dirname, 'loadgen');
const LOADGEN = path.join(LOADGEN_DIR, 'target', 'release', 'loadgen');
// The pure-Rust ceiling server: a second binary of the loadgen crate (src/bin/ceiling.rs).
const CEILING = path.join(LOADGEN_DIR, 'target', 'release', 'ceiling');
const RESULTS = path.join(__dirname, 'results');
// Workloads kept in modules of their own (benches/workloads/): each exports workloads(quick)
// and, for a new kind, its METRICS rows.
const WORKLOAD_MODULES = ['deflate', 'tls', 'latency', 'compat-streams'].map((m) => require(`./workloads/${m}`));
// Issue 15's server rows (the nodejs-websocket API, stream64m's readers): benches/workloads/compat-streams.js.
const compat = require('./workloads/compat-streams');
const HOST = '127.0.0.1';

// ------------------------------------------------------------------ options

function parseArgs(argv) {
  const o = { scale: false, loadgens: null, quick: false, rounds: null, servers: null, clients: null, workloads: null, otherCpuLimit: 60, out: RESULTS, chartOnly: false, baseline: null, deflateLevels: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`missing value for ${a}`);
      return v;
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--rounds') o.rounds = Number(val());
    else if (a === '--servers') o.servers = val().split(',');
    else if (a === '--clients') o.clients = val().split(',');
    else if (a === '--workloads') o.workloads = val().split(',');
    else if (a === '--other-cpu-limit') o.otherCpuLimit = Number(val());
    else if (a === '--out') o.out = path.resolve(val());
    else if (a === '--chart-only') o.chartOnly = true;
    else if (a === '--baseline') o.baseline = path.resolve(val());
    else if (a === '--deflate-levels') {
      const v = val();
      if (!/^[0-9](,[0-9])*$/.test(v)) throw new Error(`--deflate-levels takes levels 0-9, e.g. 1,2,3 (not ${v})`);
      o.deflateLevels = v.split(',');
    }
    else if (a === '--scale') o.scale = true;
    else if (a === '--loadgens') o.loadgens = Number(val());
    else if (a === '--help' || a === '-h') {
      console.log('usage: node benches/run.js [--quick] [--rounds N] [--servers lws,"lws threads:0","lws WebSocketServer",ws,ws+bufferutil,uWS.js,rust-tokio]\n' +
        '                         [--clients lws.Client,lws.WebSocket,ws,ws+bufferutil,rust-tokio]\n' +
        '                         [--workloads echo16x16,echo16x1,echo64k,handshakes,memory,broadcast,deflate-echo,deflate-takeover-echo,deflate-memory,\n' +
        '                                      deflate-takeover-memory,wss-echo16x16,wss-echo64k,wss-handshakes,latency50k,client-recv16,client-recv64k,\n' +
        '                                      client-recv16-rust,client-recv64k-rust,client-memory,client-connect,stream64m]\n' +
        '                         [--scale [--loadgens N] (only the scaling run: lws threads 1, 2, 4, 8 and reusePort processes; benches/workloads/scale.js)]\n' +
        '                         [--other-cpu-limit PCT]\n' +
        '                         (--servers alone runs only the server workloads, --clients alone only the client ones)\n' +
        '                         [--out DIR (default benches/results)] [--chart-only (re-render DIR/latest.svg from DIR/latest.json)]\n' +
        '                         [--baseline DIR (another lws checkout, built: its lws, lws WebSocketServer, lws.Client and lws.WebSocket run as "… (baseline)" in the same rounds)]\n' +
        '                         [--deflate-levels 1,2,... (rows "lws level N": lws.Server with perMessageDeflate level N; alone, they run beside uWS.js on the two deflate echo workloads)]');
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  if (o.rounds === null) o.rounds = o.quick ? 2 : 3;
  if (!Number.isInteger(o.rounds) || o.rounds < 1 || o.rounds > 50) throw new Error('--rounds must be 1..50');
  if (o.loadgens !== null && !(Number.isInteger(o.loadgens) && o.loadgens >= 1 && o.loadgens <= 64)) throw new Error('--loadgens must be 1..64');
  return o;
}

const SERVERS = [
  { name: 'lws', script: 'lws.js', env: {} },
  // The same server with the engine on the JS thread's event loop (`threads: 0`).
  { name: 'lws threads:0', script: 'lws.js', env: { LWS_THREADS: '0' } },
  { name: 'lws WebSocketServer', script: 'lws-wss.js', env: {} },
  { name: 'ws', script: 'ws.js', env: { WS_NO_BUFFER_UTIL: '1', WS_NO_UTF_8_VALIDATE: '1' } },
  { name: 'ws+bufferutil', script: 'ws-bufferutil.js', env: { WS_NO_BUFFER_UTIL: undefined, WS_NO_UTF_8_VALIDATE: undefined } },
  { name: 'uWS.js', script: 'uws.js', env: {} },
  // Not a Node process: its "main thread" CPU means nothing next to the others' (shown n/a).
  { name: 'rust-tokio', bin: CEILING, env: {}, noMainThread: true },
  ...compat.SERVERS,
];

// Client implementations (benches/clients/NAME.js WORKLOAD --url URL ...; see harness.js there).
const CLIENTS = [
  // Probed first (see clientAvailable): left out of the default run, with a note, where the lws
  // being measured (e.g. a --baseline checkout) has no such client.
  { name: 'lws.Client', script: 'lws-client.js', env: {}, probe: 'client' },
  { name: 'lws.WebSocket', script: 'lws-websocket.js', env: {}, probe: 'websocket' },
  { name: 'ws', script: 'ws.js', env: { WS_NO_BUFFER_UTIL: '1', WS_NO_UTF_8_VALIDATE: '1' } },
  { name: 'ws+bufferutil', script: 'ws-bufferutil.js', env: { WS_NO_BUFFER_UTIL: undefined, WS_NO_UTF_8_VALIDATE: undefined } },
  // The receive rows' ceiling: benches/loadgen's `recv`, a minimal client on one Rust thread that
  // checks and counts each message and does nothing else with it.
  { name: 'rust-tokio', bin: LOADGEN, env: {}, only: ['recv'] },
];

/**
 * Whether a client row can run here: whether `new lws.Client()`, or `new WebSocket(url)` for
 * lws.WebSocket, constructs a client in the lws it loads (a child process, loading lws as the
 * row's script would). Returns null if it can, else the reason.
 */
function clientAvailable(cl) {
  if (!cl.probe) return null;
  const code = cl.probe === 'client'
    ? `const lws = require(process.env.LWS_ROOT || ${JSON.stringify(ROOT)});
if (typeof lws.Client !== 'function') throw new Error('no lws.Client');
new lws.Client().close(() => process.exit(0));
setTimeout(() => process.exit(0), 2000);`
    : `const { WebSocket } = require(process.env.LWS_WEBSOCKET_ROOT || process.env.LWS_ROOT || ${JSON.stringify(ROOT)});
const ws = new WebSocket('ws://127.0.0.1:9/');
ws.on('error', () => {});
process.exit(0);`;
  const r = spawnSync(process.execPath, ['-e', code], { cwd: ROOT, env: childEnv(cl.env), encoding: 'utf8', timeout: 15000 });
  if (r.status === 0) return null;
  const msg = (r.stderr || '').split('\n').find((l) => /^\w*Error\b/.test(l)) || `exit ${r.status ?? r.signal}`;
  return msg.trim().slice(0, 200);
}

// The servers the client workloads run against (not rows of their own).
const PUSH_SERVER = { name: 'uWS.js push', script: 'uws-push.js', env: {} };
// The same messages from Rust (ceiling --push): frames built once, thousands per write, so the
// client, not the pusher, is the limit (the uWS.js pusher's JS thread makes one send() a message).
const RUST_PUSH_SERVER = { name: 'Rust push', bin: CEILING, env: {} };
const ECHO_SERVER = SERVERS.find((s) => s.name === 'uWS.js');

/**
 * Before/after in one interleaved run: the lws rows again, loading lws from
 * another checkout (e.g. a git worktree of the previous commit, built with
 * `node scripts/build.js`), named "lws (baseline)" and "lws WebSocketServer (baseline)".
 */
function withBaseline(servers, dir) {
  if (!fs.existsSync(path.join(dir, 'native'))) throw new Error(`--baseline ${dir}: no native/ there (build it with node scripts/build.js)`);
  const out = [];
  for (const s of servers) {
    out.push(s);
    if (['lws.js', 'lws-wss.js', 'lws-client.js', 'lws-websocket.js'].includes(s.script)) {
      out.push({ ...s, name: `${s.name} (baseline)`, env: { ...s.env, LWS_ROOT: dir, LWS_WEBSOCKET_ROOT: dir } });
    }
  }
  return out;
}

/** Connections opened and closed before the memory baseline. */
const MEMORY_WARMUP = 1000;

function workloads(quick) {
  const secs = quick ? 2 : 8;
  return [
    { id: 'echo16x16', kind: 'echo', title: `echo 16 B text, 100 conns x 16 in flight, ${secs} s`,
      args: ['--conns', '100', '--size', '16', '--inflight', '16', '--secs', String(secs)], secs },
    { id: 'echo16x1', kind: 'echo', title: `echo 16 B text, 100 conns x 1 in flight, ${secs} s`,
      args: ['--conns', '100', '--size', '16', '--inflight', '1', '--secs', String(secs)], secs },
    { id: 'echo64k', kind: 'echo', title: `echo 64 KiB binary, 10 conns x 4 in flight, ${secs} s`,
      args: ['--conns', '10', '--size', '65536', '--inflight', '4', '--secs', String(secs), '--binary'], secs },
    { id: 'handshakes', kind: 'handshakes', title: `handshakes, ${quick ? 1000 : 5000} at 100 concurrent`,
      args: ['--total', String(quick ? 1000 : 5000), '--concurrency', '100'], secs: 60 },
    { id: 'memory', kind: 'memory', title: `memory, ${quick ? 2000 : 10000} idle connections`,
      conns: quick ? 2000 : 10000, secs: 120 },
    // Servers get --broadcast: a text message starting with "broadcast " goes to every open
    // connection. Broadcasts run one at a time, each sent once the previous one reached everyone.
    { id: 'broadcast', kind: 'broadcast',
      title: `broadcast 64 B text to ${quick ? '2,000' : '10,000'} connections, 50 times`,
      args: ['--conns', String(quick ? 2000 : 10000), '--count', '50', '--size', '64',
        '--concurrency', '200', '--secs', '60'],
      serverArgs: ['--broadcast'], secs: 60 },
    // Client workloads: the client scripts against uWebSockets.js servers.
    { id: 'client-recv16', kind: 'recv', table: 'clients', server: PUSH_SERVER,
      title: `receive 16 B text pushed by uWS.js, 100 conns, ${secs} s`,
      serverArgs: ['--size', '16'], args: ['--conns', '100', '--size', '16', '--secs', String(secs)], secs },
    { id: 'client-recv64k', kind: 'recv', table: 'clients', server: PUSH_SERVER,
      title: `receive 64 KiB binary pushed by uWS.js, 100 conns, ${secs} s`,
      serverArgs: ['--size', '65536', '--binary'], args: ['--conns', '100', '--size', '65536', '--binary', '--secs', String(secs)], secs },
    { id: 'client-recv16-rust', kind: 'recv', table: 'clients', server: RUST_PUSH_SERVER,
      title: `receive 16 B text pushed by Rust (ceiling --push), 100 conns, ${secs} s`,
      serverArgs: ['--push', '16'], args: ['--conns', '100', '--size', '16', '--secs', String(secs)], secs },
    { id: 'client-recv64k-rust', kind: 'recv', table: 'clients', server: RUST_PUSH_SERVER,
      title: `receive 64 KiB binary pushed by Rust (ceiling --push), 100 conns, ${secs} s`,
      serverArgs: ['--push', '65536', '--binary'], args: ['--conns', '100', '--size', '65536', '--binary', '--secs', String(secs)], secs },
    { id: 'client-memory', kind: 'client-memory', table: 'clients', server: ECHO_SERVER,
      title: `client memory, ${quick ? '2,000' : '10,000'} idle connections`,
      args: ['--conns', String(quick ? 2000 : 10000), '--warmup', String(MEMORY_WARMUP), '--concurrency', '100'], secs: 150 },
    { id: 'client-connect', kind: 'connect', table: 'clients', server: ECHO_SERVER,
      title: `client connects, ${quick ? '1,000' : '5,000'} at 100 concurrent (open + close)`,
      args: ['--total', String(quick ? 1000 : 5000), '--concurrency', '100'], secs: 60 },
    ...WORKLOAD_MODULES.flatMap((m) => m.workloads(quick)),
  ].concat(pubsub.workloads(quick));
}

// ------------------------------------------------------------------ /proc

const CLK_TCK = (() => {
  try { return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100; } catch { return 100; }
})();

/** utime + stime in ticks from a /proc/.../stat file (the comm field may hold spaces). */
function statTicks(file) {
  try {
    const s = fs.readFileSync(file, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // after ')': state(3) ppid(4) ... utime(14) stime(15) -> indexes 11, 12
    return Number(f[11]) + Number(f[12]);
  } catch {
    return NaN;
  }
}

/** A thread's CPU time in ticks (1/CLK_TCK s) from its schedstat, which counts nanoseconds:
 * a JS thread that works 1 ms per second would read 0 or 10 ms in /proc's stat. */
function threadTicks(pid, tid) {
  try {
    return (Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]) * CLK_TCK) / 1e9;
  } catch {
    return statTicks(`/proc/${pid}/task/${tid}/stat`);
  }
}

function cpuSample(serverPid, loadgenPid) {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user + nice + system: time charged to tasks. irq/softirq (loopback packet processing, caused
  // largely by the benchmark itself) is kept apart.
  return {
    t: process.hrtime.bigint(),
    busy: line[0] + line[1] + line[2],
    softirq: line[5] + line[6],
    server: statTicks(`/proc/${serverPid}/stat`),
    serverMain: threadTicks(serverPid, serverPid),
    loadgen: loadgenPid ? statTicks(`/proc/${loadgenPid}/stat`) : 0,
    loadgenMain: loadgenPid ? threadTicks(loadgenPid, loadgenPid) : 0,
  };
}

function cpuDelta(a, b) {
  const wall = Number(b.t - a.t) / 1e9;
  const server = (b.server - a.server) / CLK_TCK;
  const serverMain = (b.serverMain - a.serverMain) / CLK_TCK;
  const loadgen = (b.loadgen - a.loadgen) / CLK_TCK;
  const loadgenMain = (b.loadgenMain - a.loadgenMain) / CLK_TCK;
  const busy = (b.busy - a.busy) / CLK_TCK;
  const softirq = (b.softirq - a.softirq) / CLK_TCK;
  // CPU used by everything else on the machine, in % of one core.
  const other = Math.max(0, busy - server - loadgen);
  return {
    wall, server, serverMain, loadgen, loadgenMain,
    otherCpuPct: wall > 0 ? (100 * other) / wall : 0,
    softirqPct: wall > 0 ? (100 * softirq) / wall : 0,
  };
}

function rssKB(pid) {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

// ------------------------------------------------------------------ processes

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Builds the loadgen crate (the load generator and the ceiling server) if either binary is
 * missing or older than a source. */
function buildLoadgen() {
  const src = (dir) => fs.readdirSync(path.join(LOADGEN_DIR, dir)).filter((f) => f.endsWith('.rs')).map((f) => `${dir}/${f}`);
  const inputs = ['Cargo.toml', 'Cargo.lock', ...src('src'), ...src('src/bin')]
    .map((f) => path.join(LOADGEN_DIR, f)).filter((f) => fs.existsSync(f));
  const bins = [LOADGEN, CEILING];
  let stale = !bins.every((b) => fs.existsSync(b));
  if (!stale) {
    const built = Math.min(...bins.map((b) => fs.statSync(b).mtimeMs));
    stale = inputs.some((f) => fs.statSync(f).mtimeMs > built);
  }
  if (!stale) return;
  console.error('building benches/loadgen (cargo build --release)...');
  const r = spawnSync('cargo', ['build', '--release', '--manifest-path', path.join(LOADGEN_DIR, 'Cargo.toml')], {
    cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], timeout: 15 * 60 * 1000,
  });
  if (r.status !== 0 || !bins.every((b) => fs.existsSync(b))) throw new Error('building the load generator failed');
  // cargo may leave an up-to-date binary's mtime alone
  for (const b of bins) fs.utimesSync(b, new Date(), new Date());
}

// Server ports stay below the ephemeral range (32768-60999 here), so the load generator's own
// client ports never take them; a fresh port per server start avoids TIME_WAIT leftovers.
let nextPort = 20000 + (process.pid % 500) * 20;

function portIsFree(port) {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, HOST, () => probe.close(() => resolve(true)));
  });
}

async function freePort() {
  for (let i = 0; i < 1000; i++) {
    const port = nextPort++;
    if (nextPort > 32000) nextPort = 20000;
    if (await portIsFree(port)) return port;
  }
  throw new Error('no free port below 32000');
}

/** Starts an echo server (a Node script or, for the ceiling, a binary); resolves once it printed
 * `ready PORT`. */
async function startServer(srv, extraArgs = []) {
  const port = await freePort();
  const env = childEnv(srv.env);
  const [cmd, args] = srv.bin ? [srv.bin, [String(port), ...extraArgs]]
    : [process.execPath, [path.join(__dirname, 'servers', srv.script), String(port), ...extraArgs]];
  const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${srv.name}: not ready within 20 s\n${stderr}`)); }, 20000);
    const rl = readline.createInterface({ input: child.stdout });
    rl.on('line', (line) => {
      if (line.startsWith('ready')) {
        clearTimeout(timer);
        resolve({ child, port, pid: child.pid, stderr: () => stderr, note: line.slice(6 + String(port).length).trim() });
      }
    });
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`${srv.name} exited (${code ?? sig}) before ready\n${stderr}`));
    });
  });
}

async function stopServer(s) {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  const exited = new Promise((r) => s.child.once('exit', r));
  s.child.kill('SIGTERM');
  const t = setTimeout(() => s.child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

/**
 * Runs the load generator. `onLine(line, child)` sees every stdout line; resolves with the last JSON
 * object printed. Killed after `limitSecs`.
 */
function runLoadgen(args, limitSecs, onLine, opts = {}) {
  return runChild('loadgen', LOADGEN, args, limitSecs, onLine, opts);
}

/** Env for a child: ours with `overrides` applied (undefined removes a variable). */
function childEnv(overrides) {
  const env = { ...process.env };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** Runs a measuring child (the loadgen or a client script) the same way: see runLoadgen. */
function runChild(label, cmd, args, limitSecs, onLine, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: opts.env || process.env, stdio: [opts.stdinPipe ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    if (child.stdin) child.stdin.on('error', () => {});
    let stderr = '';
    let last = null;
    child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
    const timer = setTimeout(() => child.kill('SIGKILL'), limitSecs * 1000);
    const rl = readline.createInterface({ input: child.stdout });
    rl.on('line', (line) => {
      if (line.startsWith('{')) {
        try { last = JSON.parse(line); } catch { /* ignore */ }
      }
      if (onLine) onLine(line, child);
    });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      if (last && !last.fatal) resolve(last);
      else reject(new Error(`${label} ${args.join(' ')} failed (${code ?? sig}): ${last?.fatal || stderr.trim()}`));
    });
  });
}

// ------------------------------------------------------------------ one measurement

async function measure(srv, wl) {
  if (wl.measure) return wl.measure(srv, wl, { startServer, stopServer, runLoadgen, cpuSample, cpuDelta, freePort, round, HOST, CLK_TCK });
  const server = await startServer(srv, wl.serverArgs);
  try {
    const portArgs = ['--host', HOST, '--port', String(server.port)];
    const echoLike = wl.kind === 'echo' || wl.kind === 'latency' || wl.kind === 'deflate-echo';
    if (echoLike || wl.kind === 'handshakes' || wl.kind === 'broadcast') {
      let a = null;
      let b = null;
      // latency: the echo at a fixed offered rate (--rate); deflate-echo: with --deflate
      const out = await runLoadgen([echoLike ? 'echo' : wl.kind, ...wl.args, ...portArgs], wl.secs + 120, (line, child) => {
        if (line === 'start') a = cpuSample(server.pid, child.pid);
        else if (line === 'stop') b = cpuSample(server.pid, child.pid);
      });
      if (!a || !b) throw new Error('loadgen printed no start/stop lines');
      const d = cpuDelta(a, b);
      const n = echoLike ? out.messages : { handshakes: out.handshakes, broadcast: out.deliveries }[wl.kind];
      const r = {
        errors: out.errors,
        other_cpu_pct: round(d.otherCpuPct, 1),
        softirq_pct: round(d.softirqPct, 1),
        client_cpu_s: round(d.loadgen, 2),
        server_cpu_s: round(d.server, 2),
        server_us: n > 0 ? (d.server * 1e6) / n : null,
        server_main_us: n > 0 && !srv.noMainThread ? (d.serverMain * 1e6) / n : null,
        client_us: n > 0 ? (d.loadgen * 1e6) / n : null,
        raw: out,
      };
      if (echoLike) {
        Object.assign(r, { rate: out.msgs_per_sec, p50_us: out.p50_us, p99_us: out.p99_us, p999_us: out.p999_us ?? null, wire_ratio: out.wire_in_ratio ?? null });
      }
      else if (wl.kind === 'broadcast') Object.assign(r, { rate: out.per_sec, p50_ms: out.p50_ms, max_ms: out.max_ms });
      else r.rate = out.per_sec;
      if (out.first_error) r.first_error = out.first_error;
      return r;
    }
    if (wl.kind === 'memory') {
      await sleep(500);
      const cold = rssKB(server.pid);
      // Warm-up: 1,000 connections opened, echoed once and closed, so the code paths a
      // connection uses are paged in and compiled before the baseline (the same for every
      // server). 'cold' keeps the delta from a server that never had a connection.
      // wl.args: how the measured connections are opened (e.g. --deflate); wl.warmupArgs, the warm-up's
      await runLoadgen(['idle', '--conns', String(MEMORY_WARMUP), ...(wl.warmupArgs || wl.args || []), ...portArgs], wl.secs, (line, child) => {
        if (line.startsWith('{"ready"')) child.stdin.end();
      }, { stdinPipe: true });
      await sleep(1000);
      const before = rssKB(server.pid);
      let ready = null;
      let t0 = null;
      const out = await runLoadgen(['idle', '--conns', String(wl.conns), ...(wl.args || []), ...portArgs], wl.secs, (line, child) => {
        if (!line.startsWith('{"ready"')) return;
        ready = JSON.parse(line);
        t0 = cpuSample(server.pid, child.pid);
        // Let the server settle, read its RSS, then release the connections (closes stdin).
        setTimeout(() => {
          ready.after = rssKB(server.pid);
          ready.cpu = cpuDelta(t0, cpuSample(server.pid, child.pid));
          child.stdin.end();
        }, 1500);
      }, { stdinPipe: true });
      if (!ready || ready.after === undefined) throw new Error('idle loadgen did not report ready');
      const n = out.ready;
      return {
        errors: out.errors + (wl.conns - n),
        rss_cold_kb: cold,
        rss_before_kb: before,
        rss_after_kb: ready.after,
        kb_per_conn: n > 0 ? (ready.after - before) / n : null,
        kb_per_conn_cold: n > 0 ? (ready.after - cold) / n : null,
        other_cpu_pct: round(ready.cpu.otherCpuPct, 1),
        raw: out,
        ...(out.first_error ? { first_error: out.first_error } : {}),
      };
    }
    throw new Error(`unknown workload kind ${wl.kind}`);
  } catch (e) {
    e.message += server.stderr() ? `\nserver stderr: ${server.stderr()}` : '';
    throw e;
  } finally {
    await stopServer(server);
  }
}

/**
 * One client measurement: a fresh server (uws-push.js for recv, the uWS.js echo server for the
 * others), the client script, CPU sampled at its `start` and `stop` lines (the client's all
 * threads and main thread, the server's, the rest of the machine).
 */
async function measureClient(cl, wl) {
  const server = await startServer(wl.server, wl.serverArgs);
  try {
    const [cmd, args] = cl.bin
      ? [cl.bin, [wl.kind, '--host', HOST, '--port', String(server.port), ...wl.args]]
      : [process.execPath, [path.join(__dirname, 'clients', cl.script), wl.kind === 'client-memory' ? 'idle' : wl.kind,
        '--url', `ws://${HOST}:${server.port}/`, ...wl.args, '--limit', String(wl.secs + 90)]];
    let a = null;
    let b = null;
    // The script's own limit ends it first (with a report); this kill is the backstop.
    const out = await runChild(cl.name, cmd, args, wl.secs + 120, (line, child) => {
      if (line === 'start') a = cpuSample(server.pid, child.pid);
      else if (line === 'stop') b = cpuSample(server.pid, child.pid);
    }, { env: childEnv(cl.env) });
    // A --baseline row runs the same script (its name without " (baseline)").
    const scriptName = cl.name.replace(/ \(baseline\)$/, '');
    if (out.client !== scriptName) throw new Error(`the script reported ${out.client}, not ${scriptName}`);
    const r = { errors: out.errors, raw: out };
    if (out.first_error) r.first_error = out.first_error;
    if (wl.kind === 'client-memory') {
      Object.assign(r, {
        rss_before_kb: out.rss_before_kb,
        rss_after_kb: out.rss_after_kb,
        kb_per_conn: out.kb_per_conn,
      });
      return r;
    }
    if (!a || !b) throw new Error(`${cl.name} printed no start/stop lines`);
    const d = cpuDelta(a, b);
    const n = wl.kind === 'recv' ? out.messages : out.connections;
    Object.assign(r, {
      rate: wl.kind === 'recv' ? out.msgs_per_sec : out.per_sec,
      other_cpu_pct: round(d.otherCpuPct, 1),
      softirq_pct: round(d.softirqPct, 1),
      client_cpu_s: round(d.loadgen, 2),
      client_main_cpu_s: round(d.loadgenMain, 2),
      server_cpu_s: round(d.server, 2),
      client_us: n > 0 ? (d.loadgen * 1e6) / n : null,
      client_main_us: n > 0 ? (d.loadgenMain * 1e6) / n : null,
      server_us: n > 0 ? (d.server * 1e6) / n : null,
      server_cpu_pct: d.wall > 0 ? round((100 * d.server) / d.wall, 0) : null,
      client_main_cpu_pct: d.wall > 0 ? round((100 * d.loadgenMain) / d.wall, 0) : null,
      stop_lag_s: out.stop_lag_s ?? null,
    });
    return r;
  } catch (e) {
    e.message += server.stderr() ? `\nserver stderr: ${server.stderr()}` : '';
    throw e;
  } finally {
    await stopServer(server);
  }
}

// ------------------------------------------------------------------ statistics and report

function round(x, d) {
  if (x === null || x === undefined || !Number.isFinite(x)) return null;
  const p = 10 ** d;
  return Math.round(x * p) / p;
}

function median(xs) {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function stats(xs) {
  const v = xs.filter(Number.isFinite);
  if (v.length === 0) return null;
  return { median: median(v), min: Math.min(...v), max: Math.max(...v), n: v.length };
}

// Which numbers the table shows for each kind of workload: [key, label, better, decimals, no ratio?].
const METRICS = {
  echo: [
    ['rate', 'msgs/s', 'higher', 0],
    ['server_us', 'server CPU µs/msg (all threads)', 'lower', 2],
    ['server_main_us', 'server CPU µs/msg (main thread)', 'lower', 2],
    ['p50_us', 'p50 latency µs', 'lower', 0],
    ['p99_us', 'p99 latency µs', 'lower', 0],
    ['client_us', 'loadgen CPU µs/msg (check: ≪ server)', 'lower', 2, 'no ratio'],
  ],
  handshakes: [
    ['rate', 'handshakes/s', 'higher', 0],
    ['server_us', 'server CPU µs/handshake (all threads)', 'lower', 1],
  ],
  memory: [
    ['kb_per_conn', 'server RSS KB/conn (after a 1,000-connection warm-up)', 'lower', 2],
    ['kb_per_conn_cold', 'server RSS KB/conn (from a server that never had a connection)', 'lower', 2],
  ],
  broadcast: [
    ['rate', 'deliveries/s', 'higher', 0],
    ['server_us', 'server CPU µs/delivery (all threads)', 'lower', 2],
    ['server_main_us', 'server CPU µs/delivery (main thread)', 'lower', 2],
    ['p50_ms', 'p50 ms until a broadcast reached every connection', 'lower', 1],
    // One read per delivery, as the server has one write: comparable, not ≪ (see README).
    ['client_us', 'loadgen CPU µs/delivery (receiving side)', 'lower', 2, 'no ratio'],
  ],
  // Client workloads (the second table): client_* is the client process under test.
  recv: [
    ['rate', 'msgs/s received', 'higher', 0],
    ['client_main_us', 'client CPU µs/msg (JS thread)', 'lower', 3],
    ['client_us', 'client CPU µs/msg (all threads)', 'lower', 3],
    // Near 100%: the push server, not the client, set the pace (compare CPU per message then).
    ['server_cpu_pct', 'push server CPU % of a core (check: < 100)', 'lower', 0, 'no ratio'],
    // Near 100%: the client's JS thread set the pace (the row shows the client's ceiling).
    ['client_main_cpu_pct', 'client JS thread CPU % of a core (near 100: the client is the limit)', 'lower', 0, 'no ratio'],
    // The window is timed on a thread of its own; this is how long the JS thread's timers waited.
    ['stop_lag_s', 'JS thread late to the window\'s end, s (timers starved)', 'lower', 2, 'no ratio'],
  ],
  'client-memory': [
    ['kb_per_conn', 'client RSS KB/conn (after a 1,000-connection warm-up)', 'lower', 2],
  ],
  connect: [
    ['rate', 'connections/s (open + close)', 'higher', 0],
    ['client_main_us', 'client CPU µs/connection (JS thread)', 'lower', 1],
    ['client_us', 'client CPU µs/connection (all threads)', 'lower', 1],
  ],
};

Object.assign(METRICS, pubsub.METRICS);
for (const m of WORKLOAD_MODULES) Object.assign(METRICS, m.METRICS || {});

function fmt(x, d) {
  if (x === null || x === undefined) return '–';
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US');
  return x.toFixed(d);
}

/** Which table a workload belongs to, and the result field naming its row. */
const isClientWl = (wl) => wl.table === 'clients';
const rowKey = (wl) => (isClientWl(wl) ? 'client' : 'server');

function summarize(results, wls, servers, clients) {
  const summary = {};
  for (const wl of wls) {
    summary[wl.id] = {};
    for (const srv of isClientWl(wl) ? clients : servers) {
      const runs = results.filter((r) => r.workload === wl.id && r[rowKey(wl)] === srv.name);
      const ok = runs.filter((r) => !r.failed);
      const s = {
        runs: runs.length,
        failed: runs.length - ok.length,
        errors: ok.reduce((a, r) => a + (r.errors || 0), 0),
        other_cpu_pct_max: stats(ok.map((r) => r.other_cpu_pct))?.max ?? null,
        na: runs.find((r) => r.na)?.na ?? null,
      };
      for (const [key] of METRICS[wl.kind]) s[key] = stats(ok.map((r) => r[key]));
      summary[wl.id][srv.name] = s;
    }
  }
  return summary;
}

/** One Markdown table: a row per workload and metric, a column per implementation, then ratios. */
function table(wls, rows, summary, pairs, short, errorsWord) {
  const names = rows.map((s) => s.name);
  const lines = [];
  const header = ['workload', 'metric', ...names, ...pairs.map(([a, r]) => `${short[a] || a} vs ${short[r] || r}`)];
  lines.push(`| ${header.join(' | ')} |`);
  lines.push(`|${header.map((h, i) => (i < 2 ? '---' : '---:')).join('|')}|`);
  const notes = [];
  for (const wl of wls) {
    let first = true;
    for (const [key, label, , d, noRatio] of METRICS[wl.kind]) {
      const cells = rows.map(({ name: n, noMainThread }) => {
        const s = summary[wl.id][n];
        const st = s[key];
        if (s.na) return first ? `n/a: ${s.na}` : 'n/a';
        if (key === 'server_main_us' && noMainThread) return 'n/a';
        if (!st) return s.failed ? 'failed' : '–';
        const flag = s.errors > 0 || s.failed > 0 ? ' ⚠' : '';
        return st.n > 1 ? `${fmt(st.median, d)} (${fmt(st.min, d)}–${fmt(st.max, d)})${flag}` : `${fmt(st.median, d)}${flag}`;
      });
      const ratios = pairs.map(([subject, r]) => {
        if (noRatio) return '';
        const a = summary[wl.id][subject]?.[key]?.median;
        const b = summary[wl.id][r]?.[key]?.median;
        return a != null && b ? `${(a / b).toFixed(2)}×` : '–';
      });
      lines.push(`| ${first ? wl.title : ''} | ${label} | ${cells.join(' | ')} | ${ratios.join(' | ')} |`);
      first = false;
    }
    for (const n of names) {
      const s = summary[wl.id][n];
      if (s.errors > 0 || s.failed > 0) notes.push(`- ${wl.id} / ${n}: ${s.errors} ${errorsWord} errors, ${s.failed} failed runs (see latest.json)`);
    }
  }
  lines.push('');
  const other = wls.map((wl) => {
    const m = Math.max(...names.map((n) => summary[wl.id][n].other_cpu_pct_max ?? 0));
    return `${wl.id} ${m.toFixed(0)}%`;
  });
  lines.push(`CPU used by other processes during the measured windows (max, % of one core): ${other.join(', ')}.`);
  return { lines, notes };
}

/** The ratio columns: [subject, reference] pairs present among `names`. */
function serverPairs(names) {
  // The core API against each reference, and the ws-compatible layer against ws.
  const pairs = ['ws', 'uWS.js'].filter((r) => names.includes(r) && names.includes('lws')).map((r) => ['lws', r]);
  if (names.includes('lws threads:0') && names.includes('uWS.js')) pairs.push(['lws threads:0', 'uWS.js']);
  if (names.includes('lws WebSocketServer') && names.includes('ws')) pairs.push(['lws WebSocketServer', 'ws']);
  if (names.includes('uWS.js')) pairs.push(...names.filter((n) => n.startsWith('lws level ')).map((n) => [n, 'uWS.js']));
  pairs.push(...compat.PAIRS.filter(([a, b]) => names.includes(a) && names.includes(b)));
  for (const name of names.filter((n) => n.endsWith(' (baseline)'))) pairs.push([name.slice(0, -' (baseline)'.length), name]);
  return pairs;
}

function clientPairs(names) {
  const pairs = ['lws.Client', 'lws.WebSocket', 'rust-tokio'].filter((a) => names.includes(a) && names.includes('ws')).map((a) => [a, 'ws']);
  for (const name of names.filter((n) => n.endsWith(' (baseline)'))) pairs.push([name.slice(0, -' (baseline)'.length), name]);
  return pairs;
}

function markdown(meta, wls, servers, clients, summary) {
  const serverWls = wls.filter((wl) => !isClientWl(wl));
  const clientWls = wls.filter(isClientWl);
  const names = servers.map((s) => s.name);
  const lines = [];
  lines.push('# lws benchmark results', '');
  lines.push(`- command: \`${meta.command}\``);
  lines.push(`- date: ${meta.date}`);
  lines.push(`- machine: nproc ${meta.nproc}, ${meta.cpu}, Node ${meta.node}, ${meta.platform}`);
  const rows = [serverWls.length ? 'servers' : null, clientWls.length ? 'clients' : null].filter(Boolean).join(' and ');
  lines.push(`- rounds: ${meta.rounds} (${rows} interleaved, order rotated each round)${meta.quick ? ', **quick run (short durations)**' : ''}`);
  lines.push('- cells: median (min–max) over rounds; ratios are lws ÷ reference, from medians (throughput: higher is better; µs, ms and KB: lower is better)');
  if (serverWls.length) {
    lines.push('- load generator: benches/loadgen (single-threaded Rust, real handshakes, pre-built masked frames, every echo and broadcast checked); server CPU from /proc/PID/stat (the main thread from its schedstat, in ns) between the measured window\'s start and stop');
    if (names.includes('rust-tokio')) lines.push('- rust-tokio: benches/loadgen/src/bin/ceiling.rs, a minimal RFC 6455 echo server on tokio (current_thread runtime), the ceiling (pub/sub rows: ceiling --rooms, publishes written straight to each member\'s socket); its main-thread CPU is n/a (not a Node process)');
  }
  if (clientWls.length) {
    lines.push('- clients: benches/clients/*.js, one Node process holding every connection, against uWebSockets.js (benches/servers/uws-push.js pushing numbered messages as fast as backpressure allows; uws.js echoing for memory and connects) and, in the -rust rows, the Rust pusher (benches/loadgen ceiling --push: the same messages, prebuilt frames, so the client sets the pace); every message\'s size, type and sequence number checked; client CPU from /proc/PID/stat (all threads) and /proc/PID/task/PID/schedstat (the JS thread, in ns) between the client\'s start and stop');
  }
  lines.push('', '![benchmark ratios](latest.svg)', '');
  const notes = [];
  if (serverWls.length) {
    if (clientWls.length) lines.push('## Servers', '');
    const t = table(serverWls, servers, summary, serverPairs(names), { 'lws WebSocketServer': 'lws wss' }, 'loadgen');
    lines.push(...t.lines);
    notes.push(...t.notes);
  }
  if (clientWls.length) {
    if (serverWls.length) lines.push('');
    lines.push('## Clients', '', 'One Node process holds the connections; ratios vs the `ws` client (plain, no native add-ons).', '');
    for (const { name, why } of meta.skipped_clients || []) lines.push(`${name}: left out, not available in the lws measured (${why}).`, '');
    const t = table(clientWls, clients, summary, clientPairs(clients.map((c) => c.name)), {}, 'client');
    lines.push(...t.lines);
    notes.push(...t.notes);
  }
  if (notes.length) lines.push('', '⚠ Errors:', ...notes);
  lines.push('');
  return lines.join('\n');
}

// ------------------------------------------------------------------ chart (hand-made SVG)

const esc = (t) => String(t).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

// Which table rows the chart shows (latencies and the loadgen check stay in the table).
// Rows marked 'no ratio' (checks) never are.
const CHART_METRICS = new Set(['rate', 'server_us', 'server_main_us', 'kb_per_conn', 'client_us', 'client_main_us']);
const CHART_PAIRS = [
  ['lws', 'ws', 'lws ÷ ws', '#1f4e9c'],
  ['lws', 'uWS.js', 'lws ÷ uWS.js', '#7fa7e0'],
  ['lws threads:0', 'uWS.js', 'lws threads:0 ÷ uWS.js', '#2e8b57'],
  ['lws WebSocketServer', 'ws', 'lws WebSocketServer ÷ ws', '#b8500f'],
  ['lws WebSocketServer', 'uWS.js', 'lws WebSocketServer ÷ uWS.js', '#f0a868'],
];
// The client workloads' bars: lws's clients ÷ the ws client.
const CLIENT_CHART_PAIRS = [
  ['lws.Client', 'ws', 'lws.Client ÷ ws client', '#6a3d9a'],
  ['lws.WebSocket', 'ws', 'lws.WebSocket ÷ ws client', '#c2185b'],
];

/**
 * Grouped horizontal bars, one group per workload and metric: lws (and lws WebSocketServer)
 * ÷ ws and ÷ uWS.js, from the medians, on a log scale around a 1.0 reference line.
 */
function chartSvg(data) {
  const { meta, workloads: wls, summary } = data;
  const has = (list, a, b) => (list || []).includes(a) && (list || []).includes(b);
  const serverPairsUsed = CHART_PAIRS.filter(([a, b]) => has(data.servers, a, b));
  const clientPairsUsed = CLIENT_CHART_PAIRS.filter(([a, b]) => has(data.clients, a, b));
  const groups = [];
  for (const wl of wls) {
    const pairs = isClientWl(wl) ? clientPairsUsed : serverPairsUsed;
    for (const [key, label, better, , noRatio] of METRICS[wl.kind] || []) {
      if (!CHART_METRICS.has(key) || noRatio || !summary[wl.id]) continue;
      const bars = pairs.map(([a, b, name, color]) => {
        const x = summary[wl.id][a]?.[key]?.median;
        const y = summary[wl.id][b]?.[key]?.median;
        return { name, color, ratio: x != null && y ? x / y : null };
      });
      if (bars.some((b) => b.ratio !== null)) groups.push({ wl, label, better, bars });
    }
  }
  const ratios = groups.flatMap((g) => g.bars.map((b) => b.ratio)).filter((r) => r > 0);
  // Log axis spanning every ratio, widened to 1-2-5 steps.
  const steps = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100];
  const lo = [...steps].reverse().find((t) => t <= Math.min(0.5, ...ratios)) ?? 0.01;
  const hi = steps.find((t) => t >= Math.max(2, ...ratios)) ?? 100;
  const W = 1000;
  const labelW = 360;
  const x0 = labelW + 50; // room for value labels left of the smallest bars
  const x1 = W - 60;
  const X = (r) => x0 + ((Math.log(Math.min(hi, Math.max(lo, r))) - Math.log(lo)) / (Math.log(hi) - Math.log(lo))) * (x1 - x0);
  const barH = 11;
  const legends = [serverPairsUsed, clientPairsUsed].filter((l) => l.length && groups.some((g) => g.bars.length === l.length && g.bars[0].name === l[0][2]));
  const top = 94 + 18 * Math.max(1, legends.length);
  const out = [];
  let y = top;
  let lastWl = null;
  const body = [];
  for (const g of groups) {
    if (g.wl !== lastWl) {
      y += lastWl ? 14 : 0;
      body.push(`<text x="12" y="${y + 12}" class="wl">${esc(g.wl.title)}</text>`);
      y += 20;
      lastWl = g.wl;
    }
    const h = g.bars.length * (barH + 2);
    const dir = g.better === 'higher' ? 'higher is better →' : '← lower is better';
    body.push(`<text x="${labelW}" y="${y + h / 2 - 2}" class="m" text-anchor="end">${esc(g.label)}</text>`);
    body.push(`<text x="${labelW}" y="${y + h / 2 + 11}" class="d" text-anchor="end">${dir}</text>`);
    g.bars.forEach((b, i) => {
      const by = y + i * (barH + 2);
      if (b.ratio === null) return;
      const a = X(1);
      const e = X(b.ratio);
      body.push(`<rect x="${Math.min(a, e).toFixed(1)}" y="${by}" width="${Math.max(1, Math.abs(e - a)).toFixed(1)}" height="${barH}" fill="${b.color}"><title>${esc(`${b.name}: ${b.ratio.toFixed(2)}×`)}</title></rect>`);
      const txt = `${b.ratio >= 10 ? b.ratio.toFixed(1) : b.ratio.toFixed(2)}×`;
      body.push(b.ratio >= 1
        ? `<text x="${(e + 3).toFixed(1)}" y="${by + barH - 2}" class="v">${txt}</text>`
        : `<text x="${(e - 3).toFixed(1)}" y="${by + barH - 2}" class="v" text-anchor="end">${txt}</text>`);
    });
    y += h + 10;
  }
  const H = y + 40;
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif">`);
  out.push('<style>text{fill:#222;font-size:12px}.t{font-size:16px;font-weight:bold}.wl{font-weight:bold;font-size:13px}.m{font-size:12px}.d{font-size:10px;fill:#666}.v{font-size:10px}.ax{font-size:10px;fill:#555}</style>');
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  const title = [
    serverPairsUsed.length && groups.some((g) => !isClientWl(g.wl)) ? 'lws ÷ ws and ÷ uWebSockets.js' : null,
    clientPairsUsed.length && groups.some((g) => isClientWl(g.wl)) ? 'lws clients ÷ the ws client' : null,
  ].filter(Boolean).join('; ') || 'lws';
  out.push(`<text x="12" y="24" class="t">${esc(title)}, per workload (medians; log scale)</text>`);
  out.push(`<text x="12" y="44">${esc(`${meta.command} — ${meta.date.slice(0, 10)}, ${meta.rounds} round(s)${meta.quick ? ', quick' : ''}, nproc ${meta.nproc}, Node ${meta.node}. Full numbers: latest.md.`)}</text>`);
  out.push(`<text x="12" y="62">${esc('Throughput rows: right of 1.0 is better for lws. CPU and memory rows: left of 1.0 is better for lws.')}</text>`);
  // Legend: a line for the server pairs, one for the client pairs.
  legends.forEach((list, i) => {
    let lx = 12;
    for (const [, , name, color] of list) {
      out.push(`<rect x="${lx}" y="${74 + 18 * i}" width="12" height="12" fill="${color}"/><text x="${lx + 17}" y="${84 + 18 * i}">${esc(name)}</text>`);
      lx += 34 + name.length * 6.6;
    }
  });
  // Axis: grid lines at 1-2-5 steps, the 1.0 line bold.
  for (const t of steps.filter((t) => t >= lo && t <= hi)) {
    const x = X(t).toFixed(1);
    out.push(`<line x1="${x}" y1="${top - 6}" x2="${x}" y2="${y}" stroke="${t === 1 ? '#000' : '#ddd'}" stroke-width="${t === 1 ? 1.5 : 1}"/>`);
    out.push(`<text x="${x}" y="${top - 10}" class="ax" text-anchor="middle">${t}×</text>`);
    out.push(`<text x="${x}" y="${y + 14}" class="ax" text-anchor="middle">${t}×</text>`);
  }
  out.push(...body);
  out.push(`<text x="${X(1).toFixed(1)}" y="${y + 30}" class="ax" text-anchor="middle">1.0 = same as the reference</text>`);
  out.push('</svg>', '');
  return out.join('\n');
}

function writeChart(dir, data) {
  const file = path.join(dir, 'latest.svg');
  fs.writeFileSync(file, chartSvg(data));
  return file;
}

// ------------------------------------------------------------------ main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.chartOnly) {
    const data = JSON.parse(fs.readFileSync(path.join(opts.out, 'latest.json'), 'utf8'));
    console.log(`wrote ${writeChart(opts.out, data)}`);
    return;
  }
  const pick = (known, names, what) => names.map((n) => known.find((s) => s.name === n) || (() => { throw new Error(`unknown ${what} ${n}`); })());
  let servers = opts.baseline ? withBaseline(SERVERS, opts.baseline) : SERVERS;
  if (opts.deflateLevels) {
    // What each compression level costs and saves, where the deflate rows show only the default.
    const levels = opts.deflateLevels.map((n) => ({ name: `lws level ${n}`, script: 'lws.js', env: { LWS_DEFLATE_LEVEL: n } }));
    servers = [...servers, ...levels];
    if (!opts.servers) opts.servers = ['uWS.js', ...levels.map((s) => s.name)];
    if (!opts.workloads) opts.workloads = ['deflate-echo', 'deflate-takeover-echo'];
  }
  let clients = opts.baseline ? withBaseline(CLIENTS, opts.baseline) : CLIENTS;
  if (opts.servers) servers = pick(servers, opts.servers, 'server');
  if (opts.clients) clients = pick(clients, opts.clients, 'client');
  let wls = workloads(opts.quick);
  if (opts.workloads) {
    wls = opts.workloads.map((id) => wls.find((w) => w.id === id) || (() => { throw new Error(`unknown workload ${id}`); })());
  } else if (opts.servers && !opts.clients) {
    wls = wls.filter((wl) => !isClientWl(wl)); // --servers alone: the server table only
  } else if (opts.clients && !opts.servers) {
    wls = wls.filter(isClientWl); // --clients alone: the client table only
  }
  if (!wls.some(isClientWl)) clients = [];
  if (wls.every(isClientWl)) servers = [];
  // A client row the lws measured cannot run yet (lws.WebSocket before it lands) is left out of
  // the default run with a note; named with --clients, it runs (and fails) all the same.
  const skipped = [];
  if (!opts.clients) {
    clients = clients.filter((cl) => {
      const why = clientAvailable(cl);
      if (why) {
        skipped.push({ name: cl.name, why });
        console.error(`${cl.name}: left out (not available in this lws: ${why})`);
      }
      return !why;
    });
  }
  if (opts.scale) {
    buildLoadgen();
    await require('./workloads/scale').run(opts, { runLoadgen, statTicks, childEnv, freePort, ROOT, HOST, CLK_TCK });
    return;
  }
  if (servers.length || clients.some((cl) => cl.bin) || wls.some((wl) => wl.server && wl.server.bin)) buildLoadgen();
  for (const wl of wls) if (wl.prepare) wl.prepare();
  fs.mkdirSync(opts.out, { recursive: true });

  const meta = {
    command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
    date: new Date().toISOString(),
    nproc: Number(execFileSync('nproc').toString().trim()),
    cpu: os.cpus()[0]?.model || 'unknown CPU',
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
    rounds: opts.rounds,
    quick: opts.quick,
    clk_tck: CLK_TCK,
    skipped_clients: skipped,
  };
  const results = [];
  const started = Date.now();
  const rotate = (list, round) => list.map((_, i) => list[(i + round) % list.length]);
  for (let round = 0; round < opts.rounds; round++) {
    const order = rotate(servers, round);
    const clientOrder = rotate(clients, round);
    console.error(`round ${round + 1}/${opts.rounds}: ${[...order, ...clientOrder].map((s) => s.name).join(', ')}`);
    for (const wl of wls) {
      for (const srv of isClientWl(wl) ? clientOrder : order) {
        const na = wl.notApplicable?.(srv) || (srv.only && !srv.only.includes(wl.kind) ? 'the receive rows\' ceiling only' : null);
        if (na) {
          results.push({ round: round + 1, workload: wl.id, [rowKey(wl)]: srv.name, na });
          console.error(`  ${wl.id.padEnd(10)} ${srv.name.padEnd(14)} n/a: ${na}`);
          continue;
        }
        if (!isClientWl(wl) && !compat.runs(srv, wl)) continue; // issue 15's rows run only their own workloads
        let r = null;
        for (let attempt = 0; attempt < 2; attempt++) {
          try {
            r = isClientWl(wl) ? await measureClient(srv, wl) : await measure(srv, wl);
          } catch (e) {
            r = { failed: true, error: String(e.message || e) };
          }
          // Memory does not depend on CPU share: rerun it only on failure.
          const busy = !r.failed && !wl.kind.endsWith('memory') && r.other_cpu_pct > opts.otherCpuLimit;
          if (!busy && !r.failed) break;
          if (attempt === 0) {
            console.error(`  ${wl.id} ${srv.name}: ${r.failed ? `failed: ${r.error.split('\n')[0]}` : `other CPU ${r.other_cpu_pct}%`}; rerunning once`);
            await sleep(1000);
          }
        }
        results.push({ round: round + 1, workload: wl.id, [rowKey(wl)]: srv.name, ...r });
        const show = r.failed ? `FAILED ${r.error.split('\n')[0]}`
          : wl.kind.endsWith('memory') ? `${fmt(r.kb_per_conn, 2)} KB/conn`
          : isClientWl(wl) ? `${fmt(r.rate, 0)}/s, client ${fmt(r.client_us, 3)} µs (JS thread ${fmt(r.client_main_us, 3)}, ${fmt(r.client_main_cpu_pct, 0)}% of a core), server ${fmt(r.server_cpu_pct, 0)}% of a core, other CPU ${r.other_cpu_pct}%`
          : `${fmt(r.rate, 0)}/s, server ${fmt(r.server_us, 2)} µs (main ${fmt(r.server_main_us, 2)}), other CPU ${r.other_cpu_pct}%`;
        console.error(`  ${wl.id.padEnd(10)} ${srv.name.padEnd(14)} ${show}${r.errors ? `, ${r.errors} errors (${r.first_error})` : ''}`);
      }
    }
  }
  meta.duration_s = round((Date.now() - started) / 1000, 1);
  const summary = summarize(results, wls, servers, clients);
  const md = markdown(meta, wls, servers, clients, summary);
  const data = {
    meta,
    workloads: wls.map(({ server, ...wl }) => (server ? { ...wl, server: server.script } : wl)),
    servers: servers.map((s) => s.name),
    clients: clients.map((s) => s.name),
    summary,
    runs: results,
  };
  fs.writeFileSync(path.join(opts.out, 'latest.json'), JSON.stringify(data, null, 2) + '\n');
  fs.writeFileSync(path.join(opts.out, 'latest.md'), md);
  writeChart(opts.out, data);
  console.log(md);
  const bad = results.some((r) => r.failed || r.errors > 0);
  if (bad) {
    console.error(`some runs failed or reported errors; see ${path.join(opts.out, 'latest.json')}`);
    process.exitCode = 1;
  }
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
