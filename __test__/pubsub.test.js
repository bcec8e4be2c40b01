'use strict';
// Pub/sub topics fanned out by the engine (lws.Server#subscribe / publish):
// every subscriber gets each message exactly once, the sender can be skipped,
// a socket's sends and publishes leave in the order they were made, and
// subscriptions end with the socket. Real ws clients, and lws.Client for many.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const WebSocket = require('ws');
const { Server, Client } = require('..');
const { within, waitUntil } = require('./helpers/wait');
const { ENGINE_OPTIONS } = require('./helpers/engine');

async function chatServer(t, options = {}) {
  const server = new Server({ port: 0, host: '127.0.0.1', ...ENGINE_OPTIONS, ...options });
  t.after(() => new Promise((resolve) => server.close(resolve)));
  // "join X" subscribes, "leave X" unsubscribes, anything else goes to "room" (not back to the sender).
  server.on('message', (socket, message) => {
    const text = String(message);
    if (text.startsWith('join ')) server.send(socket, `joined ${server.subscribe(socket, text.slice(5))}`);
    else if (text.startsWith('leave ')) server.send(socket, `left ${server.unsubscribe(socket, text.slice(6))}`);
    else server.publish('room', message, false, { skip: socket });
  });
  await within(5000, 'listening', (done) => server.once('listening', done));
  return server;
}

/** A ws client that records every message it gets. */
async function member(port) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  ws.inbox = [];
  ws.on('message', (data) => ws.inbox.push(String(data)));
  await within(5000, 'open', (done, fail) => { ws.on('open', done); ws.on('error', fail); });
  return ws;
}

async function request(ws, text, answer) {
  ws.send(text);
  await waitUntil(() => ws.inbox.includes(answer), 5000, answer);
}

test('each subscriber gets a publish once, the sender is skipped, subscriptions end with the socket', async (t) => {
  const server = await chatServer(t);
  const [a, b, c, outsider] = await Promise.all([1, 2, 3, 4].map(() => member(server.port)));
  for (const ws of [a, b, c]) await request(ws, 'join room', 'joined true');
  await request(a, 'join room', 'joined false'); // already subscribed
  assert.equal(server.numSubscribers('room'), 3);
  assert.equal(server.numSubscribers(Buffer.from('room')), 3); // a topic is its bytes
  const sockets = [...server._sockets.values()];
  assert.deepEqual(sockets.map((s) => server.getTopics(s)).filter((t) => t.length).length, 3);

  a.send('hello from a');
  await waitUntil(() => b.inbox.includes('hello from a') && c.inbox.includes('hello from a'), 5000, 'deliveries');
  b.send('hello from b');
  await waitUntil(() => a.inbox.includes('hello from b') && c.inbox.includes('hello from b'), 5000, 'deliveries');
  await request(c, 'leave room', 'left true');
  a.send('after c left');
  await waitUntil(() => b.inbox.includes('after c left'), 5000, 'delivery');
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.ok(!a.inbox.includes('hello from a'), 'the sender is skipped');
  assert.ok(!c.inbox.includes('after c left'), 'an unsubscribed socket gets nothing');
  assert.deepEqual(outsider.inbox, []);
  for (const ws of [a, b, c]) assert.equal(ws.inbox.filter((m) => m.startsWith('hello from')).length, ws === c ? 2 : 1);

  b.close();
  await waitUntil(() => server.numSubscribers('room') === 1, 5000, 'the closed subscriber gone');
  assert.equal(server.publish('nobody-here', 'x'), false);
  for (const ws of [a, c, outsider]) ws.close();
});

