'use strict';
// ws's WebSocketServer over one lws CoreServer.
//
// - `port`: the engine listens itself and runs every handshake; the core
//   'upgrade' event is where ws's checks, verifyClient, handleProtocols and
//   'headers' run, and the core 'connection' is where the WebSocket is born.
// - `server` / `noServer`: handleUpgrade() does ws's checks on Node's request,
//   then hands the socket to the engine (its descriptor for plain TCP, a
//   loopback relay for TLS and other streams: see lib/core/loopback-relay.js).
//   The engine re-reads the request, which carries a one-time ticket header
//   tying the core events back to this call (handshake-tracker.js).
//
// It uses the core's interface only (lib/core/index.js): a core Socket's
// `wrapper` holds the Handshake until the socket opens, then the WebSocket.
// (Just over 600 lines on purpose: the three modes share one handshake path and
// one close sequence, which read best beside each other; the checks, the tracker
// and the send accounting are in files of their own.)

const { EventEmitter } = require('events');
const dns = require('dns');
const http = require('http');
const net = require('net');
const { CoreServer, descriptorOf, loopbackPair, pump, loopTimers } = require('../core');
const WebSocket = require('./websocket');
const { PendingSocket } = require('./send-accounting');
const { exposeRelayedTls } = require('./tls-peer');
const { engineOptions } = require('./engine-options');
const { routeSocketEvents } = require('./socket-events');
const { handedOver, keepCounted, releaseCount } = require('./handed-over');
const { Handshake, HandshakeTracker } = require('./handshake-tracker');
const { negotiate, PERMESSAGE_DEFLATE, EXTENSIONS_ERROR } = require('./extensions');
const {
  KEY_PATTERN,
  parseSubprotocols,
  responseLines,
  extraHeaders,
  refusalResponse,
  abortHandshake,
  destroyOnError,
  engineRequest,
  UpgradeRequestInfo,
} = require('./handshake');
const {
  DEFAULT_MAX_PAYLOAD,
  CLOSE_TIMEOUT,
  HANDOVER_HEADER,
  kUpgraded,
  kAttach,
  kAttachPending,
  kAttachAccepted,
  kOnDrain,
  kOnPeerClosing,
  kOnProtocolError,
  kOnClose,
} = require('./constants');

/** The offered subprotocols of the (most) requests that offer none: never added to, never handed out. */
const NO_PROTOCOLS = new Set();

const RUNNING = 0;
const CLOSING = 1;
const CLOSED = 2;

/**
 * Port mode's Node http.Server, never listening: the engine hands it the
 * connections it does not upgrade. As the one ws creates in port mode, it answers
 * plain requests with 426 and passes upgrades to handleUpgrade.
 */
function createFallbackServer(wss) {
  const server = http.createServer((req, res) => {
    const body = http.STATUS_CODES[426];
    res.writeHead(426, { 'Content-Length': body.length, 'Content-Type': 'text/plain' });
    res.end(body);
  });
  server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, wss._emitConnection));
  return server;
}

function emitClose(server) {
  server._state = CLOSED;
  server.emit('close');
}

