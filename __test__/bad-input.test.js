'use strict';
// Hostile and malformed input against lws, from raw TCP clients.
//
// Every client here does its own HTTP handshake (checking the 101 and
// Sec-WebSocket-Accept) and writes hand-built frames, so nothing in between
// can "fix" the bytes. For every attack we check the exact close code (or HTTP
// status), that the server closes the TCP connection, and that a `ws` client
// connected before the attack is still served afterwards.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const crypto = require('node:crypto');
const path = require('node:path');
const WebSocket = require(path.join(__dirname, '..', 'node_modules', 'ws'));
const { Server } = require(path.join(__dirname, '..'));
const { sleep, withTimeout, waitUntil } = require('./helpers/wait');

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const HOST = '127.0.0.1';
const STEP_TIMEOUT = 3000; // any single wait
const TEST_TIMEOUT = 15000; // any single test

// ---- small utilities -----------------------------------------------------------


const acceptFor = (key) => crypto.createHash('sha1').update(key + GUID).digest('base64');

// ---- frames --------------------------------------------------------------------

/**
 * A client frame. `mask: false` sends it unmasked; `len` overrides the length
 * field (the payload written is still `payload`); `rsv` is the 3 RSV bits (0-7).
 */
function frame({ fin = true, rsv = 0, opcode, payload = Buffer.alloc(0), mask = true, len }) {
  payload = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const announced = len === undefined ? BigInt(payload.length) : BigInt(len);
  const head = [(fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f)];
  const maskBit = mask ? 0x80 : 0;
  let ext = Buffer.alloc(0);
  if (announced < 126n) {
    head.push(maskBit | Number(announced));
  } else if (announced <= 0xffffn) {
    head.push(maskBit | 126);
    ext = Buffer.alloc(2);
    ext.writeUInt16BE(Number(announced));
  } else {
    head.push(maskBit | 127);
    ext = Buffer.alloc(8);
    ext.writeBigUInt64BE(announced);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), ext, payload]);
  const key = crypto.randomBytes(4);
  const masked = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i++) masked[i] = payload[i] ^ key[i & 3];
  return Buffer.concat([Buffer.from(head), ext, key, masked]);
}

const OP = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa };

/** A close payload: 2-byte code + reason bytes. */
function closePayload(code, reason = Buffer.alloc(0)) {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code);
  return Buffer.concat([b, Buffer.isBuffer(reason) ? reason : Buffer.from(reason)]);
}

/** Parses one server frame at the start of `buf`; null if incomplete. */
function parseFrame(buf) {
  if (buf.length < 2) return null;
  const b0 = buf[0];
  const b1 = buf[1];
  let len = b1 & 0x7f;
  let pos = 2;
  if (len === 126) {
    if (buf.length < 4) return null;
    len = buf.readUInt16BE(2);
    pos = 4;
  } else if (len === 127) {
    if (buf.length < 10) return null;
    const big = buf.readBigUInt64BE(2);
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`absurd frame length ${big}`);
    len = Number(big);
    pos = 10;
  }
  const masked = (b1 & 0x80) !== 0;
  let mask = null;
  if (masked) {
    if (buf.length < pos + 4) return null;
    mask = buf.subarray(pos, pos + 4);
    pos += 4;
  }
  if (buf.length < pos + len) return null;
  const payload = Buffer.from(buf.subarray(pos, pos + len));
  if (mask) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
  return {
    frame: { fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked, payload },
    size: pos + len,
  };
}

// ---- a raw TCP client ------------------------------------------------------------

