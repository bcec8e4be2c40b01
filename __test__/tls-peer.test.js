'use strict';
// The TLS session on `ws._socket`, as ws users read it there (a tls.TLSSocket in ws): the
// server's certificate on a client (certificate pinning: `getPeerCertificate().raw`, its
// fingerprints), the client's certificate on a server behind an https server (mutual TLS:
// `getPeerCertificate().subject.CN`), `getPeerCertificate(true)`'s issuer chain,
// `getPeerX509Certificate()`, `encrypted`, `authorized` and `authorizationError`, and none of
// them on a plain connection. Each scenario runs with ws (client and server) and with lws, and
// the transcripts must be equal. Certificates are made by openssl: a root CA, an intermediate
// CA, an EC server certificate (sent with the intermediate), an RSA client certificate with
// repeated name fields, and a self-signed server certificate.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const https = require('node:https');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const WS = require('ws');
const lws = require('..');
const { withTimeout } = require('./helpers/wait');

const IMPLEMENTATIONS = {
  ws: { WebSocket: WS, WebSocketServer: WS.WebSocketServer },
  lws: { WebSocket: lws.WebSocket, WebSocketServer: lws.WebSocketServer },
};

let dir;
const file = (name) => path.join(dir, name);
const read = (name) => fs.readFileSync(file(name));

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lws-tls-peer-'));
  const run = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ext = (name, text) => fs.writeFileSync(file(`${name}.ext`), text);
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '3', '-subj', '/CN=lws peer test root/O=lws tests',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-keyout', 'root.key', '-out', 'root.pem');
  const sign = (name, issuer, extensions) => {
    ext(name, extensions);
    run('x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.pem`, '-CAkey', `${issuer}.key`, '-CAcreateserial', '-days', '2',
      '-extfile', `${name}.ext`, '-out', `${name}.pem`);
  };
  run('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=lws peer test intermediate', '-keyout', 'mid.key', '-out', 'mid.csr');
  sign('mid', 'root', 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n');
  run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=localhost/O=lws tests', '-keyout', 'server.key', '-out', 'server.csr');
  sign('server', 'mid', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' +
    'authorityInfoAccess=OCSP;URI:http://ocsp.lws.test/,caIssuers;URI:http://ca.lws.test/mid.der\n');
  fs.writeFileSync(file('server-chain.pem'), Buffer.concat([read('server.pem'), read('mid.pem')]));
  run('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=client-7/O=lws tests/OU=red/OU=blue', '-keyout', 'client.key', '-out', 'client.csr');
  sign('client', 'root', 'extendedKeyUsage=clientAuth\n');
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=self', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout', 'self.key', '-out', 'self.pem');
});

after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** What an application can read of a certificate object: everything, the issuer chain as a list. */
function describeCertificate(cert) {
  if (cert === null || cert === undefined) return cert;
  const chain = [];
  let selfIssued = false;
  for (let c = cert.issuerCertificate; c !== undefined && chain.length < 8; c = c.issuerCertificate) {
    chain.push(c);
    if (c.issuerCertificate === c) {
      selfIssued = true;
      break;
    }
  }
  const fields = (c) => {
    const out = {};
    for (const [key, value] of Object.entries(c)) {
      if (key === 'issuerCertificate') continue;
      if (Buffer.isBuffer(value)) out[key] = `Buffer ${value.toString('hex')}`;
      else if (value !== null && typeof value === 'object') out[key] = { proto: Object.getPrototypeOf(value) === null ? 'null' : 'Object', ...value };
      else out[key] = value;
    }
    return out;
  };
  return { keys: Object.keys(cert), ...fields(cert), chain: chain.map(fields), selfIssued };
}

/** What ws._socket says of its TLS session. */
function tlsView(socket) {
  const view = {
    encrypted: socket.encrypted,
    authorized: socket.authorized,
    authorizationError: socket.authorizationError,
    getPeerCertificate: typeof socket.getPeerCertificate,
  };
  if (typeof socket.getPeerCertificate === 'function') {
    view.peer = describeCertificate(socket.getPeerCertificate());
    view.detailed = describeCertificate(socket.getPeerCertificate(true));
    const x509 = socket.getPeerX509Certificate();
    view.x509 = x509 && { subject: x509.subject, fingerprint256: x509.fingerprint256, issuer: x509.issuer };
  }
  return view;
}

/**
 * One connection: a WebSocketServer of `impl` on an https (or http) server, a client of
 * `impl`; both sides' views of the session at 'connection'/'open', after the close too.
 */
