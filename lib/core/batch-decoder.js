'use strict';
// The batch decoder: one event batch from the engine (records, see wire.js) turned
// into calls. Messages, the hot path, go straight to the single 'message' listener;
// the other events that only report go to `emitter.emit`; those that change the
// core's state go to `records` (core-server.js EngineRecords):
//   open(id, fd, peer, extensions)      close(socket, code, reason, errorCode, errorDetail)
//   upgrade(id, fd, request)            http(id, request)           aborted(id)
//   buffered(id, bytes)                 drain(id)                   fail(id, code)
//   peerClose(id, code, reason)         handOff(id, fd, bytes)      shutdown()
//   response(id, response)              pendingSocket(id) (a client socket not open yet)
//   countMessages(messages, bytes)      countDropped()              (for stats())
//   redis(up, errno, reason)            the Redis link's state (pubsub.redis)
// With the frameEvents option (lws/walve), frames instead of messages: 'frameHead'
// (socket, head, length, mask) and 'frameData' (socket, piece, end) are emitted.
// Buffers given out (messages, fragments, ping payloads, `reason` of peerClose,
// handOff's bytes) are lent: valid only until the call returns. A core whose
// layer keeps messages (`ownedMessages`, the ws layer) gets them copied instead,
// small ones as views of one copy of the batch's bytes (see MessageCopies).

const { RECORD_HEADER, Event, ClientFailure, FLAG_BINARY, FLAG_ANSWERED, FLAG_FRAME_END, lastText, errorCodeOf, decodeRequest, decodeResponse, decodePeer } = require('./wire');

/**
 * Node's own Buffer class (what Buffer.from returns: FastBuffer, Buffer's species in every
 * Node since 8), constructed directly: Buffer.from's argument checks cost as much as the
 * view itself, once per message.
 */
const BufferView = Buffer[Symbol.species];

/** Messages up to this size are copied with their neighbours, in slabs of up to SLAB bytes. */
const SLAB_MESSAGE_MAX = 4 * 1024;
const SLAB = 64 * 1024;

/**
 * Owned copies of a batch's messages, for a layer that keeps them: a large message is
 * copied alone; small ones are views of a slab, one copy of up to SLAB bytes of the batch
 * (the bytes as the engine read them), so a kept message holds at most SLAB bytes alive,
 * as ws's messages hold the socket's read chunk they came in.
 */
class MessageCopies {
  constructor(arrayBuffer, length) {
    this.source = arrayBuffer;
    /** Where the batch ends (the engine's reused buffer is longer than its batch). */
    this.length = length;
    this.slab = null;
    /** The batch's bytes slabFrom..slabEnd are in the slab, at their offset - slabBase. */
    this.slabFrom = 0;
    this.slabEnd = 0;
    this.slabBase = 0;
  }

  copy(at, len) {
    if (len > SLAB_MESSAGE_MAX) return this.bytes(at, len);
    if (this.slab === null || at < this.slabFrom || at + len > this.slabEnd) {
      this.slabFrom = at;
      this.slabEnd = Math.min(this.length, at + SLAB);
      const slab = this.bytes(at, this.slabEnd - at);
      this.slab = slab.buffer;
      // A slab under 4 KiB is a piece of Buffer's shared pool, at its own offset.
      this.slabBase = at - slab.byteOffset;
    }
    return new BufferView(this.slab, at - this.slabBase, len);
  }

  /**
   * A copy of `len` bytes at `at`, in memory of its own. allocUnsafe: from 4 KiB on, a
   * new ArrayBuffer that is not zeroed first (ArrayBuffer#slice zeroes, then copies).
   */
  bytes(at, len) {
    const copy = Buffer.allocUnsafe(len);
    copy.set(new Uint8Array(this.source, at, len));
    return copy;
  }
}

/**
 * The views of the ArrayBuffer the engine uses again (for batches that lend nothing),
 * made once for it: its bytes change from batch to batch, the object does not.
 */
let reused = { arrayBuffer: null, buf: null, view: null };

