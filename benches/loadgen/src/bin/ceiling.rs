//! ceiling: a minimal pure-Rust WebSocket echo server on tokio, the `rust-tokio` row of the lws
//! benchmarks. No JavaScript and no thread hop: what is left is what any server has to do
//! (read, parse, unmask, check UTF-8, frame, write), so it marks the ceiling for lws.
//!
//!   ceiling PORT [--broadcast | --rooms] [--threads N]
//!   ceiling PORT --push BYTES [--binary]
//!
//! Listens on 127.0.0.1:PORT and prints `ready PORT`. Runtime: tokio current_thread (one
//! thread, like the uWebSockets.js row); `--threads N` with N > 1 uses the multi-thread runtime.
//!
//! RFC 6455 server side, without extensions: the handshake (400 for anything but a GET upgrade
//! with a key and version 13), masked client frames, fragments reassembled and echoed as one
//! message, text checked to be UTF-8 (1007), pings answered, a close echoed and the connection
//! then shut down; protocol errors close with 1002, messages over 16 MiB with 1009.
//! Readiness-driven like an event-loop server: each read is parsed in full and its echoes go
//! out in one write attempt; what the socket does not take waits while reading goes on (up to
//! 4 MiB). An idle connection holds no buffer (it waits for readiness, then reads).
//!
//! With --broadcast (benches/loadgen `broadcast` mode): a text message starting with
//! "broadcast " is framed once and sent, by reference (tokio::sync::broadcast of an Arc), to
//! every open connection, the sender included.
//!
//! With --rooms (the pub/sub workloads, benches/workloads/pubsub.js; the protocol of
//! pubsub-servers/lws.js): every connection is subscribed to "all" when it opens; "broadcast ..."
//! goes to every subscriber of "all", "join RRRRRR" subscribes the sender to room RRRRRR
//! (answered "joined"), "pub RRRRRR ..." goes to every member of room RRRRRR, the sender
//! included each time; anything else is echoed. A publish is framed once and that one buffer
//! is written by the publisher straight to each member's socket (one write each, in connection
//! order); only what a socket does not take is copied into its queue, and its task woken to
//! wait for writability. The sender's own copy joins its other answers to the same read, in
//! order. current_thread only (Rc, not Arc: nothing is shared across threads).
//!
//! With --push BYTES (the client receive workloads' second pusher, beside benches/servers/uws-push.js,
//! with the same messages): every connection, from the first bytes its client sends, is sent
//! numbered messages of BYTES bytes, text (or binary with --binary), as fast as the socket takes
//! them. A chunk of about 64 KiB of frames is built once per connection and only its sequence
//! numbers are rewritten, so one write moves thousands of small messages: the client's reading,
//! not this thread, is then the limit. What the client sends is read and ignored.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::io::ErrorKind;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, Notify};

const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const MAX_MESSAGE: usize = 16 << 20;
const MAX_HEAD: usize = 16384;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const READ_CHUNK: usize = 65536;
/// One read into the per-thread buffer: room for several large frames, so they are parsed in place.
const SCRATCH_READ: usize = 512 * 1024;
/// Unwritten output beyond which a connection stops reading until the client catches up.
const MAX_OUT: usize = 4 << 20;
/// Broadcasts a connection may fall behind by before it is dropped.
const BROADCAST_BACKLOG: usize = 1024;
/// --rooms: queued bytes beyond which a member's deliveries are dropped (uws.js's maxBackpressure).
const MAX_BACKLOG: usize = 64 << 20;
/// --push: bytes of frames per write (at least one message).
const PUSH_CHUNK: usize = 65536;

type Frame = Arc<Vec<u8>>;

/// A server frame (FIN set, unmasked) appended to `out`.
fn push_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    out.push(0x80 | opcode);
    let n = payload.len();
    if n < 126 {
        out.push(n as u8);
    } else if n <= 0xffff {
        out.push(126);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(n as u64).to_be_bytes());
    }
    out.extend_from_slice(payload);
}

