'use strict';
// lws's permessage-deflate at each compression level against uWebSockets.js, on the deflate echo
// workload of `npm run bench` (1 KiB JSON-like text, 100 connections x 16 in flight, the loadgen
// compressing what it sends and inflating every echo). It shows what the bench's deflate rows
// (lws at its default level, 6) cannot: what each level costs and what it saves on the wire.
// The servers run one after another, interleaved, for each round; cells are medians over rounds.
//
// Usage: node benches/deflate-levels.js [--mode takeover|no-takeover] [--levels 1,2,...] [--rounds N] [--secs S]
// (build benches/loadgen first: `npm run bench` does, or cargo build --release in benches/loadgen)
const fs = require('fs');
const path = require('path');
const { spawn } = require('child_process');

const LOADGEN = path.join(__dirname, 'loadgen', 'target', 'release', 'loadgen');
const SERVERS = path.join(__dirname, 'servers');

function parseArgs(argv) {
  const o = { mode: 'takeover', levels: [1, 2, 3, 4, 5, 6, 9], rounds: 3, secs: 4 };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    if (argv[i] === '--mode' && (v === 'takeover' || v === 'no-takeover')) o.mode = v;
    else if (argv[i] === '--levels' && /^[0-9](,[0-9])*$/.test(v || '')) o.levels = v.split(',').map(Number);
    else if (argv[i] === '--rounds' && Number(v) >= 1 && Number(v) <= 20) o.rounds = Number(v);
    else if (argv[i] === '--secs' && Number(v) >= 1 && Number(v) <= 60) o.secs = Number(v);
    else throw new Error(`usage: node benches/deflate-levels.js [--mode takeover|no-takeover] [--levels 1,2,...] [--rounds 1-20] [--secs 1-60] (bad: ${argv[i]})`);
    i++;
  }
  return o;
}

/** CPU seconds (user + system, all threads) of a process so far. */
function cpuSeconds(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function run(file, args, onLine) {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
    if (onLine) for (const line of String(d).split('\n')) if (line) onLine(line);
  });
  return { child, done: new Promise((resolve) => child.on('exit', (code) => resolve({ code, out }))) };
}

/** One measurement: a server on `port`, the loadgen's echo against it; msg/s, server CPU, wire ratio. */
async function measure(server, port, secs) {
  let ready;
  const listening = new Promise((resolve) => { ready = resolve; });
  const srv = run(process.execPath, [path.join(SERVERS, server.script), String(port), ...server.args], (line) => {
    if (line.startsWith('ready')) ready();
  });
  const timer = setTimeout(() => ready(), 10_000);
  await listening;
  clearTimeout(timer);
  let cpuAtStart = null;
  let cpuAtStop = null;
  const lg = run(LOADGEN, ['echo', '--port', String(port), '--conns', '100', '--size', '1024', '--inflight', '16',
    '--secs', String(secs), '--json', '--deflate'], (line) => {
    if (line === 'start') cpuAtStart = cpuSeconds(srv.child.pid);
    if (line === 'stop') cpuAtStop = cpuSeconds(srv.child.pid);
  });
  const { code, out } = await lg.done;
  srv.child.kill();
  await srv.done;
  const result = JSON.parse(out.trim().split('\n').pop());
  if (code !== 0 || result.errors) throw new Error(`${server.name}: loadgen failed (${out.trim().split('\n').pop()})`);
  return {
    rate: result.msgs_per_sec,
    cpuUs: cpuAtStart === null || cpuAtStop === null ? NaN : ((cpuAtStop - cpuAtStart) * 1e6) / result.messages,
    wire: result.wire_in_ratio,
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(LOADGEN)) throw new Error(`no ${LOADGEN}: build benches/loadgen first`);
  const servers = [
    { name: 'uWS.js', script: 'uws.js', args: ['--deflate', o.mode] },
    ...o.levels.map((level) => ({ name: `lws level ${level}`, script: 'lws.js', args: ['--deflate', o.mode, '--deflate-level', String(level)] })),
  ];
  const results = new Map(servers.map((s) => [s.name, []]));
  let port = 9600 + Math.floor(Math.random() * 300);
  for (let round = 0; round < o.rounds; round++) {
    // Rotated each round, so that no server always runs first or last.
    const order = servers.map((_, i) => servers[(i + round) % servers.length]);
    for (const server of order) {
      const r = await measure(server, port++, o.secs);
      results.get(server.name).push(r);
      console.error(`round ${round + 1} ${server.name}: ${Math.round(r.rate)} msg/s, ${r.cpuUs.toFixed(1)} µs/msg, wire ${r.wire}`);
    }
  }
  const uws = median(results.get('uWS.js').map((r) => r.rate));
  console.log(`permessage-deflate ${o.mode === 'takeover' ? 'with' : 'without'} context takeover, echo of 1 KiB JSON-like text, 100 conns x 16 in flight, ${o.secs} s, ${o.rounds} rounds (medians)\n`);
  console.log('| server | msgs/s | vs uWS.js | server CPU µs/msg (all threads) | bytes the server sent ÷ payload bytes |');
  console.log('|---|---:|---:|---:|---:|');
  for (const s of servers) {
    const rs = results.get(s.name);
    const rate = median(rs.map((r) => r.rate));
    console.log(`| ${s.name} | ${Math.round(rate).toLocaleString('en-US')} | ${(rate / uws).toFixed(2)}× | ${median(rs.map((r) => r.cpuUs)).toFixed(1)} | ${median(rs.map((r) => r.wire)).toFixed(3)} |`);
  }
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
