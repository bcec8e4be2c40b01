'use strict';
// The http server's socket timeout after the upgrade. Node keeps a socket's
// timeout (server.setTimeout(ms), or one set in an earlier 'upgrade' listener)
// on the upgraded socket, and walve answers its 'timeout' with an empty close
// frame, once: with a timeout set, idle walve connections are closed. The
// engine owns the connection now, so the timer is kept here, restarted by what
// the socket reads and writes (its frames), as Node's is by its reads and writes.

class IdleTimer {
  /** @param {number} ms the timeout (> 0) @param {() => void} onIdle called once */
  constructor(ms, onIdle) {
    // Unref'd, as Node's socket timeouts: an idle connection does not keep the process alive.
    this.timer = setTimeout(() => {
      this.timer = null; // once: a touch after it must not start it again
      onIdle();
    }, ms);
    this.timer.unref();
  }

  /** Something was read or written: the idle time starts again. */
  touch() {
    if (this.timer !== null) this.timer.refresh();
  }

  stop() {
    if (this.timer === null) return;
    clearTimeout(this.timer);
    this.timer = null;
  }
}

/** The timeout Node set on `socket` (0: none). */
function timeoutOf(socket) {
  return Number.isFinite(socket.timeout) && socket.timeout > 0 ? socket.timeout : 0;
}

module.exports = { IdleTimer, timeoutOf };
