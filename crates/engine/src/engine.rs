//! The engine as seen from the JS thread: starts the worker threads, routes
//! listeners, sockets and command batches to them, and stops them.
//! No napi here: the root crate's `src/binding.rs` wraps it.

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::bridge::{EventQueue, WakeFn};
use crate::config::Config;
use crate::worker::{Worker, MAX_WORKERS, WAKER};

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
}

impl Hooks {
    fn to_bits(self) -> u8 {
        self.upgrade as u8 | (self.http as u8) << 1 | (self.fragment as u8) << 2 | (self.ping as u8) << 3
    }
    fn from_bits(b: u8) -> Self {
        Hooks { upgrade: b & 1 != 0, http: b & 2 != 0, fragment: b & 4 != 0, ping: b & 8 != 0 }
    }
}

/// Commands from one JS flush, shared by reference with the connections that
/// send from it (large payloads are written straight from `bytes`).
pub struct CommandBatch {
    pub bytes: Arc<Vec<u8>>,
    pub prepared: Vec<Arc<Vec<u8>>>,
    /// Large payloads handed over beside the commands.
    pub stashed: Vec<Stashed>,
}

/// A payload JS sent: a copy made when it was sent, or, when JS forwards bytes
/// of the event batch it was lent, a range of that batch (kept alive by the Arc).
pub struct Stashed {
    pub data: Arc<Vec<u8>>,
    pub start: usize,
    pub end: usize,
}

impl Stashed {
    pub fn copied(bytes: &[u8]) -> Stashed {
        Stashed { data: Arc::new(bytes.to_vec()), start: 0, end: bytes.len() }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }
}

pub enum WorkerMsg {
    Commands(Arc<CommandBatch>),
    Listen(TcpListener),
    /// Stop accepting; connections stay.
    Unlisten,
    /// A socket accepted elsewhere, with bytes already read from it: by another
    /// worker (false), or by Node's http server (true: any TLS was Node's).
    Adopt(std::net::TcpStream, Vec<u8>, bool),
    Shutdown,
}

/// Messages for one worker, and the eventfd that wakes its loop.
struct Inbox {
    queue: Mutex<Vec<WorkerMsg>>,
    waker: mio::Waker,
}

pub struct Shared {
    pub config: Config,
    pub events: EventQueue,
    hooks: AtomicU8,
    inboxes: Vec<Inbox>,
    pub live_workers: AtomicUsize,
}

impl Shared {
    pub fn hooks(&self) -> Hooks {
        Hooks::from_bits(self.hooks.load(Ordering::Relaxed))
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
            let _ = inbox.waker.wake();
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
            let _ = inbox.waker.wake();
        }
    }

    fn broadcast(&self, make: impl Fn() -> WorkerMsg) {
        for i in 0..self.inboxes.len() {
            self.send_to(i, make());
        }
    }
}

pub struct Engine {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    /// With `on_js_thread`: the worker, until the binding hands it to the JS event loop.
    js_thread_worker: Option<Worker>,
    stopping: bool,
}

impl Engine {
    pub fn start(mut config: Config, wake: WakeFn) -> std::io::Result<Engine> {
        config.threads = if config.on_js_thread { 1 } else { config.threads.clamp(1, MAX_WORKERS) };
        let n = config.threads;
        let mut polls = Vec::with_capacity(n);
        let mut inboxes = Vec::with_capacity(n);
        for _ in 0..n {
            let poll = mio::Poll::new()?;
            let waker = mio::Waker::new(poll.registry(), WAKER)?;
            inboxes.push(Inbox { queue: Mutex::new(Vec::new()), waker });
            polls.push(poll);
        }
        let shared = Arc::new(Shared {
            config,
            events: EventQueue::new(wake),
            hooks: AtomicU8::new(0),
            inboxes,
            live_workers: AtomicUsize::new(n),
        });
        let weak = Arc::downgrade(&shared);
        shared.events.set_on_resume(Box::new(move || {
            if let Some(shared) = weak.upgrade() {
                shared.wake_all();
            }
        }));
        if shared.config.on_js_thread {
            let poll = polls.pop().expect("one poll");
            let worker = Worker::new(0, shared.clone(), poll);
            return Ok(Engine {
                shared,
                threads: Vec::new(),
                js_thread_worker: Some(worker),
                stopping: false,
            });
        }
        let mut threads = Vec::with_capacity(n);
        for (index, poll) in polls.into_iter().enumerate() {
            let shared = shared.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("lws-worker-{index}"))
                    .spawn(move || Worker::new(index, shared, poll).run())?,
            );
        }
        Ok(Engine { shared, threads, js_thread_worker: None, stopping: false })
    }

    /// With `on_js_thread`, the worker for the JS event loop to drive (once).
    pub fn take_js_thread_worker(&mut self) -> Option<Worker> {
        self.js_thread_worker.take()
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Binds synchronously (so errors such as EADDRINUSE reach the caller at once)
    /// and hands the listener to worker 0.
    pub fn listen(&self, addr: SocketAddr, backlog: i32) -> std::io::Result<SocketAddr> {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
        socket.set_reuse_address(true)?;
        if addr.is_ipv6() {
            let _ = socket.set_only_v6(false);
        }
        socket.bind(&addr.into())?;
        socket.listen(backlog)?;
        socket.set_nonblocking(true)?;
        let listener: TcpListener = socket.into();
        let local = listener.local_addr()?;
        self.shared.send_to(0, WorkerMsg::Listen(listener));
        Ok(local)
    }

    /// Takes over a connected socket (from Node's http server), with bytes already read.
    pub fn adopt(&self, stream: std::net::TcpStream, head: Vec<u8>) {
        self.shared.send_to(0, WorkerMsg::Adopt(stream, head, true));
    }

    /// Closes the listening socket; existing connections are not touched.
    pub fn unlisten(&self) {
        self.shared.send_to(0, WorkerMsg::Unlisten);
    }

    pub fn set_hooks(&self, hooks: Hooks) {
        self.shared.hooks.store(hooks.to_bits(), Ordering::Relaxed);
    }

    /// Sends a command batch to the workers that own its sockets (an id's low
    /// bits name its worker), and only to them.
    pub fn submit(&self, batch: CommandBatch) {
        let workers = self.shared.inboxes.len();
        if workers == 1 {
            return self.shared.send_to(0, WorkerMsg::Commands(Arc::new(batch)));
        }
        let mut owners = 0u32;
        for rec in crate::wire::records(&batch.bytes) {
            owners |= 1 << (rec.id & (MAX_WORKERS as u32 - 1));
        }
        let batch = Arc::new(batch);
        for worker in (0..workers).filter(|w| owners & (1 << w) != 0) {
            self.shared.send_to(worker, WorkerMsg::Commands(batch.clone()));
        }
    }

    /// Stops accepting and closes every connection with 1001; the last worker
    /// to finish queues the SHUTDOWN event.
    pub fn shutdown(&mut self) {
        if !std::mem::replace(&mut self.stopping, true) {
            self.shared.broadcast(|| WorkerMsg::Shutdown);
        }
    }

    pub fn join(&mut self) {
        self.shutdown();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
