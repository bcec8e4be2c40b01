'use strict';
// Client differential tests: every scenario runs with ws's client and with the
// candidate client (lws.WebSocket; ws itself with LWS_CLIENT_CANDIDATE=ws) against
// the same servers (ws's WebSocketServer, raw net/http servers for misbehaving
// peers), and the transcripts of everything observable on both ends must be
// deep-equal. Scenarios come from ws 8's documented client API and RFC 6455.
// See helpers/client-differential.js.
//
// Run: node --test __test__/client-differential.test.js
// Self-check (ws against ws, must pass): LWS_CLIENT_CANDIDATE=ws node --test __test__/client-differential.test.js

const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');
const { clientDifferential, describeData, describeError, decodeFrames } = require('./helpers/client-differential');
const { frame } = require('./helpers/frames');

/** A server frame (unmasked). */
const serverFrame = (opcode, payload, options = {}) => frame(opcode, payload, { mask: false, ...options });

/** A close frame's payload. */
function closePayload(code, reason = '') {
  if (code === undefined) return Buffer.alloc(0);
  const buf = Buffer.alloc(2 + Buffer.byteLength(reason));
  buf.writeUInt16BE(code, 0);
  buf.write(reason, 2);
  return buf;
}

const echo = (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));

/** Resolves after `n` 'message' events on `ws` (counted from now). */
function messages(ws, n) {
  return new Promise((resolve) => {
    let seen = 0;
    const on = () => {
      if (++seen < n) return;
      ws.removeListener('message', on);
      resolve();
    };
    ws.on('message', on);
  });
}

/** A ws server whose server-side sockets can be awaited: { url, connection() }. */
async function serverWithConnections(run, options = {}, extra = {}) {
  const waiters = [];
  const sockets = [];
  const server = await run.wsServer(options, {
    ...extra,
    onConnection: (ws, req) => {
      sockets.push(ws);
      if (extra.onConnection) extra.onConnection(ws, req);
      while (waiters.length) waiters.shift()();
    },
  });
  server.connection = async (i = 0) => {
    if (sockets.length <= i) await run.settle(new Promise((resolve) => waiters.push(resolve)), `server connection #${i}`);
    return sockets[i];
  };
  return server;
}

/** Closes `client` with 1000 (if open) and waits for both ends. */
async function finish(run, client, serverWs) {
  if (client && client.readyState === 1) client.close(1000, 'done');
  await run.closed([client, serverWs]);
}

// ---- messages ---------------------------------------------------------------------

clientDifferential('echo: text, binary, empty, 100 KiB, typed arrays, then close 1000', async (run) => {
  const server = await serverWithConnections(run, {}, { onConnection: echo });
  const client = run.client(server.url('/echo?x=1'));
  if (!(await run.opened(client))) return;
  const got = messages(client, 7);
  client.send('héllo wörld 🎉');
  client.send(Buffer.from([0, 1, 2, 255]));
  client.send('');
  client.send(Buffer.alloc(0), { binary: true });
  client.send(crypto100k());
  client.send(new Float32Array([0, 0.5, 1, 1.5]));
  client.send(new Uint8Array([9, 8, 7]).buffer);
  await run.settle(got, 'echoes');
  await finish(run, client, await server.connection());
});

clientDifferential('message listeners: once, several, added and removed while dispatching, none', async (run) => {
  const server = await serverWithConnections(run, {}, { onConnection: echo });
  const client = run.client(server.url('/'));
  if (!(await run.opened(client))) return;
  const got = messages(client, 4);
  const seen = (who) => (data, isBinary) => run.log('listeners', { who, data: String(data), isBinary });
  client.once('message', seen('once'));
  const late = seen('late');
  client.on('message', function first(data) {
    run.log('listeners', { who: 'first', data: String(data), thisIsClient: this === client });
    if (String(data) === 'two') client.on('message', late);
    if (String(data) === 'three') client.removeListener('message', late);
  });
  for (const m of ['one', 'two', 'three', 'four']) client.send(m);
  await run.settle(got, 'echoes');
  client.removeAllListeners('message');
  const quiet = new Promise((resolve) => setTimeout(resolve, 100));
  client.send('unheard');
  await quiet;
  await finish(run, client, await server.connection());
});

clientDifferential('captureRejections: a message listener that rejects is reported on error', async (run) => {
  const { EventEmitter } = require('node:events');
  const server = await serverWithConnections(run, {}, { onConnection: echo });
  EventEmitter.captureRejections = true;
  let client;
  try {
    client = run.client(server.url('/'));
  } finally {
    EventEmitter.captureRejections = false;
  }
  if (!(await run.opened(client))) return;
  const failed = new Promise((resolve) => client.once('error', (err) => {
    run.log('errors', { message: err.message });
    resolve();
  }));
  EventEmitter.captureRejections = true;
  client.on('message', async (data) => { throw new Error(`rejected ${data}`); });
  client.send('x');
  try {
    await run.settle(failed, 'the rejection on error');
  } finally {
    EventEmitter.captureRejections = false;
  }
  await finish(run, client, await server.connection());
});

function crypto100k() {
  const buf = Buffer.alloc(100 * 1024);
  for (let i = 0; i < buf.length; i++) buf[i] = (i * 31 + 7) & 0xff;
  return buf;
}

clientDifferential('send options: binary text, text from a Buffer, fin: false fragments, callbacks', async (run) => {
  const server = await serverWithConnections(run, {}, { onConnection: echo });
  const client = run.client(server.url('/'));
  if (!(await run.opened(client))) return;
  const got = messages(client, 3);
  const cb = (what) => (err) => run.log('callbacks', { what, error: describeError(err) });
  client.send('as binary', { binary: true }, cb('binary'));
  client.send(Buffer.from('as text'), { binary: false }, cb('text'));
  client.send('frag-1 ', { fin: false }, cb('f1'));
  client.send('frag-2 ', { fin: false }, cb('f2'));
  client.send('frag-3', { fin: true }, cb('f3'));
  await run.settle(got, 'echoes');
  await finish(run, client, await server.connection());
});

