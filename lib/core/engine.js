'use strict';
// The engine adapter: loads the native engine (lib/native-path.js) and
// owns one NativeServer with its command buffer. Everything that crosses the
// N-API boundary goes through here: commands leave in one `submit` per batch or
// tick (large payloads by `stash`/`stashLent`), events arrive as one ArrayBuffer
// per batch at the `onBatch` callback.

const { loadNative } = require('../native-path');
const { CommandWriter } = require('./wire');
const loopTimers = require('./loop-timers');

// A local build, else this platform's prebuilt package (lib/native-path.js). A test asking
// the engine to panic on a payload (LWS_TEST_PANIC_ON) needs the build that has fault
// injection compiled in; release builds ignore the variable.
const { binding } = loadNative({ faultInjection: Boolean(process.env.LWS_TEST_PANIC_ON) });

/** A payload framed once by the engine, for any number of SEND_PREPARED commands. */
function prepare(bytes) {
  return binding.prepare(bytes);
}

class Engine {
  /**
   * @param engineOptions the `engine` part of normalizeOptions()'s result
   * @param onBatch(arrayBuffer, length) receives each event batch (lent: detached afterwards;
   *   or, with `length`, its first `length` bytes: a buffer the engine uses again, for
   *   batches JS takes nothing from by reference)
   *   The engine passes null instead when it stopped with events left so that the
   *   event loop can turn: they are asked for again from setImmediate.
   */
  constructor(engineOptions, onBatch) {
    try {
      this.native = new binding.NativeServer(engineOptions, (batch, length) => {
        if (batch === null) loopTimers.setImmediate(() => this.native.reschedule());
        else onBatch(batch, length);
      });
    } catch (err) {
      // The engine refused its settings (for now only TLS material can be refused there).
      const e = new TypeError(err.message);
      e.code = 'ERR_LWS_TLS_CONFIG';
      throw e;
    }
    const native = this.native;
    this.commands = new CommandWriter(
      (cmds, prepared) => native.submit(cmds, prepared),
      (bytes) => native.stash(bytes),
      (offset, length) => native.stashLent(offset, length),
    );
    /** True while an event batch is dispatched: its commands leave when it ends. */
    this.dispatching = false;
    this.flushScheduled = false;
    this.referenced = false;
    this.flushTick = () => {
      this.flushScheduled = false;
      this.commands.flush();
    };
  }

  /**
   * Commands written outside a batch leave at the end of the tick. The engine is
   * told they are coming: a peer's close that arrives meanwhile is left for JS to
   * answer, as one of them may close that socket first (ws would have written it).
   */
  schedule() {
    if (!this.dispatching && !this.flushScheduled) {
      this.flushScheduled = true;
      this.native.commandsPending();
      process.nextTick(this.flushTick);
    }
  }

  /** The engine has stopped (SHUTDOWN): frees it; nothing keeps the process alive any more. */
  dispose() {
    this.native.dispose();
    this.referenced = false;
  }

  /** Keeps the process alive (`true`) or not, as net.Server's ref()/unref(). */
  setReferenced(want) {
    if (want === this.referenced) return;
    this.referenced = want;
    if (want) this.native.ref();
    else this.native.unref();
  }
}

module.exports = { Engine, prepare };
