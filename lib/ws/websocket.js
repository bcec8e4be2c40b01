'use strict';
// The server side of ws's WebSocket over one lws core socket. The engine owns
// the connection (framing, UTF-8, limits, pongs, close handshake); this object
// keeps ws's state machine, argument rules, events and error values.

const { EventEmitter } = require('events');
const { defineEventTarget } = require('./event-target');
const { protocolError, isValidStatusCode } = require('./errors');
const { READY_STATES, CONNECTING, OPEN, CLOSING, CLOSED, BINARY_TYPES, EMPTY_BUFFER } = require('./constants');

const hasBlob = typeof Blob !== 'undefined';
const isBlob = (v) => hasBlob && v instanceof Blob;

function notOpenError(state) {
  return new Error(`WebSocket is not open: readyState ${state} (${READY_STATES[state]})`);
}

/**
 * EventEmitter's listener table for each WebSocket. EventEmitter makes it with
 * `{ __proto__: null }`, which V8 keeps in dictionary mode (about 200 bytes per
 * socket). An instance of this constructor has no inherited names either (its
 * prototype is an empty null-prototype object), so every lookup EventEmitter
 * makes gives the same answer, and it stays a small fast-mode object.
 */
function ListenerTable() {}
ListenerTable.prototype = Object.create(null);

/** Shared by every socket without extensions (most): one object less per connection. */
const NO_EXTENSIONS = Object.freeze({});

/** Bytes (or a string) the core can send, from anything ws.send() takes. */
function sendable(data) {
  if (typeof data === 'string' || Buffer.isBuffer(data)) return data;
  if (data === undefined || data === null) return EMPTY_BUFFER;
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data;
  if (typeof SharedArrayBuffer !== 'undefined' && data instanceof SharedArrayBuffer) return data;
  return Buffer.from(data); // arrays and array-likes, as ws accepts; throws a TypeError otherwise
}

function byteLength(data) {
  if (typeof data === 'string') return Buffer.byteLength(data);
  if (isBlob(data)) return data.size;
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength;
  return data == null ? 0 : sendable(data).length;
}

/** A control frame payload: at most 125 bytes. */
function controlPayload(data) {
  if (data === undefined || data === null) return undefined;
  const bytes = typeof data === 'string' ? Buffer.from(data) : sendable(data);
  if (bytes.byteLength > 125) throw new RangeError('The data size must not be greater than 125 bytes');
  return bytes;
}

/** An owned copy of a lent engine buffer, in the shape `binaryType` asks for. */
function deliverable(buf, isBinary, binaryType, owned) {
  if (!isBinary || binaryType === 'nodebuffer') return owned ? buf : Buffer.from(buf);
  switch (binaryType) {
    case 'arraybuffer': {
      const ab = new ArrayBuffer(buf.length);
      new Uint8Array(ab).set(buf);
      return ab;
    }
    case 'fragments':
      return [owned ? buf : Buffer.from(buf)];
    case 'blob':
      return new Blob([buf]);
    default:
      return owned ? buf : Buffer.from(buf);
  }
}

function runCallbacks(ws, err) {
  const callbacks = ws._callbacks;
  if (callbacks === null) return;
  ws._callbacks = null;
  for (const cb of callbacks) cb(err);
}

/** After a send: callbacks run once the engine has the data and is not backed up, else on 'drain'. */
function settleCallbacks(ws) {
  ws._settleScheduled = false;
  if (ws._callbacks === null || ws._readyState === CLOSED) return;
  // `_backlog` is what the engine last reported queued for this socket; a DRAIN event clears it.
  if (ws._socket._backlog > 0) return;
  runCallbacks(ws, undefined);
}

function deliverHeld(ws) {
  ws._deliverScheduled = false;
  while (ws._held !== null && !ws._paused && ws._readyState !== CLOSED) {
    const next = ws._held.shift();
    if (ws._held.length === 0) ws._held = null;
    ws.emit('message', deliverable(next[0], next[1], ws._binaryType, true), next[1]);
  }
}

