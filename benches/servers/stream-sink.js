'use strict';
// The stream64m workload's server: it reads what a client sends through a
// stream API and answers "<bytes> <peak RSS bytes>" (VmHWM) each time TOTAL
// bytes have come through. Usage: STREAM_IMPL=lws|ws node benches/servers/stream-sink.js PORT TOTAL
//   lws: lws.Server's 'messageStream' (a Readable per message, the socket paused while it is full)
//   ws:  ws's createWebSocketStream (a Duplex over a ws WebSocket; ws assembles each message first)
const fs = require('fs');
const path = require('path');

const port = Number(process.argv[2] || 9001);
const total = Number(process.argv[3] || 64 * 1024 * 1024);
const peakRss = () => Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;

/** Counts a connection's bytes; `answer(text)` each time a transfer is complete. */
function counter(answer) {
  let bytes = 0;
  return (chunk) => {
    bytes += chunk.length;
    if (bytes >= total) {
      bytes -= total;
      answer(`${total} ${peakRss()}`);
    }
  };
}

let stop;
if (process.env.STREAM_IMPL === 'ws') {
  const { WebSocketServer, createWebSocketStream } = require('ws');
  const wss = new WebSocketServer({ port, host: '127.0.0.1', maxPayload: 2 ** 30 }, () => console.log(`ready ${port}`));
  wss.on('connection', (ws) => createWebSocketStream(ws).on('data', counter((text) => ws.send(text))));
  stop = () => wss.close(() => process.exit(0));
} else {
  const lws = require(process.env.LWS_ROOT || path.join(__dirname, '..', '..'));
  const server = new lws.Server({ port, host: '127.0.0.1', maxMessageSize: 2 ** 30 }, () => console.log(`ready ${port}`));
  const counters = new Map();
  server.on('connection', (socket) => counters.set(socket, counter((text) => server.send(socket, text))));
  server.on('close', (socket) => counters.delete(socket));
  server.on('messageStream', (socket, readable) => readable.on('data', counters.get(socket)));
  stop = () => server.close(() => process.exit(0));
}
process.on('SIGTERM', () => { stop(); setTimeout(() => process.exit(0), 2000).unref(); });
