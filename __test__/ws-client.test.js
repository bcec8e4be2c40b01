'use strict';
// lws.WebSocket as a client: what is lws's own (the shared client cores, the request
// object of 'unexpected-response', ws's handshake order around 'upgrade'). What ws's
// client does is checked against ws itself in client-*.test.js.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const WS = require('ws');
const { WebSocket } = require('..');
const { within, waitUntil, closeHttp } = require('./helpers/wait');

const HOST = '127.0.0.1';

/** Threads of this process (an engine thread per client core). */
const threads = () => fs.readdirSync('/proc/self/task').length;

async function echoServer(t) {
  const wss = new WS.WebSocketServer({ port: 0, host: HOST });
  t.after(() => new Promise((resolve) => {
    for (const ws of wss.clients) ws.terminate();
    wss.close(resolve);
  }));
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  await within(5000, 'listening', (resolve) => wss.once('listening', resolve));
  return `ws://${HOST}:${wss.address().port}/`;
}

const opened = (ws) => within(5000, 'open', (resolve, reject) => {
  ws.once('open', resolve);
  ws.once('error', reject);
});
const closed = (ws) => within(5000, 'close', (resolve) => ws.once('close', (code) => resolve(code)));

test('clients with the same engine settings share one engine thread; another maxPayload gets its own; the threads are reused', async (t) => {
  const url = await echoServer(t);
  const before = threads();
  const a = new WebSocket(url);
  const b = new WebSocket(url, { perMessageDeflate: true, handshakeTimeout: 1000, headers: { 'X-Other': 'js only' } });
  await Promise.all([opened(a), opened(b)]);
  assert.equal(threads(), before + 1, 'one engine thread for both');
  const c = new WebSocket(url, { maxPayload: 1000 });
  await opened(c);
  assert.equal(threads(), before + 2, 'maxPayload is an engine setting');
  for (const ws of [a, b, c]) ws.close();
  await Promise.all([a, b, c].map(closed));
  // The cores stay for the next clients (lib/ws/client.js IDLE_CORE_MS): no thread more.
  const again = [new WebSocket(url), new WebSocket(url, { maxPayload: 1000 })];
  await Promise.all(again.map(opened));
  assert.equal(threads(), before + 2);
  for (const ws of again) ws.close();
  await Promise.all(again.map(closed));
});

test('agent: false (engine.io-client passes it) is a connection of its own: the engine dials it, Node makes no request; an Agent goes through Node', async (t) => {
  const url = await echoServer(t);
  const request = t.mock.method(http, 'request');
  const own = new WebSocket(url, { agent: false });
  await opened(own);
  own.send('hi');
  const echo = await within(5000, 'echo', (resolve) => own.once('message', (data) => resolve(data.toString())));
  assert.equal(echo, 'hi');
  assert.equal(request.mock.callCount(), 0);
  const agent = new http.Agent();
  t.after(() => agent.destroy());
  const viaNode = new WebSocket(url, { agent });
  await opened(viaNode);
  assert.equal(request.mock.callCount(), 1);
  own.close();
  viaNode.close();
  assert.deepEqual([await closed(own), await closed(viaNode)], [1005, 1005]);
});

test("'unexpected-response': the request stand-in (method, path, headers), destroy(err) ends the WebSocket with err", async (t) => {
  const server = http.createServer((req, res) => {
    res.writeHead(418, { 'Content-Type': 'text/plain' });
    res.end('teapot');
  });
  t.after(() => closeHttp(server));
  await new Promise((resolve) => server.listen(0, HOST, resolve));
  const ws = new WebSocket(`ws://${HOST}:${server.address().port}/brew?x=1`, { headers: { 'X-Pot': 'yes' } });
  const events = [];
  ws.on('unexpected-response', (req, res) => {
    events.push(['unexpected-response', req.method, req.path, req.getHeader('x-pot'), res.statusCode, ws.readyState]);
    let body = '';
    res.on('data', (d) => { body += d; });
    res.on('end', () => {
      events.push(['body', body]);
      req.destroy(new Error('no tea'));
    });
  });
  ws.on('error', (err) => events.push(['error', err.message, ws.readyState]));
  assert.equal(await closed(ws), 1006);
  assert.deepEqual(events, [
    ['unexpected-response', 'GET', '/brew?x=1', 'yes', 418, WebSocket.CONNECTING],
    ['body', 'teapot'],
    ['error', 'no tea', WebSocket.CLOSING],
  ]);
});

