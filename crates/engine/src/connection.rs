//! One client socket, from its first byte to its close: the HTTP phase (request,
//! waiting for JS, a final answer) and the WebSocket phase (frames, close
//! handshake). A `Conn` is plain data in the worker's slab: an idle WebSocket
//! costs this struct and nothing else (reads go into the worker's shared buffer,
//! the frame reader keeps only what straddles two reads).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::tls::Transport;

use crate::events::{Event, EventSink};
use crate::outbox::Outbox;
use lws_proto::deflate::{Agreed, ConnInflater};
use lws_proto::protocol::close::encode_close_payload;
use lws_proto::protocol::{encode_header, FrameReader, Opcode, ReaderEvent, ReaderLimits};

/// A payload to send: borrowed (copied into the outbox) or shared by reference.
#[derive(Clone, Copy)]
pub enum Payload<'a> {
    Bytes(&'a [u8]),
    Shared(&'a Arc<Vec<u8>>, usize, usize),
}

/// The HTTP request being read.
pub struct RequestState {
    pub buf: Vec<u8>,
    pub peer: Option<SocketAddr>,
}

/// A request shown to JS, waiting for ACCEPT / REFUSE / HTTP_RESPONSE.
pub struct AwaitState {
    /// Sec-WebSocket-Key for an upgrade; None for a plain HTTP request.
    pub key: Option<String>,
    /// Bytes that followed the request head (early frames).
    pub leftover: Vec<u8>,
    pub peer: Option<SocketAddr>,
    /// permessage-deflate as negotiated, with the response header value.
    pub deflate: Option<(Agreed, String)>,
}

/// A connection's permessage-deflate state. With no context takeover the
/// worker's shared compressor/inflater serve, and these stay None.
pub struct SocketDeflate {
    pub agreed: Agreed,
    pub compress: Option<Box<flate2::Compress>>,
    pub inflate: Option<Box<flate2::Decompress>>,
}

pub enum Phase {
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

pub mod flag {
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
    pub id: u32,
    /// The socket, plain or TLS.
    pub io: Transport,
    pub phase: Phase,
    pub reader: FrameReader,
    pub out: Outbox,
    pub deflate: Option<Box<SocketDeflate>>,
    /// When this connection's current phase times out (also a key of the worker's timers).
    pub deadline: Option<Instant>,
    pub flags: u16,
    /// Worker tick (seconds) of the last bytes read, for the idle timeout.
    pub last_input: u32,
    report_code: u16,
    report_error: u8,
    /// With `report_error`: the number the protocol error is about (`ProtocolError::detail`).
    report_detail: u32,
    report_reason: Vec<u8>,
}

impl Conn {
    pub fn new(id: u32, io: Transport, head: Vec<u8>, peer: Option<SocketAddr>) -> Self {
        Conn {
            id,
            io,
            phase: Phase::Request(Box::new(RequestState { buf: head, peer })),
            reader: FrameReader::new(),
            out: Outbox::default(),
            deflate: None,
            deadline: None,
            flags: flag::CAN_READ | flag::CAN_WRITE,
            last_input: 0,
            report_code: 1006,
            report_error: 0,
            report_detail: 0,
            report_reason: Vec::new(),
        }
    }

    #[inline]
    pub fn has(&self, f: u16) -> bool {
        self.flags & f != 0
    }

    #[inline]
    pub fn set(&mut self, f: u16, on: bool) {
        if on {
            self.flags |= f;
        } else {
            self.flags &= !f;
        }
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
    pub fn input_ended(&self) -> bool {
        matches!(self.phase, Phase::Failing | Phase::PeerClosed)
    }

    // ---- output -------------------------------------------------------------

    /// Queues a data frame. Returns false when the connection no longer sends.
    pub fn queue_data(&mut self, binary: bool, more: bool, payload: Payload<'_>) -> bool {
        if !self.can_send() {
            return false;
        }
        let opcode = if self.has(flag::SENDING_FRAGMENTS) {
            Opcode::Continuation
        } else if binary {
            Opcode::Binary
        } else {
            Opcode::Text
        };
        self.set(flag::SENDING_FRAGMENTS, more);
        let mut header = [0u8; 10];
        let len = match payload {
            Payload::Bytes(b) => b.len(),
            Payload::Shared(_, start, end) => end - start,
        };
        let n = encode_header(&mut header, !more, false, opcode, len as u64);
        match payload {
            Payload::Bytes(b) => self.out.push_bytes(&[&header[..n], b]),
            Payload::Shared(data, start, end) => self.out.push_shared(&header[..n], data, start, end),
        }
        true
    }

    /// Queues a whole message already deflated (RSV1 set).
    pub fn queue_compressed(&mut self, binary: bool, compressed: &[u8]) -> bool {
        if !self.can_send() || self.has(flag::SENDING_FRAGMENTS) {
            return false;
        }
        let opcode = if binary { Opcode::Binary } else { Opcode::Text };
        let mut header = [0u8; 10];
        let n = encode_header(&mut header, true, true, opcode, compressed.len() as u64);
        self.out.push_bytes(&[&header[..n], compressed]);
        true
    }

    pub fn queue_control(&mut self, opcode: Opcode, payload: &[u8]) -> bool {
        if !self.can_send() {
            return false;
        }
        self.push_control(opcode, &payload[..payload.len().min(125)]);
        true
    }

    fn push_control(&mut self, opcode: Opcode, payload: &[u8]) {
        let mut header = [0u8; 10];
        let n = encode_header(&mut header, true, false, opcode, payload.len() as u64);
        self.out.push_bytes(&[&header[..n], payload]);
    }

    fn send_close(&mut self, code: u16, reason: &[u8]) {
        if self.has(flag::SENT_CLOSE) {
            return;
        }
        self.set(flag::SENT_CLOSE, true);
        let mut payload = Vec::with_capacity(2 + reason.len());
        encode_close_payload(code, reason, &mut payload);
        self.push_control(Opcode::Close, &payload);
    }

    /// Starts the close handshake (JS `close`, server shutdown, or JS confirming
    /// a protocol error after answering what came before it). Returns true when
    /// the phase changed (the caller arms the close timer).
    pub fn close(&mut self, code: u16, reason: &[u8]) -> bool {
        if !self.can_send() {
            return false;
        }
        self.send_close(code, reason);
        if !self.has(flag::REPORT_FINAL) {
            self.report_code = code;
            self.report_reason = reason.to_vec();
        }
        self.phase = Phase::Closing;
        true
    }

    /// Replies to the peer's close frame with its own code and reason (as ws
    /// does), when JS did not reply in time or the server is shutting down.
    pub fn answer_peer_close(&mut self) -> bool {
        if !matches!(self.phase, Phase::PeerClosed) {
            return false;
        }
        let reason = self.report_reason.clone();
        self.close(self.report_code, &reason)
    }

    /// The socket itself, for a connection handed over whole (no events follow).
    pub fn into_transport(self) -> Transport {
        self.io
    }

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

    pub fn set_final_report(&mut self, code: u16, reason: &[u8], error: u8) {
        if self.has(flag::REPORT_FINAL) {
            return;
        }
        self.set(flag::REPORT_FINAL, true);
        self.report_code = code;
        self.report_error = error;
        self.report_reason = reason.to_vec();
    }

    /// Stages the CLOSE event that ends a WebSocket's life in JS.
    pub fn report_close(&mut self, sink: &mut EventSink<'_>) {
        let reason = std::mem::take(&mut self.report_reason);
        let (code, error, detail) = (self.report_code, self.report_error, self.report_detail);
        sink.emit(self.id, Event::Close { code, reason: &reason, error, detail });
    }

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
        if self.out.is_empty() {
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

    pub fn shutdown_write(&mut self) {
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

    /// `read_into` for plain TCP, appending to `buf` (up to its capacity).
    pub fn read_spare(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        let room = buf.capacity() - buf.len();
        let result = self.io.read_spare(buf);
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

    // ---- input --------------------------------------------------------------

    /// Feeds frames to the reader and emits what it finds. True when this input
    /// ended the Open phase (the peer's close frame or a protocol error): the
    /// caller arms the close timer.
    pub fn on_input(
        &mut self,
        data: &mut [u8],
        limits: &ReaderLimits,
        sink: &mut EventSink<'_>,
        shared_inflater: &mut flate2::Decompress,
    ) -> bool {
        let id = self.id;
        let deliver = !self.has(flag::DISCARD);
        let open = matches!(self.phase, Phase::Open);
        let ping_events = sink.ping_events;
        let auto_pong = sink.auto_pong;
        let mut pongs: Vec<u8> = Vec::new();
        let mut peer_close: Option<(u16, Vec<u8>)> = None;
        let mut inflater = self.deflate.as_mut().map(|d| ConnInflater {
            own: &mut d.inflate,
            shared: shared_inflater,
            reset_each_message: d.agreed.client_no_context_takeover,
        });
        let limits = &ReaderLimits { allow_rsv1: inflater.is_some(), ..*limits };
        let result = self.reader.feed_with(data, limits, inflater.as_mut(), &mut |ev| match ev {
            ReaderEvent::Message { binary, data } if deliver => {
                crate::fault::panic_if_triggered(data);
                sink.emit(id, Event::Message { binary, data });
            }
            ReaderEvent::Fragment { binary, data, remaining } if deliver => {
                sink.emit(id, Event::Fragment { binary, data, remaining });
            }
            ReaderEvent::Ping(payload) => {
                if open && auto_pong {
                    // The pong is framed here; it joins the outbox below.
                    let mut header = [0u8; 10];
                    let n = encode_header(&mut header, true, false, Opcode::Pong, payload.len() as u64);
                    pongs.extend_from_slice(&header[..n]);
                    pongs.extend_from_slice(payload);
                }
                if deliver && ping_events {
                    sink.emit(id, Event::Ping(payload));
                }
            }
            ReaderEvent::Pong(payload) if deliver && ping_events => {
                sink.emit(id, Event::Pong(payload));
            }
            ReaderEvent::Close { code, reason } => peer_close = Some((code, reason.to_vec())),
            _ => {}
        });
        if !pongs.is_empty() {
            self.out.push_bytes(&[&pongs]);
        }
        if let Some((code, reason)) = peer_close {
            if deliver {
                self.set_final_report(code, &reason, 0);
            }
            if matches!(self.phase, Phase::Open) {
                // JS answers the messages staged before this one, then replies with
                // CLOSE (echoing code and reason): answers and reply leave in order.
                self.phase = Phase::PeerClosed;
            }
            // In Closing our close frame is out already, and the exchange is complete:
            // JS is told all the same (its CLOSE is then a no-op), so it knows the
            // peer answered (ws reports 1006 when it did not).
            if deliver {
                sink.emit(id, Event::PeerClose { code, reason: &reason });
            }
        }
        if let Err(err) = result {
            let reason = err.to_string();
            if !self.has(flag::REPORT_FINAL) {
                self.report_detail = err.detail();
            }
            self.set_final_report(err.close_code(), reason.as_bytes(), err.wire_id());
            self.set(flag::DISCARD, true);
            if matches!(self.phase, Phase::Open) {
                // JS answers the messages staged before this one, then sends CLOSE
                // with this code: replies and close frame leave in the right order.
                self.phase = Phase::Failing;
                sink.emit(id, Event::Fail { error: err });
            } else {
                self.send_close(err.close_code(), reason.as_bytes());
            }
        }
        open && !matches!(self.phase, Phase::Open)
    }

    /// In Closing with nothing left to send: true (and DONE) once both close
    /// frames are exchanged and this end closes TCP first (the server does, RFC
    /// 6455 7.1.1). After a protocol error nothing more is read, and FIN says so;
    /// otherwise the peer's close frame is awaited (until the close timeout) with
    /// TCP open both ways, as ws does: a FIN now would make some peers leave without one.
    pub fn close_exchange_done(&mut self) -> bool {
        if !matches!(self.phase, Phase::Closing) || !self.out.is_empty() {
            return false;
        }
        if self.reader.is_closed() && self.reader.role().closes_tcp_first() {
            self.set(flag::DONE, true);
            return true;
        }
        if self.has(flag::DISCARD) {
            self.shutdown_write();
        }
        false
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
        assert!(size <= 256, "Conn grew to {size} bytes");
    }
}
