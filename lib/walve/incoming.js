'use strict';
// Incoming: one received frame, a Readable of its payload (unmasked, checked by
// the engine) that ends with the frame, and its `header` as walve 2 gives it.
// A frame being read (piped, or with a 'data' or 'readable' listener) holds the
// connection back while its buffer is full: the engine stops reading the
// socket, TCP pushes back on the peer, and reading resumes when this frame is
// read. A frame nobody reads is buffered, as in walve: the next frames still come.

const { Readable } = require('stream');

/** The socket's token: Incomings come from a socket, never from users. */
const kCreate = Symbol('walve.createIncoming');
/** The socket's hooks: pause(incoming) and resume(incoming). */
const kFlow = Symbol('walve.flow');
/** This frame stopped the engine's reading. */
const kHolding = Symbol('walve.holding');


class Incoming extends Readable {
  /**
   * @param token kCreate (the socket's)
   * @param {{ final: boolean, masked: boolean, opcode: number, length: number, masking?: Buffer }} header
   * @param {{ pause(incoming: Incoming): void, resume(incoming: Incoming): void }} flow
   */
  constructor(token, header, flow) {
    if (token !== kCreate) {
      throw new TypeError("lws/walve: an Incoming comes from a socket's 'incoming' event; the engine parses the frames, so bytes cannot be written into one");
    }
    // Not destroyed (no 'close') at its end: walve's readable-stream 3 streams never are.
    super({ autoDestroy: false });
    // As in walve's Incoming, a Transform (whose constructor clears it): pieces pushed
    // while flowing are emitted at once, not on the next tick, so a frame's 'data' and
    // 'end' interleave with the next frame's events as walve's do.
    this._readableState.sync = false;
    this.header = header;
    this[kFlow] = flow;
    this[kHolding] = false;
    const release = () => this._release();
    this.once('end', release);
    this.once('close', release);
  }

  _read() {
    this._release();
  }

  /** A piece of the payload (owned); `end` on the last. */
  deliver(piece, end) {
    if (this.destroyed) return;
    if (piece.length === 0) {
      if (end) this.push(null);
      return;
    }
    if (end && this.readableFlowing) {
      // Read by 'data' or a pipe: the data at once, the 'end' a tick later, as walve's.
      this.push(piece);
      this.push(null);
      return;
    }
    if (end) {
      // The last piece and the end as one, so that one 'readable' covers both, as in
      // walve (readable-stream 3): there `incoming.read()` in a 'readable' listener
      // never returns null after a frame's last bytes. Node's streams emit another
      // 'readable' for an end pushed outside a read() once earlier data was read;
      // `sync` (a documented-by-use ReadableState flag) makes them schedule one.
      const state = this._readableState;
      const sync = state.sync;
      state.sync = true;
      this.push(piece);
      this.push(null);
      state.sync = sync;
      return;
    }
    const room = this.push(piece);
    // Someone reads this frame (flowing or 'readable'): hold the peer back until they catch up.
    if (!room && this.readableFlowing !== null && !this[kHolding]) {
      this[kHolding] = true;
      this[kFlow].pause(this);
    }
  }

  _release() {
    if (!this[kHolding]) return;
    this[kHolding] = false;
    this[kFlow].resume(this);
  }
}

/** The header walve 2 gives an incoming frame, from the engine's FRAME_HEAD (first byte, length, key). */
function headerOf(head, length, mask) {
  const header = { final: (head & 0x80) !== 0, masked: mask !== null, opcode: head & 0x0f, length };
  if (mask !== null) header.masking = Buffer.from(mask); // a copy: the engine's batch is lent
  return header;
}

module.exports = { Incoming, headerOf, kCreate };
