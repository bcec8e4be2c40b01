'use strict';
// What changes a CoreServer's state when the engine reports it (batch-decoder.js
// calls EngineRecords: sockets opening and closing, requests, answers to client
// connections, the Redis link, counters), and how a pending request answers
// (requests.js calls RequestAnswers). Private to lib/core: both reach into the
// CoreServer (core-server.js) they serve.

const util = require('util');
const { Command, CLIENT_ID_BIT } = require('./wire');
const { Socket, kId, kServer, kExtras, extrasOf, drained } = require('./socket');
const { UpgradeRequest, HttpRequest, headerLines } = require('./requests');
const { requestHead, socketOnDescriptor } = require('./fd-adoption');

// NODE_DEBUG=lws (util.debuglog): read once; off, each log call is one test of a constant.
const debuglog = util.debuglog('lws');
const debug = debuglog.enabled ? debuglog : null;

/** What JS counts for stats(): everything it sees anyway (the engine counts the rest). */
class Counters {
  constructor() {
    this.opened = 0;
    this.closed = 0;
    this.messagesIn = 0;
    this.bytesIn = 0;
    this.messagesOut = 0;
    this.bytesOut = 0;
    this.dropped = 0;
    this.closeCodes = Object.create(null);
    this.protocolErrors = Object.create(null);
    this.refusedByJs = Object.create(null); // complete responses JS wrote (refuseWith)
  }

  countClose(code, errorCode) {
    this.closed++;
    this.closeCodes[code] = (this.closeCodes[code] || 0) + 1;
    if (errorCode !== undefined) this.protocolErrors[errorCode] = (this.protocolErrors[errorCode] || 0) + 1;
  }
}

/** The records of an event batch that change the server's state (batch-decoder.js calls these). */
class EngineRecords {
  constructor(server) {
    this.server = server;
  }

  countMessages(messages, bytes) {
    const counters = this.server._counters;
    counters.messagesIn += messages;
    counters.bytesIn += bytes;
  }

  /** The Redis link went up or down ('redis' (state, error)). */
  redis(up, errno, reason) {
    const server = this.server;
    const state = up ? 'up' : 'down';
    if (server._redisState === state) return;
    server._redisState = state;
    let err;
    if (!up) {
      const { host, port, cluster } = server.options.pubsub;
      // A cluster's link names the node (the reason beside an errno); one server is named as given.
      const node = cluster ? reason : `${host}:${port}`;
      if (errno) err = Object.assign(new Error(`Redis: connect ${util.getSystemErrorName(-errno)} ${node}`), { code: util.getSystemErrorName(-errno) });
      else if (reason.length) err = new Error(`Redis: ${reason}`);
      else err = new Error(`Redis: the connection to ${host}:${port} closed`);
    }
    server.emit('redis', state, err);
  }

  countDropped() {
    this.server._counters.dropped++;
  }

  /** A client connection's answer (`response`: statusCode, statusMessage, rawHeaders, body). */
  response(id, response) {
    const server = this.server;
    const socket = server._pending.get(id);
    // After anything but a 101 the engine closes the connection itself: 'close' follows.
    if (socket !== undefined) server.emit('response', socket, response);
  }

  /** A client socket still connecting (CLOSE events for it come here). */
  pendingSocket(id) {
    const pending = this.server._pending.get(id);
    return pending instanceof Socket ? pending : undefined;
  }

  open(id, fd, peer, extensions) {
    const server = this.server;
    const socket = server._pending.get(id) || new Socket(id);
    server._pending.delete(id);
    socket.setFd(fd);
    socket.setPeer(peer);
    socket.extensions = extensions;
    server._sockets.set(id, socket);
    socket[kServer] = server;
    server._counters.opened++;
    server._updateRef();
    if (debug !== null) debug('open connection %d (fd %d) from %s port %s%s', id, fd, socket.remoteAddress, socket.remotePort, extensions ? `, extensions: ${extensions}` : '');
    // Outgoing connections (ids with CLIENT_ID_BIT) open, accepted ones connect.
    if (id < CLIENT_ID_BIT) return void server.emit('connection', socket);
    const info = server._openInfo.get(id);
    if (info !== undefined) server._openInfo.delete(id);
    server.emit('open', socket, info);
  }

