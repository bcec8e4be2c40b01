//! The HTTP phase of a connection: the request being read, the request shown
//! to JS (waiting for its answer), a final answer being written, and the 101
//! that starts the WebSocket phase. `Conn` methods; the worker's
//! `worker/http_phase.rs` decides what to answer (config, hooks, hand-offs).

use std::io;
use std::net::SocketAddr;

use super::{flag, Conn, Phase, SocketDeflate};
use crate::events::EventSink;
use lws_proto::deflate::Agreed;
use lws_proto::handshake;

/// The HTTP request being read.
pub struct RequestState {
    buf: Vec<u8>,
    peer: Option<SocketAddr>,
}

impl RequestState {
    pub(super) fn new(head: Vec<u8>, peer: Option<SocketAddr>) -> Self {
        RequestState { buf: head, peer }
    }
}

/// A request shown to JS, waiting for ACCEPT / REFUSE / HTTP_RESPONSE: what
/// the worker needs to carry out the answer, parked in the connection.
pub struct AwaitState {
    /// Sec-WebSocket-Key for an upgrade; None for a plain HTTP request.
    pub key: Option<String>,
    /// Bytes that followed the request head (early frames).
    pub leftover: Vec<u8>,
    pub peer: Option<SocketAddr>,
    /// permessage-deflate as negotiated, with the response header value.
    pub deflate: Option<(Agreed, String)>,
}

impl Conn {
    /// The bytes of the request read so far; None once past the Request phase.
    pub fn request_bytes(&self) -> Option<&[u8]> {
        match &self.phase {
            Phase::Request(state) => Some(&state.buf),
            _ => None,
        }
    }

    pub fn append_request(&mut self, bytes: &[u8]) {
        if let Phase::Request(state) = &mut self.phase {
            state.buf.extend_from_slice(bytes);
        }
    }

    /// The whole request (bytes and peer) once it is complete; the connection
    /// is then Answering until the worker parks it (`await_js`) or opens it.
    pub fn take_request(&mut self) -> Option<(Vec<u8>, Option<SocketAddr>)> {
        let Phase::Request(state) = std::mem::replace(&mut self.phase, Phase::Answering) else {
            return None;
        };
        let RequestState { buf, peer } = *state;
        Some((buf, peer))
    }

    /// The request bytes read so far, taken for a hand-off (empty past the Request phase).
    pub fn take_request_head(&mut self) -> Vec<u8> {
        match &mut self.phase {
            Phase::Request(state) => std::mem::take(&mut state.buf),
            _ => Vec::new(),
        }
    }

    /// The request was shown to JS: the connection waits for its answer.
    pub fn await_js(&mut self, state: AwaitState) {
        self.phase = Phase::AwaitJs(Box::new(state));
    }

    /// JS answered: what was parked for it; None when not waiting (a stale answer).
    pub fn take_awaited(&mut self) -> Option<AwaitState> {
        if !matches!(self.phase, Phase::AwaitJs(_)) {
            return None;
        }
        let Phase::AwaitJs(state) = std::mem::replace(&mut self.phase, Phase::Answering) else {
            return None;
        };
        Some(*state)
    }

    /// While JS decides, watch for the client going away (EOF with nothing
    /// unread): true when it has. Under TLS there is no peeking: a gone client
    /// is found when the answer is written.
    pub fn client_left(&mut self) -> bool {
        if !self.has(flag::CAN_READ) {
            return false;
        }
        self.set(flag::CAN_READ, false);
        if self.io.is_tls() {
            return false;
        }
        let mut byte = [0u8; 1];
        match self.io.tcp().peek(&mut byte) {
            Ok(0) => true,
            Err(e) => e.kind() != io::ErrorKind::WouldBlock && e.kind() != io::ErrorKind::Interrupted,
            _ => false,
        }
    }

    pub fn can_read(&self) -> bool {
        self.has(flag::CAN_READ)
    }

    /// Queues a final HTTP answer; the socket closes after it.
    pub fn begin_answer(&mut self, response: &[u8]) {
        self.phase = Phase::Answering;
        self.out.push_bytes(&[response]);
    }

    /// Writes the final answer, then half-closes and drains what the peer still
    /// sends, so that closing does not reset the connection before it read the
    /// answer. True when the socket should go (the peer closed, or I/O failed).
    pub fn serve_answer(&mut self, sink: &mut EventSink<'_>, buf: &mut [u8]) -> bool {
        loop {
            self.write_out(sink);
            if self.has(flag::DONE) {
                return true;
            }
            if !self.out.is_empty() {
                return false;
            }
            self.shutdown_write();
            if !self.has(flag::CAN_READ) {
                return false;
            }
            match self.read_into(buf) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return true,
            }
        }
    }

    /// Queues the 101 (`extra_headers` first, then the extension answer unless
    /// JS wrote it: `header_written`) and starts the WebSocket phase, its idle
    /// clock at `tick`. Returns the negotiated extensions, for OPEN.
    pub fn open_websocket(
        &mut self,
        tick: u32,
        ws_key: &str,
        extra_headers: &[u8],
        negotiated: Option<(Agreed, String)>,
        header_written: bool,
    ) -> String {
        self.last_input = tick;
        let mut headers = Vec::with_capacity(extra_headers.len() + 80);
        headers.extend_from_slice(extra_headers);
        let mut extensions = String::new();
        if let Some((agreed, response)) = negotiated {
            if !header_written {
                headers.extend_from_slice(format!("Sec-WebSocket-Extensions: {response}\r\n").as_bytes());
            }
            self.deflate = Some(Box::new(SocketDeflate::new(agreed)));
            extensions = response;
        }
        self.out.push_bytes(&[&handshake::switching_protocols(ws_key, &headers)]);
        self.phase = Phase::Open;
        extensions
    }
}
