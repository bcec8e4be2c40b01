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
const { withTimeout, once, sleep: delay, waitUntil: until, opened, closed, inbox, closeHttp } = require('./helpers/wait');
const { frame } = require('./helpers/frames');
const { WebSocketServer, WebSocket, createWebSocketStream } = lws;
const { ENGINE_OPTIONS } = require('./helpers/engine'); // LWS_TEST_THREADS (js-thread.test.js)

// ---- helpers ------------------------------------------------------------------


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

/** Ends a WebSocketServer whatever its state: clients dropped, engine released. */
async function shutdown(wss) {
  if (wss.clients) for (const ws of wss.clients) ws.terminate();
  await withTimeout(new Promise((resolve) => wss.close(() => resolve())), 5000, 'wss close').catch(() => {});
  if (wss._core && !wss._core._closed) {
    await withTimeout(new Promise((resolve) => wss._core.close(resolve)), 10000, 'engine close').catch(() => {});
  }
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
      const wss = new WebSocketServer({ ...ENGINE_OPTIONS, ...options }, callback);
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
  // A URL makes a client (client-*.test.js test it), CONNECTING at once, as ws's.
  const client = new WebSocket('ws://127.0.0.1:1/');
  assert.equal(client.readyState, WebSocket.CONNECTING);
  assert.equal(client.url, 'ws://127.0.0.1:1/');
  await new Promise((resolve) => {
    client.on('error', () => {});
    client.on('close', resolve);
    client.terminate();
  });

  const esm = await import(path.join(ROOT, 'index.mjs'));
  assert.equal(esm.WebSocketServer, WebSocketServer);
  assert.equal(esm.wsServer, WebSocketServer);
  assert.equal(esm.WebSocket, WebSocket);
  assert.equal(esm.createWebSocketStream, createWebSocketStream);
  assert.equal(esm.default, WebSocket, 'the default export is WebSocket, as ws\'s');
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
    w.on('connection', (ws) => ws.on('message', (data) => {
      kept.push(data);
      // Scribbles on Buffer's shared pool, which small copies may come from.
      Buffer.allocUnsafe(64).fill(0xee);
    })),
  );
  const client = await s.connect(urlOf(wss));
  const sent = [];
  for (let i = 0; i < 300; i++) {
    // Mostly small (copied by slab), every 25th over 4 KiB (copied alone).
    const payload = crypto.randomBytes(i % 25 === 24 ? 4097 + i * 211 : 1 + (i % 50) * 37);
    sent.push(payload);
    client.send(payload);
  }
  await until(() => kept.length === sent.length, 5000, 'all messages');
  await delay(20);
  for (let i = 0; i < sent.length; i++) assert.ok(kept[i].equals(sent[i]), `message ${i} intact`);
});

// ---- options ----------------------------------------------------------------------

/** Runs `body(s, mode)` with a server in port mode and one behind Node's http server. */
function bothModes(name, body, opts = {}) {
  for (const mode of ['port', 'server']) {
    test(`${name} [${mode} mode]`, { timeout: 30000, ...opts }, async (t) => {
      const s = scope(t);
      const make = async (options = {}, setup) => {
        if (mode === 'port') {
          const wss = await s.listen(options, setup);
          return { wss, url: (p = '/') => urlOf(wss, p), port: wss.address().port };
        }
        const server = http.createServer((req, res) => res.end('http'));
        const wss = s.wss({ server, ...options });
        if (setup) setup(wss);
        await s.http(server);
        return { wss, url: (p = '/') => httpUrl(server, p), port: server.address().port };
      };
      await body(s, make, mode);
    });
  }
}

bothModes('path: other paths are refused with 400; the query string is ignored', async (s, make) => {
  const { url } = await make({ path: '/ws' });
  await s.connect(url('/ws?token=1'));
  assert.equal((await refused(s.client(url('/other')))).status, 400);
  assert.equal((await refused(s.client(url('/ws/')))).status, 400);
});

bothModes('shouldHandle(req) can be overridden', async (s, make) => {
  const { wss, url } = await make();
  wss.shouldHandle = (req) => req.url.startsWith('/yes');
  await s.connect(url('/yes/please'));
  assert.equal((await refused(s.client(url('/no')))).status, 400);
});

bothModes('verifyClient (sync): info has origin, secure, req; false refuses with 401', async (s, make) => {
  const seen = [];
  const { url } = await make({
    verifyClient(info) {
      seen.push(info);
      return info.req.headers['x-token'] === 'ok';
    },
  });
  await s.connect(url('/a'), undefined, { headers: { 'X-Token': 'ok' }, origin: 'https://example.com' });
  assert.equal(seen[0].origin, 'https://example.com');
  assert.equal(seen[0].secure, false);
  assert.equal(seen[0].req.url, '/a');
  assert.equal((await refused(s.client(url('/b'), undefined, { headers: { 'X-Token': 'bad' } }))).status, 401);
});

bothModes('verifyClient (async): (info, cb) with cb(false, code, message, headers) and a late cb(true)', async (s, make) => {
  const { url, wss } = await make({
    verifyClient(info, cb) {
      const token = info.req.headers['x-token'];
      setTimeout(() => {
        if (token === 'ok') cb(true);
        else cb(false, 403, 'Go away', { 'X-Why': 'bad token' });
      }, 30);
    },
  });
  const conn = nextConnection(wss);
  await s.connect(url(), undefined, { headers: { 'X-Token': 'ok' } });
  await conn;
  const res = await refused(s.client(url(), undefined, { headers: { 'X-Token': 'nope' } }));
  assert.equal(res.status, 403);
  assert.equal(res.headers['x-why'], 'bad token');
  const bare = await refused(
    s.client(url()),
  );
  assert.equal(bare.status, 403);
});

bothModes('verifyClient (async) with no code refuses with 401', async (s, make) => {
  const { url } = await make({ verifyClient: (info, cb) => setImmediate(() => cb(false)) });
  assert.equal((await refused(s.client(url()))).status, 401);
});

bothModes('verifyClient (async): a client that leaves before the answer is forgotten; close() refuses pending ones with 503', async (s, make) => {
  let release;
  const answered = new Promise((resolve) => {
    release = resolve;
  });
  const pending = [];
  const { wss, port, url } = await make({
    verifyClient(info, cb) {
      pending.push(cb);
      answered.then(() => cb(true));
    },
  });
  let connections = 0;
  wss.on('connection', () => connections++);
  // A raw client that gives up while verifyClient is still deciding.
  const raw = net.connect(port, '127.0.0.1', () => raw.write(upgradeText('/')));
  await until(() => pending.length === 1, 5000, 'verifyClient to be called');
  raw.destroy();
  await delay(100);
  // A second client is still waiting for its answer when the server closes.
  const waiting = s.client(url());
  await until(() => pending.length === 2, 5000, 'the second verifyClient call');
  const closedPromise = new Promise((resolve) => wss.close(resolve));
  release();
  assert.equal((await refused(waiting)).status, 503);
  await withTimeout(closedPromise, 5000, "the server's close");
  assert.equal(connections, 0);
});

bothModes('handleProtocols(protocols: Set, req) picks the subprotocol; ws.protocol and the client agree', async (s, make) => {
  const calls = [];
  const { url, wss } = await make({
    handleProtocols(protocols, req) {
      calls.push([protocols, req.url]);
      return protocols.has('chat.v2') ? 'chat.v2' : false;
    },
  });
  const conn = nextConnection(wss);
  const client = await s.connect(url('/p'), ['chat.v1', 'chat.v2']);
  const { ws } = await conn;
  assert.ok(calls[0][0] instanceof Set);
  assert.deepEqual([...calls[0][0]], ['chat.v1', 'chat.v2']);
  assert.equal(calls[0][1], '/p');
  assert.equal(ws.protocol, 'chat.v2');
  assert.equal(client.protocol, 'chat.v2');
  // handleProtocols returning false: no Sec-WebSocket-Protocol, which the ws client rejects.
  const picky = s.client(url('/p'), ['chat.v1']);
  const [err] = await once(picky, 'error');
  assert.match(err.message, /Server sent no subprotocol/);
});

bothModes('without handleProtocols the first offered subprotocol is chosen', async (s, make) => {
  const { url, wss } = await make();
  const conn = nextConnection(wss);
  const client = await s.connect(url(), ['first', 'second']);
  assert.equal(client.protocol, 'first');
  assert.equal((await conn).ws.protocol, 'first');
});

bothModes("'headers' (headers array, request): listeners can add headers to the 101", async (s, make) => {
  const seen = [];
  const { url } = await make({}, (wss) =>
    wss.on('headers', (headers, req) => {
      seen.push([...headers]);
      assert.equal(typeof req.url, 'string');
      headers.push('Set-Cookie: session=abc; HttpOnly');
      headers.push('X-Served-By: lws');
    }),
  );
  const client = s.client(url(), ['proto1']);
  const [res] = await once(client, 'upgrade');
  await opened(client);
  assert.equal(seen[0][0], 'HTTP/1.1 101 Switching Protocols');
  assert.ok(seen[0].includes('Upgrade: websocket'));
  assert.ok(seen[0].includes('Connection: Upgrade'));
  const accept = seen[0].find((h) => h.startsWith('Sec-WebSocket-Accept: '));
  assert.equal(accept.slice('Sec-WebSocket-Accept: '.length), res.headers['sec-websocket-accept']);
  assert.ok(seen[0].includes('Sec-WebSocket-Protocol: proto1'));
  assert.deepEqual(res.headers['set-cookie'], ['session=abc; HttpOnly']);
  assert.equal(res.headers['x-served-by'], 'lws');
});