test("close() from 'upgrade': the 101 is not taken, ws's error and 1006; the server sees the connection end", async (t) => {
  const wss = new WS.WebSocketServer({ port: 0, host: HOST });
  t.after(() => new Promise((resolve) => wss.close(resolve)));
  await within(5000, 'listening', (resolve) => wss.once('listening', resolve));
  const serverClosed = within(5000, 'server close', (resolve) => wss.on('connection', (s) => s.on('close', resolve)));
  const ws = new WebSocket(`ws://${HOST}:${wss.address().port}/`);
  const events = [];
  ws.on('upgrade', (res) => {
    events.push(['upgrade', res.statusCode]);
    ws.close();
  });
  ws.on('open', () => events.push(['open']));
  ws.on('error', (err) => events.push(['error', err.message]));
  assert.equal(await closed(ws), 1006);
  assert.deepEqual(events, [['upgrade', 101], ['error', 'WebSocket was closed before the connection was established']]);
  await serverClosed;
});

test('a client of a closed handshake sends nothing and throws nothing: terminate() and close() again, send() after', async (t) => {
  const url = await echoServer(t);
  const ws = new WebSocket(url);
  ws.on('error', () => {});
  ws.terminate();
  ws.terminate();
  ws.close();
  assert.equal(ws.readyState, WebSocket.CLOSING);
  assert.equal(await closed(ws), 1006);
  const errors = [];
  ws.send('late', (err) => errors.push(err.message));
  ws.pause();
  ws.resume();
  await waitUntil(() => errors.length === 1, 2000, 'send callback');
  assert.deepEqual(errors, ['WebSocket is not open: readyState 3 (CLOSED)']);
  assert.equal(ws.bufferedAmount, 4);
});

test('generateMask is accepted and not called: the engine masks every frame with its own random keys (README, differences)', async (t) => {
  const net = require('node:net');
  const crypto = require('node:crypto');
  // A raw server that records the masking keys of the client's frames.
  const keys = [];
  const server = net.createServer((socket) => {
    let buf = Buffer.alloc(0);
    let upgraded = false;
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const key = /sec-websocket-key: *(\S+)/i.exec(buf.toString('latin1', 0, end))[1];
        const accept = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
        buf = buf.subarray(end + 4);
        upgraded = true;
      }
      while (buf.length >= 6 && buf.length >= 6 + (buf[1] & 0x7f)) {
        keys.push(buf.subarray(2, 6).toString('hex'));
        buf = buf.subarray(6 + (buf[1] & 0x7f));
      }
    });
    socket.on('error', () => {});
  });
  await new Promise((resolve) => server.listen(0, HOST, resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  let calls = 0;
  const ws = new WebSocket(`ws://${HOST}:${server.address().port}/`, { perMessageDeflate: false, generateMask: (mask) => { calls++; mask.fill(0); } });
  await opened(ws);
  for (let i = 0; i < 5; i++) ws.send('x');
  await waitUntil(() => keys.length === 5, 5000, 'five frames');
  assert.equal(calls, 0);
  assert.ok(keys.every((k) => k !== '00000000'), `engine keys, not the callback's: ${keys}`);
  assert.equal(new Set(keys).size, 5, 'a fresh key per frame');
  ws.terminate();
});

test("binaryType 'fragments' with a message sent in three frames: one Buffer with the whole message (README, differences)", async (t) => {
  const wss = new WS.WebSocketServer({ port: 0, host: HOST });
  t.after(() => new Promise((resolve) => wss.close(resolve)));
  wss.on('connection', (peer) => {
    peer.send(Buffer.from([1]), { fin: false, binary: true });
    peer.send(Buffer.from([2, 3]), { fin: false, binary: true });
    peer.send(Buffer.from([4]), { fin: true, binary: true });
  });
  await within(5000, 'listening', (done) => wss.once('listening', done));
  const ws = new WebSocket(`ws://${HOST}:${wss.address().port}/`);
  ws.binaryType = 'fragments';
  const [data, isBinary] = await within(5000, 'message', (done) => ws.once('message', (...args) => done(args)));
  assert.equal(isBinary, true);
  assert.ok(Array.isArray(data));
  assert.deepEqual(data.map((b) => [...b]), [[1, 2, 3, 4]]); // ws: [[1], [2, 3], [4]]
  ws.terminate();
});

