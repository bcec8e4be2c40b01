'use strict';
// lws.Client: outgoing WebSockets in node-lws style, many per process. The
// engine connects, runs TLS, the handshake and the protocol (the client role:
// it masks what it sends); JS gets the same batched events and lent buffers
// as lws.Server's, and sends with the same methods (send, sendPrepared, close,
// ...). Names are resolved in JS (dns.lookup, or the `lookup` option) so the
// engine never blocks; the server's 101 is checked here (client-handshake.js).

const { CoreServer } = require('./core');
const { Server } = require('./server');
const { kNegotiatedByJs } = require('./core/options');
const {
  connectionError, newKey, parseTarget, resolve, hostHeader, requestHead, deflateOffer, checkSwitchingProtocols, incomingResponse,
} = require('./core/client-handshake');

/** lws.Server options that have no meaning for outgoing connections. */
const SERVER_ONLY = ['port', 'host', 'path', 'backlog', 'ssl', 'httpServer', 'maxHeaders', 'maxHttpBody'];

const CONNECT_OPTIONS = new Set([
  'headers', 'protocols', 'origin', 'ca', 'cert', 'key', 'rejectUnauthorized', 'servername',
  'localAddress', 'family', 'lookup', 'handshakeTimeout',
]);

class Client extends CoreServer {
  /**
   * @param {object} [options] lws.Server's options that apply to connections
   *   (threads, maxMessageSize, bufferSize, closeTimeout, handshakeTimeout,
   *   idleTimeout, maxBackpressure, closeOnBackpressureLimit, maxBacklog,
   *   autoPong, keepAlive*), and perMessageDeflate: offered to every server
   *   when set (`true` or ws's client settings object).
   */
  constructor(options = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
    for (const name of SERVER_ONLY) {
      if (options[name] !== undefined) throw new TypeError(`Option "${name}" is for servers; lws.Client does not take it`);
    }
    const deflate = options.perMessageDeflate;
    const engineDeflate = deflate ? { ...(deflate === true ? {} : deflate), [kNegotiatedByJs]: true } : false;
    super({ ...options, perMessageDeflate: engineDeflate });
    this._offer = deflate ? deflateOffer(deflate) : null;
    this._deflateOption = deflate || false;
    this.on('response', (socket, response) => this._onResponse(socket, response));
  }

  /**
   * Opens a connection to a ws:// or wss:// URL; returns its socket at once.
   * 'open' (socket, response) follows, or 'error' (err, socket) then 'close'.
   * Options: headers, protocols (array), origin, TLS (ca, cert, key,
   * rejectUnauthorized, servername), localAddress, family, lookup, handshakeTimeout.
   */
  connect(address, options = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
    for (const name of Object.keys(options)) {
      if (!CONNECT_OPTIONS.has(name)) throw new TypeError(`Unknown connect option "${name}"`);
    }
    const target = parseTarget(address);
    if (target.ipc) throw new SyntaxError('lws.Client connects over TCP: ws+unix: URLs are not supported');
    const protocols = [].concat(options.protocols ?? []);
    const key = newKey();
    const headers = Object.entries(options.headers ?? {});
    headers.push(['Sec-WebSocket-Version', 13], ['Sec-WebSocket-Key', key], ['Connection', 'Upgrade'], ['Upgrade', 'websocket']);
    if (this._offer) headers.push(['Sec-WebSocket-Extensions', this._offer]);
    if (protocols.length) headers.push(['Sec-WebSocket-Protocol', protocols.join(',')]);
    if (options.origin) headers.push(['Origin', options.origin]);
    const head = requestHead(target.path, headers, { host: hostHeader(target.host, target.port, target.defaultPort), auth: target.auth });
    const tls = target.secure
      ? {
        servername: options.servername ?? (require('net').isIP(target.host) ? '' : target.host),
        // As Node's tls.connect: servername '' sends no SNI (the host is still what is checked).
        sni: options.servername !== '',
        ca: options.ca, cert: options.cert, key: options.key, rejectUnauthorized: options.rejectUnauthorized,
      }
      : null;
    if (tls && tls.servername === '') tls.servername = target.host; // rustls takes an IP address as the name too

    // The socket exists at once; the engine hears of it once the name is resolved. Its
    // handshake is kept in the layer hook (socket.js `wrapper`) until it opens.
    const socket = this.reserveSocket();
    socket.wrapper = { key, protocols: new Set(protocols), dialed: false };
    resolve(target.host, options, (err, ip) => {
      if (socket.closed) return; // released meanwhile (close() or terminate() while resolving)
      if (err) {
        this._endBeforeDial(socket, err);
        return;
      }
      try {
        this.dial(socket, {
          address: ip, port: target.port, localAddress: options.localAddress, tls, head,
          timeout: options.handshakeTimeout ?? this.options.engine.handshakeTimeoutMs ?? 10000,
        });
      } catch (failure) {
        // Bad TLS material (ERR_LWS_TLS_CONFIG): reported on the socket, never thrown from a DNS callback.
        this._endBeforeDial(socket, failure);
        return;
      }
      Object.assign(socket.wrapper, { dialed: true, address: ip, port: target.port });
    });
    return socket;
  }

