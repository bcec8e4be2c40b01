'use strict';
// lws.Server: the node-lws 5 API over the native engine.
//
// Sockets are small JS objects; the engine knows them by id. Events arrive in
// batches (one native call for many events) and commands leave in batches
// (everything sent during one batch, or one tick, is one native call).

const { EventEmitter } = require('events');
const fs = require('fs');
const net = require('net');
const util = require('util');
const native = require('./native');
const { lent, RECORD_HEADER, Event, Command, FLAG_BINARY, FLAG_MORE, FLAG_NO_COMPRESS, FLAG_DROP_QUEUED, errorCodeOf, decodeRequest, decodePeer, CommandWriter } = require('./wire');
const { normalizeOptions } = require('./options');

const kId = Symbol('lws.id');

/** A connection handle. Valid forever: after 'close' every method on it is a no-op. */
class Socket {
  constructor(id) {
    this[kId] = id;
    this.fd = -1;
    this.userData = undefined;
    this.closed = false;
    // The peer: an IPv4 peer is one number (address * 65536 + port) until its
    // fields are first read, so a connection costs no strings of its own.
    this._peer = undefined;
    /** The negotiated Sec-WebSocket-Extensions ('' when none). */
    this.extensions = '';
    this._server = null; // the Server it is open on (set at OPEN, cleared at CLOSE)
    this._backlog = 0; // bytes the engine reported queued (BUFFERED), until DRAIN
    this._epoch = -1; // command-buffer epoch of `_unflushed`
    this._unflushed = 0; // bytes sent in that epoch, still in JS
    // The object a layer on top made for this socket (lws.WebSocketServer's WebSocket).
    // Declared here so setting it later does not give every socket a property array.
    this._wrapper = undefined;
    // pause()d by JS: the reply to the peer's close waits for resume() ([code, reason] once due).
    this._paused = false;
    this._closeReply = undefined;
  }

  get remoteAddress() {
    return peerOf(this).remoteAddress;
  }

  get remotePort() {
    return peerOf(this).remotePort;
  }

  get remoteFamily() {
    return peerOf(this).remoteFamily;
  }
}

const NO_PEER = Object.freeze({ remoteAddress: undefined, remotePort: undefined, remoteFamily: undefined });

function peerOf(socket) {
  const peer = socket._peer;
  if (typeof peer !== 'number') return peer || NO_PEER;
  const ip = Math.floor(peer / 65536);
  const decoded = {
    remoteAddress: `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`,
    remotePort: peer % 65536,
    remoteFamily: 'IPv4',
  };
  socket._peer = decoded;
  return decoded;
}

/** Header lines (`Name: value\r\n`...) from an object, refusing CR/LF injection. */
function headerLines(headers) {
  if (!headers) return '';
  let out = '';
  for (const [name, value] of Object.entries(headers)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (/[\r\n]/.test(String(name) + String(v))) throw new TypeError(`Invalid header ${name}`);
      out += `${name}: ${v}\r\n`;
    }
  }
  return out;
}

/** What the engine showed JS about a request waiting for an answer. */
class PendingRequest {
  constructor(server, id, req) {
    this.server = server;
    this[kId] = id;
    this.method = req.method;
    this.url = req.url;
    this.headers = req.headers;
    this.rawHeaders = req.rawHeaders;
    this.remoteAddress = req.remoteAddress;
    this.remotePort = req.remotePort;
    this.remoteFamily = req.remoteFamily;
    this.answered = false;
    this.aborted = false;
  }
}

/**
 * The request behind an 'upgrade' event. Answered when the listeners return,
 * unless one called `defer()`: then `accept()` or `refuse()` answers later.
 */
class UpgradeRequest extends PendingRequest {
  constructor(server, id, req) {
    super(server, id, req);
    this.socket = null;
    this.deferred = false;
  }

  /** Keeps the handshake waiting for a later accept() or refuse(). */
  defer() {
    this.deferred = true;
    return this;
  }

  /** Completes the handshake; `headers` are added to the 101 response. False if too late. */
  accept(headers) {
    if (this.answered || this.aborted || this.server._closed) return false;
    this.answered = true;
    this.server._answerUpgrade(this[kId], 101, headers);
    return true;
  }

