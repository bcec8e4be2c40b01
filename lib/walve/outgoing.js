'use strict';
// Outgoing: one frame to send, walve 2's Transform. Written to, it yields the
// frame as walve's does (its head, then at most header.length payload bytes,
// masked when header.masked, then its end), so it can be read on its own: a
// client's frames written to a TCP socket, say. Piped into a Socket, the socket
// knows its pieces (`pieceOf`) and hands them to the engine, which frames them
// (never masked: a server's frames) and keeps every other frame out of this
// one; the head bytes built here are for readers of the Outgoing itself, the
// engine writes its own.

const { randomBytes } = require('crypto');
const { Transform } = require('stream');
const { misuse } = require('./misuse');

/** walve's largest frame: lengths with any of the high 32 bits set are refused. */
const MAX_LENGTH = 2 ** 32 - 1;

/** What a Buffer an Outgoing pushed is: { outgoing, frame } for a head, { outgoing, payload } for payload (unmasked). */
const pieces = new WeakMap();
/** The frame's header as sent ({ final, opcode, length }), once the first write came. */
const kFrame = Symbol('walve.frame');
/** Payload bytes still to come / pushed so far. */
const kLeft = Symbol('walve.left');
const kPushed = Symbol('walve.pushed');
/** Bytes past header.length were reported once. */
const kWarned = Symbol('walve.warned');
/** The masking key of the frame read on its own (header.masked), else null. */
const kMask = Symbol('walve.mask');

class Outgoing extends Transform {
  /** @param {{ header?: { final?: boolean, opcode?: number, length?: number, masked?: boolean } }} [options] */
  constructor(options) {
    // Not destroyed (no 'close') once ended and read, unless asked: readable-stream 3's default, walve's.
    super({ autoDestroy: false, ...options });
    options = options || {};
    // walve reads the header at the first write: it may be replaced or changed until then.
    this.header = options.header || {};
    this[kFrame] = null;
    this[kLeft] = 0;
    this[kPushed] = 0;
    this[kWarned] = false;
    this[kMask] = null;
  }

  _transform(chunk, encoding, done) {
    if (this[kFrame] === null) {
      const header = this.header;
      header.length = header.length || 0; // walve's default, written back as walve does
      const { length } = header;
      const opcode = header.opcode === undefined ? 0x01 : header.opcode;
      if (!Number.isInteger(length) || length < 0) return done(new RangeError(`lws/walve: header.length must be a whole number of bytes, got ${length}`));
      if (length > MAX_LENGTH) return done(new RangeError('Payload length too big.')); // walve's words
      if (!Number.isInteger(opcode) || opcode < 0 || opcode > 0x0f) return done(new RangeError(`lws/walve: header.opcode must be 0 to 15, got ${opcode}`));
      // Masked (with header.masking, or a random key written back, as walve does)
      // for readers of this Outgoing; a Socket sends it unmasked (RFC 6455 5.1).
      if (header.masked) {
        if (!header.masking) header.masking = randomBytes(4);
        this[kMask] = header.masking;
      }
      const frame = { final: header.final || header.final === undefined, opcode, length };
      this[kFrame] = frame;
      this[kLeft] = length;
      const head = encodeHead(frame, this[kMask]);
      pieces.set(head, { outgoing: this, frame });
      if (length === 0) pushLast(this, head);
      else this.push(head);
    }
    const take = Math.min(chunk.length, this[kLeft]);
    if (take > 0) {
      const payload = chunk.subarray(0, take); // a view of its own: the same chunk may go to other Outgoings
      // Masked into a copy: walve masks the caller's buffer in place, the engine needs it as it was.
      const piece = this[kMask] === null ? payload : masked(payload, this[kMask], this[kPushed]);
      pieces.set(piece, { outgoing: this, frame: null, payload });
      this[kLeft] -= take;
      this[kPushed] += take;
      if (this[kLeft] === 0) pushLast(this, piece); // the frame is complete: walve ends here too
      else this.push(piece);
    }
    if (chunk.length > take && !this[kWarned]) {
      this[kWarned] = true;
      misuse(this, 'LWS_ERR_WALVE_FRAME', `${chunk.length - take} bytes written past header.length (${this[kFrame].length}) were dropped`);
    }
    done();
  }
}

/**
 * The last bytes and the end as one, so that one 'readable' covers both, as in
 * walve (readable-stream 3): `read()` in a 'readable' listener never returns
 * null at the end (Node's streams emit another 'readable' for an end pushed
 * outside a read(); `sync` makes them schedule one, see incoming.js). Not when
 * flowing (piped): `sync` would hold the piece for a tick, and frames piped into
 * a socket are ordered by when their heads arrive.
 */
function pushLast(outgoing, piece) {
  const state = outgoing._readableState;
  if (state.flowing) {
    outgoing.push(piece);
    outgoing.push(null);
    return;
  }
  const sync = state.sync;
  state.sync = true;
  outgoing.push(piece);
  outgoing.push(null);
  state.sync = sync;
}

/** The frame head as walve writes it, for those who read an Outgoing directly (`mask`: the key, or null). */
function encodeHead({ final, opcode, length }, mask) {
  const extra = length < 126 ? 0 : length <= 0xffff ? 2 : 8;
  const head = Buffer.alloc(2 + extra);
  head[0] = (final ? 0x80 : 0) | opcode;
  if (extra === 0) head[1] = length;
  else if (extra === 2) {
    head[1] = 126;
    head.writeUInt16BE(length, 2);
  } else {
    head[1] = 127;
    head.writeUInt32BE(length, 6); // at most 2^32 - 1: the high word stays 0
  }
  if (mask === null) return head;
  head[1] |= 0x80;
  return Buffer.concat([head, mask]);
}

/** A masked copy of `payload`, whose first byte is the frame's byte `offset`. */
function masked(payload, mask, offset) {
  const out = Buffer.allocUnsafe(payload.length);
  for (let i = 0; i < payload.length; i++) out[i] = payload[i] ^ mask[(offset + i) % 4];
  return out;
}

/** What `chunk` is, if an Outgoing pushed it: { outgoing, frame } (frame: its head) or undefined. */
function pieceOf(chunk) {
  return pieces.get(chunk);
}

module.exports = { Outgoing, pieceOf, kPushed, MAX_LENGTH };
