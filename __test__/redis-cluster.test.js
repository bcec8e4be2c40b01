'use strict';
// Pub/sub across processes through a real Redis Cluster (3 masters made by redis-cli
// --cluster create on loopback; Redis 7's sharded pub/sub): lws processes given the
// cluster's nodes (`pubsub.redis: [urls]`) route each topic's SSUBSCRIBE and SPUBLISH to
// the master of its slot. Exactly once per subscriber across two processes; a slot moved
// to another master (a publisher with a stale map gets MOVED, subscribers are moved by
// Redis and subscribe again there), also to a master added since; a master killed and
// started again; a replica taking over; a slot no master serves (CLUSTERDOWN) and served again. Each also on a cluster whose nodes speak TLS only
// (rediss:// seeds, client certificates, TLS on the cluster bus and to replicas), with what
// a certificate the link refuses, or none, gives there, and masters on three IPs with a
// certificate each. All but the replica's also on clusters that announce their nodes by
// hostname (Redis 7's cluster-preferred-endpoint-type hostname), over TCP and over TLS with
// certificates that name only that hostname.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawn } = require('node:child_process');
const WebSocket = require('ws');
const { within, waitUntil } = require('./helpers/wait');
const { Server } = require('..');
const { needRedis, startCluster, clusterOk, masterOf, cli, eventually, makeCertificates, redisCommand } = require('./helpers/redis');

/**
 * The two ways to the cluster: plain TCP, and TLS only, where lws (`pubsub.tls`) trusts the
 * test CA and shows a client certificate, as every node asks for one (Redis's default).
 * `setup(t)` gives startCluster's options and the lws processes' `pubsub.tls`.
 */
const tlsSetup = (t, options = {}) => {
  const certs = makeCertificates(t);
  return { certs, options: { certs, ...options }, tls: { ca: String(certs.ca), cert: String(certs.client.cert), key: String(certs.client.key) } };
};
const transports = [
  { title: 'Redis Cluster', setup: () => ({ options: {}, tls: undefined }) },
  { title: 'Redis Cluster over TLS', setup: (t) => tlsSetup(t) },
  // The nodes announced as `localhost` (each on its own port; the IP only in the slot map's metadata).
  { title: 'Redis Cluster announcing hostnames', setup: () => ({ options: { hostname: 'localhost' }, tls: undefined }) },
  { title: 'Redis Cluster over TLS announcing hostnames', setup: (t) => tlsSetup(t, { hostname: 'localhost' }) },
];

