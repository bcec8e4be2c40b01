//! The napi surface: `NativeServer` (one engine) and `prepare`.
//!
//! Events reach JS through one raw threadsafe function per server. Its
//! call-back hands JS one batch of the event queue per call (promise jobs and
//! nextTick callbacks run between two, as between two I/O callbacks of Node's
//! event loop): each batch becomes one ArrayBuffer
//! (an external one lent to JS, no copy, or for a small batch a copy: see `lend`),
//! detached when the JS call returns, so a Buffer kept past the callback reads as
//! empty instead of freed memory. A small batch from which JS takes nothing by
//! reference (opens, closes, drains...) is copied into one ArrayBuffer kept for
//! that instead (see `Bridge::reuse`). With `threads: 0` the same call-back is
//! made directly at the end of the engine's turn on the JS thread (`InlineDispatch`).

use std::cell::Cell;
use std::ffi::c_void;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::FromRawFd;
use std::ptr::null_mut;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi::sys;
use napi::JsValue;
use napi_derive::napi;

use lws_engine::bridge::EventQueue;
use lws_engine::commands::{CommandBatch, Stashed};
use lws_engine::config::Config;
use lws_engine::engine::Engine;
use lws_engine::shared::{Hooks, Shared};
use lws_engine::wire;

/// Batches handed to JS per wake before letting Node's event loop turn
/// (timers, other I/O, and detached buffers are only freed once it does)...
const MAX_BATCHES_PER_WAKE: usize = 16;
/// ... or fewer, once JS has spent this long on them.
const MAX_TIME_PER_WAKE: std::time::Duration = std::time::Duration::from_millis(5);

#[napi(object)]
pub struct DeflateOptions {
    pub server_no_context_takeover: Option<bool>,
    pub client_no_context_takeover: Option<bool>,
    pub server_max_window_bits: Option<u32>,
    pub client_max_window_bits: Option<u32>,
    pub threshold: Option<u32>,
    pub level: Option<u32>,
    /// lws.WebSocketServer's: JS negotiates and names the outcome in the accept headers.
    pub negotiated_by_js: Option<bool>,
}

#[napi(object)]
pub struct EngineOptions {
    pub path: Option<String>,
    pub max_message_size: Option<f64>,
    pub buffer_size: Option<u32>,
    pub max_header_bytes: Option<u32>,
    pub max_headers: Option<u32>,
    pub handshake_timeout_ms: Option<u32>,
    pub close_timeout_ms: Option<u32>,
    pub keep_alive_time_ms: Option<u32>,
    pub keep_alive_interval_ms: Option<u32>,
    pub keep_alive_retry: Option<u32>,
    pub max_http_body: Option<u32>,
    pub threads: Option<u32>,
    pub max_js_backlog: Option<f64>,
    pub idle_timeout_ms: Option<u32>,
    pub max_backpressure: Option<f64>,
    pub backpressure_drop: Option<bool>,
    pub per_message_deflate: Option<DeflateOptions>,
    pub auto_pong: Option<bool>,
    pub skip_utf8_validation: Option<bool>,
    pub hand_off_http: Option<bool>,
    /// Frames, not messages, go to JS (set by lws/walve only).
    pub frame_events: Option<bool>,
    /// 'fragment' pieces end with each frame of a fragmented message (set by lws/nodejs-websocket only).
    pub fragment_per_frame: Option<bool>,
    /// PEM data for TLS (the JS side reads files).
    pub ssl_cert: Option<Buffer>,
    pub ssl_key: Option<Buffer>,
    pub ssl_ca: Option<Buffer>,
    pub ssl_reject_unauthorized: Option<bool>,
}

