'use strict';
// The HTTP side of the upgrade as ws presents it: request checks, subprotocol
// parsing, the 101 header lines shown to 'headers' listeners, refusals on Node
// sockets, and the request object handed to 'connection' when the engine
// accepted the connection itself.

const { createHash } = require('crypto');
const { STATUS_CODES } = require('http');
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
function responseLines(key, protocol) {
  const lines = [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${acceptKey(key)}`,
  ];
  if (protocol) lines.push(`Sec-WebSocket-Protocol: ${protocol}`);
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

/** Headers of a refusal for the engine (it writes Connection, Content-Type and Content-Length itself). */
function refusalHeaders(headers) {
  if (!headers) return undefined;
  let out;
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (lower === 'connection' || lower === 'content-type' || lower === 'content-length') continue;
    if (/[\r\n]/.test(name + String(value))) continue;
    if (out === undefined) out = {};
    out[name] = value;
  }
  return out;
}

/** The engine refuses with 400-599 only. */
function refusalStatus(code) {
  return Number.isInteger(code) && code >= 400 && code <= 599 ? code : 400;
}

/** Answers an upgrade on a Node socket with an HTTP error and closes it. */
function abortHandshake(socket, code, message, headers) {
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
  socket.once('finish', socket.destroy);
  socket.end(`${head}\r\n${body}`);
}

/** 'error' on a socket during the handshake: nothing to tell anyone, drop it. */
function destroyOnError() {
  this.destroy();
}

/** Node's socket can be handed to the engine by descriptor (what lws.Server#handleUpgrade accepts). */
function isPlainTcp(socket) {
  const handle = socket._handle;
  return !socket.encrypted && handle != null && typeof handle.fd === 'number' && handle.fd >= 0;
}

/**
 * The request the engine re-reads when it adopts a socket: the client's,
 * plus the header that ties it to its handleUpgrade() call. ws also accepts
 * Sec-WebSocket-Version 8, whose framing is version 13's: the engine is told 13.
 */
function engineRequest(req, ticket) {
  const rawHeaders = [];
  const src = req.rawHeaders || [];
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

/** What `req.socket` offers for a connection the engine accepted itself. */
class PeerSocket {
  constructor(request) {
    this.remoteAddress = request.remoteAddress;
    this.remotePort = request.remotePort;
    this.remoteFamily = request.remoteFamily;
    this.encrypted = false;
  }
}

/** The http.IncomingMessage-like request of a connection the engine accepted itself. */
class UpgradeRequestInfo {
  constructor(request) {
    this.method = request.method;
    this.url = request.url;
    this.headers = request.headers;
    this.rawHeaders = request.rawHeaders;
    this.httpVersion = '1.1';
    this.httpVersionMajor = 1;
    this.httpVersionMinor = 1;
    this.socket = new PeerSocket(request);
  }

  /** Node's deprecated alias. */
  get connection() {
    return this.socket;
  }
}

/**
 * The `socket` a 'wsClientError' listener gets for a connection the engine
 * holds: what it writes and ends with is turned into the engine's refusal
 * (the status line's code, 400 if none).
 */
class RefusalSocket {
  constructor(upgrade) {
    this._upgrade = upgrade;
    this._written = '';
    this.destroyed = false;
    this.remoteAddress = upgrade.remoteAddress;
    this.remotePort = upgrade.remotePort;
  }

  write(data) {
    if (!this.destroyed && data != null) this._written += typeof data === 'string' ? data : Buffer.from(data).toString('latin1');
    return true;
  }

  end(data) {
    this.write(data);
    this.destroy();
    return this;
  }

  destroy() {
    if (this.destroyed) return this;
    this.destroyed = true;
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(this._written);
    const headers = {};
    for (const line of this._written.split('\r\n\r\n')[0].split('\r\n').slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
    }
    this._upgrade.refuse(refusalStatus(status ? Number(status[1]) : 400), refusalHeaders(headers));
    return this;
  }

  on() {
    return this;
  }

  once() {
    return this;
  }

  removeListener() {
    return this;
  }
}

module.exports = {
  KEY_PATTERN,
  parseSubprotocols,
  acceptKey,
  responseLines,
  extraHeaders,
  refusalHeaders,
  refusalStatus,
  abortHandshake,
  destroyOnError,
  isPlainTcp,
  engineRequest,
  UpgradeRequestInfo,
  RefusalSocket,
};
