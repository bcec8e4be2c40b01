'use strict';
// The record formats shared with crates/engine/src/wire.rs: a 16-byte little-endian header
// (kind u8, flags u8, code u16, id u32, len u32, extra u32) and `len` bytes.
// MESSAGE_AT is the exception: its `len` bytes are at offset `extra` of the
// batch, inside a RAW record (bytes as the engine read them) before it.

const RECORD_HEADER = 16;

const Event = Object.freeze({
  OPEN: 1, MESSAGE: 2, FRAGMENT: 3, CLOSE: 4, UPGRADE: 5, HTTP: 6,
  PING: 7, PONG: 8, DRAIN: 9, ABORTED: 10, SHUTDOWN: 11, FAIL: 12, BUFFERED: 13, DROPPED: 14,
  MESSAGE_AT: 16, RAW: 17, PEER_CLOSE: 18, HAND_OFF: 19, RESPONSE: 20, REDIS: 21,
  FRAME_HEAD: 22, FRAME_DATA: 23, // frames, not messages (the frameEvents option: lws/walve)
});

const Command = Object.freeze({
  SEND: 1, SEND_PREPARED: 2, CLOSE: 3, TERMINATE: 4, ACCEPT: 5, REFUSE: 6,
  HTTP_RESPONSE: 7, PING: 8, PONG: 9, PAUSE: 10, RESUME: 11, HAND_OFF: 12, CONNECT: 13,
  SUBSCRIBE: 14, UNSUBSCRIBE: 15, PUBLISH: 16, REDIS_SUBSCRIBE: 17, REDIS_UNSUBSCRIBE: 18,
  FRAME_HEAD: 19, FRAME_DATA: 20, // one frame sent in pieces (frames.js)
  RAW: 21, // bytes as they are, no frame (core-server.js writeRaw)
  TCP_OPTION: 22, // code: a TcpOption, flags: FLAG_ON, extra: keepalive's idle seconds
  REPORT_WRITTEN: 23, // a DRAIN once what was sent is written (core-server.js reportWhenWritten)
});

/** TCP_OPTION codes (socket.js setNoDelay, setKeepAlive). */
const TcpOption = Object.freeze({ NO_DELAY: 1, KEEP_ALIVE: 2 });

/** Client connections' ids have this bit: JS picks them; the engine's never have it. */
const CLIENT_ID_BIT = 2 ** 29;

/** Why a client connection ended before it opened (its CLOSE event's error id; extra = detail). */
const ClientFailure = Object.freeze({ CONNECT: 16, TIMEOUT: 17, TLS: 18, BAD_RESPONSE: 19, HANG_UP: 20 });

/** How a client connection failed before it opened, by ClientFailure id (the CLOSE event's errorCode). */
const CLIENT_ERROR_CODES = {
  16: 'LWS_ERR_CONNECT', // errorDetail: the errno
  17: 'LWS_ERR_HANDSHAKE_TIMEOUT',
  18: 'LWS_ERR_TLS', // errorDetail: a TlsFailure
  19: 'LWS_ERR_BAD_RESPONSE', // errorDetail: 0 malformed, 1 over the size limits
  20: 'LWS_ERR_HANG_UP', // the server closed before its response was complete
};

/** A ClientFailure.TLS detail. */
const TlsFailure = Object.freeze({
  OTHER: 0, UNKNOWN_ISSUER: 1, WRONG_NAME: 2, EXPIRED: 3, NOT_YET_VALID: 4, BAD_CERTIFICATE: 5, ALERT_RECEIVED: 6,
});