/** A TCP connection with a byte buffer and bounded waits on it. */
class Raw {
  constructor(sock) {
    Raw.all.add(this); // every raw socket is destroyed by the suites' after hooks
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.ended = false; // the server's FIN arrived
    this.closed = false;
    this.error = null;
    this.endedAt = 0;
    this.waiters = new Set();
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this._wake();
    });
    sock.on('end', () => {
      this.ended = true;
      this.endedAt = Date.now();
      this._wake();
    });
    sock.on('error', (err) => {
      this.error = err;
      this._wake();
    });
    sock.on('close', () => {
      this.closed = true;
      if (!this.endedAt) this.endedAt = Date.now();
      this._wake();
    });
  }

  static connect(port) {
    return withTimeout(
      new Promise((resolve, reject) => {
        // allowHalfOpen: our side ends only when a test says so, so that a FIN
        // we see is the server's and we can tell who closed first.
        const sock = net.connect({ host: HOST, port, allowHalfOpen: true }, () => {
          sock.off('error', reject);
          resolve(new Raw(sock));
        });
        sock.once('error', reject);
      }),
      STEP_TIMEOUT,
      'TCP connect',
    );
  }

  _wake() {
    for (const w of this.waiters) w();
  }

  get finished() {
    return this.ended || this.closed || this.error !== null;
  }

  /** Resolves with `check()`'s first non-undefined result, re-run after every event. */
  until(check, ms, what) {
    return withTimeout(
      new Promise((resolve, reject) => {
        const run = () => {
          let value;
          try {
            value = check();
          } catch (err) {
            this.waiters.delete(run);
            reject(err);
            return;
          }
          if (value !== undefined) {
            this.waiters.delete(run);
            resolve(value);
          }
        };
        this.waiters.add(run);
        run();
      }),
      ms,
      what,
    ).finally(() => this.waiters.clear());
  }

  /** The next server frame. */
  readFrame(ms = STEP_TIMEOUT) {
    return this.until(() => {
      const parsed = parseFrame(this.buf);
      if (parsed) {
        this.buf = this.buf.subarray(parsed.size);
        return parsed.frame;
      }
      if (this.finished) {
        throw new Error(`connection ended while waiting for a frame (${this.buf.length} bytes buffered, error ${this.error && this.error.code})`);
      }
      return undefined;
    }, ms, 'a frame from the server');
  }

  /** Waits for the server to end the TCP connection (FIN or reset). */
  waitEnd(ms = STEP_TIMEOUT) {
    return this.until(() => (this.finished ? true : undefined), ms, 'the server to close the TCP connection');
  }

  /** Reads an HTTP response head (+ Content-Length body). */
  readHttpResponse(ms = STEP_TIMEOUT) {
    return this.until(() => {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (this.finished) throw new Error(`connection ended before an HTTP response: ${JSON.stringify(this.buf.toString('latin1'))}`);
        return undefined;
      }
      const lines = this.buf.subarray(0, end).toString('latin1').split('\r\n');
      const m = /^HTTP\/1\.1 (\d{3})(?: (.*))?$/.exec(lines[0]);
      if (!m) throw new Error(`bad status line ${JSON.stringify(lines[0])}`);
      const headers = {};
      for (const line of lines.slice(1)) {
        const i = line.indexOf(':');
        headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      const bodyLen = headers['content-length'] === undefined ? 0 : Number(headers['content-length']);
      if (this.buf.length < end + 4 + bodyLen) {
        if (this.finished) throw new Error('connection ended inside an HTTP body');
        return undefined;
      }
      const body = this.buf.subarray(end + 4, end + 4 + bodyLen).toString('latin1');
      this.buf = this.buf.subarray(end + 4 + bodyLen);
      return { status: Number(m[1]), reason: m[2], headers, body };
    }, ms, 'an HTTP response');
  }

  write(bytes) {
    return new Promise((resolve, reject) => {
      this.sock.write(bytes, (err) => (err ? reject(err) : resolve()));
    });
  }

  destroy() {
    this.sock.destroy();
    Raw.all.delete(this);
  }

  static destroyAll() {
    for (const raw of [...Raw.all]) raw.destroy();
  }
}
Raw.all = new Set();

function upgradeRequest(key, { path: p = '/', extra = '' } = {}) {
  return (
    `GET ${p} HTTP/1.1\r\nHost: ${HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`
  );
}

/**
 * Connects and completes a correct handshake by hand; checks the 101.
 * `pipelined` bytes go out in the same write as the request.
 */
async function handshake(port, pipelined = Buffer.alloc(0)) {
  const raw = await Raw.connect(port);
  const key = crypto.randomBytes(16).toString('base64');
  await raw.write(Buffer.concat([Buffer.from(upgradeRequest(key)), pipelined]));
  const res = await raw.until(() => {
    const end = raw.buf.indexOf('\r\n\r\n');
    if (end < 0) {
      if (raw.finished) throw new Error(`connection ended during the handshake: ${JSON.stringify(raw.buf.toString('latin1'))}`);
      return undefined;
    }
    const lines = raw.buf.subarray(0, end).toString('latin1').split('\r\n');
    raw.buf = raw.buf.subarray(end + 4); // frames may follow at once
    const headers = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    return { statusLine: lines[0], headers };
  }, STEP_TIMEOUT, 'the 101 response');
  assert.match(res.statusLine, /^HTTP\/1\.1 101\b/);
  assert.equal(res.headers.upgrade.toLowerCase(), 'websocket');
  assert.match(res.headers.connection, /\bupgrade\b/i);
  assert.equal(res.headers['sec-websocket-accept'], acceptFor(key));
  assert.equal(res.headers['sec-websocket-extensions'], undefined, 'no extension was offered');
  raw.key = key;
  return raw;
}

/** Reads the server's close frame and returns {code, reason}. */
async function readClose(raw, ms = STEP_TIMEOUT) {
  for (;;) {
    const f = await raw.readFrame(ms);
    if (f.opcode === OP.PING || f.opcode === OP.PONG) continue;
    assert.equal(f.opcode, OP.CLOSE, `expected a close frame, got opcode ${f.opcode}`);
    assert.equal(f.fin, true, 'close frame must have FIN');
    assert.equal(f.masked, false, 'server frames must not be masked');
    assert.equal(f.rsv, 0);
    assert.ok(f.payload.length === 0 || f.payload.length >= 2, 'close payload of 1 byte');
    const code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
    const reason = f.payload.subarray(2);
    assert.ok(new TextDecoder('utf-8', { fatal: true }).decode(reason) !== undefined);
    return { code, reason: reason.toString('utf8') };
  }
}

// ---- the server under test --------------------------------------------------------

