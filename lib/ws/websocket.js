'use strict';
// The server side of ws's WebSocket over one lws core socket. The engine owns
// the connection (framing, UTF-8, limits, pongs, close handshake); this object
// keeps ws's state machine, argument rules, events and error values.
// (Just over 600 lines on purpose: one class, ws's public surface method for
// method; the client handshake, send accounting and events live elsewhere.)

const { EventEmitter } = require('events');

const emitterEmit = EventEmitter.prototype.emit;
const { defineEventTarget } = require('./event-target');
const { protocolError, isValidStatusCode } = require('./errors');
const {
  KERNEL_TAKES, countSentThisTurn, sentPastKernelThisTurn, CompressionQueue, PendingCore, PendingSocket,
} = require('./send-accounting');
const { initAsClient, clientArguments, abortHandshake } = require('./client');
const { loopTimers } = require('../core');
const {
  READY_STATES, CONNECTING, OPEN, CLOSING, CLOSED, BINARY_TYPES, EMPTY_BUFFER, CLOSE_TIMEOUT, kFinished,
  kAttachPending, kAttachAccepted, kAttach, kAttachReading, kOnMessage, kOnPing, kOnPong, kOnDrain, kOnPeerClosing, kOnProtocolError, kOnClose, kClosedCleanly, kTerminated, kDropConnection, kEndConnection, kWriteRaw, kSocketClose, kCountedBy,
  PAUSED, DELIVER_SCHEDULED, SETTLE_SCHEDULED, ERROR_EMITTED, CLOSED_CLEANLY, CLOSE_FRAME_RECEIVED, CAPTURE_REJECTIONS,
  DEFER_EVENTS, DEFER_SCHEDULED,
} = require('./constants');

const hasBlob = typeof Blob !== 'undefined';
/** What waits behind a Blob being read (`_blobQueue` items' `kind`). */
const QUEUED_SEND = 0;
const QUEUED_PING = 1;
const QUEUED_PONG = 2;
const QUEUED_CLOSE = 3;
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

/** A message (owned: the core's `ownedMessages`) in the shape `binaryType` asks for. */
function deliverable(buf, isBinary, binaryType) {
  if (!isBinary || binaryType === 'nodebuffer') return buf;
  switch (binaryType) {
    case 'arraybuffer': {
      const ab = new ArrayBuffer(buf.length);
      new Uint8Array(ab).set(buf);
      return ab;
    }
    case 'fragments':
      // ws keeps a frame's data only when it has some: an empty message is no fragment at all.
      if (buf.length === 0) return [];
      return [buf];
    case 'blob':
      return new Blob([buf]);
    default:
      return buf;
  }
}

/** Send, ping and pong callbacks: `err` is null on success, as Node's socket.write gives ws's. */
function runCallbacks(ws, err) {
  const callbacks = ws._callbacks;
  if (callbacks === null) return;
  ws._callbacks = null;
  for (const cb of callbacks) cb(err);
}

/** A compression queue's callbacks join the others (in order); its bytes count no more. */
function retireCompression(ws, queue) {
  if (ws._compressing === queue) ws._compressing = null;
  ws._callbacks = queue.retire(ws._callbacks);
}

/**
 * After the tick's sends reached the engine: callbacks run now unless the
 * socket is backed up (then on 'drain'); behind a compressed message each one
 * runs with the bytes still behind it counted, as ws's after each compression.
 */
function settleCallbacks(ws) {
  ws._flags &= ~SETTLE_SCHEDULED;
  if (ws._readyState === CLOSED) return;
  const queue = ws._compressing;
  if (queue !== null && !queue.dropped && queue.epoch === ws._core.commandEpoch()) {
    // Not handed to the engine yet (a flush is due): look again after it.
    ws._flags |= SETTLE_SCHEDULED;
    loopTimers.setImmediate(settleCallbacks, ws);
    return;
  }
  // What the engine last reported queued for this socket; a 'drain' clears it.
  if (ws._socket.backlog > 0) {
    if (queue !== null && !queue.dropped) retireCompression(ws, queue);
    return;
  }
  // More than the kernel takes at once in one turn: the callbacks wait for the engine to have written
  // it ('drain'). Not after terminate(): what it wrote is all that leaves, as ws's destroyed socket.
  if (sentPastKernelThisTurn(ws) && !ws[kTerminated] && ws._core.reportWhenWritten(ws._socket)) {
    if (queue !== null && !queue.dropped) retireCompression(ws, queue);
    return;
  }
  runCallbacks(ws, null);
  if (queue === null || queue.dropped) return;
  queue.settle();
  if (ws._compressing === queue) ws._compressing = null;
}

