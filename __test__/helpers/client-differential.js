'use strict';
// Client differential harness: one scenario runs with ws's own client (the
// reference) and with the candidate client (helpers/client-candidate.js), each
// against fresh copies of the same real servers (ws's WebSocketServer, or raw
// net/http servers for misbehaving peers). Each run records a transcript of
// everything observable, and the transcripts must be deep-equal
// (`assert.deepStrictEqual(candidate, reference)`).
//
// A transcript is an object of logs, one per actor ('client', 'server', 'raw',
// 'http', ...), each in the order that actor saw things; nothing is ordered across
// actors. Ports, unix socket paths and other per-run values are replaced by names
// (`run.alias`), Date headers and Sec-WebSocket-Key/Accept values (random per
// connection) are left out; large payloads are length + digest.
//
// Every wait is bounded; a wait that runs out is recorded in the 'harness' log, and
// the reference run must have none (a scenario ws does not complete is broken).
// LWS_CLIENT_CANDIDATE=ws runs ws against ws: every test must pass then, which
// checks that the transcripts are deterministic. LWS_DIFF_DUMP=file appends every
// pair of transcripts to `file` (JSON lines).

const assert = require('node:assert/strict');
const { isUtf8 } = require('node:buffer');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const { test } = require('node:test');
const WS = require('ws');

const candidate = require('./client-candidate');
const { describeData, describeError: describeErrorBase, decodeFrames, RawSocket, settleable } = require('./differential');
const { withTimeout, closeHttp } = require('./wait');

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const acceptOf = (key) => crypto.createHash('sha1').update(key + GUID).digest('base64');

const REFERENCE = { label: 'ws', WebSocket: WS.WebSocket, createWebSocketStream: WS.createWebSocketStream };
const CANDIDATE = { label: candidate.name, WebSocket: candidate.WebSocket, createWebSocketStream: candidate.createWebSocketStream };

const kOpened = Symbol('opened');
const kClosed = Symbol('closed');

/** An error as a transcript value (with the system-call fields of network errors). */
function describeError(err) {
  if (!err) return null;
  const out = describeErrorBase(err);
  if (err.syscall !== undefined) out.syscall = err.syscall;
  if (err.errno !== undefined) out.errno = err.errno;
  return out;
}

/** Lowercase headers, sorted, without the values that change on every connection. */
function describeHeaders(headers) {
  const out = {};
  for (const name of Object.keys(headers).sort()) {
    if (name === 'date' || name === 'sec-websocket-key' || name === 'sec-websocket-accept') continue;
    out[name] = headers[name];
  }
  return out;
}

/** Parses an HTTP request head (text up to the blank line). */
function parseHead(text) {
  const lines = text.split('\r\n');
  const headers = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon === -1) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return { requestLine: lines[0], headers };
}

/** One accepted TCP connection of a raw server: the request head, then the bytes the client sent after it. */
class RawPeer extends RawSocket {
  constructor(socket) {
    super(socket);
    this.head = null; // { requestLine, headers }
  }

  _onData(chunk) {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    if (this.head === null) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end !== -1) {
        this.head = parseHead(this.buffer.subarray(0, end).toString('latin1'));
        this.buffer = this.buffer.subarray(end + 4);
      }
    }
    this._poke();
  }

  /** The Sec-WebSocket-Accept value that matches the client's key. */
  get accept() {
    return acceptOf(this.head.headers['sec-websocket-key'] || '');
  }

  /** Writes a 101 answer (correct accept unless `accept` is given) with `extra` header lines. */
  switchProtocols(extra = [], { accept = this.accept } = {}) {
    const lines = ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade'];
    if (accept !== null) lines.push(`Sec-WebSocket-Accept: ${accept}`);
    this.write(`${lines.concat(extra).join('\r\n')}\r\n\r\n`);
  }
}

