'use strict';
// The client side of the opening handshake (RFC 6455 4.1), shared by lws.Client
// and the ws layer's WebSocket: the target (URL, name resolution), the request
// head (written as Node's http.request writes ws's, so a server sees the same
// bytes from lws as from ws) and ws's checks of the server's 101. The engine
// connects, runs TLS, writes the head and parses the response; what the answer
// must contain is checked here so the errors are ws's own.

const crypto = require('crypto');
const dns = require('dns');
const querystring = require('querystring');
const net = require('net');
const util = require('util');
const { IncomingMessage } = require('http');
const { TlsFailure } = require('./wire');
const { parse: parseExtensions, checkOffer, PERMESSAGE_DEFLATE } = require('../ws/extensions');

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Random bytes for the next keys, refilled when used up: a Buffer less per handshake. */
const KEY_BYTES = 16;
const keyPool = Buffer.alloc(KEY_BYTES * 64);
let keyPoolAt = keyPool.length;

/** A fresh Sec-WebSocket-Key. */
function newKey() {
  if (keyPoolAt === keyPool.length) {
    crypto.randomFillSync(keyPool);
    keyPoolAt = 0;
  }
  keyPoolAt += KEY_BYTES;
  return keyPool.toString('base64', keyPoolAt - KEY_BYTES, keyPoolAt);
}

/** The Sec-WebSocket-Accept a server must answer `key` with (crypto.hash: no Hash object, where Node has it). */
const acceptFor = typeof crypto.hash === 'function'
  ? (key) => crypto.hash('sha1', key + GUID, 'base64')
  : (key) => crypto.createHash('sha1').update(key + GUID).digest('base64');

/** `address` (a string or URL) as a URL, http(s): turned into ws(s): as ws does; ws's SyntaxError if it is none. */
function webSocketUrl(address) {
  let url;
  if (address instanceof URL) {
    url = address;
  } else {
    try {
      url = new URL(address);
    } catch {
      throw new SyntaxError(`Invalid URL: ${address}`);
    }
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') {
    url = new URL(url);
    url.protocol = url.protocol === 'http:' ? 'ws:' : 'wss:';
  }
  return url;
}

/**
 * A ws:, wss:, http:, https: or ws+unix: URL, checked as ws checks it. Returns
 * { url, secure, ipc, host, port, path, socketPath, auth } or throws ws's SyntaxError.
 */
function parseTarget(address) {
  const url = webSocketUrl(address);
  const secure = url.protocol === 'wss:';
  const ipc = url.protocol === 'ws+unix:';
  if (url.protocol !== 'ws:' && !secure && !ipc) {
    throw new SyntaxError('The URL\'s protocol must be one of "ws:", "wss:", "http:", "https:", or "ws+unix:"');
  }
  if (ipc && !url.pathname) throw new SyntaxError("The URL's pathname is empty");
  if (url.hash) throw new SyntaxError('The URL contains a fragment identifier');
  const target = {
    url,
    secure,
    ipc,
    host: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
    port: Number(url.port) || (secure ? 443 : 80),
    defaultPort: secure ? 443 : 80,
    path: url.pathname + url.search,
    socketPath: undefined,
    auth: undefined,
  };
  if (url.username || url.password) {
    target.auth = `${querystring.unescape(url.username)}:${querystring.unescape(url.password)}`;
  }
  if (ipc) {
    const i = target.path.indexOf(':');
    target.socketPath = i === -1 ? target.path : target.path.slice(0, i);
    target.path = i === -1 ? '' : target.path.slice(i + 1);
  }
  return target;
}

/**
 * Resolves `host` to one address, as net.connect would: IP literals as they
 * are, names through `lookup` (dns.lookup by default) with `family`.
 * callback(err, address, family).
 */
function resolve(host, { lookup = dns.lookup, family } = {}, callback) {
  const literal = net.isIP(host);
  if (literal) return process.nextTick(callback, null, host, literal);
  lookup(host, { family: family || 0, all: false }, (err, address, fam) => {
    if (err) return callback(err);
    // A custom lookup may answer with an array (all: true style): take the first.
    if (Array.isArray(address)) [{ address, family: fam }] = address;
    callback(null, address, fam);
  });
}

/** The Host header Node's http.request writes for `host` and `port`. */
function hostHeader(host, port, defaultPort) {
  let value = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  if (port && Number(port) !== defaultPort) value += `:${port}`;
  return value;
}

/**
 * The request head as Node's http.request writes it for ws: the request line,
 * `headers` ([name, value] pairs) in order, then Host and Authorization when
 * the caller did not set them. Values are written as Node writes them
 * (String(value); arrays as repeated lines, a Cookie array as one); CR/LF in a header is refused.
 * Measured, then written into one Buffer: no string is built per line (each
 * handshake's garbage is what fills V8's young generation in the memory row).
 */
