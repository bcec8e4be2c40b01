'use strict';
// Echo server on uWebSockets.js (@trufflesuite/uws-js-unofficial). Usage: node benches/servers/uws.js PORT
const uWS = require('@trufflesuite/uws-js-unofficial');

if (!/\[native code\]/.test(String(uWS.App))) throw new Error('uWS.App is not native code');
const port = Number(process.argv[2] || 9001);
let listenSocket = null;
uWS
  .App()
  .ws('/*', {
    compression: uWS.DISABLED,
    maxPayloadLength: 16 * 1024 * 1024,
    idleTimeout: 0,
    maxBackpressure: 64 * 1024 * 1024,
    message: (ws, message, isBinary) => {
      ws.send(message, isBinary);
    },
  })
  .listen('127.0.0.1', port, (token) => {
    if (!token) { console.error(`uws: cannot listen on ${port}`); process.exit(1); }
    listenSocket = token;
    console.log(`ready ${port}`);
  });
const stop = () => { if (listenSocket) uWS.us_listen_socket_close(listenSocket); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
