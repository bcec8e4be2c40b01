'use strict';
// Sends in flight, as ws shows them (bufferedAmount and send callbacks).
//
// ws writes a frame to its socket at once: the kernel takes it whole unless the
// socket is backed up, so bufferedAmount stays 0, and the callback runs on the
// next tick. A compressed message waits for zlib instead, and what is sent behind
// it waits with it: those count in full (uncompressed) until each is compressed.
// Here a tick's sends reach the engine when the tick ends (the core's flush), and
// the engine compresses them then: until that flush they are in ws's state.
// websocket.js decides when; this module keeps the queues.

const { loopTimers } = require('../core');

/** What the kernel is taken to accept at once from one tick's sends (ws: a socket's free send buffer). */
const KERNEL_TAKES = 64 * 1024;

/**
 * Bytes sent with a callback in this turn of the event loop, per WebSocket.
 * ws runs the callback of a write the kernel took whole on the next tick, so a
 * writer that sends again from each callback (websocket-stream, the writable
 * side of createWebSocketStream) runs without the loop turning until the
 * kernel's buffer is full, and then waits for the socket. The engine reports a
 * backlog only once it has the tick's sends, and such a writer does not wait
 * for that report: past KERNEL_TAKES in one turn, the callbacks wait for the
 * engine to say that what was sent is written (websocket.js settleCallbacks).
 * Without that, everything the writer has goes to the engine's queue.
 */
const sentThisTurn = new Map();
let turnEndScheduled = false;

function endTurn() {
  turnEndScheduled = false;
  sentThisTurn.clear();
}

function countSentThisTurn(ws, bytes) {
  if (!turnEndScheduled) {
    turnEndScheduled = true;
    loopTimers.setImmediate(endTurn);
  }
  sentThisTurn.set(ws, (sentThisTurn.get(ws) || 0) + bytes);
}

/** True once the WebSocket's sends with a callback in this turn exceed what the kernel takes at once. */
function sentPastKernelThisTurn(ws) {
  const sent = sentThisTurn.get(ws);
  return sent !== undefined && sent > KERNEL_TAKES;
}

/**
 * The sends from a compressed message on, in one tick (`epoch`): `sends` holds
 * [length, callback] pairs; `bytes` what bufferedAmount counts for them.
 */
class CompressionQueue {
  constructor(epoch) {
    this.epoch = epoch;
    this.bytes = 0;
    this.sends = [];
    this.dropped = false; // terminate() in the same tick: the engine drops them with the socket
  }

  /**
   * Its bytes count no more; its callbacks join `callbacks` (an array, or null
   * for none yet), in order. Returns the array (or null if still none).
   */
  retire(callbacks) {
    this.bytes = 0;
    for (let i = 1; i < this.sends.length; i += 2) {
      const cb = this.sends[i];
      if (cb === undefined) continue;
      if (callbacks === null) callbacks = [cb];
      else callbacks.push(cb);
    }
    this.sends = [];
    return callbacks;
  }

  /** Each send is compressed and written: its callback runs with the bytes behind it still counted. */
  settle() {
    const sends = this.sends;
    this.sends = [];
    for (let i = 0; i < sends.length; i += 2) {
      this.bytes -= sends[i];
      if (sends[i + 1] !== undefined) sends[i + 1](null);
    }
  }

  /** The sends never left (the socket was terminated): each callback gets an error. */
  fail() {
    for (let i = 1; i < this.sends.length; i += 2) {
      if (this.sends[i] !== undefined) this.sends[i](new Error('The socket was closed while data was being compressed'));
    }
  }
}

/**
 * The core of a WebSocket handed out before the engine has its connection:
 * handleUpgrade()'s callback runs at once, as in ws, while the engine is still
 * taking the socket over. What the WebSocket asks of the core meanwhile is kept
 * here and replayed, in order, once the connection is open.
 */
