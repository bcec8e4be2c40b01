//! A client connection's HTTP phase, as the worker drives it: the CONNECT
//! command, the connect completing, the server's response shown to JS, JS's
//! answer (the WebSocket opens) and failures, which end with a CLOSE event.
//! A child of `worker`: these are `Worker` methods; the connection's side is
//! in `connection/client.rs`.

use mio::{Interest, Token};

use super::listener::configure_socket;
use super::Worker;
use crate::commands::CommandBatch;
use crate::connection::{AwaitState, Conn, ResponseProgress};
use crate::connector;
use crate::events::Event;
use crate::tls::Transport;
use crate::wire::{self, client_failure, tls_failure, FLAG_STASHED};

impl Worker {
    /// CONNECT: starts a connection with the id JS chose. A connection that
    /// cannot even start ends at once with CLOSE (`client_failure::CONNECT`).
    pub(super) fn connect(&mut self, batch: &CommandBatch, rec: &wire::Record<'_>) {
        let payload = match batch.stashed.get(rec.extra as usize).filter(|_| rec.flags & FLAG_STASHED != 0) {
            Some(stashed) => stashed.bytes(),
            None => rec.payload,
        };
        let refuse = |worker: &mut Worker, error: u8, detail: u32| {
            let close = Event::Close { code: 1006, reason: b"", error, detail };
            Self::sink(&mut worker.staging, &worker.shared).emit(rec.id, close);
        };
        if self.shutdown_deadline.is_some() || self.ids.contains(rec.id) {
            return refuse(self, client_failure::CONNECT, libc::ECONNABORTED as u32);
        }
        let Some(spec) = connector::decode_connect(rec.flags, rec.extra, payload) else {
            return refuse(self, client_failure::CONNECT, libc::EINVAL as u32);
        };
        let mut stream = match connector::start_connect(&spec) {
            Ok(stream) => stream,
            Err(e) => {
                return refuse(self, client_failure::CONNECT, e.raw_os_error().unwrap_or(libc::EIO) as u32)
            }
        };
        configure_socket(&stream, self.config());
        let key = self.conns.vacant_key();
        let registry = self.poll.registry();
        if let Err(e) = registry.register(&mut stream, Token(key), Interest::READABLE | Interest::WRITABLE) {
            return refuse(self, client_failure::CONNECT, e.raw_os_error().unwrap_or(libc::EIO) as u32);
        }
        let io = match &spec.tls {
            None => Transport::Plain(stream),
            Some((index, name)) => {
                let started = self.shared.client_tls(*index).map(|cfg| Transport::client(stream, &cfg, name));
                match started {
                    Some(Ok(io)) => io,
                    _ => return refuse(self, client_failure::TLS, tls_failure::OTHER),
                }
            }
        };
        self.conns.insert(Conn::connecting(rec.id, io, spec.request));
        self.ids.insert(rec.id, key);
        self.set_deadline(key, spec.timeout);
    }

    /// Connecting or awaiting the response: as far as the socket allows.
    pub(super) fn service_client(&mut self, key: usize) {
        let conn = &mut self.conns[key];
        match conn.finish_connect() {
            Ok(true) => {}
            Ok(false) => return,
            Err(errno) => {
                conn.fail_client(client_failure::CONNECT, errno);
                return self.finish(key);
            }
        }
        let mut sink = Self::sink(&mut self.staging, &self.shared);
        conn.write_out(&mut sink);
        if conn.is_done() {
            conn.fail_client(client_failure::HANG_UP, 0);
            return self.finish(key);
        }
        let cfg = &self.shared.config;
        let progress = conn.read_response(&mut self.read_buf, &cfg.handshake, cfg.max_http_body);
        // Any TLS records the read produced (handshake answers) go out now.
        let mut sink = Self::sink(&mut self.staging, &self.shared);
        conn.write_out(&mut sink);
        match progress {
            ResponseProgress::Waiting => {}
            ResponseProgress::Switching { response, leftover } => {
                let encoded = wire::encode_response(&response, &conn.peer_certificates(), b"");
                let id = conn.id();
                let after_head = leftover.len();
                conn.await_js(AwaitState { key: None, leftover, peer: None, deflate: None });
                self.set_deadline(key, None);
                Self::sink(&mut self.staging, &self.shared)
                    .emit(id, Event::Response { status: response.status, response: &encoded, after_head });
            }
            ResponseProgress::Refused { response, body } => {
                let encoded = wire::encode_response(&response, &conn.peer_certificates(), &body);
                Self::sink(&mut self.staging, &self.shared).emit(
                    conn.id(),
                    Event::Response { status: response.status, response: &encoded, after_head: 0 },
                );
                conn.fail_client(0, 0);
                self.finish(key);
            }
            ResponseProgress::Failed { error, detail } => {
                conn.fail_client(error, detail);
                self.finish(key);
            }
        }
    }

