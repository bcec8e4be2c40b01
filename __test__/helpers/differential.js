'use strict';
const { frame: framed } = require('./frames');
// Differential harness: one scenario runs against ws's own WebSocketServer (the
// reference) and against lws (lws.WebSocketServer, or lws.Server through a thin
// adapter); each run records a transcript of everything a user can observe, and
// the transcripts must be deep-equal (`assert.deepStrictEqual(lws, ws)`, so the
// diff shows what lws does differently).
//
// A transcript is an object of logs, one per actor ('server', 'client', 'raw',
// 'stream', 'harness', ...). Each log is in the order that actor saw things;
// nothing is ordered across actors (which side of a loopback connection sees
// its event first is up to the scheduler). Transcripts hold no time, port or
// address: requests carry `Host: localhost`, keys are fixed, large payloads are
// recorded as length + digest.
//
// Every wait is bounded. A wait that runs out is recorded in the 'harness' log
// (so a missing event shows up in the diff instead of hanging the test), and the
// reference run must have an empty 'harness' log: a scenario that ws itself does
// not complete is a broken scenario, not a difference.
//
// LWS_DIFF_CANDIDATE=ws runs ws against ws (both sides ws): every test must pass
// then, which checks that the transcripts are deterministic.
// LWS_DIFF_DUMP=file appends every pair of transcripts to `file` (JSON lines).

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const { EventEmitter } = require('node:events');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const { test } = require('node:test');
const WS = require('ws');

const lws = require(path.join(__dirname, '..', '..'));
const { ENGINE_OPTIONS } = require('./engine');
const { withTimeout, sleep, closeHttp } = require('./wait');

const IMPLEMENTATIONS = {
  ws: {
    label: 'ws',
    flavor: 'wss',
    WebSocketServer: WS.WebSocketServer,
    createWebSocketStream: WS.createWebSocketStream,
    options: {},
  },
  lws: {
    label: 'lws.WebSocketServer',
    flavor: 'wss',
    WebSocketServer: lws.WebSocketServer,
    createWebSocketStream: lws.createWebSocketStream,
    options: ENGINE_OPTIONS,
  },
  core: { label: 'lws.Server', flavor: 'core', options: ENGINE_OPTIONS },
};

const REFERENCE = IMPLEMENTATIONS.ws;
const SELF_CHECK = process.env.LWS_DIFF_CANDIDATE === 'ws';
/** What the ws-API scenarios run against (ws itself with LWS_DIFF_CANDIDATE=ws). */
const CANDIDATE = SELF_CHECK ? IMPLEMENTATIONS.ws : IMPLEMENTATIONS.lws;
/** What the node-lws-API scenarios run against (ws itself with LWS_DIFF_CANDIDATE=ws). */
const CORE_CANDIDATE = SELF_CHECK ? IMPLEMENTATIONS.ws : IMPLEMENTATIONS.core;

const MODES = ['port', 'server', 'noServer'];

/** The key of RFC 6455 section 1.3, and its accept value. */
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const acceptOf = (key) => crypto.createHash('sha1').update(key + GUID).digest('base64');

/** Fixed mask key: frames written by raw clients are the same bytes on every run. */
const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

// ---- describing values ------------------------------------------------------------

/** A message or control payload as a transcript value: text / hex when short, length + digest when long. */
function describeData(data, isBinary) {
  if (Array.isArray(data)) return { type: 'Array', fragments: data.map((d) => describeData(d, isBinary)) };
  let type = data === null || data === undefined ? String(data) : data.constructor.name;
  let buf;
  if (Buffer.isBuffer(data)) buf = data;
  else if (data instanceof ArrayBuffer) buf = Buffer.from(data);
  else if (ArrayBuffer.isView(data)) buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  else return { type, value: String(data) };
  if (buf.length > 256) {
    return { type, length: buf.length, sha1: crypto.createHash('sha1').update(buf).digest('hex').slice(0, 16) };
  }
  return isBinary ? { type, hex: buf.toString('hex') } : { type, text: buf.toString() };
}

function describeError(err) {
  if (!err) return null;
  return { name: err.name, message: err.message, code: err.code };
}

/** Header pairs from a rawHeaders-style list, without Date (the one value that changes per run). */
function headerPairs(rawHeaders) {
  const pairs = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i].toLowerCase() === 'date') continue;
    pairs.push([rawHeaders[i], rawHeaders[i + 1]]);
  }
  return pairs;
}

