'use strict';
// Sec-WebSocket-Extensions as ws 8's server reads and answers it: the header's
// grammar (RFC 7230 tokens and quoted strings, with ws's strictness about
// whitespace), then permessage-deflate's offers checked and accepted by ws's
// rules. The engine compresses; it follows the response value made here
// (crates/proto/src/deflate.rs `agreed_in_headers`).
//
// negotiate() returns the response value ('' when no extension is agreed) or
// throws: ws then refuses the handshake with 400 and EXTENSIONS_ERROR.

const PERMESSAGE_DEFLATE = 'permessage-deflate';
const EXTENSIONS_ERROR = 'Invalid or unacceptable Sec-WebSocket-Extensions header';

/** tchar (RFC 7230 section 3.2.6), by char code. */
const TOKEN = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TOKEN[c.charCodeAt(0)] = 1;

const SPACE = 0x20;
const TAB = 0x09;
const QUOTE = 0x22;
const COMMA = 0x2c;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const BACKSLASH = 0x5c;

const isToken = (c) => c < 128 && TOKEN[c] === 1;
const isSpace = (c) => c === SPACE || c === TAB;

function add(map, key, value) {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

/**
 * Parses the header: `name *( OWS ";" OWS param ) *( OWS "," OWS extension )`, a
 * param being `token [ "=" ( token / quoted-string ) ]` with nothing around the
 * "=", a quoted string holding tokens only (after unescaping). As in ws, the value
 * may not start or end with whitespace. Returns a Map from extension name to its
 * offers, each a Map from parameter name to its values (true for a bare name).
 * Throws a SyntaxError.
 */
function parse(header) {
  const n = header.length;
  let i = 0;
  const fail = () => {
    throw new SyntaxError(i < n ? `Unexpected character at index ${i}` : 'Unexpected end of input');
  };
  if (n === 0 || isSpace(header.charCodeAt(0))) fail();
  if (isSpace(header.charCodeAt(n - 1))) {
    i = n;
    fail();
  }
  const skipSpace = () => {
    while (i < n && isSpace(header.charCodeAt(i))) i++;
  };
  const token = () => {
    const start = i;
    while (i < n && isToken(header.charCodeAt(i))) i++;
    if (i === start) fail();
    return header.slice(start, i);
  };
  const quoted = () => {
    let value = '';
    for (i++; ; i++) {
      if (i === n) fail();
      let c = header.charCodeAt(i);
      if (c === QUOTE && value !== '') break;
      if (c === BACKSLASH && i + 1 < n) c = header.charCodeAt(++i);
      if (!isToken(c)) fail();
      value += header[i];
    }
    i++;
    return value;
  };

  const offers = new Map();
  for (;;) {
    skipSpace();
    const params = new Map();
    add(offers, token(), params);
    skipSpace();
    while (i < n && header.charCodeAt(i) === SEMICOLON) {
      i++;
      skipSpace();
      const name = token();
      let value = true;
      if (i < n && header.charCodeAt(i) === EQUALS) {
        i++;
        value = i < n && header.charCodeAt(i) === QUOTE ? quoted() : token();
      }
      add(params, name, value);
      skipSpace();
    }
    if (i === n) return offers;
    if (header.charCodeAt(i) !== COMMA) fail();
    i++;
  }
}

/** A window size parameter's value, as ws reads it (a JS number conversion: "0x9" is 9). */
function windowBits(name, value) {
  const bits = Number(value);
  if (value === true || !Number.isInteger(bits) || bits < 8 || bits > 15) {
    throw new TypeError(`Invalid value for parameter "${name}": ${value}`);
  }
  return bits;
}

/** One permessage-deflate offer, checked: a Map of parameter name to value (true or a number of bits). */
function checkOffer(offer) {
  const params = new Map();
  for (const [name, values] of offer) {
    if (values.length > 1) throw new Error(`Parameter "${name}" must have only a single value`);
    const value = values[0];
    switch (name) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        if (value !== true) throw new TypeError(`Invalid value for parameter "${name}": ${value}`);
        params.set(name, true);
        break;
      case 'server_max_window_bits':
        params.set(name, windowBits(name, value));
        break;
      case 'client_max_window_bits':
        params.set(name, value === true ? true : windowBits(name, value));
        break;
      default:
        throw new Error(`Unknown parameter "${name}"`);
    }
  }
  return params;
}

/** Whether ws's server, configured with `opts`, takes this (checked) offer. */
function acceptable(params, opts) {
  if (opts.serverNoContextTakeover === false && params.has('server_no_context_takeover')) return false;
  const serverBits = params.get('server_max_window_bits');
  if (serverBits !== undefined) {
    if (opts.serverMaxWindowBits === false) return false;
    if (typeof opts.serverMaxWindowBits === 'number' && opts.serverMaxWindowBits > serverBits) return false;
  }
  if (typeof opts.clientMaxWindowBits === 'number') {
    const clientBits = params.get('client_max_window_bits');
    if (clientBits === undefined) return false; // the client must allow a limit
    if (clientBits !== true && opts.clientMaxWindowBits > clientBits) return false;
  }
  return true;
}

/**
 * The server's answer to the offers: the first acceptable one, with the
 * server's own settings added (after the offered parameters, in the offer's order).
 */
function answer(params, opts) {
  if (opts.serverNoContextTakeover) params.set('server_no_context_takeover', true);
  if (opts.clientNoContextTakeover) params.set('client_no_context_takeover', true);
  if (typeof opts.serverMaxWindowBits === 'number') params.set('server_max_window_bits', opts.serverMaxWindowBits);
  if (typeof opts.clientMaxWindowBits === 'number') {
    params.set('client_max_window_bits', opts.clientMaxWindowBits);
  } else if (params.get('client_max_window_bits') === true || opts.clientMaxWindowBits === false) {
    // A bare client_max_window_bits only says the client could take a limit: none is set.
    params.delete('client_max_window_bits');
  }
  let value = PERMESSAGE_DEFLATE;
  for (const [name, v] of params) value += v === true ? `; ${name}` : `; ${name}=${v}`;
  return value;
}

/**
 * ws's server-side negotiation of the request's `Sec-WebSocket-Extensions`
 * value (`header`, Node's join of repeated lines) with the `perMessageDeflate`
 * option (an object; ws's zlib options are not looked at). Returns the 101's
 * Sec-WebSocket-Extensions value, '' when nothing is agreed (no
 * permessage-deflate offer). Throws when ws refuses the handshake: an
 * unparseable header, an invalid, unknown or repeated parameter in any
 * permessage-deflate offer, or no acceptable offer.
 */
function negotiate(header, perMessageDeflate) {
  const offers = parse(header).get(PERMESSAGE_DEFLATE);
  if (offers === undefined) return '';
  const opts = perMessageDeflate !== null && typeof perMessageDeflate === 'object' ? perMessageDeflate : {};
  const checked = offers.map(checkOffer);
  const accepted = checked.find((params) => acceptable(params, opts));
  if (accepted === undefined) throw new Error('None of the extension offers can be accepted');
  return answer(accepted, opts);
}

module.exports = { parse, negotiate, checkOffer, PERMESSAGE_DEFLATE, EXTENSIONS_ERROR };
