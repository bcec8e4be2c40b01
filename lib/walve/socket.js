'use strict';
// Socket: one WebSocket connection, walve 2's Writable. Frames the peer sends
// come as 'incoming' (an Incoming per frame, control frames included: the
// engine has already answered pings and closes); Outgoings piped into it are
// sent as frames (frame-writer.js); end() closes the TCP connection once what
// was written is sent; 'end' (and 'close') when the connection is gone.

const { Writable } = require('stream');
const { Incoming, headerOf, kCreate: kCreateIncoming } = require('./incoming');
const { Outgoing, pieceOf } = require('./outgoing');
const { FrameWriter } = require('./frame-writer');
const { misuse, report } = require('./misuse');
const { protocolError } = require('../ws/errors');
const { IdleTimer } = require('./idle');

/** The server's token: sockets are made by the server, never by users. */
const kCreate = Symbol('walve.createSocket');
/** Engine events, routed by the server. */
const kOnFrameHead = Symbol('walve.onFrameHead');
const kOnFrameData = Symbol('walve.onFrameData');
const kOnDrain = Symbol('walve.onDrain');
const kOnClose = Symbol('walve.onClose');
const kOnError = Symbol('walve.onError');

class Socket extends Writable {
  /** `idle`: the http socket's timeout in ms (0: none), see idle.js. */
  constructor(token, core, coreSocket, idle) {
    if (token !== kCreate) {
      throw new TypeError('lws/walve: a Socket comes from the server\'s \'connect\' event; the engine owns the connection, so a TCP socket cannot be wrapped');
    }
    // Not destroyed at 'finish' (walve's readable-stream 3 streams never are): end()
    // leaves the engine sending what was written, and 'close' comes with the connection's end.
    super({ autoDestroy: false });
    this._core = core;
    this._coreSocket = coreSocket;
    this._frames = new FrameWriter(core, coreSocket);
    this._incoming = null; // the frame being received
    this._later = null; // engine events held for the next tick (see kOnFrameData)
    this._afterDrain = null; // the write callback waiting for the engine's 'drain'
    this._gone = false;
    this._idle = idle > 0 ? new IdleTimer(idle, () => this._onIdle()) : null;
    // pause()/resume() of the engine's reading, for the Incoming being read (incoming.js).
    this._flow = {
      pause: () => core.pause(coreSocket),
      resume: () => core.resume(coreSocket),
    };
  }

  _write(chunk, encoding, callback) {
    const piece = pieceOf(chunk);
    if (piece === undefined) {
      misuse(this, 'LWS_ERR_WALVE_RAW_WRITE', `${chunk.length} bytes written to the socket were dropped: frames come from an Outgoing piped into it (the engine writes the frame heads)`);
      return callback();
    }
    if (this._gone) return callback();
    if (this._idle !== null) this._idle.touch();
    if (piece.frame !== null) {
      this._frames.head(piece.outgoing, piece.frame);
      return callback();
    }
    if (this._frames.payload(piece.outgoing, piece.payload)) return callback();
    this._afterDrain = callback; // the engine reported a backlog: its 'drain' goes on
  }

  _final(callback) {
    this._frames.whenIdle(() => {
      if (!this._gone) this._core.endWhenWritten(this._coreSocket);
      callback();
    });
  }

  _destroy(err, callback) {
    if (!this._gone) this._core.terminate(this._coreSocket);
    callback(err);
  }

  [kOnFrameHead](head, length, mask) {
    if (this._idle !== null) this._idle.touch();
    const header = headerOf(head, length, mask);
    if (this._later !== null) this._later.push(() => this._frameHead(header));
    else this._frameHead(header);
  }

  [kOnFrameData](piece, end) {
    if (this._idle !== null) this._idle.touch();
    const own = Buffer.from(piece); // a copy: the engine's batch is lent
    if (this._later !== null) this._later.push(() => this._frameData(own, end));
    else this._frameData(own, end);
  }

  _frameHead(header) {
    const incoming = new Incoming(kCreateIncoming, header, this._flow);
    this._incoming = incoming;
    this.emit('incoming', incoming);
  }

  _frameData(piece, end) {
    const incoming = this._incoming;
    if (end) {
      this._incoming = null;
      // As walve 2 does: what follows a frame's end (the next frames of the same
      // read, the connection's end) waits for the next tick, so listeners see each
      // frame's own ticks first, in the order walve's give them.
      this._later = [];
      process.nextTick(() => this._runLater());
    }
    if (incoming !== null) incoming.deliver(piece, end);
  }

  _runLater() {
    const later = this._later;
    this._later = null;
    for (let i = 0; i < later.length; i++) {
      later[i]();
      if (this._later !== null) {
        // Another frame ended: the rest waits for one more tick.
        for (let j = i + 1; j < later.length; j++) this._later.push(later[j]);
        return;
      }
    }
  }

  /** Idle for the http socket's timeout: walve's answer, an empty close frame (its reply is an 'incoming'). */
  _onIdle() {
    if (this._gone) return;
    const outgoing = new Outgoing({ header: { opcode: 0x08 } });
    outgoing.pipe(this, { end: false });
    outgoing.end('');
  }

  [kOnDrain]() {
    const callback = this._afterDrain;
    this._afterDrain = null;
    if (callback !== null) callback();
  }

  [kOnError](err) {
    report(this, err);
  }

  /**
   * The connection is gone (`code` as the engine reports it: 1006 without a close
   * handshake; `errorCode`, `errorDetail`: the peer's protocol error it closed for).
   */
  [kOnClose](code, errorCode, errorDetail) {
    if (this._later !== null) return void this._later.push(() => this[kOnClose](code, errorCode, errorDetail));
    this._gone = true;
    if (this._idle !== null) this._idle.stop();
    // walve emits 'error' on the socket for a frame it refuses (an invalid opcode): told
    // to those who listen; the rest are not crashed for what a peer sent.
    if (errorCode && this.listenerCount('error') > 0) this.emit('error', peerError(errorCode, errorDetail));
    const incoming = this._incoming;
    this._incoming = null;
    if (incoming !== null) {
      // The peer left mid-frame: the frame never ends. An error for those who listen, no crash for the rest.
      const err = new Error(`lws/walve: the connection closed (${code}) in the middle of a frame`);
      err.code = 'LWS_ERR_WALVE_FRAME_ABORTED';
      incoming.destroy(incoming.listenerCount('error') > 0 ? err : undefined);
    }
    this._frames.close();
    this[kOnDrain]();
    this.emit('end');
    this.destroy();
  }
}

/** The error for a peer's protocol error: walve's words where walve has them, else ws's. */
function peerError(errorCode, detail) {
  let message;
  if (errorCode === 'WS_ERR_INVALID_OPCODE' && ((detail >= 3 && detail <= 7) || detail >= 11)) message = `Invalid opcode ${detail}.`;
  else if (errorCode === 'WS_ERR_UNEXPECTED_RSV_1' || errorCode === 'WS_ERR_UNEXPECTED_RSV_2_3') message = 'RSV flag should not be set.';
  else if (errorCode === 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH' || errorCode === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') message = 'Payload length is too big.';
  else message = protocolError(errorCode, detail).message;
  const err = new Error(message);
  err.code = errorCode;
  return err;
}

module.exports = { Socket, kCreate, kOnFrameHead, kOnFrameData, kOnDrain, kOnClose, kOnError };
