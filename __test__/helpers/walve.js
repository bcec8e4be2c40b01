'use strict';
// The walve 2 harness: the same scenario against the real walve package and
// lws/walve, each on a fresh http server, with everything observable written
// to a transcript (the server's events in order, incoming headers and payloads,
// what clients receive on the wire, TCP ends). walve-differential.test.js and
// walve-readme.test.js compare the two transcripts.

const http = require('node:http');
const https = require('node:https');
const WebSocket = require('ws');
const { RawClient, KEY, frame: clientFrame, decodeFrames } = require('./differential');
const { withTimeout, sleep, closeHttp } = require('./wait');

const IMPLEMENTATIONS = {
  walve: { label: 'walve 2.0.0', module: require('walve') },
  lws: { label: 'lws/walve', module: require('lws/walve') },
};

/** Fixed mask key: raw clients write the same bytes on every run. */
const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** A masked client frame with the fixed key. */
const frame = (opcode, payload, options = {}) => clientFrame(opcode, payload, { key: MASK, ...options });

/** A header as the transcript keeps it: walve's `masking` is the key plus the bytes read with it, so only the key. */
function describeHeader(header) {
  const out = { ...header };
  if (Buffer.isBuffer(header.masking)) out.masking = header.masking.subarray(0, 4).toString('hex');
  return out;
}

/**
 * Records what a walve Socket does: each incoming frame's header, its payload
 * (joined) and its end, the socket's 'close'. `name` tells sockets apart.
 * (lws/walve's 'end' is not recorded: walve 2 never emits it; it is tested apart.)
 */
function observe(log, socket, name = 'socket') {
  let n = 0;
  socket.on('incoming', (incoming) => {
    const id = `${name}.in${n++}`;
    log.push([id, 'incoming', describeHeader(incoming.header)]);
    const chunks = [];
    incoming.on('data', (chunk) => chunks.push(chunk));
    incoming.on('end', () => log.push([id, 'end', Buffer.concat(chunks).toString('hex')]));
  });
  socket.on('close', () => log.push([name, 'close']));
  socket.on('error', (err) => log.push([name, 'error', err.message]));
}

/** A raw client's upgrade: the request, then the response head (Date's value dropped). */
async function rawUpgrade(port, path = '/', extra = '', ms = 2000) {
  const raw = new RawClient(port);
  raw.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`);
  const head = await raw.head(ms);
  if (head !== null) head.headers = head.headers.map(([name, value]) => [name, name === 'Date' ? '<date>' : value]);
  return { raw, head };
}

/**
 * Runs `scenario(ctx)` against `impl` ('walve' or 'lws') and returns its transcript;
 * with `tls` ({ key, cert }) on an https server (ws clients then use wss:).
 * ctx: { walve (the module), http (listening), port, log(entry...), entries (the log),
 *        raw(path[, extraHeaderLines, ms]) -> { raw, head }, client(path[, options, onCreate(ws)])
 *        -> an open ws client, settle(ms) }.
 */
async function transcriptOf(impl, scenario, { tls } = {}) {
  const entries = [];
  const server = tls ? https.createServer(tls) : http.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  const cleanup = [];
  // walve 2 never closes a connection's TCP socket (Node's http sockets allow half-open ones).
  server.on('upgrade', (req, socket) => cleanup.push(() => socket.destroy()));
  const ctx = {
    walve: IMPLEMENTATIONS[impl].module,
    impl,
    http: server,
    port,
    entries,
    log: (...entry) => entries.push(entry),
    async raw(path, extra, ms) {
      const r = await rawUpgrade(port, path, extra, ms);
      cleanup.push(() => r.raw.destroy());
      return r;
    },
    async client(path = '/', options, onCreate) {
      const ws = new WebSocket(`${tls ? 'wss' : 'ws'}://127.0.0.1:${port}${path}`, tls ? { rejectUnauthorized: false, ...options } : options);
      if (onCreate) onCreate(ws); // before 'open': a frame may come in the same read as the 101
      cleanup.push(() => ws.terminate());
      ws.on('error', (err) => entries.push(['client', 'error', err.message]));
      await withTimeout(new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('close', () => reject(new Error('closed before opening')));
      }), 3000, 'the client to open');
      return ws;
    },
    settle: sleep,
  };
  let transcript;
  try {
    await scenario(ctx);
    transcript = entries.slice(); // what happens during the cleanup is not part of it
  } finally {
    for (const fn of cleanup) fn();
    await closeHttp(server);
  }
  return transcript;
}

module.exports = { IMPLEMENTATIONS, MASK, frame, decodeFrames, describeHeader, observe, transcriptOf, rawUpgrade };
