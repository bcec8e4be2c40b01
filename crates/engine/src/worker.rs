//! A worker thread: one epoll loop (mio) that owns its sockets.
//!
//! Connections live in a slab, one `Conn` each: there is no task, future or
//! timer object per socket. Every turn of the loop services the ready sockets,
//! fires due timers, writes what the applied command batches queued (one write
//! per socket), and hands all staged events to JS in one push.
//!
//! Children: `http_phase` (request, answers, the 101 and hand-offs) and `apply`
//! (command batches). This file is the loop, accepting, timers, the raw read
//! buffer and servicing a WebSocket; still ~780 lines: accepting and the raw
//! buffer could move out next (see the engine-layout issue).

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use crate::commands::{CommandBatch, WorkerMsg};
use crate::config::Config;
use crate::connection::{flag, Conn, Phase};
use crate::events::{Event, EventSink};
use crate::shared::Shared;
use crate::tls::Transport;
use crate::wire::{self, event};
use lws_proto::deflate;
use lws_proto::protocol::{Opcode, ReaderLimits};

mod apply;
mod http_phase;

const READ_BUFFER_SIZE: usize = 256 * 1024;
/// The raw buffer plain-TCP WebSocket reads land in (see `Worker::raw`).
const RAW_CAPACITY: usize = 1024 * 1024;
/// Room a read should have; with less, the raw buffer goes to JS and a new one starts.
const RAW_MIN_ROOM: usize = 256 * 1024;
/// Raw buffers lent to JS that the worker keeps a handle on, to reuse them
/// once JS has let go: a new one would cost a page fault per 4 KiB touched.
const RAW_POOL: usize = 4;
/// Reads per socket per turn before the others get theirs.
const MAX_READS_PER_TURN: usize = 4;
/// Resolution of the idle clock.
const IDLE_TICK_MS: u128 = 100;
/// Queued bytes past which a command batch writes to a socket before it ends.
const EARLY_FLUSH: usize = 256 * 1024;
/// How long a final HTTP answer may take to be written and acknowledged.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);
/// Ids carry the worker index in their low bits.
pub const WORKER_BITS: u32 = 3;
pub const MAX_WORKERS: usize = 1 << WORKER_BITS;
pub const WAKER: Token = Token(usize::MAX - 1);
const LISTENER: Token = Token(usize::MAX - 2);

pub struct Worker {
    index: u32,
    shared: Arc<Shared>,
    poll: Poll,
    conns: Slab<Conn>,
    /// Connection id -> slab key.
    ids: HashMap<u32, usize>,
    listener: Option<TcpListener>,
    /// For handshakes and TLS (rustls decrypts into it).
    read_buf: Box<[u8]>,
    /// Where plain-TCP WebSocket reads land, after a RAW record header. A long
    /// message read whole is lent to JS from here with no copy (`MESSAGE_AT`):
    /// then the staged records are appended and the whole buffer is the batch.
    raw: Vec<u8>,
    /// Records staged since the last flush point into `raw`.
    raw_used: bool,
    /// Raw buffers handed to JS, reused when the worker's is the last handle.
    raw_lent: Vec<Arc<Vec<u8>>>,
    staging: Vec<u8>,
    timers: BTreeSet<(Instant, usize)>,
    /// Sockets with queued output from the current command batch.
    dirty: Vec<usize>,
    /// Sockets with input left after their turn.
    ready: Vec<usize>,
    /// Sockets that stopped reading until JS takes its backlog.
    blocked: Vec<usize>,
    next_seq: u32,
    round_robin: usize,
    shutdown_deadline: Option<Instant>,
    /// Seconds are counted from here for `Conn::last_input`.
    started: Instant,
    /// Next scan for idle connections (when `idle_timeout` is set).
    next_idle_sweep: Option<Instant>,
    /// permessage-deflate without context takeover: one inflater for all
    /// sockets, and one compressor per window size, reset for every message.
    shared_inflater: flate2::Decompress,
    shared_compressors: [Option<Box<flate2::Compress>>; 16],
    deflate_buf: Vec<u8>,
}

