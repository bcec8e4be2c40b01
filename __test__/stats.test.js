'use strict';
// server.stats(): counters checked against a scripted load with exact counts
// (messages and bytes both ways, refusals by status, close codes, protocol
// errors, handshake timeouts), and the metrics example's Prometheus output.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const http = require('node:http');
const WebSocket = require('ws');
const { Server } = require('..');
const { within, waitUntil } = require('./helpers/wait');
const { frame } = require('./helpers/frames');
const { ENGINE_OPTIONS } = require('./helpers/engine');
const { defaultThreads } = require('../lib/core/options');

/** Sends `request` on a raw socket and resolves with everything the server wrote. */
function rawExchange(port, request) {
  return within(5000, 'a raw answer', (done) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    let answer = '';
    socket.on('data', (d) => { answer += d.toString('latin1'); });
    socket.on('close', () => done(answer));
    socket.on('error', () => {});
  });
}

test('the default threads fits the machine: 0 on one core, then one per other core, up to 3', () => {
  assert.deepEqual([1, 2, 3, 4, 8, 64].map((cores) => defaultThreads(cores)), [0, 1, 2, 3, 3, 3]);
  assert.equal(defaultThreads(), defaultThreads(require('node:os').availableParallelism()));
});

test('stats() counts a scripted load exactly', async (t) => {
  const server = new Server({ port: 0, host: '127.0.0.1', handshakeTimeout: 300, ...ENGINE_OPTIONS });
  t.after(() => new Promise((resolve) => server.close(resolve)));
  await within(5000, 'listening', (done) => server.once('listening', done));
  server.on('upgrade', (socket, headers, request) => (request.url === '/forbidden' ? 403 : undefined));
  server.on('message', (socket, message, binary) => server.send(socket, message, binary));
  const port = server.port;
  const fresh = server.stats();
  assert.deepEqual(
    [fresh.connections, fresh.accepted, fresh.opened, fresh.messagesIn, fresh.messagesOut, fresh.threads],
    [0, 0, 0, 0, 0, ENGINE_OPTIONS.threads ?? defaultThreads()],
  );

  // Five clients, three 10-byte messages each, echoed; then each closes with 1000.
  const clients = await Promise.all(Array.from({ length: 5 }, () => within(5000, 'open', (done, fail) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    ws.on('open', () => done(ws));
    ws.on('error', fail);
  })));
  // (a client's 'open' can come before the server's engine event reaches JS)
  await waitUntil(() => server.stats().connections === 5, 5000, 'five connections');
  await Promise.all(clients.map((ws) => within(5000, 'echoes', (done) => {
    let n = 0;
    ws.on('message', () => { if (++n === 3) done(); });
    for (let i = 0; i < 3; i++) ws.send('0123456789');
  })));
  await Promise.all(clients.map((ws) => within(5000, 'close', (done) => { ws.on('close', done); ws.close(1000); })));

  // Refusals by the engine (426 plain HTTP, 426 unsupported version, 400 malformed) and by JS (403).
  assert.match(await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'), /^HTTP\/1.1 426/);
  assert.match(await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 7\r\n\r\n'), /^HTTP\/1.1 426/);
  assert.match(await rawExchange(port, 'NOT HTTP AT ALL\r\n\r\n'), /^HTTP\/1.1 400/);
  const forbidden = await within(5000, 'refusal', (done) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/forbidden`);
    ws.on('unexpected-response', (req, res) => { done(res.statusCode); req.destroy(); });
    ws.on('error', () => {});
  });
  assert.equal(forbidden, 403);

  // A protocol error (invalid UTF-8 in a text frame): 1007, WS_ERR_INVALID_UTF8.
  await within(5000, 'protocol error close', (done) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    ws.on('open', () => ws._socket.write(frame(0x1, Buffer.from([0xff, 0xfe]))));
    ws.on('close', done);
    ws.on('error', () => {});
  });
  // A client that never completes its request: a handshake timeout.
  await within(5000, 'timeout drop', (done) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\n'));
    socket.on('close', done);
    socket.on('error', () => {});
  });

  const s = await waitUntil(() => {
    const now = server.stats();
    return now.closed === 6 && now.handshakeTimeouts === 1 ? now : null;
  }, 5000, 'the last close');
  assert.equal(s.connections, 0);
  assert.equal(s.accepted, 5 + 3 + 1 + 1 + 1); // echo clients, raw refusals, the 403, the UTF-8 client, the slow one
  assert.equal(s.opened, 6);
  assert.deepEqual(s.refused, { 400: 1, 403: 1, 426: 2 });
  assert.equal(s.messagesIn, 15);
  assert.equal(s.bytesIn, 150);
  assert.equal(s.messagesOut, 15);
  assert.equal(s.bytesOut, 150);
  assert.equal(s.dropped, 0);
  assert.equal(s.bufferedBytes, 0);
  assert.deepEqual(s.closeCodes, { 1000: 5, 1007: 1 });
  assert.deepEqual(s.protocolErrors, { WS_ERR_INVALID_UTF8: 1 });

  // Still readable once the server has stopped.
  await new Promise((resolve) => server.close(resolve));
  assert.equal(server.stats().accepted, s.accepted);
});

test('examples/metrics.js serves the counters in the Prometheus text format', async (t) => {
  const { start } = require('../examples/metrics');
  const server = start(0);
  await within(5000, 'listening', (done) => server.once('listening', done));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  const ws = await within(5000, 'open', (done, fail) => {
    const c = new WebSocket(`ws://127.0.0.1:${server.port}/`);
    c.on('open', () => done(c));
    c.on('error', fail);
  });
  await within(5000, 'echo', (done) => { ws.once('message', done); ws.send('hello'); });
  const body = await within(5000, 'metrics', (done, fail) => {
    http.get(`http://127.0.0.1:${server.port}/metrics`, (res) => {
      assert.equal(res.statusCode, 200);
      assert.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/);
      let text = '';
      res.on('data', (d) => { text += d; }).on('end', () => done(text));
    }).on('error', fail);
  });
  assert.match(body, /^# TYPE lws_connections gauge$/m);
  assert.match(body, /^lws_connections 1$/m);
  assert.match(body, /^lws_messages_received_total 1$/m);
  assert.match(body, /^lws_bytes_received_total 5$/m);
  assert.match(body, /^lws_connections_accepted_total 2$/m); // the WebSocket and this request
  ws.close();
});
