'use strict';
// lws/nodejs-websocket: the seed README's examples as written (only the require
// changed) against real peers (the ws client, the real nodejs-websocket client),
// and descriptors after many connections. The package's observable behaviour is
// compared event by event in nodejs-websocket-differential.test.js.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const WebSocket = require('ws');
const realWs = require('nodejs-websocket');
const { within, once, opened, closed, waitUntil, sleep } = require('./helpers/wait');

const fdCount = () => fs.readdirSync('/proc/self/fd').length;

test('README: the scream server, driven by the ws client and by the real package\'s client', async () => {
  const logs = [];
  const console = { log: (line) => logs.push(line) };
  var ws = require('lws/nodejs-websocket')
  // Scream server example: "hi" -> "HI!!!"
  var server = ws.createServer(function (conn) {
  console.log("New connection")
  conn.on("text", function (str) {
  console.log("Received "+str)
  conn.sendText(str.toUpperCase()+"!!!")
  })
  conn.on("close", function (code, reason) {
  console.log("Connection closed")
  })
  }).listen(0)
  await once(server, 'listening');
  const port = server.socket.address().port;
  const client = new WebSocket(`ws://127.0.0.1:${port}`);
  await opened(client);
  client.send('hi');
  const [reply] = await once(client, 'message');
  assert.equal(reply.toString(), 'HI!!!');
  client.close();
  await closed(client);
  const theirs = realWs.connect(`ws://127.0.0.1:${port}`);
  await once(theirs, 'connect');
  theirs.sendText('hey');
  assert.deepEqual(await once(theirs, 'text'), ['HEY!!!']);
  theirs.close(1000);
  await waitUntil(() => logs.filter((l) => l === 'Connection closed').length === 2, 5000, 'both closes');
  assert.deepEqual(logs, ['New connection', 'Received hi', 'Connection closed', 'New connection', 'Received hey', 'Connection closed']);
  await within(5000, 'server close', (resolve) => server.close(resolve));
});

test('README: broadcast over server.connections, and the binary collector', async () => {
  const received = [];
  const process_my_data = (data) => received.push(data);
  const console = { log: () => {} };
  var ws = require('lws/nodejs-websocket')
  function broadcast(server, msg) {
  server.connections.forEach(function (conn) {
  conn.sendText(msg)
  })
  }
  var server = ws.createServer(function (conn) {
  console.log("New connection")
  conn.on("binary", function (inStream) {
  // Empty buffer for collecting binary data
  var data = new Buffer(0)
  // Read chunks of binary data and add to the buffer
  inStream.on("readable", function () {
  var newData = inStream.read()
  if (newData)
  data = Buffer.concat([data, newData], data.length+newData.length)
  })
  inStream.on("end", function () {
  console.log("Received " + data.length + " bytes of binary data")
  process_my_data(data)
  })
  })
  conn.on("close", function (code, reason) {
  console.log("Connection closed")
  })
  }).listen(0)
  await once(server, 'listening');
  const port = server.socket.address().port;
  const clients = [new WebSocket(`ws://127.0.0.1:${port}`), new WebSocket(`ws://127.0.0.1:${port}`)];
  await Promise.all(clients.map((c) => opened(c)));
  await waitUntil(() => server.connections.length === 2, 5000, 'two connections');
  const inboxes = clients.map((c) => once(c, 'message'));
  broadcast(server, 'to all');
  for (const [m] of await Promise.all(inboxes)) assert.equal(m.toString(), 'to all');
  const big = require('crypto').randomBytes(3 * 1024 * 1024);
  clients[0].send(big);
  await waitUntil(() => received.length === 1, 5000, 'the binary message');
  assert.ok(received[0].equals(big));
  for (const c of clients) c.close();
  await Promise.all(clients.map((c) => closed(c)));
  await within(5000, 'server close', (resolve) => server.close(resolve));
});

