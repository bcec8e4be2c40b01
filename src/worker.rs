//! A worker thread: a single-threaded tokio runtime that owns its sockets.
//!
//! It accepts (worker 0), runs handshakes and connections, applies command
//! batches from JS, and stages events that a flusher task hands to the JS
//! queue once per scheduler pass. State is thread-local (`Rc`, `RefCell`):
//! nothing on the data path takes a lock except the hand-over to JS.

use std::cell::{Cell, RefCell, RefMut};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Poll, Waker};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, Notify};

use crate::config::Config;
use crate::connection::{Connection, Payload};
use crate::engine::{CommandBatch, Hooks, Shared, WorkerMsg};
use crate::handshake::{self, Rejection, Request, RequestKind};
use crate::outbox::SHARE_THRESHOLD;
use crate::protocol::{Opcode, ReaderLimits};
use crate::wire::{self, command, event, FLAG_BINARY, FLAG_MORE};

const READ_BUFFER_SIZE: usize = 64 * 1024;
/// Ids carry the worker index in their low bits.
pub const WORKER_BITS: u32 = 3;
pub const MAX_WORKERS: usize = 1 << WORKER_BITS;

/// What JS decided about a handshake or HTTP request it was shown.
enum Decision {
    Accept(Vec<u8>),
    Refuse(u16, Vec<u8>),
    Respond(Vec<u8>),
}

pub struct Worker {
    index: u32,
    shared: Arc<Shared>,
    conns: RefCell<HashMap<u32, Rc<Connection>>>,
    pending: RefCell<HashMap<u32, oneshot::Sender<Decision>>>,
    staging: RefCell<Vec<u8>>,
    flush_scheduled: Cell<bool>,
    flush_waker: RefCell<Option<Waker>>,
    read_buf: RefCell<Box<[u8]>>,
    next_seq: Cell<u32>,
    dirty: RefCell<Vec<Rc<Connection>>>,
    /// Handshakes and connections alive on this worker.
    live: Cell<usize>,
    idle: Notify,
    shutting_down: Cell<bool>,
    shutdown_signal: Notify,
    accept_task: RefCell<Option<tokio::task::JoinHandle<()>>>,
    round_robin: Cell<usize>,
    /// Connections that stopped reading because JS is behind.
    blocked_on_js: RefCell<Vec<Waker>>,
}

/// Counts a task in `Worker::live` for as long as it runs.
struct LiveGuard(Rc<Worker>);

impl LiveGuard {
    fn new(w: &Rc<Worker>) -> Self {
        w.live.set(w.live.get() + 1);
        LiveGuard(w.clone())
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        let w = &self.0;
        w.live.set(w.live.get() - 1);
        if w.live.get() == 0 {
            w.idle.notify_one();
        }
    }
}

/// A socket whose upgrade succeeded, with bytes that came after the request.
struct Upgraded {
    id: u32,
    fd: i32,
    stream: TcpStream,
    peer: Option<SocketAddr>,
    leftover: Vec<u8>,
}

enum HandshakeFailure {
    Rejected(Rejection),
    Gone,
}

impl Worker {
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    pub fn hooks(&self) -> Hooks {
        self.shared.hooks()
    }

    pub fn reader_limits(&self) -> ReaderLimits {
        let cfg = self.config();
        ReaderLimits {
            max_message_size: cfg.max_message_size,
            fragment_size: self.hooks().fragment.then_some(cfg.buffer_size),
            allow_rsv1: false,
        }
    }

    /// True when the events waiting for JS exceed the backlog limit; the
    /// caller's task is woken once JS has taken them.
    pub fn js_is_behind(&self, cx: &mut std::task::Context<'_>) -> bool {
        let events = &self.shared.events;
        if events.pending_bytes() <= self.shared.config.max_js_backlog {
            return false;
        }
        self.blocked_on_js.borrow_mut().push(cx.waker().clone());
        events.set_throttled();
        // Re-check: JS may have drained between the first check and the flag.
        if events.pending_bytes() <= self.shared.config.max_js_backlog {
            self.wake_blocked();
            return false;
        }
        true
    }

