'use strict';
// lws/walve under bad input and misuse: a peer that leaves mid-frame, frames over
// the limit or against the protocol, an Outgoing that ends short or is written
// after its end, raw bytes written to a socket, frames walve 2 would send but the
// protocol forbids, malformed upgrades. Each gets a clear error or close code, the
// server goes on serving, and descriptors come back to their baseline.
//
// Run: node --test --test-concurrency=1 __test__/walve-bad-input.test.js

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const stream = require('node:stream');
const walve = require('lws/walve');
const { frame, decodeFrames, rawUpgrade } = require('./helpers/walve');
const { waitUntil, sleep, closeHttp } = require('./helpers/wait');

const openFds = () => fs.readdirSync('/proc/self/fd').length;

/** An http server with a walve server; `onConnect(socket)`; resolves { port, sockets, close }. */
async function serve(onConnect, options) {
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const wserver = new walve.Server(options).listen(server);
  const sockets = [];
  wserver.on('connect', (socket) => {
    const record = { socket, ended: false, closed: false };
    sockets.push(record);
    socket.on('end', () => { record.ended = true; });
    socket.on('close', () => { record.closed = true; });
    onConnect(socket);
  });
  return { port: server.address().port, http: server, wserver, sockets, close: () => closeHttp(server) };
}

/** Warnings emitted while `fn` runs (process.emitWarning: what lws/walve reports when nobody listens). */
async function warningsDuring(fn) {
  const warnings = [];
  const onWarning = (w) => warnings.push(w);
  process.on('warning', onWarning);
  try {
    await fn();
    await sleep(20);
  } finally {
    process.removeListener('warning', onWarning);
  }
  return warnings;
}

const baseline = openFds();

test('a peer that leaves mid-frame: the Incoming is destroyed (an error for those who listen), the socket ends, nothing crashes', { timeout: 15000 }, async () => {
  const seen = [];
  const s = await serve((socket) => {
    socket.on('incoming', (incoming) => {
      const chunks = [];
      incoming.on('data', (c) => chunks.push(c));
      incoming.on('end', () => seen.push('end'));
      incoming.on('close', () => seen.push(['close', Buffer.concat(chunks).length, incoming.destroyed]));
      if (seen.length === 0) incoming.on('error', (err) => seen.push(err.code));
      // The echo of opt/echo: its Outgoing is left waiting too.
      incoming.pipe(new walve.Outgoing({ header: { length: incoming.header.length } })).pipe(socket, { end: false });
    });
  });
  for (const listening of [true, false]) {
    seen.length = listening ? 0 : 1;
    const { raw } = await rawUpgrade(s.port);
    const whole = frame(0x2, Buffer.alloc(1000, 7));
    raw.write(whole.subarray(0, 108)); // the head and 100 of 1000 bytes
    await waitUntil(() => s.sockets.length > 0 && raw.buffer.length >= 104, 2000, 'the first 100 bytes echoed');
    raw.destroy();
    await waitUntil(() => s.sockets.at(-1).closed, 2000, "the socket's close");
    assert.equal(s.sockets.at(-1).ended, true, "'end' when the TCP connection closes");
    await waitUntil(() => seen.some((e) => Array.isArray(e)), 2000, "the incoming's close");
    if (listening) assert.deepEqual(seen, ['LWS_ERR_WALVE_FRAME_ABORTED', ['close', 100, true]]);
    else assert.deepEqual(seen.slice(1), [['close', 100, true]], 'destroyed without an error nobody would catch');
  }
  await s.close();
});

test('frames over 2^32 - 1 bytes: 1009 as soon as the header says so; protocol errors: their close codes', { timeout: 15000 }, async () => {
  const incoming = [];
  const s = await serve((socket) => socket.on('incoming', (i) => {
    const seen = { opcode: i.header.opcode, bytes: 0, ended: false };
    incoming.push(seen);
    i.on('data', (c) => { seen.bytes += c.length; });
    i.on('end', () => { seen.ended = true; });
  }));
  const huge = Buffer.from([0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4]); // 2^32 bytes announced
  const cases = [
    [huge, 1009],
    [frame(0x1, Buffer.from([0xc3, 0x28])), 1007], // invalid UTF-8
    [frame(0x1, 'unmasked', { mask: false }), 1002],
    [frame(0x3, 'x'), 1002], // a reserved opcode (walve 2: an 'error' on the socket, and it goes on)
    [frame(0x0, 'x'), 1002], // a continuation with no message
    [Buffer.from([0xc1, 0x80, 1, 2, 3, 4]), 1002], // RSV1 with nothing negotiated
  ];
  for (const [bytes, code] of cases) {
    const { raw } = await rawUpgrade(s.port);
    raw.write(bytes);
    const { frames, ended } = await raw.untilEnd(2000);
    assert.equal(ended, true);
    assert.equal(frames[0].opcode, 8);
    assert.equal(frames[0].code, code);
  }
  await waitUntil(() => s.sockets.every((r) => r.closed), 2000, 'every socket closed');
  // Each was refused at its header, except the text frame, announced before its bad bytes came: none of them reached JS.
  assert.deepEqual(incoming, [{ opcode: 1, bytes: 0, ended: false }]);
  await s.close();
});

