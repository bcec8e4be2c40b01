'use strict';
// The candidate client (helpers/client-candidate.js) against bad input: servers that
// answer garbage, frames no server may send (a 2^63 length, a masked frame, bad close
// codes, ...), servers that never answer, thousands of refused connections, DNS
// failures, bad constructor arguments. Each case runs with ws's client too, and the
// candidate must end the same way (same events, same error name/message/code, same
// close code, and the same close frame sent to the server); afterwards nothing is
// left open (file descriptors back to baseline).

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const WS = require('ws');

const { WebSocket, name: CANDIDATE } = require('./helpers/client-candidate');
const { RawPeer, describeError } = require('./helpers/client-differential');
const { decodeFrames } = require('./helpers/differential');
const { frame } = require('./helpers/frames');
const { withTimeout, within, waitUntil } = require('./helpers/wait');

const HOST = '127.0.0.1';
const serverFrame = (opcode, payload, options = {}) => frame(opcode, payload, { mask: false, ...options });

function closePayload(code, reason = '') {
  const buf = Buffer.alloc(2 + Buffer.byteLength(reason));
  buf.writeUInt16BE(code, 0);
  buf.write(reason, 2);
  return buf;
}

/** Open file descriptors of this process. */
const fdCount = () => fs.readdirSync('/proc/self/fd').length;

/**
 * A raw server: for every connection, once the request head is in, `respond(peer)`
 * writes what it likes. It records what each client sent after the response (decoded
 * frames) and whether the client ended: `server.reports`.
 */
async function rawServer(t, respond) {
  const peers = new Set();
  const reports = [];
  const server = net.createServer((socket) => {
    const peer = new RawPeer(socket);
    peers.add(peer);
    (async () => {
      if (!(await peer.until(() => peer.head !== null, 5000))) return;
      await respond(peer);
      await peer.until(() => peer.ended, 5000);
      reports.push({ frames: decodeFrames(peer.buffer), ended: peer.ended });
      peer.end();
    })().catch((err) => reports.push({ threw: err.message }));
  });
  t.after(() => {
    for (const peer of peers) peer.destroy();
    return withTimeout(new Promise((resolve) => server.close(resolve)), 5000, 'raw close').catch(() => {});
  });
  await new Promise((resolve) => server.listen(0, HOST, resolve));
  return { port: server.address().port, reports, url: (p = '/') => `ws://${HOST}:${server.address().port}${p}` };
}

/** Connects a client of class `Impl`; its events in order until 'close' (bounded). */
function outcome(Impl, url, options = {}, ms = 10000) {
  const log = [];
  let ws;
  try {
    ws = new Impl(url, options);
  } catch (err) {
    return Promise.resolve([{ ev: 'constructor threw', error: describeError(err) }]);
  }
  return withTimeout(
    new Promise((resolve) => {
      ws.on('open', () => log.push({ ev: 'open' }));
      ws.on('upgrade', (res) => log.push({ ev: 'upgrade', status: res.statusCode }));
      ws.on('message', (data, isBinary) => log.push({ ev: 'message', isBinary, length: data.length }));
      ws.on('ping', (data) => log.push({ ev: 'ping', length: data.length }));
      ws.on('error', (err) => log.push({ ev: 'error', error: describeError(err), readyState: ws.readyState }));
      ws.on('close', (code, reason) => {
        log.push({ ev: 'close', code, reason: reason.toString() });
        resolve(log);
      });
    }),
    ms,
    `'close' of ${url}`,
  ).catch((err) => {
    ws.terminate();
    throw err;
  });
}

/** Runs ws's client, then the candidate, against servers made by `makeServer`; returns both outcomes. */
async function compare(t, makeServer, path = '/', options = {}) {
  const baseline = fdCount();
  const server = await makeServer(t);
  // One connection each: the server's report of it comes when the client has ended.
  const reference = await outcome(WS.WebSocket, server.url(path), options);
  await waitUntil(() => server.reports.length >= 1, 6000, 'raw report (ws)');
  const referenceReports = server.reports.splice(0);
  const got = await outcome(WebSocket, server.url(path), options);
  await waitUntil(() => server.reports.length >= 1, 6000, `raw report (${CANDIDATE})`).catch(() => {});
  const gotReports = server.reports.splice(0);
  assert.deepEqual({ client: got, server: gotReports }, { client: reference, server: referenceReports });
  // Nothing left open but the server's listening socket.
  await waitUntil(() => fdCount() <= baseline + 1, 5000, `file descriptors back to baseline (${baseline} + the listener, now ${fdCount()})`);
  return { reference, reports: referenceReports };
}

