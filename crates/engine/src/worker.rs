//! A worker thread: one epoll loop (mio) that owns its sockets. This file is
//! the loop only: poll, dispatch ready sockets and inbox messages, fire
//! timers, flush (writes, then events to JS); what each step does lives in a
//! child module or in the connection.
//!
//! Connections live in a slab, one `Conn` each: there is no task, future or
//! timer object per socket. Every turn of the loop services the ready sockets,
//! fires due timers, writes what the applied command batches queued (one write
//! per socket), and hands all staged events to JS in one push.
//!
//! Children (all `Worker` methods): `listener` (accepting and adopting
//! sockets), `timers` (deadlines, the idle sweep, shutdown), `http_phase`
//! (request, answers, the 101 and hand-offs), `client_phase` (a client's
//! connect, response and open), `pubsub` (subscriptions and fan-out),
//! `websocket` (reading into the
//! shared buffers, backpressure toward JS), `apply` (command batches),
//! `batches` (staged events and the raw read buffer lent to JS).

use std::collections::BTreeSet;
use std::io;
use std::num::NonZeroU64;
use std::os::fd::AsRawFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::{Events, Poll, Token};
use slab::Slab;

use crate::commands::{CommandBatch, WorkerMsg};
use crate::config::Config;
use crate::conn_ids::ConnIds;
use crate::connection::{Conn, Listed, Phase, SharedCodecs};
use crate::events::{Event, EventSink};
use crate::redis::RedisLink;
use crate::shared::Shared;
use crate::topics::Topics;
use lws_proto::protocol::ReaderLimits;

mod apply;
mod batches;
mod client_phase;
mod http_phase;
mod listener;
mod pubsub;
mod timers;
mod websocket;

const READ_BUFFER_SIZE: usize = 256 * 1024;
/// Bytes one socket reads in a turn before the others have theirs. Bytes, not
/// reads: a socket read quickly gets a large TCP window from the kernel, so a
/// few reads of it could carry megabytes while a slower peer's sockets wait.
const READ_BUDGET: usize = 512 * 1024;
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
/// The Redis link's connections (worker 0, `pubsub`): this token and the
/// `2 * redis::MAX_NODES - 1` below it.
const REDIS_FIRST: usize = usize::MAX - 3;

pub struct Worker {
    index: u32,
    shared: Arc<Shared>,
    poll: Poll,
    conns: Slab<Conn>,
    /// Connection id -> slab key.
    ids: ConnIds,
    listener: Option<TcpListener>,
    /// For handshakes and TLS (rustls decrypts into it).
    read_buf: Box<[u8]>,
    /// Where plain-TCP WebSocket reads land, after a RAW record header (see `batches`).
    raw: Vec<u8>,
    /// Records staged since the last flush point into `raw`.
    raw_used: bool,
    /// Raw buffers handed to JS, reused when the worker's is the last handle.
    raw_lent: Vec<Arc<Vec<u8>>>,
    staging: Vec<u8>,
    /// On the JS thread: the last WebSocket read held a message per KiB or more (small
    /// messages), and the next is read in a smaller piece (see `websocket`).
    small_messages: bool,
    /// How far `staging` has been through `note_staged`.
    staging_noted: usize,
    /// This worker's pushes to the event queue so far (`PushMark::seq` of the last).
    pushes: u64,
    /// Sockets whose peer's close frame JS has not answered yet, for the engine
    /// to answer at the end of a turn once JS has nothing left to answer.
    peer_closed: Vec<websocket::PeerClosed>,
    /// Phase deadlines (`timers::deadline_key`) and their sockets' keys.
    timers: BTreeSet<(NonZeroU64, usize)>,
    /// Sockets with queued output from the current command batch.
    dirty: Vec<usize>,
    /// Sockets (key, id) whose JS asked to hear when its output is written (REPORT_WRITTEN).
    written_reports: Vec<(usize, u32)>,
    /// Sockets with input left after their turn.
    ready: Vec<usize>,
    /// Sockets that stopped reading until JS takes its backlog.
    blocked: Vec<usize>,
    next_seq: u32,
    round_robin: usize,
    shutdown_deadline: Option<Instant>,
    /// Ticks of the idle clock are counted from here (`timers::idle_tick`).
    started: Instant,
    /// Next scan for idle connections (when `idle_timeout` is set).
    next_idle_sweep: Option<Instant>,
    /// permessage-deflate state shared by all of this worker's sockets.
    codecs: SharedCodecs,
    /// Pub/sub subscriptions of this worker's sockets.
    topics: Topics,
    /// Worker 0, with `pubsub.redis`: the link to the other processes.
    redis: Option<RedisLink>,
}