fn config_from(o: EngineOptions) -> Result<Config> {
    let mut c = Config::default();
    if let (Some(cert), Some(key)) = (&o.ssl_cert, &o.ssl_key) {
        let allow_unauthenticated = o.ssl_reject_unauthorized == Some(false);
        let tls = lws_engine::tls::server_config(cert, key, o.ssl_ca.as_deref(), allow_unauthenticated)
            .map_err(|e| Error::new(Status::InvalidArg, e))?;
        c.tls = Some(tls);
    }
    c.path = o.path;
    if let Some(v) = o.max_message_size {
        c.max_message_size = v.max(0.0) as u64;
    }
    if let Some(v) = o.buffer_size {
        c.buffer_size = v.max(1) as usize;
    }
    if let Some(v) = o.max_header_bytes {
        c.handshake.max_header_bytes = v as usize;
    }
    if let Some(v) = o.max_headers {
        c.handshake.max_headers = v.max(1) as usize;
    }
    if let Some(v) = o.handshake_timeout_ms {
        c.handshake_timeout = Duration::from_millis(v as u64);
    }
    if let Some(v) = o.close_timeout_ms {
        c.close_timeout = Duration::from_millis(v as u64);
    }
    if let Some(time) = o.keep_alive_time_ms.filter(|&t| t > 0) {
        let interval = o.keep_alive_interval_ms.unwrap_or(time);
        c.keepalive = Some((
            Duration::from_millis(time as u64),
            Duration::from_millis(interval.max(1000) as u64),
            o.keep_alive_retry.unwrap_or(3).max(1),
        ));
    }
    if let Some(v) = o.max_http_body {
        c.max_http_body = v as usize;
    }
    if let Some(v) = o.threads {
        // 0: the one worker runs on the JS thread's event loop.
        c.on_js_thread = v == 0;
        c.threads = (v as usize).max(1);
    }
    if let Some(v) = o.idle_timeout_ms.filter(|&v| v > 0) {
        c.idle_timeout = Some(Duration::from_millis(v as u64));
    }
    if let Some(v) = o.max_backpressure {
        c.max_backpressure = v.max(0.0) as usize;
    }
    if let Some(v) = o.backpressure_drop {
        c.backpressure_drop = v;
    }
    if let Some(d) = o.per_message_deflate {
        let mut cfg = lws_proto::deflate::DeflateConfig::default();
        if let Some(v) = d.server_no_context_takeover {
            cfg.server_no_context_takeover = v;
        }
        if let Some(v) = d.client_no_context_takeover {
            cfg.client_no_context_takeover = v;
        }
        if let Some(v) = d.server_max_window_bits {
            cfg.server_max_window_bits = v.clamp(9, 15) as u8;
        }
        cfg.client_max_window_bits = d.client_max_window_bits.map(|v| v.clamp(8, 15) as u8);
        if let Some(v) = d.threshold {
            cfg.threshold = v as usize;
        }
        if let Some(v) = d.level {
            cfg.level = v.min(9);
        }
        cfg.negotiated_by_js = d.negotiated_by_js == Some(true);
        c.deflate = Some(cfg);
    }
    if let Some(v) = o.skip_utf8_validation {
        c.skip_utf8_validation = v;
    }
    if let Some(v) = o.auto_pong {
        c.auto_pong = v;
    }
    if let Some(v) = o.hand_off_http {
        c.hand_off_http = v;
    }
    if let Some(v) = o.frame_events {
        c.frame_events = v;
    }
    if let Some(v) = o.fragment_per_frame {
        c.fragment_per_frame = v;
    }
    if let Some(v) = o.max_js_backlog {
        c.max_js_backlog = v.max(0.0) as usize;
    }
    Ok(c)
}

/// The event callback, and a gate the workers' wake-ups pass under: Node frees a
/// threadsafe function at the environment's teardown even while other threads hold
/// it, so its finalizer (`release_bridge`) clears the cell under the gate, and no
/// wake-up is inside `napi_call_threadsafe_function` then or after (a process ending
/// with an unref()'d connection that still had traffic aborted in uv_mutex_lock).
struct TsfnCell(AtomicPtr<c_void>, Mutex<()>);

impl TsfnCell {
    fn new() -> TsfnCell {
        TsfnCell(AtomicPtr::new(null_mut()), Mutex::new(()))
    }

    fn get(&self) -> sys::napi_threadsafe_function {
        self.0.load(Ordering::Acquire) as sys::napi_threadsafe_function
    }

    /// From a worker: wakes JS unless the callback is gone.
    fn wake(&self) {
        let _gate = self.1.lock().unwrap_or_else(|e| e.into_inner());
        let tsfn = self.get();
        if !tsfn.is_null() {
            unsafe {
                sys::napi_call_threadsafe_function(
                    tsfn,
                    null_mut(),
                    sys::ThreadsafeFunctionCallMode::nonblocking,
                )
            };
        }
    }

    /// The callback is being freed: no wake-up may use it from now on.
    fn clear(&self) {
        let _gate = self.1.lock().unwrap_or_else(|e| e.into_inner());
        self.0.store(null_mut(), Ordering::Release);
    }
}

#[napi]
pub struct NativeServer {
    engine: Engine,
    /// With `threads: 0`: the worker on this thread, which takes command batches directly.
    js_thread_worker: Option<lws_engine::js_loop::JsThreadWorker>,
    tsfn: Arc<TsfnCell>,
    /// Large payloads taken by `stash`, shipped with the next `submit`.
    stashed: Vec<Stashed>,
    /// Shared with the event callback's `Bridge`.
    messages_copied: Arc<AtomicBool>,
}

thread_local! {
    /// The event batch JS is looking at right now (on the JS thread, during
    /// `call_js`). A payload JS forwards from it is referenced, not copied.
    static LENT: std::cell::RefCell<Option<Arc<Vec<u8>>>> = const { std::cell::RefCell::new(None) };
}

/// The ArrayBuffer's reference to its batch goes with the ArrayBuffer.
unsafe extern "C" fn finalize_batch(_env: sys::napi_env, _data: *mut c_void, hint: *mut c_void) {
    drop(Arc::from_raw(hint as *const Vec<u8>));
}

/// `bytes` as a range of the lent batch, if that is where they are.
fn lent_range(bytes: &[u8]) -> Option<Stashed> {
    LENT.with(|lent| {
        let base = lent.borrow().as_ref()?.as_ptr() as usize;
        let start = (bytes.as_ptr() as usize).checked_sub(base)?;
        lent_offset_range(start, bytes.len())
    })
}

/// Bytes `start..start + len` of the lent batch, if it has them.
fn lent_offset_range(start: usize, len: usize) -> Option<Stashed> {
    LENT.with(|lent| {
        let lent = lent.borrow();
        let batch = lent.as_ref()?;
        let end = start.checked_add(len)?;
        (end <= batch.len()).then(|| Stashed { data: Arc::clone(batch), start, end })
    })
}