/** Kinds of the events held while paused (ws reads nothing while paused: pings and the close frame wait too). */
const HELD_MESSAGE = 0;
const HELD_PING = 1;
const HELD_PONG = 2;
const HELD_CLOSING = 3;

function emitHeld(ws, [kind, buf, isBinary]) {
  switch (kind) {
    case HELD_MESSAGE:
      ws.emit('message', deliverable(buf, isBinary, ws._binaryType), isBinary);
      return;
    case HELD_PING:
      ws.emit('ping', buf);
      return;
    case HELD_PONG:
      ws.emit('pong', buf);
      return;
    default: // HELD_CLOSING
      if (ws._readyState === OPEN) ws._readyState = CLOSING;
  }
}

/** `_closeTimer` once the socket was terminated (by terminate() or the close timer). */
const TERMINATED = 0;

/**
 * The peer did not answer our close frame within closeTimeout: ws destroys the
 * socket, and its 'close' reports 1006. The engine's own close timer is set
 * later than this one (websocket-server.js), so it does not report our code first.
 */
function closeTimedOut(ws) {
  ws._closeTimer = TERMINATED;
  ws._terminatedEpoch = ws._core.commandEpoch();
  if (ws._readyState !== CLOSED) ws._core.terminate(ws._socket);
}

/**
 * The engine read this after the turn of the loop that terminated the socket:
 * ws's socket, destroyed then, never reads it, so it is not emitted. What came
 * in the batch being dispatched when terminate() ran still is, as ws's receiver
 * goes on with the chunk it is parsing (the command epoch moves on when that
 * turn's commands reach the engine).
 */
function readAfterTermination(ws) {
  return ws._closeTimer === TERMINATED && ws._core.commandEpoch() !== ws._terminatedEpoch;
}

/** The engine's socket replaces the stand-in `_socket` (TCP options set on that apply to it). */
function takeSocket(ws, socket) {
  const standIn = ws._socket;
  ws._socket = socket;
  if (standIn instanceof PendingSocket) standIn.handOver(socket);
}

/** terminate()'s end of the connection: ws's socket destroyed, with what it still had to write. */
function dropConnection(ws) {
  if (ws._closeTimer !== null && ws._closeTimer !== TERMINATED) clearTimeout(ws._closeTimer);
  ws._closeTimer = TERMINATED;
  ws._terminatedEpoch = ws._core.commandEpoch();
  const queue = ws._compressing;
  if (queue !== null && queue.epoch === ws._core.commandEpoch()) queue.dropped = true;
  // Messages ws would still be compressing never leave; plain ones go out as far as the socket takes them.
  ws._core.terminate(ws._socket, queue !== null && queue.dropped);
}

/** The connection is over: 'close', from within the held 'close' of handleUpgrade()'s socket if any (handed-over.js). */
function closed(ws, code, reason) {
  const socketClose = ws[kSocketClose];
  if (socketClose === null) return emitClosed(ws, code, reason);
  ws[kSocketClose] = null;
  if (ws._closeTimer === TERMINATED) {
    // Destroyed from this side (terminate(), the close timer, the socket's destroy()):
    // ws's 'close' waits for its receiver, after every listener of the socket's.
    socketClose(() => {
      ws._readyState = CLOSING;
    });
    emitClosed(ws, code, reason);
    return;
  }
  // The peer ended (or broke) ws's socket first, which made the WebSocket CLOSING.
  if (ws._readyState === OPEN) ws._readyState = CLOSING;
  socketClose(() => emitClosed(ws, code, reason));
}

function emitClosed(ws, code, reason) {
  ws._readyState = CLOSED;
  runCallbacks(ws, code === 1006 ? notOpenError(CLOSED) : null);
  ws.emit('close', code, reason);
}

function deliverHeld(ws) {
  ws._flags &= ~DELIVER_SCHEDULED;
  while (ws._held !== null && (ws._flags & PAUSED) === 0 && ws._readyState !== CLOSED) {
    const next = ws._held.shift();
    if (ws._held.length === 0) ws._held = null;
    if (next !== undefined) emitHeld(ws, next); // kAttachReading's hold may have stayed empty
  }
}