clientDifferential('send: Blobs, then close() at once: what was sent before the close leaves first; bufferedAmount counts what waits', async (run) => {
  const server = await serverWithConnections(run, {}, { onConnection: echo });
  const client = run.client(server.url('/'));
  if (!(await run.opened(client))) return;
  const cb = (what) => (err) => run.log('callbacks', { what, error: describeError(err) });
  client.send(new Blob(['blob one']), cb('blob 1'));
  client.send('text between', cb('text'));
  client.send(new Blob([Buffer.from([1, 2, 3])]), cb('blob 2'));
  client.ping('p', undefined, cb('ping'));
  run.log('client', { ev: 'queued', bufferedAmount: client.bufferedAmount });
  client.close(1000, 'after blobs');
  run.log('client', { ev: 'closing', readyState: client.readyState, bufferedAmount: client.bufferedAmount });
  client.send('after close', cb('after close'));
  await run.closed([client, await server.connection()]);
});

clientDifferential('send: a Blob, then terminate(): the callbacks waiting behind it get ws\'s error', async (run) => {
  const server = await serverWithConnections(run);
  const client = run.client(server.url('/'));
  if (!(await run.opened(client))) return;
  const cb = (what) => (err) => run.log('callbacks', { what, error: describeError(err), readyState: client.readyState });
  client.send(new Blob(['never sent']), cb('blob'));
  client.send('behind it', cb('text'));
  client.terminate();
  await run.closed([client, await server.connection()]);
});

clientDifferential('send: a Blob that cannot be read: the callbacks get the error, then \'error\' and close 1006', async (run) => {
  const file = path.join(os.tmpdir(), `lws-blob-${process.pid}-${Date.now()}.txt`);
  fs.writeFileSync(file, 'x'.repeat(64));
  const blob = await fs.openAsBlob(file);
  fs.writeFileSync(file, 'x'.repeat(32)); // the Blob's snapshot no longer matches: reading it fails
  try {
    const server = await serverWithConnections(run);
    const client = run.client(server.url('/'));
    if (!(await run.opened(client))) return;
    const cb = (what) => (err) => run.log('callbacks', { what, error: describeError(err), readyState: client.readyState });
    client.send(blob, cb('unreadable'));
    client.send('behind it', cb('text'));
    await run.closed([client, await server.connection()]);
  } finally {
    fs.rmSync(file, { force: true });
  }
});

clientDifferential('raw server: the frames a client writes (masked, opcodes, fin, lengths, close)', async (run) => {
  const raw = await run.rawServer(async (peer) => {
    peer.switchProtocols();
    await peer.until(() => decodeRaw(peer.buffer).some((f) => f.opcode === 8), 4000);
    const frames = decodeFrames(peer.buffer);
    peer.buffer = Buffer.alloc(0);
    run.log('raw', { ev: 'frames', frames });
    peer.write(serverFrame(8, closePayload(4000, 'client bye')));
    await peer.until(() => peer.ended, 3000);
    run.log('raw', { ev: 'client ended', ended: peer.ended, extra: peer.buffer.toString('hex') });
    peer.end();
  });
  const client = run.client(raw.url('/frames'), undefined, { perMessageDeflate: false });
  if (!(await run.opened(client))) return;
  client.send('text');
  client.send(Buffer.from('bin'));
  client.send('a', { fin: false });
  client.send('b', { fin: true });
  client.ping('p');
  client.pong('q');
  client.send(Buffer.alloc(300, 1));
  client.send(Buffer.alloc(70000, 2));
  client.close(4000, 'client bye');
  await run.closed(client);
});

clientDifferential('a server that answers the close frame and leaves TCP open: the client ends TCP itself once both close frames are exchanged', async (run) => {
  const raw = await run.rawServer(async (peer) => {
    peer.switchProtocols();
    await peer.until(() => decodeRaw(peer.buffer).some((f) => f.opcode === 8), 4000);
    peer.buffer = Buffer.alloc(0);
    peer.write(serverFrame(8, closePayload(1000, 'bye')));
    // Well inside closeTimeout (30 s): only a client that sends FIN after the exchange ends TCP here.
    const ended = await peer.until(() => peer.ended, 1500);
    run.log('raw', { ev: 'client ended TCP within 1.5 s', ended });
    peer.end();
  });
  const client = run.client(raw.url('/'), undefined, { perMessageDeflate: false });
  if (!(await run.opened(client))) return;
  client.close(1000, 'bye');
  await run.closed(client);
});

clientDifferential('a server that sends the 101, a message, its close frame and FIN in one segment: the client opens, gets the message, then the close', async (run) => {
  const raw = await run.rawServer(async (peer) => {
    const head = ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${peer.accept}`];
    peer.socket.end(Buffer.concat([
      Buffer.from(`${head.join('\r\n')}\r\n\r\n`),
      serverFrame(1, 'last words'),
      serverFrame(8, closePayload(1000, 'bye')),
    ]));
  });
  const client = run.client(raw.url('/'), undefined, { perMessageDeflate: false });
  if (!(await run.opened(client))) return;
  await run.closed(client);
});

clientDifferential('a server that sends the 101 and FIN in one segment: the client opens, then closes with 1006', async (run) => {
  const raw = await run.rawServer(async (peer) => {
    const head = ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${peer.accept}`];
    peer.socket.end(`${head.join('\r\n')}\r\n\r\n`);
  });
  const client = run.client(raw.url('/'), undefined, { perMessageDeflate: false });
  if (!(await run.opened(client))) return;
  await run.closed(client);
});

clientDifferential('fragmented server messages (text, binary, control frames between fragments)', async (run) => {
  const raw = await run.rawServer(async (peer) => {
    peer.switchProtocols();
    peer.write(Buffer.concat([
      serverFrame(1, 'hel', { fin: false }),
      serverFrame(9, 'between'),
      serverFrame(0, 'lo ', { fin: false }),
      serverFrame(0, 'wörld'),
      serverFrame(2, Buffer.from([1, 2]), { fin: false }),
      serverFrame(0, Buffer.from([3]), { fin: false }),
      serverFrame(0, Buffer.alloc(0)),
      serverFrame(1, ''),
      serverFrame(8, closePayload(1000, 'srv done')),
    ]));
    const result = await peer.untilEnd(4000);
    run.log('raw', { ev: 'client frames', frames: result.frames });
  });
  const client = run.client(raw.url('/'), undefined, { perMessageDeflate: false });
  await run.closed(client);
});

