'use strict';
// Echo server on lws's ws-compatible WebSocketServer. Usage: node benches/servers/lws-wss.js PORT [--broadcast] [--deflate takeover|no-takeover] [--tls DIR]
// --broadcast: a text message starting with "broadcast " goes to every client, ws style
// (a loop of client.send over wss.clients), the sender included.
const path = require('path');
// LWS_ROOT: another lws checkout to load instead (npm run bench -- --baseline DIR).
const { WebSocketServer, WebSocket } = require(process.env.LWS_ROOT || path.join(__dirname, '..', '..'));
const { wsStyleHandler } = require('./ws-style');
const { wsOptions } = require('./ws-variant');

const port = Number(process.argv[2] || 9001);
const broadcast = process.argv.includes('--broadcast');
// The same options as the ws row (benches/servers/ws-variant.js); wss:// as a ws user serves it,
// behind Node's https server (TLS sockets then reach the engine through lws's loopback relay).
const { options, httpsServer } = wsOptions({ port, host: '127.0.0.1' });
const wss = new WebSocketServer(options);
wss.on('connection', wsStyleHandler(wss, WebSocket, broadcast));
wss.on('error', (err) => { console.error(err); process.exit(1); });
const ready = () => console.log(`ready ${port}`);
if (httpsServer) httpsServer.listen(port, '127.0.0.1', ready);
else wss.on('listening', ready);
const stop = () => wss.close(() => (httpsServer ? httpsServer.close(() => process.exit(0)) : process.exit(0)));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