test('messages kept by a client stay intact after later batches; a small one keeps at most a 64 KiB slab alive, a large one only itself', async (t) => {
  const wss = new WS.WebSocketServer({ port: 0, host: HOST });
  t.after(() => new Promise((resolve) => {
    for (const ws of wss.clients) ws.terminate();
    wss.close(resolve);
  }));
  await within(5000, 'listening', (resolve) => wss.once('listening', resolve));
  // Sizes around the slab rules (batch-decoder.js MessageCopies): many small messages share
  // slabs (each batch holds several), larger ones are copied alone; sent in one burst.
  const sizes = [];
  for (let i = 0; i < 3000; i++) sizes.push([0, 1, 16, 100, 4096, 4097, 20000, 70000][i % 8] + (i % 3));
  const sent = sizes.map((n, i) => Buffer.alloc(n, i & 255));
  wss.on('connection', (ws) => {
    for (const payload of sent) ws.send(payload, { binary: true });
  });
  const client = new WebSocket(`ws://${HOST}:${wss.address().port}/`);
  const kept = [];
  client.on('message', (data, isBinary) => {
    assert.equal(isBinary, true);
    kept.push(data);
  });
  await opened(client);
  await waitUntil(() => kept.length === sent.length, 15000, 'every message');
  await new Promise((resolve) => setTimeout(resolve, 50));
  for (let i = 0; i < sent.length; i++) {
    assert.ok(Buffer.isBuffer(kept[i]), `message ${i} is a Buffer`);
    assert.ok(kept[i].equals(sent[i]), `message ${i} (${sent[i].length} B) intact`);
    const alive = kept[i].buffer.byteLength;
    if (sent[i].length > 4096) assert.equal(alive, sent[i].length, `message ${i} holds only itself`);
    else assert.ok(alive <= 64 * 1024, `message ${i} holds ${alive} bytes alive`);
  }
  client.close();
  await closed(client);
});

/** This process's heap, as a parsed snapshot (v8.getHeapSnapshot). */
async function heapSnapshot() {
  const chunks = [];
  for await (const chunk of require('node:v8').getHeapSnapshot()) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString());
}

test('an idle client connection keeps only what it needs: sockets keep their constructor\'s shape (no property array), WebSockets to one URL share its string', { timeout: 60000 }, async (t) => {
  // What the benchmark's client-memory row pays for beyond the engine is what each
  // connection keeps (and, through it, how far V8's young generation grows).
  const v8 = require('node:v8');
  v8.setFlagsFromString('--allow-natives-syntax');
  const haveSameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)');
  v8.setFlagsFromString('--no-allow-natives-syntax');
  const { Socket } = require('../lib/core');
  const { Client } = require('..');
  const url = await echoServer(t);
  const client = new Client();
  t.after(() => new Promise((resolve) => client.close(resolve)));
  const socket = client.connect(url);
  await within(5000, 'open', (resolve, reject) => {
    client.once('open', resolve);
    client.once('error', reject);
  });
  assert.ok(haveSameMap(socket, new Socket(1)), "an lws.Client socket has no property its constructor did not declare");
  const clients = [];
  for (let i = 0; i < 50; i++) clients.push(new WebSocket(url));
  await Promise.all(clients.map(opened));
  // 'open' comes once the 101 is checked; `_socket` is a stand-in until the engine's open,
  // which may be a batch later (promise jobs run between batches).
  await within(5000, 'the engine opens every socket', (resolve) => {
    const check = () => (clients.every((ws) => ws._socket instanceof Socket) ? resolve() : setImmediate(check));
    check();
  });
  assert.ok(haveSameMap(clients[0]._socket, new Socket(1)), "an lws.WebSocket's socket has no property its constructor did not declare");
  // Strings equal to the URL in the heap: one shared by the 50 (and the few the test holds).
  const snapshot = await heapSnapshot();
  const { node_fields: fields, node_types: [types] } = snapshot.snapshot.meta;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  let copies = 0;
  for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
    if (types[snapshot.nodes[i + typeAt]] === 'string' && snapshot.strings[snapshot.nodes[i + nameAt]] === url) copies++;
  }
  assert.ok(copies < 10, `${copies} strings hold the URL ${url}`);
  for (const ws of clients) ws.close();
  await Promise.all(clients.map(closed));
});

