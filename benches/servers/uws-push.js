'use strict';
// Push server on uWebSockets.js (@trufflesuite/uws-js-unofficial) for the client receive
// workloads. Usage: node benches/servers/uws-push.js PORT --size BYTES [--binary] [--bound BYTES]
//
// Every connection, from the first message the client sends on it (any: the client opens all its
// connections first, then starts them), is sent messages of BYTES bytes as fast as backpressure
// allows: the sockets that can take more are served round robin, 64 KiB (at least 2 messages)
// each per turn of the event loop, corked (many frames leave in one write), while uWS buffers
// less than --bound bytes for the socket (default 256 KiB, at least 4 messages); a socket over it
// rejoins on 'drain'. The client's reading is then the limit (the kernel's socket buffers stay
// full), as far as this one JS thread can produce messages.
//
// Each message carries the connection's sequence number, so the client can check that nothing is
// lost, repeated or reordered:
// - text (the default): bytes 0-3 hold 6 bits each (0x40 + bits, ASCII), low bits first, modulo
//   2^24; the rest is 'x'. Valid UTF-8, as a text message must be.
// - --binary: bytes 0-3 are the number as uint32 little-endian; the rest is 0xa5, the last byte 0x5a.
// What the client sends after its first message is ignored. Prints `ready PORT` once listening on 127.0.0.1.
const uWS = require('@trufflesuite/uws-js-unofficial');

if (!/\[native code\]/.test(String(uWS.App))) throw new Error('uWS.App is not native code');
const argv = process.argv.slice(2);
const port = Number(argv[0]);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i < 0 ? dflt : Number(argv[i + 1]);
};
const size = opt('--size', 16);
const binary = argv.includes('--binary');
if (!Number.isInteger(port) || !Number.isInteger(size) || size < 4) throw new Error('usage: uws-push.js PORT --size BYTES(>=4) [--binary] [--bound BYTES]');
const bound = Math.max(opt('--bound', 256 * 1024), 4 * size);
const chunk = Math.max(64 * 1024, 2 * size);
const perCheck = Math.max(1, Math.floor(16 * 1024 / size));

const msg = Buffer.alloc(size, binary ? 0xa5 : 0x78);
if (binary) msg[size - 1] = 0x5a;

/**
 * Sends on one socket until uWS buffers `bound` bytes for it or `chunk` bytes went out this turn
 * (so a client that keeps up with one socket cannot starve the others); true if it can take more.
 */
function pump(ws) {
  let sent = 0;
  ws.cork(() => {
    let seq = ws.seq;
    // getBufferedAmount is a call into C++ as costly as a send: asked once per 16 KiB.
    while (sent < chunk && ws.getBufferedAmount() < bound) {
      for (let i = 0; i < perCheck; i++) {
        if (binary) {
          msg.writeUInt32LE(seq >>> 0, 0);
        } else {
          msg[0] = 0x40 | (seq & 63);
          msg[1] = 0x40 | ((seq >>> 6) & 63);
          msg[2] = 0x40 | ((seq >>> 12) & 63);
          msg[3] = 0x40 | ((seq >>> 18) & 63);
        }
        seq = (seq + 1) >>> 0;
        ws.send(msg, binary); // 2 (dropped, over maxBackpressure) never happens: see bound
      }
      sent += perCheck * size;
    }
    ws.seq = seq;
  });
  return ws.getBufferedAmount() < bound;
}

// Sockets that can take more, served round robin, a chunk each per turn of the event loop.
const active = new Set();
let scheduled = false;
function turn() {
  scheduled = false;
  for (const ws of active) {
    if (!ws.open || !pump(ws)) active.delete(ws);
  }
  if (active.size > 0) schedule();
}
function schedule() {
  if (!scheduled) { scheduled = true; setImmediate(turn); }
}
function wake(ws) {
  if (ws.open && ws.getBufferedAmount() < bound) { active.add(ws); schedule(); }
}

let listenSocket = null;
const app = uWS.App();
app.ws('/*', {
  compression: uWS.DISABLED,
  maxPayloadLength: 16 * 1024,
  idleTimeout: 0,
  maxBackpressure: 64 * 1024 * 1024, // never reached: the loop above keeps far below it
  open: (ws) => {
    ws.seq = 0;
    ws.open = true;
    ws.started = false;
  },
  drain: (ws) => { if (ws.started) wake(ws); },
  message: (ws) => {
    if (!ws.started) {
      ws.started = true;
      wake(ws);
    }
  },
  close: (ws) => { ws.open = false; active.delete(ws); },
}).listen('127.0.0.1', port, (token) => {
  if (!token) { console.error(`uws-push: cannot listen on ${port}`); process.exit(1); }
  listenSocket = token;
  console.log(`ready ${port}`);
});
const stop = () => { if (listenSocket) uWS.us_listen_socket_close(listenSocket); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
