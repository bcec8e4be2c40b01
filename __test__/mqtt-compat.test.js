'use strict';
// MQTT.js (the `mqtt` package) over WebSockets, against ws and against lws.
// MQTT.js's Node client is `new WebSocket(url, ['mqtt'], wsOptions)` wrapped in
// createWebSocketStream(ws, wsOptions); its test suite (test/node/abstract_client.ts,
// run over ws by websocket_client.ts) fakes the global timers with sinon while
// clients connect, publish and end(true) (stream.destroy(), so ws.terminate()).
// ws waits on no timer of its own for any of that (I/O events, Node's socket
// timeouts), so those tests pass with ws; lws's own turns of the loop ran on the
// global setImmediate/setTimeout, so 'close' never came and end(true) hung.
//
// Each scenario runs with ws and with lws, as client and server (and each with
// the other's peer), with the global timers frozen as a fake clock that is never
// ticked leaves them; the transcripts of what each side saw must be equal.
//
// Run: node --test __test__/mqtt-compat.test.js

const assert = require('node:assert/strict');
const net = require('node:net');
const path = require('node:path');
const timers = require('node:timers');
const { test } = require('node:test');
const WS = require('ws');

const lws = require(path.join(__dirname, '..'));
const { ENGINE_OPTIONS } = require('./helpers/engine');
const { settle: settleWithin } = require('./helpers/wait');

// The test's own waits must not be frozen with the rest.
const realSetTimeout = timers.setTimeout;
const realClearTimeout = timers.clearTimeout;

const IMPLEMENTATIONS = {
  ws: { WebSocket: WS, WebSocketServer: WS.WebSocketServer, createWebSocketStream: WS.createWebSocketStream, options: {} },
  lws: { WebSocket: lws.WebSocket, WebSocketServer: lws.WebSocketServer, createWebSocketStream: lws.createWebSocketStream, options: ENGINE_OPTIONS },
};

const TIMER_FUNCTIONS = ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval'];

/**
 * Freezes the global timers (and the `timers` module's) as sinon's or jest's fake
 * clock does until it is ticked: callbacks are taken and never run. Returns the restore.
 */
function freezeTimers() {
  const saved = TIMER_FUNCTIONS.map((name) => [name, globalThis[name], timers[name]]);
  let nextId = 1;
  for (const name of TIMER_FUNCTIONS) {
    const frozen = name.startsWith('clear') ? () => {} : () => ({ id: nextId++, ref() { return this; }, unref() { return this; }, hasRef: () => false, refresh() { return this; } });
    globalThis[name] = frozen;
    timers[name] = frozen;
  }
  return () => {
    for (const [name, global, fromModule] of saved) {
      globalThis[name] = global;
      timers[name] = fromModule;
    }
  };
}

/** wait.js's settle, polling with the real setTimeout (these tests fake the global's). */
const settle = (done, ms = 3000) => settleWithin(done, ms, { grace: 50, timer: realSetTimeout });

function listen(impl, onConnection) {
  return new Promise((resolve) => {
    const wss = new impl.WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false, ...impl.options }, () => resolve(wss));
    wss.on('connection', onConnection);
  });
}

function closeServer(wss) {
  return new Promise((resolve) => {
    for (const client of wss.clients) client.terminate();
    wss.close(() => resolve());
    realSetTimeout(resolve, 1000);
  });
}

/** Ends what the scenario left open and waits (bounded) for the client's 'close': the transcript is then complete. */
async function finish(wss, logs) {
  const closed = settle(() => logs.client.some((entry) => entry.startsWith('close')), 2000);
  await closeServer(wss);
  await closed;
}

/**
 * MQTT.js's transport over `client` and `server`: the client's stream is
 * createWebSocketStream(new WebSocket(url, ['mqtt'])); the server echoes each
 * message through its own stream (as test/node/server_helpers_for_client_tests.ts).
 * `scenario({ clientWs, clientStream, serverSide, log, freeze })` drives it; `finished()` says when to stop.
 */
async function runMqttTransport(clientImpl, serverImpl, scenario) {
  const logs = { client: [], stream: [], server: [] };
  let restore = null;
  const freeze = () => {
    restore = freezeTimers();
  };
  const serverSide = { ws: null, stream: null };
  const wss = await listen(serverImpl, (ws) => {
    serverSide.ws = ws;
    logs.server.push(`connection ${ws.protocol}`);
    ws.on('close', (code) => logs.server.push(`close ${code}`));
    const stream = serverImpl.createWebSocketStream(ws);
    serverSide.stream = stream;
    stream.on('data', (chunk) => {
      logs.server.push(`data ${chunk.length}`);
      stream.write(chunk);
    });
    stream.on('error', (err) => logs.server.push(`stream error ${err.message}`));
    stream.on('close', () => logs.server.push('stream close'));
  });
  let finished = () => true;
  try {
    const clientWs = new clientImpl.WebSocket(`ws://127.0.0.1:${wss.address().port}`, ['mqtt']);
    const clientStream = clientImpl.createWebSocketStream(clientWs, {});
    clientWs.on('open', () => logs.client.push(`open ${clientWs.protocol}`));
    clientWs.on('close', (code) => logs.client.push(`close ${code}`));
    clientWs.on('error', (err) => logs.client.push(`error ${err.message}`));
    for (const event of ['finish', 'end', 'close']) clientStream.on(event, () => logs.stream.push(event));
    clientStream.on('error', (err) => logs.stream.push(`error ${err.message}`));
    clientStream.on('data', (chunk) => logs.stream.push(`data ${chunk.toString()}`));
    finished = scenario({ clientWs, clientStream, serverSide, logs, freeze });
    await settle(finished);
  } finally {
    if (restore !== null) restore();
    await finish(wss, logs);
  }
  return logs;
}

