'use strict';
// Echo server on lws. Usage: node benches/servers/lws.js PORT
const path = require('path');
const lws = require(path.join(__dirname, '..', '..'));

const port = Number(process.argv[2] || 9001);
const server = new lws.Server({ port, host: '127.0.0.1' });
server.on('message', (socket, msg, binary) => server.send(socket, msg, binary));
server.on('error', (err) => { console.error(err); process.exit(1); });
server.on('listening', () => console.log(`ready ${port}`));
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
