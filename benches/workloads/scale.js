'use strict';
// npm run bench -- --scale [--quick] [--rounds N] [--loadgens N] [--out DIR]
//
// How lws scales with cores: echo 16 B x 16 in flight against lws.Server with `threads: 1, 2, 4, 8`
// and against 2 and 4 processes sharing the port with `reusePort` (threads: 1 each), driven by
// several load generator processes at once (--loadgens, default max(2, nproc / 2)), interleaved
// over rounds as the main benchmark is. For each configuration: msgs/s, server CPU per message
// (all threads, the JS threads, the engine threads), and messages per wake-up of a JS thread and
// of an engine thread (voluntary context switches: each one is a sleep, so a wake-up follows).
//
// One more configuration, `threads: 1` with 1 message in flight, gives smaller batches; from the
// two `threads: 1` points the JS thread's cost is fitted:
//   JS-thread CPU per message = c + h / B   (B messages per wake-up of the JS thread)
// c is its work per message, h the cost of one hand-off (a sleep and a wake-up). The engine
// thread's cost per message is taken as measured at 16 in flight (its batches are large there;
// at 1 in flight its cost is dominated by one read and one write per message, not by wake-ups,
// so the same fit does not apply to it). With these the model predicts what the configurations
// could reach on more cores (a prediction, printed as one).
// Writes scale.json and scale.md to --out (default benches/results).

const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');

const CONFIGS = [
  { name: 'threads: 1', procs: 1, threads: 1 },
  { name: 'threads: 2', procs: 1, threads: 2 },
  { name: 'threads: 4', procs: 1, threads: 4 },
  { name: 'threads: 8', procs: 1, threads: 8 },
  { name: 'reusePort x 2 (threads: 1 each)', procs: 2, threads: 1 },
  { name: 'reusePort x 4 (threads: 1 each)', procs: 4, threads: 1 },
  // The small-batch point of the cost model (same server, 1 in flight per connection).
  { name: 'threads: 1, 1 in flight', procs: 1, threads: 1, inflight: 1, model: true },
];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Per-thread CPU ticks and voluntary context switches of a process, by role. */
function threadSample(pid, statTicks) {
  const out = { js: 0, engine: 0, other: 0, jsWakes: 0, engineWakes: 0 };
  let tids = [];
  try { tids = fs.readdirSync(`/proc/${pid}/task`); } catch { return out; }
  for (const tid of tids) {
    const dir = `/proc/${pid}/task/${tid}`;
    let comm = '';
    let status = '';
    try {
      comm = fs.readFileSync(`${dir}/comm`, 'utf8').trim();
      status = fs.readFileSync(`${dir}/status`, 'utf8');
    } catch { continue; } // a thread that ended meanwhile
    const ticks = statTicks(`${dir}/stat`);
    const vcsw = Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] || 0);
    if (tid === String(pid)) {
      out.js += ticks;
      out.jsWakes += vcsw;
    } else if (comm.startsWith('lws-worker')) {
      out.engine += ticks;
      out.engineWakes += vcsw;
    } else {
      out.other += ticks; // libuv's pool, V8's GC and compiler threads
    }
  }
  return out;
}

function sample(serverPids, loadgenPids, statTicks) {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const s = { t: process.hrtime.bigint(), busy: line[0] + line[1] + line[2], js: 0, engine: 0, other: 0, jsWakes: 0, engineWakes: 0, loadgen: 0 };
  for (const pid of serverPids) {
    const t = threadSample(pid, statTicks);
    for (const k of ['js', 'engine', 'other', 'jsWakes', 'engineWakes']) s[k] += t[k];
  }
  for (const pid of loadgenPids) s.loadgen += statTicks(`/proc/${pid}/stat`);
  return s;
}