const PAIRS = [
  ['ws', 'ws'],
  ['lws', 'lws'],
  ['lws', 'ws'],
  ['ws', 'lws'],
];

/** Runs `scenario` for every client/server pair; each candidate pair's transcript must equal ws's. */
async function differential(scenario) {
  const reference = await runMqttTransport(IMPLEMENTATIONS.ws, IMPLEMENTATIONS.ws, scenario);
  for (const [clientName, serverName] of PAIRS.slice(1)) {
    const candidate = await runMqttTransport(IMPLEMENTATIONS[clientName], IMPLEMENTATIONS[serverName], scenario);
    assert.deepStrictEqual(candidate, reference, `client ${clientName}, server ${serverName}`);
  }
  return reference;
}

test('MQTT.js end(true) under a fake clock: stream.destroy() terminates, both sides report close', async () => {
  const reference = await differential(({ clientWs, clientStream, logs, freeze }) => {
    clientStream.write('connect');
    clientStream.once('data', () => {
      // sinon.useFakeTimers() in a test's beforeEach, then client.end(true).
      freeze();
      clientStream.destroy();
    });
    return () => logs.client.includes('close 1006') && logs.stream.includes('close') && logs.server.includes('close 1006');
  });
  assert.deepStrictEqual(reference.stream, ['data connect', 'close']);
});

test('MQTT.js under a fake clock from before connect: packets both ways, then stream.end() closes cleanly', async () => {
  const reference = await differential(({ clientStream, logs, freeze }) => {
    freeze(); // the clock is faked before mqtt.connect()
    let echoed = 0;
    clientStream.on('data', () => {
      if (++echoed === 3) clientStream.end();
    });
    clientStream.write('connect');
    clientStream.write('subscribe');
    clientStream.write('publish');
    return () => logs.stream.includes('close') && logs.server.includes('stream close');
  });
  assert.deepStrictEqual(reference.stream, ['data connect', 'data subscribe', 'data publish', 'finish', 'end', 'close']);
});

test('a server that drops the connection under a fake clock: the client sees close (MQTT.js then reconnects)', async () => {
  const reference = await differential(({ clientStream, serverSide, logs, freeze }) => {
    clientStream.write('connect');
    clientStream.once('data', () => {
      freeze();
      // serverClient.stream.destroy() in MQTT.js's reconnect tests.
      serverSide.stream.destroy();
    });
    return () => logs.client.includes('close 1006') && logs.stream.includes('close') && logs.server.includes('stream close');
  });
  assert.deepStrictEqual(reference.client, ['open mqtt', 'close 1006']);
});

test('many messages in flight under a fake clock all arrive, in order', async () => {
  const COUNT = 3000;
  const reference = await differential(({ clientStream, logs, freeze }) => {
    freeze();
    for (let i = 0; i < COUNT; i++) clientStream.write(`m${i}`);
    return () => logs.stream.length >= COUNT;
  });
  const data = reference.stream.filter((entry) => entry.startsWith('data'));
  assert.deepStrictEqual(data, Array.from({ length: COUNT }, (_, i) => `data m${i}`));
});

test('handshakeTimeout fires under a fake clock (Node socket timeout in ws)', async () => {
  // A server that accepts the TCP connection and never answers the upgrade.
  const silent = net.createServer(() => {});
  await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const sockets = new Set();
  silent.on('connection', (socket) => sockets.add(socket));
  const run = async (impl) => {
    const log = [];
    const restore = freezeTimers();
    let ws;
    try {
      ws = new impl.WebSocket(`ws://127.0.0.1:${silent.address().port}`, ['mqtt'], { handshakeTimeout: 100 });
      ws.on('error', (err) => log.push(`error ${err.message}`));
      ws.on('close', (code) => log.push(`close ${code}`));
      await settle(() => log.length >= 2, 2000);
    } finally {
      restore();
      if (ws && log.length < 2) ws.terminate();
    }
    return log;
  };
  try {
    const reference = await run(IMPLEMENTATIONS.ws);
    assert.deepStrictEqual(reference, ['error Opening handshake has timed out', 'close 1006']);
    assert.deepStrictEqual(await run(IMPLEMENTATIONS.lws), reference);
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
    realClearTimeout(realSetTimeout(() => {}, 0));
  }
});