bothModes('clientTracking: clients is a Set of open WebSockets; clientTracking false leaves it undefined', async (s, make) => {
  const { wss, url } = await make();
  assert.ok(wss.clients instanceof Set);
  const conn = nextConnection(wss);
  const client = await s.connect(url());
  const { ws } = await conn;
  assert.ok(wss.clients.has(ws));
  const serverClose = closed(ws);
  client.close();
  await serverClose;
  assert.equal(wss.clients.size, 0, 'removed before the close listeners run');
  const untracked = await make({ clientTracking: false });
  assert.equal(untracked.wss.clients, undefined);
  const c2 = nextConnection(untracked.wss);
  await s.connect(untracked.url());
  await c2;
});

bothModes('invalid Sec-WebSocket-Protocol: 400, or handed to wsClientError listeners (err, socket, req)', async (s, make) => {
  const { port, wss } = await make();
  const bad = upgradeText('/', { 'Sec-WebSocket-Protocol': 'a, a' });
  assert.match(await rawRequest(port, bad), /^HTTP\/1\.1 400 /);
  const errors = [];
  wss.on('wsClientError', (err, socket, req) => {
    errors.push([err.message, req.url]);
    socket.write('HTTP/1.1 418 I\'m a teapot\r\nX-Teapot: yes\r\n\r\n');
    socket.destroy();
  });
  const response = await rawRequest(port, upgradeText('/tea', { 'Sec-WebSocket-Protocol': 'bad protocol' }));
  assert.match(response, /^HTTP\/1\.1 418 /);
  assert.deepEqual(errors, [['Invalid Sec-WebSocket-Protocol header', '/tea']]);
});

bothModes('maxPayload: a larger message closes with 1009 and an error WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', async (s, make) => {
  const { wss, url } = await make({ maxPayload: 64 });
  const conn = nextConnection(wss);
  const client = await s.connect(url());
  const { ws } = await conn;
  const box = inbox(ws);
  const errors = [];
  ws.on('error', (err) => errors.push(err));
  const serverClose = closed(ws);
  const clientClose = closed(client);
  client.send(Buffer.alloc(64, 1)); // exactly the limit: fine
  assert.equal((await box.next()).data.length, 64);
  client.send(Buffer.alloc(65, 1));
  assert.equal((await clientClose).code, 1009);
  assert.deepEqual(await serverClose, { code: 1006, reason: '' }); // what ws reports after a protocol error
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof RangeError);
  assert.equal(errors[0].message, 'Max payload size exceeded');
  assert.equal(errors[0].code, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
});

test('maxPayload default is ws\'s 100 MiB (a 20 MiB message passes, beyond the core default of 16 MiB)', { timeout: 60000 }, async (t) => {
  const s = scope(t);
  const wss = await s.listen({}, (w) => w.on('connection', (ws) => ws.on('message', (d) => ws.send(String(d.length)))));
  const client = await s.connect(urlOf(wss));
  const box = inbox(client);
  client.send(Buffer.alloc(20 * 1024 * 1024, 7));
  assert.equal((await box.next(30000)).data.toString(), String(20 * 1024 * 1024));
});

bothModes('invalid UTF-8: 1007 and an error WS_ERR_INVALID_UTF8', async (s, make) => {
  const { wss, url } = await make();
  const conn = nextConnection(wss);
  const client = await s.connect(url());
  const { ws } = await conn;
  const errors = [];
  ws.on('error', (err) => errors.push(err));
  const clientClose = closed(client);
  const serverClose = closed(ws);
  client._socket.write(frame(0x1, Buffer.from([0xff, 0xfe])));
  assert.equal((await clientClose).code, 1007);
  assert.deepEqual(await serverClose, { code: 1006, reason: '' });
  assert.equal(errors[0].code, 'WS_ERR_INVALID_UTF8');
  assert.equal(errors[0].message, 'Invalid WebSocket frame: invalid UTF-8 sequence');
});

bothModes('perMessageDeflate is negotiated with the ws client; compress: false goes uncompressed, and small messages too only without server context takeover (as in ws)', async (s, make) => {
  const { wss, url } = await make({ perMessageDeflate: { threshold: 1024, zlibDeflateOptions: { level: 3 } }, skipUTF8Validation: false });
  const conn = nextConnection(wss);
  const client = await s.connect(url()); // the ws client offers permessage-deflate by default
  const { ws } = await conn;
  assert.equal(ws.extensions, 'permessage-deflate');
  assert.ok(Object.keys(client.extensions).includes('permessage-deflate') || String(client.extensions).includes('permessage-deflate'));
  // Watch the client's raw frames: RSV1 marks a compressed message.
  const rsv1 = [];
  client._socket.prependListener('data', (chunk) => rsv1.push((chunk[0] & 0x40) !== 0));
  const box = inbox(client);
  const big = 'x'.repeat(5000);
  ws.send(big);
  assert.equal((await box.next()).data.toString(), big);
  ws.send(big, { compress: false });
  assert.equal((await box.next()).data.toString(), big);
  ws.send('small');
  assert.equal((await box.next()).data.toString(), 'small');
  // ws applies `threshold` only when the server keeps no context: here it does, so 'small' is compressed.
  assert.deepEqual(rsv1.slice(0, 3), [true, false, true]);
  // The client compresses too: a large message arrives intact.
  const fromClient = inbox(ws);
  client.send('y'.repeat(100000));
  assert.equal((await fromClient.next()).data.toString(), 'y'.repeat(100000));
  const other = await make({ perMessageDeflate: { serverNoContextTakeover: true }, skipUTF8Validation: true });
  const conn2 = nextConnection(other.wss);
  const client2 = await s.connect(other.url());
  const { ws: ws2 } = await conn2;
  assert.equal(client2.extensions, 'permessage-deflate');
  const rsv2 = [];
  client2._socket.prependListener('data', (chunk) => rsv2.push((chunk[0] & 0x40) !== 0));
  const box2 = inbox(client2);
  ws2.send(big);
  assert.equal((await box2.next()).data.toString(), big);
  ws2.send('small'); // under the default threshold (1024): uncompressed
  assert.equal((await box2.next()).data.toString(), 'small');
  assert.deepEqual(rsv2.slice(0, 2), [true, false]);
});

// ---- the server-side WebSocket --------------------------------------------------------

/** A port-mode server, one open client, and its server-side WebSocket. */
async function pair(s, options = {}, clientOptions) {
  const wss = await s.listen(options);
  const conn = nextConnection(wss);
  const client = await s.connect(urlOf(wss), undefined, clientOptions);
  const { ws, req } = await conn;
  return { wss, client, ws, req };
}

test('send: strings are text, binary data is binary, options.binary overrides; numbers become text', async (t) => {
  const s = scope(t);
  const { client, ws } = await pair(s);
  const box = inbox(client);
  ws.send('text');
  ws.send(Buffer.from('buf'));
  ws.send('forced binary', { binary: true });
  ws.send(Buffer.from('forced text'), { binary: false });
  ws.send(42);
  ws.send(new Uint8Array([1, 2, 3]));
  ws.send(new Uint16Array([0x0201]).buffer);
  ws.send(new DataView(new Uint8Array([9, 8]).buffer));
  ws.send([4, 5]);
  const got = [];
  for (let i = 0; i < 9; i++) got.push(await box.next());
  assert.deepEqual(
    got.map((m) => [m.isBinary, m.isBinary ? [...m.data] : m.data.toString()]),
    [
      [false, 'text'],
      [true, [...Buffer.from('buf')]],
      [true, [...Buffer.from('forced binary')]],
      [false, 'forced text'],
      [false, '42'],
      [true, [1, 2, 3]],
      [true, [1, 2]],
      [true, [9, 8]],
      [true, [4, 5]],
    ],
  );
});

test('send: { fin: false } fragments one message; the callback runs once the data is out', async (t) => {
  const s = scope(t);
  const { client, ws } = await pair(s);
  const box = inbox(client);
  const results = [];
  ws.send('part one, ', { fin: false });
  ws.send('part two, ', { fin: false });
  ws.send('end', { fin: true }, (err) => results.push(err));
  const m = await box.next();
  assert.equal(m.data.toString(), 'part one, part two, end');
  assert.equal(m.isBinary, false);
  await until(() => results.length === 1, 5000, 'the send callback');
  assert.equal(results[0], null); // as ws's: Node's socket.write callback gets null
  await new Promise((resolve) => ws.send('cb only', resolve));
});

test('send: Blobs are sent in order with what follows them', { skip: typeof Blob === 'undefined' && 'no Blob' }, async (t) => {
  const s = scope(t);
  const { client, ws } = await pair(s);
  const box = inbox(client);
  ws.send('before');
  ws.send(new Blob(['blob ', 'data']));
  ws.send('after');
  assert.equal((await box.next()).data.toString(), 'before');
  const blob = await box.next();
  assert.equal(blob.isBinary, true);
  assert.equal(blob.data.toString(), 'blob data');
  assert.equal((await box.next()).data.toString(), 'after');
});