/// Batches up to this size reach JS as a copy in an ArrayBuffer of V8's own, not lent:
/// Node makes an external ArrayBuffer through a whole Buffer (a typed array, its
/// prototype set, a weak handle, a finalizer run from setImmediate), which costs more
/// than copying a few KiB, and most of all on a JS thread woken after a quiet spell,
/// its caches cold (a publish to 10,000 sockets: ~40 µs a wake).
const COPY_BATCH_MAX: usize = 16 * 1024;

/// Hands `bytes` to JS as an ArrayBuffer: a copy when small (COPY_BATCH_MAX), else an
/// external ArrayBuffer over them that holds a reference. Returns it and whether it is
/// lent (the batch's own memory, which JS may then forward by reference).
unsafe fn lend(env: sys::napi_env, bytes: &Arc<Vec<u8>>) -> Option<(sys::napi_value, bool)> {
    let mut ab = null_mut();
    if bytes.len() <= COPY_BATCH_MAX {
        let mut data = null_mut();
        if sys::napi_create_arraybuffer(env, bytes.len(), &mut data, &mut ab) != sys::Status::napi_ok {
            return None;
        }
        if !bytes.is_empty() {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), data as *mut u8, bytes.len());
        }
        return Some((ab, false));
    }
    let hint = Arc::into_raw(Arc::clone(bytes)) as *mut c_void;
    // JS may write into the lent bytes (it owns the view while the call lasts);
    // the engine only reads a range of them once JS has sent it.
    let status = sys::napi_create_external_arraybuffer(
        env,
        bytes.as_ptr() as *mut c_void,
        bytes.len(),
        Some(finalize_batch),
        hint,
        &mut ab,
    );
    if status != sys::Status::napi_ok {
        finalize_batch(env, null_mut(), hint);
        return None;
    }
    Some((ab, true))
}

/// The threadsafe function's context: the engine's queues, and the ArrayBuffer
/// kept for batches that lend JS nothing. Used on the JS thread only.
struct Bridge {
    shared: Arc<Shared>,
    /// That ArrayBuffer (COPY_BATCH_MAX bytes), made at the first such batch:
    /// such a batch then costs no ArrayBuffer, views or detach of its own (a
    /// connection's OPEN and CLOSE each cost all three otherwise, and the young
    /// generation grows with them in a burst of connections).
    reused: Cell<sys::napi_ref>,
    /// A batch is in `reused` now: a call nested in its dispatch gets a new one.
    reused_busy: Cell<bool>,
    /// JS copies the messages it is given (`setMessagesCopied`): batches of
    /// messages lend nothing then, and may be reused too.
    messages_copied: Arc<AtomicBool>,
    /// The cell that holds this bridge's threadsafe function, cleared at its finalizer.
    tsfn: Arc<TsfnCell>,
    /// The batches handed to JS in this wake (see `call_js`).
    wake: WakeBudget,
    /// The loop's turns, and the turn in which JS last found nothing left to take:
    /// what the engine reads after that waits for the next turn (see `call_js`).
    turns: LoopTurns,
    idle_since: Cell<Option<u64>>,
    /// The next call only finishes the batch JS took last: it comes once that
    /// batch's promise jobs and nextTick callbacks have run (see `call_js`).
    finishing: Cell<bool>,
}

impl Bridge {
    /// `batch` copied into the reused ArrayBuffer, if it lends nothing, fits and
    /// the buffer is free; it is then busy until `release` is called.
    unsafe fn reuse(&self, env: sys::napi_env, batch: &[u8]) -> Option<sys::napi_value> {
        let messages_copied = self.messages_copied.load(Ordering::Relaxed);
        if batch.len() > COPY_BATCH_MAX
            || self.reused_busy.get()
            || !wire::lends_nothing(batch, messages_copied)
        {
            return None;
        }
        let mut ab = null_mut();
        if self.reused.get().is_null() {
            let mut data = null_mut();
            let mut reference = null_mut();
            if sys::napi_create_arraybuffer(env, COPY_BATCH_MAX, &mut data, &mut ab) != sys::Status::napi_ok
                || sys::napi_create_reference(env, ab, 1, &mut reference) != sys::Status::napi_ok
            {
                return None;
            }
            self.reused.set(reference);
        } else if sys::napi_get_reference_value(env, self.reused.get(), &mut ab) != sys::Status::napi_ok
            || ab.is_null()
        {
            return None;
        }
        // Its memory as it is now (nothing detaches it; checked all the same).
        let mut data = null_mut();
        let mut len = 0;
        if sys::napi_get_arraybuffer_info(env, ab, &mut data, &mut len) != sys::Status::napi_ok
            || len < batch.len()
        {
            return None;
        }
        std::ptr::copy_nonoverlapping(batch.as_ptr(), data as *mut u8, batch.len());
        self.reused_busy.set(true);
        Some(ab)
    }

    fn release(&self) {
        self.reused_busy.set(false);
    }
}

unsafe extern "C" fn release_bridge(env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    let bridge = Box::from_raw(data as *mut Bridge);
    bridge.tsfn.clear();
    if !bridge.reused.get().is_null() && !env.is_null() {
        sys::napi_delete_reference(env, bridge.reused.get());
    }
}

/// What handing JS one batch came to.
#[derive(PartialEq)]
enum Step {
    /// The queue was empty: JS counts as idle again (the next push wakes it).
    Idle,
    /// JS was given a batch.
    Dispatched,
    /// A listener threw: reported, and JS comes back for the rest.
    Threw,
}