class Run {
  constructor(impl) {
    this.impl = impl;
    this.transcript = {};
    this.frozen = false;
    this._cleanups = [];
    this._aliases = [];
    this._clients = new Set();
  }

  log(actor, entry) {
    if (this.frozen) return;
    (this.transcript[actor] || (this.transcript[actor] = [])).push(entry);
  }

  mark(actor, what) {
    this.log(actor, { ev: 'mark', what });
  }

  /** `value` (a port, a path) is written as `name` in the transcript. */
  alias(value, name) {
    this._aliases.push([String(value), name]);
  }

  defer(fn) {
    this._cleanups.push(fn);
  }

  /** Awaits `promise` for at most `ms`; a time-out or rejection goes to the 'harness' log. */
  async settle(promise, what, ms = 3000) {
    try {
      return await withTimeout(Promise.resolve(promise), ms, what);
    } catch (err) {
      this.log('harness', /timed out/.test(err.message) ? { ev: 'timeout', what } : { ev: 'rejected', what, error: describeError(err) });
      return undefined;
    }
  }

  /** Calls `fn`; records what it returned or threw (constructor errors). */
  attempt(actor, what, fn) {
    try {
      const value = fn();
      this.log(actor, { ev: 'returned', what, type: value === undefined ? 'undefined' : value.constructor.name });
      return value;
    } catch (err) {
      this.log(actor, { ev: 'threw', what, error: describeError(err), isTypeError: err instanceof TypeError, isSyntaxError: err instanceof SyntaxError, isRangeError: err instanceof RangeError });
      return undefined;
    }
  }

  /**
   * A ws WebSocketServer on a loopback port (`name` in URLs): its requests and
   * server-side sockets are logged in `actor`. `options` are WebSocketServer options;
   * `onConnection(ws, req)` runs after tracking. Returns { wss, port, url(path) }.
   */
  async wsServer(options = {}, { name = 'server', actor = name, onConnection, socketPath } = {}) {
    const httpServer = http.createServer((req, res) => {
      res.writeHead(404);
      res.end();
    });
    const wss = new WS.WebSocketServer({ ...options, server: httpServer });
    wss.on('headers', (headers, req) => this.log(actor, { ev: 'request', method: req.method, url: req.url, headers: describeHeaders(req.headers) }));
    wss.on('error', (err) => this.log(actor, { ev: 'server error', error: describeError(err) }));
    wss.on('wsClientError', (err) => this.log(actor, { ev: 'wsClientError', error: describeError(err) }));
    wss.on('connection', (ws, req) => {
      this.log(actor, { ev: 'connection', protocol: ws.protocol, extensions: ws.extensions });
      this.track(ws, actor);
      if (onConnection) onConnection(ws, req);
    });
    this.defer(async () => {
      for (const ws of wss.clients) ws.terminate();
      await withTimeout(new Promise((resolve) => wss.close(() => resolve())), 5000, 'wss close').catch(() => {});
      await closeHttp(httpServer);
    });
    return this._listen(httpServer, name, socketPath).then((where) => ({ wss, ...where }));
  }

  /** A plain http server; `handler(req, res)`; requests are logged in `actor`. */
  async httpServer(handler, { name = 'http', actor = name } = {}) {
    const server = http.createServer((req, res) => {
      this.log(actor, { ev: 'request', method: req.method, url: req.url, headers: describeHeaders(req.headers) });
      handler(req, res);
    });
    server.on('upgrade', (req, socket) => {
      this.log(actor, { ev: 'request', method: req.method, url: req.url, headers: describeHeaders(req.headers) });
      const res = new http.ServerResponse(req);
      res.assignSocket(socket);
      res.shouldKeepAlive = false;
      res.on('finish', () => socket.end());
      handler(req, res);
    });
    this.defer(() => closeHttp(server));
    return this._listen(server, name);
  }

