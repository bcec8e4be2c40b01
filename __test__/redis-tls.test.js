'use strict';
// pub/sub through Redis over TLS (`rediss://`, `pubsub.tls`): a real redis-server that
// listens with TLS only (its certificates made by openssl here), two lws.Servers linked
// through it, and what a bad certificate, a wrong name or a bad option gives.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const WebSocket = require('ws');
const { Server } = require('..');
const { within, waitUntil } = require('./helpers/wait');
const { needRedis, freePort, makeCertificates, startRedis } = require('./helpers/redis');

/** redis-server with a plain port (for the helper's readiness check) and a TLS-only port. */
async function startTlsRedis(t, certs) {
  const [port, tlsPort] = [await freePort(), await freePort()];
  await startRedis(t, port, ['--tls-port', String(tlsPort), '--tls-cert-file', certs.file('server.pem'),
    '--tls-key-file', certs.file('server.key'), '--tls-ca-cert-file', certs.file('ca.pem'), '--tls-auth-clients', 'no']);
  return tlsPort;
}

async function linked(t, pubsub) {
  const server = new Server({ port: 0, host: '127.0.0.1', pubsub });
  t.after(() => new Promise((resolve) => server.close(resolve)));
  server.redisStates = [];
  server.on('redis', (state, err) => server.redisStates.push(err ? `${state}: ${err.message}` : state));
  server.on('message', (socket, message) => {
    if (String(message) === 'join') server.send(socket, `joined ${server.subscribe(socket, 'room')}`);
    else server.publish('room', message, false, { skip: socket });
  });
  await within(5000, 'listening', (done) => server.once('listening', done));
  return server;
}

async function member(server) {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`);
  ws.inbox = [];
  ws.on('message', (d) => ws.inbox.push(String(d)));
  await within(5000, 'open', (done, fail) => { ws.on('open', done); ws.on('error', fail); });
  ws.send('join');
  await waitUntil(() => ws.inbox.includes('joined true'), 5000, 'joined');
  return ws;
}

test('rediss://: two servers linked through a TLS-only Redis port; each subscriber gets each publish once, in order', { timeout: 60000 }, async (t) => {
  if (!needRedis(t)) return;
  const certs = makeCertificates(t);
  const tlsPort = await startTlsRedis(t, certs);
  // By name (checked against the certificate's DNS name), and by IP with a servername.
  const a = await linked(t, { redis: `rediss://localhost:${tlsPort}`, tls: { ca: certs.ca } });
  const b = await linked(t, { redis: `redis://127.0.0.1:${tlsPort}`, tls: { ca: certs.ca.toString(), servername: 'localhost' } });
  // By IP alone: the certificate's IP address is checked.
  const c = await linked(t, { redis: `rediss://127.0.0.1:${tlsPort}`, tls: { ca: certs.ca } });
  await waitUntil(() => [a, b, c].every((s) => s.redisStates.includes('up')), 10000, `the links up (${a.redisStates}; ${b.redisStates}; ${c.redisStates})`);
  const [a1, b1] = [await member(a), await member(b)];
  // Both subscribed: a probe from each side arrives on the other.
  await waitUntil(() => {
    a1.send('probe-a');
    b1.send('probe-b');
    return a1.inbox.includes('probe-b') && b1.inbox.includes('probe-a');
  }, 5000, 'both subscriptions live');
  const count = 200;
  for (let i = 0; i < count; i++) a1.send(`m${i} ${'x'.repeat(i * 50)}`);
  const expected = Array.from({ length: count }, (_, i) => `m${i} ${'x'.repeat(i * 50)}`);
  await waitUntil(() => b1.inbox.filter((m) => m.startsWith('m')).length >= count, 10000, 'every publish');
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(b1.inbox.filter((m) => m.startsWith('m')), expected);
  assert.deepEqual([a.redisStates, b.redisStates, c.redisStates], [['up'], ['up'], ['up']]);
  a1.close();
  b1.close();
});

test('rediss://: an unknown issuer or a wrong name is "redis" down with the TLS reason; rejectUnauthorized: false connects', { timeout: 60000 }, async (t) => {
  if (!needRedis(t)) return;
  const certs = makeCertificates(t);
  const tlsPort = await startTlsRedis(t, certs);
  const stranger = await linked(t, { redis: `rediss://localhost:${tlsPort}`, tls: { ca: certs.other } });
  const misnamed = await linked(t, { redis: `rediss://localhost:${tlsPort}`, tls: { ca: certs.ca, servername: 'elsewhere.example' } });
  const trusting = await linked(t, { redis: `rediss://localhost:${tlsPort}`, tls: { rejectUnauthorized: false } });
  await waitUntil(() => stranger.redisStates.length && misnamed.redisStates.length && trusting.redisStates.length, 10000, 'each link told its state');
  assert.match(stranger.redisStates[0], /^down: Redis: TLS: invalid peer certificate: UnknownIssuer/);
  assert.match(misnamed.redisStates[0], /^down: Redis: TLS: invalid peer certificate: certificate not valid for name "elsewhere.example"/);
  assert.deepEqual(trusting.redisStates, ['up']);
});

test('pubsub.tls and rediss:// options: what is wrong throws a TypeError', () => {
  const make = (pubsub) => () => new Server({ port: 0, host: '127.0.0.1', pubsub });
  assert.throws(make({ redis: ['rediss://127.0.0.1:1', 'redis://127.0.0.1:2'] }), /mixes redis:\/\/ and rediss:\/\//);
  assert.throws(make({ redis: 'rediss://127.0.0.1:1', tls: { ca: 5 } }), /pubsub\.tls\.ca/);
  assert.throws(make({ redis: 'rediss://127.0.0.1:1', tls: { verify: true } }), /pubsub\.tls\.verify/);
  assert.throws(make({ redis: 'http://127.0.0.1:1' }), /redis:\/\/ or rediss:\/\//);
});
