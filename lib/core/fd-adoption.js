'use strict';
// Connections crossing between Node and the engine by file descriptor:
// - adoption: a plain TCP socket from Node's http 'upgrade' event is given to
//   the engine (it duplicates the descriptor and re-reads the request);
// - hand-off: a connection the engine does not upgrade becomes a net.Socket
//   on its descriptor, for the `httpServer` option's server.

const fs = require('fs');
const net = require('net');

/** The descriptor of a plain TCP net.Socket, or -1 (TLS sockets and other streams have none to give). */
function descriptorOf(socket) {
  const handle = socket && socket._handle; // net.Socket's libuv handle
  const fd = handle && handle.fd;
  return typeof fd !== 'number' || fd < 0 || socket.encrypted ? -1 : fd;
}

/** A request head as the client sent it (request line, headers, blank line). */
function requestHead(method, url, rawHeaders) {
  let head = `${method} ${url} HTTP/1.1\r\n`;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) head += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\r\n`;
  return `${head}\r\n`;
}

/**
 * Gives Node's socket (descriptor `fd`) to the engine, which reads `request`
 * (method, url, rawHeaders) and `head` (bytes read past it) as if they had
 * arrived on the socket. Node's socket is destroyed: only its copy of the
 * descriptor closes. Returns what the engine answered (false: not adopted).
 */
function adoptSocket(native, socket, fd, request, head) {
  const text = Buffer.from(requestHead(request.method, request.url, request.rawHeaders), 'latin1');
  const bytes = head && head.length ? Buffer.concat([text, head]) : text;
  if (socket._handle.readStop) socket._handle.readStop();
  const adopted = native.adopt(fd, bytes);
  socket.destroy();
  return adopted;
}

/**
 * A net.Socket on a descriptor the engine handed off, with `head` (what the
 * engine read) put back to be read first. Throws (after closing the
 * descriptor) when Node cannot open it.
 */
function socketOnDescriptor(fd, head) {
  let socket;
  try {
    socket = new net.Socket({ fd, readable: true, writable: true });
  } catch (err) {
    fs.close(fd, () => {});
    throw err;
  }
  if (head.length > 0) socket.unshift(head);
  return socket;
}

module.exports = { descriptorOf, requestHead, adoptSocket, socketOnDescriptor };