test('our client against the real package\'s server; descriptors back to baseline after 50 connections', async (t) => {
  const ours = require('lws/nodejs-websocket');
  const baseline = fdCount();
  const server = realWs.createServer((conn) => conn.on('text', (s) => conn.sendText(s))).listen(0, '127.0.0.1');
  await once(server, 'listening');
  // A failed assertion must not leave the listener holding the process open.
  t.after(() => server.socket.unref());
  const port = server.socket.address().port;
  for (let i = 0; i < 50; i++) {
    const conn = ours.connect(`ws://127.0.0.1:${port}`);
    await once(conn, 'connect');
    conn.sendText(`n${i}`);
    assert.deepEqual(await once(conn, 'text'), [`n${i}`]);
    conn.close(1000);
  }
  // The package's server answers the close frame and leaves TCP open: the client ends it
  // (as the package's client and ws's do), well before the engine's close timeout (5 s).
  const tcpCount = () => new Promise((resolve, reject) => server.socket.getConnections((err, n) => (err ? reject(err) : resolve(n))));
  const deadline = Date.now() + 1500;
  while ((await tcpCount()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(await tcpCount(), 0, 'the server\'s TCP connections ended within 1.5 s of the last close');
  const refused = ours.connect('ws://127.0.0.1:1');
  const [err] = await once(refused, 'close').catch((e) => [e]);
  assert.equal(err.code, 'ECONNREFUSED');
  await waitUntil(() => server.connections.length === 0, 5000, 'the server to see every close');
  await within(5000, 'server close', (resolve) => server.close(resolve));
  // + 2: the process's client engine (its epoll and waker descriptors) stays, made once for every connect().
  await waitUntil(() => fdCount() <= baseline + 2, 5000, `descriptors back to ${baseline} + 2 (now ${fdCount()})`);
});

test('text sent on as it came (an echo, a relay to another connection, a later send), both roles: every text arrives whole', async (t) => {
  // Texts reach 'text' as strings decoded from the engine's batch, and the same text
  // sent during that dispatch goes as the bytes it came in: check those bytes are
  // right at every size (copied by a loop, natively, by reference) and after the dispatch.
  const ours = require('lws/nodejs-websocket');
  const texts = ['', 'a', 'héllo wörld ✓ 🌍', 'x'.repeat(63) + 'é', '€'.repeat(400) + 'x', '🌍'.repeat(20000) + 'x'];
  const reversed = (str) => [...str].reverse().join('');
  const server = ours.createServer((conn) => {
    conn.on('text', (str) => {
      conn.sendText(str); // the echo, during the dispatch
      conn.sendText(reversed(str)); // another text of the same length: encoded
      for (const other of server.connections) if (other !== conn) other.sendText(str); // the relay
      setTimeout(() => conn.sendText(str), 5); // after it: encoded from the string
    });
  }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = server.socket.address().port;
  const sender = new WebSocket(`ws://127.0.0.1:${port}`);
  const watcher = new WebSocket(`ws://127.0.0.1:${port}`);
  let wss = null;
  let conn = null;
  t.after(() => {
    // A failed check must not leave the test process hanging on open handles.
    sender.terminate();
    watcher.terminate();
    server.socket.close();
    if (wss !== null) wss.close();
    if (conn !== null) conn.close();
  });
  const got = { sender: [], watcher: [] };
  sender.on('message', (data, isBinary) => got.sender.push([data.toString(), isBinary]));
  watcher.on('message', (data, isBinary) => got.watcher.push([data.toString(), isBinary]));
  await Promise.all([opened(sender), opened(watcher)]);
  await waitUntil(() => server.connections.length === 2, 5000, 'both connections');
  for (const text of texts) sender.send(text);
  await waitUntil(() => got.sender.length === 3 * texts.length && got.watcher.length === texts.length, 5000, 'every text');
  assert.deepEqual(got.watcher, texts.map((t) => [t, false]));
  assert.deepEqual(got.sender.map(([t]) => t).sort(), [...texts, ...texts, ...texts.map(reversed)].sort());
  assert.ok(got.sender.every(([, isBinary]) => !isBinary));
  sender.close();
  watcher.close();
  await Promise.all([closed(sender), closed(watcher)]);
  await within(5000, 'server close', (resolve) => server.close(resolve));

  // Our client: texts from a ws server sent back from 'text'.
  wss = new WebSocket.Server({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  const back = [];
  wss.on('connection', (peer) => {
    peer.on('message', (data) => back.push(data.toString()));
    for (const text of texts) peer.send(text);
  });
  conn = ours.connect(`ws://127.0.0.1:${wss.address().port}`);
  conn.on('text', (str) => conn.sendText(str));
  await waitUntil(() => back.length === texts.length, 5000, 'the texts back');
  assert.deepEqual(back, texts);
  conn.close(1000);
  await new Promise((resolve) => wss.close(resolve));
});

test('secure: true serves wss:// (the real package\'s client), and our client dials wss:// with a ca', async () => {
  const { execFileSync } = require('child_process');
  const os = require('os');
  const path = require('path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lws-nws-tls-'));
  try {
    const run = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=nws test CA', '-keyout', 'ca.key', '-out', 'ca.pem');
    fs.writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    run('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr');
    run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'server.ext', '-out', 'server.pem');
    const read = (name) => fs.readFileSync(path.join(dir, name));
    const ours = require('lws/nodejs-websocket');
    const server = ours.createServer({ secure: true, key: read('server.key'), cert: read('server.pem') }, (conn) => {
      conn.on('text', (str) => conn.sendText(`secure ${str}`));
    }).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `wss://localhost:${server.socket.address().port}/`;
    const theirs = realWs.connect(url, { ca: read('ca.pem') });
    await once(theirs, 'connect');
    theirs.sendText('a');
    assert.deepEqual(await once(theirs, 'text'), ['secure a']);
    theirs.close(1000);
    const mine = ours.connect(url, { ca: read('ca.pem') });
    await once(mine, 'connect');
    mine.sendText('b');
    assert.deepEqual(await once(mine, 'text'), ['secure b']);
    mine.close(1000);
    // Without the CA the certificate is refused: an 'error', then 'close' (1006).
    const refused = ours.connect(url);
    const events = [];
    refused.on('error', (err) => events.push(['error', err.code]));
    await within(5000, 'the refusal', (resolve) => refused.on('close', (code) => { events.push(['close', code]); resolve(); }));
    assert.deepEqual(events, [['error', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'], ['close', 1006]]);
    await waitUntil(() => server.connections.length === 0, 5000, 'both closes');
    await within(5000, 'server close', (resolve) => server.close(resolve));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('server.close() keeps open connections until they end, then \'close\'; a client closed while connecting', async () => {
  const ours = require('lws/nodejs-websocket');
  const server = ours.createServer((conn) => conn.on('text', (s) => conn.sendText(s))).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = server.socket.address().port;
  const client = new WebSocket(`ws://127.0.0.1:${port}`);
  await opened(client);
  await waitUntil(() => server.connections.length === 1, 5000, 'the server\'s connection'); // the 101 can arrive first
  let closed_ = false;
  server.close(() => { closed_ = true; });
  client.send('still served');
  const [echo] = await once(client, 'message');
  assert.equal(echo.toString(), 'still served');
  assert.equal(closed_, false);
  await assert.rejects(opened(new WebSocket(`ws://127.0.0.1:${port}`), 2000)); // no longer accepting
  client.close();
  await waitUntil(() => closed_, 5000, 'the server\'s close');

  const early = ours.connect('ws://127.0.0.1:9/');
  const events = [];
  early.on('close', (code, reason) => events.push([code, reason, early.readyState]));
  early.on('error', (err) => events.push(['error', err.message]));
  early.close(); // still connecting: the package ends the socket and emits 'close' with what it was given
  await sleep(200);
  assert.deepEqual(events, [[undefined, undefined, 3]]);
});

test('misuse: a write after a binary stream\'s end, a text over setMaxBufferLength (1009); no crash, descriptors back', async () => {
  const ours = require('lws/nodejs-websocket');
  const baseline = fdCount();
  const serverEvents = [];
  const server = ours.createServer((conn) => {
    conn.on('error', (err) => serverEvents.push(['error', err.message]));
    conn.on('close', (code, reason) => serverEvents.push(['close', code, reason]));
    conn.on('text', (str) => {
      if (str !== 'stream please') return;
      const out = conn.beginBinary();
      out.on('error', (err) => serverEvents.push(['stream error', err.code]));
      out.write(Buffer.from('abc'));
      out.end();
      out.write(Buffer.from('late'));
    });
  }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = server.socket.address().port;
  const client = new WebSocket(`ws://127.0.0.1:${port}`);
  await opened(client);
  const messages = [];
  client.on('message', (data, isBinary) => messages.push([data.toString(), isBinary]));
  client.send('stream please');
  await waitUntil(() => serverEvents.length >= 1 && messages.length >= 1, 5000, 'the stream\'s error and message');
  assert.deepEqual(serverEvents, [['stream error', 'ERR_STREAM_WRITE_AFTER_END']]);
  assert.deepEqual(messages, [['abc', true]]);
  client.close(1000);
  await closed(client);
  await waitUntil(() => serverEvents.length >= 2, 5000, 'the close');
  assert.deepEqual(serverEvents[1], ['close', 1000, '']);

  serverEvents.length = 0;
  ours.setMaxBufferLength(64 * 1024);
  try {
    const big = new WebSocket(`ws://127.0.0.1:${port}`);
    await opened(big);
    big.send('z'.repeat(200 * 1024));
    assert.equal((await closed(big)).code, 1009);
    assert.deepEqual(serverEvents, [['close', 1009, undefined]]);
  } finally {
    ours.setMaxBufferLength(2 * 1024 * 1024);
  }
  await within(5000, 'server close', (resolve) => server.close(resolve));
  await waitUntil(() => fdCount() <= baseline, 5000, `descriptors back to ${baseline} (now ${fdCount()})`);
});
