'use strict';
// Streams over a CoreServer's sockets (one MessageStreams per server, made the
// first time a stream is asked for):
//   incoming  'messageStream' (socket, readable, binary): each message as a
//             Readable as it arrives; a full Readable pause()s the socket in the
//             engine (TCP pushes back on the peer) until it is read again.
//   outgoing  sendStream(socket[, options]) -> a Writable that sends one message
//             as fragments (fin on the last); its writes complete as the engine's
//             queue drains. Other sends on that socket throw until it ends.
//   duplex    createWebSocketStream(socket[, options]): ws's Duplex for a socket.
// The batch decoder hands this module the messages and fragments of the sockets
// it claims; core-server.js calls drained()/closed() from the engine's records.

const { Readable, Writable, Duplex } = require('stream');
const { backlogOf } = require('./socket');
const loopTimers = require('./loop-timers');

/** The bytes of a lent buffer, kept past the callback. */
const copyOf = (data) => Buffer.from(data);

function streamError(message, code, props) {
  return Object.assign(new Error(message), { code }, props);
}

/** A message that was cut off: the connection closed before its last byte. */
function abortedError(code, reason) {
  return streamError(`The connection closed (code ${code}) before the message ended`, 'ERR_LWS_MESSAGE_ABORTED', { closeCode: code, reason });
}

/**
 * One incoming message as a Readable of Buffers (setEncoding('utf8') for text).
 * Reading drives the socket: the Readable over its highWaterMark pauses it,
 * _read() resumes it. Destroyed before its end, the rest of the message is dropped.
 */
class MessageReadable extends Readable {
  constructor(streams, socket, binary, options) {
    super(options);
    this.binary = binary;
    this._streams = streams;
    this._socket = socket;
  }

  _read() {
    this._streams.wantMore(this._socket);
  }

  _destroy(err, callback) {
    this._streams.abandon(this._socket, this);
    callback(err);
  }
}

/** What is arriving on one socket: the message being streamed, and how it is taken. */
class Incoming {
  constructor() {
    this.readable = null; // the MessageReadable (or the Duplex) taking the message
    this.parts = null; // an unclaimed streamed message assembled for 'message' (no 'fragment' listener)
    this.discarding = false; // the rest of an abandoned message is dropped
    this.paused = false; // paused by this module (a full Readable)
  }
}

class MessageStreams {
  constructor(server) {
    this.server = server;
    this.incoming = new Map(); // socket -> Incoming, while a message is streaming or the socket is paused
    this.duplexes = new Map(); // socket -> its createWebSocketStream Duplex
    this.writers = new Map(); // socket -> its open sendStream Writable
  }

  // ---- incoming (called by the batch decoder) ----------------------------------

  /** A whole message. Returns false when it is not streamed (then 'message' gets it). */
  message(socket, data, binary) {
    const duplex = this.duplexes.get(socket);
    if (duplex !== undefined) {
      this.push(socket, duplex, copyOf(data));
      return true;
    }
    if (this.server.listenerCount('messageStream') === 0) return false;
    const readable = new MessageReadable(this, socket, binary);
    readable.push(copyOf(data));
    readable.push(null);
    this.server.emit('messageStream', socket, readable, binary);
    return true;
  }

  /** A piece of a message larger than bufferSize. Returns false when 'fragment' listeners get it. */
  fragment(socket, data, binary, remaining) {
    let state = this.incoming.get(socket);
    if (state === undefined) {
      state = new Incoming();
      this.incoming.set(socket, state);
    }
    if (state.readable === null && state.parts === null && !state.discarding) {
      // The first piece decides who takes the whole message.
      const duplex = this.duplexes.get(socket);
      if (duplex !== undefined) {
        state.readable = duplex;
      } else if (this.server.listenerCount('messageStream') > 0) {
        state.readable = new MessageReadable(this, socket, binary);
        this.server.emit('messageStream', socket, state.readable, binary);
      } else if (this.server.listenerCount('fragment') > 0) {
        this.forget(socket, state);
        return false;
      } else {
        state.parts = [];
      }
    }
    if (state.discarding) {
      if (remaining === 0) state.discarding = false;
    } else if (state.parts !== null) {
      // Streams turned the fragment hook on for the whole server: this socket's
      // large messages are put back together for 'message', as without streams.
      state.parts.push(copyOf(data));
      if (remaining === 0) {
        const whole = Buffer.concat(state.parts);
        state.parts = null;
        this.server.emit('message', socket, whole, binary, 0);
      }
    } else {
      const readable = state.readable;
      this.push(socket, readable, copyOf(data));
      if (remaining === 0) {
        state.readable = null;
        if (!(readable instanceof Duplex)) readable.push(null);
      }
    }
    this.forget(socket, state);
    return true;
  }

