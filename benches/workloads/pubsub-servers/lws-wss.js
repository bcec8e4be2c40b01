'use strict';
// The pub/sub workloads' server on lws's ws drop-in (WebSocketServer) with its documented lws
// extensions: ws.subscribe(topic) and wss.publish(topic, data), fanned out by the engine.
// Usage: node lws-wss.js PORT. Protocol: see lws.js beside this file.
const path = require('path');
const { WebSocketServer } = require(process.env.LWS_ROOT || path.join(__dirname, '..', '..', '..'));

const port = Number(process.argv[2] || 9001);
const wss = new WebSocketServer({ port, host: '127.0.0.1' });
wss.on('connection', (ws) => {
  ws.subscribe('all');
  ws.on('message', (msg, binary) => {
    if (!binary && msg.latin1Slice(0, 4) === 'pub ') wss.publish(msg.latin1Slice(4, 10), msg, { binary: false });
    else if (!binary && msg.latin1Slice(0, 10) === 'broadcast ') wss.publish('all', msg, { binary: false });
    else if (!binary && msg.latin1Slice(0, 5) === 'join ') {
      ws.subscribe(msg.latin1Slice(5, 11));
      ws.send('joined');
    } else ws.send(msg, { binary });
  });
});
wss.on('error', (err) => { console.error(err); process.exit(1); });
wss.on('listening', () => console.log(`ready ${port}`));
const stop = () => wss.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
