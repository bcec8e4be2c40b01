'use strict';
// The HTTP side of the upgrade as ws presents it: request checks, subprotocol
// parsing, the 101 header lines shown to 'headers' listeners, refusals on Node
// sockets, and the request object handed to 'connection' when the engine
// accepted the connection itself.

const { createHash } = require('crypto');
const { STATUS_CODES, IncomingMessage } = require('http');
const os = require('os');
const { GUID, HANDOVER_HEADER } = require('./constants');

/** Sec-WebSocket-Key as ws accepts it: base64 of 16 bytes. */
const KEY_PATTERN = /^[+/0-9A-Za-z]{22}==$/;

/** An HTTP token (RFC 9110 section 5.6.2), which a subprotocol name must be. */
const TOKEN_PATTERN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Sec-WebSocket-Protocol: comma-separated tokens, no duplicates. Throws a SyntaxError. */
function parseSubprotocols(header) {
  const protocols = new Set();
  for (const part of String(header).split(',')) {
    const name = part.replace(/^[ \t]+|[ \t]+$/g, '');
    if (!TOKEN_PATTERN.test(name)) throw new SyntaxError(`Invalid subprotocol ${JSON.stringify(name)}`);
    if (protocols.has(name)) throw new SyntaxError(`The "${name}" subprotocol is duplicated`);
    protocols.add(name);
  }
  return protocols;
}

