'use strict';
// Echo server on the nodejs-websocket API. Usage: NWS_IMPL=lws|real node benches/servers/nodejs-websocket.js PORT
// NWS_IMPL=lws: require('lws/nodejs-websocket'); real: the nodejs-websocket package itself.
// Text is echoed with sendText, a binary message (a Readable) collected and sent back with sendBinary.
const path = require('path');

const ws = process.env.NWS_IMPL === 'real'
  ? require('nodejs-websocket')
  : require(path.join(process.env.LWS_ROOT || path.join(__dirname, '..', '..'), 'lib', 'nodejs-websocket'));

const port = Number(process.argv[2] || 9001);
const server = ws.createServer((conn) => {
  conn.on('text', (str) => conn.sendText(str));
  conn.on('binary', (inStream) => {
    const parts = [];
    inStream.on('data', (d) => parts.push(d));
    inStream.on('end', () => conn.sendBinary(parts.length === 1 ? parts[0] : Buffer.concat(parts)));
  });
  conn.on('error', () => {});
  // The package's server answers a close frame but leaves the TCP connection open; the load
  // generator waits for the server to close it (RFC 6455 7.1.1), so it is ended here.
  if (process.env.NWS_IMPL === 'real') conn.on('close', () => conn.socket.end());
});
server.on('error', (err) => { console.error(err); process.exit(1); });
server.listen(port, '127.0.0.1', () => console.log(`ready ${port}`));
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', () => {
  for (const conn of server.connections) conn.close(1001);
  stop();
  setTimeout(() => process.exit(0), 2000).unref();
});
