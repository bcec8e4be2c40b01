'use strict';
// Pub/sub across processes through a real redis-server (Debian's package; .ci/run
// installs it, and these tests are skipped with a note where it is missing unless
// LWS_REQUIRE_REDIS=1): each lws.Server is a separate engine with its own link,
// as separate processes would be. Exactly once per subscriber, no echo of a
// server's own publishes, order kept, channels subscribed only while there are
// local subscribers, and Redis killed and restarted mid-test.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const WebSocket = require('ws');
const { Server } = require('..');
const { within, waitUntil } = require('./helpers/wait');

const { needRedis, freePort, redisCommand, startRedis, eventually } = require('./helpers/redis');

/** A server whose clients "join"/"leave"/say anything (published to "room", not back to the sender). */
async function node(t, redisPort, options = {}) {
  const server = new Server({ port: 0, host: '127.0.0.1', pubsub: { redis: `redis://127.0.0.1:${redisPort}` }, ...options });
  t.after(() => new Promise((resolve) => server.close(resolve)));
  server.redisStates = [];
  server.on('redis', (state, err) => server.redisStates.push(err ? `${state}: ${err.message}` : state));
  server.on('message', (socket, message) => {
    const text = String(message);
    if (text === 'join') server.send(socket, `joined ${server.subscribe(socket, 'room')}`);
    else if (text === 'leave') server.send(socket, `left ${server.unsubscribe(socket, 'room')}`);
    else server.publish('room', message, false, { skip: socket });
  });
  await within(5000, 'listening', (done) => server.once('listening', done));
  return server;
}

