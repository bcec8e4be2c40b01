'use strict';
// Interoperability: Python's `websockets` package as an independent client of
// an lws echo server. scripts/python-env.sh provides a venv with it; if that
// cannot be set up the test fails (it is never skipped).

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { execFileSync, execFile } = require('node:child_process');
const { Server } = require(path.join(__dirname, '..'));
const { withTimeout } = require('./helpers/wait');

const ROOT = path.join(__dirname, '..');
const ENV_SCRIPT = path.join(ROOT, 'scripts', 'python-env.sh');
const CLIENT = path.join(__dirname, 'fixtures', 'python_client.py');
const HOST = '127.0.0.1';

/** Runs the Python client (asynchronously: the server lives in this process). */
function runClient(python, url) {
  return new Promise((resolve, reject) => {
    execFile(
      python,
      [CLIENT, url],
      {
        timeout: 90000,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, PYTHONIOENCODING: 'utf-8', NO_PROXY: '*', no_proxy: '*' },
      },
      (err, stdout, stderr) => {
        const line = stdout.trim().split('\n').pop() || '';
        let result;
        try {
          result = JSON.parse(line);
        } catch {
          reject(new Error(`python client printed no JSON (${err ? err.message : 'exit 0'})\nstdout: ${stdout}\nstderr: ${stderr}`));
          return;
        }
        if (result.error) {
          reject(new Error(`python client failed: ${result.error}\n${result.traceback}\nstderr: ${stderr}`));
          return;
        }
        if (err) {
          reject(new Error(`python client exited abnormally: ${err.message}\nstderr: ${stderr}`));
          return;
        }
        resolve(result);
      },
    );
  });
}

describe('Python websockets client against lws', () => {
  let python;
  let server;
  const serverLog = { connections: 0, messages: 0, closes: [] };

  let setupError = null;

  before(async () => {
    // Creates .venv and installs websockets if needed. A failure is kept and
    // rethrown by the test so that it counts as a failed test (a throwing hook
    // would only mark the test "cancelled"); it is never a skip.
    try {
      const out = execFileSync('bash', [ENV_SCRIPT], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 240000,
        killSignal: 'SIGKILL',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      python = out.trim().split('\n').pop();
      assert.ok(python && python.endsWith('python'), `python-env.sh printed ${JSON.stringify(out)}`);
      const version = execFileSync(python, ['-c', 'import websockets; print(websockets.__version__)'], {
        encoding: 'utf8',
        timeout: 30000,
      }).trim();
      assert.match(version, /^\d+\.\d+/);
    } catch (err) {
      setupError = new Error(`cannot set up Python websockets with scripts/python-env.sh: ${err.message}\n${err.stderr || ''}`);
      return;
    }

    server = new Server({ host: HOST, port: 0, closeTimeout: 2000 });
    server.on('connection', () => serverLog.connections++);
    server.on('message', (socket, data, binary) => {
      serverLog.messages++;
      server.send(socket, data, binary);
    });
    server.on('close', (socket, code, reason) => serverLog.closes.push({ code, reason }));
    await withTimeout(new Promise((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    }), 5000, 'listening');
  }, { timeout: 300000 });

  after(async () => {
    if (server) await withTimeout(new Promise((resolve) => server.close(resolve)), 10000, 'server.close');
  });

  it('echoes text, binary, 100 KiB messages and pings, and closes with 1000', { timeout: 120000 }, async () => {
    if (setupError) throw setupError;
    const r = await runClient(python, `ws://${HOST}:${server.port}/`);

    // No extension or subprotocol was negotiated (the client offers permessage-deflate).
    assert.equal(r.handshake.extensions, null);
    assert.equal(r.handshake.subprotocol, null);

    // UTF-8 text with multibyte characters (2, 3 and 4 bytes).
    assert.equal(r.text.type, 'str');
    assert.equal(r.text.received_text, 'héllo wörld — € 𝄞 日本語 🎉 ñ');
    assert.equal(r.text.received_text, r.text.sent_text);
    assert.equal(r.text.equal, true);

    for (const [name, type, length] of [
      ['empty_text', 'str', 0],
      ['binary', 'bytes', 1024],
      ['big_binary', 'bytes', 100 * 1024],
      ['big_text', 'str', 100 * 1024],
    ]) {
      const e = r[name];
      assert.equal(e.type, type, `${name}: echo type (text stays text, binary stays binary)`);
      assert.equal(e.length, length, `${name}: echo length`);
      assert.equal(e.sha256_received, e.sha256_sent, `${name}: echo content`);
      assert.equal(e.equal, true, name);
    }

    assert.deepEqual(r.burst, { count: 20, equal: true });
    assert.equal(r.ping.pong, true);

    // The client closed with 1000; the server answered with 1000.
    assert.deepEqual(r.close.sent, { code: 1000, reason: 'bye from python' });
    assert.equal(r.close.received.code, 1000);
    assert.equal(r.close.code, 1000);
    assert.equal(r.close.rcvd_then_sent, false, 'the client sent its close first');

    // The server saw one connection, every message, and the client's close.
    assert.equal(serverLog.connections, 1);
    assert.equal(serverLog.messages, 1 + 1 + 1 + 1 + 1 + 20);
    const closed = await withTimeout((async () => {
      while (serverLog.closes.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      return serverLog.closes[0];
    })(), 5000, 'server close event');
    assert.deepEqual(closed, { code: 1000, reason: 'bye from python' });
  });
});