clientDifferential("server's text split into frames inside a UTF-8 character; invalid UTF-8 closes 1007", async (run) => {
  const raw = await run.rawServer(async (peer) => {
    peer.switchProtocols();
    const euro = Buffer.from('€');
    peer.write(Buffer.concat([serverFrame(1, euro.subarray(0, 1), { fin: false }), serverFrame(0, euro.subarray(1))]));
    peer.write(serverFrame(1, Buffer.from([0xc3, 0x28])));
    const result = await peer.untilEnd(4000);
    run.log('raw', { ev: 'client frames', frames: result.frames });
    peer.end();
  });
  const client = run.client(raw.url('/'), undefined, { perMessageDeflate: false });
  await run.closed(client);
});

// ---- close ----------------------------------------------------------------------------

clientDifferential('client closes with code and reason; states along the way', async (run) => {
  const server = await serverWithConnections(run);
  const client = run.client(server.url('/'));
  if (!(await run.opened(client))) return;
  const serverWs = await server.connection();
  client.close(4000, 'client bye');
  run.log('client', { ev: 'after close()', readyState: client.readyState });
  client.close(4001, 'again');
  run.attempt('client', 'send while closing', () => client.send('late'));
  await run.closed([client, serverWs]);
  run.attempt('client', 'send after close', () => client.send('later', (err) => run.log('client', { ev: 'send callback', error: describeError(err) })));
  // ws counts what is sent after the close in bufferedAmount.
  run.log('client', { ev: 'after send', bufferedAmount: client.bufferedAmount });
  await run.settle(new Promise((resolve) => setImmediate(resolve)), 'tick');
});

clientDifferential('client close(): no code, 1000 without reason, invalid codes and long reasons throw', async (run) => {
  const server = await serverWithConnections(run);
  const client = run.client(server.url('/'));
  if (!(await run.opened(client))) return;
  run.attempt('client', 'close(1005)', () => client.close(1005));
  run.attempt('client', 'close(999)', () => client.close(999));
  run.attempt('client', 'close(1000, 124 bytes)', () => client.close(1000, 'x'.repeat(124)));
  run.attempt('client', "close(undefined, 'r')", () => client.close(undefined, 'r'));
  run.attempt('client', 'close()', () => client.close());
  await run.closed([client, await server.connection()]);
});

clientDifferential('server closes first with code and reason, with a message before it', async (run) => {
  const server = await serverWithConnections(run, {}, {
    onConnection: (ws) => {
      ws.send('last words');
      ws.close(4001, 'server bye');
    },
  });
  const client = run.client(server.url('/'));
  await run.closed([client, await server.connection()]);
});

clientDifferential('server closes without a code (1005) and with 1000 and an empty reason', async (run) => {
  const server = await serverWithConnections(run, {}, {
    onConnection: (ws, req) => {
      if (req.url === '/none') ws.close();
      else ws.close(1000);
    },
  });
  const a = run.client(server.url('/none'), undefined, undefined, { actor: 'client none' });
  await run.closed([a, await server.connection(0)]);
  const b = run.client(server.url('/1000'), undefined, undefined, { actor: 'client 1000' });
  await run.closed([b, await server.connection(1)]);
});

clientDifferential('server terminates the TCP connection: close 1006', async (run) => {
  const server = await serverWithConnections(run, {}, { onConnection: (ws) => ws.terminate() });
  const client = run.client(server.url('/'));
  await run.closed([client, await server.connection()]);
});

clientDifferential('client terminate() while open, and close()/terminate() while connecting', async (run) => {
  const server = await serverWithConnections(run);
  const a = run.client(server.url('/a'), undefined, undefined, { actor: 'client a' });
  if (await run.opened(a)) {
    a.terminate();
    await run.closed([a, await server.connection(0)]);
  }
  const b = run.client(server.url('/b'), undefined, undefined, { actor: 'client b' });
  b.close();
  await run.closed(b);
  const c = run.client(server.url('/c'), undefined, undefined, { actor: 'client c' });
  c.terminate();
  await run.closed(c);
  const d = run.client(server.url('/d'), undefined, undefined, { actor: 'client d' });
  run.attempt('client d', 'send while connecting', () => d.send('early'));
  run.attempt('client d', 'ping while connecting', () => d.ping());
  d.close();
  await run.closed(d);
});

clientDifferential('raw server answers a close frame only after a message: messages before the close are delivered', async (run) => {
  const raw = await run.rawServer(async (peer) => {
    peer.switchProtocols();
    const first = await peer.frames(2 + 4 + 4 + 2 + 4 + 5);
    run.log('raw', { ev: 'got', frames: first });
    peer.write(Buffer.concat([serverFrame(1, 'after your close'), serverFrame(8, closePayload(4002, 'ok'))]));
    await peer.until(() => peer.ended, 3000);
    run.log('raw', { ev: 'client ended', ended: peer.ended });
    peer.end();
  });
  const client = run.client(raw.url('/'), undefined, { perMessageDeflate: false });
  if (!(await run.opened(client))) return;
  client.send('ping');
  client.close(4000, 'bye');
  await run.closed(client);
});

// ---- ping / pong ---------------------------------------------------------------------

clientDifferential('ping/pong: server pings (autoPong), client pings, payloads', async (run) => {
  const server = await serverWithConnections(run);
  const client = run.client(server.url('/'));
  if (!(await run.opened(client))) return;
  const serverWs = await server.connection();
  const pong = run.next(serverWs, 'pong', 'server pong');
  serverWs.ping('from server');
  await pong;
  const emptyPong = run.next(serverWs, 'pong', 'server empty pong');
  serverWs.ping();
  await emptyPong;
  const clientPong = run.next(client, 'pong', 'client pong');
  client.ping('from client');
  await clientPong;
  const numberPong = run.next(client, 'pong', 'client number pong');
  client.ping(12345);
  await numberPong;
  run.attempt('client', 'ping 126 bytes', () => client.ping(Buffer.alloc(126)));
  const cbPong = run.next(client, 'pong', 'pong after the callback');
  const cbDone = new Promise((resolve) => client.ping('cb', undefined, (err) => {
    run.log('client', { ev: 'ping callback', error: describeError(err) });
    resolve();
  }));
  await run.settle(Promise.all([cbDone, cbPong]), 'ping callback and pong');
  await finish(run, client, serverWs);
});

