'use strict';
// Streams in the core API (lib/core/streams.js) against real peers: 'messageStream'
// with TCP backpressure (the engine stops reading a socket whose stream is full),
// sendStream() (one message as fragments), createWebSocketStream for lws sockets,
// a message cut off by the peer, and misuse.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const path = require('path');
const { pipeline } = require('stream/promises');
const WebSocket = require('ws');
const lws = require('..');
const { within, once, opened, closed, waitUntil, sleep, inbox } = require('./helpers/wait');

const fdCount = () => fs.readdirSync('/proc/self/fd').length;
const MiB = 1024 * 1024;

/** An lws.Server on a free port, closed after the test. */
async function listen(t, options = {}) {
  const server = new lws.Server({ port: 0, host: '127.0.0.1', ...options });
  await once(server, 'listening');
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return server;
}

/** Byte i of a streamed test message is i & 255. */
const pattern = Buffer.alloc(256 * 1024);
for (let i = 0; i < pattern.length; i++) pattern[i] = i & 255;

/** Sends `total` bytes of the pattern as one message of 256 KiB fragments, each after the last is written. */
async function sendPatternMessage(ws, total) {
  for (let sent = 0; sent < total;) {
    const n = Math.min(pattern.length, total - sent);
    sent += n;
    await new Promise((resolve, reject) => ws.send(pattern.subarray(0, n), { binary: true, fin: sent === total }, (err) => (err ? reject(err) : resolve())));
  }
}

test('a 1 GiB message streams through a server whose RSS stays bounded (the issue\'s target: 64 MiB of growth)', { timeout: 120000 }, async (t) => {
  const child = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'stream-sink-server.js')], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  t.after(() => child.kill('SIGKILL'));
  const port = await within(10000, 'the sink server', (resolve) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
  });
  const ws = new WebSocket(`ws://127.0.0.1:${port}`);
  await opened(ws);
  const answer = once(ws, 'message', 110000);
  const started = Date.now();
  await sendPatternMessage(ws, 1024 * MiB);
  const [reply] = await answer;
  const [bytes, ok, growth] = reply.toString().split(' ');
  const seconds = (Date.now() - started) / 1000;
  t.diagnostic(`1 GiB in ${seconds.toFixed(1)} s, server RSS growth ${(growth / MiB).toFixed(1)} MiB`);
  assert.equal(Number(bytes), 1024 * MiB);
  assert.equal(ok, 'true', 'every byte as sent, in order');
  // Measured 39-48 MiB: ~32 MiB are the chunks handed to the Readable, garbage V8
  // frees at its next scavenge (one per 32 MiB of new ArrayBuffers, whatever the
  // heap flags), ~1 MiB the engine's read-ahead for a streaming socket (16 MiB,
  // the whole max JS backlog, before), the rest V8's and the allocator's.
  // A bound that grew with the message would be ~1 GiB here.
  assert.ok(Number(growth) < 64 * MiB, `RSS growth ${growth} bytes`);
  ws.close();
  await closed(ws);
});