// ---- handshake garbage ----------------------------------------------------------------------

test(`${CANDIDATE}: a server that answers garbage instead of HTTP`, async (t) => {
  const baseline = fdCount();
  const { reference } = await compare(t, (tt) => rawServer(tt, (peer) => peer.write('garbage garbage\r\n\r\n')));
  assert.equal(reference.at(-2).ev, 'error');
  assert.equal(reference.at(-2).error.code, 'HPE_INVALID_CONSTANT');
  assert.deepEqual(reference.at(-1), { ev: 'close', code: 1006, reason: '' });
  await waitUntil(() => fdCount() <= baseline + 2, 5000, 'fds back to baseline'); // the raw server's listener
});

test(`${CANDIDATE}: handshake answers that are not valid (each ends with an error and 1006, as in ws)`, async (t) => {
  const answers = {
    '/binary': Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x00, 0x0d, 0x0a, 0x0d, 0x0a]),
    '/http09': 'HTTP/0.9 101 Switching\r\n\r\n',
    '/bad-status': 'HTTP/1.1 1O1 Switching Protocols\r\n\r\n',
    '/no-colon': 'HTTP/1.1 101 Switching Protocols\r\nUpgrade websocket\r\n\r\n',
    '/huge-head': `HTTP/1.1 101 Switching Protocols\r\nX-Big: ${'a'.repeat(100 * 1024)}\r\n\r\n`,
    '/eof-mid-head': 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: webso',
    '/no-upgrade-header': (peer) => `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${peer.accept}\r\n\r\n`,
  };
  const server = await rawServer(t, (peer) => {
    const target = peer.head.requestLine.split(' ')[1];
    const answer = answers[target];
    peer.write(typeof answer === 'function' ? answer(peer) : answer);
    if (target === '/eof-mid-head') peer.end();
  });
  for (const target of Object.keys(answers)) {
    const reference = await outcome(WS.WebSocket, server.url(target));
    const got = await outcome(WebSocket, server.url(target));
    assert.deepEqual(got, reference, target);
    assert.ok(reference.some((e) => e.ev === 'error'), `${target}: ${JSON.stringify(reference)}`);
    assert.deepEqual(reference.at(-1), { ev: 'close', code: 1006, reason: '' }, target);
    assert.ok(!reference.some((e) => e.ev === 'open'), target);
  }
});

// ---- frames no server may send ---------------------------------------------------------------------

/** A 101 answer followed by `bytes`. */
const after101 = (bytes) => (tt) => rawServer(tt, (peer) => {
  peer.switchProtocols();
  peer.write(typeof bytes === 'function' ? bytes() : bytes);
});

/** A frame head announcing `length` (64-bit), no payload. */
function head64(opcode, length) {
  const buf = Buffer.alloc(10);
  buf[0] = 0x80 | opcode;
  buf[1] = 127;
  buf.writeBigUInt64BE(length, 2);
  return buf;
}