impl Worker {
    pub fn new(index: usize, shared: Arc<Shared>, poll: Poll) -> Worker {
        Worker {
            index: index as u32,
            shared,
            poll,
            conns: Slab::new(),
            ids: ConnIds::default(),
            listener: None,
            read_buf: vec![0u8; READ_BUFFER_SIZE].into_boxed_slice(),
            raw: batches::empty_raw(Vec::with_capacity(batches::RAW_CAPACITY)),
            raw_used: false,
            raw_lent: Vec::new(),
            staging: Vec::new(),
            small_messages: false,
            staging_noted: 0,
            pushes: 0,
            peer_closed: Vec::new(),
            timers: BTreeSet::new(),
            dirty: Vec::new(),
            written_reports: Vec::new(),
            ready: Vec::new(),
            blocked: Vec::new(),
            next_seq: 0,
            round_robin: 0,
            shutdown_deadline: None,
            started: Instant::now(),
            next_idle_sweep: None,
            codecs: SharedCodecs::new(),
            topics: Topics::default(),
            redis: None,
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
            skip_utf8: cfg.skip_utf8_validation,
            frame_events: cfg.frame_events,
            fragment_per_frame: cfg.fragment_per_frame,
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
        let next_timer = self.timers.first().map(|&(at, _)| timers::deadline_instant(self.started, at));
        let redis_retry = self.redis.as_ref().and_then(RedisLink::next_retry);
        let next = [next_timer, self.next_idle_sweep, redis_retry].into_iter().flatten().min();
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
                token if RedisLink::owns(REDIS_FIRST, token) => self.service_redis(Some(token)),
                Token(key) => {
                    if let Some(conn) = self.conns.get_mut(key) {
                        let (closed, error) = (ev.is_read_closed(), ev.is_error());
                        conn.note_readiness(
                            ev.is_readable() || closed || error,
                            closed || error,
                            ev.is_writable() || ev.is_write_closed() || error,
                        );
                        self.service(key);
                    }
                }
            }
        }
        for key in std::mem::take(&mut self.ready) {
            if let Some(conn) = self.conns.get_mut(key) {
                conn.leave(Listed::Ready);
                self.service(key);
            }
        }
        self.fire_timers();
        self.sweep_idle();
        // Reconnects when due, and writes what this turn's commands queued for Redis.
        self.service_redis(None);
        self.answer_peer_closes();
        self.flush_dirty();
        self.flush_events();
        !self.shutdown_finished()
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

    fn drain_inbox(&mut self) {
        for msg in self.shared.take_inbox(self.index as usize) {
            match msg {
                WorkerMsg::Commands(batch) => self.apply(&batch),
                WorkerMsg::Listen(listener) => self.listen(listener),
                WorkerMsg::Unlisten => self.unlisten(),
                WorkerMsg::Adopt(stream, head, adopted) => self.adopt(stream, head, adopted),
                WorkerMsg::AdoptClient { id, stream, leftover, extensions } => {
                    self.adopt_client(id, stream, leftover, &extensions)
                }
                WorkerMsg::Redis(cfg) => self.attach_redis(cfg),
                WorkerMsg::Publish { topic, binary, data } => self.publish_from_redis(&topic, binary, &data),
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
        // They waited longest: they read before the sockets that used up their reads last turn.
        let had_turn = std::mem::take(&mut self.ready);
        for key in std::mem::take(&mut self.blocked) {
            if let Some(conn) = self.conns.get_mut(key) {
                conn.leave(Listed::Blocked);
                self.queue_ready(key);
            }
        }
        self.ready.extend(had_turn);
    }

    fn js_is_behind(&self) -> bool {
        self.shared.events.pending_bytes() > self.config().max_js_backlog
    }

    fn queue_ready(&mut self, key: usize) {
        if let Some(conn) = self.conns.get_mut(key) {
            if conn.join(Listed::Ready) {
                self.ready.push(key);
            }
        }
    }

    /// Puts a socket with newly queued output on the list `flush_dirty` writes.
    fn mark_dirty(&mut self, key: usize) {
        if self.conns[key].join(Listed::Dirty) {
            self.dirty.push(key);
        }
    }

    // ---- dispatch ---------------------------------------------------------------

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
                conn.abandon_after_panic();
            }
            self.finish(key);
        } else {
            self.drop_socket(key);
        }
    }

    fn service_inner(&mut self, key: usize) {
        match self.conns[key].phase() {
            Phase::Connecting(_) | Phase::AwaitResponse(_) => self.service_client(key),
            Phase::Request(_) => self.service_request(key),
            Phase::AwaitJs(_) => self.service_waiting(key),
            Phase::Answering => self.service_answer(key),
            Phase::Open | Phase::Failing | Phase::PeerClosed | Phase::Closing => self.service_websocket(key),
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
        if let Some(at) = conn.replace_deadline(None) {
            self.timers.remove(&(at, key));
        }
        self.ids.remove(conn.id());
        self.topics.remove_socket(key);
        if conn.is_adopted() {
            conn.deregister(self.poll.registry());
        }
        // Otherwise closing the only descriptor (when `conn` drops) removes it from
        // epoll: one epoll_ctl less per connection.
        conn
    }

    // ---- flush --------------------------------------------------------------------

    /// Corking: everything a command batch queued for a socket leaves in one write.
    fn flush_dirty(&mut self) {
        for key in std::mem::take(&mut self.dirty) {
            let Some(conn) = self.conns.get_mut(key) else {
                continue;
            };
            conn.leave(Listed::Dirty);
            if conn.is_websocket() {
                self.service(key);
                if let Some(conn) = self.conns.get_mut(key) {
                    let mut sink = Self::sink(&mut self.staging, &self.shared);
                    conn.report_backlog(&mut sink);
                }
            }
        }
        for (key, id) in std::mem::take(&mut self.written_reports) {
            // The slot may hold another socket by now: the one asked about has gone (its close tells JS).
            if let Some(conn) = self.conns.get_mut(key).filter(|conn| conn.id() == id) {
                let mut sink = Self::sink(&mut self.staging, &self.shared);
                conn.report_written(&mut sink);
            }
        }
    }
}