    fn wake_blocked(&self) {
        for waker in std::mem::take(&mut *self.blocked_on_js.borrow_mut()) {
            waker.wake();
        }
    }

    pub fn read_buffer(&self) -> RefMut<'_, Box<[u8]>> {
        self.read_buf.borrow_mut()
    }

    /// Appends an event for JS; the flusher hands staged events over once per pass.
    pub fn stage(&self, kind: u8, flags: u8, code: u16, id: u32, extra: u32, payload: &[u8]) {
        wire::put_record(
            &mut self.staging.borrow_mut(),
            kind,
            flags,
            code,
            id,
            extra,
            payload,
        );
        if !self.flush_scheduled.replace(true) {
            if let Some(w) = self.flush_waker.borrow().as_ref() {
                w.wake_by_ref();
            }
        }
    }

    fn flush_events(&self) {
        self.flush_scheduled.set(false);
        self.shared.events.push(&mut self.staging.borrow_mut());
    }

    fn alloc_id(&self) -> u32 {
        loop {
            let seq = self.next_seq.get().wrapping_add(1) & (u32::MAX >> WORKER_BITS);
            self.next_seq.set(seq);
            let id = (seq << WORKER_BITS) | self.index;
            if seq != 0
                && !self.conns.borrow().contains_key(&id)
                && !self.pending.borrow().contains_key(&id)
            {
                return id;
            }
        }
    }

    // ---- commands -----------------------------------------------------------

    fn apply(&self, batch: &CommandBatch) {
        let multi = self.shared.config.threads > 1;
        for rec in wire::records(&batch.bytes) {
            if multi && rec.id & (MAX_WORKERS as u32 - 1) != self.index {
                continue;
            }
            match rec.kind {
                command::ACCEPT | command::REFUSE | command::HTTP_RESPONSE => {
                    if let Some(tx) = self.pending.borrow_mut().remove(&rec.id) {
                        let _ = tx.send(match rec.kind {
                            command::ACCEPT => Decision::Accept(rec.payload.to_vec()),
                            command::REFUSE => Decision::Refuse(rec.code, rec.payload.to_vec()),
                            _ => Decision::Respond(rec.payload.to_vec()),
                        });
                    }
                    continue;
                }
                _ => {}
            }
            let Some(conn) = self.conns.borrow().get(&rec.id).cloned() else {
                continue; // already closed: commands for it are no-ops
            };
            let binary = rec.flags & FLAG_BINARY != 0;
            let queued = match rec.kind {
                command::SEND => {
                    let more = rec.flags & FLAG_MORE != 0;
                    let payload = if rec.payload.len() >= SHARE_THRESHOLD {
                        Payload::Shared(
                            &batch.bytes,
                            rec.payload_offset,
                            rec.payload_offset + rec.payload.len(),
                        )
                    } else {
                        Payload::Bytes(rec.payload)
                    };
                    conn.queue_data(binary, more, payload)
                }
                command::SEND_PREPARED => match batch.prepared.get(rec.extra as usize) {
                    Some(data) => {
                        conn.queue_data(binary, false, Payload::Shared(data, 0, data.len()))
                    }
                    None => false,
                },
                command::PING => conn.queue_control(Opcode::Ping, rec.payload),
                command::PONG => conn.queue_control(Opcode::Pong, rec.payload),
                command::CLOSE => {
                    conn.close(rec.code, rec.payload);
                    true
                }
                command::TERMINATE => {
                    conn.terminate();
                    false
                }
                command::PAUSE | command::RESUME => {
                    conn.set_paused(rec.kind == command::PAUSE);
                    false
                }
                _ => false,
            };
            if queued && !conn.dirty.replace(true) {
                self.dirty.borrow_mut().push(conn);
            }
        }
        // Corking: everything this batch queued for a socket leaves in one write.
        let dirty = std::mem::take(&mut *self.dirty.borrow_mut());
        for conn in &dirty {
            conn.dirty.set(false);
            conn.flush_now(self);
        }
    }

    // ---- accepting and handshakes -----------------------------------------

    fn listen(self: &Rc<Self>, listener: std::net::TcpListener) {
        let listener = match TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(_) => return,
        };
        let me = self.clone();
        let task = tokio::task::spawn_local(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, peer)) => me.dispatch(stream, Some(peer)),
                    // Out of descriptors or memory: back off instead of spinning.
                    Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
                }
            }
        });
        *self.accept_task.borrow_mut() = Some(task);
    }

    /// Hands an accepted socket to a worker, round robin.
    fn dispatch(self: &Rc<Self>, stream: TcpStream, peer: Option<SocketAddr>) {
        let n = self.shared.config.threads;
        let target = self.round_robin.get() % n;
        self.round_robin.set(self.round_robin.get().wrapping_add(1));
        if target == self.index as usize {
            self.clone().spawn_serve(stream, Vec::new(), peer);
        } else if let Ok(std_stream) = stream.into_std() {
            self.shared
                .send_to(target, WorkerMsg::Adopt(std_stream, Vec::new()));
        }
    }

    fn spawn_serve(self: Rc<Self>, stream: TcpStream, head: Vec<u8>, peer: Option<SocketAddr>) {
        if self.shutting_down.get() {
            return;
        }
        let fut = async move {
            let _live = LiveGuard::new(&self);
            // The handshake's state is large (request buffer, timers): boxed, it is
            // freed when the handshake ends, and the long-lived task stays small.
            if let Some(upgraded) = Box::pin(self.handshake(stream, head, peer)).await {
                self.run_connection(upgraded).await;
            }
        };
        tokio::task::spawn_local(fut);
    }

    /// Runs the HTTP part: answers errors and plain requests itself, and returns
    /// the socket once a WebSocket upgrade was accepted and the 101 written.
    async fn handshake(
        self: &Rc<Self>,
        stream: TcpStream,
        mut buf: Vec<u8>,
        peer: Option<SocketAddr>,
    ) -> Option<Upgraded> {
        let cfg = self.config();
        configure_socket(&stream, cfg);
        let read =
            tokio::time::timeout(cfg.handshake_timeout, read_request(&stream, &mut buf, cfg));
        let request = tokio::select! {
            r = read => r,
            _ = self.shutdown_signal.notified() => return None,
        };
        let request = match request {
            Err(_) => return None, // too slow (slowloris): dropped without an answer
            Ok(Err(HandshakeFailure::Gone)) => return None,
            Ok(Err(HandshakeFailure::Rejected(r))) => {
                answer(stream, handshake::error_response(r.status, r.reason)).await;
                return None;
            }
            Ok(Ok(r)) => r,
        };
        let id = self.alloc_id();
        let fd = stream.as_raw_fd();
        let key = match request.kind.clone() {
            RequestKind::Plain { content_length } => {
                self.serve_http(id, stream, buf, request, content_length, peer)
                    .await;
                return None;
            }
            RequestKind::Upgrade { key } => key,
        };
        if let Some(path) = &cfg.path {
            if request.path() != path {
                answer(stream, handshake::error_response(404, "Not Found")).await;
                return None;
            }
        }
        let extra_headers = if self.hooks().upgrade {
            let encoded = wire::encode_request(peer, &request, &[]);
            match self.ask_js(id, event::UPGRADE, &stream, encoded).await {
                Some(Decision::Accept(extra)) => extra,
                Some(Decision::Refuse(status, extra)) => {
                    let response =
                        handshake::error_response_with(status, status_reason(status), &extra);
                    answer(stream, response).await;
                    return None;
                }
                _ => return None,
            }
        } else {
            Vec::new()
        };
        let leftover = buf.split_off(request.head_len);
        let response = handshake::switching_protocols(&key, &extra_headers);
        let mut stream = stream;
        match tokio::time::timeout(cfg.handshake_timeout, stream.write_all(&response)).await {
            Ok(Ok(())) => Some(Upgraded {
                id,
                fd,
                stream,
                peer,
                leftover,
            }),
            _ => None,
        }
    }

    async fn run_connection(&self, upgraded: Upgraded) {
        let Upgraded {
            id,
            fd,
            stream,
            peer,
            mut leftover,
        } = upgraded;
        {
            let mut addr = Vec::with_capacity(19);
            wire::put_peer(&mut addr, peer);
            self.stage(event::OPEN, 0, 0, id, fd as u32, &addr);
        }
        let conn = Rc::new(Connection::new(id, fd, stream));
        self.conns.borrow_mut().insert(id, conn.clone());
        conn.run(self, &mut leftover).await;
        self.conns.borrow_mut().remove(&id);
    }

    /// Shows JS a request and waits for its answer.
    /// Shows JS a request and waits for its answer. If the client goes away
    /// first (or shutdown drops the question), JS is told with ABORTED.
    async fn ask_js(
        &self,
        id: u32,
        kind: u8,
        stream: &TcpStream,
        request: Vec<u8>,
    ) -> Option<Decision> {
        let (tx, rx) = oneshot::channel();
        self.pending.borrow_mut().insert(id, tx);
        self.stage(kind, 0, 0, id, stream.as_raw_fd() as u32, &request);
        drop(request);
        let decision = tokio::select! {
            d = rx => d.ok(),
            _ = peer_closed(stream) => None,
        };
        if decision.is_none() {
            self.pending.borrow_mut().remove(&id);
            self.stage(event::ABORTED, 0, 0, id, 0, &[]);
        }
        decision
    }

    async fn serve_http(
        &self,
        id: u32,
        stream: TcpStream,
        mut buf: Vec<u8>,
        request: Request,
        content_length: usize,
        peer: Option<SocketAddr>,
    ) {
        if !self.hooks().http {
            return answer(stream, handshake::error_response(426, "Upgrade Required")).await;
        }
        let cfg = self.config();
        if content_length > cfg.max_http_body {
            return answer(stream, handshake::error_response(413, "Payload Too Large")).await;
        }
        let want = request.head_len + content_length;
        while buf.len() < want {
            buf.reserve(want - buf.len());
            let read = async {
                stream.readable().await?;
                stream.try_read_buf(&mut buf)
            };
            match tokio::time::timeout(cfg.handshake_timeout, read).await {
                Ok(Ok(n)) if n > 0 => {}
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                _ => return,
            }
        }
        let encoded = wire::encode_request(peer, &request, &buf[request.head_len..want]);
        drop(buf);
        if let Some(Decision::Respond(bytes)) = self.ask_js(id, event::HTTP, &stream, encoded).await
        {
            answer(stream, bytes).await;
        }
    }

    // ---- shutdown -----------------------------------------------------------

    async fn shut_down(self: &Rc<Self>) {
        self.shutting_down.set(true);
        if let Some(task) = self.accept_task.borrow_mut().take() {
            task.abort();
        }
        self.shutdown_signal.notify_waiters();
        self.pending.borrow_mut().clear(); // waiting handshakes see their answer dropped
        let conns: Vec<_> = self.conns.borrow().values().cloned().collect();
        for conn in &conns {
            conn.close(1001, b"server shutting down");
            conn.flush_now(self);
        }
        drop(conns);
        let grace = self.config().close_timeout + std::time::Duration::from_secs(1);
        if self.live.get() > 0
            && tokio::time::timeout(grace, self.idle.notified())
                .await
                .is_err()
        {
            let conns: Vec<_> = self.conns.borrow().values().cloned().collect();
            for conn in conns {
                conn.terminate();
            }
            for _ in 0..16 {
                tokio::task::yield_now().await;
            }
        }
    }
}