/** An HTTP request as a 'wsClientError', 'verifyClient', ... listener sees it. */
function describeRequest(req) {
  if (!req) return { present: false };
  return {
    isIncomingMessage: req instanceof http.IncomingMessage,
    method: req.method,
    url: req.url,
    httpVersion: req.httpVersion,
    headers: req.headers && { ...req.headers },
  };
}

// ---- frames (RFC 6455 section 5.2) ------------------------------------------------

/** A client frame: masked with MASK (fixed, so transcripts of raw bytes repeat) unless `mask: false`. */
function frame(opcode, payload, options = {}) {
  return framed(opcode, payload, { key: MASK, ...options });
}

/** A close frame's payload: code (unless undefined) and reason. */
function closePayload(code, reason = '') {
  if (code === undefined) return Buffer.alloc(0);
  const buf = Buffer.alloc(2 + Buffer.byteLength(reason));
  buf.writeUInt16BE(code, 0);
  buf.write(reason, 2);
  return buf;
}

/** Decodes the frames in `buf` (what a server sent); trailing partial bytes are reported as such. */
function decodeFrames(buf) {
  const frames = [];
  let pos = 0;
  while (pos < buf.length) {
    if (buf.length - pos < 2) break;
    const b0 = buf[pos];
    const b1 = buf[pos + 1];
    let len = b1 & 0x7f;
    let at = pos + 2;
    if (len === 126) {
      if (buf.length - at < 2) break;
      len = buf.readUInt16BE(at);
      at += 2;
    } else if (len === 127) {
      if (buf.length - at < 8) break;
      len = Number(buf.readBigUInt64BE(at));
      at += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    if (masked) at += 4;
    if (buf.length - at < len) break;
    let payload = buf.subarray(at, at + len);
    if (masked) {
      const key = buf.subarray(at - 4, at);
      payload = Buffer.from(payload);
      for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
    }
    const opcode = b0 & 0x0f;
    const f = { fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode, masked };
    if (opcode === 8) {
      f.code = payload.length >= 2 ? payload.readUInt16BE(0) : null;
      f.reason = payload.length > 2 ? payload.subarray(2).toString() : '';
    } else {
      Object.assign(f, describeData(payload, opcode !== 1));
      delete f.type;
    }
    frames.push(f);
    pos = at + len;
  }
  if (pos < buf.length) frames.push({ partial: buf.subarray(pos).toString('hex') });
  return frames;
}

// ---- raw TCP clients ----------------------------------------------------------------

/** The upgrade request text; `headers` entries override (undefined removes) the defaults. */
function upgradeRequest({ method = 'GET', path: target = '/', version = '1.1', headers = {} } = {}) {
  const all = {
    Host: 'localhost',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': KEY,
    'Sec-WebSocket-Version': '13',
  };
  for (const [name, value] of Object.entries(headers)) all[name] = value;
  let text = `${method} ${target} HTTP/${version}\r\n`;
  for (const [name, value] of Object.entries(all)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) text += `${name}: ${v}\r\n`;
  }
  return `${text}\r\n`;
}

/**
 * A scenario: a raw client upgrades (a server made with `serverOptions`), writes `bytes`
 * and logs the server's answer up to the end of the connection.
 */
function badFrameScenario(serverOptions, bytes) {
  return async (run) => {
    await run.server(serverOptions);
    const raw = run.raw();
    raw.write(upgradeRequest());
    const response = await raw.response();
    if (!/^HTTP\/1\.1 101 /.test(response.status || '')) {
      run.log('raw', { ev: 'response', ...response });
      return;
    }
    raw.write(bytes);
    run.log('raw', { ev: 'after the bad frame', ...(await raw.untilEnd()) });
    await run.serverSocketsClosed();
  };
}

/**
 * A raw TCP socket read into one buffer, for scenarios that write or read bytes no
 * WebSocket library would; every wait is bounded. RawClient (below) dials a server;
 * client-differential.js's RawPeer is the server's end of a connection.
 */
class RawSocket {
  constructor(socket) {
    this.socket = socket;
    this.buffer = Buffer.alloc(0);
    this.ended = false; // the other end sent FIN
    this.closed = false;
    this.error = null;
    this._wake = null;
    socket.on('data', (chunk) => this._onData(chunk));
    socket.on('end', () => {
      this.ended = true;
      this._poke();
    });
    socket.on('close', () => {
      this.closed = true;
      this._poke();
    });
    socket.on('error', (err) => {
      this.error = err.code || err.message;
      this._poke();
    });
  }