function acceptKey(key) {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/** The 101 response as header lines, for the 'headers' event (listeners may push more). */
function responseLines(key, protocol, extensions) {
  const lines = [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${acceptKey(key)}`,
  ];
  if (protocol) lines.push(`Sec-WebSocket-Protocol: ${protocol}`);
  if (extensions) lines.push(`Sec-WebSocket-Extensions: ${extensions}`);
  return lines;
}

const WRITTEN_BY_ENGINE = new Set(['upgrade', 'connection', 'sec-websocket-accept']);

/**
 * The header lines after 'headers' listeners ran, as the object the engine adds
 * to its 101. The engine writes the status line, Upgrade, Connection and
 * Sec-WebSocket-Accept itself; lines with CR or LF are dropped (no injection).
 */
function extraHeaders(lines) {
  let out;
  for (let i = 1; i < lines.length; i++) {
    const line = String(lines[i]);
    const colon = line.indexOf(':');
    if (colon <= 0 || /[\r\n]/.test(line)) continue;
    const name = line.slice(0, colon).trim();
    if (WRITTEN_BY_ENGINE.has(name.toLowerCase())) continue;
    const value = line.slice(colon + 1).trim();
    if (out === undefined) out = {};
    if (out[name] === undefined) out[name] = [value];
    else out[name].push(value);
  }
  return out;
}

/** ws's refusal of an upgrade: the whole response, as it writes it. */
function refusalResponse(code, message, headers) {
  const reason = STATUS_CODES[code];
  const body = message || reason || '';
  const all = {
    Connection: 'close',
    'Content-Type': 'text/html',
    'Content-Length': Buffer.byteLength(body),
    ...headers,
  };
  let head = `HTTP/1.1 ${code} ${reason}\r\n`;
  for (const name of Object.keys(all)) head += `${name}: ${all[name]}\r\n`;
  return `${head}\r\n${body}`;
}

/** Answers an upgrade on a Node socket with an HTTP error and closes it. */
function abortHandshake(socket, code, message, headers) {
  socket.once('finish', socket.destroy);
  socket.end(refusalResponse(code, message, headers));
}

/** 'error' on a socket during the handshake: nothing to tell anyone, drop it. */
function destroyOnError() {
  this.destroy();
}

/**
 * `headers` as rawHeaders: ws reads only `req.headers`, so a request object made
 * by hand (@fastify/websocket's injectWS(), tests) has no rawHeaders.
 */
function rawHeadersOf(headers) {
  const raw = [];
  for (const [name, value] of Object.entries(headers || {})) {
    for (const v of Array.isArray(value) ? value : [value]) raw.push(name, String(v));
  }
  return raw;
}

/**
 * The request the engine re-reads when it adopts a socket: the client's,
 * plus the header that ties it to its handleUpgrade() call. ws also accepts
 * Sec-WebSocket-Version 8, whose framing is version 13's: the engine is told 13.
 */
function engineRequest(req, ticket) {
  const rawHeaders = [];
  const src = req.rawHeaders || rawHeadersOf(req.headers);
  let connectionUpgrade = false;
  for (let i = 0; i + 1 < src.length; i += 2) {
    const name = src[i];
    const lower = name.toLowerCase();
    if (lower === HANDOVER_HEADER) continue;
    if (lower === 'sec-websocket-version') {
      rawHeaders.push(name, '13');
      continue;
    }
    if (lower === 'connection' && /(^|,)\s*upgrade\s*(,|$)/i.test(src[i + 1])) connectionUpgrade = true;
    rawHeaders.push(name, src[i + 1]);
  }
  if (!connectionUpgrade) rawHeaders.push('Connection', 'Upgrade');
  rawHeaders.push(HANDOVER_HEADER, ticket);
  return { method: req.method, url: req.url, rawHeaders };
}

/** A wildcard bind: the local address of a connection is not the bound one. */
const WILDCARD = new Set(['::', '0.0.0.0']);

/**
 * The local address of a connection to a wildcard bind. The engine does not
 * report it: a loopback peer reached the same loopback address (the usual
 * case), any other peer this host's first external address of its family.
 */
function guessLocalAddress(remote, family) {
  if (remote === undefined) return undefined;
  if (remote === '::1' || /^(::ffff:)?127\./.test(remote)) return remote;
  const mapped = remote.startsWith('::ffff:');
  const want = family === 'IPv6' && !mapped ? 'IPv6' : 'IPv4';
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list) {
      if (!a.internal && a.family === want) return mapped ? `::ffff:${a.address}` : a.address;
    }
  }
  return undefined;
}

/**
 * What `req.socket` offers for a connection the engine accepted itself: the
 * addresses net.Socket has. `encrypted` is left undefined, as on a plain net.Socket.
 */
class PeerSocket {
  constructor(request) {
    this.remoteAddress = request.remoteAddress;
    this.remotePort = request.remotePort;
    this.remoteFamily = request.remoteFamily;
    // The core server's address() object (shared, not copied): its port is the local port.
    this._bound = request.server ? request.server.address() : null;
  }

  get localAddress() {
    const bound = this._bound;
    if (bound === null) return undefined;
    return WILDCARD.has(bound.address) ? guessLocalAddress(this.remoteAddress, this.remoteFamily) : bound.address;
  }

  get localPort() {
    return this._bound === null ? undefined : this._bound.port;
  }

  /** Node's Socket#setTimeout: an upgraded socket has no timeout to set. */
  setTimeout() {
    return this;
  }
}

/** How many names `headers` has (Object.keys' length, without the array). */
function propertyCount(headers) {
  let count = 0;
  for (const name in headers) if (Object.prototype.hasOwnProperty.call(headers, name)) count++;
  return count;
}

/**
 * The request of a connection the engine accepted itself: a real
 * http.IncomingMessage, as ws hands out, of an upgrade that was read whole.
 * With a header name repeated, `headers` is built by Node from `rawHeaders`
 * on first read (Node's rules for joining or dropping repeats differ from the
 * engine's). About 0.1 us a handshake.
 */
class UpgradeRequestInfo extends IncomingMessage {
  constructor(request) {
    // Node's constructor makes an options object for a socket given to it (which a
    // PeerSocket does not need: it has no highWaterMark): the socket is set after.
    super(null);
    this.socket = this.client = new PeerSocket(request);
    this.method = request.method;
    this.url = request.url;
    this.httpVersion = '1.1';
    this.httpVersionMajor = 1;
    this.httpVersionMinor = 1;
    const raw = request.rawHeaders;
    this._addHeaderLines(raw, raw.length); // before `complete`: else they are trailers
    // No name repeated: the engine's object is the one Node would build (which costs ~0.8 us).
    if (propertyCount(request.headers) * 2 === raw.length) this.headers = request.headers;
    this.complete = true;
    this.upgrade = true;
  }

  /** Nothing to destroy: the engine owns the connection (Node's would destroy a net.Socket). */
  _destroy(err, callback) {
    process.nextTick(callback, err);
  }
}

module.exports = {
  KEY_PATTERN,
  parseSubprotocols,
  acceptKey,
  responseLines,
  extraHeaders,
  refusalResponse,
  abortHandshake,
  destroyOnError,
  engineRequest,
  UpgradeRequestInfo,
};
