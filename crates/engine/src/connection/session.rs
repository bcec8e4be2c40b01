//! The WebSocket phase of a connection (the session): frames out (data,
//! control, permessage-deflate), frames in (the frame reader's events become
//! typed events), and the close handshake. `Conn` methods, split from
//! `connection.rs` by concern.

use std::sync::Arc;

use super::{flag, Conn, Phase};
use crate::events::{Event, EventSink};
use lws_proto::deflate::{self, Agreed, ConnInflater, DeflateConfig};
use lws_proto::deflate_oneshot::{self, OneShot};
use lws_proto::protocol::close::encode_close_payload;
use lws_proto::protocol::{
    encode_head, write_frame, Opcode, ReaderEvent, ReaderLimits, MAX_HEADER_LEN, MAX_PAYLOAD_LENGTH,
};

/// A payload to send: borrowed (copied into the outbox) or shared by reference.
#[derive(Clone, Copy)]
pub enum Payload<'a> {
    Bytes(&'a [u8]),
    Shared(&'a Arc<Vec<u8>>, usize, usize),
}

/// A connection's permessage-deflate state. With no context takeover the
/// worker's `SharedCodecs` serve, and these stay None.
pub struct SocketDeflate {
    pub(super) agreed: Agreed,
    compress: Option<Box<flate2::Compress>>,
    inflate: Option<Box<flate2::Decompress>>,
}

impl SocketDeflate {
    pub(super) fn new(agreed: Agreed) -> Self {
        SocketDeflate { agreed, compress: None, inflate: None }
    }
}

/// permessage-deflate without context takeover, one set per worker: one
/// inflater for all sockets; the one-shot encoder for messages up to 16 KiB
/// (levels 4-9) and one zlib-rs compressor per window size for the others,
/// reset for every message; and the buffer messages are compressed into.
pub struct SharedCodecs {
    inflater: flate2::Decompress,
    oneshot: OneShot,
    compressors: [Option<Box<flate2::Compress>>; 16],
    buf: Vec<u8>,
}

impl SharedCodecs {
    pub fn new() -> Self {
        SharedCodecs {
            inflater: deflate::new_inflater(),
            oneshot: OneShot::default(),
            compressors: Default::default(),
            buf: Vec::new(),
        }
    }

    /// Deflates `data` alone (the one-shot encoder, or the worker's compressor
    /// for `agreed`'s window, reset first): the output depends on nothing but the
    /// message, so any socket without context takeover and the same window may
    /// be sent it.
    fn compress_alone(&mut self, agreed: &Agreed, level: u32, data: &[u8]) -> &[u8] {
        if deflate_oneshot::applies(level, data.len()) {
            self.oneshot.compress(data, level, agreed.server_window_bits, &mut self.buf);
            return &self.buf;
        }
        let slot = &mut self.compressors[agreed.server_window_bits as usize];
        let c = slot.get_or_insert_with(|| Box::new(deflate::new_compressor(agreed, level)));
        c.reset();
        deflate::compress_message(c, data, &mut self.buf);
        &self.buf
    }

    /// `compress_alone` into a buffer of its own, to be shared by reference.
    pub fn compress_shared(&mut self, agreed: &Agreed, level: u32, data: &[u8]) -> Arc<Vec<u8>> {
        Arc::new(self.compress_alone(agreed, level, data).to_vec())
    }
}

/// How a published message goes to one subscriber (`Conn::publish_coding`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PublishCoding {
    /// Uncompressed: no deflate, or under the threshold.
    Plain,
    /// Deflated without context (once per worker and window size, then shared).
    Stateless(Agreed),
    /// Deflated by this socket's own compressor (context takeover): as a send.
    OwnContext,
}

impl Default for SharedCodecs {
    fn default() -> Self {
        Self::new()
    }
}

/// A frame being sent in pieces: its head is queued, `remaining` payload bytes
/// are still to come, and every other frame (an automatic pong, a close reply)
/// waits in `held` until then, as nothing may come between a head and its payload.
pub struct FrameOut {
    remaining: u64,
    held: Vec<u8>,
}

/// What waits to be written after something sent in pieces.
#[derive(Default)]
pub struct Waiting {
    /// A frame sent in pieces (`begin_frame`) whose payload is not all queued yet.
    frame: Option<FrameOut>,
    /// Published messages, framed, that came while a fragmented message was being
    /// sent: they follow its last fragment (nothing may come between fragments).
    whole: Vec<u8>,
}