  /** Refuses with an HTTP status (400-599) and optional headers. False if too late. */
  refuse(status = 403, headers) {
    if (!Number.isInteger(status) || status < 400 || status > 599) throw new RangeError(`Invalid refusal status ${status}`);
    if (this.answered || this.aborted || this.server._closed) return false;
    this.answered = true;
    this.server._answerUpgrade(this[kId], status, headers);
    return true;
  }

  /**
   * Refuses with a complete HTTP response written by the caller (status line,
   * headers, body), sent as is; the connection closes after it. False if too late.
   */
  refuseWith(response) {
    if (this.answered || this.aborted || this.server._closed) return false;
    this.answered = true;
    this.server._answerRaw(this[kId], Buffer.from(response, 'latin1'));
    return true;
  }

  /**
   * With the `httpServer` option: gives the connection to that server instead of
   * answering, as if it had accepted it (it reads this same request). False if too late.
   */
  handOff() {
    if (this.answered || this.aborted || this.server._closed || !this.server.options.httpServer) return false;
    this.answered = true;
    this.server._handOffUpgrade(this);
    return true;
  }
}

/** A plain HTTP request waiting for `respond`. */
class HttpRequest extends PendingRequest {
  constructor(server, id, req) {
    super(server, id, req);
    this.body = req.body;
  }

  /** Answers and closes the connection: `respond(200, { 'content-type': 'text/html' }, body)`. */
  respond(status = 200, headers = {}, body = '') {
    return this.server.respond(this, status, headers, body);
  }
}

const STATUS_TEXT = require('http').STATUS_CODES;

function toBytes(data) {
  if (Buffer.isBuffer(data) || data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer || data instanceof SharedArrayBuffer) return new Uint8Array(data);
  return null;
}

