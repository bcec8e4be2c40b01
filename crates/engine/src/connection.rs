//! The connection: one client socket, from its first byte to its close, and
//! its whole state machine, behind private fields. The worker (the loop) only
//! tells it what the socket is ready for and what JS or a timer decided, and
//! asks it what to do next.
//!
//! Here: `Conn`, its phases and flags, socket I/O and the close report. In the
//! children: `http` (the server's HTTP phase: request, waiting for JS,
//! answers, the 101), `client` (the client's: connecting, the request, the
//! server's response) and `session` (the WebSocket phase, either role: frames
//! in and out, the close handshake, permessage-deflate).
//!
//! A `Conn` is plain data in the worker's slab: an idle WebSocket costs this
//! struct and nothing else (reads go into the worker's shared buffer, the frame
//! reader keeps only what straddles two reads).

use std::io;
use std::net::SocketAddr;
use std::num::NonZeroU64;
use std::os::fd::AsRawFd;

use crate::events::{Event, EventSink};
use crate::outbox::Outbox;
use crate::tls::Transport;
use lws_proto::protocol::{FrameReader, Opcode, Role};

mod client;
mod http;
mod session;

pub use client::{ClientState, ResponseProgress};
pub use http::{AwaitState, RequestState};
pub use session::{Payload, PublishCoding, SharedCodecs, SocketDeflate};

pub enum Phase {
    /// A client's connect() is under way (the request waits in the outbox).
    Connecting(Box<ClientState>),
    /// A client's request is written (or queued): reading the server's response.
    AwaitResponse(Box<ClientState>),
    Request(Box<RequestState>),
    AwaitJs(Box<AwaitState>),
    /// Writing a final HTTP answer, then reading until the peer closes.
    Answering,
    Open,
    /// The peer broke the protocol: nothing more is read, and the close frame
    /// waits until JS has answered the messages that came before the error.
    Failing,
    /// The peer's close frame arrived: nothing more is read, and the reply
    /// (echoing its code and reason) waits until JS has answered the messages
    /// that came before it, so those answers leave first.
    PeerClosed,
    /// Our close frame is queued or sent; waiting for the peer's or for EOF.
    Closing,
}

/// The worker's lists a connection can be in (each at most once).
#[derive(Clone, Copy)]
pub enum Listed {
    /// Sockets with input left after their turn.
    Ready,
    /// Sockets with queued output from the current command batch.
    Dirty,
    /// Sockets that stopped reading until JS takes its backlog.
    Blocked,
}

/// What the idle sweep found (`Conn::check_idle`).
pub enum Idle {
    Active,
    /// Silent for half the idle timeout: a ping was queued.
    Pinged,
    /// Silent for all of it.
    Expired,
}

mod flag {
    pub const CAN_READ: u16 = 1;
    pub const CAN_WRITE: u16 = 1 << 1;
    pub const PAUSED: u16 = 1 << 2;
    pub const SENT_CLOSE: u16 = 1 << 3;
    pub const SHUT_WRITE: u16 = 1 << 4;
    /// A fragmented message is being sent: next SEND frames are continuations.
    pub const SENDING_FRAGMENTS: u16 = 1 << 5;
    /// Events from a peer that broke the protocol are no longer delivered.
    pub const DISCARD: u16 = 1 << 6;
    /// JS was told output is waiting (BUFFERED) and expects a DRAIN.
    pub const REPORTED_BACKLOG: u16 = 1 << 7;
    /// In the worker's list of sockets to write after a command batch.
    pub const DIRTY: u16 = 1 << 8;
    /// The close report was decided by the peer's close frame or an error.
    pub const REPORT_FINAL: u16 = 1 << 9;
    /// In the worker's list of sockets with input left to read.
    pub const QUEUED: u16 = 1 << 10;
    /// Stopped reading until JS takes its backlog.
    pub const BLOCKED: u16 = 1 << 11;
    /// Finished: the worker removes it.
    pub const DONE: u16 = 1 << 12;
    /// epoll reported the peer's FIN: read to EOF (no short-read shortcut).
    pub const READ_CLOSED: u16 = 1 << 13;
    /// An idle ping was sent and no input came since.
    pub const PINGED: u16 = 1 << 14;
    /// Handed over by Node (`adopt`): the descriptor is a dup, and epoll keeps a
    /// registration while any copy is open, so it is deregistered explicitly.
    pub const ADOPTED: u16 = 1 << 15;
}

