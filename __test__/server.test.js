'use strict';
// Integration tests for lws.Server (node-lws 5 style API) against the real
// `ws` client. Every server and client is closed by the test that opened it,
// and every wait is bounded.
//
// Run: node --test --test-concurrency=1 __test__/server.test.js

const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const { spawn } = require('node:child_process');
const WebSocket = require('ws');

const ROOT = path.join(__dirname, '..');
const lws = require(ROOT);
const { withTimeout, once, sleep: delay, waitUntil: until, opened, closed, inbox } = require('./helpers/wait');

// ---- helpers ------------------------------------------------------------------

const tick = () => new Promise((resolve) => setImmediate(resolve));

const { ENGINE_OPTIONS } = require('./helpers/engine'); // LWS_TEST_THREADS (js-thread.test.js)

function closeServer(server, ms = 15000) {
  return withTimeout(new Promise((resolve) => server.close(resolve)), ms, 'server.close callback');
}

/** Resolves with the HTTP response of a refused handshake. */
function unexpectedResponse(ws, ms = 5000) {
  return withTimeout(
    new Promise((resolve, reject) => {
      ws.once('unexpected-response', (req, res) => {
        res.resume();
        resolve({ status: res.statusCode, headers: res.headers });
        req.destroy();
      });
      ws.once('open', () => reject(new Error('the connection opened although it should be refused')));
    }),
    ms,
    "'unexpected-response'",
  );
}

/**
 * Per-test resources: servers, clients and other things are released by
 * t.after, whatever the outcome of the test.
 */
function scope(t) {
  const servers = new Set();
  const clients = new Set();
  const cleanups = [];
  t.after(async () => {
    for (const ws of clients) {
      try {
        ws.terminate();
      } catch {
        // already gone
      }
    }
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch {
        // best effort
      }
    }
    await Promise.all([...servers].map((server) => closeServer(server).catch(() => {})));
  });
  return {
    /** A tracked server; `setup` attaches listeners before 'listening' is awaited. */
    async listen(options = {}, setup) {
      const server = new lws.Server({ port: 0, ...ENGINE_OPTIONS, ...options });
      servers.add(server);
      if (setup) setup(server);
      await once(server, 'listening');
      assert.ok(Number.isInteger(server.port) && server.port > 0, 'server.port is the bound port');
      return server;
    },
    track(server) {
      servers.add(server);
      return server;
    },
    client(url, options) {
      const ws = new WebSocket(url, options);
      ws.on('error', () => {}); // errors are awaited explicitly where they matter
      clients.add(ws);
      return ws;
    },
    async connect(url, options) {
      return opened(this.client(url, options));
    },
    defer(fn) {
      cleanups.push(fn);
    },
  };
}

const urlOf = (server, p = '/') => `ws://127.0.0.1:${server.port}${p}`;

function echo(server) {
  server.on('message', (socket, message, binary) => server.send(socket, message, binary));
}

/** Opens `n` clients in batches (a burst of thousands of SYNs overflows the backlog). */
async function connectMany(s, url, n, batch = 200, perBatchMs = 20000) {
  const clients = [];
  for (let i = 0; i < n; i += batch) {
    const group = [];
    for (let j = i; j < Math.min(n, i + batch); j++) {
      const ws = s.client(url, { perMessageDeflate: false });
      clients.push(ws);
      group.push(opened(ws, perBatchMs));
    }
    await Promise.all(group);
  }
  return clients;
}

function httpGet(s, port, urlPath, ms = 5000) {
  let req;
  s.defer(() => req && req.destroy());
  return withTimeout(
    new Promise((resolve, reject) => {
      req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
        res.on('error', reject);
      });
      req.on('error', reject);
    }),
    ms,
    `HTTP GET ${urlPath}`,
  );
}

// ---- 1. echo and send() argument types -----------------------------------------

test('echo: text, binary (exact bytes), empty messages', { timeout: 30000 }, async (t) => {
  const s = scope(t);
  const server = await s.listen({}, echo);
  const ws = await s.connect(urlOf(server));
  const box = inbox(ws);

  ws.send('hello lws');
  let m = await box.next();
  assert.equal(m.isBinary, false);
  assert.equal(m.data.toString('utf8'), 'hello lws');

  const bytes = Buffer.from([0, 1, 2, 127, 128, 254, 255, 0x0d, 0x0a, 0]);
  ws.send(bytes);
  m = await box.next();
  assert.equal(m.isBinary, true);
  assert.deepEqual(Buffer.from(m.data), bytes);

  ws.send('');
  m = await box.next();
  assert.equal(m.isBinary, false);
  assert.equal(m.data.length, 0);

  ws.send(Buffer.alloc(0));
  m = await box.next();
  assert.equal(m.isBinary, true);
  assert.equal(m.data.length, 0);
});