test('an Outgoing that ends short: not yet sent, it is dropped; under way, the connection ends (its frame cannot be finished)', { timeout: 15000 }, async () => {
  const errors = [];
  const s = await serve((socket) => {
    const send = (header, data, end = true) => {
      const outgoing = new walve.Outgoing({ header });
      outgoing.on('error', (err) => errors.push(err.message));
      outgoing.pipe(socket, { end: false });
      if (end) outgoing.end(data);
      else outgoing.write(data);
      return outgoing;
    };
    const first = send({ length: 6 }, 'abc', false); // under way, waits for 3 more bytes
    send({ length: 10 }, 'short'); // queued behind it, ends 5 bytes short: dropped
    send({ length: 2 }, 'ok'); // queued, complete
    setTimeout(() => first.end('def'), 50);
    setTimeout(() => send({ length: 10 }, 'cut'), 100); // under way and short: the connection ends
  });
  const { raw } = await rawUpgrade(s.port);
  const { frames, ended } = await raw.untilEnd(2000);
  assert.equal(ended, true);
  assert.deepEqual(frames.map((f) => f.text ?? f.partial), ['abcdef', 'ok', '81' + '0a' + Buffer.from('cut').toString('hex')]);
  assert.equal(errors.length, 2);
  assert.match(errors[0], /ended after 5 of the 10 bytes.*not sent/);
  assert.match(errors[1], /ended after 3 of the 10 bytes.*connection was ended/);
  await waitUntil(() => s.sockets[0].closed, 2000, 'the socket closed');
  await s.close();
});

test('misuse walve 2 lets pass: a clear error on the Outgoing when listened for, else a warning; the connection goes on', { timeout: 15000 }, async () => {
  let socket;
  const s = await serve((sk) => { socket = sk; });
  const { raw } = await rawUpgrade(s.port);
  await waitUntil(() => socket, 2000, 'connect');
  const errorsOf = (header, data) => {
    const outgoing = new walve.Outgoing({ header });
    const errors = [];
    outgoing.on('error', (err) => errors.push(err.code + ': ' + err.message));
    outgoing.pipe(socket, { end: false });
    outgoing.end(data);
    return errors;
  };
  const reserved = errorsOf({ opcode: 0x3, length: 1 }, 'x');
  const continuation = errorsOf({ opcode: 0x0, length: 1 }, 'x');
  const longPing = errorsOf({ opcode: 0x9, length: 126 }, Buffer.alloc(126));
  const overrun = errorsOf({ length: 2 }, 'too long');
  await sleep(50);
  assert.match(reserved[0], /^LWS_ERR_WALVE_FRAME: lws\/walve: opcode 3 is reserved/);
  assert.match(continuation[0], /continuation frame \(opcode 0\) needs a message in progress/);
  assert.match(longPing[0], /control frame \(opcode 9\) must be final and at most 125 bytes/);
  assert.match(overrun[0], /6 bytes written past header.length \(2\) were dropped/);
  // Nobody listening: warnings, and raw bytes written to the socket are not sent.
  const warnings = await warningsDuring(() => {
    socket.write(Buffer.from([0x81, 0x01, 0x41]));
    const outgoing = new walve.Outgoing({ header: { opcode: 0x5 } });
    outgoing.pipe(socket, { end: false });
    outgoing.end('');
  });
  assert.deepEqual(warnings.map((w) => w.code), ['LWS_ERR_WALVE_RAW_WRITE', 'LWS_ERR_WALVE_FRAME']);
  // Written after its end: Node's stream error on the Outgoing (walve 2's too); the socket is unaffected.
  const late = new walve.Outgoing({ header: { length: 4 } });
  const lateErrors = [];
  late.on('error', (err) => lateErrors.push(err.code));
  late.pipe(socket, { end: false });
  late.end('late');
  late.write('more');
  errorsOf({ length: 5 }, 'after');
  const got = await raw.frames(2 + 2 + 6 + 7, 2000);
  assert.deepEqual(got.map((f) => f.text), ['to', 'late', 'after']);
  assert.deepEqual(lateErrors, ['ERR_STREAM_WRITE_AFTER_END']);
  raw.destroy();
  await waitUntil(() => s.sockets[0].closed, 2000, 'the socket closed');
  await s.close();
});