impl Conn {
    fn sending_frame(&self) -> bool {
        self.waiting.as_ref().is_some_and(|w| w.frame.is_some())
    }

    /// Frees the box once nothing waits in it.
    fn tidy_waiting(&mut self) {
        if self.waiting.as_ref().is_some_and(|w| w.frame.is_none() && w.whole.is_empty()) {
            self.waiting = None;
        }
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
        let ends_fragments = self.has(flag::SENDING_FRAGMENTS) && !more;
        self.set(flag::SENDING_FRAGMENTS, more);
        self.push_frame(!more, false, opcode, payload);
        if ends_fragments {
            if let Some(waiting) = self.waiting.as_mut() {
                let whole = std::mem::take(&mut waiting.whole);
                self.out.push_bytes(&[&whole]);
                self.tidy_waiting();
            }
        }
        true
    }

    /// Queues a whole message that did not come from this socket's own sends (a
    /// publish): while a fragmented message is being sent it waits, framed, for
    /// that message's last fragment, instead of becoming part of it.
    pub fn queue_whole(&mut self, binary: bool, rsv1: bool, payload: Payload<'_>) -> bool {
        if !self.can_send() {
            return false;
        }
        let opcode = if binary { Opcode::Binary } else { Opcode::Text };
        if !self.has(flag::SENDING_FRAGMENTS) {
            self.push_frame(true, rsv1, opcode, payload);
            return true;
        }
        let bytes = match payload {
            Payload::Bytes(b) => b,
            Payload::Shared(data, start, end) => &data[start..end],
        };
        let mask = self.reader.role().masks_output().then(crate::entropy::mask_key);
        let waiting = self.waiting.get_or_insert_with(Default::default);
        write_frame(&mut waiting.whole, true, rsv1, opcode, mask, bytes);
        true
    }

    /// A fragmented message is being sent (its next frames are continuations).
    pub fn is_sending_fragments(&self) -> bool {
        self.has(flag::SENDING_FRAGMENTS)
    }

    /// Queues one frame as this end's role writes it: a server's unmasked, its
    /// payload shared when it is; a client's masked with a fresh key (a copy).
    fn push_frame(&mut self, fin: bool, rsv1: bool, opcode: Opcode, payload: Payload<'_>) {
        let bytes = match payload {
            Payload::Bytes(b) => b,
            Payload::Shared(data, start, end) => &data[start..end],
        };
        if let Some(frame) = self.waiting.as_mut().and_then(|w| w.frame.as_mut()) {
            // Nothing between a frame's head and the end of its payload (one test per frame).
            let mask = self.reader.role().masks_output().then(crate::entropy::mask_key);
            return write_frame(&mut frame.held, fin, rsv1, opcode, mask, bytes);
        }
        let mut head = [0u8; MAX_HEADER_LEN];
        if self.reader.role().masks_output() {
            let key = crate::entropy::mask_key();
            let n = encode_head(&mut head, fin, rsv1, opcode, bytes.len() as u64, Some(key));
            return self.out.push_masked(&head[..n], bytes, key);
        }
        let n = encode_head(&mut head, fin, rsv1, opcode, bytes.len() as u64, None);
        match payload {
            Payload::Bytes(b) => self.out.push_bytes(&[&head[..n], b]),
            Payload::Shared(data, start, end) => self.out.push_shared(&head[..n], data, start, end),
        }
    }

    /// permessage-deflate was negotiated: whole messages go through `queue_message`.
    pub fn has_deflate(&self) -> bool {
        self.deflate.is_some()
    }

