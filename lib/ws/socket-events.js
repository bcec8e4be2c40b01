'use strict';
// The events of an open socket, from a core (the server's or a client core) to
// its WebSocket (`socket.wrapper` by then): messages, pings and pongs.

const { kOnMessage, kOnPing, kOnPong } = require('./constants');

function routeSocketEvents(core) {
  core.ownedMessages = true; // ws users keep messages: no copy of each in kOnMessage
  core.on('message', (socket, data, binary) => {
    const ws = socket.wrapper;
    if (ws !== undefined) ws[kOnMessage](data, binary);
  });
  core.on('ping', (socket, data) => {
    const ws = socket.wrapper;
    if (ws !== undefined) ws[kOnPing](data);
  });
  core.on('pong', (socket, data) => {
    const ws = socket.wrapper;
    if (ws !== undefined) ws[kOnPong](data);
  });
}

module.exports = { routeSocketEvents };