function requestHead(path, headers, { host, auth }) {
  const requestLine = path || '/';
  let length = 'GET '.length + requestLine.length + ' HTTP/1.1\r\n'.length;
  let hasHost = false;
  let hasAuthorization = false;
  for (const [name, value] of headers) {
    if (value === undefined) continue;
    if (!hasHost && isNamed(name, 'host')) hasHost = true;
    if (!hasAuthorization && isNamed(name, 'authorization')) hasAuthorization = true;
    length += headerLines(name, value, null, 0);
  }
  const hostValue = host !== undefined && !hasHost ? host : undefined;
  if (hostValue !== undefined) length += headerLines('Host', hostValue, null, 0);
  const authValue = auth !== undefined && !hasAuthorization ? `Basic ${Buffer.from(auth).toString('base64')}` : undefined;
  if (authValue !== undefined) length += headerLines('Authorization', authValue, null, 0);
  length += 2;

  const head = Buffer.allocUnsafe(length);
  let at = head.latin1Write('GET ', 0);
  at += head.latin1Write(requestLine, at);
  at += head.latin1Write(' HTTP/1.1\r\n', at);
  for (const [name, value] of headers) {
    if (value !== undefined) at = headerLines(name, value, head, at);
  }
  if (hostValue !== undefined) at = headerLines('Host', hostValue, head, at);
  if (authValue !== undefined) at = headerLines('Authorization', authValue, head, at);
  head.latin1Write('\r\n', at);
  return head;
}

/** Whether a header name is `lower` (lowercase), in any case. */
function isNamed(name, lower) {
  return name.length === lower.length && name.toLowerCase() === lower;
}

const LINE_BREAK = /[\r\n]/;

/**
 * A header's lines (`name: value\r\n`, one per value of an array; a Cookie array
 * as one line): with `head` null, their length; else written at `at`, the new offset.
 */
function headerLines(name, value, head, at) {
  if (!Array.isArray(value)) return headerLine(name, String(value), head, at);
  if (isNamed(name, 'cookie')) return headerLine(name, value.join('; '), head, at);
  let length = 0;
  for (const v of value) {
    const next = headerLine(name, String(v), head, at);
    if (head === null) length += next;
    else at = next;
  }
  return head === null ? length : at;
}

function headerLine(name, text, head, at) {
  if (head === null) {
    if (LINE_BREAK.test(name) || LINE_BREAK.test(text)) {
      const err = new TypeError(`Invalid character in header content ["${name}"]`);
      err.code = 'ERR_INVALID_CHAR';
      throw err;
    }
    return name.length + 2 + text.length + 2;
  }
  at += head.latin1Write(name, at);
  at += head.latin1Write(': ', at);
  at += head.latin1Write(text, at);
  return at + head.latin1Write('\r\n', at);
}

/** ws's default offer (`perMessageDeflate: true`), made once rather than per connection. */
const DEFAULT_DEFLATE_OFFER = `${PERMESSAGE_DEFLATE}; client_max_window_bits`;

/** The deflate offer ws sends for a `perMessageDeflate` option (`true` or an object). */
function deflateOffer(perMessageDeflate) {
  if (perMessageDeflate === true) return DEFAULT_DEFLATE_OFFER;
  const opts = typeof perMessageDeflate === 'object' && perMessageDeflate !== null ? perMessageDeflate : {};
  let offer = PERMESSAGE_DEFLATE;
  if (opts.serverNoContextTakeover) offer += '; server_no_context_takeover';
  if (opts.clientNoContextTakeover) offer += '; client_no_context_takeover';
  if (opts.serverMaxWindowBits) offer += windowBits('server_max_window_bits', opts.serverMaxWindowBits);
  if (opts.clientMaxWindowBits) offer += windowBits('client_max_window_bits', opts.clientMaxWindowBits);
  else if (opts.clientMaxWindowBits == null) offer += '; client_max_window_bits';
  return offer;
}

/** A window-bits offer parameter: `true` is offered bare (any size), as ws formats it. */
function windowBits(name, value) {
  return value === true ? `; ${name}` : `; ${name}=${value}`;
}

/**
 * ws's checks of a 101 (`headers` as Node's IncomingMessage has them) for the
 * request made with `key`, `protocols` (a Set) and `perMessageDeflate` (the
 * option; false when no extension was offered). Returns { protocol,
 * extensions } (the agreed Sec-WebSocket-Extensions value for the engine) or
 * { error } with ws's message.
 */
