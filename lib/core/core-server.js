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
const { lent, forgetLastText, Command, FLAG_BINARY, FLAG_MORE, FLAG_NO_COMPRESS, FLAG_DROP_QUEUED, FLAG_ON } = require('./wire');
const { normalizeOptions, portNumber } = require('./options');
const { Socket, idOf, kId, kEpoch, kUnflushed, kExtras, extrasOf, backlogOf } = require('./socket');
const { HttpRequest, headerLines } = require('./requests');

const { descriptorOf, adoptSocket } = require('./fd-adoption');
const { Counters, EngineRecords, RequestAnswers } = require('./engine-records');
const { toBytes, isOwnOpenSocket, validCloseCode, listenError } = require('./arguments');
const { PubSub } = require('./pubsub');
const { ClientConnections } = require('./client-connections');
const { StreamMethods } = require('./streams');
const { Frames } = require('./frames');

/**
 * NODE_DEBUG=lws: connections' lifecycle (open, close and its code, refused upgrades,
 * errors) on stderr, as Node's own modules log. Read once: with it off (the default),
 * each call site costs a test of a constant, and nothing per message.
 */
const debuglog = util.debuglog('lws');
const debug = debuglog.enabled ? debuglog : null;


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
    this._unreferenced = new Set(); // Sockets of those two that unref() let go of the process
    this._openInfo = new Map(); // id -> what acceptResponse()/adoptClient() gave for 'open' (outgoing, not yet open)
    this._handOffHeads = new Map(); // id -> request head rebuilt for a connection being handed off
    this._counters = new Counters();
    this._topics = new Map(); // topic key -> its number of subscribed Sockets (the engine's workers hold them)
    this._redisState = null; // 'up' or 'down' once the Redis link has said (pubsub.redis)
    this._engineStats = null; // the engine's last counters, kept once it has stopped
    this._nextClientSeq = 0; // client connections' ids are picked here (CLIENT_ID_BIT set)
    this._clientTls = new Map(); // TLS client settings key -> the engine's configuration index
    /**
     * The layer keeps the 'message' data it is given (the ws layer: ws users do): they
     * are owned copies then, not lent views of the batch (batch-decoder.js).
     */
    this._ownedMessages = false;
    /**
     * The lone 'message' listener, for the batch decoder to call per message; null: there
     * are none or several (emit() then); undefined: to be looked up again, as listeners
     * changed. EventEmitter's listener table is a dictionary once any event name has been
     * removed from it, and a lookup there per message cost 5-8 % of the JS thread.
     */
    this._messageListener = undefined;
    /**
     * The layer takes whole text messages as strings (lib/nodejs-websocket): decoded
     * from the batch with no Buffer made, and the same text sent back during the
     * dispatch goes as the bytes it came in (wire.js `lastText`). Not with
     * skipUTF8Validation (texts are Buffers then): decoding bytes not checked as
     * UTF-8 may replace some, and sending the string back must send the replacements.
     */
    this.textAsStrings = false;
    this._messageStreams = null; // streams.js, once a stream is used ('messageStream', sendStream, ...)
    this._listening = false;
    this._closing = false;
    this._closed = false;
    this._closeCallbacks = [];
    this._address = null;
    this._engine = new Engine(this.options.engine, (batch, length) => this._onEvents(batch, length));
    this._commands = this._engine.commands;
    this._records = new EngineRecords(this);
    this._answers = new RequestAnswers(this);
    if (callback) this.once('listening', callback);
    if (this.options.port !== undefined) this.listen(this.options.port, this.options.host);
    if (this.options.pubsub) this._attachRedis(this.options.pubsub);
  }

  /** pubsub.redis: resolves the hosts, hands the link to the engine, and tells it the topics so far. */
  _attachRedis({ nodes, cluster, username, password, prefix, tls }) {
    // The TLS configuration is made now, so a bad `pubsub.tls` throws from the constructor.
    const tlsIndex = tls ? this._tlsIndex(tls) : null;
    const lookups = nodes.map(({ host }) => new Promise((resolve) => {
      require('dns').lookup(host, (err, address) => resolve(err ? { host, err } : { address }));
    }));
    Promise.all(lookups).then((found) => {
      if (this._closing) return;
      const failed = found.find((f) => f.err);
      if (failed) {
        this._redisState = 'down';
        this.emit('redis', 'down', Object.assign(new Error(`Redis: cannot resolve ${failed.host}: ${failed.err.code}`), { code: failed.err.code }));
        return;
      }
      this._engine.native.attachRedis(found.map((f) => f.address), nodes.map((n) => n.port), cluster,
        username ?? null, password ?? null, prefix, require('crypto').randomBytes(16), tlsIndex,
        tls?.servername ?? null, tls?.seedName ?? null);
      for (const key of this._topics.keys()) this._commands.bytes(Command.REDIS_SUBSCRIBE, 0, 0, 0, Buffer.from(key, 'latin1'));
      this._engine.schedule();
    });
  }

  // ---- listening and lifetime ------------------------------------------------

  /** Starts listening (the constructor does this when `port` is given). */
  listen(port, host, callback) {
    if (typeof host === 'function') [host, callback] = [undefined, host];
    if (callback) this.once('listening', callback);
    if (this._closing) throw new Error('The server is closed');
    if (this._listening) throw new Error('The server is already listening');
    port = portNumber(port);
    const native = this._engine.native;
    let bindHost = host ?? '::';
    const reusePort = this.options.reusePort;
    let result = native.listen(bindHost, port, this.options.backlog, reusePort);
    if (result === -97 /* EAFNOSUPPORT */ && host === undefined) {
      bindHost = '0.0.0.0';
      result = native.listen(bindHost, port, this.options.backlog, reusePort);
    }
    if (result < 0) {
      const err = listenError(result, bindHost, port);
      if (debug !== null) debug('listen failed: %s', err.message);
      process.nextTick(() => this.emit('error', err));
      return this;
    }
    this._listening = true;
    this._address = { address: bindHost, family: bindHost.includes(':') ? 'IPv6' : 'IPv4', port: result };
    if (debug !== null) debug('listening on %s port %d (threads: %d)', bindHost, result, this.options.engine.threads);
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

  /** For the stream methods (streams.js): an open socket of this server, or false. */
  _isOpenForStreams(socket) {
    idOf(socket);
    return isOwnOpenSocket(this, socket);
  }

  /** A layer's hook, called just before a socket's 'close' is emitted (with its arguments). */
  _beforeClose() {}

  /**
   * A layer's hook for the peer's close frame (socket, code, reason), called
   * before 'closing'. Unlike a 'closing' listener it must not send: the engine
   * may have answered the close already (it does when nobody listens to 'closing').
   */
  _peerClosing() {}

  /** Counts flushes of the command buffer: what was sent in the current epoch is still in JS. */
  commandEpoch() {
    return this._commands.epoch;
  }

  _updateRef() {
    let held = this._sockets.size + this._pending.size - this._unreferenced.size;
    if (held <= 0 && this._unreferenced.size > 0) {
      // Before letting go of the process, make sure none of them left unseen (a refused upgrade).
      for (const socket of this._unreferenced) {
        if (this._sockets.get(socket[kId]) !== socket && this._pending.get(socket[kId]) !== socket) this._unreferenced.delete(socket);
      }
      held = this._sockets.size + this._pending.size - this._unreferenced.size;
    }
    this._engine.setReferenced(!this._closed && (this._closing || this._listening || held > 0));
  }

  _updateHooks(name) {
    if (!['upgrade', 'http', 'fragment', 'ping', 'pong', 'closing'].includes(name) || this._closed) return;
    this._engine.native.setHooks(
      this.listenerCount('upgrade') > 0,
      this.listenerCount('http') > 0,
      this.listenerCount('fragment') > 0 || this._messageStreams !== null, // streams take large messages in pieces
      this.listenerCount('ping') + this.listenerCount('pong') > 0,
      // A 'closing' listener may send before the reply: the engine then always waits for JS.
      this.listenerCount('closing') > 0,
    );
  }

  /** See the constructor; the engine's bridge is told too (batches of copied messages need not be lent). */
  get ownedMessages() {
    return this._ownedMessages;
  }

  set ownedMessages(owned) {
    this._ownedMessages = owned;
    this._engine.native.setMessagesCopied(owned);
  }

  _onEvents(arrayBuffer, length) {
    const engine = this._engine;
    engine.dispatching = true;
    // Messages forwarded from a lent batch are not copied (wire.js); the engine's reused
    // buffer (`length` given) is no batch of its own to refer to.
    lent.buffer = length === undefined ? arrayBuffer : null;
    const textAsStrings = this.textAsStrings && !this.options.engine.skipUtf8Validation;
    const failure = decodeBatch(arrayBuffer, length, this._sockets, this, this._records, this._ownedMessages, textAsStrings);
    engine.dispatching = false;
    this._commands.flush();
    lent.buffer = null;
    if (textAsStrings) forgetLastText();
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
    if (debug !== null) debug('error on connection %d: %s', socket[kId], err.message);
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

  // ---- observability ------------------------------------------------------------

  /**
   * Counters for monitoring, cheap enough to read every second: open
   * connections, connections accepted, opened, closed (by close code) and
   * refused (by HTTP status), handshake timeouts, messages and bytes in and out,
   * messages dropped over maxBackpressure, protocol errors (by ws's error code),
   * bytes waiting on slow clients, engine threads. Totals since the server started.
   */
  stats() {
    const c = this._counters;
    let buffered = 0;
    for (const socket of this._sockets.values()) buffered += backlogOf(socket);
    const engine = this._closed ? this._engineStats : this._engine.native.stats();
    const [counts, statuses] = engine || [[0, 0], []];
    const refused = { ...c.refusedByJs };
    statuses.forEach((status, i) => {
      if (counts[2 + i] > 0) refused[status] = (refused[status] || 0) + counts[2 + i];
    });
    const other = counts[2 + statuses.length] || 0;
    if (other > 0) refused.other = (refused.other || 0) + other;
    return {
      connections: this._sockets.size,
      accepted: counts[0],
      opened: c.opened,
      closed: c.closed,
      refused,
      handshakeTimeouts: counts[1],
      messagesIn: c.messagesIn,
      bytesIn: c.bytesIn,
      messagesOut: c.messagesOut,
      bytesOut: c.bytesOut,
      dropped: c.dropped,
      bufferedBytes: buffered,
      closeCodes: { ...c.closeCodes },
      protocolErrors: { ...c.protocolErrors },
      threads: this.options.engine.threads,
    };
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
    if (this._messageStreams !== null) this._messageStreams.checkNotStreaming(socket);
    return this._sendData(socket, data, binary, fin, compress);
  }

  /** send() without the open-sendStream check (a sendStream's own fragments). */
  _sendData(socket, data, binary, fin, compress) {
    const id = idOf(socket);
    if (!isOwnOpenSocket(this, socket)) return false;
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
    this._counters.messagesOut++;
    this._counters.bytesOut += len;
    this._engine.schedule();
    return backlogOf(socket) === 0;
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
    return (socket[kEpoch] === this._commands.epoch ? socket[kUnflushed] : 0) + backlogOf(socket);
  }

  _control(kind, socket, data) {
    const id = idOf(socket);
    if (!isOwnOpenSocket(this, socket)) return false;
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
   * Sets a TCP option (a wire.js TcpOption) on the connection: the Socket's setNoDelay()
   * and setKeepAlive(), as ws users call them on `ws._socket`. `keepAliveSecs`: the idle
   * time before the first probe (0: the system's).
   */
  setTcpOption(socket, option, on, keepAliveSecs = 0) {
    if (!isOwnOpenSocket(this, socket)) return false;
    this._commands.bytes(Command.TCP_OPTION, on ? FLAG_ON : 0, option, idOf(socket), null, keepAliveSecs);
    this._engine.schedule();
    return true;
  }

  /**
   * Asks the engine for a 'drain' once what was sent to the socket so far is
   * written: when this tick's commands are carried out if it is by then (else it
   * reports the backlog first). The ws layer's send callbacks wait on it.
   */
  reportWhenWritten(socket) {
    if (!isOwnOpenSocket(this, socket)) return false;
    this._commands.bytes(Command.REPORT_WRITTEN, 0, 0, idOf(socket), null);
    this._engine.schedule();
    return true;
  }

  /**
   * Writes bytes onto an open connection as they are, no frame around them, behind
   * what is queued: the ws layer's stand-in for writing to the socket handleUpgrade()
   * was given (engine.io answers a handshake it fails after the upgrade with an HTTP
   * 400 written there, which the client reads as a broken frame).
   */
  writeRaw(socket, data) {
    if (!isOwnOpenSocket(this, socket)) return false;
    const bytes = toBytes(data);
    if (bytes === null) throw new TypeError('data must be a Buffer, TypedArray or ArrayBuffer');
    if (bytes.length === 0) return true;
    this._commands.bytes(Command.RAW, 0, 0, idOf(socket), bytes);
    this._engine.schedule();
    return true;
  }

  /**
   * Stops reading from a socket (TCP then pushes back on the client) until resume().
   * Events already read still arrive; if the peer's close frame is among them, the
   * reply to it waits for resume() as well (the engine sends it after closeTimeout).
   */
  pause(socket) {
    const ok = this._control(Command.PAUSE, socket);
    if (ok) extrasOf(socket).paused = true;
    return ok;
  }

  resume(socket) {
    const ok = this._control(Command.RESUME, socket);
    const extras = socket[kExtras];
    if (ok && extras !== null) {
      extras.paused = false;
      const reply = extras.closeReply;
      if (reply !== undefined) {
        extras.closeReply = undefined;
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
    if (this._messageStreams !== null) this._messageStreams.checkNotStreaming(socket);
    if (!isOwnOpenSocket(this, socket)) return false;
    this._commands.preparedRecord(Command.SEND_PREPARED, binary ? FLAG_BINARY : 0, id, prepared.handle);
    this._countUnflushed(socket, prepared.length);
    this._counters.messagesOut++;
    this._counters.bytesOut += prepared.length;
    this._engine.schedule();
    return backlogOf(socket) === 0; // as send()
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
    if (!isOwnOpenSocket(this, socketOrCallback)) return false;
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
    if (!isOwnOpenSocket(this, socket)) return false;
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
    if (debug !== null) debug('closing the server (%d connections get 1001)', this._sockets.size);
    this._closing = true;
    this._listening = false;
    // Stay referenced until the engine reports it has stopped, so the callback runs.
    this._engine.setReferenced(true);
    this._commands.flush();
    this._engine.native.close();
    return this;
  }
}

// Listener changes reach the engine's hooks (which events JS wants: _updateHooks) and drop
// the decoder's cached 'message' listener. The methods themselves are wrapped (once() and
// prependOnceListener() call them), not followed through 'newListener'/'removeListener'
// listeners of lws's own, which removeAllListeners() would take away with the rest.
for (const name of ['addListener', 'on', 'prependListener', 'removeListener', 'off', 'removeAllListeners']) {
  const method = EventEmitter.prototype[name];
  const adds = name === 'addListener' || name === 'on' || name === 'prependListener';
  Object.defineProperty(CoreServer.prototype, name, {
    value: { [name](...args) {
      this._messageListener = undefined;
      if (adds && args[0] === 'messageStream') this._useStreams();
      // The arguments as given: removeAllListeners() removes everything only when called with none.
      const result = method.apply(this, args);
      // removeAllListeners() with no name: every hook may have changed ('upgrade' stands for all).
      this._updateHooks(args.length === 0 ? 'upgrade' : args[0]);
      return result;
    } }[name],
    writable: true,
    configurable: true,
  });
}

// Pub/sub (pubsub.js), outgoing connections (client-connections.js), streams
// (streams.js) and frames sent in pieces (frames.js) are the same class's methods,
// kept in files of their own.
for (const mixin of [PubSub, ClientConnections, StreamMethods, Frames]) {
  for (const name of Object.getOwnPropertyNames(mixin.prototype)) {
    if (name !== 'constructor') Object.defineProperty(CoreServer.prototype, name, Object.getOwnPropertyDescriptor(mixin.prototype, name));
  }
}

module.exports = { CoreServer };