pub struct Conn {
    id: u32,
    /// The socket, plain or TLS.
    io: Transport,
    phase: Phase,
    reader: FrameReader,
    out: Outbox,
    deflate: Option<Box<SocketDeflate>>,
    /// When this connection's current phase times out, in nanoseconds since its
    /// worker started (also a key of the worker's timers): 8 bytes, an `Instant` 16.
    deadline: Option<NonZeroU64>,
    flags: u16,
    /// Worker tick (tenths of a second) of the last bytes read, for the idle timeout.
    last_input: u32,
    /// What the CLOSE event will say, once there is more to say than a dropped
    /// connection's 1006 (boxed: an idle connection carries 8 bytes for it).
    report: Option<Box<CloseReport>>,
    /// The worker's push (`PushMark::seq`, wrapping) that carried this socket's
    /// latest event to JS (0: none yet), for answering a peer's close at once.
    event_push: u32,
    /// Output that waits for a frame or a message being sent in pieces (rare:
    /// boxed, only while there is some).
    waiting: Option<Box<session::Waiting>>,
}

/// How a connection's CLOSE event reads: the close code, a protocol error's
/// wire id and detail (`ProtocolError::detail`), and the reason.
struct CloseReport {
    code: u16,
    error: u8,
    detail: u32,
    reason: Box<[u8]>,
}

impl Default for CloseReport {
    /// A dropped connection.
    fn default() -> Self {
        CloseReport { code: 1006, error: 0, detail: 0, reason: Box::default() }
    }
}

impl Conn {
    /// A socket just taken into the loop. `adopted`: handed over by Node.
    pub fn new(id: u32, io: Transport, head: Vec<u8>, peer: Option<SocketAddr>, adopted: bool) -> Self {
        let mut conn = Conn {
            id,
            io,
            phase: Phase::Request(Box::new(RequestState::new(head, peer))),
            reader: FrameReader::new(),
            out: Outbox::default(),
            deflate: None,
            deadline: None,
            flags: flag::CAN_READ | flag::CAN_WRITE,
            last_input: 0,
            report: None,
            event_push: 0,
            waiting: None,
        };
        conn.set(flag::ADOPTED, adopted);
        conn
    }

    /// A client connection (`connector`): it connects, writes `request` once
    /// connected (after TLS), and reads the server's response.
    pub fn connecting(id: u32, io: Transport, request: Vec<u8>) -> Self {
        let mut conn = Conn::new(id, io, Vec::new(), None, false);
        conn.phase = Phase::Connecting(Box::new(ClientState::new(request)));
        conn.reader = FrameReader::with_role(Role::Client);
        // Nothing to read or write before the connect completes (writable).
        conn.flags = 0;
        conn
    }

    /// A client connection Node upgraded and handed over (its descriptor a
    /// dup): `open_client_session` starts it.
    pub fn adopted_client(id: u32, io: Transport) -> Self {
        let mut conn = Conn::new(id, io, Vec::new(), None, true);
        conn.phase = Phase::Answering; // until open_client_session
        conn.reader = FrameReader::with_role(Role::Client);
        conn
    }

    /// Which end of the connection this is (it drives masking).
    pub fn is_client(&self) -> bool {
        self.reader.role() == Role::Client
    }

    #[inline]
    fn has(&self, f: u16) -> bool {
        self.flags & f != 0
    }

    #[inline]
    fn set(&mut self, f: u16, on: bool) {
        if on {
            self.flags |= f;
        } else {
            self.flags &= !f;
        }
    }

    // ---- what the worker reads ------------------------------------------------

    pub fn id(&self) -> u32 {
        self.id
    }

    /// The phase, for the worker to dispatch on; only the connection changes it.
    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// The socket's descriptor (as JS sees it in OPEN, UPGRADE and HTTP events).
    pub fn fd(&self) -> u32 {
        self.io.tcp().as_raw_fd() as u32
    }

