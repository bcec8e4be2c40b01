'use strict';
// Found running tRPC 11's WebSocket link (createWSClient with a `WebSocket` given) and
// its adapter (applyWSSHandler) on lws in place of ws, and rpc-websockets 10 (its own
// mocha suite passes the same on both).
//
// A server that answers at once (tRPC's adapter when createContext throws: an error,
// then close() in a setImmediate) often reaches a client in the same read as its 101.
// ws emits those frames right after 'open', before anything an 'open' listener queued
// (process.nextTick, promise jobs): its socket's 'data' is resumed in a nextTick queued
// before 'open' is emitted. tRPC's client resumes after 'open' in promise jobs, so with
// ws it had read the error and the close before it sent its first query (and retried it
// on the next connection); on lws's client that query failed ("Active connection is not
// open"). Each scenario here runs with ws's client and with lws's, against a raw server
// that writes the 101 and its frames in one write; the transcripts must be equal.
//
// Run: node --test __test__/trpc-compat.test.js

const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const tls = require('node:tls');
const { test, before } = require('node:test');
const WS = require('ws');

const lws = require(path.join(__dirname, '..'));
const { withTimeout } = require('./helpers/wait');
const { onUpgradeRequest, switchingProtocols } = require('./helpers/frames');

const CLIENTS = { ws: WS, lws: lws.WebSocket };

const textFrame = (text) => Buffer.concat([Buffer.from([0x81, Buffer.byteLength(text)]), Buffer.from(text)]);
const closeFrame = (code) => Buffer.from([0x88, 2, code >> 8, code & 0xff]);

