'use strict';
// reusePort: several processes listen on one port (SO_REUSEPORT) and the
// kernel spreads connections over them; without it the second bind fails.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const net = require('node:net');
const { spawn } = require('node:child_process');
const WebSocket = require('ws');
const { Server } = require('..');
const { within } = require('./helpers/wait');

const freePort = () => new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});

test('without reusePort a second server on the port gets EADDRINUSE; with it, both listen', async (t) => {
  const port = await freePort();
  const first = new Server({ port, host: '127.0.0.1' });
  t.after(() => new Promise((resolve) => first.close(resolve)));
  await within(5000, 'listening', (done) => first.once('listening', done));
  const second = new Server({ port, host: '127.0.0.1' });
  const err = await within(5000, 'error', (done) => second.once('error', done));
  assert.equal(err.code, 'EADDRINUSE');
  await new Promise((resolve) => second.close(resolve));

  const a = new Server({ port: await freePort(), host: '127.0.0.1', reusePort: true });
  await within(5000, 'listening', (done) => a.once('listening', done));
  const b = new Server({ port: a.port, host: '127.0.0.1', reusePort: true });
  await within(5000, 'listening', (done, fail) => { b.once('listening', done); b.once('error', fail); });
  await new Promise((resolve) => a.close(resolve));
  await new Promise((resolve) => b.close(resolve));
});

test('examples/cluster.js: two processes on one port share 200 connections', { timeout: 60000 }, async (t) => {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'examples', 'cluster.js'), String(port), '2'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => {
    child.kill('SIGTERM');
    return new Promise((resolve) => child.once('exit', resolve));
  });
  let out = '';
  await within(20000, 'two listening workers', (done) => {
    child.stdout.on('data', (d) => {
      out += d;
      if ((out.match(/listening on/g) || []).length === 2) done();
    });
  });
  const pids = new Map();
  await Promise.all(Array.from({ length: 200 }, () => within(10000, 'a greeting', (done, fail) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    ws.once('message', (data) => {
      const pid = String(data).replace('served by process ', '');
      pids.set(pid, (pids.get(pid) || 0) + 1);
      ws.close();
      done();
    });
    ws.on('error', fail);
  })));
  assert.equal(pids.size, 2, `connections went to ${pids.size} process(es): ${JSON.stringify([...pids])}`);
  assert.equal([...pids.values()].reduce((a, b) => a + b, 0), 200);
});
