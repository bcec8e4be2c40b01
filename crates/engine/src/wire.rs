//! The byte formats that cross the bridge, shared with `lib/native.js`.
//!
//! Both directions use records with a 16-byte little-endian header:
//! `kind u8, flags u8, code u16, id u32, len u32, extra u32`, then `len` bytes.
//! One buffer carries many records, so one thread hop carries many events.

pub const RECORD_HEADER: usize = 16;

/// Engine -> JS event kinds.
pub mod event {
    /// A WebSocket is open. extra = fd, payload = peer address.
    pub const OPEN: u8 = 1;
    /// flags bit 0 = binary.
    pub const MESSAGE: u8 = 2;
    /// flags bit 0 = binary, extra = bytes still to come (0 on the last part).
    pub const FRAGMENT: u8 = 3;
    /// code = close code, flags = protocol error id (0 = none), extra = the
    /// error's detail (`ProtocolError::detail`), payload = reason.
    pub const CLOSE: u8 = 4;
    /// A handshake waits for JS to accept or refuse it. payload = request.
    pub const UPGRADE: u8 = 5;
    /// A plain HTTP request waits for an answer. payload = request, then body.
    pub const HTTP: u8 = 6;
    pub const PING: u8 = 7;
    pub const PONG: u8 = 8;
    /// Everything queued for a socket (after a BUFFERED) has been written.
    pub const DRAIN: u8 = 9;
    /// A handshake or HTTP request that JS was asked about went away unanswered.
    pub const ABORTED: u8 = 10;
    /// The engine has stopped: no more events will come.
    pub const SHUTDOWN: u8 = 11;
    /// The peer broke the protocol (flags = error id, code = close code,
    /// extra = the error's detail, payload = reason). JS answers with CLOSE once earlier events are handled.
    pub const FAIL: u8 = 12;
    /// Output could not all be written at once: extra = bytes still queued.
    pub const BUFFERED: u8 = 13;
    /// A message was dropped: the socket's queue was over maxBackpressure.
    pub const DROPPED: u8 = 14;
    /// A message left where it was read: flags bit 0 = binary, len = its
    /// length, extra = its offset in this batch (inside the RAW record before
    /// it). No bytes follow the header: unlike every other record's, this
    /// `len` is not skipped.
    pub const MESSAGE_AT: u8 = 16;
    /// Bytes as the engine read them (frame headers, masks and all), for
    /// MESSAGE_AT records to point into; nothing to do but skip them.
    pub const RAW: u8 = 17;
    /// The peer's close frame arrived (code = its code, 1005 for none; payload =
    /// its reason). JS answers with CLOSE once earlier events are handled, so
    /// its replies to them leave before the close reply.
    pub const PEER_CLOSE: u8 = 18;
    /// A connection the engine does not serve (`hand_off_http`): extra = its
    /// descriptor, now JS's to own; payload = the bytes read from it so far.
    pub const HAND_OFF: u8 = 19;
    /// A client connection's response head (code = status; payload =
    /// `encode_response`: reason, headers, the server's TLS certificates, then
    /// for a refusal its body; extra = after a 101, the bytes that came past the
    /// head in the read that completed it, 0 otherwise). After
    /// a 101 the connection waits for ACCEPT (or TERMINATE); otherwise CLOSE follows.
    pub const RESPONSE: u8 = 20;
    /// The Redis link (id 0) is up (code 1) or down (code 0: extra = errno,
    /// 0 when Redis closed it or answered an error; payload = Redis's error text).
    pub const REDIS: u8 = 21;
    /// A frame's header (`Config::frame_events`): code = its first byte (FIN,
    /// RSV, opcode), payload = `u64` length, then the 4-byte masking key if masked.
    pub const FRAME_HEAD: u8 = 22;
    /// A piece of the current frame's payload, unmasked; flags bit 0: the frame ends with it.
    pub const FRAME_DATA: u8 = 23;
}

