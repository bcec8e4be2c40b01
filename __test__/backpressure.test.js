'use strict';
// Backpressure both ways: output a client does not read (getBufferedAmount,
// 'drain'), and input JS cannot keep up with (the engine stops reading).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const net = require('net');
const path = require('path');
const crypto = require('crypto');
const { spawn } = require('child_process');
const { Server } = require('..');
const { within } = require('./helpers/wait');
const { ENGINE_OPTIONS } = require('./helpers/engine'); // LWS_TEST_THREADS (js-thread.test.js)

const listening = (server) => within(5000, 'listening', (done) => server.once('listening', done));

/** Servers and sockets a test opened, closed even when an assertion fails. */
function cleanup(t) {
  const servers = [];
  const sockets = [];
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await Promise.all(servers.map((srv) => new Promise((r) => srv.close(r))));
  });
  return { server: (s) => (servers.push(s), s), socket: (s) => (sockets.push(s), s) };
}

test('output to a client that does not read is reported, then drains', { timeout: 30000 }, async (t) => {
  const own = cleanup(t);
  const server = own.server(new Server({ port: 0, host: '127.0.0.1', ...ENGINE_OPTIONS }));
  await listening(server);
  const client = own.socket(net.connect(server.port, '127.0.0.1'));
  client.on('error', () => {});
  await within(5000, 'tcp connect', (done) => client.once('connect', done));
  client.write(`GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  client.pause(); // never reads until told
  const socket = await within(5000, 'connection', (done) => server.once('connection', done));
  const chunk = Buffer.alloc(1 << 20, 7);
  for (let i = 0; i < 32; i++) assert.equal(server.send(socket, chunk, true), true);
  assert.equal(server.getBufferedAmount(socket), 32 << 20, 'everything is still in JS');
  await new Promise((r) => setTimeout(r, 300));
  const stuck = server.getBufferedAmount(socket);
  assert.ok(stuck > 8 << 20 && stuck <= 32 << 20, `the engine reports what the kernel would not take (${stuck})`);
  assert.equal(server.send(socket, Buffer.alloc(1), true), false, 'send() says the socket is backed up');
  assert.equal(server.sendPrepared(socket, server.prepareBuffer(Buffer.alloc(1)), true), false, 'so does sendPrepared()');
  let received = 0;
  client.on('data', (d) => { received += d.length; });
  const drained = within(10000, 'drain', (done) => server.once('drain', done));
  client.resume();
  assert.equal(await drained, socket);
  assert.equal(server.getBufferedAmount(socket), 0);
  assert.equal(server.send(socket, 'after drain'), true, 'send() is true again once drained');
  await within(10000, 'all bytes', (done) => {
    const check = () => (received >= 32 * ((1 << 20) + 10) ? done() : setTimeout(check, 20));
    check();
  });
});

test('a blocked JS thread does not let a flood grow memory without bound', { timeout: 60000 }, async (t) => {
  const own = cleanup(t);
  const server = own.server(new Server({ port: 0, host: '127.0.0.1', ...ENGINE_OPTIONS, maxBacklog: Number(process.env.LWS_TEST_BACKLOG) || undefined }));
  await listening(server);
  const size = 64 * 1024;
  const count = 6000; // 375 MiB offered: far more than the engine may queue
  let received = 0;
  let blocked = false;
  let peakRss = 0;
  const rssBefore = process.memoryUsage().rss;
  server.on('message', (socket, message) => {
    assert.equal(message.length, size);
    received++;
    if (!blocked) {
      blocked = true;
      const until = Date.now() + 2000;
      while (Date.now() < until); // the JS thread is stuck for 2 s
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    } else if (received % 1000 === 0) {
      // Shorter stalls later: the engine must pause and resume reading again and again.
      const until = Date.now() + 150;
      while (Date.now() < until);
    }
    if (received === count) server.close(socket, 1000);
  });
  const sampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage().rss); }, 20);
  const child = own.socket(spawn(process.execPath, [path.join(__dirname, 'fixtures', 'flood-client.js'), `ws://127.0.0.1:${server.port}/`, String(count), String(size)], { stdio: ['ignore', 'pipe', 'inherit'] }));
  child.destroy = () => child.kill('SIGKILL');
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const code = await within(50000, 'flood client exit', (done) => child.on('exit', done));
  clearInterval(sampler);
  assert.equal(code, 0, 'the client sent everything and saw the close');
  assert.equal(out.trim(), `sent ${count}`);
  assert.equal(received, count, 'no message was lost');
  const growth = (peakRss - rssBefore) / 2 ** 20;
  if (process.env.LWS_TEST_VERBOSE) console.log(`rss growth ${growth.toFixed(1)} MiB`);
  assert.ok(growth < 120, `RSS grew ${growth.toFixed(0)} MiB (engine backlog limit is 16 MiB)`);
});
