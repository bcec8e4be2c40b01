'use strict';
// What Chrome DevTools Protocol clients built on ws rely on, run with ws and with lws
// and compared. puppeteer-core's NodeWebSocketTransport opens its connection with
// `allowSynchronousEvents: false` (with followRedirects, perMessageDeflate: false and a
// 256 MiB maxPayload), so that every CDP message is handled in a turn of the event loop
// of its own: what a message's handler schedules (promise callbacks, process.nextTick,
// setImmediate) runs before the next message. chrome-remote-interface's suite passes
// the same with ws and lws (see CHANGELOG, session 22).
//
// Each scenario has a peer write several frames in one TCP segment, and the listeners
// record their events and the callbacks each one scheduled: the order must be ws's.
//
// Run: node --test __test__/cdp-clients-compat.test.js
// Self-check (ws against ws): LWS_CLIENT_CANDIDATE=ws node --test __test__/cdp-clients-compat.test.js

const assert = require('node:assert/strict');
const net = require('node:net');
const { test } = require('node:test');
const WS = require('ws');
const lws = require('..');
const { clientDifferential } = require('./helpers/client-differential');
const candidate = require('./helpers/client-candidate');
const { frame } = require('./helpers/frames');
const { withTimeout } = require('./helpers/wait');

const serverFrame = (opcode, payload) => frame(opcode, payload, { mask: false });
const clientFrame = (opcode, payload) => frame(opcode, payload, { mask: true });

/** Text, a ping and a pong between them: what comes in one segment (the close frame or FIN follows). */
const BURST = [[1, 'a'], [1, 'b'], [9, 'p'], [1, 'c'], [10, 'q'], [1, 'd']];

/**
 * Logs each event of `ws` and, after it, the callbacks its listener scheduled
 * (nextTick, a promise, setImmediate), so the log shows what ran between events.
 */
function recordTurns(ws, log) {
  const mark = (what) => {
    log(what);
    process.nextTick(() => log(`tick<${what}>`));
    Promise.resolve().then(() => log(`micro<${what}>`));
    setImmediate(() => log(`immediate<${what}>`));
  };
  ws.on('message', (data) => mark(`message ${data} (${ws.readyState})`));
  ws.on('ping', (data) => mark(`ping ${data}`));
  ws.on('pong', (data) => mark(`pong ${data}`));
  ws.on('close', (code) => mark(`close ${code}`));
}

for (const allowSynchronousEvents of [false, undefined, true, 0]) {
  for (const ending of ['close frame', 'FIN']) {
    // A FIN read with the data is reported as soon as Node reads it (ws) or the engine does
    // (lws): readyState would turn CLOSING a turn earlier or later; the FIN comes later here.
    clientDifferential(`client, allowSynchronousEvents: ${allowSynchronousEvents}: messages, pings and pongs in one segment, then a ${ending}`, async (run) => {
      const raw = await run.rawServer(async (peer) => {
        peer.switchProtocols();
        // After the 101 has been read: the burst is one segment of its own.
        await new Promise((resolve) => setTimeout(resolve, 50));
        const frames = BURST.map(([opcode, payload]) => serverFrame(opcode, payload));
        if (ending === 'FIN') {
          peer.write(Buffer.concat(frames));
          setTimeout(() => peer.socket.end(), 100);
        } else {
          peer.write(Buffer.concat([...frames, serverFrame(8, Buffer.from([0x03, 0xe8]))]));
        }
      }, { logHead: false });
      const options = { perMessageDeflate: false, followRedirects: true, maxPayload: 256 * 1024 * 1024 };
      if (allowSynchronousEvents !== undefined) options.allowSynchronousEvents = allowSynchronousEvents;
      const client = run.client(raw.url('/'), [], options, { actor: 'events' });
      recordTurns(client, (what) => run.log('turns', what));
      if (!(await run.opened(client))) return;
      await run.closed(client);
      await new Promise((resolve) => setImmediate(resolve));
    });
  }
}

// ---- the server side: WebSocketServer's allowSynchronousEvents -----------------------

/**
 * A raw client writes a burst of masked frames in one segment to a WebSocketServer of
 * `impl` made with `options`; returns the server-side log (bounded: 5 s).
 */
async function serverTranscript(impl, options, ending) {
  const log = [];
  const wss = new impl.WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  await new Promise((resolve) => wss.once('listening', resolve));
  const socket = net.connect(wss.address().port, '127.0.0.1');
  socket.on('error', () => {});
  try {
    const closed = new Promise((resolve) => {
      wss.on('connection', (ws) => {
        recordTurns(ws, (what) => log.push(what));
        ws.on('close', () => setImmediate(resolve));
      });
    });
    socket.write(
      'GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
      + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await withTimeout(new Promise((resolve) => socket.once('data', resolve)), 5000, '101');
    await new Promise((resolve) => setTimeout(resolve, 30));
    const frames = BURST.map(([opcode, payload]) => clientFrame(opcode, payload));
    if (ending === 'FIN') {
      // Later than the burst, as on the client side: when a FIN read with it counts is a race.
      socket.write(Buffer.concat(frames));
      setTimeout(() => socket.end(), 100);
    } else {
      socket.write(Buffer.concat([...frames, clientFrame(8, Buffer.from([0x03, 0xe8]))]));
    }
    await withTimeout(closed, 5000, 'server-side close');
  } catch (err) {
    log.push(`harness: ${err.message}`);
  } finally {
    socket.destroy();
    for (const ws of wss.clients) ws.terminate();
    await new Promise((resolve) => wss.close(() => resolve()));
  }
  return log;
}

const SERVER_CANDIDATE = candidate.isReference ? WS : lws;

for (const allowSynchronousEvents of [false, true]) {
  for (const ending of ['close frame', 'FIN']) {
    test(`server, allowSynchronousEvents: ${allowSynchronousEvents}: messages, pings and pongs in one segment, then a ${ending}`, async () => {
      const reference = await serverTranscript(WS, { allowSynchronousEvents }, ending);
      assert.ok(reference.every((entry) => !entry.startsWith('harness')), JSON.stringify(reference));
      assert.deepStrictEqual(await serverTranscript(SERVER_CANDIDATE, { allowSynchronousEvents }, ending), reference);
    });
  }
}
