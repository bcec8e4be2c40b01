'use strict';
// CoreServer: one engine, its sockets and pending requests, and the commands JS
// sends them. lws.Server (lib/server.js) and the ws layer (lib/ws/) are built on
// it; the interface they may use is described in index.js.
//
// Events arrive in batches (batch-decoder.js) and commands leave in batches
// (everything sent during one batch, or one tick, is one native call: engine.js).

const { EventEmitter } = require('events');
const util = require('util');
const { STATUS_CODES } = require('http');
const { Engine, prepare } = require('./engine');
const { decodeBatch } = require('./batch-decoder');
const { lent, Command, CLIENT_ID_BIT, FLAG_BINARY, FLAG_MORE, FLAG_NO_COMPRESS, FLAG_DROP_QUEUED, encodeConnect } = require('./wire');
const { normalizeOptions } = require('./options');
const { Socket, idOf, kId, kServer, kBacklog, kEpoch, kUnflushed, kPaused, kCloseReply } = require('./socket');
const { UpgradeRequest, HttpRequest, headerLines } = require('./requests');

/** What acceptResponse() was given for the 'open' listeners. */
const kOpenInfo = Symbol('lws.openInfo');
const { descriptorOf, requestHead, adoptSocket, socketOnDescriptor } = require('./fd-adoption');

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

class CoreServer extends EventEmitter {
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
    this._nextClientSeq = 0; // client connections' ids are picked here (CLIENT_ID_BIT set)
    this._clientTls = new Map(); // TLS client settings key -> the engine's configuration index
    this._listening = false;
    this._closing = false;
    this._closed = false;
    this._closeCallbacks = [];
    this._address = null;
    this._engine = new Engine(this.options.engine, (batch) => this._onEvents(batch));
    this._commands = this._engine.commands;
    this._records = new EngineRecords(this);
    this._answers = new RequestAnswers(this);
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
    const native = this._engine.native;
    let bindHost = host ?? '::';
    let result = native.listen(bindHost, port, this.options.backlog);
    if (result === -97 /* EAFNOSUPPORT */ && host === undefined) {
      bindHost = '0.0.0.0';
      result = native.listen(bindHost, port, this.options.backlog);
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
    this._engine.native.unlisten();
    this._updateRef();
    return true;
  }

  /** A layer's hook, called just before a socket's 'close' is emitted (with its arguments). */
  _beforeClose() {}

  /** Counts flushes of the command buffer: what was sent in the current epoch is still in JS. */
  commandEpoch() {
    return this._commands.epoch;
  }

  _updateRef() {
    this._engine.setReferenced(!this._closed && (this._closing || this._listening || this._sockets.size > 0 || this._pending.size > 0));
  }

  _updateHooks(name) {
    if (!['upgrade', 'http', 'fragment', 'ping', 'pong'].includes(name) || this._closed) return;
    this._engine.native.setHooks(
      this.listenerCount('upgrade') > 0,
      this.listenerCount('http') > 0,
      this.listenerCount('fragment') > 0,
      this.listenerCount('ping') + this.listenerCount('pong') > 0,
    );
  }

