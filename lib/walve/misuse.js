'use strict';
// How lws/walve reports what walve 2 lets pass silently (a frame shorter than
// its header announced, bytes past it, a frame the protocol forbids): an
// 'error' on the object concerned when someone listens for it, a process
// warning otherwise, so code written for walve (which has no such listeners)
// is told without being crashed by an unhandled 'error'.

/** Reports `message` (code `code`) on `emitter`, or as a process warning. */
function misuse(emitter, code, message) {
  const err = new Error(`lws/walve: ${message}`);
  err.code = code;
  report(emitter, err);
  return err;
}

/** An error for `emitter` if it has 'error' listeners, else a process warning. */
function report(emitter, err) {
  if (emitter && emitter.listenerCount('error') > 0) emitter.emit('error', err);
  else process.emitWarning(err);
}

module.exports = { misuse, report };
