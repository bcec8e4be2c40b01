'use strict';
// Echo server on lws. Usage: [LWS_THREADS=n] [LWS_DEFLATE_LEVEL=n] node benches/servers/lws.js PORT [--broadcast] [--deflate takeover|no-takeover] [--tls DIR] [--reuse-port]
// LWS_THREADS sets the `threads` option (0: the engine on the JS thread's event loop);
// LWS_DEFLATE_LEVEL perMessageDeflate's `level` (0-9; lws's default is 6, as zlib's), for the
// `lws level N` rows of `npm run bench -- --deflate-levels`.
// --broadcast (the broadcast workload): a text message starting with "broadcast " is framed once
// (prepareBuffer) and sent by reference (sendPrepared) to every open socket, the sender included.
const path = require('path');
// LWS_ROOT: another lws checkout to load instead (npm run bench -- --baseline DIR).
const lws = require(process.env.LWS_ROOT || path.join(__dirname, '..', '..'));
const { serverVariant } = require('./variant');

const port = Number(process.argv[2] || 9001);
const threads = process.env.LWS_THREADS;
const { deflate, tls, reusePort } = serverVariant();
const level = process.env.LWS_DEFLATE_LEVEL ? { level: Number(process.env.LWS_DEFLATE_LEVEL) } : {};
const server = new lws.Server({
  port,
  host: '127.0.0.1',
  ...(threads ? { threads: Number(threads) } : {}),
  // true: lws's default, no context takeover either way (shared zlib state per engine thread)
  ...(deflate ? { perMessageDeflate: deflate === 'takeover' ? { serverNoContextTakeover: false, clientNoContextTakeover: false, ...level } : { ...level } } : {}),
  ...(tls ? { ssl: { key: tls.keyFile, cert: tls.certFile } } : {}),
  ...(reusePort ? { reusePort: true } : {}),
});
if (process.argv.includes('--broadcast')) {
  const sockets = new Set();
  server.on('connection', (socket) => sockets.add(socket));
  server.on('close', (socket) => sockets.delete(socket));
  server.on('message', (socket, msg, binary) => {
    if (!binary && msg[0] === 0x62 && msg.latin1Slice(0, 10) === 'broadcast ') {
      const prepared = server.prepareBuffer(msg);
      for (const s of sockets) server.sendPrepared(s, prepared, false);
    } else {
      server.send(socket, msg, binary);
    }
  });
} else {
  // Other workloads: the plain echo, with no per-socket bookkeeping.
  server.on('message', (socket, msg, binary) => server.send(socket, msg, binary));
}
server.on('error', (err) => { console.error(err); process.exit(1); });
server.on('listening', () => console.log(`ready ${port}`));
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
