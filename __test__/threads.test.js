'use strict';
// `threads: 2`: connections are spread over two engine threads and behave the same.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const WebSocket = require('ws');
const { Server } = require('..');
const { within } = require('./helpers/wait');

test('two engine threads echo, broadcast and close every connection', { timeout: 30000 }, async () => {
  const server = new Server({ port: 0, host: '127.0.0.1', threads: 2 });
  server.on('message', (socket, message, binary) => server.send(socket, message, binary));
  await within(5000, 'listening', (done) => server.once('listening', done));
  const workersSeen = new Set();
  server.on('connection', (socket) => workersSeen.add(socket));
  const N = 60;
  const clients = [];
  await within(15000, 'echoes', (done, fail) => {
    let echoed = 0;
    for (let i = 0; i < N; i++) {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`);
      clients.push(ws);
      ws.on('error', fail);
      ws.on('open', () => ws.send(`m${i}`));
      ws.once('message', (data) => {
        assert.equal(data.toString(), `m${i}`);
        if (++echoed === N) done();
      });
    }
  });
  assert.equal(workersSeen.size, N);
  // A prepared message reaches the sockets of both threads.
  const prepared = server.prepareBuffer(Buffer.from('to all'));
  await within(10000, 'broadcast', (done) => {
    let received = 0;
    for (const ws of clients) ws.once('message', (d) => { if (d.toString() === 'to all' && ++received === N) done(); });
    for (const socket of workersSeen) assert.equal(server.sendPrepared(socket, prepared, false), true);
  });
  const codes = await within(10000, 'close', (done) => {
    const seen = [];
    for (const ws of clients) ws.on('close', (code) => { seen.push(code); if (seen.length === N) done(seen); });
    server.close();
  });
  assert.deepEqual([...new Set(codes)], [1001]);
});

/** Names of this process's threads (Linux). */
function threadNames() {
  const fs = require('fs');
  return fs.readdirSync('/proc/self/task').map((tid) => {
    try {
      return fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
    } catch {
      return ''; // the thread ended meanwhile
    }
  });
}

test('threads: 0 serves from the JS thread: no engine thread, echo and timers work, close ends it', { timeout: 30000, skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  const server = new Server({ port: 0, host: '127.0.0.1', threads: 0, idleTimeout: 1 });
  server.on('message', (socket, message, binary) => server.send(socket, message, binary));
  await within(5000, 'listening', (done) => server.once('listening', done));
  assert.deepEqual(threadNames().filter((n) => n.startsWith('lws-worker')), [], 'no engine thread');
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`);
  await within(5000, 'open', (done, fail) => { ws.on('open', done); ws.on('error', fail); });
  const echoed = await within(5000, 'echo', (done) => { ws.once('message', (d) => done(d.toString())); ws.send('on the JS thread'); });
  assert.equal(echoed, 'on the JS thread');
  // The engine's own timers run from the JS loop: idleTimeout pings at half a second
  // (the ws client answers); then the server closes the silent socket with 1001.
  ws.pong = () => {}; // keep the client silent at the application level
  const closed = await within(10000, 'idle close', (done) => ws.on('close', (code) => done(code)));
  assert.equal(closed, 1001);
  await within(10000, 'server close', (done) => server.close(done));
});

test('a Client with two engine threads spreads its connections over both and echoes on each', { timeout: 30000 }, async () => {
  const { Client } = require('..');
  const server = new Server({ port: 0, host: '127.0.0.1' });
  server.on('message', (socket, message, binary) => server.send(socket, message, binary));
  await within(5000, 'listening', (done) => server.once('listening', done));
  const client = new Client({ threads: 2 });
  const workers = new Set();
  let echoed = 0;
  client.on('open', (socket) => client.send(socket, `hello ${client.getUserData(socket)}`));
  await within(15000, 'echoes', (done, fail) => {
    client.on('error', fail);
    client.on('message', (socket, message) => {
      assert.equal(String(message), `hello ${client.getUserData(socket)}`);
      if (++echoed === 40) done();
    });
    for (let i = 0; i < 40; i++) {
      const socket = client.connect(`ws://127.0.0.1:${server.port}/`);
      client.setUserData(socket, i);
      workers.add(require('../lib/core').idOf(socket) & 7);
    }
  });
  assert.deepEqual([...workers].sort(), [0, 1]);
  await new Promise((resolve) => client.close(resolve));
  await new Promise((resolve) => server.close(resolve));
});
