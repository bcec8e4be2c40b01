'use strict';
// The candidate client (helpers/client-candidate.js: lws.WebSocket, or ws with
// LWS_CLIENT_CANDIDATE=ws) against real peers: ws's server, lws.Server,
// lws.WebSocketServer, Python's `websockets` server (scripts/python-env.sh makes the
// venv; never skipped), uWebSockets.js, https servers with openssl-made certificates
// (trusted via `ca`, failing checks, rejectUnauthorized: false, client certificates,
// checkServerIdentity) and a CONNECT proxy written here, used through an `agent`.
// Where ws's own client is the reference for an error, both run and are compared.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const net = require('node:net');
const os = require('node:os');
const { Duplex } = require('node:stream');
const path = require('node:path');
const tls = require('node:tls');
const { execFileSync, spawn } = require('node:child_process');
const WS = require('ws');
const uWS = require('@trufflesuite/uws-js-unofficial');

const lws = require(path.join(__dirname, '..'));
const { WebSocket, name: CANDIDATE } = require('./helpers/client-candidate');
const { withTimeout, within, closeHttp } = require('./helpers/wait');
const { ENGINE_OPTIONS } = require('./helpers/engine');

const ROOT = path.join(__dirname, '..');
const HOST = '127.0.0.1';

/** Everything a client observed in one connection (events in order). */
function observe(ws) {
  const log = [];
  const done = new Promise((resolve) => {
    ws.on('open', () => log.push({ ev: 'open', protocol: ws.protocol, extensions: ws.extensions }));
    ws.on('message', (data, isBinary) => log.push({ ev: 'message', isBinary, data }));
    ws.on('pong', (data) => log.push({ ev: 'pong', data: data.toString() }));
    ws.on('error', (err) => log.push({ ev: 'error', message: err.message, code: err.code }));
    ws.on('close', (code, reason) => {
      log.push({ ev: 'close', code, reason: reason.toString() });
      resolve(log);
    });
  });
  return { log, done: withTimeout(done, 15000, "the client's 'close'") };
}

/** Resolves with the next message (data, isBinary), bounded. */
function nextMessage(ws, ms = 10000) {
  return within(ms, 'a message', (resolve, reject) => {
    ws.once('message', (data, isBinary) => resolve({ data, isBinary }));
    ws.once('close', (code) => reject(new Error(`closed (${code}) while waiting for a message`)));
  });
}