/// Hands JS the oldest batch. Taking it tells the engine JS has finished with the
/// one before, so it is called again only once that one's promise jobs and
/// process.nextTick callbacks have run: what they send (an answer to a message,
/// as ws would write it before it reads the peer's next bytes) reaches the engine
/// before it may answer a close frame that came after that message, and JS sees
/// that close only then (ws reads it in a later callback from the event loop).
unsafe fn dispatch_one(env: sys::napi_env, js_cb: sys::napi_value, bridge: &Bridge) -> Step {
    let shared = &bridge.shared;
    let Some(batch) = shared.events.take() else {
        return Step::Idle;
    };
    let mut undefined = null_mut();
    sys::napi_get_undefined(env, &mut undefined);
    let mut result = null_mut();
    let status = if let Some(ab) = bridge.reuse(env, &batch) {
        // JS is given the batch's length: the buffer is longer.
        let mut args = [ab, null_mut()];
        sys::napi_create_uint32(env, batch.len() as u32, &mut args[1]);
        drop(batch);
        let status = sys::napi_call_function(env, undefined, js_cb, 2, args.as_ptr(), &mut result);
        bridge.release();
        status
    } else {
        let Some((ab, lent)) = lend(env, &batch) else {
            return Step::Dispatched; // not handed over (no memory): the next call takes the next one
        };
        // A copy is not the batch: what JS forwards from it is copied (JS may have written into it).
        if lent {
            LENT.with(|cell| *cell.borrow_mut() = Some(batch));
        } else {
            drop(batch);
        }
        let status = sys::napi_call_function(env, undefined, js_cb, 1, &ab, &mut result);
        LENT.with(|lent| lent.borrow_mut().take());
        sys::napi_detach_arraybuffer(env, ab);
        status
    };
    if status == sys::Status::napi_pending_exception {
        // The JS side rethrows listener errors after finishing its batch;
        // report it as an uncaught exception and come back for the rest.
        let mut exception = null_mut();
        sys::napi_get_and_clear_last_exception(env, &mut exception);
        shared.events.reschedule();
        sys::napi_fatal_exception(env, exception);
        return Step::Threw;
    }
    Step::Dispatched
}

/// Events may be left: JS is told (a call with null) and comes back for them from
/// setImmediate, after the event loop has turned. Waking through the threadsafe
/// function again would not let it turn: Node drains a threadsafe function's
/// queue up to 1,000 calls in one go, so a flood would starve timers and I/O.
unsafe fn hand_back(env: sys::napi_env, js_cb: sys::napi_value, bridge: &Bridge) {
    let mut null = null_mut();
    sys::napi_get_null(env, &mut null);
    let mut undefined = null_mut();
    sys::napi_get_undefined(env, &mut undefined);
    let mut result = null_mut();
    if sys::napi_call_function(env, undefined, js_cb, 1, &null, &mut result) != sys::Status::napi_ok {
        bridge.shared.events.reschedule();
    }
}

/// Runs on the JS thread when the engine has queued events, in a callback scope
/// of its own (Node runs each call of a threadsafe function in one): one batch
/// per call. For the next, the threadsafe function is called again, which Node
/// does once this call's promise jobs and nextTick callbacks have run.
unsafe extern "C" fn call_js(
    env: sys::napi_env,
    js_cb: sys::napi_value,
    context: *mut c_void,
    _data: *mut c_void,
) {
    if env.is_null() || js_cb.is_null() {
        return;
    }
    let bridge = &*(context as *const Bridge);
    if bridge.finishing.replace(false) {
        // The last batch's promise jobs have run: it is finished, and the engine may
        // answer a peer's close itself, even while JS is busy later on.
        if bridge.shared.events.finish_and_park() {
            bridge.idle_since.set(bridge.turns.current());
        } else {
            hand_back(env, js_cb, bridge); // read while JS had it: the next turn's
        }
        return;
    }
    if let Some(idle_turn) = bridge.idle_since.take() {
        // Woken in the turn whose last wake found nothing left (Node runs the threadsafe
        // function's calls queued meanwhile in the same go): what was read since then
        // waits for the next turn, as data for a Node socket waits for the loop's next
        // poll, after this turn's setImmediate callbacks.
        if bridge.turns.current() == Some(idle_turn) {
            hand_back(env, js_cb, bridge);
            return;
        }
    }
    bridge.wake.begin(&bridge.shared.events);
    match dispatch_one(env, js_cb, bridge) {
        Step::Dispatched if bridge.wake.another() => bridge.tsfn.wake(),
        Step::Dispatched => {
            // Not finished here: this batch's promise jobs and nextTick callbacks run
            // when this call returns, and what they send must reach the engine before it
            // may answer a close frame that came after the batch. A call of its own
            // finishes it after them.
            bridge.wake.end();
            bridge.finishing.set(true);
            bridge.tsfn.wake();
        }
        Step::Idle | Step::Threw => bridge.wake.end(),
    }
}

/// libuv's `uv_metrics_t` (libuv 1.45+): only `loop_count` is read.
#[repr(C)]
struct UvMetrics {
    loop_count: u64,
    events: u64,
    events_waiting: u64,
    reserved: [*mut u64; 13],
}

type UvMetricsInfo = unsafe extern "C" fn(uv_loop: *mut c_void, metrics: *mut UvMetrics) -> std::ffi::c_int;