/** allowSynchronousEvents: false: the next held event waits for a turn of the event loop of its own. */
function scheduleDeferred(ws) {
  if ((ws._flags & (DEFER_SCHEDULED | PAUSED)) !== 0) return;
  ws._flags |= DEFER_SCHEDULED;
  setImmediate(deliverDeferred, ws);
}

/**
 * One 'message', 'ping' or 'pong' a turn, as ws's receiver emits them with
 * allowSynchronousEvents: false (from a setImmediate each). A close frame right
 * behind the event is read in the same turn; the connection's end, if it came
 * meanwhile, is reported after the last event.
 */
function deliverDeferred(ws) {
  ws._flags &= ~DEFER_SCHEDULED;
  let emitted = false;
  while (ws._held !== null && (ws._flags & PAUSED) === 0 && ws._readyState !== CLOSED) {
    const kind = ws._held[0][0];
    if (emitted && kind !== HELD_CLOSING) break;
    const next = ws._held.shift();
    if (ws._held.length === 0) ws._held = null;
    emitHeld(ws, next);
    if (kind !== HELD_CLOSING) emitted = true;
  }
  if (ws._held !== null) {
    scheduleDeferred(ws);
  } else if (ws._deferredClose !== null && (ws._flags & PAUSED) === 0) {
    const [, , errorCode, errorDetail, closeFrameUnread] = ws._deferredClose;
    if (errorCode && !closeFrameUnread) {
      // ws's receiver parses on right after the last event: the bad frame's 'error' comes in
      // this turn, 'close' in a later one.
      ws[kOnProtocolError](errorCode, errorDetail);
      setImmediate(closeDeferred, ws);
    } else if (closeFrameUnread) {
      // ws's 'close': once its receiver is done, when the socket had ended (next tick); when
      // the peer's close frame was still to be read, after answering it (a later turn).
      setImmediate(closeDeferred, ws);
    } else {
      process.nextTick(closeDeferred, ws);
    }
  }
}

function closeDeferred(ws) {
  const args = ws._deferredClose;
  if (args === null || ws._held !== null || (ws._flags & PAUSED) !== 0) return;
  ws._deferredClose = null;
  ws[kOnClose](args[0], args[1], args[2], args[3]);
}

class WebSocket extends EventEmitter {
  /**
   * `new WebSocket(address[, protocols][, options])` connects to a server, as ws's
   * client (lib/ws/client.js). Server-side sockets are made by WebSocketServer
   * (`new WebSocket(null, undefined, options)`, as in ws).
   */
  constructor(address, protocols, options) {
    super();
    this._events = new ListenerTable();
    this._binaryType = BINARY_TYPES[0];
    this._readyState = CONNECTING;
    this._protocol = '';
    this._extensions = NO_EXTENSIONS; // replaced, not mutated, when one is negotiated
    // PAUSED, SETTLE_SCHEDULED, ... (constants.js). EventEmitter's constructor reads
    // captureRejections once, for the instance's emit(): noted for kOnMessage's fast path.
    this._flags = EventEmitter.captureRejections ? CAPTURE_REJECTIONS : 0;
    this._core = null; // the lws.Server
    this._socket = null; // the lws core Socket (remoteAddress, remotePort, ...)
    this._callbacks = null; // send/ping/pong callbacks waiting for the data to leave
    this._compressing = null; // a CompressionQueue while a compressed send waits for the engine
    // _url, _bufferedAfterClose, _held, _blobQueue and _closeTimer: on the prototype (below) until set.
    if (address !== null) {
      // A client: its handshake (client.js) until the engine has the connection.
      this._req = null;
      this._handshake = null;
      [protocols, options] = clientArguments(protocols, options);
      options = initAsClient(this, address, protocols, options);
    }
    // Read as ws reads them: a server-side WebSocket made without options throws here, as
    // ws's does (on autoPong, the first it reads).
    const autoPong = options.autoPong;
    // ws's receiver: only an explicit falsy value defers events (undefined is its default, true).
    const synchronous = options.allowSynchronousEvents;
    if (synchronous !== undefined && !synchronous) this._flags |= DEFER_EVENTS;
    if (autoPong === undefined && options.closeTimeout === undefined) return;
    if (options.closeTimeout !== undefined && options.closeTimeout !== CLOSE_TIMEOUT) {
      this._closeTimeout = options.closeTimeout;
    }
  }