test('send/ping/pong after close: the callback gets ws\'s error, bufferedAmount counts the bytes; CONNECTING throws', async (t) => {
  const s = scope(t);
  const { client, ws } = await pair(s);
  const serverClose = closed(ws);
  client.close();
  await serverClose;
  assert.equal(ws.readyState, WebSocket.CLOSED);
  const errors = [];
  ws.send('12345', (err) => errors.push(err));
  ws.ping('ab', (err) => errors.push(err));
  ws.pong((err) => errors.push(err));
  ws.send('no callback');
  await until(() => errors.length === 3, 2000, 'callbacks');
  for (const err of errors) assert.equal(err.message, 'WebSocket is not open: readyState 3 (CLOSED)');
  assert.equal(ws.bufferedAmount, 5 + 2 + 11);

  const fresh = new WebSocket(null, undefined, {}); // ws's server-side form (without options it throws, as ws's)
  assert.equal(fresh.readyState, WebSocket.CONNECTING);
  assert.throws(() => fresh.send('x'), { message: 'WebSocket is not open: readyState 0 (CONNECTING)' });
  assert.throws(() => fresh.ping(), { message: 'WebSocket is not open: readyState 0 (CONNECTING)' });
  assert.throws(() => fresh.pong(), { message: 'WebSocket is not open: readyState 0 (CONNECTING)' });
});

test('bufferedAmount: queued bytes while open (the core getBufferedAmount), 0 once written', async (t) => {
  const s = scope(t);
  const { client, ws } = await pair(s);
  const box = inbox(client);
  assert.equal(ws.bufferedAmount, 0);
  ws.send(Buffer.alloc(100000));
  assert.ok(ws.bufferedAmount >= 100000, `bufferedAmount ${ws.bufferedAmount} right after send`);
  await box.next();
  await until(() => ws.bufferedAmount === 0, 5000, 'bufferedAmount back to 0');
});

test("ping/pong: ws.ping reaches the client, the client's pong is a 'pong' event; client pings are 'ping' events and answered", async (t) => {
  const s = scope(t);
  const { client, ws } = await pair(s);
  const clientPing = once(client, 'ping');
  const serverPong = once(ws, 'pong');
  let pingCb = false;
  ws.ping('are you there', false, () => {
    pingCb = true;
  });
  assert.equal((await clientPing)[0].toString(), 'are you there');
  assert.equal((await serverPong)[0].toString(), 'are you there');
  await until(() => pingCb, 2000, 'the ping callback');

  const serverPing = once(ws, 'ping');
  const clientPong = once(client, 'pong');
  client.ping(Buffer.from([1, 2, 3]));
  assert.deepEqual([...(await serverPing)[0]], [1, 2, 3]);
  assert.deepEqual([...(await clientPong)[0]], [1, 2, 3], 'pongs to pings are automatic');

  const unsolicited = once(client, 'pong');
  ws.pong('unasked');
  assert.equal((await unsolicited)[0].toString(), 'unasked');
  ws.ping();
  ws.ping(12345);
  assert.throws(() => ws.ping(Buffer.alloc(126)), { name: 'RangeError', message: 'The data size must not be greater than 125 bytes' });
});

test('close(code, reason): the client gets both; readyState CLOSING then CLOSED; ws rules for codes and reasons', async (t) => {
  const s = scope(t);
  const { client, ws } = await pair(s);
  assert.throws(() => ws.close(1005), { name: 'TypeError', message: 'First argument must be a valid error code number' });
  assert.throws(() => ws.close(1006), TypeError);
  assert.throws(() => ws.close(2999), TypeError);
  assert.throws(() => ws.close(5000), TypeError);
  assert.throws(() => ws.close('1000'), TypeError);
  assert.throws(() => ws.close(1000, 'x'.repeat(124)), { name: 'RangeError', message: 'The message must not be greater than 123 bytes' });
  assert.throws(() => ws.close(1000, { length: 1 }), { name: 'TypeError', message: 'Second argument must be a string or a Uint8Array' });
  assert.equal(ws.readyState, WebSocket.OPEN, 'a rejected close leaves the socket open');
  const clientClose = closed(client);
  const serverClose = closed(ws);
  ws.close(1001, 'going away'); // ws allows 1001-1003 and 1007-1014 too
  assert.equal(ws.readyState, WebSocket.CLOSING);
  ws.close(1000); // ignored while closing
  assert.deepEqual(await clientClose, { code: 1001, reason: 'going away' });
  assert.equal((await serverClose).code, 1001);
  assert.equal(ws.readyState, WebSocket.CLOSED);
  ws.close(); // no-op once closed

  const second = await pair(s);
  const c2 = closed(second.client);
  second.ws.close(4000, Buffer.from('bytes reason'));
  assert.deepEqual(await c2, { code: 4000, reason: 'bytes reason' });

  const third = await pair(s);
  const c3 = closed(third.client);
  third.ws.close(); // no code: an empty close frame
  assert.equal((await c3).code, 1005);
});

test('the peer closing: close(code, reason: Buffer) with its code and reason; 1005 without a code', async (t) => {
  const s = scope(t);
  const a = await pair(s);
  const closeA = closed(a.ws);
  const raw = new Promise((resolve) => a.ws.once('close', (code, reason) => resolve(reason)));
  a.client.close(4321, 'see you');
  assert.deepEqual(await closeA, { code: 4321, reason: 'see you' });
  assert.ok(Buffer.isBuffer(await raw), 'the reason is a Buffer, as in ws 8');
  const b = await pair(s);
  const closeB = closed(b.ws);
  b.client.close();
  assert.deepEqual(await closeB, { code: 1005, reason: '' });
  const c = await pair(s);
  const closeC = closed(c.ws);
  c.client.terminate();
  assert.deepEqual(await closeC, { code: 1006, reason: '' });
});

test('terminate(): the connection drops at once (1006 on both sides)', async (t) => {
  const s = scope(t);
  const { client, ws } = await pair(s);
  const clientClose = closed(client);
  const serverClose = closed(ws);
  ws.terminate();
  assert.equal(ws.readyState, WebSocket.CLOSING);
  assert.equal((await clientClose).code, 1006);
  assert.deepEqual(await serverClose, { code: 1006, reason: '' });
  assert.equal(ws.readyState, WebSocket.CLOSED);
  ws.terminate(); // no-op
});

test('pause()/resume(): no message while paused (isPaused), then all of them in order', async (t) => {
  const s = scope(t);
  const { client, ws } = await pair(s);
  const got = [];
  ws.on('message', (d) => got.push(d.toString()));
  ws.pause();
  assert.equal(ws.isPaused, true);
  for (let i = 0; i < 5; i++) client.send(`m${i}`);
  await delay(200);
  assert.deepEqual(got, []);
  ws.resume();
  assert.equal(ws.isPaused, false);
  await until(() => got.length === 5, 5000, 'the held messages');
  assert.deepEqual(got, ['m0', 'm1', 'm2', 'm3', 'm4']);
  client.send('live');
  await until(() => got.length === 6, 5000, 'a message after resume');
});

test('pause(): messages already received when pausing are held, and delivered before close', async (t) => {
  const s = scope(t);
  const { client, ws } = await pair(s);
  const events = [];
  ws.on('message', (d) => {
    events.push(`message ${d}`);
    if (String(d) === 'm0') {
      // Pausing inside a batch: what the engine already read is held by lws, not dropped.
      ws.pause();
      setTimeout(() => ws.terminate(), 100);
    }
  });
  ws.on('close', (code) => events.push(`close ${code}`));
  client._socket.write(Buffer.concat([frame(1, 'm0'), frame(1, 'm1'), frame(1, 'm2')]));
  await until(() => events.at(-1) === 'close 1006', 5000, 'close');
  const messages = events.slice(0, -1);
  assert.deepEqual(messages, ['message m0', 'message m1', 'message m2'].slice(0, messages.length));
  assert.ok(messages.length >= 1);
});

test('binaryType: nodebuffer (default), arraybuffer, fragments, blob; invalid values are ignored; text stays a Buffer', async (t) => {
  const s = scope(t);
  const { client, ws } = await pair(s);
  const box = inbox(ws);
  assert.equal(ws.binaryType, 'nodebuffer');
  client.send(Buffer.from([1, 2]));
  assert.ok(Buffer.isBuffer((await box.next()).data));
  ws.binaryType = 'arraybuffer';
  client.send(Buffer.from([3, 4]));
  const ab = (await box.next()).data;
  assert.ok(ab instanceof ArrayBuffer);
  assert.deepEqual([...new Uint8Array(ab)], [3, 4]);
  client.send('text');
  assert.ok(Buffer.isBuffer((await box.next()).data), 'text messages are Buffers whatever binaryType is');
  ws.binaryType = 'fragments';
  client.send(Buffer.from([5]));
  const fragments = (await box.next()).data;
  assert.ok(Array.isArray(fragments));
  assert.deepEqual([...Buffer.concat(fragments)], [5]);
  ws.binaryType = 'bogus';
  assert.equal(ws.binaryType, 'fragments');
  if (typeof Blob !== 'undefined') {
    ws.binaryType = 'blob';
    client.send(Buffer.from('blob!'));
    const blob = (await box.next()).data;
    assert.ok(blob instanceof Blob);
    assert.equal(await blob.text(), 'blob!');
  }
});