/// The turn of Node's event loop JS runs in: libuv's iteration count, where
/// Node's libuv has `uv_metrics_info` (looked up at run time, as js_loop.rs
/// does its libuv functions: a Node without it just has no count).
struct LoopTurns {
    uv_loop: *mut c_void,
    metrics_info: Option<UvMetricsInfo>,
}

impl LoopTurns {
    unsafe fn new(env: sys::napi_env) -> LoopTurns {
        let mut uv_loop = null_mut();
        let found = libc::dlsym(libc::RTLD_DEFAULT, c"uv_metrics_info".as_ptr());
        let metrics_info = (sys::napi_get_uv_event_loop(env, &mut uv_loop) == sys::Status::napi_ok
            && !uv_loop.is_null()
            && !found.is_null())
        .then(|| std::mem::transmute::<*mut c_void, UvMetricsInfo>(found));
        LoopTurns { uv_loop: uv_loop as *mut c_void, metrics_info }
    }

    fn current(&self) -> Option<u64> {
        let metrics_info = self.metrics_info?;
        let mut metrics =
            UvMetrics { loop_count: 0, events: 0, events_waiting: 0, reserved: [null_mut(); 13] };
        (unsafe { metrics_info(self.uv_loop, &mut metrics) } == 0).then_some(metrics.loop_count)
    }
}

/// How many batches JS has been handed since it was woken, and since when.
struct WakeBudget {
    batches: Cell<usize>,
    started: Cell<Option<std::time::Instant>>,
    /// Batches that were waiting when the wake began: only those are handed over in it.
    /// What the engine read meanwhile (a peer's reply to what a listener just sent, on
    /// loopback) waits for the loop's next poll, as a Node socket's data does: ws reads
    /// it after the setImmediate callbacks that listener queued, not before.
    waiting: Cell<usize>,
}

impl WakeBudget {
    fn new() -> WakeBudget {
        WakeBudget { batches: Cell::new(0), started: Cell::new(None), waiting: Cell::new(0) }
    }

    /// A batch is about to be handed over: the wake's time starts with its first.
    fn begin(&self, events: &EventQueue) {
        if self.started.get().is_none() {
            self.started.set(Some(std::time::Instant::now()));
            self.waiting.set(events.queued_chunks());
        }
    }

    /// The same for `threads: 0`, where the engine runs its turns on this thread: what it
    /// reads while JS runs is read in a turn of Node's loop, so any batch may be handed over.
    fn begin_inline(&self) {
        if self.started.get().is_none() {
            self.started.set(Some(std::time::Instant::now()));
            self.waiting.set(MAX_BATCHES_PER_WAKE);
        }
    }

    /// A batch was handed over: may JS be given another before the loop turns?
    fn another(&self) -> bool {
        self.batches.set(self.batches.get() + 1);
        let elapsed = self.started.get().map_or(std::time::Duration::ZERO, |started| started.elapsed());
        self.batches.get() < self.waiting.get().min(MAX_BATCHES_PER_WAKE) && elapsed <= MAX_TIME_PER_WAKE
    }

    fn end(&self) {
        self.batches.set(0);
        self.started.set(None);
    }
}

/// With `threads: 0`: calls JS with the events a turn queued, at the end of the
/// libuv callback that ran the turn (see `lws_engine::js_loop`), as the
/// threadsafe function would call it one turn of the loop later: in a callback
/// scope of its own, so that process.nextTick callbacks and promise jobs run
/// when it ends, as after any callback from the event loop.
struct InlineDispatch {
    env: sys::napi_env,
    /// JS's event callback, weakly: the threadsafe function holds it until
    /// disposed (a strong reference here would keep the server from being collected).
    on_events: sys::napi_ref,
    /// The object callback scopes are opened for, and their async context.
    resource: sys::napi_ref,
    async_context: sys::napi_async_context,
    /// The threadsafe function, whose context is the `Bridge`; null once disposed.
    tsfn: Arc<TsfnCell>,
}

impl InlineDispatch {
    unsafe fn new(
        env: sys::napi_env,
        on_events: sys::napi_value,
        tsfn: Arc<TsfnCell>,
    ) -> Option<InlineDispatch> {
        let mut callback = null_mut();
        let mut object = null_mut();
        let mut resource = null_mut();
        let mut name = null_mut();
        let mut async_context = null_mut();
        let ok = sys::napi_create_reference(env, on_events, 0, &mut callback) == sys::Status::napi_ok
            && sys::napi_create_object(env, &mut object) == sys::Status::napi_ok
            && sys::napi_create_reference(env, object, 1, &mut resource) == sys::Status::napi_ok
            && sys::napi_create_string_utf8(env, c"lws".as_ptr(), 3, &mut name) == sys::Status::napi_ok
            && sys::napi_async_init(env, object, name, &mut async_context) == sys::Status::napi_ok;
        let dispatch = InlineDispatch { env, on_events: callback, resource, async_context, tsfn };
        ok.then_some(dispatch) // dropped otherwise: what was made is released
    }

    fn call(&self) {
        let tsfn = self.tsfn.get();
        if tsfn.is_null() {
            return; // disposed: JS wants no more events
        }
        // Where JS cannot be called here (never expected), the threadsafe function calls it.
        if !unsafe { self.call_in_scope(tsfn) } {
            unsafe {
                sys::napi_call_threadsafe_function(
                    tsfn,
                    null_mut(),
                    sys::ThreadsafeFunctionCallMode::nonblocking,
                )
            };
        }
    }