  /** Pushes into a Readable; a full one pauses the socket until it is read. */
  push(socket, readable, chunk) {
    if (readable.destroyed) return;
    if (!readable.push(chunk)) {
      let state = this.incoming.get(socket);
      if (state === undefined) {
        state = new Incoming();
        this.incoming.set(socket, state);
      }
      if (!state.paused && this.server.pause(socket)) state.paused = true;
    }
  }

  /** A Readable of the socket wants more: resume the socket if this module paused it. */
  wantMore(socket) {
    const state = this.incoming.get(socket);
    if (state === undefined || !state.paused) return;
    state.paused = false;
    this.server.resume(socket);
    this.forget(socket, state);
  }

  /** A Readable destroyed before its end: the rest of its message is dropped, the socket read again. */
  abandon(socket, readable) {
    const state = this.incoming.get(socket);
    if (state === undefined) return;
    if (state.readable === readable) {
      state.readable = null;
      state.discarding = true;
    }
    this.wantMore(socket);
  }

  forget(socket, state) {
    if (state.readable === null && state.parts === null && !state.discarding && !state.paused) this.incoming.delete(socket);
  }

  // ---- engine records (called by core-server.js's EngineRecords) ----------------

  drained(socket) {
    const writer = this.writers.get(socket) ?? this.duplexes.get(socket);
    if (writer !== undefined) writer._lwsDrained();
  }

  /** The socket closed: a message still arriving errors its stream; writers end. */
  closed(socket, code, reason, errorCode) {
    const state = this.incoming.get(socket);
    this.incoming.delete(socket);
    if (state !== undefined && state.readable !== null && !(state.readable instanceof Duplex)) {
      state.readable.destroy(abortedError(code, reason));
    }
    const writer = this.writers.get(socket);
    if (writer !== undefined) {
      this.writers.delete(socket);
      writer._lwsSocketClosed(code);
    }
    const duplex = this.duplexes.get(socket);
    if (duplex !== undefined) {
      this.duplexes.delete(socket);
      duplex._lwsSocketClosed(code, reason, errorCode, state !== undefined && state.readable === duplex);
    }
  }

  // ---- outgoing ---------------------------------------------------------------

  /** A send() on a socket whose sendStream is open: an error (the message would be corrupted). */
  checkNotStreaming(socket) {
    if (this.writers.has(socket)) {
      throw streamError('A message stream is being sent on this socket: other messages must wait for its end()', 'ERR_LWS_SEND_STREAM_ACTIVE');
    }
  }

  openWriter(socket, writer) {
    this.checkNotStreaming(socket);
    this.writers.set(socket, writer);
  }

  closeWriter(socket, writer) {
    if (this.writers.get(socket) === writer) this.writers.delete(socket);
  }
}

/**
 * Calls `callback` once what was just sent has left JS and the engine keeps up
 * with the socket: after this tick's flush, or at the socket's next 'drain'.
 * `waiter` holds the pending callback (one at a time: Writable writes one chunk at a time).
 */
function whenSent(waiter, socket, accepted, callback) {
  if (!accepted || backlogOf(socket) > 0) {
    waiter._lwsWaiting = callback;
    return;
  }
  loopTimers.setImmediate(() => {
    if (backlogOf(socket) > 0 && !socket.closed) waiter._lwsWaiting = callback;
    else callback();
  });
}