function opened(ws, ms = 10000) {
  return within(ms, 'client open', (resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
}

const TEXT = 'héllo wörld — € 𝄞 日本語 🎉';
const BIG = crypto.randomBytes(100 * 1024);

/**
 * The conversation every echo peer gets: text (multibyte), binary, empty, 100 KiB
 * binary and text, a burst of 20, a ping with payload, then close 1000 'bye'.
 * Returns the close the client saw.
 */
async function conversation(url, options = {}) {
  const ws = new WebSocket(url, options);
  const { done } = observe(ws);
  await opened(ws);
  const roundTrip = async (data, binary) => {
    const got = nextMessage(ws);
    ws.send(data, { binary });
    return got;
  };
  let m = await roundTrip(TEXT, false);
  assert.equal(m.isBinary, false);
  assert.equal(m.data.toString(), TEXT);
  m = await roundTrip(Buffer.from([0, 1, 2, 254, 255]), true);
  assert.equal(m.isBinary, true);
  assert.deepEqual(m.data, Buffer.from([0, 1, 2, 254, 255]));
  m = await roundTrip('', false);
  assert.equal(m.data.length, 0);
  m = await roundTrip(BIG, true);
  assert.ok(m.data.equals(BIG), '100 KiB binary echo');
  const bigText = 'ü'.repeat(50 * 1024);
  m = await roundTrip(bigText, false);
  assert.equal(m.data.toString(), bigText);
  const burst = [];
  const all = within(10000, 'burst', (resolve) => {
    const on = (data) => {
      burst.push(data.toString());
      if (burst.length === 20) {
        ws.removeListener('message', on);
        resolve();
      }
    };
    ws.on('message', on);
  });
  for (let i = 0; i < 20; i++) ws.send(`burst ${i}`);
  await all;
  assert.deepEqual(burst, Array.from({ length: 20 }, (_, i) => `burst ${i}`));
  const pong = within(10000, 'pong', (resolve) => ws.once('pong', (data) => resolve(data.toString())));
  ws.ping('are you there');
  assert.equal(await pong, 'are you there');
  ws.close(1000, 'bye');
  const log = await done;
  const close = log[log.length - 1];
  assert.deepEqual(close, { ev: 'close', code: 1000, reason: 'bye' });
  assert.equal(log.filter((e) => e.ev === 'error').length, 0, JSON.stringify(log.filter((e) => e.ev === 'error')));
  return ws;
}

// ---- ws, lws.Server, lws.WebSocketServer --------------------------------------------------

test(`${CANDIDATE} against ws's WebSocketServer (with and without permessage-deflate)`, async (t) => {
  for (const perMessageDeflate of [false, true]) {
    const wss = new WS.WebSocketServer({ port: 0, host: HOST, perMessageDeflate });
    t.after(() => new Promise((resolve) => wss.close(resolve)));
    await within(5000, 'listening', (resolve) => wss.once('listening', resolve));
    const closes = [];
    wss.on('connection', (ws) => {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      ws.on('close', (code, reason) => closes.push([code, reason.toString()]));
    });
    const client = await conversation(`ws://${HOST}:${wss.address().port}/`);
    assert.equal(client.extensions, perMessageDeflate ? 'permessage-deflate' : '');
    await within(5000, 'server close', (resolve) => (closes.length ? resolve() : wss.clients.forEach((c) => c.once('close', resolve))));
    assert.deepEqual(closes, [[1000, 'bye']]);
  }
});

test(`${CANDIDATE} against lws.Server (node-lws API), plain and with permessage-deflate`, async (t) => {
  for (const perMessageDeflate of [false, true]) {
    const server = new lws.Server({ port: 0, host: HOST, perMessageDeflate, ...ENGINE_OPTIONS });
    t.after(() => withTimeout(new Promise((resolve) => server.close(resolve)), 10000, 'lws close'));
    await within(5000, 'listening', (resolve) => server.once('listening', resolve));
    const closes = [];
    server.on('message', (socket, data, binary) => server.send(socket, data, binary));
    const closed = within(15000, 'server close', (resolve) => server.on('close', (socket, code, reason) => {
      closes.push([code, Buffer.from(reason).toString()]);
      resolve();
    }));
    const client = await conversation(`ws://${HOST}:${server.port}/`);
    assert.equal(client.extensions, perMessageDeflate ? 'permessage-deflate' : '');
    await closed;
    assert.deepEqual(closes, [[1000, 'bye']]);
  }
});

test(`${CANDIDATE} against lws.WebSocketServer: subprotocol and a server-initiated close`, async (t) => {
  const wss = new lws.WebSocketServer({ port: 0, host: HOST, handleProtocols: (set) => (set.has('b') ? 'b' : false), ...ENGINE_OPTIONS });
  t.after(() => new Promise((resolve) => wss.close(() => resolve())));
  await within(5000, 'listening', (resolve) => wss.once('listening', resolve));
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      if (data.toString() === 'close me') ws.close(4000, 'server bye');
      else ws.send(data, { binary: isBinary });
    });
  });
  const client = await conversation(`ws://${HOST}:${wss.address().port}/`, {});
  assert.equal(client.protocol, '');
  const ws = new WebSocket(`ws://${HOST}:${wss.address().port}/`, ['a', 'b']);
  const { done } = observe(ws);
  await opened(ws);
  assert.equal(ws.protocol, 'b');
  ws.send('close me');
  const log = await done;
  assert.deepEqual(log.at(-1), { ev: 'close', code: 4000, reason: 'server bye' });
});

// ---- Python websockets ----------------------------------------------------------------------

let python = null;
let pythonSetupError = null;

