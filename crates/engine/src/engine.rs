//! The engine as seen from the JS thread: starts the worker threads, routes
//! listeners, sockets and command batches to them, and stops them.
//! No napi here: the root crate's `src/binding.rs` wraps it.

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::bridge::{EventQueue, WakeFn};
use crate::commands::{CommandBatch, WorkerMsg};
use crate::config::Config;
use crate::shared::{Hooks, Inbox, Shared};
use crate::worker::{Worker, MAX_WORKERS, WAKER};

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
            inboxes.push(Inbox { queue: Mutex::new(Vec::new()), waker: Mutex::new(Some(waker)) });
            polls.push(poll);
        }
        let shared = Arc::new(Shared::new(config, EventQueue::new(wake, n), inboxes));
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
    /// and hands the listener to worker 0. `reuse_port`: SO_REUSEPORT, so that
    /// several processes (or servers) listen on one port and the kernel spreads
    /// connections over them.
    pub fn listen(&self, addr: SocketAddr, backlog: i32, reuse_port: bool) -> std::io::Result<SocketAddr> {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
        socket.set_reuse_address(true)?;
        if reuse_port {
            socket.set_reuse_port(true)?;
        }
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

    /// Takes over a client connection Node upgraded (`WorkerMsg::AdoptClient`);
    /// the worker is the one `id`'s low bits name.
    pub fn adopt_client(&self, id: u32, stream: std::net::TcpStream, leftover: Vec<u8>, extensions: Vec<u8>) {
        let worker = (id as usize & (MAX_WORKERS - 1)) % self.shared.worker_count();
        self.shared.send_to(worker, WorkerMsg::AdoptClient { id, stream, leftover, extensions });
    }

    /// Links this engine to Redis for pub/sub across processes (worker 0 keeps the link).
    pub fn attach_redis(&self, cfg: crate::redis::RedisConfig) {
        self.shared.send_to(0, WorkerMsg::Redis(cfg));
    }

    /// Closes the listening socket; existing connections are not touched.
    pub fn unlisten(&self) {
        self.shared.send_to(0, WorkerMsg::Unlisten);
    }

    pub fn set_hooks(&self, hooks: Hooks) {
        self.shared.set_hooks(hooks);
    }

    /// Sends a command batch to the workers that own its sockets (an id's low
    /// bits name its worker), and only to them.
    pub fn submit(&self, batch: CommandBatch) {
        self.send_commands(batch);
        self.shared.commands_pending.store(false, std::sync::atomic::Ordering::SeqCst);
    }

    /// JS wrote commands outside an event batch; they come with its next `submit`.
    pub fn note_commands_pending(&self) {
        self.shared.commands_pending.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    fn send_commands(&self, batch: CommandBatch) {
        let workers = self.shared.worker_count();
        if workers == 1 {
            return self.shared.send_to(0, WorkerMsg::Commands(Arc::new(batch)));
        }
        let mut owners = 0u32;
        for rec in crate::wire::records(&batch.bytes) {
            owners |= match rec.kind {
                // A publish reaches subscribers on every worker.
                crate::wire::command::PUBLISH => u32::MAX,
                _ => 1 << (rec.id & (MAX_WORKERS as u32 - 1)),
            };
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
        self.shared.close_wakers();
    }
}