/// JS -> engine command kinds.
pub mod command {
    /// flags: bit 0 binary, bit 1 more fragments follow (fin = 0).
    pub const SEND: u8 = 1;
    /// flags bit 0 binary; extra = index into the batch's prepared messages.
    pub const SEND_PREPARED: u8 = 2;
    /// code = close code (1005 = none), payload = reason.
    pub const CLOSE: u8 = 3;
    pub const TERMINATE: u8 = 4;
    /// payload = extra response header lines (each ending in CRLF).
    pub const ACCEPT: u8 = 5;
    /// code = HTTP status, payload = extra header lines.
    pub const REFUSE: u8 = 6;
    /// payload = a complete HTTP response; the connection closes after it.
    pub const HTTP_RESPONSE: u8 = 7;
    pub const PING: u8 = 8;
    pub const PONG: u8 = 9;
    pub const PAUSE: u8 = 10;
    pub const RESUME: u8 = 11;
    /// For a request waiting in JS: hand the connection to JS (a HAND_OFF
    /// event follows) instead of answering it (needs `hand_off_http`).
    pub const HAND_OFF: u8 = 12;
    /// Opens a client connection with the id JS chose (`CLIENT_ID_BIT` set;
    /// the worker bits pick the worker). flags bit 0: TLS. extra = handshake
    /// timeout in ms (0 = none). payload = `decode_connect`'s layout.
    pub const CONNECT: u8 = 13;
    /// Subscribes socket `id` to a topic (payload = the topic).
    pub const SUBSCRIBE: u8 = 14;
    pub const UNSUBSCRIBE: u8 = 15;
    /// Sends a message to a topic's subscribers on every worker (id 0: it goes
    /// to all of them). flags bit 0 binary; payload = `u32` id of a socket to
    /// skip (0 = none), `u16` length + topic, then the message.
    pub const PUBLISH: u8 = 16;
    /// To worker 0 (id 0): this process has subscribers to a topic now (payload
    /// = the topic): the Redis link subscribes to its channel.
    pub const REDIS_SUBSCRIBE: u8 = 17;
    /// To worker 0 (id 0): the last local subscriber to a topic is gone.
    pub const REDIS_UNSUBSCRIBE: u8 = 18;
    /// Starts one data frame whose payload follows as FRAME_DATA (`lws/walve`):
    /// code = its first byte (FIN, opcode; no RSV), payload = `u64` length.
    /// Until the payload is complete nothing else is written to the socket.
    pub const FRAME_HEAD: u8 = 19;
    /// Payload of the frame FRAME_HEAD started (bytes past its length are dropped).
    pub const FRAME_DATA: u8 = 20;
    /// Bytes written as they are, unframed, behind what is queued: what a `ws` user
    /// writes to the socket `handleUpgrade` was given (engine.io's HTTP 400 after a
    /// handshake it fails once upgraded, before it destroys the socket).
    pub const RAW: u8 = 21;
    /// Sets a TCP option on the connection (what ws users call on `ws._socket`, a
    /// `net.Socket` there): code = a `tcp_option`, flags bit 0 = on, extra =
    /// keepalive's idle time in seconds (0: the system's).
    pub const TCP_OPTION: u8 = 22;
    /// JS waits to hear that what it sent so far is written (ws's send callbacks
    /// of a writer that sends again from each one): a DRAIN once it is, at the end
    /// of this batch if it already is (after a BUFFERED if it is not).
    pub const REPORT_WRITTEN: u8 = 23;
}

/// A `command::TCP_OPTION` code.
pub mod tcp_option {
    pub const NO_DELAY: u16 = 1;
    pub const KEEP_ALIVE: u16 = 2;
}

/// Client connections' ids have this bit set: JS picks them (so a socket has
/// its id before the engine hears of it); the engine's own ids stay below it.
/// Every id is below 2^30, so V8 keeps ids as small integers (no heap number
/// per socket, cheaper Map keys).
pub const CLIENT_ID_BIT: u32 = 1 << 29;

/// Why a client connection ended before it opened: the error id of its CLOSE
/// event (after the protocol errors and `INTERNAL_ERROR_ID`); extra = detail.
pub mod client_failure {
    /// connect() failed: detail = errno.
    pub const CONNECT: u8 = 16;
    /// No complete response within the handshake timeout.
    pub const TIMEOUT: u8 = 17;
    /// The TLS session failed: detail = a `tls_failure` number.
    pub const TLS: u8 = 18;
    /// Not an HTTP/1.x response head (detail 0), or one over the size limits (1);
    /// the reason carries the bytes read (JS asks Node's parser what it makes of them).
    pub const BAD_RESPONSE: u8 = 19;
    /// The server closed before its response was complete (detail 0), or the
    /// read failed (detail = errno, e.g. ECONNRESET).
    pub const HANG_UP: u8 = 20;
}

