'use strict';
// Real redis-server processes for the pub/sub suites (Debian's package; .ci/run installs it,
// and the tests are skipped with a note where it is missing unless LWS_REQUIRE_REDIS=1):
// one server, or a Redis Cluster made with redis-cli --cluster create, over TCP or TLS only
// (Debian's redis-server is built with TLS; certificates made by openssl here). Every
// process is killed after its test; every wait is bounded.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const tls = require('node:tls');
const { execFileSync, spawn, spawnSync } = require('node:child_process');
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

/**
 * A CA, and certificates it signs: `server.pem` (for localhost and 127.0.0.1, which every
 * node of a TLS cluster serves) and `client.pem` (what lws and redis-cli show a node that
 * asks for a client certificate); `other.pem` an unrelated CA. `issue(name, san)` makes
 * another server certificate (`name.pem`, `name.key`).
 */
function makeCertificates(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lws-redis-tls-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const run = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=lws redis test CA', '-keyout', 'ca.key', '-out', 'ca.pem');
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=another CA', '-keyout', 'other.key', '-out', 'other.pem');
  const issue = (name, san) => {
    fs.writeFileSync(path.join(dir, `${name}.ext`), `subjectAltName=${san}\n`);
    run('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    run('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`);
  };
  issue('server', 'IP:127.0.0.1,DNS:localhost');
  issue('client', 'DNS:lws-test-client');
  const file = (name) => path.join(dir, name);
  const read = (name) => fs.readFileSync(file(name));
  return { dir, file, issue, ca: read('ca.pem'), other: read('other.pem'), client: { cert: read('client.pem'), key: read('client.key') } };
}

/**
 * The servers started here that are not plain TCP on 127.0.0.1: port -> { host, tls } (tls:
 * the certificates, for a TLS-only port). redisCommand and cli() reach them so, and the
 * cluster helpers serve every kind of cluster with the port alone.
 */
const reach = new Map();

/** One RESP command on a fresh connection; resolves with the raw reply (its first chunk). */
function redisCommand(port, ...args) {
  return within(5000, `redis ${args[0]}`, (done, fail) => {
    const { host = '127.0.0.1', tls: certs, servername } = reach.get(port) ?? {};
    const hello = () => socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
    const socket = certs
      ? tls.connect({ port, host, servername, ca: certs.ca, ...certs.client }, hello)
      : net.connect(port, host, hello);
    socket.once('data', (d) => { done(String(d)); socket.destroy(); });
    socket.on('error', fail);
  });
}

/**
 * A redis-server on `host`:`port` (no persistence), killed after the test; `extra` arguments
 * appended. With `certs` (makeCertificates), `port` is its TLS port and it has no other
 * (`--port 0`), its certificate `certificate` (.pem and .key), which names `servername` if
 * given (else `host`); it asks clients for a certificate (Redis's default), unless `extra`
 * says otherwise.
 */
async function startRedis(t, port, extra = [], { host = '127.0.0.1', certs = null, certificate = 'server', servername = undefined } = {}) {
  const listen = certs
    ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', certs.file(`${certificate}.pem`),
      '--tls-key-file', certs.file(`${certificate}.key`), '--tls-ca-cert-file', certs.file('ca.pem')]
    : ['--port', String(port)];
  if (certs || host !== '127.0.0.1') {
    reach.set(port, { host, tls: certs, servername });
    t.after(() => reach.delete(port));
  }
  const child = spawn('redis-server', [...listen, '--bind', host, '--save', '', '--appendonly', 'no', ...extra], { stdio: 'ignore' });
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

/** redis-cli's options for a TLS-only port (with the client certificate), or none. */
function tlsCliArgs(port) {
  const certs = reach.get(port)?.tls;
  return certs ? ['--tls', '--cacert', certs.file('ca.pem'), '--cert', certs.file('client.pem'), '--key', certs.file('client.key')] : [];
}

/** `redis-cli -h HOST -p PORT args...` (bounded; over TLS to a TLS-only port), its output trimmed. */
function cli(port, ...args) {
  const host = reach.get(port)?.host ?? '127.0.0.1';
  const r = spawnSync('redis-cli', ['-h', host, '-p', String(port), ...tlsCliArgs(port), ...args], { encoding: 'utf8', timeout: 10000 });
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
 * (SIGKILL), `node.start()` starts it again with its nodes.conf, so it rejoins. With `certs`
 * (makeCertificates), every node speaks TLS only: to clients (which must show a certificate
 * of the CA), to the other nodes on the cluster bus (port + 10000) and to its replicas;
 * `seeds` are then rediss:// URLs. With `hosts` (loopback IPs: 127.0.0.2...), node i is on
 * hosts[i % hosts.length] (and announced so), and over TLS its certificate names that IP only.
 * With `hostname`, every node announces that hostname (`cluster-announce-hostname`, with
 * `cluster-preferred-endpoint-type hostname`: CLUSTER SLOTS and MOVED name it, the IP beside it
 * in the slot map's metadata); over TLS every certificate then names that hostname only
 * (`DNS:` alone), and the seeds on 127.0.0.1 give it instead of the IP.
 * `addMaster(host)` starts one more node, a master of no slot known to every node.
 */
async function startCluster(t, { masters = 3, replicas = 0, certs = null, hosts = null, hostname = null } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lws-redis-cluster-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const ports = await clusterPorts(masters * (1 + replicas));
  const issued = new Set();
  const certificate = (host) => (hostname ? `node-${hostname}` : hosts ? `node-${host}` : 'server');
  const makeNode = (port, host) => {
    if (certs && (hosts || hostname) && !issued.has(certificate(host))) {
      certs.issue(certificate(host), hostname ? `DNS:${hostname}` : `IP:${host}`);
      issued.add(certificate(host));
    }
    const node = { host, port, child: null, exited: null };
    node.start = async () => {
      const started = await startRedis(t, port, ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`,
        '--cluster-node-timeout', '1000', '--dir', dir, ...(certs ? ['--tls-cluster', 'yes', '--tls-replication', 'yes'] : []),
        ...(hosts ? ['--cluster-announce-ip', host] : []),
        ...(hostname ? ['--cluster-announce-hostname', hostname, '--cluster-preferred-endpoint-type', 'hostname'] : [])],
      { host, certs, certificate: certificate(host), servername: hostname ?? undefined });
      Object.assign(node, started);
    };
    return node;
  };
  const nodes = ports.map((port, i) => makeNode(port, hosts ? hosts[i % hosts.length] : '127.0.0.1'));
  for (const node of nodes) await node.start();
  const created = spawnSync('redis-cli', [...tlsCliArgs(ports[0]), '--cluster', 'create', ...nodes.map((n) => `${n.host}:${n.port}`),
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
  const addMaster = async (host = '127.0.0.1') => {
    let port;
    do [port] = await clusterPorts(1); while (nodes.some((n) => n.port === port));
    const node = makeNode(port, host);
    await node.start();
    const added = spawnSync('redis-cli', [...tlsCliArgs(port), '--cluster', 'add-node', `${host}:${port}`, `${nodes[0].host}:${nodes[0].port}`],
      { encoding: 'utf8', timeout: 30000 });
    if (added.status !== 0) throw new Error(`redis-cli --cluster add-node failed: ${added.stdout}\n${added.stderr}`);
    node.id = cli(port, 'CLUSTER', 'MYID');
    nodes.push(node);
    await eventually(async () => nodes.every((n) => cli(n.port, 'CLUSTER', 'NODES').split('\n').length === nodes.length), 20000, 'the new node known to every node');
    // And the new node knows every slot's owner (gossip), or it answers CLUSTERDOWN and
    // gives a slot map with holes: not yet a master a slot can move to.
    await clusterOk(nodes);
    return node;
  };
  const seedHost = (n) => (certs && hostname && n.host === '127.0.0.1' ? hostname : n.host);
  return { nodes, dir, addMaster, seeds: nodes.map((n) => `${certs ? 'rediss' : 'redis'}://${seedHost(n)}:${n.port}`) };
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

module.exports = { haveRedis, needRedis, freePort, makeCertificates, redisCommand, startRedis, eventually, cli, startCluster, clusterOk, masterOf };