fn status_reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Refused",
    }
}

fn configure_socket(stream: &TcpStream, cfg: &Config) {
    let _ = stream.set_nodelay(true);
    if let Some((time, interval, retries)) = cfg.keepalive {
        let ka = socket2::TcpKeepalive::new()
            .with_time(time)
            .with_interval(interval)
            .with_retries(retries);
        let _ = socket2::SockRef::from(stream).set_tcp_keepalive(&ka);
    }
}

/// Resolves when the peer has closed its side (data still unread keeps it pending:
/// the request it belongs to is answered in due course).
async fn peer_closed(stream: &TcpStream) {
    let mut byte = [0u8; 1];
    match stream.peek(&mut byte).await {
        Ok(0) | Err(_) => {}
        Ok(_) => std::future::pending::<()>().await,
    }
}

/// Reads until a whole request head is in `buf`.
async fn read_request(
    stream: &TcpStream,
    buf: &mut Vec<u8>,
    cfg: &Config,
) -> Result<Request, HandshakeFailure> {
    loop {
        if !buf.is_empty() {
            match handshake::parse_request(buf, &cfg.handshake) {
                Ok(Some(r)) => return Ok(r),
                Ok(None) => {}
                Err(r) => return Err(HandshakeFailure::Rejected(r)),
            }
        }
        stream
            .readable()
            .await
            .map_err(|_| HandshakeFailure::Gone)?;
        buf.reserve(2048);
        match stream.try_read_buf(buf) {
            Ok(0) => return Err(HandshakeFailure::Gone),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return Err(HandshakeFailure::Gone),
        }
    }
}