test('EventTarget: onmessage/onclose/onerror/onopen and addEventListener with ws\'s event objects', async (t) => {
  const s = scope(t);
  const { client, ws } = await pair(s, { maxPayload: 100 });
  const messages = [];
  const viaListener = [];
  const handler = (event) => viaListener.push(event.data);
  ws.onmessage = (event) => messages.push(event);
  assert.equal(typeof ws.onmessage, 'function');
  ws.addEventListener('message', handler);
  ws.addEventListener('message', handler); // added once only
  let onceCount = 0;
  ws.addEventListener('message', () => onceCount++, { once: true });
  const handleEventObject = { seen: 0, handleEvent(event) { this.seen++; assert.equal(event.type, 'message'); } };
  ws.addEventListener('message', handleEventObject);
  const errors = [];
  const closes = [];
  ws.onerror = (event) => errors.push(event);
  ws.onclose = (event) => closes.push(event);
  assert.equal(ws.onopen, null);
  ws.onopen = () => {};
  ws.onopen = null;
  assert.equal(ws.onopen, null);

  client.send('text message');
  client.send(Buffer.from([7]));
  await until(() => messages.length === 2, 5000, 'two message events');
  assert.equal(messages[0].type, 'message');
  assert.equal(messages[0].data, 'text message', 'text arrives as a string in MessageEvent');
  assert.equal(messages[0].target, ws);
  assert.ok(Buffer.isBuffer(messages[1].data));
  assert.deepEqual(viaListener.map(String), ['text message', '\u0007']);
  assert.equal(onceCount, 1);
  assert.equal(handleEventObject.seen, 2);
  ws.removeEventListener('message', handler);
  client.send('after removal');
  await until(() => messages.length === 3, 5000, 'third message');
  assert.equal(viaListener.length, 2);

  client.send(Buffer.alloc(101)); // over maxPayload
  await until(() => closes.length === 1, 5000, 'close event');
  assert.equal(errors.length, 1);
  assert.equal(errors[0].type, 'error');
  assert.equal(errors[0].error.code, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
  assert.equal(errors[0].message, 'Max payload size exceeded');
  assert.equal(closes[0].type, 'close');
  assert.equal(closes[0].code, 1006);
  assert.equal(closes[0].reason, '');
  assert.equal(closes[0].wasClean, false);

  const other = await pair(s);
  const events = [];
  other.ws.onclose = (event) => events.push(event);
  other.client.close(4000, 'clean');
  await until(() => events.length === 1, 5000, 'clean close event');
  assert.equal(events[0].code, 4000);
  assert.equal(events[0].reason, 'clean');
  assert.equal(events[0].wasClean, true);
});

test("EventEmitter: a WebSocket's listener table has no inherited names; add, remove and list behave as on ws's", async (t) => {
  const s = scope(t);
  const { client, ws } = await pair(s);
  const reference = new (require('node:events').EventEmitter)();
  // Names an ordinary object would inherit, and the one that would set its prototype.
  const names = ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf'];
  for (const emitter of [ws, reference]) {
    for (const name of names) assert.equal(emitter.listenerCount(name), 0, `${name}: no listener yet`);
  }
  const seen = [];
  const removed = [];
  ws.on('removeListener', (type) => removed.push(type));
  for (const name of names) ws.on(name, (value) => seen.push([name, value]));
  for (const name of names) assert.equal(ws.emit(name, 1), true, `${name} has a listener`);
  assert.deepEqual(seen, names.map((name) => [name, 1]));
  assert.deepEqual(ws.eventNames().filter((n) => names.includes(n)), names);
  ws.removeAllListeners('toString');
  ws.off('__proto__', ws.listeners('__proto__')[0]);
  assert.deepEqual(removed, ['toString', '__proto__']);
  assert.equal(ws.listenerCount('toString'), 0);
  assert.equal(ws.emit('__proto__', 2), false);
  assert.deepEqual(ws.eventNames().filter((n) => names.includes(n)), ['constructor', 'hasOwnProperty', 'valueOf']);
  // The socket still works with its table changed this much.
  const got = once(ws, 'message', 5000);
  client.send('still here');
  assert.equal(String((await got)[0]), 'still here');
  ws.removeAllListeners();
  assert.deepEqual(ws.eventNames(), []);
});

test('a WebSocket subclass given as options.WebSocket is used for connections', async (t) => {
  const s = scope(t);
  class MySocket extends WebSocket {
    hello() {
      return 'hi';
    }
  }
  const { ws } = await pair(s, { WebSocket: MySocket });
  assert.ok(ws instanceof MySocket);
  assert.equal(ws.hello(), 'hi');
});

// ---- close(), address(), events of the server -------------------------------------------

test('close(cb) [port mode]: stops accepting, existing clients stay open; close follows the last client', { timeout: 30000 }, async (t) => {
  const s = scope(t);
  const wss = await s.listen({}, (w) => w.on('connection', (ws) => ws.on('message', (d) => ws.send(`echo ${d}`))));
  const url = urlOf(wss);
  const client = await s.connect(url);
  const box = inbox(client);
  let closedAt = 0;
  const closeResults = [];
  wss.close((err) => {
    closedAt = Date.now();
    closeResults.push(err);
  });
  wss.close((err) => closeResults.push(err)); // a second call while closing also gets 'close'
  assert.equal(wss.address(), null, 'no address once closed, as ws');
  client.send('still there');
  assert.equal((await box.next()).data.toString(), 'echo still there');
  const late = s.client(url);
  await assert.rejects(opened(late, 3000), 'no new connection after close()');
  // As in ws 8 the port itself is released at once: a plain TCP connect is refused.
  const port = Number(new URL(url).port);
  const refusedCode = await new Promise((resolve) => {
    const probe = require('net').connect(port, '127.0.0.1');
    probe.on('connect', () => { probe.destroy(); resolve('connected'); });
    probe.on('error', (err) => resolve(err.code));
  });
  assert.equal(refusedCode, 'ECONNREFUSED');
  await delay(100);
  assert.equal(closedAt, 0, "'close' waits for the open connection");
  const leftAt = Date.now();
  client.close();
  await until(() => closeResults.length === 2, 8000, "the server's 'close'");
  assert.ok(closedAt >= leftAt);
  assert.deepEqual(closeResults, [undefined, undefined]);
  const again = await new Promise((resolve) => wss.close(resolve));
  assert.equal(again.message, 'The server is not running');
});

test('close(cb) [noServer, clientTracking]: close is emitted once the tracked clients are gone', { timeout: 30000 }, async (t) => {
  const s = scope(t);
  const wss = s.wss({ noServer: true });
  assert.throws(() => wss.address(), { message: 'The server is operating in "noServer" mode' });
  const server = http.createServer();
  server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)));
  await s.http(server);
  const conn = nextConnection(wss);
  const client = await s.connect(httpUrl(server));
  const { ws } = await conn;
  let closed1 = false;
  wss.close(() => {
    closed1 = true;
  });
  await delay(100);
  assert.equal(closed1, false);
  ws.send('ok after close()');
  const box = inbox(client);
  assert.equal((await box.next()).data.toString(), 'ok after close()');
  // handleUpgrade after close() is refused with 503, as ws does.
  assert.equal((await refused(s.client(httpUrl(server)))).status, 503);
  client.close();
  await until(() => closed1, 5000, "'close'");

  const untracked = s.wss({ noServer: true, clientTracking: false });
  await withTimeout(new Promise((resolve) => untracked.close(resolve)), 2000, 'immediate close without tracking');
});

test('server mode: listening and error of the http server are forwarded; address() is the http server\'s', async (t) => {
  const s = scope(t);
  const server = http.createServer();
  const wss = s.wss({ server });
  const listening = once(wss, 'listening');
  await s.http(server);
  await listening;
  assert.deepEqual(wss.address(), server.address());
  const boom = new Error('boom');
  const errored = once(wss, 'error');
  server.emit('error', boom);
  assert.equal((await errored)[0], boom);
  await new Promise((resolve) => wss.close(resolve));
  assert.equal(server.listenerCount('upgrade'), 0, 'close() detaches from the http server');
});

// ---- handleUpgrade() from Node's servers ---------------------------------------------------

test('handleUpgrade: ws\'s request checks (405, 400, Sec-WebSocket-Version: 13, 8) and wsClientError', async (t) => {
  const s = scope(t);
  const wss = s.wss({ noServer: true });
  const server = http.createServer();
  server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)));
  await s.http(server);
  const port = server.address().port;
  assert.match(await rawRequest(port, upgradeText('/').replace('GET', 'POST')), /^HTTP\/1\.1 405 /);
  assert.match(await rawRequest(port, upgradeText('/', { 'Sec-WebSocket-Key': 'short' })), /^HTTP\/1\.1 400 [^]*Missing or invalid Sec-WebSocket-Key header$/);
  const version = await rawRequest(port, upgradeText('/', { 'Sec-WebSocket-Version': '12' }));
  assert.match(version, /^HTTP\/1\.1 400 /);
  assert.match(version, /Sec-WebSocket-Version: 13, 8/);
  const seen = [];
  wss.on('wsClientError', (err, socket, req) => {
    seen.push(err.message);
    assert.ok(socket instanceof net.Socket);
    assert.equal(req.url, '/x');
    socket.end('HTTP/1.1 400 Bad Request\r\nX-Handled: yes\r\n\r\n');
  });
  assert.match(await rawRequest(port, upgradeText('/x', { 'Sec-WebSocket-Key': undefined })), /X-Handled: yes/);
  assert.deepEqual(seen, ['Missing or invalid Sec-WebSocket-Key header']);
});

test('handleUpgrade: a valid request through Node becomes a 101 from the engine (raw check of the answer)', async (t) => {
  const s = scope(t);
  const wss = s.wss({ noServer: true });
  const server = http.createServer();
  server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, () => {}));
  await s.http(server);
  const response = await rawRequest(server.address().port, upgradeText('/'));
  assert.match(response, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.match(response, /Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/i);
  assert.doesNotMatch(response, /x-lws-handover/i, 'the handover ticket never reaches the client');
});

