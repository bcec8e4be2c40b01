'use strict';
// Real redis-server processes for the pub/sub suites (Debian's package; .ci/run installs it,
// and the tests are skipped with a note where it is missing unless LWS_REQUIRE_REDIS=1):
// one server, or a Redis Cluster made with redis-cli --cluster create. Every process is
// killed after its test; every wait is bounded.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { within } = require('./wait');

const haveRedis = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).status === 0;

function needRedis(t) {
  if (haveRedis) return true;
  if (process.env.LWS_REQUIRE_REDIS === '1') assert.fail('LWS_REQUIRE_REDIS=1 but no redis-server on PATH (apt-get install redis-server)');
  t.skip('redis-server is not installed (apt-get install redis-server); CI installs it');
  return false;
}

const freePort = () => new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});

const portIsFree = (port) => new Promise((resolve) => {
  const s = net.createServer();
  s.once('error', () => resolve(false));
  s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
});

/** One RESP command on a fresh connection; resolves with the raw reply (its first chunk). */
function redisCommand(port, ...args) {
  return within(5000, `redis ${args[0]}`, (done, fail) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
    });
    socket.once('data', (d) => { done(String(d)); socket.destroy(); });
    socket.on('error', fail);
  });
}

/** A redis-server on `port` (no persistence), killed after the test; `extra` arguments appended. */
async function startRedis(t, port, extra = []) {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extra], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  t.after(() => { child.kill('SIGKILL'); return exited; });
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      const reply = await redisCommand(port, 'PING');
      if (reply.startsWith('+PONG') || reply.startsWith('-NOAUTH')) break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { child, exited, stop: () => { child.kill('SIGKILL'); return exited; } };
}

/** Polls an async predicate until it holds. */
async function eventually(predicate, ms, what) {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `redis-cli -p PORT args...` (bounded), its output trimmed. */
function cli(port, ...args) {
  const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8', timeout: 10000 });
  if (r.status !== 0) throw new Error(`redis-cli ${args.join(' ')}: ${r.stderr || r.status}`);
  return r.stdout.trim();
}

/** Ports for cluster nodes: the port and its cluster bus port (+10000) both free. */
async function clusterPorts(n) {
  const ports = [];
  for (let tries = 0; ports.length < n && tries < 2000; tries++) {
    const port = 21000 + Math.floor(Math.random() * 9000);
    if (!ports.includes(port) && (await portIsFree(port)) && (await portIsFree(port + 10000))) ports.push(port);
  }
  if (ports.length < n) throw new Error('no free ports for a Redis Cluster');
  return ports;
}

/**
 * A Redis Cluster of `masters` masters (and `replicas` replicas each) on loopback, made by
 * `redis-cli --cluster create`, its state ok on every node. `node.stop()` kills one
 * (SIGKILL), `node.start()` starts it again with its nodes.conf, so it rejoins.
 */
async function startCluster(t, { masters = 3, replicas = 0 } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lws-redis-cluster-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const ports = await clusterPorts(masters * (1 + replicas));
  const nodes = ports.map((port) => {
    const node = { port, child: null, exited: null };
    node.start = async () => {
      const started = await startRedis(t, port, ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`,
        '--cluster-node-timeout', '1000', '--dir', dir]);
      Object.assign(node, started);
    };
    return node;
  });
  for (const node of nodes) await node.start();
  const created = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`),
    '--cluster-replicas', String(replicas), '--cluster-yes'], { encoding: 'utf8', timeout: 30000 });
  if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}\n${created.stderr}`);
  await clusterOk(nodes);
  // A replica can take over only once it has synced with its master and every node knows it.
  await eventually(async () => nodes.every((node) => {
    const role = cli(node.port, 'ROLE').split('\n');
    const replicasKnown = cli(node.port, 'CLUSTER', 'NODES').split('\n').filter((l) => (l.split(' ')[2] || '').split(',').includes('slave')).length;
    return (role[0] === 'master' || role[3] === 'connected') && replicasKnown === masters * replicas;
  }), 30000, 'every replica synced and known');
  for (const node of nodes) node.id = cli(node.port, 'CLUSTER', 'MYID');
  return { nodes, dir, seeds: ports.map((p) => `redis://127.0.0.1:${p}`) };
}

/** Waits until every running node says cluster_state:ok and knows every slot. */
async function clusterOk(nodes, ms = 20000) {
  await eventually(async () => {
    for (const node of nodes) {
      if (node.child.exitCode !== null || node.child.signalCode !== null) continue;
      const info = cli(node.port, 'CLUSTER', 'INFO');
      if (!/cluster_state:ok/.test(info) || !/cluster_slots_ok:16384/.test(info)) return false;
    }
    return true;
  }, ms, 'cluster_state:ok on every node');
}

/** The master serving `key`'s slot, as `CLUSTER NODES` on `port` says: { slot, port, id }. */
function masterOf(port, key) {
  const slot = Number(cli(port, 'CLUSTER', 'KEYSLOT', key));
  // A line: id ip:port@bus flags master ping pong epoch link-state slot-range...
  for (const line of cli(port, 'CLUSTER', 'NODES').split('\n')) {
    const [id, address, flags, , , , , , ...ranges] = line.split(' ');
    if (!flags.split(',').includes('master')) continue;
    for (const range of ranges) {
      const [first, last = first] = range.split('-').map(Number);
      if (slot >= first && slot <= last) return { slot, port: Number(address.split('@')[0].split(':')[1]), id };
    }
  }
  throw new Error(`no master for slot ${slot}`);
}

module.exports = { haveRedis, needRedis, freePort, redisCommand, startRedis, eventually, cli, startCluster, clusterOk, masterOf };
