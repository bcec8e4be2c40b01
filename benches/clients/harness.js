'use strict';
// The client workloads of `npm run bench`, shared by every client implementation in this
// directory (ws.js, ws-bufferutil.js, lws-websocket.js, lws-client.js). Each of those gives an
// adapter: { open(url, conn) -> handle, send(handle, data), close(handle), terminate(handle) }
// that calls conn.onOpen(), conn.onMessage(data, isBinary), conn.onClose(code) and
// conn.onError(err) from its library's events, and nothing else.
//
//   node benches/clients/NAME.js recv --url ws://127.0.0.1:P/ --conns 100 --size 16 [--binary] --secs 8
//     (against benches/servers/uws-push.js, which pushes numbered messages on every connection)
//     opens the connections, starts them all (one message each), lets them receive for 0.5 s,
//     prints `start`, receives for --secs,
//     prints `stop` (the window timed on a thread of its own: see CLOCK), then
//     {"messages","secs","msgs_per_sec","mb_per_sec","conns","min_conn_msgs","stop_lag_s","errors",...}
//   node benches/clients/NAME.js connect --url URL --total 5000 --concurrency 100
//     (against an echo server) opens and closes (close handshake, code 1000) --total connections,
//     --concurrency at a time; prints `start`, `stop`, then {"connections","secs","per_sec","errors",...}
//   node benches/clients/NAME.js idle --url URL --conns 10000 --warmup 1000 --concurrency 100
//     (against an echo server) opens --warmup connections, each echoes one message, closes them,
//     waits 1 s and reads its own VmRSS (before); opens --conns connections the same way and keeps
//     them, waits 1.5 s, reads VmRSS (after); prints {"ready","rss_before_kb","rss_after_kb","kb_per_conn","errors",...}
//
// Every message and connection is checked (recv: each message's type, size and sequence number;
// connect and idle: every connection opens, echoes and closes as it should); what is wrong is
// counted in "errors" (the first one described in "first_error"). Every phase is bounded in time,
// and --limit SECS (default 120) ends the process in any case, printing {"fatal": ...} (from a
// thread of its own: see CLOCK).

const fs = require('fs');

