//! The receive state machine: bytes in, protocol events out.
//!
//! The reader works on the caller's buffer (unmasking in place) and only keeps
//! bytes of its own when a frame header, a control frame or a message straddles
//! two reads. A whole message that arrives in one read is handed out as a slice
//! of the caller's buffer, so the common case copies nothing here.
//!
//! permessage-deflate: the frames of an RSV1 message are collected whole
//! (`collect_compressed`), inflated by the caller's inflater (`feed_with`),
//! and then validated and delivered like any other message.

use super::close::parse_close_payload;
use super::frame::{FrameHeader, Opcode, MAX_HEADER_LEN};
use super::mask::apply_mask;
use super::role::Role;
use super::utf8::Utf8Validator;
use super::ProtocolError;

#[derive(Debug, Clone, Copy)]
pub struct ReaderLimits {
    /// Largest message accepted; a frame that would pass it is refused (1009)
    /// as soon as its header arrives.
    pub max_message_size: u64,
    /// When set, a message larger than this is streamed out as `Fragment`
    /// events of at most this many bytes instead of being assembled.
    pub fragment_size: Option<usize>,
    pub allow_rsv1: bool,
    /// Most frames one message may be split into (empty fragments cost CPU, not memory).
    pub max_fragments: u32,
    /// Text messages are delivered without checking their UTF-8 (ws's `skipUTF8Validation`).
    pub skip_utf8: bool,
    /// Frames, not messages: every frame is announced (`FrameHead`) and its payload
    /// handed out as it arrives (`FrameData`), nothing assembled; `max_message_size`
    /// then bounds each frame. Checks (mask, opcodes, UTF-8, close codes) are the same.
    /// Not for permessage-deflate connections (their frames would stay compressed).
    pub frame_events: bool,
    /// With `fragment_size`: a message sent in several frames is streamed from its
    /// first frame, and a piece ends where each frame ends (nodejs-websocket hands
    /// out each frame's payload as it arrives), not only every `fragment_size` bytes.
    pub fragment_per_frame: bool,
}

impl Default for ReaderLimits {
    fn default() -> Self {
        ReaderLimits {
            max_message_size: 16 * 1024 * 1024,
            fragment_size: None,
            allow_rsv1: false,
            max_fragments: 1 << 20,
            skip_utf8: false,
            frame_events: false,
            fragment_per_frame: false,
        }
    }
}

/// Inflates a permessage-deflate message (the connection supplies it when the
/// extension was negotiated). `limit` is the largest inflated size accepted.
pub trait Inflate {
    fn inflate(&mut self, compressed: &[u8], out: &mut Vec<u8>, limit: u64) -> Result<(), ProtocolError>;
}

/// The inflater of a connection without permessage-deflate (RSV1 is refused earlier).
pub struct NoInflate;