test('connecting leaves little in the old generation: 2,000 WebSockets opened grow it by under 1.6 KB each', { timeout: 60000 }, async (t) => {
  // What a connection's handshake keeps for its round trip survives V8's young generation;
  // what is promoted stays in the old one until a major GC (and makes the young one grow:
  // the benchmark's client memory row). Measured: about 950 bytes a connection (its
  // WebSocket, socket and listeners included); 3,200 when the handshake state was an
  // object literal spread from the context and grown (its allocations were pretenured).
  const { spawn } = require('node:child_process');
  const path = require('node:path');
  const v8 = require('node:v8');
  const gc = require('node:vm').runInNewContext('gc', (v8.setFlagsFromString('--expose-gc'), {}));
  const server = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'server-child.js'), '{}'], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => server.kill('SIGKILL'));
  const port = await within(10000, 'the server child', (resolve) => server.stdout.on('data', (d) => {
    const m = /"port":(\d+)/.exec(String(d));
    if (m) resolve(Number(m[1]));
  }));
  const url = `ws://${HOST}:${port}/`;
  const kept = [];
  const openEchoed = (count) => within(20000, 'echoes', (resolve) => {
    let left = count;
    for (let i = 0; i < count; i++) {
      const ws = new WebSocket(url); // held as benches/clients/ws-api.js holds them
      let echoed = false;
      ws.on('open', () => ws.send('0123456789abcdef'));
      ws.on('message', () => {
        if (echoed) return;
        echoed = true;
        if (--left === 0) resolve();
      });
      ws.on('close', () => {});
      ws.on('error', () => {});
      kept.push(ws);
    }
  });
  t.after(() => { for (const ws of kept) ws.terminate(); });
  for (let i = 0; i < 3; i++) await openEchoed(100); // warm-up: code compiled, the core started
  gc();
  const oldSpace = () => v8.getHeapSpaceStatistics().find((space) => space.space_name === 'old_space').space_used_size;
  const before = oldSpace();
  for (let i = 0; i < 20; i++) await openEchoed(100);
  const perConnection = (oldSpace() - before) / 2000;
  assert.ok(perConnection < 1600, `the old generation grew by ${perConnection.toFixed(0)} bytes a connection`);
});

test("captureRejections: a lone 'message' listener that rejects is reported on 'error', as ws does", async (t) => {
  const { EventEmitter } = require('node:events');
  const url = await echoServer(t);
  t.after(() => { EventEmitter.captureRejections = false; });
  const seen = [];
  for (const Client of [WS, WebSocket]) {
    EventEmitter.captureRejections = true; // read by EventEmitter's constructor (lws notes it there too)
    const ws = new Client(url);
    await opened(ws);
    // The only listener: lws calls it without emit() unless captureRejections is on.
    ws.on('message', async (data) => { throw new Error(`rejected ${data}`); });
    const error = within(5000, 'error', (resolve) => ws.once('error', (err) => resolve(err.message)));
    ws.send('x');
    seen.push(await error);
    EventEmitter.captureRejections = false;
    ws.close();
    await closed(ws);
  }
  assert.deepEqual(seen, ['rejected x', 'rejected x']);
});

test("an emit() replaced on the socket sees every 'message', as in ws", async (t) => {
  const url = await echoServer(t);
  const seen = [];
  for (const Client of [WS, WebSocket]) {
    const ws = new Client(url);
    await opened(ws);
    const emit = ws.emit;
    ws.emit = function (event, ...args) {
      if (event === 'message') seen.push(`${Client === WS ? 'ws' : 'lws'} ${args[0]}`);
      return emit.call(this, event, ...args);
    };
    const got = within(5000, 'message', (resolve) => ws.on('message', resolve));
    ws.send('x');
    await got;
    ws.close();
    await closed(ws);
  }
  assert.deepEqual(seen, ['ws x', 'lws x']);
});