    /// False when JS could not be called.
    unsafe fn call_in_scope(&self, tsfn: sys::napi_threadsafe_function) -> bool {
        let env = self.env;
        let mut bridge = null_mut();
        let mut handles = null_mut();
        if sys::napi_get_threadsafe_function_context(tsfn, &mut bridge) != sys::Status::napi_ok
            || sys::napi_open_handle_scope(env, &mut handles) != sys::Status::napi_ok
        {
            return false;
        }
        let mut js_cb = null_mut();
        let mut resource = null_mut();
        let called = sys::napi_get_reference_value(env, self.on_events, &mut js_cb) == sys::Status::napi_ok
            && !js_cb.is_null()
            && sys::napi_get_reference_value(env, self.resource, &mut resource) == sys::Status::napi_ok;
        if called {
            let bridge = &*(bridge as *const Bridge);
            // One callback scope per batch, as the threadsafe function's calls (see `call_js`):
            // its promise jobs and nextTick callbacks run before the next batch is taken.
            loop {
                let mut scope = null_mut();
                if sys::napi_open_callback_scope(env, resource, self.async_context, &mut scope)
                    != sys::Status::napi_ok
                {
                    bridge.wake.end();
                    bridge.shared.events.reschedule();
                    break;
                }
                bridge.wake.begin_inline();
                let step = dispatch_one(env, js_cb, bridge);
                let another = step == Step::Dispatched && bridge.wake.another();
                if !another {
                    bridge.wake.end();
                    if step == Step::Dispatched {
                        hand_back(env, js_cb, bridge);
                    }
                }
                sys::napi_close_callback_scope(env, scope);
                if !another {
                    break;
                }
            }
        }
        sys::napi_close_handle_scope(env, handles);
        called
    }
}

impl Drop for InlineDispatch {
    fn drop(&mut self) {
        unsafe {
            if !self.async_context.is_null() {
                sys::napi_async_destroy(self.env, self.async_context);
            }
            for reference in [self.on_events, self.resource] {
                if !reference.is_null() {
                    sys::napi_delete_reference(self.env, reference);
                }
            }
        }
    }
}

fn io_error_code(e: &std::io::Error) -> i32 {
    -(e.raw_os_error().unwrap_or(libc::EINVAL))
}

#[napi]
impl NativeServer {
    #[napi(constructor)]
    pub fn new(env: Env, options: EngineOptions, on_events: Function<'_>) -> Result<Self> {
        let cell = Arc::new(TsfnCell::new());
        let wake_cell = cell.clone();
        let mut engine = Engine::start(
            config_from(options)?,
            Box::new(move || {
                // On the JS thread, in a turn of a `threads: 0` engine: JS is called as the turn ends.
                if lws_engine::js_loop::defer_wake() {
                    return;
                }
                wake_cell.wake();
            }),
        )
        .map_err(|e| Error::from_reason(format!("cannot start the engine: {e}")))?;
        // Before the threadsafe function exists: a failure here leaves nothing to release.
        let mut js_thread_worker = None;
        if let Some(worker) = engine.take_js_thread_worker() {
            let mut uv_loop = null_mut();
            let attached = unsafe {
                let after_turn = InlineDispatch::new(env.raw(), on_events.raw(), cell.clone());
                match after_turn {
                    Some(after_turn)
                        if sys::napi_get_uv_event_loop(env.raw(), &mut uv_loop) == sys::Status::napi_ok =>
                    {
                        lws_engine::js_loop::attach(
                            uv_loop as *mut c_void,
                            worker,
                            std::rc::Rc::new(move || after_turn.call()),
                        )
                        .ok()
                    }
                    _ => None,
                }
            };
            if attached.is_none() {
                return Err(Error::from_reason("cannot run the engine on the JS event loop"));
            }
            js_thread_worker = attached;
        }
        let messages_copied = Arc::new(AtomicBool::new(false));
        let bridge = Bridge {
            shared: engine.shared().clone(),
            reused: Cell::new(null_mut()),
            reused_busy: Cell::new(false),
            messages_copied: messages_copied.clone(),
            tsfn: cell.clone(),
            wake: WakeBudget::new(),
            turns: unsafe { LoopTurns::new(env.raw()) },
            idle_since: Cell::new(None),
            finishing: Cell::new(false),
        };
        let context = Box::into_raw(Box::new(bridge)) as *mut c_void;
        let mut name = null_mut();
        let mut tsfn = null_mut();
        unsafe {
            let label = c"lws";
            sys::napi_create_string_utf8(env.raw(), label.as_ptr(), 3, &mut name);
            let status = sys::napi_create_threadsafe_function(
                env.raw(),
                on_events.raw(),
                null_mut(),
                name,
                0,
                1,
                context,
                Some(release_bridge),
                context,
                Some(call_js),
                &mut tsfn,
            );
            if status != sys::Status::napi_ok {
                drop(Box::from_raw(context as *mut Bridge));
                return Err(Error::from_reason("cannot create the event callback"));
            }
            // Unreferenced until JS says the server has something to wait for.
            sys::napi_unref_threadsafe_function(env.raw(), tsfn);
        }
        cell.0.store(tsfn as *mut c_void, Ordering::Release);
        Ok(NativeServer { engine, js_thread_worker, tsfn: cell, stashed: Vec::new(), messages_copied })
    }

