'use strict';
// The client side of ws's WebSocket: `new WebSocket(url, protocols, options)`.
// (Over 600 lines on purpose: it follows ws's initAsClient step for step, in one
// place, so that the two can be read side by side.)
//
// ws's initAsClient, step for step, over lib/core's client API: the request is
// built here as Node's http.request writes ws's (client-handshake.js), the name
// is resolved here (dns.lookup or `lookup`), and the engine connects, runs TLS,
// writes the head and reads the answer. ws's checks of the 101 run here, then
// the engine takes the connection over in the client role (masking, deflate)
// and the WebSocket is the same object as on the server side (websocket.js).
//
// One client core (an engine thread) serves every WebSocket whose options give
// the engine the same settings (reserveClientSocket below); it keeps the process alive
// only while it has connections, as Node's sockets do.

const net = require('net');
const http = require('http');
const https = require('https');
const tls = require('tls');
const { EventEmitter } = require('events');
const {
  CoreServer, kNegotiatedByJs, descriptorOf, loopbackPair, pump, CLIENT_ERROR_CODES, TlsFailure, clientHandshake, loopTimers,
} = require('../core');
const { deflateThreshold } = require('./engine-options');
const { routeSocketEvents } = require('./socket-events');
const { PendingSocket } = require('./send-accounting');
const { EngineTlsPeer, exposeEngineTls, exposeRelayedTls } = require('./tls-peer');
const { addressAttempts, attemptsError } = require('./address-attempts');

const {
  connectionError, newKey, webSocketUrl, parseTarget, hostHeader, requestHead, deflateOffer, checkSwitchingProtocols, incomingResponse,
  switchingResponse,
} = clientHandshake;
const {
  CONNECTING, CLOSING, CLOSED, CLOSE_TIMEOUT, DEFAULT_MAX_PAYLOAD, EMPTY_BUFFER, ENGINE_CLOSE_MARGIN, ENGINE_MAX_MESSAGE,
  kAttach, kAttachPending, kAttachReading, kOnDrain, kOnPeerClosing, kOnProtocolError, kOnClose, ERROR_EMITTED,
} = require('./constants');