impl Worker {
    pub fn new(index: usize, shared: Arc<Shared>, poll: Poll) -> Worker {
        Worker {
            index: index as u32,
            shared,
            poll,
            conns: Slab::new(),
            ids: HashMap::new(),
            listener: None,
            read_buf: vec![0u8; READ_BUFFER_SIZE].into_boxed_slice(),
            raw: empty_raw(Vec::with_capacity(RAW_CAPACITY)),
            raw_used: false,
            raw_lent: Vec::new(),
            staging: Vec::new(),
            timers: BTreeSet::new(),
            dirty: Vec::new(),
            ready: Vec::new(),
            blocked: Vec::new(),
            next_seq: 0,
            round_robin: 0,
            shutdown_deadline: None,
            started: Instant::now(),
            next_idle_sweep: None,
            shared_inflater: deflate::new_inflater(),
            shared_compressors: Default::default(),
            deflate_buf: Vec::new(),
        }
    }

    /// A connection's idle clock: tenths of a second since the worker started
    /// (fine enough for timeouts of a second, and 13 years before it wraps).
    fn tick(&self) -> u32 {
        (self.started.elapsed().as_millis() / IDLE_TICK_MS) as u32
    }

    fn idle_sweep_interval(&self) -> Option<Duration> {
        self.config().idle_timeout.map(|t| (t / 8).max(Duration::from_millis(IDLE_TICK_MS as u64)))
    }

    /// Pings connections silent for half the idle timeout; closes (1001) those
    /// silent for all of it. One scan every quarter of the timeout, no timer per socket.
    fn sweep_idle(&mut self) {
        let Some(timeout) = self.config().idle_timeout else { return };
        let now = Instant::now();
        match self.next_idle_sweep {
            Some(at) if at > now => return,
            _ => {}
        }
        self.next_idle_sweep = self.idle_sweep_interval().map(|i| now + i);
        let tick = self.tick();
        let limit = ((timeout.as_millis() / IDLE_TICK_MS) as u32).max(1);
        let mut expired = Vec::new();
        for (key, conn) in self.conns.iter_mut() {
            if !matches!(conn.phase, Phase::Open) {
                continue;
            }
            let silent = tick.saturating_sub(conn.last_input);
            if silent >= limit {
                expired.push(key);
            } else if silent * 2 >= limit && !conn.has(flag::PINGED) {
                conn.set(flag::PINGED, true);
                conn.queue_control(Opcode::Ping, b"");
                if !conn.has(flag::DIRTY) {
                    conn.set(flag::DIRTY, true);
                    self.dirty.push(key);
                }
            }
        }
        for key in expired {
            if self.conns[key].close(1001, b"idle timeout") {
                self.arm_close_timer(key);
            }
            self.service_websocket(key);
        }
    }

    fn config(&self) -> &Config {
        &self.shared.config
    }

    fn limits(&self) -> ReaderLimits {
        let cfg = self.config();
        ReaderLimits {
            max_message_size: cfg.max_message_size,
            fragment_size: self.shared.hooks().fragment.then_some(cfg.buffer_size),
            allow_rsv1: false,
            ..ReaderLimits::default()
        }
    }

