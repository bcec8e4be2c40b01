'use strict';
// What ws users read of a connection's TLS session on `ws._socket`, a tls.TLSSocket in ws:
// the peer's certificate (certificate pinning on clients, the client certificate's identity
// on servers), `encrypted`, `authorized`. Here `_socket` is the engine's socket (or its
// stand-in until the engine opens it), so these are installed on it, for TLS connections only:
// a plain net.Socket has none of them, and applications tell the two apart by whether
// `getPeerCertificate` is there. Two sources:
// - a connection Node's TLS carries, relayed to the engine over loopback (an https server's
//   upgrade; a client with options only Node's TLS has): that TLSSocket answers;
// - a client connection whose TLS the engine runs (rustls): the certificates the server
//   presented (the RESPONSE record), reported as Node's TLSSocket reports them.

const { X509Certificate } = require('crypto');
const tls = require('tls');

/** The session a socket reports: a relayed connection's TLSSocket, or an EngineTlsPeer. */
const kTlsSession = Symbol('lws.tlsSession');

/** TLSSocket members a relayed connection's socket answers for (methods, then properties). */
const RELAYED_METHODS = [
  'getPeerCertificate', 'getPeerX509Certificate', 'getCertificate', 'getX509Certificate', 'getCipher',
  'getProtocol', 'getEphemeralKeyInfo', 'getSession', 'isSessionReused', 'getFinished', 'getPeerFinished',
  'exportKeyingMaterial',
];
const RELAYED_PROPERTIES = ['encrypted', 'authorized', 'authorizationError', 'alpnProtocol', 'servername'];

/**
 * The members installed on a relayed connection's socket: one shared function each
 * (not closures per socket: a socket is kept per connection), reading `this[kTlsSession]`.
 */
const relayedMembers = {};
for (const name of RELAYED_METHODS) {
  relayedMembers[name] = {
    value: function relayed(...args) {
      return this[kTlsSession][name](...args);
    },
    configurable: true,
    writable: true,
  };
}
for (const name of RELAYED_PROPERTIES) {
  relayedMembers[name] = {
    get() {
      return this[kTlsSession][name];
    },
    configurable: true,
    enumerable: true,
  };
}

/** `target` (the engine's socket or its stand-in) reports `tlsSocket`'s session. */
function exposeRelayedTls(target, tlsSocket) {
  target[kTlsSession] = tlsSocket;
  Object.defineProperties(target, relayedMembers);
}

/**
 * A client session the engine's rustls ran: the server's certificates (DER, its own
 * first), the CAs the client trusts (its `ca` option, else Node's root certificates),
 * whether the engine checked the chain (rejectUnauthorized) and so opened only if it
 * held, and the engine's socket (Node reports no certificate once the connection is over).
 */
class EngineTlsPeer {
  constructor(certificates, ca, checked, socket) {
    this.certificates = certificates;
    this.ca = ca;
    this.checked = checked;
    this.socket = socket;
    this._x509 = null;
    this._verdict = null;
  }

  /** The certificates as X509Certificate objects, parsed on first use. */
  x509() {
    if (this._x509 === null) this._x509 = this.certificates.map((der) => new X509Certificate(der));
    return this._x509;
  }

  /** Node's getPeerCertificate(detailed) object. */
  peerCertificate(detailed) {
    const chain = this.x509();
    if (chain.length === 0) return {};
    const first = legacyObject(chain[0]);
    if (detailed) linkIssuers(first, chain, trustedCertificates(this.ca));
    return first;
  }

  /** [authorized, authorizationError] as Node's TLSSocket sets them. */
  verdict() {
    if (this._verdict === null) {
      // The engine opened only with a chain that held: rustls checked it (and the name, which `authorized` leaves out).
      const error = this.checked ? null : chainError(this.x509(), trustedCertificates(this.ca), Date.now());
      this._verdict = [error === null, error];
    }
    return this._verdict;
  }
}

/** The members installed on the socket of a session the engine ran (shared functions, as above). */
const engineMembers = {
  getPeerCertificate: {
    value: function getPeerCertificate(detailed) {
      const session = this[kTlsSession];
      return session.socket.closed ? null : session.peerCertificate(detailed);
    },
    configurable: true,
    writable: true,
  },
  getPeerX509Certificate: {
    value: function getPeerX509Certificate() {
      const session = this[kTlsSession];
      return session.socket.closed ? undefined : session.x509()[0];
    },
    configurable: true,
    writable: true,
  },
  encrypted: { value: true, configurable: true, enumerable: true },
  authorized: {
    get() {
      return this[kTlsSession].verdict()[0];
    },
    configurable: true,
    enumerable: true,
  },
  authorizationError: {
    get() {
      return this[kTlsSession].verdict()[1];
    },
    configurable: true,
    enumerable: true,
  },
};

