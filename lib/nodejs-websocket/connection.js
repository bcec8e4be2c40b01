'use strict';
// Connection: nodejs-websocket's connection object, for both roles, over an lws
// core socket (server.js accepts them, client.js dials them). The engine does
// the protocol; this keeps the package's states, events and errors:
//   text messages arrive whole ('text'), binary ones as a Readable per message
//   ('binary'), whose backpressure pauses the socket in the engine;
//   beginBinary() is a Writable sending one message as fragments.
// The core's events reach a Connection through engine-events.js.

const { EventEmitter } = require('events');
const { OutStream } = require('./out-stream');
const { limits } = require('./limits');

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

const notOpenError = () => new Error('You can\'t write to a non-open connection');
const binaryPendingError = () => new Error('You can\'t send more binary frames until you finish sending the previous binary frames');

class Connection extends EventEmitter {
  /**
   * @param core the lws CoreServer the socket belongs to
   * @param socket the core's socket
   * @param server the nodejs-websocket Server (null for a client connection)
   * @param client { path, host, extraHeaders, protocols } for a client connection
   */
  constructor(core, socket, server, client) {
    super();
    this._core = core;
    this.server = server;
    this.path = client ? client.path : null;
    this.host = client ? client.host : null;
    this.extraHeaders = client ? client.extraHeaders : null;
    this.protocols = (client && client.protocols) || [];
    this.protocol = undefined;
    this.socket = socket;
    this.readyState = CONNECTING;
    this.outStream = null;
    this.key = null;
    this.headers = {};
    this._text = null; // the parts of a text message arriving in pieces
    this._textBytes = 0;
    this._inStream = null; // the Readable of the binary message arriving
    this._sentCallbacks = []; // send callbacks waiting for the socket's 'drain'
    this._dialed = null; // a client's { address, port } (client.js)
    this._handshakeFailed = false; // a client's 101 failed the package's checks (its error is emitted)
    socket.wrapper = this;
  }

  // ---- sending ----------------------------------------------------------------

  sendText(str, callback) {
    if (this.readyState !== OPEN) return void this.emit('error', notOpenError());
    if (this.outStream) return void this.emit('error', new Error('You can\'t send a text frame until you finish sending binary frames'));
    return this._send(String(str), false, callback);
  }

  beginBinary() {
    if (this.readyState !== OPEN) return void this.emit('error', notOpenError());
    if (this.outStream) return void this.emit('error', binaryPendingError());
    this.outStream = this._core.attachSendStream(this.socket, new OutStream(this, limits.binaryFragmentation));
    return this.outStream;
  }

  sendBinary(data, callback) {
    if (this.readyState !== OPEN) return void this.emit('error', notOpenError());
    if (this.outStream) return void this.emit('error', binaryPendingError());
    return this._send(data, true, callback);
  }

  send(data, callback) {
    if (typeof data === 'string') this.sendText(data, callback);
    else if (Buffer.isBuffer(data)) this.sendBinary(data, callback);
    else throw new TypeError('data should be either a string or a Buffer instance');
  }

  sendPing(data) {
    if (this.readyState !== OPEN) return void this.emit('error', notOpenError());
    this._core.ping(this.socket, data || '');
  }

  /** The callback runs once the data has left JS and the socket keeps up (or at its 'drain'). */
  _send(data, binary, callback) {
    const keepsUp = this._core.send(this.socket, data, binary);
    if (typeof callback === 'function') {
      if (keepsUp) setImmediate(callback);
      else this._sentCallbacks.push(callback);
    }
    return keepsUp;
  }

