'use strict';
// subscriptions-transport-ws (the legacy GraphQL subscriptions transport) over
// ws and over lws. Its mocha suite runs a ws server and its SubscriptionClient in
// one process; a test's server reads the client's GQL_CONNECTION_INIT, the client
// closes (which sends GQL_CONNECTION_TERMINATE first), the test ends, and its
// afterEach terminate()s the server's connections. With ws nothing more comes:
// terminate() destroys the socket, so a message still on its way is never read.
// lws's engine reads on its own thread: it had read the terminate message
// already, and the WebSocket emitted it after terminate(), where that suite's
// 'message' listener failed an assertion.
//
// Each scenario runs against ws and against lws (as server, as client) with the
// other side's peer of both kinds; the transcripts of what each side saw must be equal.
//
// Run: node --test __test__/subscriptions-transport-compat.test.js

const assert = require('node:assert/strict');
const path = require('node:path');
const { test } = require('node:test');
const WS = require('ws');

const lws = require(path.join(__dirname, '..'));
const { ENGINE_OPTIONS } = require('./helpers/engine');
const { settle } = require('./helpers/wait');

const IMPLEMENTATIONS = {
  ws: { WebSocket: WS, WebSocketServer: WS.WebSocketServer, options: {} },
  lws: { WebSocket: lws.WebSocket, WebSocketServer: lws.WebSocketServer, options: ENGINE_OPTIONS },
};

function listen(impl, onConnection) {
  return new Promise((resolve) => {
    const wss = new impl.WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false, ...impl.options }, () => resolve(wss));
    wss.on('connection', onConnection);
  });
}

function closeServer(wss) {
  for (const ws of wss.clients) ws.terminate();
  return new Promise((resolve) => wss.close(() => resolve()));
}

/** Everything `ws` emits, in order, into `log`. */
function record(ws, log) {
  ws.on('message', (data, isBinary) => log.push(['message', String(data), isBinary]));
  ws.on('ping', (data) => log.push(['ping', String(data)]));
  ws.on('pong', (data) => log.push(['pong', String(data)]));
  ws.on('error', (err) => log.push(['error', err.message]));
  ws.on('close', (code, reason) => log.push(['close', code, String(reason), ws.readyState]));
}

/**
 * The server's WebSocket reads 'init', the client answers with 'terminate' (a
 * message, a ping, then its close frame) at once, and the server terminate()s the connection
 * after the listener returned (a resolved promise's then, as mocha's afterEach
 * after done(), or process.nextTick), before the event loop could read those.
 */
async function serverTerminates(server, client, later) {
  const log = { server: [], client: [] };
  let clientWs;
  let serverClosed = false;
  const wss = await listen(server, (ws) => {
    record(ws, log.server);
    ws.on('close', () => { serverClosed = true; });
    ws.once('message', () => {
      clientWs.send('terminate');
      clientWs.ping('still there?');
      clientWs.close(4000, 'bye');
      later(() => {
        ws.terminate();
        log.server.push(['terminated', ws.readyState]);
      });
    });
  });
  clientWs = new client.WebSocket(`ws://127.0.0.1:${wss.address().port}`, client.options);
  record(clientWs, log.client);
  clientWs.on('open', () => clientWs.send('init'));
  await settle(() => serverClosed && clientWs.readyState === 3);
  await closeServer(wss);
  return log;
}

/** The same with the roles swapped: the client terminate()s while the server's messages are on their way. */
async function clientTerminates(server, client, later) {
  const log = { server: [], client: [] };
  let serverWs;
  const wss = await listen(server, (ws) => {
    serverWs = ws;
    record(ws, log.server);
    ws.send('init');
  });
  const clientWs = new client.WebSocket(`ws://127.0.0.1:${wss.address().port}`, client.options);
  record(clientWs, log.client);
  clientWs.once('message', () => {
    serverWs.send('data');
    serverWs.ping('still there?');
    serverWs.close(4001, 'bye');
    later(() => {
      clientWs.terminate();
      log.client.push(['terminated', clientWs.readyState]);
    });
  });
  await settle(() => clientWs.readyState === 3 && serverWs !== undefined && serverWs.readyState === 3);
  await closeServer(wss);
  return log;
}

// Turns that come before the event loop polls again (ws reads nothing new until
// then). Not setImmediate: lws's engine hands JS up to 16 batches per wake-up, so a
// reply read meanwhile can come before the check phase (see README).
const LATER = {
  'process.nextTick': (fn) => process.nextTick(fn),
  'promise then': (fn) => Promise.resolve().then(fn),
};

for (const [laterName, later] of Object.entries(LATER)) {
  for (const peer of ['ws', 'lws']) {
    test(`server terminate() in a later turn (${laterName}): what the client sent meanwhile is not emitted (client ${peer})`, async () => {
      const reference = await serverTerminates(IMPLEMENTATIONS.ws, IMPLEMENTATIONS[peer], later);
      const candidate = await serverTerminates(IMPLEMENTATIONS.lws, IMPLEMENTATIONS[peer], later);
      assert.deepStrictEqual(candidate.server, reference.server);
      // The client's close code is up to the moment its peer dropped it; the server's
      // transcript is the one in question.
      assert.deepStrictEqual(candidate.client.filter((e) => e[0] === 'message'), reference.client.filter((e) => e[0] === 'message'));
    });

    test(`client terminate() in a later turn (${laterName}): what the server sent meanwhile is not emitted (server ${peer})`, async () => {
      const reference = await clientTerminates(IMPLEMENTATIONS[peer], IMPLEMENTATIONS.ws, later);
      const candidate = await clientTerminates(IMPLEMENTATIONS[peer], IMPLEMENTATIONS.lws, later);
      assert.deepStrictEqual(candidate.client, reference.client);
    });
  }
}

