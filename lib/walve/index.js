'use strict';
// require('lws/walve'): walve 2's API (a WebSocket server of streams: a Readable
// per incoming frame, a Transform per outgoing one) over the lws engine, which
// does the handshake, masking, framing, UTF-8 and limits. README: "lws/walve".
//
//   server.js        Server: Node's 'upgrade' event -> the engine; 'connect'
//   handshake.js     the requests taken, refused, and walve's 101 headers
//   socket.js        Socket: a connection (a Writable), its frames in and out
//   incoming.js      Incoming: a received frame (Readable, `header`)
//   outgoing.js      Outgoing: a frame to send (Transform, `header`)
//   frame-writer.js  the order frames leave a socket in, and the protocol's rules
//   idle.js          the http server's socket timeout, kept after the upgrade
//   misuse.js        how what walve lets pass is reported

const { Server } = require('./server');
const { Socket } = require('./socket');
const { Incoming } = require('./incoming');
const { Outgoing } = require('./outgoing');

/** A Server with `listener` on 'connect'; `.listen(httpServer)` next. */
function createServer(listener) {
  const server = new Server();
  if (typeof listener === 'function') server.on('connect', listener);
  return server;
}

module.exports = { Server, Socket, Incoming, Outgoing, createServer };