/// Writes a final HTTP answer and closes, letting the peer read it first.
async fn answer(mut stream: TcpStream, bytes: Vec<u8>) {
    let write = async {
        stream.write_all(&bytes).await?;
        stream.shutdown().await?;
        // Drain what the peer still sends so that closing does not reset the connection.
        let mut sink = vec![0u8; 1024];
        loop {
            stream.readable().await?;
            match stream.try_read(&mut sink) {
                Ok(0) => return Ok::<(), std::io::Error>(()),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), write).await;
}

/// The body of a worker thread.
pub async fn run_worker(
    index: usize,
    shared: Arc<Shared>,
    mut rx: mpsc::UnboundedReceiver<WorkerMsg>,
) {
    let worker = Rc::new(Worker {
        index: index as u32,
        shared: shared.clone(),
        conns: RefCell::new(HashMap::new()),
        pending: RefCell::new(HashMap::new()),
        staging: RefCell::new(Vec::new()),
        flush_scheduled: Cell::new(false),
        flush_waker: RefCell::new(None),
        read_buf: RefCell::new(vec![0u8; READ_BUFFER_SIZE].into_boxed_slice()),
        next_seq: Cell::new(0),
        dirty: RefCell::new(Vec::new()),
        live: Cell::new(0),
        idle: Notify::new(),
        shutting_down: Cell::new(false),
        shutdown_signal: Notify::new(),
        accept_task: RefCell::new(None),
        round_robin: Cell::new(0),
        blocked_on_js: RefCell::new(Vec::new()),
    });
    // Wakes the connections that paused for JS once it has caught up.
    let resume_worker = worker.clone();
    tokio::task::spawn_local(async move {
        loop {
            resume_worker.shared.events.resumed(index).notified().await;
            resume_worker.wake_blocked();
        }
    });
    // The flusher runs after the tasks that were ready in the same pass, so
    // everything they staged crosses to JS in one hand-over.
    let flusher_worker = worker.clone();
    tokio::task::spawn_local(std::future::poll_fn(move |cx| {
        let w = &flusher_worker;
        {
            let mut fw = w.flush_waker.borrow_mut();
            if !fw.as_ref().is_some_and(|x| x.will_wake(cx.waker())) {
                *fw = Some(cx.waker().clone());
            }
        }
        if w.flush_scheduled.get() {
            w.flush_events();
        }
        Poll::<()>::Pending
    }));
    while let Some(msg) = rx.recv().await {
        match msg {
            WorkerMsg::Commands(batch) => worker.apply(&batch),
            WorkerMsg::Listen(listener) => worker.listen(listener),
            WorkerMsg::Adopt(stream, head) => {
                if stream.set_nonblocking(true).is_ok() {
                    if let Ok(stream) = TcpStream::from_std(stream) {
                        let peer = stream.peer_addr().ok();
                        worker.clone().spawn_serve(stream, head, peer);
                    }
                }
            }
            WorkerMsg::Shutdown => break,
        }
    }
    worker.shut_down().await;
    worker.flush_events();
    if shared.live_workers.fetch_sub(1, Ordering::AcqRel) == 1 {
        worker.stage(event::SHUTDOWN, 0, 0, 0, 0, &[]);
        worker.flush_events();
    }
}