/** `target` (the engine's socket or its stand-in) reports `session`, an EngineTlsPeer. */
function exposeEngineTls(target, session) {
  target[kTlsSession] = session;
  Object.defineProperties(target, engineMembers);
}

/**
 * Node's legacy certificate object (X509Certificate#toLegacyObject gives it but for
 * `infoAccess`, which TLSSocket turns from OpenSSL's text into lists by access method).
 */
function legacyObject(x509) {
  const object = x509.toLegacyObject();
  if (typeof object.infoAccess === 'string') object.infoAccess = accessLists(object.infoAccess);
  return object;
}

/** "OCSP - URI:http://a\nCA Issuers - URI:http://b" -> { 'OCSP - URI': ['http://a'], ... }; quoted values unquoted. */
function accessLists(text) {
  const lists = { __proto__: null };
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const method = line.slice(0, colon);
    let value = line.slice(colon + 1);
    if (value.startsWith('"')) value = JSON.parse(value);
    if (method in lists) lists[method].push(value);
    else lists[method] = [value];
  }
  return lists;
}

/**
 * getPeerCertificate(true)'s `issuerCertificate` links, as Node makes them: through the
 * certificates the server sent (each one's issuer among the rest), then through the
 * trusted ones, up to a self-issued certificate, which is its own issuer.
 */
function linkIssuers(first, chain, trusted) {
  let object = first;
  let current = chain[0];
  const rest = chain.slice(1);
  for (;;) {
    const at = rest.findIndex((candidate) => current.checkIssued(candidate));
    if (at < 0) break;
    current = rest.splice(at, 1)[0];
    object = object.issuerCertificate = legacyObject(current);
  }
  while (!current.checkIssued(current)) {
    const issuer = trusted.find((candidate) => current.checkIssued(candidate) && current.verify(candidate.publicKey));
    if (issuer === undefined) return;
    current = issuer;
    object = object.issuerCertificate = legacyObject(current);
  }
  object.issuerCertificate = object;
}

/**
 * OpenSSL's verdict on a chain for Node's `authorizationError` (null: it holds): the
 * chain built from the sent certificates to a trusted one, then the dates of the
 * certificates on it (OpenSSL goes on after an error, and the last one is reported).
 */
function chainError(chain, trusted, now) {
  if (chain.length === 0) return 'UNABLE_TO_GET_ISSUER_CERT';
  let error = null;
  const path = [chain[0]];
  const rest = chain.slice(1);
  let current = chain[0];
  for (let depth = 0; ; depth++) {
    if (trusted.some((t) => t.raw.equals(current.raw))) break;
    if (trusted.some((t) => current.checkIssued(t) && current.verify(t.publicKey))) break;
    const at = rest.findIndex((candidate) => current.checkIssued(candidate) && current.verify(candidate.publicKey));
    if (at < 0) {
      if (current.checkIssued(current)) error = depth === 0 ? 'DEPTH_ZERO_SELF_SIGNED_CERT' : 'SELF_SIGNED_CERT_IN_CHAIN';
      else error = depth === 0 ? 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' : 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY';
      break;
    }
    current = rest.splice(at, 1)[0];
    path.push(current);
  }
  for (const certificate of path) {
    if (now < Date.parse(certificate.validFrom)) error = 'CERT_NOT_YET_VALID';
    else if (now > Date.parse(certificate.validTo)) error = 'CERT_HAS_EXPIRED';
  }
  return error;
}

/** Node's root certificates, parsed once (only for clients given no `ca`). */
let rootCertificates = null;

/** The CAs a client trusts: its `ca` option (PEM strings or Buffers, bundles allowed), else Node's roots. */
function trustedCertificates(ca) {
  if (ca === undefined || ca === null) {
    if (rootCertificates === null) rootCertificates = tls.rootCertificates.map((pem) => new X509Certificate(pem));
    return rootCertificates;
  }
  // As the engine's TLS configuration reads `ca` (client-connections.js): one PEM text.
  const text = [].concat(ca).map(String).join('\n');
  return (text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) || []).map((pem) => new X509Certificate(pem));
}

module.exports = { exposeRelayedTls, exposeEngineTls, EngineTlsPeer };