class WebSocketServer extends EventEmitter {
  /**
   * @param {object} options ws's: port, host, backlog, server, noServer, path, verifyClient,
   *   handleProtocols, clientTracking, maxPayload, perMessageDeflate, skipUTF8Validation,
   *   closeTimeout, WebSocket; plus lws engine options (threads, maxBacklog, ...).
   * @param {function} [callback] 'listening' listener (port mode)
   */
  constructor(options, callback) {
    super();
    options = {
      maxPayload: DEFAULT_MAX_PAYLOAD,
      skipUTF8Validation: false,
      perMessageDeflate: false,
      handleProtocols: null,
      clientTracking: true,
      closeTimeout: CLOSE_TIMEOUT,
      verifyClient: null,
      noServer: false,
      backlog: null,
      server: null,
      host: null,
      path: null,
      port: null,
      WebSocket,
      ...options,
    };
    const modes = (options.port != null) + Boolean(options.server) + Boolean(options.noServer);
    if (modes !== 1) {
      throw new TypeError('One and only one of the "port", "server", or "noServer" options must be specified');
    }
    if (options.perMessageDeflate === true) options.perMessageDeflate = {};
    this.options = options;
    this._state = RUNNING;
    this._portMode = options.port != null;
    this._live = 0; // open WebSockets, tracked or not
    this._handshakes = new HandshakeTracker(
      (ws) => this._finishSocketClose(ws, 1006, '', undefined),
      () => this._checkIdle(),
    );
    this._coreClosing = false;
    this._detach = null;
    this._emitConnection = (ws, req) => this.emit('connection', ws, req);

    if (options.clientTracking) {
      this.clients = new Set();
      this._shouldEmitClose = false;
    }

    const coreOptions = engineOptions(options);
    if (this._portMode) {
      // What the engine does not upgrade itself (plain HTTP, malformed or invalid
      // upgrades) it hands to this server, which answers as ws's own does.
      this._fallback = createFallbackServer(this);
      coreOptions.httpServer = this._fallback;
    }
    this._core = new CoreServer(coreOptions);
    this._wireCore();

    if (this._portMode) {
      if (callback) this.once('listening', callback);
      this._listen(options.port, options.host);
    } else if (options.server) {
      const server = options.server;
      // ws's private `_server`, which libraries use (livereload closes it by that name).
      this._server = server;
      const onListening = () => this.emit('listening');
      const onError = (err) => this.emit('error', err);
      const onUpgrade = (req, socket, head) => this.handleUpgrade(req, socket, head, this._emitConnection);
      server.on('listening', onListening);
      server.on('error', onError);
      server.on('upgrade', onUpgrade);
      this._detach = () => {
        server.removeListener('listening', onListening);
        server.removeListener('error', onError);
        server.removeListener('upgrade', onUpgrade);
      };
    }
  }

  _listen(port, host) {
    port = Number(port);
    if (host == null || net.isIP(host)) {
      this._core.listen(port, host == null ? undefined : host);
      return;
    }
    dns.lookup(host, (err, address) => {
      if (this._state !== RUNNING) return;
      if (err) this.emit('error', err);
      else this._core.listen(port, address);
    });
  }

  _wireCore() {
    const core = this._core;
    core.on('listening', () => this.emit('listening'));
    // A socket's own fault (err.socket) is reported on that WebSocket as 'error'.
    core.on('error', (err) => { if (err.socket === undefined) this.emit('error', err); });
    core.on('upgrade', (socket, headers, request) => this._onUpgrade(socket, headers, request));
    core.on('aborted', (pending) => this._onAborted(pending));
    core.on('connection', (socket) => this._onOpen(socket));
    // These come for open sockets only: `wrapper` is the WebSocket by then.
    routeSocketEvents(core);
    // pubsub.redis (an lws option): the link's state, as on lws.Server.
    core.on('redis', (state, err) => this.emit('redis', state, err));
    core.on('drain', (socket) => {
      const ws = socket.wrapper;
      if (ws !== undefined) ws[kOnDrain]();
    });
    // The peer's close frame (after the messages before it): ws moves to CLOSING there.
    // A hook, not a 'closing' listener: ws sends nothing there, so the engine may
    // answer the close without waiting for JS (as ws answers at once).
    core._peerClosing = (socket, code, reason) => {
      const ws = socket.wrapper;
      if (ws !== undefined) ws[kOnPeerClosing](code, reason);
    };
    core.on('close', (socket, code, reason, errorCode, errorDetail) => this._onSocketClose(socket, code, reason, errorCode, errorDetail));
  }

  /**
   * lws extension (ws has none): sends `data` to every WebSocket subscribed to
   * `topic` (`ws.subscribe(topic)`), framed by the engine for all of them; `skip`:
   * one not to send it to. False when nobody is subscribed (nothing sent).
   */
  publish(topic, data, { binary = typeof data !== 'string', skip } = {}) {
    // A WebSocket not attached to the engine yet has nothing to skip there.
    const skipped = skip && skip._core === this._core ? { skip: skip._socket } : undefined;
    return this._core.publish(topic, data, binary, skipped);
  }

  /** lws extension: how many WebSockets are subscribed to `topic`. */
  numSubscribers(topic) {
    return this._core.numSubscribers(topic);
  }

  /** lws extension (ws has none): the engine's counters, as lws.Server#stats() (README). */
  stats() {
    return this._core.stats();
  }

  /** The bound address (port mode), the http server's (server mode). */
  address() {
    if (this.options.noServer) throw new Error('The server is operating in "noServer" mode');
    if (this._state !== RUNNING) return null;
    if (this.options.server) return this.options.server.address();
    return this._core.address();
  }

