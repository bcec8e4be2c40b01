'use strict';
// lws.Client (the engine's client, node-lws style) against real servers: ws's
// WebSocketServer, lws.Server, raw TCP servers that misbehave, and https
// servers with openssl-made certificates. Every failure must be a clear
// 'error' followed by one 'close', and nothing may leak.

const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');
const http = require('node:http');
const https = require('node:https');
const crypto = require('node:crypto');
const { execFileSync } = require('node:child_process');
const WebSocket = require('ws');
const { Client, Server } = require('..');
const { within, waitUntil } = require('./helpers/wait');
const { frame } = require('./helpers/frames');
const { ENGINE_OPTIONS } = require('./helpers/engine');

let dir;
const file = (name) => fs.readFileSync(path.join(dir, name));

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lws-client-'));
  const run = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=lws client test CA', '-keyout', 'ca.key', '-out', 'ca.pem');
  fs.writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'server.ext', '-out', 'server.pem');
});

/** A Client whose events are recorded per socket: [{ event, ... }] in order. */
function recordingClient(t, options = {}) {
  const client = new Client({ ...ENGINE_OPTIONS, ...options });
  t.after(() => new Promise((resolve) => client.close(resolve)));
  const log = new Map();
  const push = (socket, entry) => {
    if (!log.has(socket)) log.set(socket, []);
    log.get(socket).push(entry);
  };
  client.on('open', (socket, info) => push(socket, { event: 'open', protocol: info.protocol, extensions: info.extensions }));
  client.on('message', (socket, message, binary) => push(socket, { event: 'message', data: Buffer.from(message), binary }));
  client.on('closing', (socket, code, reason) => push(socket, { event: 'closing', code, reason }));
  client.on('error', (err, socket) => push(socket, { event: 'error', message: err.message, code: err.code, err }));
  client.on('close', (socket, code, reason, errorCode) => push(socket, { event: 'close', code, reason, errorCode }));
  const closed = (socket, ms = 5000) => waitUntil(() => (log.get(socket) || []).find((e) => e.event === 'close') && log.get(socket), ms, 'close');
  const events = (socket) => log.get(socket) || [];
  return { client, closed, events };
}

async function wsServer(t, options = {}) {
  const wss = new WebSocket.WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  t.after(() => new Promise((resolve) => wss.close(resolve)));
  await within(5000, 'listening', (done) => wss.once('listening', done));
  return wss;
}

/** A raw TCP server answering each connection with `respond(socket, requestHead)`. */
async function rawServer(t, respond) {
  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let head = '';
    socket.on('data', (chunk) => {
      head += chunk.toString('latin1');
      if (head.includes('\r\n\r\n') && !socket.answered) {
        socket.answered = true;
        respond(socket, head);
      }
    });
  });
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server.address().port;
}

const acceptOf = (head) => {
  const key = /sec-websocket-key: *(\S+)/i.exec(head)[1];
  return crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
};

const openFds = () => fs.readdirSync('/proc/self/fd').length;

test('echo through ws: text, binary, 1 MiB, with permessage-deflate, then a close with code and reason', async (t) => {
  const wss = await wsServer(t, { perMessageDeflate: true });
  const seen = [];
  wss.on('connection', (ws, req) => {
    seen.push(req.headers);
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('close', (code, reason) => seen.push({ code, reason: String(reason) }));
  });
  const { client, closed, events } = recordingClient(t, { perMessageDeflate: true });
  const big = crypto.randomBytes(1024 * 1024);
  client.on('open', (socket) => {
    client.send(socket, 'héllo');
    client.send(socket, Buffer.from([0, 1, 2]), true);
    client.send(socket, big, true);
  });
  client.on('message', (socket) => {
    if (events(socket).filter((e) => e.event === 'message').length === 3) client.close(socket, 4000, 'bye');
  });
  const socket = client.connect(`ws://127.0.0.1:${wss.address().port}/chat?x=1`, { protocols: ['a', 'b'], headers: { 'X-Test': '1' } });
  const log = await closed(socket);
  assert.deepEqual(log.map((e) => e.event), ['open', 'message', 'message', 'message', 'closing', 'close']);
  assert.equal(log[0].protocol, 'a');
  assert.equal(log[0].extensions, 'permessage-deflate');
  assert.equal(log[1].data.toString(), 'héllo');
  assert.equal(log[1].binary, false);
  assert.deepEqual(log[2].data, Buffer.from([0, 1, 2]));
  assert.ok(log[3].data.equals(big));
  assert.deepEqual(log.at(-1), { event: 'close', code: 4000, reason: 'bye', errorCode: undefined });
  assert.equal(seen[0]['x-test'], '1');
  assert.equal(seen[0]['sec-websocket-extensions'], 'permessage-deflate; client_max_window_bits');
  await waitUntil(() => seen.length === 2, 2000, "the server's close");
  assert.deepEqual(seen[1], { code: 4000, reason: 'bye' });
});