test("a socket's setKeepAlive(true, ms) starts the kernel's keepalive timer on the connection (ss); setNoDelay() and both return the socket", { timeout: 30000 }, async (t) => {
  const s = scope(t);
  let returned = null;
  const server = await s.listen({}, (srv) => srv.on('connection', (socket) => {
    returned = [socket.setKeepAlive(true, 15000) === socket, socket.setNoDelay() === socket];
  }));
  await s.connect(urlOf(server));
  await until(() => returned !== null, 5000, "'connection'");
  assert.deepEqual(returned, [true, true]);
  // The server's end of the connection, as the kernel shows it: `timer:(keepalive,14sec,0)`.
  const timer = () => require('node:child_process').execFileSync('ss', ['-tnoH', 'state', 'established', `( sport = :${server.port} )`], { encoding: 'utf8' });
  await until(() => /timer:\(keepalive,1[0-5]sec/.test(timer()), 3000, 'the keepalive timer, at most 15 s').catch((err) => {
    throw new Error(`${err.message}: ${timer()}`);
  });
});

test('echo: a 1 MiB binary message comes back byte for byte', { timeout: 30000 }, async (t) => {
  const s = scope(t);
  let serverLength = -1;
  const server = await s.listen({}, (srv) => {
    srv.on('message', (socket, message, binary) => {
      serverLength = message.length;
      srv.send(socket, message, binary);
    });
  });
  const ws = await s.connect(urlOf(server));
  const box = inbox(ws);
  const big = crypto.randomBytes(1024 * 1024);
  ws.send(big);
  const m = await box.next(15000);
  assert.equal(serverLength, big.length);
  assert.equal(m.isBinary, true);
  assert.equal(m.data.length, big.length);
  assert.ok(Buffer.from(m.data).equals(big), '1 MiB payload differs');
});

test('echo: bursts of mixed sizes from 20 clients come back in order, byte for byte', { timeout: 60000 }, async (t) => {
  // Long messages read whole are lent from the engine's read buffer (MESSAGE_AT
  // records), short ones are copied, long ones split across reads are assembled:
  // bursts make one read hold all three kinds, for many sockets in one turn.
  const s = scope(t);
  const server = await s.listen({}, echo);
  const sizes = [10, 1023, 1024, 1025, 4000, 70000, 130, 200000, 0, 65536];
  const clients = await Promise.all(Array.from({ length: 20 }, () => s.connect(urlOf(server))));
  await Promise.all(clients.map(async (ws, c) => {
    const box = inbox(ws);
    const sent = [];
    for (let i = 0; i < 60; i++) {
      const size = sizes[(i + c) % sizes.length];
      const binary = i % 3 !== 0;
      const data = binary ? crypto.randomBytes(size) : Buffer.from('é'.repeat(size >> 1) + 'x'.repeat(size & 1));
      sent.push({ data, binary });
      ws.send(data, { binary });
    }
    for (const [i, want] of sent.entries()) {
      const m = await box.next(20000);
      assert.equal(m.isBinary, want.binary, `client ${c} message ${i}: type`);
      assert.ok(Buffer.from(m.data).equals(want.data), `client ${c} message ${i} (${want.data.length} bytes) intact`);
    }
  }));
});

test('echo: a message fragmented by the client arrives as one message', { timeout: 30000 }, async (t) => {
  const s = scope(t);
  const received = [];
  const server = await s.listen({}, (srv) => {
    srv.on('message', (socket, message, binary) => {
      received.push({ text: message.toString('utf8'), binary });
      srv.send(socket, message, binary);
    });
  });
  const ws = await s.connect(urlOf(server));
  const box = inbox(ws);
  ws.send('first half, ', { fin: false });
  ws.send('second half', { fin: true });
  const m = await box.next();
  assert.equal(m.isBinary, false);
  assert.equal(m.data.toString('utf8'), 'first half, second half');

  ws.send(Buffer.from([1, 2, 3]), { fin: false, binary: true });
  ws.send(Buffer.from([4, 5]), { fin: false, binary: true });
  ws.send(Buffer.from([6]), { fin: true, binary: true });
  const b = await box.next();
  assert.equal(b.isBinary, true);
  assert.deepEqual([...b.data], [1, 2, 3, 4, 5, 6]);

  // A text message whose 4-byte character is split across two frames.
  const utf8 = Buffer.from('split 🎉 here');
  ws.send(utf8.subarray(0, 8), { fin: false, binary: false });
  ws.send(utf8.subarray(8), { fin: true, binary: false });
  const u = await box.next();
  assert.equal(u.isBinary, false);
  assert.equal(u.data.toString('utf8'), 'split 🎉 here');

  assert.deepEqual(received, [
    { text: 'first half, second half', binary: false },
    { text: '\u0001\u0002\u0003\u0004\u0005\u0006', binary: true },
    { text: 'split 🎉 here', binary: false },
  ]);
});

test('echo: multi-byte UTF-8 strings survive both directions', { timeout: 30000 }, async (t) => {
  const s = scope(t);
  const seen = [];
  const server = await s.listen({}, (srv) => {
    srv.on('message', (socket, message, binary) => {
      const text = message.toString('utf8');
      seen.push({ text, binary });
      // Send back as a JS string (exercises the in-place UTF-8 encoding).
      srv.send(socket, text, false);
    });
  });
  const ws = await s.connect(urlOf(server));
  const box = inbox(ws);
  const samples = ['héllo wörld', '日本語のテキスト', 'emoji 🎉🚀 and 𝄞', 'ß'.repeat(5000), '€'.repeat(30000)];
  for (const text of samples) {
    ws.send(text);
    const m = await box.next();
    assert.equal(m.isBinary, false);
    assert.equal(m.data.toString('utf8'), text);
  }
  assert.deepEqual(
    seen.map((x) => x.text),
    samples,
  );
  assert.ok(seen.every((x) => x.binary === false));
});

test('send() accepts Buffer, Uint8Array, other TypedArrays, ArrayBuffer, DataView and string', { timeout: 30000 }, async (t) => {
  const s = scope(t);
  let typeError = null;
  const results = [];
  const server = await s.listen({}, (srv) => {
    srv.on('connection', (socket) => {
      results.push(srv.send(socket, Buffer.from([1, 2, 3]), true));
      results.push(srv.send(socket, new Uint8Array([4, 5, 6]), true));
      results.push(srv.send(socket, new Uint16Array([0x0102, 0x0304]), true));
      // A view with an offset: only its own bytes are sent.
      results.push(srv.send(socket, new Uint16Array([0xaaaa, 0x0b0a, 0x0d0c, 0xbbbb]).subarray(1, 3), true));
      results.push(srv.send(socket, new Uint8Array([7, 8, 9]).buffer, true));
      const backing = new Uint8Array([0xee, 0xee, 10, 11, 12, 0xee]).buffer;
      results.push(srv.send(socket, new DataView(backing, 2, 3), true));
      results.push(srv.send(socket, Buffer.from([13, 14, 15, 16, 17]).subarray(1, 4), true));
      results.push(srv.send(socket, 'a string ✓'));
      try {
        srv.send(socket, 42, true);
      } catch (err) {
        typeError = err;
      }
      results.push(srv.send(socket, 'after the TypeError'));
    });
  });
  const ws = s.client(urlOf(server));
  const box = inbox(ws);
  await opened(ws);
  const expected = [
    [true, [1, 2, 3]],
    [true, [4, 5, 6]],
    [true, [0x02, 0x01, 0x04, 0x03]],
    [true, [0x0a, 0x0b, 0x0c, 0x0d]],
    [true, [7, 8, 9]],
    [true, [10, 11, 12]],
    [true, [14, 15, 16]],
  ];
  for (const [isBinary, bytes] of expected) {
    const m = await box.next();
    assert.equal(m.isBinary, isBinary);
    assert.deepEqual([...m.data], bytes);
  }
  let m = await box.next();
  assert.equal(m.isBinary, false);
  assert.equal(m.data.toString('utf8'), 'a string ✓');
  m = await box.next();
  assert.equal(m.data.toString('utf8'), 'after the TypeError');
  assert.ok(typeError instanceof TypeError, `send(socket, 42) should throw a TypeError, got ${typeError}`);
  assert.deepEqual(results, new Array(9).fill(true));
});

// ---- 2. ping / pong ----------------------------------------------------------------

test('ping: a client ping gets an automatic pong with the same payload', { timeout: 30000 }, async (t) => {
  const s = scope(t);
  const server = await s.listen({}, echo);
  const ws = await s.connect(urlOf(server));
  const payload = Buffer.from('are you there?');
  const pong = once(ws, 'pong');
  ws.ping(payload);
  const [data] = await pong;
  assert.deepEqual(Buffer.from(data), payload);
});

test("ping: the server 'ping' and 'pong' events fire when listened to", { timeout: 30000 }, async (t) => {
  const s = scope(t);
  const pings = [];
  const pongs = [];
  let connected = null;
  const server = await s.listen({}, (srv) => {
    srv.on('connection', (socket) => (connected = socket));
    srv.on('ping', (socket, data) => pings.push({ socket, data: Buffer.from(data) }));
    srv.on('pong', (socket, data) => pongs.push({ socket, data: Buffer.from(data) }));
  });
  const ws = await s.connect(urlOf(server));
  const payload = Buffer.from([9, 8, 7, 6]);
  const pong = once(ws, 'pong');
  ws.ping(payload);
  const [data] = await pong;
  assert.deepEqual(Buffer.from(data), payload, 'the automatic pong still answers');
  await until(() => pings.length === 1, 5000, "the 'ping' event");
  assert.equal(pings[0].socket, connected);
  assert.deepEqual(pings[0].data, payload);

  ws.pong(Buffer.from('unsolicited'));
  await until(() => pongs.length === 1, 5000, "the 'pong' event");
  assert.equal(pongs[0].socket, connected);
  assert.equal(pongs[0].data.toString(), 'unsolicited');
});

// ---- 3. close codes ---------------------------------------------------------------

test("close: the client's code and reason reach the server 'close' event", { timeout: 30000 }, async (t) => {
  const s = scope(t);
  let connected = null;
  const server = await s.listen({}, (srv) => srv.on('connection', (socket) => (connected = socket)));
  const serverClose = once(server, 'close');
  const ws = await s.connect(urlOf(server));
  const clientClose = closed(ws);
  ws.close(4001, 'reason');
  const [socket, code, reason] = await serverClose;
  assert.equal(socket, connected);
  assert.equal(code, 4001);
  assert.equal(reason, 'reason');
  assert.equal((await clientClose).code, 4001, 'the server echoes the close code');

  // A multi-byte reason, and a close without a status code.
  const unicodeClose = once(server, 'close');
  const ws2 = await s.connect(urlOf(server));
  ws2.close(4999, 'adiós ✓');
  const [, code2, reason2] = await unicodeClose;
  assert.equal(code2, 4999);
  assert.equal(reason2, 'adiós ✓');

  const emptyClose = once(server, 'close');
  const ws3 = await s.connect(urlOf(server));
  ws3.close();
  const [, code3, reason3] = await emptyClose;
  assert.equal(code3, 1005, 'a close frame without a code is reported as 1005');
  assert.equal(reason3, '');
});

test('close: server.close(socket, code, reason) reaches the client', { timeout: 30000 }, async (t) => {
  const s = scope(t);
  const server = await s.listen({}, (srv) => {
    srv.on('connection', (socket) => assert.equal(srv.close(socket, 4002, 'bye'), true));
  });
  const serverClose = once(server, 'close');
  const ws = s.client(urlOf(server));
  const clientClose = closed(ws);
  await opened(ws);
  const { code, reason } = await clientClose;
  assert.equal(code, 4002);
  assert.equal(reason, 'bye');
  const [, serverCode] = await serverClose;
  assert.equal(serverCode, 4002);
});

// Nothing lost at close: a client that sends its last messages and closes gets every
// echo before the close reply, which echoes its code and reason, on every engine mode.
const CLOSE_ORDER_MODES = [
  ['threads: 1', {}],
  ['threads: 0', { threads: 0 }],
  ['threads: 2', { threads: 2 }],
  ['permessage-deflate', { perMessageDeflate: { threshold: 0 } }],
];
for (const [mode, options] of CLOSE_ORDER_MODES) {
  for (const api of ['Server', 'WebSocketServer']) {
    test(`close: messages sent just before the client's close are all echoed first (${api}, ${mode})`, { timeout: 30000 }, async (t) => {
      const s = scope(t);
      let server;
      let port;
      if (api === 'Server') {
        server = await s.listen({ ...options }, echo);
        port = server.port;
      } else {
        const { threads, ...ws } = { ...ENGINE_OPTIONS, ...options };
        server = new lws.WebSocketServer({ port: 0, host: '127.0.0.1', ...ws, ...(threads === undefined ? {} : { threads }) });
        s.defer(() => new Promise((resolve) => server.close(() => resolve())));
        server.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
        await once(server, 'listening');
        port = server.address().port;
      }
      const big = crypto.randomBytes(300 * 1024);
      for (let round = 0; round < 5; round++) {
        const ws = await s.connect(`ws://127.0.0.1:${port}/`, { perMessageDeflate: Boolean(options.perMessageDeflate) });
        const got = [];
        ws.on('message', (data) => got.push(data.length));
        const done = closed(ws);
        ws.send('hello');
        ws.send(big);
        ws.send('x'.repeat(5000));
        ws.send('world');
        ws.close(4000, 'bye');
        const { code, reason } = await done;
        assert.deepEqual(got, [5, big.length, 5000, 5], `round ${round}: every echo before the close`);
        assert.deepEqual({ code, reason }, { code: 4000, reason: 'bye' });
      }
    });
  }
}

test('close: server.close(socket) without a code, and with 1000', { timeout: 30000 }, async (t) => {
  const s = scope(t);
  const server = await s.listen({}, (srv) => {
    srv.on('message', (socket, message) => {
      const text = message.toString();
      if (text === 'plain') assert.equal(srv.close(socket), true);
      else if (text === 'normal') assert.equal(srv.close(socket, 1000), true);
    });
  });
  const a = await s.connect(urlOf(server));
  const aClosed = closed(a);
  a.send('plain');
  assert.deepEqual(await aClosed, { code: 1005, reason: '' });
  const b = await s.connect(urlOf(server));
  const bClosed = closed(b);
  b.send('normal');
  assert.deepEqual(await bClosed, { code: 1000, reason: '' });
});

test('close: invalid close codes throw a RangeError and leave the socket open', { timeout: 30000 }, async (t) => {
  const s = scope(t);
  const errors = [];
  const server = await s.listen({}, (srv) => {
    echo(srv);
    srv.on('connection', (socket) => {
      for (const code of [1005, 2000, 999, 1006, 5000]) {
        try {
          srv.close(socket, code, 'nope');
          errors.push([code, null]);
        } catch (err) {
          errors.push([code, err]);
        }
      }
    });
  });
  const ws = await s.connect(urlOf(server));
  const box = inbox(ws);
  await until(() => errors.length === 5, 5000, 'the close attempts');
  for (const [code, err] of errors) {
    assert.ok(err instanceof RangeError, `close code ${code} should throw a RangeError, got ${err}`);
  }
  ws.send('still open');
  const m = await box.next();
  assert.equal(m.data.toString(), 'still open');
  assert.equal(ws.readyState, WebSocket.OPEN);
});

test('close: server.terminate(socket) drops the client with 1006', { timeout: 30000 }, async (t) => {
  const s = scope(t);
  const server = await s.listen({}, (srv) => {
    srv.on('message', (socket) => assert.equal(srv.terminate(socket), true));
  });
  const serverClose = once(server, 'close');
  const ws = await s.connect(urlOf(server));
  const clientClose = closed(ws);
  ws.send('terminate me');
  assert.equal((await clientClose).code, 1006);
  const [, code] = await serverClose;
  assert.equal(code, 1006);
});

// ---- 4. 'upgrade' --------------------------------------------------------------------

test("upgrade: a listener returning true refuses with 403", { timeout: 30000 }, async (t) => {
  const s = scope(t);
  let connections = 0;
  const server = await s.listen({}, (srv) => {
    srv.on('upgrade', () => true);
    srv.on('connection', () => connections++);
  });
  const res = await unexpectedResponse(s.client(urlOf(server)));
  assert.equal(res.status, 403);
  await delay(50);
  assert.equal(connections, 0);
});

test('upgrade: a listener returning 401 refuses with 401', { timeout: 30000 }, async (t) => {
  const s = scope(t);
  const server = await s.listen({}, (srv) => srv.on('upgrade', () => 401));
  const res = await unexpectedResponse(s.client(urlOf(server)));
  assert.equal(res.status, 401);
});

test('upgrade: listeners added after removeAllListeners() are still asked (the engine follows every listener change)', { timeout: 30000 }, async (t) => {
  const s = scope(t);
  const server = await s.listen({}, (srv) => srv.on('upgrade', () => 401));
  assert.equal((await unexpectedResponse(s.client(urlOf(server)))).status, 401);
  server.removeAllListeners();
  assert.equal(server.listenerCount('upgrade'), 0, 'removeAllListeners() removed them all');
  assert.equal(server.listenerCount('newListener') + server.listenerCount('removeListener'), 0, 'no listeners of lws\'s own are left');
  server.on('error', () => {});
  server.on('upgrade', () => 403);
  assert.equal((await unexpectedResponse(s.client(urlOf(server)))).status, 403);
  server.removeAllListeners('upgrade');
  const ws = s.client(urlOf(server));
  await opened(ws); // nobody listens: the engine accepts by itself again
  const pongs = [];
  server.on('ping', (socket, data) => pongs.push(String(data)));
  await delay(20);
  ws.ping('after');
  await until(() => pongs.length === 1, 5000, "the 'ping' event");
  assert.deepEqual(pongs, ['after']);
});

test('upgrade: the listener gets lowercase headers; userData set there is visible in connection', { timeout: 30000 }, async (t) => {
  const s = scope(t);
  let seenHeaders = null;
  let seenRequest = null;
  let upgradeSocket = null;
  let connectionData;
  let connectionSocket = null;
  const server = await s.listen({}, (srv) => {
    srv.on('upgrade', (socket, headers, request) => {
      seenHeaders = headers;
      seenRequest = request;
      upgradeSocket = socket;
      srv.setUserData(socket, { from: 'upgrade', token: headers['x-custom-token'] });
    });
    srv.on('connection', (socket) => {
      connectionSocket = socket;
      connectionData = srv.getUserData(socket);
    });
  });
  const ws = await s.connect(urlOf(server, '/room/1?user=ann'), { headers: { 'X-Custom-Token': 'Secret-Value-42' } });
  await until(() => connectionSocket !== null, 5000, "the 'connection' event");
  assert.ok(seenHeaders && typeof seenHeaders === 'object');
  assert.equal(seenHeaders['x-custom-token'], 'Secret-Value-42');
  assert.equal(seenHeaders['X-Custom-Token'], undefined);
  for (const name of Object.keys(seenHeaders)) assert.equal(name, name.toLowerCase(), `header ${name} is not lowercase`);
  assert.equal(seenHeaders.upgrade.toLowerCase(), 'websocket');
  assert.ok(seenHeaders['sec-websocket-key']);
  assert.equal(seenRequest.url, '/room/1?user=ann');
  assert.equal(seenRequest.method, 'GET');
  assert.equal(connectionSocket, upgradeSocket, 'the socket from upgrade is the one in connection');
  assert.match(String(connectionSocket.remoteAddress), /^(::ffff:)?127\.0\.0\.1$/);
  assert.equal(connectionSocket.remotePort, ws._socket.localPort);
  assert.deepEqual(connectionData, { from: 'upgrade', token: 'Secret-Value-42' });
  assert.equal(ws.readyState, WebSocket.OPEN);
});

test("connection: the socket's remoteAddress, remotePort and remoteFamily over IPv4 and IPv6", { timeout: 30000 }, async (t) => {
  const s = scope(t);
  for (const [host, address, family] of [['127.0.0.1', '127.0.0.1', 'IPv4'], ['::1', '::1', 'IPv6']]) {
    let socket = null;
    const server = await s.listen({ host }, (srv) => srv.on('connection', (sock) => { socket = sock; }));
    const url = `ws://${host.includes(':') ? `[${host}]` : host}:${server.port}/`;
    const ws = await s.connect(url);
    await until(() => socket !== null, 5000, `the 'connection' event over ${family}`);
    assert.equal(socket.remoteAddress, address);
    assert.equal(socket.remotePort, ws._socket.localPort);
    assert.equal(socket.remoteFamily, family);
    assert.equal(socket.remoteAddress, address, 'the same when read again');
  }
});

// ---- 5. path ---------------------------------------------------------------------------

test("path: only '/chat' (with any query) is upgraded, other paths get 404", { timeout: 30000 }, async (t) => {
  const s = scope(t);
  const server = await s.listen({ path: '/chat' }, echo);
  for (const p of ['/chat', '/chat?x=1']) {
    const ws = await s.connect(urlOf(server, p));
    const box = inbox(ws);
    ws.send(`via ${p}`);
    assert.equal((await box.next()).data.toString(), `via ${p}`);
  }
  for (const p of ['/other', '/', '/chat/sub']) {
    const res = await unexpectedResponse(s.client(urlOf(server, p)));
    assert.equal(res.status, 404, `${p} should be refused with 404`);
  }
});

// ---- 6. userData lifecycle -------------------------------------------------------------

test('userData: set in connection, readable in close, undefined after the close callback', { timeout: 30000 }, async (t) => {
  const s = scope(t);
  const data = { user: 'ann', n: 1 };
  let inClose;
  let closedSocket = null;
  let fd;
  const server = await s.listen({}, (srv) => {
    srv.on('connection', (socket) => {
      fd = srv.getFd(socket);
      srv.setUserData(socket, data);
    });
    srv.on('close', (socket) => {
      closedSocket = socket;
      inClose = srv.getUserData(socket);
    });
  });
  const ws = await s.connect(urlOf(server));
  ws.close(1000);
  await until(() => closedSocket !== null, 5000, "the server 'close' event");
  assert.ok(Number.isInteger(fd) && fd >= 0, `getFd returns a descriptor, got ${fd}`);
  assert.equal(inClose, data, 'userData is readable in the close callback');
  await tick();
  assert.equal(server.getUserData(closedSocket), undefined, 'userData is released after the close callback');
});

// ---- 7. use after close ------------------------------------------------------------------

test('use after close: send/close/terminate/sendPrepared return false and do not throw', { timeout: 30000 }, async (t) => {
  const s = scope(t);
  const inside = {};
  const after = {};
  let closedSocket = null;
  const server = await s.listen({}, (srv) => {
    srv.on('connection', (socket) => srv.setUserData(socket, 'kept'));
    srv.on('close', (socket) => {
      const prepared = srv.prepareBuffer('late');
      inside.userData = srv.getUserData(socket);
      inside.send = srv.send(socket, 'late');
      inside.sendBinary = srv.send(socket, Buffer.from([1]), true);
      inside.close = srv.close(socket, 4000, 'late');
      inside.closeNoCode = srv.close(socket);
      inside.terminate = srv.terminate(socket);
      inside.sendPrepared = srv.sendPrepared(socket, prepared);
      closedSocket = socket;
    });
  });
  const ws = await s.connect(urlOf(server));
  ws.close(1000);
  await until(() => closedSocket !== null, 5000, "the server 'close' event");
  assert.deepEqual(inside, {
    userData: 'kept',
    send: false,
    sendBinary: false,
    close: false,
    closeNoCode: false,
    terminate: false,
    sendPrepared: false,
  });
  await tick();
  after.send = server.send(closedSocket, 'later');
  after.close = server.close(closedSocket, 4000);
  after.terminate = server.terminate(closedSocket);
  after.sendPrepared = server.sendPrepared(closedSocket, server.prepareBuffer(Buffer.from('x')));
  assert.deepEqual(after, { send: false, close: false, terminate: false, sendPrepared: false });
});

// ---- 8. message buffers are lent -----------------------------------------------------------

test("message: the Buffer given to 'message' is detached after the callback", { timeout: 30000 }, async (t) => {
  const s = scope(t);
  let kept = null;
  let lengthInside = -1;
  let textInside = '';
  const server = await s.listen({}, (srv) => {
    srv.on('message', (socket, message, binary) => {
      kept = message;
      lengthInside = message.length;
      textInside = message.toString();
      srv.send(socket, message, binary);
    });
  });
  const ws = await s.connect(urlOf(server));
  const box = inbox(ws);
  // A short message is copied into the batch; a long one is lent where it was read. A batch
  // under 16 KiB reaches JS as a copy, a larger one as the engine's own memory: both detached.
  for (const text of ['lent, not given', 'long and lent in place '.repeat(200), 'a batch of its own '.repeat(2000)]) {
    ws.send(text);
    assert.equal((await box.next()).data.toString(), text);
    assert.equal(lengthInside, text.length);
    assert.equal(textInside, text);
    await tick();
    assert.ok(Buffer.isBuffer(kept));
    assert.equal(kept.length, 0, `a Buffer kept past the callback reads as empty (${text.length} bytes)`);
  }
});

test('message: a received message forwarded with send() (by reference, no copy) arrives intact, across servers, after its batch is collected', { timeout: 60000 }, async (t) => {
  // Forwarded payloads of 1 KiB and more point into the event batch JS was lent;
  // the engine keeps that batch alive until written, even after JS detached and
  // collected it. A receiver that does not read makes the bytes wait in the engine.
  const s = scope(t);
  const v8 = require('node:v8');
  v8.setFlagsFromString('--expose-gc');
  const gc = require('node:vm').runInNewContext('gc');
  const sink = await s.listen({});
  let receiverSocket = null;
  sink.on('connection', (socket) => { receiverSocket = socket; });
  const source = await s.listen({});
  let forwarded = 0;
  source.on('message', (socket, message, binary) => {
    // false once the receiver's queue backs up (the message is still queued)
    assert.equal(typeof sink.send(receiverSocket, message, binary), 'boolean');
    forwarded++;
  });
  const receiver = await s.connect(urlOf(sink));
  await until(() => receiverSocket, 5000, 'receiver connected');
  receiver._socket.pause(); // read nothing until the batches are gone
  const sender = await s.connect(urlOf(source));
  const sizes = [1024, 1500, 65536, 200000, 1 << 20, 3000];
  const payloads = [];
  for (let round = 0; round < 4; round++) {
    for (const size of sizes) {
      const p = crypto.randomBytes(size);
      payloads.push(p);
      sender.send(p);
    }
  }
  await until(() => forwarded === payloads.length, 20000, 'every message forwarded');
  for (let i = 0; i < 3; i++) {
    gc();
    Buffer.alloc(8 << 20, 0xee); // fresh allocations where freed batches were
    await delay(20);
  }
  assert.ok(sink.getBufferedAmount(receiverSocket) > 0, 'part of it waits in the engine');
  const box = inbox(receiver);
  receiver._socket.resume();
  for (const [i, p] of payloads.entries()) {
    const m = await box.next(10000);
    assert.ok(Buffer.compare(m.data, p) === 0, `message ${i} (${p.length} bytes) arrived intact`);
  }
});

test("message: listeners added and removed while a batch is dispatched get what an EventEmitter would give them", { timeout: 30000 }, async (t) => {
  // The decoder calls a lone 'message' listener directly (cached until listeners change):
  // the same phases on a plain EventEmitter are the reference transcript. Each phase adds
  // listeners, then its messages arrive together (one batch, most likely).
  const { EventEmitter } = require('node:events');
  const phases = (emitter, log) => {
    const named = (name, act = () => {}) => function listener(socket, message) {
      log.push(`${name}:${String(message)}`);
      act(Number(String(message)), listener);
    };
    return [
      // a lone listener removes itself: the rest of the batch goes to nobody
      () => emitter.on('message', named('a', (n, self) => n === 2 && emitter.removeListener('message', self))),
      // a lone listener adds a second one, which removes the first
      () => emitter.on('message', named('b', (n) => n === 6 && emitter.on('message', named('c', (m) => m === 7 && emitter.off('message', emitter.listeners('message')[0]))))),
      // several, then all removed, then two added and one of them taken off again
      () => emitter.prependListener('message', named('d', (n) => {
        if (n !== 10) return;
        emitter.removeAllListeners('message');
        emitter.on('message', named('e', (m) => m === 11 && emitter.removeAllListeners('message')));
      })),
      // once: the lone listener goes after one message
      () => emitter.once('message', named('f')),
      // a lone listener, called directly, adds another
      () => emitter.prependListener('message', named('g', (n) => n === 17 && emitter.addListener('message', named('h')))),
    ];
  };
  const batches = [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15], [16, 17, 18, 19]];

  const reference = [];
  const plain = new EventEmitter();
  phases(plain, reference).forEach((setup, i) => {
    setup();
    for (const n of batches[i]) plain.emit('message', null, Buffer.from(String(n)));
  });

  const s = scope(t);
  const seen = [];
  const server = await s.listen({});
  const ws = await s.connect(urlOf(server));
  const setups = phases(server, seen);
  for (const [i, setup] of setups.entries()) {
    setup();
    ws._socket.cork(); // one write, so most likely one read and one batch
    for (const n of batches[i]) ws.send(String(n));
    ws._socket.uncork();
    const expected = reference.filter((entry) => batches[i].includes(Number(entry.split(':')[1]))).length;
    await until(() => seen.filter((entry) => batches[i].includes(Number(entry.split(':')[1]))).length >= expected, 5000, `phase ${i}`);
    await delay(50);
  }
  assert.deepEqual(seen, reference);
  assert.ok(reference.length >= 10, 'a transcript with something in it');
});