test('handleUpgrade twice with the same socket throws, as ws', async (t) => {
  const s = scope(t);
  const wss = s.wss({ noServer: true });
  const server = http.createServer();
  const thrown = [];
  server.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, () => {});
    try {
      wss.handleUpgrade(req, socket, head, () => {});
    } catch (err) {
      thrown.push(err.message);
    }
  });
  await s.http(server);
  await s.connect(httpUrl(server));
  assert.equal(thrown.length, 1);
  assert.match(thrown[0], /called more than once with the same socket/);
});

test('handleUpgrade accepts Sec-WebSocket-Version 8 clients, as ws does', async (t) => {
  const s = scope(t);
  const server = http.createServer();
  const wss = s.wss({ server });
  wss.on('connection', (ws) => ws.on('message', (d) => ws.send(d)));
  await s.http(server);
  const client = await s.connect(httpUrl(server), undefined, { protocolVersion: 8 });
  const box = inbox(client);
  client.send('v8');
  assert.equal((await box.next()).data.toString(), 'v8');
});

test('README: multiple servers sharing a single HTTP server (noServer + handleUpgrade)', async (t) => {
  const s = scope(t);
  // --- as in ws's README, with require('lws') ---
  const server = http.createServer();
  const wss1 = s.wss({ noServer: true });
  const wss2 = s.wss({ noServer: true });
  wss1.on('connection', function connection(ws) {
    ws.on('error', console.error);
    ws.send('foo');
  });
  wss2.on('connection', function connection(ws) {
    ws.on('error', console.error);
    ws.send('bar');
  });
  server.on('upgrade', function upgrade(request, socket, head) {
    const { pathname } = new URL(request.url, 'wss://base.url');
    if (pathname === '/foo') {
      wss1.handleUpgrade(request, socket, head, function done(ws) {
        wss1.emit('connection', ws, request);
      });
    } else if (pathname === '/bar') {
      wss2.handleUpgrade(request, socket, head, function done(ws) {
        wss2.emit('connection', ws, request);
      });
    } else {
      socket.destroy();
    }
  });
  // ---
  await s.http(server);
  const foo = s.client(httpUrl(server, '/foo'));
  const bar = s.client(httpUrl(server, '/bar'));
  const [fooMessage, barMessage] = await Promise.all([once(foo, 'message'), once(bar, 'message')]);
  assert.equal(fooMessage[0].toString(), 'foo');
  assert.equal(barMessage[0].toString(), 'bar');
  const other = s.client(httpUrl(server, '/other'));
  await assert.rejects(opened(other), /socket hang up|closed|ECONNRESET/);
});

test('README: client authentication in the http upgrade handler', async (t) => {
  const s = scope(t);
  const logged = [];
  function authenticate(request, next) {
    setImmediate(() => {
      const user = request.headers.authorization === 'Bearer good' ? { name: 'ann' } : null;
      next(null, user);
    });
  }
  // --- as in ws's README ---
  function onSocketError(err) {
    console.error(err);
  }
  const server = http.createServer();
  const wss = s.wss({ noServer: true });
  wss.on('connection', function connection(ws, request, client) {
    ws.on('error', console.error);
    ws.on('message', function message(data) {
      logged.push(`Received message ${data} from user ${client.name}`);
      ws.send('noted');
    });
  });
  server.on('upgrade', function upgrade(request, socket, head) {
    socket.on('error', onSocketError);
    authenticate(request, function next(err, client) {
      if (err || !client) {
        socket.write('HTTP/1.1 401 Unauthorized\r\n\r\n');
        socket.destroy();
        return;
      }
      socket.removeListener('error', onSocketError);
      wss.handleUpgrade(request, socket, head, function done(ws) {
        wss.emit('connection', ws, request, client);
      });
    });
  });
  // ---
  await s.http(server);
  const good = await s.connect(httpUrl(server), undefined, { headers: { Authorization: 'Bearer good' } });
  good.send('hello');
  await once(good, 'message');
  assert.deepEqual(logged, ['Received message hello from user ann']);
  assert.equal((await refused(s.client(httpUrl(server), undefined, { headers: { Authorization: 'Bearer bad' } }))).status, 401);
});

test('README: server broadcast, to everyone and to everyone else', async (t) => {
  const s = scope(t);
  const { WebSocketServer: WSS, WebSocket: WebSocketClass } = require(ROOT);
  for (const includeSelf of [true, false]) {
    // --- as in ws's README ---
    const wss = new WSS({ port: 0, host: '127.0.0.1' });
    s.defer(() => shutdown(wss));
    wss.on('connection', function connection(ws) {
      ws.on('error', console.error);
      ws.on('message', function message(data, isBinary) {
        wss.clients.forEach(function each(client) {
          if ((includeSelf || client !== ws) && client.readyState === WebSocketClass.OPEN) {
            client.send(data, { binary: isBinary });
          }
        });
      });
    });
    // ---
    await once(wss, 'listening');
    const clients = [];
    for (let i = 0; i < 3; i++) clients.push(await s.connect(urlOf(wss)));
    await until(() => wss.clients.size === 3, 5000, 'three clients');
    const boxes = clients.map(inbox);
    clients[0].send('to all');
    const expected = includeSelf ? [0, 1, 2] : [1, 2];
    for (const i of expected) assert.equal((await boxes[i].next()).data.toString(), 'to all');
    if (!includeSelf) {
      await delay(100);
      assert.equal(boxes[0].queue.length, 0, 'the sender is left out');
    }
    clients[1].send(Buffer.from([1, 2, 3]));
    const bin = await boxes[2].next();
    assert.equal(bin.isBinary, true);
  }
});

test('README: heartbeat with ping/pong and terminate() drops a client that stopped answering', { timeout: 30000 }, async (t) => {
  const s = scope(t);
  // --- as in ws's README (interval shortened) ---
  function heartbeat() {
    this.isAlive = true;
  }
  const wss = s.wss({ port: 0, host: '127.0.0.1' });
  wss.on('connection', function connection(ws) {
    ws.isAlive = true;
    ws.on('error', console.error);
    ws.on('pong', heartbeat);
  });
  const interval = setInterval(function ping() {
    wss.clients.forEach(function each(ws) {
      if (ws.isAlive === false) return ws.terminate();
      ws.isAlive = false;
      ws.ping();
    });
  }, 100);
  wss.on('close', function close() {
    clearInterval(interval);
  });
  // ---
  s.defer(() => clearInterval(interval));
  await once(wss, 'listening');
  const healthy = await s.connect(urlOf(wss));
  const silent = await s.connect(urlOf(wss), undefined, { autoPong: false }); // never answers pings
  const silentClosed = closed(silent, 5000);
  assert.equal((await silentClosed).code, 1006);
  await delay(350);
  assert.equal(healthy.readyState, WS.OPEN, 'the client that answers stays');
  assert.equal(wss.clients.size, 1);
});

// ---- sockets the engine cannot adopt: https (TLS) and other streams ------------------------------

test('https server: handleUpgrade through the loopback bridge (echo, secure, big messages, close codes, limits)', { timeout: 60000 }, async (t) => {
  const cert = selfSignedCert();
  if (!cert) return t.skip('openssl is not available to make a certificate');
  const s = scope(t);
  const server = https.createServer(cert, (req, res) => res.end('https'));
  const infos = [];
  const wss = s.wss({ server, maxPayload: 2 * 1024 * 1024, verifyClient: (info) => infos.push(info) > 0 });
  wss.on('connection', (ws, req) => {
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => {
      if (String(data) === 'close please') ws.close(4002, 'as asked');
      else ws.send(data, { binary: isBinary });
    });
    ws.send(`hello ${req.socket.remoteAddress}`);
  });
  await s.http(server);
  const url = httpUrl(server, '/secure', 'wss');
  const client = s.client(url, undefined, { rejectUnauthorized: false });
  const box = inbox(client);
  await opened(client);
  assert.equal(infos[0].secure, true);
  assert.match((await box.next()).data.toString(), /^hello .*127\.0\.0\.1$/);
  const big = crypto.randomBytes(1024 * 1024 + 3);
  client.send(big);
  const echoed = await box.next(20000);
  assert.ok(echoed.data.equals(big));
  const serverWs = [...wss.clients][0];
  assert.match(serverWs._socket.remoteAddress, /127\.0\.0\.1$/);
  assert.equal(serverWs._socket.remotePort, client._socket.localPort, "the client's real port, not the relay's");
  const clientClose = closed(client);
  client.send('close please');
  assert.deepEqual(await clientClose, { code: 4002, reason: 'as asked' });

  const second = s.client(url, undefined, { rejectUnauthorized: false });
  await opened(second);
  const secondClose = closed(second);
  // The client's 'open' can come before the server's 'connection': both run on this thread.
  const openOnServer = () => [...wss.clients].find((ws) => ws.readyState === WebSocket.OPEN);
  await until(openOnServer, 5000, "the second client's server-side WebSocket");
  const serverErrors = once(openOnServer(), 'error');
  second.send(Buffer.alloc(2 * 1024 * 1024 + 1));
  assert.equal((await secondClose).code, 1009);
  assert.equal((await serverErrors)[0].code, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
});