const PROTOCOL_VERSIONS = [8, 13];
/** A request given up on purpose (ws's kAborted): its late 'error' is ignored. */
const kAborted = Symbol('lws.ws.aborted');
const SUBPROTOCOL = /^[!#$%&'*+\-.0-9A-Z^_`|a-z~]+$/;
/** Largest request head the engine's CONNECT carries (with room for the address and server name). */
const ENGINE_HEAD_MAX = 59 * 1024;

/**
 * Options only Node's own client can honour: with any of them the handshake is
 * Node's (http.request as ws makes it) and the engine adopts the upgraded
 * connection (README, "lws.WebSocket as a client").
 */
const NODE_ONLY = ['agent', 'createConnection', 'finishRequest'];
/** tls.connect options beyond what the engine's rustls client takes (ca, cert, key, rejectUnauthorized, servername). */
const NODE_TLS_ONLY = [
  'checkServerIdentity', 'pfx', 'passphrase', 'secureContext', 'ciphers', 'minVersion', 'maxVersion',
  'secureProtocol', 'secureOptions', 'crl', 'ecdhCurve', 'sigalgs', 'dhparam', 'honorCipherOrder', 'session',
  'ALPNProtocols', 'pskCallback', 'requestOCSP', 'privateKeyEngine', 'privateKeyIdentifier', 'clientCertEngine',
];

// ---- the shared client cores -------------------------------------------------------------

/** Engine settings -> CoreServer, made on first use. */
const cores = new Map();

/** What the engine must know of a client's options (the rest stays in JS). */
function coreOptions(opts) {
  const payload = Number(opts.maxPayload);
  const out = {
    threads: 1,
    // ws: 0 (or anything not positive) means no limit.
    maxMessageSize: payload >= 1 ? Math.min(Math.floor(payload), ENGINE_MAX_MESSAGE) : ENGINE_MAX_MESSAGE,
  };
  // ws's close timer runs in the WebSocket; the engine's is only a backstop behind it.
  const closeTimeout = Number(opts.closeTimeout);
  if (Number.isInteger(closeTimeout) && closeTimeout > 0) out.closeTimeout = Math.min(closeTimeout + ENGINE_CLOSE_MARGIN, 2 ** 31 - 1);
  if (!opts.autoPong) out.autoPong = false;
  if (opts.skipUTF8Validation) out.skipUTF8Validation = true;
  if (opts.perMessageDeflate) {
    // The offer and the server's answer are ws's (client-handshake.js); the engine follows
    // the agreed parameters. Of ws's zlib options only zlibDeflateOptions.level applies.
    const d = typeof opts.perMessageDeflate === 'object' ? opts.perMessageDeflate : {};
    out.perMessageDeflate = { threshold: deflateThreshold(d) };
    const level = d.zlibDeflateOptions && d.zlibDeflateOptions.level;
    if (Number.isInteger(level) && level >= 0 && level <= 9) out.perMessageDeflate.level = level;
  }
  return out;
}

/**
 * How long a client core with no connection left is kept for the next one (ms):
 * then it is closed (a stopped engine frees its descriptors at once). Before that
 * its thread waits in epoll_wait, and it never keeps the process alive.
 */
const IDLE_CORE_MS = 1000;

/** The core's connections (reserved and not yet closed or released), and its idle timer. */
const kLive = Symbol('lws.ws.liveConnections');
const kIdleTimer = Symbol('lws.ws.idleTimer');
const kKey = Symbol('lws.ws.coreKey');

/**
 * A reserved socket on the client core for these options (one core per distinct
 * engine settings). A core whose connections are all gone is closed after
 * IDLE_CORE_MS.
 */
function reserveClientSocket(opts) {
  let key = lastCoreKey;
  if (!sameCoreInputs(opts)) {
    key = lastCoreKey = JSON.stringify(coreOptions(opts));
    lastCoreInputs = [opts.maxPayload, opts.closeTimeout, opts.autoPong, opts.skipUTF8Validation, opts.perMessageDeflate];
  }
  let core = cores.get(key);
  if (core === undefined) {
    const settings = coreOptions(opts);
    if (settings.perMessageDeflate) settings.perMessageDeflate[kNegotiatedByJs] = true;
    core = new CoreServer(settings);
    core[kLive] = 0;
    core[kIdleTimer] = null;
    core[kKey] = key;
    wireCore(core);
    cores.set(key, core);
  }
  if (core[kIdleTimer] !== null) {
    loopTimers.clearTimeout(core[kIdleTimer]);
    core[kIdleTimer] = null;
  }
  const socket = core.reserveSocket();
  core[kLive]++;
  return { core, socket };
}

/**
 * The options coreOptions() last read, and the key they gave: clients made with
 * the same options (most often ws's defaults) find their core with no objects
 * or strings made per connection (options whose perMessageDeflate is an object
 * are read each time).
 */
let lastCoreInputs = null;
let lastCoreKey = '';

function sameCoreInputs(opts) {
  const last = lastCoreInputs;
  // An object (perMessageDeflate's settings) may have changed since: read again.
  return last !== null && typeof opts.perMessageDeflate !== 'object' && last[0] === opts.maxPayload && last[1] === opts.closeTimeout && last[2] === opts.autoPong
    && last[3] === opts.skipUTF8Validation && last[4] === opts.perMessageDeflate;
}

/** One of the core's connections is gone (closed, or released before it was dialed). */
function connectionGone(core) {
  if (--core[kLive] > 0 || core[kIdleTimer] !== null || IDLE_CORE_MS === Infinity) return;
  core[kIdleTimer] = loopTimers.setTimeout(() => {
    core[kIdleTimer] = null;
    if (core[kLive] > 0) return;
    cores.delete(core[kKey]);
    core.close();
  }, IDLE_CORE_MS);
  core[kIdleTimer].unref();
}

/** The core's connection failures (wire.js): on an open socket, the connection just ended. */
const CONNECTION_FAILURES = new Set(Object.values(CLIENT_ERROR_CODES));

function closeLater(ws, turns, code, reason, errorCode, errorDetail) {
  if (turns > 0) loopTimers.setImmediate(closeLater, ws, turns - 1, code, reason, errorCode, errorDetail);
  else ws[kOnClose](code, reason, errorCode, errorDetail);
}

/** rustls refused the server's certificate (wire.js TlsFailure): Node words these from the certificate. */
const CERTIFICATE_FAILURES = new Set([
  TlsFailure.UNKNOWN_ISSUER, TlsFailure.WRONG_NAME, TlsFailure.EXPIRED, TlsFailure.NOT_YET_VALID, TlsFailure.BAD_CERTIFICATE,
]);

/**
 * Node's TLS handshake with the server whose certificate the engine refused,
 * with the same settings and address: `callback(err)` with Node's error (ws users
 * match on its code and message, 'DEPTH_ZERO_SELF_SIGNED_CERT', the altnames
 * checked, ..., which name what the certificate holds: the engine does not hand
 * the certificate over), or `callback(null, tlsSocket)` when Node's checks pass.
 */
function nodeTls(handshake, callback) {
  const { opts, address, port, host } = handshake;
  let servername = opts.servername;
  if (!servername && servername !== '') servername = net.isIP(host) ? '' : host;
  let done = false;
  const finish = (err) => {
    if (done) return;
    done = true;
    loopTimers.clearTimeout(timer);
    socket.removeAllListeners('error');
    if (err) socket.destroy();
    callback(err, err ? undefined : socket);
  };
  const socket = tls.connect({
    host: address, port, servername, ca: opts.ca, cert: opts.cert, key: opts.key, localAddress: opts.localAddress,
    checkServerIdentity: (name, cert) => tls.checkServerIdentity(servername || host, cert),
  });
  socket.once('secureConnect', () => finish(null));
  socket.once('error', (err) => finish(err));
  const timer = loopTimers.setTimeout(() => finish(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })), 10000);
  timer.unref();
}