    fn sink<'a>(staging: &'a mut Vec<u8>, shared: &Shared) -> EventSink<'a> {
        EventSink {
            staging,
            ping_events: shared.hooks().ping,
            auto_pong: shared.config.auto_pong,
            raw: None,
            raw_used: false,
        }
    }

    // ---- the loop -------------------------------------------------------------

    pub fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = self.next_timeout();
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    break;
                }
            }
            if !self.turn(&events) {
                break;
            }
        }
        self.finish_run();
    }

    /// How long the loop may sleep: until the next timer or idle sweep, no
    /// time at all when sockets have input left, or indefinitely (None).
    pub fn next_timeout(&self) -> Option<Duration> {
        if !self.ready.is_empty() {
            return Some(Duration::ZERO);
        }
        let next_timer = self.timers.first().map(|(at, _)| *at);
        let next = match (next_timer, self.next_idle_sweep) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        next.map(|at| at.saturating_duration_since(Instant::now()))
    }

    /// One turn of the loop after a poll: services the ready sockets, fires
    /// timers, writes, and hands the staged events to JS. False once a
    /// shutdown has finished (the loop must end).
    fn turn(&mut self, events: &Events) -> bool {
        for ev in events.iter() {
            match ev.token() {
                WAKER => self.drain_inbox(),
                LISTENER => self.accept_all(),
                Token(key) => {
                    if let Some(conn) = self.conns.get_mut(key) {
                        if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                            conn.set(flag::CAN_READ, true);
                        }
                        if ev.is_read_closed() || ev.is_error() {
                            conn.set(flag::READ_CLOSED, true);
                        }
                        if ev.is_writable() || ev.is_write_closed() || ev.is_error() {
                            conn.set(flag::CAN_WRITE, true);
                        }
                        self.service(key);
                    }
                }
            }
        }
        for key in std::mem::take(&mut self.ready) {
            if let Some(conn) = self.conns.get_mut(key) {
                conn.set(flag::QUEUED, false);
                self.service(key);
            }
        }
        self.fire_timers();
        self.sweep_idle();
        self.flush_dirty();
        self.flush_events();
        if let Some(deadline) = self.shutdown_deadline {
            if self.conns.is_empty() {
                return false;
            }
            if Instant::now() >= deadline {
                let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
                for key in keys {
                    self.conns[key].terminate();
                    self.finish(key);
                }
                return false;
            }
        }
        true
    }

    /// After the last turn: the last worker to stop tells JS the engine is down.
    fn finish_run(&mut self) {
        self.flush_events();
        if self.shared.live_workers.fetch_sub(1, Ordering::AcqRel) == 1 {
            Self::sink(&mut self.staging, &self.shared).emit(0, Event::Shutdown);
            self.flush_events();
        }
    }

    /// For a worker driven by the JS thread's event loop (`uv_loop`): the epoll
    /// descriptor that loop watches; it is readable when this worker has work.
    pub fn poll_fd(&self) -> std::os::fd::RawFd {
        self.poll.as_raw_fd()
    }

    /// For a worker on the JS thread: carries out a command batch at once and
    /// writes what it queued (what a turn does with a batch from the inbox).
    pub fn apply_now(&mut self, batch: &CommandBatch) {
        self.apply(batch);
        self.flush_dirty();
        self.flush_events();
    }

    /// For a worker driven by the JS thread's event loop: polls without
    /// waiting and takes one turn. False once the worker has stopped for good.
    pub fn step(&mut self, events: &mut Events) -> bool {
        if let Err(e) = self.poll.poll(events, Some(Duration::ZERO)) {
            if e.kind() != io::ErrorKind::Interrupted {
                self.finish_run();
                return false;
            }
            events.clear();
        }
        if !self.turn(events) {
            self.finish_run();
            return false;
        }
        true
    }

    /// Hands staged events to JS; true if there were any.
    fn flush_events(&mut self) -> bool {
        if self.staging.is_empty() {
            return false;
        }
        if !std::mem::take(&mut self.raw_used) {
            self.shared.events.push(&mut self.staging);
            return true;
        }
        // One buffer for JS: the RAW record (the bytes read), then the records.
        let read = (self.raw.len() - wire::RECORD_HEADER) as u32;
        let mut header = Vec::with_capacity(wire::RECORD_HEADER);
        wire::put_header(&mut header, event::RAW, 0, 0, 0, read, 0);
        self.raw[..wire::RECORD_HEADER].copy_from_slice(&header);
        self.raw.extend_from_slice(&self.staging);
        self.staging.clear();
        let next = self.spare_raw();
        let batch = Arc::new(std::mem::replace(&mut self.raw, next));
        if self.raw_lent.len() < RAW_POOL {
            self.raw_lent.push(Arc::clone(&batch));
        }
        self.shared.events.push_shared(batch);
        true
    }

    /// An empty raw buffer (a lent one JS has finished with, or a new one),
    /// with room for its RAW record header.
    fn spare_raw(&mut self) -> Vec<u8> {
        let buf = (0..self.raw_lent.len())
            .find_map(|i| Arc::get_mut(&mut self.raw_lent[i]).map(|b| (i, std::mem::take(b))))
            .map(|(i, b)| {
                self.raw_lent.swap_remove(i);
                b
            })
            .unwrap_or_else(|| Vec::with_capacity(RAW_CAPACITY));
        empty_raw(buf)
    }

    /// Readies `raw` for a read: while no record points into it, it is reused
    /// from the start; after that reads append, and when room runs short the
    /// staged events go to JS with it (flushing early keeps their order).
    fn make_raw_room(&mut self) {
        if !self.raw_used {
            self.raw.truncate(wire::RECORD_HEADER);
        } else if self.raw.capacity() - self.raw.len() < RAW_MIN_ROOM {
            self.flush_events();
        }
        if self.raw.capacity() - self.raw.len() < RAW_MIN_ROOM {
            self.raw = self.spare_raw();
        }
    }

    fn drain_inbox(&mut self) {
        for msg in self.shared.take_inbox(self.index as usize) {
            match msg {
                WorkerMsg::Commands(batch) => self.apply(&batch),
                WorkerMsg::Listen(listener) => self.listen(listener),
                WorkerMsg::Unlisten => self.unlisten(),
                WorkerMsg::Adopt(stream, head, adopted) => {
                    if stream.set_nonblocking(true).is_ok() {
                        let peer = stream.peer_addr().ok();
                        self.register(TcpStream::from_std(stream), head, peer, adopted);
                    }
                }
                WorkerMsg::Shutdown => self.begin_shutdown(),
            }
        }
        self.resume_blocked();
    }

    /// Also reached when JS took events while workers waited for it: resume the
    /// sockets that stopped reading, or re-arm the signal if JS is still behind
    /// (one take moves one chunk, so a signal can come before JS has caught up).
    fn resume_blocked(&mut self) {
        if self.blocked.is_empty() {
            return;
        }
        if self.js_is_behind() {
            self.shared.events.set_throttled();
            if self.js_is_behind() {
                return;
            }
        }
        for key in std::mem::take(&mut self.blocked) {
            if let Some(conn) = self.conns.get_mut(key) {
                conn.set(flag::BLOCKED, false);
                self.queue_ready(key);
            }
        }
    }

    fn js_is_behind(&self) -> bool {
        self.shared.events.pending_bytes() > self.config().max_js_backlog
    }

    fn queue_ready(&mut self, key: usize) {
        if let Some(conn) = self.conns.get_mut(key) {
            if !conn.has(flag::QUEUED) {
                conn.set(flag::QUEUED, true);
                self.ready.push(key);
            }
        }
    }

    // ---- accepting ------------------------------------------------------------

    fn listen(&mut self, listener: std::net::TcpListener) {
        let mut listener = TcpListener::from_std(listener);
        if self.poll.registry().register(&mut listener, LISTENER, Interest::READABLE).is_ok() {
            self.listener = Some(listener);
        }
    }

    fn unlisten(&mut self) {
        if let Some(mut listener) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut listener);
        }
    }

    fn accept_all(&mut self) {
        loop {
            let Some(listener) = self.listener.as_ref() else {
                return;
            };
            match listener.accept() {
                Ok((stream, peer)) => {
                    let n = self.config().threads;
                    let target = self.round_robin % n;
                    self.round_robin = self.round_robin.wrapping_add(1);
                    if target == self.index as usize {
                        self.register(stream, Vec::new(), Some(peer), false);
                    } else {
                        // SAFETY of ownership: the fd moves into the std stream.
                        let std_stream = unsafe {
                            use std::os::fd::{FromRawFd, IntoRawFd};
                            std::net::TcpStream::from_raw_fd(stream.into_raw_fd())
                        };
                        self.shared.send_to(target, WorkerMsg::Adopt(std_stream, Vec::new(), false));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => {}
                // Out of descriptors or memory: leave the rest in the backlog for the next turn.
                Err(_) => return,
            }
        }
    }

    fn alloc_id(&mut self) -> u32 {
        loop {
            self.next_seq = self.next_seq.wrapping_add(1) & (u32::MAX >> WORKER_BITS);
            let id = (self.next_seq << WORKER_BITS) | self.index;
            if self.next_seq != 0 && !self.ids.contains_key(&id) {
                return id;
            }
        }
    }

    /// Takes a socket into the loop. `adopted` ones come from Node's servers,
    /// which did any TLS themselves.
    fn register(&mut self, mut stream: TcpStream, head: Vec<u8>, peer: Option<SocketAddr>, adopted: bool) {
        if self.shutdown_deadline.is_some() {
            return;
        }
        configure_socket(&stream, self.config());
        let key = self.conns.vacant_key();
        if self
            .poll
            .registry()
            .register(&mut stream, Token(key), Interest::READABLE | Interest::WRITABLE)
            .is_err()
        {
            return;
        }
        let id = self.alloc_id();
        let tls = if adopted { None } else { self.shared.config.tls.as_ref() };
        let Ok(io) = Transport::new(stream, tls) else {
            return;
        };
        let mut conn = Conn::new(id, io, head, peer);
        conn.set(flag::ADOPTED, adopted);
        self.conns.insert(conn);
        self.ids.insert(id, key);
        let timeout = self.config().handshake_timeout;
        self.set_deadline(key, Some(timeout));
        self.service(key);
    }

    // ---- timers ---------------------------------------------------------------

    fn set_deadline(&mut self, key: usize, after: Option<Duration>) {
        let conn = &mut self.conns[key];
        if let Some(old) = conn.deadline.take() {
            self.timers.remove(&(old, key));
        }
        if let Some(after) = after {
            let at = Instant::now() + after;
            conn.deadline = Some(at);
            self.timers.insert((at, key));
        }
    }

    /// The close handshake began: the peer has `close_timeout` to finish it.
    fn arm_close_timer(&mut self, key: usize) {
        let timeout = self.config().close_timeout;
        self.set_deadline(key, Some(timeout));
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(&(at, key)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            let Some(conn) = self.conns.get_mut(key) else {
                continue;
            };
            conn.deadline = None;
            match conn.phase {
                // A slow client (slowloris) or an unfinished answer: dropped.
                Phase::Request(_) | Phase::Answering => self.drop_socket(key),
                // Our close was not answered in time: the report keeps our code.
                Phase::Closing => {
                    conn.set(flag::DONE, true);
                    self.finish(key);
                }
                // JS did not reply to the peer's close in time: the engine replies
                // (the peer gets one more close timeout to take it).
                Phase::PeerClosed => {
                    if conn.answer_peer_close() {
                        self.arm_close_timer(key);
                    }
                    self.service_websocket(key);
                }
                _ => {
                    conn.terminate();
                    self.finish(key);
                }
            }
        }
    }

    // ---- servicing one socket ---------------------------------------------------

    /// Advances one socket as far as its readiness allows. A panic here is
    /// contained: that socket is closed with 1011 and the server goes on.
    fn service(&mut self, key: usize) {
        if catch_unwind(AssertUnwindSafe(|| self.service_inner(key))).is_err() {
            self.contain_panic(key);
        }
    }

    /// After a panic while serving slot `key`: a WebSocket is closed with 1011
    /// (JS sees LWS_ERR_INTERNAL), a socket still in its handshake is dropped.
    fn contain_panic(&mut self, key: usize) {
        // Records staged before the panic may point into `raw` (the flag did not
        // make it out of the unwound read): ship it with them to be safe.
        self.raw_used = true;
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        if conn.is_websocket() {
            let mut sink = Self::sink(&mut self.staging, &self.shared);
            // The goodbye itself may hit the same fault: then the socket just goes.
            if catch_unwind(AssertUnwindSafe(|| conn.abort_internal_error(&mut sink))).is_err() {
                conn.set_final_report(1011, b"internal error", crate::wire::INTERNAL_ERROR_ID);
                conn.set(flag::DONE, true);
            }
            self.finish(key);
        } else {
            self.drop_socket(key);
        }
    }

    fn service_inner(&mut self, key: usize) {
        match self.conns[key].phase {
            Phase::Request(_) => self.service_request(key),
            Phase::AwaitJs(_) => self.service_waiting(key),
            Phase::Answering => self.service_answer(key),
            Phase::Open | Phase::Failing | Phase::PeerClosed | Phase::Closing => self.service_websocket(key),
        }
    }

    fn service_websocket(&mut self, key: usize) {
        let limits = self.limits();
        let mut reads = 0;
        loop {
            let conn = &mut self.conns[key];
            let mut sink = Self::sink(&mut self.staging, &self.shared);
            conn.write_out(&mut sink);
            if conn.has(flag::DONE) {
                return self.finish(key);
            }
            if conn.close_exchange_done() {
                return self.finish(key);
            }
            if !conn.has(flag::CAN_READ)
                || conn.input_ended()
                || (conn.has(flag::PAUSED) && matches!(conn.phase, Phase::Open))
            {
                return;
            }
            if reads == MAX_READS_PER_TURN {
                return self.queue_ready(key);
            }
            if self.shared.events.pending_bytes() > self.shared.config.max_js_backlog {
                return self.block_on_js(key);
            }
            let in_place = !conn.io.is_tls();
            if in_place {
                self.make_raw_room();
            }
            let conn = &mut self.conns[key];
            let raw_start = self.raw.len();
            let read =
                if in_place { conn.read_spare(&mut self.raw) } else { conn.read_into(&mut self.read_buf) };
            match read {
                Ok(0) => {
                    if !matches!(conn.phase, Phase::Closing) {
                        conn.lost();
                    } else {
                        conn.set(flag::DONE, true);
                    }
                    return self.finish(key);
                }
                Ok(n) => {
                    reads += 1;
                    conn.last_input = (self.started.elapsed().as_millis() / IDLE_TICK_MS) as u32;
                    conn.set(flag::PINGED, false);
                    let mut sink = Self::sink(&mut self.staging, &self.shared);
                    let input = if in_place {
                        sink.raw = Some((self.raw.as_ptr() as usize, self.raw.len()));
                        &mut self.raw[raw_start..]
                    } else {
                        &mut self.read_buf[..n]
                    };
                    let closing = conn.on_input(input, &limits, &mut sink, &mut self.shared_inflater);
                    self.raw_used |= sink.raw_used;
                    if closing {
                        self.arm_close_timer(key);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    conn.lost();
                    return self.finish(key);
                }
            }
        }
    }

    /// Stops reading a socket until JS takes its backlog. The flag is set before
    /// the second look, so a take in between is never missed.
    fn block_on_js(&mut self, key: usize) {
        self.shared.events.set_throttled();
        if !self.js_is_behind() {
            return self.queue_ready(key);
        }
        let conn = &mut self.conns[key];
        if !conn.has(flag::BLOCKED) {
            conn.set(flag::BLOCKED, true);
            self.blocked.push(key);
        }
    }

    /// Removes a WebSocket and reports its CLOSE.
    fn finish(&mut self, key: usize) {
        let mut conn = self.remove(key);
        let mut sink = Self::sink(&mut self.staging, &self.shared);
        conn.report_close(&mut sink);
    }

    /// Removes a socket that never became a WebSocket (no event for JS).
    fn drop_socket(&mut self, key: usize) {
        self.remove(key);
    }

    /// Takes a socket out of the slab, its timer and the id map; dropping the
    /// returned value closes it.
    fn remove(&mut self, key: usize) -> Conn {
        let mut conn = self.conns.remove(key);
        if let Some(at) = conn.deadline.take() {
            self.timers.remove(&(at, key));
        }
        self.ids.remove(&conn.id);
        if conn.has(flag::ADOPTED) {
            let _ = self.poll.registry().deregister(conn.io.tcp_mut());
        }
        // Otherwise closing the only descriptor (when `conn` drops) removes it from
        // epoll: one epoll_ctl less per connection.
        conn
    }

    /// Corking: everything a command batch queued for a socket leaves in one write.
    fn flush_dirty(&mut self) {
        for key in std::mem::take(&mut self.dirty) {
            let Some(conn) = self.conns.get_mut(key) else {
                continue;
            };
            conn.set(flag::DIRTY, false);
            if conn.is_websocket() {
                self.service(key);
                if let Some(conn) = self.conns.get_mut(key) {
                    let mut sink = Self::sink(&mut self.staging, &self.shared);
                    conn.report_backlog(&mut sink);
                }
            }
        }
    }

    // ---- shutdown ---------------------------------------------------------------

    fn begin_shutdown(&mut self) {
        if self.shutdown_deadline.is_some() {
            return;
        }
        self.shutdown_deadline = Some(Instant::now() + self.config().close_timeout + Duration::from_secs(1));
        self.unlisten();
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for key in keys {
            let conn = &mut self.conns[key];
            match conn.phase {
                Phase::PeerClosed => {
                    if conn.answer_peer_close() {
                        self.arm_close_timer(key);
                    }
                    self.service_websocket(key);
                }
                Phase::Open | Phase::Failing => {
                    if conn.close(1001, b"server shutting down") {
                        self.arm_close_timer(key);
                    }
                    self.service_websocket(key);
                }
                Phase::Closing | Phase::Answering => {}
                Phase::AwaitJs(_) => self.abort_request(key),
                Phase::Request(_) => self.drop_socket(key),
            }
        }
    }
}

/// `buf` emptied down to the RAW record header that starts every raw buffer.
fn empty_raw(mut buf: Vec<u8>) -> Vec<u8> {
    buf.clear();
    buf.resize(wire::RECORD_HEADER, 0);
    buf
}

fn configure_socket(stream: &TcpStream, cfg: &Config) {
    let _ = stream.set_nodelay(true);
    if let Some((time, interval, retries)) = cfg.keepalive {
        let ka = socket2::TcpKeepalive::new().with_time(time).with_interval(interval).with_retries(retries);
        let _ = socket2::SockRef::from(stream).set_tcp_keepalive(&ka);
    }
}