  /**
   * Stops accepting connections (existing ones stay open, as in ws 8); 'close'
   * is emitted once the server is closed and, in port mode or with client
   * tracking, its connections are gone.
   */
  close(cb) {
    if (this._state === CLOSED) {
      if (cb) this.once('close', () => cb(new Error('The server is not running')));
      process.nextTick(emitClose, this);
      return;
    }
    if (cb) this.once('close', cb);
    if (this._state === CLOSING) return;
    this._state = CLOSING;
    if (this._detach !== null) {
      this._detach();
      this._detach = null;
      this._server = null;
    }
    // ws 8: the port is freed at once, existing clients stay open.
    if (this._portMode) {
      this._core.stopListening();
      this._fallback.closeIdleConnections();
    } else {
      if (this.clients && (this.clients.size > 0 || this._handshakes.size > 0)) this._shouldEmitClose = true;
      else process.nextTick(emitClose, this);
    }
    if (this._handshakes.size > 0) this._handshakes.sweepLater();
    this._checkIdle();
  }

  /** Emits 'close' / releases the engine once closing and nothing is left. */
  _checkIdle() {
    if (this._state === RUNNING) return;
    const pending = this._handshakes.size;
    if (this._shouldEmitClose && this.clients.size === 0 && pending === 0) {
      this._shouldEmitClose = false;
      process.nextTick(emitClose, this);
    }
    if (this._live === 0 && pending === 0 && !this._coreClosing) {
      this._coreClosing = true;
      this._core.close(() => {
        if (this._portMode && this._state !== CLOSED) emitClose(this);
      });
    }
  }

  /** Whether this server takes the request: ws's `path` rule (query ignored). */
  shouldHandle(req) {
    if (this.options.path) {
      const q = req.url.indexOf('?');
      const pathname = q === -1 ? req.url : req.url.slice(0, q);
      if (pathname !== this.options.path) return false;
    }
    return true;
  }

  // ---- handshakes arriving through Node (server / noServer / manual) ----------------

  /**
   * Upgrades a request from Node's http/https 'upgrade' event. `cb(ws, req)`
   * runs once the engine has opened the connection (asynchronously, unlike ws).
   */
  handleUpgrade(req, socket, head, cb) {
    socket.on('error', destroyOnError);
    const headers = req.headers;
    const key = headers['sec-websocket-key'];
    const upgrade = headers.upgrade;
    const version = Number(headers['sec-websocket-version']);

    if (req.method !== 'GET') return this._clientError(req, socket, 405, 'Invalid HTTP method');
    if (upgrade === undefined || upgrade.toLowerCase() !== 'websocket') {
      return this._clientError(req, socket, 400, 'Invalid Upgrade header');
    }
    if (key === undefined || !KEY_PATTERN.test(key)) {
      return this._clientError(req, socket, 400, 'Missing or invalid Sec-WebSocket-Key header');
    }
    if (version !== 13 && version !== 8) {
      return this._clientError(req, socket, 400, 'Missing or invalid Sec-WebSocket-Version header', {
        'Sec-WebSocket-Version': '13, 8',
      });
    }
    if (!this.shouldHandle(req)) return abortHandshake(socket, 400);

    let protocols = NO_PROTOCOLS;
    if (headers['sec-websocket-protocol'] !== undefined) {
      try {
        protocols = parseSubprotocols(headers['sec-websocket-protocol']);
      } catch {
        return this._clientError(req, socket, 400, 'Invalid Sec-WebSocket-Protocol header');
      }
    }

    const extensions = {};
    if (this.options.perMessageDeflate && headers['sec-websocket-extensions'] !== undefined) {
      try {
        const accepted = negotiate(headers['sec-websocket-extensions'], this.options.perMessageDeflate);
        if (accepted) extensions[PERMESSAGE_DEFLATE] = accepted;
      } catch {
        return this._clientError(req, socket, 400, EXTENSIONS_ERROR);
      }
    }

    const verifyClient = this.options.verifyClient;
    if (verifyClient) {
      const info = {
        origin: headers[version === 8 ? 'sec-websocket-origin' : 'origin'],
        secure: Boolean(req.socket && (req.socket.authorized || req.socket.encrypted)),
        req,
      };
      if (verifyClient.length === 2) {
        verifyClient(info, (verified, code, message, refusal) => {
          if (!verified) return abortHandshake(socket, code || 401, message, refusal);
          this.completeUpgrade(extensions, key, protocols, req, socket, head, cb);
        });
        return;
      }
      if (!verifyClient(info)) return abortHandshake(socket, 401);
    }
    this.completeUpgrade(extensions, key, protocols, req, socket, head, cb);
  }