function checkSwitchingProtocols(headers, key, protocols, perMessageDeflate) {
  const upgrade = headers.upgrade;
  if (upgrade === undefined || upgrade.toLowerCase() !== 'websocket') return { error: 'Invalid Upgrade header' };
  if (headers['sec-websocket-accept'] !== acceptFor(key)) return { error: 'Invalid Sec-WebSocket-Accept header' };
  const protocol = headers['sec-websocket-protocol'];
  if (protocol !== undefined) {
    if (!protocols.size) return { error: 'Server sent a subprotocol but none was requested' };
    if (!protocols.has(protocol)) return { error: 'Server sent an invalid subprotocol' };
  } else if (protocols.size) {
    return { error: 'Server sent no subprotocol' };
  }
  const value = headers['sec-websocket-extensions'];
  if (value === undefined) return { protocol: protocol || '', extensions: '' };
  if (!perMessageDeflate) return { error: 'Server sent a Sec-WebSocket-Extensions header but no extension was requested' };
  let parsed;
  try {
    parsed = parseExtensions(value);
  } catch {
    return { error: 'Invalid Sec-WebSocket-Extensions header' };
  }
  if (parsed.size !== 1 || !parsed.has(PERMESSAGE_DEFLATE)) {
    return { error: 'Server indicated an extension that was not requested' };
  }
  const opts = typeof perMessageDeflate === 'object' ? perMessageDeflate : {};
  try {
    const params = checkOffer(parsed.get(PERMESSAGE_DEFLATE)[0]); // the answer's parameters, checked as an offer's
    // An answer, unlike an offer, must give client_max_window_bits a value (ws: TypeError).
    if (params.get('client_max_window_bits') === true) throw new TypeError('Invalid value for parameter "client_max_window_bits": true');
    if (opts.clientNoContextTakeover === false && params.has('client_no_context_takeover')) {
      throw new Error('Unexpected parameter "client_no_context_takeover"');
    }
    if (!params.has('client_max_window_bits')) {
      if (typeof opts.clientMaxWindowBits === 'number') params.set('client_max_window_bits', opts.clientMaxWindowBits);
    } else if (
      opts.clientMaxWindowBits === false ||
      (typeof opts.clientMaxWindowBits === 'number' && params.get('client_max_window_bits') > opts.clientMaxWindowBits)
    ) {
      throw new Error('Unexpected or invalid parameter "client_max_window_bits"');
    }
    let agreed = PERMESSAGE_DEFLATE;
    for (const [name, v] of params) agreed += v === true ? `; ${name}` : `; ${name}=${v}`;
    return { protocol: protocol || '', extensions: agreed };
  } catch {
    return { error: 'Invalid Sec-WebSocket-Extensions header' };
  }
}

/** The response headers ws's checks of a 101 read (checkSwitchingProtocols, and whether it is an upgrade). */
const SWITCHING_HEADERS = new Set(['upgrade', 'connection', 'sec-websocket-accept', 'sec-websocket-protocol', 'sec-websocket-extensions']);
const CONNECTION_UPGRADE = /(^|,)\s*upgrade\s*(,|$)/i;

/**
 * A 101 that Node would call an upgrade, as `{ upgrade: true, headers }` with the
 * headers ws's checks read (lowercase names, a repeated one joined with ', ' as
 * Node joins these): what checkSwitchingProtocols needs, without the
 * IncomingMessage (a stream) incomingResponse() makes. Null for any other answer.
 */
function switchingResponse(response) {
  if (response.statusCode !== 101) return null;
  const headers = {};
  const raw = response.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (!SWITCHING_HEADERS.has(name)) continue;
    headers[name] = headers[name] === undefined ? raw[i + 1] : `${headers[name]}, ${raw[i + 1]}`;
  }
  if (headers.upgrade === undefined || !CONNECTION_UPGRADE.test(headers.connection || '')) return null;
  return { upgrade: true, headers };
}