    /// Queues a whole message, deflated (RSV1 set) when permessage-deflate was
    /// negotiated and the message is not under the threshold (`cfg`).
    pub fn queue_message(
        &mut self,
        binary: bool,
        data: &[u8],
        cfg: Option<&DeflateConfig>,
        codecs: &mut SharedCodecs,
    ) -> bool {
        let keeps_context = !self.deflate.as_ref().is_some_and(|d| d.agreed.server_no_context_takeover);
        let threshold = match cfg {
            // ws's rule: the threshold spares only connections that keep no context.
            Some(c) if c.negotiated_by_js && keeps_context => 0,
            Some(c) => c.threshold,
            None => usize::MAX,
        };
        if data.len() < threshold || self.has(flag::SENDING_FRAGMENTS) {
            return self.queue_data(binary, false, Payload::Bytes(data));
        }
        let Some(d) = self.deflate.as_mut() else {
            return self.queue_data(binary, false, Payload::Bytes(data));
        };
        let level = cfg.map_or(6, |c| c.level);
        if d.agreed.server_no_context_takeover {
            let agreed = d.agreed;
            let compressed = codecs.compress_alone(&agreed, level, data);
            return self.queue_compressed(binary, Payload::Bytes(compressed));
        }
        let compressor =
            d.compress.get_or_insert_with(|| Box::new(deflate::new_compressor(&d.agreed, level)));
        deflate::compress_message(compressor, data, &mut codecs.buf);
        self.queue_compressed(binary, Payload::Bytes(&codecs.buf))
    }

    /// How a published message of `len` bytes goes to this socket. The rule:
    /// without context takeover (lws's default) the message is deflated once
    /// per worker and window size and the same bytes go to every such socket;
    /// with context takeover each socket's compressor must see it (as for a
    /// send: one compression per subscriber); under the threshold, or with no
    /// deflate, it goes as it is.
    pub fn publish_coding(&self, len: usize, cfg: Option<&DeflateConfig>) -> PublishCoding {
        let (Some(d), Some(c)) = (self.deflate.as_ref(), cfg) else { return PublishCoding::Plain };
        if d.agreed.server_no_context_takeover {
            return if len < c.threshold { PublishCoding::Plain } else { PublishCoding::Stateless(d.agreed) };
        }
        // ws's rule: the threshold spares only connections that keep no context.
        if len < c.threshold && !c.negotiated_by_js {
            return PublishCoding::Plain;
        }
        PublishCoding::OwnContext
    }

    /// Queues a whole message already deflated (RSV1 set).
    fn queue_compressed(&mut self, binary: bool, compressed: Payload<'_>) -> bool {
        if !self.can_send() || self.has(flag::SENDING_FRAGMENTS) {
            return false;
        }
        let opcode = if binary { Opcode::Binary } else { Opcode::Text };
        self.push_frame(true, true, opcode, compressed);
        true
    }

    /// Queues the head of one data frame whose payload follows in pieces
    /// (`queue_frame_piece`): `head` is its first byte (FIN and opcode; RSV bits
    /// are refused, nothing was negotiated that uses them). Continuations follow
    /// a non-final frame, as for fragmented sends. A server's only (unmasked).
    /// False, and nothing queued, when the frame is not one this socket may send now.
    pub fn begin_frame(&mut self, head: u8, length: u64) -> bool {
        if !self.can_send() || self.sending_frame() || self.is_client() || length > MAX_PAYLOAD_LENGTH {
            return false;
        }
        let fin = head & 0x80 != 0;
        let opcode = match Opcode::from_u8(head & 0x0F) {
            Ok(op) if head & 0x70 == 0 && !op.is_control() => op,
            _ => return false,
        };
        if (opcode == Opcode::Continuation) != self.has(flag::SENDING_FRAGMENTS) {
            return false;
        }
        self.set(flag::SENDING_FRAGMENTS, !fin);
        let mut out = [0u8; MAX_HEADER_LEN];
        let n = encode_head(&mut out, fin, false, opcode, length, None);
        self.out.push_bytes(&[&out[..n]]);
        if length > 0 {
            self.waiting.get_or_insert_with(Default::default).frame =
                Some(FrameOut { remaining: length, held: Vec::new() });
        }
        true
    }

    /// Queues payload of the frame `begin_frame` started (bytes past its length
    /// are dropped). Its end releases what was held meanwhile. Also while
    /// closing: the close frame waits for it.
    pub fn queue_frame_piece(&mut self, payload: Payload<'_>) -> bool {
        if self.has(flag::DONE) {
            return false;
        }
        let Some(frame) = self.waiting.as_mut().and_then(|w| w.frame.as_mut()) else {
            return false;
        };
        let len = match payload {
            Payload::Bytes(b) => b.len(),
            Payload::Shared(_, start, end) => end - start,
        };
        let take = (len as u64).min(frame.remaining) as usize;
        frame.remaining -= take as u64;
        match payload {
            Payload::Bytes(b) => self.out.push_bytes(&[&b[..take]]),
            Payload::Shared(data, start, _) => self.out.push_shared(&[], data, start, start + take),
        }
        if let Some(frame) = self.waiting.as_mut().and_then(|w| w.frame.take_if(|f| f.remaining == 0)) {
            self.out.push_bytes(&[&frame.held]);
            self.tidy_waiting();
        }
        true
    }

