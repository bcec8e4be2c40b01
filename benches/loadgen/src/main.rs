//! loadgen: a single-threaded WebSocket load generator for the lws benchmarks.
//!
//! Every connection does a real RFC 6455 handshake (Sec-WebSocket-Accept is
//! checked), sends pre-built masked frames, and checks every echo byte for byte.
//! Every phase is bounded in time; the process stops by itself.
//!
//!   loadgen echo --conns N --size B --inflight K --secs S [--binary] [--port P] [--host H]
//!       -> prints `start` and `stop` lines around the measured window, then one JSON line
//!          {messages, secs, msgs_per_sec, p50_us, p99_us, errors, ...}
//!   loadgen handshakes --total N --concurrency C [--port P]
//!       -> {handshakes, secs, per_sec, errors}
//!   loadgen idle --conns N --port P
//!       -> {"ready":N}, then holds the connections until stdin closes.
//!   loadgen broadcast --conns N --count K --size B --concurrency C --secs S [--port P]
//!       -> opens N receivers and one control connection, then asks the server K times, one
//!          after the other, to broadcast a B-byte text message to every open connection;
//!          prints `start` and `stop`, then {deliveries, secs, per_sec, p50_ms, max_ms, errors, ...}
//!   loadgen rooms --conns N --room-size R --size B --concurrency C --secs S [--port P]
//!       -> pub/sub rooms with publishes from random members (see rooms.rs)
//!   loadgen recv --conns N --size B [--binary] --secs S [--port P]
//!       -> the client receive workloads' ceiling: reads what a push server sends (see recv.rs)
//!
//! echo, handshakes and idle also take (src/session.rs): `--tls-ca FILE` (wss://, trusting that
//! CA), `--deflate` (negotiate permessage-deflate; compress and inflate every message), `--json`
//! (varied JSON-like text messages of --size bytes), and echo `--rate R` (open loop: R messages/s
//! offered over all connections whatever the answers; p50/p99/p99.9 in a bounded histogram).

mod recv;
mod rooms;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep_until, timeout, timeout_at};

mod deflate;
mod histogram;
mod messages;
mod session;
mod tls;

const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);

type Res<T> = Result<T, String>;

// ---------------------------------------------------------------- arguments

struct Args {
    cmd: String,
    host: String,
    port: u16,
    conns: usize,
    size: usize,
    inflight: usize,
    secs: f64,
    binary: bool,
    total: usize,
    concurrency: usize,
    count: usize,
    room_size: usize,
    deflate: bool,
    json: bool,
    tls_ca: Option<String>,
    rate: f64,
}