test('a slow reader throttles the sender: the socket is paused, the sender\'s buffer fills, then drains as it reads', { timeout: 30000 }, async (t) => {
  const server = await listen(t, { maxMessageSize: 256 * MiB });
  const streams = [];
  server.on('messageStream', (socket, readable) => streams.push(readable));
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}`);
  await opened(ws);
  const total = 64 * MiB;
  ws.send(Buffer.alloc(total, 1), { binary: true });
  const readable = await waitUntil(() => streams[0], 5000, 'the message stream');
  // Nobody reads: the server stops reading the socket, TCP pushes back, and the
  // data stays with the sender.
  await sleep(500);
  const stuck = ws.bufferedAmount;
  assert.ok(stuck > total / 2, `the sender still holds most of the message (${stuck} bytes)`);
  assert.ok(readable.readableLength < 16 * MiB, `the server holds little (${readable.readableLength} bytes)`);
  await sleep(300);
  assert.ok(ws.bufferedAmount >= stuck - MiB, 'nothing moves while nobody reads');
  let received = 0;
  readable.on('data', (chunk) => { received += chunk.length; });
  await once(readable, 'end', 20000);
  assert.equal(received, total);
  assert.equal(ws.bufferedAmount, 0);
  ws.close();
  await closed(ws);
});

test('a socket streaming a message reads only ~1 MiB ahead of a busy JS thread (not the whole 16 MiB JS backlog)', { timeout: 30000 }, async (t) => {
  const server = await listen(t, { maxMessageSize: 256 * MiB });
  const streams = [];
  server.on('messageStream', (socket, readable) => {
    streams.push(readable);
    // JS busy for a while (a slow handler, a GC pause): the engine goes on reading
    // only as far as its limit for a streaming socket.
    const until = Date.now() + 500;
    while (Date.now() < until);
  });
  // The sender in its own process: this one is blocked above.
  const total = 64 * MiB;
  const sender = spawn(process.execPath, ['-e', `
    const ws = new (require(${JSON.stringify(require.resolve('ws'))}))('ws://127.0.0.1:${server.port}');
    ws.on('open', () => ws.send(Buffer.alloc(${total}, 1)));
    ws.on('error', () => {});
  `], { stdio: 'ignore' });
  t.after(() => sender.kill('SIGKILL'));
  const readable = await waitUntil(() => streams[0], 5000, 'the message stream');
  // Nobody reads: what the Readable holds once things settle is what the engine
  // had read before it saw the stream full (its read-ahead), plus the high-water mark.
  await sleep(500);
  const held = readable.readableLength;
  t.diagnostic(`the Readable holds ${(held / MiB).toFixed(2)} MiB`);
  assert.ok(held < 4 * MiB, `the engine read ${held} bytes ahead`);
  let received = 0;
  readable.on('data', (chunk) => { received += chunk.length; });
  await once(readable, 'end', 20000);
  assert.equal(received, total);
});

test('a peer gone mid-message errors that stream; the messages before it and other connections are intact', async (t) => {
  const server = await listen(t);
  const events = [];
  server.on('messageStream', (socket, readable, binary) => {
    const parts = [];
    readable.on('data', (chunk) => parts.push(chunk));
    readable.on('end', () => events.push(['end', Buffer.concat(parts).toString(), binary]));
    readable.on('error', (err) => events.push(['error', err.code, err.closeCode, Buffer.concat(parts).length]));
  });
  const other = new WebSocket(`ws://127.0.0.1:${server.port}`);
  await opened(other);

  // A raw client: a whole text message, then a 1 MiB binary frame cut after 300 KiB.
  const raw = net.connect(server.port, '127.0.0.1');
  await once(raw, 'connect');
  raw.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
  await once(raw, 'data');
  const head = Buffer.from([0x82, 0xff, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0]); // 1 MiB, mask key 0
  raw.write(Buffer.concat([Buffer.from([0x81, 0x85, 0, 0, 0, 0]), Buffer.from('first'), head, Buffer.alloc(300 * 1024, 9)]));
  await waitUntil(() => events.length >= 1, 5000, 'the first message');
  await sleep(100);
  raw.destroy();
  await waitUntil(() => events.length >= 2, 5000, 'the cut message\'s error');
  assert.deepEqual(events[0], ['end', 'first', false]);
  assert.equal(events[1][0], 'error');
  assert.equal(events[1][1], 'ERR_LWS_MESSAGE_ABORTED');
  assert.equal(events[1][2], 1006);
  assert.ok(events[1][3] > 0 && events[1][3] <= 300 * 1024, 'what had arrived was delivered');

  other.send('still here');
  await waitUntil(() => events.length >= 3, 5000, 'the other connection\'s message');
  assert.deepEqual(events[2], ['end', 'still here', false]);
  other.close();
  await closed(other);
});

test('sendStream: one message as fragments; other sends throw until it ends; destroyed midway: 1011; a write after end only errors', async (t) => {
  const server = await listen(t);
  const connected = once(server, 'connection');
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}`);
  const messages = inbox(ws);
  await opened(ws);
  const [socket] = await connected;
  const out = server.sendStream(socket);
  assert.throws(() => server.send(socket, 'in between'), { code: 'ERR_LWS_SEND_STREAM_ACTIVE' });
  assert.throws(() => server.sendStream(socket), { code: 'ERR_LWS_SEND_STREAM_ACTIVE' });
  const total = 8 * MiB;
  await pipeline(async function* () {
    for (let sent = 0; sent < total; sent += pattern.length) yield pattern;
  }, out);
  server.send(socket, 'after');
  const first = await messages.next(10000);
  assert.equal(first.isBinary, true);
  assert.equal(first.data.length, total);
  assert.ok(first.data.subarray(0, pattern.length).equals(pattern) && first.data.subarray(total - pattern.length).equals(pattern));
  assert.equal((await messages.next()).data.toString(), 'after');

  const text = server.sendStream(socket, { binary: false });
  text.write('hel');
  text.end('lo');
  const hello = await messages.next();
  assert.deepEqual([hello.data.toString(), hello.isBinary], ['hello', false]);

  // Destroyed mid-message: the message cannot be finished, so the connection closes (1011).
  const cut = server.sendStream(socket);
  cut.write(Buffer.alloc(1000));
  await sleep(50);
  const serverSide = once(server, 'close');
  cut.destroy();
  const { code } = await closed(ws);
  assert.equal(code, 1011);
  // The client can read the close frame before the server's JS has the socket's 'close'.
  await serverSide;
  assert.throws(() => server.sendStream(socket), { code: 'ERR_LWS_SOCKET_CLOSED' });

  // A write after end() is only that write's error: the message as ended is sent
  // whole and the connection goes on.
  const second = once(server, 'connection');
  const ws2 = new WebSocket(`ws://127.0.0.1:${server.port}`);
  const messages2 = inbox(ws2);
  await opened(ws2);
  const [socket2] = await second;
  const ended = server.sendStream(socket2, { binary: false });
  ended.write('a');
  ended.end('b');
  const late = await within(2000, 'the write-after-end error', (resolve) => {
    ended.on('error', resolve);
    ended.write('late');
  });
  assert.equal(late.code, 'ERR_STREAM_WRITE_AFTER_END');
  assert.equal((await messages2.next()).data.toString(), 'ab');
  server.send(socket2, 'still open');
  assert.equal((await messages2.next()).data.toString(), 'still open');
  ws2.close();
  await closed(ws2);
});