  /**
   * Starts the close handshake; as in the package, 'close' is emitted at once
   * with the arguments given, and again on each later call.
   */
  close(code, reason) {
    if (this.readyState === OPEN) {
      this.readyState = CLOSING;
      const wireCode = code === undefined ? undefined : code;
      if (wireCode === undefined || wireCode === 1005) this._core.close(this.socket);
      else this._core.close(this.socket, wireCode, reason === undefined ? '' : String(reason));
    } else if (this.readyState === CONNECTING) {
      // A client still resolving its host was never dialed: client.js lets its socket go.
      if (this._dialed === null || this._dialed.started) this._core.terminate(this.socket);
      this.readyState = CLOSED;
    } else if (this.readyState === CLOSING) {
      // The package ends its socket gracefully here; the engine's close handshake, already
      // under way, ends the connection the same way (a terminate could cut our close frame).
      this.readyState = CLOSED;
    }
    this.emit('close', code, reason);
  }

  // ---- the core's events (engine-events.js) ---------------------------------------

  _opened() {
    this.readyState = OPEN;
    this.emit('connect');
  }

  _message(data, binary) {
    if (this.readyState !== OPEN) return;
    if (!binary) {
      // A string (the core's textAsStrings) unless the engine skips UTF-8 checks.
      const text = typeof data === 'string' ? data : data.toString();
      // A string of n characters is n to 3n bytes: counted only when that decides.
      if (text.length * 3 > limits.maxBufferLength && Buffer.byteLength(text) > limits.maxBufferLength) return this.close(1009);
      // The listener called directly when there is one (as the core's batch decoder
      // does): emit()'s bookkeeping is a good part of a small message's cost.
      const listener = this._events.text;
      if (typeof listener === 'function') listener.call(this, text);
      else this.emit('text', text);
      return;
    }
    const inStream = this._core.messageReadable(this.socket, true);
    this.emit('binary', inStream);
    this._core.pushMessagePart(this.socket, inStream, data);
    inStream.push(null);
  }

  _fragment(data, binary, remaining) {
    if (this.readyState !== OPEN) return;
    if (!binary) {
      // Text is delivered whole: its pieces are kept, up to maxBufferLength.
      if (this._text === null) this._text = [];
      this._textBytes += data.length;
      if (this._textBytes > limits.maxBufferLength) {
        this._text = null;
        this._textBytes = 0;
        return this.close(1009);
      }
      this._text.push(Buffer.from(data));
      if (remaining === 0) {
        const text = Buffer.concat(this._text).toString();
        this._text = null;
        this._textBytes = 0;
        this.emit('text', text);
      }
      return;
    }
    if (this._inStream === null) {
      this._inStream = this._core.messageReadable(this.socket, true);
      this.emit('binary', this._inStream);
    }
    this._core.pushMessagePart(this.socket, this._inStream, data);
    if (remaining === 0) {
      this._inStream.push(null);
      this._inStream = null;
    }
  }

  _pong(data) {
    this.emit('pong', data.toString());
  }

  _drained() {
    const callbacks = this._sentCallbacks;
    this._sentCallbacks = [];
    for (const callback of callbacks) callback();
  }

  /** The peer's close frame: as in the package, the connection is closed for us then. */
  _peerClosing(code, reason) {
    if (this.readyState !== OPEN) return;
    this.readyState = CLOSED;
    this.emit('close', code, reason);
  }

  /** The connection is gone: 1006 (or the protocol error's code) if it was still open. */
  _closed(code, errorCode) {
    const wasActive = this.readyState === CONNECTING || this.readyState === OPEN;
    // As in the package, 'close' sees the state the connection was in.
    if (wasActive) this.emit('close', errorCode === undefined || code === 1006 ? 1006 : code, errorCode === undefined || code === 1006 ? '' : undefined);
    this.readyState = CLOSED;
    // The package ends a binary message cut off by the close, as if it were whole.
    if (this._inStream !== null) {
      if (!this._inStream.destroyed) this._inStream.push(null);
      this._inStream = null;
    }
    if (this.outStream !== null) this.outStream.end();
    const callbacks = this._sentCallbacks;
    this._sentCallbacks = [];
    for (const callback of callbacks) callback(new Error('The connection closed before the data was written'));
  }
}

Object.assign(Connection.prototype, { CONNECTING, OPEN, CLOSING, CLOSED });

module.exports = { Connection };