test('the server closes after sending: every message arrives, then its code and reason (nothing lost at close)', async (t) => {
  const wss = await wsServer(t);
  wss.on('connection', (ws) => {
    for (let i = 0; i < 100; i++) ws.send(`m${i}`);
    ws.close(4001, 'done');
  });
  const { client, closed } = recordingClient(t);
  const socket = client.connect(`ws://127.0.0.1:${wss.address().port}`);
  const log = await closed(socket);
  const messages = log.filter((e) => e.event === 'message').map((e) => e.data.toString());
  assert.deepEqual(messages, Array.from({ length: 100 }, (_, i) => `m${i}`));
  assert.deepEqual(log.slice(-2).map((e) => [e.event, e.code, e.reason]), [['closing', 4001, 'done'], ['close', 4001, 'done']]);
});

test('lws.Server as the peer: messages sent from the close handshake reply still arrive', async (t) => {
  const server = new Server({ port: 0, host: '127.0.0.1', ...ENGINE_OPTIONS });
  t.after(() => new Promise((resolve) => server.close(resolve)));
  await within(5000, 'listening', (done) => server.once('listening', done));
  server.on('message', (socket, message, binary) => server.send(socket, message, binary));
  const { client, closed } = recordingClient(t);
  client.on('open', (socket) => {
    client.send(socket, 'one');
    client.send(socket, 'two');
    client.close(socket, 4002, 'last');
  });
  const socket = client.connect(`ws://127.0.0.1:${server.port}`);
  const log = await closed(socket);
  assert.deepEqual(log.map((e) => e.event === 'message' ? e.data.toString() : e.event), ['open', 'one', 'two', 'closing', 'close']);
  assert.equal(log.at(-1).code, 4002);
  assert.equal(log.at(-1).reason, 'last');
});

test('a refused connection and an unknown host: a clear error, then close 1006', async (t) => {
  const { client, closed } = recordingClient(t);
  const port = await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
  const refused = client.connect(`ws://127.0.0.1:${port}`);
  const unknown = client.connect('ws://nonexistent.invalid/');
  const a = await closed(refused);
  assert.deepEqual(a.map((e) => e.event), ['error', 'close']);
  assert.equal(a[0].code, 'ECONNREFUSED');
  assert.equal(a[0].message, `connect ECONNREFUSED 127.0.0.1:${port}`);
  assert.equal(a[0].err.syscall, 'connect');
  assert.deepEqual([a[1].code, a[1].errorCode], [1006, 'LWS_ERR_CONNECT']);
  const b = await closed(unknown);
  assert.deepEqual(b.map((e) => e.event), ['error', 'close']);
  assert.equal(b[0].code, 'ENOTFOUND');
});