fn parse_args() -> Res<Args> {
    let mut it = std::env::args().skip(1);
    let cmd = it.next().ok_or("usage: loadgen echo|handshakes|idle|broadcast|rooms|recv [options]")?;
    let mut a = Args {
        cmd,
        host: "127.0.0.1".into(),
        port: 9001,
        conns: 100,
        size: 16,
        inflight: 1,
        secs: 8.0,
        binary: false,
        total: 5000,
        concurrency: 100,
        count: 20,
        room_size: 10,
        deflate: false,
        json: false,
        tls_ca: None,
        rate: 0.0,
    };
    while let Some(k) = it.next() {
        if k == "--binary" || k == "--deflate" || k == "--json" {
            match k.as_str() {
                "--binary" => a.binary = true,
                "--deflate" => a.deflate = true,
                _ => a.json = true,
            }
            continue;
        }
        let v = it.next().ok_or_else(|| format!("missing value for {k}"))?;
        let bad = |_| format!("bad value for {k}: {v}");
        match k.as_str() {
            "--host" => a.host = v.clone(),
            "--port" => a.port = v.parse().map_err(|e: std::num::ParseIntError| bad(e.to_string()))?,
            "--conns" => a.conns = v.parse().map_err(|e: std::num::ParseIntError| bad(e.to_string()))?,
            "--size" => a.size = v.parse().map_err(|e: std::num::ParseIntError| bad(e.to_string()))?,
            "--inflight" => a.inflight = v.parse().map_err(|e: std::num::ParseIntError| bad(e.to_string()))?,
            "--total" => a.total = v.parse().map_err(|e: std::num::ParseIntError| bad(e.to_string()))?,
            "--concurrency" => a.concurrency = v.parse().map_err(|e: std::num::ParseIntError| bad(e.to_string()))?,
            "--room-size" => a.room_size = v.parse().map_err(|e: std::num::ParseIntError| bad(e.to_string()))?,
            "--count" => a.count = v.parse().map_err(|e: std::num::ParseIntError| bad(e.to_string()))?,
            "--secs" => a.secs = v.parse().map_err(|e: std::num::ParseFloatError| bad(e.to_string()))?,
            "--rate" => a.rate = v.parse().map_err(|e: std::num::ParseFloatError| bad(e.to_string()))?,
            "--tls-ca" => a.tls_ca = Some(v.clone()),
            _ => return Err(format!("unknown option {k}")),
        }
    }
    if a.conns == 0 || a.inflight == 0 || a.concurrency == 0 || !(a.secs > 0.0) || a.secs > 3600.0 {
        return Err("conns, inflight, concurrency and secs must be positive (secs <= 3600)".into());
    }
    if !(a.rate >= 0.0 && a.rate <= 10_000_000.0) || (a.rate > 0.0 && a.cmd != "echo") {
        return Err("--rate is for echo only, 0 < rate <= 10000000".into());
    }
    if a.cmd == "broadcast" && (a.count == 0 || a.count > 100_000 || a.size < BROADCAST_HEAD || a.size > (1 << 20)) {
        return Err(format!("broadcast needs 1 <= count <= 100000 and {BROADCAST_HEAD} <= size <= 1048576"));
    }
    if a.cmd == "rooms" && (a.room_size == 0 || a.size < rooms::ROOMS_HEAD || a.size > (1 << 20)) {
        return Err(format!("rooms needs room-size >= 1 and {} <= size <= 1048576", rooms::ROOMS_HEAD));
    }
    Ok(a)
}

// ---------------------------------------------------------------- helpers

struct Rng(u64);
impl Rng {
    fn new() -> Rng {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
        Rng(t ^ ((std::process::id() as u64) << 32) | 1)
    }
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
}

/// A client frame (FIN set, masked).
fn masked_frame(opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut f = Vec::with_capacity(payload.len() + 14);
    f.push(0x80 | opcode);
    let n = payload.len();
    if n < 126 {
        f.push(0x80 | n as u8);
    } else if n <= 0xffff {
        f.push(0x80 | 126);
        f.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        f.push(0x80 | 127);
        f.extend_from_slice(&(n as u64).to_be_bytes());
    }
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
    f
}

fn close_frame(rng: &mut Rng) -> Vec<u8> {
    let m = rng.next().to_le_bytes();
    masked_frame(0x8, &1000u16.to_be_bytes(), [m[0], m[1], m[2], m[3]])
}

/// Parses one server frame header at the start of `buf`.
/// Returns (fin, opcode, header_len, payload_len) or None if incomplete.
fn parse_header(buf: &[u8]) -> Res<Option<(bool, u8, usize, usize)>> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let fin = buf[0] & 0x80 != 0;
    let op = buf[0] & 0x0f;
    if buf[1] & 0x80 != 0 {
        return Err("server frame is masked".into());
    }
    let l7 = (buf[1] & 0x7f) as usize;
    let (hl, len) = match l7 {
        126 => {
            if buf.len() < 4 {
                return Ok(None);
            }
            (4, u16::from_be_bytes([buf[2], buf[3]]) as usize)
        }
        127 => {
            if buf.len() < 10 {
                return Ok(None);
            }
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[2..10]);
            (10, u64::from_be_bytes(b) as usize)
        }
        n => (2, n),
    };
    if len > (1 << 30) {
        return Err("server frame too large".into());
    }
    Ok(Some((fin, op, hl, len)))
}

fn accept_for(key: &str) -> String {
    let mut h = sha1_smol::Sha1::new();
    h.update(key.as_bytes());
    h.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.digest().bytes())
}

