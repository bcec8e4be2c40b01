'use strict';
// lws under the frameworks people run WebSockets through, each against its own real
// client: socket.io 4 (engine.io's `wsEngine` set to lws.WebSocketServer) with
// socket.io-client, and Primus 8 (the `lws/primus` transformer) with Primus's Node client.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const lws = require('..');
const { within, withTimeout, waitUntil } = require('./helpers/wait');

function listen(server) {
  return within(5000, 'http listening', (done) => server.listen(0, '127.0.0.1', () => done(server.address().port)));
}

/** socket.io server on an http server, engine.io's WebSocket server being lws. */
async function socketIo(t, options = {}) {
  const { Server } = require('socket.io');
  const httpServer = http.createServer();
  const io = new Server(httpServer, { wsEngine: lws.WebSocketServer, ...options });
  const port = await listen(httpServer);
  const clients = [];
  t.after(async () => {
    for (const c of clients) c.close();
    await within(5000, 'io.close', (done) => io.close(done));
  });
  const connect = (opts) => {
    const { io: client } = require('socket.io-client');
    const c = client(`http://127.0.0.1:${port}`, { reconnection: false, ...opts });
    clients.push(c);
    return within(5000, 'socket.io connect', (done, fail) => {
      c.once('connect', () => done(c));
      c.once('connect_error', fail);
    });
  };
  return { io, connect };
}

test('socket.io: websocket transport on lws, JSON and binary events with acks', { timeout: 30000 }, async (t) => {
  const { io, connect } = await socketIo(t, { transports: ['websocket'] });
  io.on('connection', (socket) => {
    socket.on('echo', (msg, ack) => ack({ got: msg, transport: socket.conn.transport.name, lws: socket.conn.transport.socket instanceof lws.WebSocket }));
    socket.on('sum', (buf, ack) => ack(buf.length, buf.reduce((a, b) => a + b, 0)));
  });
  const client = await connect({ transports: ['websocket'] });
  const reply = await within(5000, 'echo ack', (done) => client.emit('echo', { text: 'héllo', n: [1, 2, 3] }, done));
  assert.deepEqual(reply, { got: { text: 'héllo', n: [1, 2, 3] }, transport: 'websocket', lws: true });
  const payload = Buffer.alloc(300000, 3);
  const [len, sum] = await within(5000, 'binary ack', (done) => client.emit('sum', payload, (...a) => done(a)));
  assert.deepEqual([len, sum], [300000, 900000]);
});

test('socket.io: the default polling-then-upgrade path ends on lws; broadcasts reach 30 clients; server disconnect is seen', { timeout: 30000 }, async (t) => {
  const { io, connect } = await socketIo(t);
  const clients = [];
  for (let i = 0; i < 30; i++) clients.push(await connect({}));
  // Every client upgrades from polling to a WebSocket served by lws.
  await withTimeout(Promise.all(clients.map((c) => (c.io.engine.transport.name === 'websocket'
    ? null
    : new Promise((r) => c.io.engine.once('upgrade', r))))), 10000, 'upgrades');
  for (const c of clients) assert.equal(c.io.engine.transport.name, 'websocket');
  const got = clients.map((c) => new Promise((r) => c.once('news', r)));
  io.emit('news', { id: 7 });
  assert.deepEqual(await withTimeout(Promise.all(got), 5000, 'broadcast'), clients.map(() => ({ id: 7 })));
  const reason = new Promise((r) => clients[0].once('disconnect', r));
  const [first] = await io.fetchSockets();
  first.disconnect(true);
  assert.equal(await withTimeout(reason, 5000, 'disconnect'), 'io server disconnect');
});

test('Primus: the lws/primus transformer echoes strings and objects and ends sparks', { timeout: 30000 }, async (t) => {
  const Primus = require('primus');
  const httpServer = http.createServer();
  const primus = new Primus(httpServer, { transformer: require('lws/primus') });
  const sparks = [];
  primus.on('connection', (spark) => {
    sparks.push(spark);
    spark.on('data', (data) => spark.write({ echo: data }));
  });
  const port = await listen(httpServer);
  const Socket = primus.Socket;
  const client = new Socket(`http://127.0.0.1:${port}`, { reconnect: { retries: 0 } });
  t.after(async () => {
    client.end();
    await within(5000, 'primus destroy', (done) => primus.destroy({ timeout: 100 }, done));
  });
  await within(5000, 'primus open', (done) => client.once('open', done));
  const answers = [];
  client.on('data', (d) => answers.push(d));
  client.write('plain');
  client.write({ nested: { ok: true }, list: [1, 'two'] });
  await within(5000, 'two answers', (done) => {
    const check = () => (answers.length >= 2 ? done() : setTimeout(check, 10));
    check();
  });
  // (Primus's client runs in its own vm context: compare by value, not prototype.)
  assert.equal(JSON.stringify(answers), JSON.stringify([{ echo: 'plain' }, { echo: { nested: { ok: true }, list: [1, 'two'] } }]));
  assert.equal(sparks.length, 1);
  assert.ok(sparks[0].socket instanceof lws.WebSocket, 'the spark rides an lws WebSocket');
  const ended = within(5000, 'client end', (done) => client.once('end', done));
  sparks[0].end();
  await ended;
});

