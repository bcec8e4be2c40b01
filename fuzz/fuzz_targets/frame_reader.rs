//! FrameReader fed arbitrary bytes, split at fuzzer-chosen points, with small limits.
//!
//! Input layout (see fuzz/README.md):
//!   [0] bit 7: allow_rsv1 (RSV1 messages go through an identity "inflater" that
//!       copies and enforces the size limit); bits 0-6: 0 => fragment_size None,
//!       else Some([1] % 64) (0 is allowed for plain messages: the reader uses 1;
//!       with allow_rsv1 it is raised to 1, see fuzz/README.md)
//!   [1] bit 7: the client role (frames must come unmasked), else the server's;
//!       bit 6: frame_events (lws/walve's frames instead of messages; not with allow_rsv1)
//!   [2] max_message_size = [2] * 4 (255 => 1 MiB)
//!   [3] low 4 bits: k = number of split lengths; high 4 bits: max_fragments
//!       (0 => the default), then k bytes: lengths of the first
//!       k pieces (0 = feed an empty slice); the rest of the data is one last piece.
//!   [..] the wire bytes (client frames, masked; server frames, unmasked, in the client role).
//!
//! Invariants checked, besides "no panic":
//! - a text Message, and the concatenation of a text message's Fragments, is valid UTF-8;
//! - bytes delivered for one message never exceed max_message_size;
//! - in streaming mode no event carries more than fragment_size bytes, `remaining`
//!   is 0 exactly on the last Fragment and otherwise at most 1 more than the bytes
//!   still to come (see the note in `on_event`);
//! - with frame_events: every frame is announced once, its pieces add up to its length
//!   (no more), no data frame exceeds max_message_size, a text message's frames are UTF-8
//!   together, and no message event comes;
//! - nothing is emitted after a Close, and the reader is closed after one;
//! - the reader holds a bounded amount of heap;
//! - feeding the same bytes whole or in pieces gives the same events and result
//!   (compared when both runs succeed; when both fail the error must be the same).
//!
//! After an Err nothing more is fed (the connection would be closed).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lws_proto::protocol::reader::Inflate;
use lws_proto::protocol::{FrameReader, ProtocolError, ReaderEvent, ReaderLimits, Role};

/// Stands in for permessage-deflate: the "compressed" bytes are the message.
struct IdentityInflate;

impl Inflate for IdentityInflate {
    fn inflate(&mut self, compressed: &[u8], out: &mut Vec<u8>, limit: u64) -> Result<(), ProtocolError> {
        if compressed.len() as u64 > limit {
            return Err(ProtocolError::MessageTooBig);
        }
        out.extend_from_slice(compressed);
        Ok(())
    }
}

#[derive(Debug, PartialEq, Clone)]
enum Ev {
    Msg(bool, Vec<u8>),
    Frag(bool, Vec<u8>, u64),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(u16, Vec<u8>),
    /// frame_events: a frame's head (fin, rsv1, opcode, mask, length), then its payload
    /// joined (pieces follow the reads, so whole and split runs differ only there).
    Head(bool, bool, u8, Option<[u8; 4]>, u64),
    FrameEnd(Vec<u8>),
}

/// The frame being received with frame_events: (opcode, fin, length, payload so far).
type OpenFrame = (u8, bool, u64, Vec<u8>);

struct Checker {
    limits: ReaderLimits,
    events: Vec<Ev>,
    /// Text or binary bytes of the streamed message in progress.
    streamed: Vec<u8>,
    streamed_binary: Option<bool>,
    /// (bytes delivered before this fragment's end, its `remaining`) for the message in progress.
    promises: Vec<(u64, u64)>,
    closed: bool,
    frame: Option<OpenFrame>,
    /// frame_events: the text message in progress (its frames' bytes), None for binary.
    text: Option<Vec<u8>>,
}

impl Checker {
    fn new(limits: ReaderLimits) -> Self {
        Checker {
            limits,
            events: Vec::new(),
            streamed: Vec::new(),
            streamed_binary: None,
            promises: Vec::new(),
            closed: false,
            frame: None,
            text: None,
        }
    }

