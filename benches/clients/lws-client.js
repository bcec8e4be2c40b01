'use strict';
// lws.Client, lws's core client (node-lws style): one Client holds every connection, events carry
// the socket, messages are Buffers lent by the engine for the callback's duration.
// Usage: node benches/clients/lws-client.js recv|connect|idle --url URL [options] (see harness.js).
// LWS_ROOT: another lws checkout to load instead (run.js --baseline DIR).
const path = require('path');
const lws = require(process.env.LWS_ROOT || path.join(__dirname, '..', '..'));

const client = new lws.Client();
client.on('open', (socket) => client.getUserData(socket).onOpen());
client.on('message', (socket, message, binary) => client.getUserData(socket).onMessage(message, binary));
client.on('close', (socket, code) => client.getUserData(socket).onClose(code));
client.on('error', (err, socket) => {
  const conn = socket && client.getUserData(socket);
  if (conn) conn.onError(err);
  else throw err;
});

require('./harness').main({
  name: 'lws.Client',
  open(url, conn) {
    const socket = client.connect(url);
    client.setUserData(socket, conn);
    return socket;
  },
  send(socket, data) { client.send(socket, data); },
  close(socket) { client.close(socket, 1000); },
  terminate(socket) { client.terminate(socket); },
});