fn unmask(data: &mut [u8], mask: [u8; 4]) {
    // Eight bytes at a time; the mask repeats every 4, so a doubled mask lines up with any
    // 8-byte chunk that starts at a multiple of 4.
    let m = u32::from_ne_bytes(mask) as u64;
    let m8 = m | (m << 32);
    let mut chunks = data.chunks_exact_mut(8);
    for c in &mut chunks {
        let v = u64::from_ne_bytes(c.try_into().unwrap()) ^ m8;
        c.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= mask[i & 3];
    }
}

/// What the connection does after a batch of input.
enum Next {
    /// Go on; `usize` more bytes complete the frame in progress (0: unknown or none).
    More(usize),
    /// A close frame is in the output: write it and shut the connection down.
    Close,
}

/// What a mode does with a text message before it would be echoed.
trait Commands {
    /// Handles `data` (answers appended to `out`); false: not a command, so it is echoed.
    fn text(&mut self, data: &[u8], out: &mut Vec<u8>) -> bool;
}

/// Echo (None) or --broadcast.
impl Commands for Option<broadcast::Sender<Frame>> {
    fn text(&mut self, data: &[u8], _out: &mut Vec<u8>) -> bool {
        let Some(tx) = self.as_ref().filter(|_| data.starts_with(b"broadcast ")) else { return false };
        let mut f = Vec::with_capacity(data.len() + 10);
        push_frame(&mut f, 0x1, data);
        // Err only when nobody is subscribed, and the sender always is.
        let _ = tx.send(Arc::new(f));
        true
    }
}

/// --rooms (None once the connection is closing: it has left every topic).
impl Commands for Option<Member> {
    fn text(&mut self, data: &[u8], out: &mut Vec<u8>) -> bool {
        self.as_mut().is_some_and(|m| m.command(data, out))
    }
}

/// Per-connection protocol state (the buffers live in `serve`).
struct Conn<C> {
    /// Opcode and data of a fragmented message in progress (opcode 0: none).
    frag_op: u8,
    frag: Vec<u8>,
    commands: C,
}

impl<C: Commands> Conn<C> {
    /// Handles every complete frame at the start of `buf` (unmasking in place), appending the
    /// answers to `out`. Returns how many bytes it used.
    fn process(&mut self, buf: &mut [u8], out: &mut Vec<u8>) -> (usize, Next) {
        let mut pos = 0;
        let next = loop {
            let b = &buf[pos..];
            if b.len() < 2 {
                break Next::More(0);
            }
            let (fin, rsv, op, masked) = (b[0] & 0x80 != 0, b[0] & 0x70, b[0] & 0x0f, b[1] & 0x80 != 0);
            if rsv != 0 || !masked {
                break close(out, 1002);
            }
            let (hl, len) = match b[1] & 0x7f {
                126 if b.len() >= 4 => (4, u16::from_be_bytes([b[2], b[3]]) as usize),
                127 if b.len() >= 10 => {
                    (10, u64::from_be_bytes(b[2..10].try_into().unwrap()).min(u64::MAX >> 1) as usize)
                }
                126 | 127 => break Next::More(0),
                n => (2, n as usize),
            };
            if len > MAX_MESSAGE {
                break close(out, 1009);
            }
            if b.len() < hl + 4 + len {
                break Next::More(hl + 4 + len - b.len());
            }
            let mask = [b[hl], b[hl + 1], b[hl + 2], b[hl + 3]];
            let start = pos + hl + 4;
            pos = start + len;
            let payload = &mut buf[start..pos];
            unmask(payload, mask);
            if let Next::Close = self.frame(fin, op, payload, out) {
                break Next::Close;
            }
        };
        (pos, next)
    }