/** A core socket's `wrapper` is its WebSocket from the moment it is reserved. */
function wireCore(core) {
  core.on('response', (socket, response) => {
    const ws = socket.wrapper;
    if (ws !== undefined) onResponse(ws, socket, response);
  });
  core.on('open', (socket) => {
    const ws = socket.wrapper;
    if (ws === undefined) return;
    const answer = answersWithFrames.get(socket);
    if (answer !== undefined) {
      answersWithFrames.delete(socket);
      openWithFrames(ws, answer, core, socket);
      return;
    }
    ws[kAttach](core, socket, ws._protocol);
  });
  routeSocketEvents(core);
  // Sockets whose close handshake is complete, ended from here: socket -> [code, reason].
  const ended = new Map();
  // Of those, the ones still writing what was sent before: ended on their 'drain'.
  const endOnDrain = new Set();
  core.on('drain', (socket) => {
    if (endOnDrain.delete(socket)) core.terminate(socket);
    const ws = socket.wrapper;
    if (ws !== undefined) ws[kOnDrain]();
  });
  // A hook, not a 'closing' listener (which would make the engine wait for JS to answer
  // every close): nothing here sends.
  core._peerClosing = (socket, code, reason) => {
    const ws = socket.wrapper;
    if (ws === undefined) return;
    ws[kOnPeerClosing](code, reason);
    if (ws.isPaused) return; // the reply waits for resume(); the server ends the connection then
    // ws ends its side of TCP as soon as both close frames are exchanged; the engine's
    // client waits for the server to end first. The engine queues its reply after this
    // callback: the connection is dropped right behind it (the reply leaves first), or
    // once the socket has written what it still holds (as ws's end() after its writes).
    ended.set(socket, [code, reason]);
    process.nextTick(() => {
      if (socket.backlog > 0) endOnDrain.add(socket);
      else core.terminate(socket);
    });
  };
  core.on('close', (socket, code, reason, errorCode, errorDetail) => {
    connectionGone(core);
    const peerClose = ended.get(socket);
    if (peerClose !== undefined) {
      ended.delete(socket);
      endOnDrain.delete(socket);
      // Dropped by us after the handshake: the close is the peer's, as ws reports it.
      if (!errorCode) [code, reason] = peerClose;
    }
    const ws = socket.wrapper;
    if (ws === undefined) return;
    socket.wrapper = undefined;
    if (answersWithFrames.delete(socket) && ws._readyState !== CONNECTING) return; // aborted before its 'open'
    const handshake = ws._handshake;
    if (handshake !== null && handshake.socket === socket) {
      // Failed before the 101 was accepted: the Error Node's http client gives.
      const err = connectionError(errorCode, errorDetail, handshake.address, handshake.port, reason)
        || Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      if (errorCode === 'LWS_ERR_CONNECT' && redialed(ws, handshake, err)) return;
      endHandshake(ws, handshake);
      ws._req = null;
      if (errorCode === 'LWS_ERR_TLS' && CERTIFICATE_FAILURES.has(errorDetail) && handshake.opts.rejectUnauthorized !== false) {
        nodeTls(handshake, (nodeErr, tlsSocket) => {
          if (ws._readyState !== CONNECTING || ws._req !== null) {
            if (tlsSocket) tlsSocket.destroy();
            return;
          }
          if (nodeErr) return emitErrorAndClose(ws, nodeErr);
          // Node's TLS takes the certificate rustls refused (a self-signed CA certificate as
          // the server's own, say): the request goes over Node's connection, as on the Node path.
          requestWithNode(ws, { ...handshake, opts: { ...handshake.opts, createConnection: () => tlsSocket } }, true, false);
        });
        return;
      }
      emitErrorAndClose(ws, handshake.failures === null ? err : attemptsError([...handshake.failures, err]));
      return;
    }
    // A connection failure code on an open socket (the server hung up) is no protocol error.
    if (CONNECTION_FAILURES.has(errorCode)) errorCode = errorDetail = undefined;
    if (errorCode) {
      // A bad frame from the server: ws's receiver emits 'error' as it reads it, and its
      // socket, destroyed then, closes a turn later, before its peer (a server in this
      // process) has read the close frame.
      try {
        ws[kOnProtocolError](errorCode, errorDetail);
      } finally {
        loopTimers.setImmediate(closeLater, ws, 0, code, reason, errorCode, errorDetail); // even if no 'error' listener
      }
      return;
    }
    // As on the server side (websocket-server.js _onSocketClose), ws learns of the end
    // from the TCP socket's own 'close', after what the last messages deferred. For a
    // client that is also after its peer saw the connection end: Node's socket closes
    // once its shutdown completed, a turn of the loop after the FIN left. The engine
    // has closed the connection when it reports it: 'close' waits two more turns, so a
    // server in this process sees the end first, as it does with ws.
    loopTimers.setImmediate(closeLater, ws, 2, code, reason, errorCode, errorDetail);
  });
  // A socket's own engine fault is reported by its 'close' (LWS_ERR_INTERNAL).
  core.on('error', () => {});
}

// ---- the request object of 'redirect' and 'unexpected-response' ---------------------------

/**
 * What ws users get as `request` (an http.ClientRequest in ws): the method,
 * path, host and headers of the request, and abort()/destroy() to give up.
 */
class ClientRequest extends EventEmitter {
  constructor(ws, method, path, host, protocol, headers) {
    super();
    this.method = method;
    this.path = path;
    this.host = host;
    this.protocol = protocol;
    this.aborted = false;
    this.destroyed = false;
    this.socket = null;
    this.res = null;
    this._ws = ws;
    this._headers = headers; // [name, value] pairs as written
    /** setHeader/removeHeader changed them ('redirect' listeners): the head is written anew. */
    this._edited = false;
    this._sent = false;
  }

  /** As Node's, until the request is written (a 'redirect' listener may change it). */
  setHeader(name, value) {
    if (this._sent) throw headersSentError('set');
    http.validateHeaderName(name);
    http.validateHeaderValue(name, value);
    const at = this._indexOf(name);
    if (at < 0) this._headers.push([name, value]);
    else this._headers[at] = [name, value];
    this._edited = true;
    return this;
  }

  removeHeader(name) {
    if (this._sent) throw headersSentError('remove');
    const at = this._indexOf(name);
    if (at >= 0) {
      this._headers.splice(at, 1);
      this._edited = true;
    }
  }

  getHeader(name) {
    const at = this._indexOf(name);
    return at < 0 ? undefined : this._headers[at][1];
  }

  /** Where the header `name` (any case) is among the pairs, or -1. */
  _indexOf(name) {
    const lower = String(name).toLowerCase();
    return this._headers.findIndex(([n]) => n.toLowerCase() === lower);
  }

  getHeaders() {
    const out = Object.create(null);
    for (const [name, value] of this._headers) out[name.toLowerCase()] = value;
    return out;
  }

  getHeaderNames() {
    return this._headers.map(([name]) => name.toLowerCase());
  }

  hasHeader(name) {
    return this.getHeader(name) !== undefined;
  }

  /** Gives up the request (the connection is dropped); as Node's, no error follows. */
  abort() {
    if (this.aborted) return;
    this.aborted = true;
    this[kAborted] = true;
    this._drop();
    process.nextTick(() => this.emit('abort'));
  }

