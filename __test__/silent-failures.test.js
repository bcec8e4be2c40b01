'use strict';
// Mistakes that used to fail silently now throw a clear error (issue 16):
// - a lent message kept past its callback (detached after an `await`) used to go out
//   as an empty message, with send() returning true;
// - a socket of another server made send() return false, as for a closed socket,
//   while socket.closed was false;
// - port: process.env.PORT (a numeric string, which net, http and ws take) was refused.
//
// Run: node --test __test__/silent-failures.test.js

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const WebSocket = require('ws');

const lws = require(path.join(__dirname, '..'));
const { ENGINE_OPTIONS } = require('./helpers/engine');
const { withTimeout, once, opened, closed, inbox } = require('./helpers/wait');

function listening(options = {}) {
  const server = new lws.Server({ port: 0, host: '127.0.0.1', ...ENGINE_OPTIONS, ...options });
  return once(server, 'listening').then(() => server);
}

function closeServer(server) {
  return withTimeout(new Promise((resolve) => server.close(resolve)), 15000, 'server.close callback');
}

const DETACHED = { name: 'TypeError', code: 'ERR_LWS_DETACHED_BUFFER', message: /lent to its callback only[\s\S]*Buffer\.from\(message\)/ };

test('a lent message kept past its callback is a TypeError that says to copy it, not an empty message', { timeout: 30000 }, async (t) => {
  const server = await listening();
  t.after(() => closeServer(server));
  const checked = [];
  server.on('message', async (socket, message, binary) => {
    const copy = Buffer.from(message);
    const length = message.length;
    await null; // the callback has returned: the engine took its buffer back
    assert.equal(message.length, 0, 'detached');
    assert.throws(() => server.send(socket, message, binary), DETACHED);
    assert.throws(() => server.send(socket, message.buffer, binary), DETACHED);
    assert.throws(() => server.prepareBuffer(message), DETACHED);
    assert.throws(() => server.ping(socket, message), DETACHED);
    // The copy made inside the callback is what to send; an empty Buffer is no mistake.
    assert.equal(server.send(socket, Buffer.alloc(0), true), true);
    assert.equal(server.send(socket, copy, binary), true);
    checked.push(length);
  });
  const ws = await opened(new WebSocket(`ws://127.0.0.1:${server.port}/`));
  const box = inbox(ws);
  ws.send('a short text message'); // copied into the event batch
  ws.send(Buffer.alloc(4096, 7)); // 1 KiB or more, read whole: lent from the engine's read buffer
  for (const expected of [{ len: 0, isBinary: true }, { len: 20, isBinary: false }, { len: 0, isBinary: true }, { len: 4096, isBinary: true }]) {
    const { data, isBinary } = await box.next();
    assert.deepEqual({ len: data.length, isBinary }, expected, 'only the empty message sent on purpose, then the copy');
  }
  assert.deepEqual(checked, [20, 4096]);
  ws.close();
  await closed(ws);
});

test('a socket of another server is a TypeError, not false as for a closed socket', { timeout: 30000 }, async (t) => {
  const a = await listening();
  const b = await listening();
  t.after(() => Promise.all([closeServer(a), closeServer(b)]));
  const FOREIGN = { name: 'TypeError', code: 'ERR_LWS_FOREIGN_SOCKET', message: /belongs to another lws server/ };
  const connected = once(a, 'connection');
  const ws = new WebSocket(`ws://127.0.0.1:${a.port}/`);
  const box = inbox(ws);
  await opened(ws);
  const [socket] = await connected;
  assert.equal(socket.closed, false);
  assert.throws(() => b.send(socket, 'to the wrong server'), FOREIGN);
  assert.throws(() => b.sendPrepared(socket, b.prepareBuffer('x')), FOREIGN);
  assert.throws(() => b.ping(socket), FOREIGN);
  assert.throws(() => b.pong(socket), FOREIGN);
  assert.throws(() => b.pause(socket), FOREIGN);
  assert.throws(() => b.resume(socket), FOREIGN);
  assert.throws(() => b.close(socket, 1000), FOREIGN);
  assert.throws(() => b.terminate(socket), FOREIGN);
  // Its own server still serves it, and nothing of the above reached it.
  assert.equal(a.send(socket, 'from its own server'), true);
  assert.equal((await box.next()).data.toString(), 'from its own server');
  ws.close();
  await once(a, 'close');
  // Closed: false from either server, as documented (nothing sent, socket.closed true).
  assert.equal(socket.closed, true);
  assert.equal(a.send(socket, 'late'), false);
  assert.equal(b.send(socket, 'late'), false);
});

test('port: a numeric string (process.env.PORT) is accepted, as net, http and ws accept it', { timeout: 30000 }, async (t) => {
  const server = new lws.Server({ port: '0', host: '127.0.0.1', ...ENGINE_OPTIONS });
  t.after(() => closeServer(server));
  await once(server, 'listening');
  assert.equal(typeof server.port, 'number');
  assert.ok(server.port > 0);
  server.on('message', (socket, message, binary) => server.send(socket, message, binary));
  const ws = await opened(new WebSocket(`ws://127.0.0.1:${server.port}/`));
  const box = inbox(ws);
  ws.send('over a port given as a string');
  assert.equal((await box.next()).data.toString(), 'over a port given as a string');
  ws.close();
  await closed(ws);

  const later = new lws.Server({ ...ENGINE_OPTIONS });
  t.after(() => closeServer(later));
  later.listen(' 0 ', '127.0.0.1');
  await once(later, 'listening');
  assert.ok(later.port > 0);

  const wss = new lws.WebSocketServer({ port: '0', host: '127.0.0.1', ...ENGINE_OPTIONS });
  await once(wss, 'listening');
  assert.ok(wss.address().port > 0);
  await withTimeout(new Promise((resolve) => wss.close(resolve)), 15000, 'wss.close');
});

test('port: anything else is a TypeError naming the port, with Node\'s code ERR_SOCKET_BAD_PORT', () => {
  for (const port of ['abc', '', '  ', '1.5', '65536', '-1', -1, 65536, 1.5, null, true, {}]) {
    assert.throws(() => new lws.Server({ port }), { name: 'TypeError', code: 'ERR_SOCKET_BAD_PORT', message: /^Invalid option port: expected an integer from 0 to 65535, or a string of one, got / }, `port ${JSON.stringify(port)}`);
  }
  const server = new lws.Server({});
  try {
    assert.throws(() => server.listen('http'), { name: 'TypeError', code: 'ERR_SOCKET_BAD_PORT' });
  } finally {
    server.close();
  }
});