clientDifferential('autoPong: false: the client does not answer; a manual pong does', async (run) => {
  const server = await serverWithConnections(run);
  const client = run.client(server.url('/'), undefined, { autoPong: false });
  if (!(await run.opened(client))) return;
  const serverWs = await server.connection();
  const pinged = run.next(client, 'ping', 'client ping');
  serverWs.ping('one');
  await pinged;
  // A round trip after the ping: any automatic pong would have arrived before this echo.
  serverWs.on('message', (data, isBinary) => serverWs.send(data, { binary: isBinary }));
  const back = run.next(client, 'message', 'echo');
  client.send('sync');
  await back;
  const pong = run.next(serverWs, 'pong', 'manual pong');
  client.pong('manual');
  await pong;
  await finish(run, client, serverWs);
});

// ---- subprotocols ---------------------------------------------------------------------

clientDifferential('subprotocols: selection, a single string, none selected (error)', async (run) => {
  const server = await serverWithConnections(run, {
    handleProtocols: (protocols, req) => (req.url === '/none' ? false : [...protocols].pop()),
  });
  const a = run.client(server.url('/'), ['chat', 'superchat'], undefined, { actor: 'client a' });
  if (await run.opened(a)) await finish(run, a, await server.connection(0));
  const b = run.client(server.url('/'), 'only', undefined, { actor: 'client b' });
  if (await run.opened(b)) await finish(run, b, await server.connection(1));
  const c = run.client(server.url('/none'), ['x'], undefined, { actor: 'client c' });
  await run.closed(c);
});

clientDifferential('subprotocols: invalid or duplicated ones throw in the constructor', async (run) => {
  const server = await serverWithConnections(run);
  run.client(server.url('/'), ['a', 'a'], undefined, { actor: 'dup' });
  run.client(server.url('/'), ['a b'], undefined, { actor: 'space' });
  run.client(server.url('/'), [''], undefined, { actor: 'empty' });
  run.client(server.url('/'), [1], undefined, { actor: 'number' });
});

