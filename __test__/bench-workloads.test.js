'use strict';
// The benchmark's newer rows: every echo server script with --deflate and --tls (as run.js starts
// them) against the `ws` client, the certificates benches/workloads/tls.js makes, the argument
// checks of benches/servers/variant.js, the arithmetic of the --scale cost model, and the pub/sub
// protocol of the Rust ceiling (`ceiling --rooms`) against the lws and uWS.js pub/sub servers.
// It also checks `loadgen recv`, the client receive rows' ceiling, against both pushers, and the
// `lws level N` rows of `npm run bench -- --deflate-levels` (lws at each deflate level).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { spawn, execFileSync } = require('node:child_process');
const WebSocket = require('ws');
const { serverVariant } = require('../benches/servers/variant');
const tlsWorkloads = require('../benches/workloads/tls');
const { fit, predict } = require('../benches/workloads/scale');
const { within } = require('./helpers/wait');

const SERVERS = path.join(__dirname, '..', 'benches', 'servers');
const LOADGEN = path.join(__dirname, '..', 'benches', 'loadgen');

const freePort = () => new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});

/** Starts a bench server script as run.js does; resolves with its port once it printed `ready`. */
function startScript(t, script, args, env = {}) {
  return startServer(t, process.execPath, [path.join(SERVERS, script)], args, env, script);
}