/**
 * Dispatches every record of `arrayBuffer` (its first `length` bytes when given: the
 * engine's reused buffer). A throwing listener must not cost the
 * other events of the batch: the batch is finished, and the first error is
 * returned (null if none) for the caller to rethrow once it has flushed.
 * `sockets` maps ids to open Sockets; `emitter` is the EventEmitter listeners are on;
 * `ownedMessages`: messages are copies the listener may keep (MessageCopies).
 * `textAsStrings`: whole text messages are strings, decoded straight from the
 * batch (no Buffer made); the last one is noted in wire.js's `lastText`.
 */
function decodeBatch(arrayBuffer, length, sockets, emitter, records, ownedMessages = false, textAsStrings = false) {
  // Header fields are little-endian u32s: one DataView read each (optimized code inlines it).
  // The Buffer over the whole batch only once a record needs one (a batch of messages
  // alone does not): one object less per batch, when a batch is often one message.
  let view;
  let buf = null;
  if (length === undefined) {
    view = new DataView(arrayBuffer);
    length = arrayBuffer.byteLength;
  } else {
    if (reused.arrayBuffer !== arrayBuffer) reused = { arrayBuffer, buf: new BufferView(arrayBuffer), view: new DataView(arrayBuffer) };
    buf = reused.buf;
    view = reused.view;
  }
  let copies = null;
  let pos = 0;
  let failure = null;
  let messages = 0;
  let bytes = 0;
  // The socket of the previous message: a read's messages come one connection at a time,
  // so one Map lookup serves a run of them.
  let lastId = -1;
  let socket;
  while (pos + RECORD_HEADER <= length) {
    try {
      while (pos + RECORD_HEADER <= length) {
        const start = pos + RECORD_HEADER;
        const len = view.getUint32(pos + 8, true);
        const kind = view.getUint8(pos);
        const id = view.getUint32(pos + 4, true);
        const flags = view.getUint8(pos + 1);
        let at;
        if (kind === Event.MESSAGE) {
          at = start;
          pos = start + len;
        } else if (kind === Event.MESSAGE_AT) {
          // The message stayed where it was read (in this batch's RAW record); nothing follows the header.
          at = view.getUint32(pos + 12, true);
          pos = start;
        } else {
          pos = start + len;
          lastId = -1; // the record may open or close sockets
          if (buf === null) buf = new BufferView(arrayBuffer);
          dispatchRecord(sockets, emitter, records, buf, kind, flags, view.getUint16(start - 14, true), id, view.getUint32(start - 4, true), start, pos);
          continue;
        }
        if (id !== lastId) {
          lastId = id;
          socket = sockets.get(id);
        }
        if (socket === undefined) continue;
        let data;
        if (textAsStrings && (flags & FLAG_BINARY) === 0) {
          if (buf === null) buf = new BufferView(arrayBuffer);
          data = buf.utf8Slice(at, at + len);
          lastText.string = data;
          lastText.source = arrayBuffer;
          lastText.bytes = buf;
          lastText.at = at;
          lastText.len = len;
        } else {
          if (!ownedMessages) data = new BufferView(arrayBuffer, at, len);
          else data = (copies ??= new MessageCopies(arrayBuffer, length)).copy(at, len);
        }
        // The hot path: straight to a single listener, no emit() bookkeeping.
        messages++;
        bytes += len;
        const streams = emitter._messageStreams;
        if (streams !== null && streams.message(socket, data, (flags & FLAG_BINARY) !== 0)) continue;
        let listener = emitter._messageListener;
        if (listener === undefined) listener = emitter._messageListener = loneMessageListener(emitter);
        if (listener !== null) listener.call(emitter, socket, data, (flags & FLAG_BINARY) !== 0, 0);
        else emitter.emit('message', socket, data, (flags & FLAG_BINARY) !== 0, 0);
      }
    } catch (err) {
      if (failure === null) failure = err;
    }
  }
  records.countMessages(messages, bytes);
  return failure;
}

/** The emitter's one 'message' listener, or null if it has none or several (`_events`: EventEmitter's table). */
function loneMessageListener(emitter) {
  const listener = emitter._events.message;
  return typeof listener === 'function' ? listener : null;
}