/**
 * One outgoing message as fragments: each write (or, with `minFragment`, each
 * run of writes reaching that many bytes) is a frame, end() sends the last one
 * (fin). Destroyed before its end on an open socket, the connection is closed
 * with 1011: a message cut in the middle cannot be finished, and nothing else
 * can be sent before it is.
 */
class MessageWritable extends Writable {
  constructor(server, socket, { binary = true, minFragment = 0, ...options } = {}) {
    super(options);
    this.binary = binary;
    this._server = server;
    this._socket = socket;
    this._minFragment = minFragment;
    this._gathered = [];
    this._gatheredBytes = 0;
    this._lwsWaiting = null;
    this._ended = false;
  }

  /**
   * A write after end() is that write's error ('error' and its callback get
   * ERR_STREAM_WRITE_AFTER_END) and nothing more: the message as ended is still
   * sent whole. (Node's Writable would destroy the stream, which cuts the message
   * and so the connection, or not, depending on whether its end was already sent.)
   */
  write(chunk, encoding, callback) {
    if (!this.writableEnded || this.destroyed) return super.write(chunk, encoding, callback);
    if (typeof encoding === 'function') callback = encoding;
    const err = streamError('write after end', 'ERR_STREAM_WRITE_AFTER_END');
    process.nextTick(() => {
      if (typeof callback === 'function') callback(err);
      this.emit('error', err);
    });
    return false;
  }

  _sendFragment(chunk, fin, callback) {
    const accepted = this._server._sendData(this._socket, chunk, this.binary, fin, false);
    if (this._socket.closed) return callback(this._closedError());
    whenSent(this, this._socket, accepted, callback);
  }

  _write(chunk, encoding, callback) {
    if (this._minFragment > 0) {
      this._gathered.push(chunk);
      this._gatheredBytes += chunk.length;
      if (this._gatheredBytes < this._minFragment) return callback();
      chunk = this._takeGathered();
    }
    this._sendFragment(chunk, false, callback);
  }

  _takeGathered() {
    const chunk = this._gathered.length === 1 ? this._gathered[0] : Buffer.concat(this._gathered, this._gatheredBytes);
    this._gathered = [];
    this._gatheredBytes = 0;
    return chunk;
  }

  _final(callback) {
    this._ended = true;
    const last = this._gatheredBytes > 0 ? this._takeGathered() : Buffer.alloc(0);
    this._server._messageStreams.closeWriter(this._socket, this);
    if (this._socket.closed) return callback(this._closedError());
    this._sendFragment(last, true, callback);
  }

  _destroy(err, callback) {
    const streams = this._server._messageStreams;
    if (!this._ended && streams.writers.get(this._socket) === this) {
      streams.closeWriter(this._socket, this);
      this._server.close(this._socket, 1011, 'message stream destroyed');
    }
    this._lwsWaiting = null;
    callback(err);
  }

  _lwsDrained() {
    const callback = this._lwsWaiting;
    this._lwsWaiting = null;
    if (callback !== null) callback();
  }

  _closedError() {
    return streamError('The socket closed before the message stream ended', 'ERR_LWS_SOCKET_CLOSED');
  }

  /** The socket closed mid-message: a write in flight, or the next one, fails. */
  _lwsSocketClosed() {
    this._ended = true;
    const callback = this._lwsWaiting;
    this._lwsWaiting = null;
    if (callback !== null) callback(this._closedError());
  }
}

/**
 * createWebSocketStream for a CoreServer socket, as ws's for a WebSocket:
 * incoming messages are the readable side (a full one pauses the socket), each
 * written chunk is one binary message, end() closes the socket (1000) and the
 * stream is done with the socket's 'close'.
 */
