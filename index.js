'use strict';
// lws: WebSocket server for Node.js with a Rust engine.
const { Server, Socket, HttpRequest, UpgradeRequest } = require('./lib/server');

module.exports = { Server, Socket, HttpRequest, UpgradeRequest };
