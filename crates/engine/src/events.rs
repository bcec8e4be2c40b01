//! What a connection (and the worker) tells JS, as typed events, and the one
//! place they become wire records (`EventSink::emit`). Connections never see
//! the record format; `wire` defines it, this module alone writes events in it.

use lws_proto::protocol::ProtocolError;

use crate::wire::{self, event, FLAG_BINARY};

/// Messages at least this long that arrived whole in one read stay where they
/// were read (a `MESSAGE_AT` record points at them); shorter ones are copied
/// into the records, which is cheaper than shipping the read buffer to JS.
pub const IN_PLACE_MIN: usize = 1024;

/// One event for JS about one connection. Borrowed: nothing is copied until
/// the sink writes the record (and a long whole message not even then).
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A WebSocket is open (`fd`; `peer` is the encoded address, then the extensions).
    Open {
        fd: u32,
        peer: &'a [u8],
    },
    /// A handshake waits for JS to accept or refuse it (`request` encoded by `wire::encode_request`).
    Upgrade {
        fd: u32,
        request: &'a [u8],
    },
    /// A plain HTTP request waits for an answer.
    Http {
        fd: u32,
        request: &'a [u8],
    },
    /// A request JS was asked about went away unanswered.
    Aborted,
    /// A connection handed to JS whole: its descriptor and the bytes read from it.
    HandOff {
        fd: u32,
        head: &'a [u8],
    },
    Message {
        binary: bool,
        data: &'a [u8],
    },
    /// Part of a streamed message; `remaining` is 0 exactly on the last part.
    Fragment {
        binary: bool,
        data: &'a [u8],
        remaining: u64,
    },
    Ping(&'a [u8]),
    Pong(&'a [u8]),
    /// The peer's close frame (code 1005 when it has none).
    PeerClose {
        code: u16,
        reason: &'a [u8],
    },
    /// The peer broke the protocol: JS answers with CLOSE once earlier events are handled.
    Fail {
        error: ProtocolError,
    },
    /// Output JS was told about (`Buffered`) has all been written.
    Drain,
    /// Output is left waiting after a command batch: `queued` bytes.
    Buffered {
        queued: usize,
    },
    /// A message was dropped: the socket's queue was over maxBackpressure.
    Dropped,
    /// A client connection's response (`response` encoded by `wire::encode_response`).
    /// `after_head`: after a 101, how many bytes came past the head in the read that
    /// completed it (frames the server sent at once, parsed once JS accepts).
    Response {
        status: u16,
        response: &'a [u8],
        after_head: usize,
    },
    /// The Redis link went up or down (id 0).
    Redis {
        up: bool,
        errno: i32,
        reason: &'a [u8],
    },
    /// The end of a WebSocket's life in JS. `error`: a protocol error's wire id (0 = none).
    Close {
        code: u16,
        reason: &'a [u8],
        error: u8,
        detail: u32,
    },
    /// The engine has stopped (id 0): no more events will come.
    Shutdown,
    /// A frame's header (`Config::frame_events`): `head` is its first byte.
    FrameHead {
        head: u8,
        mask: Option<[u8; 4]>,
        length: u64,
    },
    /// A piece of the current frame's payload; `end` on its last.
    FrameData {
        data: &'a [u8],
        end: bool,
    },
}

/// Where events go: the worker's staging buffer, as wire records.
pub struct EventSink<'a> {
    pub staging: &'a mut Vec<u8>,
    pub ping_events: bool,
    /// Pings are answered by the engine (false: JS answers them, as ws's `autoPong: false`).
    pub auto_pong: bool,
    /// The worker's raw read buffer as (address, length), when the bytes being
    /// fed were read into it and may be lent to JS in place.
    pub raw: Option<(usize, usize)>,
    /// A `MESSAGE_AT` record points into the raw buffer: it must go to JS
    /// with these records and may not be reused.
    pub raw_used: bool,
}

