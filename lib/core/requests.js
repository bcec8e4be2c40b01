'use strict';
// The requests the engine shows JS before it answers them: an upgrade (answered
// when the 'upgrade' listeners return, or later after defer()) and a plain HTTP
// request (answered with respond()). A request answers through the `answers`
// object of the server that made it (core-server.js RequestAnswers):
// closed(), upgrade(id, status, headers), raw(id, bytes), handOff(request).

const { kId, kServer } = require('./socket');

const kAnswers = Symbol('lws.answers');

/** Header lines (`Name: value\r\n`...) from an object, refusing CR/LF injection. */
function headerLines(headers) {
  if (!headers) return '';
  let out = '';
  for (const [name, value] of Object.entries(headers)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (/[\r\n]/.test(String(name) + String(v))) throw new TypeError(`Invalid header ${name}`);
      out += `${name}: ${v}\r\n`;
    }
  }
  return out;
}

/** What the engine showed JS about a request waiting for an answer. */
class PendingRequest {
  constructor(server, answers, id, req) {
    this.server = server;
    this[kAnswers] = answers;
    this[kId] = id;
    this.method = req.method;
    this.url = req.url;
    this.headers = req.headers;
    this.rawHeaders = req.rawHeaders;
    this.remoteAddress = req.remoteAddress;
    this.remotePort = req.remotePort;
    this.remoteFamily = req.remoteFamily;
    this.answered = false;
    this.aborted = false;
  }
}

/**
 * The request behind an 'upgrade' event. Answered when the listeners return,
 * unless one called `defer()`: then `accept()` or `refuse()` answers later.
 */
class UpgradeRequest extends PendingRequest {
  constructor(server, answers, id, req) {
    super(server, answers, id, req);
    this.socket = null;
    this.deferred = false;
  }

  /** Keeps the handshake waiting for a later accept() or refuse(). */
  defer() {
    this.deferred = true;
    return this;
  }

  /**
   * Completes the handshake; `headers` are added to the 101 response. False if too late.
   * The socket takes sends, pings and close() from now on, before 'connection': the
   * engine opens it at this answer, so they go out right behind the 101.
   */
  accept(headers) {
    if (this.answered || this.aborted || this[kAnswers].closed()) return false;
    this.answered = true;
    this[kAnswers].upgrade(this[kId], 101, headers);
    if (this.socket !== null) this.socket[kServer] = this.server;
    return true;
  }

  /** Refuses with an HTTP status (400-599) and optional headers. False if too late. */
  refuse(status = 403, headers) {
    if (!Number.isInteger(status) || status < 400 || status > 599) throw new RangeError(`Invalid refusal status ${status}`);
    if (this.answered || this.aborted || this[kAnswers].closed()) return false;
    this.answered = true;
    this[kAnswers].upgrade(this[kId], status, headers);
    return true;
  }

  /**
   * Refuses with a complete HTTP response written by the caller (status line,
   * headers, body), sent as is; the connection closes after it. False if too late.
   */
  refuseWith(response) {
    if (this.answered || this.aborted || this[kAnswers].closed()) return false;
    this.answered = true;
    this[kAnswers].raw(this[kId], Buffer.from(response, 'latin1'));
    return true;
  }

  /**
   * With the `httpServer` option: gives the connection to that server instead of
   * answering, as if it had accepted it (it reads this same request). False if too late.
   */
  handOff() {
    if (this.answered || this.aborted || this[kAnswers].closed() || !this.server.options.httpServer) return false;
    this.answered = true;
    this[kAnswers].handOff(this);
    return true;
  }
}

/** A plain HTTP request waiting for `respond`. */
class HttpRequest extends PendingRequest {
  constructor(server, answers, id, req) {
    super(server, answers, id, req);
    this.body = req.body;
  }

  /** Answers and closes the connection: `respond(200, { 'content-type': 'text/html' }, body)`. */
  respond(status = 200, headers = {}, body = '') {
    return this.server.respond(this, status, headers, body);
  }
}

module.exports = { UpgradeRequest, HttpRequest, headerLines };