/** Starts `cmd ...pre PORT ...args`; resolves with the port once it printed `ready`. */
async function startServer(t, cmd, pre, args, env, script) {
  const port = await freePort();
  const child = spawn(cmd, [...pre, String(port), ...args], {
    env: { ...process.env, WS_NO_BUFFER_UTIL: '1', WS_NO_UTF_8_VALIDATE: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  await within(15000, `${script} ready (${stderr})`, (done) => {
    readline.createInterface({ input: child.stdout }).on('line', (l) => { if (l.startsWith('ready')) done(); });
  });
  return port;
}

/** One client: negotiates, sends a JSON-like text and checks the echo; returns the server's
 * Sec-WebSocket-Extensions answer ('' if none). */
async function echoOnce(url, options) {
  const ws = new WebSocket(url, options);
  let extensions = null;
  ws.once('upgrade', (res) => { extensions = res.headers['sec-websocket-extensions'] || ''; });
  const text = JSON.stringify({ items: Array.from({ length: 40 }, (_, i) => ({ id: i, name: `user-${i % 7}` })) });
  await within(5000, 'open', (done) => { ws.once('open', done); ws.once('error', (e) => done(e)); });
  ws.send(text);
  const [data, isBinary] = await within(5000, 'echo', (done) => ws.once('message', (...a) => done(a)));
  assert.equal(isBinary, false);
  assert.equal(data.toString(), text);
  ws.close();
  await within(5000, 'close', (done) => ws.once('close', () => done()));
  return extensions;
}

const SCRIPTS = [['lws.js'], ['lws.js', { LWS_THREADS: '0' }], ['lws-wss.js'], ['ws.js'], ['uws.js']];

for (const [script, env] of SCRIPTS) {
  const name = `${script}${env ? ' threads:0' : ''}`;
  for (const mode of ['no-takeover', 'takeover']) {
    test(`${name} --deflate ${mode}: a ws client negotiates permessage-deflate${mode === 'no-takeover' ? ' with server_no_context_takeover' : ' and the server keeps its context'}`, async (t) => {
      const port = await startScript(t, script, ['--deflate', mode], env);
      const ext = await echoOnce(`ws://127.0.0.1:${port}/`, { perMessageDeflate: true });
      assert.match(ext, /^permessage-deflate/);
      assert.equal(/server_no_context_takeover/.test(ext), mode === 'no-takeover', ext);
    });
  }
  test(`${name} --tls: wss:// with the benchmark's certificate`, async (t) => {
    tlsWorkloads.workloads(true)[0].prepare();
    const dir = tlsWorkloads.workloads(true)[0].serverArgs[1];
    const port = await startScript(t, script, ['--tls', dir], env);
    const ext = await echoOnce(`wss://127.0.0.1:${port}/`, { ca: fs.readFileSync(path.join(dir, 'ca.pem')), perMessageDeflate: false });
    assert.equal(ext, '');
    // A client that does not trust the test CA is refused: the server really serves that certificate.
    const ws = new WebSocket(`wss://127.0.0.1:${port}/`);
    const err = await within(5000, 'TLS error', (done) => ws.once('error', done));
    assert.match(err.code, /SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/);
  });
}

test('variant.js: bad arguments are refused with a clear error', () => {
  assert.deepEqual(serverVariant(['9000']), { deflate: null, tls: null, reusePort: false });
  assert.equal(serverVariant(['9000', '--deflate', 'takeover', '--reuse-port']).reusePort, true);
  assert.throws(() => serverVariant(['9000', '--deflate', 'fast']), /--deflate takeover\|no-takeover, not fast/);
  assert.throws(() => serverVariant(['9000', '--deflate']), /--deflate needs a value/);
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'lws-variant-'));
  try {
    assert.throws(() => serverVariant(['9000', '--tls', empty]), /no server\.key and server\.pem there/);
  } finally {
    fs.rmSync(empty, { recursive: true, force: true });
  }
});

test('scale.js cost model: the fit recovers c and h, and refuses points that cannot separate them', () => {
  const c = 0.2;
  const h = 20;
  const at = (b) => ({ us: c + h / b, b });
  const m = fit(at(800), at(20));
  assert.ok(Math.abs(m.c - c) < 1e-9 && Math.abs(m.h - h) < 1e-6, JSON.stringify(m));
  assert.equal(fit(at(20), at(800)), null); // the small-batch point must have the smaller batches
  assert.equal(fit({ us: 1, b: 100 }, { us: 0.5, b: 10 }), null); // cheaper with smaller batches: h < 0
  assert.equal(fit({ us: null, b: 100 }, at(10)), null);
  // JS thread 0.25 µs/msg, engine 1 µs/msg, 16 cores: one process with 8 engine threads (8 M/s of
  // engine capacity) is bound by its JS thread (4 M/s); 8 reusePort processes by their engines.
  const p16 = predict({ js: { c: 0.25, h: 0 }, engineUs: 1, bJs: 1000 }, 16);
  assert.equal(p16.threads, 8);
  assert.equal(p16.jsBound, true);
  assert.equal(Math.round(p16.single), 4e6);
  assert.equal(p16.procs, 8);
  assert.equal(Math.round(p16.reuse), 8e6);
  const p2 = predict({ js: { c: 0.25, h: 0 }, engineUs: 1, bJs: 1000 }, 2);
  assert.equal(p2.jsBound, false);
  assert.equal(Math.round(p2.single), 1e6);
});

/** A benches/loadgen binary (`ceiling`, `loadgen`), built (or found up to date) by cargo as run.js builds it. */
function loadgenBinary(name) {
  const target = path.join(LOADGEN, 'target');
  execFileSync('cargo', ['build', '--release', '--bin', name, '--manifest-path', path.join(LOADGEN, 'Cargo.toml')],
    { env: { ...process.env, CARGO_TARGET_DIR: target }, stdio: ['ignore', 'ignore', 'pipe'], timeout: 600000 });
  return path.join(target, 'release', name);
}

/** Three clients play the pub/sub protocol (pubsub-servers/lws.js's header) step by step; returns
 * what each received, in order. After every step each client has an echo answered, so every
 * delivery a step causes has arrived before the next step starts. */
async function pubsubTranscript(port) {
  const url = `ws://127.0.0.1:${port}/`;
  const clients = [];
  for (let i = 0; i < 3; i++) {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.got = [];
    ws.on('message', (data, isBinary) => ws.got.push(`${isBinary ? 'binary' : 'text'} ${data}`));
    const err = await within(5000, 'open', (done) => { ws.once('open', () => done(null)); ws.once('error', done); });
    if (err) throw err;
    clients.push(ws);
  }
  const [a, b, c] = clients;
  let n = 0;
  const settle = async () => {
    for (const ws of clients) {
      if (ws.readyState !== WebSocket.OPEN) continue;
      const mark = `mark ${n++}`;
      ws.send(mark);
      await within(5000, mark, (done) => {
        const check = () => { if (ws.got.includes(`text ${mark}`)) done(); else setTimeout(check, 2); };
        check();
      });
    }
  };
  const steps = [
    () => a.send('join room01'), () => b.send('join room01'), () => c.send('join room03'),
    () => a.send('hello'), () => a.send('pub room01 from a'), () => b.send(Buffer.from('pub room01 binary is echoed')),
    () => c.send('pub room09 to nobody'), () => c.send('pub room03'), () => b.send('broadcast to all'),
    () => { a.send('pub room01 frag', { fin: false }); a.send('mented', { fin: true }); },
    () => b.send('join room02'), () => b.send('pub room02 only b'),
    async () => { b.close(1000); await within(5000, 'close', (done) => b.once('close', (code) => done(code))); },
    () => a.send('pub room01 after b left'), () => a.send('broadcast once more'),
  ];
  for (const step of steps) {
    await step();
    await settle();
  }
  a.close();
  c.close();
  return clients.map((ws) => ws.got);
}

test('run.js --deflate-levels: each "lws level N" row is lws at that level (level 1 compresses less than 9), beside uWS.js', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'lws-levels-'));
  try {
    const run = path.join(__dirname, '..', 'benches', 'run.js');
    await new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [run, '--deflate-levels', '1,9', '--workloads', 'deflate-takeover-echo', '--rounds', '1', '--quick', '--out', out],
        { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => { stderr += d; });
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`exit ${code}: ${stderr}`))));
    });
    const rows = JSON.parse(fs.readFileSync(path.join(out, 'latest.json'), 'utf8')).summary['deflate-takeover-echo'];
    assert.deepEqual(Object.keys(rows), ['uWS.js', 'lws level 1', 'lws level 9']);
    for (const [name, r] of Object.entries(rows)) {
      assert.ok(r.errors === 0 && r.rate.median > 0 && r.wire_ratio.median > 0 && r.wire_ratio.median < 1, `${name}: ${JSON.stringify(r)}`);
    }
    assert.ok(rows['lws level 1'].wire_ratio.median > rows['lws level 9'].wire_ratio.median + 0.03, JSON.stringify(rows));
    assert.match(fs.readFileSync(path.join(out, 'latest.md'), 'utf8'), /lws level 1 vs uWS\.js/);
    assert.throws(() => execFileSync(process.execPath, [run, '--deflate-levels', 'x'], { stdio: 'pipe' }), /--deflate-levels takes levels 0-9/);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('ceiling --rooms speaks the pub/sub protocol as pubsub-servers/lws.js and uws.js do', async (t) => {
  const ceiling = loadgenBinary('ceiling');
  const transcripts = {};
  for (const [name, cmd, pre, args] of [
    ['lws.js', process.execPath, [path.join(SERVERS, '..', 'workloads', 'pubsub-servers', 'lws.js')], []],
    ['uws.js', process.execPath, [path.join(SERVERS, '..', 'workloads', 'pubsub-servers', 'uws.js')], []],
    ['ceiling --rooms', ceiling, [], ['--rooms']],
  ]) {
    const port = await startServer(t, cmd, pre, args, {}, name);
    transcripts[name] = await pubsubTranscript(port);
  }
  const [a, b, c] = transcripts['lws.js'];
  // The reference itself: a publish reaches its room, the sender included, and only its room.
  assert.deepEqual(b.filter((m) => !m.startsWith('text mark')), ['text joined', 'text pub room01 from a',
    'binary pub room01 binary is echoed', 'text broadcast to all', 'text pub room01 fragmented', 'text joined', 'text pub room02 only b']);
  assert.ok(a.includes('text pub room01 after b left') && c.includes('text broadcast once more'));
  assert.ok(!c.some((m) => /^text pub room0[129]/.test(m)) && c.includes('text pub room03'), c.join('\n'));
  assert.deepEqual(transcripts['ceiling --rooms'], transcripts['lws.js']);
  assert.deepEqual(transcripts['uws.js'], transcripts['lws.js']);
});

