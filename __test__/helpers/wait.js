'use strict';
// Bounded waits and small client helpers shared by the suites: every wait
// rejects after its time limit, so a broken feature fails a test instead of hanging it.

/** Rejects when `promise` has not settled after `ms`. */
function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** `new Promise(fn)` with a time limit: `within(5000, 'open', (done, fail) => ...)`. */
function within(ms, what, fn) {
  return withTimeout(new Promise((resolve, reject) => fn(resolve, reject)), ms, what);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `predicate()` until it returns something truthy, which it resolves with. */
async function waitUntil(predicate, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * Resolves `grace` ms after `done()` is first seen true (what comes late still lands in a
 * transcript), or after `ms` without it (the transcript then shows what is missing).
 * `timer`: the setTimeout to poll with (the real one where a test fakes the global's).
 */
function settle(done, ms = 3000, { grace = 100, timer = setTimeout } = {}) {
  return new Promise((resolve) => {
    const deadline = Date.now() + ms;
    const poll = () => {
      if (done() || Date.now() > deadline) {
        timer(resolve, grace);
        return;
      }
      timer(poll, 5);
    };
    poll();
  });
}

/** Resolves with the arguments of `event`; rejects on 'error' first. */
function once(emitter, event, ms = 5000) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const onEvent = (...args) => {
        if (event !== 'error') emitter.removeListener('error', onError);
        resolve(args);
      };
      const onError = (err) => {
        emitter.removeListener(event, onEvent);
        reject(err);
      };
      emitter.once(event, onEvent);
      if (event !== 'error') emitter.once('error', onError);
    }),
    ms,
    `'${event}'`,
  );
}

const OPEN = 1;
const CLOSED = 3;

/** Resolves with a client WebSocket once it is open. */
function opened(ws, ms = 5000) {
  if (ws.readyState === OPEN) return Promise.resolve(ws);
  return withTimeout(
    new Promise((resolve, reject) => {
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
      ws.once('close', (code) => reject(new Error(`closed (${code}) before opening`)));
    }),
    ms,
    'client open',
  );
}

/** Resolves with `{ code, reason }` once a WebSocket is closed. */
function closed(ws, ms = 5000) {
  return withTimeout(
    new Promise((resolve) => {
      if (ws.readyState === CLOSED) resolve({ code: undefined, reason: '' });
      ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    }),
    ms,
    "'close'",
  );
}

/** Queues a WebSocket's messages (client or server side); `next()` takes them in order. */
function inbox(ws) {
  const queue = [];
  const waiters = [];
  ws.on('message', (data, isBinary) => {
    const m = { data, isBinary };
    if (waiters.length) waiters.shift()(m);
    else queue.push(m);
  });
  return {
    queue,
    next(ms = 5000) {
      if (queue.length) return Promise.resolve(queue.shift());
      return withTimeout(new Promise((resolve) => waiters.push(resolve)), ms, 'a message');
    },
  };
}

/** Closes an http server and its connections; bounded, never rejects. */
function closeHttp(server) {
  return withTimeout(
    new Promise((resolve) => {
      if (typeof server.closeAllConnections === 'function') server.closeAllConnections();
      server.close(() => resolve());
    }),
    5000,
    'http server close',
  ).catch(() => {});
}

module.exports = { withTimeout, within, sleep, waitUntil, settle, once, opened, closed, inbox, closeHttp };
