'use strict';
// The pub/sub workloads' server on lws (benches/workloads/pubsub.js): topics fanned out by the
// engine (server.subscribe / server.publish). Usage: node lws.js PORT, with
//   LWS_THREADS=n    the `threads` option;
//   REDIS_URL=url    pubsub.redis (several processes share topics); "ready" waits for the link;
//   LWS_REUSE_PORT=1 reusePort (several processes on PORT).
// Protocol (as loadgen's broadcast and rooms modes speak it): every connection is subscribed to
// "all" when it opens; "broadcast ..." is published to "all", "join RRRRRR" subscribes the
// sender to room RRRRRR (answered "joined"), "pub RRRRRR ..." is published to room RRRRRR, the
// sender included each time; anything else is echoed.
const path = require('path');
const lws = require(process.env.LWS_ROOT || path.join(__dirname, '..', '..', '..'));

const port = Number(process.argv[2] || 9001);
const threads = process.env.LWS_THREADS;
const redis = process.env.REDIS_URL;
const server = new lws.Server({
  port, host: '127.0.0.1', reusePort: process.env.LWS_REUSE_PORT === '1',
  ...(threads ? { threads: Number(threads) } : {}), ...(redis ? { pubsub: { redis } } : {}),
});
server.on('connection', (socket) => server.subscribe(socket, 'all'));
server.on('message', (socket, msg, binary) => {
  if (!binary && msg[0] === 0x70 && msg.latin1Slice(0, 4) === 'pub ') server.publish(msg.subarray(4, 10), msg);
  else if (!binary && msg[0] === 0x62 && msg.latin1Slice(0, 10) === 'broadcast ') server.publish('all', msg);
  else if (!binary && msg[0] === 0x6a && msg.latin1Slice(0, 5) === 'join ') {
    server.subscribe(socket, msg.subarray(5, 11));
    server.send(socket, 'joined');
  } else server.send(socket, msg, binary);
});
server.on('error', (err) => { console.error(err); process.exit(1); });
let listening = false;
let linked = !redis;
const ready = () => { if (listening && linked) console.log(`ready ${port}`); };
server.on('listening', () => { listening = true; ready(); });
server.on('redis', (state, err) => {
  if (state === 'up' && !linked) { linked = true; ready(); }
  if (state === 'down') console.error(`lws pubsub server: Redis down: ${err && err.message}`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
