'use strict';
// require('lws/nodejs-websocket'): the nodejs-websocket 1.7 API on the lws engine.
//   server.js      createServer(): Server, an lws.Server underneath
//   client.js      connect(): the process's client engine, the package's handshake checks
//   connection.js  Connection (both roles): text whole, binary as streams
//   out-stream.js  beginBinary()'s Writable
//   limits.js      setBinaryFragmentation(), setMaxBufferLength()

const { Server } = require('./server');
const { Connection } = require('./connection');
const { connect } = require('./client');
const { setBinaryFragmentation, setMaxBufferLength } = require('./limits');

/** createServer([options][, callback]): options.secure with key and cert serves wss://. */
function createServer(options, callback) {
  if (typeof options === 'function' || options === undefined) return new Server(options);
  return new Server(options, callback);
}

module.exports = { createServer, connect, setBinaryFragmentation, setMaxBufferLength, Server, Connection };
