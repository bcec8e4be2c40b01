'use strict';
// Outgoing: one frame to send, walve 2's Transform. Written to, it yields the
// frame as walve's does (its head, then at most header.length payload bytes,
// then its end), so it can be read on its own. Piped into a Socket, the socket
// knows its pieces (`pieceOf`) and hands them to the engine, which frames them
// and keeps every other frame out of this one; the head bytes built here are
// for readers of the Outgoing itself, the engine writes its own.

const { Transform } = require('stream');
const { misuse } = require('./misuse');

/** walve's largest frame: lengths with any of the high 32 bits set are refused. */
const MAX_LENGTH = 2 ** 32 - 1;

/** What a Buffer an Outgoing pushed is: { outgoing, frame } for a head, { outgoing } for payload. */
const pieces = new WeakMap();
/** The frame's header as sent ({ final, opcode, length }), once the first write came. */
const kFrame = Symbol('walve.frame');
/** Payload bytes still to come / pushed so far. */
const kLeft = Symbol('walve.left');
const kPushed = Symbol('walve.pushed');
/** Bytes past header.length were reported once. */
const kWarned = Symbol('walve.warned');

class Outgoing extends Transform {
  /** @param {{ header?: { final?: boolean, opcode?: number, length?: number, masked?: boolean } }} [options] */
  constructor(options) {
    super(options);
    options = options || {};
    // walve reads the header at the first write: it may be replaced or changed until then.
    this.header = options.header || {};
    this[kFrame] = null;
    this[kLeft] = 0;
    this[kPushed] = 0;
    this[kWarned] = false;
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
      // `masked` is ignored: a server's frames are never masked (RFC 6455 5.1).
      const frame = { final: header.final || header.final === undefined, opcode, length };
      this[kFrame] = frame;
      this[kLeft] = length;
      const head = encodeHead(frame);
      pieces.set(head, { outgoing: this, frame });
      this.push(head);
      if (length === 0) this.push(null);
    }
    const take = Math.min(chunk.length, this[kLeft]);
    if (take > 0) {
      const piece = chunk.subarray(0, take); // a view of its own: the same chunk may go to other Outgoings
      pieces.set(piece, { outgoing: this, frame: null });
      this[kLeft] -= take;
      this[kPushed] += take;
      this.push(piece);
      if (this[kLeft] === 0) this.push(null); // the frame is complete: walve ends here too
    }
    if (chunk.length > take && !this[kWarned]) {
      this[kWarned] = true;
      misuse(this, 'LWS_ERR_WALVE_FRAME', `${chunk.length - take} bytes written past header.length (${this[kFrame].length}) were dropped`);
    }
    done();
  }
}

/** The frame head as walve writes it (unmasked), for those who read an Outgoing directly. */
function encodeHead({ final, opcode, length }) {
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
  return head;
}

/** What `chunk` is, if an Outgoing pushed it: { outgoing, frame } (frame: its head) or undefined. */
function pieceOf(chunk) {
  return pieces.get(chunk);
}

module.exports = { Outgoing, pieceOf, kPushed, MAX_LENGTH };
