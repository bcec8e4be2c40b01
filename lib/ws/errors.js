'use strict';
// Protocol errors as ws reports them: the engine names the error with ws's code
// ('WS_ERR_INVALID_UTF8', ...) and a reason; this rebuilds the Error ws would
// have emitted (same class, message, `code`, and close status).

const kStatusCode = Symbol('lws.ws.statusCode');

/** [Error class, message (may use the engine's reason), close status ws sends] per code. */
const PROTOCOL_ERRORS = {
  WS_ERR_UNEXPECTED_RSV_1: [RangeError, () => 'Invalid WebSocket frame: RSV1 must be clear', 1002],
  WS_ERR_UNEXPECTED_RSV_2_3: [RangeError, () => 'Invalid WebSocket frame: RSV2 and RSV3 must be clear', 1002],
  WS_ERR_INVALID_OPCODE: [RangeError, (reason) => `Invalid WebSocket frame: invalid opcode ${opcodeOf(reason)}`, 1002],
  WS_ERR_EXPECTED_MASK: [RangeError, () => 'Invalid WebSocket frame: MASK must be set', 1002],
  WS_ERR_UNEXPECTED_MASK: [RangeError, () => 'Invalid WebSocket frame: MASK must be clear', 1002],
  WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH: [
    RangeError,
    (reason) => `Invalid WebSocket frame: invalid payload length ${/1 byte/.test(reason) ? 1 : numberIn(reason, 126)}`,
    1002,
  ],
  WS_ERR_EXPECTED_FIN: [RangeError, () => 'Invalid WebSocket frame: FIN must be set', 1002],
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: [RangeError, () => 'Unsupported WebSocket frame: payload length > 2^53 - 1', 1009],
  WS_ERR_INVALID_UTF8: [Error, () => 'Invalid WebSocket frame: invalid UTF-8 sequence', 1007],
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: [RangeError, () => 'Max payload size exceeded', 1009],
  WS_ERR_INVALID_CLOSE_CODE: [RangeError, (reason) => `Invalid WebSocket frame: invalid status code ${numberIn(reason, 0)}`, 1002],
  WS_ERR_TOO_MANY_BUFFERED_PARTS: [RangeError, () => 'Too many message fragments', 1008],
  // Not a ws error: the engine caught a panic of its own and closed the socket with 1011.
  LWS_ERR_INTERNAL: [Error, () => 'lws engine: internal error while serving this socket', 1011],
};

function numberIn(text, fallback) {
  const m = /(\d+)\s*$/.exec(text || '');
  return m ? Number(m[1]) : fallback;
}

/** The engine says "invalid opcode N", or names a continuation problem (ws reports opcode 0 / the new frame's). */
function opcodeOf(reason) {
  if (/invalid opcode \d+/.test(reason || '')) return numberIn(reason, 0);
  if (/continuation frame without a message/.test(reason || '')) return 0;
  return 1; // a new data frame inside a fragmented message: the engine does not say which opcode
}

/** The Error ws emits for a protocol violation reported by the engine. */
function protocolError(code, reason) {
  const known = PROTOCOL_ERRORS[code];
  const [ErrorClass, message, status] = known || [Error, () => `Invalid WebSocket frame: ${reason || code}`, 1002];
  const err = new ErrorClass(message(reason));
  err.code = code;
  err[kStatusCode] = status;
  return err;
}

/** Close codes an endpoint may send (ws's rule: RFC 6455 section 7.4 plus the IANA registry). */
function isValidStatusCode(code) {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

module.exports = { protocolError, isValidStatusCode, kStatusCode, PROTOCOL_ERRORS };
