//! (Over 600 lines on purpose: one state machine, the link, whose single-server
//! and cluster paths share their connections, retries and replies; the RESP codec
//! and the slot map are in lws-proto.)
//!
//! Pub/sub across processes and machines through Redis: the link one worker
//! (worker 0) keeps. Per Redis node, two connections, as RESP2 wants: one in
//! subscribe mode (subscribed to `prefix+topic` while this process has local
//! subscribers to the topic), one for publishing. A message is tagged with this
//! process's origin id, so the copy Redis sends back is not delivered twice.
//! Messages from other processes come out as `LinkEvent::Message`, for the
//! worker to fan out like a local publish: no JavaScript per message.
//!
//! Two targets:
//! - one server: `SUBSCRIBE` / `PUBLISH` on it;
//! - a Redis Cluster (7+): sharded pub/sub. The slot map comes from
//!   `CLUSTER SLOTS` asked of a seed node; each channel's `SSUBSCRIBE` and
//!   `SPUBLISH` go to the master of its slot (`lws_proto::redis_cluster`). A
//!   `MOVED` answer to a publish re-maps the slot and sends it again there;
//!   a slot that moved away (`MOVED` to a subscribe, or Redis unsubscribing
//!   the channel itself) makes the link ask for the map again and subscribe
//!   where the slot now is.
//!
//! Nodes a cluster announces by hostname (`cluster-preferred-endpoint-type
//! hostname`) are reached at the IP the slot map lists beside the name: the
//! link never waits on DNS. A `MOVED` naming a hostname goes to the known node
//! of that name and port; to an unknown one, the publishes for that slot wait
//! for the slot map, asked again of the node that answered `MOVED`.
//!
//! `rediss://`: every connection is a TLS session (rustls, `crate::tls`). The
//! name checked: `pubsub.tls.servername` if given, on every node; else the
//! hostname a node is announced by; else the first seed URL's host name, or,
//! when the seeds are IPs, each node's own IP (`TlsName`).
//!
//! At most once: while the link is down, publishes to Redis are dropped and
//! messages from other processes are missed. Any node's connection failing
//! takes the whole link down (as a cluster without full coverage refuses
//! service by default); it reconnects (100 ms backoff, doubling to 1 s; in a
//! cluster, to the seeds and the last known masters in turn), and subscribes
//! again to every topic it had.
//!
//! A node that answers but says "not now" (`CLUSTERDOWN`: its slot has no
//! master, as while a failover or a slot reassignment is under way; `TRYAGAIN`,
//! `LOADING`) does not take the link down: the other slots are served meanwhile
//! (Redis 7 serves sharded pub/sub on covered slots while the cluster is down).
//! A publish so answered is dropped (at most once, as above); a subscribe so
//! answered is sent again after a backoff (100 ms, doubling to 1 s) until the
//! slot is served. Any other error reply still takes the link down. Redis
//! 7.0 never answers `ASK` (nor `TRYAGAIN`) to sharded pub/sub: a migrating
//! slot's channels stay on its old master until the slot is handed over
//! (`MOVED` then), so the link has no `ASK` path.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{self, IoSlice};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Interest, Registry, Token};
use rustls::ClientConfig;

use crate::connector;
use crate::tls::Transport;
use lws_proto::redis_cluster::{self, SLOTS};
use lws_proto::resp::{self, Reply};

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Bytes of the origin tag in front of every message this link publishes.
pub const ORIGIN_LEN: usize = 16;
/// The byte after the tag: bit 0, a binary message.
const BINARY: u8 = 1;
/// Masters a cluster link talks to at most (two connections, two tokens each).
pub const MAX_NODES: usize = 64;
/// In the slot map: no master known for the slot (yet).
const UNSERVED: u8 = u8::MAX;

/// Where the link goes.
pub enum RedisTarget {
    /// One Redis server (`pubsub.redis: 'redis://...'`).
    Server(SocketAddr),
    /// A Redis Cluster's seed nodes (`pubsub.redis: ['redis://...', ...]`).
    Cluster(Vec<SocketAddr>),
}

/// What JS configured (`pubsub.redis`).
pub struct RedisConfig {
    pub target: RedisTarget,
    /// `AUTH [username] password`.
    pub username: Option<Vec<u8>>,
    pub password: Option<Vec<u8>>,
    /// Prepended to topics to make channel names.
    pub prefix: Vec<u8>,
    /// This process's tag (random, from JS).
    pub origin: [u8; ORIGIN_LEN],
    /// The largest message accepted from Redis.
    pub max_message: usize,
    /// `rediss://`: the TLS configuration and the names the nodes' certificates must carry.
    pub tls: Option<(Arc<ClientConfig>, TlsName)>,
}

