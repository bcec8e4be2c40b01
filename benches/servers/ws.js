'use strict';
// Echo server on the `ws` package. Usage: node benches/servers/ws.js PORT [--broadcast] [--deflate takeover|no-takeover] [--tls DIR]
// Run with WS_NO_BUFFER_UTIL=1 (and WS_NO_UTF_8_VALIDATE=1) for plain ws; see ws-bufferutil.js for the other row.
// --broadcast: a text message starting with "broadcast " goes to every client (the loop over
// wss.clients from ws's README), the sender included.
const { WebSocketServer, WebSocket } = require('ws');
const { wsStyleHandler } = require('./ws-style');
const { wsOptions } = require('./ws-variant');

const port = Number(process.argv[2] || 9001);
const broadcast = process.argv.includes('--broadcast');
const withBufferutil = process.env.WS_NO_BUFFER_UTIL !== '1';
if (withBufferutil) {
  // Fail loudly rather than silently measuring the JS fallback.
  const bu = require('bufferutil');
  if (!/\[native code\]/.test(String(bu.mask))) throw new Error('bufferutil is not native');
}
const { options, httpsServer } = wsOptions({ port, host: '127.0.0.1', maxPayload: 16 * 1024 * 1024 });
const wss = new WebSocketServer(options);
wss.on('connection', wsStyleHandler(wss, WebSocket, broadcast));
wss.on('error', (err) => { console.error(err); process.exit(1); });
const ready = () => console.log(`ready ${port}${withBufferutil ? ' (bufferutil)' : ''}`);
if (httpsServer) httpsServer.listen(port, '127.0.0.1', ready);
else wss.on('listening', ready);
const stop = () => { for (const c of wss.clients) c.terminate(); wss.close(() => (httpsServer ? httpsServer.close(() => process.exit(0)) : process.exit(0))); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