    /// A client connection Node upgraded, handed over by descriptor: it opens
    /// at once (the OPEN event, then what came after the 101). One that cannot
    /// be taken in ends with CLOSE (`client_failure::CONNECT`).
    pub(super) fn adopt_client(
        &mut self,
        id: u32,
        stream: std::net::TcpStream,
        leftover: Vec<u8>,
        extensions: &[u8],
    ) {
        let refuse = |worker: &mut Worker, errno: i32| {
            let close = Event::Close {
                code: 1006,
                reason: b"",
                error: client_failure::CONNECT,
                detail: errno as u32,
            };
            Self::sink(&mut worker.staging, &worker.shared).emit(id, close);
        };
        if self.shutdown_deadline.is_some() || self.ids.contains(id) {
            return refuse(self, libc::ECONNABORTED);
        }
        if let Err(e) = stream.set_nonblocking(true) {
            return refuse(self, e.raw_os_error().unwrap_or(libc::EIO));
        }
        let mut stream = mio::net::TcpStream::from_std(stream);
        configure_socket(&stream, self.config());
        let key = self.conns.vacant_key();
        if let Err(e) =
            self.poll.registry().register(&mut stream, Token(key), Interest::READABLE | Interest::WRITABLE)
        {
            return refuse(self, e.raw_os_error().unwrap_or(libc::EIO));
        }
        self.conns.insert(Conn::adopted_client(id, Transport::Plain(stream)));
        self.ids.insert(id, key);
        let state = AwaitState { key: None, leftover, peer: None, deflate: None };
        self.open_client(key, state, extensions);
    }

    /// JS accepted the server's 101 (ACCEPT, `headers`: the agreed
    /// Sec-WebSocket-Extensions line, if any): the WebSocket opens.
    pub(super) fn open_client(&mut self, key: usize, state: AwaitState, headers: &[u8]) {
        let limits = self.limits();
        if self.next_idle_sweep.is_none() {
            self.next_idle_sweep = self.idle_sweep_interval().map(|i| std::time::Instant::now() + i);
        }
        let tick = self.tick();
        let conn = &mut self.conns[key];
        let extensions = conn.open_client_session(tick, headers);
        let mut peer = Vec::with_capacity(19 + extensions.len());
        wire::put_peer(&mut peer, conn.peer_addr());
        peer.extend_from_slice(extensions.as_bytes());
        Self::sink(&mut self.staging, &self.shared)
            .emit(conn.id(), Event::Open { fd: conn.fd(), peer: &peer });
        let mut leftover = state.leftover;
        if !leftover.is_empty() {
            let mut sink = Self::sink(&mut self.staging, &self.shared);
            if conn.on_input(&mut leftover, &limits, &mut sink, &mut self.codecs) {
                self.arm_close_timer(key);
            }
        }
        self.service_websocket(key);
    }

    /// A client connection JS gave up on before it opened (TERMINATE, or any
    /// answer but ACCEPT): it ends with CLOSE (1006).
    pub(super) fn abandon_client(&mut self, key: usize, error: u8) {
        self.conns[key].fail_client(error, 0);
        self.finish(key);
    }
}
