#!/usr/bin/env node
// An echo server for conformance runs: node scripts/echo-server.js [PORT] [--wss] [--js-thread]
//   default: the core lws.Server; --wss: the ws-compatible WebSocketServer;
//   --js-thread: the engine on the JS thread's event loop (threads: 0).
// permessage-deflate is on (with context takeover) unless LWS_DEFLATE=0; LWS_DEFLATE=no-takeover:
// lws.Server's default (`perMessageDeflate: true`, no context takeover either way).
'use strict';
const lws = require('..');

const port = Number(process.argv.find((a) => /^\d+$/.test(a)) || process.env.PORT || 9001);
const deflate = { '0': false, 'no-takeover': true }[process.env.LWS_DEFLATE] ?? { serverNoContextTakeover: false, clientNoContextTakeover: false };
const onError = (err) => {
  console.error(err.message);
  process.exit(1);
};

const engine = process.argv.includes('--js-thread') ? { threads: 0 } : {};
let server;
if (process.argv.includes('--wss')) {
  // ws's own defaults (context takeover unless the client asks otherwise), as ../shared/autobahn/echo-ws.js:
  // with serverNoContextTakeover: false, ws (so lws) refuses offers of server_no_context_takeover with 400.
  const wsDeflate = deflate && true;
  server = new lws.WebSocketServer({ port, host: '127.0.0.1', perMessageDeflate: wsDeflate, maxPayload: 16 * 1024 * 1024, ...engine });
  server.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('error', () => {}); // protocol errors reach each WebSocket, as in ws; the engine already closed
  });
  server.on('listening', () => console.log(`lws WebSocketServer echo server on ws://127.0.0.1:${port}`));
} else {
  server = new lws.Server({ port, host: '127.0.0.1', perMessageDeflate: deflate, ...engine });
  server.on('message', (socket, message, binary) => server.send(socket, message, binary));
  server.on('listening', () => console.log(`lws echo server on ws://127.0.0.1:${server.port}`));
}
server.on('error', onError);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.close(() => process.exit(0)));