clientDifferential('raw 101 answers: unrequested, unknown or missing subprotocol; unrequested extension; bad accept; bad Upgrade', async (run) => {
  const cases = {
    '/unrequested': { protocols: undefined, extra: ['Sec-WebSocket-Protocol: chat'] },
    '/unknown': { protocols: ['a'], extra: ['Sec-WebSocket-Protocol: b'] },
    '/missing': { protocols: ['a'], extra: [] },
    '/ext-not-offered': { protocols: undefined, extra: ['Sec-WebSocket-Extensions: permessage-deflate'], options: { perMessageDeflate: false } },
    '/ext-unknown': { protocols: undefined, extra: ['Sec-WebSocket-Extensions: x-foo'] },
    '/ext-bad-params': { protocols: undefined, extra: ['Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=99'] },
    '/bad-accept': { protocols: undefined, extra: [], accept: 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=' },
    '/no-accept': { protocols: undefined, extra: [], accept: null },
    '/bad-upgrade': { protocols: undefined, upgrade: 'h2c' },
  };
  const raw = await run.rawServer(async (peer) => {
    const target = peer.head.requestLine.split(' ')[1];
    const c = cases[target];
    if (c.upgrade) peer.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${c.upgrade}\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${peer.accept}\r\n\r\n`);
    else peer.switchProtocols(c.extra, c.accept === undefined ? {} : { accept: c.accept });
    await peer.until(() => peer.ended, 3000);
    run.log('raw', { ev: 'client ended', target, ended: peer.ended, extra: peer.buffer.toString('hex') });
    peer.end();
  }, { logHead: false });
  for (const [target, c] of Object.entries(cases)) {
    const client = run.client(raw.url(target), c.protocols, c.options, { actor: `client ${target}` });
    await run.closed(client);
  }
});

// ---- non-101 answers, timeouts ------------------------------------------------------------

clientDifferential("non-101 answer without an 'unexpected-response' listener: error, close 1006", async (run) => {
  const server = await run.httpServer((req, res) => {
    res.writeHead(403, { 'Content-Type': 'text/plain', 'X-Why': 'no' });
    res.end('forbidden');
  });
  const client = run.client(server.url('/'));
  await run.closed(client);
});

clientDifferential("non-101 answer with an 'unexpected-response' listener: (req, res), body readable, then terminate()", async (run) => {
  const server = await run.httpServer((req, res) => {
    res.writeHead(401, { 'Content-Type': 'text/plain', 'WWW-Authenticate': 'Basic' });
    res.end('who are you');
  });
  const client = run.client(server.url('/secret'), undefined, undefined, {
    unexpectedResponse: (ws, req, res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        run.log('client', { ev: 'response body', body: Buffer.concat(chunks).toString() });
        ws.terminate();
      });
    },
  });
  await run.closed(client);
});

clientDifferential("'unexpected-response': req.abort() reads the answer to its end (res 'end', 'close')", async (run) => {
  const server = await run.httpServer((req, res) => {
    res.writeHead(401, { 'Content-Type': 'text/plain', 'Content-Length': '3' });
    res.end('foo');
  });
  const client = run.client(server.url('/'), undefined, undefined, {
    unexpectedResponse: (ws, req, res) => {
      res.on('end', () => run.log('client', { ev: "res 'end'" }));
      res.on('close', () => {
        run.log('client', { ev: "res 'close'", readyState: ws.readyState });
        ws.terminate();
      });
      req.abort();
    },
  });
  await run.closed(client);
});

clientDifferential('createConnection: the options it is given (host, and the port as the URL has it)', async (run) => {
  const server = await serverWithConnections(run);
  const client = run.client(server.url('/cc'), undefined, {
    createConnection: (options) => {
      run.log('createConnection', { host: options.host, port: options.port, portType: typeof options.port, path: options.path });
      return net.connect({ host: options.host, port: Number(options.port) });
    },
  });
  if (await run.opened(client)) client.close();
  await run.closed(client);
});

clientDifferential('a 200 answer to the upgrade, and a 101 from an http server that then closes', async (run) => {
  const server = await run.httpServer((req, res) => {
    if (req.url === '/ok') {
      res.writeHead(200, { 'Content-Length': '2' });
      res.end('ok');
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  const a = run.client(server.url('/ok'), undefined, undefined, { actor: 'client ok' });
  await run.closed(a);
  const b = run.client(server.url('/missing'), undefined, undefined, { actor: 'client missing' });
  await run.closed(b);
});

clientDifferential('handshakeTimeout: a server that accepts and never answers', async (run) => {
  const raw = await run.rawServer(async (peer) => {
    await peer.until(() => peer.ended, 3000);
    run.log('raw', { ev: 'client gone', ended: peer.ended });
  });
  const client = run.client(raw.url('/slow'), undefined, { handshakeTimeout: 200 });
  await run.closed(client);
});

// ---- redirects --------------------------------------------------------------------------

/** An http server answering /r<n>... with redirects (status, Location from the table), and a ws server behind /final. */
async function redirector(run, table, name = 'redir') {
  const target = await run.wsServer({}, { name: 'target' });
  let redirects;
  const server = await run.httpServer((req, res) => {
    const entry = redirects[req.url.split('?')[0]];
    if (!entry) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(entry.status, entry.location === undefined ? {} : { Location: entry.location(server, target) });
    res.end();
  }, { name });
  redirects = table;
  return { server, target };
}

clientDifferential('redirects: not followed by default (error), followed with followRedirects (redirect event, url)', async (run) => {
  const { server } = await redirector(run, {
    '/start': { status: 302, location: () => '/next' },
    '/next': { status: 301, location: (s) => s.url('/final') },
    '/final': { status: 307, location: (s, t) => t.url('/end?q=1') },
  });
  const a = run.client(server.url('/start'), undefined, undefined, { actor: 'no follow' });
  await run.closed(a);
  const b = run.client(server.url('/start'), undefined, { followRedirects: true }, { actor: 'follow', redirect: true });
  if (await run.opened(b)) {
    run.log('follow', { ev: 'url after open', url: b.url });
    b.close();
    await run.closed(b);
  }
});

clientDifferential('redirects: maxRedirects exceeded, a loop, a 3xx without Location, an invalid Location', async (run) => {
  const { server } = await redirector(run, {
    '/one': { status: 302, location: () => '/two' },
    '/two': { status: 302, location: () => '/three' },
    '/three': { status: 302, location: (s, t) => t.url('/') },
    '/loop': { status: 302, location: () => '/loop' },
    '/nolocation': { status: 302 },
    '/invalid': { status: 302, location: () => 'ws://[bad' },
    '/ftp': { status: 302, location: () => 'ftp://example.invalid/' },
    '/fragment': { status: 302, location: () => '/x#frag' },
  });
  const cases = [
    ['/one', { followRedirects: true, maxRedirects: 1 }],
    ['/one', { followRedirects: true, maxRedirects: 3 }],
    ['/loop', { followRedirects: true, maxRedirects: 4 }],
    ['/nolocation', { followRedirects: true }],
    ['/invalid', { followRedirects: true }],
    ['/ftp', { followRedirects: true }],
    ['/fragment', { followRedirects: true }],
  ];
  for (const [target, options] of cases) {
    const c = run.client(server.url(target), undefined, options, { actor: `${target} max ${options.maxRedirects}` });
    if (await run.opened(c)) c.close();
    await run.closed(c);
  }
});

clientDifferential('redirects: Authorization, Cookie and Host are kept on the same host, dropped across hosts (and kept with a redirect listener)', async (run) => {
  const { server } = await redirector(run, {
    '/same': { status: 302, location: (s) => s.url('/same2') },
    '/same2': { status: 302, location: (s) => s.url('/same3').replace('127.0.0.1', '127.0.0.1') },
    '/same3': { status: 404 },
    '/cross': { status: 302, location: (s, t) => t.url('/landed') },
  });
  const headers = { Authorization: 'Bearer secret', Cookie: 'sid=1', 'X-Keep': 'yes' };
  const a = run.client(server.url('/same'), undefined, { followRedirects: true, headers }, { actor: 'same host' });
  await run.closed(a);
  const b = run.client(server.url('/cross'), undefined, { followRedirects: true, headers: { ...headers, Host: 'custom.example' } }, { actor: 'cross host' });
  if (await run.opened(b)) b.close();
  await run.closed(b);
  const c = run.client(server.url('/cross').replace('127.0.0.1', 'user:pass@127.0.0.1'), undefined, { followRedirects: true }, { actor: 'cross host, userinfo' });
  if (await run.opened(c)) c.close();
  await run.closed(c);
  const d = run.client(server.url('/cross'), undefined, { followRedirects: true, headers }, { actor: 'cross host, redirect listener', redirect: true });
  if (await run.opened(d)) d.close();
  await run.closed(d);
});

clientDifferential('redirects: a redirect listener reads, removes and sets headers (getHeader, removeHeader, setHeader)', async (run) => {
  const { server } = await redirector(run, {
    '/cross': { status: 302, location: (s, t) => t.url('/landed') },
  });
  const url = server.url('/cross').replace('127.0.0.1', 'user:pass@127.0.0.1');
  const c = run.client(url, undefined, { followRedirects: true, headers: { Cookie: 'sid=1', 'X-Keep': 'yes' } }, {
    redirect: (ws, to, req) => {
      run.log('client', {
        ev: 'headers',
        authorization: req.getHeader('Authorization'),
        cookie: req.getHeader('cookie'),
        keep: req.getHeader('X-Keep'),
        host: req.getHeader('host'),
      });
      req.removeHeader('authorization');
      req.removeHeader('Cookie');
      req.setHeader('X-Added', 'by the listener');
    },
  });
  if (await run.opened(c)) c.close();
  await run.closed(c);
});

clientDifferential('redirects: an http: URL redirected to an http: Location, with a redirect listener (headers kept)', async (run) => {
  const { server } = await redirector(run, {
    '/a': { status: 302, location: (s, t) => t.url('/b').replace('ws:', 'http:') },
  });
  const c = run.client(server.url('/a', 'http'), undefined, { followRedirects: true, headers: { authorization: 'x', cookie: 'y' } }, { actor: 'http scheme', redirect: true });
  if (await run.opened(c)) c.close();
  await run.closed(c);
});

// ---- extensions -----------------------------------------------------------------------

clientDifferential('perMessageDeflate: offered by default; accepted by a deflate server (messages both ways); not offered when false', async (run) => {
  const server = await serverWithConnections(run, { perMessageDeflate: { threshold: 0 } }, { onConnection: echo });
  const a = run.client(server.url('/a'), undefined, undefined, { actor: 'default' });
  if (await run.opened(a)) {
    const got = messages(a, 2);
    a.send('compress me '.repeat(200));
    a.send(crypto100k());
    await run.settle(got, 'echoes');
    await finish(run, a, await server.connection(0));
  }
  const b = run.client(server.url('/b'), undefined, { perMessageDeflate: false }, { actor: 'off' });
  if (await run.opened(b)) await finish(run, b, await server.connection(1));
  const c = run.client(server.url('/c'), undefined, { perMessageDeflate: { serverNoContextTakeover: true, clientMaxWindowBits: 10 } }, { actor: 'params' });
  if (await run.opened(c)) await finish(run, c, await server.connection(2));
});

clientDifferential('perMessageDeflate: clientMaxWindowBits: true is offered bare (any size), and a server accepts it', async (run) => {
  const server = await serverWithConnections(run, { perMessageDeflate: { threshold: 0 } }, { onConnection: echo });
  const client = run.client(server.url('/'), undefined, { perMessageDeflate: { clientNoContextTakeover: true, clientMaxWindowBits: true } });
  if (!(await run.opened(client))) return;
  const got = messages(client, 1);
  client.send('deflated '.repeat(100));
  await run.settle(got, 'echo');
  await finish(run, client, await server.connection());
});

clientDifferential('perMessageDeflate: a server without deflate; the frames a client compresses (raw server, RSV1, inflated)', async (run) => {
  const server = await serverWithConnections(run, {}, { onConnection: echo });
  const a = run.client(server.url('/'), undefined, undefined, { actor: 'plain server' });
  if (await run.opened(a)) await finish(run, a, await server.connection(0));
  const raw = await run.rawServer(async (peer) => {
    peer.switchProtocols(['Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover']);
    const big = Buffer.from('abcdefgh'.repeat(512));
    peer.write(serverFrame(1, Buffer.concat([zlib.deflateRawSync(big, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4)]), { rsv1: true }));
    await peer.until(() => peer.buffer.length >= 2 && decodedCount(peer.buffer) >= 3, 3000);
    const frames = decodeRaw(peer.buffer);
    peer.buffer = Buffer.alloc(0);
    run.log('raw', {
      ev: 'client frames',
      frames: frames.map((f) => ({ fin: f.fin, rsv1: f.rsv1, opcode: f.opcode, masked: f.masked, data: f.rsv1 ? describeData(zlib.inflateRawSync(Buffer.concat([f.payload, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: zlib.constants.Z_SYNC_FLUSH }), f.opcode === 2) : describeData(f.payload, f.opcode === 2) })),
    });
    peer.write(serverFrame(8, closePayload(1000)));
    await peer.until(() => peer.ended, 3000);
    peer.end();
  }, { name: 'raw deflate' });
  const b = run.client(raw.url('/'), undefined, undefined, { actor: 'raw deflate' });
  if (await run.opened(b)) {
    b.send('small');
    b.send('x'.repeat(2000));
    b.send(Buffer.alloc(5000, 3), { compress: false });
  }
  await run.closed(b);
});

/** Frames in `buf` with their raw payload and RSV1 (compressed payloads must not be compared byte for byte). */
function decodeRaw(buf) {
  const out = [];
  let pos = 0;
  while (buf.length - pos >= 2) {
    let len = buf[pos + 1] & 0x7f;
    let at = pos + 2;
    if (len === 126) {
      len = buf.readUInt16BE(at);
      at += 2;
    } else if (len === 127) {
      len = Number(buf.readBigUInt64BE(at));
      at += 8;
    }
    const masked = (buf[pos + 1] & 0x80) !== 0;
    const key = masked ? buf.subarray(at, at + 4) : null;
    if (masked) at += 4;
    if (buf.length - at < len) break;
    const payload = Buffer.from(buf.subarray(at, at + len));
    if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
    out.push({ fin: (buf[pos] & 0x80) !== 0, rsv1: (buf[pos] & 0x40) !== 0, opcode: buf[pos] & 0x0f, masked, payload });
    pos = at + len;
  }
  return out;
}

const decodedCount = (buf) => decodeRaw(buf).length;

// ---- limits, options ----------------------------------------------------------------------

clientDifferential('maxPayload: a larger server message closes with 1009 (error code WS_ERR_UNSUPPORTED_MESSAGE_LENGTH)', async (run) => {
  const server = await serverWithConnections(run, {}, {
    onConnection: (ws) => {
      ws.send('1234567890');
      ws.send('12345678901');
    },
  });
  const client = run.client(server.url('/'), undefined, { maxPayload: 10 });
  await run.closed([client, await server.connection()]);
});

clientDifferential('protocolVersion 8 with origin (Sec-WebSocket-Origin), 13 with origin and headers; invalid versions throw', async (run) => {
  const server = await serverWithConnections(run);
  const a = run.client(server.url('/v8'), undefined, { protocolVersion: 8, origin: 'http://example.com' }, { actor: 'v8' });
  if (await run.opened(a)) await finish(run, a, await server.connection(0));
  const b = run.client(server.url('/v13'), undefined, { origin: 'http://example.org', headers: { 'X-Custom': 'a', 'User-Agent': 'tester/1.0' } }, { actor: 'v13' });
  if (await run.opened(b)) await finish(run, b, await server.connection(1));
  run.client(server.url('/'), undefined, { protocolVersion: 7 }, { actor: 'v7' });
  run.client(server.url('/'), undefined, { protocolVersion: '13' }, { actor: 'v13 string' });
});

clientDifferential('URL forms: http: and https: schemes become ws:/wss:, userinfo becomes Basic auth, query kept, IPv6 literal', async (run) => {
  const server = await serverWithConnections(run);
  const a = run.client(server.url('/p?q=1&r=2', 'http'), undefined, undefined, { actor: 'http' });
  if (await run.opened(a)) await finish(run, a, await server.connection(0));
  const b = run.client(server.url('/auth').replace('127.0.0.1', 'us%40er:p%3Ass@127.0.0.1'), undefined, undefined, { actor: 'userinfo' });
  if (await run.opened(b)) await finish(run, b, await server.connection(1));
  const c = run.client(new URL(server.url('/as-url-object')), undefined, undefined, { actor: 'URL object' });
  if (await run.opened(c)) await finish(run, c, await server.connection(2));
});

clientDifferential('invalid URLs and unknown schemes: constructor errors', async (run) => {
  for (const url of ['not a url', '', 'ftp://127.0.0.1/', 'ws://127.0.0.1/#frag', 'ws+unix:', 'mailto:a@b.c', 'ws://', 'wss://[::1/']) {
    run.client(url, undefined, undefined, { actor: `url ${JSON.stringify(url)}` });
  }
});

// 'fragments' on a message sent in several frames is a documented difference (the
// engine assembles messages: README); it is compared on single-frame messages below,
// and __test__/ws-client.test.js checks what lws gives for a fragmented one.
clientDifferential('binaryType: nodebuffer, arraybuffer, blob (a fragmented binary message), invalid value ignored', async (run) => {
  const raw = await run.rawServer(async (peer) => {
    peer.switchProtocols();
    peer.write(Buffer.concat([
      serverFrame(2, Buffer.from([1, 2, 3])),
      serverFrame(2, Buffer.from([4]), { fin: false }),
      serverFrame(0, Buffer.from([5, 6]), { fin: false }),
      serverFrame(0, Buffer.from([7])),
      serverFrame(1, 'text stays text'),
      serverFrame(8, closePayload(1000)),
    ]));
    await peer.until(() => peer.ended, 3000);
    peer.end();
  }, { logHead: false });
  for (const binaryType of ['nodebuffer', 'arraybuffer', 'blob', 'nonsense']) {
    const c = run.client(raw.url('/'), undefined, { perMessageDeflate: false }, { actor: binaryType });
    if (!c) continue;
    c.binaryType = binaryType;
    run.log(binaryType, { ev: 'binaryType set', binaryType: c.binaryType });
    await run.closed(c);
  }
});

clientDifferential("binaryType 'fragments' on messages that come in one frame each", async (run) => {
  const raw = await run.rawServer(async (peer) => {
    peer.switchProtocols();
    peer.write(Buffer.concat([
      serverFrame(2, Buffer.from([1, 2, 3])),
      serverFrame(2, Buffer.alloc(0)),
      serverFrame(1, 'text stays text'),
      serverFrame(8, closePayload(1000)),
    ]));
    await peer.until(() => peer.ended, 3000);
    peer.end();
  }, { logHead: false });
  const c = run.client(raw.url('/'), undefined, { perMessageDeflate: false }, { actor: 'fragments' });
  if (!c) return;
  c.binaryType = 'fragments';
  run.log('fragments', { ev: 'binaryType set', binaryType: c.binaryType });
  await run.closed(c);
});

clientDifferential('WHATWG API: addEventListener, on* handlers, event objects (open, message, close, error)', async (run) => {
  const server = await serverWithConnections(run, {}, {
    onConnection: (ws) => {
      ws.send('hi');
      ws.send(Buffer.from([1, 2]));
      ws.close(4005, 'whatwg');
    },
  });
  const { WebSocket } = run.impl;
  const client = new WebSocket(server.url('/'));
  const done = new Promise((resolve) => {
    const log = (entry) => run.log('whatwg', entry);
    client.binaryType = 'arraybuffer';
    client.onopen = (e) => log({ ev: 'onopen', type: e.type, target: e.target === client });
    client.addEventListener('open', (e) => log({ ev: 'open listener', type: e.type }));
    client.addEventListener('message', (e) => log({ ev: 'message listener once', type: e.type, data: describeData(e.data, typeof e.data !== 'string') }), { once: true });
    client.onmessage = (e) => log({ ev: 'onmessage', type: e.type, data: describeData(e.data, typeof e.data !== 'string'), target: e.target === client });
    client.onerror = (e) => log({ ev: 'onerror', type: e.type, message: e.message });
    client.onclose = (e) => {
      log({ ev: 'onclose', type: e.type, code: e.code, reason: e.reason, wasClean: e.wasClean });
      resolve();
    };
    log({ ev: 'handlers', onopen: typeof client.onopen, onmessage: typeof client.onmessage, listenerCount: client.listenerCount('message') });
    client.onmessage = client.onmessage; // re-setting replaces, does not add
    log({ ev: 'after re-set', listenerCount: client.listenerCount('message') });
  });
  await run.settle(done, 'onclose');
  run.log('whatwg', { ev: 'constants', CONNECTING: WebSocket.CONNECTING, OPEN: WebSocket.OPEN, CLOSING: WebSocket.CLOSING, CLOSED: WebSocket.CLOSED, instance: client.CLOSED });
  const failing = new WebSocket(server.url('/').replace(/:\d+\//, ':1/'));
  await run.settle(new Promise((resolve) => {
    failing.onerror = (e) => run.log('whatwg failing', { ev: 'onerror', type: e.type, message: e.message, error: describeError(e.error) });
    failing.onclose = (e) => {
      run.log('whatwg failing', { ev: 'onclose', code: e.code, reason: e.reason, wasClean: e.wasClean });
      resolve();
    };
  }), 'failing onclose');
});

clientDifferential('createWebSocketStream on a client: write, read, end; events in order', async (run) => {
  const server = await serverWithConnections(run, {}, {
    onConnection: (ws) => {
      ws.on('message', (data, isBinary) => {
        ws.send(data, { binary: isBinary });
        if (data.toString() === 'end') ws.close(1000, 'stream done');
      });
    },
  });
  const client = run.client(server.url('/'));
  const duplex = run.impl.createWebSocketStream(client, { encoding: 'utf8' });
  const log = (entry) => run.log('stream', entry);
  duplex.on('data', (chunk) => log({ ev: 'data', chunk, type: typeof chunk }));
  duplex.on('end', () => log({ ev: 'end' }));
  duplex.on('finish', () => log({ ev: 'finish' }));
  duplex.on('error', (err) => log({ ev: 'error', error: describeError(err) }));
  const closed = new Promise((resolve) => duplex.on('close', () => {
    log({ ev: 'close' });
    resolve();
  }));
  duplex.write('abc');
  duplex.write(Buffer.from('def'));
  duplex.end('end');
  await run.settle(closed, 'stream close');
});

clientDifferential('ws+unix: URL (socket path, request path after the colon)', async (run) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lws-client-'));
  run.defer(() => fs.rmSync(dir, { recursive: true, force: true }));
  run.alias(dir, '<tmpdir>');
  const server = await serverWithConnections(run, {}, { socketPath: path.join(dir, 'ws.sock'), onConnection: echo });
  const client = run.client(server.url('/unix?x=1'));
  if (await run.opened(client)) {
    const back = run.next(client, 'message', 'echo');
    client.send('over unix');
    await back;
    await finish(run, client, await server.connection());
  }
  const noPath = run.client(`ws+unix:${path.join(dir, 'ws.sock')}`, undefined, undefined, { actor: 'no request path' });
  if (await run.opened(noPath)) await finish(run, noPath, await server.connection(1));
  const missing = run.client(`ws+unix:${path.join(dir, 'missing.sock')}:/`, undefined, undefined, { actor: 'missing socket' });
  await run.closed(missing);
});

clientDifferential('connection refused: error (ECONNREFUSED) then close 1006', async (run) => {
  const raw = await run.rawServer(() => {});
  const { port } = raw;
  // A port that was just free: close the raw server first.
  await run.cleanup();
  run._cleanups = [];
  const client = run.client(`ws://127.0.0.1:${port}/`);
  await run.closed(client);
});

clientDifferential('readyState constants, url, and the upgrade event response', async (run) => {
  const server = await serverWithConnections(run);
  const { WebSocket } = run.impl;
  run.log('static', { CONNECTING: WebSocket.CONNECTING, OPEN: WebSocket.OPEN, CLOSING: WebSocket.CLOSING, CLOSED: WebSocket.CLOSED });
  const client = run.client(server.url('/state'));
  run.log('static', { instance: [client.CONNECTING, client.OPEN, client.CLOSING, client.CLOSED], isPaused: client.isPaused });
  if (await run.opened(client)) await finish(run, client, await server.connection());
});

clientDifferential('pause/resume on a client: messages wait while paused', async (run) => {
  const server = await serverWithConnections(run);
  const client = run.client(server.url('/'));
  if (!(await run.opened(client))) return;
  const serverWs = await server.connection();
  client.pause();
  run.log('client', { ev: 'paused', isPaused: client.isPaused });
  serverWs.send('one');
  serverWs.send('two');
  // A round trip from the paused client: the server has sent both messages before it answers.
  const pinged = run.next(serverWs, 'ping', 'server ping');
  client.ping('sync');
  await pinged;
  run.mark('client', 'resume');
  const got = Promise.all([messages(client, 2), run.next(client, 'pong', 'pong after resume')]);
  client.resume();
  await run.settle(got, 'messages and pong after resume');
  await finish(run, client, serverWs);
});

// generateMask is not here: the engine masks every frame with its own keys (README,
// differences from ws; __test__/ws-client.test.js checks that it is accepted and unused).
clientDifferential('options: skipUTF8Validation delivers invalid UTF-8', async (run) => {
  const raw = await run.rawServer(async (peer) => {
    peer.switchProtocols();
    peer.write(serverFrame(1, Buffer.from([0x61, 0xff, 0x62])));
    await peer.until(() => decodeRaw(peer.buffer).some((f) => f.opcode === 8), 3000);
    run.log('raw', { ev: 'frames', frames: decodeFrames(peer.buffer) });
    peer.buffer = Buffer.alloc(0);
    peer.write(serverFrame(8, closePayload(1000)));
    await peer.until(() => peer.ended, 3000);
    peer.end();
  });
  const client = run.client(raw.url('/'), undefined, { perMessageDeflate: false, skipUTF8Validation: true });
  const invalidText = run.next(client, 'message', 'invalid text');
  if (!(await run.opened(client))) return;
  await invalidText;
  client.send('one');
  client.send('two');
  client.close(1000);
  await run.closed(client);
});

clientDifferential('options: closeTimeout ends an unanswered close; maxPayload applies to inflated messages', async (run) => {
  const raw = await run.rawServer(async (peer) => {
    peer.switchProtocols();
    await peer.until(() => peer.ended, 3000);
    run.log('raw', { ev: 'client ended', frames: decodeFrames(peer.buffer), ended: peer.ended });
    peer.end();
  }, { logHead: false });
  const a = run.client(raw.url('/'), undefined, { perMessageDeflate: false, closeTimeout: 200 }, { actor: 'closeTimeout' });
  if (await run.opened(a)) a.close(4000, 'answer me');
  await run.closed(a);
  const server = await serverWithConnections(run, { perMessageDeflate: { threshold: 0 } }, {
    onConnection: (ws) => ws.send(Buffer.alloc(1000, 7)),
  });
  const b = run.client(server.url('/'), undefined, { maxPayload: 999 }, { actor: 'inflated maxPayload' });
  await run.closed([b, await server.connection()]);
});

clientDifferential('options: localAddress and family (the server sees the address)', async (run) => {
  const server = await serverWithConnections(run, {}, {
    onConnection: (ws, req) => {
      run.log('addresses', { remoteAddress: req.socket.remoteAddress, family: req.socket.remoteFamily });
      ws.close(1000);
    },
  });
  const client = run.client(server.url('/').replace('127.0.0.1', 'localhost'), undefined, { localAddress: '127.0.0.1', family: 4 });
  await run.closed([client, await server.connection()]);
});

clientDifferential('options net.connect takes: localPort is bound; object modes, a bad keepAliveInitialDelay or localAddress fail with Node\'s error', async (run) => {
  const localPort = await new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
  const server = await serverWithConnections(run, {}, {
    onConnection: (ws, req) => {
      run.log('local port', { bound: req.socket.remotePort === localPort });
      ws.close(1000);
    },
  });
  const bound = run.client(server.url('/'), undefined, { localPort }, { actor: 'localPort' });
  await run.closed([bound, await server.connection()]);
  const refused = [
    { objectMode: true }, { readableObjectMode: 1 }, { writableObjectMode: 'yes' },
    { keepAliveInitialDelay: '5' }, { localAddress: 'not-an-ip' },
  ];
  for (const options of refused) {
    const client = run.client(server.url('/'), undefined, options, { actor: Object.keys(options)[0] });
    await run.closed(client);
  }
});

module.exports = { serverFrame, closePayload };
