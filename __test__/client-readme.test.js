'use strict';
// The client examples of ws's README, run as they are written (ES modules) with only
// two things rewritten: the module specifier (`from 'ws'` → the candidate module,
// helpers/client-candidate.js) and the remote URL (→ a local server). Each runs in a
// child process with a time limit; the test checks what it printed, how it exited, and
// what the local server saw.
//
// The snippets below are copied from ws's README (the text of
// /work/shared/seeds/ws-readme.txt, where code lost its indentation); when that file is
// present the test also checks that every snippet is in it, word for word.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { spawn } = require('node:child_process');
const WS = require('ws');

const { esmPath, name: CANDIDATE } = require('./helpers/client-candidate');
const { within, withTimeout } = require('./helpers/wait');

const SEED = '/work/shared/seeds/ws-readme.txt';

const EXAMPLES = {
  'perMessageDeflate: false': `import WebSocket from 'ws';
const ws = new WebSocket('ws://www.host.com/path', {
perMessageDeflate: false
});`,
  'Sending and receiving text data': `import WebSocket from 'ws';
const ws = new WebSocket('ws://www.host.com/path');
ws.on('error', console.error);
ws.on('open', function open() {
ws.send('something');
});
ws.on('message', function message(data) {
console.log('received: %s', data);
});`,
  'Sending binary data': `import WebSocket from 'ws';
const ws = new WebSocket('ws://www.host.com/path');
ws.on('error', console.error);
ws.on('open', function open() {
const array = new Float32Array(5);
for (var i = 0; i < array.length; ++i) {
array[i] = i / 2;
}
ws.send(array);
});`,
  'Round-trip time': `import WebSocket from 'ws';
const ws = new WebSocket('wss://websocket-echo.com/');
ws.on('error', console.error);
ws.on('open', function open() {
console.log('connected');
ws.send(Date.now());
});
ws.on('close', function close() {
console.log('disconnected');
});
ws.on('message', function message(data) {
console.log(\`Round-trip time: \${Date.now() - data} ms\`);
setTimeout(function timeout() {
ws.send(Date.now());
}, 500);
});`,
  'Use the Node.js streams API': `import WebSocket, { createWebSocketStream } from 'ws';
const ws = new WebSocket('wss://websocket-echo.com/');
const duplex = createWebSocketStream(ws, { encoding: 'utf8' });
duplex.on('error', console.error);
duplex.pipe(process.stdout);
process.stdin.pipe(duplex);`,
  'How to detect and close broken connections? (client)': `import WebSocket from 'ws';
function heartbeat() {
clearTimeout(this.pingTimeout);
this.pingTimeout = setTimeout(() => {
this.terminate();
}, 30000 + 1000);
}
const client = new WebSocket('wss://websocket-echo.com/');
client.on('error', console.error);
client.on('open', heartbeat);
client.on('ping', heartbeat);
client.on('close', function clear() {
clearTimeout(this.pingTimeout);
});`,
};

const squash = (text) => text.replace(/\s+/g, ' ').trim();

test('the snippets are the README text, word for word', (t) => {
  if (!fs.existsSync(SEED)) {
    t.diagnostic(`${SEED} is not on this machine: provenance not checked`);
    return;
  }
  const readme = squash(fs.readFileSync(SEED, 'utf8'));
  for (const [name, code] of Object.entries(EXAMPLES)) assert.ok(readme.includes(squash(code)), name);
});

/**
 * Runs an example: `from 'ws'` → the candidate module, the remote URL → `url`.
 * Resolves with { code, signal, stdout, stderr } (the child is killed after `ms`).
 */
async function runExample(t, name, url, { stdin = '', ms = 15000 } = {}) {
  const original = EXAMPLES[name];
  const code = original
    .replace(/from 'ws';/g, `from ${JSON.stringify(pathToFileURL(esmPath).href)};`)
    .replace(/'(ws:\/\/www\.host\.com\/path|wss:\/\/websocket-echo\.com\/)'/g, JSON.stringify(url));
  // Only the specifier and the URL changed.
  assert.equal(code.split('\n').length, original.split('\n').length);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lws-readme-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'example.mjs');
  fs.writeFileSync(file, `${code}\n`);
  const child = spawn(process.execPath, [file], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  child.stdin.end(stdin);
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  const [exitCode, signal] = await new Promise((resolve) => child.on('close', (c, s) => resolve([c, s])));
  clearTimeout(timer);
  return { code: exitCode, signal, stdout, stderr };
}

