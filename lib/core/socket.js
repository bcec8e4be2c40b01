'use strict';
// The connection handle JS holds. The engine knows a connection by id; this
// object is what listeners get, valid forever (after 'close' every command on
// it is a no-op). Its state belongs to the core server (core-server.js), under
// the symbols below; a layer on top uses only the hooks documented here.
//
// Every field is declared in the constructor: all sockets share one shape.

/** The engine's id of a connection (on sockets and pending requests). */
const kId = Symbol('lws.id');
/** The CoreServer the socket is open on (set at OPEN, null after CLOSE). */
const kServer = Symbol('lws.server');
/** Command-buffer epoch of `kUnflushed`. */
const kEpoch = Symbol('lws.epoch');
/** Bytes sent in that epoch, still in JS. */
const kUnflushed = Symbol('lws.unflushed');
/** What few sockets use (pause(), pub/sub): a SocketExtras made on first use, or null. */
const kExtras = Symbol('lws.extras');
/** The TCP_OPTION command's codes (setNoDelay, setKeepAlive). */
const { TcpOption } = require('./wire');

/**
 * A socket's rarely used state, apart so that the others do not carry its
 * fields (a Socket is kept per connection: 10,000 idle ones, 80 KB less).
 */
class SocketExtras {
  constructor() {
    /** Bytes the engine reported queued for the socket (BUFFERED), until DRAIN. */
    this.backlog = 0;
    /** pause()d by JS: the reply to the peer's close waits for resume(). */
    this.paused = false;
    /** That reply once due: [code, reason]. */
    this.closeReply = undefined;
    /** The topics this socket is subscribed to: null, one topic key, or a Set of them (pubsub.js). */
    this.topics = null;
  }
}

/** The socket's SocketExtras, made if it has none. */
function extrasOf(socket) {
  return socket[kExtras] || (socket[kExtras] = new SocketExtras());
}

/**
 * The engine wrote the socket's backlog (DRAIN). Extras held for nothing else
 * are dropped: every client socket has a backlog while it connects (its request
 * waits for the connection), and an idle one should not keep extras for it.
 */
function drained(socket) {
  const extras = socket[kExtras];
  if (extras === null) return;
  extras.backlog = 0;
  if (!extras.paused && extras.closeReply === undefined && extras.topics === null) socket[kExtras] = null;
}

/** Bytes the engine last reported queued for the socket (0 once drained). */
function backlogOf(socket) {
  const extras = socket[kExtras];
  return extras === null ? 0 : extras.backlog;
}

/** The socket's topic keys: null, one key (a string) or a Set (pubsub.js). */
function topicsOf(socket) {
  const extras = socket[kExtras];
  return extras === null ? null : extras.topics;
}

class Socket {
  constructor(id) {
    this[kId] = id;
    /** The descriptor (-1 until known), and whether the socket has closed, in one field (`fd`, `closed`). */
    this._fd = -1;
    this.userData = undefined;
    // The peer: an IPv4 peer is one number (address * 65536 + port) until its
    // fields are first read, so a connection costs no strings of its own.
    this._peer = undefined;
    /** The negotiated Sec-WebSocket-Extensions ('' when none). */
    this.extensions = '';
    /**
     * The layer hook: the object a layer on top keeps for this socket (the ws
     * layer: its handshake until the socket opens, then the WebSocket; lws.Client:
     * its handshake until the socket opens). The core
     * never reads it. Declared here so setting it does not give every socket a
     * property array.
     */
    this.wrapper = undefined;
    this[kServer] = null;
    this[kEpoch] = -1;
    this[kUnflushed] = 0;
    this[kExtras] = null;
  }

  /** Bytes the engine last reported queued for this socket (0 once drained): backpressure. */
  get backlog() {
    return backlogOf(this);
  }

  /** The connection's file descriptor in the engine (-1 when it had none). */
  get fd() {
    const fd = this._fd;
    return fd >= -1 ? fd : -3 - fd;
  }

  get closed() {
    return this._fd < -1;
  }

  /** Notes the descriptor (at open, or when the upgrade request comes). */
  setFd(fd) {
    this._fd = fd;
  }

  /** The socket has closed (its descriptor stays readable as `fd`). */
  markClosed() {
    if (this._fd >= -1) this._fd = -3 - this._fd;
  }

  /**
   * Sets the peer's address: `{ remoteAddress, remotePort, remoteFamily }`, or an
   * IPv4 peer packed as one number (address * 65536 + port). A layer that relays
   * the connection (loopback-relay.js) sets the real client's here.
   */
  setPeer(peer) {
    this._peer = peer;
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

  /**
   * As net.Socket's: an unref()'d connection does not keep the process alive
   * (engine.io-client's autoUnref calls ws's `_socket.unref()`). The engine is
   * one handle for all its connections: it is referenced while any is (core-server.js).
   */
  unref() {
    const server = this[kServer];
    if (server !== null && !server._unreferenced.has(this)) {
      server._unreferenced.add(this);
      server._updateRef();
    }
    return this;
  }

  ref() {
    const server = this[kServer];
    if (server !== null && server._unreferenced.delete(this)) server._updateRef();
    return this;
  }

  /** As net.Socket's (ws users call it on `ws._socket`): TCP_NODELAY, which the engine sets on every connection. */
  setNoDelay(noDelay = true) {
    const server = this[kServer];
    if (server !== null) server.setTcpOption(this, TcpOption.NO_DELAY, Boolean(noDelay));
    return this;
  }

  /** As net.Socket's: TCP keepalive, probing after `initialDelay` ms of silence (0: the system's idle time). */
  setKeepAlive(enable = false, initialDelay = 0) {
    const server = this[kServer];
    if (server !== null) server.setTcpOption(this, TcpOption.KEEP_ALIVE, Boolean(enable), Math.max(0, Math.floor(Number(initialDelay) / 1000) || 0));
    return this;
  }
}

/** The engine's id of an lws socket; a TypeError for anything else. */
function idOf(socket) {
  if (socket === null || typeof socket !== 'object' || socket[kId] === undefined) {
    throw new TypeError('Expected an lws socket');
  }
  return socket[kId];
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

module.exports = { Socket, idOf, kId, kServer, kEpoch, kUnflushed, kExtras, extrasOf, topicsOf, backlogOf, drained };
