'use strict';
// Echo server on uWebSockets.js (@trufflesuite/uws-js-unofficial). Usage: node benches/servers/uws.js PORT [--broadcast]
// --broadcast: every socket subscribes to the topic 'all' when it opens, and a text message
// starting with "broadcast " is published to it (app.publish, uWS's own broadcast), so every
// open socket gets it, the sender included.
const uWS = require('@trufflesuite/uws-js-unofficial');

if (!/\[native code\]/.test(String(uWS.App))) throw new Error('uWS.App is not native code');
const port = Number(process.argv[2] || 9001);
const BROADCAST = Buffer.from('broadcast ');
let listenSocket = null;
const app = uWS.App();
const behavior = {
  compression: uWS.DISABLED,
  maxPayloadLength: 16 * 1024 * 1024,
  idleTimeout: 0,
  maxBackpressure: 64 * 1024 * 1024,
  message: (ws, message, isBinary) => {
    ws.send(message, isBinary);
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