  /** As Node's: with an error, the WebSocket reports it ('error', then 'close' 1006). */
  destroy(err) {
    if (this.destroyed) return this;
    this.destroyed = true;
    this._drop();
    if (err) {
      const ws = this._ws;
      process.nextTick(() => {
        if (ws._req !== this || this[kAborted]) return;
        ws._req = null;
        emitErrorAndClose(ws, err);
      });
    }
    return this;
  }

  _drop() {
    // As Node's: an answer already read is dumped (read to its end: 'end', then 'close').
    if (this.res !== null && !this.res.destroyed) {
      if (typeof this.res._dump === 'function') this.res._dump();
      else this.res.resume();
    }
    const ws = this._ws;
    const handshake = ws._handshake;
    if (handshake !== null && handshake.req === this) dropHandshake(ws, handshake);
  }
}

// ---- the handshake ---------------------------------------------------------------------

/** Node's error for a header changed once the request is written. */
function headersSentError(verb) {
  const err = new Error(`Cannot ${verb} headers after they are sent to the client`);
  err.code = 'ERR_HTTP_HEADERS_SENT';
  return err;
}

/** ws's constructor arguments: (address[, protocols][, options]) -> [protocols, options]. */
function clientArguments(protocols, options) {
  if (protocols === undefined) {
    if (!options || options.protocols === undefined) protocols = [];
    else protocols = Array.isArray(options.protocols) ? options.protocols : [options.protocols];
  } else if (!Array.isArray(protocols)) {
    if (typeof protocols === 'object' && protocols !== null) {
      options = protocols;
      if (options.protocols === undefined) protocols = [];
      else protocols = Array.isArray(options.protocols) ? options.protocols : [options.protocols];
    } else {
      protocols = [protocols];
    }
  }
  return [protocols, options];
}

/**
 * The header lines of `headers` (an object) as Node's ClientRequest keeps them:
 * checked as setHeader checks them (same errors), one entry per name
 * (case-insensitive), at the place it was first set, with the last value.
 */
function headerPairs(headers) {
  const pairs = [];
  for (const name in headers) {
    if (!Object.prototype.hasOwnProperty.call(headers, name)) continue;
    const value = headers[name];
    http.validateHeaderName(name);
    http.validateHeaderValue(name, value);
    // Names differ in length as a rule: only equal lengths are compared, without a Map per request.
    let same = 0;
    while (same < pairs.length && !(pairs[same][0].length === name.length && pairs[same][0].toLowerCase() === name.toLowerCase())) same++;
    pairs[same] = [name, value];
  }
  return pairs;
}

/** The protocol set of clients that ask for none (never added to). */
const NO_PROTOCOLS = Object.freeze(new Set());

/**
 * The last client URL string, parsed (initAsClient): { address, parsedUrl, href,
 * target }, never changed once made.
 */
let lastTarget = null;

/**
 * ws's initAsClient: starts (or, after a redirect, restarts) `websocket`'s
 * handshake. Throws what ws throws for bad arguments; returns the resolved options.
 */
function initAsClient(websocket, address, protocols, options) {
  const opts = {
    allowSynchronousEvents: true,
    autoPong: true,
    closeTimeout: CLOSE_TIMEOUT,
    protocolVersion: PROTOCOL_VERSIONS[1],
    maxPayload: DEFAULT_MAX_PAYLOAD,
    skipUTF8Validation: false,
    perMessageDeflate: true,
    followRedirects: false,
    maxRedirects: 10,
    ...options,
    socketPath: undefined,
    hostname: undefined,
    protocol: undefined,
    protocols: undefined,
    timeout: undefined,
    method: 'GET',
    host: undefined,
    path: undefined,
    port: undefined,
  };

  if (!PROTOCOL_VERSIONS.includes(opts.protocolVersion)) {
    throw new RangeError(`Unsupported protocol version: ${opts.protocolVersion} (supported versions: ${PROTOCOL_VERSIONS.join(', ')})`);
  }

  let parsedUrl;
  let href;
  let target;
  if (typeof address === 'string' && lastTarget !== null && address === lastTarget.address) {
    // Clients of one server share its parsed URL and href (a connection costs no copy of them).
    ({ parsedUrl, href, target } = lastTarget);
  } else {
    parsedUrl = webSocketUrl(address);
    href = parsedUrl.href;
    try {
      target = parseTarget(parsedUrl);
    } catch (err) {
      websocket._url = href;
      if (websocket._redirects === 0) throw err;
      emitErrorAndClose(websocket, err);
      return opts;
    }
    if (typeof address === 'string') lastTarget = { address, parsedUrl, href, target };
  }
  websocket._url = href;

  const { secure: isSecure, ipc: isIpcUrl } = target;
  const defaultPort = isSecure ? 443 : 80;
  const key = newKey();
  // Most clients ask for no subprotocol: they share one empty set (a handshake's state is
  // kept for a round trip, long enough to be promoted out of V8's young generation).
  const protocolSet = protocols.length ? new Set() : NO_PROTOCOLS;

  opts.defaultPort = opts.defaultPort || defaultPort;
  opts.port = target.url.port || defaultPort; // as ws: the URL's port is a string ("8080")
  opts.host = target.host;
  opts.headers = {
    ...opts.headers,
    'Sec-WebSocket-Version': opts.protocolVersion,
    'Sec-WebSocket-Key': key,
    Connection: 'Upgrade',
    Upgrade: 'websocket',
  };
  opts.path = target.path;
  opts.timeout = opts.handshakeTimeout;

  if (opts.perMessageDeflate) opts.headers['Sec-WebSocket-Extensions'] = deflateOffer(opts.perMessageDeflate);
  if (protocols.length) {
    for (const protocol of protocols) {
      if (typeof protocol !== 'string' || !SUBPROTOCOL.test(protocol) || protocolSet.has(protocol)) {
        throw new SyntaxError('An invalid or duplicated subprotocol was specified');
      }
      protocolSet.add(protocol);
    }
    opts.headers['Sec-WebSocket-Protocol'] = protocols.join(',');
  }
  if (opts.origin) {
    if (opts.protocolVersion < 13) opts.headers['Sec-WebSocket-Origin'] = opts.origin;
    else opts.headers.Origin = opts.origin;
  }
  if (target.auth !== undefined) opts.auth = target.auth;
  if (isIpcUrl) {
    opts.socketPath = target.socketPath;
    opts.path = target.path;
  }

  if (opts.followRedirects) {
    if (websocket._redirects === 0) {
      websocket._originalIpc = isIpcUrl;
      websocket._originalSecure = isSecure;
      websocket._originalHostOrSocketPath = isIpcUrl ? opts.socketPath : parsedUrl.host;
      const headers = options && options.headers;
      // A copy whose header names are lowercase: redirects change it, never the user's object.
      options = { ...options, headers: {} };
      if (headers) {
        for (const [name, value] of Object.entries(headers)) options.headers[name.toLowerCase()] = value;
      }
    } else if (websocket.listenerCount('redirect') === 0) {
      const isSameHost = isIpcUrl
        ? websocket._originalIpc
          ? opts.socketPath === websocket._originalHostOrSocketPath
          : false
        : websocket._originalIpc
          ? false
          : parsedUrl.host === websocket._originalHostOrSocketPath;
      if (!isSameHost || (websocket._originalSecure && !isSecure)) {
        // curl 7.77.0's rule (ws follows it): credentials do not follow a redirect elsewhere.
        delete opts.headers.authorization;
        delete opts.headers.cookie;
        if (!isSameHost) delete opts.headers.host;
        opts.auth = undefined;
      }
    }
    // curl's rule too: the first Authorization header wins.
    if (opts.auth && !options.headers.authorization) {
      options.headers.authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    }
  }

  // What both paths need once the server answers.
  const context = {
    key, protocolSet, opts, options, protocols,
    url: address, // what a relative Location resolves against
    perMessageDeflate: opts.perMessageDeflate || false,
  };
  if (isIpcUrl || usesNodeOnly(opts, isSecure)) requestWithNode(websocket, context, isSecure);
  else requestWithEngine(websocket, context, target);
  return opts;
}

