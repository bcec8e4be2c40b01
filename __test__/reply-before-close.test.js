'use strict';
// Nothing lost at close, with the peer in another process: a listener's reply that is sent
// from its promise jobs (or a nextTick callback) while JS is still busy with them reaches the
// peer before the answer to a close frame the peer sent meanwhile. ws reads that close frame
// only at its event loop's next poll, after the reply is written; lws's engine reads it at
// once and may answer it itself only once JS has finished the batch of events before it,
// promise jobs included. A peer in this process could not send its close while this
// process's JS thread is busy, which is why the peer here is a child process (ws's client,
// or ws's server for the client side).
//
// Run: node --test __test__/reply-before-close.test.js

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawn } = require('node:child_process');
const WS = require('ws');

const lws = require(path.join(__dirname, '..'));
const { ENGINE_OPTIONS } = require('./helpers/engine');

const SERVERS = {
  ws: (options, cb) => new WS.WebSocketServer(options, cb),
  lws: (options, cb) => new lws.WebSocketServer({ ...ENGINE_OPTIONS, ...options }, cb),
};
const CLIENTS = { ws: WS, lws: lws.WebSocket };

const WS_PATH = require.resolve('ws');

/** The peer, another process: it sends 'm', closes 5 ms later and prints what it received. */
const CLIENT_PEER = `
const WebSocket = require(${JSON.stringify(WS_PATH)});
const ws = new WebSocket('ws://127.0.0.1:' + process.argv[1] + '/');
const log = [];
ws.on('open', () => { ws.send('m'); setTimeout(() => ws.close(4000, 'bye'), 5); });
ws.on('message', (data) => log.push(['message', String(data)]));
ws.on('close', (code, reason) => { log.push(['close', code, String(reason)]); console.log(JSON.stringify(log)); });
`;

/** The same from the server's side: it sends 'm' on connection, closes 5 ms later, prints what it received. */
const SERVER_PEER = `
const WebSocket = require(${JSON.stringify(WS_PATH)});
const wss = new WebSocket.WebSocketServer({ host: '127.0.0.1', port: 0 }, () => console.log(wss.address().port));
wss.on('connection', (ws) => {
  const log = [];
  ws.send('m');
  setTimeout(() => ws.close(4000, 'bye'), 5);
  ws.on('message', (data) => log.push(['message', String(data)]));
  ws.on('close', (code, reason) => { log.push(['close', code, String(reason)]); console.log(JSON.stringify(log)); wss.close(); });
});
`;

/** Runs `source` in a child node with `args`; `onLine` gets each line it prints; resolves with the lines at exit. */
function runPeer(source, args, onLine = () => {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', source, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = [];
    let rest = '';
    child.stdout.on('data', (chunk) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop();
      for (const line of parts) {
        lines.push(line);
        onLine(line);
      }
    });
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error('the peer process did not end within 10 s'));
    }, 10000);
    child.on('exit', () => {
      clearTimeout(timer);
      resolve(lines);
    });
  });
}

/** Keeps this JS thread busy for `ms` (long enough for the peer's close frame to arrive). */
function busy(ms) {
  const end = Date.now() + ms;
  while (Date.now() < end);
}

/** Ways a reply is deferred past the listener, each followed by 30 ms of work before the send. */
const DEFER = {
  'a promise job': (send) => Promise.resolve().then(() => { busy(30); send(); }),
  'process.nextTick': (send) => process.nextTick(() => { busy(30); send(); }),
  'an awaited async function': (send) => (async () => { await null; await null; busy(30); send(); })(),
};

async function serverScenario(impl, defer) {
  const log = [];
  const wss = await new Promise((resolve) => {
    const server = SERVERS[impl]({ host: '127.0.0.1', port: 0 }, () => resolve(server));
  });
  wss.on('connection', (ws) => {
    ws.on('message', (data) => {
      log.push(['server message', String(data)]);
      defer(() => ws.send('reply', (err) => log.push(['server send callback', err ? err.message : null])));
    });
    ws.on('close', (code, reason) => log.push(['server close', code, String(reason)]));
  });
  const lines = await runPeer(CLIENT_PEER, [String(wss.address().port)]);
  await new Promise((resolve) => wss.close(resolve));
  return { server: log, peer: JSON.parse(lines[lines.length - 1]) };
}

async function clientScenario(impl, defer) {
  const log = [];
  let closed;
  const done = new Promise((resolve) => (closed = resolve));
  const lines = await runPeer(SERVER_PEER, [], (line) => {
    if (!/^\d+$/.test(line)) return;
    const ws = new CLIENTS[impl](`ws://127.0.0.1:${line}/`, ENGINE_OPTIONS);
    ws.on('message', (data) => {
      log.push(['client message', String(data)]);
      defer(() => ws.send('reply', (err) => log.push(['client send callback', err ? err.message : null])));
    });
    ws.on('close', (code, reason) => {
      log.push(['client close', code, String(reason)]);
      closed();
    });
  });
  await done;
  return { client: log, peer: JSON.parse(lines[lines.length - 1]) };
}

for (const [name, defer] of Object.entries(DEFER)) {
  test(`server: a reply sent from ${name} while a peer in another process closes reaches it before the close answer (as ws)`, async () => {
    const expected = await serverScenario('ws', defer);
    assert.deepEqual(expected.peer, [['message', 'reply'], ['close', 4000, 'bye']], 'ws itself (the reference)');
    assert.deepEqual(await serverScenario('lws', defer), expected);
  });

  test(`client: a reply sent from ${name} while a server in another process closes reaches it before the close answer (as ws)`, async () => {
    const expected = await clientScenario('ws', defer);
    assert.deepEqual(expected.peer, [['message', 'reply'], ['close', 4000, 'bye']], 'ws itself (the reference)');
    assert.deepEqual(await clientScenario('lws', defer), expected);
  });
}