test('any Duplex stream: handleUpgrade over a stream without a descriptor uses the bridge', async (t) => {
  const s = scope(t);
  const wss = s.wss({ noServer: true });
  wss.on('connection', (ws) => ws.on('message', (d) => ws.send(`via stream: ${d}`)));
  const server = http.createServer();
  server.on('upgrade', (req, socket, head) => {
    // A plain Duplex wrapping the socket: no _handle, no fd.
    const wrapped = new Duplex({
      read() {
        socket.resume();
      },
      write(chunk, encoding, callback) {
        socket.write(chunk, callback);
      },
      final(callback) {
        socket.end();
        callback();
      },
      destroy(err, callback) {
        socket.destroy();
        callback(err);
      },
    });
    socket.on('data', (chunk) => {
      if (!wrapped.push(chunk)) socket.pause();
    });
    socket.on('end', () => wrapped.push(null));
    socket.on('close', () => wrapped.destroy());
    wss.handleUpgrade(req, wrapped, head, (ws) => wss.emit('connection', ws, req));
  });
  await s.http(server);
  const client = await s.connect(httpUrl(server));
  const box = inbox(client);
  client.send('hi');
  assert.equal((await box.next()).data.toString(), 'via stream: hi');
  const clientClose = closed(client);
  client.close(4100, 'bye');
  assert.equal((await clientClose).code, 4100);
});

test('express: an app on http.createServer(app) shares its port with a WebSocketServer', { timeout: 30000 }, async (t) => {
  const s = scope(t);
  let app;
  if (express) {
    app = express();
    app.get('/hello', (req, res) => res.send('hello from express'));
  } else {
    // express is not installed here: an express-style request handler on plain http.
    t.diagnostic('express is not installed: using an express-style (req, res) app on http.createServer');
    app = (req, res) => {
      if (req.url === '/hello') res.end('hello from express');
      else {
        res.statusCode = 404;
        res.end();
      }
    };
  }
  const server = http.createServer(app);
  const wss = s.wss({ server, path: '/ws' });
  wss.on('connection', (ws, req) => ws.send(`ws at ${req.url}`));
  await s.http(server);
  const body = await withTimeout(
    new Promise((resolve, reject) => {
      http.get(`http://127.0.0.1:${server.address().port}/hello`, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve(text));
      }).on('error', reject);
    }),
    5000,
    'the http response',
  );
  assert.equal(body, 'hello from express');
  const client = s.client(httpUrl(server, '/ws'));
  assert.equal((await once(client, 'message'))[0].toString(), 'ws at /ws');
});

// ---- createWebSocketStream ----------------------------------------------------------------

test('createWebSocketStream: a Duplex over a server-side WebSocket (data both ways, end closes, close ends)', async (t) => {
  const s = scope(t);
  const { client, ws } = await pair(s);
  const duplex = createWebSocketStream(ws, { encoding: 'utf8' });
  const chunks = [];
  duplex.on('data', (chunk) => chunks.push(chunk));
  const box = inbox(client);
  duplex.write('from the stream');
  const m = await box.next();
  assert.equal(m.data.toString(), 'from the stream');
  assert.equal(m.isBinary, true, 'written chunks are binary messages, as in ws');
  client.send('to the stream');
  await until(() => chunks.length === 1, 5000, 'stream data');
  assert.equal(chunks[0], 'to the stream');
  const clientClose = closed(client);
  const streamClosed = once(duplex, 'close');
  duplex.end();
  assert.equal((await clientClose).code, 1005);
  await streamClosed;
  assert.equal(ws.readyState, WebSocket.CLOSED);
});