// ---- a client's own close, as the frameworks see it ---------------------------------
// socket.io's client disconnect() sends a DISCONNECT packet and then closes the
// WebSocket; socket.io handles that packet on the next tick, so the server's
// 'disconnect' reason is 'client namespace disconnect' only if the WebSocket's 'close'
// comes later than the message before it. A Primus client's end() closes the WebSocket
// at once; Primus announces a spark on the next tick after the WebSocket opened, so the
// application sees the spark's 'end' only if the WebSocket's 'close' comes later than
// its opening. ws (engine.io's default wsEngine, and the server of Primus's own
// `websockets` transformer) emits 'close' once the close handshake is over: the tests
// check that reference first, then lws.

/**
 * `rounds` socket.io clients, one after another: each connects with `clientOptions`,
 * is on the websocket transport (after the upgrade, if it started with polling), and
 * calls disconnect(). Resolves with what each round saw: the client's and the server's
 * 'disconnect' reasons, and whether the server's socket was a `WebSocketClass`.
 */
async function clientDisconnects(t, wsEngine, WebSocketClass, clientOptions, rounds) {
  const { io, connect } = await socketIo(t, { wsEngine });
  const seen = [];
  for (let i = 0; i < rounds; i++) {
    const serverSocket = within(5000, "the server's 'connection'", (done) => io.once('connection', done));
    const client = await connect(clientOptions);
    const socket = await serverSocket;
    if (client.io.engine.transport.name !== 'websocket') {
      await within(5000, 'the upgrade to websocket', (done) => client.io.engine.once('upgrade', done));
    }
    const serverReason = within(5000, "the server's 'disconnect'", (done) => socket.once('disconnect', (reason) => done({
      reason,
      transport: socket.conn.transport.name,
      onWsEngine: socket.conn.transport.socket instanceof WebSocketClass,
    })));
    const clientReason = within(5000, "the client's 'disconnect'", (done) => client.once('disconnect', done));
    client.disconnect();
    seen.push({ client: await clientReason, server: await serverReason });
  }
  return seen;
}

/**
 * The rounds of clientDisconnects, by client options, against what ws gives: the
 * server's 'disconnect' reason is 'client namespace disconnect' in every round (a
 * tally in the message), the client's is 'io client disconnect', and the server's
 * socket was on the websocket transport, a `WebSocketClass`.
 */
function assertClientDisconnects(seen) {
  const reasons = {};
  const tallies = [];
  for (const [mode, rounds] of Object.entries(seen)) {
    reasons[mode] = rounds.map((r) => r.server.reason);
    const tally = {};
    for (const reason of reasons[mode]) tally[reason] = (tally[reason] || 0) + 1;
    tallies.push(`${mode} ${JSON.stringify(tally)}`);
  }
  const expected = Object.fromEntries(Object.entries(reasons).map(([mode, r]) => [mode, r.map(() => 'client namespace disconnect')]));
  assert.deepEqual(reasons, expected, `the server's 'disconnect' reasons, round by round: ${tallies.join(', ')}`
    + " ('transport close': the WebSocket's 'close' came before socket.io handled the client's DISCONNECT packet)");
  for (const [mode, rounds] of Object.entries(seen)) {
    rounds.forEach((r, i) => assert.deepEqual({ client: r.client, transport: r.server.transport, onWsEngine: r.server.onWsEngine },
      { client: 'io client disconnect', transport: 'websocket', onWsEngine: true }, `${mode}, round ${i + 1}`));
  }
}