  /** ws's last step: subprotocol, 'headers', then the socket goes to the engine. */
  completeUpgrade(extensions, key, protocols, req, socket, head, cb) {
    // Checked first: a socket already handed to the engine is destroyed by then.
    if (socket[kUpgraded]) {
      throw new Error('server.handleUpgrade() was called more than once with the same socket, possibly due to a misconfiguration');
    }
    if (!socket.readable || !socket.writable) return socket.destroy();
    if (this._state > RUNNING) return abortHandshake(socket, 503);

    const handshake = new Handshake(req, cb);
    handshake.protocol = this._chooseProtocol(protocols, req);
    const accepted = extensions && typeof extensions[PERMESSAGE_DEFLATE] === 'string' ? extensions[PERMESSAGE_DEFLATE] : '';
    handshake.extraHeaders = this._responseHeaders(key, handshake.protocol, req, accepted);
    socket[kUpgraded] = true;
    // As ws: the WebSocket is open and the callback runs before handleUpgrade() returns;
    // what it is asked to do waits for the engine to have the socket (_onOpen).
    const ws = new this.options.WebSocket(null, undefined, this.options);
    const pending = new PendingSocket(socket.remoteAddress, socket.remotePort, socket.remoteFamily);
    // ws's `_socket` is this very socket: an https server's TLSSocket reports its session (client certificates).
    if (socket.encrypted) exposeRelayedTls(pending, socket);
    ws[kAttachPending](this._core, handshake.protocol, accepted, pending);
    handshake.ws = ws;
    this._live++;
    if (this.clients) this.clients.add(ws);
    this._handOver(handshake, req, socket, head);
    cb(ws, req);
  }

  /** The headers added to the engine's 101: 'headers' listeners see (and may change) the whole response. */
  _responseHeaders(key, protocol, req, extensions) {
    if (this.listenerCount('headers') === 0) {
      if (!extensions) return protocol ? { 'Sec-WebSocket-Protocol': protocol } : undefined;
      return protocol
        ? { 'Sec-WebSocket-Protocol': protocol, 'Sec-WebSocket-Extensions': extensions }
        : { 'Sec-WebSocket-Extensions': extensions };
    }
    const lines = responseLines(key, protocol, extensions);
    this.emit('headers', lines, req);
    return extraHeaders(lines);
  }

  _chooseProtocol(protocols, req) {
    if (protocols.size === 0) return '';
    const chosen = this.options.handleProtocols ? this.options.handleProtocols(protocols, req) : protocols.values().next().value;
    return chosen ? String(chosen) : '';
  }

  _handOver(handshake, req, socket, head) {
    const ticket = this._handshakes.handOver(handshake);
    const request = engineRequest(req, ticket);
    let bytes = head && head.length ? head : undefined;
    // Bytes Node read past the request and nobody consumed go to the engine too.
    if (socket.readableLength > 0) {
      const more = socket.read();
      if (more) bytes = bytes ? Buffer.concat([bytes, more]) : more;
    }

    // Reading the peer's address now makes Node cache it: `req.socket.remoteAddress`
    // keeps working after the socket is handed over and destroyed.
    const peer = { remoteAddress: socket.remoteAddress, remotePort: socket.remotePort, remoteFamily: socket.remoteFamily };

    if (descriptorOf(socket) >= 0) {
      // The engine duplicates the descriptor; Node's socket is destroyed either way.
      const ws = handshake.ws;
      keepCounted(socket, ws);
      if (!this._core.handleUpgrade(socket, request, bytes)) this._handshakes.forget(handshake);
      else handedOver(socket, ws);
      return;
    }

    loopbackPair((err, outer, inner) => {
      if (err || socket.destroyed || this._coreClosing) {
        if (outer) outer.destroy();
        if (inner) inner.destroy();
        this._handshakes.forget(handshake);
        if (!socket.destroyed) abortHandshake(socket, err ? 500 : 503);
        return;
      }
      handshake.peer = peer; // the engine sees the loopback address
      if (socket.encrypted) handshake.tlsSocket = socket;
      if (!this._core.handleUpgrade(inner, request, bytes)) {
        outer.destroy();
        inner.destroy();
        socket.destroy();
        this._handshakes.forget(handshake);
        return;
      }
      socket.removeListener('error', destroyOnError);
      pump(socket, outer);
    });
  }

