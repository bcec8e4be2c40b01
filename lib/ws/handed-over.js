'use strict';
// The Node socket handleUpgrade() was given, once the engine holds its connection.
// In ws the WebSocket runs on that very socket; here Node's socket was destroyed
// at the hand-over (only its copy of the descriptor closed). What ws users see of
// that socket follows the connection all the same:
// - destroy() after the upgrade drops the connection, both ends seeing 'close'
//   1006 (engine.io does it when its handshake fails after the upgrade, e.g. a
//   generateId that rejects); a second destroy() would otherwise do nothing and
//   leave the connection open with nobody using it.
// - its 'close' comes when the connection ends, not at the hand-over (engine.io's
//   middlewares hear the upgrade's response end by it: pino-http logs then). As in
//   ws, it is where the WebSocket's 'close' is emitted: listeners added before
//   handleUpgrade() run before the WebSocket's 'close', those added later after it.
//   Node's own 'close' (due the tick after the hand-over) is held only when someone
//   listens by then: the socket is kept for the connection's life only for them.
// - its server keeps counting it: ws's socket stays one of the http server's
//   connections, so server.close() calls back (and getConnections() counts it)
//   only once the WebSocket is gone; fastify.close() waits for its WebSockets so.
//   Node's count (net.Server's private _connections) drops when its socket is
//   destroyed at the hand-over: it is raised before, and lowered at the end.
// - it stays writable while the WebSocket is open, and what is written to it goes
//   out unframed, in order with the WebSocket's frames, as on ws's socket (end()
//   ends TCP once that is written, no close frame, as Node's end()): engine.io
//   answers a handshake it fails after the upgrade (a websocket-only client refused,
//   a generateId that rejects) by writing an HTTP 400 there if `writable`, then
//   destroy(); the client reads it as a broken frame, gets 'error' and retries
//   (socket.io's connect_error). Without it such a client waited forever.

const { kDropConnection, kEndConnection, kWriteRaw, kSocketClose, kCountedBy, OPEN, CLOSED } = require('./constants');

/** Before the hand-over: the socket's server goes on counting the connection for `ws`. */
function keepCounted(socket, ws) {
  const server = socket._server;
  if (!server || typeof server._connections !== 'number' || typeof server._emitCloseIfDrained !== 'function') return;
  server._connections++;
  ws[kCountedBy] = server;
}

/** The connection is over (or never handed over): its server stops counting it. */
function releaseCount(ws) {
  const server = ws[kCountedBy];
  if (server === null) return;
  ws[kCountedBy] = null;
  server._connections--;
  server._emitCloseIfDrained();
}

function handedOver(socket, ws) {
  let ended = false; // destroy() or end(): nothing more is written
  socket.destroy = function destroy() {
    ended = true;
    ws[kDropConnection]();
    return this;
  };
  socket.end = function end(chunk, encoding, callback) {
    if (typeof chunk === 'function') [chunk, callback] = [undefined, chunk];
    else if (typeof encoding === 'function') [encoding, callback] = [undefined, encoding];
    if (chunk !== undefined && chunk !== null) this.write(chunk, encoding);
    if (!ended) {
      ended = true;
      ws[kEndConnection]();
    }
    if (typeof callback === 'function') process.nextTick(callback);
    return this;
  };

  Object.defineProperty(socket, 'writable', { configurable: true, enumerable: true, get: () => !ended && ws.readyState === OPEN });
  socket.write = function write(chunk, encoding, callback) {
    if (typeof encoding === 'function') {
      callback = encoding;
      encoding = undefined;
    }
    // A copy: the caller may reuse its buffer, and the bytes may wait for the engine's socket.
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : Buffer.from(chunk);
    const written = ws[kWriteRaw](bytes);
    if (typeof callback === 'function') process.nextTick(callback, written ? null : destroyedError());
    return written;
  };

  let emitWsClose = null;
  const wsClose = () => {
    const emit = emitWsClose;
    emitWsClose = null;
    if (emit !== null) emit();
  };
  socket.on('close', wsClose); // where ws listens (its socketOnClose)

  const nodeEmit = socket.emit;
  socket.emit = function emit(event, ...args) {
    if (event !== 'close') return nodeEmit.call(this, event, ...args);
    delete this.emit; // once: back to Node's
    if (this.listenerCount('close') === 1 || ws.readyState === CLOSED) {
      this.removeListener('close', wsClose);
      return nodeEmit.call(this, event, ...args);
    }
    // Called by the WebSocket when its connection is over, with its own 'close' to emit.
    ws[kSocketClose] = (emitClose) => {
      emitWsClose = emitClose;
      nodeEmit.call(socket, 'close', ...args);
      wsClose(); // a listener before it may have removed it: the WebSocket still closes
    };
    return true;
  };
}

/** What Node gives a write to a destroyed socket. */
function destroyedError() {
  const err = new Error('Cannot call write after a stream was destroyed');
  err.code = 'ERR_STREAM_DESTROYED';
  return err;
}

module.exports = { handedOver, keepCounted, releaseCount };
