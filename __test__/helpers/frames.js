'use strict';
// Client frames built by hand, for tests that write bytes no WebSocket library would, and the
// server's side of a handshake done by hand (raw servers that write what they like after the 101).

const crypto = require('node:crypto');

/**
 * A client frame: masked with `key` (4 bytes; random by default) unless `mask: false`.
 * `rsv1` sets RSV1 (a compressed message's first frame).
 */
function frame(opcode, payload = Buffer.alloc(0), { fin = true, rsv1 = false, mask = true, key = crypto.randomBytes(4) } = {}) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload === undefined ? '' : payload);
  let head;
  if (data.length < 126) {
    head = Buffer.from([0, data.length]);
  } else if (data.length < 65536) {
    head = Buffer.from([0, 126, 0, 0]);
    head.writeUInt16BE(data.length, 2);
  } else {
    head = Buffer.alloc(10);
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(data.length), 2);
  }
  head[0] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  if (!mask) return Buffer.concat([head, data]);
  head[1] |= 0x80;
  const masked = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) masked[i] = data[i] ^ key[i & 3];
  return Buffer.concat([head, key, masked]);
}

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** The Sec-WebSocket-Accept value for a Sec-WebSocket-Key. */
const acceptOf = (key) => crypto.createHash('sha1').update(key + GUID).digest('base64');

/** The 101 a raw server answers with, for `key`, with `headers` (CRLF-terminated lines) added. */
const switchingProtocols = (key, headers = '') =>
  `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptOf(key)}\r\n${headers}\r\n`;

/**
 * Reads an upgrade request's head from a raw server's `socket`, then calls `onRequest(key)`
 * with its Sec-WebSocket-Key; the socket keeps flowing (what follows is read and dropped).
 */
function onUpgradeRequest(socket, onRequest) {
  let head = '';
  socket.on('error', () => {});
  socket.on('data', function onData(chunk) {
    head += chunk.toString('latin1');
    if (!head.includes('\r\n\r\n')) return;
    socket.removeListener('data', onData);
    socket.resume();
    onRequest(/sec-websocket-key: *(\S+)/i.exec(head)[1]);
  });
}

module.exports = { frame, acceptOf, switchingProtocols, onUpgradeRequest };