/// Connects and performs the opening handshake. Returns the stream and any bytes
/// that followed the response header.
async fn connect_ws(addr: SocketAddr, host: &str, rng: &mut Rng) -> Res<(TcpStream, Vec<u8>)> {
    let fut = async {
        let mut s = TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
        s.set_nodelay(true).map_err(|e| e.to_string())?;
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&rng.next().to_le_bytes());
        k[8..].copy_from_slice(&rng.next().to_le_bytes());
        let key = base64::engine::general_purpose::STANDARD.encode(k);
        let req = format!(
            "GET / HTTP/1.1\r\nHost: {host}:{}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n",
            addr.port()
        );
        s.write_all(req.as_bytes()).await.map_err(|e| format!("write handshake: {e}"))?;
        let mut buf = Vec::with_capacity(1024);
        let mut tmp = [0u8; 1024];
        let end = loop {
            let n = s.read(&mut tmp).await.map_err(|e| format!("read handshake: {e}"))?;
            if n == 0 {
                return Err("EOF during handshake".to_string());
            }
            buf.extend_from_slice(&tmp[..n]);
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            if buf.len() > 16384 {
                return Err("handshake response too long".to_string());
            }
        };
        let head = std::str::from_utf8(&buf[..end]).map_err(|_| "non-UTF-8 handshake response")?;
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap_or("");
        if !status.starts_with("HTTP/1.1 101") {
            return Err(format!("handshake status: {status}"));
        }
        let want = accept_for(&key);
        let mut ok = false;
        for l in lines {
            if let Some((name, val)) = l.split_once(':') {
                if name.trim().eq_ignore_ascii_case("sec-websocket-accept") {
                    ok = val.trim() == want;
                }
            }
        }
        if !ok {
            return Err("missing or wrong Sec-WebSocket-Accept".to_string());
        }
        Ok((s, buf[end..].to_vec()))
    };
    timeout(HANDSHAKE_TIMEOUT, fut).await.map_err(|_| "handshake timeout".to_string())?
}

/// Sends a close frame and waits (bounded) for the server's close frame, then for EOF.
async fn close_ws<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, mut buf: Vec<u8>, rng: &mut Rng) -> Res<()> {
    let fut = async {
        s.write_all(&close_frame(rng)).await.map_err(|e| format!("write close: {e}"))?;
        s.flush().await.map_err(|e| format!("write close: {e}"))?; // TLS: out of rustls' buffer
        let mut tmp = vec![0u8; 65536];
        let mut got_close = false;
        loop {
            // Skip any data frames still in the buffer; look for the close frame.
            while !got_close {
                match parse_header(&buf)? {
                    Some((_, op, hl, len)) if buf.len() >= hl + len => {
                        buf.drain(..hl + len);
                        if op == 0x8 {
                            got_close = true;
                        }
                    }
                    _ => break,
                }
            }
            let n = match s.read(&mut tmp).await {
                Ok(n) => n,
                // TLS: a server may end TCP without close_notify; after the close frame nothing is lost.
                Err(e) if got_close && e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
                Err(e) => return Err(format!("read close: {e}")),
            };
            if n == 0 {
                return if got_close { Ok(()) } else { Err("EOF before close frame".to_string()) };
            }
            if got_close {
                continue; // wait for EOF, ignore anything else
            }
            buf.extend_from_slice(&tmp[..n]);
        }
    };
    match timeout(CLOSE_TIMEOUT, fut).await {
        Ok(r) => r,
        Err(_) => Err("close timeout".to_string()),
    }
}

fn resolve(a: &Args) -> Res<SocketAddr> {
    format!("{}:{}", a.host, a.port).parse().map_err(|e| format!("address {}:{}: {e}", a.host, a.port))
}

