'use strict';
// Echo server on lws's ws-compatible WebSocketServer. Usage: node benches/servers/lws-wss.js PORT
const path = require('path');
const { WebSocketServer } = require(path.join(__dirname, '..', '..'));

const port = Number(process.argv[2] || 9001);
const wss = new WebSocketServer({ port, host: '127.0.0.1' });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
wss.on('error', (err) => { console.error(err); process.exit(1); });
wss.on('listening', () => console.log(`ready ${port}`));
const stop = () => wss.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
