'use strict';
// Colyseus (@colyseus/ws-transport on the server, @colyseus/sdk's ws client)
// against ws and against lws. Its SDK builds every message in one reused
// `sharedBuffer` and sends a `subarray` of it, then builds the next message in
// the same bytes. ws takes that view without a copy and reads it again later
// when it compresses (permessage-deflate, zlib works asynchronously) or when
// the socket is backed up: with compression on, Colyseus's messages reach the
// server overwritten by the ones built after them (a room sees the wrong
// message types). lws takes a send's bytes when
// `send()` is called, so each message goes out as it was then: a difference
// kept on purpose (README, "Differences that remain").
//
// Without compression and with a socket that takes the bytes at once, ws sends
// them at the call too: there the transcripts must be equal. With compression,
// lws's transcript must be the messages as built.
//
// Run: node --test __test__/colyseus-compat.test.js

const assert = require('node:assert/strict');
const path = require('node:path');
const { test } = require('node:test');
const WS = require('ws');

const lws = require(path.join(__dirname, '..'));
const { within } = require('./helpers/wait');

const IMPLEMENTATIONS = { ws: WS, lws };
const WORDS = ['aaaaa', 'bbbbb', 'ccccc'];

/** Sends WORDS as Colyseus's SDK does: each built in one shared buffer, sent as a view of it, the buffer reused right away. */
function sendFromSharedBuffer(socket) {
  const sharedBuffer = new Uint8Array(64);
  for (const word of WORDS) {
    Buffer.from(sharedBuffer.buffer).write(word);
    socket.send(sharedBuffer.subarray(0, word.length));
  }
  sharedBuffer.fill('z'.charCodeAt(0));
}

/**
 * The `sender` side ('client' or 'server') uses `impl`, the other side is ws;
 * resolves with what the receiving side got, in order.
 */
async function run(impl, sender, compress) {
  const ServerImpl = sender === 'server' ? impl : WS;
  const ClientImpl = sender === 'client' ? impl : WS;
  const perMessageDeflate = compress ? { threshold: 0 } : false;
  const server = new ServerImpl.WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate });
  await within(5000, 'listening', (done) => server.on('listening', done));
  const received = [];
  try {
    await within(5000, 'three messages', (done) => {
      const record = (data, isBinary) => {
        received.push([String(data), isBinary]);
        if (received.length === WORDS.length) done();
      };
      server.on('connection', (socket) => {
        socket.on('message', record);
        if (sender === 'server') sendFromSharedBuffer(socket);
      });
      const client = new ClientImpl.WebSocket(`ws://127.0.0.1:${server.address().port}`, { perMessageDeflate });
      client.on('message', record);
      client.on('open', () => {
        if (sender === 'client') sendFromSharedBuffer(client);
      });
    });
  } finally {
    for (const socket of server.clients) socket.terminate();
    await new Promise((resolve) => server.close(resolve));
  }
  return received;
}

const AS_BUILT = WORDS.map((word) => [word, true]);

for (const sender of ['client', 'server']) {
  test(`a ${sender} reusing its send buffer, no compression: the peer gets the messages as ws sends them`, async () => {
    const reference = await run(IMPLEMENTATIONS.ws, sender, false);
    assert.deepEqual(reference, AS_BUILT);
    assert.deepEqual(await run(IMPLEMENTATIONS.lws, sender, false), reference);
  });

  test(`a ${sender} reusing its send buffer, permessage-deflate: lws sends each message as it was at send()`, async () => {
    assert.deepEqual(await run(IMPLEMENTATIONS.lws, sender, true), AS_BUILT);
  });
}