/** Options the engine's client cannot honour: with one of them Node makes the request. */
function usesNodeOnly(opts, isSecure) {
  for (const name of NODE_ONLY) {
    const value = opts[name];
    // agent: false asks for a connection of its own, which is what the engine dials
    // (engine.io-client, so socket.io-client, always passes it).
    if (value !== undefined && value !== null && !(name === 'agent' && value === false)) return true;
  }
  if (isSecure) for (const name of NODE_TLS_ONLY) if (opts[name] !== undefined && opts[name] !== null) return true;
  return refusedOrNodeSocket(opts, isSecure);
}

/**
 * ws hands every option to net.connect: it binds `localPort`, and refuses a `localAddress`
 * that is no IP address and (net.Socket, for ws: only) the object modes and a non-number
 * keepAliveInitialDelay, failing the connection with Node's error ('error', 'close' 1006).
 * Node's request does the same here.
 */
function refusedOrNodeSocket(opts, isSecure) {
  if (opts.localPort !== undefined && opts.localPort !== null) return true;
  if (opts.localAddress && net.isIP(opts.localAddress) === 0) return true;
  if (isSecure) return false;
  if (opts.keepAliveInitialDelay !== undefined && typeof opts.keepAliveInitialDelay !== 'number') return true;
  return Boolean(opts.objectMode || opts.readableObjectMode || opts.writableObjectMode);
}

/**
 * An engine request's state until the answer: what initAsClient's context holds, and
 * the connection. A class, not the context spread into a literal and added to: V8
 * pretenured that literal's allocations (it lives a round trip), about 3 KB of old
 * space per connection (ws-client.test.js, "connecting leaves little").
 */
class EngineHandshake {
  constructor({ key, protocolSet, opts, options, protocols, url, perMessageDeflate }, core, socket, target) {
    this.key = key;
    this.protocolSet = protocolSet;
    this.opts = opts;
    this.options = options;
    this.protocols = protocols;
    this.url = url;
    this.perMessageDeflate = perMessageDeflate;
    this.core = core;
    this.socket = socket;
    /** The ClientRequest ws users get, made when one is handed out (requestOf). */
    this.req = null;
    this.dialed = false;
    this.timer = null;
    this.address = undefined; // the IP address dialed, once resolved
    this.attempts = null; // the addresses still to try after it (address-attempts.js)
    this.failures = null; // the errors of the addresses tried before it, if any
    this.dial = null; // core.dial's options but the address
    this.host = target.host;
    this.port = target.port;
  }
}

/**
 * The engine request's ClientRequest, made on first use ('redirect', 'unexpected-response'):
 * most handshakes never hand one out. Until then the handshake itself is `websocket._req`.
 */
function requestOf(websocket, handshake) {
  if (handshake.req === null) {
    const { opts } = handshake;
    const protocol = websocket._url.startsWith('wss:') ? 'https:' : 'http:';
    // Host and Authorization among the headers, as Node's ClientRequest sets them (getHeader sees them).
    const pairs = headerPairs(opts.headers);
    if (!pairs.some(([name]) => name.toLowerCase() === 'host')) pairs.push(['Host', hostHeader(opts.host, opts.port, opts.defaultPort)]);
    if (opts.auth && !pairs.some(([name]) => name.toLowerCase() === 'authorization')) {
      pairs.push(['Authorization', `Basic ${Buffer.from(opts.auth).toString('base64')}`]);
    }
    handshake.req = new ClientRequest(websocket, 'GET', opts.path || '/', opts.host, protocol, pairs);
    handshake.req._sent = handshake.dialed;
    if (websocket._req === handshake) websocket._req = handshake.req;
  }
  return handshake.req;
}