class WebSocket extends EventEmitter {
  /**
   * Server-side sockets are made by WebSocketServer (`new WebSocket(null)`, as in ws).
   * lws has no client: use the `ws` package to connect to servers.
   */
  constructor(address, protocols, options) {
    super();
    this._events = new ListenerTable();
    if (address !== null) {
      throw new Error('lws implements the server side of ws only: use the "ws" package for WebSocket clients');
    }
    this._binaryType = BINARY_TYPES[0];
    this._readyState = CONNECTING;
    this._protocol = '';
    this._extensions = NO_EXTENSIONS; // replaced, not mutated, when one is negotiated
    this._paused = false;
    this._url = undefined;
    this._core = null; // the lws.Server
    this._socket = null; // the lws core Socket (remoteAddress, remotePort, ...)
    this._bufferedAfterClose = 0;
    this._held = null; // messages received while paused: [ownedBuffer, isBinary][]
    this._deliverScheduled = false;
    this._callbacks = null; // send/ping/pong callbacks waiting for the data to leave
    this._settleScheduled = false;
    this._blobQueue = null; // sends waiting behind a Blob being read
    this._errorEmitted = false;
    this._closedCleanly = false;
  }

  get binaryType() {
    return this._binaryType;
  }

  set binaryType(type) {
    if (BINARY_TYPES.includes(type)) this._binaryType = type;
  }

  get bufferedAmount() {
    if (this._readyState === OPEN || this._readyState === CLOSING) {
      return this._core.getBufferedAmount(this._socket) + this._bufferedAfterClose;
    }
    return this._bufferedAfterClose;
  }

  /** permessage-deflate is not negotiated yet: always ''. */
  get extensions() {
    return Object.keys(this._extensions).join();
  }

  get isPaused() {
    return this._paused;
  }

  get protocol() {
    return this._protocol;
  }

  get readyState() {
    return this._readyState;
  }

  /** Only clients have a URL (as in ws). */
  get url() {
    return this._url;
  }

  /** Called by WebSocketServer once the engine reports the connection open. */
  _attach(core, socket, protocol) {
    this._core = core;
    this._socket = socket;
    // ws lists negotiated extensions by name.
    if (socket.extensions) this._extensions = { [socket.extensions.split(';')[0].trim()]: true };
    this._protocol = protocol || '';
    socket._wrapper = this;
    this._readyState = OPEN;
    this.emit('open');
  }

  send(data, options, cb) {
    if (this._readyState === CONNECTING) throw notOpenError(CONNECTING);
    if (typeof options === 'function') {
      cb = options;
      options = undefined;
    }
    if (typeof data === 'number') data = data.toString();
    if (this._readyState !== OPEN) return this._sendAfterClose(data, cb);
    const binary = options && options.binary !== undefined ? Boolean(options.binary) : typeof data !== 'string';
    const fin = options && options.fin !== undefined ? Boolean(options.fin) : true;
    const compress = !(options && options.compress === false);
    if (this._blobQueue !== null || isBlob(data)) return this._sendInOrder(data, binary, fin, cb);
    this._core.send(this._socket, sendable(data), binary, fin, compress);
    if (cb) this._afterWrite(cb);
  }

  /** Blobs are read asynchronously; what is sent after one waits for it, keeping the order. */
  _sendInOrder(data, binary, fin, cb) {
    const first = this._blobQueue === null;
    if (first) this._blobQueue = [];
    this._blobQueue.push({ data, binary, fin, cb });
    if (first) this._drainBlobQueue();
  }

  async _drainBlobQueue() {
    while (this._blobQueue.length > 0) {
      const item = this._blobQueue[0];
      let data = item.data;
      let failure;
      if (isBlob(data)) {
        try {
          data = Buffer.from(await data.arrayBuffer());
        } catch (err) {
          failure = err;
        }
      }
      this._blobQueue.shift();
      if (failure !== undefined || this._readyState !== OPEN) {
        const err = failure || notOpenError(this._readyState);
        if (item.cb) process.nextTick(item.cb, err);
        continue;
      }
      this._core.send(this._socket, sendable(data), item.binary, item.fin);
      if (item.cb) this._afterWrite(item.cb);
    }
    this._blobQueue = null;
  }

  _sendAfterClose(data, cb) {
    if (data) this._bufferedAfterClose += byteLength(data);
    if (cb) process.nextTick(cb, notOpenError(this._readyState));
  }

  _afterWrite(cb) {
    if (this._callbacks === null) this._callbacks = [cb];
    else this._callbacks.push(cb);
    if (!this._settleScheduled) {
      this._settleScheduled = true;
      setImmediate(settleCallbacks, this);
    }
  }

  _control(kind, data, mask, cb) {
    if (this._readyState === CONNECTING) throw notOpenError(CONNECTING);
    if (typeof data === 'function') {
      cb = data;
      data = undefined;
    } else if (typeof mask === 'function') {
      cb = mask;
    }
    if (typeof data === 'number') data = data.toString();
    if (this._readyState !== OPEN) return this._sendAfterClose(data, cb);
    const payload = controlPayload(data);
    if (kind === 'ping') this._core.ping(this._socket, payload);
    else this._core.pong(this._socket, payload);
    if (cb) this._afterWrite(cb);
  }

