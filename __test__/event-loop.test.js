'use strict';
// A flood of events must not starve Node's event loop: the engine hands JS a
// bounded number of batches per wake, then JS asks again from setImmediate, so
// timers and other I/O run in between (Node drains a threadsafe function's queue
// up to 1,000 calls in one go: waking through it again would not let them); and
// one batch stays small, however many sockets a worker's turn reads.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { Client, Server } = require('..');
const { within } = require('./helpers/wait');
const { ENGINE_OPTIONS } = require('./helpers/engine');

/** Starts a fixture server (killed after the test) and resolves with the port it prints. */
function startFixture(t, name, args = []) {
  const server = spawn(process.execPath, [path.join(__dirname, 'fixtures', name), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => { server.kill('SIGKILL'); });
  return within(10000, name, (done) => server.stdout.on('data', (d) => {
    const m = /ready (\d+)/.exec(String(d));
    if (m) done(Number(m[1]));
  }));
}

/** Opens `count` connections of `client` to the fixture on `port`; resolves with their sockets once all are open. */
async function openConnections(client, port, count) {
  const sockets = [];
  await within(10000, `${count} connections open`, (done, fail) => {
    let open = 0;
    client.on('open', () => { if (++open === count) done(); });
    client.on('error', fail);
    for (let i = 0; i < count; i++) sockets.push(client.connect(`ws://127.0.0.1:${port}/`));
  });
  return sockets;
}

/** A 10 ms interval timer; `worst()` is the longest it waited between two runs. */
function watchTimers(t) {
  let last = Date.now();
  let worstGap = 0;
  const ticker = setInterval(() => {
    const now = Date.now();
    worstGap = Math.max(worstGap, now - last);
    last = now;
  }, 10);
  t.after(() => clearInterval(ticker));
  return { worst: () => worstGap, stop: () => clearInterval(ticker) };
}

test('timers keep running while a client receives a flood of small messages', { timeout: 30000 }, async (t) => {
  const port = await startFixture(t, 'flood-server.js', ['100000']);
  const client = new Client(ENGINE_OPTIONS);
  t.after(() => new Promise((resolve) => client.close(resolve)));
  let received = 0;
  // 20 us of work a message: JS falls behind the engine, whose batches pile up.
  client.on('message', () => {
    received++;
    const until = process.hrtime.bigint() + 20000n;
    while (process.hrtime.bigint() < until);
  });
  const timers = watchTimers(t);
  await within(20000, 'the end of the flood', (done, fail) => {
    client.on('close', done);
    client.on('error', fail);
    client.connect(`ws://127.0.0.1:${port}/`);
  });
  assert.equal(received, 100000);
  // One batch (up to 256 KiB, ~14,000 of these messages, ~0.3 s of this work) runs to
  // its end; before the fix, timers waited for the whole flood (seconds).
  assert.ok(timers.worst() < 1000, `a 10 ms timer waited ${timers.worst()} ms at worst during ${received} messages`);
});

test('many connections flooded at once: JS gets bounded batches, and timers keep running', { timeout: 30000 }, async (t) => {
  const port = await startFixture(t, 'push-server.js');
  const client = new Client(ENGINE_OPTIONS);
  t.after(() => new Promise((resolve) => client.close(resolve)));
  // The batches themselves (the core's private entry point, observed, not replaced).
  let largestBatch = 0;
  const onEvents = client._onEvents;
  client._onEvents = function (batch) {
    largestBatch = Math.max(largestBatch, batch.byteLength);
    return onEvents.call(this, batch);
  };
  let received = 0;
  client.on('message', () => { received++; });
  const sockets = await openConnections(client, port, 50);
  const timers = watchTimers(t);
  await new Promise((resolve) => setTimeout(resolve, 3000));
  timers.stop();
  for (const socket of sockets) client.terminate(socket);
  assert.ok(received > 100000, `${received} messages received`);
  // A worker's turn reads up to 512 KiB from every ready socket; before the events
  // were handed over as they grew, one batch held all of it (hundreds of MiB, seconds of JS).
  assert.ok(largestBatch <= 8 * 1024 * 1024, `the largest batch was ${largestBatch} bytes`);
  assert.ok(timers.worst() < 1000, `a 10 ms timer waited ${timers.worst()} ms at worst during ${received} messages`);
});

test('many connections flooded at once: every connection gets its share of the reads', { timeout: 30000 }, async (t) => {
  const port = await startFixture(t, 'push-server.js');
  // A small backlog: the engine stops reading and resumes again and again, as it does
  // when JS is the slower side; each resume must go round the connections in turn.
  const client = new Client({ ...ENGINE_OPTIONS, maxBacklog: 256 * 1024 });
  t.after(() => new Promise((resolve) => client.close(resolve)));
  const received = new Map();
  let counting = false;
  client.on('message', (socket) => {
    if (counting) received.set(socket, received.get(socket) + 1);
  });
  const sockets = await openConnections(client, port, 50);
  for (const socket of sockets) received.set(socket, 0);
  counting = true;
  await new Promise((resolve) => setTimeout(resolve, 3000));
  counting = false;
  for (const socket of sockets) client.terminate(socket);
  const counts = [...received.values()].sort((a, b) => a - b);
  const [least, most] = [counts[0], counts[counts.length - 1]];
  // The pusher keeps every socket full, and TCP gives a socket read often a bigger window:
  // before reads went round in turn, a few connections took nearly every read and the
  // rest got none for seconds.
  assert.ok(least > 0 && least * 4 >= most, `per connection: least ${least}, most ${most} messages in 3 s`);
});

test('after each batch of events, process.nextTick callbacks and promise jobs run before the next', { timeout: 20000 }, async (t) => {
  // With threads: 0 the engine calls JS from the libuv callback that read the
  // messages; a reply sent from a promise job must still leave at once. The client
  // is another process, so that no other callback of this one runs them instead.
  const server = new Server({ port: 0, host: '127.0.0.1', ...ENGINE_OPTIONS });
  t.after(() => new Promise((resolve) => server.close(resolve)));
  const log = [];
  server.on('message', (socket, data) => {
    const text = data.toString();
    log.push(`message ${text}`);
    process.nextTick(() => log.push(`tick ${text}`));
    Promise.resolve().then(() => {
      log.push(`promise ${text}`);
      server.send(socket, `echo ${text}`);
    });
  });
  await within(5000, 'listening', (done) => server.on('listening', done));
  const client = spawn(process.execPath, ['-e', `
    const ws = new (require(${JSON.stringify(require.resolve('ws'))}))(process.argv[1]);
    const replies = [];
    ws.on('open', () => ws.send('1'));
    ws.on('message', (m) => {
      replies.push(String(m));
      if (replies.length < 3) ws.send(String(replies.length + 1));
      else { console.log(JSON.stringify(replies)); ws.close(); }
    });`, `ws://127.0.0.1:${server.address().port}/`], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => client.kill('SIGKILL'));
  const started = Date.now();
  const replies = await within(10000, 'the three echoes', (done) => client.stdout.on('data', (d) => done(JSON.parse(String(d)))));
  assert.deepEqual(replies, ['echo 1', 'echo 2', 'echo 3']);
  assert.ok(Date.now() - started < 3000, `the echoes took ${Date.now() - started} ms`);
  assert.deepEqual(log, ['message 1', 'tick 1', 'promise 1', 'message 2', 'tick 2', 'promise 2', 'message 3', 'tick 3', 'promise 3']);
});
