//! Taking sockets into a worker: the listening socket (accepted connections
//! are spread round-robin over the workers), sockets adopted from Node, ids
//! and socket options. `Worker` methods, kept apart from the loop.

use std::io;
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Token};

use super::{Worker, LISTENER, MAX_WORKERS, WORKER_BITS};
use crate::commands::WorkerMsg;
use crate::config::Config;
use crate::connection::Conn;
use crate::tls::Transport;
use crate::wire::CLIENT_ID_BIT;

impl Worker {
    pub(super) fn listen(&mut self, listener: std::net::TcpListener) {
        let mut listener = TcpListener::from_std(listener);
        if self.poll.registry().register(&mut listener, LISTENER, Interest::READABLE).is_ok() {
            self.listener = Some(listener);
        }
    }

    pub(super) fn unlisten(&mut self) {
        if let Some(mut listener) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut listener);
        }
    }

    pub(super) fn accept_all(&mut self) {
        loop {
            let Some(listener) = self.listener.as_ref() else {
                return;
            };
            match listener.accept() {
                Ok((stream, peer)) => {
                    let n = self.config().threads;
                    let target = self.round_robin % n;
                    self.round_robin = self.round_robin.wrapping_add(1);
                    if target == self.index as usize {
                        self.register(stream, Vec::new(), Some(peer), false);
                    } else {
                        // SAFETY of ownership: the fd moves into the std stream.
                        let std_stream = unsafe {
                            use std::os::fd::{FromRawFd, IntoRawFd};
                            std::net::TcpStream::from_raw_fd(stream.into_raw_fd())
                        };
                        self.shared.send_to(target, WorkerMsg::Adopt(std_stream, Vec::new(), false));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => {}
                // Out of descriptors or memory: leave the rest in the backlog for the next turn.
                Err(_) => return,
            }
        }
    }

    /// A socket handed to this worker (by another worker's accept, or by Node).
    pub(super) fn adopt(&mut self, stream: std::net::TcpStream, head: Vec<u8>, adopted: bool) {
        if stream.set_nonblocking(true).is_ok() {
            let peer = stream.peer_addr().ok();
            self.register(TcpStream::from_std(stream), head, peer, adopted);
        }
    }

    fn alloc_id(&mut self) -> u32 {
        // The largest id made here (every sequence and worker bit set) is below CLIENT_ID_BIT.
        const LARGEST: u32 = (((CLIENT_ID_BIT >> WORKER_BITS) - 1) << WORKER_BITS) + (MAX_WORKERS as u32 - 1);
        const _: () = assert!(LARGEST < CLIENT_ID_BIT);
        loop {
            // Accepted sockets' ids stay below CLIENT_ID_BIT (JS tells the two apart by it).
            self.next_seq = self.next_seq.wrapping_add(1) & ((CLIENT_ID_BIT >> WORKER_BITS) - 1);
            let id = (self.next_seq << WORKER_BITS) | self.index;
            if self.next_seq != 0 && !self.ids.contains(id) {
                return id;
            }
        }
    }

    /// Takes a socket into the loop. `adopted` ones come from Node's servers,
    /// which did any TLS themselves.
    fn register(&mut self, mut stream: TcpStream, head: Vec<u8>, peer: Option<SocketAddr>, adopted: bool) {
        if self.shutdown_deadline.is_some() {
            return;
        }
        configure_socket(&stream, self.config());
        let key = self.conns.vacant_key();
        if self
            .poll
            .registry()
            .register(&mut stream, Token(key), Interest::READABLE | Interest::WRITABLE)
            .is_err()
        {
            return;
        }
        let id = self.alloc_id();
        let tls = if adopted { None } else { self.shared.config.tls.as_ref() };
        let io = Transport::new(stream, tls);
        self.conns.insert(Conn::new(id, io, head, peer, adopted));
        self.ids.insert(id, key);
        self.shared.stats.count_accepted();
        let timeout = self.config().handshake_timeout;
        self.set_deadline(key, Some(timeout));
        self.service(key);
    }
}

pub(super) fn configure_socket(stream: &TcpStream, cfg: &Config) {
    let _ = stream.set_nodelay(true);
    if let Some((time, interval, retries)) = cfg.keepalive {
        let ka = socket2::TcpKeepalive::new().with_time(time).with_interval(interval).with_retries(retries);
        let _ = socket2::SockRef::from(stream).set_tcp_keepalive(&ka);
    }
}