function dispatchRecord(sockets, emitter, records, buf, kind, flags, code, id, extra, start, end) {
  switch (kind) {
    case Event.FRAGMENT: {
      const socket = sockets.get(id);
      if (socket === undefined) return;
      records.countMessages(extra === 0 ? 1 : 0, end - start); // a message counts once, on its last part
      const streams = emitter._messageStreams;
      if (streams !== null && streams.fragment(socket, buf.subarray(start, end), (flags & FLAG_BINARY) !== 0, extra)) return;
      emitter.emit('fragment', socket, buf.subarray(start, end), (flags & FLAG_BINARY) !== 0, extra);
      return;
    }
    case Event.OPEN: {
      let peer;
      let pos = start + 7;
      if (buf[start + 2] === 4) {
        // IPv4: packed into one number (socket.js), decoded only if JS asks.
        const ip = buf[start + 3] * 0x1000000 + ((buf[start + 4] << 16) | (buf[start + 5] << 8) | buf[start + 6]);
        peer = ip * 65536 + (buf[start] | (buf[start + 1] << 8));
      } else {
        [peer, pos] = decodePeer(buf, start);
      }
      return records.open(id, extra, peer, pos < end ? buf.latin1Slice(pos, end) : '');
    }
    case Event.CLOSE: {
      const socket = sockets.get(id) ?? records.pendingSocket(id);
      if (socket === undefined) return;
      const errorCode = flags ? errorCodeOf(flags, extra) : undefined;
      // errorDetail: the number a protocol error is about (opcode, length, close code), 0 if none.
      // A client's failure before it opened may carry bytes (a malformed response): latin1 keeps them.
      const reason = flags >= ClientFailure.CONNECT ? buf.latin1Slice(start, end) : buf.toString('utf8', start, end);
      return records.close(socket, code, reason, errorCode, errorCode ? extra : undefined);
    }
    case Event.UPGRADE:
      return records.upgrade(id, extra, decodeRequest(buf, start, end));
    case Event.HTTP:
      return records.http(id, decodeRequest(buf, start, end));
    case Event.PING:
    case Event.PONG: {
      const socket = sockets.get(id);
      if (socket !== undefined) emitter.emit(kind === Event.PING ? 'ping' : 'pong', socket, buf.subarray(start, end));
      return;
    }
    case Event.ABORTED:
      return records.aborted(id);
    case Event.SHUTDOWN:
      return records.shutdown();
    case Event.BUFFERED:
      return records.buffered(id, extra);
    case Event.DRAIN:
      return records.drain(id);
    case Event.DROPPED: {
      const socket = sockets.get(id);
      records.countDropped();
      if (socket !== undefined) emitter.emit('dropped', socket);
      return;
    }
    case Event.FAIL:
      return records.fail(id, code);
    case Event.PEER_CLOSE:
      return records.peerClose(id, code, buf.subarray(start, end), (flags & FLAG_ANSWERED) !== 0);
    case Event.REDIS:
      return records.redis(code === 1, extra, buf.toString('utf8', start, end));
    case Event.RESPONSE:
      // extra: after a 101, the bytes that came past its head (frames parsed once accepted).
      return records.response(id, { statusCode: code, afterHead: extra, ...decodeResponse(buf, start, end) });
    case Event.HAND_OFF:
      return records.handOff(id, extra, buf.subarray(start, end));
    case Event.FRAME_HEAD: {
      // 'frameHead' (socket, head, length, mask): head = the frame's first byte, mask = its key or null.
      const socket = sockets.get(id);
      if (socket === undefined) return;
      const length = buf.readUInt32LE(start) + buf.readUInt32LE(start + 4) * 2 ** 32;
      emitter.emit('frameHead', socket, code, length, end - start === 12 ? buf.subarray(start + 8, end) : null);
      return;
    }
    case Event.FRAME_DATA: {
      // 'frameData' (socket, piece, end): the payload as it arrived; `end` on the frame's last piece.
      const socket = sockets.get(id);
      if (socket === undefined) return;
      records.countMessages(0, end - start);
      emitter.emit('frameData', socket, buf.subarray(start, end), (flags & FLAG_FRAME_END) !== 0);
      return;
    }
    case Event.RAW: // bytes as read, which MESSAGE_AT records point into
    default:
  }
}

module.exports = { decodeBatch };