before(() => {
  try {
    const out = execFileSync('bash', [path.join(ROOT, 'scripts', 'python-env.sh')], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 240000,
      killSignal: 'SIGKILL',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    python = out.trim().split('\n').pop();
  } catch (err) {
    pythonSetupError = new Error(`cannot set up Python websockets with scripts/python-env.sh: ${err.message}\n${err.stderr || ''}`);
  }
}, { timeout: 300000 });

/** Starts the Python echo server: { port, lines (JSON per finished connection), stop() }. */
async function pythonServer() {
  const child = spawn(python, [path.join(__dirname, 'fixtures', 'python_echo_server.py')], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONIOENCODING: 'utf-8' },
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const lines = [];
  const waiters = [];
  let buffered = '';
  const port = await within(30000, 'python server ready', (resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`python server exited (${code}): ${stderr}`)));
    child.stdout.on('data', (d) => {
      buffered += d;
      let nl;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const ready = /^ready (\d+)$/.exec(line);
        if (ready) resolve(Number(ready[1]));
        else if (line.startsWith('{')) {
          lines.push(JSON.parse(line));
          while (waiters.length) waiters.shift()();
        }
      }
    });
  });
  return {
    port,
    lines,
    async line(i) {
      while (lines.length <= i) await withTimeout(new Promise((resolve) => waiters.push(resolve)), 10000, 'python connection report');
      return lines[i];
    },
    stop: () => within(10000, 'python exit', (resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', resolve);
      child.stdin.end();
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    }),
  };
}

test(`${CANDIDATE} against Python websockets' server: echo, subprotocol, server close`, { timeout: 120000 }, async (t) => {
  if (pythonSetupError) throw pythonSetupError;
  const py = await pythonServer();
  t.after(() => py.stop());
  await conversation(`ws://${HOST}:${py.port}/echo`);
  const report = await py.line(0);
  assert.equal(report.path, '/echo');
  assert.equal(report.code, 1000);
  assert.equal(report.reason, 'bye');
  assert.equal(report.messages, 5 + 20);

  const ws = new WebSocket(`ws://${HOST}:${py.port}/sub`, ['py']);
  const { done } = observe(ws);
  await opened(ws);
  assert.equal(ws.protocol, 'py');
  ws.send('close me');
  const log = await done;
  assert.deepEqual(log.at(-1), { ev: 'close', code: 4000, reason: 'python bye' });
  const second = await py.line(1);
  assert.equal(second.subprotocol, 'py');
});

// ---- uWebSockets.js -----------------------------------------------------------------------

test(`${CANDIDATE} against uWebSockets.js (with and without compression)`, async (t) => {
  for (const compression of [uWS.DISABLED, uWS.SHARED_COMPRESSOR]) {
    const closes = [];
    let listenSocket = null;
    const app = uWS.App().ws('/*', {
      compression,
      maxPayloadLength: 16 * 1024 * 1024,
      idleTimeout: 0,
      message: (ws, message, isBinary) => ws.send(message, isBinary),
      close: (ws, code, message) => closes.push([code, Buffer.from(message).toString()]),
    });
    const port = await within(5000, 'uWS listen', (resolve, reject) => app.listen(HOST, 0, (token) => {
      if (!token) return reject(new Error('uWS cannot listen'));
      listenSocket = token;
      resolve(uWS.us_socket_local_port(token));
    }));
    t.after(() => listenSocket && uWS.us_listen_socket_close(listenSocket));
    const client = await conversation(`ws://${HOST}:${port}/`);
    assert.equal(client.extensions, compression === uWS.DISABLED ? '' : 'permessage-deflate');
    await within(5000, 'uWS close', (resolve) => {
      const check = () => (closes.length ? resolve() : setImmediate(check));
      check();
    });
    assert.deepEqual(closes, [[1000, 'bye']]);
    uWS.us_listen_socket_close(listenSocket);
    listenSocket = null;
  }
});

// ---- TLS --------------------------------------------------------------------------------------