  get binaryType() {
    return this._binaryType;
  }

  set binaryType(type) {
    if (BINARY_TYPES.includes(type)) this._binaryType = type;
  }

  /**
   * ws's: what the socket has not taken yet. The tick's sends count once they
   * exceed what the kernel takes at once, or when the engine reported a backlog
   * (then with it); sends behind a compressed message count until compressed.
   */
  get bufferedAmount() {
    const socket = this._socket;
    if (socket === null || (this._readyState !== OPEN && this._readyState !== CLOSING)) return this._bufferedAfterClose;
    const backlog = socket.closed ? 0 : socket.backlog;
    let inJs = this._core.getBufferedAmount(socket) - backlog;
    const queue = this._compressing;
    let compressing = 0;
    if (queue !== null) {
      compressing = queue.bytes;
      if (queue.epoch === this._core.commandEpoch()) inJs -= queue.bytes;
    }
    const queued = backlog > 0 || inJs > KERNEL_TAKES ? inJs + backlog : 0;
    // What waits behind a Blob counts, as in ws (its sender's queue).
    const waiting = this._blobQueue === null ? 0 : this._blobQueue.reduce((sum, item) => sum + item.bytes, 0);
    return compressing + queued + waiting + this._bufferedAfterClose;
  }

  /** The negotiated extensions' names, as ws gives them ('permessage-deflate'); '' when none. */
  get extensions() {
    return Object.keys(this._extensions).join();
  }

  get isPaused() {
    return (this._flags & PAUSED) !== 0;
  }

  /** CloseEvent's wasClean. */
  get [kClosedCleanly]() {
    return (this._flags & CLOSED_CLEANLY) !== 0;
  }