/**
 * terminate() inside the 'message' listener: ws still emits what it had read in
 * that same TCP read (its receiver goes on with the chunk), so the messages that
 * came in one write with the first are emitted; lws does the same with its batch.
 */
test('server terminate() inside a message listener: the messages of the same read still come', async () => {
  const run = async (server) => {
    const log = [];
    let closed = false;
    const wss = await listen(server, (ws) => {
      ws.on('message', (data) => {
        log.push(['message', String(data)]);
        if (String(data) === 'one') ws.terminate();
      });
      ws.on('close', (code) => { log.push(['close', code]); closed = true; });
    });
    const raw = new WS(`ws://127.0.0.1:${wss.address().port}`);
    await new Promise((resolve) => raw.on('open', resolve));
    raw.on('error', () => {});
    // Three frames in one write: one TCP read on the server.
    raw._socket.cork();
    raw.send('one');
    raw.send('two');
    raw.send('three');
    raw._socket.uncork();
    await settle(() => closed);
    raw.terminate();
    await closeServer(wss);
    return log;
  };
  const reference = await run(IMPLEMENTATIONS.ws);
  const candidate = await run(IMPLEMENTATIONS.lws);
  assert.deepStrictEqual(candidate, reference);
});

/** A bad frame (unmasked, from a client) read after terminate(): ws never reads it, so no 'error'. */
test('server terminate() in a later turn: a bad frame the client sent meanwhile raises no error', async () => {
  const run = async (server) => {
    const log = [];
    let closed = false;
    let client;
    const wss = await listen(server, (ws) => {
      record(ws, log);
      ws.on('close', () => { closed = true; });
      ws.once('message', () => {
        client._socket.write(Buffer.from([0x81, 0x02, 0x68, 0x69])); // text "hi", not masked
        Promise.resolve().then(() => {
          ws.terminate();
          log.push(['terminated', ws.readyState]);
        });
      });
    });
    client = new WS(`ws://127.0.0.1:${wss.address().port}`);
    client.on('error', () => {});
    client.on('open', () => client.send('init'));
    await settle(() => closed);
    client.terminate();
    await closeServer(wss);
    return log;
  };
  const reference = await run(IMPLEMENTATIONS.ws);
  const candidate = await run(IMPLEMENTATIONS.lws);
  assert.deepStrictEqual(candidate, reference);
});

/**
 * subscriptions-transport-ws's first test, the other way round: the server's
 * 'message' listener makes the client (in the same process) close, and mocha moves
 * on through setImmediate. ws reads what the client sent then only at the event
 * loop's next poll, after that setImmediate; lws's engine had handed JS what it
 * read meanwhile in the same turn (batches taken until none was left), so the
 * listener, still attached, saw GQL_CONNECTION_TERMINATE before the test ended.
 */
async function replyOrder(server, client, side) {
  const log = [];
  let clientWs;
  let serverWs;
  let done = false;
  const onMessage = (ws, peer) => (data) => {
    log.push(['message', String(data)]);
    if (String(data) === 'first') {
      peer().send('reply');
      setImmediate(() => log.push(['setImmediate']));
    }
    if (String(data) === 'reply') done = true;
  };
  const wss = await listen(server, (ws) => {
    serverWs = ws;
    if (side === 'server') ws.on('message', onMessage(ws, () => clientWs));
    else ws.send('first');
  });
  clientWs = new client.WebSocket(`ws://127.0.0.1:${wss.address().port}`, client.options);
  if (side === 'server') clientWs.on('open', () => clientWs.send('first'));
  else clientWs.on('message', onMessage(clientWs, () => serverWs));
  await settle(() => done);
  clientWs.terminate();
  await closeServer(wss);
  return log;
}

for (const peer of ['ws', 'lws']) {
  test(`server: a reply its 'message' listener provoked comes after that listener's setImmediate (client ${peer})`, async () => {
    const reference = await replyOrder(IMPLEMENTATIONS.ws, IMPLEMENTATIONS[peer], 'server');
    const candidate = await replyOrder(IMPLEMENTATIONS.lws, IMPLEMENTATIONS[peer], 'server');
    assert.deepStrictEqual(candidate, reference);
  });

  test(`client: a reply its 'message' listener provoked comes after that listener's setImmediate (server ${peer})`, async () => {
    const reference = await replyOrder(IMPLEMENTATIONS[peer], IMPLEMENTATIONS.ws, 'client');
    const candidate = await replyOrder(IMPLEMENTATIONS[peer], IMPLEMENTATIONS.lws, 'client');
    assert.deepStrictEqual(candidate, reference);
  });
}