/** Protocol error ids (crates/proto/src/protocol/error.rs `wire_id`) to ws's error codes. */
const ERROR_CODES = [
  undefined,
  'WS_ERR_UNEXPECTED_RSV_1',
  'WS_ERR_INVALID_OPCODE',
  'WS_ERR_EXPECTED_MASK',
  'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH',
  'WS_ERR_EXPECTED_FIN',
  'WS_ERR_INVALID_OPCODE',
  'WS_ERR_INVALID_OPCODE',
  'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH',
  'WS_ERR_INVALID_UTF8',
  'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
  'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH',
  'WS_ERR_INVALID_CLOSE_CODE',
  'LWS_ERR_TOO_MANY_FRAGMENTS',
  'Z_DATA_ERROR',
  'LWS_ERR_INTERNAL', // the engine panicked while serving the socket (closed with 1011)
];

/**
 * ws's code for a protocol error the engine reported as `id` with `detail`
 * (ProtocolError::detail): reserved bits are RSV1 (4) or RSV2/RSV3 (2, 1) for ws; id 3 is
 * an unmasked frame read by a server (detail 0) or a masked one read by a client (1).
 */
function errorCodeOf(id, detail) {
  if (id === 1 && (detail & 3) !== 0) return 'WS_ERR_UNEXPECTED_RSV_2_3';
  if (id === 3 && detail === 1) return 'WS_ERR_UNEXPECTED_MASK'; // a masked frame read by a client
  return ERROR_CODES[id] ?? CLIENT_ERROR_CODES[id];
}

const FLAG_BINARY = 1;
const FLAG_MORE = 2;
/** The payload was handed to the engine separately (`stash`); extra = its index. */
const FLAG_STASHED = 4;
/** Send uncompressed even with permessage-deflate. */
const FLAG_NO_COMPRESS = 8;
/** TERMINATE: drop what is queued, instead of writing what the socket takes at once. */
const FLAG_DROP_QUEUED = 16;
// On a PEER_CLOSE event: the engine answered the close itself (JS sends no CLOSE).
const FLAG_ANSWERED = 32;
/** TERMINATE: end the TCP connection once everything queued is written (no close frame). */
const FLAG_WHEN_WRITTEN = 32;
/** FRAME_DATA event: the frame ends with this piece. */
const FLAG_FRAME_END = 1;
/** TCP_OPTION: turn the option on. */
const FLAG_ON = 1;
/** Payloads at least this large skip the command buffer: one native copy instead of two. */
const STASH_MIN = 64 * 1024;
/**
 * The event batch (an ArrayBuffer) JS is being lent right now, set by the server
 * while it dispatches one. Payloads from it at least LENT_MIN long are forwarded
 * by reference: the engine keeps the batch alive instead of taking a copy.
 */
const lent = { buffer: null };
const LENT_MIN = 1024;
/**
 * The text message the batch decoder delivered last as a string (a core with
 * `textAsStrings`), and where its bytes are: `bytes` (a Buffer over the whole
 * batch `source`) at `at`, `len` long. The same text sent while that batch is
 * lent (an echo, a relay to other sockets) goes as those bytes instead of being
 * encoded again: the engine checked them as UTF-8, so they are what encoding
 * the string would give.
 */
const lastText = { string: '', source: null, bytes: null, at: 0, len: 0 };
/** At the end of a dispatch: the batch is no longer lent, and its last text need not stay alive. */
function forgetLastText() {
  lastText.string = '';
  lastText.source = null;
  lastText.bytes = null;
}
/** Up to this many bytes are copied by a loop: a native copy costs more to call. */
const LOOP_COPY_MAX = 64;