  _onEvents(arrayBuffer) {
    const engine = this._engine;
    engine.dispatching = true;
    lent.buffer = arrayBuffer; // messages forwarded from it are not copied (wire.js)
    const failure = decodeBatch(arrayBuffer, this._sockets, this, this._records);
    engine.dispatching = false;
    this._commands.flush();
    lent.buffer = null;
    if (failure !== null) throw failure;
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

  /** Answers a plain HTTP request from the 'http' event and closes its connection. */
  respond(request, status = 200, headers = {}, body = '') {
    if (!(request instanceof HttpRequest) || request.answered) return false;
    request.answered = true;
    const id = request[kId];
    if (this._pending.get(id) !== request) return false;
    this._pending.delete(id);
    const payload = typeof body === 'string' ? Buffer.from(body) : toBytes(body) || Buffer.alloc(0);
    let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] || 'Unknown'}\r\n` + headerLines(headers);
    if (!Object.keys(headers).some((name) => name.toLowerCase() === 'content-length')) {
      head += `Content-Length: ${payload.length}\r\n`;
    }
    head += 'Connection: close\r\n\r\n';
    this._commands.bytes(Command.HTTP_RESPONSE, 0, 0, id, Buffer.concat([Buffer.from(head, 'latin1'), payload]));
    this._engine.schedule();
    this._updateRef();
    return true;
  }

  // ---- client connections ---------------------------------------------------------

  /**
   * A socket for an outgoing connection, before it is dialed: its id is taken
   * (so it can be handed out at once, while a name is being resolved); dial()
   * starts the connection, or releaseSocket() gives the id back.
   */
  reserveSocket() {
    if (this._closing) throw new Error('The server is closed');
    const id = this._clientId();
    const socket = new Socket(id);
    socket[kServer] = this;
    this._pending.set(id, socket);
    this._updateRef();
    return socket;
  }

  /**
   * Starts a reserved socket's connection: the engine connects to `address`
   * (an IP address) and `port`, runs TLS when `tls` is given ({ servername,
   * ca, cert, key, rejectUnauthorized }), writes `head` (the request head) and
   * reads the answer: 'response' (socket, response) follows. After a 101 the
   * layer calls acceptResponse(socket[, extensions]) (then 'open' (socket)) or
   * terminate(socket). A connection that fails before it opens ends with
   * 'close' (1006, errorCode 'LWS_ERR_CONNECT' with the errno as errorDetail,
   * ..., see wire.js CLIENT_ERROR_CODES). `timeout`: ms until a complete response (0: none).
   */
  dial(socket, { address, port, localAddress, tls, head, timeout = 0 }) {
    const id = idOf(socket);
    if (socket[kServer] !== this || this._pending.get(id) !== socket) return false;
    const payload = encodeConnect({
      address, port, localAddress, head,
      tlsIndex: tls ? this._tlsIndex(tls) : 0,
      servername: tls ? tls.servername : '',
    });
    // Large payloads travel beside the batch, with their index where the timeout goes.
    if (payload.length >= 60 * 1024) throw new RangeError('The request head must be smaller than 60 KiB');
    this._commands.bytes(Command.CONNECT, tls ? FLAG_BINARY : 0, 0, id, payload, timeout);
    this._engine.schedule();
    return true;
  }

  /**
   * Takes over a client connection Node upgraded (for what the engine cannot
   * dial itself: an agent, a proxy, a unix socket, Node's TLS): `fd` is the
   * plain descriptor of Node's socket (a TLS or other stream goes through
   * loopbackPair() first), `head` what Node read past the 101, `extensions`
   * the agreed Sec-WebSocket-Extensions value. Node's socket is destroyed here
   * (only its copy of the descriptor closes); 'open' (socket, info) follows for
   * the reserved `socket`, or 'close' (1006, 'LWS_ERR_CONNECT') if the engine
   * could not take it.
   */
  adoptClient(socket, nodeSocket, { head, extensions = '', info } = {}) {
    const id = idOf(socket);
    if (socket[kServer] !== this || this._pending.get(id) !== socket) return false;
    const fd = descriptorOf(nodeSocket);
    if (fd < 0) return false;
    socket[kOpenInfo] = info;
    if (nodeSocket._handle.readStop) nodeSocket._handle.readStop();
    const adopted = this._engine.native.adoptClient(id, fd, head && head.length ? head : null, extensions);
    nodeSocket.destroy();
    return adopted;
  }

  /** Gives back a reserved socket that was never dialed: it is closed (no event). */
  releaseSocket(socket) {
    const id = idOf(socket);
    if (this._pending.get(id) !== socket) return false;
    this._pending.delete(id);
    socket.closed = true;
    socket[kServer] = null;
    this._updateRef();
    return true;
  }

  /**
   * Completes a client handshake after a 101 `response`: `extensions` is the
   * agreed Sec-WebSocket-Extensions value; `info` goes to the 'open' listeners.
   */
  acceptResponse(socket, extensions = '', info = undefined) {
    const id = idOf(socket);
    if (socket[kServer] !== this || this._pending.get(id) !== socket) return false;
    socket[kOpenInfo] = info;
    const line = extensions ? `Sec-WebSocket-Extensions: ${extensions}\r\n` : '';
    this._commands.bytes(Command.ACCEPT, 0, 0, id, line ? Buffer.from(line, 'latin1') : null);
    this._engine.schedule();
    return true;
  }

  /** A free client id: CLIENT_ID_BIT, a sequence number, and the worker (the low bits), round robin. */
  _clientId() {
    const workers = this.options.engine.threads || 1;
    for (;;) {
      this._nextClientSeq = (this._nextClientSeq + 1) % 0x10000000;
      const seq = this._nextClientSeq;
      const id = CLIENT_ID_BIT + seq * 8 + (seq % workers);
      if (!this._pending.has(id) && !this._sockets.has(id)) return id;
    }
  }

  /** The engine's index of the TLS client configuration for these settings (made once). */
  _tlsIndex({ ca, cert, key, rejectUnauthorized = true }) {
    const pem = (v) => (v === undefined || v === null ? null : Buffer.from([].concat(v).map(String).join('\n')));
    const roots = pem(ca) || Buffer.from(require('tls').rootCertificates.join('\n'));
    const settings = [roots, pem(cert), pem(key), rejectUnauthorized !== false];
    const key_ = settings.map((v) => (Buffer.isBuffer(v) ? v.toString('latin1') : String(v))).join('\0');
    let index = this._clientTls.get(key_);
    if (index === undefined) {
      try {
        index = this._engine.native.addClientTls(...settings);
      } catch (err) {
        const e = new TypeError(err.message);
        e.code = 'ERR_LWS_TLS_CONFIG';
        throw e;
      }
      this._clientTls.set(key_, index);
    }
    return index;
  }

  // ---- per-socket commands ------------------------------------------------------

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
    const id = idOf(socket);
    if (socket[kServer] !== this) return false;
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
    this._engine.schedule();
    return socket[kBacklog] === 0;
  }

  _countUnflushed(socket, len) {
    const epoch = this._commands.epoch;
    if (socket[kEpoch] !== epoch) {
      socket[kEpoch] = epoch;
      socket[kUnflushed] = 0;
    }
    socket[kUnflushed] += len;
  }

  /**
   * Bytes sent to a socket and not yet written to the network: those still in
   * JS plus what the engine last reported queued. A 'drain' event follows when
   * the engine's queue has been written.
   */
  getBufferedAmount(socket) {
    idOf(socket);
    if (socket.closed) return 0;
    return (socket[kEpoch] === this._commands.epoch ? socket[kUnflushed] : 0) + socket[kBacklog];
  }

  _control(kind, socket, data) {
    const id = idOf(socket);
    if (socket[kServer] !== this) return false;
    const bytes = data === undefined ? null : typeof data === 'string' ? Buffer.from(data) : toBytes(data);
    if (bytes === null && data !== undefined) throw new TypeError('ping/pong data must be a Buffer, TypedArray, ArrayBuffer or string');
    if (bytes && bytes.length > 125) throw new RangeError('The data size must not be greater than 125 bytes');
    this._commands.bytes(kind, 0, 0, id, bytes);
    this._engine.schedule();
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
    if (ok) socket[kPaused] = true;
    return ok;
  }

  resume(socket) {
    const ok = this._control(Command.RESUME, socket);
    if (ok) {
      socket[kPaused] = false;
      const reply = socket[kCloseReply];
      if (reply !== undefined) {
        socket[kCloseReply] = undefined;
        this._commands.bytes(Command.CLOSE, 0, reply[0], socket[kId], reply[1]);
      }
    }
    return ok;
  }

  /** Frames `data` once for many `sendPrepared` calls. Released when garbage-collected. */
  prepareBuffer(data) {
    const bytes = typeof data === 'string' ? Buffer.from(data) : toBytes(data);
    if (bytes === null) throw new TypeError('prepareBuffer() takes a Buffer, TypedArray, ArrayBuffer or string');
    return Object.freeze({ handle: prepare(bytes), length: bytes.length });
  }

  /** Sends a value of prepareBuffer() by reference; returns what send() would. */
  sendPrepared(socket, prepared, binary = false) {
    const id = idOf(socket);
    if (!prepared || prepared.handle === undefined) throw new TypeError('sendPrepared() takes a value from prepareBuffer()');
    if (socket[kServer] !== this) return false;
    this._commands.preparedRecord(Command.SEND_PREPARED, binary ? FLAG_BINARY : 0, id, prepared.handle);
    this._countUnflushed(socket, prepared.length);
    this._engine.schedule();
    return socket[kBacklog] === 0; // as send()
  }

  /**
   * close(socket[, code, reason]) starts a socket's close handshake;
   * close([callback]) closes the server (every socket gets 1001).
   */
  close(socketOrCallback, code, reason) {
    if (socketOrCallback === undefined || typeof socketOrCallback === 'function') {
      return this._closeServer(socketOrCallback);
    }
    const id = idOf(socketOrCallback);
    if (code !== undefined && !validCloseCode(code)) {
      throw new RangeError(`Invalid close code ${code}: use 1000-1003, 1007-1014 or 3000-4999`);
    }
    if (socketOrCallback[kServer] !== this) return false;
    const reasonText = reason === undefined ? '' : String(reason);
    if (Buffer.byteLength(reasonText) > 123) throw new RangeError('The close reason must be at most 123 bytes');
    this._commands.string(Command.CLOSE, 0, code === undefined ? (reasonText ? 1000 : 1005) : code, id, reasonText);
    this._engine.schedule();
    return true;
  }

  /**
   * Drops a socket without a close handshake. What was sent before goes out as far
   * as the socket takes it at once (as with a write before destroy in Node); with
   * `dropQueued` (the ws layer: messages ws would still be compressing) nothing does.
   */
  terminate(socket, dropQueued = false) {
    const id = idOf(socket);
    if (socket[kServer] !== this) return false;
    this._commands.bytes(Command.TERMINATE, dropQueued ? FLAG_DROP_QUEUED : 0, 0, id, null);
    this._engine.schedule();
    return true;
  }

  /**
   * Takes over a connection from Node's http 'upgrade' event: the engine gets
   * the TCP socket's descriptor and runs the handshake itself, so 'upgrade'
   * and 'connection' follow as for a connection accepted by lws.
   * Returns false (and leaves the socket alone) when it is not a plain TCP socket.
   */
  handleUpgrade(socket, request, head) {
    const fd = descriptorOf(socket);
    if (fd < 0) return false;
    if (this._closing) {
      socket.destroy();
      return false;
    }
    return adoptSocket(this._engine.native, socket, fd, request, head);
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
    this._engine.setReferenced(true);
    this._commands.flush();
    this._engine.native.close();
    return this;
  }
}

/** The records of an event batch that change the server's state (batch-decoder.js calls these). */
class EngineRecords {
  constructor(server) {
    this.server = server;
  }

  /** A client connection's answer (`response`: statusCode, statusMessage, rawHeaders, body). */
  response(id, response) {
    const server = this.server;
    const socket = server._pending.get(id);
    // After anything but a 101 the engine closes the connection itself: 'close' follows.
    if (socket !== undefined) server.emit('response', socket, response);
  }

  /** A client socket still connecting (CLOSE events for it come here). */
  pendingSocket(id) {
    const pending = this.server._pending.get(id);
    return pending instanceof Socket ? pending : undefined;
  }

  open(id, fd, peer, extensions) {
    const server = this.server;
    const socket = server._pending.get(id) || new Socket(id);
    server._pending.delete(id);
    socket.fd = fd;
    socket.setPeer(peer);
    socket.extensions = extensions;
    server._sockets.set(id, socket);
    socket[kServer] = server;
    server._updateRef();
    // Outgoing connections (ids with CLIENT_ID_BIT) open, accepted ones connect.
    if (id < CLIENT_ID_BIT) return void server.emit('connection', socket);
    const info = socket[kOpenInfo];
    socket[kOpenInfo] = undefined;
    server.emit('open', socket, info);
  }

  close(socket, code, reason, errorCode, errorDetail) {
    const server = this.server;
    server._sockets.delete(socket[kId]);
    if (server._pending.get(socket[kId]) === socket) server._pending.delete(socket[kId]);
    socket.closed = true;
    socket[kServer] = null;
    if (errorCode === 'LWS_ERR_INTERNAL') server._reportInternalError(socket);
    try {
      server._beforeClose(socket, code, reason, errorCode, errorDetail);
      server.emit('close', socket, code, reason, errorCode, errorDetail);
    } finally {
      socket.userData = undefined; // valid until the close callback ends
      server._updateRef();
    }
  }

  upgrade(id, fd, req) {
    const server = this.server;
    const request = new UpgradeRequest(server, server._answers, id, req);
    const socket = new Socket(id);
    socket.fd = fd;
    socket.setPeer({ remoteAddress: request.remoteAddress, remotePort: request.remotePort, remoteFamily: request.remoteFamily });
    request.socket = socket;
    server._pending.set(id, socket);
    // A listener returning true refuses (403); returning an HTTP status refuses with it;
    // calling request.defer() leaves the answer to a later request.accept()/refuse().
    let status = 500; // a throwing listener refuses with 500
    try {
      let refusal = 0;
      for (const listener of server.listeners('upgrade')) {
        const verdict = listener.call(server, socket, request.headers, request);
        if (verdict === true) refusal = refusal || 403;
        else if (Number.isInteger(verdict) && verdict >= 400 && verdict <= 599) refusal = verdict;
      }
      status = refusal;
    } finally {
      if (status) request.refuse(status);
      else if (!request.deferred) request.accept();
    }
  }

  http(id, req) {
    const server = this.server;
    const request = new HttpRequest(server, server._answers, id, req);
    server._pending.set(id, request);
    server._updateRef();
    server.emit('http', request, request);
  }

  aborted(id) {
    const server = this.server;
    server._handOffHeads.delete(id);
    const pending = server._pending.get(id);
    server._pending.delete(id);
    server._updateRef();
    if (pending !== undefined) {
      pending.aborted = true;
      server.emit('aborted', pending);
    }
  }

  shutdown() {
    const server = this.server;
    server._closed = true;
    server._engine.dispose();
    const callbacks = server._closeCallbacks.splice(0);
    for (const cb of callbacks) process.nextTick(cb);
  }

  buffered(id, bytes) {
    const socket = this.server._sockets.get(id);
    if (socket !== undefined) socket[kBacklog] = bytes;
  }

  drain(id) {
    const socket = this.server._sockets.get(id);
    if (socket !== undefined) {
      socket[kBacklog] = 0;
      this.server.emit('drain', socket);
    }
  }

  fail(id, code) {
    // The replies to earlier messages are already queued: the close frame follows them.
    // It carries the code alone, as ws's does (the reason text goes to 'close').
    this.server._commands.bytes(Command.CLOSE, 0, code, id, null);
  }

  /**
   * The peer's close frame, after the messages before it were handled: what
   * listeners send now still leaves before the reply, which echoes code and reason.
   */
  peerClose(id, code, reply) {
    const server = this.server;
    const socket = server._sockets.get(id);
    try {
      if (socket !== undefined && server.listenerCount('closing') > 0) {
        server.emit('closing', socket, code, reply.toString('utf8'));
      }
    } finally {
      // A paused socket is not read: its close handshake waits for resume() too.
      if (socket !== undefined && socket[kPaused]) socket[kCloseReply] = [code, Buffer.from(reply)];
      else server._commands.bytes(Command.CLOSE, 0, code, id, reply);
    }
  }

  /**
   * A connection the engine did not upgrade (plain HTTP, a malformed or refused
   * upgrade) goes to the `httpServer` option's server as if it had accepted it:
   * a net.Socket on the descriptor, with the bytes the engine read put back.
   */
  handOff(id, fd, bytes) {
    const server = this.server;
    const rebuilt = server._handOffHeads.get(id); // a request JS was shown, then handed off
    server._handOffHeads.delete(id);
    const head = rebuilt === undefined ? Buffer.from(bytes) : Buffer.concat([rebuilt, bytes]); // copies: the batch is lent
    let socket;
    try {
      socket = socketOnDescriptor(fd, head);
    } catch (err) {
      server.emit('error', err);
      return;
    }
    server.options.httpServer.emit('connection', socket);
  }
}

/** How a pending request answers (requests.js calls these). */
class RequestAnswers {
  constructor(server) {
    this.server = server;
  }

  closed() {
    return this.server._closed;
  }

  /** An upgrade's answer: 101 (with `headers` added) or a refusal status. */
  upgrade(id, status, headers) {
    const server = this.server;
    const lines = headerLines(headers);
    if (status === 101) {
      server._commands.bytes(Command.ACCEPT, 0, 0, id, lines ? Buffer.from(lines, 'latin1') : null);
    } else {
      server._pending.delete(id);
      server._commands.bytes(Command.REFUSE, 0, status, id, lines ? Buffer.from(lines, 'latin1') : null);
      server._updateRef();
    }
    server._engine.schedule();
  }

  /** A complete HTTP response, sent as is; the connection closes after it. */
  raw(id, bytes) {
    const server = this.server;
    server._pending.delete(id);
    server._commands.bytes(Command.HTTP_RESPONSE, 0, 0, id, bytes);
    server._updateRef();
    server._engine.schedule();
  }

  /** The connection goes to the `httpServer` option's server (EngineRecords#handOff). */
  handOff(request) {
    const server = this.server;
    const id = request[kId];
    server._pending.delete(id);
    // The engine keeps only what followed the request head: the head is rebuilt from what JS was shown.
    server._handOffHeads.set(id, Buffer.from(requestHead(request.method, request.url, request.rawHeaders), 'latin1'));
    server._commands.bytes(Command.HAND_OFF, 0, 0, id, null);
    server._updateRef();
    server._engine.schedule();
  }
}

module.exports = { CoreServer };