  _onData(chunk) {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    this._poke();
  }

  _poke() {
    if (this._wake) this._wake();
  }

  /** Waits until `predicate()` holds or the socket is gone; false on time-out. */
  async until(predicate, ms = 3000) {
    const deadline = Date.now() + ms;
    while (!predicate()) {
      if (this.closed) return predicate();
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this._wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this._wake = null;
    }
    return true;
  }

  write(data) {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  take(n) {
    const out = this.buffer.subarray(0, n);
    this.buffer = this.buffer.subarray(n);
    return out;
  }

  /** Waits for `n` bytes (or the end) and decodes them. */
  async frames(n, ms = 3000) {
    await this.until(() => this.buffer.length >= n || this.ended, ms);
    return decodeFrames(this.take(Math.min(n, this.buffer.length)));
  }

  /** Every frame until the other end ends the connection (bounded). */
  async untilEnd(ms = 3000) {
    await this.until(() => this.ended, ms);
    return { frames: decodeFrames(this.take(this.buffer.length)), ended: this.ended };
  }

  end() {
    this.socket.end();
  }

  destroy() {
    this.socket.destroy();
  }
}

/** A TCP client that reads into one buffer; every read is bounded. */
class RawClient extends RawSocket {
  constructor(port) {
    super(net.connect(port, '127.0.0.1'));
  }

  /** The response head: { status, headers } (Date dropped), or null if none arrived in time. */
  async head(ms = 3000) {
    await this.until(() => this.buffer.includes('\r\n\r\n'), ms);
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end === -1) return null;
    const lines = this.take(end + 4).toString('latin1').slice(0, -4).split('\r\n');
    const raw = [];
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      raw.push(line.slice(0, colon), line.slice(colon + 1).trim());
    }
    return { status: lines[0], headers: headerPairs(raw) };
  }

  /** A whole HTTP response: head, body (Content-Length, chunked or until close), and whether the server then closed. */
  async response(ms = 3000, endWait = 300) {
    const head = await this.head(ms);
    if (head === null) {
      return { status: null, received: this.take(this.buffer.length).toString('latin1'), serverClosed: this.ended || this.closed, error: this.error };
    }
    const get = (name) => {
      const pair = head.headers.find(([n]) => n.toLowerCase() === name);
      return pair && pair[1];
    };
    let body;
    if (/^HTTP\/1\.[01] 101/.test(head.status)) {
      body = undefined;
    } else if (get('content-length') !== undefined) {
      const n = Number(get('content-length'));
      await this.until(() => this.buffer.length >= n, ms);
      body = this.take(n).toString('latin1');
    } else if (/chunked/i.test(get('transfer-encoding') || '')) {
      await this.until(() => this.buffer.includes('0\r\n\r\n'), ms);
      body = this.take(this.buffer.length).toString('latin1');
    } else {
      await this.until(() => this.ended, ms);
      body = this.take(this.buffer.length).toString('latin1');
    }
    const result = { ...head };
    if (body !== undefined) {
      result.body = body;
      // ws ends the socket with its refusal; Node's own answers keep the connection alive.
      await this.until(() => this.ended, endWait);
      result.serverClosed = this.ended;
      if (this.buffer.length) result.extra = this.take(this.buffer.length).toString('latin1');
    }
    if (this.error) result.error = this.error;
    return result;
  }

  /** Every frame until the server ends the connection, and the socket's error if any. */
  async untilEnd(ms = 3000) {
    const out = await super.untilEnd(ms);
    if (this.error) out.error = this.error;
    return out;
  }
}

// ---- lws.Server as the ws-shaped server the scenarios talk to --------------------------

/** A node-lws socket with ws's method names (send/close/ping/pong/terminate) and events. */
class CoreSocket extends EventEmitter {
  constructor(core, socket) {
    super();
    this._core = core;
    this._socket = socket;
  }

  send(data, options, cb) {
    if (typeof options === 'function') [cb, options] = [options, undefined];
    const binary = options && options.binary !== undefined ? options.binary : typeof data !== 'string';
    this._core.send(this._socket, data, binary);
    if (cb) process.nextTick(cb);
  }

  close(code, reason) {
    this._core.close(this._socket, code, reason);
  }

  ping(data) {
    this._core.ping(this._socket, data);
  }