/// A `client_failure::TLS` detail.
pub mod tls_failure {
    pub const OTHER: u32 = 0;
    pub const UNKNOWN_ISSUER: u32 = 1;
    pub const WRONG_NAME: u32 = 2;
    pub const EXPIRED: u32 = 3;
    pub const NOT_YET_VALID: u32 = 4;
    pub const BAD_CERTIFICATE: u32 = 5;
    pub const ALERT_RECEIVED: u32 = 6;
}

/// The error id a CLOSE event carries when the engine panicked while serving
/// the socket (after the protocol errors' ids 1..=14; JS: LWS_ERR_INTERNAL).
pub const INTERNAL_ERROR_ID: u8 = 15;

pub const FLAG_BINARY: u8 = 1;
pub const FLAG_MORE: u8 = 2;
/// The payload travels beside the batch (`CommandBatch::stashed[extra]`).
pub const FLAG_STASHED: u8 = 4;
/// Send this message uncompressed even when permessage-deflate is on.
pub const FLAG_NO_COMPRESS: u8 = 8;
/// TERMINATE: drop what is queued, instead of writing what the socket takes at once.
pub const FLAG_DROP_QUEUED: u8 = 16;
/// On a PEER_CLOSE event: the engine has answered the close already (JS sends no CLOSE).
pub const FLAG_ANSWERED: u8 = 32;
/// TERMINATE: end the TCP connection once everything queued is written (no close frame).
pub const FLAG_WHEN_WRITTEN: u8 = 32;
/// FRAME_DATA event: the last piece of the frame.
pub const FLAG_FRAME_END: u8 = 1;
/// TCP_OPTION: turn the option on (off without it).
pub const FLAG_ON: u8 = 1;

/// Appends one record to `out`.
#[inline]
pub fn put_record(out: &mut Vec<u8>, kind: u8, flags: u8, code: u16, id: u32, extra: u32, payload: &[u8]) {
    out.reserve(RECORD_HEADER + payload.len());
    put_header(out, kind, flags, code, id, payload.len() as u32, extra);
    out.extend_from_slice(payload);
}

/// Appends a record header alone (`len` bytes are the caller's to add, or,
/// for `MESSAGE_AT`, live elsewhere).
#[inline]
pub fn put_header(out: &mut Vec<u8>, kind: u8, flags: u8, code: u16, id: u32, len: u32, extra: u32) {
    let mut header = [0u8; RECORD_HEADER];
    header[0] = kind;
    header[1] = flags;
    header[2..4].copy_from_slice(&code.to_le_bytes());
    header[4..8].copy_from_slice(&id.to_le_bytes());
    header[8..12].copy_from_slice(&len.to_le_bytes());
    header[12..16].copy_from_slice(&extra.to_le_bytes());
    out.extend_from_slice(&header);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub kind: u8,
    pub flags: u8,
    pub code: u16,
    pub id: u32,
    pub extra: u32,
    pub payload: &'a [u8],
    /// Offset of the payload in the buffer the record was read from.
    pub payload_offset: usize,
}

/// Iterates the records of a buffer; stops at the first truncated one.
pub struct Records<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Event records: a `MESSAGE_AT` header has no bytes after it.
    events: bool,
}

/// The records of a command batch.
pub fn records(buf: &[u8]) -> Records<'_> {
    Records { buf, pos: 0, events: false }
}

/// The records of staged events (`MESSAGE_AT` payloads are elsewhere: empty here).
pub fn event_records(buf: &[u8]) -> Records<'_> {
    Records { buf, pos: 0, events: true }
}

