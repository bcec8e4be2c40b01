'use strict';
// Sockets the engine cannot adopt by descriptor (TLS sockets from an https
// server, any other Duplex) reach it through a loopback TCP connection: the
// engine adopts one end, and the bytes between the other end and the user's
// stream are pumped here. The engine still does all the WebSocket work
// (framing, UTF-8, limits, close handshake); Node only moves decrypted bytes.

const net = require('net');
const loopTimers = require('./loop-timers');

let relay = null; // { server, port, error, waiting: [] } once started
const unclaimed = new Map(); // accepted loopback sockets by their peer port, not yet claimed
const claims = new Map(); // peer port -> callback waiting for the accepted socket

const UNCLAIMED_TIMEOUT = 10000;

function onAccepted(inner) {
  const port = inner.remotePort;
  const claim = claims.get(port);
  if (claim !== undefined) {
    claims.delete(port);
    claim(inner);
    return;
  }
  // The connect callback has not run yet (or this is a stranger): keep it briefly.
  inner.on('error', () => inner.destroy());
  const timer = loopTimers.setTimeout(() => {
    unclaimed.delete(port);
    inner.destroy();
  }, UNCLAIMED_TIMEOUT);
  timer.unref();
  unclaimed.set(port, { inner, timer });
}

function claim(port, callback) {
  const entry = unclaimed.get(port);
  if (entry !== undefined) {
    unclaimed.delete(port);
    loopTimers.clearTimeout(entry.timer);
    entry.inner.removeAllListeners('error');
    callback(entry.inner);
  } else {
    claims.set(port, callback);
  }
}

/** Starts (once per process) the loopback listener; `callback(err, port)`. */
function withRelay(callback) {
  if (relay !== null) {
    if (relay.port !== null || relay.error !== null) return callback(relay.error, relay.port);
    relay.waiting.push(callback);
    return;
  }
  const server = net.createServer({ noDelay: true }, onAccepted);
  relay = { server, port: null, error: null, waiting: [callback] };
  const settle = (err) => {
    const waiting = relay.waiting.splice(0);
    if (err) {
      relay = null; // a later handshake may try again
      for (const cb of waiting) cb(err, null);
      return;
    }
    relay.port = server.address().port;
    for (const cb of waiting) cb(null, relay.port);
  };
  server.once('error', settle);
  server.listen(0, '127.0.0.1', () => {
    server.removeListener('error', settle);
    server.on('error', () => {});
    server.unref(); // the relay never keeps the process alive on its own
    settle(null);
  });
}

/** A connected loopback pair: `callback(err, outer, inner)`; the engine is to adopt `inner`. */
function loopbackPair(callback) {
  withRelay((err, port) => {
    if (err) return callback(err);
    const outer = net.connect({ port, host: '127.0.0.1', noDelay: true });
    let settled = false;
    const fail = (e) => {
      if (settled) return;
      settled = true;
      outer.destroy();
      callback(e);
    };
    outer.once('error', fail);
    outer.once('connect', () => {
      claim(outer.localPort, (inner) => {
        if (settled) return inner.destroy();
        settled = true;
        outer.removeListener('error', fail);
        callback(null, outer, inner);
      });
    });
  });
}

/**
 * Pumps bytes both ways between the user's stream and the loopback end, with
 * backpressure (pipe), half-closes passed on, and either side's failure
 * tearing down both.
 */
function pump(stream, outer) {
  if (typeof stream.setTimeout === 'function') stream.setTimeout(0);
  if (typeof stream.setNoDelay === 'function') stream.setNoDelay(true);
  stream.pipe(outer);
  outer.pipe(stream);
  const onStreamError = () => {
    stream.destroy();
    outer.destroy();
  };
  stream.on('error', onStreamError);
  outer.on('error', onStreamError);
  // A side that closed without ending cleanly takes the other with it; after an
  // orderly end the other side finishes writing first (pipe ends it).
  stream.on('close', () => {
    if (!stream.readableEnded) outer.destroy();
  });
  outer.on('close', () => {
    if (!outer.readableEnded) stream.destroy();
  });
}

module.exports = { loopbackPair, pump };