/** An lws echo server that records what happens to each socket, by remote port. */
async function startServer(options) {
  const server = new Server({ host: HOST, port: 0, ...options });
  const log = { opened: new Map(), messages: new Map(), closes: new Map() };
  server.on('connection', (socket) => {
    log.opened.set(socket.remotePort, socket);
    log.messages.set(socket.remotePort, []);
  });
  server.on('message', (socket, data, binary) => {
    log.messages.get(socket.remotePort)?.push({ data: Buffer.from(data), binary });
    server.send(socket, data, binary);
  });
  server.on('close', (socket, code, reason) => {
    log.closes.set(socket.remotePort, { code, reason });
  });
  await withTimeout(new Promise((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  }), STEP_TIMEOUT, 'listening');
  assert.ok(Number.isInteger(server.port) && server.port > 0);
  return { server, log, port: server.port };
}

function stopServer(server) {
  return withTimeout(new Promise((resolve) => server.close(resolve)), 10000, 'server.close');
}

/** A `ws` client that must keep being served while others attack. */
async function openCanary(port) {
  const ws = new WebSocket(`ws://${HOST}:${port}/`);
  ws.on('error', () => {}); // surfaced through the echo checks
  await withTimeout(new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  }), STEP_TIMEOUT, 'canary open');
  return ws;
}

let canarySeq = 0;
async function assertCanaryEchoes(ws) {
  assert.equal(ws.readyState, WebSocket.OPEN, 'the canary connection was dropped');
  const text = `canary ${++canarySeq} ✓`;
  let onMessage;
  let onClose;
  const echo = withTimeout(new Promise((resolve, reject) => {
    onMessage = (data, isBinary) => resolve({ data: data.toString(), isBinary });
    onClose = (code) => reject(new Error(`canary closed with ${code}`));
    ws.once('message', onMessage);
    ws.once('close', onClose);
  }), STEP_TIMEOUT, 'canary echo').finally(() => {
    ws.off('message', onMessage);
    ws.off('close', onClose);
  });
  ws.send(text);
  const got = await echo;
  assert.deepEqual(got, { data: text, isBinary: false });
}

function closeCanary(ws) {
  if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return withTimeout(new Promise((resolve) => {
    ws.once('close', resolve);
    ws.close(1000);
  }), STEP_TIMEOUT, 'canary close').catch(() => ws.terminate());
}

// ---- tests ---------------------------------------------------------------------------

