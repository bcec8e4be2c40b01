'use strict';
// Validation of lws.Server options, and their translation for the engine.

const fs = require('fs');
const os = require('os');
const net = require('net');

/**
 * The default `threads` for a machine with `cores` cores (README, "Which `threads`?").
 * One core: 0, the engine on the JS thread (a thread of its own could only take turns with
 * it, paying a hand-off per batch). Otherwise one engine thread per core left beside the JS
 * thread, up to 3: by the measured cost model one JS thread feeds about three engine
 * threads (0.21 µs of JS per message against 0.58 µs of engine work), and past that more
 * processes (`reusePort`) scale where more engine threads cannot.
 */
function defaultThreads(cores = os.availableParallelism()) {
  return cores <= 1 ? 0 : Math.min(cores - 1, 3);
}

const OPTIONS = {
  port: 'port', host: 'string', path: 'path', backlog: 'count',
  keepAliveTime: 'seconds', keepAliveInterval: 'seconds', keepAliveRetry: 'count',
  bufferSize: 'size', maxMessageSize: 'size', perMessageDeflate: 'deflate', ssl: 'ssl',
  threads: 'threads', handshakeTimeout: 'ms', closeTimeout: 'ms',
  maxHeaderBytes: 'size', maxHeaders: 'count', maxHttpBody: 'size', maxBacklog: 'size',
  idleTimeout: 'seconds', maxBackpressure: 'size', closeOnBackpressureLimit: 'boolean',
  autoPong: 'boolean', httpServer: 'httpServer', reusePort: 'boolean', pubsub: 'pubsub', skipUTF8Validation: 'boolean',
};

const DEFLATE_KEYS = {
  serverNoContextTakeover: 'boolean', clientNoContextTakeover: 'boolean',
  serverMaxWindowBits: 'bits', clientMaxWindowBits: 'bits', memLevel: 'memLevel', threshold: 'count0', level: 'level',
};

/**
 * Set to true on a perMessageDeflate object by lws.WebSocketServer (a symbol: no
 * user option): the engine does not negotiate, it follows the
 * Sec-WebSocket-Extensions header the 'upgrade' listener accepts with.
 */
const kNegotiatedByJs = Symbol('lws.negotiatedByJs');

/**
 * Set to true in a CoreServer's options by lws/walve (a symbol: no user option):
 * the engine reports frames ('frameHead', 'frameData'), not messages, and
 * maxMessageSize bounds each frame.
 */
const kFrameEvents = Symbol('lws.frameEvents');

/**
 * Set to true by lws/nodejs-websocket (a symbol: no user option): with a 'fragment'
 * listener, a message sent in several frames is streamed from its first frame and a
 * piece ends with each frame, as that package hands out each frame as it arrives.
 */
const kFragmentPerFrame = Symbol('lws.fragmentPerFrame');

/**
 * `pubsub: { redis, prefix, tls }`: topics shared through Redis. `redis` is one server's URL
 * ('redis://[user:password@]host[:port]', or rediss:// for TLS), or a list of a Redis
 * Cluster's nodes (seeds: the others are found from them), as ioredis's
 * `new Redis.Cluster([...])` and redis-rs's `ClusterClient::new(vec![...])` take them.
 * `tls` (as ioredis's): Node's tls.connect options that apply, and TLS even for redis://.
 */
const PUBSUB_KEYS = { redis: 'redis', prefix: 'string', tls: 'redisTls' };
const REDIS_TLS_KEYS = { ca: 'tlsPem', cert: 'tlsPem', key: 'tlsPem', rejectUnauthorized: 'boolean', servername: 'string' };

/** The most seed nodes a cluster list may hold (the engine serves 64 masters). */
const MAX_REDIS_SEEDS = 64;

/**
 * `pubsub.redis` (and `pubsub.tls`) as the engine wants them: { host, port (the first node),
 * nodes, cluster, username, password, tls } where `tls` is null or Node-style TLS options
 * with `servername` (`pubsub.tls.servername`: every node's certificate must carry it) and
 * `seedName`, the first URL's host when it is a name: checked on the seeds and on the nodes a
 * cluster announces by IP. Without either, each node's certificate is checked against its own
 * IP (as ioredis and redis-rs check a cluster's nodes); a node announced by hostname, against
 * that hostname (as ioredis does) unless `servername` is given.
 */
function redisTargets(redis, tlsOptions) {
  const cluster = Array.isArray(redis);
  const nodes = (cluster ? redis : [redis]).map(redisTarget);
  const credentials = new Set(nodes.filter((n) => n.password !== undefined).map((n) => `${n.username ?? ''}\0${n.password}`));
  if (credentials.size > 1) throw new TypeError('pubsub.redis: the cluster nodes\' URLs give different credentials (one user and password serve the whole cluster)');
  if (new Set(nodes.map((n) => n.secure)).size > 1) throw new TypeError('pubsub.redis: mixes redis:// and rediss:// URLs (one cluster, one transport)');
  const auth = nodes.find((n) => n.password !== undefined) || {};
  const seedName = net.isIP(nodes[0].host) ? undefined : nodes[0].host;
  const tls = nodes[0].secure || tlsOptions !== undefined ? { ...tlsOptions, seedName } : null;
  return { host: nodes[0].host, port: nodes[0].port, nodes: nodes.map(({ host, port }) => ({ host, port })), cluster, username: auth.username, password: auth.password, tls };
}