fn pct(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn emit(line: &str) {
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{line}");
    let _ = o.flush();
}

// ---------------------------------------------------------------- echo

struct Shared {
    errors: Cell<u64>,
    first_error: RefCell<Option<String>>,
    messages: Cell<u64>,
    sent: Cell<u64>,
    lat: RefCell<Vec<u32>>,
}

impl Shared {
    fn err(&self, e: String) {
        self.errors.set(self.errors.get() + 1);
        let mut f = self.first_error.borrow_mut();
        if f.is_none() {
            *f = Some(e);
        }
    }
}

async fn echo_conn(
    mut s: TcpStream,
    mut buf: Vec<u8>,
    frames: Rc<Vec<u8>>,
    flen: usize,
    payload: Rc<Vec<u8>>,
    opcode: u8,
    k: usize,
    deadline: tokio::time::Instant,
    sh: Rc<Shared>,
    mut rng: Rng,
) {
    let r: Res<()> = async {
        let mut sent_at: VecDeque<Instant> = VecDeque::with_capacity(k);
        let mut lat: Vec<u32> = Vec::with_capacity(1 << 16);
        let mut count: u64 = 0;
        let mut sent: u64 = 0;
        let now = Instant::now();
        for _ in 0..k {
            sent_at.push_back(now);
        }
        s.write_all(&frames[..k * flen]).await.map_err(|e| format!("write: {e}"))?;
        sent += k as u64;
        let chunk = (flen * k).clamp(16384, 1 << 20);
        let drain_deadline = deadline + DRAIN_TIMEOUT;
        let mut pos = 0usize; // parse position in buf
        loop {
            // parse complete frames
            let mut done = 0usize;
            let now = Instant::now();
            loop {
                let Some((fin, op, hl, len)) = parse_header(&buf[pos..])? else { break };
                if buf.len() - pos < hl + len {
                    break;
                }
                if !fin || op != opcode {
                    return Err(format!("unexpected frame: fin={fin} opcode={op}"));
                }
                if &buf[pos + hl..pos + hl + len] != &payload[..] {
                    return Err(format!("echo mismatch (len {len}, expected {})", payload.len()));
                }
                pos += hl + len;
                let t = sent_at.pop_front().ok_or("echo without a request")?;
                if now < deadline.into_std() {
                    count += 1;
                    lat.push(now.duration_since(t).as_micros().min(u32::MAX as u128) as u32);
                }
                done += 1;
            }
            if pos > 0 && pos == buf.len() {
                buf.clear();
                pos = 0;
            } else if pos > (1 << 20) {
                buf.drain(..pos);
                pos = 0;
            }
            if done > 0 && now < deadline.into_std() {
                for _ in 0..done {
                    sent_at.push_back(now);
                }
                s.write_all(&frames[..done * flen]).await.map_err(|e| format!("write: {e}"))?;
                sent += done as u64;
            }
            if sent_at.is_empty() {
                break; // past the deadline and everything answered
            }
            let old = buf.len();
            buf.resize(old + chunk, 0);
            let n = match timeout_at(drain_deadline, s.read(&mut buf[old..])).await {
                Ok(r) => r.map_err(|e| format!("read: {e}"))?,
                Err(_) => {
                    buf.truncate(old);
                    return Err(format!("{} echoes unanswered at the drain timeout", sent_at.len()));
                }
            };
            buf.truncate(old + n);
            if n == 0 {
                return Err("server closed the connection".into());
            }
        }
        sh.messages.set(sh.messages.get() + count);
        sh.sent.set(sh.sent.get() + sent);
        sh.lat.borrow_mut().extend_from_slice(&lat);
        buf.drain(..pos);
        close_ws(&mut s, buf, &mut rng).await
    }
    .await;
    if let Err(e) = r {
        sh.err(e);
    }
}

async fn run_echo(a: &Args) -> Res<String> {
    let addr = resolve(a)?;
    let mut rng = Rng::new();
    let opcode = if a.binary { 0x2 } else { 0x1 };
    let payload: Vec<u8> = if a.binary {
        (0..a.size).map(|_| rng.next() as u8).collect()
    } else {
        (0..a.size).map(|i| b'a' + (i % 26) as u8).collect()
    };
    let m = rng.next().to_le_bytes();
    let one = masked_frame(opcode, &payload, [m[0], m[1], m[2], m[3]]);
    let flen = one.len();
    let mut frames = Vec::with_capacity(flen * a.inflight);
    for _ in 0..a.inflight {
        frames.extend_from_slice(&one);
    }
    let frames = Rc::new(frames);
    let payload = Rc::new(payload);

    // Open every connection first (at most 200 handshakes at a time).
    let conns: Rc<RefCell<Vec<(TcpStream, Vec<u8>)>>> = Rc::new(RefCell::new(Vec::new()));
    let sh = new_shared();
    let next = Rc::new(Cell::new(0usize));
    let mut hs = Vec::new();
    for _ in 0..a.conns.min(200) {
        let (conns, next, sh, host) = (conns.clone(), next.clone(), sh.clone(), a.host.clone());
        let n = a.conns;
        let mut r = Rng(rng.next() | 1);
        hs.push(tokio::task::spawn_local(async move {
            while next.get() < n {
                next.set(next.get() + 1);
                match connect_ws(addr, &host, &mut r).await {
                    Ok(c) => conns.borrow_mut().push(c),
                    Err(e) => sh.err(e),
                }
            }
        }));
    }
    for h in hs {
        h.await.map_err(|e| e.to_string())?;
    }
    let conns = std::mem::take(&mut *conns.borrow_mut());
    if conns.is_empty() {
        return Err(format!("no connection opened: {}", sh.first_error.borrow().clone().unwrap_or_default()));
    }
    let nconns = conns.len();

    let t0 = tokio::time::Instant::now();
    let deadline = t0 + Duration::from_secs_f64(a.secs);
    emit("start");
    let mut tasks = Vec::new();
    for (s, buf) in conns {
        tasks.push(tokio::task::spawn_local(echo_conn(
            s,
            buf,
            frames.clone(),
            flen,
            payload.clone(),
            opcode,
            a.inflight,
            deadline,
            sh.clone(),
            Rng(rng.next() | 1),
        )));
    }
    sleep_until(deadline).await;
    emit("stop");
    let secs = t0.elapsed().as_secs_f64().min(a.secs);
    for t in tasks {
        t.await.map_err(|e| e.to_string())?;
    }
    let mut lat = std::mem::take(&mut *sh.lat.borrow_mut());
    lat.sort_unstable();
    let msgs = sh.messages.get();
    let fe = sh.first_error.borrow().clone().map(|e| format!(",\"first_error\":{:?}", e)).unwrap_or_default();
    Ok(format!(
        "{{\"messages\":{msgs},\"secs\":{secs:.3},\"msgs_per_sec\":{:.1},\"p50_us\":{},\"p99_us\":{},\"errors\":{},\
         \"conns\":{nconns},\"size\":{},\"inflight\":{},\"binary\":{},\"sent\":{}{fe}}}",
        msgs as f64 / secs,
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        sh.errors.get(),
        a.size,
        a.inflight,
        a.binary,
        sh.sent.get()
    ))
}

// ---------------------------------------------------------------- handshakes

async fn run_handshakes(a: &Args) -> Res<String> {
    let addr = resolve(a)?;
    let mut rng = Rng::new();
    let next = Rc::new(Cell::new(0usize));
    let ok = Rc::new(Cell::new(0u64));
    let sh = new_shared();
    // Bounded in time as well as in count.
    let limit = tokio::time::Instant::now() + Duration::from_secs(300);
    let t0 = Instant::now();
    emit("start");
    let mut tasks = Vec::new();
    for _ in 0..a.concurrency.min(a.total) {
        let (next, ok, sh, host) = (next.clone(), ok.clone(), sh.clone(), a.host.clone());
        let total = a.total;
        let mut r = Rng(rng.next() | 1);
        tasks.push(tokio::task::spawn_local(async move {
            while next.get() < total && tokio::time::Instant::now() < limit {
                next.set(next.get() + 1);
                let res = async {
                    let (mut s, buf) = connect_ws(addr, &host, &mut r).await?;
                    close_ws(&mut s, buf, &mut r).await
                }
                .await;
                match res {
                    Ok(()) => ok.set(ok.get() + 1),
                    Err(e) => sh.err(e),
                }
            }
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())?;
    }
    let secs = t0.elapsed().as_secs_f64();
    emit("stop");
    let unstarted = a.total - next.get();
    let fe = sh.first_error.borrow().clone().map(|e| format!(",\"first_error\":{:?}", e)).unwrap_or_default();
    Ok(format!(
        "{{\"handshakes\":{},\"secs\":{secs:.3},\"per_sec\":{:.1},\"errors\":{}{fe}}}",
        ok.get(),
        ok.get() as f64 / secs,
        sh.errors.get() + unstarted as u64
    ))
}

// ---------------------------------------------------------------- idle

/// Opens a connection and checks that one text message is echoed: once the echo is back, the
/// server's application code knows the connection (what broadcast relies on).
async fn connect_echoed(addr: SocketAddr, host: &str, rng: &mut Rng, frame: &[u8], payload: &[u8]) -> Res<TcpStream> {
    let (mut s, mut buf) = connect_ws(addr, host, rng).await?;
    s.write_all(frame).await.map_err(|e| format!("write: {e}"))?;
    let mut tmp = [0u8; 1024];
    let fut = async {
        loop {
            if let Some((fin, op, hl, len)) = parse_header(&buf)? {
                if buf.len() >= hl + len {
                    if !fin || op != 1 || buf[hl..hl + len] != payload[..] || buf.len() != hl + len {
                        return Err("bad echo".to_string());
                    }
                    return Ok(());
                }
            }
            let n = s.read(&mut tmp).await.map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("EOF before echo".to_string());
            }
            buf.extend_from_slice(&tmp[..n]);
        }
    };
    timeout(HANDSHAKE_TIMEOUT, fut).await.map_err(|_| "echo timeout".to_string())??;
    Ok(s)
}

/// Opens `n` connections, `concurrency` at a time, each checked by `connect_echoed`.
/// Returns the open ones and how many were never attempted (time limit).
async fn open_echoed(addr: SocketAddr, host: &str, n: usize, concurrency: usize, sh: &Rc<Shared>, rng: &mut Rng) -> Res<(Vec<TcpStream>, usize)> {
    let m = rng.next().to_le_bytes();
    let payload = b"hello, idle".to_vec();
    let frame = Rc::new(masked_frame(0x1, &payload, [m[0], m[1], m[2], m[3]]));
    let payload = Rc::new(payload);
    let conns: Rc<RefCell<Vec<TcpStream>>> = Rc::new(RefCell::new(Vec::new()));
    let next = Rc::new(Cell::new(0usize));
    let limit = tokio::time::Instant::now() + Duration::from_secs(300);
    let mut tasks = Vec::new();
    for _ in 0..n.min(concurrency) {
        let (conns, next, sh, host, frame, payload) =
            (conns.clone(), next.clone(), sh.clone(), host.to_string(), frame.clone(), payload.clone());
        let mut r = Rng(rng.next() | 1);
        tasks.push(tokio::task::spawn_local(async move {
            while next.get() < n && tokio::time::Instant::now() < limit {
                next.set(next.get() + 1);
                match connect_echoed(addr, &host, &mut r, &frame, &payload).await {
                    Ok(s) => conns.borrow_mut().push(s),
                    Err(e) => sh.err(e),
                }
            }
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())?;
    }
    let v = std::mem::take(&mut *conns.borrow_mut());
    Ok((v, n - next.get()))
}

fn new_shared() -> Rc<Shared> {
    Rc::new(Shared {
        errors: Cell::new(0),
        first_error: RefCell::new(None),
        messages: Cell::new(0),
        sent: Cell::new(0),
        lat: RefCell::new(Vec::new()),
    })
}

async fn run_idle(a: &Args) -> Res<(Vec<TcpStream>, u64, Option<String>)> {
    let addr = resolve(a)?;
    let mut rng = Rng::new();
    let sh = new_shared();
    let (v, unstarted) = open_echoed(addr, &a.host, a.conns, 100, &sh, &mut rng).await?;
    let fe = sh.first_error.borrow().clone();
    Ok((v, sh.errors.get() + unstarted as u64, fe))
}

// ---------------------------------------------------------------- broadcast
//
// Protocol (the servers in benches/servers implement it when started with --broadcast): a text
// message that starts with "broadcast " is sent, unchanged and as text, to every open connection,
// the sender included; any other message is echoed as usual. The loadgen asks for one broadcast
// at a time and starts the next only once every connection has received the previous one, so
// each broadcast's time is its full fan-out latency (sequential rather than pipelined: the rate
// is then deliveries / total time, with nothing left in flight when the window closes).

/// Every broadcast payload starts with "broadcast NNNNNN " (17 bytes): the sequence number makes
/// a lost, repeated or reordered delivery a payload mismatch.
const BROADCAST_HEAD: usize = 17;
/// A broadcast not fully delivered within this time is an error (and ends the run).
const BROADCAST_TIMEOUT: Duration = Duration::from_secs(10);

fn broadcast_payload(i: usize, size: usize) -> Vec<u8> {
    let mut p = format!("broadcast {:06} ", i % 1_000_000).into_bytes();
    let mut j = 0;
    while p.len() < size {
        p.push(b'a' + (j % 26) as u8);
        j += 1;
    }
    p
}

struct Fanout {
    /// Deliveries of the current broadcast still missing.
    pending: Cell<usize>,
    delivered: Cell<u64>,
    /// Woken when `pending` reaches 0 or a receiver fails.
    done: tokio::sync::Notify,
}

/// Reads the broadcasts on one connection: the i-th frame must be broadcast i.
async fn receive_broadcasts<R: tokio::io::AsyncRead + Unpin>(
    mut s: R,
    payloads: Rc<Vec<Vec<u8>>>,
    fan: Rc<Fanout>,
    sh: Rc<Shared>,
    until: tokio::time::Instant,
) {
    let r: Res<()> = async {
        let mut buf: Vec<u8> = Vec::with_capacity(256);
        let mut next = 0usize;
        loop {
            let mut pos = 0usize;
            while let Some((fin, op, hl, len)) = parse_header(&buf[pos..])? {
                if buf.len() - pos < hl + len {
                    break;
                }
                if !fin || op != 0x1 {
                    return Err(format!("broadcast {next}: unexpected frame fin={fin} opcode={op}"));
                }
                if next >= payloads.len() || buf[pos + hl..pos + hl + len] != payloads[next][..] {
                    return Err(format!("broadcast {next}: payload mismatch (len {len})"));
                }
                pos += hl + len;
                next += 1;
                fan.delivered.set(fan.delivered.get() + 1);
                fan.pending.set(fan.pending.get() - 1);
                if fan.pending.get() == 0 {
                    fan.done.notify_one();
                }
            }
            buf.drain(..pos);
            if next == payloads.len() {
                // Every broadcast came: the connection stays open until the process ends, so
                // the server's close work falls after the measured window, not inside it.
                return std::future::pending().await;
            }
            buf.reserve(1024);
            let n = match timeout_at(until, s.read_buf(&mut buf)).await {
                Ok(r) => r.map_err(|e| format!("read: {e}"))?,
                Err(_) => return Err(format!("broadcast {next} not received before the time limit")),
            };
            if n == 0 {
                return Err("server closed the connection".into());
            }
        }
    }
    .await;
    if let Err(e) = r {
        sh.err(e);
        fan.done.notify_one();
    }
}

async fn run_broadcast(a: &Args) -> Res<String> {
    let addr = resolve(a)?;
    let mut rng = Rng::new();
    let sh = new_shared();
    // Receivers first, then the control connection: all of them are known to the server (each
    // had one message echoed) before the first broadcast.
    let (mut conns, unstarted) = open_echoed(addr, &a.host, a.conns + 1, a.concurrency, &sh, &mut rng).await?;
    if unstarted > 0 || conns.len() < 2 {
        return Err(format!(
            "opened {} of {} connections: {}",
            conns.len(),
            a.conns + 1,
            sh.first_error.borrow().clone().unwrap_or_default()
        ));
    }
    let failed_to_open = sh.errors.get();
    let control = conns.pop().expect("at least two connections");
    let receivers = conns.len();
    let total = receivers + 1; // the control connection gets every broadcast too

    let payloads: Rc<Vec<Vec<u8>>> = Rc::new((0..a.count).map(|i| broadcast_payload(i, a.size)).collect());
    let frames: Vec<Vec<u8>> = payloads
        .iter()
        .map(|p| {
            let m = rng.next().to_le_bytes();
            masked_frame(0x1, p, [m[0], m[1], m[2], m[3]])
        })
        .collect();
    let fan = Rc::new(Fanout { pending: Cell::new(0), delivered: Cell::new(0), done: tokio::sync::Notify::new() });
    let until = tokio::time::Instant::now() + Duration::from_secs_f64(a.secs);
    let (ctl_read, mut ctl_write) = control.into_split();
    for s in conns {
        tokio::task::spawn_local(receive_broadcasts(s, payloads.clone(), fan.clone(), sh.clone(), until));
    }
    tokio::task::spawn_local(receive_broadcasts(ctl_read, payloads.clone(), fan.clone(), sh.clone(), until));

    let mut lat_us: Vec<u32> = Vec::with_capacity(a.count);
    let mut done = 0usize;
    let t0 = Instant::now();
    emit("start");
    for (i, frame) in frames.iter().enumerate() {
        if sh.errors.get() > failed_to_open {
            break;
        }
        fan.pending.set(total);
        let t = Instant::now();
        ctl_write.write_all(frame).await.map_err(|e| format!("write broadcast request: {e}"))?;
        let give_up = until.min(tokio::time::Instant::now() + BROADCAST_TIMEOUT);
        while fan.pending.get() > 0 && sh.errors.get() == failed_to_open {
            if timeout_at(give_up, fan.done.notified()).await.is_err() {
                sh.err(format!("broadcast {i}: {} of {total} deliveries missing at the time limit", fan.pending.get()));
                break;
            }
        }
        if fan.pending.get() > 0 {
            break;
        }
        lat_us.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
        done += 1;
    }
    let secs = t0.elapsed().as_secs_f64();
    emit("stop");
    let deliveries = fan.delivered.get();
    lat_us.sort_unstable();
    let fe = sh.first_error.borrow().clone().map(|e| format!(",\"first_error\":{:?}", e)).unwrap_or_default();
    Ok(format!(
        "{{\"deliveries\":{deliveries},\"broadcasts\":{done},\"receivers\":{receivers},\"connections\":{total},\
         \"size\":{},\"secs\":{secs:.3},\"per_sec\":{:.1},\"p50_ms\":{:.2},\"max_ms\":{:.2},\"errors\":{}{fe}}}",
        a.size,
        deliveries as f64 / secs,
        pct(&lat_us, 0.5) as f64 / 1000.0,
        lat_us.last().copied().unwrap_or(0) as f64 / 1000.0,
        sh.errors.get() + (a.count - done) as u64,
    ))
}

// ---------------------------------------------------------------- main

/// Reports the idle connections, then holds them until stdin closes.
fn hold_idle<T>(conns: Vec<T>, errors: u64, fe: Option<String>) {
    let fe = fe.map(|e| format!(",\"first_error\":{:?}", e)).unwrap_or_default();
    emit(&format!("{{\"ready\":{},\"errors\":{errors}{fe}}}", conns.len()));
    let mut sink = [0u8; 256];
    let mut stdin = std::io::stdin();
    while let Ok(n) = stdin.read(&mut sink) {
        if n == 0 {
            break;
        }
    }
    drop(conns);
}

fn main() {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(2);
        }
    };
    // Hard cap: whatever happens, the process ends.
    let cap = Duration::from_secs_f64(a.secs + 400.0);
    std::thread::spawn(move || {
        std::thread::sleep(cap);
        eprintln!("loadgen: hard time limit reached");
        std::process::exit(3);
    });
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let local = tokio::task::LocalSet::new();
    let out = match a.cmd.as_str() {
        "echo" if session::wanted(&a) => local.block_on(&rt, session::run_echo(&a)),
        "handshakes" if session::wanted(&a) => local.block_on(&rt, session::run_handshakes(&a)),
        "idle" if session::wanted(&a) => match local.block_on(&rt, session::run_idle(&a)) {
            Ok((conns, errors, fe)) => return hold_idle(conns, errors, fe),
            Err(e) => Err(e),
        },
        "echo" => local.block_on(&rt, run_echo(&a)),
        "handshakes" => local.block_on(&rt, run_handshakes(&a)),
        "idle" => match local.block_on(&rt, run_idle(&a)) {
            Ok((conns, errors, fe)) => return hold_idle(conns, errors, fe),
            Err(e) => Err(e),
        },
        "broadcast" => local.block_on(&rt, run_broadcast(&a)),
        "rooms" => local.block_on(&rt, rooms::run(&a)),
        "recv" => local.block_on(&rt, recv::run(&a)),
        c => Err(format!("unknown command {c}")),
    };
    match out {
        Ok(line) => emit(&line),
        Err(e) => {
            eprintln!("loadgen: {e}");
            emit(&format!("{{\"fatal\":{:?},\"errors\":1}}", e));
            std::process::exit(1);
        }
    }
}
