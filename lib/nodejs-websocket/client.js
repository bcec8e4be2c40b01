'use strict';
// connect(): nodejs-websocket's client over the engine's outgoing connections.
// One client engine (a CoreServer that never listens) serves every connection
// of the process; it keeps the process alive only while it has connections.
// The request is written as the package writes it, and the server's 101 is
// checked as the package checks it, with its error messages.

const url = require('url');
const crypto = require('crypto');
const { CoreServer, clientHandshake } = require('../core');
const { Connection } = require('./connection');
const { routeConnectionEvents, ENGINE_OPTIONS } = require('./engine-events');

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

let clientEngine = null;

function engine() {
  if (clientEngine !== null) return clientEngine;
  clientEngine = new CoreServer(ENGINE_OPTIONS);
  routeConnectionEvents(clientEngine);
  clientEngine.on('response', (socket, response) => checkResponse(socket.wrapper, response));
  clientEngine.on('open', (socket) => socket.wrapper._opened());
  clientEngine.on('close', (socket, code, reason, errorCode, errorDetail) => {
    const conn = socket.wrapper;
    const failure = clientHandshake.connectionError(errorCode, errorDetail, conn._dialed.address, conn._dialed.port, reason);
    if (failure !== undefined && conn.readyState === conn.CONNECTING && !conn._handshakeFailed) conn.emit('error', failure);
    conn._closed(code, failure === undefined ? errorCode : undefined);
  });
  return clientEngine;
}

/** The URL as the package reads it (url.parse): ws: or wss:, port 80/443 by default, path '/'. */
function parseWSURL(address) {
  const parts = url.parse(address);
  const protocol = parts.protocol || 'ws:';
  if (protocol !== 'ws:' && protocol !== 'wss:') throw new Error(`Invalid protocol ${protocol}. It must be ws or wss`);
  const secure = protocol === 'wss:';
  return { path: parts.path || '/', port: Number(parts.port || (secure ? 443 : 80)), secure, host: parts.hostname };
}

/** The request head, header for header as the package writes it. */
function requestHead(conn) {
  const headers = {
    Host: conn.host,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': conn.key,
    'Sec-WebSocket-Version': '13',
  };
  if (conn.protocols && conn.protocols.length) headers['Sec-WebSocket-Protocol'] = conn.protocols.join(', ');
  for (const name in conn.extraHeaders) headers[name] = conn.extraHeaders[name];
  let head = `GET ${conn.path} HTTP/1.1\r\n`;
  for (const name in headers) {
    const line = `${name}: ${headers[name]}`;
    if (/[\r\n]/.test(line)) throw new TypeError(`Invalid character in header "${name}"`);
    head += `${line}\r\n`;
  }
  return Buffer.from(`${head}\r\n`);
}

function connect(address, options, callback) {
  if (typeof options === 'function') [options, callback] = [undefined, options];
  options = options || {};
  const target = parseWSURL(address);
  const core = engine();
  const socket = core.reserveSocket();
  const conn = new Connection(core, socket, null, {
    path: target.path, host: target.host, extraHeaders: options.extraHeaders, protocols: options.protocols,
  });
  if (callback) conn.once('connect', callback);
  conn.key = crypto.randomBytes(16).toString('base64');
  conn._dialed = { address: target.host, port: target.port, started: false };
  const head = requestHead(conn);
  const tls = target.secure
    ? {
      servername: options.servername || target.host,
      ca: options.ca, cert: options.cert, key: options.key, rejectUnauthorized: options.rejectUnauthorized,
    }
    : null;
  clientHandshake.resolve(target.host, { family: options.family }, (err, ip) => {
    if (socket.closed) return;
    if (conn.readyState === conn.CLOSED) return void core.releaseSocket(socket); // close() while resolving
    if (err) {
      core.releaseSocket(socket);
      conn.emit('error', err);
      conn._closed(1006, undefined);
      return;
    }
    conn._dialed.address = ip;
    conn._dialed.started = true;
    core.dial(socket, { address: ip, port: target.port, localAddress: options.localAddress, tls, head });
  });
  return conn;
}

/** The package's checks of the server's answer, in its order and with its messages. */
function checkResponse(conn, { statusCode, rawHeaders }) {
  const fail = (message) => {
    conn._handshakeFailed = true;
    conn.emit('error', new Error(`Invalid handshake: ${message}`));
    conn._core.terminate(conn.socket);
  };
  if (rawHeaders.length === 0) return fail('too short');
  if (statusCode !== 101) return fail('invalid first line format');
  const headers = {};
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const match = `${rawHeaders[i]}: ${rawHeaders[i + 1]}`.match(/^([a-z-]+): (.+)$/i);
    if (match) headers[match[1].toLowerCase()] = match[2];
  }
  conn.headers = headers;
  if (!('upgrade' in headers) || !('sec-websocket-accept' in headers) || !('connection' in headers)) {
    return fail('missing required headers');
  }
  if (headers.upgrade.toLowerCase() !== 'websocket' || !headers.connection.toLowerCase().split(/\s*,\s*/).includes('upgrade')) {
    return fail('invalid Upgrade or Connection header');
  }
  const protocol = headers['sec-websocket-protocol'];
  if (conn.protocols && conn.protocols.length) {
    if (!protocol || !conn.protocols.includes(protocol)) return fail('no protocol was negotiated');
  } else if (protocol) {
    return fail('no protocol negotiation was expected');
  }
  conn.protocol = protocol;
  if (headers['sec-websocket-accept'] !== crypto.createHash('sha1').update(conn.key + GUID).digest('base64')) {
    return fail('hash mismatch');
  }
  conn._core.acceptResponse(conn.socket, '');
}

module.exports = { connect };
