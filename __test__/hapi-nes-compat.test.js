'use strict';
// Differences found by running @hapi/nes's own tests (test/listener.js, client.js,
// socket.js) with lws in place of ws, each checked here against ws: the same
// scenario runs on ws's WebSocketServer and on lws.WebSocketServer, with the real
// ws client, and what each side saw must be equal.
//
// Run: node --test __test__/hapi-nes-compat.test.js

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const WS = require('ws');

const lws = require(path.join(__dirname, '..'));
const { ENGINE_OPTIONS } = require('./helpers/engine');
const { within } = require('./helpers/wait');

const CLIENTS = { ws: WS, lws: lws.WebSocket };

const SERVERS = {
  ws: (options, cb) => new WS.WebSocketServer(options, cb),
  lws: (options, cb) => new lws.WebSocketServer({ ...ENGINE_OPTIONS, ...options }, cb),
};

/**
 * The ways a handler's answer is commonly deferred before the reply. Not here: a reply
 * from setImmediate or a timer. ws sends that one first only when the peer shares its
 * event loop (it reads the close frame at the loop's next poll); from a remote peer it
 * is a race for ws too. lws reads the close frame at once and answers it when JS has
 * handled the message and its promise jobs, so such a reply finds the socket CLOSING.
 */
const DEFER = {
  'promise jobs': async () => {
    for (let i = 0; i < 20; i++) await null;
  },
  'process.nextTick': () => new Promise((resolve) => process.nextTick(resolve)),
  'an awaited async function': async () => {
    const step = async (n) => (n === 0 ? n : step(n - 1));
    await step(5);
  },
};

/** Waits for the client's 'close' (logged in `client.log`) and for the server's (in `server.log`). */
async function untilBothClosed(ws, server, client) {
  await within(5000, 'client close', (done) =>
    ws.on('close', (code, reason) => {
      client.log.push(['close', code, String(reason)]);
      done();
    }),
  );
  await within(5000, 'server close', (done) => {
    const check = setInterval(() => {
      if (server.log.some((e) => e[0] === 'close')) {
        clearInterval(check);
        done();
      }
    }, 5);
  });
}

/**
 * nes's "provides subscription notifications": the client (in this process) closes
 * while the server's handler runs, and the server answers the message after some
 * promise jobs. ws has not read the close frame by then (it comes in a later
 * callback from the event loop), so the answer leaves before ws answers the close.
 */
async function answerThenPeerClose(impl, defer) {
  const server = { log: [] };
  const client = { log: [] };
  const wss = await within(5000, 'listening', (done) => {
    const s = SERVERS[impl]({ port: 0, host: '127.0.0.1' }, () => done(s));
  });
  try {
    const ws = new WS(`ws://127.0.0.1:${wss.address().port}`);
    wss.on('connection', (socket) => {
      socket.on('message', async (data) => {
        server.log.push(['message', String(data)]);
        ws.close(4000, 'leaving');
        await DEFER[defer]();
        server.log.push(['readyState before reply', socket.readyState]);
        socket.send('reply', (err) => server.log.push(['send callback', err ? err.message : null]));
      });
      socket.on('close', (code, reason) => server.log.push(['close', code, String(reason)]));
    });
    ws.on('open', () => ws.send('sub'));
    ws.on('message', (data) => client.log.push(['message', String(data)]));
    await untilBothClosed(ws, server, client);
  } finally {
    await new Promise((resolve) => wss.close(resolve));
  }
  return { server: server.log, client: client.log };
}

for (const defer of Object.keys(DEFER)) {
  test(`a reply sent after ${defer} reaches the peer that closed meanwhile, before the close answer (as ws)`, async () => {
    const reference = await answerThenPeerClose('ws', defer);
    assert.deepEqual(reference.client, [['message', 'reply'], ['close', 4000, 'leaving']]);
    const candidate = await answerThenPeerClose('lws', defer);
    assert.deepEqual(candidate, reference);
  });
}

/**
 * The same with the roles swapped: the client answers the server's message after
 * some promise jobs, while the server (in this process) closes meanwhile.
 */
async function clientAnswerThenPeerClose(impl, defer) {
  const server = { log: [] };
  const client = { log: [] };
  const wss = await within(5000, 'listening', (done) => {
    const s = new WS.WebSocketServer({ port: 0, host: '127.0.0.1' }, () => done(s));
  });
  try {
    wss.on('connection', (socket) => {
      socket.on('message', (data) => server.log.push(['message', String(data)]));
      socket.on('close', (code, reason) => server.log.push(['close', code, String(reason)]));
      socket.send('ping');
    });
    const ws = new CLIENTS[impl](`ws://127.0.0.1:${wss.address().port}`);
    ws.on('message', async (data) => {
      client.log.push(['message', String(data)]);
      for (const socket of wss.clients) socket.close(4001, 'bye');
      await DEFER[defer]();
      client.log.push(['readyState before reply', ws.readyState]);
      ws.send('pong', (err) => client.log.push(['send callback', err ? err.message : null]));
    });
    await untilBothClosed(ws, server, client);
  } finally {
    await new Promise((resolve) => wss.close(resolve));
  }
  return { server: server.log, client: client.log };
}

for (const defer of Object.keys(DEFER)) {
  test(`client: a reply sent after ${defer} reaches the server that closed meanwhile, before the close answer (as ws)`, async () => {
    const reference = await clientAnswerThenPeerClose('ws', defer);
    assert.deepEqual(reference.server, [['message', 'pong'], ['close', 4001, 'bye']]);
    const candidate = await clientAnswerThenPeerClose('lws', defer);
    assert.deepEqual(candidate, reference);
  });
}
