'use strict';
// Server: walve 2's, on an http server's 'upgrade' event. The requests it takes
// (all, or those for its `url`) are handed to the engine with their TCP
// socket (a TLS socket through the loopback relay), which answers the
// handshake and from then on reports frames, not messages; each connection
// becomes a Socket on 'connect'.

const { EventEmitter } = require('events');
const { CoreServer, kFrameEvents, descriptorOf, loopbackPair, pump } = require('../core');
const { Socket, kCreate, kOnFrameHead, kOnFrameData, kOnDrain, kOnClose, kOnError } = require('./socket');
const { MAX_LENGTH } = require('./outgoing');
const { refusalOf, refuse, acceptHeaders } = require('./handshake');
const { report } = require('./misuse');

/** A Node socket one walve server took: another one on the same http server leaves it alone. */
const kTaken = Symbol('walve.taken');

class Server extends EventEmitter {
  /** @param {{ url?: string }} [options] `url`: only upgrades to exactly this URL (several servers on one http server) */
  constructor(options) {
    super();
    options = options || {};
    if (options.url !== undefined && typeof options.url !== 'string') {
      throw new TypeError(`lws/walve: options.url must be a string, got ${typeof options.url}`);
    }
    this.url = options.url;
    this._core = null; // the engine, started by the first upgrade
  }

  /** Takes upgrades from `http` (an http or https server). */
  listen(http) {
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
    const core = this._engine();
    let bytes = head && head.length ? head : undefined;
    // Bytes Node read past the request and nobody consumed go to the engine too.
    if (socket.readableLength > 0) {
      const more = socket.read();
      if (more) bytes = bytes ? Buffer.concat([bytes, more]) : more;
    }
    if (descriptorOf(socket) >= 0) {
      core.handleUpgrade(socket, request, bytes); // the engine takes the descriptor; Node's socket is destroyed
      return;
    }
    loopbackPair((err, outer, inner) => {
      if (err || socket.destroyed || !core.handleUpgrade(inner, request, bytes)) {
        if (outer) outer.destroy();
        if (inner) inner.destroy();
        socket.destroy();
        return;
      }
      pump(socket, outer);
    });
  }

  /** The engine behind this server, started once. */
  _engine() {
    if (this._core !== null) return this._core;
    const core = new CoreServer({ maxMessageSize: MAX_LENGTH, [kFrameEvents]: true });
    core.on('upgrade', (coreSocket, headers, request) => void request.accept(acceptHeaders()));
    core.on('connection', (coreSocket) => {
      const socket = new Socket(kCreate, core, coreSocket);
      coreSocket.wrapper = socket;
      this.emit('connect', socket);
    });
    core.on('frameHead', (coreSocket, head, length, mask) => coreSocket.wrapper[kOnFrameHead](head, length, mask));
    core.on('frameData', (coreSocket, piece, end) => coreSocket.wrapper[kOnFrameData](piece, end));
    core.on('drain', (coreSocket) => coreSocket.wrapper[kOnDrain]());
    core.on('close', (coreSocket, code) => {
      const socket = coreSocket.wrapper;
      if (socket !== undefined) socket[kOnClose](code);
    });
    // An engine fault on one socket is that socket's error; others are the server's.
    core.on('error', (err) => {
      const socket = err.socket && err.socket.wrapper;
      if (socket !== undefined && socket !== null) socket[kOnError](err);
      else report(this, err);
    });
    this._core = core;
    return core;
  }
}

module.exports = { Server };