  /** Refuses a malformed request, or lets 'wsClientError' listeners answer it (as ws does). */
  _clientError(req, socket, code, message, headers) {
    if (this.listenerCount('wsClientError') > 0) {
      const err = new Error(message);
      Error.captureStackTrace(err, this._clientError);
      this.emit('wsClientError', err, socket, req);
    } else {
      abortHandshake(socket, code, message, headers);
    }
  }

  // ---- the engine's events ----------------------------------------------------------

  _onUpgrade(socket, headers, request) {
    const ticket = headers[HANDOVER_HEADER];
    if (ticket !== undefined) {
      const handshake = this._handshakes.claim(ticket);
      if (handshake !== undefined) {
        socket.wrapper = handshake;
        if (request.accept(handshake.extraHeaders) && handshake.ws !== null) this._attachAccepted(handshake, socket);
        return;
      }
    }
    // Without a listener of its own, the engine sees only sockets handed over.
    if (!this._portMode) {
      request.refuse(400);
      return;
    }
    this._onDirectUpgrade(socket, headers, request);
  }

  /** A handshake on the engine's own listener (port mode): ws's checks on the core request. */
  _onDirectUpgrade(socket, headers, request) {
    const req = new UpgradeRequestInfo(request);
    if (this._state !== RUNNING) return void request.refuseWith(refusalResponse(503));
    if (!this.shouldHandle(req)) return void request.refuseWith(refusalResponse(400));

    let protocols = NO_PROTOCOLS;
    if (headers['sec-websocket-protocol'] !== undefined) {
      try {
        protocols = parseSubprotocols(headers['sec-websocket-protocol']);
      } catch {
        // Node's http server takes it from here: handleUpgrade refuses it, or gives
        // 'wsClientError' listeners the real net.Socket and IncomingMessage, as ws does.
        request.handOff();
        return;
      }
    }

    let extensions = '';
    if (this.options.perMessageDeflate && req.headers['sec-websocket-extensions'] !== undefined) {
      try {
        extensions = negotiate(req.headers['sec-websocket-extensions'], this.options.perMessageDeflate);
      } catch {
        request.handOff(); // refused by handleUpgrade as above, from Node's own reading of the header
        return;
      }
    }

    const handshake = new Handshake(req, this._emitConnection);
    handshake.upgrade = request;
    handshake.key = headers['sec-websocket-key'];
    handshake.protocols = protocols;
    handshake.extensions = extensions;
    socket.wrapper = handshake;

    const verifyClient = this.options.verifyClient;
    if (verifyClient) {
      // HyBi drafts (version 8) send the origin as Sec-WebSocket-Origin.
      const origin = Number(headers['sec-websocket-version']) === 8 ? headers['sec-websocket-origin'] : headers.origin;
      const info = { origin, secure: false, req };
      if (verifyClient.length === 2) {
        request.defer();
        this._handshakes.track(handshake, 0);
        verifyClient(info, (verified, code, message, refusal) => {
          if (handshake.done || request.answered || request.aborted) return;
          if (!verified) {
            // Answer before forgetting: forgetting the last handshake of a closing server stops the engine.
            request.refuseWith(refusalResponse(code || 401, message, refusal));
            this._handshakes.forget(handshake);
            return;
          }
          this._acceptDirect(socket, handshake);
        });
        return;
      }
      if (!verifyClient(info)) {
        socket.wrapper = undefined;
        request.refuseWith(refusalResponse(401));
        return;
      }
    }
    this._acceptDirect(socket, handshake);
  }

  _acceptDirect(socket, handshake) {
    const request = handshake.upgrade;
    if (this._state !== RUNNING) {
      socket.wrapper = undefined;
      request.refuseWith(refusalResponse(503));
      this._handshakes.forget(handshake);
      return;
    }
    handshake.protocol = this._chooseProtocol(handshake.protocols, handshake.req);
    if (!request.accept(this._responseHeaders(handshake.key, handshake.protocol, handshake.req, handshake.extensions))) {
      this._handshakes.forget(handshake);
      return;
    }
    // Accepted: as in ws, 'connection' comes now, before the client can have the 101
    // (the engine writes it next); the WebSocket is connected to the engine's socket
    // when that opens (_onOpen). close() waits for it (no timer per handshake: close() sweeps).
    this._handshakes.track(handshake, 0);
    const ws = new this.options.WebSocket(null, undefined, this.options);
    ws[kAttachPending](this._core, handshake.protocol, handshake.extensions, new PendingSocket(request.remoteAddress, request.remotePort, request.remoteFamily));
    handshake.ws = ws;
    this._live++;
    if (this.clients) this.clients.add(ws);
    this._attachAccepted(handshake, socket);
    handshake.callback(ws, handshake.req);
  }