/** Decodes `port u16, family u8, address` at `pos`; returns [info, nextPos]. */
function decodePeer(buf, pos) {
  const port = buf.readUInt16LE(pos);
  const family = buf[pos + 2];
  pos += 3;
  if (family === 4) {
    return [{ remoteAddress: `${buf[pos]}.${buf[pos + 1]}.${buf[pos + 2]}.${buf[pos + 3]}`, remotePort: port, remoteFamily: 'IPv4' }, pos + 4];
  }
  if (family === 6) {
    const parts = [];
    for (let i = 0; i < 16; i += 2) parts.push(buf.readUInt16BE(pos + i).toString(16));
    let addr = parts.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
    const v4 = /^::ffff:([0-9a-f]+):([0-9a-f]+)$/.exec(addr);
    if (v4) {
      const hi = parseInt(v4[1], 16);
      const lo = parseInt(v4[2], 16);
      addr = `::ffff:${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
    }
    return [{ remoteAddress: addr, remotePort: port, remoteFamily: 'IPv6' }, pos + 16];
  }
  return [{ remoteAddress: undefined, remotePort: undefined, remoteFamily: undefined }, pos];
}

const NO_BODY = Buffer.alloc(0);

/** Decodes a request record payload (UPGRADE, HTTP): peer, method, url, headers, body. */
function decodeRequest(buf, start, end) {
  let [peer, pos] = decodePeer(buf, start);
  const mlen = buf.readUInt16LE(pos);
  const method = buf.latin1Slice(pos + 2, pos + 2 + mlen);
  pos += 2 + mlen;
  const ulen = buf.readUInt16LE(pos);
  const url = buf.latin1Slice(pos + 2, pos + 2 + ulen);
  pos += 2 + ulen;
  const hlen = buf.readUInt32LE(pos);
  pos += 4;
  const headers = {};
  const rawHeaders = [];
  const parts = hlen > 0 ? buf.latin1Slice(pos, pos + hlen - 1).split('\0') : [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const value = parts[i + 1];
    rawHeaders.push(parts[i], value); // names as the client sent them
    const name = parts[i].toLowerCase();
    // Repeated headers are joined like Node's http does for most of them.
    if (headers[name] === undefined) headers[name] = value;
    else headers[name] += (name === 'cookie' ? '; ' : ', ') + value;
  }
  pos += hlen;
  // An owned copy: the batch is detached later. Most requests have no body: one shared empty Buffer.
  const body = pos < end ? Buffer.from(buf.subarray(pos, end)) : NO_BODY;
  return { method, url, headers, rawHeaders, body, ...peer };
}

/**
 * Decodes a RESPONSE record payload (crates/engine/src/wire.rs encode_response):
 * `u16` length + reason, `u32` length + "name\0value\0...", then the body.
 */
function decodeResponse(buf, start, end) {
  const rlen = buf.readUInt16LE(start);
  const statusMessage = buf.latin1Slice(start + 2, start + 2 + rlen);
  let pos = start + 2 + rlen;
  const hlen = buf.readUInt32LE(pos);
  pos += 4;
  const rawHeaders = hlen > 0 ? buf.latin1Slice(pos, pos + hlen - 1).split('\0') : [];
  pos += hlen;
  const clen = buf.readUInt32LE(pos);
  pos += 4;
  const peerCertificates = clen > 0 ? certificatesOf(buf, pos, pos + clen) : NO_CERTIFICATES;
  pos += clen;
  // An owned copy (the batch is detached later); a 101 has no body: the shared empty Buffer.
  const body = pos < end ? Buffer.from(buf.subarray(pos, end)) : NO_BODY;
  return { statusMessage, rawHeaders, peerCertificates, body };
}

/** The certificates of a plain connection's response: none. */
const NO_CERTIFICATES = Object.freeze([]);

/** The server's TLS certificates in a RESPONSE payload (each `u32` length + DER), as owned copies. */
function certificatesOf(buf, pos, end) {
  const certificates = [];
  while (pos + 4 <= end) {
    const len = buf.readUInt32LE(pos);
    pos += 4;
    certificates.push(Buffer.from(buf.subarray(pos, pos + len)));
    pos += len;
  }
  return certificates;
}

/**
 * A CONNECT command's payload (crates/engine/src/connector.rs decode_connect):
 * `address` and `localAddress` are IP addresses (resolved in JS), `tlsIndex`
 * the engine's TLS client configuration, `head` the request head.
 */
function encodeConnect({ address, port, localAddress = '', tlsIndex = 0, servername = '', head }) {
  // latin1: one byte a character, written straight into the payload (no Buffer of its own).
  const name = typeof servername === 'string' ? servername : Buffer.from(servername).toString('latin1');
  const out = Buffer.allocUnsafe(1 + address.length + 2 + 1 + localAddress.length + 4 + 2 + name.length + head.length);
  let pos = 0;
  out[pos++] = address.length;
  pos += out.latin1Write(address, pos);
  pos = out.writeUInt16LE(port, pos);
  out[pos++] = localAddress.length;
  pos += out.latin1Write(localAddress, pos);
  pos = out.writeUInt32LE(tlsIndex, pos);
  pos = out.writeUInt16LE(name.length, pos);
  pos += out.latin1Write(name, pos);
  head.copy(out, pos);
  return out;
}

/**
 * Collects commands for the engine; `flush` ships them in one native call.
 * Strings are encoded straight into the command buffer.
 */
class CommandWriter {
  /**
   * @param submit(commands, prepared) ships a batch
   * @param stash(bytes) copies a large payload into the engine, returns its index in the batch
   * @param stashLent(offset, length) the same for bytes of the lent event batch (referenced,
   *   not copied); -1 when they are not in it
   */
  constructor(submit, stash, stashLent = () => -1) {
    this.submit = submit;
    this.stash = stash;
    this.stashLent = stashLent;
    this.buf = Buffer.allocUnsafeSlow(64 * 1024);
    this.len = 0;
    this.prepared = [];
    this.preparedIndex = new Map();
    /** Counts flushes: bytes a socket sent in the current epoch are still in JS. */
    this.epoch = 0;
  }

  get empty() {
    return this.len === 0;
  }

  ensure(bytes) {
    if (this.len + bytes <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + bytes) size *= 2;
    const next = Buffer.allocUnsafeSlow(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  header(kind, flags, code, id, len, extra) {
    // Plain byte stores (a Uint8Array keeps the low 8 bits): cheaper on the hot
    // path than writeUInt32LE's argument checks, and the values are ours.
    const b = this.buf;
    const p = this.len;
    b[p] = kind;
    b[p + 1] = flags;
    b[p + 2] = code;
    b[p + 3] = code >>> 8;
    b[p + 4] = id;
    b[p + 5] = id >>> 8;
    b[p + 6] = id >>> 16;
    b[p + 7] = id >>> 24;
    b[p + 8] = len;
    b[p + 9] = len >>> 8;
    b[p + 10] = len >>> 16;
    b[p + 11] = len >>> 24;
    b[p + 12] = extra;
    b[p + 13] = extra >>> 8;
    b[p + 14] = extra >>> 16;
    b[p + 15] = extra >>> 24;
    this.len = p + RECORD_HEADER;
  }

  /** A record whose payload is a Buffer/Uint8Array (or nothing). */
  bytes(kind, flags, code, id, data, extra = 0) {
    const len = data ? data.length : 0;
    if (this.stash && (len >= STASH_MIN || (len >= LENT_MIN && data.buffer === lent.buffer))) {
      // Bytes of the lent batch go by offset (cheaper to pass than a Buffer).
      let index = data.buffer === lent.buffer ? this.stashLent(data.byteOffset, len) : -1;
      if (index < 0) index = this.stash(data);
      this.ensure(RECORD_HEADER);
      this.header(kind, flags | FLAG_STASHED, code, id, 0, index);
      return len;
    }
    this.ensure(RECORD_HEADER + len);
    this.header(kind, flags, code, id, len, extra);
    if (len) {
      this.buf.set(data, this.len);
      this.len += len;
    }
    return len;
  }

  /**
   * A PUBLISH record (`u32` socket id to skip, `u16` topic length, the topic, the message),
   * written in place: `key` is the topic's latin1 form, `message` a string (UTF-8) or bytes
   * under STASH_MIN (larger ones go as one stashed payload: `bytes`), `messageLen` its size
   * in bytes (the caller has counted it).
   */
  publish(flags, skip, key, message, messageLen) {
    const len = 6 + key.length + messageLen;
    this.ensure(RECORD_HEADER + len);
    this.header(Command.PUBLISH, flags, 0, 0, len, 0);
    const b = this.buf;
    let p = this.len;
    b[p] = skip;
    b[p + 1] = skip >>> 8;
    b[p + 2] = skip >>> 16;
    b[p + 3] = skip >>> 24;
    b[p + 4] = key.length;
    b[p + 5] = key.length >>> 8;
    p += 6;
    p += b.latin1Write(key, p);
    if (typeof message === 'string') p += b.utf8Write(message, p);
    else {
      b.set(message, p);
      p += messageLen;
    }
    this.len = p;
  }

  /** A record whose payload is a string, encoded as UTF-8 in place. */
  string(kind, flags, code, id, str) {
    if (str === lastText.string && lastText.source === lent.buffer && lent.buffer !== null) {
      return this.lentRange(kind, flags, code, id, lastText.bytes, lastText.at, lastText.len);
    }
    this.ensure(RECORD_HEADER + str.length * 3);
    const at = this.len;
    const written = str.length ? this.buf.utf8Write(str, at + RECORD_HEADER) : 0;
    this.header(kind, flags, code, id, written, 0);
    this.len += written;
    return written;
  }

  /** A record whose payload is bytes `at..at + len` of the lent batch (`bytes` views all of it). */
  lentRange(kind, flags, code, id, bytes, at, len) {
    if (len >= LENT_MIN && this.stash) {
      const index = this.stashLent(at, len);
      if (index >= 0) {
        this.ensure(RECORD_HEADER);
        this.header(kind, flags | FLAG_STASHED, code, id, 0, index);
        return len;
      }
    }
    this.ensure(RECORD_HEADER + len);
    this.header(kind, flags, code, id, len, 0);
    const out = this.buf;
    const pos = this.len;
    if (len <= LOOP_COPY_MAX) {
      for (let i = 0; i < len; i++) out[pos + i] = bytes[at + i];
    } else {
      bytes.copy(out, pos, at, at + len);
    }
    this.len = pos + len;
    return len;
  }

  preparedRecord(kind, flags, id, handle) {
    let index = this.preparedIndex.get(handle);
    if (index === undefined) {
      index = this.prepared.length;
      this.prepared.push(handle);
      this.preparedIndex.set(handle, index);
    }
    this.ensure(RECORD_HEADER);
    this.header(kind, flags, 0, id, 0, index);
  }

  flush() {
    if (this.len === 0) return;
    this.epoch++;
    const prepared = this.prepared.length ? this.prepared : undefined;
    const commands = this.buf.subarray(0, this.len);
    this.len = 0;
    if (prepared) {
      this.prepared = [];
      this.preparedIndex.clear();
    }
    this.submit(commands, prepared);
    // A huge batch grew the buffer: do not keep that much memory for the small ones.
    if (this.buf.length > 16 * 1024 * 1024) this.buf = Buffer.allocUnsafeSlow(64 * 1024);
  }
}

module.exports = {
  lent, lastText, forgetLastText, RECORD_HEADER, Event, Command, CLIENT_ID_BIT, ClientFailure, TlsFailure, FLAG_BINARY, FLAG_MORE, FLAG_STASHED, FLAG_NO_COMPRESS,
  FLAG_DROP_QUEUED, FLAG_ANSWERED, FLAG_WHEN_WRITTEN, FLAG_FRAME_END, FLAG_ON, TcpOption, STASH_MIN, ERROR_CODES, CLIENT_ERROR_CODES, errorCodeOf, decodeRequest, decodeResponse, encodeConnect, decodePeer, CommandWriter,
};
