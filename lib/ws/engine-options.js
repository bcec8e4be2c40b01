'use strict';
// The core server's options for a WebSocketServer: ws's options translated
// (maxPayload, closeTimeout, autoPong, perMessageDeflate), plus the lws engine
// options a ws user may pass through.

const { kNegotiatedByJs } = require('../core');
const { ENGINE_CLOSE_MARGIN, ENGINE_MAX_MESSAGE } = require('./constants');

/** lws.Server options a ws user may pass through unchanged (ws has no such options). */
const ENGINE_PASSTHROUGH = [
  'threads', 'maxBacklog', 'bufferSize', 'handshakeTimeout', 'keepAliveTime', 'keepAliveInterval',
  'keepAliveRetry', 'maxHeaderBytes', 'maxHeaders', 'reusePort', 'pubsub',
];

function engineOptions(options) {
  const payload = Number(options.maxPayload);
  // ws: 0 (or anything not positive) means no limit.
  const maxMessageSize = payload >= 1 ? Math.min(Math.floor(payload), ENGINE_MAX_MESSAGE) : ENGINE_MAX_MESSAGE;
  const out = {
    maxMessageSize,
    maxHeaders: 256,
    maxHeaderBytes: 17 * 1024, // Node's 16 KiB request heads, plus the handover ticket
  };
  // Each WebSocket runs ws's close timer (an unanswered close ends as 1006); the
  // engine's, which would report our own code, is only a backstop behind it.
  const closeTimeout = Number(options.closeTimeout);
  if (Number.isInteger(closeTimeout) && closeTimeout > 0) out.closeTimeout = Math.min(closeTimeout + ENGINE_CLOSE_MARGIN, 2 ** 31 - 1);
  if (Number.isInteger(options.backlog) && options.backlog > 0) out.backlog = options.backlog;
  // ws answers pings unless `autoPong` is given and falsy; then the user answers with ws.pong().
  if ('autoPong' in options && !options.autoPong) out.autoPong = false;
  if (options.skipUTF8Validation) out.skipUTF8Validation = true;
  for (const name of ENGINE_PASSTHROUGH) {
    if (options[name] !== undefined) out[name] = options[name];
  }
  if (options.perMessageDeflate) {
    // Negotiated here by ws's rules (./extensions.js); the engine follows the answer and
    // compresses. Of ws's zlib options only zlibDeflateOptions.level applies.
    const d = typeof options.perMessageDeflate === 'object' ? options.perMessageDeflate : {};
    out.perMessageDeflate = { threshold: deflateThreshold(d), [kNegotiatedByJs]: true };
    const level = d.zlibDeflateOptions && d.zlibDeflateOptions.level;
    if (Number.isInteger(level) && level >= 0 && level <= 9) out.perMessageDeflate.level = level;
  }
  return out;
}

/**
 * ws leaves messages under `threshold` uncompressed only on connections without
 * server context takeover (with serverNoContextTakeover, or when the client asked
 * for it): the engine applies it to those alone when JS negotiated.
 */
function deflateThreshold(d) {
  const threshold = d.threshold === undefined ? 1024 : Number(d.threshold);
  if (Number.isNaN(threshold)) return 2 ** 31 - 1; // ws compares and never compresses
  return Math.min(Math.max(Math.ceil(threshold), 0), 2 ** 31 - 1);
}

module.exports = { engineOptions, deflateThreshold };