  /**
   * The handed-out WebSocket of an accepted handshake sends to the engine's socket
   * from now on (the engine writes the 101 first); `socket.wrapper` stays the
   * handshake until the socket opens (_onOpen).
   */
  _attachAccepted(handshake, socket) {
    // Relayed sockets: the real peer, not the loopback relay's address, and the TLS session.
    if (handshake.peer !== null) socket.setPeer({ ...handshake.peer });
    if (handshake.tlsSocket !== null) exposeRelayedTls(socket, handshake.tlsSocket);
    handshake.ws[kAttachAccepted](this._core, socket);
  }

  _onAborted(pending) {
    const handshake = pending.wrapper; // undefined for a core HttpRequest
    if (handshake === undefined) return;
    pending.wrapper = undefined;
    this._handshakes.forget(handshake);
  }

  _onOpen(socket) {
    const handshake = socket.wrapper;
    socket.wrapper = undefined;
    // Relayed sockets: the real peer, not the loopback relay's address, and the TLS session.
    if (handshake !== undefined && handshake.peer !== null) socket.setPeer({ ...handshake.peer });
    if (handshake !== undefined && handshake.tlsSocket !== null) exposeRelayedTls(socket, handshake.tlsSocket);
    if (handshake !== undefined && handshake.ws !== null) {
      // handleUpgrade() handed it out already (and counted it).
      const ws = handshake.ws;
      handshake.ws = null;
      ws[kAttach](this._core, socket, handshake.protocol);
      this._handshakes.forget(handshake);
      return;
    }
    const ws = new this.options.WebSocket(null, undefined, this.options);
    ws[kAttach](this._core, socket, handshake ? handshake.protocol : '');
    this._live++;
    if (this.clients) this.clients.add(ws);
    if (handshake === undefined) {
      const req = new UpgradeRequestInfo({
        method: 'GET', url: '/', headers: {}, rawHeaders: [],
        remoteAddress: socket.remoteAddress, remotePort: socket.remotePort, remoteFamily: socket.remoteFamily,
      });
      this._emitConnection(ws, req);
      return;
    }
    this._handshakes.forget(handshake); // after counting the connection: closing waits for it now
    handshake.callback(ws, handshake.req);
  }

  _onSocketClose(socket, code, reason, errorCode, errorDetail) {
    const ws = socket.wrapper;
    if (ws === undefined) return;
    // ws's socket is destroyed now: its http server's count drops (its 'close' may follow),
    // after the WebSocket's 'error' when the peer broke the protocol (ws emits it first).
    if (!errorCode) releaseCount(ws);
    try {
      // ws's receiver emits the 'error' for a bad frame as it reads it, a turn before 'close'.
      if (errorCode) ws[kOnProtocolError](errorCode, errorDetail);
    } finally {
      // ws learns of the end from the TCP socket's 'close', an I/O event of its own:
      // what message and open listeners deferred (process.nextTick, promises) runs
      // before 'close'. socket.io handles a client's DISCONNECT packet that way, and
      // Primus announces a spark that way. The engine reports the end in the same
      // batch as the messages before it, so 'close' waits for the next turn here.
      loopTimers.setImmediate(() => this._finishSocketClose(ws, code, reason, errorCode, errorDetail));
    }
  }

  _finishSocketClose(ws, code, reason, errorCode, errorDetail) {
    this._live--;
    if (this.clients) this.clients.delete(ws);
    // ws in port mode: its http server's 'close' (the last connection gone) comes
    // before that last WebSocket's own 'close'.
    if (this._portMode && this._state === CLOSING && this._live === 0 && this._handshakes.size === 0) emitClose(this);
    releaseCount(ws); // not yet when it never opened, or broke the protocol
    try {
      ws[kOnClose](code, reason, errorCode, errorDetail);
    } finally {
      this._checkIdle();
    }
  }
}

module.exports = WebSocketServer;