    /// Ends the TCP connection once everything queued is written, without a
    /// close frame (walve's `socket.end()`); later input is ignored. Returns true
    /// when the phase changed (the caller arms the close timer).
    pub fn end_when_written(&mut self) -> bool {
        if !self.is_websocket() || self.has(flag::DONE) {
            return false;
        }
        self.set(flag::SENT_CLOSE, true);
        self.reader.stop();
        self.set_final_report(1006, b"", 0);
        self.phase = Phase::Closing;
        true
    }

    /// Queues bytes as they are, no frame around them (`command::RAW`). Returns
    /// false when the connection no longer sends.
    pub fn queue_raw(&mut self, payload: Payload<'_>) -> bool {
        if !self.can_send() {
            return false;
        }
        match payload {
            Payload::Bytes(b) => self.out.push_bytes(&[b]),
            Payload::Shared(data, start, end) => self.out.push_shared(&[], data, start, end),
        }
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
        self.push_frame(true, false, opcode, Payload::Bytes(payload));
    }

    // ---- the close handshake ------------------------------------------------

    pub(super) fn send_close(&mut self, code: u16, reason: &[u8]) {
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
            let report = self.report_mut();
            report.code = code;
            report.reason = reason.into();
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
        let report = self.report_mut();
        let (code, reason) = (report.code, report.reason.clone());
        self.close(code, &reason)
    }

    /// In Closing with nothing left to send, ends our side of TCP when it is
    /// time; the peer's EOF (or the close timeout) then ends the connection.
    /// Once both close frames are exchanged, both roles send FIN and wait for
    /// the peer's, as ws's socket.end() does (a server answering a close sends
    /// its FIN first, RFC 6455 7.1.1): closing the descriptor at once would
    /// answer the peer's own FIN or TLS close_notify with a reset (ECONNRESET
    /// there), and a peer that never closes TCP itself (nodejs-websocket's
    /// server) still sees the end at once. After a protocol error nothing more
    /// is read, and FIN says so. Otherwise the peer's close frame is awaited
    /// with TCP open both ways, as ws does: a FIN now would make some peers
    /// leave without one.
    pub fn end_tcp_when_closed(&mut self) {
        if !matches!(self.phase, Phase::Closing) || !self.out.is_empty() || self.sending_frame() {
            return;
        }
        if self.reader.is_closed() || self.has(flag::DISCARD) {
            self.shutdown_write();
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
        codecs: &mut SharedCodecs,
    ) -> bool {
        let id = self.id;
        let deliver = !self.has(flag::DISCARD);
        let open = matches!(self.phase, Phase::Open);
        let ping_events = sink.ping_events;
        let auto_pong = sink.auto_pong;
        // Payloads of the pings to answer: framed below, once the reader lets go of `self`.
        let mut pongs: Vec<Vec<u8>> = Vec::new();
        let mut peer_close: Option<(u16, Vec<u8>)> = None;
        let mut inflater = self.deflate.as_mut().map(|d| ConnInflater {
            own: &mut d.inflate,
            shared: &mut codecs.inflater,
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
                    pongs.push(payload.to_vec());
                }
                if deliver && ping_events {
                    sink.emit(id, Event::Ping(payload));
                }
            }
            ReaderEvent::Pong(payload) if deliver && ping_events => {
                sink.emit(id, Event::Pong(payload));
            }
            ReaderEvent::Close { code, reason } => peer_close = Some((code, reason.to_vec())),
            ReaderEvent::FrameHead { fin, rsv1, opcode, mask, length } if deliver => {
                let head = (fin as u8) << 7 | (rsv1 as u8) << 6 | opcode.as_u8();
                sink.emit(id, Event::FrameHead { head, mask, length });
            }
            ReaderEvent::FrameData { data, end } if deliver => sink.emit(id, Event::FrameData { data, end }),
            _ => {}
        });
        for payload in pongs {
            self.push_control(Opcode::Pong, &payload);
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
                self.report_mut().detail = err.detail();
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
}