/** The Redis server of a `pubsub.redis` URL, or a TypeError that says what is wrong with it. */
function redisTarget(text) {
  let url;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(`pubsub.redis: not a URL: ${JSON.stringify(text)} (expected redis://[user:password@]host[:port])`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new TypeError(`pubsub.redis: the URL must start with redis:// or rediss:// (got ${url.protocol})`);
  if (!url.hostname) throw new TypeError('pubsub.redis: the URL has no host');
  return {
    host: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
    port: Number(url.port) || 6379,
    secure: url.protocol === 'rediss:',
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
  };
}

const SSL_KEYS = {
  key: 'pem', cert: 'pem', ca: 'pem', passphrase: 'string', ciphers: 'string', rejectUnauthorized: 'boolean',
};

function fail(name, expected, value, code = 'ERR_INVALID_ARG_VALUE') {
  const err = new TypeError(`Invalid option ${name}: expected ${expected}, got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`);
  err.code = code;
  throw err;
}

const isInt = (v, min, max) => Number.isInteger(v) && v >= min && v <= max;

/**
 * A port as net, http and ws take it: an integer from 0 to 65535, or a string of
 * one (`process.env.PORT`; Node's rule: any non-blank string that is such a number).
 * Returns the number; a TypeError names the option otherwise.
 */
function portNumber(v, name = 'port') {
  if (isInt(v, 0, 65535)) return v;
  if (typeof v === 'string' && v.trim() !== '' && isInt(Number(v), 0, 65535)) return Number(v);
  return fail(name, 'an integer from 0 to 65535, or a string of one', v, 'ERR_SOCKET_BAD_PORT'); // Node's code for it
}

function check(name, kind, v) {
  switch (kind) {
    case 'port': return portNumber(v, name) >= 0;
    case 'string': return typeof v === 'string' || fail(name, 'a string', v);
    case 'boolean': return typeof v === 'boolean' || fail(name, 'a boolean', v);
    case 'path': return (typeof v === 'string' && v.startsWith('/')) || fail(name, 'a string starting with "/"', v);
    case 'count': return isInt(v, 1, 2 ** 31 - 1) || fail(name, 'a positive integer', v);
    case 'seconds': return isInt(v, 0, 2 ** 31 / 1000) || fail(name, 'a whole number of seconds', v);
    case 'ms': return isInt(v, 1, 2 ** 31 - 1) || fail(name, 'a positive number of milliseconds', v);
    case 'size': return isInt(v, 1, Number.MAX_SAFE_INTEGER) || fail(name, 'a positive integer (bytes)', v);
    case 'threads': return isInt(v, 0, 8) || fail(name, 'an integer from 0 to 8', v);
    case 'bits': return v === true || isInt(v, 8, 15) || fail(name, 'an integer from 8 to 15', v);
    case 'count0': return isInt(v, 0, 2 ** 31 - 1) || fail(name, 'a non-negative integer', v);
    case 'level': return isInt(v, 0, 9) || fail(name, 'an integer from 0 to 9', v);
    case 'memLevel': return isInt(v, 1, 9) || fail(name, 'an integer from 1 to 9', v);
    case 'pem': return typeof v === 'string' || Buffer.isBuffer(v) || fail(name, 'a path or a Buffer', v);
    case 'httpServer': return (v !== null && typeof v === 'object' && typeof v.emit === 'function') || fail(name, 'an http.Server', v);
    case 'deflate': return checkShape(name, v, DEFLATE_KEYS, true);
    case 'ssl': return checkShape(name, v, SSL_KEYS, false);
    case 'pubsub': return checkShape(name, v, PUBSUB_KEYS, false);
    case 'redisTls': return checkShape(name, v, REDIS_TLS_KEYS, false);
    case 'tlsPem': return typeof v === 'string' || Buffer.isBuffer(v)
      || (Array.isArray(v) && v.every((x) => typeof x === 'string' || Buffer.isBuffer(x)))
      || fail(name, 'PEM text or a Buffer (or a list of them)', v);
    case 'redis': return typeof v === 'string'
      || (Array.isArray(v) && v.length >= 1 && v.length <= MAX_REDIS_SEEDS && v.every((u) => typeof u === 'string'))
      || fail(name, `a redis:// URL, or a list of 1 to ${MAX_REDIS_SEEDS} (a Redis Cluster's nodes)`, v);
    default: throw new Error(`unknown option kind ${kind}`);
  }
}

function checkShape(name, v, keys, allowBoolean) {
  if (allowBoolean && typeof v === 'boolean') return true;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(name, allowBoolean ? 'a boolean or an object' : 'an object', v);
  for (const [k, val] of Object.entries(v)) {
    if (!(k in keys)) fail(`${name}.${k}`, `one of ${Object.keys(keys).join(', ')}`, k);
    if (val !== undefined) check(`${name}.${k}`, keys[k], val);
  }
  return true;
}

/** PEM data for the engine: `key`, `cert` and `ca` are paths or the PEM itself (string or Buffer). */
function readTlsFiles(ssl) {
  if (ssl.key === undefined || ssl.cert === undefined) fail('ssl', 'an object with key and cert', '{...}');
  if (ssl.passphrase !== undefined) {
    const err = new TypeError('ssl.passphrase: encrypted private keys are not supported; pass the decrypted key');
    err.code = 'ERR_INVALID_ARG_VALUE';
    throw err;
  }
  const pem = (name, value) => {
    if (Buffer.isBuffer(value)) return value;
    if (value.includes('-----BEGIN')) return Buffer.from(value);
    try {
      return fs.readFileSync(value);
    } catch (err) {
      err.message = `ssl.${name}: cannot read ${value}: ${err.message}`;
      throw err;
    }
  };
  return {
    sslCert: pem('cert', ssl.cert),
    sslKey: pem('key', ssl.key),
    sslCa: ssl.ca === undefined ? undefined : pem('ca', ssl.ca),
    sslRejectUnauthorized: ssl.rejectUnauthorized,
  };
}

/** Checks `options` and returns them with defaults plus the engine's settings. */
function normalizeOptions(options) {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  for (const [name, value] of Object.entries(options)) {
    if (!(name in OPTIONS)) {
      const err = new TypeError(`Unknown option "${name}"`);
      err.code = 'ERR_INVALID_ARG_VALUE';
      throw err;
    }
    if (value !== undefined) check(name, OPTIONS[name], value);
  }
  let tls;
  if (options.ssl) {
    tls = readTlsFiles(options.ssl);
  }
  const o = options;
  const seconds = (s) => (s === undefined ? undefined : s * 1000);
  // permessage-deflate: off unless asked for; without context takeover by default,
  // so that a connection keeps no zlib state (the engine shares one per thread).
  let deflate;
  if (o.perMessageDeflate) {
    const d = o.perMessageDeflate === true ? {} : o.perMessageDeflate;
    deflate = {
      serverNoContextTakeover: d.serverNoContextTakeover ?? true,
      clientNoContextTakeover: d.clientNoContextTakeover ?? true,
      serverMaxWindowBits: d.serverMaxWindowBits === true ? 15 : d.serverMaxWindowBits,
      clientMaxWindowBits: d.clientMaxWindowBits === true ? undefined : d.clientMaxWindowBits,
      threshold: d.threshold ?? 1024,
      level: d.level,
      negotiatedByJs: d[kNegotiatedByJs] === true,
    };
  }
  return {
    port: o.port === undefined ? undefined : portNumber(o.port),
    host: o.host,
    backlog: o.backlog ?? 511,
    reusePort: o.reusePort === true,
    perMessageDeflate: o.perMessageDeflate ?? false,
    httpServer: o.httpServer,
    pubsub: o.pubsub && o.pubsub.redis !== undefined ? { ...redisTargets(o.pubsub.redis, o.pubsub.tls), prefix: o.pubsub.prefix ?? 'lws:' } : null,
    engine: {
      path: o.path,
      maxMessageSize: o.maxMessageSize ?? 16 * 1024 * 1024,
      bufferSize: o.bufferSize ?? 64 * 1024,
      maxHeaderBytes: o.maxHeaderBytes,
      maxHeaders: o.maxHeaders,
      handshakeTimeoutMs: o.handshakeTimeout,
      closeTimeoutMs: o.closeTimeout,
      keepAliveTimeMs: seconds(o.keepAliveTime),
      keepAliveIntervalMs: seconds(o.keepAliveInterval),
      keepAliveRetry: o.keepAliveRetry,
      maxHttpBody: o.maxHttpBody,
      threads: o.threads ?? defaultThreads(),
      maxJsBacklog: o.maxBacklog,
      idleTimeoutMs: seconds(o.idleTimeout),
      maxBackpressure: o.maxBackpressure,
      backpressureDrop: o.closeOnBackpressureLimit === false,
      perMessageDeflate: deflate,
      autoPong: o.autoPong,
      skipUtf8Validation: o.skipUTF8Validation,
      handOffHttp: o.httpServer !== undefined,
      frameEvents: o[kFrameEvents] === true,
      fragmentPerFrame: o[kFragmentPerFrame] === true,
      ...tls,
    },
  };
}

module.exports = { normalizeOptions, portNumber, defaultThreads, kNegotiatedByJs, kFrameEvents, kFragmentPerFrame };
