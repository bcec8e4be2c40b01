'use strict';
// OutStream, what beginBinary() returns: one binary message sent as fragments
// by the core's MessageWritable. As in the package, writes are gathered into
// frames of at least binaryFragmentation bytes, and writes once the connection
// is no longer open are dropped without an error.

const { MessageWritable } = require('../core');

class OutStream extends MessageWritable {
  constructor(connection, minFragment) {
    super(connection._core, connection.socket, { binary: true, minFragment });
    this.connection = connection;
    this.on('finish', () => this._release());
  }

  _release() {
    if (this.connection.outStream === this) this.connection.outStream = null;
  }

  _sendFragment(chunk, fin, callback) {
    if (this.connection.readyState !== this.connection.OPEN) return callback();
    super._sendFragment(chunk, fin, callback);
  }

  _final(callback) {
    if (this.connection.readyState !== this.connection.OPEN) {
      this._ended = true;
      this._server._messageStreams.closeWriter(this._socket, this);
      return callback();
    }
    super._final(callback);
  }

  /**
   * Destroyed before its end: the message cannot be finished, so the connection is
   * closed (1011) through close(), which emits 'close' as the package's close() does.
   * (A write after end() only errors, and the message is sent whole: the package's
   * OutStream would be destroyed then and its connection unable to send again.)
   */
  _destroy(err, callback) {
    const streams = this._server._messageStreams;
    if (!this._ended && streams.writers.get(this._socket) === this) {
      streams.closeWriter(this._socket, this);
      this._release();
      if (this.connection.readyState === this.connection.OPEN) this.connection.close(1011, 'message stream destroyed');
    }
    this._lwsWaiting = null;
    callback(err);
  }

  /** The connection ended mid-message: like the package, pending writes complete and the rest is dropped. */
  _lwsSocketClosed() {
    this._ended = true;
    const callback = this._lwsWaiting;
    this._lwsWaiting = null;
    if (callback !== null) callback();
  }
}

module.exports = { OutStream };