test('a stream\'s writes wait for the engine\'s drain when the peer reads slowly', { timeout: 30000 }, async (t) => {
  const server = await listen(t);
  const connected = once(server, 'connection');
  const peer = net.connect(server.port, '127.0.0.1');
  await once(peer, 'connect');
  peer.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
  const [socket] = await connected;
  peer.pause(); // reads nothing: the engine's queue for it fills
  const out = server.sendStream(socket);
  let written = 0;
  const writing = (async () => {
    for (let i = 0; i < 256; i++) {
      if (!out.write(pattern)) await once(out, 'drain', 20000);
      written += pattern.length;
    }
    out.end();
  })();
  await sleep(700);
  const stalled = written;
  assert.ok(stalled < 64 * MiB, `the writer was held back (${stalled} bytes accepted of 64 MiB)`);
  assert.ok(server.getBufferedAmount(socket) > 0, 'the engine reports a backlog');
  let read = 0;
  peer.on('data', (d) => { read += d.length; });
  peer.resume();
  await writing;
  await once(out, 'finish', 20000);
  await waitUntil(() => read >= 64 * MiB, 20000, 'the peer to read everything');
  peer.destroy();
});

test('createWebSocketStream for an lws.Server socket: a ws client echoed through a pipeline', async (t) => {
  const server = await listen(t);
  server.on('connection', (socket) => {
    const duplex = server.createWebSocketStream(socket);
    pipeline(duplex, async function* (source) {
      for await (const chunk of source) yield Buffer.from(chunk.toString().toUpperCase());
    }, duplex).catch(() => {});
  });
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}`);
  const messages = inbox(ws);
  await opened(ws);
  ws.send('hello');
  assert.equal((await messages.next()).data.toString(), 'HELLO');
  ws.send(Buffer.alloc(300 * 1024, 97)); // larger than bufferSize: arrives in pieces
  let got = 0;
  while (got < 300 * 1024) got += (await messages.next()).data.length;
  assert.equal(got, 300 * 1024);
  ws.close(1000);
  assert.equal((await closed(ws)).code, 1000);
});

test('lws.Client gets messageStream too, and other sockets keep their plain \'message\'', async (t) => {
  const server = await listen(t);
  server.on('connection', (socket) => server.send(socket, Buffer.alloc(200 * 1024, 5), true));
  const plain = new WebSocket(`ws://127.0.0.1:${server.port}`);
  const plainBox = inbox(plain);
  const client = new lws.Client();
  t.after(() => new Promise((resolve) => client.close(resolve)));
  const streamed = within(5000, 'the client\'s stream', (resolve) => {
    client.on('messageStream', (socket, readable, binary) => {
      const parts = [];
      readable.on('data', (c) => parts.push(c)).on('end', () => resolve([Buffer.concat(parts), binary]));
    });
  });
  client.connect(`ws://127.0.0.1:${server.port}`);
  const [data, binary] = await streamed;
  assert.equal(binary, true);
  assert.ok(data.equals(Buffer.alloc(200 * 1024, 5)));
  assert.equal((await plainBox.next()).data.length, 200 * 1024);

  // A server with streams on: a socket no stream claims still gets large messages whole.
  const mixed = await listen(t);
  const whole = [];
  mixed.on('message', (socket, message) => whole.push(message.length));
  let first = true;
  mixed.on('connection', (socket) => {
    if (first) mixed.createWebSocketStream(socket).resume();
    first = false;
  });
  const a = new WebSocket(`ws://127.0.0.1:${mixed.port}`);
  await opened(a);
  const b = new WebSocket(`ws://127.0.0.1:${mixed.port}`);
  await opened(b);
  b.send(Buffer.alloc(500 * 1024));
  await waitUntil(() => whole.length === 1, 5000, 'the whole message');
  assert.deepEqual(whole, [500 * 1024]);
  a.terminate();
  b.terminate();
  plain.terminate();
});

test('streams leave no descriptors behind', async (t) => {
  const baseline = fdCount();
  const server = new lws.Server({ port: 0, host: '127.0.0.1' });
  await once(server, 'listening');
  server.on('messageStream', (socket, readable) => readable.destroy());
  server.on('connection', (socket) => server.sendStream(socket).end(Buffer.alloc(100 * 1024)));
  for (let i = 0; i < 20; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}`);
    await opened(ws);
    ws.send(Buffer.alloc(200 * 1024));
    await once(ws, 'message');
    ws.terminate();
  }
  await new Promise((resolve) => server.close(resolve));
  await waitUntil(() => fdCount() <= baseline, 5000, `descriptors back to ${baseline} (now ${fdCount()})`);
});
