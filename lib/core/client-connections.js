'use strict';
// Outgoing connections, CoreServer's methods for them (installed on its
// prototype): a socket reserved at once (its id picked here, CLIENT_ID_BIT set,
// so it can be handed out while a name resolves), dialed by the engine (connect,
// TLS, the request head), accepted after the server's 101, or adopted whole
// from Node (adoptClient). lws.Client (lib/client.js) and the ws layer's client
// (lib/ws/client.js) are built on these.

const { Command, CLIENT_ID_BIT, FLAG_BINARY, encodeConnect } = require('./wire');
const { Socket, idOf, kServer } = require('./socket');
const { descriptorOf } = require('./fd-adoption');

class ClientConnections {
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
    if (info !== undefined) this._openInfo.set(id, info);
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
    this._unreferenced.delete(socket);
    socket.markClosed();
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
    if (info !== undefined) this._openInfo.set(id, info);
    const line = extensions ? `Sec-WebSocket-Extensions: ${extensions}\r\n` : '';
    this._commands.bytes(Command.ACCEPT, 0, 0, id, line ? Buffer.from(line, 'latin1') : null);
    this._engine.schedule();
    return true;
  }

  /** A free client id: CLIENT_ID_BIT, a sequence number, and the worker (the low bits), round robin. */
  _clientId() {
    const workers = this.options.engine.threads || 1;
    for (;;) {
      // Below 2^30 in all (CLIENT_ID_BIT is 2^29): ids stay V8 small integers.
      this._nextClientSeq = (this._nextClientSeq + 1) % (CLIENT_ID_BIT / 8);
      const seq = this._nextClientSeq;
      const id = CLIENT_ID_BIT + seq * 8 + (seq % workers);
      if (!this._pending.has(id) && !this._sockets.has(id)) return id;
    }
  }

  /** The engine's index of the TLS client configuration for these settings (made once). */
  _tlsIndex({ ca, cert, key, rejectUnauthorized = true, sni = true }) {
    const pem = (v) => (v === undefined || v === null ? null : Buffer.from([].concat(v).map(String).join('\n')));
    const roots = pem(ca) || Buffer.from(require('tls').rootCertificates.join('\n'));
    const settings = [roots, pem(cert), pem(key), rejectUnauthorized !== false, sni !== false];
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
}

module.exports = { ClientConnections };