impl<'a> Iterator for Records<'a> {
    type Item = Record<'a>;
    fn next(&mut self) -> Option<Record<'a>> {
        let h = self.buf.get(self.pos..self.pos + RECORD_HEADER)?;
        let in_place = self.events && h[0] == event::MESSAGE_AT;
        let len = if in_place { 0 } else { u32::from_le_bytes(h[8..12].try_into().unwrap()) as usize };
        let start = self.pos + RECORD_HEADER;
        let payload = self.buf.get(start..start.checked_add(len)?)?;
        self.pos = start + len;
        Some(Record {
            kind: h[0],
            flags: h[1],
            code: u16::from_le_bytes([h[2], h[3]]),
            id: u32::from_le_bytes(h[4..8].try_into().unwrap()),
            extra: u32::from_le_bytes(h[12..16].try_into().unwrap()),
            payload,
            payload_offset: start,
        })
    }
}

/// Whether JS takes nothing from this batch of events by reference: every record
/// is one whose payload the decoder turns into strings, numbers or copies before
/// its call returns (a peer close's reason included: lib/core/engine-records.js),
/// none a fragment, ping or pong payload or a handed-off head, which listeners are
/// lent, nor a message unless `messages_copied` (a layer that keeps messages gets
/// copies: the ws layer). Such a batch may reach JS in memory used again.
pub fn lends_nothing(batch: &[u8], messages_copied: bool) -> bool {
    use event::*;
    event_records(batch).all(|r| match r.kind {
        OPEN | CLOSE | UPGRADE | HTTP | DRAIN | ABORTED | SHUTDOWN | FAIL | BUFFERED | DROPPED | RESPONSE
        | REDIS | PEER_CLOSE => true,
        MESSAGE | MESSAGE_AT | RAW => messages_copied,
        _ => false,
    })
}

/// Encodes a peer address as `port u16, family u8 (4|6), address bytes`.
pub fn put_peer(out: &mut Vec<u8>, peer: Option<std::net::SocketAddr>) {
    match peer {
        Some(std::net::SocketAddr::V4(a)) => {
            out.extend_from_slice(&a.port().to_le_bytes());
            out.push(4);
            out.extend_from_slice(&a.ip().octets());
        }
        Some(std::net::SocketAddr::V6(a)) => {
            out.extend_from_slice(&a.port().to_le_bytes());
            out.push(6);
            out.extend_from_slice(&a.ip().octets());
        }
        None => out.extend_from_slice(&[0, 0, 0]),
    }
}

/// Encodes a request for the UPGRADE and HTTP events: peer, then
/// `u16 len + method`, `u16 len + url`, `u32 len + "name\0value\0..."`, then the body.
pub fn encode_request(
    peer: Option<std::net::SocketAddr>,
    req: &lws_proto::handshake::Request,
    body: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + body.len());
    put_peer(&mut out, peer);
    out.extend_from_slice(&(req.method.len() as u16).to_le_bytes());
    out.extend_from_slice(req.method.as_bytes());
    let url = &req.url.as_bytes()[..req.url.len().min(u16::MAX as usize)];
    out.extend_from_slice(&(url.len() as u16).to_le_bytes());
    out.extend_from_slice(url);
    let len_at = out.len();
    out.extend_from_slice(&[0; 4]);
    for (name, value) in &req.headers {
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.extend_from_slice(value);
        out.push(0);
    }
    let headers_len = (out.len() - len_at - 4) as u32;
    out[len_at..len_at + 4].copy_from_slice(&headers_len.to_le_bytes());
    out.extend_from_slice(body);
    out
}

