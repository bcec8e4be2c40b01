'use strict';
// What the core's commands take, checked once for all of them: bytes from
// anything binary (a detached lent buffer refused), a socket of this server,
// close codes; and listen errors worded as Node words them.

const util = require('util');
const { kServer } = require('./socket');

/**
 * The bytes of `data` as a Uint8Array (null if it is not binary). A detached buffer
 * is a TypeError: a message lent to a callback and kept past it (after an `await`)
 * would otherwise go out empty. Costs a length test; the detach test runs only for
 * empty data.
 */
function toBytes(data) {
  let bytes;
  // A Buffer is a Uint8Array. (Not Buffer.isBuffer: `Buffer` is a getter on Node's global
  // object, a call on every send that optimized code cannot fold away.)
  if (data instanceof Uint8Array) bytes = data;
  else if (ArrayBuffer.isView(data)) {
    if (isDetached(data.buffer)) throw detachedError();
    bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } else if (data instanceof ArrayBuffer || data instanceof SharedArrayBuffer) {
    if (data.byteLength === 0 && isDetached(data)) throw detachedError();
    bytes = new Uint8Array(data);
  } else return null;
  if (bytes.length === 0 && isDetached(bytes.buffer)) throw detachedError();
  return bytes;
}

const hasDetachedGetter = typeof Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'detached')?.get === 'function';

/** Whether an ArrayBuffer is detached (`detached` from Node 22; before it, a detached one cannot be viewed). */
function isDetached(arrayBuffer) {
  if (arrayBuffer.byteLength !== 0 || !(arrayBuffer instanceof ArrayBuffer)) return false;
  if (hasDetachedGetter) return arrayBuffer.detached;
  try {
    new Uint8Array(arrayBuffer);
    return false;
  } catch {
    return true;
  }
}

function detachedError() {
  const err = new TypeError(
    'The buffer is detached: a message (or fragment, ping payload) is lent to its callback only and is emptied when the callback returns, ' +
    'e.g. across an await. Copy it inside the callback to keep it: Buffer.from(message)',
  );
  err.code = 'ERR_LWS_DETACHED_BUFFER';
  return err;
}


/**
 * Whether a command for `socket` may go to `server`'s engine: false when the socket
 * is closed (or not open yet); a TypeError when it belongs to another server.
 */
function isOwnOpenSocket(server, socket) {
  const owner = socket[kServer];
  if (owner === server) return true;
  if (owner !== null) {
    const err = new TypeError('This socket belongs to another lws server: call its own server\'s methods (e.g. the server whose \'connection\' event gave it)');
    err.code = 'ERR_LWS_FOREIGN_SOCKET';
    throw err;
  }
  return false;
}

/** Codes an endpoint may send (RFC 6455 7.4 and the IANA registry; ws's rule): not 1004-1006 or 1015. */
function validCloseCode(code) {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

function listenError(errno, host, port) {
  const code = util.getSystemErrorName(errno);
  const [, description] = util.getSystemErrorMap().get(errno) || [code, 'error'];
  const err = new Error(`listen ${code}: ${description} ${host}:${port}`);
  err.code = code;
  err.errno = errno;
  err.syscall = 'listen';
  err.address = host;
  err.port = port;
  return err;
}

module.exports = { toBytes, isOwnOpenSocket, validCloseCode, listenError };
