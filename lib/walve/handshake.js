'use strict';
// The upgrade requests lws/walve takes from Node's http server: the checks the
// engine makes of a handshake, made first on Node's request (so that what is
// handed to the engine is upgraded), the refusal of the others, and the
// headers walve 2 adds to its 101.

/** Sec-WebSocket-Key: base64 of 16 bytes (the engine's rule, and ws's). */
const KEY_PATTERN = /^[+/0-9A-Za-z]{22}==$/;

const hasToken = (value, token) => typeof value === 'string' && value.split(',').some((t) => t.trim().toLowerCase() === token);

/** Why the engine would refuse `request` ({ status, message }), or null. */
function refusalOf(request) {
  const headers = request.headers;
  if (request.method !== 'GET') return { status: 400, message: `the method is ${request.method}, not GET` };
  if (!hasToken(headers.upgrade, 'websocket')) return { status: 400, message: 'the Upgrade header does not name websocket' };
  if (!hasToken(headers.connection, 'upgrade')) return { status: 400, message: 'the Connection header does not name Upgrade' };
  const version = (headers['sec-websocket-version'] || '').trim();
  if (version !== '13' && version !== '8') return { status: 426, message: 'Sec-WebSocket-Version is missing or not 13' };
  const key = (headers['sec-websocket-key'] || '').trim();
  if (!KEY_PATTERN.test(key)) return { status: 400, message: 'Sec-WebSocket-Key is missing or not the base64 of 16 bytes' };
  return null;
}

/** Answers a refused upgrade on Node's socket and closes it. */
function refuse(socket, { status, message }) {
  const reason = status === 426 ? 'Upgrade Required' : 'Bad Request';
  const version = status === 426 ? 'Sec-WebSocket-Version: 13\r\n' : '';
  const body = `${message}\n`;
  socket.on('error', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${reason}\r\n${version}Connection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

/** What walve 2's 101 has beyond the engine's (Upgrade, Connection, Sec-WebSocket-Accept): in its order. */
function acceptHeaders() {
  return { 'Sec-WebSocket-Version': '13', Date: new Date().toUTCString() };
}

module.exports = { refusalOf, refuse, acceptHeaders };
