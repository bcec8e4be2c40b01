'use strict';
// it-ws (libp2p's async-iterable WebSocket duplex over ws) against ws and
// against lws. Its test/error.spec.ts expects a refused connection to
// `ws://localhost:<port>` to fail under Node with an AggregateError whose
// `errors[0].message` says ECONNREFUSED: where `localhost` resolves to ::1 and
// 127.0.0.1, Node's net.connect (ws's, through http.request) tries both
// (`autoSelectFamily`, Node's default since 20) and reports every attempt's
// error. lws's client dialed the first address only: the error was a plain
// Error, and a server listening on 127.0.0.1 alone was not reached at all when
// ::1 came first, where ws connects.
//
// The machine's own `localhost` may resolve to one address: the scenarios give
// the client a `lookup` that answers as a host file with `::1 localhost` does.
// The client is ws or lws, the server always a ws one; the transcripts must be equal.
//
// Run: node --test __test__/it-ws-compat.test.js

const assert = require('node:assert/strict');
const net = require('node:net');
const path = require('node:path');
const { test } = require('node:test');
const WS = require('ws');

const lws = require(path.join(__dirname, '..'));

const CLIENTS = { ws: WS, lws: lws.WebSocket };

/** dns.lookup as a host file with `::1 localhost` above `127.0.0.1 localhost` answers it. */
function lookupBothFamilies(order) {
  return (host, options, callback) => {
    const all = order.map((address) => ({ address, family: net.isIPv6(address) ? 6 : 4 }));
    if (options && options.all) callback(null, all);
    else callback(null, all[0].address, all[0].family);
  };
}

/** A port nothing listens on (it was free a moment ago). */
async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function describeError(err) {
  if (!err) return null;
  const out = { name: err.constructor.name, message: err.message, code: err.code };
  if (Array.isArray(err.errors)) out.errors = err.errors.map((e) => ({ message: e.message, code: e.code, address: e.address }));
  return out;
}

/**
 * A `Client` connects to `url` with `options`: what it sees (open and the
 * peer's address, an echo, the errors of 'error' and of the ErrorEvent it-ws
 * reads, close) until 'close'.
 */
function connect(Client, url, options) {
  return new Promise((resolve) => {
    const log = [];
    const ws = new Client(url, options);
    ws.addEventListener('error', (event) => log.push(['ErrorEvent.error', describeError(event.error)]));
    ws.on('error', (err) => log.push(['error', describeError(err)]));
    ws.on('open', () => {
      log.push(['open', ws._socket.remoteAddress]);
      ws.send('ping');
    });
    ws.on('message', (data) => {
      log.push(['message', data.toString()]);
      ws.close(1000, 'done');
    });
    ws.on('close', (code, reason) => {
      log.push(['close', code, reason.toString()]);
      resolve(log);
    });
    setTimeout(() => {
      log.push(['no close within 5 s']);
      ws.terminate();
      resolve(log);
    }, 5000).unref();
  });
}

/** A ws echo server on 127.0.0.1 alone (no ::1), as it-ws's tests listen. */
async function echoServerOnIPv4() {
  const wss = new WS.WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss.once('listening', resolve));
  wss.on('connection', (ws) => ws.on('message', (data) => ws.send(data.toString())));
  return wss;
}

async function bothClients(scenario) {
  const expected = await scenario(CLIENTS.ws);
  const actual = await scenario(CLIENTS.lws);
  assert.deepStrictEqual(actual, expected);
}

test('localhost resolving to ::1 first reaches a server on 127.0.0.1 (the next address is tried)', async () => {
  const wss = await echoServerOnIPv4();
  try {
    const url = `ws://localhost:${wss.address().port}`;
    await bothClients((Client) => connect(Client, url, { lookup: lookupBothFamilies(['::1', '127.0.0.1']) }));
  } finally {
    await new Promise((resolve) => wss.close(resolve));
  }
});

test('refused on every address: an AggregateError with each attempt\'s error (it-ws error.spec.ts)', async () => {
  const url = `ws://localhost:${await freePort()}/${Math.random()}`;
  await bothClients((Client) => connect(Client, url, { lookup: lookupBothFamilies(['::1', '127.0.0.1']) }));
  await bothClients((Client) => connect(Client, url, { lookup: lookupBothFamilies(['127.0.0.1', '::1']) }));
});

test('one address tried, a plain Error: autoSelectFamily false, family 6, or a lookup with one address', async () => {
  const url = `ws://localhost:${await freePort()}`;
  const lookup = lookupBothFamilies(['::1', '127.0.0.1']);
  await bothClients((Client) => connect(Client, url, { lookup, autoSelectFamily: false }));
  await bothClients((Client) => connect(Client, url, { lookup, family: 6 }));
  await bothClients((Client) => connect(Client, url, { lookup: lookupBothFamilies(['::1']) }));
});

test('family 4 and a lookup with IPv4 first connect at once', async () => {
  const wss = await echoServerOnIPv4();
  try {
    const url = `ws://localhost:${wss.address().port}`;
    const lookup = lookupBothFamilies(['::1', '127.0.0.1']);
    await bothClients((Client) => connect(Client, url, { lookup, family: 4 }));
    await bothClients((Client) => connect(Client, url, { lookup: lookupBothFamilies(['127.0.0.1', '::1']) }));
  } finally {
    await new Promise((resolve) => wss.close(resolve));
  }
});