/** Codes an endpoint may send (RFC 6455 7.4 and the IANA registry; ws's rule): not 1004-1006 or 1015. */
function validCloseCode(code) {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

function listenError(errno, host, port) {
  const code = util.getSystemErrorName(errno);
  const [, description] = util.getSystemErrorMap().get(errno) || [code, 'error'];
  const err = new Error(`listen ${code}: ${description} ${host}:${port}`);
  err.code = code;
  err.errno = errno;
  err.syscall = 'listen';
  err.address = host;
  err.port = port;
  return err;
}

class Server extends EventEmitter {
  /**
   * @param {object} options see README: port, host, path, maxMessageSize, bufferSize, ...
   * @param {function} [callback] called once listening
   */
  constructor(options = {}, callback) {
    super();
    this.options = normalizeOptions(options);
    this._sockets = new Map(); // id -> Socket (open connections)
    this._pending = new Map(); // id -> Socket or HttpRequest shown to JS, not yet open/answered
    this._handOffHeads = new Map(); // id -> request head rebuilt for a connection being handed off
    this._dispatching = false;
    this._flushScheduled = false;
    this._listening = false;
    this._closing = false;
    this._closed = false;
    this._closeCallbacks = [];
    this._referenced = false;
    this._address = null;
    try {
      this._native = new native.NativeServer(this.options.engine, (batch) => this._onEvents(batch));
    } catch (err) {
      // The engine refused its settings (for now only TLS material can be refused there).
      const e = new TypeError(err.message);
      e.code = 'ERR_LWS_TLS_CONFIG';
      throw e;
    }
    this._commands = new CommandWriter(
      (cmds, prepared) => this._native.submit(cmds, prepared),
      (bytes) => this._native.stash(bytes),
      (offset, length) => this._native.stashLent(offset, length),
    );
    this._flush = () => {
      this._flushScheduled = false;
      this._commands.flush();
    };
    this.on('newListener', (name) => process.nextTick(() => this._updateHooks(name)));
    this.on('removeListener', (name) => this._updateHooks(name));
    if (callback) this.once('listening', callback);
    if (this.options.port !== undefined) this.listen(this.options.port, this.options.host);
  }

  // ---- listening and lifetime ------------------------------------------------

  /** Starts listening (the constructor does this when `port` is given). */
  listen(port, host, callback) {
    if (typeof host === 'function') [host, callback] = [undefined, host];
    if (callback) this.once('listening', callback);
    if (this._closing) throw new Error('The server is closed');
    if (this._listening) throw new Error('The server is already listening');
    let bindHost = host ?? '::';
    let result = this._native.listen(bindHost, port, this.options.backlog);
    if (result === -97 /* EAFNOSUPPORT */ && host === undefined) {
      bindHost = '0.0.0.0';
      result = this._native.listen(bindHost, port, this.options.backlog);
    }
    if (result < 0) {
      const err = listenError(result, bindHost, port);
      process.nextTick(() => this.emit('error', err));
      return this;
    }
    this._listening = true;
    this._address = { address: bindHost, family: bindHost.includes(':') ? 'IPv6' : 'IPv4', port: result };
    this._updateRef();
    process.nextTick(() => this.emit('listening'));
    return this;
  }

  address() {
    return this._address;
  }

  /**
   * Stops accepting connections and frees the port; open connections stay
   * (a graceful shutdown closes them later with close()).
   */
  stopListening() {
    if (!this._listening) return false;
    this._listening = false;
    this._native.unlisten();
    this._updateRef();
    return true;
  }

  get port() {
    return this._address ? this._address.port : undefined;
  }

  _updateRef() {
    const want = !this._closed && (this._closing || this._listening || this._sockets.size > 0 || this._pending.size > 0);
    if (want !== this._referenced) {
      this._referenced = want;
      if (want) this._native.ref();
      else this._native.unref();
    }
  }

  _updateHooks(name) {
    if (!['upgrade', 'http', 'fragment', 'ping', 'pong'].includes(name) || this._closed) return;
    this._native.setHooks(
      this.listenerCount('upgrade') > 0,
      this.listenerCount('http') > 0,
      this.listenerCount('fragment') > 0,
      this.listenerCount('ping') + this.listenerCount('pong') > 0,
    );
  }

  // ---- events from the engine -------------------------------------------------

  _onEvents(arrayBuffer) {
    const buf = Buffer.from(arrayBuffer);
    let pos = 0;
    let failure = null;
    this._dispatching = true;
    lent.buffer = arrayBuffer; // messages forwarded from it are not copied (wire.js)
    // A throwing listener must not cost the other events of the batch: finish
    // the batch, then rethrow the first error (it becomes an uncaught exception).
    while (pos + RECORD_HEADER <= buf.length) {
      try {
        while (pos + RECORD_HEADER <= buf.length) {
          const start = pos + RECORD_HEADER;
          // Little-endian u32s read by hand (readUInt32LE checks its arguments each time).
          const len = (buf[pos + 8] | (buf[pos + 9] << 8) | (buf[pos + 10] << 16)) + buf[pos + 11] * 0x1000000;
          const kind = buf[pos];
          const id = (buf[pos + 4] | (buf[pos + 5] << 8) | (buf[pos + 6] << 16)) + buf[pos + 7] * 0x1000000;
          const flags = buf[pos + 1];
          let data;
          // Buffer.from(arrayBuffer, offset, length) skips subarray's species lookup (~10 ns a message).
          if (kind === Event.MESSAGE) {
            data = Buffer.from(arrayBuffer, start, len);
            pos = start + len;
          } else if (kind === Event.MESSAGE_AT) {
            // The message stayed where it was read (in this batch's RAW record); nothing follows the header.
            const at = (buf[pos + 12] | (buf[pos + 13] << 8) | (buf[pos + 14] << 16)) + buf[pos + 15] * 0x1000000;
            data = Buffer.from(arrayBuffer, at, len);
            pos = start;
          } else {
            pos = start + len;
            this._handle(buf, kind, flags, buf.readUInt16LE(start - 14), id, buf.readUInt32LE(start - 4), start, pos);
            continue;
          }
          // The hot path: straight to a single listener, no emit() bookkeeping.
          const socket = this._sockets.get(id);
          if (socket === undefined) continue;
          const listener = this._events.message;
          if (typeof listener === 'function') listener.call(this, socket, data, (flags & FLAG_BINARY) !== 0, 0);
          else this.emit('message', socket, data, (flags & FLAG_BINARY) !== 0, 0);
        }
      } catch (err) {
        if (failure === null) failure = err;
      }
    }
    this._dispatching = false;
    this._commands.flush();
    lent.buffer = null;
    if (failure !== null) throw failure;
  }

  _handle(buf, kind, flags, code, id, extra, start, end) {
    switch (kind) {
      case Event.FRAGMENT: {
        const socket = this._sockets.get(id);
        if (socket !== undefined) this.emit('fragment', socket, buf.subarray(start, end), (flags & FLAG_BINARY) !== 0, extra);
        return;
      }
      case Event.OPEN: {
        const socket = this._pending.get(id) || new Socket(id);
        this._pending.delete(id);
        socket.fd = extra;
        let pos = start + 7;
        if (buf[start + 2] === 4) {
          const ip = buf[start + 3] * 0x1000000 + ((buf[start + 4] << 16) | (buf[start + 5] << 8) | buf[start + 6]);
          socket._peer = ip * 65536 + (buf[start] | (buf[start + 1] << 8));
        } else {
          [socket._peer, pos] = decodePeer(buf, start);
        }
        socket.extensions = pos < end ? buf.latin1Slice(pos, end) : '';
        this._sockets.set(id, socket);
        socket._server = this;
        this._updateRef();
        this.emit('connection', socket);
        return;
      }
      case Event.CLOSE: {
        const socket = this._sockets.get(id);
        if (socket === undefined) return;
        this._sockets.delete(id);
        socket.closed = true;
        socket._server = null;
        const errorCode = flags ? errorCodeOf(flags, extra) : undefined;
        if (errorCode === 'LWS_ERR_INTERNAL') this._reportInternalError(socket);
        try {
          // errorDetail: the number a protocol error is about (opcode, length, close code), 0 if none.
          this.emit('close', socket, code, buf.toString('utf8', start, end), errorCode, errorCode ? extra : undefined);
        } finally {
          socket.userData = undefined; // valid until the close callback ends
          this._updateRef();
        }
        return;
      }
      case Event.UPGRADE:
        return this._onUpgrade(buf, id, extra, start, end);
      case Event.HTTP:
        return this._onHttp(buf, id, start, end);
      case Event.PING:
      case Event.PONG: {
        const socket = this._sockets.get(id);
        if (socket !== undefined) this.emit(kind === Event.PING ? 'ping' : 'pong', socket, buf.subarray(start, end));
        return;
      }
      case Event.ABORTED: {
        this._handOffHeads.delete(id);
        const pending = this._pending.get(id);
        this._pending.delete(id);
        this._updateRef();
        if (pending !== undefined) {
          pending.aborted = true;
          this.emit('aborted', pending);
        }
        return;
      }
      case Event.SHUTDOWN:
        return this._onShutdown();
      case Event.BUFFERED: {
        const socket = this._sockets.get(id);
        if (socket !== undefined) socket._backlog = extra;
        return;
      }
      case Event.DRAIN: {
        const socket = this._sockets.get(id);
        if (socket !== undefined) {
          socket._backlog = 0;
          this.emit('drain', socket);
        }
        return;
      }
      case Event.DROPPED: {
        const socket = this._sockets.get(id);
        if (socket !== undefined) this.emit('dropped', socket);
        return;
      }
      case Event.FAIL:
        // The replies to earlier messages are already queued: the close frame follows them.
        // It carries the code alone, as ws's does (the reason text goes to 'close').
        this._commands.bytes(Command.CLOSE, 0, code, id, null);
        return;
      case Event.PEER_CLOSE: {
        // The peer's close frame, after the messages before it were handled: what
        // listeners send now still leaves before the reply, which echoes code and reason.
        const socket = this._sockets.get(id);
        try {
          if (socket !== undefined && this._events.closing !== undefined) {
            this.emit('closing', socket, code, buf.toString('utf8', start, end));
          }
        } finally {
          const reply = buf.subarray(start, end);
          // A paused socket is not read: its close handshake waits for resume() too.
          if (socket !== undefined && socket._paused) socket._closeReply = [code, Buffer.from(reply)];
          else this._commands.bytes(Command.CLOSE, 0, code, id, reply);
        }
        return;
      }
      case Event.HAND_OFF:
        return this._onHandOff(id, extra, buf.subarray(start, end));
      case Event.RAW: // bytes as read, which MESSAGE_AT records point into
      default:
    }
  }

  /**
   * The engine caught a panic while serving `socket` and closed it with 1011.
   * Reported on 'error' (with `err.socket`) when someone listens, else as a
   * process warning: an engine fault must not become an uncaught exception.
   */
  _reportInternalError(socket) {
    const err = new Error('lws engine: internal error while serving a socket; it was closed with 1011');
    err.code = 'LWS_ERR_INTERNAL';
    err.socket = socket;
    if (this.listenerCount('error') > 0) this.emit('error', err, socket);
    else process.emitWarning(err);
  }

  _onUpgrade(buf, id, fd, start, end) {
    const request = new UpgradeRequest(this, id, decodeRequest(buf, start, end));
    const socket = new Socket(id);
    socket.fd = fd;
    socket._peer = { remoteAddress: request.remoteAddress, remotePort: request.remotePort, remoteFamily: request.remoteFamily };
    request.socket = socket;
    this._pending.set(id, socket);
    // A listener returning true refuses (403); returning an HTTP status refuses with it;
    // calling request.defer() leaves the answer to a later request.accept()/refuse().
    let status = 500; // a throwing listener refuses with 500
    try {
      let refusal = 0;
      for (const listener of this.listeners('upgrade')) {
        const verdict = listener.call(this, socket, request.headers, request);
        if (verdict === true) refusal = refusal || 403;
        else if (Number.isInteger(verdict) && verdict >= 400 && verdict <= 599) refusal = verdict;
      }
      status = refusal;
    } finally {
      if (status) request.refuse(status);
      else if (!request.deferred) request.accept();
    }
  }

  /** Sends the engine an upgrade's answer (called by UpgradeRequest). */
  _answerUpgrade(id, status, headers) {
    const lines = headerLines(headers);
    if (status === 101) {
      this._commands.bytes(Command.ACCEPT, 0, 0, id, lines ? Buffer.from(lines, 'latin1') : null);
    } else {
      this._pending.delete(id);
      this._commands.bytes(Command.REFUSE, 0, status, id, lines ? Buffer.from(lines, 'latin1') : null);
      this._updateRef();
    }
    this._schedule();
  }

  /**
   * A connection the engine did not upgrade (plain HTTP, a malformed or refused
   * upgrade) goes to the `httpServer` option's server as if it had accepted it:
   * a net.Socket on the descriptor, with the bytes the engine read put back.
   */
  _onHandOff(id, fd, bytes) {
    const httpServer = this.options.httpServer;
    const rebuilt = this._handOffHeads.get(id); // a request JS was shown, then handed off
    this._handOffHeads.delete(id);
    const head = rebuilt === undefined ? Buffer.from(bytes) : Buffer.concat([rebuilt, bytes]); // copies: the batch is lent
    let socket;
    try {
      socket = new net.Socket({ fd, readable: true, writable: true });
    } catch (err) {
      fs.close(fd, () => {});
      this.emit('error', err);
      return;
    }
    if (head.length > 0) socket.unshift(head);
    httpServer.emit('connection', socket);
  }

  _answerRaw(id, bytes) {
    this._pending.delete(id);
    this._commands.bytes(Command.HTTP_RESPONSE, 0, 0, id, bytes);
    this._updateRef();
    this._schedule();
  }

  _handOffUpgrade(request) {
    const id = request[kId];
    this._pending.delete(id);
    // The engine keeps only what followed the request head: the head is rebuilt from what JS was shown.
    let head = `${request.method} ${request.url} HTTP/1.1\r\n`;
    const raw = request.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) head += `${raw[i]}: ${raw[i + 1]}\r\n`;
    this._handOffHeads.set(id, Buffer.from(`${head}\r\n`, 'latin1'));
    this._commands.bytes(Command.HAND_OFF, 0, 0, id, null);
    this._updateRef();
    this._schedule();
  }

  _onHttp(buf, id, start, end) {
    const request = new HttpRequest(this, id, decodeRequest(buf, start, end));
    this._pending.set(id, request);
    this._updateRef();
    this.emit('http', request, request);
  }

  /** Answers a plain HTTP request from the 'http' event and closes its connection. */
  respond(request, status = 200, headers = {}, body = '') {
    if (!(request instanceof HttpRequest) || request.answered) return false;
    request.answered = true;
    const id = request[kId];
    if (this._pending.get(id) !== request) return false;
    this._pending.delete(id);
    const payload = typeof body === 'string' ? Buffer.from(body) : toBytes(body) || Buffer.alloc(0);
    let head = `HTTP/1.1 ${status} ${STATUS_TEXT[status] || 'Unknown'}\r\n` + headerLines(headers);
    if (!Object.keys(headers).some((name) => name.toLowerCase() === 'content-length')) {
      head += `Content-Length: ${payload.length}\r\n`;
    }
    head += 'Connection: close\r\n\r\n';
    this._commands.bytes(Command.HTTP_RESPONSE, 0, 0, id, Buffer.concat([Buffer.from(head, 'latin1'), payload]));
    this._schedule();
    this._updateRef();
    return true;
  }

  _onShutdown() {
    this._closed = true;
    this._native.dispose();
    this._referenced = false;
    const callbacks = this._closeCallbacks.splice(0);
    for (const cb of callbacks) process.nextTick(cb);
  }

  // ---- per-socket API -----------------------------------------------------------

  _schedule() {
    if (!this._dispatching && !this._flushScheduled) {
      this._flushScheduled = true;
      process.nextTick(this._flush);
    }
  }

  _idOf(socket) {
    if (socket === null || typeof socket !== 'object' || socket[kId] === undefined) {
      throw new TypeError('Expected an lws socket');
    }
    return socket[kId];
  }

  /**
   * Queues a message. Returns true when it is queued and the socket keeps up;
   * false when the socket is closed (nothing is sent) or backed up: the engine
   * reported output the client has not read yet. The message is queued then all
   * the same; 'drain' tells when the queue is written.
   * `fin = false` sends a fragment: the message goes on with the next send()s
   * and ends with the first one whose `fin` is true. `compress = false` sends it
   * uncompressed even when permessage-deflate was negotiated.
   */
  send(socket, data, binary = false, fin = true, compress = true) {
    const id = this._idOf(socket);
    if (socket._server !== this) return false;
    const flags = (binary ? FLAG_BINARY : 0) | (fin ? 0 : FLAG_MORE) | (compress ? 0 : FLAG_NO_COMPRESS);
    let len;
    if (typeof data === 'string') {
      len = this._commands.string(Command.SEND, flags, 0, id, data);
    } else {
      const bytes = toBytes(data);
      if (bytes === null) throw new TypeError('send() takes a Buffer, TypedArray, ArrayBuffer, DataView or string');
      len = this._commands.bytes(Command.SEND, flags, 0, id, bytes);
    }
    this._countUnflushed(socket, len);
    this._schedule();
    return socket._backlog === 0;
  }

  _countUnflushed(socket, len) {
    const epoch = this._commands.epoch;
    if (socket._epoch !== epoch) {
      socket._epoch = epoch;
      socket._unflushed = 0;
    }
    socket._unflushed += len;
  }

  /**
   * Bytes sent to a socket and not yet written to the network: those still in
   * JS plus what the engine last reported queued. A 'drain' event follows when
   * the engine's queue has been written.
   */
  getBufferedAmount(socket) {
    this._idOf(socket);
    if (socket.closed) return 0;
    return (socket._epoch === this._commands.epoch ? socket._unflushed : 0) + socket._backlog;
  }

  _control(kind, socket, data) {
    const id = this._idOf(socket);
    if (socket._server !== this) return false;
    const bytes = data === undefined ? null : typeof data === 'string' ? Buffer.from(data) : toBytes(data);
    if (bytes === null && data !== undefined) throw new TypeError('ping/pong data must be a Buffer, TypedArray, ArrayBuffer or string');
    if (bytes && bytes.length > 125) throw new RangeError('The data size must not be greater than 125 bytes');
    this._commands.bytes(kind, 0, 0, id, bytes);
    this._schedule();
    return true;
  }

  /** Sends a ping (at most 125 bytes). The answer arrives as a 'pong' event. */
  ping(socket, data) {
    return this._control(Command.PING, socket, data);
  }

  /** Sends an unsolicited pong (pongs to pings are automatic). */
  pong(socket, data) {
    return this._control(Command.PONG, socket, data);
  }

  /**
   * Stops reading from a socket (TCP then pushes back on the client) until resume().
   * Events already read still arrive; if the peer's close frame is among them, the
   * reply to it waits for resume() as well (the engine sends it after closeTimeout).
   */
  pause(socket) {
    const ok = this._control(Command.PAUSE, socket);
    if (ok) socket._paused = true;
    return ok;
  }

  resume(socket) {
    const ok = this._control(Command.RESUME, socket);
    if (ok) {
      socket._paused = false;
      const reply = socket._closeReply;
      if (reply !== undefined) {
        socket._closeReply = undefined;
        this._commands.bytes(Command.CLOSE, 0, reply[0], socket[kId], reply[1]);
      }
    }
    return ok;
  }

  /** Frames `data` once for many `sendPrepared` calls. Released when garbage-collected. */
  prepareBuffer(data) {
    const bytes = typeof data === 'string' ? Buffer.from(data) : toBytes(data);
    if (bytes === null) throw new TypeError('prepareBuffer() takes a Buffer, TypedArray, ArrayBuffer or string');
    return Object.freeze({ handle: native.prepare(bytes), length: bytes.length });
  }

  sendPrepared(socket, prepared, binary = false) {
    const id = this._idOf(socket);
    if (!prepared || prepared.handle === undefined) throw new TypeError('sendPrepared() takes a value from prepareBuffer()');
    if (socket._server !== this) return false;
    this._commands.preparedRecord(Command.SEND_PREPARED, binary ? FLAG_BINARY : 0, id, prepared.handle);
    this._countUnflushed(socket, prepared.length);
    this._schedule();
    return socket._backlog === 0; // as send()
  }

  setUserData(socket, data) {
    this._idOf(socket);
    socket.userData = data;
  }

  getUserData(socket) {
    this._idOf(socket);
    return socket.userData;
  }

  getFd(socket) {
    this._idOf(socket);
    return socket.fd;
  }

  /**
   * close(socket[, code, reason]) starts a socket's close handshake;
   * close([callback]) closes the server (every socket gets 1001).
   */
  close(socketOrCallback, code, reason) {
    if (socketOrCallback === undefined || typeof socketOrCallback === 'function') {
      return this._closeServer(socketOrCallback);
    }
    const id = this._idOf(socketOrCallback);
    if (code !== undefined && !validCloseCode(code)) {
      throw new RangeError(`Invalid close code ${code}: use 1000-1003, 1007-1014 or 3000-4999`);
    }
    if (socketOrCallback._server !== this) return false;
    const reasonText = reason === undefined ? '' : String(reason);
    if (Buffer.byteLength(reasonText) > 123) throw new RangeError('The close reason must be at most 123 bytes');
    this._commands.string(Command.CLOSE, 0, code === undefined ? (reasonText ? 1000 : 1005) : code, id, reasonText);
    this._schedule();
    return true;
  }

  /**
   * Drops a socket without a close handshake. What was sent before goes out as far
   * as the socket takes it at once (as with a write before destroy in Node); with
   * `dropQueued` (the ws layer: messages ws would still be compressing) nothing does.
   */
  terminate(socket, dropQueued = false) {
    const id = this._idOf(socket);
    if (socket._server !== this) return false;
    this._commands.bytes(Command.TERMINATE, dropQueued ? FLAG_DROP_QUEUED : 0, 0, id, null);
    this._schedule();
    return true;
  }

  /**
   * Takes over a connection from Node's http 'upgrade' event: the engine gets
   * the TCP socket's descriptor and runs the handshake itself, so 'upgrade'
   * and 'connection' follow as for a connection accepted by lws.
   * Returns false (and leaves the socket alone) when it is not a plain TCP socket.
   */
  handleUpgrade(socket, request, head) {
    const fd = socket && socket._handle && socket._handle.fd;
    if (typeof fd !== 'number' || fd < 0 || socket.encrypted) return false;
    if (this._closing) {
      socket.destroy();
      return false;
    }
    let text = `${request.method} ${request.url} HTTP/1.1\r\n`;
    const raw = request.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) text += `${raw[i]}: ${raw[i + 1]}\r\n`;
    text += '\r\n';
    const bytes = head && head.length ? Buffer.concat([Buffer.from(text, 'latin1'), head]) : Buffer.from(text, 'latin1');
    if (socket._handle.readStop) socket._handle.readStop();
    // The engine duplicates the descriptor; destroying Node's socket closes only Node's copy.
    const adopted = this._native.adopt(fd, bytes);
    socket.destroy();
    return adopted;
  }

  _closeServer(callback) {
    if (callback) {
      if (this._closed) process.nextTick(callback);
      else this._closeCallbacks.push(callback);
    }
    if (this._closing) return this;
    this._closing = true;
    this._listening = false;
    // Stay referenced until the engine reports it has stopped, so the callback runs.
    if (!this._referenced) {
      this._referenced = true;
      this._native.ref();
    }
    this._commands.flush();
    this._native.close();
    return this;
  }
}

module.exports = { Server, Socket, HttpRequest, UpgradeRequest, kId };