/** The engine connects (TLS by rustls), writes the head ws's request would have and reads the answer. */
function requestWithEngine(websocket, context, target) {
  const { opts } = context;
  const isSecure = target.secure;
  const pairs = headerPairs(opts.headers);
  let head = requestHead(opts.path, pairs, { host: hostHeader(opts.host, opts.port, opts.defaultPort), auth: opts.auth });
  // The engine takes request heads under 60 KiB (core-server.js dial); Node writes any.
  if (head.length > ENGINE_HEAD_MAX) return requestWithNode(websocket, context, isSecure);

  const { core, socket } = reserveClientSocket(opts);
  socket.wrapper = websocket;
  const handshake = new EngineHandshake(context, core, socket, target);
  websocket._req = handshake; // the request, until a ClientRequest is handed out (requestOf)
  websocket._handshake = handshake;
  if (opts.timeout > 0) {
    // ws's request timeout. The engine's own (at dial) is a backstop behind it: this one
    // ends the WebSocket before the server can see the connection go, as ws's does.
    // Node's socket timeout in ws (req.setTimeout): out of reach of faked timers too.
    handshake.timer = loopTimers.setTimeout(() => {
      if (websocket._handshake === handshake) abortHandshake(websocket, 'Opening handshake has timed out');
    }, opts.timeout);
  }

  if (opts.followRedirects && websocket._redirects) {
    const req = requestOf(websocket, handshake);
    websocket.emit('redirect', websocket.url, req);
    // The listener changed the headers (ws's way to drop credentials per redirect): written as they are now.
    if (req._edited) head = requestHead(opts.path, req._headers, { host: undefined, auth: undefined });
  }

  const tlsSettings = isSecure
    ? {
      servername: opts.servername || target.host, // rustls checks an IP address too
      // As Node's tls.connect: servername '' sends no SNI (the host is still what is checked).
      sni: opts.servername !== '',
      ca: opts.ca, cert: opts.cert, key: opts.key, rejectUnauthorized: opts.rejectUnauthorized,
    }
    : null;

  addressAttempts(target.host, opts, (err, attempts) => {
    if (websocket._handshake !== handshake) return; // given up meanwhile
    if (err) {
      dropHandshake(websocket, handshake);
      websocket._req = null;
      emitErrorAndClose(websocket, err);
      return;
    }
    handshake.dial = {
      port: target.port, localAddress: opts.localAddress, tls: tlsSettings, head,
      timeout: opts.timeout > 0 ? Math.min(opts.timeout + ENGINE_CLOSE_MARGIN, 2 ** 31 - 1) : 0,
    };
    handshake.attempts = attempts;
    dialNext(websocket, handshake);
  });
}

/** Dials the handshake's next address (address-attempts.js: the next one is tried if it fails). */
function dialNext(websocket, handshake) {
  const { address } = handshake.attempts.shift();
  handshake.address = address;
  try {
    handshake.core.dial(handshake.socket, { address, ...handshake.dial });
  } catch (failure) {
    // Not dialed (bad TLS material, a head too large): the reserved socket is released,
    // or the client core would keep the process alive waiting for it.
    dropHandshake(websocket, handshake);
    websocket._req = null;
    emitErrorAndClose(websocket, failure);
    return;
  }
  handshake.dialed = true;
  if (handshake.req !== null) handshake.req._sent = true;
}

/**
 * A handshake whose connection failed to connect, with addresses left to try:
 * `err` joins its errors and the next address is dialed on a new socket. False
 * when none is left (`handshake.failures` then holds the earlier errors).
 */
function redialed(websocket, handshake, err) {
  if (handshake.attempts === null || handshake.attempts.length === 0) return false;
  if (handshake.failures === null) handshake.failures = [err];
  else handshake.failures.push(err);
  const { core, socket } = reserveClientSocket(handshake.opts);
  socket.wrapper = websocket;
  handshake.core = core;
  handshake.socket = socket;
  handshake.dialed = false;
  dialNext(websocket, handshake);
  return true;
}

/** The handshake is over (answered, failed or given up). */
function endHandshake(websocket, handshake) {
  if (websocket._handshake === handshake) websocket._handshake = null;
  if (handshake.timer !== null) {
    loopTimers.clearTimeout(handshake.timer);
    handshake.timer = null;
  }
}

/** Forgets the connection of a handshake given up: released, or dropped by the engine. */
function dropHandshake(websocket, handshake) {
  endHandshake(websocket, handshake);
  const { core, socket } = handshake;
  socket.wrapper = undefined;
  if (handshake.dialed) core.terminate(socket);
  else if (core.releaseSocket(socket)) connectionGone(core); // no 'close' follows
}

/** The server's answer to an engine request (the core's 'response'). */
function onResponse(websocket, socket, response) {
  const handshake = websocket._handshake;
  if (handshake === null || handshake.socket !== socket) return;
  // Node's IncomingMessage (a stream: about 1 KB per handshake) only for whom it is
  // handed to: 'upgrade' listeners, and answers that are not a 101 upgrade.
  const res = (websocket.listenerCount('upgrade') === 0 && switchingResponse(response)) || incomingResponse(response);
  if (res.upgrade && response.afterHead > 0 && answerWithFrames(websocket, handshake, socket, response, res)) return;
  if (!res.upgrade) {
    // The engine closes a connection refused with another status itself; a 101 Node
    // would not call an upgrade waits for an answer: it is dropped.
    if (response.statusCode === 101) handshake.core.terminate(socket);
    endHandshake(websocket, handshake);
    socket.wrapper = undefined;
    const req = requestOf(websocket, handshake);
    req.res = res;
    onAnswer(websocket, handshake, req, res);
    return;
  }
  const verdict = onSwitching(websocket, handshake, res);
  if (verdict === null) {
    if (websocket._handshake === handshake) dropHandshake(websocket, handshake);
    return;
  }
  endHandshake(websocket, handshake);
  handshake.core.acceptResponse(socket, verdict.extensions);
  // Open now, as ws is once it has checked the 101; what the WebSocket is asked to do
  // waits for the engine's 'open' (websocket.js kAttach).
  const peer = new PendingSocket(handshake.address, handshake.port, net.isIPv6(handshake.address) ? 'IPv6' : 'IPv4', socket);
  if (response.peerCertificates.length > 0) {
    // ws's `_socket` is the TLSSocket: its session is read there (certificate pinning).
    const { opts } = handshake;
    const session = new EngineTlsPeer(response.peerCertificates, opts.ca, opts.rejectUnauthorized !== false, socket);
    exposeEngineTls(peer, session);
    exposeEngineTls(socket, session);
  }
  websocket[kAttachPending](handshake.core, verdict.protocol, verdict.extensions, peer);
}

