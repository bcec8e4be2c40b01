//! Pub/sub across processes and machines through Redis: the link one worker
//! (worker 0) keeps to a Redis server. Two connections, as RESP2 wants: one in
//! subscribe mode (`SUBSCRIBE prefix+topic` while this process has local
//! subscribers to the topic), one for `PUBLISH`. A message is tagged with this
//! process's origin id, so the copy Redis sends back is not delivered twice.
//! Messages from other processes come out as `LinkEvent::Message`, for the
//! worker to fan out like a local publish: no JavaScript per message.
//!
//! At most once: while the link is down, publishes to Redis are dropped and
//! messages from other processes are missed; it reconnects (100 ms backoff,
//! doubling to 1 s) and subscribes again to every topic it had.

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use crate::connector;
use lws_proto::resp::{self, Reply};

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Bytes of the origin tag in front of every message this link publishes.
pub const ORIGIN_LEN: usize = 16;
/// The byte after the tag: bit 0, a binary message.
const BINARY: u8 = 1;

/// What JS configured (`pubsub.redis`).
pub struct RedisConfig {
    pub addr: SocketAddr,
    /// `AUTH [username] password`.
    pub username: Option<Vec<u8>>,
    pub password: Option<Vec<u8>>,
    /// Prepended to topics to make channel names.
    pub prefix: Vec<u8>,
    /// This process's tag (random, from JS).
    pub origin: [u8; ORIGIN_LEN],
    /// The largest message accepted from Redis.
    pub max_message: usize,
}

/// What the link tells the worker.
pub enum LinkEvent {
    /// Both connections are up (and authenticated).
    Up,
    /// The link went down: Redis's error text, or an errno (0 when Redis closed it).
    Down { reason: Vec<u8>, errno: i32 },
    /// A message another process published.
    Message { topic: Vec<u8>, binary: bool, data: Vec<u8> },
}

/// One of the two connections.
struct RedisConn {
    stream: TcpStream,
    connected: bool,
    /// PONG seen: AUTH (if any) went through.
    ready: bool,
    out: Vec<u8>,
    input: Vec<u8>,
}

pub struct RedisLink {
    cfg: RedisConfig,
    tokens: (Token, Token),
    sub: Option<RedisConn>,
    publisher: Option<RedisConn>,
    /// Topics with local subscribers (subscribed again after a reconnect).
    topics: HashSet<Vec<u8>>,
    up: bool,
    retry_at: Option<Instant>,
    backoff: Duration,
}

impl RedisLink {
    /// `tokens`: (subscriber, publisher) for the worker's poll.
    pub fn new(cfg: RedisConfig, tokens: (Token, Token)) -> Self {
        RedisLink {
            cfg,
            tokens,
            sub: None,
            publisher: None,
            topics: HashSet::new(),
            up: false,
            retry_at: Some(Instant::now()),
            backoff: FIRST_BACKOFF,
        }
    }

    /// When the link wants `retry` called (a reconnect is due).
    pub fn next_retry(&self) -> Option<Instant> {
        self.retry_at
    }

    /// Connects both connections if a (re)connect is due.
    pub fn retry(&mut self, registry: &Registry, now: Instant, events: &mut Vec<LinkEvent>) {
        match self.retry_at {
            Some(at) if at <= now => {}
            _ => return,
        }
        self.retry_at = None;
        let opened = (|| -> io::Result<(RedisConn, RedisConn)> {
            let mut sub = self.open(registry, self.tokens.0)?;
            let mut publisher = self.open(registry, self.tokens.1)?;
            // Queued now, written once connected: AUTH, then PING (its PONG says the link is usable).
            for conn in [&mut sub, &mut publisher] {
                self.queue_hello(&mut conn.out);
            }
            if !self.topics.is_empty() {
                let channels: Vec<Vec<u8>> = self.topics.iter().map(|t| self.channel(t)).collect();
                let mut args: Vec<&[u8]> = vec![b"SUBSCRIBE"];
                args.extend(channels.iter().map(Vec::as_slice));
                resp::encode_command(&args, &mut sub.out);
            }
            Ok((sub, publisher))
        })();
        match opened {
            Ok((sub, publisher)) => {
                self.sub = Some(sub);
                self.publisher = Some(publisher);
            }
            Err(e) => self.fail(registry, Vec::new(), e.raw_os_error().unwrap_or(libc::EIO), events),
        }
    }