    fn on_event(&mut self, e: ReaderEvent<'_>) {
        assert!(!self.closed, "event after Close: {e:?}");
        let max = self.limits.max_message_size;
        let frag = self.limits.fragment_size.map(|n| n.max(1));
        if !self.limits.frame_events {
            assert!(
                !matches!(e, ReaderEvent::FrameHead { .. } | ReaderEvent::FrameData { .. }),
                "frame event without frame_events"
            );
        } else {
            assert!(
                !matches!(e, ReaderEvent::Message { .. } | ReaderEvent::Fragment { .. }),
                "message event with frame_events: {e:?}"
            );
        }
        match e {
            ReaderEvent::Message { binary, data } => {
                assert!(self.streamed_binary.is_none(), "Message while a streamed message is open");
                assert!(data.len() as u64 <= max, "message of {} bytes > max {max}", data.len());
                if let Some(n) = frag {
                    assert!(data.len() <= n, "Message of {} bytes in streaming mode (n = {n})", data.len());
                }
                if !binary {
                    assert!(std::str::from_utf8(data).is_ok(), "text message is not UTF-8: {data:?}");
                }
                self.events.push(Ev::Msg(binary, data.to_vec()));
            }
            ReaderEvent::Fragment { binary, data, remaining } => {
                let n = frag.expect("Fragment without fragment_size");
                assert!(data.len() <= n, "Fragment of {} bytes > fragment_size {n}", data.len());
                if let Some(b) = self.streamed_binary {
                    assert_eq!(b, binary, "fragment type changed inside a message");
                }
                self.streamed_binary = Some(binary);
                self.streamed.extend_from_slice(data);
                assert!(
                    self.streamed.len() as u64 <= max,
                    "streamed {} bytes > max {max}",
                    self.streamed.len()
                );
                if remaining > 0 {
                    assert!(!data.is_empty(), "empty non-final Fragment");
                    self.promises.push((self.streamed.len() as u64, remaining));
                } else {
                    let total = self.streamed.len() as u64;
                    for &(at, promised) in &self.promises {
                        // `remaining` counts the bytes known to follow plus 1 while the
                        // current frame is not final (so it is never 0 before the last
                        // piece); a message that ends with an empty continuation frame
                        // therefore gets 1 byte fewer than promised. Allow exactly that.
                        assert!(
                            total - at + 1 >= promised,
                            "remaining {promised} at {at} but message ended at {total}"
                        );
                    }
                    if !binary {
                        assert!(std::str::from_utf8(&self.streamed).is_ok(), "streamed text is not UTF-8");
                    }
                    self.streamed.clear();
                    self.streamed_binary = None;
                    self.promises.clear();
                }
                self.events.push(Ev::Frag(binary, data.to_vec(), remaining));
            }
            ReaderEvent::Ping(p) => {
                assert!(p.len() <= 125);
                self.events.push(Ev::Ping(p.to_vec()));
            }
            ReaderEvent::Pong(p) => {
                assert!(p.len() <= 125);
                self.events.push(Ev::Pong(p.to_vec()));
            }
            ReaderEvent::Close { code, reason } => {
                assert!(reason.len() <= 123);
                assert!(std::str::from_utf8(reason).is_ok(), "close reason is not UTF-8");
                assert!(
                    code == 1005 || lws_proto::protocol::close::is_valid_wire_code(code),
                    "close code {code}"
                );
                self.closed = true;
                self.events.push(Ev::Close(code, reason.to_vec()));
            }
            ReaderEvent::FrameHead { fin, rsv1, opcode, mask, length } => {
                assert!(self.frame.is_none(), "FrameHead inside a frame");
                assert!(opcode.is_control() || length <= max, "data frame of {length} bytes > max {max}");
                self.frame = Some((opcode.as_u8(), fin, length, Vec::new()));
                self.events.push(Ev::Head(fin, rsv1, opcode.as_u8(), mask, length));
            }
            ReaderEvent::FrameData { data, end } => {
                let (_, _, length, payload) = self.frame.as_mut().expect("FrameData outside a frame");
                payload.extend_from_slice(data);
                assert!(payload.len() as u64 <= *length, "frame pieces pass its length");
                if !end {
                    return;
                }
                let (opcode, fin, length, payload) = self.frame.take().unwrap();
                assert_eq!(payload.len() as u64, length, "frame ended short");
                match opcode {
                    1 => self.text = Some(payload.clone()),
                    2 => self.text = None,
                    0 => {
                        if let Some(t) = self.text.as_mut() {
                            t.extend_from_slice(&payload);
                        }
                    }
                    _ => {}
                }
                if fin && opcode <= 2 {
                    if let Some(t) = self.text.take() {
                        assert!(std::str::from_utf8(&t).is_ok(), "text message in frames is not UTF-8");
                    }
                }
                self.events.push(Ev::FrameEnd(payload));
            }
        }
    }
}