test('socket.io reference (ws as wsEngine, engine.io\'s default): a client\'s disconnect() over the websocket transport reaches the server as \'client namespace disconnect\'', { timeout: 30000 }, async (t) => {
  const WebSocket = require('ws');
  assertClientDisconnects({
    websocketOnly: await clientDisconnects(t, WebSocket.WebSocketServer, WebSocket, { transports: ['websocket'] }, 10),
    pollingThenUpgrade: await clientDisconnects(t, WebSocket.WebSocketServer, WebSocket, {}, 10),
  });
});

test('socket.io on lws: a client\'s disconnect() over the websocket transport reaches the server as \'client namespace disconnect\' (websocket only, and polling then upgrade)', { timeout: 30000 }, async (t) => {
  assertClientDisconnects({
    websocketOnly: await clientDisconnects(t, lws.WebSocketServer, lws.WebSocket, { transports: ['websocket'] }, 20),
    pollingThenUpgrade: await clientDisconnects(t, lws.WebSocketServer, lws.WebSocket, {}, 20),
  });
});

/**
 * Primus on `transformer`: `rounds` clients, one after another, each calling end() as
 * soon as it is open. Resolves with, per round, the client's events and the server's
 * as the application sees them (its 'connection' listener puts an 'end' listener on the
 * spark; Primus's own 'disconnection' is listed too). Stops after the first round whose
 * spark has not ended 2 s after its client did.
 */
async function primusClientEnds(t, transformer, rounds) {
  const Primus = require('primus');
  const httpServer = http.createServer();
  const primus = new Primus(httpServer, { transformer });
  let server = [];
  primus.on('connection', (spark) => {
    const events = server;
    events.push('connection');
    spark.on('end', () => events.push('end'));
  });
  primus.on('disconnection', () => server.push('disconnection'));
  const port = await listen(httpServer);
  const clients = [];
  t.after(async () => {
    for (const c of clients) c.end();
    await within(5000, 'primus destroy', (done) => primus.destroy({ timeout: 100 }, done));
  });
  const seen = [];
  for (let i = 0; i < rounds; i++) {
    server = [];
    const client = new primus.Socket(`http://127.0.0.1:${port}`, { reconnect: { retries: 0 }, strategy: false });
    clients.push(client);
    const events = [];
    await within(5000, "the client's 'end'", (done, fail) => {
      client.on('open', () => {
        events.push('open');
        client.end();
      });
      client.on('close', () => events.push('close'));
      client.on('end', () => {
        events.push('end');
        done();
      });
      client.on('error', fail);
    });
    const sparkEnded = await waitUntil(() => server.includes('end'), 2000, "the spark's 'end'").then(() => true, () => false);
    seen.push({ client: events, server });
    if (!sparkEnded) break;
  }
  return seen;
}

const PRIMUS_CLIENT_END = { client: ['open', 'close', 'end'], server: ['connection', 'disconnection', 'end'] };

test('Primus reference (its websockets transformer, on ws): a client\'s end() ends its spark, after the application saw it connect', { timeout: 30000 }, async (t) => {
  const seen = await primusClientEnds(t, 'websockets', 100);
  seen.forEach((round, i) => assert.deepEqual(round, PRIMUS_CLIENT_END, `round ${i + 1}: client and server events`));
  assert.equal(seen.length, 100);
});

test('Primus on lws/primus: a client\'s end() ends its spark, after the application saw it connect', { timeout: 30000 }, async (t) => {
  const seen = await primusClientEnds(t, require('lws/primus'), 100);
  seen.forEach((round, i) => assert.deepEqual(round, PRIMUS_CLIENT_END,
    `round ${i + 1} of at most 100: client and server events; the spark must emit 'end' after the application's 'connection'`
    + " ('disconnection' before 'connection': the WebSocket's 'close' came before Primus announced the spark, a tick after it opened,"
    + " so the application's 'end' listener never ran)"));
  assert.equal(seen.length, 100);
});

