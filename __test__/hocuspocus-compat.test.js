'use strict';
// Scenarios found running Yjs collaboration servers (@hocuspocus/server 3, y-websocket 2)
// and their Node providers on lws in place of ws. Each runs against ws and against lws
// and the transcripts must be equal.
//
// Hocuspocus's own test "does not crash when invalid opcode is sent" writes the two bytes
// 0x00 0x00 (an unmasked continuation frame with no message to continue) and expects the
// server's socket to error and close with 1002: ws names that error "invalid opcode 0",
// because it checks where a frame sits in its message before it checks the mask bit.

const assert = require('node:assert/strict');
const net = require('node:net');
const { test } = require('node:test');
const WS = require('ws');
const lws = require('..');
const { differential, badFrameScenario, frame } = require('./helpers/differential');
const { onUpgradeRequest, switchingProtocols } = require('./helpers/frames');

// ---- server side: which error a bad frame is reported as --------------------------------------

const OUT_OF_ORDER = [
  // The bytes of hocuspocus's test: unmasked, opcode 0, FIN clear, no payload.
  ['an unmasked continuation frame with no message (bytes 00 00)', Buffer.from([0x00, 0x00])],
  ['an unmasked continuation frame with no message, FIN set', frame(0, 'x', { mask: false })],
  ['an unmasked text frame inside a fragmented message', Buffer.concat([frame(1, 'a', { fin: false }), frame(1, 'b', { mask: false })])],
  // ws decides on a frame's first two bytes: it does not wait for the rest of the header.
  ['the first two bytes of a masked continuation frame with no message (80 80)', Buffer.from([0x80, 0x80])],
  ['the first two bytes of a masked ping of 126 bytes (89 fe)', Buffer.from([0x89, 0xfe])],
  ['an unmasked close frame with a 1-byte payload', Buffer.from([0x88, 0x01, 0x03])],
  ['an unmasked frame announcing 2^60 bytes', Buffer.from([0x82, 0x7f, 0x10, 0, 0, 0, 0, 0, 0, 0])],
];

for (const [name, bytes] of OUT_OF_ORDER) {
  differential(`60. protocol error reported as ws orders its checks: ${name}`, {
    modes: ['noServer'],
    scenario: badFrameScenario({}, bytes),
  });
}

// ---- client side: a server that sends masked frames out of order ------------------------------

/** A server frame, masked when `masked` (servers must not mask: the client errors). */
function serverFrame(opcode, payload, { fin = true, masked = false } = {}) {
  const data = Buffer.from(payload);
  const head = Buffer.from([(fin ? 0x80 : 0) | opcode, data.length | (masked ? 0x80 : 0)]);
  if (!masked) return Buffer.concat([head, data]);
  const key = Buffer.from([1, 2, 3, 4]);
  return Buffer.concat([head, key, data.map((b, i) => b ^ key[i & 3])]);
}

/** A loopback server that answers the handshake, then writes `bytes` and waits for the end. */
async function rawServer(bytes) {
  const server = net.createServer((socket) =>
    onUpgradeRequest(socket, (key) => {
      socket.write(switchingProtocols(key));
      socket.write(bytes);
    }),
  );
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** What a client sees: its events in order (error name, message and code; close code and reason). */
async function clientTranscript(WebSocket, bytes) {
  const server = await rawServer(bytes);
  const events = [];
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${server.address().port}/`);
    ws.on('open', () => events.push(['open']));
    ws.on('message', (data, isBinary) => events.push(['message', String(data), isBinary]));
    ws.on('error', (err) => events.push(['error', err.constructor.name, err.message, err.code]));
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no close within 5 s')), 5000);
      ws.on('close', (code, reason) => {
        clearTimeout(timer);
        events.push(['close', code, String(reason)]);
        resolve();
      });
    });
  } finally {
    server.close();
  }
  return events;
}

const SERVER_OUT_OF_ORDER = [
  ['a masked continuation frame with no message', serverFrame(0, 'x', { masked: true })],
  ['a masked text frame inside a fragmented message', Buffer.concat([serverFrame(1, 'a', { fin: false }), serverFrame(1, 'b', { masked: true })])],
  ['a masked frame in sequence (the mask error itself)', serverFrame(1, 'b', { masked: true })],
  ['the first two bytes of an unmasked continuation frame with no message (80 7f)', Buffer.from([0x80, 0x7f])],
  ['a masked close frame with a 1-byte payload', serverFrame(8, Buffer.from([3]), { masked: true })],
  ['a masked frame announcing 2^60 bytes', Buffer.from([0x82, 0xff, 0x10, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4])],
];

for (const [name, bytes] of SERVER_OUT_OF_ORDER) {
  test(`61. client: protocol error reported as ws orders its checks: ${name}`, async () => {
    const reference = await clientTranscript(WS.WebSocket, bytes);
    assert.ok(reference.some((e) => e[0] === 'error'), JSON.stringify(reference));
    const got = await clientTranscript(lws.WebSocket, bytes);
    assert.deepEqual(got, reference);
  });
}