/**
 * A 101 that came with frames (the server sent at once: an error, a greeting, a close).
 * ws emits them right after 'open', before what 'upgrade' and 'open' listeners queue
 * (nextTick, promise jobs): its socket's 'data' resumes in a nextTick queued before
 * 'open'. The engine parses them once it has the ACCEPT, so the answer waits for the
 * engine's 'open' and is handed out with them, in that batch (openWithFrames): to the
 * user the 101 came that much later. Only a 101 that passes ws's checks waits (one that
 * fails gives 'upgrade' then 'error' now); close() and terminate() meanwhile abort the
 * handshake, as before any answer. Not with permessage-deflate agreed: ws inflates
 * asynchronously, its messages come turns later. Null when the 101 is handled now.
 */
function verdictWithFrames(res, context) {
  const verdict = checkSwitchingProtocols(res.headers, context.key, context.protocolSet, context.perMessageDeflate);
  return verdict.error || verdict.extensions ? null : verdict;
}

/** The engine's socket -> a 101 that came with frames, held until the engine's 'open': { res, verdict, handshake, peerCertificates }. */
const answersWithFrames = new WeakMap();

/** The engine path's 101 with frames (answersWithFrames): accepted now, handed out at the engine's 'open'. */
function answerWithFrames(websocket, handshake, socket, response, res) {
  const verdict = verdictWithFrames(res, handshake);
  if (verdict === null) return false;
  answersWithFrames.set(socket, { res, verdict, handshake, peerCertificates: response.peerCertificates });
  handshake.core.acceptResponse(socket, verdict.extensions);
  return true;
}

/** The engine's 'open' of a client whose 101 came with frames: 'upgrade', then 'open' (kAttachReading). */
function openWithFrames(websocket, answer, core, socket) {
  const { res, verdict, handshake, peerCertificates } = answer;
  // On the Node path an aborted request (close() before the answer) leaves the engine's socket to drop here.
  if (websocket._readyState === CONNECTING) websocket.emit('upgrade', res);
  // A listener may have closed the WebSocket (the handshake is aborted).
  if (websocket._readyState !== CONNECTING) {
    if (socket.wrapper === websocket) {
      socket.wrapper = undefined;
      core.terminate(socket);
    }
    return;
  }
  websocket._req = null;
  if (handshake !== null) {
    endHandshake(websocket, handshake);
    if (peerCertificates.length > 0) {
      const { opts } = handshake;
      exposeEngineTls(socket, new EngineTlsPeer(peerCertificates, opts.ca, opts.rejectUnauthorized !== false, socket));
    }
  }
  websocket[kAttachReading](core, socket, verdict.protocol);
}

/** ws's req 'response' handler: a redirect to follow, 'unexpected-response', or an error. */
function onAnswer(websocket, context, req, res) {
  const { opts } = context;
  const location = res.headers.location;
  const statusCode = res.statusCode;
  if (location && opts.followRedirects && statusCode >= 300 && statusCode < 400) {
    if (++websocket._redirects > opts.maxRedirects) {
      abortHandshake(websocket, 'Maximum redirects exceeded');
      return;
    }
    abortRequest(req);
    let addr;
    try {
      addr = new URL(location, context.url);
    } catch {
      emitErrorAndClose(websocket, new SyntaxError(`Invalid URL: ${location}`));
      return;
    }
    initAsClient(websocket, addr, context.protocols, context.options);
  } else if (!websocket.emit('unexpected-response', req, res)) {
    abortHandshake(websocket, `Unexpected server response: ${statusCode}`);
  }
}

/**
 * ws's req 'upgrade' handler up to its checks: 'upgrade', then the 101 checked.
 * Returns the verdict ({ protocol, extensions }), or null when the WebSocket was
 * closed from 'upgrade' or the answer fails a check (CLOSING then; 'error' and
 * 'close' follow on the next tick, as when ws destroys the socket).
 */
function onSwitching(websocket, context, res) {
  websocket.emit('upgrade', res);
  // A listener may have closed the WebSocket.
  if (websocket._readyState !== CONNECTING) return null;
  websocket._req = null;
  const verdict = checkSwitchingProtocols(res.headers, context.key, context.protocolSet, context.perMessageDeflate);
  if (verdict.error) {
    websocket._readyState = CLOSING;
    const err = new Error(verdict.error);
    process.nextTick(emitErrorAndClose, websocket, err);
    return null;
  }
  return verdict;
}

// ---- the Node path: agent, createConnection, finishRequest, ws+unix:, Node's TLS ----------

/** ws's connection factories. */
function netConnect(options) {
  options.path = options.socketPath;
  return net.connect(options);
}

function tlsConnect(options) {
  options.path = undefined;
  if (!options.servername && options.servername !== '') {
    options.servername = net.isIP(options.host) ? '' : options.host;
  }
  return tls.connect(options);
}

