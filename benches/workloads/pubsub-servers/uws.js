'use strict';
// The pub/sub workloads' server on uWebSockets.js (@trufflesuite/uws-js-unofficial): uWS's own
// topics, app.publish (every subscriber, the sender included). Usage: node uws.js PORT.
// Protocol: see lws.js beside this file.
const uWS = require('@trufflesuite/uws-js-unofficial');

if (!/\[native code\]/.test(String(uWS.App))) throw new Error('uWS.App is not native code');
const port = Number(process.argv[2] || 9001);
// Bytes at..at+len of the message, cut at its end (as lws.js's subarray: a short room name is what is there).
const slice = (message, at, len) => Buffer.from(message, at, Math.min(len, message.byteLength - at)).latin1Slice();
const prefix = (message, text) => message.byteLength >= text.length && Buffer.from(message, 0, text.length).latin1Slice() === text;
let listenSocket = null;
const app = uWS.App();
app.ws('/*', {
  compression: uWS.DISABLED,
  maxPayloadLength: 16 * 1024 * 1024,
  idleTimeout: 0,
  maxBackpressure: 64 * 1024 * 1024,
  open: (ws) => ws.subscribe('all'),
  // message is an ArrayBuffer valid during this call only; publish and send copy it.
  message: (ws, message, isBinary) => {
    if (!isBinary && prefix(message, 'pub ')) app.publish(slice(message, 4, 6), message, false);
    else if (!isBinary && prefix(message, 'broadcast ')) app.publish('all', message, false);
    else if (!isBinary && prefix(message, 'join ')) {
      ws.subscribe(slice(message, 5, 6));
      ws.send('joined', false);
    } else ws.send(message, isBinary);
  },
}).listen('127.0.0.1', port, (token) => {
  if (!token) { console.error(`uws: cannot listen on ${port}`); process.exit(1); }
  listenSocket = token;
  console.log(`ready ${port}`);
});
const stop = () => { if (listenSocket) uWS.us_listen_socket_close(listenSocket); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
