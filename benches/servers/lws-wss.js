'use strict';
// Echo server on lws's ws-compatible WebSocketServer. Usage: node benches/servers/lws-wss.js PORT [--broadcast]
// --broadcast: a text message starting with "broadcast " goes to every client, ws style
// (a loop of client.send over wss.clients), the sender included.
const path = require('path');
const { WebSocketServer, WebSocket } = require(path.join(__dirname, '..', '..'));

const port = Number(process.argv[2] || 9001);
const broadcast = process.argv.includes('--broadcast');
const wss = new WebSocketServer({ port, host: '127.0.0.1' });
wss.on('connection', (ws) => {
  if (broadcast) {
    ws.on('message', (data, isBinary) => {
      if (!isBinary && data[0] === 0x62 && data.latin1Slice(0, 10) === 'broadcast ') {
        for (const client of wss.clients) {
          if (client.readyState === WebSocket.OPEN) client.send(data, { binary: false });
        }
      } else {
        ws.send(data, { binary: isBinary });
      }
    });
  } else {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  }
});
wss.on('error', (err) => { console.error(err); process.exit(1); });
wss.on('listening', () => console.log(`ready ${port}`));
const stop = () => wss.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
