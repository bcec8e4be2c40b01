'use strict';
// The event loop's timers, as Node had them when lws loaded. A test that fakes
// the global timers afterwards (sinon's useFakeTimers, jest's fake timers, as
// MQTT.js's own suite does) leaves ws working: ws waits on no timer of its own
// to write, to report a socket's end or to time a handshake (I/O events and
// Node's socket timeouts, which those fakes do not reach). lws's own turns of
// the loop (the engine's reschedule, the turns before 'close', ...) and its
// stand-ins for Node's socket timeouts use these, so faked timers do not stop
// them either. What ws itself times with the global timers (the close timer,
// allowSynchronousEvents: false) keeps using the globals.

const timers = require('timers');

module.exports = {
  setImmediate: timers.setImmediate,
  clearImmediate: timers.clearImmediate,
  setTimeout: timers.setTimeout,
  clearTimeout: timers.clearTimeout,
};