/// The name a node's certificate is checked against (`rediss://`).
pub enum TlsName {
    /// `pubsub.tls.servername`: on every node.
    Given(String),
    /// The first seed URL's host name: on the seeds and the nodes announced by IP; a
    /// node announced by hostname is checked against that hostname (as ioredis does).
    Seed(String),
    /// Seeds given by IP: each node's own IP, or the hostname it is announced by.
    Own,
}

/// What the link tells the worker.
pub enum LinkEvent {
    /// Every connection is up (and authenticated); in a cluster, the slot map is known.
    Up,
    /// The link went down: Redis's error text, or an errno (0 when Redis closed
    /// it); `node`, the node concerned.
    Down { reason: Vec<u8>, errno: i32, node: SocketAddr },
    /// A message another process published.
    Message { topic: Vec<u8>, binary: bool, data: Vec<u8> },
}

/// A reply a publishing connection waits for, in order.
enum Expect {
    /// To AUTH or PING.
    Hello,
    /// To CLUSTER SLOTS.
    SlotMap,
    /// To PUBLISH / SPUBLISH; in a cluster, the slot and the command itself, to send again after a MOVED.
    Publish(Option<(u16, Vec<u8>)>),
    /// To an SPUBLISH already sent again to its slot's new master, with the one
    /// before it that was answered MOVED: its own answer (MOVED too) is ignored.
    Forwarded,
    /// On a subscribing connection: to (S)SUBSCRIBE of this topic's channel.
    Subscribe(Vec<u8>),
    /// On a subscribing connection: to (S)UNSUBSCRIBE of this channel.
    Unsubscribe(Vec<u8>),
}

/// One connection to a node.
struct RedisConn {
    stream: Transport,
    connected: bool,
    /// PONG seen: AUTH (if any) went through.
    ready: bool,
    out: Vec<u8>,
    input: Vec<u8>,
    /// The replies still to come, in order: the publishing connection's to all it
    /// asked, the subscribing one's to its (un)subscribes (to tell which one an error answers).
    expect: VecDeque<Expect>,
}

/// A Redis node (the server, or a cluster master) and the link's two connections to it.
struct Node {
    addr: SocketAddr,
    /// The hostname the cluster announces it by (None: by IP, or not said yet).
    announced: Option<Vec<u8>>,
    sub: RedisConn,
    publisher: RedisConn,
}

/// Why a connection is dropped: Redis's text, or an errno (0: closed by Redis).
type Failure = (Vec<u8>, i32);

pub struct RedisLink {
    cfg: RedisConfig,
    /// Node i's subscriber connection is `first_token - 2i`, its publisher the token below.
    first_token: usize,
    nodes: Vec<Node>,
    /// A cluster's slot -> index in `nodes`, once `CLUSTER SLOTS` answered.
    slots: Option<Box<[u8; SLOTS]>>,
    /// A cluster: a `CLUSTER SLOTS` is on its way (one at a time).
    map_asked: bool,
    /// Topics with local subscribers (subscribed again after a reconnect).
    topics: HashSet<Vec<u8>>,
    /// Which node each topic's channel is subscribed on (all on node 0 for one server).
    subscribed_on: HashMap<Vec<u8>, usize>,
    /// A cluster: publishes (slot, SPUBLISH) waiting for the slot map, in order: their
    /// slot's new master is a hostname no known node has (MOVED).
    parked: Vec<(u16, Vec<u8>)>,
    /// A cluster: nodes to try first, in turn (the seeds, then the masters last known,
    /// with the hostname each is announced by).
    candidates: Vec<(SocketAddr, Option<Vec<u8>>)>,
    next_candidate: usize,
    up: bool,
    retry_at: Option<Instant>,
    backoff: Duration,
    /// Subscribes answered "not now" (CLUSTERDOWN...) are sent again then (with
    /// every topic not subscribed anywhere), the link staying up meanwhile.
    resubscribe_at: Option<Instant>,
    resubscribe_backoff: Duration,
}

