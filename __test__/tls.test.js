'use strict';
// wss:// served by the engine (ssl option): real TLS clients, certificates made by openssl.
const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const tls = require('tls');
const { execFileSync } = require('child_process');
const WebSocket = require('ws');
const { Server, WebSocketServer } = require('..');
const { within } = require('./helpers/wait');
const { ENGINE_OPTIONS } = require('./helpers/engine'); // LWS_TEST_THREADS (js-thread.test.js)

let dir;
const file = (name) => path.join(dir, name);

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lws-tls-'));
  const run = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  // A CA, a server certificate for 127.0.0.1/localhost, and a client certificate.
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=lws test CA', '-keyout', 'ca.key', '-out', 'ca.pem');
  fs.writeFileSync(file('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'server.ext', '-out', 'server.pem');
  fs.writeFileSync(file('client.ext'), 'extendedKeyUsage=clientAuth\n'); // a v3 certificate, as webpki wants
  run('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=client', '-keyout', 'client.key', '-out', 'client.csr');
  run('x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'client.ext', '-out', 'client.pem');
});

async function echoServer(t, ssl, extra = {}) {
  const server = new Server({ port: 0, host: '127.0.0.1', ssl, ...ENGINE_OPTIONS, ...extra });
  t.after(() => new Promise((r) => server.close(r)));
  server.on('message', (socket, message, binary) => server.send(socket, message, binary));
  await within(5000, 'listening', (done) => server.once('listening', done));
  return server;
}

async function echoOnce(url, options, payloads) {
  const ws = new WebSocket(url, options);
  try {
    await within(5000, 'open', (done, fail) => { ws.once('open', done); ws.once('error', fail); });
    const got = [];
    for (const p of payloads) {
      ws.send(p);
      got.push(await within(10000, 'echo', (done) => ws.once('message', (d) => done(d))));
    }
    return got;
  } finally {
    ws.terminate();
  }
}

test('wss: echo of text, binary and a 2 MiB message through the engine\'s TLS', { timeout: 30000 }, async (t) => {
  const server = await echoServer(t, { key: file('server.key'), cert: file('server.pem') });
  const big = Buffer.alloc(2 * 1024 * 1024, 0x5a);
  const got = await echoOnce(`wss://127.0.0.1:${server.port}/`, { ca: fs.readFileSync(file('ca.pem')) }, ['héllo tls', Buffer.from([1, 2, 3]), big]);
  assert.equal(got[0].toString(), 'héllo tls');
  assert.deepEqual([...got[1]], [1, 2, 3]);
  assert.ok(got[2].equals(big));
});

test('wss: messages sent just before the client\'s close are all echoed before the close reply, which echoes code and reason', { timeout: 30000 }, async (t) => {
  const server = await echoServer(t, { key: file('server.key'), cert: file('server.pem') });
  const big = Buffer.alloc(300 * 1024, 0x42);
  for (let round = 0; round < 3; round++) {
    const ws = new WebSocket(`wss://127.0.0.1:${server.port}/`, { ca: fs.readFileSync(file('ca.pem')) });
    const got = [];
    ws.on('message', (data) => got.push(data.length));
    await within(5000, 'open', (done, fail) => { ws.once('open', done); ws.once('error', fail); });
    const closed = within(5000, 'close', (done) => ws.once('close', (code, reason) => done({ code, reason: String(reason) })));
    ws.send('hello');
    ws.send(big);
    ws.send('world');
    ws.close(4000, 'bye');
    assert.deepEqual(await closed, { code: 4000, reason: 'bye' });
    assert.deepEqual(got, [5, big.length, 5], `round ${round}: every echo before the close`);
  }
});

test('wss: PEM given as strings; the certificate is checked by the client (wrong CA fails)', { timeout: 20000 }, async (t) => {
  const server = await echoServer(t, { key: fs.readFileSync(file('server.key'), 'utf8'), cert: fs.readFileSync(file('server.pem'), 'utf8') });
  const got = await echoOnce(`wss://localhost:${server.port}/`, { ca: fs.readFileSync(file('ca.pem')) }, ['by name']);
  assert.equal(got[0].toString(), 'by name');
  await assert.rejects(echoOnce(`wss://127.0.0.1:${server.port}/`, {}, ['x']), /self.signed|unable to (get|verify)|certificate/i);
});

test('wss: a plain ws:// client or plain HTTP gets nothing useful and the server keeps serving', { timeout: 20000 }, async (t) => {
  const server = await echoServer(t, { key: file('server.key'), cert: file('server.pem') });
  await assert.rejects(echoOnce(`ws://127.0.0.1:${server.port}/`, {}, ['x']));
  const got = await echoOnce(`wss://127.0.0.1:${server.port}/`, { ca: fs.readFileSync(file('ca.pem')) }, ['still fine']);
  assert.equal(got[0].toString(), 'still fine');
});

test('wss with ca: clients must present a certificate from that CA', { timeout: 20000 }, async (t) => {
  const ssl = { key: file('server.key'), cert: file('server.pem'), ca: file('ca.pem') };
  const server = await echoServer(t, ssl);
  const url = `wss://127.0.0.1:${server.port}/`;
  const got = await echoOnce(url, { ca: fs.readFileSync(file('ca.pem')), key: fs.readFileSync(file('client.key')), cert: fs.readFileSync(file('client.pem')) }, ['with cert']);
  assert.equal(got[0].toString(), 'with cert');
  await assert.rejects(echoOnce(url, { ca: fs.readFileSync(file('ca.pem')) }, ['no cert']));
  const lenient = await echoServer(t, { ...ssl, rejectUnauthorized: false });
  const ok = await echoOnce(`wss://127.0.0.1:${lenient.port}/`, { ca: fs.readFileSync(file('ca.pem')) }, ['optional']);
  assert.equal(ok[0].toString(), 'optional');
});

test('bad TLS material is refused with a clear error', () => {
  assert.throws(() => new Server({ port: 0, ssl: { key: file('server.key'), cert: file('server.key') } }), { code: 'ERR_LWS_TLS_CONFIG' });
  assert.throws(() => new Server({ port: 0, ssl: { key: file('missing.key'), cert: file('server.pem') } }), /ssl.key: cannot read/);
  assert.throws(() => new Server({ port: 0, ssl: { key: file('server.key'), cert: file('server.pem'), passphrase: 'x' } }), { code: 'ERR_INVALID_ARG_VALUE' });
});

test('a TLS handshake that never finishes is dropped after handshakeTimeout', { timeout: 20000 }, async (t) => {
  const server = await echoServer(t, { key: file('server.key'), cert: file('server.pem') }, { handshakeTimeout: 500 });
  const raw = require('net').connect(server.port, '127.0.0.1');
  t.after(() => raw.destroy());
  raw.on('error', () => {});
  await within(5000, 'connect', (done) => raw.once('connect', done));
  raw.write(Buffer.from([0x16, 0x03, 0x01])); // the first bytes of a ClientHello, then nothing
  const started = Date.now();
  await within(5000, 'drop', (done) => raw.once('close', done));
  assert.ok(Date.now() - started < 3000);
});