async function scenario(impl, { serverTls, clientOptions, secure = true }) {
  const { WebSocket, WebSocketServer } = IMPLEMENTATIONS[impl];
  const server = secure ? https.createServer(serverTls) : http.createServer();
  const wss = new WebSocketServer({ server });
  const log = [];
  let serverSocket = null;
  wss.on('connection', (ws) => {
    serverSocket = ws;
    log.push({ side: 'server', ev: 'connection', tls: tlsView(ws._socket) });
    ws.on('close', (code) => log.push({ side: 'server', ev: 'close', code, after: tlsView(ws._socket).peer }));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `${secure ? 'wss' : 'ws'}://localhost:${server.address().port}/`;
  try {
    await withTimeout(new Promise((resolve) => {
      const ws = new WebSocket(url, clientOptions);
      ws.on('open', () => {
        log.push({ side: 'client', ev: 'open', tls: tlsView(ws._socket) });
        ws.close(1000);
      });
      ws.on('error', (err) => log.push({ side: 'client', ev: 'error', message: err.message, code: err.code }));
      ws.on('close', (code) => {
        log.push({ side: 'client', ev: 'close', code, after: ws._socket && tlsView(ws._socket).peer });
        resolve();
      });
    }), 10000, `${impl}: the connection did not end`);
    // The server's side ends too.
    await withTimeout(new Promise((resolve) => {
      if (serverSocket === null || serverSocket.readyState === 3) return resolve();
      serverSocket.on('close', () => setImmediate(resolve));
    }), 10000, `${impl}: the server side did not close`);
  } finally {
    await new Promise((resolve) => wss.close(() => resolve()));
    server.closeAllConnections?.();
    await new Promise((resolve) => server.close(() => resolve()));
  }
  // Server and client events interleave differently from run to run: each side in its order.
  return { server: log.filter((e) => e.side === 'server'), client: log.filter((e) => e.side === 'client') };
}

async function differential(options) {
  const reference = await scenario('ws', options);
  const candidate = await scenario('lws', options);
  if (process.env.LWS_TLS_PEER_DUMP) fs.appendFileSync(process.env.LWS_TLS_PEER_DUMP, JSON.stringify({ reference, candidate }, null, 1) + '\n');
  assert.deepStrictEqual(candidate, reference);
  return reference;
}

test('wss: the server certificate and its chain on the client, the client certificate on the server (mutual TLS), as with ws', async () => {
  const reference = await differential({
    serverTls: { key: read('server.key'), cert: read('server-chain.pem'), ca: read('root.pem'), requestCert: true, rejectUnauthorized: false },
    clientOptions: { ca: read('root.pem'), cert: read('client.pem'), key: read('client.key') },
  });
  // The transcript says what it should, not only the same as ws.
  const open = reference.client.find((e) => e.ev === 'open');
  assert.equal(open.tls.authorized, true);
  assert.equal(open.tls.peer.subject.CN, 'localhost');
  assert.deepEqual(open.tls.peer.infoAccess['OCSP - URI'], ['http://ocsp.lws.test/']);
  assert.equal(open.tls.detailed.chain.length, 2); // the intermediate, then the root from `ca`
  assert.equal(open.tls.detailed.selfIssued, true);
  const connection = reference.server.find((e) => e.ev === 'connection');
  assert.equal(connection.tls.peer.subject.CN, 'client-7');
  assert.deepEqual(connection.tls.peer.subject.OU, ['red', 'blue']);
});

test('wss with rejectUnauthorized: false: a self-signed server certificate, not authorized (DEPTH_ZERO_SELF_SIGNED_CERT), as with ws', async () => {
  const reference = await differential({
    serverTls: { key: read('self.key'), cert: read('self.pem') },
    clientOptions: { rejectUnauthorized: false },
  });
  const open = reference.client.find((e) => e.ev === 'open');
  assert.equal(open.tls.authorized, false);
  assert.equal(open.tls.authorizationError, 'DEPTH_ZERO_SELF_SIGNED_CERT');
});

test('wss with rejectUnauthorized: false and no `ca`: a chain to an unknown root, not authorized, as with ws', async () => {
  await differential({
    serverTls: { key: read('server.key'), cert: read('server-chain.pem') },
    clientOptions: { rejectUnauthorized: false },
  });
});

test('wss with checkServerIdentity (Node carries the TLS, relayed to the engine): the same session on ws._socket, as with ws', async () => {
  await differential({
    serverTls: { key: read('server.key'), cert: read('server-chain.pem') },
    clientOptions: { ca: read('root.pem'), checkServerIdentity: () => undefined },
  });
});

test('ws:// has no TLS session on ws._socket (no getPeerCertificate, encrypted undefined), as with ws', async () => {
  const reference = await differential({ secure: false });
  assert.equal(reference.client.find((e) => e.ev === 'open').tls.getPeerCertificate, 'undefined');
});
