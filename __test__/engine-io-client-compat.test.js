'use strict';
// Found running engine.io-client 6.6's and socket.io-client 4.8's own Node suites (their
// websocket transport is ws's client) with lws as the client's ws: the suites pass the same
// on both (46 and 86 tests), and so do scenarios from engine.io-client's documented options
// (TLS, cookies, extraHeaders, perMessageDeflate, protocols, maxPayload, autoUnref).
// One scenario differed: engine.io-client's `maxPayload` exceeded by a server message. ws's
// receiver emits 'error' as it reads the bad frame and 'close' a turn or more later, once
// its socket has closed (before a server in the same process has seen the close frame).
// lws emitted both in the same turn, two turns after the engine reported the end (after
// that server's 'close'). The same held for a WebSocketServer's socket when a client broke
// the protocol, and with allowSynchronousEvents: false.
//
// Each scenario runs with ws and with lws and records what a user sees, in order: the
// events, and where a setImmediate queued by the 'error' listener ran.
//
// Run: node --test __test__/engine-io-client-compat.test.js

const assert = require('node:assert/strict');
const net = require('node:net');
const path = require('node:path');
const { test } = require('node:test');
const WS = require('ws');

const lws = require(path.join(__dirname, '..'));
const { withTimeout } = require('./helpers/wait');
const { onUpgradeRequest, switchingProtocols } = require('./helpers/frames');

const IMPLEMENTATIONS = { ws: WS, lws };

/** A loopback server that answers the upgrade, writes `frames` and then reads what comes until the client ends. */
async function rawServer(frames) {
  const server = net.createServer((socket) =>
    onUpgradeRequest(socket, (key) => {
      socket.write(switchingProtocols(key));
      setTimeout(() => socket.write(Buffer.concat(frames)), 20);
    }),
  );
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** Records a WebSocket's 'error' (with a marker where a setImmediate it queued ran) and 'close' into `log`. */
function recordEnd(ws, log, who) {
  ws.on('error', (err) => {
    log.push([`${who} error`, err.constructor.name, err.code, err.message, ws.readyState]);
    setImmediate(() => log.push([`${who}: setImmediate queued by 'error'`, ws.readyState]));
  });
  return new Promise((resolve) => ws.on('close', (code, reason) => {
    log.push([`${who} close`, code, String(reason)]);
    resolve();
  }));
}

/**
 * The client (ws's or lws's) gets a frame over its maxPayload from a ws server in this process.
 * A log per actor: which end of a loopback connection sees its event first is up to the
 * scheduler (lws's engine writes the close frame from its own thread, before JS hears of the
 * error: a server in this process may, rarely, see the end first).
 */
async function clientOverMaxPayload(impl) {
  const log = { client: [], server: [] };
  const wss = new WS.WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss.once('listening', resolve));
  const serverClosed = new Promise((resolve) => wss.on('connection', (socket) => {
    socket.on('close', (code) => {
      log.server.push(['close', code]);
      resolve();
    });
    socket.send('ok');
    socket.send('0123456789abcdefghij');
  }));
  try {
    const ws = new impl.WebSocket(`ws://127.0.0.1:${wss.address().port}`, { maxPayload: 10 });
    ws.on('message', (data) => log.client.push(['client message', String(data)]));
    const closed = recordEnd(ws, log.client, 'client');
    await withTimeout(Promise.all([closed, serverClosed]), 5000, 'both ends closed');
  } finally {
    await new Promise((resolve) => wss.close(resolve));
  }
  return log;
}

/** engine.io-client's use of the client: on* properties, the ErrorEvent and CloseEvent it reads. */
async function clientEventTargetOverMaxPayload(impl) {
  const log = [];
  const wss = new WS.WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss.once('listening', resolve));
  wss.on('connection', (socket) => socket.send('0123456789abcdefghij'));
  try {
    const ws = new impl.WebSocket(`ws://127.0.0.1:${wss.address().port}`, { maxPayload: 10 });
    await withTimeout(new Promise((resolve) => {
      ws.onerror = (event) => {
        log.push(['onerror', event.type, event.message, event.error.code, ws.readyState]);
        setImmediate(() => log.push(["setImmediate queued by onerror", ws.readyState]));
      };
      ws.onclose = (event) => {
        log.push(['onclose', event.type, event.code, event.reason, event.wasClean, ws.readyState]);
        resolve();
      };
    }), 5000, "the client's close");
  } finally {
    await new Promise((resolve) => wss.close(resolve));
  }
  return log;
}