test('message: a received message changed in the callback and sent on goes as changed (small batches are copies, large ones lent)', { timeout: 30000 }, async (t) => {
  // JS owns the Buffer while the callback lasts: what it writes there is what send() sends,
  // whether the batch is the engine's memory (forwarded by reference) or a copy of it.
  const s = scope(t);
  const server = await s.listen({}, (srv) => {
    srv.on('message', (socket, message, binary) => {
      message[0] ^= 0xff;
      message[message.length - 1] ^= 0xff;
      srv.send(socket, message, binary);
    });
  });
  const ws = await s.connect(urlOf(server));
  const box = inbox(ws);
  for (const size of [16, 1500, 12000, 40000, 300000]) {
    const p = crypto.randomBytes(size);
    ws.send(p);
    const expected = Buffer.from(p);
    expected[0] ^= 0xff;
    expected[size - 1] ^= 0xff;
    const m = await box.next(10000);
    assert.ok(Buffer.compare(m.data, expected) === 0, `${size} bytes: sent as changed`);
  }
});

// ---- 9. prepared broadcast -------------------------------------------------------------------

test('prepareBuffer + sendPrepared: a broadcast reaches each of 500 clients exactly once', { timeout: 120000 }, async (t) => {
  const s = scope(t);
  const sockets = [];
  const server = await s.listen({}, (srv) => srv.on('connection', (socket) => sockets.push(socket)));
  const N = 500;
  const clients = await withTimeout(connectMany(s, urlOf(server), N, 100), 60000, '500 connections');
  await until(() => sockets.length === N, 10000, '500 server connections');

  const got = clients.map(() => []);
  clients.forEach((ws, i) => ws.on('message', (data, isBinary) => got[i].push({ data: Buffer.from(data), isBinary })));

  const payload = crypto.randomBytes(3000);
  const prepared = server.prepareBuffer(payload);
  assert.equal(prepared.length, payload.length);
  for (const socket of sockets) assert.equal(server.sendPrepared(socket, prepared, true), true);
  await until(() => got.every((list) => list.length >= 1), 20000, 'the binary broadcast');

  const text = 'broadcast ✓ text';
  const preparedText = server.prepareBuffer(text);
  for (const socket of sockets) assert.equal(server.sendPrepared(socket, preparedText, false), true);
  await until(() => got.every((list) => list.length >= 2), 20000, 'the text broadcast');
  await delay(200); // room for duplicates to show up

  for (const list of got) {
    assert.equal(list.length, 2);
    assert.equal(list[0].isBinary, true);
    assert.ok(list[0].data.equals(payload));
    assert.equal(list[1].isBinary, false);
    assert.equal(list[1].data.toString('utf8'), text);
  }
});