test('refusals and broken handshakes: the response, wrong accept key, garbage, silence', async (t) => {
  const port404 = await rawServer(t, (s) => s.end('HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nno such x'));
  const portBadKey = await rawServer(t, (s) => s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: bm90IGl0\r\n\r\n'));
  const portGarbage = await rawServer(t, (s) => s.end('SSH-2.0-OpenSSH_9.2\r\n\r\n'));
  const portSilent = await rawServer(t, () => {});
  const { client, closed } = recordingClient(t);
  const refused = client.connect(`ws://127.0.0.1:${port404}`);
  const badKey = client.connect(`ws://127.0.0.1:${portBadKey}`);
  const garbage = client.connect(`ws://127.0.0.1:${portGarbage}`);
  const silent = client.connect(`ws://127.0.0.1:${portSilent}`, { handshakeTimeout: 300 });

  const r = await closed(refused);
  assert.deepEqual(r.map((e) => e.event), ['error', 'close']);
  assert.equal(r[0].message, 'Unexpected server response: 404');
  const body = await new Promise((resolve) => {
    let text = '';
    r[0].err.response.on('data', (d) => { text += d; }).on('end', () => resolve(text));
  });
  assert.equal(body, 'no such x');
  assert.equal(r[0].err.response.statusCode, 404);

  const k = await closed(badKey);
  assert.deepEqual(k.map((e) => e.event), ['error', 'close']);
  assert.equal(k[0].message, 'Invalid Sec-WebSocket-Accept header');

  const g = await closed(garbage);
  assert.deepEqual(g.map((e) => [e.event, e.code]), [['error', 'HPE_INVALID_CONSTANT'], ['close', 1006]]);

  const s = await closed(silent);
  assert.deepEqual(s.map((e) => e.event), ['error', 'close']);
  assert.equal(s[0].message, 'Opening handshake has timed out');
  assert.equal(s[1].errorCode, 'LWS_ERR_HANDSHAKE_TIMEOUT');
});

test('a masked frame from a server closes with 1002; a 2^63 length with 1009', async (t) => {
  const masked = await rawServer(t, (s, head) => {
    s.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptOf(head)}\r\n\r\n`);
    s.write(frame(0x1, Buffer.from('hi'), { mask: true }));
  });
  const huge = await rawServer(t, (s, head) => {
    s.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptOf(head)}\r\n\r\n`);
    s.write(Buffer.from([0x82, 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
  });
  const { client, closed } = recordingClient(t, { closeTimeout: 500 });
  const a = await closed(client.connect(`ws://127.0.0.1:${masked}`));
  assert.deepEqual(a.map((e) => e.event), ['open', 'close']);
  assert.deepEqual([a[1].code, a[1].errorCode], [1002, 'WS_ERR_UNEXPECTED_MASK']);
  const b = await closed(client.connect(`ws://127.0.0.1:${huge}`));
  assert.deepEqual([b.at(-1).code, b.at(-1).errorCode], [1009, 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH']); // over 2^53 - 1, as ws
});

test('wss: trusted with `ca`, refused without it or for another name, accepted with rejectUnauthorized: false', async (t) => {
  const server = https.createServer({ key: file('server.key'), cert: file('server.pem') });
  const wss = new WebSocket.WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (data) => ws.send(`tls ${data}`)));
  t.after(() => new Promise((resolve) => { wss.close(); server.close(resolve); }));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `wss://localhost:${server.address().port}`;
  const { client, closed } = recordingClient(t);
  client.on('open', (socket) => client.send(socket, 'hi'));
  client.on('message', (socket) => client.close(socket, 1000));
  const trusted = client.connect(url, { ca: file('ca.pem') });
  const untrusted = client.connect(url);
  const wrongName = client.connect(url, { ca: file('ca.pem'), servername: 'other.example' });
  const insecure = client.connect(url.replace('localhost', '127.0.0.1'), { rejectUnauthorized: false });
  for (const socket of [trusted, insecure]) {
    const log = await closed(socket);
    assert.deepEqual(log.map((e) => e.event === 'message' ? e.data.toString() : e.event), ['open', 'tls hi', 'closing', 'close']);
  }
  const u = await closed(untrusted);
  assert.deepEqual(u.map((e) => [e.event, e.code]), [['error', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'], ['close', 1006]]);
  const w = await closed(wrongName);
  assert.deepEqual(w.map((e) => [e.event, e.code]), [['error', 'ERR_TLS_CERT_ALTNAME_INVALID'], ['close', 1006]]);
});

test('adoptClient: a connection Node upgraded (http.request) opens in the engine and keeps going', async (t) => {
  const wss = await wsServer(t);
  wss.on('connection', (ws) => {
    ws.send('welcome');
    ws.on('message', (data) => ws.send(data));
  });
  const { client, closed } = recordingClient(t);
  const socket = client.reserveSocket();
  const key = crypto.randomBytes(16).toString('base64');
  const req = http.request({
    host: '127.0.0.1', port: wss.address().port,
    headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Key': key, 'Sec-WebSocket-Version': 13 },
  });
  req.on('upgrade', (res, nodeSocket, head) => {
    assert.equal(client.adoptClient(socket, nodeSocket, { head, info: { protocol: '', extensions: '' } }), true);
  });
  req.end();
  client.on('message', (s, message) => {
    if (String(message) === 'welcome') client.send(s, 'echo me');
    else client.close(s, 1000);
  });
  const log = await closed(socket);
  assert.deepEqual(log.map((e) => e.event === 'message' ? e.data.toString() : e.event), ['open', 'welcome', 'echo me', 'closing', 'close']);
});

test('1,000 connections at once to lws.Server: all open and echo, then descriptors return to baseline', async (t) => {
  const server = new Server({ port: 0, host: '127.0.0.1', ...ENGINE_OPTIONS });
  t.after(() => new Promise((resolve) => server.close(resolve)));
  await within(5000, 'listening', (done) => server.once('listening', done));
  server.on('message', (socket, message) => server.send(socket, message));
  const fdsBefore = openFds();
  const client = new Client(ENGINE_OPTIONS);
  let echoed = 0;
  let closedCount = 0;
  client.on('open', (socket) => client.send(socket, 'ping'));
  client.on('message', (socket) => {
    echoed++;
    client.close(socket, 1000);
  });
  client.on('close', () => closedCount++);
  for (let i = 0; i < 1000; i++) client.connect(`ws://127.0.0.1:${server.port}`);
  await waitUntil(() => closedCount === 1000, 20000, '1,000 closes');
  assert.equal(echoed, 1000);
  await new Promise((resolve) => client.close(resolve));
  await waitUntil(() => openFds() <= fdsBefore + 2, 5000, 'descriptors back to baseline');
});

test('bad arguments throw clear errors', (t) => {
  const client = new Client(ENGINE_OPTIONS);
  t.after(() => new Promise((resolve) => client.close(resolve)));
  assert.throws(() => client.connect('http//nope'), { name: 'SyntaxError', message: 'Invalid URL: http//nope' });
  assert.throws(() => client.connect('ftp://127.0.0.1/'), { name: 'SyntaxError', message: /protocol must be one of/ });
  assert.throws(() => client.connect('ws://127.0.0.1/#frag'), { message: 'The URL contains a fragment identifier' });
  assert.throws(() => client.connect('ws://127.0.0.1/', { bogus: 1 }), { name: 'TypeError', message: 'Unknown connect option "bogus"' });
  assert.throws(() => new Client({ port: 80 }), { name: 'TypeError', message: /for servers/ });
  assert.throws(() => client.connect('ws://127.0.0.1/', { headers: { 'X-Bad': 'a\r\nInjected: 1' } }), { code: 'ERR_INVALID_CHAR' });
});
