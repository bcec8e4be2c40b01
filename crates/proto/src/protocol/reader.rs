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
}

impl Default for ReaderLimits {
    fn default() -> Self {
        ReaderLimits {
            max_message_size: 16 * 1024 * 1024,
            fragment_size: None,
            allow_rsv1: false,
            max_fragments: 1 << 20,
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
}

#[derive(Debug)]
struct FrameInProgress {
    opcode: Opcode,
    fin: bool,
    mask: [u8; 4],
    mask_offset: usize,
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

#[derive(Debug, Default)]
pub struct FrameReader {
    header: [u8; MAX_HEADER_LEN],
    header_len: u8,
    frame: Option<FrameInProgress>,
    message: Option<Box<MessageInProgress>>,
    control: Vec<u8>,
    closed: bool,
    /// Drives the mask rule: a server requires masked frames, a client refuses them.
    role: Role,
}

impl FrameReader {
    /// A server's reader (what the engine runs).
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_role(role: Role) -> Self {
        FrameReader { role, ..Self::default() }
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// True once a close frame was read: later bytes are ignored.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Bytes this reader holds on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.control.capacity()
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
            if self.closed {
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
            }
            let frame = self.frame.as_mut().expect("frame in progress");
            let take = frame.remaining.min(data.len() as u64) as usize;
            let (chunk, rest) = data.split_at_mut(take);
            frame.mask_offset = apply_mask(chunk, frame.mask, frame.mask_offset);
            frame.remaining -= take as u64;
            let frame_done = frame.remaining == 0;
            let (opcode, fin, remaining) = (frame.opcode, frame.fin, frame.remaining);
            if frame_done {
                self.frame = None;
            }
            if opcode.is_control() {
                self.deliver_control(opcode, chunk, frame_done, on_event)?;
            } else {
                let message_done = frame_done && fin;
                if self.message.as_ref().is_some_and(|m| m.compressed) {
                    self.collect_compressed(chunk, message_done, limits, inflater.as_deref_mut(), on_event)?;
                } else {
                    self.deliver_data(chunk, message_done, remaining + (!fin) as u64, limits, on_event)?;
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

    fn start_frame(&mut self, h: FrameHeader, limits: &ReaderLimits) -> Result<(), ProtocolError> {
        // One comparison for either role. A client's unmasked payload is then
        // XORed with a zero key: no branch per chunk on the server's path.
        if h.mask.is_some() != self.role.reads_masked() {
            return Err(self.role.mask_error());
        }
        let mask = h.mask.unwrap_or([0; 4]);
        match h.opcode {
            Opcode::Continuation => {
                if h.rsv1 {
                    return Err(ProtocolError::ReservedBitsSet(4)); // RSV1 belongs on the first frame only
                }
                let m = self.message.as_mut().ok_or(ProtocolError::UnexpectedContinuation)?;
                if m.len + h.payload_len > limits.max_message_size {
                    return Err(ProtocolError::MessageTooBig);
                }
                m.fragments += 1;
                if m.fragments >= limits.max_fragments {
                    return Err(ProtocolError::TooManyFragments);
                }
                m.len += h.payload_len;
            }
            Opcode::Text | Opcode::Binary => {
                if self.message.is_some() {
                    return Err(ProtocolError::ExpectedContinuation(h.opcode.as_u8()));
                }
                if h.payload_len > limits.max_message_size {
                    return Err(ProtocolError::MessageTooBig);
                }
                self.message = Some(Box::new(MessageInProgress {
                    binary: h.opcode == Opcode::Binary,
                    utf8: Utf8Validator::new(),
                    buf: Vec::new(),
                    len: h.payload_len,
                    streaming: false,
                    fragments: 0,
                    compressed: h.rsv1,
                }));
            }
            Opcode::Close | Opcode::Ping | Opcode::Pong => {}
        }
        self.frame = Some(FrameInProgress {
            opcode: h.opcode,
            fin: h.fin,
            mask,
            mask_offset: 0,
            remaining: h.payload_len,
        });
        Ok(())
    }

    fn deliver_control(
        &mut self,
        opcode: Opcode,
        chunk: &[u8],
        frame_done: bool,
        on_event: &mut dyn FnMut(ReaderEvent<'_>),
    ) -> Result<(), ProtocolError> {
        if !frame_done {
            self.control.extend_from_slice(chunk);
            return Ok(());
        }
        let kept = std::mem::take(&mut self.control);
        let payload: &[u8] = if kept.is_empty() {
            chunk
        } else {
            self.control = kept;
            self.control.extend_from_slice(chunk);
            &self.control
        };
        let result = match opcode {
            Opcode::Ping => {
                on_event(ReaderEvent::Ping(payload));
                Ok(())
            }
            Opcode::Pong => {
                on_event(ReaderEvent::Pong(payload));
                Ok(())
            }
            _ => parse_close_payload(payload).map(|close| {
                on_event(ReaderEvent::Close { code: close.code, reason: close.reason });
            }),
        };
        if opcode == Opcode::Close {
            self.closed = true;
        }
        self.control = Vec::new();
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
        if !m.binary && !super::utf8::is_valid(&out) {
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
    /// last byte of the message; `after` counts bytes known to follow `chunk`.
    fn deliver_data(
        &mut self,
        chunk: &[u8],
        message_done: bool,
        after: u64,
        limits: &ReaderLimits,
        on_event: &mut dyn FnMut(ReaderEvent<'_>),
    ) -> Result<(), ProtocolError> {
        let m = self.message.as_mut().expect("data frame belongs to a message");
        if !m.binary && !(m.utf8.feed(chunk) && (!message_done || m.utf8.finish())) {
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
mod tests {
    use super::*;

    /// A masked client frame.
    pub fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [0xA1, 0xB2, 0xC3, 0xD4];
        let mut out = vec![(if fin { 0x80 } else { 0 }) | opcode];
        let len = payload.len();
        if len < 126 {
            out.push(0x80 | len as u8);
        } else if len <= 65535 {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
        out
    }

    #[derive(Debug, PartialEq)]
    enum Ev {
        Msg(bool, Vec<u8>),
        Frag(bool, Vec<u8>, u64),
        Ping(Vec<u8>),
        Pong(Vec<u8>),
        Close(u16, Vec<u8>),
    }

    fn run(bytes: &[u8], split: usize, limits: ReaderLimits) -> (Vec<Ev>, Result<(), ProtocolError>) {
        let mut r = FrameReader::new();
        let mut evs = Vec::new();
        let mut data = bytes.to_vec();
        let mut result = Ok(());
        for piece in data.chunks_mut(split.max(1)) {
            result = r.feed(piece, &limits, &mut |e| {
                evs.push(match e {
                    ReaderEvent::Message { binary, data } => Ev::Msg(binary, data.to_vec()),
                    ReaderEvent::Fragment { binary, data, remaining } => {
                        Ev::Frag(binary, data.to_vec(), remaining)
                    }
                    ReaderEvent::Ping(p) => Ev::Ping(p.to_vec()),
                    ReaderEvent::Pong(p) => Ev::Pong(p.to_vec()),
                    ReaderEvent::Close { code, reason } => Ev::Close(code, reason.to_vec()),
                })
            });
            if result.is_err() {
                break;
            }
        }
        (evs, result)
    }

    fn every_split(bytes: &[u8], limits: ReaderLimits) -> (Vec<Ev>, Result<(), ProtocolError>) {
        let whole = run(bytes, bytes.len(), limits);
        for split in 1..bytes.len().min(40) {
            assert_eq!(run(bytes, split, limits), whole, "split {split}");
        }
        whole
    }

    #[test]
    fn text_binary_empty_and_large() {
        let mut bytes = client_frame(true, 1, b"hello");
        bytes.extend(client_frame(true, 2, &[0, 1, 2]));
        bytes.extend(client_frame(true, 1, b""));
        let big: Vec<u8> = (0..70000u32).map(|i| i as u8).collect();
        bytes.extend(client_frame(true, 2, &big));
        let (evs, res) = run(&bytes, bytes.len(), ReaderLimits::default());
        assert_eq!(res, Ok(()));
        assert_eq!(
            evs,
            vec![
                Ev::Msg(false, b"hello".to_vec()),
                Ev::Msg(true, vec![0, 1, 2]),
                Ev::Msg(false, vec![]),
                Ev::Msg(true, big.clone())
            ]
        );
        assert_eq!(run(&bytes, 7, ReaderLimits::default()), (evs, Ok(())));
    }

    #[test]
    fn fragmented_with_interleaved_ping() {
        let mut bytes = client_frame(false, 1, "héllo ".as_bytes());
        bytes.extend(client_frame(true, 9, b"p"));
        bytes.extend(client_frame(false, 0, b"w"));
        bytes.extend(client_frame(true, 0, "örld".as_bytes()));
        let (evs, res) = every_split(&bytes, ReaderLimits::default());
        assert_eq!(res, Ok(()));
        assert_eq!(evs, vec![Ev::Ping(b"p".to_vec()), Ev::Msg(false, "héllo wörld".as_bytes().to_vec())]);
    }

    #[test]
    fn utf8_split_across_fragments_and_invalid() {
        let s = "€".as_bytes();
        let mut bytes = client_frame(false, 1, &s[..1]);
        bytes.extend(client_frame(true, 0, &s[1..]));
        assert_eq!(every_split(&bytes, ReaderLimits::default()).0, vec![Ev::Msg(false, s.to_vec())]);
        let bad = client_frame(true, 1, b"ab\xff");
        assert_eq!(every_split(&bad, ReaderLimits::default()).1, Err(ProtocolError::InvalidUtf8));
        // Truncated code point at the end of the message.
        let cut = client_frame(true, 1, &s[..2]);
        assert_eq!(run(&cut, 100, ReaderLimits::default()).1, Err(ProtocolError::InvalidUtf8));
    }

    #[test]
    fn close_frames() {
        let mut p = 1000u16.to_be_bytes().to_vec();
        p.extend_from_slice(b"bye");
        let mut bytes = client_frame(true, 8, &p);
        bytes.extend(client_frame(true, 1, b"ignored after close"));
        let (evs, res) = every_split(&bytes, ReaderLimits::default());
        assert_eq!(res, Ok(()));
        assert_eq!(evs, vec![Ev::Close(1000, b"bye".to_vec())]);
        assert_eq!(
            run(&client_frame(true, 8, &[]), 100, ReaderLimits::default()).0,
            vec![Ev::Close(1005, vec![])]
        );
        assert_eq!(
            run(&client_frame(true, 8, &1004u16.to_be_bytes()), 100, ReaderLimits::default()).1,
            Err(ProtocolError::InvalidCloseCode(1004))
        );
        assert_eq!(
            run(&client_frame(true, 8, &[1]), 100, ReaderLimits::default()).1,
            Err(ProtocolError::InvalidClosePayload)
        );
    }

    #[test]
    fn protocol_errors() {
        let d = ReaderLimits::default();
        assert_eq!(run(&client_frame(true, 0, b"x"), 100, d).1, Err(ProtocolError::UnexpectedContinuation));
        let mut two = client_frame(false, 1, b"a");
        two.extend(client_frame(true, 1, b"b"));
        assert_eq!(run(&two, 100, d).1, Err(ProtocolError::ExpectedContinuation(1)));
        assert_eq!(run(&[0x81, 0x01, b'x'], 100, d).1, Err(ProtocolError::UnmaskedFrame));
        assert_eq!(
            run(&client_frame(true, 9, &[0; 126]), 100, d).1,
            Err(ProtocolError::ControlFrameTooLong(126))
        );
        assert_eq!(run(&client_frame(true, 3, b""), 100, d).1, Err(ProtocolError::ReservedOpcode(3)));
    }

    #[test]
    fn message_too_big_is_refused_at_the_header() {
        let limits = ReaderLimits { max_message_size: 10, ..Default::default() };
        // Only the header of an 11-byte frame: refused before any payload arrives.
        let frame = client_frame(true, 2, &[0; 11]);
        assert_eq!(run(&frame[..6], 100, limits).1, Err(ProtocolError::MessageTooBig));
        let mut frags = client_frame(false, 2, &[0; 6]);
        frags.extend(client_frame(true, 0, &[0; 5]));
        assert_eq!(run(&frags, 100, limits).1, Err(ProtocolError::MessageTooBig));
        assert_eq!(run(&client_frame(true, 2, &[7; 10]), 100, limits).0, vec![Ev::Msg(true, vec![7; 10])]);
    }

    #[test]
    fn streaming_fragments() {
        let limits = ReaderLimits { fragment_size: Some(4), ..Default::default() };
        // Small message: one ordinary message event.
        assert_eq!(
            every_split(&client_frame(true, 2, b"abc"), limits).0,
            vec![Ev::Msg(true, b"abc".to_vec())]
        );
        // 10 bytes in one frame: 4 + 4 + 2.
        let (evs, _) = every_split(&client_frame(true, 2, b"0123456789"), limits);
        assert_eq!(
            evs,
            vec![
                Ev::Frag(true, b"0123".to_vec(), 6),
                Ev::Frag(true, b"4567".to_vec(), 2),
                Ev::Frag(true, b"89".to_vec(), 0)
            ]
        );
        // Exactly one fragment size: a message.
        assert_eq!(
            run(&client_frame(true, 1, b"abcd"), 100, limits).0,
            vec![Ev::Msg(false, b"abcd".to_vec())]
        );
    }

    #[test]
    fn too_many_fragments() {
        let limits = ReaderLimits { max_fragments: 4, ..Default::default() };
        let mut ok = client_frame(false, 1, b"a");
        for _ in 0..2 {
            ok.extend(client_frame(false, 0, b""));
        }
        ok.extend(client_frame(true, 0, b"b"));
        assert_eq!(run(&ok, 100, limits).0, vec![Ev::Msg(false, b"ab".to_vec())]);
        let mut bad = client_frame(false, 1, b"a");
        for _ in 0..4 {
            bad.extend(client_frame(false, 0, b""));
        }
        assert_eq!(run(&bad, 100, limits).1, Err(ProtocolError::TooManyFragments));
    }

    /// Feeds `bytes` to a client's reader, whole and at every split.
    fn run_client(bytes: &[u8]) -> (Vec<Ev>, Result<(), ProtocolError>) {
        let go = |split: usize| {
            let mut r = FrameReader::with_role(Role::Client);
            let mut evs = Vec::new();
            let mut data = bytes.to_vec();
            let mut result = Ok(());
            for piece in data.chunks_mut(split.max(1)) {
                result = r.feed(piece, &ReaderLimits::default(), &mut |e| {
                    evs.push(match e {
                        ReaderEvent::Message { binary, data } => Ev::Msg(binary, data.to_vec()),
                        ReaderEvent::Ping(p) => Ev::Ping(p.to_vec()),
                        ReaderEvent::Pong(p) => Ev::Pong(p.to_vec()),
                        ReaderEvent::Close { code, reason } => Ev::Close(code, reason.to_vec()),
                        ReaderEvent::Fragment { binary, data, remaining } => {
                            Ev::Frag(binary, data.to_vec(), remaining)
                        }
                    })
                });
                if result.is_err() {
                    break;
                }
            }
            (evs, result)
        };
        let whole = go(bytes.len());
        for split in 1..bytes.len().min(40) {
            assert_eq!(go(split), whole, "split {split}");
        }
        whole
    }

    #[test]
    fn client_role_reads_unmasked_frames() {
        use crate::protocol::frame::write_frame;
        let mut bytes = Vec::new();
        write_frame(&mut bytes, true, false, Opcode::Text, None, b"hello");
        write_frame(&mut bytes, false, false, Opcode::Binary, None, &[1, 2]);
        write_frame(&mut bytes, true, false, Opcode::Ping, None, b"p");
        write_frame(&mut bytes, true, false, Opcode::Continuation, None, &[3]);
        write_frame(&mut bytes, true, false, Opcode::Pong, None, b"q");
        let big: Vec<u8> = (0..70000u32).map(|i| (i * 31) as u8).collect();
        write_frame(&mut bytes, true, false, Opcode::Binary, None, &big);
        write_frame(&mut bytes, true, false, Opcode::Close, None, &[0x03, 0xE8, b'o', b'k']);
        let (evs, res) = run_client(&bytes);
        assert_eq!(res, Ok(()));
        assert_eq!(
            evs,
            vec![
                Ev::Msg(false, b"hello".to_vec()),
                Ev::Ping(b"p".to_vec()),
                Ev::Msg(true, vec![1, 2, 3]),
                Ev::Pong(b"q".to_vec()),
                Ev::Msg(true, big),
                Ev::Close(1000, b"ok".to_vec()),
            ]
        );
    }

    #[test]
    fn client_role_refuses_masked_frames() {
        let err = run_client(&client_frame(true, 1, b"masked")).1.unwrap_err();
        assert_eq!(err, ProtocolError::MaskedFrame);
        assert_eq!(err.to_string(), "server frames must not be masked");
        assert_eq!(err.close_code(), 1002);
        // After a good frame, and for control frames too.
        let mut bytes = Vec::new();
        crate::protocol::frame::write_frame(&mut bytes, true, false, Opcode::Text, None, b"ok");
        bytes.extend(client_frame(true, 9, b""));
        assert_eq!(
            run_client(&bytes),
            (vec![Ev::Msg(false, b"ok".to_vec())], Err(ProtocolError::MaskedFrame))
        );
        // The server's rule is the mirror image.
        assert_eq!(run(&bytes, 100, ReaderLimits::default()).1, Err(ProtocolError::UnmaskedFrame));
        assert_eq!(FrameReader::new().role(), Role::Server);
    }

    #[test]
    fn masked_heads_round_trip_through_the_server_reader() {
        use crate::protocol::frame::{encode_head, write_frame};
        // Every length class of the 14-byte head: 7-bit, 16-bit and 64-bit lengths, at their edges.
        for len in [0usize, 1, 125, 126, 127, 65535, 65536, 70001] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
            let key = [(len >> 8) as u8 | 1, 0x5A, len as u8, 0xC3];
            let mask = Role::Client.frame_mask(|| key);
            assert_eq!(mask, Some(key));
            let mut head = [0u8; MAX_HEADER_LEN];
            let n = encode_head(&mut head, true, false, Opcode::Binary, len as u64, mask);
            let mut frame = Vec::new();
            write_frame(&mut frame, true, false, Opcode::Binary, mask, &payload);
            assert_eq!(frame[..n], head[..n], "len {len}");
            assert_eq!(frame.len(), n + len);
            let (evs, res) = run(&frame, frame.len(), ReaderLimits::default());
            assert_eq!(res, Ok(()), "len {len}");
            assert_eq!(evs, vec![Ev::Msg(true, payload.clone())], "len {len}");
            // Split inside the head and the payload.
            for split in [1, 3, 7, 13] {
                assert_eq!(run(&frame, split, ReaderLimits::default()).0, evs, "len {len} split {split}");
            }
        }
        assert_eq!(Role::Server.frame_mask(|| unreachable!()), None);
    }

    #[test]
    fn length_with_top_bit_is_an_error() {
        let mut f = vec![0x82, 0xFF];
        f.extend_from_slice(&u64::MAX.to_be_bytes());
        f.extend_from_slice(&[1, 2, 3, 4]);
        assert_eq!(run(&f, 100, ReaderLimits::default()).1, Err(ProtocolError::InvalidLength));
    }
}