function parse(argv) {
  const o = { workload: argv[0], url: null, conns: 100, size: 16, binary: false, secs: 8, total: 5000, concurrency: 100, warmup: 1000, limit: 120 };
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`missing value for ${a}`);
      return v;
    };
    if (a === '--url') o.url = val();
    else if (a === '--binary') o.binary = true;
    else if (['--conns', '--size', '--secs', '--total', '--concurrency', '--warmup', '--limit'].includes(a)) {
      const n = Number(val());
      if (!(n >= 0)) throw new Error(`bad value for ${a}`);
      o[a.slice(2)] = n;
    } else throw new Error(`unknown option ${a}`);
  }
  if (!['recv', 'connect', 'idle'].includes(o.workload)) throw new Error('workload must be recv, connect or idle');
  if (!o.url) throw new Error('--url is required');
  return o;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function rssKB() {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** Errors of one run: counted, the first one kept. */
class Errors {
  constructor() { this.count = 0; this.first = null; }
  add(what) {
    this.count++;
    if (this.first === null) this.first = String(what && what.message ? what.message : what);
  }
}

/** Waits until cond() or ms elapsed; resolves with cond(). */
async function until(cond, ms) {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(5);
  return cond();
}

// ------------------------------------------------------------------ recv

/** The sequence number of a message from uws-push.js (see there), or -1 if malformed. */
function seqOf(data, size, binary) {
  if (binary) return data[size - 1] === 0x5a ? data.readUInt32LE(0) : -1;
  return (data[0] & 63) | ((data[1] & 63) << 6) | ((data[2] & 63) << 12) | ((data[3] & 63) << 18);
}

/**
 * A thread of its own in the client process, for what must not wait for a busy JS thread (a
 * client flooded with messages may leave its timers waiting for seconds):
 * - the hard limit: at --limit seconds it prints {"fatal"} straight to fd 1 and kills the process;
 * - recv's window: the JS thread stores its message count in `count[0]` as it goes; this thread
 *   reads it at the window's start and stop, prints `start` and `stop` itself and posts
 *   {m0, m1, t1, secs} back; if the JS thread has not read that 30 s later, it ends the run with
 *   {"fatal"} (the JS thread's event loop did not turn: starved by the flood).
 */
const CLOCK = `
const { parentPort, workerData } = require('worker_threads');
const fs = require('fs');
const count = new Int32Array(workerData.shared);
setTimeout(() => {
  fs.writeSync(1, JSON.stringify({ fatal: workerData.fatal }) + '\\n');
  process.kill(process.pid, 'SIGKILL');
}, workerData.limitMs);
parentPort.once('message', ({ warmMs, secs }) => {
  setTimeout(() => {
    const m0 = Atomics.load(count, 0);
    const t0 = process.hrtime.bigint();
    fs.writeSync(1, 'start\\n');
    setTimeout(() => {
      const m1 = Atomics.load(count, 0);
      const t1 = process.hrtime.bigint();
      fs.writeSync(1, 'stop\\n');
      parentPort.postMessage({ m0, m1, t1, secs: Number(t1 - t0) / 1e9 });
      // The JS thread answers once it has read this; if its event loop does not turn for that
      // long, the run ends here (a client whose timers and I/O wait that long is broken).
      const guard = setTimeout(() => {
        fs.writeSync(1, JSON.stringify({ fatal: 'the JS thread did not turn its event loop for ' + workerData.stuckSecs + ' s after the window (starved by the flood)' }) + '\\n');
        process.kill(process.pid, 'SIGKILL');
      }, workerData.stuckSecs * 1000);
      parentPort.once('message', () => clearTimeout(guard));
    }, secs * 1000);
  }, warmMs);
});`;

let clock = null;
const shared = new Int32Array(new SharedArrayBuffer(4));

async function recv(impl, o, errors) {
  const size = o.size;
  const binary = o.binary;
  const mask = binary ? 0xffffffff : 0xffffff;
  let total = 0;
  let stopped = false;
  class Conn {
    constructor() { this.open = false; this.closed = false; this.next = 0; this.count = 0; }
    onOpen() { this.open = true; }
    onMessage(data, isBinary) {
      if (data.length !== size || isBinary !== binary) {
        errors.add(`message of ${data.length} B, ${isBinary ? 'binary' : 'text'}; expected ${size} B ${binary ? 'binary' : 'text'}`);
      } else {
        const seq = seqOf(data, size, binary);
        const due = (this.next & mask) >>> 0;
        if (seq !== due) {
          errors.add(seq < 0 ? `message ${due} ends with ${data[size - 1]}, not 0x5a (the marker)${stopped ? ', after the window' : ''}`
            : `message number ${seq} where ${due} was due${stopped ? ', after the window' : ''}`);
        }
      }
      this.next++;
      this.count++;
      shared[0] = ++total;
    }
    onClose(code) {
      this.closed = true;
      if (!stopped) errors.add(`connection closed (${code}) during the run`);
    }
    onError(err) { if (!stopped) errors.add(err); }
  }
  const conns = [];
  for (let i = 0; i < o.conns; i++) {
    const c = new Conn();
    c.handle = impl.open(o.url, c);
    conns.push(c);
  }
  if (!await until(() => conns.every((c) => c.open || c.closed), 20000) || conns.some((c) => !c.open)) {
    errors.add(`${conns.filter((c) => c.open).length} of ${o.conns} connections opened within 20 s`);
  }
  // The server pushes on a connection once it has heard from it: all start together, now.
  for (const c of conns) if (c.open && !c.closed) impl.send(c.handle, 'go');
  // 0.5 s of receiving before the window, then the window (timed by the clock thread).
  const window = await new Promise((resolve, reject) => {
    clock.once('message', resolve);
    clock.once('error', reject);
    clock.postMessage({ warmMs: 500, secs: o.secs });
  });
  clock.postMessage('read');
  const lag = Number(process.hrtime.bigint() - window.t1) / 1e9;
  stopped = true;
  const perConn = conns.map((c) => c.count);
  const minConn = Math.min(...perConn);
  if (minConn === 0) errors.add(`${perConn.filter((n) => n === 0).length} connections received nothing`);
  for (const c of conns) if (!c.closed) impl.terminate(c.handle);
  await until(() => conns.every((c) => c.closed), 5000);
  const messages = window.m1 - window.m0;
  return {
    messages,
    secs: window.secs,
    msgs_per_sec: messages / window.secs,
    mb_per_sec: (messages * size) / window.secs / 1e6,
    conns: conns.filter((c) => c.open).length,
    // Over the whole run (the warm-up and the window, and until the clock's answer was read).
    min_conn_msgs: minConn,
    max_conn_msgs: Math.max(...perConn),
    // How late the JS thread read the clock's stop (its event loop busy meanwhile), in s.
    stop_lag_s: lag,
  };
}

// ------------------------------------------------------------------ connect

async function connect(impl, o, errors) {
  let started = 0;
  let done = 0;
  let opened = 0;
  let cleanClose = 0;
  let finish;
  const finished = new Promise((r) => { finish = r; });
  class Conn {
    constructor() { this.open = false; this.closed = false; }
    onOpen() {
      this.open = true;
      opened++;
      impl.close(this.handle);
    }
    onMessage() { errors.add('unexpected message'); }
    onClose(code) {
      if (this.closed) return errors.add('closed twice');
      this.closed = true;
      if (!this.open) errors.add(`closed (${code}) before it opened`);
      else if (code !== 1000) errors.add(`closed with ${code}, not 1000`);
      else cleanClose++;
      done++;
      if (done === o.total) finish();
      else next();
    }
    onError(err) { errors.add(err); }
  }
  const next = () => {
    if (started >= o.total) return;
    started++;
    const c = new Conn();
    c.handle = impl.open(o.url, c);
  };
  console.log('start');
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < Math.min(o.concurrency, o.total); i++) next();
  const timer = setTimeout(finish, Math.max(10, o.limit - 10) * 1000);
  await finished;
  clearTimeout(timer);
  const t1 = process.hrtime.bigint();
  console.log('stop');
  if (done < o.total) errors.add(`${o.total - done} connections not done in time`);
  const secs = Number(t1 - t0) / 1e9;
  return { connections: cleanClose, opened, secs, per_sec: cleanClose / secs };
}