  close(socket, code, reason, errorCode, errorDetail) {
    const server = this.server;
    server._sockets.delete(socket[kId]);
    if (server._pending.get(socket[kId]) === socket) server._pending.delete(socket[kId]);
    server._openInfo.delete(socket[kId]);
    server._unreferenced.delete(socket);
    socket.markClosed();
    socket[kServer] = null;
    if (debug !== null) debug('close connection %d: code %d%s%s', socket[kId], code, reason ? ` reason ${JSON.stringify(reason)}` : '', errorCode ? `, error ${errorCode} (${errorDetail})` : '');
    if (errorCode === 'LWS_ERR_INTERNAL') server._reportInternalError(socket);
    server._counters.countClose(code, errorCode);
    server._forgetSubscriptions(socket);
    if (server._messageStreams !== null) server._messageStreams.closed(socket, code, reason, errorCode);
    try {
      server._beforeClose(socket, code, reason, errorCode, errorDetail);
      server.emit('close', socket, code, reason, errorCode, errorDetail);
    } finally {
      socket.userData = undefined; // valid until the close callback ends
      server._updateRef();
    }
  }

  upgrade(id, fd, req) {
    const server = this.server;
    const request = new UpgradeRequest(server, server._answers, id, req);
    const socket = new Socket(id);
    socket.setFd(fd);
    socket.setPeer({ remoteAddress: request.remoteAddress, remotePort: request.remotePort, remoteFamily: request.remoteFamily });
    request.socket = socket;
    server._pending.set(id, socket);
    // A listener returning true refuses (403); returning an HTTP status refuses with it;
    // calling request.defer() leaves the answer to a later request.accept()/refuse().
    let status = 500; // a throwing listener refuses with 500
    try {
      let refusal = 0;
      for (const listener of server.listeners('upgrade')) {
        const verdict = listener.call(server, socket, request.headers, request);
        if (verdict === true) refusal = refusal || 403;
        else if (Number.isInteger(verdict) && verdict >= 400 && verdict <= 599) refusal = verdict;
      }
      status = refusal;
    } finally {
      if (status) request.refuse(status);
      else if (!request.deferred) request.accept();
    }
  }

  http(id, req) {
    const server = this.server;
    const request = new HttpRequest(server, server._answers, id, req);
    server._pending.set(id, request);
    server._updateRef();
    server.emit('http', request, request);
  }

  aborted(id) {
    const server = this.server;
    server._handOffHeads.delete(id);
    const pending = server._pending.get(id);
    server._pending.delete(id);
    server._updateRef();
    if (debug !== null) debug('aborted request %d: the client went away before its answer', id);
    if (pending !== undefined) {
      // Accepted too late (the client had gone): the socket takes no more commands.
      if (pending instanceof Socket && id < CLIENT_ID_BIT) pending[kServer] = null;
      pending.aborted = true;
      server.emit('aborted', pending);
    }
  }

  shutdown() {
    const server = this.server;
    server._closed = true;
    server._engineStats = server._engine.native.stats();
    if (debug !== null) debug('server stopped');
    server._engine.dispose();
    const callbacks = server._closeCallbacks.splice(0);
    for (const cb of callbacks) process.nextTick(cb);
  }

  buffered(id, bytes) {
    const socket = this.server._sockets.get(id);
    if (socket !== undefined) extrasOf(socket).backlog = bytes;
  }

  drain(id) {
    const socket = this.server._sockets.get(id);
    if (socket !== undefined) {
      drained(socket);
      if (this.server._messageStreams !== null) this.server._messageStreams.drained(socket);
      this.server.emit('drain', socket);
    }
  }

  fail(id, code) {
    // The replies to earlier messages are already queued: the close frame follows them.
    // It carries the code alone, as ws's does (the reason text goes to 'close').
    this.server._commands.bytes(Command.CLOSE, 0, code, id, null);
  }