impl Inflate for NoInflate {
    fn inflate(&mut self, _: &[u8], _: &mut Vec<u8>, _: u64) -> Result<(), ProtocolError> {
        Err(ProtocolError::ReservedBitsSet(4))
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum ReaderEvent<'a> {
    Message {
        binary: bool,
        data: &'a [u8],
    },
    /// Part of a streamed message; `remaining` is 0 exactly on the last part and
    /// otherwise a lower bound of the bytes still to come.
    Fragment {
        binary: bool,
        data: &'a [u8],
        remaining: u64,
    },
    Ping(&'a [u8]),
    Pong(&'a [u8]),
    Close {
        code: u16,
        reason: &'a [u8],
    },
    /// A frame's header (with `frame_events`): its payload follows as `FrameData`.
    FrameHead {
        fin: bool,
        rsv1: bool,
        opcode: Opcode,
        /// The masking key, when the frame was masked.
        mask: Option<[u8; 4]>,
        length: u64,
    },
    /// A piece of the current frame's payload, unmasked (with `frame_events`);
    /// `end` on the last one (an empty piece for an empty frame). A control
    /// frame's payload comes whole, before its `Ping`, `Pong` or `Close`.
    FrameData {
        data: &'a [u8],
        end: bool,
    },
}

#[derive(Debug)]
struct FrameInProgress {
    opcode: Opcode,
    fin: bool,
    rsv1: bool,
    mask: [u8; 4],
    /// Where in the mask the next payload byte falls (0..4).
    mask_offset: u8,
    remaining: u64,
}

#[derive(Debug)]
struct MessageInProgress {
    binary: bool,
    utf8: Utf8Validator,
    /// Bytes assembled so far (or, when streaming, not yet handed out).
    buf: Vec<u8>,
    /// Total payload bytes of the frames seen so far.
    len: u64,
    streaming: bool,
    fragments: u32,
    /// RSV1 on the first frame: the payload is deflated.
    compressed: bool,
}

impl MessageInProgress {
    fn boxed(binary: bool, len: u64, compressed: bool) -> Box<Self> {
        Box::new(MessageInProgress {
            binary,
            utf8: Utf8Validator::new(),
            buf: Vec::new(),
            len,
            streaming: false,
            fragments: 0,
            compressed,
        })
    }
}

#[derive(Debug, Default)]
pub struct FrameReader {
    header: [u8; MAX_HEADER_LEN],
    header_len: u8,
    frame: Option<FrameInProgress>,
    message: Option<Box<MessageInProgress>>,
    /// A control frame's payload so far, when it straddles reads (rare: boxed,
    /// as every connection carries this reader).
    control: Option<Box<Vec<u8>>>,
    /// The role (it drives the mask rule: a server requires masked frames, a
    /// client refuses them) and whether reading has stopped, in one byte: with
    /// two, padding would make every connection's reader 8 bytes larger.
    mode: u8,
}

/// `FrameReader::mode` bits.
const MODE_CLIENT: u8 = 1;
const MODE_CLOSED: u8 = 2;

impl FrameReader {
    /// A server's reader (what the engine runs).
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_role(role: Role) -> Self {
        let mode = if role == Role::Client { MODE_CLIENT } else { 0 };
        FrameReader { mode, ..Self::default() }
    }

    pub fn role(&self) -> Role {
        if self.mode & MODE_CLIENT != 0 {
            Role::Client
        } else {
            Role::Server
        }
    }

    /// True once a close frame was read (or `stop` was called): later bytes are ignored.
    pub fn is_closed(&self) -> bool {
        self.mode & MODE_CLOSED != 0
    }

    /// Ignores all further input, as after a close frame (this end is ending the connection).
    pub fn stop(&mut self) {
        self.mode |= MODE_CLOSED;
    }

    /// True while a message is being handed out in `Fragment`s (its first part
    /// is out, its last is not).
    pub fn is_streaming(&self) -> bool {
        self.message.as_ref().is_some_and(|m| m.streaming)
    }

    /// Bytes this reader holds on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.control.as_ref().map_or(0, |c| c.capacity() + std::mem::size_of::<Vec<u8>>())
            + self.message.as_ref().map_or(0, |m| m.buf.capacity() + std::mem::size_of::<MessageInProgress>())
    }

    /// Consumes `data` (unmasking it in place) and calls `on_event` for each event.
    /// An error is final: the caller closes the connection with `err.close_code()`.
    pub fn feed(
        &mut self,
        data: &mut [u8],
        limits: &ReaderLimits,
        on_event: &mut dyn FnMut(ReaderEvent<'_>),
    ) -> Result<(), ProtocolError> {
        self.feed_with(data, limits, None::<&mut NoInflate>, on_event)
    }

    /// `feed`, with the inflater for permessage-deflate messages.
    pub fn feed_with<I: Inflate + ?Sized>(
        &mut self,
        mut data: &mut [u8],
        limits: &ReaderLimits,
        mut inflater: Option<&mut I>,
        on_event: &mut dyn FnMut(ReaderEvent<'_>),
    ) -> Result<(), ProtocolError> {
        loop {
            if self.is_closed() {
                return Ok(());
            }
            if self.frame.is_none() {
                if data.is_empty() {
                    return Ok(());
                }
                let Some(consumed) = self.read_header(data, limits)? else {
                    return Ok(()); // header incomplete; the bytes are kept
                };
                data = &mut data[consumed..];
                if limits.frame_events {
                    self.announce_frame(on_event);
                }
            }
            let frame = self.frame.as_mut().expect("frame in progress");
            let frame_len_left = frame.remaining;
            let take = frame.remaining.min(data.len() as u64) as usize;
            let (chunk, rest) = data.split_at_mut(take);
            // Modulo 4 survives the narrowing (256 is a multiple of 4).
            frame.mask_offset = apply_mask(chunk, frame.mask, frame.mask_offset as usize) as u8 & 3;
            frame.remaining -= take as u64;
            let frame_done = frame.remaining == 0;
            let (opcode, fin, remaining) = (frame.opcode, frame.fin, frame.remaining);
            if frame_done {
                self.frame = None;
            }
            if opcode.is_control() {
                self.deliver_control(opcode, chunk, frame_done, limits.frame_events, on_event)?;
            } else if limits.frame_events {
                self.deliver_frame_data(chunk, frame_done, fin, limits, on_event)?;
            } else {
                let message_done = frame_done && fin;
                if self.message.is_none() {
                    // A message in one frame (`start_frame` kept nothing for it).
                    let binary = opcode == Opcode::Binary;
                    if frame_done && limits.fragment_size.is_none_or(|n| chunk.len() <= n) {
                        // All of it in this read: handed out as it is, nothing kept.
                        if !binary && !limits.skip_utf8 && !super::utf8::is_valid(chunk) {
                            return Err(ProtocolError::InvalidUtf8);
                        }
                        on_event(ReaderEvent::Message { binary, data: chunk });
                        data = rest;
                        continue;
                    }
                    self.message = Some(MessageInProgress::boxed(binary, frame_len_left, false));
                }
                if self.message.as_ref().is_some_and(|m| m.compressed) {
                    self.collect_compressed(chunk, message_done, limits, inflater.as_deref_mut(), on_event)?;
                } else {
                    self.deliver_data(
                        chunk,
                        message_done,
                        frame_done,
                        remaining + (!fin) as u64,
                        limits,
                        on_event,
                    )?;
                }
            }
            data = rest;
            if !frame_done {
                return Ok(()); // the read ended inside this frame
            }
        }
    }

    /// Parses the next header (possibly completing one kept from an earlier read)
    /// and starts its frame. Returns how many bytes of `data` it used.
    fn read_header(&mut self, data: &[u8], limits: &ReaderLimits) -> Result<Option<usize>, ProtocolError> {
        let had = self.header_len as usize;
        if had < 2 && had + data.len() >= 2 {
            let (b0, b1) = if had == 0 { (data[0], data[1]) } else { (self.header[0], data[0]) };
            self.check_head(b0, b1, limits)?;
        }
        let header = if had == 0 {
            match FrameHeader::parse(data, limits.allow_rsv1)? {
                Some(h) => h,
                None => {
                    self.header[..data.len()].copy_from_slice(data);
                    self.header_len = data.len() as u8;
                    return Ok(None);
                }
            }
        } else {
            let copy = (MAX_HEADER_LEN - had).min(data.len());
            self.header[had..had + copy].copy_from_slice(&data[..copy]);
            match FrameHeader::parse(&self.header[..had + copy], limits.allow_rsv1)? {
                Some(h) => h,
                None => {
                    self.header_len = (had + copy) as u8;
                    return Ok(None);
                }
            }
        };
        self.header_len = 0;
        self.start_frame(header, limits)?;
        Ok(Some(header.header_len - had))
    }

    /// What ws checks on a frame's first two bytes, in ws's order (the error is the
    /// first that fails), as soon as they are read: the rest of the header is not
    /// waited for, and a frame out of place in its message is reported before a
    /// wrong mask bit.
    fn check_head(&self, b0: u8, b1: u8, limits: &ReaderLimits) -> Result<(), ProtocolError> {
        let fin = b0 & 0x80 != 0;
        let rsv1 = b0 & 0x40 != 0;
        let unexpected_rsv = (b0 >> 4) & if limits.allow_rsv1 { 0b011 } else { 0b111 };
        if unexpected_rsv != 0 {
            return Err(ProtocolError::ReservedBitsSet(unexpected_rsv));
        }
        let len7 = b1 & 0x7F;
        match Opcode::from_u8(b0 & 0x0F)? {
            // RSV1 belongs on a message's first frame only.
            Opcode::Continuation if rsv1 => return Err(ProtocolError::ReservedBitsSet(4)),
            Opcode::Continuation if self.message.is_none() => {
                return Err(ProtocolError::UnexpectedContinuation)
            }
            op @ (Opcode::Text | Opcode::Binary) if self.message.is_some() => {
                return Err(ProtocolError::ExpectedContinuation(op.as_u8()));
            }
            op if op.is_control() => {
                if !fin {
                    return Err(ProtocolError::FragmentedControlFrame);
                }
                if rsv1 {
                    return Err(ProtocolError::ReservedBitsSet(4));
                }
                if len7 > 125 {
                    return Err(ProtocolError::ControlFrameTooLong(len7));
                }
                if op == Opcode::Close && len7 == 1 {
                    return Err(ProtocolError::InvalidClosePayload);
                }
            }
            _ => {}
        }
        // One comparison for either role.
        if (b1 & 0x80 != 0) != self.role().reads_masked() {
            return Err(self.role().mask_error());
        }
        Ok(())
    }

    fn start_frame(&mut self, h: FrameHeader, limits: &ReaderLimits) -> Result<(), ProtocolError> {
        // `check_head` saw the mask bit right: a client's unmasked payload gets a zero
        // key, which apply_mask skips.
        let mask = h.mask.unwrap_or([0; 4]);
        match h.opcode {
            Opcode::Continuation => {
                let m = self.message.as_mut().ok_or(ProtocolError::UnexpectedContinuation)?;
                // Frames are delivered one by one and never assembled: the limit bounds each.
                let size =
                    if limits.frame_events { h.payload_len } else { m.len.saturating_add(h.payload_len) };
                if size > limits.max_message_size {
                    return Err(ProtocolError::MessageTooBig);
                }
                m.fragments += 1;
                if m.fragments >= limits.max_fragments {
                    return Err(ProtocolError::TooManyFragments);
                }
                m.len = m.len.saturating_add(h.payload_len);
            }
            Opcode::Text | Opcode::Binary => {
                if h.payload_len > limits.max_message_size {
                    return Err(ProtocolError::MessageTooBig);
                }
                // A message in one plain frame gets its state only if it straddles
                // reads (see `feed_with`): most never need the allocation.
                if !h.fin || h.rsv1 || limits.frame_events {
                    self.message =
                        Some(MessageInProgress::boxed(h.opcode == Opcode::Binary, h.payload_len, h.rsv1));
                }
            }
            Opcode::Close | Opcode::Ping | Opcode::Pong => {}
        }
        self.frame = Some(FrameInProgress {
            opcode: h.opcode,
            fin: h.fin,
            rsv1: h.rsv1,
            mask,
            mask_offset: 0,
            remaining: h.payload_len,
        });
        Ok(())
    }

    /// Tells of the frame whose header was just read (`frame_events`).
    fn announce_frame(&self, on_event: &mut dyn FnMut(ReaderEvent<'_>)) {
        let f = self.frame.as_ref().expect("frame in progress");
        let mask = self.role().reads_masked().then_some(f.mask);
        on_event(ReaderEvent::FrameHead {
            fin: f.fin,
            rsv1: f.rsv1,
            opcode: f.opcode,
            mask,
            length: f.remaining,
        });
    }

    /// Hands out a piece of a data frame as it arrived (`frame_events`): the text
    /// message's UTF-8 is checked across pieces and frames first, nothing is kept.
    fn deliver_frame_data(
        &mut self,
        chunk: &[u8],
        frame_done: bool,
        fin: bool,
        limits: &ReaderLimits,
        on_event: &mut dyn FnMut(ReaderEvent<'_>),
    ) -> Result<(), ProtocolError> {
        let message_done = frame_done && fin;
        let m = self.message.as_mut().expect("data frame belongs to a message");
        if !m.binary && !limits.skip_utf8 && !(m.utf8.feed(chunk) && (!message_done || m.utf8.finish())) {
            return Err(ProtocolError::InvalidUtf8);
        }
        if message_done {
            self.message = None;
        }
        on_event(ReaderEvent::FrameData { data: chunk, end: frame_done });
        Ok(())
    }

    fn deliver_control(
        &mut self,
        opcode: Opcode,
        chunk: &[u8],
        frame_done: bool,
        frame_events: bool,
        on_event: &mut dyn FnMut(ReaderEvent<'_>),
    ) -> Result<(), ProtocolError> {
        if !frame_done {
            self.control.get_or_insert_with(Default::default).extend_from_slice(chunk);
            return Ok(());
        }
        let joined;
        let payload: &[u8] = match self.control.take() {
            None => chunk,
            Some(mut kept) => {
                kept.extend_from_slice(chunk);
                joined = kept;
                &joined
            }
        };
        let frame_data = |on_event: &mut dyn FnMut(ReaderEvent<'_>)| {
            if frame_events {
                on_event(ReaderEvent::FrameData { data: payload, end: true });
            }
        };
        let result = match opcode {
            Opcode::Ping => {
                frame_data(on_event);
                on_event(ReaderEvent::Ping(payload));
                Ok(())
            }
            Opcode::Pong => {
                frame_data(on_event);
                on_event(ReaderEvent::Pong(payload));
                Ok(())
            }
            _ => parse_close_payload(payload).map(|close| {
                frame_data(on_event);
                on_event(ReaderEvent::Close { code: close.code, reason: close.reason });
            }),
        };
        if opcode == Opcode::Close {
            self.stop();
        }
        result
    }

    /// Collects a compressed message; at its end inflates it, checks size and
    /// UTF-8, and delivers it as one message (or as fragments when streaming).
    fn collect_compressed<I: Inflate + ?Sized>(
        &mut self,
        chunk: &[u8],
        message_done: bool,
        limits: &ReaderLimits,
        inflater: Option<&mut I>,
        on_event: &mut dyn FnMut(ReaderEvent<'_>),
    ) -> Result<(), ProtocolError> {
        let m = self.message.as_mut().expect("data frame belongs to a message");
        m.buf.extend_from_slice(chunk);
        if !message_done {
            return Ok(());
        }
        let m = self.message.take().unwrap();
        let inflater = inflater.ok_or(ProtocolError::ReservedBitsSet(4))?;
        let mut out = Vec::new();
        inflater.inflate(&m.buf, &mut out, limits.max_message_size)?;
        drop(m.buf);
        if !m.binary && !limits.skip_utf8 && !super::utf8::is_valid(&out) {
            return Err(ProtocolError::InvalidUtf8);
        }
        match limits.fragment_size.map(|n| n.max(1)).filter(|&n| out.len() > n) {
            None => on_event(ReaderEvent::Message { binary: m.binary, data: &out }),
            Some(n) => {
                let mut sent = 0;
                for piece in out.chunks(n) {
                    sent += piece.len();
                    let remaining = (out.len() - sent) as u64;
                    on_event(ReaderEvent::Fragment { binary: m.binary, data: piece, remaining });
                }
            }
        }
        Ok(())
    }

    /// Hands out a piece of a data frame's payload. `message_done` is set on the
    /// last byte of the message, `frame_done` on the last of its frame; `after`
    /// counts bytes known to follow `chunk`.
    fn deliver_data(
        &mut self,
        chunk: &[u8],
        message_done: bool,
        frame_done: bool,
        after: u64,
        limits: &ReaderLimits,
        on_event: &mut dyn FnMut(ReaderEvent<'_>),
    ) -> Result<(), ProtocolError> {
        let m = self.message.as_mut().expect("data frame belongs to a message");
        if !m.binary && !limits.skip_utf8 && !(m.utf8.feed(chunk) && (!message_done || m.utf8.finish())) {
            return Err(ProtocolError::InvalidUtf8);
        }
        let binary = m.binary;
        // Fast path: the whole message is in this read.
        if message_done && m.buf.is_empty() && !m.streaming && m.len == chunk.len() as u64 {
            if let Some(n) = limits.fragment_size.filter(|&n| chunk.len() > n) {
                let _ = n; // too big for one event: fall through to streaming
            } else {
                self.message = None;
                on_event(ReaderEvent::Message { binary, data: chunk });
                return Ok(());
            }
        }
        match limits.fragment_size {
            None => {
                if m.buf.is_empty() {
                    // Reserve what the frames announced, capped so a lying header cannot make us allocate.
                    m.buf.reserve((m.len as usize).min(1 << 20));
                }
                m.buf.extend_from_slice(chunk);
                if message_done {
                    let m = self.message.take().unwrap();
                    on_event(ReaderEvent::Message { binary, data: &m.buf });
                }
            }
            Some(n) => {
                let n = n.max(1);
                let mut rest = chunk;
                while !rest.is_empty() {
                    if m.buf.is_empty() && rest.len() >= n && (rest.len() > n || !message_done) {
                        let remaining = (rest.len() - n) as u64 + after;
                        m.streaming = true;
                        on_event(ReaderEvent::Fragment { binary, data: &rest[..n], remaining });
                        rest = &rest[n..];
                        continue;
                    }
                    let take = (n - m.buf.len()).min(rest.len());
                    m.buf.extend_from_slice(&rest[..take]);
                    rest = &rest[take..];
                    if m.buf.len() == n && (!rest.is_empty() || !message_done) {
                        let remaining = rest.len() as u64 + after;
                        m.streaming = true;
                        on_event(ReaderEvent::Fragment { binary, data: &m.buf, remaining });
                        m.buf.clear();
                    }
                }
                if limits.fragment_per_frame
                    && frame_done
                    && !message_done
                    && (!m.buf.is_empty() || !m.streaming)
                {
                    // A frame of a message that goes on: what it brought is handed out now, even
                    // nothing when it is the first (the message starts there). `after` is at
                    // least 1: the next frame's header is still to come.
                    m.streaming = true;
                    on_event(ReaderEvent::Fragment { binary, data: &m.buf, remaining: after });
                    m.buf.clear();
                }
                if message_done {
                    let m = self.message.take().unwrap();
                    if m.streaming {
                        on_event(ReaderEvent::Fragment { binary, data: &m.buf, remaining: 0 });
                    } else {
                        on_event(ReaderEvent::Message { binary, data: &m.buf });
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
