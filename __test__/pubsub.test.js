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

test('a publish to a socket in the middle of a fragmented send follows that message, whole (with and without deflate)', async (t) => {
  for (const perMessageDeflate of [false, true]) {
    const server = await chatServer(t, perMessageDeflate ? { perMessageDeflate: { threshold: 0 } } : {});
    server.on('connection', (socket) => {
      server.subscribe(socket, 'news');
      server.send(socket, 'frag-1 ', false, false); // a text message in fragments...
      server.publish('news', 'published while fragmenting');
      server.publish('news', Buffer.alloc(100 * 1024, 7), true); // shared by reference
      server.send(socket, 'frag-2 ', false, false);
      server.send(socket, 'frag-end', false, true); // ...ends here
      server.send(socket, 'after');
    });
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`, { perMessageDeflate });
    const got = await within(5000, 'four messages', (done, fail) => {
      const all = [];
      ws.on('error', fail);
      ws.on('message', (data, isBinary) => {
        all.push(isBinary ? `binary ${data.length} ${data.every((b) => b === 7)}` : String(data));
        if (all.length === 4) done(all);
      });
    });
    assert.deepEqual(got, ['frag-1 frag-2 frag-end', 'published while fragmenting', 'binary 102400 true', 'after'], `perMessageDeflate: ${perMessageDeflate}`);
    ws.close();
  }
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

test('subscribe / unsubscribe in any order: the queries, the counts and the deliveries follow (0, 1 and several topics a socket)', { timeout: 30000 }, async (t) => {
  // A socket's topics are kept as nothing, one key or a set; a topic's subscribers as a count.
  const server = await chatServer(t);
  const clients = await Promise.all([1, 2, 3].map(() => member(server.port)));
  await waitUntil(() => server._sockets.size === 3, 5000, 'the sockets');
  const sockets = [...server._sockets.values()];
  const topics = ['a', 'b', 'c', 'd'];
  const model = sockets.map(() => new Set());
  let seed = 7; // xorshift32: the same sequence every run
  const random = (n) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const seen = { drops: 0, sets: 0 };
  let round = 0;
  for (let step = 0; step < 240; step++) {
    const i = random(3);
    const topic = topics[random(4)];
    if (random(2) === 0) assert.equal(server.subscribe(sockets[i], topic), !model[i].has(topic) && Boolean(model[i].add(topic)));
    else {
      if (model[i].size === 1 && model[i].has(topic)) seen.drops++; // its one topic
      assert.equal(server.unsubscribe(sockets[i], topic), model[i].delete(topic));
    }
    if (model[i].size > 2) seen.sets++;
    for (const [k, socket] of sockets.entries()) {
      assert.deepEqual(server.getTopics(socket).sort(), [...model[k]].sort(), `step ${step}: socket ${k}'s topics`);
      for (const name of topics) assert.equal(server.isSubscribed(socket, name), model[k].has(name));
    }
    for (const name of topics) assert.equal(server.numSubscribers(name), model.filter((m) => m.has(name)).length, `step ${step}: ${name}`);
    if (step % 60 === 59) {
      // Every socket gets a publish to each of its topics, once, and nothing else.
      round++;
      for (const name of topics) server.publish(name, `${round} to ${name}`);
      const expected = model.map((m) => topics.filter((name) => m.has(name)).map((name) => `${round} to ${name}`));
      await waitUntil(() => clients.every((ws, k) => expected[k].every((text) => ws.inbox.includes(text))), 5000, `round ${round}`);
      await new Promise((resolve) => setTimeout(resolve, 30));
      for (const [k, ws] of clients.entries()) {
        assert.deepEqual(ws.inbox.filter((text) => text.startsWith(`${round} to `)).sort(), expected[k].sort(), `round ${round}, client ${k}`);
      }
    }
  }
  assert.ok(seen.drops > 2 && seen.sets > 2, `the sequence covers both forms (${JSON.stringify(seen)})`);
  // A closed socket's subscriptions end, whatever their number.
  const busiest = model.reduce((best, m, k) => (m.size > model[best].size ? k : best), 0);
  for (const name of topics) server.subscribe(sockets[busiest], name);
  const before = topics.map((name) => server.numSubscribers(name));
  clients[busiest].close();
  await waitUntil(() => topics.every((name, k) => server.numSubscribers(name) === before[k] - 1), 5000, 'the closed socket\'s topics');
  for (const ws of clients) ws.close();
});

