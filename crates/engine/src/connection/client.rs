//! The client's HTTP phase: the connect completing, the request (written
//! once connected, and under TLS once the handshake is done), the server's
//! response read and judged, and for a refusal its body. `Conn` methods; the
//! worker's `worker/client_phase.rs` drives them and tells JS.

use std::io;

use super::{flag, Conn, Phase, SocketDeflate};
use crate::connector;
use crate::wire::client_failure;
use lws_proto::client_handshake::{self, BodyLength, Response, ResponseError};
use lws_proto::deflate;
use lws_proto::handshake::HandshakeLimits;

/// Bytes of a malformed response passed to JS (enough for any status line and head).
const MAX_REPORTED_RESPONSE: usize = 64 * 1024;

/// A client connection before its WebSocket opens.
pub struct ClientState {
    /// The request head, until it is queued (once connected).
    request: Vec<u8>,
    /// The response read so far.
    response: Vec<u8>,
}

impl ClientState {
    pub(super) fn new(request: Vec<u8>) -> Self {
        ClientState { request, response: Vec::new() }
    }
}

/// How far the server's response is (`Conn::read_response`).
pub enum ResponseProgress {
    /// More bytes are needed.
    Waiting,
    /// A 101: JS checks it and accepts (or terminates). `leftover`: frames
    /// that came with it.
    Switching { response: Response, leftover: Vec<u8> },
    /// Any other complete response, with its body (as sent: chunks and all).
    Refused { response: Response, body: Vec<u8> },
    /// The handshake failed: a `client_failure` id and its detail (for
    /// BAD_RESPONSE, `fail_client` takes the bytes read as the reason, for JS
    /// to run Node's own parser on).
    Failed { error: u8, detail: u32 },
}

impl Conn {
    /// The socket became writable while connecting: Ok(true) once connected
    /// (the request is queued and the response awaited), Ok(false) if not yet,
    /// Err(errno) if the connect failed.
    pub fn finish_connect(&mut self) -> Result<bool, u32> {
        if !matches!(self.phase, Phase::Connecting(_)) {
            return Ok(true);
        }
        match connector::connect_result(self.io.tcp()) {
            Ok(()) => {}
            Err(e)
                if e.kind() == io::ErrorKind::NotConnected || e.raw_os_error() == Some(libc::EINPROGRESS) =>
            {
                return Ok(false);
            }
            Err(e) => return Err(e.raw_os_error().unwrap_or(libc::ECONNREFUSED) as u32),
        }
        let Phase::Connecting(mut state) = std::mem::replace(&mut self.phase, Phase::Answering) else {
            return Ok(true);
        };
        let request = std::mem::take(&mut state.request);
        self.out.push_bytes(&[&request]);
        self.phase = Phase::AwaitResponse(state);
        self.set(flag::CAN_READ, true);
        Ok(true)
    }

    /// Reads what the socket has of the response and says how far it is.
    /// A refusal's body is read to its end (Content-Length, the last chunk,
    /// or EOF), at most `max_body` bytes of it.
    pub fn read_response(
        &mut self,
        buf: &mut [u8],
        limits: &HandshakeLimits,
        max_body: usize,
    ) -> ResponseProgress {
        loop {
            if !self.has(flag::CAN_READ) {
                return self.judge_response(limits, max_body, false).unwrap_or(ResponseProgress::Waiting);
            }
            let eof = match self.read_into(buf) {
                Ok(0) => true,
                Ok(n) => {
                    if let Phase::AwaitResponse(state) = &mut self.phase {
                        state.response.extend_from_slice(&buf[..n]);
                    }
                    false
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return self.judge_response(limits, max_body, false).unwrap_or(ResponseProgress::Waiting);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return failure_of(&e),
            };
            if let Some(progress) = self.judge_response(limits, max_body, eof) {
                return progress;
            }
            if eof {
                // The server closed before its response was complete ("socket hang up").
                return ResponseProgress::Failed { error: client_failure::HANG_UP, detail: 0 };
            }
        }
    }

    /// The response as read so far: None while more is needed (and can come).
    fn judge_response(
        &mut self,
        limits: &HandshakeLimits,
        max_body: usize,
        eof: bool,
    ) -> Option<ResponseProgress> {
        let Phase::AwaitResponse(state) = &mut self.phase else {
            return Some(ResponseProgress::Waiting);
        };
        let bytes = &state.response;
        let response = match client_handshake::parse_response(bytes, limits) {
            Ok(Some(response)) => response,
            Ok(None) => return None,
            Err(ResponseError::Malformed) => {
                return Some(ResponseProgress::Failed { error: client_failure::BAD_RESPONSE, detail: 0 })
            }
            Err(ResponseError::TooLarge) => {
                return Some(ResponseProgress::Failed { error: client_failure::BAD_RESPONSE, detail: 1 })
            }
        };
        let body = &bytes[response.head_len..];
        if response.status == 101 {
            let leftover = body.to_vec();
            return Some(ResponseProgress::Switching { response, leftover });
        }
        let end = match response.body_length() {
            BodyLength::Empty => Some(0),
            BodyLength::Exact(n) => (body.len() >= n).then_some(n),
            BodyLength::Chunked => client_handshake::chunked_len(body),
            BodyLength::UntilClose => None,
        };
        let end = match end {
            Some(end) => end,
            None if eof || body.len() >= max_body => body.len(),
            None => return None,
        };
        let body = body[..end.min(max_body)].to_vec();
        Some(ResponseProgress::Refused { response, body })
    }

    /// The client's handshake ended before the WebSocket opened: the CLOSE
    /// event (1006) carries why (a `client_failure` id, 0 for a refusal JS
    /// was shown) and its detail.
    pub fn fail_client(&mut self, error: u8, detail: u32) {
        if !self.has(flag::REPORT_FINAL) {
            self.report_mut().detail = detail;
        }
        // A response Node would judge differently: its bytes go to JS, which asks Node's parser.
        let reason = match (&self.phase, error) {
            (Phase::AwaitResponse(state), client_failure::BAD_RESPONSE) => {
                state.response[..state.response.len().min(MAX_REPORTED_RESPONSE)].to_vec()
            }
            _ => Vec::new(),
        };
        self.set_final_report(1006, &reason, error);
        self.set(flag::DONE, true);
    }

    /// JS accepted the server's 101: the WebSocket phase starts, with
    /// permessage-deflate if `headers` (a `Sec-WebSocket-Extensions` line, as
    /// JS agreed to it) name it; its idle clock at `tick`. Returns the
    /// extensions, for OPEN.
    pub fn open_client_session(&mut self, tick: u32, headers: &[u8]) -> String {
        self.last_input = tick;
        self.phase = super::Phase::Open;
        self.set(flag::CAN_READ, true);
        match deflate::client_agreed_in_headers(headers) {
            Some((agreed, value)) => {
                self.deflate = Some(Box::new(SocketDeflate::new(agreed)));
                value
            }
            None => String::new(),
        }
    }
}

/// Why reading failed: a TLS error (the certificate, an alert), or the
/// connection reset or lost.
fn failure_of(err: &io::Error) -> ResponseProgress {
    if err.kind() == io::ErrorKind::InvalidData {
        ResponseProgress::Failed { error: client_failure::TLS, detail: crate::tls::failure_detail(err) }
    } else {
        // A reset or another read error: its errno (Node: "read ECONNRESET").
        ResponseProgress::Failed {
            error: client_failure::HANG_UP,
            detail: err.raw_os_error().unwrap_or(0) as u32,
        }
    }
}