    fn frame(&mut self, fin: bool, op: u8, payload: &[u8], out: &mut Vec<u8>) -> Next {
        match op {
            0x0 => {
                if self.frag_op == 0 {
                    return close(out, 1002);
                }
                if self.frag.len() + payload.len() > MAX_MESSAGE {
                    return close(out, 1009);
                }
                self.frag.extend_from_slice(payload);
                if fin {
                    let (op, data) = (self.frag_op, std::mem::take(&mut self.frag));
                    self.frag_op = 0;
                    return self.message(op, &data, out);
                }
                Next::More(0)
            }
            0x1 | 0x2 => {
                if self.frag_op != 0 {
                    return close(out, 1002);
                }
                if fin {
                    return self.message(op, payload, out);
                }
                self.frag_op = op;
                self.frag = payload.to_vec();
                Next::More(0)
            }
            0x8..=0xa if !fin || payload.len() > 125 => close(out, 1002),
            0x8 => {
                if payload.len() == 1 || std::str::from_utf8(payload.get(2..).unwrap_or(&[])).is_err() {
                    return close(out, 1002);
                }
                // Echo the status code (if any) and end.
                push_frame(out, 0x8, &payload[..payload.len().min(2)]);
                Next::Close
            }
            0x9 => {
                push_frame(out, 0xa, payload);
                Next::More(0)
            }
            0xa => Next::More(0),
            _ => close(out, 1002),
        }
    }

    fn message(&mut self, op: u8, data: &[u8], out: &mut Vec<u8>) -> Next {
        if op == 0x1 && std::str::from_utf8(data).is_err() {
            return close(out, 1007);
        }
        if op == 0x1 && self.commands.text(data, out) {
            return Next::More(0);
        }
        push_frame(out, op, data);
        Next::More(0)
    }
}

fn close(out: &mut Vec<u8>, code: u16) -> Next {
    push_frame(out, 0x8, &code.to_be_bytes());
    Next::Close
}

/// Reads the upgrade request and answers it. Returns any bytes that followed the request.
async fn handshake(s: &mut TcpStream) -> Result<Vec<u8>, ()> {
    let mut buf = Vec::with_capacity(1024);
    let end = loop {
        if buf.len() >= MAX_HEAD {
            return Err(());
        }
        buf.reserve(1024);
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, s.read_buf(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => return Err(()),
        }
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| ())?;
    let mut lines = head.split("\r\n");
    let get = lines.next().is_some_and(|l| l.starts_with("GET "));
    let (mut key, mut upgrade, mut v13) = (None, false, false);
    for l in lines {
        if let Some((name, val)) = l.split_once(':') {
            let (name, val) = (name.trim(), val.trim());
            if name.eq_ignore_ascii_case("sec-websocket-key") {
                key = Some(val);
            } else if name.eq_ignore_ascii_case("upgrade") {
                upgrade = val.eq_ignore_ascii_case("websocket");
            } else if name.eq_ignore_ascii_case("sec-websocket-version") {
                v13 = val == "13";
            }
        }
    }
    let Some(key) = key.filter(|_| get && upgrade && v13) else {
        let _ =
            s.write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").await;
        return Err(());
    };
    let mut h = sha1_smol::Sha1::new();
    h.update(key.as_bytes());
    h.update(GUID.as_bytes());
    let accept = base64::engine::general_purpose::STANDARD.encode(h.digest().bytes());
    let resp = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    s.write_all(resp.as_bytes()).await.map_err(|_| ())?;
    Ok(buf.split_off(end))
}

thread_local! {
    /// Reads land here and answers are built here; only what a connection cannot use or send at
    /// once is copied into its own buffers (so idle connections hold none). Borrowed only
    /// between awaits.
    static SCRATCH: RefCell<(Vec<u8>, Vec<u8>)> = RefCell::new((vec![0; SCRATCH_READ], Vec::with_capacity(READ_CHUNK)));
}

/// One socket's buffers: unparsed input (a partial frame) and output the socket has not taken.
#[derive(Default)]
struct Bufs {
    rbuf: Vec<u8>,
    /// Bytes of the frame in progress still missing (0: unknown).
    need: usize,
    out: Vec<u8>,
    opos: usize,
}

impl Bufs {
    fn pending_out(&self) -> usize {
        self.out.len() - self.opos
    }