test('publish takes every payload form, small (copied in place) and large (by reference), text and binary, byte for byte', { timeout: 30000 }, async (t) => {
  const server = await chatServer(t);
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`);
  const got = [];
  ws.on('message', (data, isBinary) => got.push({ data: Buffer.from(data), isBinary }));
  await within(5000, 'open', (done, fail) => { ws.on('open', done); ws.on('error', fail); });
  await waitUntil(() => server._sockets.size === 1, 5000, 'the socket');
  const [socket] = server._sockets.values();
  const topic = 'naïve ☃'; // not ASCII: its UTF-8 bytes are the topic
  assert.equal(server.subscribe(socket, topic), true);
  const big = Buffer.alloc(200 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
  const bytes = Uint8Array.from([0, 1, 2, 255]);
  const sent = [
    ['héllo ☃ wörld', false],
    ['x'.repeat(70 * 1024) + '☃', false], // a string over the in-place limit
    [bytes, true],
    [bytes.buffer, true],
    [new DataView(bytes.buffer, 1, 2), true],
    [big, true],
    [big.subarray(5, 100), true],
    [Buffer.alloc(0), true],
  ];
  for (const [data, binary] of sent) assert.equal(server.publish(Buffer.from(topic), data, binary), true);
  assert.equal(server.publish('nobody here', 'x'), false);
  await waitUntil(() => got.length === sent.length, 10000, 'every publish');
  const asBytes = (data) => (typeof data === 'string' ? Buffer.from(data) : ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data));
  got.forEach((m, i) => {
    assert.equal(m.isBinary, sent[i][1], `message ${i} type`);
    assert.ok(m.data.equals(asBytes(sent[i][0])), `message ${i} bytes`);
  });
  assert.throws(() => server.publish(topic, 42), TypeError);
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

// ---- permessage-deflate: a publish is deflated once per engine thread -------------------------

/** The data frames a server sent, raw: { rsv1, opcode, payload } (its payload as sent, not inflated). */
function serverFrames(buf) {
  const frames = [];
  let pos = 0;
  while (buf.length - pos >= 2) {
    let len = buf[pos + 1] & 0x7f;
    let at = pos + 2;
    if (len === 126) [len, at] = [buf.readUInt16BE(at), at + 2];
    else if (len === 127) [len, at] = [Number(buf.readBigUInt64BE(at)), at + 8];
    if (buf.length - at < len) break;
    frames.push({ rsv1: (buf[pos] & 0x40) !== 0, opcode: buf[pos] & 0x0f, payload: buf.subarray(at, at + len) });
    pos = at + len;
  }
  return { frames, used: pos };
}

/** A raw TCP subscriber that offers `extensions` (or nothing) and keeps every frame the server sends. */
async function rawSubscriber(port, extensions) {
  const { RawClient, upgradeRequest } = require('./helpers/differential');
  const raw = new RawClient(port);
  raw.write(upgradeRequest({ headers: extensions ? { 'Sec-WebSocket-Extensions': extensions } : {} }));
  const head = await raw.head(5000);
  assert.match(head.status, / 101 /);
  raw.agreed = (head.headers.find(([n]) => n.toLowerCase() === 'sec-websocket-extensions') || [])[1];
  raw.received = () => {
    const { frames, used } = serverFrames(raw.buffer);
    return used === raw.buffer.length ? frames : frames.slice(0, -1);
  };
  return raw;
}

const zlib = require('node:zlib');
/** One message deflated without context (RFC 7692: the 00 00 ff ff tail put back). */
const inflate = (payload) => zlib.inflateRawSync(Buffer.concat([payload, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: zlib.constants.Z_SYNC_FLUSH });

test('permessage-deflate without context takeover: a publish is deflated once, the same bytes to every such subscriber', { timeout: 30000 }, async (t) => {
  const server = new Server({ port: 0, host: '127.0.0.1', ...ENGINE_OPTIONS, perMessageDeflate: true });
  t.after(() => new Promise((resolve) => server.close(resolve)));
  server.on('connection', (socket) => server.subscribe(socket, 'news'));
  await within(5000, 'listening', (done) => server.once('listening', done));
  const deflate1 = await rawSubscriber(server.port, 'permessage-deflate');
  const deflate2 = await rawSubscriber(server.port, 'permessage-deflate');
  const smallWindow = await rawSubscriber(server.port, 'permessage-deflate; server_max_window_bits=10');
  const plain = await rawSubscriber(server.port, null);
  assert.equal(deflate1.agreed, 'permessage-deflate; server_no_context_takeover; client_no_context_takeover');
  assert.match(smallWindow.agreed, /server_max_window_bits=10/);
  const wsClient = await member(server.port); // ws's own inflater decodes what the engine deflated
  wsClient.binaries = [];
  wsClient.on('message', (data, isBinary) => { if (isBinary) wsClient.binaries.push(data); });
  await waitUntil(() => server.numSubscribers('news') === 5, 5000, 'five subscribers');

  const text = 'the same news, again and again. '.repeat(128); // 4 KiB: over the 1,024-byte threshold
  const incompressible = require('node:crypto').randomBytes(100 * 1024); // deflated, still large: shared by reference
  server.publish('news', text);
  server.publish('news', 'short'); // under the threshold: sent as it is
  server.publish('news', incompressible, true);
  const subscribers = [deflate1, deflate2, smallWindow, plain];
  await waitUntil(() => subscribers.every((s) => s.received().length === 3) && wsClient.inbox.length === 3, 10000, 'three publishes everywhere');

  for (const s of [deflate1, deflate2, smallWindow]) {
    const [big, short, binary] = s.received();
    assert.deepEqual([big.rsv1, short.rsv1, binary.rsv1], [true, false, true], 'RSV1: deflated over the threshold only');
    assert.ok(big.payload.length < 200, `deflated on the wire (${big.payload.length} bytes)`);
    assert.equal(inflate(big.payload).toString(), text);
    assert.equal(String(short.payload), 'short');
    assert.ok(inflate(binary.payload).equals(incompressible));
  }
  assert.ok(deflate1.received()[0].payload.equals(deflate2.received()[0].payload), 'one deflate for both');
  assert.ok(deflate1.received()[2].payload.equals(deflate2.received()[2].payload));
  assert.deepEqual(plain.received().map((f) => f.rsv1), [false, false, false], 'no deflate negotiated: plain');
  assert.equal(String(plain.received()[0].payload), text);
  assert.deepEqual(wsClient.inbox.slice(0, 2), [text, 'short']);
  assert.ok(wsClient.binaries[0].equals(incompressible));
  for (const s of [...subscribers, wsClient]) (s.destroy || s.close).call(s);
});

test('permessage-deflate with context takeover: each subscriber deflates a publish with its own context', { timeout: 30000 }, async (t) => {
  const server = new Server({ port: 0, host: '127.0.0.1', ...ENGINE_OPTIONS, perMessageDeflate: { serverNoContextTakeover: false } });
  t.after(() => new Promise((resolve) => server.close(resolve)));
  server.on('connection', (socket) => server.subscribe(socket, 'news'));
  await within(5000, 'listening', (done) => server.once('listening', done));
  const raw = await rawSubscriber(server.port, 'permessage-deflate');
  assert.equal(raw.agreed, 'permessage-deflate; client_no_context_takeover');
  const wsClients = [await member(server.port), await member(server.port)];
  await waitUntil(() => server.numSubscribers('news') === 3, 5000, 'three subscribers');
  const text = require('node:crypto').randomBytes(1024).toString('hex'); // compresses only so far, alone
  for (let i = 0; i < 3; i++) server.publish('news', text);
  await waitUntil(() => raw.received().length === 3 && wsClients.every((ws) => ws.inbox.length === 3), 10000, 'three publishes');
  const [first, second] = raw.received();
  assert.ok(first.rsv1 && second.rsv1);
  // The second refers back to the first (the socket's context): only a few bytes.
  assert.ok(second.payload.length < first.payload.length / 4, `${second.payload.length} vs ${first.payload.length}`);
  const inflater = zlib.createInflateRaw();
  const chunks = [];
  inflater.on('data', (c) => chunks.push(c));
  for (const f of raw.received()) inflater.write(Buffer.concat([f.payload, Buffer.from([0, 0, 0xff, 0xff])]));
  await new Promise((resolve) => inflater.flush(resolve));
  assert.equal(Buffer.concat(chunks).toString(), text.repeat(3));
  for (const ws of wsClients) assert.deepEqual(ws.inbox, [text, text, text]);
  raw.destroy();
  for (const ws of wsClients) ws.close();
});
