'use strict';
// websocket-stream (a Node stream over ws, client and server) against ws and
// against lws. Its writable side sends each chunk with `socket.send(chunk, next)`
// and takes the send callback as its backpressure: the next chunk goes when ws's
// socket has taken the last one. createWebSocketStream's writable side does the
// same. With ws, a reader that stops reading stops such a writer once the
// kernel's buffers are full (a few MiB on loopback); lws ran every callback on
// the next tick and its engine's report of the backlog could not come in while
// the writer kept the loop busy: the whole source went into the engine's queue.
//
// Each scenario runs with ws and with lws as the writer (server and client; plain,
// and with permessage-deflate on chunks it cannot shrink), the reader always a
// real ws that pauses, then resumes; the transcripts must be equal.
//
// Run: node --test __test__/websocket-stream-compat.test.js

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const path = require('node:path');
const { test } = require('node:test');
const WS = require('ws');

const lws = require(path.join(__dirname, '..'));
const { ENGINE_OPTIONS } = require('./helpers/engine');

const IMPLEMENTATIONS = {
  ws: { WebSocket: WS, WebSocketServer: WS.WebSocketServer, createWebSocketStream: WS.createWebSocketStream, options: {} },
  lws: { WebSocket: lws.WebSocket, WebSocketServer: lws.WebSocketServer, createWebSocketStream: lws.createWebSocketStream, options: ENGINE_OPTIONS },
};

const CHUNK = 64 * 1024;
const CHUNKS = 512; // 32 MiB: far more than loopback's socket buffers hold

/** Chunk `i`: its own byte value, so that the reader's digest checks the order. */
const chunkOf = (i) => Buffer.alloc(CHUNK, i % 251);

/** Chunk `i` that deflate cannot shrink (an LCG's bytes, seeded with `i`): compressed sends fill the kernel too. */
function noiseOf(i) {
  const chunk = Buffer.allocUnsafe(CHUNK);
  let x = (i + 1) * 2654435761 >>> 0;
  for (let j = 0; j < CHUNK; j += 4) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    chunk.writeUInt32LE(x, j);
  }
  return chunk;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `value()` has not changed for `quietMs`, or `done()` is true, or after `ms`. */
async function untilSteady(value, done, { quietMs = 400, ms = 10000 } = {}) {
  const deadline = Date.now() + ms;
  let last = value();
  let since = Date.now();
  while (Date.now() < deadline && !done()) {
    await sleep(10);
    const now = value();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      return;
    }
  }
}

/** Resolves when `done()` is true, or after `ms` (the transcript then shows what is missing). */
async function until(done, ms = 10000) {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await sleep(10);
}

/**
 * The writer's side: websocket-stream's socketWriteNode (one send per chunk, the
 * next from its callback), or createWebSocketStream written until write() says
 * false, then on 'drain'. Calls `onAck` per chunk taken; returns `end()`.
 */
function startWriter(impl, style, ws, log, onAck) {
  let next = 0;
  if (style === 'send' || style === 'send-deflate') {
    const make = style === 'send' ? chunkOf : noiseOf;
    const write = () => {
      if (next === CHUNKS) return;
      ws.send(make(next++), (err) => {
        if (err) return log.push(['send callback error', err.message]);
        onAck();
        write();
      });
    };
    write();
    return () => ws.close(1000, 'done');
  }
  const duplex = impl.createWebSocketStream(ws);
  duplex.on('error', (err) => log.push(['stream error', err.message]));
  duplex.on('finish', () => log.push(['stream finish']));
  duplex.on('close', () => log.push(['stream close']));
  duplex.resume(); // its readable side: nothing comes, but 'end' must be read for 'close'
  const write = () => {
    while (next < CHUNKS) if (!duplex.write(chunkOf(next++), () => onAck())) return;
  };
  duplex.on('drain', write);
  write();
  return () => duplex.end();
}

/**
 * `writerImpl` writes CHUNKS messages as `role` (the reader, a ws WebSocket, is
 * the other end), from the moment its WebSocket is handed out (a server's
 * 'connection', as websocket-stream's server pipes there; a client's 'open'),
 * to a reader that pauses at its own. The reader resumes once the writer has
 * stalled (or taken everything), then the writer ends the connection.
 */