/// Feeds `pieces` of `data` (lengths; the rest goes last) and returns the events and result.
fn run(data: &[u8], pieces: &[usize], limits: ReaderLimits, role: Role) -> (Vec<Ev>, Result<(), ProtocolError>) {
    let mut buf = data.to_vec();
    let mut reader = FrameReader::with_role(role);
    let mut checker = Checker::new(limits);
    let mut rest: &mut [u8] = &mut buf;
    let mut result = Ok(());
    let mut lens: Vec<usize> = pieces.to_vec();
    lens.push(usize::MAX);
    for len in lens {
        let take = len.min(rest.len());
        let (piece, tail) = std::mem::take(&mut rest).split_at_mut(take);
        rest = tail;
        result = if limits.allow_rsv1 {
            reader.feed_with(piece, &limits, Some(&mut IdentityInflate), &mut |e| checker.on_event(e))
        } else {
            reader.feed(piece, &limits, &mut |e| checker.on_event(e))
        };
        if checker.closed {
            assert!(reader.is_closed(), "Close event but reader not closed");
        }
        let heap_bound = 4 * (limits.max_message_size as usize + limits.fragment_size.unwrap_or(0)) + 1024;
        assert!(
            reader.heap_bytes() <= heap_bound,
            "reader holds {} bytes (bound {heap_bound})",
            reader.heap_bytes()
        );
        if result.is_err() {
            break; // the connection is closed: nothing more is fed
        }
    }
    (checker.events, result)
}

fuzz_target!(|input: &[u8]| {
    if input.len() < 4 {
        return;
    }
    let allow_rsv1 = input[0] & 0x80 != 0;
    let fragment_size = if input[0] & 0x7F == 0 {
        None
    } else if allow_rsv1 {
        // KNOWN: fragment_size Some(0) panics on a compressed message
        // (`out.chunks(0)` in collect_compressed); lws never configures 0.
        Some(((input[1] % 64) as usize).max(1))
    } else {
        Some((input[1] % 64) as usize)
    };
    let max_message_size = if input[2] == 255 { 1 << 20 } else { input[2] as u64 * 4 };
    let max_fragments = match input[3] >> 4 {
        0 => ReaderLimits::default().max_fragments,
        n => n as u32,
    };
    let frame_events = input[1] & 0x40 != 0 && !allow_rsv1;
    let limits = ReaderLimits {
        max_message_size,
        fragment_size,
        allow_rsv1,
        max_fragments,
        frame_events,
        ..ReaderLimits::default()
    };
    let k = (input[3] & 15) as usize;
    let Some(lens) = input.get(4..4 + k) else { return };
    let data = &input[4 + k..];
    let lens: Vec<usize> = lens.iter().map(|&b| b as usize).collect();

    let role = if input[1] & 0x80 != 0 { Role::Client } else { Role::Server };
    let (split_events, split_result) = run(data, &lens, limits, role);
    let (whole_events, whole_result) = run(data, &[], limits, role);
    match (&whole_result, &split_result) {
        (Ok(()), Ok(())) => assert_eq!(whole_events, split_events, "whole vs split events differ"),
        (Err(a), Err(b)) => assert_eq!(a, b, "whole vs split errors differ"),
        _ => panic!("whole {whole_result:?} vs split {split_result:?}"),
    }
});