/** A ws server on loopback; `onConnection(ws, req, log)`; `log` holds what it saw. */
async function localServer(t, onConnection, options = {}) {
  const wss = new WS.WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  t.after(() => new Promise((resolve) => {
    for (const ws of wss.clients) ws.terminate();
    wss.close(() => resolve());
  }));
  await within(5000, 'listening', (resolve) => wss.once('listening', resolve));
  const log = [];
  wss.on('connection', (ws, req) => {
    log.push({ ev: 'connection', url: req.url, extensions: req.headers['sec-websocket-extensions'] });
    ws.on('message', (data, isBinary) => log.push({ ev: 'message', data: Buffer.from(data), isBinary }));
    ws.on('close', (code) => log.push({ ev: 'close', code }));
    onConnection(ws, req, log);
  });
  return { port: wss.address().port, log };
}

test(`README (${CANDIDATE}): perMessageDeflate: false (the client offers no extension)`, async (t) => {
  const server = await localServer(t, (ws) => ws.close(1000));
  const r = await runExample(t, 'perMessageDeflate: false', `ws://127.0.0.1:${server.port}/path`);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(server.log[0], { ev: 'connection', url: '/path', extensions: undefined });
});

test(`README (${CANDIDATE}): sending and receiving text data`, async (t) => {
  const server = await localServer(t, (ws) => {
    ws.once('message', () => {
      ws.send('hello from the server');
      ws.close(1000);
    });
  });
  const r = await runExample(t, 'Sending and receiving text data', `ws://127.0.0.1:${server.port}/path`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'received: hello from the server\n');
  assert.equal(r.stderr, '');
  const message = server.log.find((e) => e.ev === 'message');
  assert.equal(message.data.toString(), 'something');
  assert.equal(message.isBinary, false);
});

test(`README (${CANDIDATE}): sending binary data (a Float32Array)`, async (t) => {
  const server = await localServer(t, (ws) => ws.once('message', () => ws.close(1000)));
  const r = await runExample(t, 'Sending binary data', `ws://127.0.0.1:${server.port}/path`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  const message = server.log.find((e) => e.ev === 'message');
  assert.equal(message.isBinary, true);
  assert.deepEqual(message.data, Buffer.from(new Float32Array([0, 0.5, 1, 1.5, 2]).buffer));
});

test(`README (${CANDIDATE}): round-trip time (three round trips, then the server closes)`, async (t) => {
  let n = 0;
  const server = await localServer(t, (ws) => {
    ws.on('message', (data) => {
      if (++n < 3) ws.send(data);
      else ws.close(1000);
    });
  });
  const r = await runExample(t, 'Round-trip time', `ws://127.0.0.1:${server.port}/`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines[0], 'connected');
  assert.equal(lines.length, 4, r.stdout);
  for (const line of lines.slice(1, 3)) assert.match(line, /^Round-trip time: \d+ ms$/);
  assert.equal(lines[3], 'disconnected');
  // Date.now() went as text (ws sends a number as its decimal string).
  const messages = server.log.filter((e) => e.ev === 'message');
  assert.equal(messages.length, 3);
  for (const m of messages) assert.match(m.data.toString(), /^\d{13}$/);
});

test(`README (${CANDIDATE}): the streams API (stdin → WebSocket → stdout)`, async (t) => {
  const server = await localServer(t, (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  const r = await runExample(t, 'Use the Node.js streams API', `ws://127.0.0.1:${server.port}/`, { stdin: 'hello through a duplex\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, 'hello through a duplex\n');
  await withTimeout((async () => {
    while (!server.log.some((e) => e.ev === 'close')) await new Promise((resolve) => setImmediate(resolve));
  })(), 5000, 'server close');
  assert.deepEqual(server.log.find((e) => e.ev === 'close'), { ev: 'close', code: 1005 });
});

test(`README (${CANDIDATE}): the client heartbeat (ping → heartbeat; close clears the timer, so the process exits)`, async (t) => {
  const pongs = [];
  const server = await localServer(t, (ws) => {
    ws.on('pong', (data) => {
      pongs.push(data.toString());
      if (pongs.length === 2) ws.close(1000);
      else ws.ping('beat 2');
    });
    ws.ping('beat 1');
  });
  const started = Date.now();
  const r = await runExample(t, 'How to detect and close broken connections? (client)', `ws://127.0.0.1:${server.port}/`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.deepEqual(pongs, ['beat 1', 'beat 2']);
  assert.ok(Date.now() - started < 15000, 'exited without waiting for the 31 s timer');
});
