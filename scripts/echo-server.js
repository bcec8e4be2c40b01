#!/usr/bin/env node
// An lws echo server for conformance runs: node scripts/echo-server.js [PORT]
'use strict';
const lws = require('..');

const port = Number(process.argv[2] || process.env.PORT || 9001);
const server = new lws.Server({ port, host: '127.0.0.1', perMessageDeflate: process.env.LWS_DEFLATE === '0' ? false : { serverNoContextTakeover: false, clientNoContextTakeover: false } });
server.on('message', (socket, message, binary) => server.send(socket, message, binary));
server.on('listening', () => console.log(`lws echo server on ws://127.0.0.1:${server.port}`));
server.on('error', (err) => {
  console.error(err.message);
  process.exit(1);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.close(() => process.exit(0)));
