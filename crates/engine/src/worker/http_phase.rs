//! The HTTP phase of a connection, as the worker drives it: reading the
//! request, showing it to JS (or deciding alone), the final answers (101 and
//! the WebSocket's start, refusals, JS's own responses) and hand-offs to JS.
//! A child of `worker`: these are `Worker` methods, kept apart from the loop;
//! the connection's side of the phase (its state, the answer's I/O, the 101
//! itself) is in `connection/http.rs`.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use super::{Worker, ANSWER_TIMEOUT};
use crate::connection::AwaitState;
use crate::events::Event;
use crate::wire::{self, command};
use lws_proto::deflate::{self, Agreed};
use lws_proto::handshake::{self, RequestKind};

impl Worker {
    pub(super) fn service_request(&mut self, key: usize) {
        {
            // TLS handshake records wait for writability like any output.
            let conn = &mut self.conns[key];
            let mut sink = Self::sink(&mut self.staging, &self.shared);
            conn.write_out(&mut sink);
            if conn.is_done() {
                return self.drop_socket(key);
            }
        }
        loop {
            let verdict = {
                let Some(buf) = self.conns[key].request_bytes() else {
                    return;
                };
                if buf.is_empty() {
                    None
                } else {
                    Some(handshake::parse_request(buf, &self.shared.config.handshake).map(|r| {
                        r.map(|request| {
                            let complete = match request.kind {
                                RequestKind::Plain { content_length } => {
                                    buf.len() >= request.head_len.saturating_add(content_length)
                                }
                                RequestKind::Upgrade { .. } => true,
                            };
                            (request, complete)
                        })
                    }))
                }
            };
            match verdict {
                Some(Err(r)) => {
                    if self.hand_off(key, None) {
                        return;
                    }
                    return self.refuse(key, r.status, r.reason);
                }
                Some(Ok(Some((request, true)))) => return self.on_request(key, request),
                Some(Ok(Some((request, false)))) => {
                    // A plain request whose body is still coming: refuse early when it cannot be served.
                    if let RequestKind::Plain { content_length } = request.kind {
                        if self.hand_off(key, None) {
                            return;
                        }
                        if let Some((status, reason)) = self.plain_refusal(content_length) {
                            return self.refuse(key, status, reason);
                        }
                    }
                }
                _ => {}
            }
            let conn = &mut self.conns[key];
            if !conn.can_read() {
                return;
            }
            match conn.read_into(&mut self.read_buf) {
                Ok(0) => return self.drop_socket(key),
                Ok(n) => conn.append_request(&self.read_buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.drop_socket(key),
            }
        }
    }

    fn on_request(&mut self, key: usize, request: handshake::Request) {
        let hooks = self.shared.hooks();
        let conn = &mut self.conns[key];
        let Some((buf, peer)) = conn.take_request() else {
            return;
        };
        let (id, fd) = (conn.id(), conn.fd());
        let served_here = match &request.kind {
            RequestKind::Plain { .. } => false,
            RequestKind::Upgrade { .. } => {
                self.shared.config.path.as_ref().map_or(true, |path| request.path() == path)
                    && (!self.shared.config.hand_off_http || request.is_unambiguous_upgrade())
            }
        };
        if !served_here && self.hand_off(key, Some(buf.clone())) {
            return;
        }
        match request.kind {
            RequestKind::Plain { content_length } => {
                if let Some((status, reason)) = self.plain_refusal(content_length) {
                    return self.refuse(key, status, reason);
                }
                let body = &buf[request.head_len..request.head_len + content_length];
                let encoded = wire::encode_request(peer, &request, body);
                let state = AwaitState { key: None, leftover: Vec::new(), peer, deflate: None };
                self.conns[key].await_js(state);
                self.set_deadline(key, None);
                Self::sink(&mut self.staging, &self.shared).emit(id, Event::Http { fd, request: &encoded });
            }
            RequestKind::Upgrade { key: ref ws_key } => {
                if let Some(path) = &self.shared.config.path {
                    if request.path() != path {
                        return self.refuse(key, 404, "Not Found");
                    }
                }
                let leftover = buf[request.head_len..].to_vec();
                let offers: Vec<&[u8]> = request.headers_named("sec-websocket-extensions").collect();
                let negotiated = (self.shared.config.deflate.as_ref())
                    .filter(|cfg| !cfg.negotiated_by_js)
                    .and_then(|cfg| deflate::negotiate(&offers, cfg));
                if hooks.upgrade {
                    let encoded = wire::encode_request(peer, &request, &[]);
                    let state = AwaitState { key: Some(ws_key.clone()), leftover, peer, deflate: negotiated };
                    self.conns[key].await_js(state);
                    self.set_deadline(key, None);
                    Self::sink(&mut self.staging, &self.shared)
                        .emit(id, Event::Upgrade { fd, request: &encoded });
                    // Watch for the client leaving while JS decides.
                    self.service_waiting(key);
                } else {
                    self.open(key, ws_key, &[], leftover, peer, negotiated);
                }
            }
        }
    }

    /// Writes the 101 and starts the WebSocket phase.
    fn open(
        &mut self,
        key: usize,
        ws_key: &str,
        extra_headers: &[u8],
        mut leftover: Vec<u8>,
        peer: Option<SocketAddr>,
        negotiated: Option<(Agreed, String)>,
    ) {
        self.set_deadline(key, None);
        let limits = self.limits();
        if self.next_idle_sweep.is_none() {
            self.next_idle_sweep = self.idle_sweep_interval().map(|i| Instant::now() + i);
        }
        let tick = self.tick();
        // lws.WebSocketServer negotiates in JS: its answer is among the headers it accepted with.
        let (negotiated, header_written) = match &self.shared.config.deflate {
            Some(cfg) if cfg.negotiated_by_js => (deflate::agreed_in_headers(extra_headers), true),
            _ => (negotiated, false),
        };
        let conn = &mut self.conns[key];
        let extensions = conn.open_websocket(tick, ws_key, extra_headers, negotiated, header_written);
        // OPEN carries the peer's address, then the negotiated extensions.
        let mut addr = Vec::with_capacity(19 + extensions.len());
        wire::put_peer(&mut addr, peer);
        addr.extend_from_slice(extensions.as_bytes());
        Self::sink(&mut self.staging, &self.shared)
            .emit(conn.id(), Event::Open { fd: conn.fd(), peer: &addr });
        if !leftover.is_empty() {
            let mut sink = Self::sink(&mut self.staging, &self.shared);
            if conn.on_input(&mut leftover, &limits, &mut sink, &mut self.codecs) {
                self.arm_close_timer(key);
            }
        }
        self.service_websocket(key);
    }

    /// A request shown to JS whose client went away (or the server stops): JS
    /// hears ABORTED, and the socket goes.
    pub(super) fn abort_request(&mut self, key: usize) {
        let id = self.conns[key].id();
        Self::sink(&mut self.staging, &self.shared).emit(id, Event::Aborted);
        self.drop_socket(key);
    }

    /// The answer a plain HTTP request gets from the engine itself: 426 when JS
    /// does not answer plain requests, 413 when its body is over `max_http_body`.
    fn plain_refusal(&self, content_length: usize) -> Option<(u16, &'static str)> {
        if !self.shared.hooks().http {
            Some((426, "Upgrade Required"))
        } else if content_length > self.shared.config.max_http_body {
            Some((413, "Payload Too Large"))
        } else {
            None
        }
    }

    /// While JS decides, watch for the client going away (EOF with nothing unread).
    pub(super) fn service_waiting(&mut self, key: usize) {
        // Our own connection waiting for JS's verdict on a 101 (JS always gives one) is
        // not ended by a server that leaves meanwhile: its 101 is whole, so the WebSocket
        // opens, takes the frames sent before the FIN (often a close frame), then reads
        // the FIN, as ws does. The readiness stays noted (CAN_READ) for `open_client`.
        let conn = &mut self.conns[key];
        if !conn.is_client() && conn.client_left() {
            self.abort_request(key);
        }
    }

    /// With `hand_off_http`, gives a connection the engine does not serve to JS:
    /// its descriptor and the bytes read so far (`head`, or the request buffer)
    /// leave in a HAND_OFF event, and the engine forgets it. False when it can't
    /// be handed off (not configured, TLS, or it came from Node in the first place).
    fn hand_off(&mut self, key: usize, head: Option<Vec<u8>>) -> bool {
        let conn = &self.conns[key];
        if !self.shared.config.hand_off_http || conn.is_tls() || conn.is_adopted() {
            return false;
        }
        let mut conn = self.remove(key);
        conn.deregister(self.poll.registry());
        let head = head.unwrap_or_else(|| conn.take_request_head());
        let id = conn.id();
        let Some(stream) = conn.into_transport().into_plain() else {
            return true; // unreachable: checked above
        };
        use std::os::fd::IntoRawFd;
        let fd = stream.into_raw_fd();
        Self::sink(&mut self.staging, &self.shared).emit(id, Event::HandOff { fd: fd as u32, head: &head });
        true
    }

    /// Refuses with an error status (counted for stats) and closes.
    fn refuse(&mut self, key: usize, status: u16, reason: &str) {
        self.shared.stats.count_refusal(status);
        self.answer(key, handshake::error_response(status, reason));
    }

    /// Starts writing a final HTTP answer; the socket closes after it.
    fn answer(&mut self, key: usize, response: Vec<u8>) {
        self.conns[key].begin_answer(&response);
        self.set_deadline(key, Some(ANSWER_TIMEOUT));
        self.service_answer(key);
    }

    pub(super) fn service_answer(&mut self, key: usize) {
        let mut sink = Self::sink(&mut self.staging, &self.shared);
        if self.conns[key].serve_answer(&mut sink, &mut self.read_buf) {
            self.drop_socket(key);
        }
    }

    pub(super) fn answer_request(&mut self, key: usize, kind: u8, code: u16, payload: &[u8]) {
        let Some(state) = self.conns[key].take_awaited() else {
            return;
        };
        if self.conns[key].is_client() {
            // A client's 101: JS accepted it (ACCEPT), or anything else gives it up.
            return match kind {
                command::ACCEPT => self.open_client(key, state, payload),
                _ => self.abandon_client(key, 0),
            };
        }
        let AwaitState { key: ws_key, leftover, peer, deflate: negotiated } = state;
        match (kind, ws_key) {
            (command::ACCEPT, Some(ws_key)) => self.open(key, &ws_key, payload, leftover, peer, negotiated),
            (command::REFUSE, Some(_)) => {
                self.shared.stats.count_refusal(code);
                let response = handshake::error_response_with(code, status_reason(code), payload);
                self.answer(key, response);
            }
            (command::HAND_OFF, _) => {
                // The request head was shown to JS, which rebuilds it; what followed goes along.
                if !self.hand_off(key, Some(leftover)) {
                    self.refuse(key, 500, "Internal Server Error");
                }
            }
            // A complete answer written by JS: for plain requests, and for refusals
            // that must match another library's bytes (the ws layer's).
            (command::HTTP_RESPONSE, _) => self.answer(key, payload.to_vec()),
            _ => self.refuse(key, 500, "Internal Server Error"),
        }
    }
}

fn status_reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Refused",
    }
}