let dir;
const file = (name) => path.join(dir, name);
const read = (name) => fs.readFileSync(file(name));

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lws-client-tls-'));
  const run = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  // A CA; a server certificate for 127.0.0.1/localhost; one for "localhost" only; a client
  // certificate; and a self-signed server certificate (no CA).
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=lws client test CA', '-keyout', 'ca.key', '-out', 'ca.pem');
  const issue = (name, subject, ext) => {
    fs.writeFileSync(file(`${name}.ext`), ext);
    run('req', '-newkey', 'rsa:2048', '-nodes', '-subj', subject, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    run('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`);
  };
  issue('server', '/CN=localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  issue('named', '/CN=localhost', 'subjectAltName=DNS:localhost\n');
  issue('client', '/CN=lws test client', 'extendedKeyUsage=clientAuth\n');
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=self', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', 'self.key', '-out', 'self.pem');
  // X.509 v1 certificates, as `openssl x509 -req` makes them without an extension file
  // (webpki refuses them; OpenSSL, and so Node and ws, take them): a self-signed server
  // certificate, and a client certificate the CA signed.
  run('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', 'v1self.key', '-out', 'v1self.csr');
  run('x509', '-req', '-in', 'v1self.csr', '-signkey', 'v1self.key', '-days', '2', '-out', 'v1self.pem');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=lws v1 client', '-keyout', 'v1client.key', '-out', 'v1client.csr');
  run('x509', '-req', '-in', 'v1client.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', 'v1client.pem');
});

