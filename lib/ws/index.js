'use strict';
// The ws-compatible layer: `const { WebSocketServer } = require('lws')` in place of ws.

const WebSocket = require('./websocket');
const WebSocketServer = require('./websocket-server');
const createWebSocketStream = require('./stream');
const { Event, MessageEvent, CloseEvent, ErrorEvent } = require('./event-target');

// ws hangs its companions on the WebSocket class (`WebSocket.Server`, ...).
WebSocket.WebSocket = WebSocket;
WebSocket.WebSocketServer = WebSocketServer;
WebSocket.Server = WebSocketServer;
WebSocket.createWebSocketStream = createWebSocketStream;

module.exports = { WebSocket, WebSocketServer, createWebSocketStream, Event, MessageEvent, CloseEvent, ErrorEvent };