test('createWebSocketStream: backpressure pauses the WebSocket; destroy() terminates it; errors destroy the stream', async (t) => {
  const s = scope(t);
  const a = await pair(s, { maxPayload: 1000 });
  const duplex = createWebSocketStream(a.ws, { highWaterMark: 16 });
  for (let i = 0; i < 10; i++) a.client.send(Buffer.alloc(100, i));
  await until(() => a.ws.isPaused, 5000, 'the WebSocket to be paused by backpressure');
  let total = 0;
  duplex.on('data', (chunk) => (total += chunk.length));
  await until(() => total === 1000, 5000, 'all data once read');
  assert.equal(a.ws.isPaused, false);
  const streamError = once(duplex, 'error');
  a.client.send(Buffer.alloc(1001));
  assert.equal((await streamError)[0].code, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');

  const b = await pair(s);
  const d2 = createWebSocketStream(b.ws);
  const clientClose = closed(b.client);
  const d2Closed = once(d2, 'close');
  d2.destroy();
  assert.equal((await clientClose).code, 1006);
  await d2Closed;

  const c = await pair(s);
  const d3 = createWebSocketStream(c.ws);
  d3.resume();
  const ended = once(d3, 'end');
  c.client.close(1000);
  await ended;
});

// ---- the same scenarios against ws's own server: the same errors and close codes -----------

/** What the server side and the client see in one scenario, with ws's server or lws's. */
async function observe(s, Server, options, clientAction, serverAction) {
  const wss = new Server({ port: 0, host: '127.0.0.1', ...options });
  s.defer(() => shutdown(wss));
  await once(wss, 'listening');
  const events = [];
  let serverClosed;
  const serverDone = new Promise((resolve) => {
    serverClosed = resolve;
  });
  wss.on('connection', (ws) => {
    ws.on('error', (err) => events.push(['error', err.constructor.name, err.message, err.code, ws.readyState]));
    ws.on('close', (code, reason) => {
      events.push(['close', code, reason.toString(), ws.readyState]);
      serverClosed();
    });
    if (serverAction) serverAction(ws);
  });
  const client = new WS(`ws://127.0.0.1:${wss.address().port}/`);
  client.on('error', () => {});
  s.defer(() => client.terminate());
  const clientDone = closed(client, 10000);
  await opened(client);
  if (clientAction) clientAction(client);
  const { code } = await clientDone;
  await withTimeout(serverDone, 10000, 'the server-side close');
  return { server: events, clientSawCode: code };
}

const SCENARIOS = [
  ['a message over maxPayload', { maxPayload: 10 }, (c) => c.send('x'.repeat(11))],
  ['invalid UTF-8 in a text message', {}, (c) => c._socket.write(frame(1, Buffer.from([0x68, 0xc3, 0x28])))],
  ['invalid UTF-8 split across fragments', {}, (c) => c._socket.write(Buffer.concat([frame(1, Buffer.from([0xe2, 0x82]), { fin: false }), frame(0, Buffer.from([0x28]))]))],
  ['invalid UTF-8 in a close reason', {}, (c) => c._socket.write(frame(8, Buffer.from([0x03, 0xe8, 0xff])))],
  ['an invalid close code (999)', {}, (c) => c._socket.write(frame(8, Buffer.from([0x03, 0xe7])))],
  ['a close payload of 1 byte', {}, (c) => c._socket.write(frame(8, Buffer.from([0x03])))],
  ['an unmasked frame', {}, (c) => c._socket.write(frame(1, 'hi', { mask: false }))],
  ['a reserved opcode', {}, (c) => c._socket.write(frame(3, 'x'))],
  ['RSV1 without an extension', {}, (c) => c._socket.write(frame(1, 'x', { rsv1: true }))],
  ['a fragmented ping', {}, (c) => c._socket.write(frame(9, 'x', { fin: false }))],
  ['a ping over 125 bytes', {}, (c) => c._socket.write(frame(9, Buffer.alloc(126)))],
  ['a continuation without a message', {}, (c) => c._socket.write(frame(0, 'x'))],
  ['a client close with code and reason', {}, (c) => c.close(4000, 'bye')],
  ['a client close with 1001', {}, (c) => c.close(1001)],
  ['a client close without a code', {}, (c) => c.close()],
  ['a client dropping the connection', {}, (c) => c.terminate()],
  ['server close(4001, reason)', {}, null, (ws) => ws.close(4001, 'server bye')],
  ['server close(1011)', {}, null, (ws) => ws.close(1011)],
  ['server close() without a code', {}, null, (ws) => ws.close()],
  ['server terminate()', {}, null, (ws) => ws.terminate()],
];

for (const [name, options, clientAction, serverAction] of SCENARIOS) {
  test(`same as ws: ${name}`, { timeout: 30000 }, async (t) => {
    const s = scope(t);
    const reference = await observe(s, WS.WebSocketServer, options, clientAction, serverAction);
    const ours = await observe(s, WebSocketServer, options, clientAction, serverAction);
    assert.deepEqual(ours, reference);
  });
}

// ---- the same transcripts as ws: requests, pings, bufferedAmount, close timer, compression, streams ----
//
// Each scenario runs against ws's server and lws's with the real ws client; what the
// server side observes (events in order, arguments, readyState, bufferedAmount) must
// be the same, and so must what the client observes. Only the interleaving of the two
// endpoints is free: it depends on scheduling across them.

/** Runs `scenario({ ws, client, log, clientLog, ... })` on a fresh pair; resolves with both logs. */
async function transcript(s, Server, options, scenario, clientOptions) {
  const wss = new Server({ port: 0, host: '127.0.0.1', ...(Server === WebSocketServer ? ENGINE_OPTIONS : {}), ...options });
  s.defer(() => shutdown(wss));
  await once(wss, 'listening');
  const conn = nextConnection(wss);
  const client = await s.connect(urlOf(wss), undefined, clientOptions);
  const { ws, req } = await conn;
  const log = [];
  const clientLog = [];
  const show = (v) => (Buffer.isBuffer(v) ? `<${v.length > 40 ? `${v.length} bytes` : v.toString()}>` : v instanceof Error ? `${v.constructor.name}: ${v.message}` : v);
  const clientClosed = closed(client, 10000);
  await scenario({
    ws, req, client, wss, clientClosed,
    log: (...args) => log.push(args.map(show)),
    clientLog: (...args) => clientLog.push(args.map(show)),
  });
  return { server: log, client: clientLog };
}

/** The scenario against ws and against lws: both endpoints' transcripts must be equal. */
async function sameAsWs(t, options, scenario, clientOptions) {
  const s = scope(t);
  const reference = await transcript(s, WS.WebSocketServer, options, scenario, clientOptions);
  const ours = await transcript(s, WebSocketServer, options, scenario, clientOptions);
  assert.deepEqual(ours, reference);
  return ours;
}

/** What a ws user reads off a request object. */
function requestView(req) {
  const { socket } = req;
  const headers = { ...req.headers, 'sec-websocket-key': 'K', host: 'H' };
  return {
    incomingMessage: req instanceof http.IncomingMessage,
    readable: req.readable,
    method: req.method,
    url: req.url,
    headers,
    rawHeaders: req.rawHeaders.map((v, i) => (i % 2 === 1 && /^(sec-websocket-key|host)$/i.test(req.rawHeaders[i - 1]) ? '-' : v)),
    httpVersion: [req.httpVersion, req.httpVersionMajor, req.httpVersionMinor],
    aborted: req.aborted,
    complete: req.complete,
    upgrade: req.upgrade,
    trailers: req.trailers,
    connectionIsSocket: req.connection === socket,
    socket: {
      remoteAddress: socket.remoteAddress,
      remotePort: typeof socket.remotePort,
      remoteFamily: socket.remoteFamily,
      localAddress: socket.localAddress,
      localPort: typeof socket.localPort,
      encrypted: socket.encrypted,
    },
  };
}

for (const host of ['127.0.0.1', '::1']) {
  test(`request objects [port mode, ${host}]: verifyClient, handleProtocols, 'headers' and 'connection' get an http.IncomingMessage as ws's`, async (t) => {
    const s = scope(t);
    const observe = async (Server) => {
      const seen = [];
      const wss = new Server({
        port: 0, host,
        ...(Server === WebSocketServer ? ENGINE_OPTIONS : {}),
        verifyClient: (info) => seen.push(['verifyClient', info.origin, info.secure, requestView(info.req)]) > 0,
        handleProtocols: (protocols, req) => seen.push(['handleProtocols', [...protocols], requestView(req)]) && 'b',
      });
      s.defer(() => shutdown(wss));
      wss.on('headers', (lines, req) => seen.push(['headers', requestView(req)]));
      await once(wss, 'listening');
      const conn = nextConnection(wss);
      const url = `ws://${host.includes(':') ? `[${host}]` : host}:${wss.address().port}/p?q=1`;
      await s.connect(url, ['a', 'b'], { headers: { 'X-Foo': 'bar', Cookie: 'c=1' }, origin: 'http://o.example' });
      const { ws, req } = await conn;
      seen.push(['connection', ws.protocol, requestView(req)]);
      assert.equal(req.socket.localPort, wss.address().port);
      return seen;
    };
    const reference = await observe(WS.WebSocketServer);
    assert.deepEqual(await observe(WebSocketServer), reference);
  });
}

test('request objects [port mode]: repeated headers are joined or dropped by Node\'s rules; nothing keeps the request after \'connection\'', async (t) => {
  const s = scope(t);
  const gc = require('node:vm').runInNewContext('gc', (require('node:v8').setFlagsFromString('--expose-gc'), {}));
  const observe = async (Server) => {
    const wss = new Server({ port: 0, host: '127.0.0.1', ...(Server === WebSocketServer ? ENGINE_OPTIONS : {}) });
    s.defer(() => shutdown(wss));
    await once(wss, 'listening');
    let weak;
    const headers = new Promise((resolve) => wss.once('connection', (ws, req) => {
      weak = new WeakRef(req);
      resolve({ ...req.headers, distinct: req.headersDistinct['x-foo'] });
    }));
    const raw = upgradeText('/', { 'X-Foo': '1\r\nX-Foo: 2', Cookie: 'a=1\r\nCookie: b=2', 'User-Agent': 'u1\r\nUser-Agent: u2', 'Set-Cookie': 's1\r\nSet-Cookie: s2' });
    const response = rawRequest(wss.address().port, raw);
    const result = await withTimeout(headers, 5000, "'connection'");
    assert.match(await response, /^HTTP\/1\.1 101/);
    return { result, weak };
  };
  const reference = await observe(WS.WebSocketServer);
  const ours = await observe(WebSocketServer);
  assert.deepEqual(ours.result, reference.result);
  // The engine's socket, the WebSocket and the server hold no reference to the request.
  await until(() => {
    gc();
    return ours.weak.deref() === undefined;
  }, 5000, 'the request to be collected');
});

test("autoPong: ws's option; false leaves pings to ws.pong() ('ping' is emitted either way)", async (t) => {
  for (const autoPong of [undefined, true, false]) {
    const options = autoPong === undefined ? {} : { autoPong };
    await sameAsWs(t, options, async ({ ws, client, log, clientLog }) => {
      ws.on('ping', (data) => {
        log('ping', data, ws.readyState);
        if (data.toString() === 'answer me') ws.pong(Buffer.from('by hand'));
      });
      client.on('pong', (data) => clientLog('pong', data));
      client.ping('p1');
      client.ping('answer me');
      await delay(150);
      clientLog('end');
    });
  }
});

test("'ping'/'pong' events: payloads and order among messages as in ws, with or without listeners", async (t) => {
  await sameAsWs(t, {}, async ({ ws, client, log, clientLog }) => {
    for (const name of ['message', 'ping', 'pong']) ws.on(name, (data, isBinary) => log(name, data, isBinary));
    client.on('pong', (data) => clientLog('pong', data));
    client.send('a');
    client.pong('u1');
    client.ping('p');
    client.ping();
    client.send(Buffer.from('b'));
    client.pong(Buffer.from([1, 2, 3]));
    client.send('c');
    await delay(150);
    // No listener: the ping is still answered, and a listener added later sees only later pings.
    ws.removeAllListeners('ping');
    client.ping('unheard');
    await delay(100);
    ws.on('ping', (data) => log('late listener', data));
    ws.ping('from server');
    client.ping('heard');
    await delay(150);
  });
});

test("pause(): pings, pongs and messages all wait for resume() and keep their order (autoPong: false, as ws reads nothing while paused)", async (t) => {
  await sameAsWs(t, { autoPong: false }, async ({ ws, client, log, clientLog }) => {
    for (const name of ['message', 'pong']) ws.on(name, (data) => log(name, data));
    ws.on('ping', (data) => {
      log('ping', data);
      ws.pong(data);
    });
    client.on('pong', (data) => clientLog('pong', data));
    ws.pause();
    client.send('a');
    client.ping('p');
    client.pong('q');
    client.send('b');
    await delay(150);
    log('resume');
    ws.resume();
    await delay(150);
  });
});

test('bufferedAmount: while compressing (deflate, counted uncompressed), while CLOSING and after close, as in ws', async (t) => {
  await sameAsWs(t, { perMessageDeflate: { threshold: 0 } }, async ({ ws, client, log, clientClosed }) => {
    log('extensions', ws.extensions);
    ws.send('x'.repeat(10000));
    log('after 10000', ws.bufferedAmount);
    ws.send('y'.repeat(100));
    log('after 100 more', ws.bufferedAmount);
    await delay(100);
    log('written', ws.bufferedAmount);
    ws.on('close', (code) => log('close', code, ws.readyState, ws.bufferedAmount));
    ws.close(1000);
    log('closing', ws.readyState, ws.bufferedAmount);
    ws.send('abc', (err) => log('send callback', err, ws.bufferedAmount));
    ws.ping('pp');
    log('sent while closing', ws.bufferedAmount);
    await clientClosed;
    await delay(100);
    ws.send(Buffer.alloc(10));
    log('sent after close', ws.readyState, ws.bufferedAmount);
  }, { perMessageDeflate: true });
});

test('bufferedAmount: a large message to a client that does not read stays counted until it is read', async (t) => {
  const s = scope(t);
  const { client, ws } = await pair(s);
  client._socket.pause();
  ws.send(Buffer.alloc(8 << 20));
  assert.ok(ws.bufferedAmount >= 8 << 20);
  await delay(200);
  assert.ok(ws.bufferedAmount > 1 << 20, `bufferedAmount ${ws.bufferedAmount} while the client reads nothing`);
  client._socket.resume();
  await until(() => ws.bufferedAmount === 0, 5000, 'bufferedAmount to drop to 0');
});

test("the peer's close frame: CLOSING from there (after the messages before it), replies sent before it still arrive", async (t) => {
  await sameAsWs(t, {}, async ({ ws, client, log, clientLog, clientClosed }) => {
    ws.on('message', (data) => {
      log('message', data, ws.readyState);
      ws.send(`re:${data}`, (err) => log('reply callback', err));
      process.nextTick(() => {
        log('next tick', ws.readyState);
        ws.send('late', (err) => log('late callback', err, ws.bufferedAmount));
      });
    });
    ws.on('close', (code, reason) => log('close', code, reason, ws.readyState, ws.bufferedAmount));
    client.on('message', (data) => clientLog('message', data));
    client.send('a');
    client.close(4000, 'bye');
    await clientClosed;
    await delay(100);
  });
});

/** A WebSocket client on a raw socket that never answers a close frame (nor a FIN). */
async function silentClient(port) {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(upgradeText('/'));
  let head = '';
  await withTimeout(new Promise((resolve) => {
    const onData = (chunk) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.removeListener('data', onData);
      resolve();
    };
    socket.on('data', onData);
  }), 5000, 'the 101');
  socket.resume();
  return socket;
}