async function member(server, join = true) {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`);
  ws.inbox = [];
  ws.on('message', (d) => ws.inbox.push(String(d)));
  await within(5000, 'open', (done, fail) => { ws.on('open', done); ws.on('error', fail); });
  if (join) {
    ws.send('join');
    await waitUntil(() => ws.inbox.includes('joined true'), 5000, 'joined');
  }
  return ws;
}

const numsub = async (port, channel) => Number(/:(\d+)\r\n$/.exec(await redisCommand(port, 'PUBSUB', 'NUMSUB', channel))[1]);

test('two servers through Redis: each subscriber gets a publish exactly once, in order, the sender none', { timeout: 60000 }, async (t) => {
  if (!needRedis(t)) return;
  const port = await freePort();
  await startRedis(t, port);
  // b has two engine threads: the link is on the first, b1 and b2 on one each.
  const [a, b] = [await node(t, port), await node(t, port, { threads: 2 })];
  await waitUntil(() => a.redisStates.includes('up') && b.redisStates.includes('up'), 5000, 'both links up');
  const a1 = await member(a);
  const a2 = await member(a);
  const b1 = await member(b);
  const b2 = await member(b);
  const lonely = await member(b, false);
  await eventually(async () => (await numsub(port, 'lws:room')) === 2, 5000, 'both servers subscribed to lws:room');

  for (let i = 0; i < 100; i++) a1.send(`m${i}`);
  const expected = Array.from({ length: 100 }, (_, i) => `m${i}`);
  await waitUntil(() => b1.inbox.filter((m) => m.startsWith('m')).length >= 100 && a2.inbox.filter((m) => m.startsWith('m')).length >= 100, 10000, '100 messages on both');
  await new Promise((r) => setTimeout(r, 200)); // a duplicate would have come by now
  assert.deepEqual(b1.inbox.filter((m) => m.startsWith('m')), expected, 'remote subscriber: once each, in order');
  await waitUntil(() => b2.inbox.filter((m) => m.startsWith('m')).length >= 100, 5000, '100 messages on the second thread');
  assert.deepEqual(b2.inbox.filter((m) => m.startsWith('m')), expected, 'remote subscriber on the other engine thread');
  assert.deepEqual(a2.inbox.filter((m) => m.startsWith('m')), expected, 'local subscriber: once each (no echo from Redis)');
  assert.deepEqual(a1.inbox.filter((m) => m.startsWith('m')), [], 'the sender is skipped');
  assert.deepEqual(lonely.inbox, []);

  // The last local subscriber leaving unsubscribes the server's channel (not before).
  b1.send('leave');
  await waitUntil(() => b1.inbox.includes('left true'), 5000, 'left');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(await numsub(port, 'lws:room'), 2, 'b still has b2');
  b2.send('leave');
  await waitUntil(() => b2.inbox.includes('left true'), 5000, 'left');
  await eventually(async () => (await numsub(port, 'lws:room')) === 1, 5000, 'one server subscribed');
  for (const ws of [a1, a2, b1, b2, lonely]) ws.close();
});

test('Redis killed and restarted: local delivery goes on, the link says so, remote delivery resumes within 2 s', { timeout: 60000 }, async (t) => {
  if (!needRedis(t)) return;
  const port = await freePort();
  let redis = await startRedis(t, port);
  const [a, b] = [await node(t, port), await node(t, port)];
  await waitUntil(() => a.redisStates.includes('up') && b.redisStates.includes('up'), 5000, 'both links up');
  const a1 = await member(a);
  const a2 = await member(a);
  const b1 = await member(b);
  await eventually(async () => (await numsub(port, 'lws:room')) === 2, 5000, 'subscribed');

  await redis.stop();
  await waitUntil(() => a.redisStates.at(-1)?.startsWith('down') && b.redisStates.at(-1)?.startsWith('down'), 5000, 'links down');
  a1.send('during the outage');
  await waitUntil(() => a2.inbox.includes('during the outage'), 5000, 'local delivery during the outage');

  redis = await startRedis(t, port);
  const back = Date.now();
  await waitUntil(() => a.redisStates.at(-1) === 'up' && b.redisStates.at(-1) === 'up', 5000, 'links up again');
  await eventually(async () => (await numsub(port, 'lws:room')) === 2, 5000, 'subscribed again');
  assert.ok(Date.now() - back < 2000, `resubscribed ${Date.now() - back} ms after Redis returned`);
  a1.send('after the outage');
  await waitUntil(() => b1.inbox.includes('after the outage'), 5000, 'remote delivery resumed');
  assert.ok(!b1.inbox.includes('during the outage'), 'at most once: the outage lost it for the other server');
  for (const ws of [a1, a2, b1]) ws.close();
});

test('a bad Redis URL throws; a refused password and an unreachable Redis are told on "redis"', { timeout: 30000 }, async (t) => {
  if (!needRedis(t)) return;
  assert.throws(() => new Server({ pubsub: { redis: 'localhost:6379' } }), { name: 'TypeError', message: /must start with redis:\/\// });
  assert.throws(() => new Server({ pubsub: { redis: 'redis://x', bogus: 1 } }), { name: 'TypeError' });

  const port = await freePort();
  await startRedis(t, port, ['--requirepass', 'secret']);
  const refused = new Server({ pubsub: { redis: `redis://:wrong@127.0.0.1:${port}` } });
  t.after(() => new Promise((resolve) => refused.close(resolve)));
  const [state, err] = await within(5000, 'redis down', (done) => refused.once('redis', (...args) => done(args)));
  assert.equal(state, 'down');
  assert.match(err.message, /^Redis: WRONGPASS/);

  const good = new Server({ pubsub: { redis: `redis://:secret@127.0.0.1:${port}` } });
  t.after(() => new Promise((resolve) => good.close(resolve)));
  assert.equal((await within(5000, 'redis up', (done) => good.once('redis', done))), 'up');

  const nowhere = new Server({ pubsub: { redis: `redis://127.0.0.1:${await freePort()}` } });
  t.after(() => new Promise((resolve) => nowhere.close(resolve)));
  const [down, why] = await within(5000, 'redis down', (done) => nowhere.once('redis', (...args) => done(args)));
  assert.equal(down, 'down');
  assert.equal(why.code, 'ECONNREFUSED');
});