    /// Writes `data` now if nothing is queued before it; queues what the socket does not take.
    fn send(&mut self, s: &TcpStream, data: &[u8]) -> std::io::Result<()> {
        let mut sent = 0;
        if self.pending_out() == 0 {
            sent = match s.try_write(data) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => 0,
                Err(e) => return Err(e),
            };
        }
        self.out.extend_from_slice(&data[sent..]);
        Ok(())
    }

    fn flush(&mut self, s: &TcpStream) -> std::io::Result<()> {
        while self.pending_out() > 0 {
            match s.try_write(&self.out[self.opos..]) {
                Ok(n) => self.opos += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        if self.pending_out() == 0 {
            self.out = Vec::new();
            self.opos = 0;
        }
        Ok(())
    }

    /// Reads once and handles the complete frames; None when the client has closed.
    fn read(&mut self, s: &TcpStream, c: &mut Conn<impl Commands>) -> std::io::Result<Option<Next>> {
        SCRATCH.with(|sc| {
            let (input, answers) = &mut *sc.borrow_mut();
            answers.clear();
            let next = if self.rbuf.is_empty() {
                // Usual case: whole frames, parsed in the scratch buffer; keep only a partial one.
                let n = match s.try_read(input) {
                    Ok(0) => return Ok(None),
                    Ok(n) => n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(Some(Next::More(0))),
                    Err(e) => return Err(e),
                };
                let (used, next) = c.process(&mut input[..n], answers);
                if used < n {
                    if let Next::More(need) = next {
                        self.rbuf.reserve_exact(n - used + need);
                        self.need = need;
                    }
                    self.rbuf.extend_from_slice(&input[used..n]);
                }
                next
            } else {
                // A frame is in progress: read straight after it, room for all of it if known.
                self.rbuf.reserve(self.need.clamp(4096, MAX_MESSAGE));
                match s.try_read_buf(&mut self.rbuf) {
                    Ok(0) => return Ok(None),
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(Some(Next::More(0))),
                    Err(e) => return Err(e),
                }
                let (used, next) = c.process(&mut self.rbuf, answers);
                self.rbuf.drain(..used);
                self.need = if let Next::More(need) = next { need } else { 0 };
                if self.rbuf.is_empty() {
                    self.rbuf = Vec::new();
                }
                next
            };
            if !answers.is_empty() {
                self.send(s, answers)?;
            }
            if answers.capacity() > 4 * READ_CHUNK {
                *answers = Vec::with_capacity(READ_CHUNK); // do not keep a huge one
            }
            Ok(Some(next))
        })
    }
}

async fn serve(mut s: TcpStream, bcast: Option<broadcast::Sender<Frame>>) {
    let _ = s.set_nodelay(true);
    let Ok(rest) = handshake(&mut s).await else { return };
    let mut rx = bcast.as_ref().map(|tx| tx.subscribe());
    let mut c = Conn { frag_op: 0, frag: Vec::new(), commands: bcast };
    let mut b = Bufs::default();
    let mut closing = false;
    if !rest.is_empty() {
        // Frames sent right behind the handshake.
        let mut rest = rest;
        let (used, next) = c.process(&mut rest, &mut b.out);
        b.rbuf = rest.split_off(used);
        closing = matches!(next, Next::Close);
    }
    loop {
        if b.flush(&s).is_err() {
            return;
        }
        if closing && b.pending_out() == 0 {
            let _ = s.shutdown().await; // FIN after the close frame; the client then closes too
            return;
        }
        // Reading goes on while output waits (up to MAX_OUT), so client and server can never
        // both be stuck writing to each other.
        let reading = !closing && b.pending_out() <= MAX_OUT;
        let interest = match (reading, b.pending_out() > 0) {
            (true, false) => Interest::READABLE,
            (true, true) => Interest::READABLE | Interest::WRITABLE,
            (false, _) => Interest::WRITABLE,
        };
        // Wait for the socket (or, with --broadcast, for a broadcast to pass on).
        let ready = match rx.as_mut() {
            None => s.ready(interest).await.map(Ok),
            Some(rx) => tokio::select! {
                r = s.ready(interest) => r.map(Ok),
                m = rx.recv() => Ok(Err(m)),
            },
        };
        match ready {
            Err(_) => return,
            Ok(Err(Ok(frame))) => {
                if !closing && b.send(&s, &frame).is_err() {
                    return;
                }
            }
            // Lagged by BROADCAST_BACKLOG broadcasts (or the sender is gone): drop the client.
            Ok(Err(Err(_))) => return,
            Ok(Ok(r)) if reading && r.is_readable() => match b.read(&s, &mut c) {
                Ok(Some(Next::Close)) => closing = true,
                Ok(Some(Next::More(_))) => {}
                Ok(None) | Err(_) => return,
            },
            Ok(Ok(_)) => {} // writable: flushed at the top of the loop
        }
    }
}

/// --rooms: a connection as publishers see it. Its task reads and flushes; publishers write to
/// it directly, or queue in `bufs` and wake the task. Borrowed only between awaits.
struct Peer {
    stream: TcpStream,
    bufs: RefCell<Bufs>,
    /// Output was queued while the task waited without write interest.
    wake: Notify,
}

impl Peer {
    /// Writes a publish's frame now if nothing is queued before it; queues what the socket does
    /// not take. Past MAX_BACKLOG queued bytes the delivery is dropped, as uws.js would.
    fn deliver(&self, frame: &[u8]) {
        let mut b = self.bufs.borrow_mut();
        let queued = b.pending_out();
        if queued > MAX_BACKLOG {
            return;
        }
        // An error is the task's to find on its next read or flush.
        if b.send(&self.stream, frame).is_ok() && queued == 0 && b.pending_out() > 0 {
            self.wake.notify_one();
        }
    }
}

/// --rooms: every topic's subscribers, in connection order (as uWS's topic tree and lws keep them).
type Topics = HashMap<Vec<u8>, BTreeMap<u64, Rc<Peer>>>;

/// --rooms: one connection's place in the topics; leaves them all when dropped.
struct Member {
    id: u64,
    peer: Rc<Peer>,
    topics: Rc<RefCell<Topics>>,
    joined: Vec<Vec<u8>>,
}

impl Member {
    /// Handles a pub/sub command (a text message); false for anything else, which is echoed.
    fn command(&mut self, data: &[u8], out: &mut Vec<u8>) -> bool {
        // Topic names as lws.js cuts them: the 6 bytes after the command (fewer if shorter).
        let name = |from: usize| &data[from.min(data.len())..(from + 6).min(data.len())];
        if data.starts_with(b"pub ") {
            self.publish(name(4), data, out);
        } else if data.starts_with(b"broadcast ") {
            self.publish(b"all", data, out);
        } else if data.starts_with(b"join ") {
            self.subscribe(name(5));
            push_frame(out, 0x1, b"joined");
        } else {
            return false;
        }
        true
    }

    fn subscribe(&mut self, topic: &[u8]) {
        let mut topics = self.topics.borrow_mut();
        let members = topics.entry(topic.to_vec()).or_default();
        if members.insert(self.id, self.peer.clone()).is_none() {
            self.joined.push(topic.to_vec());
        }
    }

    /// Frames `data` once and delivers it to every subscriber of `topic`; the sender's own copy
    /// goes to `out`, behind its earlier answers.
    fn publish(&self, topic: &[u8], data: &[u8], out: &mut Vec<u8>) {
        let topics = self.topics.borrow();
        let Some(members) = topics.get(topic) else { return };
        let mut frame = Vec::with_capacity(data.len() + 10);
        push_frame(&mut frame, 0x1, data);
        for (&id, peer) in members {
            if id == self.id {
                out.extend_from_slice(&frame);
            } else {
                peer.deliver(&frame);
            }
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let mut topics = self.topics.borrow_mut();
        for topic in self.joined.drain(..) {
            if let Some(members) = topics.get_mut(&topic) {
                members.remove(&self.id);
                if members.is_empty() {
                    topics.remove(&topic);
                }
            }
        }
    }
}

/// --rooms: `serve` with the socket and its output shared with publishers (see Peer).
async fn serve_rooms(mut s: TcpStream, topics: Rc<RefCell<Topics>>, id: u64) {
    let _ = s.set_nodelay(true);
    let Ok(rest) = handshake(&mut s).await else { return };
    let peer = Rc::new(Peer { stream: s, bufs: RefCell::new(Bufs::default()), wake: Notify::new() });
    let mut member = Member { id, peer: peer.clone(), topics, joined: Vec::new() };
    member.subscribe(b"all");
    let mut c = Conn { frag_op: 0, frag: Vec::new(), commands: Some(member) };
    let mut closing = false;
    if !rest.is_empty() {
        // Frames sent right behind the handshake.
        let mut rest = rest;
        let b = &mut *peer.bufs.borrow_mut();
        let (used, next) = c.process(&mut rest, &mut b.out);
        b.rbuf = rest.split_off(used);
        closing = matches!(next, Next::Close);
    }
    loop {
        if closing {
            c.commands = None; // nothing may follow the close frame
        }
        let (reading, interest) = {
            let b = &mut *peer.bufs.borrow_mut();
            if b.flush(&peer.stream).is_err() {
                return;
            }
            if closing && b.pending_out() == 0 {
                break;
            }
            // As in `serve`: reading goes on while output waits (up to MAX_OUT).
            let reading = !closing && b.pending_out() <= MAX_OUT;
            let interest = match (reading, b.pending_out() > 0) {
                (true, false) => Interest::READABLE,
                (true, true) => Interest::READABLE | Interest::WRITABLE,
                (false, _) => Interest::WRITABLE,
            };
            (reading, interest)
        };
        // Wait for the socket, or for a publisher that queued output (then look again).
        let ready = tokio::select! {
            biased;
            r = peer.stream.ready(interest) => r,
            _ = peer.wake.notified() => continue,
        };
        match ready {
            Err(_) => return,
            Ok(r) if reading && r.is_readable() => match peer.bufs.borrow_mut().read(&peer.stream, &mut c) {
                Ok(Some(Next::Close)) => closing = true,
                Ok(Some(Next::More(_))) => {}
                Ok(None) | Err(_) => return,
            },
            Ok(_) => {} // writable: flushed at the top of the loop
        }
    }
    drop(c); // out of the topics, so this is the last reference
    if let Ok(peer) = Rc::try_unwrap(peer) {
        let mut s = peer.stream;
        let _ = s.shutdown().await; // FIN after the close frame; the client then closes too
    }
}

/// --push: what every connection is sent.
#[derive(Clone, Copy, PartialEq)]
struct Push {
    size: usize,
    binary: bool,
}

impl Push {
    /// Frames of messages numbered from 0 (numbered again by `number`), about PUSH_CHUNK bytes.
    fn chunk(&self) -> (Vec<u8>, usize) {
        // uws-push.js's messages: text is 'x' after the number; binary is 0xa5 with 0x5a last.
        let mut payload = vec![if self.binary { 0xa5 } else { b'x' }; self.size];
        if self.binary {
            payload[self.size - 1] = 0x5a;
        }
        let mut chunk = Vec::new();
        push_frame(&mut chunk, if self.binary { 0x2 } else { 0x1 }, &payload);
        let frame_len = chunk.len();
        let frames = (PUSH_CHUNK / frame_len).max(1);
        chunk.reserve(frame_len * (frames - 1));
        for _ in 1..frames {
            chunk.extend_from_within(..frame_len);
        }
        (chunk, frame_len)
    }

    /// Writes sequence numbers `seq`, `seq + 1`, ... into the chunk's messages; returns the next.
    fn number(&self, chunk: &mut [u8], frame_len: usize, mut seq: u32) -> u32 {
        let head = frame_len - self.size;
        for frame in chunk.chunks_exact_mut(frame_len) {
            let p = &mut frame[head..head + 4];
            if self.binary {
                p.copy_from_slice(&seq.to_le_bytes());
            } else {
                // 6 bits a byte, low bits first, as ASCII (0x40 + bits): valid UTF-8.
                for (i, b) in p.iter_mut().enumerate() {
                    *b = 0x40 | ((seq >> (6 * i)) & 63) as u8;
                }
            }
            seq = seq.wrapping_add(1);
        }
        seq
    }
}

/// --push: waits for the client's first bytes, then sends numbered messages until it goes away.
async fn serve_push(mut s: TcpStream, push: Push) {
    let _ = s.set_nodelay(true);
    let Ok(rest) = handshake(&mut s).await else { return };
    let mut input = [0u8; 4096];
    if rest.is_empty() && !matches!(s.read(&mut input).await, Ok(n) if n > 0) {
        return;
    }
    let (mut chunk, frame_len) = push.chunk();
    let mut seq = 0u32;
    loop {
        seq = push.number(&mut chunk, frame_len, seq);
        let mut written = 0;
        while written < chunk.len() {
            let Ok(ready) = s.ready(Interest::READABLE | Interest::WRITABLE).await else { return };
            if ready.is_readable() {
                match s.try_read(&mut input) {
                    Ok(0) => return,
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(_) => return,
                }
            }
            if ready.is_writable() {
                match s.try_write(&chunk[written..]) {
                    Ok(n) => written += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(_) => return,
                }
            }
        }
    }
}

/// What the server does with a connection's messages.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Echo,
    Broadcast,
    Rooms,
    Push(Push),
}

async fn run(port: u16, mode: Mode) {
    let listener = match TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("ceiling: cannot listen on {port}: {e}");
            std::process::exit(1);
        }
    };
    println!("ready {port}");
    let bcast = (mode == Mode::Broadcast).then(|| broadcast::channel::<Frame>(BROADCAST_BACKLOG).0);
    let topics = Rc::new(RefCell::new(Topics::new()));
    let mut next_id = 0u64;
    loop {
        match listener.accept().await {
            Ok((s, _)) => match mode {
                Mode::Push(push) => drop(tokio::spawn(serve_push(s, push))),
                Mode::Rooms => {
                    next_id += 1;
                    drop(tokio::task::spawn_local(serve_rooms(s, topics.clone(), next_id)));
                }
                Mode::Echo | Mode::Broadcast => drop(tokio::spawn(serve(s, bcast.clone()))),
            },
            Err(e) => {
                // e.g. EMFILE: back off briefly rather than spin.
                eprintln!("ceiling: accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut port: Option<u16> = None;
    let mut with_broadcast = false;
    let mut rooms = false;
    let mut threads = 1usize;
    let mut push_size: Option<usize> = None;
    let mut binary = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--broadcast" => with_broadcast = true,
            "--rooms" => rooms = true,
            "--push" => {
                push_size = Some(
                    args.next()
                        .and_then(|v| v.parse().ok())
                        .filter(|&n| (4..=MAX_MESSAGE).contains(&n))
                        .unwrap_or_else(|| usage()),
                )
            }
            "--binary" => binary = true,
            "--threads" => {
                threads = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&n| (1..=64).contains(&n))
                    .unwrap_or_else(|| usage())
            }
            p => port = Some(p.parse().unwrap_or_else(|_| usage())),
        }
    }
    let port = port.unwrap_or(9001);
    if binary && push_size.is_none() {
        usage();
    }
    let mode = match (push_size, with_broadcast, rooms) {
        (Some(size), false, false) => Mode::Push(Push { size, binary }),
        (None, true, false) => Mode::Broadcast,
        (None, false, true) if threads == 1 => Mode::Rooms,
        (None, false, false) => Mode::Echo,
        _ => usage(),
    };
    let rt = if threads == 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build()
    }
    .expect("tokio runtime");
    // A LocalSet for --rooms' tasks (spawn_local); the other modes spawn on the runtime.
    rt.block_on(tokio::task::LocalSet::new().run_until(run(port, mode)));
}

fn usage() -> ! {
    eprintln!("usage: ceiling PORT [--broadcast | --rooms (one thread)] [--threads N] | ceiling PORT --push BYTES(>=4) [--binary]");
    std::process::exit(2);
}