  pong(data) {
    this._core.pong(this._socket, data);
  }

  terminate() {
    this._core.terminate(this._socket);
  }
}

/** lws.Server seen as a WebSocketServer with 'connection' (ws-shaped sockets). */
function coreServer(core) {
  const wss = new EventEmitter();
  const sockets = new Map();
  core.on('connection', (socket) => {
    const ws = new CoreSocket(core, socket);
    sockets.set(socket, ws);
    wss.emit('connection', ws, undefined);
  });
  // message buffers are lent by the engine: hand out copies.
  core.on('message', (socket, data, binary) => sockets.get(socket).emit('message', Buffer.from(data), binary));
  core.on('ping', (socket, data) => sockets.get(socket).emit('ping', Buffer.from(data)));
  core.on('pong', (socket, data) => sockets.get(socket).emit('pong', Buffer.from(data)));
  core.on('close', (socket, code, reason) => {
    const ws = sockets.get(socket);
    sockets.delete(socket);
    if (ws) ws.emit('close', code, Buffer.from(reason));
  });
  core.on('error', (err) => wss.emit('error', err));
  wss.core = core;
  return wss;
}

// ---- one run of a scenario ----------------------------------------------------------------

const kClosed = Symbol('closed');
const kOpened = Symbol('opened');

function settleable() {
  let resolve;
  const promise = new Promise((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

function closeWss(wss) {
  return withTimeout(new Promise((resolve) => wss.close(() => resolve())), 5000, 'wss close').catch(() => {});
}

/** The user's own http server in server / noServer modes: the same for both implementations. */
function userHttpServer() {
  return http.createServer((req, res) => {
    res.sendDate = false;
    res.writeHead(404, { 'Content-Type': 'text/plain', Connection: 'close' });
    res.end('plain http request');
  });
}

class Run {
  constructor(impl, mode) {
    this.impl = impl;
    this.mode = mode;
    this.transcript = {};
    this.port = null;
    this.wss = null;
    this._cleanups = [];
    this._clients = new Set();
    this._raws = new Set();
    this._serverSockets = [];
    this._connectionWaiters = [];
    this.frozen = false;
  }

  /** Appends `entry` to `actor`'s log (until the scenario is over: cleanup is not recorded). */
  log(actor, entry) {
    if (this.frozen) return;
    (this.transcript[actor] || (this.transcript[actor] = [])).push(entry);
  }

  /** A point in an actor's log ("what came before / after this"). */
  mark(actor, what) {
    this.log(actor, { ev: 'mark', what });
  }

  /** Awaits `promise` for at most `ms`; a time-out or rejection is recorded in the 'harness' log. */
  async settle(promise, what, ms = 3000) {
    try {
      return await withTimeout(Promise.resolve(promise), ms, what);
    } catch (err) {
      this.log('harness', /timed out/.test(err.message) ? { ev: 'timeout', what } : { ev: 'rejected', what, error: describeError(err) });
      return undefined;
    }
  }

  defer(fn) {
    this._cleanups.push(fn);
  }

  /**
   * Starts the server for this run's mode. `options` are WebSocketServer options (without
   * port/server/noServer); `onServer(wss)` runs before it listens; `onConnection(ws, req)`
   * after the server-side socket is tracked (in the `serverActor` log); `onUpgrade(wss, req,
   * socket, head)` replaces the noServer mode's 'upgrade' listener (which calls handleUpgrade
   * and emits 'connection', as ws's documentation shows).
   */
  async server(options = {}, { onServer, onConnection, onUpgrade, serverActor = 'server' } = {}) {
    const impl = this.impl;
    let wss;
    let httpServer = null;
    let listening = null; // port mode: resolves once the server listens
    if (impl.flavor === 'core') {
      if (Object.keys(options).length) throw new Error('lws.Server scenarios take no ws options');
      if (this.mode === 'port') {
        const core = new lws.Server({ ...impl.options, port: 0, host: '127.0.0.1' });
        wss = coreServer(core);
        this.defer(() => withTimeout(new Promise((resolve) => core.close(resolve)), 10000, 'lws.Server close').catch(() => {}));
        listening = withTimeout(new Promise((resolve) => core.once('listening', resolve)), 5000, 'listening').then(() => core.port);
      } else {
        const core = new lws.Server({ ...impl.options });
        wss = coreServer(core);
        this.defer(() => withTimeout(new Promise((resolve) => core.close(resolve)), 10000, 'lws.Server close').catch(() => {}));
        httpServer = userHttpServer();
        httpServer.on('upgrade', (req, socket, head) => core.handleUpgrade(socket, req, head));
      }
    } else {
      const base = { ...impl.options, ...options };
      if (this.mode === 'port') {
        wss = new impl.WebSocketServer({ ...base, port: 0, host: '127.0.0.1' });
        listening = withTimeout(new Promise((resolve) => wss.once('listening', resolve)), 5000, 'listening').then(() => wss.address().port);
      } else if (this.mode === 'server') {
        httpServer = userHttpServer();
        wss = new impl.WebSocketServer({ ...base, server: httpServer });
      } else {
        httpServer = userHttpServer();
        wss = new impl.WebSocketServer({ ...base, noServer: true });
        httpServer.on('upgrade', (req, socket, head) => {
          if (onUpgrade) onUpgrade(wss, req, socket, head);
          else wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
        });
      }
      this.defer(async () => {
        if (wss.clients) for (const ws of wss.clients) ws.terminate();
        await closeWss(wss);
        // lws: the engine of a server that never had a connection is released here.
        if (wss._core && !wss._core._closed) {
          await withTimeout(new Promise((resolve) => wss._core.close(resolve)), 10000, 'engine close').catch(() => {});
        }
      });
    }
    wss.on('error', (err) => this.log('server', { ev: 'server error', error: describeError(err) }));
    wss.on('connection', (ws, req) => {
      this._trackServerSocket(ws, serverActor);
      if (onConnection) onConnection(ws, req);
    });
    if (onServer) onServer(wss);
    if (httpServer !== null) {
      this.defer(() => closeHttp(httpServer));
      await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
      this.port = httpServer.address().port;
    } else {
      this.port = await listening;
    }
    this.wss = wss;
    return wss;
  }

  _trackServerSocket(ws, actor) {
    this.log(actor, { ev: 'connection', readyState: ws.readyState, protocol: ws.protocol, extensions: ws.extensions });
    this._track(ws, actor);
    this._serverSockets.push(ws);
    const waiters = this._connectionWaiters;
    this._connectionWaiters = [];
    for (const w of waiters) w();
  }

  /** Records a WebSocket's events in `actor`'s log, with its readyState at each. */
  _track(ws, actor) {
    const closedSignal = settleable();
    ws[kClosed] = closedSignal.promise;
    const state = () => ws.readyState;
    ws.on('message', (data, isBinary) => this.log(actor, { ev: 'message', data: describeData(data, isBinary), isBinary, readyState: state() }));
    ws.on('ping', (data) => this.log(actor, { ev: 'ping', data: describeData(data, false), readyState: state() }));
    ws.on('pong', (data) => this.log(actor, { ev: 'pong', data: describeData(data, false), readyState: state() }));
    ws.on('error', (err) => this.log(actor, { ev: 'error', error: describeError(err), readyState: state() }));
    ws.on('close', (code, reason) => {
      this.log(actor, {
        ev: 'close',
        code,
        reason: Buffer.isBuffer(reason) ? reason.toString() : reason,
        reasonIsBuffer: Buffer.isBuffer(reason),
        readyState: state(),
      });
      closedSignal.resolve();
    });
  }

  /** The `i`th server-side WebSocket (resolves once it is connected; bounded). */
  async connection(i = 0, ms = 3000) {
    const deadline = Date.now() + ms;
    while (this._serverSockets.length <= i) {
      const left = deadline - Date.now();
      if (left <= 0) {
        this.log('harness', { ev: 'timeout', what: `server connection #${i}` });
        return undefined;
      }
      await withTimeout(new Promise((resolve) => this._connectionWaiters.push(resolve)), left, 'connection').catch(() => {});
    }
    return this._serverSockets[i];
  }

  /** A ws client to `path`, its events recorded in `actor`'s log. */
  client(target = '/', protocols = undefined, options = {}, actor = 'client') {
    const ws = new WS(`ws://127.0.0.1:${this.port}${target}`, protocols, options);
    const openedSignal = settleable();
    ws[kOpened] = openedSignal.promise;
    ws.on('open', () => {
      this.log(actor, { ev: 'open', readyState: ws.readyState, protocol: ws.protocol, extensions: ws.extensions });
      openedSignal.resolve(true);
    });
    ws.on('unexpected-response', (req, res) => {
      this.log(actor, { ev: 'unexpected-response', status: res.statusCode });
      res.resume();
      req.destroy();
    });
    this._track(ws, actor);
    ws.on('close', () => openedSignal.resolve(false));
    this._clients.add(ws);
    return ws;
  }

  /** Resolves true once `ws` (a client of this run) is open, false if it closed first; bounded. */
  opened(ws, ms = 3000) {
    return this.settle(ws[kOpened], 'client open', ms);
  }

  /** Waits (bounded) for every given WebSocket to emit 'close'; undefined entries are skipped. */
  closed(list, what = 'close', ms = 4000) {
    const sockets = (Array.isArray(list) ? list : [list]).filter(Boolean);
    return this.settle(Promise.all(sockets.map((ws) => ws[kClosed])), what, ms);
  }

  /** Waits for every server-side WebSocket seen so far to close. */
  serverSocketsClosed(ms = 4000) {
    return this.closed(this._serverSockets, 'server-side close', ms);
  }

  raw() {
    const client = new RawClient(this.port);
    this._raws.add(client);
    return client;
  }

  async cleanup() {
    for (const raw of this._raws) raw.destroy();
    for (const ws of this._clients) ws.terminate();
    for (const fn of this._cleanups.reverse()) {
      try {
        await fn();
      } catch {
        // best effort
      }
    }
  }
}

/** Runs `scenario` once against `impl` in `mode`; returns its transcript. */
async function transcriptOf(impl, mode, scenario) {
  const run = new Run(impl, mode);
  try {
    await scenario(run);
  } catch (err) {
    run.log('harness', { ev: 'threw', error: describeError(err), stack: String(err.stack).split('\n').slice(0, 3).join(' | ') });
  } finally {
    run.frozen = true;
    await run.cleanup();
  }
  return run.transcript;
}

/** lws.Server has no readyState, protocol or extensions: those fields are dropped from the server log for it. */
function coreView(transcript) {
  const out = { ...transcript };
  if (out.server) {
    out.server = out.server.map((entry) => {
      const e = { ...entry };
      delete e.readyState;
      delete e.protocol;
      delete e.extensions;
      return e;
    });
  }
  return out;
}

function dump(name, reference, candidate) {
  if (!process.env.LWS_DIFF_DUMP) return;
  fs.appendFileSync(process.env.LWS_DIFF_DUMP, `${JSON.stringify({ name, reference, candidate })}\n`);
}

function checkReference(reference, name) {
  assert.equal(
    reference.harness,
    undefined,
    `the scenario "${name}" does not complete against ws itself (a harness bug, not a difference): ${JSON.stringify(reference.harness)}`,
  );
}

/**
 * Registers one test per mode: the transcript of `scenario` run against lws must equal ws's.
 * `modes`: WebSocketServer modes; `core`: modes ('port', 'server') in which lws.Server also runs it.
 */
function differential(name, { modes = MODES, core = [], timeout = 30000, scenario }) {
  for (const mode of modes) {
    test(`${name} [${mode}] ${CANDIDATE.label}`, { timeout }, async () => {
      const reference = await transcriptOf(REFERENCE, mode, scenario);
      checkReference(reference, name);
      const candidate = await transcriptOf(CANDIDATE, mode, scenario);
      dump(`${name} [${mode}] ${CANDIDATE.label}`, reference, candidate);
      assert.deepStrictEqual(candidate, reference);
    });
  }
  for (const mode of core) {
    test(`${name} [${mode}] ${CORE_CANDIDATE.label === 'ws' ? 'ws (as lws.Server)' : CORE_CANDIDATE.label}`, { timeout }, async () => {
      const reference = await transcriptOf(REFERENCE, mode, scenario);
      checkReference(reference, name);
      const candidate = await transcriptOf(CORE_CANDIDATE, mode, scenario);
      dump(`${name} [${mode}] ${CORE_CANDIDATE.label}`, coreView(reference), coreView(candidate));
      assert.deepStrictEqual(coreView(candidate), coreView(reference));
    });
  }
}

module.exports = {
  RawSocket,
  settleable,
  differential,
  transcriptOf,
  IMPLEMENTATIONS,
  CANDIDATE,
  MODES,
  KEY,
  ACCEPT,
  acceptOf,
  frame,
  closePayload,
  decodeFrames,
  describeData,
  describeError,
  describeRequest,
  headerPairs,
  upgradeRequest,
  badFrameScenario,
  RawClient,
  sleep,
};
