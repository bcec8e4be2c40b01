'use strict';
// A flood of events must not starve Node's event loop: the engine hands JS a
// bounded number of batches per wake, then JS asks again from setImmediate, so
// timers and other I/O run in between (Node drains a threadsafe function's queue
// up to 1,000 calls in one go: waking through it again would not let them).

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { Client } = require('..');
const { within } = require('./helpers/wait');
const { ENGINE_OPTIONS } = require('./helpers/engine');

test('timers keep running while a client receives a flood of small messages', { timeout: 30000 }, async (t) => {
  const server = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'flood-server.js'), '100000'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => { server.kill('SIGKILL'); });
  const port = await within(10000, 'the flood server', (done) => server.stdout.on('data', (d) => {
    const m = /ready (\d+)/.exec(String(d));
    if (m) done(Number(m[1]));
  }));
  const client = new Client(ENGINE_OPTIONS);
  t.after(() => new Promise((resolve) => client.close(resolve)));
  let received = 0;
  // 20 us of work a message: JS falls behind the engine, whose batches pile up.
  client.on('message', () => {
    received++;
    const until = process.hrtime.bigint() + 20000n;
    while (process.hrtime.bigint() < until);
  });
  let last = Date.now();
  let worstGap = 0;
  const ticker = setInterval(() => {
    const now = Date.now();
    worstGap = Math.max(worstGap, now - last);
    last = now;
  }, 10);
  t.after(() => clearInterval(ticker));
  await within(20000, 'the end of the flood', (done, fail) => {
    client.on('close', done);
    client.on('error', fail);
    client.connect(`ws://127.0.0.1:${port}/`);
  });
  assert.equal(received, 100000);
  // One batch (up to 256 KiB, ~14,000 of these messages, ~0.3 s of this work) runs to
  // its end; before the fix, timers waited for the whole flood (seconds).
  assert.ok(worstGap < 1000, `a 10 ms timer waited ${worstGap} ms at worst during ${received} messages`);
});