after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** An https server with a ws echo server on it; `tlsOptions` for https.createServer. */
async function wssServer(t, tlsOptions) {
  const server = https.createServer(tlsOptions);
  const wss = new WS.WebSocketServer({ server });
  const connections = [];
  wss.on('connection', (ws, req) => {
    connections.push({ authorized: req.socket.authorized, peer: req.socket.getPeerCertificate().subject });
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  server.on('tlsClientError', () => {});
  t.after(async () => {
    for (const ws of wss.clients) ws.terminate();
    await closeHttp(server);
  });
  await new Promise((resolve) => server.listen(0, HOST, resolve));
  return { port: server.address().port, connections };
}

/** How a client of class `Impl` ends when connecting with `options`: its events, in order. */
async function outcome(Impl, url, options) {
  const ws = new Impl(url, options);
  const { done } = observe(ws);
  ws.once('open', () => ws.close(1000, 'ok'));
  return done;
}

test(`${CANDIDATE} over wss: with the CA in \`ca\`; a server the CA does not vouch for fails as in ws`, async (t) => {
  const { port, connections } = await wssServer(t, { key: read('server.key'), cert: read('server.pem') });
  await conversation(`wss://${HOST}:${port}/`, { ca: read('ca.pem') });
  await conversation(`wss://localhost:${port}/`, { ca: read('ca.pem') });
  assert.equal(connections.length, 2);
  // No `ca`: the chain does not verify. Compare with what ws reports.
  const reference = await outcome(WS.WebSocket, `wss://${HOST}:${port}/`, {});
  const got = await outcome(WebSocket, `wss://${HOST}:${port}/`, {});
  assert.deepEqual(got, reference);
  assert.equal(reference[0].ev, 'error');
  assert.equal(reference[0].code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  assert.deepEqual(reference.at(-1), { ev: 'close', code: 1006, reason: '' });
  assert.equal(connections.length, 2, 'no connection without a verified certificate');
});

test(`${CANDIDATE} over wss: a self-signed certificate fails without \`ca\`, works with rejectUnauthorized: false`, async (t) => {
  const { port, connections } = await wssServer(t, { key: read('self.key'), cert: read('self.pem') });
  const reference = await outcome(WS.WebSocket, `wss://${HOST}:${port}/`, {});
  const got = await outcome(WebSocket, `wss://${HOST}:${port}/`, {});
  assert.deepEqual(got, reference);
  assert.equal(reference[0].code, 'DEPTH_ZERO_SELF_SIGNED_CERT');
  assert.equal(connections.length, 0);
  await conversation(`wss://${HOST}:${port}/`, { rejectUnauthorized: false });
  await conversation(`wss://${HOST}:${port}/`, { ca: read('self.pem') });
  assert.equal(connections.length, 2);
});

test(`${CANDIDATE} over wss: host name checks (servername, checkServerIdentity)`, async (t) => {
  const { port } = await wssServer(t, { key: read('named.key'), cert: read('named.pem') });
  // The certificate names localhost only: 127.0.0.1 fails the identity check, as in ws.
  const reference = await outcome(WS.WebSocket, `wss://${HOST}:${port}/`, { ca: read('ca.pem') });
  const got = await outcome(WebSocket, `wss://${HOST}:${port}/`, { ca: read('ca.pem') });
  assert.deepEqual(got, reference);
  assert.equal(reference[0].code, 'ERR_TLS_CERT_ALTNAME_INVALID');
  await conversation(`wss://localhost:${port}/`, { ca: read('ca.pem') });
  const checked = [];
  await conversation(`wss://${HOST}:${port}/`, {
    ca: read('ca.pem'),
    checkServerIdentity: (host, cert) => {
      checked.push([host, cert.subject.CN]);
      return undefined;
    },
  });
  assert.deepEqual(checked, [[HOST, 'localhost']]);
  await conversation(`wss://${HOST}:${port}/`, { ca: read('ca.pem'), servername: 'localhost' });
});

test(`${CANDIDATE} over wss: client certificates (required by the server)`, async (t) => {
  const { port, connections } = await wssServer(t, {
    key: read('server.key'),
    cert: read('server.pem'),
    ca: read('ca.pem'),
    requestCert: true,
    rejectUnauthorized: true,
  });
  await conversation(`wss://${HOST}:${port}/`, { ca: read('ca.pem'), cert: read('client.pem'), key: read('client.key') });
  assert.deepEqual(connections, [{ authorized: true, peer: connections[0].peer }]);
  assert.equal(connections[0].peer.CN, 'lws test client');
  // Without a certificate the server refuses: an error and 1006, never 'open'.
  const log = await outcome(WebSocket, `wss://${HOST}:${port}/`, { ca: read('ca.pem') });
  assert.ok(log.some((e) => e.ev === 'error'), JSON.stringify(log));
  assert.ok(!log.some((e) => e.ev === 'open'), JSON.stringify(log));
  assert.deepEqual(log.at(-1), { ev: 'close', code: 1006, reason: '' });
  assert.equal(connections.length, 1);
});

test(`${CANDIDATE} over wss: X.509 v1 certificates (openssl x509 -req), as in ws: the server's with rejectUnauthorized: false, and the client's`, async (t) => {
  const v1 = (name) => execFileSync('openssl', ['x509', '-in', file(name), '-noout', '-text']).toString();
  assert.match(v1('v1self.pem'), /Version: 1 \(0x0\)/);
  assert.match(v1('v1client.pem'), /Version: 1 \(0x0\)/);
  const self = await wssServer(t, { key: read('v1self.key'), cert: read('v1self.pem') });
  const reference = await outcome(WS.WebSocket, `wss://${HOST}:${self.port}/`, {});
  const got = await outcome(WebSocket, `wss://${HOST}:${self.port}/`, {});
  assert.deepEqual(got, reference); // refused: self-signed
  await conversation(`wss://${HOST}:${self.port}/`, { rejectUnauthorized: false });
  assert.equal(self.connections.length, 1);

  const mutual = await wssServer(t, {
    key: read('server.key'), cert: read('server.pem'), ca: read('ca.pem'), requestCert: true, rejectUnauthorized: true,
  });
  await conversation(`wss://${HOST}:${mutual.port}/`, { ca: read('ca.pem'), cert: read('v1client.pem'), key: read('v1client.key') });
  assert.deepEqual(mutual.connections.map((c) => [c.authorized, c.peer.CN]), [[true, 'lws v1 client']]);
  // A key that is not the certificate's is refused before connecting, with a clear error.
  let mismatch;
  try {
    mismatch = await outcome(WebSocket, `wss://${HOST}:${mutual.port}/`, { ca: read('ca.pem'), cert: read('v1client.pem'), key: read('client.key') });
  } catch (err) {
    mismatch = [{ ev: 'error', message: err.message }]; // ws's tls.connect throws it
  }
  assert.ok(mismatch.some((e) => e.ev === 'error' && /private key does not match|key values mismatch/.test(e.message)), JSON.stringify(mismatch));
  assert.equal(mutual.connections.length, 1);
});

test(`lws.Server serves wss:// with an X.509 v1 certificate (openssl x509 -req), as Node's https does; ${CANDIDATE} and ws connect`, async (t) => {
  const server = new lws.Server({ port: 0, host: HOST, ssl: { key: file('v1self.key'), cert: file('v1self.pem') }, ...ENGINE_OPTIONS });
  t.after(() => withTimeout(new Promise((resolve) => server.close(resolve)), 10000, 'lws close'));
  server.on('message', (socket, data, binary) => server.send(socket, data, binary));
  await within(5000, 'listening', (resolve) => server.once('listening', resolve));
  await conversation(`wss://${HOST}:${server.port}/`, { rejectUnauthorized: false });
  const ws = new WS.WebSocket(`wss://localhost:${server.port}/`, { ca: read('v1self.pem') });
  const { done } = observe(ws);
  await opened(ws);
  ws.close(1000);
  assert.deepEqual((await done).map((e) => e.ev), ['open', 'close']);
});

test(`${CANDIDATE} over wss: servername '' sends no SNI, as Node's tls.connect (ws)`, async (t) => {
  const seen = [];
  const server = https.createServer({ key: read('named.key'), cert: read('named.pem') });
  const wss = new WS.WebSocketServer({ server });
  wss.on('connection', (ws, req) => {
    seen.push(req.socket.servername);
    ws.close(1000);
  });
  t.after(async () => {
    for (const ws of wss.clients) ws.terminate();
    await closeHttp(server);
  });
  await new Promise((resolve) => server.listen(0, HOST, resolve));
  const { port } = server.address();
  const run = async (Impl, options) => {
    const ws = new Impl(`wss://localhost:${port}/`, { ca: read('ca.pem'), ...options });
    const { done } = observe(ws);
    await done;
  };
  for (const Impl of [WS.WebSocket, WebSocket]) {
    await run(Impl, {});
    await run(Impl, { servername: '' });
  }
  // The host name is still what the certificate is checked against (it names localhost only).
  assert.deepEqual(seen, ['localhost', false, 'localhost', false]);
});

test(`${CANDIDATE} against lws.Server serving wss:// (rustls)`, async (t) => {
  const server = new lws.Server({ port: 0, host: HOST, ssl: { key: file('server.key'), cert: file('server.pem') }, ...ENGINE_OPTIONS });
  t.after(() => withTimeout(new Promise((resolve) => server.close(resolve)), 10000, 'lws close'));
  server.on('message', (socket, data, binary) => server.send(socket, data, binary));
  await within(5000, 'listening', (resolve) => server.once('listening', resolve));
  await conversation(`wss://${HOST}:${server.port}/`, { ca: read('ca.pem') });
});

/**
 * A Duplex that yields `first`, then what `socket` reads (a server's own handle-level
 * reads would miss bytes put back with unshift(); TLS over a plain stream is supported).
 */
function replay(socket, first) {
  const duplex = new Duplex({
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
  duplex.push(first);
  socket.on('data', (chunk) => {
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('close', () => duplex.destroy());
  socket.on('error', () => {});
  return duplex;
}

test(`${CANDIDATE}: redirects between wss: and ws: on one host:port (credentials dropped on a downgrade), as in ws`, async (t) => {
  // One port that speaks TLS and plain HTTP: the first byte of a TLS connection is 0x16.
  const wss = new WS.WebSocketServer({ noServer: true });
  let seen = [];
  let port;
  const onUpgrade = (req, socket, head) => {
    seen.push({ secure: Boolean(req.socket.encrypted), url: req.url, authorization: req.headers.authorization, cookie: req.headers.cookie });
    const location = { '/downgrade': `ws://${HOST}:${port}/landed`, '/upgrade': `wss://${HOST}:${port}/landed` }[req.url];
    if (location) {
      socket.end(`HTTP/1.1 302 Found\r\nLocation: ${location}\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => ws.close(1000, 'landed'));
  };
  const plain = http.createServer();
  const secure = https.createServer({ key: read('server.key'), cert: read('server.pem') });
  plain.on('upgrade', onUpgrade);
  secure.on('upgrade', onUpgrade);
  const sockets = new Set();
  const front = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.once('data', (chunk) => (chunk[0] === 0x16 ? secure : plain).emit('connection', replay(socket, chunk)));
  });
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => front.close(resolve));
  });
  await new Promise((resolve) => front.listen(0, HOST, resolve));
  port = front.address().port;
  const headers = { Authorization: 'Bearer secret', Cookie: 'sid=1' };
  const results = {};
  for (const [label, Impl] of [['ws', WS.WebSocket], [CANDIDATE, WebSocket]]) {
    seen = [];
    const down = await outcome(Impl, `wss://${HOST}:${port}/downgrade`, { followRedirects: true, ca: read('ca.pem'), headers });
    const downSeen = seen;
    seen = [];
    const up = await outcome(Impl, `ws://${HOST}:${port}/upgrade`, { followRedirects: true, ca: read('ca.pem'), headers });
    results[label] = { down, downSeen, up, upSeen: seen };
  }
  assert.deepEqual(results[CANDIDATE], results.ws);
  const ref = results.ws;
  assert.deepEqual(ref.down.at(-1), { ev: 'close', code: 1000, reason: 'landed' });
  assert.deepEqual(ref.downSeen, [
    { secure: true, url: '/downgrade', authorization: 'Bearer secret', cookie: 'sid=1' },
    { secure: false, url: '/landed', authorization: undefined, cookie: undefined },
  ]);
  assert.deepEqual(ref.upSeen, [
    { secure: false, url: '/upgrade', authorization: 'Bearer secret', cookie: 'sid=1' },
    { secure: true, url: '/landed', authorization: 'Bearer secret', cookie: 'sid=1' },
  ]);
});

// ---- a CONNECT proxy, through an agent -------------------------------------------------------------

/** A CONNECT proxy on loopback: logs the targets it was asked for, tunnels bytes. */
async function connectProxy(t) {
  const requests = [];
  const sockets = new Set();
  const proxy = http.createServer((req, res) => {
    res.writeHead(405);
    res.end();
  });
  proxy.on('connect', (req, clientSocket, head) => {
    requests.push({ method: req.method, url: req.url, auth: req.headers['proxy-authorization'] });
    const [host, port] = req.url.split(':');
    const upstream = net.connect(Number(port), host, () => {
      clientSocket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(clientSocket);
      clientSocket.pipe(upstream);
    });
    for (const s of [upstream, clientSocket]) {
      sockets.add(s);
      s.on('error', () => {
        upstream.destroy();
        clientSocket.destroy();
      });
      s.on('close', () => sockets.delete(s));
    }
  });
  t.after(() => {
    for (const s of sockets) s.destroy();
    return closeHttp(proxy);
  });
  await new Promise((resolve) => proxy.listen(0, HOST, resolve));
  return { port: proxy.address().port, requests };
}

/** Opens a tunnel through the proxy to `host:port`; calls back with the socket. */
function tunnel(proxyPort, host, port, callback) {
  const socket = net.connect(proxyPort, HOST);
  let head = Buffer.alloc(0);
  const onData = (chunk) => {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end === -1) return;
    socket.removeListener('data', onData);
    const status = head.subarray(0, head.indexOf('\r\n')).toString();
    if (!/^HTTP\/1\.[01] 200 /.test(status)) {
      socket.destroy();
      callback(new Error(`proxy answered ${status}`));
      return;
    }
    if (head.length > end + 4) socket.unshift(head.subarray(end + 4));
    callback(null, socket);
  };
  socket.on('data', onData);
  socket.once('error', (err) => callback(err));
  socket.write(`CONNECT ${host}:${port} HTTP/1.1\r\nHost: ${host}:${port}\r\nProxy-Authorization: Basic dGVzdDp0ZXN0\r\n\r\n`);
}

/** An http.Agent whose connections go through the CONNECT proxy (asynchronous createConnection). */
class TunnelAgent extends http.Agent {
  constructor(proxyPort) {
    super({ keepAlive: false });
    this.proxyPort = proxyPort;
  }

  createConnection(options, callback) {
    tunnel(this.proxyPort, options.host, options.port, callback);
  }
}

/** The same through TLS: the tunnel, then tls.connect over it. */
class TlsTunnelAgent extends https.Agent {
  constructor(proxyPort) {
    super({ keepAlive: false });
    this.proxyPort = proxyPort;
  }

  createConnection(options, callback) {
    tunnel(this.proxyPort, options.host, options.port, (err, socket) => {
      if (err) return callback(err);
      const secure = tls.connect({ ...options, socket, servername: options.servername || options.host });
      secure.once('secureConnect', () => callback(null, secure));
      secure.once('error', (e) => callback(e));
    });
  }
}

test(`${CANDIDATE} through a CONNECT proxy (an agent whose createConnection tunnels)`, async (t) => {
  const proxy = await connectProxy(t);
  const wss = new WS.WebSocketServer({ port: 0, host: HOST });
  t.after(() => new Promise((resolve) => wss.close(resolve)));
  await within(5000, 'listening', (resolve) => wss.once('listening', resolve));
  const seen = [];
  wss.on('connection', (ws, req) => {
    seen.push({ url: req.url, host: req.headers.host });
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  const port = wss.address().port;
  await conversation(`ws://${HOST}:${port}/via-proxy`, { agent: new TunnelAgent(proxy.port) });
  assert.deepEqual(proxy.requests, [{ method: 'CONNECT', url: `${HOST}:${port}`, auth: 'Basic dGVzdDp0ZXN0' }]);
  assert.deepEqual(seen, [{ url: '/via-proxy', host: `${HOST}:${port}` }]);

  // wss:// through the same proxy (TLS inside the tunnel).
  const secure = await wssServer(t, { key: read('server.key'), cert: read('server.pem') });
  await conversation(`wss://localhost:${secure.port}/`, { agent: new TlsTunnelAgent(proxy.port), ca: read('ca.pem') });
  assert.deepEqual(proxy.requests[1], { method: 'CONNECT', url: `localhost:${secure.port}`, auth: 'Basic dGVzdDp0ZXN0' });
  assert.equal(secure.connections.length, 1);

  // A proxy that refuses the tunnel: error and 1006, as ws reports it.
  const refusing = http.createServer();
  refusing.on('connect', (req, socket) => socket.end('HTTP/1.1 403 Forbidden\r\n\r\n'));
  t.after(() => closeHttp(refusing));
  await new Promise((resolve) => refusing.listen(0, HOST, resolve));
  const reference = await outcome(WS.WebSocket, `ws://${HOST}:${port}/`, { agent: new TunnelAgent(refusing.address().port) });
  const got = await outcome(WebSocket, `ws://${HOST}:${port}/`, { agent: new TunnelAgent(refusing.address().port) });
  assert.deepEqual(got, reference);
  assert.deepEqual(reference, [{ ev: 'error', message: 'proxy answered HTTP/1.1 403 Forbidden', code: undefined }, { ev: 'close', code: 1006, reason: '' }]);
});

test(`${CANDIDATE} with createConnection (a custom socket factory) and finishRequest`, async (t) => {
  const wss = new WS.WebSocketServer({ port: 0, host: HOST });
  t.after(() => new Promise((resolve) => wss.close(resolve)));
  await within(5000, 'listening', (resolve) => wss.once('listening', resolve));
  const seen = [];
  wss.on('connection', (ws, req) => {
    seen.push(req.headers['x-finish']);
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  let created = 0;
  await conversation(`ws://${HOST}:${wss.address().port}/`, {
    createConnection: (options) => {
      created++;
      return net.connect(options.port, options.host);
    },
    finishRequest: (req) => {
      req.setHeader('X-Finish', 'yes');
      req.end();
    },
  });
  assert.equal(created, 1);
  assert.deepEqual(seen, ['yes']);
});