/** Starts `procs` lws.js servers on one port (reusePort when more than one); resolves once all are ready. */
async function startServers(cfg, ctx) {
  const port = await ctx.freePort();
  const args = [path.join(__dirname, '..', 'servers', 'lws.js'), String(port), ...(cfg.procs > 1 ? ['--reuse-port'] : [])];
  const env = ctx.childEnv({ LWS_THREADS: String(cfg.threads) });
  const children = [];
  const ready = [];
  for (let i = 0; i < cfg.procs; i++) {
    const child = spawn(process.execPath, args, { cwd: ctx.ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let stderr = '';
    child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-2000); });
    ready.push(new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${cfg.name}: not ready within 20 s\n${stderr}`)), 20000);
      readline.createInterface({ input: child.stdout }).on('line', (l) => {
        if (l.startsWith('ready')) { clearTimeout(timer); resolve(); }
      });
      child.on('exit', (code, sig) => { clearTimeout(timer); reject(new Error(`${cfg.name}: exited (${code ?? sig}) before ready\n${stderr}`)); });
    }));
  }
  try {
    await Promise.all(ready);
  } catch (e) {
    await stopServers(children);
    throw e;
  }
  return { port, children };
}

async function stopServers(children) {
  await Promise.all(children.map((c) => {
    if (c.exitCode !== null || c.signalCode !== null) return null;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 5000);
    return exited.then(() => clearTimeout(t));
  }));
}

/** One configuration: servers up, `loadgens` load generators at once, CPU sampled once all have
 * started and again when the first stops. */
async function measureConfig(cfg, opts, ctx) {
  const { port, children } = await startServers(cfg, ctx);
  const serverPids = children.map((c) => c.pid);
  try {
    const loadgenPids = [];
    let started = 0;
    let a = null;
    let b = null;
    const runs = [];
    for (let i = 0; i < opts.loadgens; i++) {
      runs.push(ctx.runLoadgen(['echo', '--conns', '100', '--size', '16', '--inflight', String(cfg.inflight || 16),
        '--secs', String(opts.secs), '--host', ctx.HOST, '--port', String(port)], opts.secs + 120, (line, child) => {
        if (line === 'start') {
          loadgenPids.push(child.pid);
          if (++started === opts.loadgens) a = sample(serverPids, loadgenPids, ctx.statTicks);
        } else if (line === 'stop' && a && !b) {
          b = sample(serverPids, loadgenPids, ctx.statTicks);
        }
      }));
    }
    const outs = await Promise.all(runs);
    if (!a || !b) throw new Error('the load generators printed no start/stop lines');
    const wall = Number(b.t - a.t) / 1e9;
    const rate = outs.reduce((s, o) => s + o.msgs_per_sec, 0);
    const msgs = rate * wall; // messages in the sampled window
    const us = (ticks) => (msgs > 0 ? (ticks / ctx.CLK_TCK) * 1e6 / msgs : null);
    const d = (k) => b[k] - a[k];
    const errors = outs.reduce((s, o) => s + (o.errors || 0), 0);
    const other = Math.max(0, d('busy') - d('js') - d('engine') - d('other') - d('loadgen')) / ctx.CLK_TCK;
    return {
      rate,
      server_us: us(d('js') + d('engine') + d('other')),
      js_us: us(d('js')),
      engine_us: cfg.threads > 0 ? us(d('engine')) : null,
      per_js_wake: d('jsWakes') > 0 ? msgs / d('jsWakes') : null,
      per_engine_wake: d('engineWakes') > 0 ? msgs / d('engineWakes') : null,
      loadgen_us: us(d('loadgen')),
      other_cpu_pct: wall > 0 ? Math.round((100 * other) / wall) : null,
      errors,
      first_error: outs.find((o) => o.first_error)?.first_error,
    };
  } finally {
    await stopServers(children);
  }
}

function median(xs) {
  const s = xs.filter(Number.isFinite).sort((x, y) => x - y);
  if (!s.length) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Fits CPU per message = c + h / B on one thread from two points (big batches, small batches).
 * Returns null when the points cannot separate the two terms.
 */
function fit(big, small) {
  if (![big.us, big.b, small.us, small.b].every((x) => Number.isFinite(x) && x > 0)) return null;
  const dInv = 1 / small.b - 1 / big.b;
  if (dInv <= 0) return null;
  const h = (small.us - big.us) / dInv;
  const c = big.us - h / big.b;
  return h > 0 && c > 0 ? { c, h } : null;
}

/** What the cost model predicts for `cores` cores, the load generated elsewhere. */
function predict(model, cores) {
  const { js, engineUs, bJs } = model;
  const perMsgJs = js.c + js.h / bJs; // one JS thread per process
  const perMsgEngine = engineUs; // per engine thread
  const jsLimit = 1e6 / perMsgJs;
  // One process: one core for JavaScript, engine threads on the rest (at most 8).
  const threads = Math.min(8, Math.max(1, cores - 1));
  const single = Math.min(jsLimit, (threads * 1e6) / perMsgEngine);
  // reusePort: a process per two cores, each with threads: 1.
  const procs = Math.max(1, Math.floor(cores / 2));
  const perProc = Math.min(jsLimit, 1e6 / perMsgEngine);
  return { cores, threads, single, procs, reuse: procs * perProc, jsBound: jsLimit <= (threads * 1e6) / perMsgEngine };
}

const fmt = (x, d = 0) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x >= 1000 ? Math.round(x).toLocaleString('en-US') : x.toFixed(d));

async function run(opts, ctx) {
  const nproc = os.availableParallelism ? os.availableParallelism() : os.cpus().length;
  const o = {
    rounds: opts.rounds,
    secs: opts.quick ? 2 : 5,
    loadgens: opts.loadgens || Math.max(2, Math.ceil(nproc / 2)),
  };
  const started = Date.now();
  const results = [];
  for (let round = 0; round < o.rounds; round++) {
    const order = CONFIGS.map((_, i) => CONFIGS[(i + round) % CONFIGS.length]);
    console.error(`scale round ${round + 1}/${o.rounds} (${o.loadgens} load generators)`);
    for (const cfg of order) {
      let r;
      try {
        r = await measureConfig(cfg, o, ctx);
      } catch (e) {
        r = { failed: true, error: String(e.message || e) };
      }
      results.push({ round: round + 1, config: cfg.name, ...r });
      console.error(`  ${cfg.name.padEnd(34)} ${r.failed ? `FAILED ${r.error.split('\n')[0]}` : `${fmt(r.rate)} msg/s, server ${fmt(r.server_us, 2)} µs/msg (JS ${fmt(r.js_us, 2)}, engine ${fmt(r.engine_us, 2)}), ${fmt(r.per_js_wake, 1)} msgs per JS wake, other CPU ${r.other_cpu_pct}%${r.errors ? `, ${r.errors} errors (${r.first_error})` : ''}`}`);
      await sleep(300);
    }
  }
  const keys = ['rate', 'server_us', 'js_us', 'engine_us', 'per_js_wake', 'per_engine_wake', 'loadgen_us', 'other_cpu_pct'];
  const summary = {};
  for (const cfg of CONFIGS) {
    const ok = results.filter((r) => r.config === cfg.name && !r.failed);
    summary[cfg.name] = Object.fromEntries(keys.map((k) => [k, median(ok.map((r) => r[k]))]));
    summary[cfg.name].failed = results.filter((r) => r.config === cfg.name && r.failed).length;
    summary[cfg.name].errors = ok.reduce((s, r) => s + (r.errors || 0), 0);
  }
  const big = summary['threads: 1'];
  const small = summary['threads: 1, 1 in flight'];
  const js = fit({ us: big.js_us, b: big.per_js_wake }, { us: small.js_us, b: small.per_js_wake });
  const model = js && big.engine_us > 0 ? { js, engineUs: big.engine_us, bJs: big.per_js_wake } : null;
  const predictions = model ? [8, 16].map((c) => predict(model, c)) : [];

  const command = ['npm run bench', '--', ...process.argv.slice(2)].join(' ');
  const lines = ['# lws scaling run', '',
    `- command: \`${command}\``,
    `- date: ${new Date().toISOString()}, nproc ${nproc}, ${os.cpus()[0]?.model || 'unknown CPU'}, Node ${process.version}`,
    `- ${o.rounds} round(s), configurations interleaved; echo 16 B text, 100 conns x 16 in flight per load generator, ${o.loadgens} load generators at once, ${o.secs} s windows; medians`,
    '- CPU per message from /proc/PID/task/*/stat: the JS thread, the engine threads (lws-worker-N), everything (with libuv and V8 threads); messages per wake-up from each thread\'s voluntary context switches',
    '',
    '| configuration | msgs/s | server CPU µs/msg (all) | JS thread µs/msg | engine threads µs/msg | msgs per JS wake-up | msgs per engine wake-up | loadgen µs/msg | other CPU % |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|'];
  for (const cfg of CONFIGS) {
    const s = summary[cfg.name];
    const flag = s.failed || s.errors ? ` ⚠ (${s.failed} failed, ${s.errors} errors)` : '';
    lines.push(`| ${cfg.name}${flag} | ${fmt(s.rate)} | ${fmt(s.server_us, 2)} | ${fmt(s.js_us, 2)} | ${fmt(s.engine_us, 2)} | ${fmt(s.per_js_wake, 1)} | ${fmt(s.per_engine_wake, 1)} | ${fmt(s.loadgen_us, 2)} | ${fmt(s.other_cpu_pct)} |`);
  }
  lines.push('');
  if (model) {
    lines.push('Cost model, from the two `threads: 1` rows:',
      `- JS thread: CPU per message = c + h / B with c = ${fmt(js.c, 3)} µs per message and h = ${fmt(js.h, 1)} µs per hand-off (one wake-up of the JS thread, B messages per wake-up)`,
      `- engine thread: ${fmt(model.engineUs, 2)} µs per message (measured at 16 in flight, with its own wake-ups and the socket system calls)`,
      '',
      `**Prediction** (not a measurement): with JS batches as big as here (B = ${fmt(model.bJs, 0)}), the load generated on other machines, and the kernel's TCP work scaling with cores:`);
    for (const p of predictions) {
      lines.push(`- ${p.cores} cores: one process with threads: ${p.threads} ≈ ${fmt(p.single)} msg/s (${p.jsBound ? 'bound by its one JS thread' : 'bound by the engine threads'}); ${p.procs} reusePort processes with threads: 1 ≈ ${fmt(p.reuse)} msg/s`);
    }
  } else {
    lines.push('Cost model: not fitted (the two `threads: 1` rows could not separate the JS thread\'s per-message work from its hand-off cost; see scale.json).');
  }
  lines.push('');
  const md = lines.join('\n');
  fs.mkdirSync(opts.out, { recursive: true });
  fs.writeFileSync(path.join(opts.out, 'scale.json'), JSON.stringify({ command, nproc, options: o, duration_s: (Date.now() - started) / 1000, summary, model, predictions, runs: results }, null, 2) + '\n');
  fs.writeFileSync(path.join(opts.out, 'scale.md'), md);
  console.log(md);
  if (results.some((r) => r.failed || r.errors > 0)) {
    console.error(`some runs failed or reported errors; see ${path.join(opts.out, 'scale.json')}`);
    process.exitCode = 1;
  }
}

module.exports = { run, fit, predict };