class PendingCore {
  constructor(core) {
    this.options = core.options;
    this.core = core;
    // Made on first use: most sockets open before they are asked anything (one
    // array and one Set less per handshake).
    this.calls = null;
    this.bytes = 0;
    this.topics = null; // subscriptions made before the socket opened (latin1 keys of the topics' bytes)
  }

  _record(call) {
    if (this.calls === null) this.calls = [call];
    else this.calls.push(call);
  }

  subscribe(socket, topic) {
    const key = Buffer.from(topic).toString('latin1');
    if (this.topics === null) this.topics = new Set();
    if (this.topics.has(key)) return false;
    this.topics.add(key);
    this._record(['subscribe', topic]);
    return true;
  }

  unsubscribe(socket, topic) {
    if (this.topics === null || !this.topics.delete(Buffer.from(topic).toString('latin1'))) return false;
    this._record(['unsubscribe', topic]);
    return true;
  }

  isSubscribed(socket, topic) {
    return this.topics !== null && this.topics.has(Buffer.from(topic).toString('latin1'));
  }

  getTopics() {
    return this.topics === null ? [] : [...this.topics].map((key) => Buffer.from(key, 'latin1').toString('utf8'));
  }

  /** The real core's command epochs. */
  commandEpoch() {
    return this.core.commandEpoch();
  }

  send(socket, data, ...rest) {
    // A copy: the caller may reuse its buffer once send() returns, as the core allows.
    let copy = data;
    if (ArrayBuffer.isView(data)) copy = Buffer.from(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    else if (typeof data !== 'string') copy = Buffer.from(new Uint8Array(data)); // ArrayBuffer, SharedArrayBuffer
    this.bytes += typeof copy === 'string' ? Buffer.byteLength(copy) : copy.length;
    this._record(['send', copy, ...rest]);
    return true;
  }

  getBufferedAmount() {
    return this.bytes;
  }

  replay(core, socket) {
    const calls = this.calls;
    if (calls === null) return;
    this.calls = null;
    for (const [method, ...args] of calls) core[method](socket, ...args);
  }
}
for (const method of ['ping', 'pong', 'close', 'terminate', 'pause', 'resume', 'writeRaw', 'endWhenWritten', 'reportWhenWritten']) {
  PendingCore.prototype[method] = function record(socket, ...args) {
    this._record([method, ...args]);
    return true;
  };
}

/**
 * A WebSocket's `_socket` until the engine's opens: the peer's address, nothing queued.
 * `socket`: the engine's socket already reserved for it (a client's), which ref()
 * and unref() reach (engine.io-client unrefs ws's `_socket` at 'open').
 */
class PendingSocket {
  constructor(remoteAddress, remotePort, remoteFamily, socket = null) {
    this.backlog = 0;
    this.remoteAddress = remoteAddress;
    this.remotePort = remotePort;
    this.remoteFamily = remoteFamily;
    this._target = socket;
    this._tcpCalls = null; // setNoDelay/setKeepAlive before there is a socket to set them on
  }

  setNoDelay(...args) {
    return this._tcp('setNoDelay', args);
  }

  setKeepAlive(...args) {
    return this._tcp('setKeepAlive', args);
  }

  _tcp(method, args) {
    if (this._target !== null) this._target[method](...args);
    else if (this._tcpCalls === null) this._tcpCalls = [[method, args]];
    else this._tcpCalls.push([method, args]);
    return this;
  }

  /** The engine's socket stands for the connection now: what was set meanwhile applies to it. */
  handOver(socket) {
    const calls = this._tcpCalls;
    this._tcpCalls = null;
    if (calls !== null) for (const [method, args] of calls) socket[method](...args);
  }

  unref() {
    if (this._target !== null) this._target.unref();
    return this;
  }

  ref() {
    if (this._target !== null) this._target.ref();
    return this;
  }
}

module.exports = { KERNEL_TAKES, countSentThisTurn, sentPastKernelThisTurn, CompressionQueue, PendingCore, PendingSocket };