/// Encodes a client connection's response for the RESPONSE event: `u16` len +
/// reason, `u32` len + `"name\0value\0..."`, `u32` len + the certificates the
/// server presented over TLS (each `u32` len + DER, its own first; none on a
/// plain connection), then the body (a refusal's).
pub fn encode_response(
    res: &lws_proto::client_handshake::Response,
    certificates: &[&[u8]],
    body: &[u8],
) -> Vec<u8> {
    let certificates_len: usize = certificates.iter().map(|c| 4 + c.len()).sum();
    let mut out = Vec::with_capacity(128 + certificates_len + body.len());
    let reason = &res.reason.as_bytes()[..res.reason.len().min(u16::MAX as usize)];
    out.extend_from_slice(&(reason.len() as u16).to_le_bytes());
    out.extend_from_slice(reason);
    let len_at = out.len();
    out.extend_from_slice(&[0; 4]);
    for (name, value) in &res.headers {
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.extend_from_slice(value);
        out.push(0);
    }
    let headers_len = (out.len() - len_at - 4) as u32;
    out[len_at..len_at + 4].copy_from_slice(&headers_len.to_le_bytes());
    out.extend_from_slice(&(certificates_len as u32).to_le_bytes());
    for certificate in certificates {
        out.extend_from_slice(&(certificate.len() as u32).to_le_bytes());
        out.extend_from_slice(certificate);
    }
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same bytes are decoded by lib/core/wire.js in __test__/wire-format.test.js.
    #[test]
    fn response_layout() {
        let res = lws_proto::client_handshake::Response {
            status: 404,
            reason: "Not Found".into(),
            headers: vec![("Content-Length".into(), b"2".to_vec()), ("X-A".into(), b"b c".to_vec())],
            head_len: 0,
        };
        let mut expected = vec![9, 0];
        expected.extend_from_slice(b"Not Found");
        expected.extend_from_slice(&[25, 0, 0, 0]);
        expected.extend_from_slice(b"Content-Length\x002\x00X-A\x00b c\x00");
        let mut plain = expected.clone();
        plain.extend_from_slice(&[0, 0, 0, 0]);
        plain.extend_from_slice(b"hi");
        assert_eq!(encode_response(&res, &[], b"hi"), plain);
        expected.extend_from_slice(&[13, 0, 0, 0, 3, 0, 0, 0]);
        expected.extend_from_slice(b"abc");
        expected.extend_from_slice(&[2, 0, 0, 0]);
        expected.extend_from_slice(b"de");
        expected.extend_from_slice(b"hi");
        assert_eq!(encode_response(&res, &[b"abc", b"de"], b"hi"), expected);
    }

    #[test]
    fn records_round_trip_and_truncation() {
        let mut buf = Vec::new();
        put_record(&mut buf, event::MESSAGE, FLAG_BINARY, 0, 7, 0, b"abc");
        put_record(&mut buf, event::CLOSE, 0, 1000, 8, 0, b"");
        let all: Vec<_> = records(&buf).collect();
        assert_eq!(all.len(), 2);
        assert_eq!((all[0].kind, all[0].id, all[0].payload), (event::MESSAGE, 7, &b"abc"[..]));
        assert_eq!(all[0].payload_offset, RECORD_HEADER);
        assert_eq!((all[1].kind, all[1].code), (event::CLOSE, 1000));
        assert_eq!(records(&buf[..buf.len() - 1]).count(), 1);
    }

    #[test]
    fn what_lends_nothing() {
        let mut batch = Vec::new();
        put_record(&mut batch, event::OPEN, 0, 0, 1, 9, b"\x50\x00\x04\x7f\x00\x00\x01");
        put_record(&mut batch, event::BUFFERED, 0, 0, 1, 100, b"");
        put_record(&mut batch, event::PEER_CLOSE, 0, 1000, 1, 0, b"bye");
        put_record(&mut batch, event::CLOSE, 0, 1000, 1, 0, b"bye");
        assert!(lends_nothing(&batch, false));
        assert!(lends_nothing(&[], false));
        for kind in [event::MESSAGE, event::RAW] {
            let mut with = batch.clone();
            put_record(&mut with, kind, 0, 0, 1, 0, b"x");
            assert!(!lends_nothing(&with, false), "kind {kind}");
            assert!(lends_nothing(&with, true), "kind {kind}, messages copied");
        }
        for kind in [event::FRAGMENT, event::PING, event::PONG, event::HAND_OFF, event::FRAME_DATA] {
            let mut with = batch.clone();
            put_record(&mut with, kind, 0, 0, 1, 0, b"x");
            assert!(!lends_nothing(&with, true), "kind {kind}");
        }
        // MESSAGE_AT has no bytes of its own: the records after it are still read.
        let mut at = Vec::new();
        put_record(&mut at, event::RAW, 0, 0, 0, 0, b"....");
        put_record(&mut at, event::MESSAGE_AT, 0, 0, 1, 0, b"");
        assert!(!lends_nothing(&at, false));
        assert!(lends_nothing(&at, true));
        put_record(&mut at, event::PING, 0, 0, 1, 0, b"p");
        assert!(!lends_nothing(&at, true));
    }
}
