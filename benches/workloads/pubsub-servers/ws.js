'use strict';
// The pub/sub workloads' server on the `ws` package: topics as Sets of clients, a publish a loop
// calling send on each (what ws users write; ws has no topics). Usage: node ws.js PORT; run with
// WS_NO_BUFFER_UTIL=1 and WS_NO_UTF_8_VALIDATE=1 for plain ws. Protocol: see lws.js beside this file.
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2] || 9001);
const topics = new Map(); // topic -> Set of clients
const subscribe = (ws, topic) => {
  if (!topics.has(topic)) topics.set(topic, new Set());
  topics.get(topic).add(ws);
  ws.topics.push(topic);
};
const publish = (topic, data) => {
  const subscribers = topics.get(topic);
  if (subscribers) for (const ws of subscribers) ws.send(data, { binary: false });
};
const wss = new WebSocketServer({ port, host: '127.0.0.1', perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 });
wss.on('connection', (ws) => {
  ws.topics = [];
  subscribe(ws, 'all');
  ws.on('message', (msg, binary) => {
    if (!binary && msg.latin1Slice(0, 4) === 'pub ') publish(msg.latin1Slice(4, 10), msg);
    else if (!binary && msg.latin1Slice(0, 10) === 'broadcast ') publish('all', msg);
    else if (!binary && msg.latin1Slice(0, 5) === 'join ') {
      subscribe(ws, msg.latin1Slice(5, 11));
      ws.send('joined');
    } else ws.send(msg, { binary });
  });
  ws.on('close', () => {
    for (const topic of ws.topics) topics.get(topic).delete(ws);
  });
});
wss.on('error', (err) => { console.error(err); process.exit(1); });
wss.on('listening', () => console.log(`ready ${port}`));
const stop = () => { for (const c of wss.clients) c.terminate(); wss.close(() => process.exit(0)); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