/** A chunked body's data (the engine read it whole: crates/proto client_handshake.rs chunked_len). */
function dechunk(bytes) {
  const parts = [];
  let at = 0;
  for (;;) {
    const eol = bytes.indexOf('\r\n', at, 'latin1');
    if (eol < 0) break;
    const size = parseInt(bytes.latin1Slice(at, eol), 16);
    if (!(size > 0)) break;
    parts.push(bytes.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/** A real http.IncomingMessage for a response the engine read (`response` from the core's 'response' event). */
function incomingResponse(response, socket = null) {
  const res = new IncomingMessage(socket);
  res.statusCode = response.statusCode;
  res.statusMessage = response.statusMessage;
  res.httpVersion = '1.1';
  res.httpVersionMajor = 1;
  res.httpVersionMinor = 1;
  const raw = response.rawHeaders;
  res._addHeaderLines(raw, raw.length);
  // Node's parser calls a response an upgrade only when it is a 101 with an
  // Upgrade header and "upgrade" among the Connection tokens; any other 101 is
  // a response like the others (ws: "Unexpected server response: 101").
  res.upgrade = response.statusCode === 101 && res.headers.upgrade !== undefined
    && CONNECTION_UPGRADE.test(res.headers.connection || '');
  const chunked = /(^|,)\s*chunked\s*$/i.test(res.headers['transfer-encoding'] || '');
  const body = chunked ? dechunk(response.body) : response.body;
  if (body && body.length) res.push(body);
  res.push(null);
  res.complete = true;
  return res;
}

/** Node's error for a certificate check rustls refused (TlsFailure detail): [code, message]. */
const TLS_ERRORS = {
  [TlsFailure.UNKNOWN_ISSUER]: ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'],
  [TlsFailure.WRONG_NAME]: ['ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"],
  [TlsFailure.EXPIRED]: ['CERT_HAS_EXPIRED', 'certificate has expired'],
  [TlsFailure.NOT_YET_VALID]: ['CERT_NOT_YET_VALID', 'certificate is not yet valid'],
  [TlsFailure.BAD_CERTIFICATE]: ['ERR_TLS_CERT_INVALID', 'invalid certificate'],
  [TlsFailure.ALERT_RECEIVED]: ['ERR_SSL_TLSV1_ALERT', 'the server refused the TLS handshake (alert received)'],
  [TlsFailure.OTHER]: ['ERR_SSL_HANDSHAKE_FAILURE', 'TLS handshake failed'],
};

/**
 * What Node's own HTTP parser makes of a response the engine could not read
 * (`bytes`, as the engine read them): its parse error, as Node's http client
 * reports it ("Parse Error: ..." with llhttp's code), or for a head Node does
 * read (an HTTP/0.9 status line, say) the status ws then reports as unexpected.
 */
function nodeVerdict(bytes) {
  try {
    const { HTTPParser } = require('_http_common');
    const parser = new HTTPParser();
    let status = 0;
    parser[HTTPParser.kOnHeadersComplete | 0] = (major, minor, headers, method, url, statusCode) => {
      status = statusCode;
    };
    parser.initialize(HTTPParser.RESPONSE, {});
    const result = parser.execute(bytes);
    if (result instanceof Error) {
      return Object.assign(new Error(`Parse Error: ${result.reason}`), { code: result.code, bytesParsed: result.bytesParsed, rawPacket: bytes });
    }
    if (status) return new Error(`Unexpected server response: ${status}`);
  } catch {
    // a Node without this module: the plain wording below
  }
  return Object.assign(new Error('Parse Error: Expected HTTP/'), { code: 'HPE_INVALID_CONSTANT' });
}

/**
 * The Error Node's http client would give for a connection that failed before
 * it opened (the core's 'close' errorCode and errorDetail, see wire.js
 * CLIENT_ERROR_CODES); undefined for other closes. `address`/`port`: what was dialed;
 * `reason`: the close's reason (for a malformed response, its bytes in latin1).
 */
function connectionError(errorCode, detail, address, port, reason = '') {
  switch (errorCode) {
    case 'LWS_ERR_CONNECT': {
      const code = util.getSystemErrorName(-detail);
      const err = new Error(`connect ${code} ${address}:${port}`);
      Object.assign(err, { errno: -detail, code, syscall: 'connect', address, port });
      return err;
    }
    case 'LWS_ERR_HANDSHAKE_TIMEOUT':
      return new Error('Opening handshake has timed out');
    case 'LWS_ERR_TLS': {
      const [code, message] = TLS_ERRORS[detail] ?? TLS_ERRORS[TlsFailure.OTHER];
      return Object.assign(new Error(message), { code });
    }
    case 'LWS_ERR_BAD_RESPONSE':
      if (detail === 1) return Object.assign(new Error('Parse Error: Header overflow'), { code: 'HPE_HEADER_OVERFLOW' });
      return nodeVerdict(Buffer.from(reason, 'latin1'));
    case 'LWS_ERR_HANG_UP': {
      if (!detail) return Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      const code = util.getSystemErrorName(-detail);
      return Object.assign(new Error(`read ${code}`), { errno: -detail, code, syscall: 'read' });
    }
    default:
      return undefined;
  }
}

module.exports = {
  webSocketUrl,
  connectionError,
  newKey, acceptFor, parseTarget, resolve, hostHeader, requestHead, deflateOffer, checkSwitchingProtocols, incomingResponse,
  switchingResponse,
};
