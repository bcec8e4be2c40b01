'use strict';
// Handshakes between a request and the engine's 'connection': each one is
// counted while it may still become a connection (a closing WebSocketServer
// waits for them), and one handed to the engine through handleUpgrade() is
// found again by the one-time ticket header the engine re-reads.

const { randomBytes } = require('crypto');
const { loopTimers } = require('../core');

/** How long a handshake given to the engine may take to open before it is forgotten. */
const HANDSHAKE_GRACE = 15000;

/** One handshake between the request and the engine's 'connection'. */
class Handshake {
  constructor(req, callback) {
    this.req = req;
    this.callback = callback;
    this.protocol = '';
    this.extraHeaders = undefined;
    this.ticket = null;
    this.peer = null; // set for relayed sockets: the address the client really has
    this.tlsSocket = null; // relayed TLS (an https server's): the TLSSocket that reports the session
    this.upgrade = null; // port mode: the core UpgradeRequest to answer
    this.key = undefined; // port mode: Sec-WebSocket-Key, for the 'headers' lines
    this.protocols = null; // port mode: the offered subprotocols
    this.extensions = ''; // port mode: the 101's Sec-WebSocket-Extensions value ('' for none)
    this.ws = null; // handleUpgrade(): the WebSocket already handed out, until the engine opens it
    this.timer = null;
    this.done = false;
  }
}

let ticketPrefix = null;

class HandshakeTracker {
  /**
   * @param onAbandoned(ws) a WebSocket handed out whose connection the engine never
   *   opened (called on a later turn)
   * @param onSettled() a handshake stopped being pending
   */
  constructor(onAbandoned, onSettled) {
    this.onAbandoned = onAbandoned;
    this.onSettled = onSettled;
    this.inflight = new Set(); // handshakes that may still become connections
    this.handovers = new Map(); // ticket -> Handshake, until the engine shows the request
    this.ticketCount = 0;
    if (ticketPrefix === null) ticketPrefix = randomBytes(18).toString('base64url');
  }

  /** Handshakes still pending. */
  get size() {
    return this.inflight.size;
  }

  /** Counts a handshake as pending; `ms` > 0 forgets it after that long (the engine gave up silently). */
  track(handshake, ms) {
    this.inflight.add(handshake);
    if (handshake.timer !== null) loopTimers.clearTimeout(handshake.timer);
    handshake.timer = null;
    if (ms > 0) {
      handshake.timer = loopTimers.setTimeout(() => this.forget(handshake), ms);
      handshake.timer.unref();
    }
  }

  forget(handshake) {
    handshake.done = true;
    if (handshake.ws !== null) {
      // Handed out by handleUpgrade(), but the engine never opened it (the client left,
      // or the hand-over failed): it ends as a dropped connection does in ws.
      const ws = handshake.ws;
      handshake.ws = null;
      loopTimers.setImmediate(this.onAbandoned, ws);
    }
    if (handshake.timer !== null) {
      loopTimers.clearTimeout(handshake.timer);
      handshake.timer = null;
    }
    if (handshake.ticket !== null) this.handovers.delete(handshake.ticket);
    if (this.inflight.delete(handshake)) this.onSettled();
  }

  /** A handshake going to the engine by handleUpgrade(): its ticket, pending for HANDSHAKE_GRACE. */
  handOver(handshake) {
    const ticket = `${ticketPrefix}.${++this.ticketCount}`;
    handshake.ticket = ticket;
    this.handovers.set(ticket, handshake);
    this.track(handshake, HANDSHAKE_GRACE);
    return ticket;
  }

  /** The handshake a ticket the engine re-read belongs to (once), or undefined. */
  claim(ticket) {
    const handshake = this.handovers.get(ticket);
    if (handshake !== undefined) this.handovers.delete(ticket);
    return handshake;
  }

  /** Handshakes that never open (the engine dropped them silently) must not hold close() forever. */
  sweepLater() {
    const sweep = loopTimers.setTimeout(() => {
      for (const handshake of [...this.inflight]) this.forget(handshake);
    }, HANDSHAKE_GRACE);
    sweep.unref();
  }
}

module.exports = { Handshake, HandshakeTracker };