test('the engine keeps its pong and its close reply out of a frame under way: they follow its last byte', { timeout: 15000 }, async () => {
  let outgoing;
  const s = await serve((socket) => {
    outgoing = new walve.Outgoing({ header: { opcode: 0x2, length: 10 } });
    outgoing.pipe(socket, { end: false });
    outgoing.write('12345');
  });
  const { raw } = await rawUpgrade(s.port);
  await raw.until(() => raw.buffer.length >= 7, 2000);
  raw.write(frame(0x9, 'ping'));
  raw.write(frame(0x8, Buffer.from([0x03, 0xe8])));
  await sleep(100);
  assert.equal(raw.buffer.length, 7, 'nothing while the frame waits for its payload');
  outgoing.end('67890');
  const { frames, ended } = await raw.untilEnd(2000);
  assert.deepEqual(frames.map((f) => [f.opcode, f.hex ?? f.code]), [[2, Buffer.from('1234567890').toString('hex')], [0xa, Buffer.from('ping').toString('hex')], [8, 1000]]);
  assert.equal(ended, true);
  await s.close();
});

test('socket.end() sends what was written, then closes the TCP connection (walve 2 leaves it open; its README says it closes)', { timeout: 15000 }, async () => {
  const s = await serve((socket) => {
    const outgoing = new walve.Outgoing({ header: { length: 3 } });
    outgoing.pipe(socket); // no { end: false }: the socket ends after this frame
    outgoing.end('bye');
  });
  const { raw } = await rawUpgrade(s.port);
  const { frames, ended } = await raw.untilEnd(2000);
  assert.deepEqual(frames.map((f) => f.text), ['bye']);
  assert.equal(ended, true);
  await waitUntil(() => s.sockets[0].ended && s.sockets[0].closed, 2000, "'end' and 'close'");
  await s.close();
});

test('a slow reader holds the peer back (the engine stops reading), and memory stays bounded', { timeout: 30000 }, async () => {
  let received = 0;
  let peak = 0;
  const s = await serve((socket) => {
    socket.on('incoming', (incoming) => {
      const slow = new stream.Writable({
        highWaterMark: 1024,
        write(chunk, enc, cb) { // 16 MB/s
          received += chunk.length;
          peak = Math.max(peak, incoming.readableLength);
          setTimeout(cb, Math.ceil(chunk.length / 16384));
        },
      });
      incoming.pipe(slow);
    });
  });
  const { raw } = await rawUpgrade(s.port);
  try {
    const size = 64 * 1024 * 1024;
    raw.write(frame(0x2, Buffer.alloc(size, 5)));
    await sleep(500);
    assert.ok(raw.socket.writableLength > 0, 'TCP pushes back on the client: its data waits in its own queue');
    assert.ok(received < size / 2);
    await waitUntil(() => received === size, 20000, 'every byte');
    // The engine reads ahead of the reader only until JS's pause reaches it (and at most maxBacklog beyond).
    assert.ok(peak < 16 * 1024 * 1024, `the Incoming's buffer stayed under 16 MiB for a 64 MiB frame (${peak} bytes at most)`);
  } finally {
    raw.destroy();
    await s.close();
  }
});

test('malformed upgrades: refused (400, 426) with an error for the server\'s listeners; a Socket cannot be made by hand', { timeout: 15000 }, async () => {
  const errors = [];
  const s = await serve(() => {});
  s.wserver.on('error', (err) => errors.push(err.code));
  const answer = async (lines) => {
    const c = net.connect(s.port, '127.0.0.1');
    c.write(`GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${lines}\r\n`);
    let text = '';
    c.on('data', (d) => { text += d; });
    await new Promise((resolve) => c.on('close', resolve));
    return text.split('\r\n')[0];
  };
  assert.equal(await answer('Sec-WebSocket-Key: 1234\r\nSec-WebSocket-Version: 13\r\n'), 'HTTP/1.1 400 Bad Request');
  assert.equal(await answer('Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 12\r\n'), 'HTTP/1.1 426 Upgrade Required');
  assert.equal(await answer(''), 'HTTP/1.1 426 Upgrade Required');
  assert.deepEqual(errors, ['LWS_ERR_WALVE_UPGRADE', 'LWS_ERR_WALVE_UPGRADE', 'LWS_ERR_WALVE_UPGRADE']);
  assert.throws(() => new walve.Socket(new net.Socket()), { name: 'TypeError', message: /comes from the server's 'connect' event/ });
  assert.throws(() => new walve.Incoming(), { name: 'TypeError', message: /the engine parses the frames/ });
  assert.throws(() => new walve.Server({ url: 5 }), TypeError);
  await s.close();
});

test('descriptors are back to their baseline (plus the one shared engine)', { timeout: 15000 }, async () => {
  await waitUntil(() => openFds() <= baseline + 4, 5000, `descriptors back to ${baseline} (+4: the shared engine's epoll and wake-ups)`);
});
