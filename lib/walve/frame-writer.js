'use strict';
// A socket's outgoing frames, in the order their heads were written to it: the
// first goes to the engine (its head, then its payload as it comes), the others
// wait in JS with their payload until it is complete, so frames from several
// Outgoings never mix (walve 2 interleaves their bytes). Control frames (close,
// ping, pong: at most 125 bytes) are collected whole and sent with the core's
// close(), ping() and pong(), so the engine's close handshake follows them.
// Protocol rules are checked here before anything is sent, and again by the engine.

const { isUtf8 } = require('buffer');
const { kPushed } = require('./outgoing');
const { misuse } = require('./misuse');

const CONTROL = new Set([0x08, 0x09, 0x0a]);

class FrameWriter {
  /**
   * @param core the CoreServer; @param coreSocket its socket
   */
  constructor(core, coreSocket) {
    this.core = core;
    this.coreSocket = coreSocket;
    this.queue = []; // frames in order; queue[0] is the one being sent (or collected)
    this.bySource = new Map(); // Outgoing -> its frame, until complete or dropped
    this.fragmenting = false; // a message's non-final frame was sent: continuations follow
    this.idle = []; // callbacks for when the queue is empty
  }

  /** An Outgoing's head reached the socket (`frame`: { final, opcode, length }). */
  head(outgoing, { final, opcode, length }) {
    const frame = { outgoing, final, opcode, length, received: 0, pieces: [], started: false };
    this.bySource.set(outgoing, frame);
    this.queue.push(frame);
    const check = () => this._checkEnded(frame);
    outgoing.once('end', check);
    outgoing.once('close', check);
    if (this.queue.length === 1) this._advance();
    else this._checkEnded(frame);
  }

  /** Payload of `outgoing`'s frame. Returns false when the socket is backed up. */
  payload(outgoing, piece) {
    const frame = this.bySource.get(outgoing);
    if (frame === undefined) return true; // its frame was dropped
    frame.received += piece.length;
    let room = true;
    if (frame.started && !CONTROL.has(frame.opcode)) room = this.core.sendFramePiece(this.coreSocket, piece);
    else frame.pieces.push(piece);
    if (frame.received === frame.length) {
      if (frame.started) this._complete(frame);
    } else this._checkEnded(frame);
    return room;
  }

  /** Calls `callback` once every frame written so far has been sent (or dropped). */
  whenIdle(callback) {
    if (this.queue.length === 0) callback();
    else this.idle.push(callback);
  }

  /** The connection is gone: nothing more is sent. */
  close() {
    this.queue.length = 0;
    this.bySource.clear();
    this._releaseIdle();
  }

  /** Starts the frames at the head of the queue, as far as they are complete. */
  _advance() {
    while (this.queue.length > 0) {
      const frame = this.queue[0];
      const problem = this._refusal(frame);
      if (problem !== null) {
        this._drop(frame);
        misuse(frame.outgoing, 'LWS_ERR_WALVE_FRAME', `${problem}; the frame was not sent`);
        continue;
      }
      frame.started = true;
      if (!CONTROL.has(frame.opcode)) {
        this.fragmenting = !frame.final;
        this.core.sendFrameHead(this.coreSocket, (frame.final ? 0x80 : 0) | frame.opcode, frame.length);
        for (const piece of frame.pieces.splice(0)) this.core.sendFramePiece(this.coreSocket, piece);
      }
      if (frame.received < frame.length) return this._checkEnded(frame);
      this._complete(frame);
      return;
    }
    this._releaseIdle();
  }

  /** Why `frame` may not be sent now, or null. */
  _refusal({ opcode, final, length }) {
    if (CONTROL.has(opcode)) {
      if (!final || length > 125) return `a control frame (opcode ${opcode}) must be final and at most 125 bytes`;
      return null;
    }
    if (opcode > 0x02) return `opcode ${opcode} is reserved (RFC 6455 5.2)`;
    if (opcode === 0x00 && !this.fragmenting) return 'a continuation frame (opcode 0) needs a message in progress (a frame with final: false before it)';
    if (opcode !== 0x00 && this.fragmenting) return `a new message (opcode ${opcode}) cannot start before the previous one's final frame`;
    return null;
  }

  /** `frame` has all its payload and is at the head of the queue: it leaves, the next starts. */
  _complete(frame) {
    if (CONTROL.has(frame.opcode)) this._sendControl(frame);
    this.bySource.delete(frame.outgoing);
    this.queue.shift();
    this._advance();
  }

  _sendControl(frame) {
    const payload = Buffer.concat(frame.pieces);
    frame.pieces.length = 0;
    if (frame.opcode === 0x09) return void this.core.ping(this.coreSocket, payload);
    if (frame.opcode === 0x0a) return void this.core.pong(this.coreSocket, payload);
    if (payload.length === 0) return void this.core.close(this.coreSocket);
    const code = payload.length >= 2 ? payload.readUInt16BE(0) : 0;
    const reason = payload.subarray(2);
    let problem = null;
    if (payload.length === 1) problem = 'a close frame\'s payload is a 2-byte code and a reason, not 1 byte';
    else if (!isUtf8(reason)) problem = 'a close reason must be UTF-8';
    else {
      try {
        this.core.close(this.coreSocket, code, reason.toString());
      } catch (err) {
        problem = err.message; // the core's check of the code
      }
    }
    if (problem !== null) misuse(frame.outgoing, 'LWS_ERR_WALVE_FRAME', `${problem}; the close frame was not sent`);
  }

  /**
   * An Outgoing that ended (or was destroyed) short of its header's length can
   * never complete its frame. Not yet sent: it is dropped. Under way: its head
   * is on the wire and nothing else may follow it, so the connection is ended.
   */
  _checkEnded(frame) {
    if (frame.received >= frame.length || this.bySource.get(frame.outgoing) !== frame) return;
    const outgoing = frame.outgoing;
    const ended = outgoing.readableEnded && frame.received === outgoing[kPushed];
    if (!ended && !outgoing.destroyed) return;
    const underway = frame.started && !CONTROL.has(frame.opcode);
    misuse(outgoing, 'LWS_ERR_WALVE_FRAME', `an Outgoing ended after ${frame.received} of the ${frame.length} bytes its header announced; ` +
      (underway ? 'the frame was under way, so the connection was ended' : 'the frame was not sent'));
    if (underway) {
      this.core.terminate(this.coreSocket);
      this.close();
      return;
    }
    const first = this.queue[0] === frame;
    this._drop(frame);
    if (first) this._advance();
  }

  _drop(frame) {
    this.bySource.delete(frame.outgoing);
    const at = this.queue.indexOf(frame);
    if (at >= 0) this.queue.splice(at, 1);
  }

  _releaseIdle() {
    for (const callback of this.idle.splice(0)) callback();
  }
}

module.exports = { FrameWriter };
