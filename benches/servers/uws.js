'use strict';
// Echo server on uWebSockets.js (@trufflesuite/uws-js-unofficial). Usage: node benches/servers/uws.js PORT [--broadcast] [--deflate takeover|no-takeover] [--tls DIR]
// --deflate no-takeover: SHARED_COMPRESSOR (one zlib stream, reset per message); takeover: DEDICATED_COMPRESSOR
// (a 256 KB-window compressor per socket) and DEDICATED_DECOMPRESSOR. --tls: SSLApp.
// --broadcast: every socket subscribes to the topic 'all' when it opens, and a text message
// starting with "broadcast " is published to it (app.publish, uWS's own broadcast), so every
// open socket gets it, the sender included.
const uWS = require('@trufflesuite/uws-js-unofficial');
const { serverVariant } = require('./variant');

if (!/\[native code\]/.test(String(uWS.App))) throw new Error('uWS.App is not native code');
const port = Number(process.argv[2] || 9001);
const BROADCAST = Buffer.from('broadcast ');
let listenSocket = null;
const { deflate, tls } = serverVariant();
const app = tls ? uWS.SSLApp({ key_file_name: tls.keyFile, cert_file_name: tls.certFile }) : uWS.App();
const compress = deflate !== null;
const COMPRESSION = {
  'no-takeover': uWS.SHARED_COMPRESSOR | uWS.SHARED_DECOMPRESSOR,
  takeover: uWS.DEDICATED_COMPRESSOR | uWS.DEDICATED_DECOMPRESSOR,
};
const behavior = {
  compression: deflate ? COMPRESSION[deflate] : uWS.DISABLED,
  maxPayloadLength: 16 * 1024 * 1024,
  idleTimeout: 0,
  maxBackpressure: 64 * 1024 * 1024,
  // uWS compresses a message only when send is asked to (its third argument)
  message: (ws, message, isBinary) => {
    ws.send(message, isBinary, compress);
  },
};
if (process.argv.includes('--broadcast')) {
  behavior.open = (ws) => ws.subscribe('all');
  behavior.message = (ws, message, isBinary) => {
    // message is an ArrayBuffer valid during this call only; publish copies it.
    if (!isBinary && message.byteLength >= 10 && BROADCAST.equals(Buffer.from(message, 0, 10))) {
      app.publish('all', message, false);
    } else {
      ws.send(message, isBinary);
    }
  };
}
app
  .ws('/*', behavior)
  .listen('127.0.0.1', port, (token) => {
    if (!token) { console.error(`uws: cannot listen on ${port}`); process.exit(1); }
    listenSocket = token;
    console.log(`ready ${port}`);
  });
const stop = () => { if (listenSocket) uWS.us_listen_socket_close(listenSocket); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
