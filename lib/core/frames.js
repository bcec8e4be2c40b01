'use strict';
// CoreServer methods for sending one frame in pieces (lws/walve's Outgoing):
// its head first, with the length it announces, then its payload as it comes.
// The engine writes nothing else on the socket in between (its automatic pongs
// and close replies wait for the frame's end). A mixin of core-server.js.

const { Command, FLAG_WHEN_WRITTEN } = require('./wire');
const { idOf, backlogOf } = require('./socket');
const { isOwnOpenSocket, toBytes } = require('./arguments');

class Frames {
  /**
   * Starts a data frame: `head` is its first byte (FIN and opcode 0, 1 or 2),
   * `length` its payload length (at most 2^53 - 1). The engine refuses (and
   * ignores) a continuation without a message in progress, a text or binary
   * frame inside one, RSV bits, control opcodes: close(), ping() and pong() send those.
   */
  sendFrameHead(socket, head, length) {
    const id = idOf(socket);
    if (!isOwnOpenSocket(this, socket)) return false;
    const bytes = Buffer.allocUnsafe(8);
    bytes.writeUInt32LE(length % 2 ** 32, 0);
    bytes.writeUInt32LE(Math.floor(length / 2 ** 32), 4);
    this._commands.bytes(Command.FRAME_HEAD, 0, head, id, bytes);
    this._engine.schedule();
    return true;
  }

  /**
   * Queues payload of the frame sendFrameHead() started. Returns what send()
   * returns: false when the socket is closed or backed up ('drain' follows).
   */
  sendFramePiece(socket, data) {
    const id = idOf(socket);
    if (socket.closed) return false;
    const bytes = toBytes(data);
    if (bytes === null) throw new TypeError('sendFramePiece() takes a Buffer, TypedArray or ArrayBuffer');
    const len = this._commands.bytes(Command.FRAME_DATA, 0, 0, id, bytes);
    this._countUnflushed(socket, len);
    this._counters.bytesOut += len;
    this._engine.schedule();
    return backlogOf(socket) === 0;
  }

  /**
   * Ends the TCP connection once what was sent before is written, without a
   * close frame ('close' follows with 1006 unless the peer's close came first).
   */
  endWhenWritten(socket) {
    const id = idOf(socket);
    if (!isOwnOpenSocket(this, socket)) return false;
    this._commands.bytes(Command.TERMINATE, FLAG_WHEN_WRITTEN, 0, id, null);
    this._engine.schedule();
    return true;
  }
}

module.exports = { Frames };