  /**
   * The peer's close frame, after the messages before it were handled: what
   * listeners send now still leaves before the reply, which echoes code and reason.
   */
  peerClose(id, code, reply, answered) {
    const server = this.server;
    const socket = server._sockets.get(id);
    try {
      if (socket !== undefined) {
        const reason = reply.toString('utf8');
        server._peerClosing(socket, code, reason);
        if (server.listenerCount('closing') > 0) server.emit('closing', socket, code, reason);
      }
    } finally {
      // The engine answered already (nobody listens to 'closing' and JS had handled
      // everything before): nothing to send. A paused socket is not read: its close
      // handshake waits for resume() too.
      if (answered) return;
      const extras = socket === undefined ? null : socket[kExtras];
      if (extras !== null && extras.paused) extras.closeReply = [code, Buffer.from(reply)];
      else server._commands.bytes(Command.CLOSE, 0, code, id, reply);
    }
  }

  /**
   * A connection the engine did not upgrade (plain HTTP, a malformed or refused
   * upgrade) goes to the `httpServer` option's server as if it had accepted it:
   * a net.Socket on the descriptor, with the bytes the engine read put back.
   */
  handOff(id, fd, bytes) {
    const server = this.server;
    const rebuilt = server._handOffHeads.get(id); // a request JS was shown, then handed off
    server._handOffHeads.delete(id);
    const head = rebuilt === undefined ? Buffer.from(bytes) : Buffer.concat([rebuilt, bytes]); // copies: the batch is lent
    let socket;
    try {
      socket = socketOnDescriptor(fd, head);
    } catch (err) {
      if (debug !== null) debug('hand-off of connection %d failed: %s', id, err.message);
      server.emit('error', err);
      return;
    }
    if (debug !== null) debug('handed connection %d to the httpServer option\'s server', id);
    server.options.httpServer.emit('connection', socket);
  }
}

/** How a pending request answers (requests.js calls these). */
class RequestAnswers {
  constructor(server) {
    this.server = server;
  }

  closed() {
    return this.server._closed;
  }

  /** An upgrade's answer: 101 (with `headers` added) or a refusal status. */
  upgrade(id, status, headers) {
    const server = this.server;
    const lines = headerLines(headers);
    if (status === 101) {
      server._commands.bytes(Command.ACCEPT, 0, 0, id, lines ? Buffer.from(lines, 'latin1') : null);
    } else {
      if (debug !== null) debug('refused upgrade %d with %d', id, status);
      server._pending.delete(id);
      server._commands.bytes(Command.REFUSE, 0, status, id, lines ? Buffer.from(lines, 'latin1') : null);
      server._updateRef();
    }
    server._engine.schedule();
  }

  /** A complete HTTP response, sent as is; the connection closes after it. */
  raw(id, bytes) {
    const server = this.server;
    const status = Number(bytes.latin1Slice(9, 12)); // "HTTP/1.1 NNN"
    if (status >= 400) server._counters.refusedByJs[status] = (server._counters.refusedByJs[status] || 0) + 1;
    if (debug !== null) debug('refused upgrade %d with a response written by JS: %s', id, JSON.stringify(bytes.toString('latin1', 0, 64).split('\r')[0]));
    server._pending.delete(id);
    server._commands.bytes(Command.HTTP_RESPONSE, 0, 0, id, bytes);
    server._updateRef();
    server._engine.schedule();
  }

  /** The connection goes to the `httpServer` option's server (EngineRecords#handOff). */
  handOff(request) {
    const server = this.server;
    const id = request[kId];
    server._pending.delete(id);
    // The engine keeps only what followed the request head: the head is rebuilt from what JS was shown.
    server._handOffHeads.set(id, Buffer.from(requestHead(request.method, request.url, request.rawHeaders), 'latin1'));
    server._commands.bytes(Command.HAND_OFF, 0, 0, id, null);
    server._updateRef();
    server._engine.schedule();
  }
}

module.exports = { Counters, EngineRecords, RequestAnswers };