test('a socket gets its sends and the publishes to it in the order they were made', async (t) => {
  const server = await chatServer(t);
  server.on('connection', (socket) => {
    server.subscribe(socket, 'news');
    server.send(socket, 'first');
    server.publish('news', 'second');
    server.send(socket, 'third');
    server.publish('news', Buffer.alloc(100 * 1024, 7), true); // shared by reference, not copied per socket
    server.send(socket, 'fifth');
  });
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`);
  const got = await within(5000, 'five messages', (done) => {
    const all = [];
    ws.on('message', (data, isBinary) => {
      all.push(isBinary ? `binary ${data.length} ${data.every((b) => b === 7)}` : String(data));
      if (all.length === 5) done(all);
    });
  });
  assert.deepEqual(got, ['first', 'second', 'third', 'binary 102400 true', 'fifth']);
  ws.close();
});

test('1,000 subscribers over two engine threads (lws.Client): each gets every publish exactly once', { timeout: 60000 }, async (t) => {
  const server = new Server({ port: 0, host: '127.0.0.1', threads: 2 });
  t.after(() => new Promise((resolve) => server.close(resolve)));
  server.on('connection', (socket) => server.subscribe(socket, 'all'));
  await within(5000, 'listening', (done) => server.once('listening', done));
  const client = new Client();
  t.after(() => new Promise((resolve) => client.close(resolve)));
  const received = new Map();
  let opened = 0;
  client.on('open', () => opened++);
  client.on('message', (socket, message) => {
    const list = received.get(socket) || [];
    list.push(String(message));
    received.set(socket, list);
  });
  for (let i = 0; i < 1000; i++) client.connect(`ws://127.0.0.1:${server.port}/`);
  await waitUntil(() => opened === 1000 && server.numSubscribers('all') === 1000, 20000, '1,000 subscribers');
  for (let i = 0; i < 5; i++) assert.equal(server.publish('all', `tick ${i}`), true);
  await waitUntil(() => [...received.values()].reduce((n, l) => n + l.length, 0) >= 5000, 20000, '5,000 deliveries');
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(received.size, 1000);
  for (const list of received.values()) assert.deepEqual(list, ['tick 0', 'tick 1', 'tick 2', 'tick 3', 'tick 4']);
  const stats = server.stats();
  assert.equal(stats.messagesOut, 5000);
});

test('topics: strings and bytes name the same topic; getTopics gives UTF-8 names; bad topics throw', async (t) => {
  const server = await chatServer(t);
  const ws = await member(server.port);
  await waitUntil(() => server._sockets.size === 1, 5000, 'the socket');
  const [socket] = server._sockets.values();
  assert.equal(server.subscribe(socket, 'café'), true);
  assert.equal(server.isSubscribed(socket, Buffer.from('café')), true);
  assert.equal(server.subscribe(socket, Buffer.from('café')), false);
  assert.deepEqual(server.getTopics(socket), ['café']);
  assert.throws(() => server.subscribe(socket, 42), TypeError);
  server.publish(Buffer.from('café'), 'to café');
  await waitUntil(() => ws.inbox.includes('to café'), 5000, 'the publish');
  ws.close();
});

test('WebSocketServer: ws.subscribe / wss.publish (lws extensions), from the connection event on', async (t) => {
  const { WebSocketServer } = require('..');
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...ENGINE_OPTIONS });
  t.after(() => new Promise((resolve) => wss.close(resolve)));
  const topicsSeen = [];
  wss.on('connection', (ws) => {
    // In port mode the socket may not be attached to the engine yet: the subscription waits for it.
    assert.equal(ws.subscribe('room'), true);
    assert.equal(ws.subscribe('room'), false);
    topicsSeen.push(ws.getTopics());
    ws.on('message', (data) => {
      if (String(data) === 'leave') {
        ws.send(`left ${ws.unsubscribe('room')} ${ws.isSubscribed('room')}`);
      } else {
        wss.publish('room', data, { binary: false, skip: ws });
      }
    });
  });
  await within(5000, 'listening', (done) => wss.once('listening', done));
  const [a, b, c] = await Promise.all([1, 2, 3].map(() => member(wss.address().port)));
  await waitUntil(() => wss.numSubscribers('room') === 3, 5000, 'three subscribers');
  assert.deepEqual(topicsSeen, [['room'], ['room'], ['room']]);
  a.send('hello room');
  await waitUntil(() => b.inbox.includes('hello room') && c.inbox.includes('hello room'), 5000, 'deliveries');
  c.send('leave');
  await waitUntil(() => c.inbox.includes('left true false'), 5000, 'left');
  b.send('after c left');
  await waitUntil(() => a.inbox.includes('after c left'), 5000, 'delivery');
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(!a.inbox.includes('hello room'), 'the sender is skipped');
  assert.ok(!c.inbox.includes('after c left'));
  assert.equal(wss.publish('nobody', 'x'), false);
  for (const ws of [a, b, c]) ws.close();
});