/** `loadgen recv` (the client receive rows' ceiling, binary `loadgen`) for 0.3 s against the pusher on `port`. */
function loadgenRecv(loadgen, port, args) {
  const out = execFileSync(loadgen,
    ['recv', '--host', '127.0.0.1', '--port', String(port), '--conns', '4', '--secs', '0.3', ...args], { encoding: 'utf8', timeout: 30000 });
  const lines = out.trim().split('\n');
  assert.deepEqual(lines.slice(0, 2), ['start', 'stop']);
  return JSON.parse(lines[2]);
}

test('loadgen recv checks and counts what uws-push.js and ceiling --push send, and reports what is wrong', async (t) => {
  const ceiling = loadgenBinary('ceiling');
  const loadgen = loadgenBinary('loadgen');
  for (const [name, cmd, pre, args] of [
    ['uws-push.js 16 B text', process.execPath, [path.join(SERVERS, 'uws-push.js')], ['--size', '16']],
    ['ceiling --push 16 B text', ceiling, [], ['--push', '16']],
    ['ceiling --push 64 KiB binary', ceiling, [], ['--push', '65536', '--binary']],
  ]) {
    const port = await startServer(t, cmd, pre, args, {}, name);
    const size = args[args.indexOf(args.includes('--size') ? '--size' : '--push') + 1];
    const r = loadgenRecv(loadgen, port, ['--size', size, ...(args.includes('--binary') ? ['--binary'] : [])]);
    assert.equal(r.client, 'rust-tokio');
    assert.equal(r.errors, 0, `${name}: ${r.first_error}`);
    assert.ok(r.messages > 0 && r.min_conn_msgs > 0 && r.conns === 4, `${name}: ${JSON.stringify(r)}`);
  }
  // Messages of another size, or of the other type, are counted as errors.
  const port = await startServer(t, ceiling, [], ['--push', '32'], {}, 'ceiling --push 32');
  const wrongSize = loadgenRecv(loadgen, port, ['--size', '16']);
  assert.ok(wrongSize.errors > 0 && /32 B; expected 16 B/.test(wrongSize.first_error), JSON.stringify(wrongSize));
  const wrongType = loadgenRecv(loadgen, port, ['--size', '32', '--binary']);
  assert.ok(wrongType.errors > 0 && /opcode=1/.test(wrongType.first_error), JSON.stringify(wrongType));
});