/**
 * ws's own request, made by Node's http/https exactly as ws makes it; after the
 * 101 the engine adopts the connection (its descriptor, or through the loopback
 * relay for TLS and other streams) and runs the WebSocket from there.
 */
function requestWithNode(websocket, context, isSecure, announce = true) {
  const { opts } = context;
  const request = isSecure ? https.request : http.request;
  opts.createConnection = opts.createConnection || (isSecure ? tlsConnect : netConnect);
  let req = websocket._req = request(opts);

  if (announce && opts.followRedirects && websocket._redirects) websocket.emit('redirect', websocket.url, req);

  if (opts.timeout) {
    req.on('timeout', () => abortHandshake(websocket, 'Opening handshake has timed out'));
  }
  req.on('error', (err) => {
    if (req === null || req[kAborted]) return;
    req = websocket._req = null;
    emitErrorAndClose(websocket, err);
  });
  req.on('response', (res) => onAnswer(websocket, context, req, res));
  req.on('upgrade', (res, socket, head) => {
    // Frames that came with the 101 (verdictWithFrames): the answer waits for the engine's 'open'.
    const withFrames = (head.length > 0 || socket.readableLength > 0) && websocket._readyState === CONNECTING
      ? verdictWithFrames(res, context) : null;
    if (withFrames !== null) {
      req = null; // the request is done; websocket._req stays until 'upgrade' is emitted, as in ws
      adoptUpgraded(websocket, opts, socket, head, withFrames, res);
      return;
    }
    const verdict = onSwitching(websocket, context, res);
    req = null;
    if (verdict === null) {
      socket.destroy();
      return;
    }
    adoptUpgraded(websocket, opts, socket, head, verdict);
  });

  if (opts.finishRequest) opts.finishRequest(req, websocket);
  else req.end();
}

/**
 * Node's upgraded socket goes to the engine; the WebSocket is open from now on, as ws's,
 * or, given the 101 (`res`) of one that came with frames, from the engine's 'open'.
 */
function adoptUpgraded(websocket, opts, nodeSocket, head, verdict, res = null) {
  // Bytes Node read past the 101 and nobody consumed go to the engine too.
  if (nodeSocket.readableLength > 0 && descriptorOf(nodeSocket) >= 0) {
    const more = nodeSocket.read();
    if (more) head = head && head.length ? Buffer.concat([head, more]) : more;
  }
  const { core, socket } = reserveClientSocket(opts);
  socket.wrapper = websocket;
  const peer = new PendingSocket(nodeSocket.remoteAddress, nodeSocket.remotePort, nodeSocket.remoteFamily, socket);
  if (nodeSocket.encrypted) {
    // Node's TLS stays on the connection (relayed): ws's `_socket` is that TLSSocket.
    exposeRelayedTls(peer, nodeSocket);
    exposeRelayedTls(socket, nodeSocket);
  }
  const adopt = (stream) => core.adoptClient(socket, stream, { head, extensions: verdict.extensions });
  const fail = () => {
    // The engine never had it: the WebSocket ends as ws's does when its socket fails.
    socket.wrapper = undefined;
    if (core.releaseSocket(socket)) connectionGone(core);
    nodeSocket.destroy();
    if (answersWithFrames.delete(socket)) {
      // Its 101 was held for the engine's 'open': ws had opened on it.
      websocket.emit('upgrade', res);
      if (websocket._readyState !== CONNECTING) return;
      websocket._req = null;
      websocket[kAttachPending](core, verdict.protocol, verdict.extensions, peer);
    }
    loopTimers.setImmediate(() => websocket[kOnClose](1006, '', undefined, undefined));
  };
  if (res !== null) answersWithFrames.set(socket, { res, verdict, handshake: null, peerCertificates: null });
  if (descriptorOf(nodeSocket) >= 0) {
    if (!adopt(nodeSocket)) fail();
  } else {
    loopbackPair((err, outer, inner) => {
      if (err || nodeSocket.destroyed || socket.wrapper !== websocket) {
        if (outer) outer.destroy();
        if (inner) inner.destroy();
        if (socket.wrapper === websocket) fail();
        return;
      }
      if (!adopt(inner)) {
        outer.destroy();
        inner.destroy();
        fail();
        return;
      }
      pump(nodeSocket, outer);
    });
  }
  if (res === null) websocket[kAttachPending](core, verdict.protocol, verdict.extensions, peer);
}

/**
 * ws's abortHandshake for a request: CLOSING now, the request given up, 'error'
 * and 'close' (1006) on the next tick.
 */
function abortHandshake(websocket, message) {
  websocket._readyState = CLOSING;
  const err = new Error(message);
  Error.captureStackTrace(err, abortHandshake);
  const req = websocket._req;
  if (req !== null && req !== undefined) abortRequest(req);
  const handshake = websocket._handshake;
  if (handshake !== null) dropHandshake(websocket, handshake);
  process.nextTick(emitErrorAndClose, websocket, err);
}

/** Gives up a request (Node's, or the engine's stand-in): no 'error' comes from it after this. */
function abortRequest(req) {
  if (req instanceof EngineHandshake) return; // no ClientRequest was handed out: nobody hears of it
  req[kAborted] = true;
  if (req instanceof ClientRequest) return;
  req.abort();
  // Node >= 14.3 does not destroy the socket of a completed request on abort() (ws #1869).
  if (req.socket && !req.socket.destroyed) req.socket.destroy();
}

/** ws's emitErrorAndClose for a WebSocket that never opened. */
function emitErrorAndClose(websocket, err) {
  websocket._readyState = CLOSING;
  websocket._flags |= ERROR_EMITTED;
  websocket.emit('error', err);
  websocket._readyState = CLOSED;
  websocket.emit('close', 1006, EMPTY_BUFFER);
}

module.exports = { initAsClient, clientArguments, abortHandshake, coreOptions };