describe('lws against bad input (raw TCP clients)', () => {
  let srv;
  let canary;

  before(async () => {
    srv = await startServer({ maxMessageSize: 1024, closeTimeout: 1000, maxHeaderBytes: 4096, maxHeaders: 32 });
    canary = await openCanary(srv.port);
    await assertCanaryEchoes(canary);
  });

  after(async () => {
    Raw.destroyAll();
    await closeCanary(canary);
    if (srv) await stopServer(srv.server);
  });

  // ---- handshake rejections ----

  /** Sends `request`, expects an HTTP error `status`, and the connection closed by the server. */
  async function expectHttpRejection(request, status) {
    const raw = await Raw.connect(srv.port);
    const port = raw.sock.localPort;
    raw.write(request).catch(() => {}); // the server may answer before reading it all
    const res = await raw.readHttpResponse();
    assert.equal(res.status, status, `status for ${JSON.stringify(request.slice(0, 60))}`);
    assert.equal(res.headers.connection, 'close');
    assert.equal(raw.buf.length, 0, 'nothing after the response');
    await raw.waitEnd(); // the server ends the connection after its answer
    raw.sock.end();
    assert.equal(srv.log.opened.has(port), false, 'no connection event for a rejected handshake');
    await assertCanaryEchoes(canary);
    return res;
  }

  it('answers a malformed request line with 400', { timeout: TEST_TIMEOUT }, async () => {
    await expectHttpRejection('THIS IS NOT HTTP\r\n\r\n', 400);
    await expectHttpRejection('GET / HTTP/1.1\r\nHost: a\r\nNo colon in this header\r\n\r\n', 400);
  });

  it('answers oversized headers with 431 (maxHeaderBytes: 4096)', { timeout: TEST_TIMEOUT }, async () => {
    const key = crypto.randomBytes(16).toString('base64');
    await expectHttpRejection(upgradeRequest(key, { extra: `X-Big: ${'a'.repeat(8000)}\r\n` }), 431);
    // Still incomplete (no blank line yet) but already over the limit.
    await expectHttpRejection(`GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'b'.repeat(6000)}`, 431);
  });

  it('answers too many headers with 431 (maxHeaders: 32)', { timeout: TEST_TIMEOUT }, async () => {
    const key = crypto.randomBytes(16).toString('base64');
    let extra = '';
    for (let i = 0; i < 40; i++) extra += `X-H${i}: v\r\n`;
    await expectHttpRejection(upgradeRequest(key, { extra }), 431);
  });

  it('accepts a request within maxHeaders and maxHeaderBytes', { timeout: TEST_TIMEOUT }, async () => {
    const raw = await Raw.connect(srv.port);
    const key = crypto.randomBytes(16).toString('base64');
    let extra = '';
    for (let i = 0; i < 20; i++) extra += `X-H${i}: ${'v'.repeat(100)}\r\n`; // 25 headers, ~2.6 KB
    await raw.write(upgradeRequest(key, { extra }));
    const end = await raw.until(() => (raw.buf.indexOf('\r\n\r\n') >= 0 ? true : raw.finished ? false : undefined), STEP_TIMEOUT, '101');
    assert.ok(end, 'connection ended without an answer');
    const head = raw.buf.toString('latin1');
    assert.match(head, /^HTTP\/1\.1 101 /);
    assert.ok(head.includes(`Sec-WebSocket-Accept: ${acceptFor(key)}\r\n`));
    raw.destroy();
  });

  it('answers Sec-WebSocket-Version: 12 with 426 and Sec-WebSocket-Version: 13, 8', { timeout: TEST_TIMEOUT }, async () => {
    const key = crypto.randomBytes(16).toString('base64');
    const res = await expectHttpRejection(upgradeRequest(key).replace('Sec-WebSocket-Version: 13', 'Sec-WebSocket-Version: 12'), 426);
    assert.equal(res.headers['sec-websocket-version'], '13, 8');
  });

  it('answers a missing Sec-WebSocket-Key with 400', { timeout: TEST_TIMEOUT }, async () => {
    const req = `GET / HTTP/1.1\r\nHost: ${HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n`;
    await expectHttpRejection(req, 400);
    // A key that is not the base64 of 16 bytes is as bad as none.
    await expectHttpRejection(upgradeRequest('c2hvcnQ='), 400);
  });

  it('answers a POST upgrade with 400', { timeout: TEST_TIMEOUT }, async () => {
    const key = crypto.randomBytes(16).toString('base64');
    await expectHttpRejection(upgradeRequest(key).replace(/^GET/, 'POST'), 400);
  });

  it('answers HTTP/1.0 with 505 and plain HTTP (no http listener) with 426', { timeout: TEST_TIMEOUT }, async () => {
    const key = crypto.randomBytes(16).toString('base64');
    await expectHttpRejection(upgradeRequest(key).replace('HTTP/1.1', 'HTTP/1.0'), 505);
    await expectHttpRejection(`GET / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`, 426);
  });

  // ---- protocol violations after a good handshake ----

  /**
   * Handshakes, sends `bytes` (a Buffer or a list of Buffers written one by one),
   * and expects the close `code`, then the server closing TCP, then the JS
   * 'close' event with the same code; no message may reach JS.
   */
  async function expectCloseCode(bytes, code, { messages = 0 } = {}) {
    const raw = await handshake(srv.port);
    const port = raw.sock.localPort;
    await waitUntil(() => srv.log.opened.has(port), STEP_TIMEOUT, 'connection event');
    for (const b of Array.isArray(bytes) ? bytes : [bytes]) {
      raw.write(b).catch(() => {});
      if (Array.isArray(bytes)) await sleep(20); // separate reads on the server
    }
    const close = await readClose(raw);
    assert.equal(close.code, code, `close code (reason: ${JSON.stringify(close.reason)})`);
    // After its close frame the server ends the TCP connection (at least its sending side).
    await raw.waitEnd();
    raw.sock.end();
    const reported = await waitUntil(() => srv.log.closes.get(port), STEP_TIMEOUT, 'JS close event');
    assert.equal(reported.code, code, 'code of the JS close event');
    assert.equal(srv.log.messages.get(port).length, messages, 'messages delivered to JS');
    await assertCanaryEchoes(canary);
    return close;
  }

  it('closes 1002 on an unmasked frame', { timeout: TEST_TIMEOUT }, async () => {
    await expectCloseCode(frame({ opcode: OP.TEXT, payload: 'hello', mask: false }), 1002);
  });

  it('closes 1002 on reserved opcode 3', { timeout: TEST_TIMEOUT }, async () => {
    await expectCloseCode(frame({ opcode: 0x3, payload: 'x' }), 1002);
  });

  it('closes 1002 on reserved opcode 0xB', { timeout: TEST_TIMEOUT }, async () => {
    await expectCloseCode(frame({ opcode: 0xb, payload: 'x' }), 1002);
  });

  it('closes 1002 on RSV1 without a negotiated extension', { timeout: TEST_TIMEOUT }, async () => {
    await expectCloseCode(frame({ opcode: OP.TEXT, rsv: 4, payload: 'compressed?' }), 1002);
  });

  it('closes 1002 on RSV2 and RSV3', { timeout: TEST_TIMEOUT }, async () => {
    await expectCloseCode(frame({ opcode: OP.BINARY, rsv: 2, payload: 'x' }), 1002);
    await expectCloseCode(frame({ opcode: OP.BINARY, rsv: 1, payload: 'x' }), 1002);
  });

  it('closes 1007 on invalid UTF-8 in a text message', { timeout: TEST_TIMEOUT }, async () => {
    await expectCloseCode(frame({ opcode: OP.TEXT, payload: Buffer.from([0x61, 0x62, 0xff, 0x63]) }), 1007);
    // A UTF-16 surrogate encoded as UTF-8 (CESU) is invalid too.
    await expectCloseCode(frame({ opcode: OP.TEXT, payload: Buffer.from([0xed, 0xa0, 0x80]) }), 1007);
    // Overlong encoding of '/'.
    await expectCloseCode(frame({ opcode: OP.TEXT, payload: Buffer.from([0xc0, 0xaf]) }), 1007);
  });

  it('closes 1007 on invalid UTF-8 split across two fragments', { timeout: TEST_TIMEOUT }, async () => {
    // "€" is e2 82 ac: the first fragment ends inside it, the second breaks it.
    await expectCloseCode([
      frame({ opcode: OP.TEXT, fin: false, payload: Buffer.from([0x61, 0xe2, 0x82]) }),
      frame({ opcode: OP.CONT, fin: true, payload: Buffer.from([0x28, 0x62]) }),
    ], 1007);
    // Each fragment valid on its own except that the message ends mid code point.
    await expectCloseCode([
      frame({ opcode: OP.TEXT, fin: false, payload: Buffer.from([0x61, 0xe2]) }),
      frame({ opcode: OP.CONT, fin: true, payload: Buffer.from([0x82]) }),
    ], 1007);
  });

  it('closes 1007 as soon as a first fragment cannot be valid UTF-8', { timeout: TEST_TIMEOUT }, async () => {
    // No final fragment is ever sent: the server must not wait for it.
    await expectCloseCode(frame({ opcode: OP.TEXT, fin: false, payload: Buffer.from([0x61, 0xf5, 0x80]) }), 1007);
  });

  it('accepts valid UTF-8 split across fragments (control)', { timeout: TEST_TIMEOUT }, async () => {
    const raw = await handshake(srv.port);
    const text = Buffer.from('a€𝄞b');
    raw.write(frame({ opcode: OP.TEXT, fin: false, payload: text.subarray(0, 2) }));
    raw.write(frame({ opcode: OP.CONT, fin: false, payload: text.subarray(2, 6) }));
    raw.write(frame({ opcode: OP.CONT, fin: true, payload: text.subarray(6) }));
    const echo = await raw.readFrame();
    assert.equal(echo.opcode, OP.TEXT);
    assert.equal(echo.masked, false);
    assert.deepEqual(echo.payload, text);
    raw.write(frame({ opcode: OP.CLOSE, payload: closePayload(1000) }));
    assert.equal((await readClose(raw)).code, 1000);
    await raw.waitEnd();
    raw.destroy();
  });

  it('closes 1007 on invalid UTF-8 in a close reason', { timeout: TEST_TIMEOUT }, async () => {
    await expectCloseCode(frame({ opcode: OP.CLOSE, payload: closePayload(1000, Buffer.from([0x62, 0x79, 0xff])) }), 1007);
  });

  for (const code of [1005, 999, 5000, 1006, 1015, 0]) {
    it(`closes 1002 on close code ${code} in a close frame`, { timeout: TEST_TIMEOUT }, async () => {
      await expectCloseCode(frame({ opcode: OP.CLOSE, payload: closePayload(code) }), 1002);
    });
  }

  it('closes 1002 on a 1-byte close payload', { timeout: TEST_TIMEOUT }, async () => {
    await expectCloseCode(frame({ opcode: OP.CLOSE, payload: Buffer.from([0x03]) }), 1002);
  });

  it('closes 1002 on a ping with a 126-byte payload', { timeout: TEST_TIMEOUT }, async () => {
    await expectCloseCode(frame({ opcode: OP.PING, payload: Buffer.alloc(126, 0x70) }), 1002);
  });

  it('closes 1002 on a fragmented ping', { timeout: TEST_TIMEOUT }, async () => {
    await expectCloseCode(frame({ opcode: OP.PING, fin: false, payload: 'x' }), 1002);
  });

  it('closes 1002 on a continuation frame without a message', { timeout: TEST_TIMEOUT }, async () => {
    await expectCloseCode(frame({ opcode: OP.CONT, payload: 'orphan' }), 1002);
  });

  it('closes 1002 on a new text frame inside a fragmented message', { timeout: TEST_TIMEOUT }, async () => {
    await expectCloseCode([
      frame({ opcode: OP.TEXT, fin: false, payload: 'first ' }),
      frame({ opcode: OP.TEXT, fin: true, payload: 'second' }),
    ], 1002);
  });

  it('closes 1009 when a frame header announces more than maxMessageSize (payload never sent)', { timeout: TEST_TIMEOUT }, async () => {
    // Only the header (126-form length 2048 + mask key): no payload byte follows.
    const header = frame({ opcode: OP.BINARY, len: 2048 });
    assert.equal(header.length, 8);
    await expectCloseCode(header, 1009);
  });

  it('closes 1009 when fragments add up to more than maxMessageSize', { timeout: TEST_TIMEOUT }, async () => {
    await expectCloseCode([
      frame({ opcode: OP.BINARY, fin: false, payload: Buffer.alloc(800, 1) }),
      frame({ opcode: OP.CONT, fin: true, len: 800 }), // header only
    ], 1009);
  });

  it('delivers a message of exactly maxMessageSize (control)', { timeout: TEST_TIMEOUT }, async () => {
    const raw = await handshake(srv.port);
    const payload = crypto.randomBytes(1024);
    raw.write(frame({ opcode: OP.BINARY, payload }));
    const echo = await raw.readFrame();
    assert.equal(echo.opcode, OP.BINARY);
    assert.deepEqual(echo.payload, payload);
    raw.destroy();
  });

  it('closes 1009 on a 64-bit length over 2^53 - 1, the top bit set (2^63) or not (2^53), as ws', { timeout: TEST_TIMEOUT }, async () => {
    const header = frame({ opcode: OP.BINARY, len: 2n ** 63n });
    assert.equal(header.length, 14);
    assert.equal(header[2], 0x80);
    await expectCloseCode(header, 1009);
    await expectCloseCode(frame({ opcode: OP.BINARY, len: 2n ** 53n }), 1009);
  });

  it('handles frames pipelined with the handshake request', { timeout: TEST_TIMEOUT }, async () => {
    const good = await handshake(srv.port, frame({ opcode: OP.TEXT, payload: 'early bird' }));
    const echo = await good.readFrame();
    assert.equal(echo.opcode, OP.TEXT);
    assert.equal(echo.payload.toString(), 'early bird');
    good.destroy();
    const bad = await handshake(srv.port, frame({ opcode: 0x3, payload: 'x' }));
    assert.equal((await readClose(bad)).code, 1002);
    await bad.waitEnd();
    bad.destroy();
    await assertCanaryEchoes(canary);
  });

  it('answers the messages before a bad frame, then closes 1002 (Autobahn 3.2 strictness)', { timeout: TEST_TIMEOUT }, async () => {
    const raw = await handshake(srv.port);
    // One write: two good messages, then a frame with RSV2 set, then a ping that must be ignored.
    raw.write(Buffer.concat([
      frame({ opcode: OP.TEXT, payload: 'first' }),
      frame({ opcode: OP.BINARY, payload: Buffer.from([1, 2, 3]) }),
      frame({ opcode: OP.TEXT, rsv: 2, payload: 'bad' }),
      frame({ opcode: OP.PING, payload: 'late' }),
    ]));
    const a = await raw.readFrame();
    assert.deepEqual([a.opcode, a.payload.toString()], [OP.TEXT, 'first']);
    const b = await raw.readFrame();
    assert.deepEqual([b.opcode, [...b.payload]], [OP.BINARY, [1, 2, 3]]);
    assert.equal((await readClose(raw)).code, 1002);
    await raw.waitEnd();
    raw.destroy();
    await assertCanaryEchoes(canary);
  });

  it('drops a client that ignores the close after a protocol error (closeTimeout: 1000)', { timeout: TEST_TIMEOUT }, async () => {
    const raw = await handshake(srv.port);
    const port = raw.sock.localPort;
    await waitUntil(() => srv.log.opened.has(port), STEP_TIMEOUT, 'connection event');
    const started = Date.now();
    raw.write(frame({ opcode: OP.TEXT, payload: 'x', mask: false }));
    assert.equal((await readClose(raw)).code, 1002);
    // We neither answer the close nor end our side.
    const reported = await waitUntil(() => srv.log.closes.get(port), 4000, 'JS close event after closeTimeout');
    const elapsed = Date.now() - started;
    assert.equal(reported.code, 1002);
    assert.ok(elapsed >= 800 && elapsed <= 3000, `dropped after ${elapsed} ms (closeTimeout 1000)`);
    await raw.waitEnd();
    raw.destroy();
    await assertCanaryEchoes(canary);
  });

  // ---- well-behaved control frames ----

  it('answers a ping with a pong carrying the same payload', { timeout: TEST_TIMEOUT }, async () => {
    const raw = await handshake(srv.port);
    for (const payload of [Buffer.from('ping payload ✓'), Buffer.alloc(0), crypto.randomBytes(125)]) {
      raw.write(frame({ opcode: OP.PING, payload }));
      const pong = await raw.readFrame();
      assert.equal(pong.opcode, OP.PONG);
      assert.equal(pong.fin, true);
      assert.equal(pong.masked, false);
      assert.deepEqual(pong.payload, payload);
    }
    // A ping between the fragments of a message is answered at once.
    raw.write(frame({ opcode: OP.TEXT, fin: false, payload: 'frag' }));
    raw.write(frame({ opcode: OP.PING, payload: 'mid' }));
    const pong = await raw.readFrame();
    assert.equal(pong.opcode, OP.PONG);
    assert.equal(pong.payload.toString(), 'mid');
    raw.write(frame({ opcode: OP.CONT, payload: 'ment' }));
    const echo = await raw.readFrame();
    assert.equal(echo.opcode, OP.TEXT);
    assert.equal(echo.payload.toString(), 'fragment');
    raw.destroy();
  });

  it('replies to a client close 1000 with close 1000, then the server closes TCP first', { timeout: TEST_TIMEOUT }, async () => {
    const raw = await handshake(srv.port);
    const port = raw.sock.localPort;
    await waitUntil(() => srv.log.opened.has(port), STEP_TIMEOUT, 'connection event');
    raw.write(frame({ opcode: OP.CLOSE, payload: closePayload(1000, 'bye') }));
    const close = await readClose(raw);
    assert.equal(close.code, 1000);
    // We have not ended our side: the FIN we get is the server's.
    assert.equal(raw.sock.writableEnded, false);
    await raw.waitEnd();
    assert.equal(raw.ended, true, 'expected a clean FIN from the server');
    assert.equal(raw.error, null, `unexpected socket error ${raw.error && raw.error.code}`);
    assert.equal(raw.buf.length, 0, 'nothing after the close frame');
    raw.sock.end();
    const reported = await waitUntil(() => srv.log.closes.get(port), STEP_TIMEOUT, 'JS close event');
    assert.deepEqual(reported, { code: 1000, reason: 'bye' });
    await assertCanaryEchoes(canary);
  });

  it('replies to an empty client close with an empty close, then closes TCP', { timeout: TEST_TIMEOUT }, async () => {
    const raw = await handshake(srv.port);
    const port = raw.sock.localPort;
    await waitUntil(() => srv.log.opened.has(port), STEP_TIMEOUT, 'connection event');
    raw.write(frame({ opcode: OP.CLOSE }));
    const f = await raw.readFrame();
    assert.equal(f.opcode, OP.CLOSE);
    assert.equal(f.payload.length, 0, 'a close without status is answered without status');
    await raw.waitEnd();
    assert.equal(raw.sock.writableEnded, false, 'the server closed first');
    raw.sock.end();
    const reported = await waitUntil(() => srv.log.closes.get(port), STEP_TIMEOUT, 'JS close event');
    assert.equal(reported.code, 1005);
  });
});

