'use strict';
// The core's events, sent to the Connection each socket carries (socket.wrapper):
// the same wiring for the server's engine and the clients' engine.

const { kFragmentPerFrame } = require('../core');

/**
 * The engine options both roles use: binary messages stream, so no size limit is set
 * for them; a message in several frames streams frame by frame (the package's InStream
 * gets each frame's payload as it arrives, not 64 KiB at a time).
 */
const ENGINE_OPTIONS = { maxMessageSize: Number.MAX_SAFE_INTEGER, [kFragmentPerFrame]: true };

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