impl RedisLink {
    /// `first_token`: the highest of the `2 * MAX_NODES` poll tokens the link may use.
    pub fn new(cfg: RedisConfig, first_token: usize) -> Self {
        let candidates = match &cfg.target {
            RedisTarget::Server(addr) => vec![(*addr, None)],
            RedisTarget::Cluster(seeds) => seeds.iter().map(|&addr| (addr, None)).collect(),
        };
        RedisLink {
            cfg,
            first_token,
            nodes: Vec::new(),
            slots: None,
            map_asked: false,
            topics: HashSet::new(),
            subscribed_on: HashMap::new(),
            parked: Vec::new(),
            candidates,
            next_candidate: 0,
            up: false,
            retry_at: Some(Instant::now()),
            backoff: FIRST_BACKOFF,
            resubscribe_at: None,
            resubscribe_backoff: FIRST_BACKOFF,
        }
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self.cfg.target, RedisTarget::Cluster(_))
    }

    /// Whether a poll token is one of this link's.
    pub fn owns(first_token: usize, token: Token) -> bool {
        token.0 <= first_token && token.0 > first_token - 2 * MAX_NODES
    }

    /// When the link wants `retry` called (a reconnect, or subscribes again, are due).
    pub fn next_retry(&self) -> Option<Instant> {
        [self.retry_at, self.resubscribe_at].into_iter().flatten().min()
    }

    /// Subscribes again if that is due; connects if a (re)connect is due: to the
    /// server, or to the next cluster candidate, asked for the slot map.
    pub fn retry(&mut self, registry: &Registry, now: Instant, events: &mut Vec<LinkEvent>) {
        if self.resubscribe_at.is_some_and(|at| at <= now) {
            self.resubscribe_at = None;
            self.sync_subscriptions();
        }
        match self.retry_at {
            Some(at) if at <= now => {}
            _ => return,
        }
        self.retry_at = None;
        let (addr, announced) = self.candidates[self.next_candidate % self.candidates.len()].clone();
        self.next_candidate += 1;
        match self.add_node(registry, addr, announced) {
            Ok(index) => {
                if self.is_cluster() {
                    self.ask_slot_map(index);
                } else {
                    self.sync_subscriptions();
                }
            }
            Err(e) => self.fail(registry, (Vec::new(), e.raw_os_error().unwrap_or(libc::EIO)), addr, events),
        }
    }

    /// Opens both connections to a node (AUTH and PING queued), announced by
    /// hostname `announced` if not by IP; its index in `nodes`.
    fn add_node(
        &mut self,
        registry: &Registry,
        addr: SocketAddr,
        announced: Option<Vec<u8>>,
    ) -> io::Result<usize> {
        if let Some(index) = self.nodes.iter().position(|n| n.addr == addr) {
            // A seed met by IP, or a node renamed since: the slot map's name finds it
            // when a MOVED gives that name.
            if announced.is_some() {
                self.nodes[index].announced = announced;
            }
            return Ok(index);
        }
        let index = self.nodes.len();
        if index == MAX_NODES {
            return Err(io::Error::other("more Redis Cluster masters than the link serves"));
        }
        let (sub_token, pub_token) = self.tokens(index);
        let mut sub = self.open(registry, addr, announced.as_deref(), sub_token)?;
        let mut publisher = match self.open(registry, addr, announced.as_deref(), pub_token) {
            Ok(c) => c,
            Err(e) => {
                let _ = registry.deregister(sub.stream.tcp_mut());
                return Err(e);
            }
        };
        self.queue_hello(&mut sub.out);
        self.queue_hello(&mut publisher.out);
        // The publishing connection matches every reply to what it asked; the other reads messages.
        let hello_replies = if self.cfg.password.is_some() { 2 } else { 1 };
        publisher.expect.extend(std::iter::repeat_with(|| Expect::Hello).take(hello_replies));
        self.nodes.push(Node { addr, announced, sub, publisher });
        Ok(index)
    }

    fn tokens(&self, index: usize) -> (Token, Token) {
        (Token(self.first_token - 2 * index), Token(self.first_token - 2 * index - 1))
    }

    fn open(
        &self,
        registry: &Registry,
        addr: SocketAddr,
        announced: Option<&[u8]>,
        token: Token,
    ) -> io::Result<RedisConn> {
        let mut tcp = connector::connect_to(addr, None)?;
        registry.register(&mut tcp, token, Interest::READABLE | Interest::WRITABLE)?;
        let stream = match &self.cfg.tls {
            None => Transport::Plain(tcp),
            Some((config, name)) => {
                let announced = announced.map(String::from_utf8_lossy);
                let name = match (name, announced) {
                    (TlsName::Given(name), _) => name.clone(),
                    (_, Some(hostname)) => hostname.into_owned(),
                    (TlsName::Seed(name), None) => name.clone(),
                    (TlsName::Own, None) => addr.ip().to_string(),
                };
                Transport::client(tcp, config, &name)?
            }
        };
        Ok(RedisConn {
            stream,
            connected: false,
            ready: false,
            out: Vec::new(),
            input: Vec::new(),
            expect: VecDeque::new(),
        })
    }

    /// AUTH (with a password), then PING: its PONG says the connection is usable.
    fn queue_hello(&self, out: &mut Vec<u8>) {
        match (&self.cfg.username, &self.cfg.password) {
            (Some(user), Some(pass)) => resp::encode_command(&[b"AUTH", user, pass], out),
            (None, Some(pass)) => resp::encode_command(&[b"AUTH", pass], out),
            _ => {}
        }
        resp::encode_command(&[b"PING"], out);
    }

    fn ask_slot_map(&mut self, index: usize) {
        if self.map_asked {
            return;
        }
        self.map_asked = true;
        let publisher = &mut self.nodes[index].publisher;
        resp::encode_command(&[b"CLUSTER", b"SLOTS"], &mut publisher.out);
        publisher.expect.push_back(Expect::SlotMap);
    }

    fn channel(&self, topic: &[u8]) -> Vec<u8> {
        [&self.cfg.prefix[..], topic].concat()
    }

    /// The node a channel belongs on: the server, or its slot's master (None
    /// while a cluster's map, or the slot's master, is unknown).
    fn node_for(&self, channel: &[u8]) -> Option<usize> {
        if !self.is_cluster() {
            return (!self.nodes.is_empty()).then_some(0);
        }
        let slots = self.slots.as_ref()?;
        let node = slots[redis_cluster::key_slot(channel) as usize];
        (node != UNSERVED).then_some(node as usize)
    }

    fn subscribe_command(&self) -> &'static [u8] {
        if self.is_cluster() {
            b"SSUBSCRIBE"
        } else {
            b"SUBSCRIBE"
        }
    }

    /// Subscribes every wanted topic where it belongs now (and off where it was).
    fn sync_subscriptions(&mut self) {
        let topics: Vec<Vec<u8>> = self.topics.iter().cloned().collect();
        for topic in topics {
            self.place_subscription(&topic);
        }
    }

    fn place_subscription(&mut self, topic: &[u8]) {
        let channel = self.channel(topic);
        let Some(target) = self.node_for(&channel) else { return };
        let current = self.subscribed_on.get(topic).copied();
        if current == Some(target) {
            return;
        }
        if let Some(old) = current {
            self.send_unsubscribe(old, &channel);
        }
        let command = self.subscribe_command();
        let sub = &mut self.nodes[target].sub;
        resp::encode_command(&[command, &channel], &mut sub.out);
        sub.expect.push_back(Expect::Subscribe(topic.to_vec()));
        self.subscribed_on.insert(topic.to_vec(), target);
    }

    fn send_unsubscribe(&mut self, node: usize, channel: &[u8]) {
        let command: &[u8] = if self.is_cluster() { b"SUNSUBSCRIBE" } else { b"UNSUBSCRIBE" };
        if let Some(n) = self.nodes.get_mut(node) {
            resp::encode_command(&[command, channel], &mut n.sub.out);
            n.sub.expect.push_back(Expect::Unsubscribe(channel.to_vec()));
        }
    }

    /// This process has local subscribers to `topic` now (0 -> 1).
    pub fn subscribe(&mut self, topic: &[u8]) {
        if self.topics.insert(topic.to_vec()) {
            self.place_subscription(topic);
        }
    }

    /// No more local subscribers to `topic` (1 -> 0).
    pub fn unsubscribe(&mut self, topic: &[u8]) {
        if self.topics.remove(topic) {
            if let Some(node) = self.subscribed_on.remove(topic) {
                let channel = self.channel(topic);
                self.send_unsubscribe(node, &channel);
            }
        }
    }

    /// Publishes to the other processes (dropped while the link is down).
    pub fn publish(&mut self, topic: &[u8], binary: bool, data: &[u8]) {
        if !self.up {
            return;
        }
        let channel = self.channel(topic);
        let node = self.node_for(&channel);
        // No node at all yet: dropped. A cluster's slot whose new master is being
        // looked up (the map known, the slot not): the publish waits with the others.
        if node.is_none() && self.slots.is_none() {
            return;
        }
        let mut payload = Vec::with_capacity(ORIGIN_LEN + 1 + data.len());
        payload.extend_from_slice(&self.cfg.origin);
        payload.push(if binary { BINARY } else { 0 });
        payload.extend_from_slice(data);
        if self.is_cluster() {
            let mut command = Vec::with_capacity(payload.len() + channel.len() + 48);
            resp::encode_command(&[b"SPUBLISH", &channel, &payload], &mut command);
            let slot = redis_cluster::key_slot(&channel);
            match node {
                Some(node) => self.send_publish(node, slot, command),
                None => self.parked.push((slot, command)),
            }
        } else if let Some(node) = node {
            let publisher = &mut self.nodes[node].publisher;
            resp::encode_command(&[b"PUBLISH", &channel, &payload], &mut publisher.out);
            publisher.expect.push_back(Expect::Publish(None));
        }
    }

    /// Queues a cluster's SPUBLISH (`command`, to `slot`) on `node`.
    fn send_publish(&mut self, node: usize, slot: u16, command: Vec<u8>) {
        let publisher = &mut self.nodes[node].publisher;
        publisher.out.extend_from_slice(&command);
        publisher.expect.push_back(Expect::Publish(Some((slot, command))));
    }

    /// After commands were queued: writes what the sockets take.
    pub fn flush(&mut self, registry: &Registry, events: &mut Vec<LinkEvent>) {
        let failed = self.nodes.iter_mut().find_map(|node| {
            let result = write(&mut node.sub).and_then(|()| write(&mut node.publisher));
            result.err().map(|failure| (failure, node.addr))
        });
        if let Some((failure, addr)) = failed {
            self.fail(registry, failure, addr, events);
        }
    }

    /// One of the link's sockets is ready (`token`).
    pub fn on_ready(&mut self, registry: &Registry, token: Token, events: &mut Vec<LinkEvent>) {
        let offset = self.first_token - token.0;
        let (index, publisher) = (offset / 2, offset % 2 == 1);
        let Some(node) = self.nodes.get(index) else { return };
        let addr = node.addr;
        let result =
            if publisher { self.service_publisher(registry, index) } else { self.service_sub(index, events) };
        match result {
            Ok(()) => self.note_up(events),
            Err(failure) => self.fail(registry, failure, addr, events),
        }
    }

    fn note_up(&mut self, events: &mut Vec<LinkEvent>) {
        let ready = !self.nodes.is_empty()
            && (!self.is_cluster() || self.slots.is_some())
            && self.nodes.iter().all(|n| n.sub.ready && n.publisher.ready);
        if ready && !self.up {
            self.up = true;
            self.backoff = FIRST_BACKOFF;
            events.push(LinkEvent::Up);
        }
    }

    fn service_sub(&mut self, index: usize, events: &mut Vec<LinkEvent>) -> Result<(), Failure> {
        let max_bulk = self.cfg.max_message + ORIGIN_LEN + 1 + 64 * 1024;
        let conn = &mut self.nodes[index].sub;
        read(conn)?;
        let mut input = std::mem::take(&mut conn.input);
        let mut used = 0;
        let mut remap = false;
        let result = loop {
            let parsed = match resp::parse_reply(&input[used..], max_bulk) {
                Ok(p) => p,
                Err(_) => break Err((b"malformed reply from Redis".to_vec(), 0)),
            };
            let Some((reply, n)) = parsed else { break Ok(()) };
            used += n;
            match &reply {
                Reply::Simple(b"PONG") => self.nodes[index].sub.ready = true,
                // To AUTH or PING: refused.
                Reply::Error(text) if !self.nodes[index].sub.ready => break Err((text.to_vec(), 0)),
                // The slot is served elsewhere now: subscribe there once the map is known again.
                Reply::Error(text) if redis_cluster::parse_moved(text).is_some() => {
                    self.nodes[index].sub.expect.pop_front();
                    let (slot, _, _) = redis_cluster::parse_moved(text).expect("checked");
                    self.forget_slot(index, slot);
                    remap = true;
                }
                // Not now (the slot has no master): that subscribe again later. An unsubscribe
                // so answered leaves the channel subscribed: its messages reach no one here.
                Reply::Error(text) if redis_cluster::is_transient(text) => {
                    if let Some(Expect::Subscribe(topic)) = self.nodes[index].sub.expect.pop_front() {
                        self.retry_subscribe(index, topic);
                    }
                }
                Reply::Error(text) => break Err((text.to_vec(), 0)),
                _ => {
                    if let Some((channel, payload)) = resp::as_message(&reply) {
                        self.on_message(channel, payload, events);
                    } else if let Some((subscribed, channel)) = subscription_reply(&reply) {
                        let expect = &mut self.nodes[index].sub.expect;
                        let ours = match expect.front() {
                            Some(Expect::Subscribe(_)) => subscribed,
                            Some(Expect::Unsubscribe(asked)) => !subscribed && asked == channel,
                            _ => false,
                        };
                        if ours {
                            expect.pop_front();
                            if subscribed {
                                self.resubscribe_backoff = FIRST_BACKOFF;
                            }
                        } else if !subscribed {
                            // Redis unsubscribed a channel itself (its slot moved): subscribe where it went.
                            let topic = channel.get(self.cfg.prefix.len()..).unwrap_or_default().to_vec();
                            if self.topics.contains(&topic) && self.subscribed_on.get(&topic) == Some(&index)
                            {
                                self.subscribed_on.remove(&topic);
                                remap = true;
                            }
                        }
                    }
                }
            }
        };
        input.drain(..used);
        self.nodes[index].sub.input = input;
        if remap && self.is_cluster() {
            self.ask_slot_map(index);
        }
        result
    }

    /// A subscribe on `index` answered "not now": sent again (with any other so
    /// answered meanwhile) after the backoff, which doubles until one goes through.
    fn retry_subscribe(&mut self, index: usize, topic: Vec<u8>) {
        if self.subscribed_on.get(&topic) == Some(&index) {
            self.subscribed_on.remove(&topic);
        }
        if self.resubscribe_at.is_none() {
            self.resubscribe_at = Some(Instant::now() + self.resubscribe_backoff);
            self.resubscribe_backoff = (self.resubscribe_backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Subscriptions on `index` to channels of `slot` are gone (MOVED).
    fn forget_slot(&mut self, index: usize, slot: u16) {
        let prefix = &self.cfg.prefix;
        self.subscribed_on.retain(|topic, node| {
            *node != index || redis_cluster::key_slot(&[&prefix[..], topic].concat()) != slot
        });
    }

    fn on_message(&self, channel: &[u8], payload: &[u8], events: &mut Vec<LinkEvent>) {
        let prefix_len = self.cfg.prefix.len();
        let from_here = payload.get(..ORIGIN_LEN) == Some(&self.cfg.origin[..]);
        if !from_here && payload.len() > ORIGIN_LEN && channel.len() >= prefix_len {
            events.push(LinkEvent::Message {
                topic: channel[prefix_len..].to_vec(),
                binary: payload[ORIGIN_LEN] & BINARY != 0,
                data: payload[ORIGIN_LEN + 1..].to_vec(),
            });
        }
    }

    fn service_publisher(&mut self, registry: &Registry, index: usize) -> Result<(), Failure> {
        let conn = &mut self.nodes[index].publisher;
        read(conn)?;
        let mut input = std::mem::take(&mut conn.input);
        let mut used = 0;
        let result = loop {
            // Publish replies are integers; a slot map is small (3 items per range).
            let parsed = match resp::parse_reply(&input[used..], 64 * 1024) {
                Ok(p) => p,
                Err(_) => break Err((b"malformed reply from Redis".to_vec(), 0)),
            };
            let Some((reply, n)) = parsed else { break Ok(()) };
            used += n;
            let expected = self.nodes[index].publisher.expect.pop_front();
            match (expected, &reply) {
                (Some(Expect::Hello), Reply::Simple(b"PONG")) => self.nodes[index].publisher.ready = true,
                (Some(Expect::Hello), Reply::Simple(_)) => {}
                (Some(Expect::SlotMap), Reply::Array(_)) => {
                    if let Err(failure) = self.apply_slot_map(registry, index, &reply) {
                        break Err(failure);
                    }
                }
                (Some(Expect::Publish(_)), Reply::Integer(_)) => {}
                (Some(Expect::Forwarded), _) => {}
                // Not now (the slot has no master): dropped, as while the link is down. Sent
                // again after a delay, it would have to hold every later publish to its slot
                // to keep their order, for as long as a failover takes (seconds).
                (Some(Expect::Publish(_)), Reply::Error(text)) if redis_cluster::is_transient(text) => {}
                (Some(Expect::Publish(Some((_, command)))), Reply::Error(text))
                    if redis_cluster::parse_moved(text).is_some() =>
                {
                    let (slot, host, port) = redis_cluster::parse_moved(text).expect("checked");
                    if let Err(failure) = self.redirect(registry, index, slot, host, port, command) {
                        break Err(failure);
                    }
                }
                (_, Reply::Error(text)) => break Err((text.to_vec(), 0)),
                _ => break Err((b"unexpected reply from Redis".to_vec(), 0)),
            }
        };
        if let Some(node) = self.nodes.get_mut(index) {
            input.drain(..used);
            node.publisher.input = input;
        }
        result
    }

    /// A publish answered `MOVED`: the slot is `host:port`'s now; send it again
    /// there, with the publishes to that slot still waiting for their answer from
    /// `from` (they will be MOVED too). Sent together, in order, they stay ahead of
    /// the publishes that go to the new master directly from now on. A hostname no
    /// known node has: they wait, with the later ones to the slot, for the slot map
    /// (asked of `from`, which knows the new master: it just named it).
    fn redirect(
        &mut self,
        registry: &Registry,
        from: usize,
        slot: u16,
        host: &[u8],
        port: u16,
        command: Vec<u8>,
    ) -> Result<(), Failure> {
        let target = match host_ip(host) {
            HostIp::Hostname => {
                self.nodes.iter().position(|n| n.announced.as_deref() == Some(host) && n.addr.port() == port)
            }
            HostIp::Asked => Some(self.add_node_or_fail(
                registry,
                SocketAddr::new(self.nodes[from].addr.ip(), port),
                None,
            )?),
            HostIp::Ip(ip) => Some(self.add_node_or_fail(registry, SocketAddr::new(ip, port), None)?),
        };
        if let Some(slots) = self.slots.as_mut() {
            slots[slot as usize] = target.map_or(UNSERVED, |t| t as u8);
        }
        let mut commands = vec![command];
        for expect in self.nodes[from].publisher.expect.iter_mut() {
            let Expect::Publish(Some((s, _))) = expect else { continue };
            if *s != slot {
                continue;
            }
            if let Expect::Publish(Some((_, later))) = std::mem::replace(expect, Expect::Forwarded) {
                commands.push(later);
            }
        }
        match target {
            Some(target) => {
                for command in commands {
                    self.send_publish(target, slot, command);
                }
                // Other slots may have moved with it.
                self.ask_slot_map(target);
            }
            None => {
                self.parked.extend(commands.into_iter().map(|command| (slot, command)));
                self.ask_slot_map(from);
            }
        }
        Ok(())
    }

    fn add_node_or_fail(
        &mut self,
        registry: &Registry,
        addr: SocketAddr,
        announced: Option<Vec<u8>>,
    ) -> Result<usize, Failure> {
        self.add_node(registry, addr, announced).map_err(|e| io_failure(&e))
    }

    /// `CLUSTER SLOTS` answered: connects to masters not known yet, and moves
    /// subscriptions whose slot changed hands.
    fn apply_slot_map(
        &mut self,
        registry: &Registry,
        asked: usize,
        reply: &Reply<'_>,
    ) -> Result<(), Failure> {
        self.map_asked = false;
        let ranges = redis_cluster::parse_slots(reply)
            .ok_or_else(|| (b"CLUSTER SLOTS: a reply not shaped as a slot map".to_vec(), 0))?;
        let mut slots = Box::new([UNSERVED; SLOTS]);
        let asked_ip = self.nodes[asked].addr.ip();
        for range in &ranges {
            let (ip, announced) =
                node_address(range.host, range.port, range.ip, asked_ip).map_err(|text| (text, 0))?;
            let index = self.add_node_or_fail(
                registry,
                SocketAddr::new(ip, range.port),
                announced.map(<[u8]>::to_vec),
            )?;
            slots[range.first as usize..=range.last as usize].fill(index as u8);
        }
        // A node that joined lately, or was just given a slot, may not know every
        // owner yet (gossip tells it within a second) and leaves them out: those
        // slots keep the owners the link knew (a MOVED corrects any that moved).
        if let Some(known) = self.slots.as_deref() {
            for (slot, owner) in slots.iter_mut().enumerate() {
                if *owner == UNSERVED {
                    *owner = known[slot];
                }
            }
        }
        if slots.contains(&UNSERVED) {
            return Err((b"CLUSTERDOWN: CLUSTER SLOTS leaves slots unserved".to_vec(), 0));
        }
        // Reconnects try these masters after the seeds.
        for node in &self.nodes {
            if !self.candidates.iter().any(|(addr, _)| *addr == node.addr) {
                self.candidates.push((node.addr, node.announced.clone()));
            }
        }
        self.slots = Some(slots);
        self.sync_subscriptions();
        // Publishes that waited for their slot's master, in order.
        for (slot, command) in std::mem::take(&mut self.parked) {
            let node = self.slots.as_ref().expect("just set")[slot as usize] as usize;
            self.send_publish(node, slot, command);
        }
        Ok(())
    }

    /// Drops every connection, tells the worker (once per outage) and schedules a reconnect.
    fn fail(&mut self, registry: &Registry, failure: Failure, node: SocketAddr, events: &mut Vec<LinkEvent>) {
        self.drop_connections(registry);
        if self.up || self.backoff == FIRST_BACKOFF {
            events.push(LinkEvent::Down { reason: failure.0, errno: failure.1, node });
        }
        self.up = false;
        self.retry_at = Some(Instant::now() + self.backoff);
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }

    fn drop_connections(&mut self, registry: &Registry) {
        for node in self.nodes.drain(..) {
            for mut conn in [node.sub, node.publisher] {
                let _ = registry.deregister(conn.stream.tcp_mut());
            }
        }
        self.slots = None;
        self.map_asked = false;
        self.subscribed_on.clear();
        self.parked.clear();
        self.resubscribe_at = None;
        self.resubscribe_backoff = FIRST_BACKOFF;
    }

    /// Closes the link for good (the server stops).
    pub fn close(&mut self, registry: &Registry) {
        self.drop_connections(registry);
        self.retry_at = None;
        self.up = false;
    }
}

/// What a cluster's endpoint text is.
enum HostIp {
    /// Empty (unknown endpoint) or `?` (no hostname where one is preferred): the node asked, at the port given.
    Asked,
    Ip(IpAddr),
    Hostname,
}

fn host_ip(host: &[u8]) -> HostIp {
    if host.is_empty() || host == b"?" {
        return HostIp::Asked;
    }
    match std::str::from_utf8(host).ok().and_then(|h| h.parse().ok()) {
        Some(ip) => HostIp::Ip(ip),
        None => HostIp::Hostname,
    }
}

/// Where a slot map's master is, without DNS: its IP (the endpoint, the IP listed
/// beside a hostname, or `asked`'s for an unknown endpoint), and the hostname it is
/// announced by, if any; or the error text when a hostname comes without an IP.
fn node_address<'a>(
    host: &'a [u8],
    port: u16,
    listed_ip: Option<&[u8]>,
    asked: IpAddr,
) -> Result<(IpAddr, Option<&'a [u8]>), Vec<u8>> {
    match host_ip(host) {
        HostIp::Asked => Ok((asked, None)),
        HostIp::Ip(ip) => Ok((ip, None)),
        HostIp::Hostname => {
            let ip =
                listed_ip.and_then(|ip| std::str::from_utf8(ip).ok()?.parse().ok()).ok_or_else(|| {
                    let mut text = b"CLUSTER SLOTS gives no IP beside the hostname of master ".to_vec();
                    text.extend_from_slice(host);
                    text.extend_from_slice(format!(":{port} (the link resolves no names)").as_bytes());
                    text
                })?;
            Ok((ip, Some(host)))
        }
    }
}

/// A socket's errno, or the text of an error that has none (a TLS failure: its reason).
fn io_failure(e: &io::Error) -> Failure {
    match e.raw_os_error() {
        Some(errno) => (Vec::new(), errno),
        None => (format!("TLS: {e}").into_bytes(), 0),
    }
}

/// Connects (if the connect finished) and writes what the socket takes.
fn write(conn: &mut RedisConn) -> Result<(), Failure> {
    if !conn.connected {
        match connector::connect_result(conn.stream.tcp()) {
            Ok(()) => conn.connected = true,
            Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(()),
            Err(e) => return Err((Vec::new(), e.raw_os_error().unwrap_or(libc::ECONNREFUSED))),
        }
    }
    // A TLS session sends its handshake first (plaintext waits: WouldBlock).
    if let Err(e) = conn.stream.flush_pending() {
        if e.kind() != io::ErrorKind::WouldBlock {
            return Err(io_failure(&e));
        }
    }
    while !conn.out.is_empty() {
        match conn.stream.write_vectored(&[IoSlice::new(&conn.out)]) {
            Ok(0) => return Err((Vec::new(), libc::EPIPE)),
            Ok(n) => {
                conn.out.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_failure(&e)),
        }
    }
    Ok(())
}

/// Writes what is queued, then reads all there is into `conn.input`.
fn read(conn: &mut RedisConn) -> Result<(), Failure> {
    write(conn)?;
    if !conn.connected {
        return Ok(());
    }
    let mut buf = [0u8; 16 * 1024];
    loop {
        match conn.stream.read(&mut buf) {
            Ok(0) => return Err((Vec::new(), 0)),
            Ok(n) => conn.input.extend_from_slice(&buf[..n]),
            // A TLS handshake that just finished lets queued commands go.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return write(conn),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_failure(&e)),
        }
    }
}

/// `[(s)subscribe | (s)unsubscribe, channel, count]`: (true for a subscribe, the
/// channel). Redis's answer to one channel's (un)subscribe, or, `sunsubscribe`,
/// what it sends when it unsubscribes a shard channel by itself (its slot moved).
fn subscription_reply<'a>(reply: &Reply<'a>) -> Option<(bool, &'a [u8])> {
    let Reply::Array(Some(items)) = reply else { return None };
    let [Reply::Bulk(Some(kind)), Reply::Bulk(Some(channel)), Reply::Integer(_)] = items.as_slice() else {
        return None;
    };
    match *kind {
        b"ssubscribe" | b"subscribe" => Some((true, channel)),
        b"sunsubscribe" | b"unsubscribe" => Some((false, channel)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_addresses_without_dns() {
        let asked: IpAddr = "10.0.0.9".parse().unwrap();
        let v4 = |s: &str| -> IpAddr { s.parse().unwrap() };
        assert_eq!(node_address(b"10.0.0.1", 7000, None, asked), Ok((v4("10.0.0.1"), None)));
        assert_eq!(node_address(b"::1", 7000, None, asked), Ok((v4("::1"), None)));
        assert_eq!(node_address(b"", 7000, Some(b"10.0.0.1"), asked), Ok((asked, None)), "unknown endpoint");
        assert_eq!(node_address(b"?", 7000, Some(b"10.0.0.1"), asked), Ok((asked, None)), "no hostname");
        assert_eq!(
            node_address(b"redis-1.example", 7000, Some(b"10.0.0.1"), asked),
            Ok((v4("10.0.0.1"), Some(&b"redis-1.example"[..])))
        );
        let missing = b"CLUSTER SLOTS gives no IP beside the hostname of master redis-1.example:7000 \
                        (the link resolves no names)";
        assert_eq!(node_address(b"redis-1.example", 7000, None, asked), Err(missing.to_vec()));
        assert_eq!(node_address(b"redis-1.example", 7000, Some(b"not an ip"), asked), Err(missing.to_vec()));
    }
}
