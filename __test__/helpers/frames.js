'use strict';
// Client frames built by hand, for tests that write bytes no WebSocket library would.

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

module.exports = { frame };
