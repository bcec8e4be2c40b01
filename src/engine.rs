//! The engine as seen from the JS thread: starts the worker threads, routes
//! listeners, sockets and command batches to them, and stops them.
//! No napi here: the binding in `lib.rs` wraps it.

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

use tokio::sync::mpsc;

use crate::bridge::{EventQueue, WakeFn};
use crate::config::Config;
use crate::worker::{run_worker, MAX_WORKERS};

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
        self.upgrade as u8
            | (self.http as u8) << 1
            | (self.fragment as u8) << 2
            | (self.ping as u8) << 3
    }
    fn from_bits(b: u8) -> Self {
        Hooks {
            upgrade: b & 1 != 0,
            http: b & 2 != 0,
            fragment: b & 4 != 0,
            ping: b & 8 != 0,
        }
    }
}

/// Commands from one JS flush, shared by reference with the connections that
/// send from it (large payloads are written straight from `bytes`).
pub struct CommandBatch {
    pub bytes: Arc<Vec<u8>>,
    pub prepared: Vec<Arc<Vec<u8>>>,
}

pub enum WorkerMsg {
    Commands(Arc<CommandBatch>),
    Listen(TcpListener),
    /// A socket accepted elsewhere (another worker, or Node's http server),
    /// with bytes already read from it.
    Adopt(std::net::TcpStream, Vec<u8>),
    Shutdown,
}

pub struct Shared {
    pub config: Config,
    pub events: EventQueue,
    hooks: AtomicU8,
    senders: OnceLock<Vec<mpsc::UnboundedSender<WorkerMsg>>>,
    pub live_workers: AtomicUsize,
}

impl Shared {
    pub fn hooks(&self) -> Hooks {
        Hooks::from_bits(self.hooks.load(Ordering::Relaxed))
    }

    pub fn send_to(&self, worker: usize, msg: WorkerMsg) {
        if let Some(tx) = self.senders.get().and_then(|s| s.get(worker)) {
            let _ = tx.send(msg);
        }
    }

    fn broadcast(&self, make: impl Fn() -> WorkerMsg) {
        for tx in self.senders.get().into_iter().flatten() {
            let _ = tx.send(make());
        }
    }
}

pub struct Engine {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    stopping: bool,
}

impl Engine {
    pub fn start(mut config: Config, wake: WakeFn) -> std::io::Result<Engine> {
        config.threads = config.threads.clamp(1, MAX_WORKERS);
        let n = config.threads;
        let shared = Arc::new(Shared {
            config,
            events: EventQueue::new(wake, n),
            hooks: AtomicU8::new(0),
            senders: OnceLock::new(),
            live_workers: AtomicUsize::new(n),
        });
        let mut senders = Vec::with_capacity(n);
        let mut threads = Vec::with_capacity(n);
        for index in 0..n {
            let (tx, rx) = mpsc::unbounded_channel();
            senders.push(tx);
            let shared = shared.clone();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            threads.push(
                std::thread::Builder::new()
                    .name(format!("lws-worker-{index}"))
                    .spawn(move || {
                        let local = tokio::task::LocalSet::new();
                        local.block_on(&runtime, run_worker(index, shared, rx));
                    })?,
            );
        }
        let _ = shared.senders.set(senders);
        Ok(Engine {
            shared,
            threads,
            stopping: false,
        })
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
        self.shared.send_to(0, WorkerMsg::Adopt(stream, head));
    }

    pub fn set_hooks(&self, hooks: Hooks) {
        self.shared.hooks.store(hooks.to_bits(), Ordering::Relaxed);
    }

    pub fn submit(&self, batch: CommandBatch) {
        let batch = Arc::new(batch);
        self.shared.broadcast(|| WorkerMsg::Commands(batch.clone()));
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