impl EventSink<'_> {
    /// Writes `ev` about connection `id` as its wire record.
    #[inline]
    pub fn emit(&mut self, id: u32, ev: Event<'_>) {
        let (kind, flags, code, extra, payload): (u8, u8, u16, u32, &[u8]) = match ev {
            Event::Message { binary, data } => return self.message(binary as u8 * FLAG_BINARY, id, data),
            Event::Fragment { binary, data, remaining } => {
                let extra = remaining.min(u32::MAX as u64) as u32;
                (event::FRAGMENT, binary as u8 * FLAG_BINARY, 0, extra, data)
            }
            Event::Fail { error } => {
                let reason = error.to_string();
                let (flags, code) = (error.wire_id(), error.close_code());
                return self.put(event::FAIL, flags, code, id, error.detail(), reason.as_bytes());
            }
            Event::Open { fd, peer } => (event::OPEN, 0, 0, fd, peer),
            Event::Upgrade { fd, request } => (event::UPGRADE, 0, 0, fd, request),
            Event::Http { fd, request } => (event::HTTP, 0, 0, fd, request),
            Event::Aborted => (event::ABORTED, 0, 0, 0, &[]),
            Event::HandOff { fd, head } => (event::HAND_OFF, 0, 0, fd, head),
            Event::Ping(payload) => (event::PING, 0, 0, 0, payload),
            Event::Pong(payload) => (event::PONG, 0, 0, 0, payload),
            Event::PeerClose { code, reason } => (event::PEER_CLOSE, 0, code, 0, reason),
            Event::Drain => (event::DRAIN, 0, 0, 0, &[]),
            Event::Buffered { queued } => (event::BUFFERED, 0, 0, queued.min(u32::MAX as usize) as u32, &[]),
            Event::Dropped => (event::DROPPED, 0, 0, 0, &[]),
            Event::Response { status, response, after_head } => {
                (event::RESPONSE, 0, status, after_head.min(u32::MAX as usize) as u32, response)
            }
            Event::Redis { up, errno, reason } => (event::REDIS, 0, up as u16, errno as u32, reason),
            Event::Close { code, reason, error, detail } => (event::CLOSE, error, code, detail, reason),
            Event::Shutdown => (event::SHUTDOWN, 0, 0, 0, &[]),
            Event::FrameHead { head, mask, length } => {
                let mut bytes = [0u8; 12];
                bytes[..8].copy_from_slice(&length.to_le_bytes());
                let len = match mask {
                    Some(key) => {
                        bytes[8..].copy_from_slice(&key);
                        12
                    }
                    None => 8,
                };
                return self.put(event::FRAME_HEAD, 0, head as u16, id, 0, &bytes[..len]);
            }
            Event::FrameData { data, end } => {
                (event::FRAME_DATA, end as u8 * wire::FLAG_FRAME_END, 0, 0, data)
            }
        };
        self.put(kind, flags, code, id, extra, payload);
    }

    #[inline]
    fn put(&mut self, kind: u8, flags: u8, code: u16, id: u32, extra: u32, payload: &[u8]) {
        wire::put_record(self.staging, kind, flags, code, id, extra, payload);
    }

    /// A whole message: in place when it is long and inside the raw buffer
    /// (a `MESSAGE_AT` record, no copy), copied into a record otherwise.
    #[inline]
    fn message(&mut self, flags: u8, id: u32, data: &[u8]) {
        if data.len() >= IN_PLACE_MIN {
            if let Some((base, len)) = self.raw {
                let offset = (data.as_ptr() as usize).wrapping_sub(base);
                if offset < len && data.len() <= len - offset {
                    wire::put_header(
                        self.staging,
                        event::MESSAGE_AT,
                        flags,
                        0,
                        id,
                        data.len() as u32,
                        offset as u32,
                    );
                    self.raw_used = true;
                    return;
                }
            }
        }
        self.put(event::MESSAGE, flags, 0, id, 0, data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_become_the_records_js_reads() {
        let mut staging = Vec::new();
        let raw = vec![0u8; 4096];
        let mut sink = EventSink {
            staging: &mut staging,
            ping_events: true,
            auto_pong: true,
            raw: Some((raw.as_ptr() as usize, raw.len())),
            raw_used: false,
        };
        sink.emit(7, Event::Message { binary: true, data: &raw[100..2100] });
        sink.emit(7, Event::Message { binary: false, data: b"short" });
        sink.emit(7, Event::Fail { error: ProtocolError::InvalidCloseCode(1004) });
        sink.emit(7, Event::Close { code: 1002, reason: b"r", error: 12, detail: 1004 });
        sink.emit(7, Event::Buffered { queued: 5 });
        assert!(sink.raw_used);
        // MESSAGE_AT carries no payload bytes: read its header by hand, then the rest.
        let at = &staging[..wire::RECORD_HEADER];
        assert_eq!((at[0], at[1]), (event::MESSAGE_AT, FLAG_BINARY));
        assert_eq!(u32::from_le_bytes(at[8..12].try_into().unwrap()), 2000);
        assert_eq!(u32::from_le_bytes(at[12..16].try_into().unwrap()), 100);
        let recs: Vec<_> = wire::records(&staging[wire::RECORD_HEADER..]).collect();
        assert_eq!((recs[0].kind, recs[0].payload), (event::MESSAGE, &b"short"[..]));
        assert_eq!((recs[1].kind, recs[1].flags, recs[1].code, recs[1].extra), (event::FAIL, 12, 1002, 1004));
        assert_eq!(recs[1].payload, b"invalid close code 1004");
        assert_eq!(
            (recs[2].kind, recs[2].flags, recs[2].code, recs[2].extra),
            (event::CLOSE, 12, 1002, 1004)
        );
        assert_eq!((recs[3].kind, recs[3].extra, recs[3].id), (event::BUFFERED, 5, 7));
    }
}