// ---- /primus/spec: what a client that knows only the URL builds its Socket from -------
// Primus's README: a process without the server's `primus` reads /<pathname>/spec and
// calls Primus.createSocket({ transformer, parser }) with it. The transcript is the spec's
// transformer and whether such a Socket then gets an echo.
async function primusSpecClient(t, transformer) {
  const Primus = require('primus');
  const httpServer = http.createServer();
  const primus = new Primus(httpServer, { transformer });
  primus.on('connection', (spark) => spark.on('data', (data) => spark.write({ echo: data })));
  const port = await listen(httpServer);
  const clients = [];
  t.after(async () => {
    for (const c of clients) c.end();
    await within(5000, 'primus destroy', (done) => primus.destroy({ timeout: 100 }, done));
  });
  const spec = await within(5000, 'GET /primus/spec', (done, fail) => {
    http.get(`http://127.0.0.1:${port}/primus/spec`, (res) => {
      let body = '';
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => done(JSON.parse(body)));
    }).on('error', fail);
  });
  const transcript = { transformer: spec.transformer, parser: spec.parser };
  let Socket;
  try {
    Socket = Primus.createSocket({ transformer: spec.transformer, parser: spec.parser });
  } catch (err) {
    transcript.createSocket = err.message.split('\n')[0];
    return transcript;
  }
  const client = new Socket(`http://127.0.0.1:${port}`, { reconnect: { retries: 0 }, strategy: false });
  clients.push(client);
  transcript.answer = await within(5000, 'echo', (done, fail) => {
    client.once('data', (data) => done(JSON.stringify(data)));
    client.once('error', fail);
    client.write('hi');
  });
  return transcript;
}

test('Primus differential: /primus/spec names the transformer a client must use, and a Socket built from it talks to the server (websockets on ws, then lws/primus)', { timeout: 30000 }, async (t) => {
  const reference = await primusSpecClient(t, 'websockets');
  assert.deepEqual(reference, { transformer: 'websockets', parser: 'json', answer: '{"echo":"hi"}' });
  assert.deepEqual(await primusSpecClient(t, require('lws/primus')), reference);
});

/**
 * engine.io (socket.io 4.8's) on `wsEngine`, two websocket-only clients: the first one's
 * handshake is refused after the upgrade (generateId rejects: engine.io destroys the upgraded
 * socket), the second one connects and later closes; a middleware listens to the upgrade's
 * response 'close' (as pino-http does). Resolves with what the application and client see.
 */
async function engineIoUpgradeEnds(wsEngine) {
  const { Server } = require('engine.io');
  const { Socket } = require('engine.io-client');
  const httpServer = http.createServer();
  const engine = new Server({ wsEngine, transports: ['websocket'] });
  engine.attach(httpServer);
  const port = await listen(httpServer);
  const seen = [];
  const clients = [];
  try {
    engine.use((req, res, next) => {
      res.on('close', () => seen.push('response close'));
      next();
    });
    engine.on('connection_error', (err) => seen.push(`connection_error ${err.context && err.context.name}`));
    engine.on('connection', (socket) => {
      seen.push('connection');
      socket.on('close', (reason) => seen.push(`server socket close: ${reason}`));
    });
    const refused = new Socket(`ws://127.0.0.1:${port}`, { transports: ['websocket'] });
    clients.push(refused);
    engine.generateId = () => Promise.reject(new Error('nope'));
    // engine.io writes an HTTP 400 on the upgraded socket: the client reads a broken frame, and
    // its 'close' reason is 'transport error' (socket.io's client then retries on connect_error).
    let refusedReason = null;
    await within(5000, "the refused client's 'close'", (done) => refused.on('close', (reason) => { refusedReason = reason; done(); }));
    await waitUntil(() => seen.includes('response close'), 2000, "the refused upgrade's response 'close'").catch(() => {});
    seen.push(`refused client close: ${refusedReason}`);
    seen.push('---');
    delete engine.generateId; // engine.io's own again (its prototype's)
    const client = new Socket(`ws://127.0.0.1:${port}`, { transports: ['websocket'] });
    clients.push(client);
    await within(5000, 'client open', (done) => client.on('open', done));
    await new Promise((r) => setTimeout(r, 50));
    seen.push('client closes');
    client.close();
    const closes = () => seen.filter((e) => e === 'response close').length;
    await waitUntil(() => closes() === 2, 2000, "the upgrade's response 'close'").catch(() => {});
    seen.push(`clientsCount ${engine.clientsCount}`);
    return seen;
  } finally {
    for (const c of clients) c.close();
    engine.close();
    httpServer.close();
  }
}

test("engine.io on lws as on ws: an upgrade engine.io refuses after the handshake ends the connection; the upgrade's response 'close' (pino-http) comes when the connection ends", { timeout: 30000 }, async () => {
  const WebSocket = require('ws');
  const reference = await engineIoUpgradeEnds(WebSocket.WebSocketServer);
  assert.deepEqual(reference, [
    'connection_error ID_GENERATION_ERROR', 'response close', 'refused client close: transport error', '---',
    'connection', 'client closes', 'response close', 'server socket close: transport close', 'clientsCount 0',
  ]);
  assert.deepEqual(await engineIoUpgradeEnds(lws.WebSocketServer), reference);
});
