'use strict';
// Server: walve 2's, on an http server's 'upgrade' event. The requests it takes
// (all, or those for its `url`) are handed to the engine with their TCP
// socket (a TLS socket through the loopback relay), which answers the
// handshake and from then on reports frames, not messages; each connection
// becomes a Socket on its server's 'connect'. One engine serves every walve
// server of the process (walve servers are never closed: one idle engine
// thread is all they keep), started by the first listen().

const { EventEmitter } = require('events');
const { CoreServer, kFrameEvents, descriptorOf, loopbackPair, pump } = require('../core');
const { Socket, kCreate, kOnFrameHead, kOnFrameData, kOnDrain, kOnClose, kOnError } = require('./socket');
const { MAX_LENGTH } = require('./outgoing');
const { refusalOf, refuse, acceptHeaders } = require('./handshake');
const { report } = require('./misuse');
const { timeoutOf } = require('./idle');

/** A Node socket one walve server took: another one on the same http server leaves it alone. */
const kTaken = Symbol('walve.taken');
/** The header naming the walve server a handed-over request belongs to (never sent back). */
const TICKET_HEADER = 'x-lws-walve-ticket';

let engine = null; // { core, servers: Map ticket -> { server, idle } }
let nextTicket = 0;

class Server extends EventEmitter {
  /** @param {{ url?: string }} [options] `url`: only upgrades to exactly this URL (several servers on one http server) */
  constructor(options) {
    super();
    options = options || {};
    if (options.url !== undefined && typeof options.url !== 'string') {
      throw new TypeError(`lws/walve: options.url must be a string, got ${typeof options.url}`);
    }
    this.url = options.url;
  }

  /** Takes upgrades from `http` (an http or https server). */
  listen(http) {
    // Started now, not at the first upgrade: the engine learns of the 'upgrade'
    // listener (which claims each connection for its server) on the next tick.
    sharedEngine();
    http.on('upgrade', (request, socket, head) => this._onUpgrade(request, socket, head));
    return this;
  }

  _onUpgrade(request, socket, head) {
    if (this.url && request.url !== this.url) return; // walve reads `url` now: it may be set after listen()
    if (socket[kTaken]) return;
    socket[kTaken] = true;
    const refusal = refusalOf(request);
    if (refusal !== null) {
      refuse(socket, refusal);
      if (this.listenerCount('error') > 0) {
        const err = new Error(`lws/walve: upgrade refused with ${refusal.status}: ${refusal.message}`);
        err.code = 'LWS_ERR_WALVE_UPGRADE';
        this.emit('error', err);
      }
      return;
    }
    const { core, servers } = sharedEngine();
    const ticket = String(nextTicket++);
    // Node's timeout on the socket, which walve's socket obeys after the upgrade (idle.js).
    servers.set(ticket, { server: this, idle: timeoutOf(socket) });
    const forget = () => servers.delete(ticket);
    const handed = { method: request.method, url: request.url, rawHeaders: [...request.rawHeaders, TICKET_HEADER, ticket] };
    let bytes = head && head.length ? head : undefined;
    // Bytes Node read past the request and nobody consumed go to the engine too.
    if (socket.readableLength > 0) {
      const more = socket.read();
      if (more) bytes = bytes ? Buffer.concat([bytes, more]) : more;
    }
    if (descriptorOf(socket) >= 0) {
      // The engine takes the descriptor (Node's socket is destroyed) and asks for the ticket back.
      if (!core.handleUpgrade(socket, handed, bytes)) forget();
      return;
    }
    loopbackPair((err, outer, inner) => {
      if (err || socket.destroyed || !core.handleUpgrade(inner, handed, bytes)) {
        if (outer) outer.destroy();
        if (inner) inner.destroy();
        socket.destroy();
        forget();
        return;
      }
      pump(socket, outer);
    });
  }
}

/** The engine every walve server hands its connections to, started once. */
function sharedEngine() {
  if (engine !== null) return engine;
  // maxBacklog (default 16 MiB): events waiting for JS beyond which the engine stops reading;
  // smaller here, it bounds what is read ahead of a slow reader before its pause arrives.
  const core = new CoreServer({ maxMessageSize: MAX_LENGTH, maxBacklog: 4 * 1024 * 1024, [kFrameEvents]: true });
  const servers = new Map();
  core.on('upgrade', (coreSocket, headers, request) => {
    const ticket = headers[TICKET_HEADER];
    const taken = servers.get(ticket);
    servers.delete(ticket);
    if (taken === undefined) return 400; // not one a walve server handed over
    coreSocket.wrapper = taken; // until it opens
    request.accept(acceptHeaders());
  });
  core.on('aborted', (pending) => { pending.wrapper = undefined; });
  core.on('connection', (coreSocket) => {
    const { server, idle } = coreSocket.wrapper;
    const socket = new Socket(kCreate, core, coreSocket, idle);
    coreSocket.wrapper = socket;
    server.emit('connect', socket);
  });
  core.on('frameHead', (coreSocket, head, length, mask) => coreSocket.wrapper[kOnFrameHead](head, length, mask));
  core.on('frameData', (coreSocket, piece, end) => coreSocket.wrapper[kOnFrameData](piece, end));
  core.on('drain', (coreSocket) => coreSocket.wrapper[kOnDrain]());
  core.on('close', (coreSocket, code, reason, errorCode, errorDetail) => {
    const socket = coreSocket.wrapper;
    if (socket instanceof Socket) socket[kOnClose](code, errorCode, errorDetail);
  });
  // An engine fault on one socket is reported on that socket (else as a process warning).
  core.on('error', (err) => {
    const socket = err.socket && err.socket.wrapper;
    if (socket instanceof Socket) socket[kOnError](err);
    else report(null, err);
  });
  engine = { core, servers };
  return engine;
}

module.exports = { Server };