// ---- 10. many connections --------------------------------------------------------------------

test('5,000 concurrent connections: all connect, each echoes once, all see 1001 on server.close()', { timeout: 120000 }, async (t) => {
  const s = scope(t);
  const N = 5000;
  const started = Date.now();
  const sockets = new Set();
  const server = await s.listen({}, (srv) => {
    srv.on('connection', (socket) => sockets.add(socket));
    echo(srv);
  });
  const clients = await withTimeout(connectMany(s, urlOf(server), N, 200), 60000, '5,000 connections');
  await until(() => sockets.size === N, 10000, '5,000 server connections');

  const echoes = await withTimeout(
    Promise.all(
      clients.map(
        (ws, i) =>
          new Promise((resolve) => {
            ws.once('message', (data) => resolve(data.toString() === `client ${i}`));
            ws.send(`client ${i}`);
          }),
      ),
    ),
    30000,
    '5,000 echoes',
  );
  assert.equal(echoes.filter(Boolean).length, N, 'every client gets its own message back');

  const codes = clients.map((ws) => closed(ws, 30000));
  await closeServer(server, 30000);
  const results = await Promise.all(codes);
  const not1001 = results.filter((r) => r.code !== 1001);
  assert.equal(not1001.length, 0, `close codes other than 1001: ${JSON.stringify(not1001.slice(0, 5))}`);
  t.diagnostic(`5,000 connections round trip in ${Date.now() - started} ms`);
});

