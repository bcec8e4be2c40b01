'use strict';
// lws as a drop-in for the server side of ws 8: `const { WebSocketServer } = require('lws')`.
// The behaviour of ws's documented server API is checked against the real `ws`
// client (and raw sockets for malformed input); where ws's exact errors and
// close codes matter, the same scenario also runs against ws's own
// WebSocketServer and the observations must match.
//
// Every server and client is released by t.after, and every wait is bounded.
// Run: node --test --test-concurrency=1 __test__/ws-compat.test.js

const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { Duplex } = require('node:stream');
const { execFileSync } = require('node:child_process');
const WS = require('ws'); // the reference implementation: client, and server for comparisons

const ROOT = path.join(__dirname, '..');
const lws = require(ROOT);
const { WebSocketServer, WebSocket, createWebSocketStream } = lws;

// ---- helpers ------------------------------------------------------------------

function withTimeout(promise, ms, label) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${label}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The arguments of the next `event` (rejects on 'error' unless waiting for it). */
function once(emitter, event, ms = 5000) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const onEvent = (...args) => {
        if (event !== 'error') emitter.removeListener('error', onError);
        resolve(args);
      };
      const onError = (err) => {
        emitter.removeListener(event, onEvent);
        reject(err);
      };
      emitter.once(event, onEvent);
      if (event !== 'error') emitter.once('error', onError);
    }),
    ms,
    `'${event}'`,
  );
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(predicate, ms, label) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${label}`);
    await delay(5);
  }
}

/** Resolves once a client is open; rejects on error, refusal or close. */
function opened(ws, ms = 5000) {
  if (ws.readyState === WS.OPEN) return Promise.resolve(ws);
  return withTimeout(
    new Promise((resolve, reject) => {
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
      ws.once('close', (code) => reject(new Error(`closed (${code}) before opening`)));
    }),
    ms,
    'client open',
  );
}

/** { code, reason } of a client's or server-side WebSocket's 'close'. */
function closed(ws, ms = 5000) {
  return withTimeout(
    new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }))),
    ms,
    "'close'",
  );
}

/** Status and headers of a refused handshake. */
function refused(ws, ms = 5000) {
  return withTimeout(
    new Promise((resolve, reject) => {
      ws.once('unexpected-response', (req, res) => {
        res.resume();
        resolve({ status: res.statusCode, headers: res.headers });
        req.destroy();
      });
      ws.once('open', () => reject(new Error('opened although it should have been refused')));
    }),
    ms,
    "'unexpected-response'",
  );
}

/** Queues messages of a WebSocket (client or server side); next() takes them in order. */
function inbox(ws) {
  const queue = [];
  const waiters = [];
  ws.on('message', (data, isBinary) => {
    const m = { data, isBinary };
    if (waiters.length) waiters.shift()(m);
    else queue.push(m);
  });
  return {
    queue,
    next(ms = 5000) {
      if (queue.length) return Promise.resolve(queue.shift());
      return withTimeout(new Promise((resolve) => waiters.push(resolve)), ms, 'a message');
    },
  };
}

/** Ends a WebSocketServer whatever its state: clients dropped, engine released. */
async function shutdown(wss) {
  if (wss.clients) for (const ws of wss.clients) ws.terminate();
  await withTimeout(new Promise((resolve) => wss.close(() => resolve())), 5000, 'wss close').catch(() => {});
  if (wss._core && !wss._core._closed) {
    await withTimeout(new Promise((resolve) => wss._core.close(resolve)), 10000, 'engine close').catch(() => {});
  }
}

function closeHttp(server) {
  return withTimeout(
    new Promise((resolve) => {
      if (typeof server.closeAllConnections === 'function') server.closeAllConnections();
      server.close(() => resolve());
    }),
    5000,
    'http server close',
  ).catch(() => {});
}

/** Per-test resources, released by t.after whatever the outcome. */
function scope(t) {
  const cleanups = [];
  t.after(async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch {
        // best effort
      }
    }
  });
  return {
    /** A WebSocketServer (any mode); closed after the test. */
    wss(options, callback) {
      const wss = new WebSocketServer(options, callback);
      cleanups.push(() => shutdown(wss));
      return wss;
    },
    /** lws in port mode on 127.0.0.1; resolves once listening. */
    async listen(options = {}, setup) {
      const wss = this.wss({ port: 0, host: '127.0.0.1', ...options });
      if (setup) setup(wss);
      await once(wss, 'listening');
      return wss;
    },
    /** ws's own server, for comparisons. */
    async listenWs(options = {}, setup) {
      const wss = new WS.WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
      cleanups.push(() => shutdown(wss));
      if (setup) setup(wss);
      await once(wss, 'listening');
      return wss;
    },
    async http(server, host = '127.0.0.1') {
      cleanups.push(() => closeHttp(server));
      await new Promise((resolve) => server.listen(0, host, resolve));
      return server;
    },
    client(url, protocols, options) {
      const ws = new WS(url, protocols, options);
      ws.on('error', () => {}); // awaited explicitly where it matters
      cleanups.push(() => ws.terminate());
      return ws;
    },
    connect(url, protocols, options) {
      return opened(this.client(url, protocols, options));
    },
    defer(fn) {
      cleanups.push(fn);
    },
  };
}

const urlOf = (wss, p = '/') => `ws://127.0.0.1:${wss.address().port}${p}`;
const httpUrl = (server, p = '/', scheme = 'ws') => `${scheme}://127.0.0.1:${server.address().port}${p}`;

