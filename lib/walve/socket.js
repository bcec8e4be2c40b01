'use strict';
// Socket: one WebSocket connection, walve 2's Writable. Frames the peer sends
// come as 'incoming' (an Incoming per frame, control frames included: the
// engine has already answered pings and closes); Outgoings piped into it are
// sent as frames (frame-writer.js); end() closes the TCP connection once what
// was written is sent; 'end' (and 'close') when the connection is gone.

const { Writable } = require('stream');
const { Incoming, headerOf } = require('./incoming');
const { pieceOf } = require('./outgoing');
const { FrameWriter } = require('./frame-writer');
const { misuse, report } = require('./misuse');

/** The server's token: sockets are made by the server, never by users. */
const kCreate = Symbol('walve.createSocket');
/** Engine events, routed by the server. */
const kOnFrameHead = Symbol('walve.onFrameHead');
const kOnFrameData = Symbol('walve.onFrameData');
const kOnDrain = Symbol('walve.onDrain');
const kOnClose = Symbol('walve.onClose');
const kOnError = Symbol('walve.onError');

class Socket extends Writable {
  constructor(token, core, coreSocket) {
    if (token !== kCreate) {
      throw new TypeError('lws/walve: a Socket comes from the server\'s \'connect\' event; the engine owns the connection, so a TCP socket cannot be wrapped');
    }
    super();
    this._core = core;
    this._coreSocket = coreSocket;
    this._frames = new FrameWriter(core, coreSocket);
    this._incoming = null; // the frame being received
    this._afterDrain = null; // the write callback waiting for the engine's 'drain'
    this._gone = false;
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
    if (piece.frame !== null) {
      this._frames.head(piece.outgoing, piece.frame);
      return callback();
    }
    if (this._frames.payload(piece.outgoing, chunk)) return callback();
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
    const incoming = new Incoming(headerOf(head, length, mask), this._flow);
    this._incoming = incoming;
    this.emit('incoming', incoming);
  }

  [kOnFrameData](piece, end) {
    const incoming = this._incoming;
    if (end) this._incoming = null;
    if (incoming !== null) incoming.deliver(Buffer.from(piece), end); // a copy: the engine's batch is lent
  }

  [kOnDrain]() {
    const callback = this._afterDrain;
    this._afterDrain = null;
    if (callback !== null) callback();
  }

  [kOnError](err) {
    report(this, err);
  }

  /** The connection is gone (`code` as the engine reports it: 1006 without a close handshake). */
  [kOnClose](code) {
    this._gone = true;
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

module.exports = { Socket, kCreate, kOnFrameHead, kOnFrameData, kOnDrain, kOnClose, kOnError };