// ---- 11. server.close ----------------------------------------------------------------------------

test('server.close() with live clients: clients get 1001, every callback is called', { timeout: 30000 }, async (t) => {
  const s = scope(t);
  const serverCloses = [];
  const server = await s.listen({}, (srv) => {
    echo(srv);
    srv.on('close', (socket, code) => serverCloses.push(code));
  });
  const clients = [];
  for (let i = 0; i < 3; i++) clients.push(await s.connect(urlOf(server)));
  const codes = clients.map((ws) => closed(ws, 10000));
  let first = 0;
  let second = 0;
  server.close(() => first++);
  server.close(() => second++);
  const results = await Promise.all(codes);
  assert.deepEqual(
    results.map((r) => r.code),
    [1001, 1001, 1001],
  );
  await until(() => first === 1 && second === 1, 10000, 'both close callbacks');
  assert.equal(serverCloses.length, 3, "a 'close' event per socket");
  // A close after the server is closed still calls back.
  let third = 0;
  server.close(() => third++);
  await until(() => third === 1, 5000, 'a close callback after shutdown');
  await delay(50);
  assert.deepEqual([first, second, third], [1, 1, 1], 'each callback is called exactly once');
  // The port is released.
  const late = s.client(urlOf(server));
  await assert.rejects(opened(late), /ECONNREFUSED/);
});