/** The client gets `frames` that break the protocol from a raw server. */
async function clientBadFrames(impl, frames, options) {
  const log = [];
  const server = await rawServer(frames);
  try {
    const ws = new impl.WebSocket(`ws://127.0.0.1:${server.address().port}`, options);
    ws.on('message', (data) => log.push(['client message', String(data)]));
    await withTimeout(recordEnd(ws, log, 'client'), 5000, "the client's close");
  } finally {
    server.close();
  }
  return log;
}

/** A WebSocketServer (ws's or lws's) gets a message over its maxPayload from ws's client; a log per actor. */
async function serverOverMaxPayload(impl, options) {
  const log = { server: [], client: [] };
  const wss = new impl.WebSocketServer({ port: 0, host: '127.0.0.1', maxPayload: 10, ...options });
  await new Promise((resolve) => wss.once('listening', resolve));
  const serverClosed = new Promise((resolve) => wss.on('connection', (socket) => {
    socket.on('message', (data) => log.server.push(['server message', String(data)]));
    recordEnd(socket, log.server, 'server').then(resolve);
  }));
  try {
    const ws = new WS(`ws://127.0.0.1:${wss.address().port}`);
    ws.on('open', () => {
      ws.send('ok');
      ws.send('0123456789abcdefghij');
    });
    const clientClosed = new Promise((resolve) => ws.on('close', (code) => {
      log.client.push(['close', code]);
      resolve();
    }));
    await withTimeout(Promise.all([serverClosed, clientClosed]), 5000, 'both ends closed');
  } finally {
    await new Promise((resolve) => wss.close(resolve));
  }
  return log;
}

async function compare(scenario, ...args) {
  const expected = await scenario(IMPLEMENTATIONS.ws, ...args);
  const actual = await scenario(IMPLEMENTATIONS.lws, ...args);
  assert.deepStrictEqual(actual, expected);
  return expected;
}

test("client maxPayload exceeded: 'error' first, 'close' a turn later", async () => {
  const log = await compare(clientOverMaxPayload);
  // What ws does, so that a change in ws shows here.
  assert.deepStrictEqual(log.client.map((entry) => entry[0]), [
    'client message', 'client error', "client: setImmediate queued by 'error'", 'client close',
  ]);
});

test("client maxPayload exceeded, as engine.io-client listens (onerror, onclose): the ErrorEvent a turn before the CloseEvent", async () => {
  const log = await compare(clientEventTargetOverMaxPayload);
  assert.deepStrictEqual(log.map((entry) => entry[0]), ['onerror', 'setImmediate queued by onerror', 'onclose']);
});

test("client reads invalid UTF-8 (1007): 'error' a turn before 'close'", async () => {
  await compare(clientBadFrames, [Buffer.from([0x81, 2, 0x6f, 0x6b]), Buffer.from([0x81, 2, 0xc3, 0x28])]);
});

test("client reads a reserved opcode (1002): 'error' a turn before 'close'", async () => {
  await compare(clientBadFrames, [Buffer.from([0x83, 0])]);
});

test("client reads a masked frame (1002): 'error' a turn before 'close'", async () => {
  await compare(clientBadFrames, [Buffer.from([0x81, 0x82, 1, 2, 3, 4, 0x6f ^ 1, 0x6b ^ 2])]);
});

test("server maxPayload exceeded: the server socket's 'error' a turn before its 'close'", async () => {
  const log = await compare(serverOverMaxPayload);
  assert.deepStrictEqual(log.server.map((entry) => entry[0]), [
    'server message', 'server error', "server: setImmediate queued by 'error'", 'server close',
  ]);
});

test("allowSynchronousEvents: false, a bad frame alone: 'error' a turn before 'close'", async () => {
  await compare(clientBadFrames, [Buffer.from([0x83, 0])], { allowSynchronousEvents: false });
});

test("allowSynchronousEvents: false, messages then a bad frame in one read: the messages a turn each, then 'error', then 'close'", async () => {
  await compare(clientBadFrames, [Buffer.from([0x81, 1, 0x61]), Buffer.from([0x81, 1, 0x62]), Buffer.from([0x83, 0])], { allowSynchronousEvents: false });
});

test("server with allowSynchronousEvents: false, maxPayload exceeded: the messages a turn each, then 'error', then 'close'", async () => {
  await compare(serverOverMaxPayload, { allowSynchronousEvents: false });
});
