'use strict';
// `ws._socket.unref()`: ws's `_socket` is a net.Socket, and unref() lets the process
// end while the connection is open. engine.io-client (and so socket.io-client) calls
// it at 'open' with its autoUnref option. A child process does it with ws's client
// and with the candidate while the server keeps sending; what the process prints, how
// it ends, and that it ends by itself, must be the same.

const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const path = require('node:path');
const { test } = require('node:test');
const { WebSocketServer } = require('ws');
const candidate = require('./helpers/client-candidate');

const FIXTURE = path.join(__dirname, 'fixtures', 'unref-client.js');

function runClient(modulePath, url, how) {
  return new Promise((resolve) => {
    execFile(process.execPath, [FIXTURE, modulePath, url, how], { timeout: 10000 }, (err, stdout, stderr) => {
      resolve({
        code: err ? err.code : 0,
        signal: err ? err.signal : null,
        stdout: stdout.split('\n').filter(Boolean),
        stderr: stderr.split('\n').filter((line) => /Error|Abort/.test(line)),
      });
    });
  });
}

test("_socket.unref(): the process ends by itself while the server still sends", async () => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss.once('listening', resolve));
  wss.on('connection', (ws) => {
    const flood = setInterval(() => {
      for (let i = 0; i < 20; i++) ws.send('tick');
    }, 1);
    ws.on('close', () => clearInterval(flood));
    ws.on('error', () => {});
  });
  const url = `ws://127.0.0.1:${wss.address().port}/`;
  try {
    for (const how of ['engine', 'node']) {
      const reference = await runClient(require.resolve('ws'), url, how);
      assert.deepEqual(reference, {
        code: 0, signal: null, stderr: [],
        stdout: ['open', 'unref returns the socket: true', 'timer; messages arrived: true'],
      });
      // Several runs: a process ending while the engine wakes JS must not abort.
      for (let i = 0; i < 5; i++) {
        assert.deepEqual(await runClient(candidate.modulePath, url, how), reference, `${candidate.name}, ${how} path, run ${i}`);
      }
    }
  } finally {
    for (const ws of wss.clients) ws.terminate();
    await new Promise((resolve) => wss.close(resolve));
  }
});