    /// Binds and starts accepting. Returns the port, or a negative errno.
    #[napi]
    pub fn listen(&self, host: String, port: u32, backlog: i32, reuse_port: bool) -> i32 {
        let ip: IpAddr = match host.parse() {
            Ok(ip) => ip,
            Err(_) => return -libc::EINVAL,
        };
        match self.engine.listen(SocketAddr::new(ip, port as u16), backlog, reuse_port) {
            Ok(addr) => addr.port() as i32,
            Err(e) => io_error_code(&e),
        }
    }

    /// Stops accepting; open connections stay.
    #[napi]
    pub fn unlisten(&self) {
        self.engine.unlisten();
    }

    /// JS copies every message it is given (the ws layer's owned messages), so a
    /// small batch of messages may come in the reused ArrayBuffer too.
    #[napi]
    pub fn set_messages_copied(&self, copied: bool) {
        self.messages_copied.store(copied, Ordering::Relaxed);
    }

    #[napi]
    pub fn set_hooks(&self, upgrade: bool, http: bool, fragment: bool, ping: bool, closing: bool) {
        self.engine.set_hooks(Hooks { upgrade, http, fragment, ping, closing });
    }

    /// Hands a batch of encoded commands to the workers. `prepared` lists the
    /// prepared messages that SEND_PREPARED records refer to by index.
    #[napi]
    pub fn submit(
        &mut self,
        env: Env,
        commands: BufferSlice<'_>,
        prepared: Option<Vec<Unknown<'_>>>,
    ) -> Result<()> {
        let mut shared_payloads = Vec::new();
        for handle in prepared.unwrap_or_default() {
            let ext: &External<Arc<Vec<u8>>> = unsafe { External::from_napi_ref(env.raw(), handle.raw())? };
            shared_payloads.push(Arc::clone(ext));
        }
        let mut batch = CommandBatch {
            bytes: Arc::new(commands.to_vec()),
            prepared: shared_payloads,
            stashed: std::mem::take(&mut self.stashed),
        };
        if let Some(worker) = &self.js_thread_worker {
            match worker.submit(batch) {
                Ok(()) => return Ok(()),
                Err(back) => batch = back,
            }
        }
        self.engine.submit(batch);
        Ok(())
    }

    /// `stash` for bytes JS knows are in the event batch it is being lent, given
    /// as their offset and length there (numbers are cheaper to pass than a
    /// Buffer). Returns the index, or -1 when no batch is lent or the range is
    /// outside it (the caller then uses `stash`).
    #[napi]
    pub fn stash_lent(&mut self, offset: u32, len: u32) -> i32 {
        match lent_offset_range(offset as usize, len as usize) {
            Some(stashed) => {
                self.stashed.push(stashed);
                (self.stashed.len() - 1) as i32
            }
            None => -1,
        }
    }

    /// Takes a large payload for the next batch, which refers to it by the
    /// returned index. Bytes of the event batch JS is being lent (a received
    /// message forwarded) are referenced; anything else is copied now, so the
    /// caller may reuse its buffer at once.
    #[napi]
    pub fn stash(&mut self, data: BufferSlice<'_>) -> u32 {
        let stashed = lent_range(&data).unwrap_or_else(|| Stashed::copied(&data));
        self.stashed.push(stashed);
        (self.stashed.len() - 1) as u32
    }

    /// Makes a TLS client configuration for CONNECT commands, which name it by
    /// the index returned: the certificates to trust (PEM), an optional client
    /// certificate and key, whether the server's certificate is checked, and
    /// whether the server name is sent (SNI).
    #[napi]
    pub fn add_client_tls(
        &self,
        roots: BufferSlice<'_>,
        cert: Option<BufferSlice<'_>>,
        key: Option<BufferSlice<'_>>,
        verify: bool,
        sni: bool,
    ) -> Result<u32> {
        let config = lws_engine::tls::client_config(&roots, cert.as_deref(), key.as_deref(), verify, sni)
            .map_err(Error::from_reason)?;
        Ok(self.engine.shared().add_client_tls(config))
    }

    /// Takes over a connected TCP socket by descriptor (duplicated: the caller
    /// closes its own), with bytes already read from it.
    #[napi]
    pub fn adopt(&self, fd: i32, head: Option<BufferSlice<'_>>) -> bool {
        let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
        if dup < 0 {
            return false;
        }
        let stream = unsafe { std::net::TcpStream::from_raw_fd(dup) };
        self.engine.adopt(stream, head.map(|h| h.to_vec()).unwrap_or_default());
        true
    }

    /// Takes over a client connection Node upgraded (its descriptor is
    /// duplicated: the caller destroys its own socket), as client `id`, with the
    /// bytes read past the 101 and the agreed Sec-WebSocket-Extensions value.
    #[napi]
    pub fn adopt_client(&self, id: u32, fd: i32, head: Option<BufferSlice<'_>>, extensions: String) -> bool {
        let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
        if dup < 0 {
            return false;
        }
        let stream = unsafe { std::net::TcpStream::from_raw_fd(dup) };
        let line = if extensions.is_empty() {
            Vec::new()
        } else {
            format!("Sec-WebSocket-Extensions: {extensions}\r\n").into_bytes()
        };
        self.engine.adopt_client(id, stream, head.map(|h| h.to_vec()).unwrap_or_default(), line);
        true
    }

