'use strict';
// Protocol errors as ws reports them: the engine sends an error id and the number
// it is about (lib/wire.js turns the id into ws's code, 'WS_ERR_INVALID_UTF8', ...);
// this builds the Error ws would have emitted (same class, message, `code`, close status).

const kStatusCode = Symbol('lws.ws.statusCode');

/** [Error class, message (from the engine's detail number), close status ws sends] per code. */
const PROTOCOL_ERRORS = {
  WS_ERR_UNEXPECTED_RSV_1: [RangeError, () => 'Invalid WebSocket frame: RSV1 must be clear', 1002],
  WS_ERR_UNEXPECTED_RSV_2_3: [RangeError, () => 'Invalid WebSocket frame: RSV2 and RSV3 must be clear', 1002],
  // detail: the opcode (0 for a continuation frame with no message to continue).
  WS_ERR_INVALID_OPCODE: [RangeError, (detail) => `Invalid WebSocket frame: invalid opcode ${detail}`, 1002],
  WS_ERR_EXPECTED_MASK: [RangeError, () => 'Invalid WebSocket frame: MASK must be set', 1002],
  WS_ERR_UNEXPECTED_MASK: [RangeError, () => 'Invalid WebSocket frame: MASK must be clear', 1002],
  // detail: the control frame's 7-bit length, or 1 for a close payload of one byte.
  WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH: [RangeError, (detail) => `Invalid WebSocket frame: invalid payload length ${detail}`, 1002],
  WS_ERR_EXPECTED_FIN: [RangeError, () => 'Invalid WebSocket frame: FIN must be set', 1002],
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: [RangeError, () => 'Unsupported WebSocket frame: payload length > 2^53 - 1', 1009],
  WS_ERR_INVALID_UTF8: [Error, () => 'Invalid WebSocket frame: invalid UTF-8 sequence', 1007],
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: [RangeError, () => 'Max payload size exceeded', 1009],
  // detail: the close code.
  WS_ERR_INVALID_CLOSE_CODE: [RangeError, (detail) => `Invalid WebSocket frame: invalid status code ${detail}`, 1002],
  WS_ERR_TOO_MANY_BUFFERED_PARTS: [RangeError, () => 'Too many message fragments', 1008],
  // Not ws errors: a message in more frames than the engine takes (ws has no such limit), and
  // compressed data that does not inflate (ws passes on zlib's own error, whose text varies).
  LWS_ERR_TOO_MANY_FRAGMENTS: [RangeError, () => 'Too many message fragments', 1009],
  Z_DATA_ERROR: [Error, () => 'invalid compressed data', 1007],
  // Not a ws error: the engine caught a panic of its own and closed the socket with 1011.
  LWS_ERR_INTERNAL: [Error, () => 'lws engine: internal error while serving this socket', 1011],
};

/** The Error ws emits for a protocol violation the engine reported as `code` with `detail`. */
function protocolError(code, detail = 0) {
  const known = PROTOCOL_ERRORS[code];
  const [ErrorClass, message, status] = known || [Error, () => `Invalid WebSocket frame: ${code}`, 1002];
  const err = new ErrorClass(message(detail));
  err.code = code;
  err[kStatusCode] = status;
  return err;
}

/** Close codes an endpoint may send (ws's rule: RFC 6455 section 7.4 plus the IANA registry). */
function isValidStatusCode(code) {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

module.exports = { protocolError, isValidStatusCode, kStatusCode, PROTOCOL_ERRORS };
