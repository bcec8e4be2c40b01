'use strict';
// Echo server on lws's ws-compatible WebSocketServer. Usage: node benches/servers/lws-wss.js PORT [--broadcast]
// --broadcast: a text message starting with "broadcast " goes to every client, ws style
// (a loop of client.send over wss.clients), the sender included.
const path = require('path');
// LWS_ROOT: another lws checkout to load instead (npm run bench -- --baseline DIR).
const { WebSocketServer, WebSocket } = require(process.env.LWS_ROOT || path.join(__dirname, '..', '..'));
const { wsStyleHandler } = require('./ws-style');

const port = Number(process.argv[2] || 9001);
const broadcast = process.argv.includes('--broadcast');
const wss = new WebSocketServer({ port, host: '127.0.0.1' });
wss.on('connection', wsStyleHandler(wss, WebSocket, broadcast));
wss.on('error', (err) => { console.error(err); process.exit(1); });
wss.on('listening', () => console.log(`ready ${port}`));
const stop = () => wss.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
