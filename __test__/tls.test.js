'use strict';
// wss:// served by the engine (ssl option): real TLS clients, certificates made by openssl.
const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const https = require('https');
const tls = require('tls');
const { execFileSync } = require('child_process');
const WebSocket = require('ws');
const { Server, WebSocketServer } = require('..');
const { within, sleep } = require('./helpers/wait');
const { ENGINE_OPTIONS } = require('./helpers/engine'); // LWS_TEST_THREADS (js-thread.test.js)
const { upgradeRequest, frame, closePayload } = require('./helpers/differential');

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

test('wss: the cipher suite is AES-128-GCM for a client that lists AES-GCM before ChaCha20 (whichever AES it lists first), ChaCha20 for one that lists it first, in TLS 1.3 and 1.2', { timeout: 20000 }, async (t) => {
  const server = await echoServer(t, { key: file('server.key'), cert: file('server.pem') });
  const suite = (options) => new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: server.port, ca: fs.readFileSync(file('ca.pem')), ...options }, () => {
      resolve(socket.getCipher().name);
      socket.destroy();
    });
    socket.once('error', reject);
  });
  // The server takes AES-128 only where it has AES in hardware itself (every x86-64 CPU since 2010).
  const aesHardware = os.arch() !== 'x64' || /^flags\s*:.*\baes\b/m.test(fs.readFileSync('/proc/cpuinfo', 'utf8'));
  const aes128 = (tls13, tls12) => (aesHardware ? [tls13, tls12] : ['TLS_CHACHA20_POLY1305_SHA256', 'ECDHE-RSA-CHACHA20-POLY1305']);
  const [aes13, aes12] = aes128('TLS_AES_128_GCM_SHA256', 'ECDHE-RSA-AES128-GCM-SHA256');
  assert.equal(await suite({ ciphers: 'TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256' }), aes13);
  assert.equal(await suite({ ciphers: 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256' }), aes13);
  assert.equal(await suite({ ciphers: 'TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256' }), 'TLS_CHACHA20_POLY1305_SHA256');
  assert.equal(await suite({ ciphers: 'TLS_AES_256_GCM_SHA384' }), 'TLS_AES_256_GCM_SHA384', 'a client offering one suite gets it');
  const tls12 = { maxVersion: 'TLSv1.2' };
  assert.equal(await suite({ ...tls12, ciphers: 'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305' }), aes12);
  assert.equal(await suite({ ...tls12, ciphers: 'ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES256-GCM-SHA384' }), 'ECDHE-RSA-CHACHA20-POLY1305');
  assert.equal(await suite({ ...tls12, ciphers: 'ECDHE-RSA-AES256-GCM-SHA384' }), 'ECDHE-RSA-AES256-GCM-SHA384');
  // And the session carries WebSocket traffic whichever suite it has.
  const got = await echoOnce(`wss://127.0.0.1:${server.port}/`, { ca: fs.readFileSync(file('ca.pem')), ciphers: 'TLS_CHACHA20_POLY1305_SHA256' }, ['chacha']);
  assert.equal(got[0].toString(), 'chacha');
});

test('lws.WebSocket offers AES-128-GCM first, as Chrome does, so a server that follows the client\'s order (as uWebSockets.js does; Node\'s https with honorCipherOrder: false) runs the SHA-256 handshake', { timeout: 20000 }, async (t) => {
  const { WebSocket: LwsWebSocket } = require('..');
  const server = https.createServer({ key: fs.readFileSync(file('server.key')), cert: fs.readFileSync(file('server.pem')), honorCipherOrder: false });
  const wss = new WebSocket.WebSocketServer({ server });
  const suites = [];
  wss.on('connection', (ws, req) => {
    suites.push(req.socket.getCipher().name);
    ws.on('message', (data) => ws.send(data));
  });
  t.after(() => new Promise((r) => { for (const c of wss.clients) c.terminate(); server.close(r); }));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const ws = new LwsWebSocket(`wss://127.0.0.1:${server.address().port}/`, { ca: fs.readFileSync(file('ca.pem')) });
  await within(5000, 'open', (done, fail) => { ws.once('open', done); ws.once('error', fail); });
  ws.send('suite');
  assert.equal(String(await within(5000, 'echo', (done) => ws.once('message', done))), 'suite');
  ws.terminate();
  const aesHardware = os.arch() !== 'x64' || /^flags\s*:.*\baes\b/m.test(fs.readFileSync('/proc/cpuinfo', 'utf8'));
  assert.deepEqual(suites, [aesHardware ? 'TLS_AES_128_GCM_SHA256' : 'TLS_CHACHA20_POLY1305_SHA256']);
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

/**
 * A raw TLS client's view of the end of a connection the server closes (4001): it answers the
 * close frame, then ends its own side (close_notify, FIN) at once (`endAtOnce`) or 100 ms after
 * the server has ended TLS. Returns what it saw, in order.
 */
async function teardownSeenByClient(port, endAtOnce) {
  const seen = [];
  const client = tls.connect({ port, host: '127.0.0.1', ca: fs.readFileSync(file('ca.pem')), servername: 'localhost' });
  let received = Buffer.alloc(0);
  let answered = false;
  client.on('secureConnect', () => client.write(upgradeRequest()));
  client.on('data', (chunk) => {
    received = Buffer.concat([received, chunk]);
    const head = received.indexOf('\r\n\r\n');
    // The server's close frame: 0x88, length 5, code 4001, 'bye'.
    if (answered || head === -1 || received.length < head + 4 + 7) return;
    const closeFrame = received.subarray(head + 4, head + 11);
    seen.push(`close frame ${closeFrame.toString('hex')}`);
    answered = true;
    client.write(frame(8, closePayload(4001, 'bye')));
    // Our close_notify and FIN right behind the close frame: they must not meet a reset.
    if (endAtOnce) client.end();
  });
  client.on('end', () => {
    seen.push('server ended TLS');
    // Or our close_notify and FIN a moment after the server's.
    if (!endAtOnce) setTimeout(() => client.end(), 100);
  });
  client.on('error', (err) => seen.push(`error ${err.code}`));
  await within(5000, 'the TLS connection to close', (done) => client.on('close', done));
  await sleep(100); // a late error would show here
  return seen;
}

test('wss: after the close handshake the server ends TLS and takes the client\'s close_notify, sent at once or after the server\'s, without a reset, as ws over https does', { timeout: 30000 }, async (t) => {
  const expected = ['close frame 88050fa1627965', 'server ended TLS'];
  const key = fs.readFileSync(file('server.key'));
  const cert = fs.readFileSync(file('server.pem'));
  // The reference: ws on Node's https server.
  const httpsServer = https.createServer({ key, cert });
  const reference = new WebSocket.WebSocketServer({ server: httpsServer });
  reference.on('connection', (ws) => ws.close(4001, 'bye'));
  await new Promise((resolve) => httpsServer.listen(0, '127.0.0.1', resolve));
  t.after(() => { reference.close(); httpsServer.close(); });
  for (const endAtOnce of [false, true]) {
    assert.deepEqual(await teardownSeenByClient(httpsServer.address().port, endAtOnce), expected, `ws over https (ends at once: ${endAtOnce})`);
  }

  const core = await echoServer(t, { key: file('server.key'), cert: file('server.pem') });
  core.on('connection', (socket) => core.close(socket, 4001, 'bye'));
  // WebSocketServer as ws users serve wss://: on their https server (the TLS socket is relayed to the engine).
  const lwsHttps = https.createServer({ key, cert });
  const wss = new WebSocketServer({ server: lwsHttps, ...ENGINE_OPTIONS });
  wss.on('connection', (ws) => ws.close(4001, 'bye'));
  await new Promise((resolve) => lwsHttps.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => { lwsHttps.close(); wss.close(resolve); }));
  for (let round = 0; round < 10; round++) {
    for (const endAtOnce of [false, true]) {
      const how = endAtOnce ? 'the client ends right after its close frame' : 'the client ends after the server';
      assert.deepEqual(await teardownSeenByClient(core.port, endAtOnce), expected, `lws.Server, ${how}, round ${round}`);
      assert.deepEqual(await teardownSeenByClient(lwsHttps.address().port, endAtOnce), expected, `WebSocketServer on https, ${how}, round ${round}`);
    }
  }
});
