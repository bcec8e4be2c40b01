'use strict';
// lws under the frameworks people run WebSockets through, each against its own real
// client: socket.io 4 (engine.io's `wsEngine` set to lws.WebSocketServer) with
// socket.io-client, and Primus 8 (the `lws/primus` transformer) with Primus's Node client.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const lws = require('..');
const { within, withTimeout } = require('./helpers/wait');

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