async function pumpToPausedReader(writerImpl, role, style) {
  const log = [];
  const reader = [];
  let acked = 0;
  let received = 0;
  const digest = crypto.createHash('sha1');
  let readerSocket = null;
  let writerSocket = null;
  let end = null;
  const closes = { writer: null, reader: null };

  const onReaderOpen = (ws) => {
    readerSocket = ws;
    ws.pause();
    ws.on('message', (data) => {
      received++;
      digest.update(data);
    });
    ws.on('close', (code, reason) => {
      closes.reader = [code, reason.toString()];
    });
  };
  const onWriterOpen = (ws) => {
    writerSocket = ws;
    ws.on('close', (code, reason) => {
      closes.writer = [code, reason.toString()];
    });
    ws.on('error', (err) => log.push(['writer error', err.message]));
    end = startWriter(writerImpl, style, ws, log, () => acked++);
  };

  const serverImpl = role === 'server' ? writerImpl : IMPLEMENTATIONS.ws;
  const clientImpl = role === 'client' ? writerImpl : IMPLEMENTATIONS.ws;
  const perMessageDeflate = style.includes('deflate');
  const wss = await new Promise((resolve) => {
    const server = new serverImpl.WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate, ...serverImpl.options }, () => resolve(server));
  });
  wss.on('connection', role === 'server' ? onWriterOpen : onReaderOpen);
  const client = new clientImpl.WebSocket(`ws://127.0.0.1:${wss.address().port}`, { perMessageDeflate });
  client.on('open', () => (role === 'client' ? onWriterOpen : onReaderOpen)(client));

  await until(() => readerSocket !== null && writerSocket !== null);
  await untilSteady(() => acked, () => acked === CHUNKS);
  // ws: the kernel's buffers (a few MiB on loopback) fill up and the writer waits for them.
  log.push(['taken while the reader was paused: under 16 MiB', acked * CHUNK < 16 * 1024 * 1024]);
  log.push(['bufferedAmount then: under 16 MiB', writerSocket.bufferedAmount < 16 * 1024 * 1024]);

  readerSocket.resume();
  await until(() => acked === CHUNKS && received === CHUNKS);
  reader.push(['received', received, received === CHUNKS ? digest.digest('hex').slice(0, 16) : 'incomplete']);
  log.push(['every chunk taken', acked, writerSocket.extensions]);
  end();
  await until(() => closes.writer !== null && closes.reader !== null && (style !== 'stream' || log.some(([e]) => e === 'stream close')));
  log.push(['close', closes.writer]);
  reader.push(['close', closes.reader]);
  await new Promise((resolve) => wss.close(resolve));
  return { writer: log, reader };
}

for (const role of ['server', 'client']) {
  for (const style of ['send', 'stream', 'send-deflate']) {
    const how = {
      send: 'send(chunk, next) as websocket-stream writes',
      stream: "createWebSocketStream's write()/'drain'",
      'send-deflate': 'send(chunk, next) with permessage-deflate',
    }[style];
    test(`${role} writer, ${how}: a reader that stops reading stops the writer, then gets everything in order`, { timeout: 60000 }, async () => {
      const expected = await pumpToPausedReader(IMPLEMENTATIONS.ws, role, style);
      const actual = await pumpToPausedReader(IMPLEMENTATIONS.lws, role, style);
      assert.deepStrictEqual(actual, expected);
    });
  }
}

/**
 * `closing` ('close' or 'terminate') called in the tick that sent two 256 KiB
 * messages with callbacks (more than the kernel takes in one turn, little
 * enough for loopback to take at once): the callbacks' errors and both closes.
 */
async function sendThenEnd(serverImpl, closing) {
  const server = [];
  const client = [];
  const wss = await new Promise((resolve) => {
    const s = new serverImpl.WebSocketServer({ port: 0, host: '127.0.0.1', ...serverImpl.options }, () => resolve(s));
  });
  let received = 0;
  const closed = { server: false, client: false };
  wss.on('connection', (ws) => {
    const chunk = Buffer.alloc(256 * 1024, 7);
    ws.send(chunk, (err) => server.push(['callback 1', err ? err.message : null]));
    ws.send(chunk, (err) => server.push(['callback 2', err ? err.message : null]));
    if (closing === 'close') ws.close(1000, 'bye');
    else ws.terminate();
    ws.on('close', (code) => {
      server.push(['close', code]);
      closed.server = true;
    });
  });
  const ws = new WS(`ws://127.0.0.1:${wss.address().port}`);
  ws.on('message', () => received++);
  ws.on('close', (code) => {
    client.push(['close', code, received]);
    closed.client = true;
  });
  await until(() => closed.server && closed.client);
  await new Promise((resolve) => wss.close(resolve));
  return { server, client };
}

for (const closing of ['close', 'terminate']) {
  test(`${closing}() in the tick of sends past what the kernel takes in one turn: their callbacks as ws's`, async () => {
    const expected = await sendThenEnd(IMPLEMENTATIONS.ws, closing);
    const actual = await sendThenEnd(IMPLEMENTATIONS.lws, closing);
    assert.deepStrictEqual(actual, expected);
  });
}