  /**
   * A raw TCP server: `onPeer(peer)` runs for every connection once its request head
   * arrived (logged in `actor`); `peer` is a RawPeer.
   */
  async rawServer(onPeer, { name = 'raw', actor = name, logHead = true } = {}) {
    const peers = new Set();
    const server = net.createServer((socket) => {
      const peer = new RawPeer(socket);
      peers.add(peer);
      peer.until(() => peer.head !== null, 5000).then((ok) => {
        if (!ok) return;
        if (logHead) this.log(actor, { ev: 'request', requestLine: peer.head.requestLine, headers: describeHeaders(peer.head.headers) });
        return onPeer(peer);
      }).catch((err) => this.log('harness', { ev: 'raw server threw', error: describeError(err) }));
    });
    this.defer(() => {
      for (const peer of peers) peer.destroy();
      return withTimeout(new Promise((resolve) => server.close(() => resolve())), 5000, 'raw close').catch(() => {});
    });
    return this._listen(server, name);
  }

  async _listen(server, name, socketPath) {
    if (socketPath) {
      await new Promise((resolve) => server.listen(socketPath, resolve));
      this.alias(socketPath, `<${name}.sock>`);
      return { socketPath, url: (p = '/') => `ws+unix:${socketPath}:${p}` };
    }
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address();
    this.alias(port, `<${name} port>`);
    return { port, url: (p = '/', scheme = 'ws') => `${scheme}://127.0.0.1:${port}${p}` };
  }

  /**
   * A client of the implementation under test, every event logged in `actor`.
   * `listen` adds listeners whose presence changes ws's behaviour:
   * `unexpectedResponse(ws, req, res)`, `redirect: true` (or `redirect(ws, url, req)`, called after logging).
   */
  client(url, protocols, options, { actor = 'client', unexpectedResponse, redirect = false } = {}) {
    const args = [url];
    if (protocols !== undefined || options !== undefined) args.push(protocols);
    if (options !== undefined) args.push(options);
    let ws;
    try {
      ws = new this.impl.WebSocket(...args);
    } catch (err) {
      this.log(actor, { ev: 'constructor threw', error: describeError(err), isTypeError: err instanceof TypeError, isSyntaxError: err instanceof SyntaxError, isRangeError: err instanceof RangeError });
      return null;
    }
    this._clients.add(ws);
    this.log(actor, { ev: 'constructed', readyState: ws.readyState, url: ws.url, protocol: ws.protocol, extensions: ws.extensions, binaryType: ws.binaryType, bufferedAmount: ws.bufferedAmount });
    const opened = settleable();
    ws[kOpened] = opened.promise;
    ws.on('open', () => {
      this.log(actor, { ev: 'open', readyState: ws.readyState, url: ws.url, protocol: ws.protocol, extensions: ws.extensions, bufferedAmount: ws.bufferedAmount });
      opened.resolve(true);
    });
    ws.on('upgrade', (res) => {
      this.log(actor, { ev: 'upgrade', statusCode: res.statusCode, statusMessage: res.statusMessage, headers: describeHeaders(res.headers), readyState: ws.readyState });
    });
    if (unexpectedResponse) {
      ws.on('unexpected-response', (req, res) => {
        this.log(actor, { ev: 'unexpected-response', method: req.method, path: req.path, statusCode: res.statusCode, statusMessage: res.statusMessage, headers: describeHeaders(res.headers), readyState: ws.readyState });
        unexpectedResponse(ws, req, res);
      });
    }
    if (redirect) {
      ws.on('redirect', (to, req) => {
        this.log(actor, { ev: 'redirect', url: to, path: req.path, readyState: ws.readyState });
        if (typeof redirect === 'function') redirect(ws, to, req);
      });
    }
    this.track(ws, actor);
    ws.on('close', () => opened.resolve(false));
    return ws;
  }