// ---- 12. process lifetime ----------------------------------------------------------------------

function runChild(s, script) {
  const child = spawn(process.execPath, ['-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  s.defer(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await withTimeout(exited, 5000, 'child exit after SIGKILL');
    }
  });
  return { child, exited, out: () => stdout, err: () => stderr };
}

test('process exit: a script that closes its client and server exits by itself', { timeout: 30000 }, async (t) => {
  const s = scope(t);
  const script = `
    const lws = require(${JSON.stringify(ROOT)});
    const WebSocket = require(${JSON.stringify(require.resolve('ws'))});
    const server = new lws.Server({ port: 0, ...${JSON.stringify(ENGINE_OPTIONS)} });
    server.on('message', (socket, message, binary) => server.send(socket, message, binary));
    server.on('listening', () => {
      const ws = new WebSocket('ws://127.0.0.1:' + server.port);
      ws.on('error', (err) => { console.error(err); process.exit(2); });
      ws.on('open', () => ws.send('child hello'));
      ws.on('message', (data) => {
        if (String(data) !== 'child hello') process.exit(3);
        console.log('exchanged');
        ws.close();
      });
      ws.on('close', () => server.close(() => console.log('server closed')));
    });
  `;
  const run = runChild(s, script);
  const { code, signal } = await withTimeout(run.exited, 10000, 'the child to exit by itself');
  assert.equal(signal, null, run.err());
  assert.equal(code, 0, run.err());
  assert.match(run.out(), /exchanged/);
  assert.match(run.out(), /server closed/);
});

