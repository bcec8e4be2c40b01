'use strict';
// lws: WebSockets for Node.js (servers and clients) with a Rust engine.
const { Server, Socket, HttpRequest, UpgradeRequest } = require('./lib/server');
const { Client } = require('./lib/client');
const { WebSocket, WebSocketServer, createWebSocketStream } = require('./lib/ws');

module.exports = {
  Server,
  Socket,
  HttpRequest,
  UpgradeRequest,
  // outgoing connections, node-lws style: `new lws.Client(options).connect(url)`
  Client,
  // ws-compatible: `const { WebSocketServer, WebSocket } = require('lws')` (WebSocket is ws's client too)
  WebSocketServer,
  wsServer: WebSocketServer,
  WebSocket,
  createWebSocketStream,
  // so that `import WebSocket, { WebSocketServer } from 'lws'` finds WebSocket.OPEN as with ws
  CONNECTING: WebSocket.CONNECTING,
  OPEN: WebSocket.OPEN,
  CLOSING: WebSocket.CLOSING,
  CLOSED: WebSocket.CLOSED,
};
