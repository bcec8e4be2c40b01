'use strict';
// The core's events, sent to the Connection each socket carries (socket.wrapper):
// the same wiring for the server's engine and the clients' engine.

/** The engine options both roles use: binary messages stream, so no size limit is set for them. */
const ENGINE_OPTIONS = { maxMessageSize: Number.MAX_SAFE_INTEGER };

function routeConnectionEvents(core) {
  core.textAsStrings = true; // 'text' listeners get strings: no Buffer is made for them
  core.on('message', (socket, data, binary) => socket.wrapper._message(data, binary));
  core.on('fragment', (socket, data, binary, remaining) => socket.wrapper._fragment(data, binary, remaining));
  core.on('pong', (socket, data) => socket.wrapper._pong(data));
  core.on('drain', (socket) => socket.wrapper._drained());
  core.on('closing', (socket, code, reason) => {
    if (socket.wrapper !== undefined) socket.wrapper._peerClosing(code, reason);
  });
}

module.exports = { routeConnectionEvents, ENGINE_OPTIONS };