test('process exit: a listening server keeps the process alive', { timeout: 30000 }, async (t) => {
  const s = scope(t);
  const script = `
    const lws = require(${JSON.stringify(ROOT)});
    const server = new lws.Server({ port: 0, ...${JSON.stringify(ENGINE_OPTIONS)} });
    server.on('listening', () => console.log('listening ' + server.port));
  `;
  const run = runChild(s, script);
  let exitedEarly = null;
  run.exited.then((r) => (exitedEarly = r));
  await until(() => /listening \d+/.test(run.out()) || exitedEarly, 10000, 'the child to listen');
  await delay(1500);
  assert.equal(exitedEarly, null, `the child exited while listening: ${JSON.stringify(exitedEarly)} ${run.err()}`);
  assert.equal(run.child.exitCode, null);
  run.child.kill('SIGTERM');
  const { signal } = await withTimeout(run.exited, 5000, 'the child to die');
  assert.equal(signal, 'SIGTERM');
});

// ---- 13. listen errors ----------------------------------------------------------------------

test("error: listening on a port in use emits 'error' with code EADDRINUSE", { timeout: 30000 }, async (t) => {
  const s = scope(t);
  const blocker = net.createServer();
  s.defer(() => withTimeout(new Promise((resolve) => blocker.close(resolve)), 5000, 'blocker close'));
  await withTimeout(new Promise((resolve, reject) => blocker.listen(0, resolve).once('error', reject)), 5000, 'blocker listen');
  const port = blocker.address().port;

  let listening = false;
  const server = s.track(new lws.Server({ port }));
  server.on('listening', () => (listening = true));
  const [err] = await once(server, 'error');
  assert.ok(err instanceof Error);
  assert.equal(err.code, 'EADDRINUSE');
  assert.equal(err.syscall, 'listen');
  assert.equal(err.port, port);
  await delay(50);
  assert.equal(listening, false, "no 'listening' after the error");
  assert.equal(server.port, undefined);
});

// ---- 14. plain HTTP -------------------------------------------------------------------------

test("http: a plain GET is answered by request.respond from the 'http' event", { timeout: 30000 }, async (t) => {
  const s = scope(t);
  let seen = null;
  const server = await s.listen({}, (srv) => {
    srv.on('http', (request) => {
      seen = { method: request.method, url: request.url, host: request.headers.host };
      assert.equal(request.respond(200, { 'content-type': 'text/plain' }, 'hi'), true);
      assert.equal(request.respond(500, {}, 'twice'), false, 'a second answer is refused');
    });
  });
  const res = await httpGet(s, server.port, '/hello?x=1');
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'text/plain');
  assert.equal(res.body, 'hi');
  assert.deepEqual(seen, { method: 'GET', url: '/hello?x=1', host: `127.0.0.1:${server.port}` });
});

test("http: without an 'http' listener a plain GET gets 426", { timeout: 30000 }, async (t) => {
  const s = scope(t);
  const server = await s.listen({}, echo);
  const res = await httpGet(s, server.port, '/');
  assert.equal(res.status, 426);
});

// ---- 15. options ------------------------------------------------------------------------------