/** The next server-side WebSocket and its request. */
function nextConnection(wss, ms = 5000) {
  return once(wss, 'connection', ms).then(([ws, req]) => ({ ws, req }));
}

/** Sends a raw HTTP request and resolves with the whole response text (until close or head end). */
function rawRequest(port, text, ms = 5000) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
      let data = '';
      socket.on('data', (chunk) => {
        data += chunk.toString('latin1');
        if (/^HTTP\/1\.1 101/.test(data) && data.includes('\r\n\r\n')) {
          socket.destroy();
          resolve(data);
        }
      });
      socket.on('close', () => resolve(data));
      socket.on('error', reject);
    }),
    ms,
    'a raw HTTP response',
  );
}

function upgradeText(p, headers = {}) {
  const all = {
    Host: 'localhost',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version': '13',
    ...headers,
  };
  let text = `GET ${p} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(all)) if (value !== undefined) text += `${name}: ${value}\r\n`;
  return `${text}\r\n`;
}

/** A masked client frame. */
function frame(opcode, payload = Buffer.alloc(0), { fin = true, rsv1 = false, mask = true } = {}) {
  const data = Buffer.from(payload);
  let head;
  if (data.length < 126) {
    head = Buffer.from([0, data.length]);
  } else if (data.length < 65536) {
    head = Buffer.alloc(4);
    head[1] = 126;
    head.writeUInt16BE(data.length, 2);
  } else {
    head = Buffer.alloc(10);
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(data.length), 2);
  }
  head[0] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  if (!mask) return Buffer.concat([head, data]);
  head[1] |= 0x80;
  const key = crypto.randomBytes(4);
  const masked = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) masked[i] = data[i] ^ key[i & 3];
  return Buffer.concat([head, key, masked]);
}

/** A self-signed certificate made with openssl, or null if openssl is missing. */
let certCache;
function selfSignedCert() {
  if (certCache !== undefined) return certCache;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lws-cert-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'),
      '-out', path.join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost',
    ], { stdio: 'ignore', timeout: 30000 });
    certCache = { key: fs.readFileSync(path.join(dir, 'key.pem')), cert: fs.readFileSync(path.join(dir, 'cert.pem')) };
  } catch {
    certCache = null;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return certCache;
}

let express = null;
try {
  express = require('express');
} catch {
  // not installed: the express test uses an express-style app on plain http
}

// ---- exports and construction ---------------------------------------------------------

test('exports: WebSocketServer (also wsServer), WebSocket with ws constants, createWebSocketStream; ESM too', async () => {
  assert.equal(typeof WebSocketServer, 'function');
  assert.equal(lws.wsServer, WebSocketServer);
  assert.equal(typeof createWebSocketStream, 'function');
  for (const [name, value] of [['CONNECTING', 0], ['OPEN', 1], ['CLOSING', 2], ['CLOSED', 3]]) {
    assert.equal(WebSocket[name], value);
    assert.equal(WebSocket.prototype[name], value);
    assert.equal(WS[name], value, 'same numbers as ws');
    assert.equal(lws[name], value, 'on the module too: `import WebSocket from "lws"; WebSocket.OPEN`');
  }
  assert.equal(WebSocket.WebSocketServer, WebSocketServer);
  assert.equal(WebSocket.Server, WebSocketServer);
  assert.equal(typeof lws.Server, 'function', 'the core Server is still exported');
  assert.notEqual(lws.Server, WebSocketServer);
  assert.throws(() => new WebSocket('ws://localhost:1'), /server side/);

  const esm = await import(path.join(ROOT, 'index.mjs'));
  assert.equal(esm.WebSocketServer, WebSocketServer);
  assert.equal(esm.wsServer, WebSocketServer);
  assert.equal(esm.WebSocket, WebSocket);
  assert.equal(esm.createWebSocketStream, createWebSocketStream);
  assert.equal(esm.default.OPEN, 1);
});

test('constructor: exactly one of port, server, noServer (TypeError otherwise, as ws)', () => {
  const message = /One and only one of the "port", "server", or "noServer" options must be specified/;
  assert.throws(() => new WebSocketServer({}), { name: 'TypeError', message });
  assert.throws(() => new WebSocketServer({ port: 0, noServer: true }), { name: 'TypeError', message });
  assert.throws(() => new WebSocketServer({ server: http.createServer(), noServer: true }), { name: 'TypeError', message });
  assert.throws(() => new WebSocketServer({ port: 0, server: http.createServer() }), { name: 'TypeError', message });
});

test('port mode: callback and listening, address(), echo of text and binary with isBinary', async (t) => {
  const s = scope(t);
  let called = false;
  const wss = s.wss({ port: 0, host: '127.0.0.1' }, () => {
    called = true;
  });
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => {
      assert.ok(Buffer.isBuffer(data), 'messages are Buffers (text too), as in ws 8');
      ws.send(data, { binary: isBinary });
    });
  });
  await once(wss, 'listening');
  assert.ok(called, 'the callback is a listening listener');
  const address = wss.address();
  assert.equal(address.address, '127.0.0.1');
  assert.equal(address.family, 'IPv4');
  assert.ok(address.port > 0);

  const client = await s.connect(urlOf(wss));
  const box = inbox(client);
  client.send('héllo');
  client.send(Buffer.from([0, 1, 2, 255]));
  const text = await box.next();
  assert.equal(text.isBinary, false);
  assert.equal(text.data.toString(), 'héllo');
  const bin = await box.next();
  assert.equal(bin.isBinary, true);
  assert.deepEqual([...bin.data], [0, 1, 2, 255]);
});

test('port mode: host names are resolved; EADDRINUSE arrives as an error event', async (t) => {
  const s = scope(t);
  const wss = s.wss({ port: 0, host: 'localhost' });
  await once(wss, 'listening');
  const { port } = wss.address();
  assert.ok(port > 0);
  const taken = http.createServer();
  await s.http(taken);
  const clash = s.wss({ port: taken.address().port, host: '127.0.0.1' });
  const [err] = await once(clash, 'error');
  assert.equal(err.code, 'EADDRINUSE');
});

test("'connection' gets an http.IncomingMessage-like request: method, url, headers, socket.remoteAddress/remotePort", async (t) => {
  const s = scope(t);
  const wss = await s.listen();
  const conn = nextConnection(wss);
  const client = await s.connect(urlOf(wss, '/room/1?user=ann'), undefined, { headers: { 'X-Custom': 'yes' } });
  const { ws, req } = await conn;
  assert.equal(req.method, 'GET');
  assert.equal(req.url, '/room/1?user=ann');
  assert.equal(req.headers['x-custom'], 'yes');
  assert.equal(req.headers.upgrade.toLowerCase(), 'websocket');
  assert.ok(Array.isArray(req.rawHeaders));
  assert.match(req.socket.remoteAddress, /127\.0\.0\.1$/);
  assert.equal(req.socket.remotePort, client._socket.localPort);
  assert.equal(req.connection, req.socket);
  assert.equal(ws.readyState, WebSocket.OPEN);
  assert.ok(ws instanceof WebSocket);
  assert.equal(ws.url, undefined, 'server-side sockets have no url, as in ws');
  assert.equal(ws.extensions, '');
  assert.equal(ws.protocol, '');
});

test('messages handed to the user are owned copies (they survive later batches)', async (t) => {
  const s = scope(t);
  const kept = [];
  const wss = await s.listen({}, (w) =>
    w.on('connection', (ws) => ws.on('message', (data) => kept.push(data))),
  );
  const client = await s.connect(urlOf(wss));
  const sent = [];
  for (let i = 0; i < 300; i++) {
    const payload = crypto.randomBytes(1 + (i % 50) * 37);
    sent.push(payload);
    client.send(payload);
  }
  await until(() => kept.length === sent.length, 5000, 'all messages');
  await delay(20);
  for (let i = 0; i < sent.length; i++) assert.ok(kept[i].equals(sent[i]), `message ${i} intact`);
});