  /** Logs a WebSocket's events (either end) in `actor`'s log, with readyState at each. */
  track(ws, actor) {
    const closed = settleable();
    ws[kClosed] = closed.promise;
    const state = () => ws.readyState;
    ws.on('message', (data, isBinary) => {
      // Text that is not UTF-8 (skipUTF8Validation) is recorded as bytes, not as replacement characters.
      const raw = !isBinary && Buffer.isBuffer(data) && !isUtf8(data);
      this.log(actor, { ev: 'message', data: describeData(data, isBinary || raw), isBinary, readyState: state() });
    });
    ws.on('ping', (data) => this.log(actor, { ev: 'ping', data: describeData(data, false), readyState: state() }));
    ws.on('pong', (data) => this.log(actor, { ev: 'pong', data: describeData(data, false), readyState: state() }));
    ws.on('error', (err) => this.log(actor, { ev: 'error', error: describeError(err), readyState: state() }));
    ws.on('close', (code, reason) => {
      this.log(actor, { ev: 'close', code, reason: Buffer.isBuffer(reason) ? reason.toString() : reason, reasonIsBuffer: Buffer.isBuffer(reason), readyState: state() });
      closed.resolve();
    });
  }

  /** true once `ws` opened, false if it closed first (bounded). */
  opened(ws, ms = 3000) {
    if (!ws) return Promise.resolve(false);
    return this.settle(ws[kOpened], 'client open', ms);
  }

  /** Waits (bounded) for every given WebSocket to emit 'close'. */
  closed(list, what = 'close', ms = 4000) {
    const sockets = (Array.isArray(list) ? list : [list]).filter(Boolean);
    return this.settle(Promise.all(sockets.map((ws) => ws[kClosed])), what, ms);
  }

  /** Resolves with the next 'event' arguments of `emitter` (bounded by settle). */
  next(emitter, event, what = event, ms = 3000) {
    return this.settle(new Promise((resolve) => emitter.once(event, (...args) => resolve(args))), what, ms);
  }

  async cleanup() {
    for (const ws of this._clients) {
      try {
        ws.terminate();
      } catch {
        // best effort
      }
    }
    for (const fn of this._cleanups.reverse()) {
      try {
        await fn();
      } catch {
        // best effort
      }
    }
  }

  /** The transcript with per-run values (ports, paths) replaced by their names. */
  normalized() {
    let text = JSON.stringify(this.transcript);
    for (const [value, name] of this._aliases) {
      const escaped = value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      text = text.replace(new RegExp(`(?<![0-9])${escaped}(?![0-9])`, 'g'), name);
    }
    return JSON.parse(text);
  }
}

async function transcriptOf(impl, scenario) {
  const run = new Run(impl);
  try {
    await scenario(run);
  } catch (err) {
    run.log('harness', { ev: 'threw', error: describeError(err), stack: String(err.stack).split('\n').slice(0, 3).join(' | ') });
  } finally {
    run.frozen = true;
    await run.cleanup();
  }
  return run.normalized();
}

function dump(name, reference, candidateTranscript) {
  if (!process.env.LWS_DIFF_DUMP) return;
  fs.appendFileSync(process.env.LWS_DIFF_DUMP, `${JSON.stringify({ name, reference, candidate: candidateTranscript })}\n`);
}

/** Registers a test: the candidate client's transcript of `scenario` must equal ws's client's. */
function clientDifferential(name, scenario, { timeout = 30000 } = {}) {
  test(`${name} [${CANDIDATE.label}]`, { timeout }, async () => {
    const reference = await transcriptOf(REFERENCE, scenario);
    assert.equal(
      reference.harness,
      undefined,
      `the scenario "${name}" does not complete with ws's client (a harness bug, not a difference): ${JSON.stringify(reference.harness)}`,
    );
    const got = await transcriptOf(CANDIDATE, scenario);
    dump(name, reference, got);
    assert.deepStrictEqual(got, reference);
  });
}

module.exports = {
  clientDifferential,
  transcriptOf,
  REFERENCE,
  CANDIDATE,
  RawPeer,
  acceptOf,
  describeData,
  describeError,
  describeHeaders,
  decodeFrames,
};