function webSocketDuplex(server, socket, options = {}) {
  const duplex = new Duplex({ ...options, objectMode: false, writableObjectMode: false, readableObjectMode: false });
  duplex._lwsWaiting = null;
  let onClosed = null; // _final's callback waiting for the close
  duplex._read = () => server._messageStreams.wantMore(socket);
  duplex._write = (chunk, encoding, callback) => {
    const accepted = server.send(socket, chunk, true);
    if (socket.closed) return callback(streamError('The socket is closed', 'ERR_LWS_SOCKET_CLOSED'));
    whenSent(duplex, socket, accepted, callback);
  };
  duplex._final = (callback) => {
    if (socket.closed) return callback();
    onClosed = callback;
    server.close(socket, 1000);
  };
  duplex._destroy = (err, callback) => {
    if (!socket.closed) server.terminate(socket);
    callback(err);
  };
  duplex._lwsDrained = () => {
    const callback = duplex._lwsWaiting;
    duplex._lwsWaiting = null;
    if (callback !== null) callback();
  };
  duplex._lwsSocketClosed = (code, reason, errorCode, midMessage) => {
    const waiting = duplex._lwsWaiting;
    duplex._lwsWaiting = null;
    if (waiting !== null) waiting(streamError('The socket is closed', 'ERR_LWS_SOCKET_CLOSED'));
    if (onClosed !== null) onClosed();
    if (duplex.destroyed) return;
    // A protocol error, or a peer gone mid-message: the data is not whole.
    if (errorCode !== undefined || midMessage) duplex.destroy(errorCode ? streamError(`The connection failed: ${errorCode}`, errorCode, { closeCode: code }) : abortedError(code, reason));
    else duplex.push(null);
  };
  duplex.on('end', () => {
    if (duplex.writableFinished || socket.closed) duplex.destroy();
  });
  duplex.on('finish', () => {
    if (duplex.readableEnded) duplex.destroy();
  });
  return duplex;
}

/** The stream methods of CoreServer (installed on its prototype, see core-server.js). */
class StreamMethods {
  /** The server's MessageStreams, made on first use (the engine then streams large messages to JS). */
  _useStreams() {
    if (this._messageStreams === null) {
      this._messageStreams = new MessageStreams(this);
      this._updateHooks('fragment');
    }
    return this._messageStreams;
  }

  /**
   * A Writable sending one message on `socket` as fragments (binary unless
   * `binary: false`). send() on that socket throws ERR_LWS_SEND_STREAM_ACTIVE
   * until end(). Throws if the socket is closed.
   */
  sendStream(socket, options = {}) {
    if (!this._isOpenForStreams(socket)) throw streamError('The socket is closed', 'ERR_LWS_SOCKET_CLOSED');
    const { binary = true, highWaterMark } = options;
    const writer = new MessageWritable(this, socket, { binary, highWaterMark });
    this._useStreams().openWriter(socket, writer);
    return writer;
  }

  /**
   * For a layer with its own message routing (lib/nodejs-websocket): a
   * MessageReadable for a message of `socket` that the layer fills with
   * pushMessagePart() (a lent `chunk` is copied) and ends with push(null).
   */
  messageReadable(socket, binary) {
    return new MessageReadable(this._useStreams(), socket, binary);
  }

  pushMessagePart(socket, readable, chunk) {
    this._useStreams().push(socket, readable, copyOf(chunk));
  }

  /** A layer's own MessageWritable (a subclass) becomes `socket`'s send stream, as sendStream()'s. */
  attachSendStream(socket, writer) {
    if (!this._isOpenForStreams(socket)) throw streamError('The socket is closed', 'ERR_LWS_SOCKET_CLOSED');
    this._useStreams().openWriter(socket, writer);
    return writer;
  }

  /** ws's createWebSocketStream for one of this server's sockets. */
  createWebSocketStream(socket, options) {
    if (!this._isOpenForStreams(socket)) throw streamError('The socket is closed', 'ERR_LWS_SOCKET_CLOSED');
    const streams = this._useStreams();
    if (streams.duplexes.has(socket)) throw streamError('This socket already has a WebSocket stream', 'ERR_LWS_STREAM_EXISTS');
    const duplex = webSocketDuplex(this, socket, options);
    streams.duplexes.set(socket, duplex);
    return duplex;
  }
}

module.exports = { MessageStreams, MessageReadable, MessageWritable, StreamMethods };