describe('lws against slow and silent clients (handshakeTimeout: 500)', () => {
  let srv;
  let canary;

  before(async () => {
    srv = await startServer({ handshakeTimeout: 500, closeTimeout: 1000 });
    canary = await openCanary(srv.port);
  });

  after(async () => {
    Raw.destroyAll();
    await closeCanary(canary);
    if (srv) await stopServer(srv.server);
  });

  it('drops a slowloris client sending one byte every 200 ms', { timeout: TEST_TIMEOUT }, async () => {
    const raw = await Raw.connect(srv.port);
    const request = Buffer.from(upgradeRequest(crypto.randomBytes(16).toString('base64')));
    const started = Date.now();
    let sent = 0;
    const drip = setInterval(() => {
      if (raw.finished || sent >= request.length) return;
      raw.sock.write(request.subarray(sent, sent + 1), () => {});
      sent++;
    }, 200);
    try {
      await raw.waitEnd(2000);
    } finally {
      clearInterval(drip);
    }
    const elapsed = raw.endedAt - started;
    assert.ok(elapsed >= 400, `dropped after ${elapsed} ms, before the 500 ms handshake timeout`);
    assert.ok(elapsed <= 2000, `dropped after ${elapsed} ms`);
    assert.ok(sent < request.length, 'the request was never complete');
    assert.equal(raw.buf.length, 0, `no answer expected, got ${JSON.stringify(raw.buf.toString('latin1'))}`);
    raw.destroy();
    await assertCanaryEchoes(canary);
  });

  it('drops a client that connects and sends nothing', { timeout: TEST_TIMEOUT }, async () => {
    const raw = await Raw.connect(srv.port);
    const started = Date.now();
    await raw.waitEnd(2500);
    const elapsed = raw.endedAt - started;
    assert.ok(elapsed >= 400, `dropped after ${elapsed} ms, before the 500 ms handshake timeout`);
    assert.ok(elapsed <= 2000, `dropped after ${elapsed} ms`);
    assert.equal(raw.buf.length, 0);
    raw.destroy();
    await assertCanaryEchoes(canary);
  });

  it('still accepts a prompt handshake', { timeout: TEST_TIMEOUT }, async () => {
    const raw = await handshake(srv.port);
    raw.write(frame({ opcode: OP.TEXT, payload: 'quick' }));
    const echo = await raw.readFrame();
    assert.equal(echo.payload.toString(), 'quick');
    // The handshake timeout must not apply to an open connection.
    await sleep(800);
    raw.write(frame({ opcode: OP.TEXT, payload: 'later' }));
    const later = await raw.readFrame();
    assert.equal(later.payload.toString(), 'later');
    raw.destroy();
  });
});

