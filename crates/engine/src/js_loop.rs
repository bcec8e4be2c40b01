//! Drives a worker from the JS thread's libuv loop (the `threads: 0` option).
//!
//! The worker's epoll descriptor is watched by libuv like any socket: when it
//! is readable (a socket is ready, or the worker's inbox waker was written),
//! the worker polls without waiting and takes one turn. A libuv timer covers
//! the worker's own timers. Events still reach JS through the threadsafe
//! function; command batches are applied and written during the JS call that
//! submits them (`JsThreadWorker::submit`), and listeners, adopted sockets and
//! shutdown still arrive through the inbox. What goes away is the hand-off
//! between threads, since JS and the sockets are served by the same thread, as
//! in uWebSockets.js.
//!
//! Events a turn queues for JS are handed over at the end of that same libuv
//! callback (`AfterTurn`, the binding's), not through the threadsafe
//! function's wake-up: that would cost an eventfd write, a read and one more
//! turn of the loop per batch (`defer_wake`).
//!
//! libuv is Node's own: its functions are looked up in the process (`uv()`).

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::cell::{Cell, RefCell};
use std::ffi::{c_int, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::OnceLock;

use mio::Events;

use crate::commands::CommandBatch;
use crate::worker::Worker;

// From uv.h: the handle types' values and the poll event bit.
const UV_POLL: c_int = 8;
const UV_TIMER: c_int = 13;
const UV_READABLE: c_int = 1;

type PollCb = extern "C" fn(handle: *mut c_void, status: c_int, events: c_int);
type TimerCb = extern "C" fn(handle: *mut c_void);
type CloseCb = extern "C" fn(handle: *mut c_void);

/// The libuv functions used here, found in the running process (Node exports
/// them) when first needed, as napi's own are: nothing to resolve at link time,
/// so `cargo test` and the fuzzers link without Node.
struct Uv {
    handle_size: unsafe extern "C" fn(kind: c_int) -> usize,
    poll_init: unsafe extern "C" fn(uv_loop: *mut c_void, handle: *mut c_void, fd: c_int) -> c_int,
    poll_start: unsafe extern "C" fn(handle: *mut c_void, events: c_int, cb: PollCb) -> c_int,
    poll_stop: unsafe extern "C" fn(handle: *mut c_void) -> c_int,
    timer_init: unsafe extern "C" fn(uv_loop: *mut c_void, handle: *mut c_void) -> c_int,
    timer_start: unsafe extern "C" fn(handle: *mut c_void, cb: TimerCb, timeout: u64, repeat: u64) -> c_int,
    timer_stop: unsafe extern "C" fn(handle: *mut c_void) -> c_int,
    close: unsafe extern "C" fn(handle: *mut c_void, cb: CloseCb),
    unref: unsafe extern "C" fn(handle: *mut c_void),
}

fn uv() -> Option<&'static Uv> {
    static UV: OnceLock<Option<Uv>> = OnceLock::new();
    UV.get_or_init(|| unsafe {
        fn find(name: &CStr) -> Option<*mut c_void> {
            let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
            (!p.is_null()).then_some(p)
        }
        use std::mem::transmute as f;
        Some(Uv {
            handle_size: f(find(c"uv_handle_size")?),
            poll_init: f(find(c"uv_poll_init")?),
            poll_start: f(find(c"uv_poll_start")?),
            poll_stop: f(find(c"uv_poll_stop")?),
            timer_init: f(find(c"uv_timer_init")?),
            timer_start: f(find(c"uv_timer_start")?),
            timer_stop: f(find(c"uv_timer_stop")?),
            close: f(find(c"uv_close")?),
            unref: f(find(c"uv_unref")?),
        })
    })
    .as_ref()
}

/// Called on the JS thread right after a turn that queued events for JS: the
/// binding calls JS with them there and then.
pub type AfterTurn = Rc<dyn Fn()>;

