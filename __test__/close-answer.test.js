'use strict';
// Who answers a peer's close frame: the engine answers at once when JavaScript
// has handled every earlier event of that socket (what it sent in answer has
// reached the engine) and nobody listens to 'closing' — as ws answers at once —
// so a busy JS thread does not hold up closing handshakes. With a 'closing'
// listener, or events JS has not handled yet, the reply waits for JavaScript
// (and what it sends leaves first).
//
// The client runs in a child process (the real `ws` client), so that it keeps
// going while the server's JS thread is blocked.
//
// Run: node --test --test-concurrency=1 __test__/close-answer.test.js

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawn } = require('node:child_process');

const lws = require(path.join(__dirname, '..'));
const { withTimeout, once } = require('./helpers/wait');

// The client: connects, sends 'ping', waits for the echo, waits `pauseMs` (the
// server's JS thread is blocked by then), sends close(4000, 'bye') and prints
// what it saw and how long the close took.
const CLIENT = `
const WebSocket = require(${JSON.stringify(require.resolve('ws'))});
const [url, pauseMs] = process.argv.slice(1);
const ws = new WebSocket(url);
ws.on('open', () => ws.send('ping'));
const got = [];
let closeSent = 0;
ws.on('message', (data) => {
  got.push(String(data));
  if (got.length === 1) setTimeout(() => { closeSent = Date.now(); ws.close(4000, 'bye'); }, Number(pauseMs));
});
ws.on('close', (code, reason) => {
  console.log(JSON.stringify({ got, code, reason: String(reason), closeMs: Date.now() - closeSent }));
});
ws.on('error', (err) => console.log(JSON.stringify({ error: err.message })));
`;

function runClient(url, pauseMs) {
  const child = spawn(process.execPath, ['-e', CLIENT, url, String(pauseMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  return withTimeout(
    new Promise((resolve) => child.on('exit', () => resolve(JSON.parse(out || '{}')))),
    20000,
    'client process',
  ).finally(() => child.kill());
}

/** Blocks this thread (the server's JS thread) for `ms`. */
function block(ms) {
  const end = Date.now() + ms;
  while (Date.now() < end);
}

const BLOCK_MS = 1500;

/** An echo server of `api` whose JS thread blocks for BLOCK_MS shortly after each echo. */
async function blockingEcho(t, api, threads) {
  const closes = [];
  let port;
  if (api === 'Server') {
    const server = new lws.Server({ port: 0, host: '127.0.0.1', threads });
    t.after(() => new Promise((resolve) => server.close(resolve)));
    await once(server, 'listening');
    server.on('message', (socket, message, binary) => {
      server.send(socket, message, binary);
      setTimeout(() => block(BLOCK_MS), 20);
    });
    server.on('close', (socket, code, reason) => closes.push([code, reason]));
    port = server.port;
  } else {
    const wss = new lws.WebSocketServer({ port: 0, host: '127.0.0.1', threads });
    t.after(() => new Promise((resolve) => wss.close(resolve)));
    await once(wss, 'listening');
    wss.on('connection', (ws) => {
      ws.on('message', (data, isBinary) => {
        ws.send(data, { binary: isBinary });
        setTimeout(() => block(BLOCK_MS), 20);
      });
      ws.on('close', (code, reason) => closes.push([code, String(reason)]));
    });
    port = wss.address().port;
  }
  return { url: `ws://127.0.0.1:${port}/`, closes };
}

for (const api of ['Server', 'WebSocketServer']) {
  for (const threads of [1, 2]) {
    test(`the engine answers a close while JS is blocked, once JS has handled the socket's events (${api}, threads: ${threads})`, { timeout: 30000 }, async (t) => {
      const { url, closes } = await blockingEcho(t, api, threads);
      const seen = await runClient(url, 200);
      assert.deepEqual(seen.got, ['ping']);
      assert.equal(seen.code, 4000);
      assert.equal(seen.reason, 'bye', 'the reply echoes the code and the reason');
      assert.ok(seen.closeMs < BLOCK_MS - 500, `the close was answered while JS was blocked (took ${seen.closeMs} ms)`);
      await withTimeout(
        new Promise((resolve) => {
          const check = () => (closes.length ? resolve() : setTimeout(check, 10));
          check();
        }),
        5000,
        "server 'close'",
      );
      assert.deepEqual(closes, [[4000, 'bye']]);
    });
  }
}

test("with a 'closing' listener the reply waits for JavaScript, and what it sends there leaves first", { timeout: 30000 }, async (t) => {
  const server = new lws.Server({ port: 0, host: '127.0.0.1' });
  t.after(() => new Promise((resolve) => server.close(resolve)));
  await once(server, 'listening');
  server.on('message', (socket, message, binary) => {
    server.send(socket, message, binary);
    setTimeout(() => block(BLOCK_MS), 20);
  });
  server.on('closing', (socket) => server.send(socket, 'last words'));
  const seen = await runClient(`ws://127.0.0.1:${server.port}/`, 200);
  assert.equal(seen.got.length, 2);
  assert.equal(seen.got[1], 'last words');
  assert.deepEqual([seen.code, seen.reason], [4000, 'bye']);
  assert.ok(seen.closeMs >= BLOCK_MS - 600, `the reply waited for JS (took ${seen.closeMs} ms)`);
});

test('a close that comes right behind messages waits for their answers, even while JS is slow', { timeout: 30000 }, async (t) => {
  const server = new lws.Server({ port: 0, host: '127.0.0.1' });
  t.after(() => new Promise((resolve) => server.close(resolve)));
  await once(server, 'listening');
  // Each message blocks JS before it is echoed: the close frame, read meanwhile,
  // must still go out after the echoes.
  server.on('message', (socket, message, binary) => {
    block(100);
    server.send(socket, message, binary);
  });
  const WebSocket = require('ws');
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`);
  await once(ws, 'open');
  const got = [];
  ws.on('message', (d) => got.push(String(d)));
  const closed = once(ws, 'close');
  for (let i = 0; i < 5; i++) ws.send(`m${i}`);
  ws.close(4000, 'bye');
  const [code, reason] = await withTimeout(closed, 10000, "client 'close'");
  assert.deepEqual(got, ['m0', 'm1', 'm2', 'm3', 'm4']);
  assert.deepEqual([code, String(reason)], [4000, 'bye']);
});