describe('nothing lost at close (raw TCP clients)', () => {
  let srv;

  before(async () => {
    srv = await startServer({ closeTimeout: 2000 });
  });

  after(async () => {
    Raw.destroyAll();
    if (srv) await stopServer(srv.server);
  });

  /** Reads frames until the close frame: the data frames before it, and the close. */
  async function readUntilClose(raw) {
    const data = [];
    for (;;) {
      const f = await raw.readFrame();
      if (f.opcode === OP.CLOSE) {
        return { data, code: f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005, reason: f.payload.subarray(2).toString() };
      }
      data.push({ opcode: f.opcode, payload: f.payload });
    }
  }

  // Sizes on every path: copied into the event batch, lent from the read buffer, reassembled.
  // Even indexes go as text (valid UTF-8), odd ones as binary.
  const payloads = [Buffer.from('hello'), crypto.randomBytes(5000), Buffer.from('é'.repeat(100 * 1024)), Buffer.from('world')];

  for (const halfClose of [false, true]) {
    it(`echoes of messages sent just before the close leave before the close reply, which echoes code and reason${halfClose ? ' (client half-closes TCP after its close frame)' : ''}`, { timeout: TEST_TIMEOUT }, async () => {
      const raw = await handshake(srv.port);
      const port = raw.sock.localPort; // unreadable once the socket is closed
      const frames = payloads.map((payload, i) => frame({ opcode: i % 2 ? OP.BINARY : OP.TEXT, payload }));
      frames.push(frame({ opcode: OP.CLOSE, payload: closePayload(4000, 'bye ✓') }));
      await raw.write(Buffer.concat(frames));
      if (halfClose) raw.sock.end();
      const { data, code, reason } = await readUntilClose(raw);
      assert.deepEqual(data.map((f) => f.payload.length), payloads.map((p) => p.length), "every echo arrives before the close frame");
      data.forEach((f, i) => {
        assert.equal(f.opcode, i % 2 ? OP.BINARY : OP.TEXT);
        assert.ok(f.payload.equals(payloads[i]), `echo ${i} intact`);
      });
      assert.deepEqual({ code, reason }, { code: 4000, reason: 'bye ✓' });
      await raw.waitEnd();
      const reported = await waitUntil(() => srv.log.closes.get(port), STEP_TIMEOUT, 'the server close event');
      assert.deepEqual(reported, { code: 4000, reason: 'bye ✓' });
    });
  }

  it('an empty close frame gets an empty reply after the echoes', { timeout: TEST_TIMEOUT }, async () => {
    const raw = await handshake(srv.port);
    await raw.write(Buffer.concat([frame({ opcode: OP.TEXT, payload: 'last' }), frame({ opcode: OP.CLOSE })]));
    const { data, code, reason } = await readUntilClose(raw);
    assert.deepEqual(data.map((f) => f.payload.toString()), ['last']);
    assert.deepEqual({ code, reason }, { code: 1005, reason: '' });
    await raw.waitEnd();
  });

  it("messages sent from a 'closing' listener leave before the close reply", { timeout: TEST_TIMEOUT }, async () => {
    const seen = [];
    const onClosing = (socket, code, reason) => {
      seen.push([code, reason]);
      srv.server.send(socket, 'goodbye from closing');
    };
    srv.server.on('closing', onClosing);
    try {
      const raw = await handshake(srv.port);
      await raw.write(Buffer.concat([frame({ opcode: OP.TEXT, payload: 'a' }), frame({ opcode: OP.CLOSE, payload: closePayload(4001, 'x') })]));
      const { data, code, reason } = await readUntilClose(raw);
      assert.deepEqual(data.map((f) => f.payload.toString()), ['a', 'goodbye from closing']);
      assert.deepEqual({ code, reason }, { code: 4001, reason: 'x' });
      assert.deepEqual(seen, [[4001, 'x']]);
    } finally {
      srv.server.off('closing', onClosing);
    }
  });

  it('close(code, reason) right after send() sends the message first', { timeout: TEST_TIMEOUT }, async () => {
    const onMessage = (socket, data) => {
      if (String(data) === 'close me') {
        srv.server.send(socket, 'one');
        srv.server.send(socket, crypto.randomBytes(100 * 1024), true);
        srv.server.close(socket, 4002, 'done');
      }
    };
    srv.server.on('message', onMessage);
    try {
      const raw = await handshake(srv.port);
      await raw.write(frame({ opcode: OP.TEXT, payload: 'close me' }));
      const { data, code, reason } = await readUntilClose(raw);
      // The echo (from startServer's listener), then this listener's two messages.
      assert.deepEqual(data.map((f) => f.payload.length), [8, 3, 100 * 1024]);
      assert.deepEqual({ code, reason }, { code: 4002, reason: 'done' });
      await raw.write(frame({ opcode: OP.CLOSE, payload: closePayload(4002, 'done') }));
      await raw.waitEnd();
    } finally {
      srv.server.off('message', onMessage);
    }
  });

  it('Sec-WebSocket-Version: 8 (HyBi 07-12) is accepted and frames as 13', { timeout: TEST_TIMEOUT }, async () => {
    const raw = await Raw.connect(srv.port);
    const key = crypto.randomBytes(16).toString('base64');
    await raw.write(upgradeRequest(key).replace('Sec-WebSocket-Version: 13', 'Sec-WebSocket-Version: 8'));
    const res = await raw.readHttpResponse();
    assert.equal(res.status, 101);
    assert.equal(res.headers['sec-websocket-accept'], acceptFor(key));
    await raw.write(frame({ opcode: OP.TEXT, payload: 'hybi' }));
    const f = await raw.readFrame();
    assert.equal(f.payload.toString(), 'hybi');
  });
});

describe('autoPong: false (raw TCP clients)', () => {
  let srv;

  before(async () => {
    srv = await startServer({ autoPong: false });
  });

  after(async () => {
    Raw.destroyAll();
    if (srv) await stopServer(srv.server);
  });

  it("pings are not answered by the engine; 'ping' reaches JS, which answers with pong()", { timeout: TEST_TIMEOUT }, async () => {
    const pings = [];
    srv.server.on('ping', (socket, data) => {
      pings.push(Buffer.from(data).toString());
      srv.server.pong(socket, `js:${data}`);
    });
    const raw = await handshake(srv.port);
    await raw.write(Buffer.concat([frame({ opcode: OP.PING, payload: 'p1' }), frame({ opcode: OP.TEXT, payload: 'm' })]));
    const first = await raw.readFrame();
    const second = await raw.readFrame();
    // Only JS's pong, never the engine's echo of 'p1'.
    assert.deepEqual([first, second].map((f) => [f.opcode, f.payload.toString()]), [[OP.PONG, 'js:p1'], [OP.TEXT, 'm']]);
    assert.deepEqual(pings, ['p1']);
    await sleep(100);
    assert.equal(raw.buf.length, 0, 'nothing else was sent');
  });
});