let certs = null;
before(() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lws-trpc-'));
  const run = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', 'key.pem', '-out', 'cert.pem');
  certs = { key: fs.readFileSync(path.join(dir, 'key.pem')), cert: fs.readFileSync(path.join(dir, 'cert.pem')) };
  fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * A loopback server that answers the upgrade with the 101 (and `headers`) and `frames`
 * in one write (`more.bytes` follow after `more.after` ms); then it ends at once (`end`),
 * or when the client's close frame comes.
 */
async function eagerServer(frames, { headers = '', end = false, secure = false, more = null } = {}) {
  const onConnection = (socket) =>
    onUpgradeRequest(socket, (key) => {
      const bytes = Buffer.concat([Buffer.from(switchingProtocols(key, headers), 'latin1'), ...frames]);
      if (end) socket.end(bytes);
      else {
        socket.write(bytes);
        if (more !== null) setTimeout(() => socket.write(more.bytes), more.after);
        socket.on('data', () => socket.end());
      }
    });
  const server = secure ? tls.createServer(certs, onConnection) : net.createServer(onConnection);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/**
 * What the client sees, in order: its events, and where the jobs its 'open' listener
 * queued (nextTick, a promise job, setImmediate) ran, with readyState then.
 * `onUpgrade(ws)`: what an 'upgrade' listener does.
 */
async function transcript(WebSocket, frames, { onUpgrade, onOpen, server: serverOptions, protocols = [], client: clientOptions } = {}) {
  const server = await eagerServer(frames, serverOptions);
  const log = [];
  try {
    const scheme = serverOptions && serverOptions.secure ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://127.0.0.1:${server.address().port}/`, protocols, clientOptions);
    ws.on('upgrade', () => {
      log.push(['upgrade', ws.readyState]);
      if (onUpgrade) onUpgrade(ws, log);
    });
    ws.on('open', () => {
      log.push(['open', ws.readyState, ws.protocol, ws.extensions]);
      process.nextTick(() => log.push(['nextTick', ws.readyState]));
      Promise.resolve().then(() => log.push(['promise job', ws.readyState]));
      setImmediate(() => log.push(['setImmediate', ws.readyState]));
      if (onOpen) onOpen(ws, log);
    });
    ws.on('message', (data, isBinary) => log.push(['message', String(data), isBinary, ws.readyState]));
    ws.on('error', (err) => log.push(['error', err.message]));
    const closed = new Promise((resolve) => ws.on('close', (code, reason) => {
      log.push(['close', code, String(reason)]);
      resolve();
    }));
    await new Promise((resolve) => setTimeout(resolve, 150));
    if (ws.readyState === WebSocket.OPEN) ws.close(1000);
    await withTimeout(closed, 5000, "the client's 'close'");
  } finally {
    server.close();
  }
  return log;
}

async function compare(frames, options) {
  const expected = await transcript(CLIENTS.ws, frames, options);
  const actual = await transcript(CLIENTS.lws, frames, options);
  assert.deepStrictEqual(actual, expected);
  return expected;
}

test('a message that came with the 101 is emitted right after open, before the jobs open queued', async () => {
  const log = await compare([textFrame('hello')]);
  // What ws does, so that a change in ws shows here.
  assert.deepStrictEqual(log.slice(0, 4), [['upgrade', 0], ['open', 1, '', ''], ['message', 'hello', false, 1], ['nextTick', 1]]);
});

test('messages and a close frame that came with the 101 (tRPC: createContext threw): CLOSING before the jobs open queued', async () => {
  const log = await compare([textFrame('{"id":null,"error":{}}'), textFrame('second'), closeFrame(1000)]);
  assert.deepStrictEqual(log.slice(0, 6), [
    ['upgrade', 0], ['open', 1, '', ''], ['message', '{"id":null,"error":{}}', false, 1], ['message', 'second', false, 1], ['nextTick', 2], ['promise job', 2],
  ]);
});

test('close() in an upgrade listener when frames came with the 101: no open, the handshake is aborted', async () => {
  await compare([textFrame('hello')], { onUpgrade: (ws) => ws.close() });
});

test('terminate() in an upgrade listener when frames came with the 101: no open, the handshake is aborted', async () => {
  await compare([textFrame('hello')], { onUpgrade: (ws) => ws.terminate() });
});

test('a 101 alone: open, then the jobs it queued (unchanged)', async () => {
  await compare([]);
});

test('frames that came with the 101, then the server ended at once', async () => {
  await compare([textFrame('bye'), closeFrame(1001)], { server: { end: true } });
});

test('a subprotocol agreed, and a message that came with the 101', async () => {
  const log = await compare([textFrame('hi')], { server: { headers: 'Sec-WebSocket-Protocol: rpc\r\n' }, protocols: ['rpc'] });
  assert.deepStrictEqual(log[1], ['open', 1, 'rpc', '']);
});

test('over TLS: a message that came with the 101 in the same record', async () => {
  await compare([textFrame('secret')], { server: { secure: true }, client: { rejectUnauthorized: false } });
});

test('jobs an upgrade listener queued, when frames came with the 101: its nextTick before the frames, its promise jobs after', async () => {
  await compare([textFrame('hello'), closeFrame(1000)], {
    onUpgrade: (ws, log) => {
      process.nextTick(() => log.push(['upgrade nextTick', ws.readyState]));
      Promise.resolve().then(() => log.push(['upgrade promise job', ws.readyState]));
    },
  });
});

test('close() from a job an upgrade listener queued, when frames came with the 101: the open socket closes', async () => {
  await compare([textFrame('hello')], {
    onUpgrade: (ws, log) => process.nextTick(() => {
      log.push(['closing from nextTick', ws.readyState]);
      ws.close(4000, 'enough');
    }),
  });
});

test('pause() in an open listener, when frames came with the 101: they wait for resume()', async () => {
  await compare([textFrame('one'), textFrame('two'), closeFrame(1000)], {
    onOpen: (ws, log) => {
      ws.pause();
      log.push(['paused', ws.isPaused]);
      setTimeout(() => {
        log.push(['resuming', ws.readyState]);
        ws.resume();
      }, 30);
    },
  });
});

test('allowSynchronousEvents: false, when frames came with the 101: a message a turn', async () => {
  await compare([textFrame('one'), textFrame('two'), closeFrame(1000)], { client: { allowSynchronousEvents: false } });
});

// ---- the Node path (agent, createConnection, ...): Node's http client reads the 101 ---------------

test("Node's path: a message that came with the 101 is emitted right after open", async () => {
  await compare([textFrame('hello')], { client: { createConnection: net.createConnection } });
});

test("Node's path: messages and a close frame that came with the 101", async () => {
  await compare([textFrame('one'), textFrame('two'), closeFrame(1000)], { client: { createConnection: net.createConnection } });
});

test("Node's path: close() in an upgrade listener when frames came with the 101", async () => {
  await compare([textFrame('hello')], { client: { createConnection: net.createConnection }, onUpgrade: (ws) => ws.close() });
});

test("Node's path over TLS (the loopback relay): a message that came with the 101", async () => {
  await compare([textFrame('secret')], { server: { secure: true }, client: { rejectUnauthorized: false, createConnection: tls.connect } });
});

// ---- other first frames -------------------------------------------------------------------------

test('a ping that came with the 101: answered, its event right after open', async () => {
  await compare([Buffer.from([0x89, 2, 0x68, 0x69]), textFrame('after the ping')], {
    onOpen: (ws, log) => ws.on('ping', (data) => log.push(['ping', String(data), ws.readyState])),
  });
});

test('half a frame came with the 101, its rest later', async () => {
  const whole = textFrame('split in two');
  await compare([whole.subarray(0, 5)], {
    server: { more: { after: 30, bytes: whole.subarray(5) } },
  });
});
