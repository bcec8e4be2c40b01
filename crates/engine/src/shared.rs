//! What the JS thread and the workers share: the configuration, the hooks JS
//! listens to, the event queue (workers -> JS) and each worker's inbox (JS ->
//! worker). Below both `engine` and `worker`.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::bridge::EventQueue;
use crate::commands::WorkerMsg;
use crate::config::Config;

/// Which optional events JS listens to; the engine skips work for the others.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hooks {
    /// JS decides each upgrade before the 101.
    pub upgrade: bool,
    /// JS answers plain HTTP requests.
    pub http: bool,
    /// Large messages are streamed as fragments of `buffer_size`.
    pub fragment: bool,
    /// Ping and pong frames are reported.
    pub ping: bool,
    /// JS answers every peer's close itself (it listens to 'closing'); otherwise
    /// the engine answers at once when JS has nothing of that socket left to handle.
    pub closing: bool,
}

impl Hooks {
    fn to_bits(self) -> u8 {
        self.upgrade as u8
            | (self.http as u8) << 1
            | (self.fragment as u8) << 2
            | (self.ping as u8) << 3
            | (self.closing as u8) << 4
    }
    fn from_bits(b: u8) -> Self {
        Hooks {
            upgrade: b & 1 != 0,
            http: b & 2 != 0,
            fragment: b & 4 != 0,
            ping: b & 8 != 0,
            closing: b & 16 != 0,
        }
    }
}

/// Messages for one worker, and the eventfd that wakes its loop.
pub(crate) struct Inbox {
    pub(crate) queue: Mutex<Vec<WorkerMsg>>,
    /// Taken (closed) once the engine has stopped: no descriptor outlives it.
    pub(crate) waker: Mutex<Option<mio::Waker>>,
}

pub struct Shared {
    pub config: Config,
    pub events: EventQueue,
    hooks: AtomicU8,
    inboxes: Vec<Inbox>,
    pub live_workers: AtomicUsize,
    /// TLS client configurations made by JS (`Engine::add_client_tls`); a
    /// CONNECT names one by its index.
    client_tls: Mutex<Vec<Arc<rustls::ClientConfig>>>,
    /// Counters for `server.stats()`, shared by the threads.
    pub stats: crate::stats::Stats,
    /// JS has written commands outside an event batch (from a timer, a promise…)
    /// and will submit them at the end of its tick: until then a worker does not
    /// answer a peer's close itself, since one of them may be for that socket.
    pub commands_pending: AtomicBool,
}

impl Shared {
    pub(crate) fn new(config: Config, events: EventQueue, inboxes: Vec<Inbox>) -> Shared {
        let live_workers = AtomicUsize::new(inboxes.len());
        Shared {
            config,
            events,
            hooks: AtomicU8::new(0),
            inboxes,
            live_workers,
            client_tls: Mutex::default(),
            stats: Default::default(),
            commands_pending: AtomicBool::new(false),
        }
    }

    /// Keeps a TLS client configuration; returns the index CONNECT commands name it by.
    pub fn add_client_tls(&self, config: Arc<rustls::ClientConfig>) -> u32 {
        let mut all = self.client_tls.lock().unwrap();
        all.push(config);
        (all.len() - 1) as u32
    }

    pub fn client_tls(&self, index: u32) -> Option<Arc<rustls::ClientConfig>> {
        self.client_tls.lock().unwrap().get(index as usize).cloned()
    }

    pub fn hooks(&self) -> Hooks {
        Hooks::from_bits(self.hooks.load(Ordering::Relaxed))
    }

    pub fn set_hooks(&self, hooks: Hooks) {
        self.hooks.store(hooks.to_bits(), Ordering::Relaxed);
    }

    pub fn worker_count(&self) -> usize {
        self.inboxes.len()
    }

    /// Queues a message for a worker; its loop is woken only when its inbox was empty.
    pub fn send_to(&self, worker: usize, msg: WorkerMsg) {
        let Some(inbox) = self.inboxes.get(worker) else {
            return;
        };
        let was_empty = {
            let mut q = inbox.queue.lock().unwrap();
            q.push(msg);
            q.len() == 1
        };
        if was_empty {
            if let Some(waker) = inbox.waker.lock().unwrap().as_ref() {
                let _ = waker.wake();
            }
        }
    }

    /// Everything queued for a worker (called by that worker when woken).
    pub fn take_inbox(&self, worker: usize) -> Vec<WorkerMsg> {
        let inbox = &self.inboxes[worker];
        let mut q = inbox.queue.lock().unwrap();
        std::mem::take(&mut *q)
    }

    /// Wakes every worker (JS took its backlog: blocked sockets may read again).
    pub fn wake_all(&self) {
        for inbox in &self.inboxes {
            if let Some(waker) = inbox.waker.lock().unwrap().as_ref() {
                let _ = waker.wake();
            }
        }
    }

    /// After the workers stopped: closes their wakers (eventfds) now rather
    /// than when the JS object holding the engine is collected.
    pub(crate) fn close_wakers(&self) {
        for inbox in &self.inboxes {
            inbox.waker.lock().unwrap().take();
        }
    }

    pub(crate) fn broadcast(&self, make: impl Fn() -> WorkerMsg) {
        for i in 0..self.inboxes.len() {
            self.send_to(i, make());
        }
    }
}