    fn open(&self, registry: &Registry, token: Token) -> io::Result<RedisConn> {
        let mut stream = connector::connect_to(self.cfg.addr, None)?;
        registry.register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)?;
        Ok(RedisConn { stream, connected: false, ready: false, out: Vec::new(), input: Vec::new() })
    }

    fn queue_hello(&self, out: &mut Vec<u8>) {
        match (&self.cfg.username, &self.cfg.password) {
            (Some(user), Some(pass)) => resp::encode_command(&[b"AUTH", user, pass], out),
            (None, Some(pass)) => resp::encode_command(&[b"AUTH", pass], out),
            _ => {}
        }
        resp::encode_command(&[b"PING"], out);
    }

    fn channel(&self, topic: &[u8]) -> Vec<u8> {
        [&self.cfg.prefix[..], topic].concat()
    }

    /// This process has local subscribers to `topic` now (0 -> 1).
    pub fn subscribe(&mut self, topic: &[u8]) {
        if self.topics.insert(topic.to_vec()) {
            let channel = self.channel(topic);
            if let Some(sub) = self.sub.as_mut() {
                resp::encode_command(&[b"SUBSCRIBE", &channel], &mut sub.out);
            }
        }
    }

    /// No more local subscribers to `topic` (1 -> 0).
    pub fn unsubscribe(&mut self, topic: &[u8]) {
        if self.topics.remove(topic) {
            let channel = self.channel(topic);
            if let Some(sub) = self.sub.as_mut() {
                resp::encode_command(&[b"UNSUBSCRIBE", &channel], &mut sub.out);
            }
        }
    }

    /// Publishes to the other processes (dropped while the link is down).
    pub fn publish(&mut self, topic: &[u8], binary: bool, data: &[u8]) {
        if !self.up {
            return;
        }
        let channel = self.channel(topic);
        let Some(publisher) = self.publisher.as_mut() else { return };
        let mut payload = Vec::with_capacity(ORIGIN_LEN + 1 + data.len());
        payload.extend_from_slice(&self.cfg.origin);
        payload.push(if binary { BINARY } else { 0 });
        payload.extend_from_slice(data);
        resp::encode_command(&[b"PUBLISH", &channel, &payload], &mut publisher.out);
    }

    /// After commands were queued: writes what the sockets take.
    pub fn flush(&mut self, registry: &Registry, events: &mut Vec<LinkEvent>) {
        for which in [0, 1] {
            if let Err((reason, errno)) = self.write(which) {
                return self.fail(registry, reason, errno, events);
            }
        }
    }

    /// One of the link's sockets is ready (`token`).
    pub fn on_ready(&mut self, registry: &Registry, token: Token, events: &mut Vec<LinkEvent>) {
        let which = if token == self.tokens.0 { 0 } else { 1 };
        if let Err((reason, errno)) = self.service(which, events) {
            self.fail(registry, reason, errno, events);
        }
    }

    fn conn(&mut self, which: usize) -> Option<&mut RedisConn> {
        if which == 0 {
            self.sub.as_mut()
        } else {
            self.publisher.as_mut()
        }
    }

    fn write(&mut self, which: usize) -> Result<(), (Vec<u8>, i32)> {
        let Some(conn) = self.conn(which) else { return Ok(()) };
        if !conn.connected {
            return Ok(());
        }
        while !conn.out.is_empty() {
            match conn.stream.write(&conn.out) {
                Ok(0) => return Err((Vec::new(), libc::EPIPE)),
                Ok(n) => {
                    conn.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err((Vec::new(), e.raw_os_error().unwrap_or(libc::EIO))),
            }
        }
        Ok(())
    }

    fn service(&mut self, which: usize, events: &mut Vec<LinkEvent>) -> Result<(), (Vec<u8>, i32)> {
        let max_bulk = self.cfg.max_message + ORIGIN_LEN + 1 + 64 * 1024;
        let origin = self.cfg.origin;
        let prefix_len = self.cfg.prefix.len();
        let Some(conn) = self.conn(which) else { return Ok(()) };
        if !conn.connected {
            match connector::connect_result(&conn.stream) {
                Ok(()) => conn.connected = true,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(()),
                Err(e) => return Err((Vec::new(), e.raw_os_error().unwrap_or(libc::ECONNREFUSED))),
            }
        }
        self.write(which)?;
        let conn = self.conn(which).expect("checked above");
        let mut buf = [0u8; 16 * 1024];
        loop {
            match conn.stream.read(&mut buf) {
                Ok(0) => return Err((Vec::new(), 0)),
                Ok(n) => conn.input.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err((Vec::new(), e.raw_os_error().unwrap_or(libc::EIO))),
            }
        }
        let mut used = 0;
        loop {
            let parsed = resp::parse_reply(&conn.input[used..], max_bulk)
                .map_err(|_| (b"malformed reply from Redis".to_vec(), libc::EPROTO))?;
            let Some((reply, n)) = parsed else { break };
            used += n;
            match &reply {
                Reply::Error(text) => return Err((text.to_vec(), 0)),
                Reply::Simple(b"PONG") => conn.ready = true,
                _ => {
                    if let Some((channel, payload)) = resp::as_message(&reply) {
                        let from_here = payload.get(..ORIGIN_LEN) == Some(&origin[..]);
                        if !from_here && payload.len() > ORIGIN_LEN && channel.len() >= prefix_len {
                            events.push(LinkEvent::Message {
                                topic: channel[prefix_len..].to_vec(),
                                binary: payload[ORIGIN_LEN] & BINARY != 0,
                                data: payload[ORIGIN_LEN + 1..].to_vec(),
                            });
                        }
                    }
                }
            }
        }
        conn.input.drain(..used);
        let both_ready =
            self.sub.as_ref().is_some_and(|c| c.ready) && self.publisher.as_ref().is_some_and(|c| c.ready);
        if both_ready && !self.up {
            self.up = true;
            self.backoff = FIRST_BACKOFF;
            events.push(LinkEvent::Up);
        }
        Ok(())
    }

    /// Drops both connections, tells the worker (once per outage) and schedules a reconnect.
    fn fail(&mut self, registry: &Registry, reason: Vec<u8>, errno: i32, events: &mut Vec<LinkEvent>) {
        for conn in [self.sub.take(), self.publisher.take()].into_iter().flatten() {
            let mut stream = conn.stream;
            let _ = registry.deregister(&mut stream);
        }
        if self.up || self.backoff == FIRST_BACKOFF {
            events.push(LinkEvent::Down { reason, errno });
        }
        self.up = false;
        self.retry_at = Some(Instant::now() + self.backoff);
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }

    /// Closes the link for good (the server stops).
    pub fn close(&mut self, registry: &Registry) {
        for conn in [self.sub.take(), self.publisher.take()].into_iter().flatten() {
            let mut stream = conn.stream;
            let _ = registry.deregister(&mut stream);
        }
        self.retry_at = None;
        self.up = false;
    }
}