test('WebSocketServer with pubsub.redis: ws.subscribe on one server, wss.publish on another', { timeout: 30000 }, async (t) => {
  if (!needRedis(t)) return;
  const { WebSocketServer } = require('..');
  const port = await freePort();
  await startRedis(t, port);
  const server = async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', pubsub: { redis: `redis://127.0.0.1:${port}` } });
    t.after(() => new Promise((resolve) => wss.close(resolve)));
    wss.on('connection', (ws) => {
      ws.subscribe('room');
      ws.on('message', (data) => wss.publish('room', data, { binary: false, skip: ws }));
    });
    await within(5000, 'redis up', (done) => wss.on('redis', (state) => { if (state === 'up') done(); }));
    return wss;
  };
  const [a, b] = [await server(), await server()];
  const clientOf = async (wss) => {
    const ws = new WebSocket(`ws://127.0.0.1:${wss.address().port}/`);
    ws.inbox = [];
    ws.on('message', (d) => ws.inbox.push(String(d)));
    await within(5000, 'open', (done, fail) => { ws.on('open', done); ws.on('error', fail); });
    return ws;
  };
  const [onA, onB] = [await clientOf(a), await clientOf(b)];
  await eventually(async () => (await numsub(port, 'lws:room')) === 2, 5000, 'both subscribed');
  onA.send('from a');
  await waitUntil(() => onB.inbox.includes('from a'), 5000, 'the other server delivered it');
  assert.deepEqual(onA.inbox, []);
  onA.close();
  onB.close();
});

test('npm start -- --redis URL: two chat processes share their rooms through Redis', { timeout: 30000 }, async (t) => {
  if (!needRedis(t)) return;
  const path = require('node:path');
  const redisPort = await freePort();
  await startRedis(t, redisPort);
  const demo = async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [path.join(__dirname, '..', 'examples', 'demo.js'), '--redis', `redis://127.0.0.1:${redisPort}`], {
      env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    t.after(() => { child.kill('SIGTERM'); return exited; });
    let out = '';
    await within(10000, 'the demo listening with Redis up', (done) => child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('lws chat: open') && out.includes('Redis up')) done();
    }));
    return port;
  };
  const [p1, p2] = [await demo(), await demo()];
  const join = async (port, name) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    ws.said = [];
    ws.on('message', (d) => {
      const m = JSON.parse(d);
      if (m.type === 'rooms') ws.send(JSON.stringify({ type: 'join', room: 'lws', name }));
      if (m.type === 'message') ws.said.push(`${m.from}: ${m.text}`);
      if (m.type === 'joined') ws.joined = true;
    });
    await waitUntil(() => ws.joined, 5000, `${name} joined`);
    return ws;
  };
  const [ann, bob] = [await join(p1, 'ann'), await join(p2, 'bob')];
  await eventually(async () => (await numsub(redisPort, 'lws:room:lws')) === 2, 5000, 'both demos subscribed to the room');
  ann.send(JSON.stringify({ type: 'say', text: 'hello from the first process' }));
  await waitUntil(() => bob.said.includes('ann: hello from the first process'), 5000, 'bob, on the other process, sees it');
  assert.deepEqual(ann.said, ['ann: hello from the first process']); // once, not again through Redis
  ann.close();
  bob.close();
});