  /** Ended by terminate() or the close timer: ws's socket was destroyed, so it never finishes writing. */
  get [kTerminated]() {
    return this._closeTimer === TERMINATED;
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

  /**
   * handleUpgrade(): open at once, as ws's WebSocket is when its callback runs;
   * `[kAttach]` connects it to the engine's socket when that is open. `peer`: a
   * PendingSocket with the client's address (`_socket.remoteAddress`, which ws users read).
   */
  [kAttachPending](core, protocol, extensions, peer) {
    this._core = new PendingCore(core);
    this._socket = peer;
    if (extensions) this._extensions = { [extensions.split(';')[0].trim()]: true };
    this._protocol = protocol || '';
    this._readyState = OPEN;
    this.emit('open');
  }

  /**
   * Called by WebSocketServer once it has accepted the engine's socket, before the
   * engine reports it open: what was asked meanwhile goes to the engine now, right
   * behind the 101, as ws writes a 'connection' listener's sends in the tick that
   * wrote its 101 (the client's first reply cannot overtake them).
   */
  [kAttachAccepted](core, socket) {
    if (!(this._core instanceof PendingCore)) return;
    const pending = this._core;
    this._core = core;
    takeSocket(this, socket);
    pending.replay(core, socket);
  }

  /** Called by WebSocketServer once the engine reports the connection open. */
  [kAttach](core, socket, protocol) {
    if (this._socket === socket) {
      socket.wrapper = this; // attached at the accept already
      return;
    }
    if (this._core instanceof PendingCore) {
      // Handed out already: what was asked meanwhile goes to the engine now, in order.
      const pending = this._core;
      this._core = core;
      takeSocket(this, socket);
      socket.wrapper = this;
      pending.replay(core, socket);
      return;
    }
    this._core = core;
    this._socket = socket;
    // ws lists negotiated extensions by name.
    if (socket.extensions) this._extensions = { [socket.extensions.split(';')[0].trim()]: true };
    this._protocol = protocol || '';
    socket.wrapper = this;
    this._readyState = OPEN;
    this.emit('open');
  }

  /**
   * A client whose 101 came with frames (client.js openWithFrames), open now: ws reads
   * them in a nextTick queued before it emits 'open' (its socket's 'data' resumes), so
   * what 'upgrade' listeners queued runs before them and what 'open' listeners queue
   * after. The engine's batch brings them right behind its 'open': they wait in `_held`
   * for that tick. (One event a turn with allowSynchronousEvents: false, as before.)
   */
  [kAttachReading](core, socket, protocol) {
    if ((this._flags & DEFER_EVENTS) === 0) {
      this._held = [];
      this._flags |= DELIVER_SCHEDULED;
      process.nextTick(deliverHeld, this);
    }
    this[kAttach](core, socket, protocol);
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
    if (this._blobQueue !== null || isBlob(data)) {
      return this._enqueue({ kind: QUEUED_SEND, data, bytes: byteLength(data), binary, fin, compress, cb });
    }
    const bytes = sendable(data);
    this._core.send(this._socket, bytes, binary, fin, compress);
    if (cb) countSentThisTurn(this, typeof bytes === 'string' ? bytes.length : bytes.byteLength);
    if (this._compressing !== null || (compress && fin && this._extensions !== NO_EXTENSIONS)) {
      if (this._queueBehindCompression(bytes, compress && fin, cb)) return;
    }
    if (cb) this._afterWrite(cb);
  }

  /**
   * A send that ws would compress, or queue behind one being compressed: it
   * joins this tick's CompressionQueue (with its callback). False otherwise.
   */
  _queueBehindCompression(bytes, compressible, cb) {
    const epoch = this._core.commandEpoch(); // bumped when the tick's commands go to the engine
    let queue = this._compressing;
    if (queue !== null && queue.epoch !== epoch) {
      retireCompression(this, queue); // an earlier tick's, already with the engine
      queue = null;
    }
    const length = byteLength(bytes);
    if (queue === null) {
      const deflate = this._core.options.engine.perMessageDeflate;
      if (!compressible || deflate === undefined || length < deflate.threshold) return false;
      queue = this._compressing = new CompressionQueue(epoch);
      if ((this._flags & SETTLE_SCHEDULED) === 0) {
        this._flags |= SETTLE_SCHEDULED;
        process.nextTick(settleCallbacks, this);
      }
    }
    queue.bytes += length;
    queue.sends.push(length, cb);
    return true;
  }

  /**
   * Blobs are read asynchronously: what is sent after one (sends, pings, pongs and
   * close()) waits in this queue until it is read, in order, as ws's sender queues it.
   */
  _enqueue(item) {
    const first = this._blobQueue === null;
    if (first) this._blobQueue = [];
    this._blobQueue.push(item);
    if (first) this._drainBlobQueue();
  }

  async _drainBlobQueue() {
    const queue = this._blobQueue;
    while (queue.length > 0) {
      const item = queue[0];
      let data = item.data;
      if (isBlob(data)) {
        try {
          data = Buffer.from(await data.arrayBuffer());
        } catch (err) {
          // As ws: every waiting callback gets the error, then 'error', and the connection ends (1006).
          this._failQueue(err, true);
          return;
        }
        if (this._closeTimer === TERMINATED || this._readyState === CLOSED || this._socket.closed) {
          this._failQueue(new Error('The socket was closed while the blob was being read'), false);
          return;
        }
      }
      queue.shift();
      const socket = this._socket;
      if (item.kind === QUEUED_SEND) {
        this._core.send(socket, sendable(data), item.binary, item.fin, item.compress);
        if (item.cb) countSentThisTurn(this, item.bytes);
      } else if (item.kind === QUEUED_PING) {
        this._core.ping(socket, data);
      } else if (item.kind === QUEUED_PONG) {
        this._core.pong(socket, data);
      } else {
        this._core.close(socket, item.code, item.reason);
      }
      if (item.cb) this._afterWrite(item.cb);
    }
    this._blobQueue = null;
  }

  /** The queue's Blob could not be read, or the connection is gone: nothing in the queue is sent. */
  _failQueue(err, isSendError) {
    const queue = this._blobQueue;
    this._blobQueue = null;
    process.nextTick(() => {
      for (const item of queue) if (item.cb) item.cb(err);
      if (!isSendError || this._readyState === CLOSED) return;
      this.terminate();
      if ((this._flags & ERROR_EMITTED) === 0) {
        this._flags |= ERROR_EMITTED;
        this.emit('error', err);
      }
    });
  }

  _sendAfterClose(data, cb) {
    if (data) this._bufferedAfterClose += byteLength(data);
    if (cb) process.nextTick(cb, notOpenError(this._readyState));
  }

  _afterWrite(cb) {
    if (this._callbacks === null) this._callbacks = [cb];
    else this._callbacks.push(cb);
    if ((this._flags & SETTLE_SCHEDULED) === 0) {
      this._flags |= SETTLE_SCHEDULED;
      // After the core's flush (its own nextTick, or the end of the event batch): where
      // ws's callback of a write the socket took at once runs, before later ticks' work.
      process.nextTick(settleCallbacks, this);
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
    if (this._blobQueue !== null) {
      const queued = kind === 'ping' ? QUEUED_PING : QUEUED_PONG;
      return this._enqueue({ kind: queued, data: payload, bytes: payload === undefined ? 0 : payload.length, cb });
    }
    if (kind === 'ping') this._core.ping(this._socket, payload);
    else this._core.pong(this._socket, payload);
    if (cb) this._afterWrite(cb);
  }

  // ---- lws extensions (ws has none): pub/sub in the engine ------------------------------

  /**
   * Subscribes this socket to a topic; `wss.publish(topic, data)` reaches it
   * (README: lws.Server#subscribe). False if it already was, or is closed.
   */
  subscribe(topic) {
    if (this._core === null || this._readyState > OPEN) return false;
    return this._core.subscribe(this._socket, topic);
  }

  unsubscribe(topic) {
    if (this._core === null || this._readyState > OPEN) return false;
    return this._core.unsubscribe(this._socket, topic);
  }

  isSubscribed(topic) {
    return this._core !== null && this._core.isSubscribed(this._socket, topic);
  }

  /** The topics this socket is subscribed to. */
  getTopics() {
    return this._core === null ? [] : this._core.getTopics(this._socket);
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
      if (this._url === undefined) this._readyState = CLOSED;
      else abortHandshake(this, 'WebSocket was closed before the connection was established');
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
    // Behind a Blob being read, the close frame waits for what was sent before it.
    if (this._blobQueue !== null) {
      const bytes = code === undefined ? 0 : 2 + (reason === undefined ? 0 : Buffer.byteLength(reason));
      this._blobQueue.push({ kind: QUEUED_CLOSE, data: undefined, bytes, code, reason, cb: undefined });
    } else {
      this._core.close(this._socket, code, reason);
    }
    this._readyState = CLOSING;
    this._closeTimer = setTimeout(closeTimedOut, this._closeTimeout, this);
  }

  terminate() {
    const state = this._readyState;
    if (state === CLOSED) return;
    if (state === CONNECTING) {
      if (this._url === undefined) this._readyState = CLOSED;
      else abortHandshake(this, 'WebSocket was closed before the connection was established');
      return;
    }
    if (this._core === null) return; // a client whose handshake failed: nothing to drop
    this._readyState = CLOSING;
    dropConnection(this);
  }

  /**
   * The Node socket handleUpgrade() was given was destroyed (handed-over.js): in
   * ws that is this WebSocket's own socket, so the connection drops ('close'
   * 1006), and readyState stays as it was until then.
   */
  [kDropConnection]() {
    if (this._readyState === CLOSED || this._closeTimer === TERMINATED) return;
    dropConnection(this);
  }

  /**
   * Bytes written to that socket (handed-over.js): in ws they go out as they are,
   * between whatever frames this WebSocket writes. False once nothing can be written.
   */
  [kWriteRaw](bytes) {
    if (this._readyState !== OPEN || this._closeTimer === TERMINATED || this._core === null) return false;
    return this._core.writeRaw(this._socket, bytes);
  }

  /** That socket's end(): TCP ends once what was sent is written; 'close' (1006) follows the peer's end. */
  [kEndConnection]() {
    if (this._readyState !== OPEN || this._closeTimer === TERMINATED || this._core === null) return;
    this._core.endWhenWritten(this._socket);
  }

  /** Stops reading: the engine stops reading the TCP socket and no 'message' is emitted until resume(). */
  pause() {
    if (this._readyState === CONNECTING || this._readyState === CLOSED || this._core === null) return;
    this._flags |= PAUSED;
    this._core.pause(this._socket);
  }

  resume() {
    if (this._readyState === CONNECTING || this._readyState === CLOSED || this._core === null) return;
    this._flags &= ~PAUSED;
    this._core.resume(this._socket);
    if ((this._flags & DEFER_EVENTS) !== 0) {
      if (this._held !== null || this._deferredClose !== null) scheduleDeferred(this);
    } else if (this._held !== null && (this._flags & DELIVER_SCHEDULED) === 0) {
      this._flags |= DELIVER_SCHEDULED;
      process.nextTick(deliverHeld, this);
    }
  }

  // ---- from the engine (called by WebSocketServer) --------------------------------

  /** Events wait while paused, and behind events already waiting. */
  _mustHold() {
    return (this._flags & PAUSED) !== 0 || this._held !== null;
  }

  /** A message, ping or pong also waits for a turn of its own with allowSynchronousEvents: false. */
  _mustDefer() {
    return (this._flags & (PAUSED | DEFER_EVENTS)) !== 0 || this._held !== null;
  }

  _hold(entry) {
    if (this._held === null) this._held = [entry];
    else this._held.push(entry);
    if ((this._flags & DEFER_EVENTS) !== 0) scheduleDeferred(this);
  }

  [kOnMessage](buf, isBinary) {
    if (readAfterTermination(this)) return;
    if (this._mustDefer()) return this._hold([HELD_MESSAGE, buf, isBinary]);
    // Once per message: one listener is called as emit() would call it, without
    // emit()'s bookkeeping. emit() still handles several listeners, captured
    // rejections, and an emit() replaced on the socket or in a subclass (ws emits
    // every message through it).
    const listener = this._events.message;
    if (listener === undefined) return;
    const data = deliverable(buf, isBinary, this._binaryType);
    if (typeof listener === 'function' && (this._flags & CAPTURE_REJECTIONS) === 0 && this.emit === emitterEmit) {
      listener.call(this, data, isBinary);
    } else {
      this.emit('message', data, isBinary);
    }
  }

  [kOnPing](buf) {
    if (readAfterTermination(this)) return;
    if (this._mustDefer()) return this._hold([HELD_PING, Buffer.from(buf)]);
    if (this.listenerCount('ping') > 0) this.emit('ping', Buffer.from(buf));
  }

  [kOnPong](buf) {
    if (readAfterTermination(this)) return;
    if (this._mustDefer()) return this._hold([HELD_PONG, Buffer.from(buf)]);
    if (this.listenerCount('pong') > 0) this.emit('pong', Buffer.from(buf));
  }

  [kOnDrain]() {
    runCallbacks(this, null);
  }

  /**
   * The peer's close frame arrived (core 'closing'), after the messages before
   * it: as in ws, the socket is CLOSING from now on, sends fail, and the reply
   * echoing `code` and `reason` leaves after what the listeners sent until now.
   */
  [kOnPeerClosing](code, reason) {
    if (readAfterTermination(this)) return; // ws never reads it: its 'close' reports 1006
    this._flags |= CLOSE_FRAME_RECEIVED;
    if (this._mustHold()) return this._hold([HELD_CLOSING]);
    if (this._readyState === OPEN) this._readyState = CLOSING;
  }

  /**
   * The engine closed the connection for a bad frame it read (`errorCode`). ws's receiver
   * emits the 'error' as it finds the frame, and 'close' only once its socket has closed,
   * a turn or more later: the caller emits 'close' after (kOnClose, which then emits no
   * second error). Events still held (pause(), or each waiting for its turn with
   * allowSynchronousEvents: false) come first: the error waits for them (deliverDeferred).
   */
  [kOnProtocolError](errorCode, errorDetail) {
    if (this._mustHold() || readAfterTermination(this) || (this._flags & ERROR_EMITTED) !== 0) return;
    this._flags |= ERROR_EMITTED;
    this._readyState = CLOSING;
    this.emit('error', protocolError(errorCode, errorDetail));
  }

  /** The connection is over. `errorCode` names the protocol error the engine closed for. */
  [kOnClose](code, reason, errorCode, errorDetail) {
    if (this._closeTimer !== null && this._closeTimer !== TERMINATED) {
      clearTimeout(this._closeTimer);
      this._closeTimer = null;
    }
    if (this._held !== null && (this._flags & (DEFER_EVENTS | PAUSED)) === DEFER_EVENTS) {
      // ws's receiver still emits its deferred events, a turn each, before 'close'.
      const closeFrameUnread = this._held.some((entry) => entry[0] === HELD_CLOSING);
      this._deferredClose = [code, reason, errorCode, errorDetail, closeFrameUnread];
      // CLOSING once the close frame is read (HELD_CLOSING), else now, as ws's socket 'close'
      // (for a protocol error: once its receiver reaches the bad frame, kOnProtocolError).
      if (!closeFrameUnread && !errorCode && this._readyState === OPEN) this._readyState = CLOSING;
      return;
    }
    // Events held by pause() still come first, as ws reads what the socket had buffered.
    if (this._held !== null) {
      const held = this._held;
      this._held = null;
      for (const entry of held) emitHeld(this, entry);
    }
    let reasonBuffer = reason ? Buffer.from(reason) : EMPTY_BUFFER;
    // A bad frame read after terminate(): ws never reads it, so emits no error for it.
    if (errorCode && readAfterTermination(this)) errorCode = undefined;
    if (errorCode) {
      // ws emits the error (while CLOSING), sends its close frame and stops reading,
      // so its 'close' reports 1006 with no reason.
      code = 1006;
      reasonBuffer = EMPTY_BUFFER;
      if ((this._flags & ERROR_EMITTED) === 0) {
        this._flags |= ERROR_EMITTED;
        this._readyState = CLOSING;
        this.emit('error', protocolError(errorCode, errorDetail));
      }
    } else if ((this._flags & CLOSE_FRAME_RECEIVED) === 0) {
      // No close frame from the peer (it went away, or never answered ours): ws reports 1006.
      code = 1006;
      reasonBuffer = EMPTY_BUFFER;
    }
    if (code !== 1006) this._flags |= CLOSED_CLEANLY;
    const queue = this._compressing;
    if (queue !== null && queue.dropped) {
      // As ws's deflate cleanup: these sends never left; told right before 'close', still CLOSING.
      this._compressing = null;
      this._bufferedAfterClose += queue.bytes;
      queue.fail();
    } else if (queue !== null) {
      retireCompression(this, queue); // with the engine already: its callbacks end as the others'
    }
    if (!this[kTerminated] && this.listenerCount(kFinished) > 0) {
      // A stream's end() waits for this; ws's socket finishes a tick or more before
      // its 'close', so the stream's 'finish' (due next tick) comes first here too.
      this.emit(kFinished);
      process.nextTick(closed, this, code, reasonBuffer);
      return;
    }
    closed(this, code, reasonBuffer);
  }
}

WebSocket.prototype._closeTimeout = CLOSE_TIMEOUT;
// What an open, idle socket never sets: its own property only once set (an idle socket is
// kept per connection, and each field is 8 bytes of it; the benchmark's memory rows hold 10,000).
/** Bytes send() was given after the socket closed (ws counts them in bufferedAmount). */
WebSocket.prototype._bufferedAfterClose = 0;
/** Events received while paused or deferred: [kind, ownedBuffer, isBinary][] (HELD_*), or null. */
WebSocket.prototype._held = null;
/** kOnClose's arguments while deferred events are still to be emitted (allowSynchronousEvents: false), or null. */
WebSocket.prototype._deferredClose = null;
/** A client's URL (as ws, server-side sockets have none): set by initAsClient (client.js). */
WebSocket.prototype._url = undefined;
/** Sends waiting behind a Blob being read, or null. */
WebSocket.prototype._blobQueue = null;
/**
 * ws's close timer: a close() the peer does not answer in time ends with terminate() (1006).
 * null, the Timeout, or TERMINATED. The timeout is an own property only when not ws's default.
 */
WebSocket.prototype._closeTimer = null;
/** The command epoch terminate() (or the close timer) ran in: see readAfterTermination(). */
WebSocket.prototype._terminatedEpoch = -1;
/** A client's redirects followed so far: an own property only once it followed one (few do). */
WebSocket.prototype._redirects = 0;
/** handleUpgrade()'s socket's held 'close' (handed-over.js): set only when someone listens to it. */
WebSocket.prototype[kSocketClose] = null;
/** The http server that counts the connection (handed-over.js): set for handleUpgrade()'s plain TCP sockets. */
WebSocket.prototype[kCountedBy] = null;

for (const [i, name] of READY_STATES.entries()) {
  Object.defineProperty(WebSocket, name, { enumerable: true, value: i });
  Object.defineProperty(WebSocket.prototype, name, { enumerable: true, value: i });
}

for (const name of ['binaryType', 'bufferedAmount', 'extensions', 'isPaused', 'protocol', 'readyState', 'url']) {
  Object.defineProperty(WebSocket.prototype, name, { enumerable: true });
}

defineEventTarget(WebSocket.prototype);

module.exports = WebSocket;