  /** ping([data[, mask]][, cb]); the answer arrives as a 'pong' event. */
  ping(data, mask, cb) {
    this._control('ping', data, mask, cb);
  }

  /** pong([data[, mask]][, cb]); pongs to pings are sent by the engine already. */
  pong(data, mask, cb) {
    this._control('pong', data, mask, cb);
  }

  close(code, data) {
    const state = this._readyState;
    if (state === CLOSED || state === CLOSING) return;
    if (state === CONNECTING) {
      this._readyState = CLOSED;
      return;
    }
    let reason;
    if (code !== undefined) {
      if (typeof code !== 'number' || !isValidStatusCode(code)) {
        throw new TypeError('First argument must be a valid error code number');
      }
      if (data !== undefined && data !== null && data.length) {
        if (typeof data === 'string') reason = data;
        else if (data instanceof Uint8Array) reason = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString();
        else throw new TypeError('Second argument must be a string or a Uint8Array');
        if (Buffer.byteLength(data) > 123) throw new RangeError('The message must not be greater than 123 bytes');
      }
    }
    this._core.close(this._socket, code, reason);
    this._readyState = CLOSING;
  }

  terminate() {
    const state = this._readyState;
    if (state === CLOSED) return;
    if (state === CONNECTING) {
      this._readyState = CLOSED;
      return;
    }
    this._readyState = CLOSING;
    this._core.terminate(this._socket);
  }

  /** Stops reading: the engine stops reading the TCP socket and no 'message' is emitted until resume(). */
  pause() {
    if (this._readyState === CONNECTING || this._readyState === CLOSED) return;
    this._paused = true;
    this._core.pause(this._socket);
  }

  resume() {
    if (this._readyState === CONNECTING || this._readyState === CLOSED) return;
    this._paused = false;
    this._core.resume(this._socket);
    if (this._held !== null && !this._deliverScheduled) {
      this._deliverScheduled = true;
      process.nextTick(deliverHeld, this);
    }
  }

  // ---- from the engine (called by WebSocketServer) --------------------------------

  _onMessage(buf, isBinary) {
    if (this._paused || this._held !== null) {
      const copy = Buffer.from(buf);
      if (this._held === null) this._held = [[copy, isBinary]];
      else this._held.push([copy, isBinary]);
      return;
    }
    if (this.listenerCount('message') === 0) return;
    this.emit('message', deliverable(buf, isBinary, this._binaryType, false), isBinary);
  }

  _onPing(buf) {
    if (this.listenerCount('ping') > 0) this.emit('ping', Buffer.from(buf));
  }

  _onPong(buf) {
    if (this.listenerCount('pong') > 0) this.emit('pong', Buffer.from(buf));
  }

  _onDrain() {
    runCallbacks(this, undefined);
  }

  /** The connection is over. `errorCode` names the protocol error the engine closed for. */
  _onClose(code, reason, errorCode) {
    // Messages held by pause() still come first, as ws reads what the socket had buffered.
    if (this._held !== null) {
      const held = this._held;
      this._held = null;
      for (const [buf, isBinary] of held) this.emit('message', deliverable(buf, isBinary, this._binaryType, true), isBinary);
    }
    let reasonBuffer = reason ? Buffer.from(reason) : EMPTY_BUFFER;
    if (errorCode) {
      // ws emits the error (while CLOSING), sends its close frame and stops reading,
      // so its 'close' reports 1006 with no reason.
      code = 1006;
      reasonBuffer = EMPTY_BUFFER;
      if (!this._errorEmitted) {
        this._errorEmitted = true;
        this._readyState = CLOSING;
        this.emit('error', protocolError(errorCode, reason));
      }
    }
    this._closedCleanly = code !== 1006;
    this._readyState = CLOSED;
    runCallbacks(this, code === 1006 ? notOpenError(CLOSED) : undefined);
    this.emit('close', code, reasonBuffer);
  }
}

for (const [i, name] of READY_STATES.entries()) {
  Object.defineProperty(WebSocket, name, { enumerable: true, value: i });
  Object.defineProperty(WebSocket.prototype, name, { enumerable: true, value: i });
}

for (const name of ['binaryType', 'bufferedAmount', 'extensions', 'isPaused', 'protocol', 'readyState', 'url']) {
  Object.defineProperty(WebSocket.prototype, name, { enumerable: true });
}

defineEventTarget(WebSocket.prototype);

module.exports = WebSocket;
