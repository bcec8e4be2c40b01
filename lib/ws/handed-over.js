'use strict';
// The Node socket handleUpgrade() was given, once the engine holds its connection.
// In ws the WebSocket runs on that very socket, so destroying it after the
// upgrade drops the connection: both ends see 'close' 1006 (engine.io does this
// when its handshake fails after the upgrade, e.g. a generateId that rejects).
// Here Node's socket was destroyed at the hand-over (only its copy of the
// descriptor closed) and a second destroy() would do nothing: the connection
// would stay open with nobody using it. So its destroy() drops the engine's.

const { kDropConnection } = require('./constants');

function forwardDestroy(socket, ws) {
  socket.destroy = function destroy() {
    ws[kDropConnection]();
    return this;
  };
}

module.exports = { forwardDestroy };