// ------------------------------------------------------------------ idle (memory)

const PING = '0123456789abcdef'; // 16 B text, echoed once by every connection

async function idle(impl, o, errors) {
  class Conn {
    constructor(keep) { this.keep = keep; this.open = false; this.echoed = false; this.closed = false; }
    onOpen() {
      this.open = true;
      impl.send(this.handle, PING);
    }
    onMessage(data, isBinary) {
      if (this.echoed || isBinary || data.length !== 16 || data.toString() !== PING) errors.add('wrong echo');
      this.echoed = true;
      if (!this.keep) impl.close(this.handle);
    }
    onClose(code) {
      this.closed = true;
      if (this.keep && !released) errors.add(`idle connection closed (${code})`);
    }
    onError(err) { if (!released) errors.add(err); }
  }
  let released = false;
  /** Opens n connections, concurrency at a time; each is echoed once, then kept or closed. */
  async function batch(n, keep) {
    const conns = [];
    for (let i = 0; i < n; i += o.concurrency) {
      const part = [];
      for (let j = i; j < Math.min(n, i + o.concurrency); j++) {
        const c = new Conn(keep);
        c.handle = impl.open(o.url, c);
        part.push(c);
      }
      const ok = await until(() => part.every((c) => (keep ? c.echoed || c.closed : c.closed)), 20000);
      if (!ok) { errors.add(`connections ${i}..${i + part.length} not ${keep ? 'echoed' : 'closed'} within 20 s`); break; }
      conns.push(...part);
    }
    return conns;
  }
  if (o.warmup > 0) {
    const w = await batch(o.warmup, false);
    if (w.filter((c) => c.echoed).length !== o.warmup) errors.add(`warm-up: ${w.filter((c) => c.echoed).length} of ${o.warmup} echoed`);
  }
  await sleep(1000);
  const before = rssKB();
  const conns = await batch(o.conns, true);
  const ready = conns.filter((c) => c.echoed && !c.closed).length;
  if (ready !== o.conns) errors.add(`${ready} of ${o.conns} connections open and echoed`);
  await sleep(1500);
  const after = rssKB();
  released = true;
  for (const c of conns) if (!c.closed) impl.terminate(c.handle);
  return { ready, rss_before_kb: before, rss_after_kb: after, kb_per_conn: ready > 0 ? (after - before) / ready : null };
}

// ------------------------------------------------------------------ main

/** Runs the workload given on the command line with `impl`, prints its result and exits. */
function main(impl) {
  let o;
  try {
    o = parse(process.argv.slice(2));
  } catch (e) {
    console.error(`${e.message}\nusage: node ${process.argv[1]} recv|connect|idle --url URL [options] (see benches/clients/harness.js)`);
    process.exit(2);
  }
  const exit = (obj, code) => process.stdout.write(`${JSON.stringify(obj)}\n`, () => process.exit(code));
  const { Worker } = require('worker_threads');
  clock = new Worker(CLOCK, {
    eval: true,
    workerData: { shared: shared.buffer, limitMs: o.limit * 1000, stuckSecs: 30, fatal: `${impl.name} ${o.workload}: hard limit of ${o.limit} s reached` },
  });
  clock.on('error', (e) => exit({ fatal: `clock thread: ${e && e.stack ? e.stack : e}` }, 3));
  const errors = new Errors();
  const run = { recv, connect, idle }[o.workload];
  run(impl, o, errors).then((r) => {
    exit({ client: impl.name, workload: o.workload, ...r, errors: errors.count, ...(errors.first ? { first_error: errors.first } : {}) }, 0);
  }, (e) => exit({ fatal: String(e && e.stack ? e.stack : e) }, 3));
}

module.exports = { main };