    /// The engine's counters (lws_engine::stats): `[accepted, handshake
    /// timeouts, refusals by REFUSAL_STATUSES..., other refusals]`, and the
    /// statuses, for `server.stats()`.
    #[napi]
    pub fn stats(&self) -> (Vec<f64>, Vec<u32>) {
        let counts = self.engine.shared().stats.snapshot().into_iter().map(|n| n as f64).collect();
        let statuses = lws_engine::stats::REFUSAL_STATUSES.iter().map(|&s| s as u32).collect();
        (counts, statuses)
    }

    /// Links the engine to Redis (`pubsub.redis`) for pub/sub across
    /// processes: `addresses` IPs (resolved by JS) with their `ports`, one
    /// server or, with `cluster`, a Redis Cluster's seed nodes; `origin` this
    /// process's 16-byte tag; `tls_index` (from add_client_tls) for `rediss://`,
    /// with `pubsub.tls.servername` (checked on every node) and the first seed's
    /// host name (null: an IP), checked where a node is not announced by hostname.
    /// REDIS events tell when the link is up or down.
    #[napi]
    #[allow(clippy::too_many_arguments)]
    pub fn attach_redis(
        &self,
        addresses: Vec<String>,
        ports: Vec<u32>,
        cluster: bool,
        username: Option<String>,
        password: Option<String>,
        prefix: String,
        origin: BufferSlice<'_>,
        tls_index: Option<u32>,
        tls_servername: Option<String>,
        tls_seed_name: Option<String>,
    ) -> Result<()> {
        let mut nodes = Vec::with_capacity(addresses.len());
        for (address, port) in addresses.iter().zip(&ports) {
            let ip: IpAddr =
                address.parse().map_err(|_| Error::from_reason(format!("not an IP address: {address}")))?;
            nodes.push(SocketAddr::new(ip, *port as u16));
        }
        let target = match (cluster, nodes.as_slice()) {
            (false, [one]) => lws_engine::redis::RedisTarget::Server(*one),
            (true, [_, ..]) => lws_engine::redis::RedisTarget::Cluster(nodes),
            _ => return Err(Error::from_reason("attachRedis: one address, or a cluster's seeds")),
        };
        let origin: [u8; lws_engine::redis::ORIGIN_LEN] =
            origin[..].try_into().map_err(|_| Error::from_reason("origin: 16 bytes expected"))?;
        let tls = match tls_index {
            Some(index) => {
                let config = self.engine.shared().client_tls(index);
                Some((
                    config.ok_or_else(|| Error::from_reason("attachRedis: no such TLS configuration"))?,
                    match (tls_servername, tls_seed_name) {
                        (Some(name), _) => lws_engine::redis::TlsName::Given(name),
                        (None, Some(name)) => lws_engine::redis::TlsName::Seed(name),
                        (None, None) => lws_engine::redis::TlsName::Own,
                    },
                ))
            }
            None => None,
        };
        let cfg = lws_engine::redis::RedisConfig {
            target,
            username: username.map(String::into_bytes),
            password: password.map(String::into_bytes),
            prefix: prefix.into_bytes(),
            origin,
            max_message: self.engine.shared().config.max_message_size as usize,
            tls,
        };
        self.engine.attach_redis(cfg);
        Ok(())
    }

    /// JS wrote commands outside an event batch: they leave at the end of its
    /// tick, and until then the workers leave peers' closes for JS to answer.
    #[napi]
    pub fn commands_pending(&self) {
        self.engine.note_commands_pending();
    }

    /// Asks for the events still queued (JS calls it from setImmediate after
    /// the callback was told, with null, that more were left).
    #[napi]
    pub fn reschedule(&self) {
        self.engine.shared().events.reschedule();
    }

    /// Stops accepting and closes all connections; a SHUTDOWN event follows.
    #[napi]
    pub fn close(&mut self) {
        self.engine.shutdown();
    }

    /// After SHUTDOWN: joins the workers and releases the event callback.
    #[napi]
    pub fn dispose(&mut self, env: Env) {
        self.engine.join();
        let tsfn = self.tsfn.0.swap(null_mut(), Ordering::AcqRel) as sys::napi_threadsafe_function;
        if !tsfn.is_null() {
            unsafe {
                sys::napi_unref_threadsafe_function(env.raw(), tsfn);
                sys::napi_release_threadsafe_function(tsfn, sys::ThreadsafeFunctionReleaseMode::release);
            }
        }
    }

    /// Keeps the process alive while the server listens or has connections.
    #[napi(js_name = "ref")]
    pub fn keep_alive(&self, env: Env) {
        let tsfn = self.tsfn.get();
        if !tsfn.is_null() {
            unsafe { sys::napi_ref_threadsafe_function(env.raw(), tsfn) };
        }
    }

    #[napi]
    pub fn unref(&self, env: Env) {
        let tsfn = self.tsfn.get();
        if !tsfn.is_null() {
            unsafe { sys::napi_unref_threadsafe_function(env.raw(), tsfn) };
        }
    }
}

/// A message framed once and sent to many sockets by reference.
#[napi]
pub fn prepare(data: BufferSlice<'_>) -> External<Arc<Vec<u8>>> {
    let len = data.len();
    External::new_with_size_hint(Arc::new(data.to_vec()), len)
}