test(`${CANDIDATE}: a frame announcing 2^63 bytes (and 2^53, and 200 MiB over maxPayload): 1009, no allocation`, async (t) => {
  const rss = process.memoryUsage().rss;
  for (const [length, code] of [
    [2n ** 63n, 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH'],
    [2n ** 64n - 1n, 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH'],
    [2n ** 53n, 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH'],
    [200n * 1024n * 1024n, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'],
  ]) {
    const { reference, reports } = await compare(t, after101(head64(2, length)), '/', { perMessageDeflate: false });
    const error = reference.find((e) => e.ev === 'error');
    assert.equal(error.error.code, code, String(length));
    // The client tells the server why: a close frame with 1009.
    assert.equal(reports[0].frames[0].opcode, 8);
    assert.equal(reports[0].frames[0].code, 1009);
  }
  assert.ok(process.memoryUsage().rss - rss < 64 * 1024 * 1024, 'no buffer was allocated for the announced length');
});

test(`${CANDIDATE}: protocol errors from the server close with 1002 (or 1007), as ws reports them`, async () => {
  const cases = {
    masked: [serverFrame(1, 'masked!', { mask: true }), 'WS_ERR_UNEXPECTED_MASK', 1002],
    'rsv2/rsv3': [Buffer.from([0xb1, 0x00]), 'WS_ERR_UNEXPECTED_RSV_2_3', 1002],
    'rsv1 without deflate': [serverFrame(1, 'x', { rsv1: true }), 'WS_ERR_UNEXPECTED_RSV_1', 1002],
    'opcode 3': [serverFrame(3, 'x'), 'WS_ERR_INVALID_OPCODE', 1002],
    'opcode 11': [serverFrame(11, ''), 'WS_ERR_INVALID_OPCODE', 1002],
    'continuation first': [serverFrame(0, 'x'), 'WS_ERR_INVALID_OPCODE', 1002],
    'text inside a fragmented message': [Buffer.concat([serverFrame(1, 'a', { fin: false }), serverFrame(1, 'b')]), 'WS_ERR_INVALID_OPCODE', 1002],
    'fragmented ping': [serverFrame(9, 'x', { fin: false }), 'WS_ERR_EXPECTED_FIN', 1002],
    'ping of 126 bytes': [serverFrame(9, Buffer.alloc(126)), 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', 1002],
    'close code 999': [serverFrame(8, closePayload(999)), 'WS_ERR_INVALID_CLOSE_CODE', 1002],
    'close code 1005': [serverFrame(8, closePayload(1005)), 'WS_ERR_INVALID_CLOSE_CODE', 1002],
    'close with 1 byte': [serverFrame(8, Buffer.from([3])), 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', 1002],
    'close reason not UTF-8': [serverFrame(8, Buffer.concat([closePayload(1000), Buffer.from([0xff])])), 'WS_ERR_INVALID_UTF8', 1007],
    'text not UTF-8': [serverFrame(1, Buffer.from([0xed, 0xa0, 0x80])), 'WS_ERR_INVALID_UTF8', 1007],
    '16-bit length under 126': [Buffer.from([0x82, 126, 0x00, 0x05, 1, 2, 3, 4, 5]), null, null],
  };
  const t = { after: (fn) => cleanups.push(fn) };
  const cleanups = [];
  try {
    for (const [name, [bytes, code, closeCode]] of Object.entries(cases)) {
      const { reference, reports } = await compare(t, after101(bytes), '/', { perMessageDeflate: false });
      const error = reference.find((e) => e.ev === 'error');
      if (code === null) {
        // ws accepts a non-minimal length encoding (RFC 6455 says "minimal", ws does not check).
        assert.equal(error, undefined, `${name}: ${JSON.stringify(reference)}`);
        continue;
      }
      assert.equal(error && error.error.code, code, `${name}: ${JSON.stringify(reference)}`);
      assert.equal(reports[0].frames[0].opcode, 8, name);
      assert.equal(reports[0].frames[0].code, closeCode, name);
      assert.equal(reports[0].frames[0].masked, true, name);
      // ws stops reading after a protocol error, so the server's close reply is never
      // parsed: its client reports 1006, not the code it sent.
      assert.deepEqual(reference.at(-1), { ev: 'close', code: 1006, reason: '' }, name);
    }
  } finally {
    for (const fn of cleanups) await fn();
  }
});

test(`${CANDIDATE}: garbage after a valid 101 (fixed pseudo-random bytes)`, async (t) => {
  let seed = 12345;
  const bytes = Buffer.alloc(4096);
  for (let i = 0; i < bytes.length; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    bytes[i] = seed >> 16;
  }
  const { reference } = await compare(t, after101(bytes), '/', { perMessageDeflate: false });
  assert.ok(reference.some((e) => e.ev === 'error'));
});

// ---- servers that never answer ------------------------------------------------------------------

test(`${CANDIDATE}: a server that never answers: handshakeTimeout; a stalled head; terminate() while waiting`, async (t) => {
  const baseline = fdCount();
  const silent = (tt) => rawServer(tt, () => {});
  const { reference } = await compare(t, silent, '/', { handshakeTimeout: 300 });
  assert.deepEqual(reference.slice(-2).map((e) => e.ev), ['error', 'close']);
  assert.equal(reference.at(-2).error.message, 'Opening handshake has timed out');
  await compare(t, (tt) => rawServer(tt, (peer) => peer.write('HTTP/1.1 101 Switching Protocols\r\nUpgr')), '/', { handshakeTimeout: 300 });
  // A server that accepts TCP but never reads nor answers, and a client that gives up by itself.
  const server = await silent(t);
  for (const Impl of [WS.WebSocket, WebSocket]) {
    const ws = new Impl(server.url('/'));
    const events = [];
    ws.on('error', (err) => events.push(err.message));
    const closed = within(5000, 'close', (resolve) => ws.on('close', (code) => resolve(code)));
    setImmediate(() => ws.terminate());
    assert.equal(await closed, 1006);
    assert.deepEqual(events, ['WebSocket was closed before the connection was established'], Impl === WS.WebSocket ? 'ws' : CANDIDATE);
  }
  await waitUntil(() => fdCount() <= baseline + 3, 5000, 'fds back to baseline');
});

// ---- refused connections, DNS ---------------------------------------------------------------------

test(`${CANDIDATE}: 10,000 connections to a port where nothing listens: each errors (ECONNREFUSED) and closes 1006; fds back to baseline`, { timeout: 120000 }, async () => {
  // A port that was free a moment ago.
  const probe = net.createServer();
  await new Promise((resolve) => probe.listen(0, HOST, resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));

  const baseline = fdCount();
  const TOTAL = 10000;
  const AT_ONCE = 200;
  const results = { errors: new Map(), closes: new Map(), opened: 0, errorBeforeClose: 0 };
  let started = 0;
  const one = () => new Promise((resolve) => {
    const ws = new WebSocket(`ws://${HOST}:${port}/`);
    let errored = false;
    ws.on('open', () => results.opened++);
    ws.on('error', (err) => {
      errored = true;
      const key = `${err.code} ${err.message}`;
      results.errors.set(key, (results.errors.get(key) || 0) + 1);
    });
    ws.on('close', (code) => {
      if (errored) results.errorBeforeClose++;
      results.closes.set(code, (results.closes.get(code) || 0) + 1);
      resolve();
    });
  });
  const worker = async () => {
    while (started < TOTAL) {
      started++;
      await withTimeout(one(), 10000, 'a refused connection to close');
    }
  };
  const t0 = Date.now();
  await Promise.all(Array.from({ length: AT_ONCE }, worker));
  assert.ok(Date.now() - t0 < 60000, `took ${Date.now() - t0} ms`);
  assert.equal(results.opened, 0);
  assert.deepEqual([...results.errors], [[`ECONNREFUSED connect ECONNREFUSED ${HOST}:${port}`, TOTAL]]);
  assert.deepEqual([...results.closes], [[1006, TOTAL]]);
  assert.equal(results.errorBeforeClose, TOTAL);
  await waitUntil(() => fdCount() <= baseline, 10000, `fds back to baseline (${baseline}, now ${fdCount()})`);
});

test(`${CANDIDATE}: DNS failure (ws://nonexistent.invalid) and a failing custom lookup`, async () => {
  const baseline = fdCount();
  const reference = await outcome(WS.WebSocket, 'ws://nonexistent.invalid/');
  const got = await outcome(WebSocket, 'ws://nonexistent.invalid/');
  assert.deepEqual(got, reference);
  assert.equal(reference.length, 2);
  assert.ok(['ENOTFOUND', 'EAI_AGAIN'].includes(reference[0].error.code), JSON.stringify(reference));
  assert.match(reference[0].error.message, /^getaddrinfo (ENOTFOUND|EAI_AGAIN) nonexistent\.invalid$/);
  assert.deepEqual(reference[1], { ev: 'close', code: 1006, reason: '' });

  // `lookup` is honoured: a resolver that fails, and one that maps a name to loopback.
  const failing = (hostname, options, callback) => {
    const err = new Error(`no such host: ${hostname}`);
    err.code = 'ECUSTOM';
    process.nextTick(callback, err);
  };
  const ref2 = await outcome(WS.WebSocket, 'ws://example.test/', { lookup: failing });
  const got2 = await outcome(WebSocket, 'ws://example.test/', { lookup: failing });
  assert.deepEqual(got2, ref2);
  assert.equal(ref2[0].error.message, 'no such host: example.test');
  await waitUntil(() => fdCount() <= baseline, 5000, 'file descriptors back to baseline');
});

test(`${CANDIDATE}: a lookup that maps a name to a loopback server`, async (t) => {
  const server = await rawServer(t, (peer) => {
    peer.switchProtocols();
    peer.write(serverFrame(8, closePayload(1000, 'looked up')));
  });
  const names = [];
  const lookup = (hostname, options, callback) => {
    names.push(hostname);
    if (options && options.all) process.nextTick(callback, null, [{ address: HOST, family: 4 }]);
    else process.nextTick(callback, null, HOST, 4);
  };
  const got = await outcome(WebSocket, `ws://my-service.test:${server.port}/`, { lookup });
  assert.deepEqual(got.map((e) => e.ev), ['upgrade', 'open', 'close']);
  assert.deepEqual(got.at(-1), { ev: 'close', code: 1000, reason: 'looked up' });
  assert.ok(names.includes('my-service.test'));
  await waitUntil(() => server.reports.length === 1, 5000, 'report');
  assert.equal(server.reports[0].frames[0].code, 1000);
});

// ---- bad arguments ------------------------------------------------------------------------------

test(`${CANDIDATE}: bad constructor arguments throw what ws throws`, () => {
  const inputs = [
    [],
    [undefined],
    [null],
    [42],
    [{}],
    ['ws://a b/'],
    ['ws://127.0.0.1:99999/'],
    ['wss://127.0.0.1/', 'bad protocol'],
    ['ws://127.0.0.1/', ['ok', 'ok']],
    ['ws://127.0.0.1/', [], { protocolVersion: 12 }],
    ['ws://127.0.0.1/', { protocolVersion: 0 }],
  ];
  for (const args of inputs) {
    const attempt = (Impl) => {
      let ws;
      try {
        ws = new Impl(...args);
      } catch (err) {
        return { threw: describeError(err), type: err.constructor.name };
      }
      ws.on('error', () => {});
      ws.terminate();
      return { threw: null };
    };
    assert.deepEqual(attempt(WebSocket), attempt(WS.WebSocket), JSON.stringify(args));
  }
});

test(`${CANDIDATE}: a server that closes the TCP connection at once, and one that resets it`, async (t) => {
  await compare(t, (tt) => rawServer(tt, (peer) => peer.end()));
  await compare(t, (tt) => rawServer(tt, (peer) => peer.socket.resetAndDestroy()));
  await compare(t, (tt) => rawServer(tt, (peer) => {
    peer.switchProtocols();
    peer.socket.resetAndDestroy();
  }), '/', { perMessageDeflate: false });
});

test(`${CANDIDATE} and lws.Client: bad TLS material (not a certificate; a key that is not the certificate's): an error and 1006, and nothing left holding the process`, async () => {
  const { execFileSync, spawnSync } = require('node:child_process');
  const os = require('node:os');
  const path = require('node:path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lws-bad-tls-'));
  try {
    const run = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=a', '-keyout', 'a.key', '-out', 'a.pem');
    run('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'b.key');
    // In a child process, so that a handle left open shows as a process that does not exit.
    // The name is resolved asynchronously (a custom lookup), as for any host name.
    const script = `
      const fs = require('fs');
      const lws = require(${JSON.stringify(path.join(__dirname, '..'))});
      const { WebSocket } = require(${JSON.stringify(path.join(__dirname, 'helpers', 'client-candidate'))});
      const lookup = (host, options, cb) => setImmediate(cb, null, '127.0.0.1', 4);
      const cases = {
        'not a certificate': { cert: '-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\\n', key: fs.readFileSync(${JSON.stringify(path.join(dir, 'a.key'))}) },
        'another key': { cert: fs.readFileSync(${JSON.stringify(path.join(dir, 'a.pem'))}), key: fs.readFileSync(${JSON.stringify(path.join(dir, 'b.key'))}) },
      };
      for (const [name, tls] of Object.entries(cases)) {
        const ws = new WebSocket('wss://bad-tls.test:1/', { ...tls, lookup, rejectUnauthorized: false });
        ws.on('error', (e) => console.log('ws', name, 'error', e.code || e.name));
        ws.on('close', (code) => console.log('ws', name, 'close', code));
        const client = new lws.Client();
        client.on('error', (e) => console.log('client', name, 'error', e.code));
        client.on('close', (socket, code, reason, errorCode) => console.log('client', name, 'close', code, errorCode));
        client.connect('wss://bad-tls.test:1/', { ...tls, lookup, rejectUnauthorized: false });
      }
    `;
    const child = spawnSync(process.execPath, ['-e', script], { timeout: 20000, encoding: 'utf8' });
    assert.equal(child.error, undefined, `the process did not exit by itself: ${child.stdout}`);
    assert.equal(child.status, 0, child.stderr);
    const lines = child.stdout.trim().split('\n').sort();
    const expected = [];
    for (const name of ['not a certificate', 'another key']) {
      expected.push(`client ${name} close 1006 LWS_ERR_CONNECT`, `client ${name} error ERR_LWS_TLS_CONFIG`);
      expected.push(`ws ${name} close 1006`, `ws ${name} error ERR_LWS_TLS_CONFIG`);
    }
    if (CANDIDATE === 'ws') return; // ws throws from tls.connect; only lws's ending is checked here
    assert.deepEqual(lines, expected.sort());
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