    /// Sets a TCP option JS asked for (`command::TCP_OPTION`: ws users' `_socket.setNoDelay()`
    /// and `setKeepAlive()`); a refusal is ignored, as Node's `net.Socket` ignores it.
    pub fn set_tcp_option(&self, option: u16, on: bool, keepalive_secs: u32) {
        let socket = socket2::SockRef::from(self.io.tcp());
        match option {
            crate::wire::tcp_option::NO_DELAY => {
                let _ = socket.set_nodelay(on);
            }
            crate::wire::tcp_option::KEEP_ALIVE if on && keepalive_secs > 0 => {
                let idle = socket2::TcpKeepalive::new()
                    .with_time(std::time::Duration::from_secs(keepalive_secs.into()));
                let _ = socket.set_tcp_keepalive(&idle);
            }
            crate::wire::tcp_option::KEEP_ALIVE => {
                let _ = socket.set_keepalive(on);
            }
            _ => {}
        }
    }

    /// The peer's address (for a client's OPEN: the server it reached).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.io.tcp().peer_addr().ok()
    }

    pub fn is_tls(&self) -> bool {
        self.io.is_tls()
    }

    /// The certificates the peer presented over TLS (DER, its own first).
    pub fn peer_certificates(&self) -> Vec<&[u8]> {
        self.io.peer_certificates()
    }

    pub fn is_adopted(&self) -> bool {
        self.has(flag::ADOPTED)
    }

    /// Finished: the worker removes it.
    pub fn is_done(&self) -> bool {
        self.has(flag::DONE)
    }

    pub fn is_websocket(&self) -> bool {
        matches!(self.phase, Phase::Open | Phase::Failing | Phase::PeerClosed | Phase::Closing)
    }

    /// JS may still queue frames: while open, and while the close frame waits for
    /// JS's answers to what came before it (Failing, PeerClosed).
    fn can_send(&self) -> bool {
        matches!(self.phase, Phase::Open | Phase::Failing | Phase::PeerClosed) && !self.has(flag::DONE)
    }

    /// Nothing more is read: the peer's close frame or protocol error is the last input.
    fn input_ended(&self) -> bool {
        matches!(self.phase, Phase::Failing | Phase::PeerClosed)
    }

    /// The socket is readable and the connection wants its bytes: not after the
    /// last input, and not while JS has paused an open WebSocket.
    pub fn wants_input(&self) -> bool {
        self.has(flag::CAN_READ)
            && !self.input_ended()
            && !(self.has(flag::PAUSED) && matches!(self.phase, Phase::Open))
    }

    /// A message too large for one event is reaching JS in parts.
    pub fn is_streaming_in(&self) -> bool {
        self.reader.is_streaming()
    }

    pub fn queued_bytes(&self) -> usize {
        self.out.queued_bytes()
    }

    // ---- what the worker tells it ----------------------------------------------

    /// What epoll reported for the socket (a false leaves the flag as it was).
    pub fn note_readiness(&mut self, readable: bool, read_closed: bool, writable: bool) {
        if readable {
            self.set(flag::CAN_READ, true);
        }
        if read_closed {
            self.set(flag::READ_CLOSED, true);
        }
        if writable {
            self.set(flag::CAN_WRITE, true);
        }
    }

    /// Marks membership of one of the worker's lists: true when it was not in it
    /// yet (the worker then pushes it).
    pub fn join(&mut self, list: Listed) -> bool {
        let f = list_flag(list);
        let joined = !self.has(f);
        self.set(f, true);
        joined
    }

    pub fn leave(&mut self, list: Listed) {
        self.set(list_flag(list), false);
    }

    /// Queued to read in a later pass of the loop, or held until JS catches up:
    /// it reads in that turn, not when an event or a write reaches it first.
    pub fn awaits_read_turn(&self) -> bool {
        self.has(flag::QUEUED) || self.has(flag::BLOCKED)
    }

    /// JS paused or resumed reading.
    pub fn set_paused(&mut self, paused: bool) {
        self.set(flag::PAUSED, paused);
    }

    /// An event about this socket goes to JS in the worker's push `push`.
    pub fn note_event_push(&mut self, push: u64) {
        self.event_push = push as u32;
    }

    /// The engine may answer the peer's close itself: JS has finished handling
    /// every event about this socket (the worker's push `finished` and those
    /// before it), so what it sent in answer is applied, and it has not paused
    /// the socket (the reply then waits for resume()).
    pub fn may_answer_peer_close(&self, finished: u64) -> bool {
        // Wrapping: a push 2^31 or more behind looks ahead, which only means waiting for JS.
        let handled = (self.event_push.wrapping_sub(finished as u32) as i32) <= 0;
        handled && matches!(self.phase, Phase::PeerClosed) && !self.has(flag::PAUSED)
    }

    /// Sets when the current phase times out; returns the old deadline, for the
    /// worker to take out of its timers.
    pub fn replace_deadline(&mut self, at: Option<NonZeroU64>) -> Option<NonZeroU64> {
        std::mem::replace(&mut self.deadline, at)
    }

    /// Bytes were read at worker tick `tick`: the idle clock starts again.
    pub fn note_input(&mut self, tick: u32) {
        self.last_input = tick;
        self.set(flag::PINGED, false);
    }

    /// The idle sweep: a WebSocket silent for half of `limit` ticks gets a ping
    /// (once), one silent for all of it has expired.
    pub fn check_idle(&mut self, tick: u32, limit: u32) -> Idle {
        if !matches!(self.phase, Phase::Open) {
            return Idle::Active;
        }
        let silent = tick.saturating_sub(self.last_input);
        if silent >= limit {
            Idle::Expired
        } else if silent * 2 >= limit && !self.has(flag::PINGED) {
            self.set(flag::PINGED, true);
            self.queue_control(Opcode::Ping, b"");
            Idle::Pinged
        } else {
            Idle::Active
        }
    }

    /// Read EOF: after our close frame it ends the close handshake, otherwise the
    /// peer went away without one.
    pub fn on_eof(&mut self) {
        if matches!(self.phase, Phase::Closing) {
            self.set(flag::DONE, true);
        } else {
            self.lost();
        }
    }

    /// Our close frame was not answered in time: done, and the report keeps our code.
    pub fn close_unanswered(&mut self) {
        self.set(flag::DONE, true);
    }

    /// The client does not keep up (send queue over `maxBackpressure`): closed at once.
    pub fn drop_slow_consumer(&mut self) {
        self.set_final_report(1008, b"send queue over maxBackpressure", 0);
        self.set(flag::DONE, true);
    }

    /// Takes the socket out of epoll (only needed for adopted ones: see `flag::ADOPTED`).
    pub fn deregister(&mut self, registry: &mio::Registry) {
        let _ = registry.deregister(self.io.tcp_mut());
    }

    /// The socket itself, for a connection handed over whole (no events follow).
    pub fn into_transport(self) -> Transport {
        self.io
    }

    // ---- the end ------------------------------------------------------------------

    /// Ends the connection at once, without a close handshake.
    pub fn terminate(&mut self) {
        self.set_final_report(1006, b"", 0);
        self.set(flag::DONE, true);
    }

    /// The peer went away without a close handshake (or I/O failed).
    pub fn lost(&mut self) {
        self.terminate();
    }

    /// After a panic while serving this socket: its state can't be trusted, so
    /// it gets a 1011 close frame behind what is already queued (best effort)
    /// and is then dropped.
    pub fn abort_internal_error(&mut self, sink: &mut EventSink<'_>) {
        self.set_final_report(1011, b"internal error", crate::wire::INTERNAL_ERROR_ID);
        if self.can_send() {
            self.send_close(1011, b"internal error");
            self.write_out(sink);
        }
        self.set(flag::DONE, true);
    }

    /// When `abort_internal_error` itself panicked: the socket just goes, reported as 1011.
    pub fn abandon_after_panic(&mut self) {
        self.set_final_report(1011, b"internal error", crate::wire::INTERNAL_ERROR_ID);
        self.set(flag::DONE, true);
    }

    fn set_final_report(&mut self, code: u16, reason: &[u8], error: u8) {
        if self.has(flag::REPORT_FINAL) {
            return;
        }
        self.set(flag::REPORT_FINAL, true);
        let report = self.report_mut();
        report.code = code;
        report.error = error;
        report.reason = reason.into();
    }

    fn report_mut(&mut self) -> &mut CloseReport {
        self.report.get_or_insert_with(Default::default)
    }

    /// Stages the CLOSE event that ends a WebSocket's life in JS.
    pub fn report_close(&mut self, sink: &mut EventSink<'_>) {
        let CloseReport { code, error, detail, reason } =
            self.report.take().map_or_else(Default::default, |r| *r);
        sink.emit(self.id, Event::Close { code, reason: &reason, error, detail });
    }

    // ---- socket I/O -----------------------------------------------------------------

    /// Writes queued output while the socket takes it; on WouldBlock it waits
    /// for writability. A DRAIN is staged when output JS was told about is gone.
    pub fn write_out(&mut self, sink: &mut EventSink<'_>) {
        if !self.has(flag::CAN_WRITE) {
            return;
        }
        if self.io.has_pending() {
            // TLS records from the handshake or an earlier write go first.
            match self.io.flush_pending() {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return self.set(flag::CAN_WRITE, false),
                Err(_) => return self.lost(),
            }
        }
        if self.out.is_empty() || self.io.is_handshaking() {
            // Plaintext waits for the TLS handshake (a client's request does);
            // the socket is still writable, so CAN_WRITE stays.
            return;
        }
        let transport = &mut self.io;
        match self.out.write_with(|slices| transport.write_vectored(slices)) {
            Ok(()) => {
                if self.has(flag::REPORTED_BACKLOG) {
                    self.set(flag::REPORTED_BACKLOG, false);
                    sink.emit(self.id, Event::Drain);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.set(flag::CAN_WRITE, false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => self.lost(),
        }
    }

    /// After a command batch: if output is left waiting, tell JS how much
    /// (BUFFERED); a DRAIN follows once it is written.
    pub fn report_backlog(&mut self, sink: &mut EventSink<'_>) {
        if self.out.is_empty() || !self.is_websocket() || self.has(flag::DONE) {
            return;
        }
        self.set(flag::REPORTED_BACKLOG, true);
        sink.emit(self.id, Event::Buffered { queued: self.out.queued_bytes() });
    }

    /// JS asked to hear when its output is written (REPORT_WRITTEN), after the
    /// batch's writes: a DRAIN now if it is; else a BUFFERED (once), and the
    /// DRAIN follows when it is written.
    pub fn report_written(&mut self, sink: &mut EventSink<'_>) {
        if self.has(flag::DONE) {
            return;
        }
        if self.out.is_empty() {
            sink.emit(self.id, Event::Drain);
        } else if !self.has(flag::REPORTED_BACKLOG) {
            self.set(flag::REPORTED_BACKLOG, true);
            sink.emit(self.id, Event::Buffered { queued: self.out.queued_bytes() });
        }
    }

    fn shutdown_write(&mut self) {
        if !self.has(flag::SHUT_WRITE) {
            self.set(flag::SHUT_WRITE, true);
            self.io.shutdown_write();
        }
    }

    /// Reads once into `buf`. Ok(0) is EOF; WouldBlock clears CAN_READ, and so
    /// does a short read: TCP had no more bytes then, and bytes that arrive
    /// later raise a new edge, so the read that would only say EAGAIN is saved.
    pub fn read_into(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let result = self.io.read(buf);
        self.after_read(result, buf.len())
    }

    /// `read_into` for plain TCP, appending to `buf` (up to its capacity, and at most `max` bytes).
    pub fn read_spare(&mut self, buf: &mut Vec<u8>, max: usize) -> io::Result<usize> {
        let room = (buf.capacity() - buf.len()).min(max);
        let result = self.io.read_spare(buf, room);
        self.after_read(result, room)
    }

    fn after_read(&mut self, result: io::Result<usize>, room: usize) -> io::Result<usize> {
        match result {
            // (Under TLS a short read of plaintext says nothing about the socket.)
            Ok(n) if n > 0 && n < room && !self.has(flag::READ_CLOSED) && !self.io.is_tls() => {
                self.set(flag::CAN_READ, false);
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.set(flag::CAN_READ, false);
                Err(e)
            }
            other => other,
        }
    }
}

fn list_flag(list: Listed) -> u16 {
    match list {
        Listed::Ready => flag::QUEUED,
        Listed::Dirty => flag::DIRTY,
        Listed::Blocked => flag::BLOCKED,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn idle_connection_state_is_small() {
        // An idle WebSocket costs this struct (in the worker's slab) and nothing else.
        let size = std::mem::size_of::<super::Conn>();
        println!(
            "Conn: {size} bytes, FrameReader: {}, Outbox: {}",
            std::mem::size_of::<lws_proto::protocol::FrameReader>(),
            std::mem::size_of::<crate::outbox::Outbox>()
        );
        assert!(size <= 176, "Conn grew to {size} bytes");
    }
}