/** An lws process on the cluster (fixtures/redis-cluster-node.js); its output lines are kept. */
async function lwsProcess(t, seeds, tls) {
  const args = [path.join(__dirname, 'fixtures', 'redis-cluster-node.js'), JSON.stringify(seeds), ...(tls ? [JSON.stringify(tls)] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  t.after(() => { child.kill('SIGKILL'); return exited; });
  const proc = { child, lines: [], port: 0 };
  let rest = '';
  child.stdout.on('data', (d) => {
    const parts = (rest + d).split('\n');
    rest = parts.pop();
    for (const line of parts) {
      proc.lines.push(line);
      if (line.startsWith('ready ')) proc.port = Number(line.slice(6));
    }
  });
  proc.states = () => proc.lines.filter((l) => l.startsWith('redis ')).map((l) => l.slice(6));
  await waitUntil(() => proc.port && proc.states().at(-1) === 'up', 15000, 'an lws process listening with its cluster link up')
    .catch((err) => { err.message += ` (it said: ${JSON.stringify(proc.lines)})`; throw err; });
  return proc;
}

async function client(proc, topics = []) {
  const ws = new WebSocket(`ws://127.0.0.1:${proc.port}/`);
  ws.inbox = [];
  ws.on('message', (d) => { const text = String(d); if (!text.startsWith('joined ')) ws.inbox.push(text); });
  await within(5000, 'open', (done, fail) => { ws.on('open', done); ws.on('error', fail); });
  for (const topic of topics) {
    const joined = within(5000, `joined ${topic}`, (done) => ws.on('message', (d) => { if (String(d) === `joined ${topic} true`) done(); }));
    ws.send(`join ${topic}`);
    await joined;
  }
  return ws;
}

/** How many clients the master serving `channel` has subscribed to it (SSUBSCRIBE). */
const shardSubscribers = (port, channel) => Number(cli(port, 'PUBSUB', 'SHARDNUMSUB', channel).split('\n')[1]);

/**
 * Moves `from.slot` (empty; the slot of `key`) from its master `from` to the node `to`, as
 * redis-cli --cluster reshard does: IMPORTING on the new owner, MIGRATING on the old one,
 * then every master is told the new owner, the new owner first. Only a node that was
 * importing the slot takes a new config epoch when it is given the slot; without one, gossip
 * from the old owner (its epoch higher) can hand the slot back to it on the nodes not told
 * yet, and the cluster never agrees.
 */
async function moveSlot(cluster, from, to, key) {
  cli(to.port, 'CLUSTER', 'SETSLOT', String(from.slot), 'IMPORTING', from.id);
  cli(from.port, 'CLUSTER', 'SETSLOT', String(from.slot), 'MIGRATING', to.id);
  const order = [to, ...cluster.nodes.filter((n) => n !== to)];
  for (const node of order) cli(node.port, 'CLUSTER', 'SETSLOT', String(from.slot), 'NODE', to.id);
  await eventually(async () => masterOf(to.port, key).port === to.port && masterOf(from.port, key).port === to.port, 10000, 'the slot on its new master');
}

/**
 * After a slot move: `count` publishes (each `after I` + `pad`), a few at a time, reach the
 * listener once each and in order behind 'before'; the links stay up, and the old master
 * `from` answered MOVED at least once. Closes both clients.
 */
async function publishAfterMove({ speaker, listener, topic, count, pad, links, from }) {
  for (let i = 0; i < count; i++) {
    speaker.send(`pub ${topic} after ${i}${pad}`);
    if (i % 5 === 4) await new Promise((r) => setTimeout(r, 1));
  }
  const after = Array.from({ length: count }, (_, i) => `after ${i}${pad}`);
  await waitUntil(() => listener.inbox.length >= count + 1, 10000, 'the publishes after the move')
    .catch((err) => { err.message += ` (received ${listener.inbox.length - 1} of ${count}; the links said ${JSON.stringify(links.map((p) => p.lines))})`; throw err; });
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(listener.inbox, ['before', ...after], 'each once, in order');
  assert.deepEqual(links.map((p) => p.states()), links.map(() => ['up']), 'the links stayed up');
  const moved = /errorstat_MOVED:count=(\d+)/.exec(cli(from.port, 'INFO', 'errorstats'));
  assert.ok(moved && Number(moved[1]) >= 1, 'the old master answered MOVED');
  listener.close();
  speaker.close();
}

/**
 * Two lws processes on `cluster`: a listener subscribed to 'room-moving' in one, a speaker in
 * the other (it subscribes to nothing, so only the MOVED answer to its SPUBLISH tells it the
 * slot moved); 'before' is delivered; then the topic's slot moves from its master `from` to
 * another, `to`, and the subscriber follows it there.
 */
async function movedTopic(t, cluster, tls) {
  const topic = 'room-moving';
  const from = masterOf(cluster.nodes[0].port, `lws:${topic}`);
  const to = cluster.nodes.find((n) => n.port !== from.port);
  const [sub, publisher] = [await lwsProcess(t, cluster.seeds, tls), await lwsProcess(t, cluster.seeds, tls)];
  const listener = await client(sub, [topic]);
  const speaker = await client(publisher, []);
  await eventually(async () => shardSubscribers(from.port, `lws:${topic}`) === 1, 5000, 'subscribed on the first master');
  speaker.send(`pub ${topic} before`);
  await waitUntil(() => listener.inbox.includes('before'), 5000, 'delivered before the move');
  await moveSlot(cluster, from, to, `lws:${topic}`);
  await eventually(async () => shardSubscribers(to.port, `lws:${topic}`) === 1, 10000, 'the subscriber followed the slot to its new master');
  assert.equal(shardSubscribers(from.port, `lws:${topic}`), 0);
  return { topic, from, to, sub, publisher, listener, speaker };
}

/** Topics whose channels (lws:TOPIC) land on every master. */
function topicsOnEveryMaster(cluster) {
  const byMaster = new Map();
  for (let i = 0; i < 200 && byMaster.size < cluster.nodes.length; i++) {
    const { port } = masterOf(cluster.nodes[0].port, `lws:room-${i}`);
    if (!byMaster.has(port)) byMaster.set(port, `room-${i}`);
  }
  assert.equal(byMaster.size, cluster.nodes.length, 'topics spread over every master');
  return [...byMaster.values()];
}

for (const { title, setup } of transports) {
  const secure = title.includes('TLS');
  const byHostname = title.endsWith('hostnames');

  test(`${title}: sharded pub/sub across two lws processes, each subscriber gets each publish exactly once`, { timeout: 90000 }, async (t) => {
    if (!needRedis(t)) return;
    const { options, tls } = setup(t);
    const cluster = await startCluster(t, options);
    const topics = topicsOnEveryMaster(cluster);
    if (byHostname) {
      const slots = await redisCommand(cluster.nodes[0].port, 'CLUSTER', 'SLOTS');
      assert.equal(slots.match(/\$9\r\nlocalhost\r\n/g)?.length, 3, `CLUSTER SLOTS names the 3 masters localhost: ${JSON.stringify(slots)}`);
    }
    // Each process is given one seed only: it finds the other masters in the slot map. Over
    // TLS, a's seed is named (its name checked against every node's certificate announced by
    // IP), b's an IP (each node checked against its own; on a cluster announcing hostnames, b's
    // seeds are named too, as the certificates name nothing else).
    const first = secure ? cluster.seeds[0].replace('127.0.0.1', 'localhost') : cluster.seeds[0];
    const [a, b] = [await lwsProcess(t, [first], tls), await lwsProcess(t, [cluster.seeds[2], cluster.seeds[1]], tls)];
    const [a1, a2, b1] = [await client(a, topics), await client(a, topics), await client(b, topics)];
    const lonely = await client(b, []);
    for (const topic of topics) {
      const { port } = masterOf(cluster.nodes[0].port, `lws:${topic}`);
      await eventually(async () => shardSubscribers(port, `lws:${topic}`) === 2, 5000, `both processes SSUBSCRIBEd to lws:${topic} on its master`);
    }

    const expected = [];
    for (let i = 0; i < 30; i++) {
      const topic = topics[i % topics.length];
      (i % 2 ? b1 : a1).send(`pub ${topic} m${i}`);
      expected.push(`m${i}`);
    }
    const fromA = expected.filter((_, i) => i % 2 === 0);
    const fromB = expected.filter((_, i) => i % 2 === 1);
    await waitUntil(() => a2.inbox.length >= 30 && b1.inbox.length >= 15 && a1.inbox.length >= 15, 10000, 'every delivery');
    await new Promise((r) => setTimeout(r, 300)); // a duplicate would have come by now
    assert.deepEqual([...a2.inbox].sort(), [...expected].sort(), 'a local and remote subscriber: each once');
    // In order per publisher and topic (topics on different masters interleave); the sender is skipped.
    const topicOf = (m) => topics[Number(m.slice(1)) % topics.length];
    for (const topic of topics) {
      const ofTopic = (list) => list.filter((m) => topicOf(m) === topic);
      assert.deepEqual(ofTopic(b1.inbox), ofTopic(fromA), `from a on ${topic}`);
      assert.deepEqual(ofTopic(a1.inbox), ofTopic(fromB), `from b on ${topic}`);
    }
    assert.deepEqual(b1.inbox.filter((m) => fromB.includes(m)), [], 'b1 sent these');
    assert.deepEqual([...a1.inbox].sort(), [...fromB].sort());
    assert.deepEqual(lonely.inbox, []);
    // SPUBLISH, not PUBLISH: nothing reached the classic channels.
    assert.equal(Number(cli(cluster.nodes[0].port, 'PUBSUB', 'NUMSUB', `lws:${topics[0]}`).split('\n')[1]), 0);
    assert.deepEqual([a.states(), b.states()], [['up'], ['up']]);
    for (const ws of [a1, a2, b1, lonely]) ws.close();
  });

  test(`${title}: a slot moved to another master: MOVED re-routes publishes, subscriptions follow the slot`, { timeout: 90000 }, async (t) => {
    if (!needRedis(t)) return;
    const { options, tls } = setup(t);
    const cluster = await startCluster(t, options);
    const { topic, from, sub, publisher, listener, speaker } = await movedTopic(t, cluster, tls);

    // In bursts a millisecond apart: some publishes are still on their way to the old master
    // (to be answered MOVED) when later ones already go to the new one; order must hold.
    await publishAfterMove({ speaker, listener, topic, count: 60, pad: ` ${'x'.repeat(20000)}`, links: [sub, publisher], from });
  });

  // Announcing hostnames, the fourth is `localhost` too, though only on 127.0.0.4: the links
  // reach it at the IP beside the name (DNS would say 127.0.0.1); the publisher's MOVED names a
  // hostname and port it has not met, so its publishes wait for the slot map.
  test(`${title}: a slot moved to a master added since (a fourth, on its own IP): the links reach it there`, { timeout: 120000 }, async (t) => {
    if (!needRedis(t)) return;
    const { options, tls } = setup(t);
    const cluster = await startCluster(t, { ...options, hosts: ['127.0.0.1', '127.0.0.2', '127.0.0.3'] });
    const topic = 'room-moving';
    const from = masterOf(cluster.nodes[0].port, `lws:${topic}`);
    const [sub, publisher] = [await lwsProcess(t, [cluster.seeds[0]], tls), await lwsProcess(t, [cluster.seeds[0]], tls)];
    const listener = await client(sub, [topic]);
    const speaker = await client(publisher, []);
    await eventually(async () => shardSubscribers(from.port, `lws:${topic}`) === 1, 5000, 'subscribed on the first master');
    speaker.send(`pub ${topic} before`);
    await waitUntil(() => listener.inbox.includes('before'), 5000, 'delivered before the move');

    // The links know three masters; the slot goes to a fourth, on 127.0.0.4, that neither has
    // met: the publisher learns it from MOVED, the subscriber from the slot map read again.
    const fourth = await cluster.addMaster('127.0.0.4');
    await moveSlot(cluster, from, fourth, `lws:${topic}`);
    await eventually(async () => shardSubscribers(fourth.port, `lws:${topic}`) === 1, 10000, 'the subscriber followed the slot to the fourth master');
    await publishAfterMove({ speaker, listener, topic, count: 30, pad: '', links: [sub, publisher], from });
  });

  test(`${title}: a master killed: "redis" reports it down, local delivery goes on; started again, publishing resumes`, { timeout: 120000 }, async (t) => {
    if (!needRedis(t)) return;
    const { options, tls } = setup(t);
    const cluster = await startCluster(t, options);
    const topics = topicsOnEveryMaster(cluster);
    const [a, b] = [await lwsProcess(t, cluster.seeds, tls), await lwsProcess(t, cluster.seeds, tls)];
    const [a1, a2, b1] = [await client(a, topics), await client(a, topics), await client(b, topics)];
    for (const topic of topics) {
      const { port } = masterOf(cluster.nodes[0].port, `lws:${topic}`);
      await eventually(async () => shardSubscribers(port, `lws:${topic}`) === 2, 5000, `lws:${topic} subscribed by both`);
    }
    const victim = cluster.nodes[1];
    await victim.stop();
    await waitUntil(() => a.states().length >= 2 && b.states().length >= 2, 10000, 'both links down');
    for (const proc of [a, b]) {
      assert.match(proc.states()[1], new RegExp(`^down Redis: (the connection to 127\\.0\\.0\\.1:${victim.port} closed|connect ECONNREFUSED 127\\.0\\.0\\.1:${victim.port})`));
    }
    a1.send(`pub ${topics[0]} during`);
    await waitUntil(() => a2.inbox.includes('during'), 5000, 'local delivery during the outage');

    await victim.start();
    await clusterOk(cluster.nodes, 30000);
    await waitUntil(() => a.states().at(-1) === 'up' && b.states().at(-1) === 'up', 20000, 'both links up again');
    for (const topic of topics) {
      const { port } = masterOf(cluster.nodes[0].port, `lws:${topic}`);
      await eventually(async () => shardSubscribers(port, `lws:${topic}`) === 2, 10000, `lws:${topic} subscribed again by both`);
    }
    for (const topic of topics) a1.send(`pub ${topic} back ${topic}`);
    const back = topics.map((topic) => `back ${topic}`);
    await waitUntil(() => back.every((m) => b1.inbox.includes(m)), 10000, 'remote delivery resumed on every shard');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual([...b1.inbox].sort(), [...back].sort(), 'at most once: what was published during the outage is lost for the other process; the rest once');
    assert.deepEqual(a2.inbox[0], 'during');
    assert.deepEqual([...a2.inbox.slice(1)].sort(), [...back].sort());
    for (const ws of [a1, a2, b1]) ws.close();
  });

  if (!byHostname) test(`${title} with replicas: a master killed, its replica takes over, the link re-maps the slots to it`, { timeout: 120000 }, async (t) => {
    if (!needRedis(t)) return;
    const { options, tls } = setup(t);
    const cluster = await startCluster(t, { ...options, masters: 3, replicas: 1 });
    const masters = cluster.nodes.filter((n) => /master/.test(cli(n.port, 'ROLE').split('\n')[0]));
    assert.equal(masters.length, 3);
    const victim = masters[0];
    const topic = topicsOnEveryMaster({ nodes: masters }).find((name) => masterOf(victim.port, `lws:${name}`).port === victim.port);
    const [a, b] = [await lwsProcess(t, cluster.seeds, tls), await lwsProcess(t, cluster.seeds, tls)];
    const [a1, b1] = [await client(a, [topic]), await client(b, [topic])];
    await eventually(async () => shardSubscribers(victim.port, `lws:${topic}`) === 2, 5000, 'both subscribed on the victim');

    await victim.stop();
    await waitUntil(() => a.states().at(-1)?.startsWith('down') && b.states().at(-1)?.startsWith('down'), 10000, 'both links down');
    // The replica is promoted (cluster-node-timeout 1 s), and the links find it in the new slot map.
    await waitUntil(() => a.states().at(-1) === 'up' && b.states().at(-1) === 'up', 30000, 'both links up on the new master').catch((err) => { err.message += ` ${JSON.stringify([a.lines, b.lines, cluster.nodes.map((n) => [n.port, n.id])])}`; throw err; });
    const promoted = masterOf(cluster.nodes.find((n) => n !== victim).port, `lws:${topic}`);
    assert.notEqual(promoted.port, victim.port);
    await eventually(async () => shardSubscribers(promoted.port, `lws:${topic}`) === 2, 10000, 'both subscribed on the promoted replica');
    for (let i = 0; i < 10; i++) a1.send(`pub ${topic} after failover ${i}`);
    const expected = Array.from({ length: 10 }, (_, i) => `after failover ${i}`);
    await waitUntil(() => b1.inbox.length >= 10, 10000, 'delivered through the new master');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(b1.inbox, expected);
    assert.deepEqual(a1.inbox, []);
    a1.close();
    b1.close();
  });
}

/** How many errors `code` (CLUSTERDOWN, MOVED...) the node on `port` has answered. */
const errorCount = (port, code) => Number(new RegExp(`errorstat_${code}:count=(\\d+)`).exec(cli(port, 'INFO', 'errorstats'))?.[1] ?? 0);

// A slot no master serves (CLUSTER DELSLOTS on every node, as after a master lost with no
// replica): every node says cluster_state:fail, and answers SPUBLISH and SSUBSCRIBE to that
// slot "CLUSTERDOWN Hash slot not served", while serving sharded pub/sub on the other slots
// (cluster-allow-pubsubshard-when-down, yes by default). Redis also unsubscribes the slot's
// channel itself, so both links subscribe again and are refused. The links stay up: publishes
// to the slot are dropped (at most once), the others go on; once the slot is served again, the
// refused subscribes, sent again after a backoff, go through.
test('Redis Cluster: a slot no master serves (CLUSTERDOWN): the links stay up, other slots go on; served again, the subscriptions come back, each publish once', { timeout: 90000 }, async (t) => {
  if (!needRedis(t)) return;
  const cluster = await startCluster(t);
  const [topic, other] = topicsOnEveryMaster(cluster);
  const owner = masterOf(cluster.nodes[0].port, `lws:${topic}`);
  const [a, b] = [await lwsProcess(t, cluster.seeds), await lwsProcess(t, cluster.seeds)];
  const [a1, a2, b1] = [await client(a, [topic, other]), await client(a, [topic, other]), await client(b, [topic, other])];
  for (const name of [topic, other]) {
    const { port } = masterOf(cluster.nodes[0].port, `lws:${name}`);
    await eventually(async () => shardSubscribers(port, `lws:${name}`) === 2, 5000, `lws:${name} subscribed by both`);
  }
  const links = () => [a.states(), b.states()];
  const refusedBefore = errorCount(owner.port, 'CLUSTERDOWN');

  for (const node of cluster.nodes) cli(node.port, 'CLUSTER', 'DELSLOTS', String(owner.slot));
  await eventually(async () => cluster.nodes.every((n) => /cluster_state:fail/.test(cli(n.port, 'CLUSTER', 'INFO'))), 10000, 'cluster_state:fail on every node');
  assert.equal(cli(owner.port, 'SPUBLISH', `lws:${topic}`, 'probe'), 'CLUSTERDOWN Hash slot not served');
  // Both links asked again, refused (the probe above is one more), and kept asking.
  await eventually(async () => errorCount(owner.port, 'CLUSTERDOWN') >= refusedBefore + 5, 10000, 'the links\' subscribes refused, and sent again')
    .catch((err) => { err.message += ` (the links said ${JSON.stringify(links())})`; throw err; });
  assert.equal(shardSubscribers(owner.port, `lws:${topic}`), 0);

  for (let i = 0; i < 5; i++) {
    a1.send(`pub ${topic} during ${i}`);
    a1.send(`pub ${other} other ${i}`);
  }
  const during = Array.from({ length: 5 }, (_, i) => `during ${i}`);
  const others = Array.from({ length: 5 }, (_, i) => `other ${i}`);
  await waitUntil(() => a2.inbox.length >= 10, 5000, 'local delivery while the slot is unserved');
  await waitUntil(() => b1.inbox.length >= 5, 5000, 'remote delivery on the slots still served')
    .catch((err) => { err.message += ` (b1 got ${JSON.stringify(b1.inbox)}; the links said ${JSON.stringify(links())})`; throw err; });
  await new Promise((r) => setTimeout(r, 1500)); // more refused subscribes, published "during"s refused
  const spublish = cli(owner.port, 'INFO', 'commandstats').split('\n').find((l) => l.startsWith('cmdstat_spublish:')) ?? '';
  assert.ok(Number(/rejected_calls=(\d+)/.exec(spublish)?.[1]) >= 6, `the probe and the 5 "during" refused: ${spublish}`);
  assert.deepEqual(links(), [['up'], ['up']], 'the links stayed up');
  assert.deepEqual(b1.inbox, others, 'what was published to the unserved slot is lost for the other process');

  cli(owner.port, 'CLUSTER', 'ADDSLOTS', String(owner.slot));
  await clusterOk(cluster.nodes, 20000);
  await eventually(async () => shardSubscribers(owner.port, `lws:${topic}`) === 2, 10000, 'both links subscribed again on the slot\'s master')
    .catch((err) => { err.message += ` (the links said ${JSON.stringify(links())})`; throw err; });
  const back = Array.from({ length: 10 }, (_, i) => `back ${i}`);
  for (const m of back) a1.send(`pub ${topic} ${m}`);
  await waitUntil(() => b1.inbox.length >= 15 && a2.inbox.length >= 20, 10000, 'remote delivery resumed');
  await new Promise((r) => setTimeout(r, 300)); // a duplicate would have come by now
  assert.deepEqual(b1.inbox, [...others, ...back], 'each once, in order');
  assert.deepEqual([...a2.inbox].sort(), [...during, ...others, ...back].sort(), 'local delivery: each once');
  assert.deepEqual(a1.inbox, []);
  assert.deepEqual(links(), [['up'], ['up']], 'the links stayed up');
  for (const ws of [a1, a2, b1]) ws.close();
});

// A node that does not know every slot's owner yet (one just given a slot, or just joined,
// before gossip tells it) answers CLUSTER SLOTS with holes. The publisher's link asks exactly
// that node after a MOVED to it: the link keeps the owners it knew for the holes and stays up.
// Made deterministic: the new owner forgets a third master's slots (DELSLOTSRANGE) while that
// master is stopped (SIGSTOP, under the node timeout), so nothing tells it again meanwhile.
test('Redis Cluster: a slot map with holes from the slot\'s new master: the link keeps the owners it knew, publishes go on', { timeout: 90000 }, async (t) => {
  if (!needRedis(t)) return;
  const cluster = await startCluster(t);
  const { topic, from, to, sub, publisher, listener, speaker } = await movedTopic(t, cluster);
  const third = cluster.nodes.find((n) => n.port !== from.port && n !== to);

  // The third master's first range, as the new owner knows it now.
  const ranges = cli(third.port, 'CLUSTER', 'NODES').split('\n').find((l) => l.includes('myself')).split(' ').slice(8);
  const [first, last = first] = ranges[0].split('-');
  third.child.kill('SIGSTOP');
  try {
    cli(to.port, 'CLUSTER', 'DELSLOTSRANGE', first, last);
    const known = cli(to.port, 'CLUSTER', 'INFO');
    assert.match(known, /cluster_slots_assigned:(?!16384)\d+/, 'the new owner does not know the third master\'s slots');
    for (let i = 0; i < 20; i++) speaker.send(`pub ${topic} after ${i}`);
    await waitUntil(() => listener.inbox.length >= 21, 5000, 'the publishes after the move').catch((err) => {
      err.message += ` (received ${listener.inbox.length - 1}; the links said ${JSON.stringify([sub.lines, publisher.lines])})`;
      throw err;
    });
  } finally {
    third.child.kill('SIGCONT');
  }
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(listener.inbox, ['before', ...Array.from({ length: 20 }, (_, i) => `after ${i}`)]);
  assert.deepEqual([sub.states(), publisher.states()], [['up'], ['up']], 'the links stayed up');
  const moved = /errorstat_MOVED:count=(\d+)/.exec(cli(from.port, 'INFO', 'errorstats'));
  assert.ok(moved && Number(moved[1]) >= 1, 'the old master answered MOVED');
  listener.close();
  speaker.close();
});

test('Redis Cluster over TLS: a certificate the link refuses, or none shown, is "redis" down with the reason, and stays down', { timeout: 90000 }, async (t) => {
  if (!needRedis(t)) return;
  const { certs, options, tls } = transports[1].setup(t);
  const cluster = await startCluster(t, options);
  const link = (pubsubTls) => {
    const server = new Server({ pubsub: { redis: cluster.seeds, tls: pubsubTls } });
    t.after(() => new Promise((resolve) => server.close(resolve)));
    server.states = [];
    server.on('redis', (state, err) => server.states.push(err ? `${state} ${err.message}` : state));
    return server;
  };
  const stranger = link({ ...tls, ca: String(certs.other) });
  const misnamed = link({ ...tls, servername: 'elsewhere.example' });
  const anonymous = link({ ca: tls.ca });
  const trusted = link(tls);
  const links = [stranger, misnamed, anonymous, trusted];
  await waitUntil(() => links.every((l) => l.states.length), 10000, 'each link told its state');
  // Reconnecting (every second) changes nothing, and says nothing more.
  await new Promise((r) => setTimeout(r, 2500));
  assert.deepEqual(trusted.states, ['up']);
  // The first seed is the node that refused; then rustls's reason.
  const seed = `^down Redis: 127\\.0\\.0\\.1:${cluster.nodes[0].port}: TLS: `;
  assert.equal(stranger.states.length, 1);
  assert.match(stranger.states[0], new RegExp(`${seed}invalid peer certificate: UnknownIssuer$`));
  assert.equal(misnamed.states.length, 1);
  assert.match(misnamed.states[0], new RegExp(`${seed}invalid peer certificate: certificate not valid for name "elsewhere.example"`));
  // TLS 1.3: the node checks the client's certificate after the client's handshake is done.
  assert.deepEqual(anonymous.states, [`down Redis: 127.0.0.1:${cluster.nodes[0].port}: TLS: received fatal alert: CertificateRequired`]);
});

test('Redis Cluster over TLS, masters on three IPs, each certificate naming its own: seeds by IP, each node checked against its address', { timeout: 90000 }, async (t) => {
  if (!needRedis(t)) return;
  const { options, tls } = transports[1].setup(t);
  const hosts = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
  const cluster = await startCluster(t, { ...options, hosts });
  const announced = cli(cluster.nodes[0].port, 'CLUSTER', 'NODES').split('\n').map((line) => line.split(' ')[1].split(':')[0]);
  assert.deepEqual(announced.sort(), hosts, 'the masters announced by their three IPs');
  const topics = topicsOnEveryMaster(cluster);
  // One seed each: the other two masters are learned from CLUSTER SLOTS, by IP.
  const [a, b] = [await lwsProcess(t, [cluster.seeds[0]], tls), await lwsProcess(t, [cluster.seeds[1]], tls)];
  // A servername given is checked on every node: the first seed's IP, refused by another node.
  const named = new Server({ pubsub: { redis: [cluster.seeds[0]], tls: { ...tls, servername: '127.0.0.1' } } });
  t.after(() => new Promise((resolve) => named.close(resolve)));
  const [state, err] = await within(10000, 'the named link told its state', (done) => named.once('redis', (...args) => done(args)));
  assert.equal(state, 'down');
  assert.match(err.message, /^Redis: 127\.0\.0\.[23]:\d+: TLS: invalid peer certificate: certificate not valid for name "127\.0\.0\.1"; certificate is only valid for IpAddress\(127\.0\.0\.[23]\)$/);
  const [a1, b1] = [await client(a, topics), await client(b, topics)];
  for (const topic of topics) {
    const { port } = masterOf(cluster.nodes[0].port, `lws:${topic}`);
    await eventually(async () => shardSubscribers(port, `lws:${topic}`) === 2, 5000, `both processes SSUBSCRIBEd to lws:${topic} on its master`);
  }
  const expected = topics.flatMap((topic) => Array.from({ length: 5 }, (_, i) => `${topic} ${i}`));
  for (const m of expected) a1.send(`pub ${m.split(' ')[0]} ${m}`);
  await waitUntil(() => b1.inbox.length >= expected.length, 10000, 'every delivery');
  await new Promise((r) => setTimeout(r, 300));
  for (const topic of topics) assert.deepEqual(b1.inbox.filter((m) => m.startsWith(`${topic} `)), expected.filter((m) => m.startsWith(`${topic} `)), `${topic}: each once, in order`);
  assert.equal(b1.inbox.length, expected.length);
  assert.deepEqual(a1.inbox, []);
  assert.deepEqual([a.states(), b.states()], [['up'], ['up']]);
  a1.close();
  b1.close();
});

test('Redis Cluster over TLS announcing hostnames: each node checked against the name it is announced by, or pubsub.tls.servername when given', { timeout: 90000 }, async (t) => {
  if (!needRedis(t)) return;
  const { options, tls } = transports[3].setup(t);
  const cluster = await startCluster(t, options);
  const [byIp, byName] = [cluster.nodes[0].port, cluster.nodes[0].port].map((port, i) => `rediss://${i ? 'localhost' : '127.0.0.1'}:${port}`);
  const link = (seed, pubsubTls = tls) => {
    const server = new Server({ pubsub: { redis: [seed], tls: pubsubTls } });
    t.after(() => new Promise((resolve) => server.close(resolve)));
    server.states = [];
    server.on('redis', (state, err) => server.states.push(err ? `${state} ${err.message}` : state));
    return server;
  };
  // The certificates name localhost only: a seed given by IP is checked against its IP, unless
  // a servername is given.
  const ipSeed = link(byIp);
  const ipSeedNamed = link(byIp, { ...tls, servername: 'localhost' });
  await waitUntil(() => ipSeed.states.length && ipSeedNamed.states.length, 10000, 'both links told their state');
  assert.deepEqual(ipSeedNamed.states, ['up']);
  assert.equal(ipSeed.states.length, 1);
  assert.match(ipSeed.states[0], new RegExp(`^down Redis: 127\\.0\\.0\\.1:${cluster.nodes[0].port}: TLS: invalid peer certificate: certificate not valid for name "127\\.0\\.0\\.1"`));

  // A master announced by a name its certificate lacks: refused by a link that checks the
  // announced name (its seed, a node announced as localhost, passes), taken by one given a
  // servername.
  const renamed = cluster.nodes[1];
  cli(renamed.port, 'CONFIG', 'SET', 'cluster-announce-hostname', 'lws-elsewhere.test');
  // In every node's slot map: the link may read the map from any master (gossip takes a moment).
  await eventually(async () => {
    const maps = await Promise.all(cluster.nodes.map((node) => redisCommand(node.port, 'CLUSTER', 'SLOTS')));
    return maps.every((map) => map.includes('lws-elsewhere.test'));
  }, 10000, 'the new name in every node\'s slot map');
  const misnamed = link(byName);
  const given = link(byIp, { ...tls, servername: 'localhost' });
  await waitUntil(() => misnamed.states.length && given.states.length, 10000, 'both links told their state');
  // Reconnecting (every second) changes nothing, and says nothing more.
  await new Promise((r) => setTimeout(r, 2500));
  assert.deepEqual(given.states, ['up']);
  assert.equal(misnamed.states.length, 1, JSON.stringify(misnamed.states));
  assert.match(misnamed.states[0], new RegExp(`^down Redis: 127\\.0\\.0\\.1:${renamed.port}: TLS: invalid peer certificate: certificate not valid for name "lws-elsewhere\\.test"; certificate is only valid for DnsName\\("localhost"\\)$`));
  assert.deepEqual([ipSeed.states.length, ipSeedNamed.states], [1, ['up']], 'the first links said nothing more');
});

test('pubsub.redis as a list: each URL is checked, one set of credentials, 1 to 64 nodes', () => {
  const { Server } = require('..');
  const make = (redis) => new Server({ pubsub: { redis } });
  assert.throws(() => make([]), { name: 'TypeError', message: /a list of 1 to 64/ });
  assert.throws(() => make(['redis://127.0.0.1:7000', 7001]), { name: 'TypeError', message: /a list of 1 to 64/ });
  assert.throws(() => make(Array.from({ length: 65 }, (_, i) => `redis://127.0.0.1:${7000 + i}`)), { name: 'TypeError' });
  assert.throws(() => make(['redis://127.0.0.1:7000', 'http://127.0.0.1:7001']), { name: 'TypeError', message: /must start with redis:\/\// });
  assert.throws(() => make(['redis://127.0.0.1:7000', 'rediss://127.0.0.1:7001']), { name: 'TypeError', message: /rediss/ });
  assert.throws(() => make(['redis://:one@127.0.0.1:7000', 'redis://:two@127.0.0.1:7001']), { name: 'TypeError', message: /different credentials/ });
});

test('a cluster none of whose seeds answers: "redis" down with the node and the errno', { timeout: 30000 }, async (t) => {
  const { Server } = require('..');
  const { freePort } = require('./helpers/redis');
  const [p1, p2] = [await freePort(), await freePort()];
  const server = new Server({ pubsub: { redis: [`redis://127.0.0.1:${p1}`, `redis://127.0.0.1:${p2}`] } });
  t.after(() => new Promise((resolve) => server.close(resolve)));
  const [state, err] = await within(5000, 'redis down', (done) => server.once('redis', (...args) => done(args)));
  assert.equal(state, 'down');
  assert.equal(err.code, 'ECONNREFUSED');
  assert.equal(err.message, `Redis: connect ECONNREFUSED 127.0.0.1:${p1}`);
});