test('3 processes on one port (reusePort) and Redis, 300 clients: every publish reaches every subscriber once; a process killed leaves the others working', { timeout: 60000 }, async (t) => {
  if (!needRedis(t)) return;
  const path = require('node:path');
  const redisPort = await freePort();
  await startRedis(t, redisPort);
  const port = await freePort();
  const nodes = [];
  for (let i = 0; i < 3; i++) {
    const child = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'cluster-node.js'), String(port), `redis://127.0.0.1:${redisPort}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    t.after(() => { child.kill('SIGKILL'); return exited; });
    await within(10000, 'a node ready', (done) => child.stdout.on('data', (d) => { if (String(d).includes('ready')) done(); }));
    nodes.push({ child, exited });
  }
  // 300 clients, spread by the kernel over the three processes.
  const clients = await Promise.all(Array.from({ length: 300 }, () => within(10000, 'a client', (done, fail) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    ws.inbox = [];
    ws.on('message', (d) => {
      const text = String(d);
      if (text.startsWith('pid ')) {
        ws.pid = Number(text.slice(4));
        done(ws);
      } else ws.inbox.push(text);
    });
    ws.on('error', fail);
  })));
  const byPid = new Map();
  for (const ws of clients) byPid.set(ws.pid, [...(byPid.get(ws.pid) || []), ws]);
  assert.equal(byPid.size, 3, `the clients reached ${byPid.size} process(es)`);
  await eventually(async () => (await numsub(redisPort, 'lws:all')) === 3, 5000, 'three processes subscribed');

  // One publish from each process: every client gets all three, once each.
  let round = 0;
  const publishFromEach = (pids) => {
    round++;
    for (const pid of pids) byPid.get(pid)[0].send(`publish ${round}`);
    return pids.map((pid) => `${pid}:${round}`).sort();
  };
  let expected = publishFromEach([...byPid.keys()]);
  await waitUntil(() => clients.every((ws) => expected.every((m) => ws.inbox.includes(m))), 10000, 'every client got every publish');
  await new Promise((r) => setTimeout(r, 200));
  for (const ws of clients) assert.deepEqual(ws.inbox.slice().sort(), expected, 'exactly once each');

  // One process killed: its clients are cut off; the others go on between themselves.
  const [victimPid, ...survivors] = [...byPid.keys()];
  nodes.find((n) => n.child.pid === victimPid).child.kill('SIGKILL');
  await waitUntil(() => byPid.get(victimPid).every((ws) => ws.readyState === WebSocket.CLOSED), 5000, "the killed process's clients closed");
  for (const ws of clients) ws.inbox = [];
  expected = publishFromEach(survivors);
  const alive = survivors.flatMap((pid) => byPid.get(pid));
  await waitUntil(() => alive.every((ws) => expected.every((m) => ws.inbox.includes(m))), 10000, 'the survivors got both publishes');
  await new Promise((r) => setTimeout(r, 200));
  for (const ws of alive) assert.deepEqual(ws.inbox.slice().sort(), expected);
  for (const ws of alive) ws.close();
});

test('examples/cluster.js with REDIS_URL: a broadcast reaches the clients of every worker once', { timeout: 60000 }, async (t) => {
  if (!needRedis(t)) return;
  const path = require('node:path');
  const redisPort = await freePort();
  await startRedis(t, redisPort);
  const port = await freePort();
  const primary = spawn(process.execPath, [path.join(__dirname, '..', 'examples', 'cluster.js'), String(port), '2'], {
    env: { ...process.env, REDIS_URL: `redis://127.0.0.1:${redisPort}` }, stdio: ['ignore', 'pipe', 'inherit'], detached: true,
  });
  const exited = new Promise((resolve) => primary.once('exit', resolve));
  t.after(() => {
    try { process.kill(-primary.pid, 'SIGKILL'); } catch { primary.kill('SIGKILL'); }
    return exited;
  });
  let out = '';
  await within(20000, 'two workers listening', (done) => primary.stdout.on('data', (d) => {
    out += d;
    if ((out.match(/topics through Redis/g) || []).length === 2) done();
  }));
  await eventually(async () => (await numsub(redisPort, 'lws:all')) === 0, 5000, 'no subscriber yet'); // subscribed on the first client only
  const clients = await Promise.all(Array.from({ length: 40 }, () => within(10000, 'a client', (done, fail) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    ws.inbox = [];
    ws.on('message', (d) => {
      const text = String(d);
      if (text.startsWith('served by process ')) {
        ws.pid = text.slice(18);
        done(ws);
      } else ws.inbox.push(text);
    });
    ws.on('error', fail);
  })));
  assert.equal(new Set(clients.map((ws) => ws.pid)).size, 2, 'both workers got connections');
  await eventually(async () => (await numsub(redisPort, 'lws:all')) === 2, 5000, 'both workers subscribed');
  clients[0].send('broadcast hello everyone');
  const expected = `${clients[0].pid} relays: hello everyone`;
  await waitUntil(() => clients.every((ws) => ws.inbox.includes(expected)), 10000, 'every client got the broadcast');
  await new Promise((r) => setTimeout(r, 200));
  for (const ws of clients) assert.deepEqual(ws.inbox, [expected]);
  for (const ws of clients) ws.close();
});