test("close(): ws's close timer (closeTimeout) ends a close the peer does not answer with 1006, events as in ws", { timeout: 30000 }, async (t) => {
  const s = scope(t);
  const observe = async (Server, answerAfter) => {
    const wss = new Server({ port: 0, host: '127.0.0.1', closeTimeout: 500, ...(Server === WebSocketServer ? ENGINE_OPTIONS : {}) });
    s.defer(() => shutdown(wss));
    await once(wss, 'listening');
    const conn = nextConnection(wss);
    const raw = await silentClient(wss.address().port);
    s.defer(() => raw.destroy());
    const { ws } = await conn;
    const log = [];
    for (const name of ['message', 'ping', 'pong']) ws.on(name, (data) => log.push([name, data.toString(), ws.readyState]));
    const started = Date.now();
    const done = once(ws, 'close', 10000);
    ws.close(4000, 'bye');
    log.push(['closing', ws.readyState]);
    await delay(100);
    // The peer goes on talking without answering: ws still emits what it reads (no automatic pong).
    raw.write(Buffer.concat([frame(1, 'late'), frame(9, 'pi'), frame(10, 'po')]));
    if (answerAfter) setTimeout(() => raw.write(frame(8, Buffer.from([0x0f, 0xa0, 0x6f, 0x6b]))), answerAfter);
    const [code, reason] = await done;
    log.push(['close', code, reason.toString(), ws.readyState]);
    return { log, elapsed: Date.now() - started };
  };
  const reference = await observe(WS.WebSocketServer);
  const ours = await observe(WebSocketServer);
  assert.deepEqual(ours.log, reference.log);
  assert.deepEqual(ours.log.at(-1), ['close', 1006, '', WebSocket.CLOSED]);
  assert.ok(ours.elapsed >= 450 && ours.elapsed < 1400, `closed after ${ours.elapsed} ms (closeTimeout 500)`);
  // Answered in time: the peer's code, not 1006.
  const answered = await observe(WebSocketServer, 200);
  assert.deepEqual(answered.log.at(-1), ['close', 4000, 'ok', WebSocket.CLOSED]);
});

test('terminate() while a message is being compressed: it is not sent, its callback gets ws\'s error, its bytes stay in bufferedAmount', async (t) => {
  const big = 'abc'.repeat(1 << 20);
  await sameAsWs(t, { perMessageDeflate: { threshold: 0 } }, async ({ ws, client, log, clientLog, clientClosed }) => {
    client.on('message', (data) => clientLog('message', data.length));
    ws.on('close', (code) => log('close', code, ws.readyState, ws.bufferedAmount));
    ws.send(big, (err) => log('callback 1', err, ws.readyState));
    ws.send('behind it', (err) => log('callback 2', err, ws.readyState));
    log('sent', ws.bufferedAmount);
    ws.terminate();
    log('terminated', ws.readyState, ws.bufferedAmount);
    ws.send('after', (err) => log('callback 3', err, ws.readyState));
    await clientClosed;
    await delay(100);
  }, { perMessageDeflate: true });
});

test('close() while a message is being compressed: the message, then the close frame', async (t) => {
  const big = 'abc'.repeat(1 << 20);
  await sameAsWs(t, { perMessageDeflate: { threshold: 0 } }, async ({ ws, client, log, clientLog, clientClosed }) => {
    client.on('message', (data) => clientLog('message', data.length));
    client.on('close', (code, reason) => clientLog('close', code, reason));
    ws.on('close', (code, reason) => log('close', code, reason, ws.readyState, ws.bufferedAmount));
    ws.send(big, (err) => log('callback', err, ws.readyState));
    ws.close(4000, 'done');
    log('closing', ws.readyState);
    await clientClosed;
    await delay(100);
  }, { perMessageDeflate: true });
});

/** A duplex over `ws` whose events (and the WebSocket's) are logged. */
function loggedStream(ws, log, options) {
  const duplex = (ws instanceof WS ? WS.createWebSocketStream : createWebSocketStream)(ws, options);
  for (const name of ['prefinish', 'finish', 'end', 'close']) duplex.on(name, () => log(name, ws.readyState, duplex.destroyed));
  duplex.on('error', (err) => log('error', err, ws.readyState));
  duplex.on('data', (chunk) => log('data', typeof chunk === 'string' ? `string ${chunk}` : chunk));
  ws.on('close', (code) => log('ws close', code, duplex.destroyed));
  ws.on('error', (err) => log('ws error', err));
  return duplex;
}

const STREAM_SCENARIOS = [
  ['the client closes while the stream flows; a write after that fails', {}, async ({ ws, client, log, clientClosed }) => {
    const duplex = loggedStream(ws, log);
    client.send('hello');
    client.send(Buffer.from('bin'));
    await delay(50);
    client.close(1000, 'bye');
    await clientClosed;
    await delay(100);
    duplex.write('late', (err) => log('write callback', err));
    await delay(50);
  }],
  ['end(): the close handshake, then finish, end and close', {}, async ({ ws, client, log, clientLog, clientClosed }) => {
    const duplex = loggedStream(ws, log);
    client.on('message', (data) => clientLog('message', data));
    duplex.write('one');
    duplex.end('two');
    log('ended', ws.readyState);
    await clientClosed;
    await delay(100);
  }],
  ['end() after the client closed', {}, async ({ ws, client, log, clientClosed }) => {
    const duplex = loggedStream(ws, log);
    client.close(1000);
    await clientClosed;
    await delay(50);
    duplex.end();
    await delay(100);
  }],
  ['ws.close() by the user, then end() while closing', {}, async ({ ws, log, clientClosed }) => {
    const duplex = loggedStream(ws, log);
    ws.close(4000);
    duplex.end();
    await clientClosed;
    await delay(100);
  }],
  ['ws.terminate() by the user, then end(): the writable side never finishes (as in ws)', {}, async ({ ws, log, clientClosed }) => {
    const duplex = loggedStream(ws, log);
    ws.terminate();
    await clientClosed;
    await delay(50);
    duplex.end();
    await delay(100);
    log('writableFinished', duplex.writableFinished, duplex.destroyed);
  }],
  ['destroy() terminates', {}, async ({ ws, log, clientClosed }) => {
    loggedStream(ws, log).destroy();
    log('destroyed', ws.readyState);
    await clientClosed;
    await delay(100);
  }],
  ['destroy(err)', {}, async ({ ws, log, clientClosed }) => {
    loggedStream(ws, log).destroy(new Error('boom'));
    await clientClosed;
    await delay(100);
  }],
  ['a protocol error from the client', {}, async ({ ws, client, log, clientClosed }) => {
    loggedStream(ws, log);
    client._socket.write(frame(1, 'x', { mask: false }));
    await clientClosed;
    await delay(100);
  }],
  ['maxPayload exceeded', { maxPayload: 10 }, async ({ ws, client, log, clientClosed }) => {
    loggedStream(ws, log);
    client.send('x'.repeat(20));
    await clientClosed;
    await delay(100);
  }],
  ['the client drops the connection', {}, async ({ ws, client, log, clientClosed }) => {
    loggedStream(ws, log);
    client.terminate();
    await clientClosed;
    await delay(100);
  }],
  ['readableObjectMode: text as strings, binary as Buffers; objectMode and writableObjectMode forced off', {}, async ({ ws, client, log }) => {
    const duplex = loggedStream(ws, log, { readableObjectMode: true, objectMode: true, writableObjectMode: true });
    log('modes', duplex.readableObjectMode, duplex.writableObjectMode);
    client.send('t');
    client.send(Buffer.from('b'));
    await delay(50);
    assert.throws(() => duplex.write({ a: 1 }), { code: 'ERR_INVALID_ARG_TYPE' });
  }],
  ['encoding: utf8 and decodeStrings: false', {}, async ({ ws, client, log, clientLog }) => {
    const duplex = loggedStream(ws, log, { encoding: 'utf8', decodeStrings: false });
    client.on('message', (data, isBinary) => clientLog('message', data, isBinary));
    client.send(Buffer.from('bytes'));
    duplex.write('a string');
    await delay(50);
  }],
];

for (const [name, options, scenario] of STREAM_SCENARIOS) {
  test(`createWebSocketStream, same events as ws: ${name}`, { timeout: 30000 }, (t) => sameAsWs(t, options, scenario));
}

// The ws layer's messages are copies: small batches of them share one buffer in the engine's
// bridge, so a message kept must not see the batches that come after it.
test('messages kept by listeners, server and lws.WebSocket client, stay intact while later batches arrive', async (t) => {
  const s = scope(t);
  const wss = s.wss({ port: 0, host: '127.0.0.1' });
  const keptByServer = [];
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      keptByServer.push(data);
      ws.send(data, { binary: isBinary });
    });
  });
  await once(wss, 'listening');
  const client = new WebSocket(urlOf(wss));
  t.after(() => client.terminate());
  await opened(client);
  const keptByClient = [];
  client.on('message', (data) => keptByClient.push(data));
  const sent = Array.from({ length: 300 }, (_, i) => `${i} ${String.fromCharCode(97 + (i % 26)).repeat(i % 97)}`);
  for (let i = 0; i < sent.length; i++) {
    client.send(i % 3 === 0 ? Buffer.from(sent[i]) : sent[i]);
    if (i % 7 === 0) await delay(1); // many batches, of a few messages each
  }
  await until(() => keptByClient.length === sent.length, 10000, 'every echo');
  assert.deepEqual(keptByServer.map(String), sent);
  assert.deepEqual(keptByClient.map(String), sent);
});