thread_local! {
    /// This thread is inside a worker's turn (`step`).
    static IN_TURN: Cell<bool> = const { Cell::new(false) };
    /// A wake-up was deferred to the end of that turn.
    static WAKE_DEFERRED: Cell<bool> = const { Cell::new(false) };
}

/// For the event queue's wake-up: true when it is called during a turn on
/// this thread, which then calls `AfterTurn` as it ends (the caller need not
/// wake JS); false anywhere else.
pub fn defer_wake() -> bool {
    let in_turn = IN_TURN.with(Cell::get);
    if in_turn {
        WAKE_DEFERRED.with(|w| w.set(true));
    }
    in_turn
}

struct Driver {
    uv: &'static Uv,
    after_turn: AfterTurn,
    worker: Worker,
    events: Events,
    poll: Handle,
    timer: Handle,
    /// Handles not yet closed; their memory is freed when both are.
    open_handles: u8,
    /// The worker has stopped; the handles are closing.
    stopping: bool,
}

/// Memory for a libuv handle, whose size only libuv knows. Its first field is
/// `void *data`, which libuv leaves to us: it points at the driver.
struct Handle {
    ptr: *mut c_void,
    layout: Layout,
}

impl Handle {
    fn new(uv: &Uv, kind: c_int) -> Handle {
        let size = unsafe { (uv.handle_size)(kind) }.max(std::mem::size_of::<*mut c_void>());
        let layout = Layout::from_size_align(size, 16).expect("handle layout");
        let ptr = unsafe { alloc_zeroed(layout) } as *mut c_void;
        assert!(!ptr.is_null(), "out of memory for a libuv handle");
        Handle { ptr, layout }
    }

    fn set_data(&self, data: *const RefCell<Driver>) {
        unsafe { *(self.ptr as *mut *const RefCell<Driver>) = data };
    }

    /// Releases the memory (once libuv no longer uses it).
    fn free(&mut self) {
        if !self.ptr.is_null() {
            unsafe { dealloc(self.ptr as *mut u8, self.layout) };
            self.ptr = std::ptr::null_mut();
        }
    }
}

/// The binding's handle on a worker driven from the JS thread. Command
/// batches go straight to the worker through it (JS and the worker share the
/// thread), rather than through the inbox and a wake-up of the loop.
pub struct JsThreadWorker(Rc<RefCell<Driver>>);

impl JsThreadWorker {
    /// Applies a command batch now and writes what it queued, as the loop's
    /// turn would. Gives the batch back when the worker has stopped (or is
    /// busy, which cannot happen on one thread; the inbox then takes it).
    pub fn submit(&self, batch: CommandBatch) -> Result<(), CommandBatch> {
        let Ok(mut d) = self.0.try_borrow_mut() else {
            return Err(batch);
        };
        if d.stopping {
            return Err(batch);
        }
        let d = &mut *d;
        // As in `step`: a panic must not unwind into JS; it stops the worker.
        if catch_unwind(AssertUnwindSafe(|| d.worker.apply_now(&batch))).is_err() {
            eprintln!("lws: the engine stopped after an internal error");
            d.stop();
            return Ok(());
        }
        d.arm_timer();
        Ok(())
    }
}

/// The driver a handle's `data` points at (one strong count, shared by both handles).
fn driver_of(handle: *mut c_void) -> *const RefCell<Driver> {
    unsafe { *(handle as *mut *const RefCell<Driver>) }
}