  /** close() or terminate() of a socket still resolving its name: it ends there. */
  close(socketOrCallback, code, reason) {
    if (this._stillResolving(socketOrCallback)) return this._endBeforeDial(socketOrCallback, null);
    return super.close(socketOrCallback, code, reason);
  }

  terminate(socket, dropQueued) {
    if (this._stillResolving(socket)) return this._endBeforeDial(socket, null);
    return super.terminate(socket, dropQueued);
  }

  _stillResolving(socket) {
    return socket !== null && typeof socket === 'object' && socket.wrapper !== undefined && socket.wrapper.dialed === false;
  }

  /** A socket that never reached the engine: 'error' (if any), then 'close' with 1006. */
  _endBeforeDial(socket, err) {
    if (!this.releaseSocket(socket)) return false;
    socket.wrapper = undefined;
    if (err) this._fail(socket, err);
    try {
      this.emit('close', socket, 1006, '', err ? 'LWS_ERR_CONNECT' : undefined, undefined);
    } finally {
      socket.userData = undefined;
    }
    return true;
  }

  _onResponse(socket, response) {
    const handshake = socket.wrapper;
    if (handshake === undefined) return;
    const res = incomingResponse(response);
    if (!res.upgrade) {
      // A 101 Node would not call an upgrade (no Upgrade or Connection: upgrade) waits: dropped.
      if (response.statusCode === 101) this.terminate(socket);
      socket.wrapper = undefined;
      const err = new Error(`Unexpected server response: ${response.statusCode}`);
      err.response = res;
      this._fail(socket, err);
      return;
    }
    const verdict = checkSwitchingProtocols(res.headers, handshake.key, handshake.protocols, this._deflateOption);
    if (verdict.error) {
      socket.wrapper = undefined;
      this._fail(socket, new Error(verdict.error));
      this.terminate(socket);
      return;
    }
    socket.wrapper = undefined;
    this.acceptResponse(socket, verdict.extensions, { headers: res.headers, protocol: verdict.protocol, extensions: verdict.extensions });
  }

  /** A connection that failed before it opened: the Error Node's http client would give, before 'close'. */
  _beforeClose(socket, code, reason, errorCode, errorDetail) {
    const handshake = socket.wrapper;
    if (handshake === undefined) return;
    socket.wrapper = undefined;
    const err = connectionError(errorCode, errorDetail, handshake.address, handshake.port, reason);
    if (err !== undefined) this._fail(socket, err);
  }

  _fail(socket, err) {
    err.socket = socket;
    if (this.listenerCount('error') > 0) this.emit('error', err, socket);
    else process.emitWarning(err);
  }
}

// node-lws's per-socket accessors, as on lws.Server.
Client.prototype.setUserData = Server.prototype.setUserData;
Client.prototype.getUserData = Server.prototype.getUserData;

module.exports = { Client };