test('options: invalid options throw TypeError, perMessageDeflate: true is accepted', { timeout: 30000 }, async (t) => {
  const s = scope(t);
  assert.throws(() => new lws.Server({ bogus: 1 }), TypeError);
  assert.throws(() => new lws.Server({ port: -1 }), TypeError);
  assert.throws(() => new lws.Server({ port: 65536 }), TypeError);
  assert.throws(() => new lws.Server({ port: 1.5 }), TypeError);
  assert.throws(() => new lws.Server({ perMessageDeflate: { bogus: 1 } }), TypeError);
  assert.throws(() => new lws.Server({ perMessageDeflate: 'yes' }), TypeError);
  assert.throws(() => new lws.Server({ path: 'no-slash' }), TypeError);

  const server = await s.listen({ perMessageDeflate: true }, echo);
  const ws = await s.connect(urlOf(server));
  const box = inbox(ws);
  ws.send('deflate option accepted');
  assert.equal((await box.next()).data.toString(), 'deflate option accepted');
});

// ---- 16. fragments ---------------------------------------------------------------------------

test("fragment: with bufferSize 1024 a 5000-byte message arrives as 'fragment' events", { timeout: 30000 }, async (t) => {
  const s = scope(t);
  const fragments = [];
  const messages = [];
  const server = await s.listen({ bufferSize: 1024 }, (srv) => {
    srv.on('fragment', (socket, data, binary, remainingBytes) => {
      fragments.push({ data: Buffer.from(data), binary, remainingBytes });
    });
    srv.on('message', (socket, data) => messages.push(Buffer.from(data)));
  });
  const ws = await s.connect(urlOf(server));
  const payload = crypto.randomBytes(5000);
  ws.send(payload);
  await until(() => fragments.some((f) => f.remainingBytes === 0), 5000, 'the last fragment');
  await delay(50);
  assert.ok(fragments.length >= 5, `expected at least 5 fragments, got ${fragments.length}`);
  let received = 0;
  for (const [i, f] of fragments.entries()) {
    assert.ok(f.data.length <= 1024, `fragment ${i} has ${f.data.length} bytes`);
    assert.equal(f.binary, true);
    received += f.data.length;
    assert.equal(f.remainingBytes, payload.length - received, `remainingBytes of fragment ${i}`);
  }
  assert.equal(fragments.at(-1).remainingBytes, 0);
  assert.ok(Buffer.concat(fragments.map((f) => f.data)).equals(payload), 'the fragments make up the message');
  assert.equal(messages.length, 0, "the streamed message is not also delivered as 'message'");
});

// ---- 17. throwing listeners ---------------------------------------------------------------

test("a throwing 'message' listener does not lose the other messages of the batch", { timeout: 30000 }, async (t) => {
  const s = scope(t);
  const saved = process.listeners('uncaughtException');
  const caught = [];
  const handler = (err) => caught.push(err);
  process.removeAllListeners('uncaughtException');
  process.on('uncaughtException', handler);
  try {
    const server = await s.listen({}, (srv) => {
      srv.on('message', (socket, message, binary) => {
        if (message.toString() === 'throw') throw new Error('listener failure on purpose');
        srv.send(socket, message, binary);
      });
    });
    const ws = await s.connect(urlOf(server));
    const box = inbox(ws);
    // Sent in one tick: they usually reach the server in one read, one batch.
    for (const m of ['a', 'throw', 'b', 'c', 'throw', 'd']) ws.send(m);
    const echoed = [];
    for (let i = 0; i < 4; i++) echoed.push((await box.next()).data.toString());
    assert.deepEqual(echoed, ['a', 'b', 'c', 'd']);
    // The batch rethrows its first listener error as an uncaught exception.
    await until(() => caught.length >= 1, 5000, 'the uncaught exception');
    for (const err of caught) assert.equal(err.message, 'listener failure on purpose');
    // A later batch reports its own error, and the connection is still usable.
    const before = caught.length;
    ws.send('throw');
    await until(() => caught.length > before, 5000, 'the second uncaught exception');
    assert.equal(caught.at(-1).message, 'listener failure on purpose');
    ws.send('after');
    assert.equal((await box.next()).data.toString(), 'after');
  } finally {
    process.removeListener('uncaughtException', handler);
    for (const l of saved) process.on('uncaughtException', l);
  }
});

// Small batches that lend JS nothing (opens, closes, a peer's close) all come in one
// ArrayBuffer the engine fills again: what JS keeps from one must be a copy.
test("a peer's close reason outlives its batch: 'closing' reasons and a paused socket's close reply, after later batches", async (t) => {
  const s = scope(t);
  const reasons = [];
  const sockets = [];
  const server = await s.listen({}, (srv) => {
    srv.on('connection', (socket) => sockets.push(socket));
    srv.on('closing', (socket, code, reason) => {
      reasons.push(`${code} ${reason}`);
      // Paused here, the reply waits for resume() with the reason it came with.
      if (socket === sockets[0]) srv.pause(socket);
    });
  });
  const first = await s.connect(urlOf(server));
  await until(() => sockets.length === 1);
  const firstClosed = closed(first);
  const firstReason = `first: ${'a'.repeat(100)}`;
  first.close(4001, firstReason);
  await until(() => reasons.length === 1);
  // Later batches: peers opening and closing with other reasons of the same length.
  const others = [];
  for (let i = 0; i < 5; i++) {
    const ws = await s.connect(urlOf(server));
    const reason = `other ${i}: ${'b'.repeat(98)}`;
    ws.close(4002, reason);
    others.push(reason);
    assert.deepEqual(await closed(ws), { code: 4002, reason });
  }
  assert.equal(first.readyState, WebSocket.CLOSING, 'the paused socket has not answered yet');
  server.resume(sockets[0]);
  assert.deepEqual(await firstClosed, { code: 4001, reason: firstReason });
  assert.deepEqual(reasons, [`4001 ${firstReason}`, ...others.map((r) => `4002 ${r}`)]);
});

test('a closed server is garbage-collected with its engine (nothing native keeps its JS alive)', { timeout: 30000 }, async () => {
  const v8 = require('node:v8');
  v8.setFlagsFromString('--expose-gc');
  const gc = require('node:vm').runInNewContext('gc');
  let collected = 0;
  const registry = new FinalizationRegistry(() => collected++);
  const count = 10;
  for (let i = 0; i < count; i++) {
    const server = new lws.Server({ port: 0, host: '127.0.0.1', ...ENGINE_OPTIONS });
    server.on('message', () => {});
    await once(server, 'listening');
    const client = new WebSocket(`ws://127.0.0.1:${server.address().port}/`);
    await once(client, 'open');
    client.terminate();
    await new Promise((resolve) => server.close(resolve));
    registry.register(server, i);
  }
  await until(() => {
    gc();
    return collected === count;
  }, 10000, `${count} closed servers collected`);
});