/// Starts driving `worker` from the loop `uv_loop` (the JS thread's). The
/// handles do not keep the process alive: the binding's ref/unref does that.
///
/// # Safety
/// `uv_loop` must be the loop of the calling thread, which runs it.
pub unsafe fn attach(
    uv_loop: *mut c_void,
    worker: Worker,
    after_turn: AfterTurn,
) -> std::io::Result<JsThreadWorker> {
    let uv = uv().ok_or_else(|| std::io::Error::other("libuv's functions are not in this process"))?;
    let fd = worker.poll_fd();
    let driver = Rc::new(RefCell::new(Driver {
        uv,
        after_turn,
        worker,
        events: Events::with_capacity(1024),
        poll: Handle::new(uv, UV_POLL),
        timer: Handle::new(uv, UV_TIMER),
        open_handles: 0,
        stopping: false,
    }));
    let mut d = driver.borrow_mut();
    if (uv.poll_init)(uv_loop, d.poll.ptr, fd) != 0 {
        // Nothing is registered with the loop: the handles' memory goes with the driver.
        d.poll.free();
        d.timer.free();
        return Err(std::io::Error::other("libuv would not watch the engine's descriptor"));
    }
    (uv.timer_init)(uv_loop, d.timer.ptr); // cannot fail
    d.open_handles = 2;
    let data = Rc::into_raw(driver.clone());
    d.poll.set_data(data);
    d.timer.set_data(data);
    (uv.unref)(d.poll.ptr);
    (uv.unref)(d.timer.ptr);
    (uv.poll_start)(d.poll.ptr, UV_READABLE, on_poll);
    // A first turn soon: the listener and inbox may already have work.
    (uv.timer_start)(d.timer.ptr, on_timer, 0, 0);
    drop(d);
    Ok(JsThreadWorker(driver))
}

extern "C" fn on_poll(handle: *mut c_void, _status: c_int, _events: c_int) {
    step(driver_of(handle));
}

extern "C" fn on_timer(handle: *mut c_void) {
    step(driver_of(handle));
}

fn step(driver: *const RefCell<Driver>) {
    // SAFETY: the handles hold a strong count until both are closed, and
    // libuv calls back on this one thread.
    let cell = unsafe { &*driver };
    let after_turn = {
        let Ok(mut d) = cell.try_borrow_mut() else {
            return;
        };
        if d.stopping {
            return;
        }
        let d = &mut *d;
        IN_TURN.with(|t| t.set(true));
        // Panics are contained per connection inside the worker; one escaping
        // here must not unwind into libuv. It stops the worker, as it would end a worker thread.
        let alive = catch_unwind(AssertUnwindSafe(|| d.worker.step(&mut d.events))).unwrap_or_else(|_| {
            eprintln!("lws: the engine stopped after an internal error");
            false
        });
        IN_TURN.with(|t| t.set(false));
        if alive {
            d.arm_timer();
        } else {
            d.stop();
        }
        // The last turn's events (SHUTDOWN) go to JS too.
        WAKE_DEFERRED.with(|w| w.replace(false)).then(|| d.after_turn.clone())
    };
    // With the driver released: JS may submit commands (`JsThreadWorker::submit`).
    if let Some(after_turn) = after_turn {
        after_turn();
    }
}

impl Driver {
    /// The worker is done: stop watching and close the handles.
    fn stop(&mut self) {
        let uv = self.uv;
        self.stopping = true;
        unsafe {
            (uv.poll_stop)(self.poll.ptr);
            (uv.timer_stop)(self.timer.ptr);
            (uv.close)(self.poll.ptr, on_closed);
            (uv.close)(self.timer.ptr, on_closed);
        }
    }

    /// Sets the libuv timer to the worker's next deadline (or stops it).
    fn arm_timer(&mut self) {
        let uv = self.uv;
        unsafe {
            match self.worker.next_timeout() {
                Some(wait) => {
                    let ms = wait.as_nanos().div_ceil(1_000_000).min(u64::MAX as u128) as u64;
                    (uv.timer_start)(self.timer.ptr, on_timer, ms, 0);
                }
                None => {
                    (uv.timer_stop)(self.timer.ptr);
                }
            }
        }
    }
}

extern "C" fn on_closed(handle: *mut c_void) {
    let driver = driver_of(handle);
    // SAFETY: as in `step`; the handles' strong count is released once, after the last closed.
    unsafe {
        let last = {
            let mut d = (*driver).borrow_mut();
            d.open_handles -= 1;
            if d.open_handles == 0 {
                d.poll.free();
                d.timer.free();
            }
            d.open_handles == 0
        };
        if last {
            drop(Rc::from_raw(driver));
        }
    }
}
