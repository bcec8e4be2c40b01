'use strict';
// Server: nodejs-websocket's server, its engine an lws.Server listening on its
// own port (plain or TLS with `secure`). Connections are made and accepted at the
// upgrade (path, headers and the protocol choice need them) and announced then,
// as the package announces them when it writes the 101: so a client in the same
// process gets its 'connect' after the server's 'connection'. An accepted socket
// takes commands at once (they follow the 101); connections leave `connections`
// with their 'close' (or the engine's 'aborted', for one that never opened).

const { EventEmitter } = require('events');
const { Server: LwsServer } = require('../server');
const { Connection } = require('./connection');
const { routeConnectionEvents, ENGINE_OPTIONS } = require('./engine-events');

/** The client's most preferred protocol among `validProtocols` (undefined: none). */
function selectFrom(validProtocols) {
  return (conn, protocols) => protocols.find((protocol) => validProtocols.includes(protocol));
}

/** tls.createServer()'s key and cert become the engine's `ssl` (PEM). */
function sslOf(options) {
  if (!options.secure) return undefined;
  if (!options.key || !options.cert) throw new TypeError('A secure server needs the key and cert options (PEM)');
  const ssl = { key: options.key, cert: options.cert };
  if (options.ca) ssl.ca = [].concat(options.ca).map(String).join('\n');
  if (options.requestCert) ssl.rejectUnauthorized = options.rejectUnauthorized !== false;
  else if (options.ca) ssl.rejectUnauthorized = false;
  return ssl;
}

class Server extends EventEmitter {
  constructor(options, callback) {
    super();
    if (typeof options === 'function') [options, callback] = [undefined, options];
    options = options || {};
    this.connections = [];
    this._selectProtocol = options.selectProtocol || (options.validProtocols ? selectFrom(options.validProtocols) : null);
    this._closeWanted = false;
    /** The engine (an lws.Server): what the package keeps here is its net.Server. */
    this.socket = new LwsServer({ ...ENGINE_OPTIONS, ssl: sslOf(options) });
    routeConnectionEvents(this.socket);
    this.socket.on('upgrade', (socket, headers, request) => this._upgrade(socket, headers, request));
    this.socket.on('aborted', (socket) => this._aborted(socket));
    this.socket.on('close', (socket, code, reason, errorCode) => this._connectionClosed(socket, code, errorCode));
    this.socket.on('listening', () => this.emit('listening'));
    this.socket.on('error', (err) => this.emit('error', err));
    if (callback) this.on('connection', callback);
  }

  listen(port, host, callback) {
    if (typeof host === 'function') [host, callback] = [undefined, host];
    if (callback) this.on('listening', callback);
    this.socket.listen(port, host);
    return this;
  }

  /** Stops accepting connections; 'close' follows once every open one has ended. */
  close(callback) {
    if (callback) this.once('close', callback);
    this._closeWanted = true;
    this.socket.stopListening();
    this._closeWhenIdle();
  }

  _closeWhenIdle() {
    if (this._closeWanted && this.connections.length === 0) {
      this._closeWanted = false;
      this.socket.close(() => this.emit('close'));
    }
  }

  _upgrade(socket, headers, request) {
    const conn = new Connection(this.socket, socket, this, null);
    conn.path = request.url;
    conn.headers = { ...headers };
    conn.key = headers['sec-websocket-key'];
    if ('sec-websocket-protocol' in headers) {
      conn.protocols = headers['sec-websocket-protocol'].split(',').map((each) => each.trim());
      if (this._selectProtocol) conn.protocol = this._selectProtocol(conn, conn.protocols);
    }
    if (!request.accept(conn.protocol ? { 'Sec-WebSocket-Protocol': conn.protocol } : undefined)) return;
    conn.once('connect', () => {
      this.connections.push(conn);
      this.emit('connection', conn);
    });
    conn._opened();
  }

  /** An accepted upgrade whose socket never opened (the client left): closed as a dropped socket. */
  _aborted(socket) {
    if (socket.wrapper instanceof Connection) this._connectionClosed(socket, 1006, undefined);
  }

  _connectionClosed(socket, code, errorCode) {
    const conn = socket.wrapper;
    if (conn !== undefined) {
      const at = this.connections.indexOf(conn);
      if (at !== -1) this.connections.splice(at, 1);
      conn._closed(code, errorCode);
    }
    this._closeWhenIdle();
  }
}

module.exports = { Server };
