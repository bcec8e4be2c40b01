//! The workloads that need more than plain TCP and one repeated message: echo, handshakes and
//! idle over wss:// (`--tls-ca`), with permessage-deflate (`--deflate`), with varied JSON-like
//! messages (`--json`), or echo at a fixed offered rate (`--rate`, open loop, for latency under
//! load). Same rules as the plain workloads: real handshakes, pre-built masked frames, every
//! echo checked byte for byte (after inflating it), every phase bounded in time.
//! The plain workloads keep their own loops in main.rs (the same shape as these, on a bare
//! TcpStream): the original rows then measure exactly what earlier runs measured.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep_until, timeout, timeout_at};

use crate::deflate::{self, Inflater};
use crate::histogram::Histogram;
use crate::messages::json_like;
use crate::tls::{Stream, Tls};
use crate::{
    accept_for, close_ws, emit, masked_frame, parse_header, resolve, Args, Res, Rng, DRAIN_TIMEOUT,
    HANDSHAKE_TIMEOUT,
};

/// Distinct messages each connection cycles through with `--json`.
const JSON_POOL: usize = 256;
/// Open loop: echoes a connection may owe before the server counts as not keeping up.
const MAX_BEHIND: usize = 20_000;
/// Open loop: sends before this are not measured (connections and caches warm up).
const RATE_WARMUP: Duration = Duration::from_secs(1);

/// Whether `a` asks for this module rather than the plain workloads in main.rs.
pub fn wanted(a: &Args) -> bool {
    a.deflate || a.json || a.tls_ca.is_some() || a.rate > 0.0
}

struct Message {
    payload: Vec<u8>,
    /// The masked frame, its payload compressed (RSV1 set) with --deflate.
    frame: Vec<u8>,
}

struct Plan {
    pool: Vec<Message>,
    opcode: u8,
    deflate: bool,
}

fn plan(a: &Args, rng: &mut Rng) -> Plan {
    let opcode = if a.binary { 0x2 } else { 0x1 };
    let n = if a.json { JSON_POOL } else { 1 };
    let pool = (0..n)
        .map(|i| {
            let payload: Vec<u8> = if a.json {
                json_like(rng, i, a.size)
            } else if a.binary {
                (0..a.size).map(|_| rng.next() as u8).collect()
            } else {
                (0..a.size).map(|i| b'a' + (i % 26) as u8).collect()
            };
            let m = rng.next().to_le_bytes();
            let frame = if a.deflate {
                let mut f = masked_frame(opcode, &deflate::compress(&payload), [m[0], m[1], m[2], m[3]]);
                f[0] |= 0x40; // RSV1: compressed
                f
            } else {
                masked_frame(opcode, &payload, [m[0], m[1], m[2], m[3]])
            };
            Message { payload, frame }
        })
        .collect();
    Plan { pool, opcode, deflate: a.deflate }
}

fn tls_for(a: &Args) -> Res<Option<Rc<Tls>>> {
    a.tls_ca.as_deref().map(|ca| Tls::new(ca, &a.host).map(Rc::new)).transpose()
}

/// TCP connect, TLS if configured, the opening handshake (Sec-WebSocket-Accept checked, and the
/// permessage-deflate answer when offered). Returns the stream and the bytes after the response.
async fn open(
    addr: SocketAddr,
    host: &str,
    tls: Option<&Tls>,
    offer_deflate: bool,
    rng: &mut Rng,
) -> Res<(Stream, Vec<u8>)> {
    let fut = async {
        let tcp = TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        let mut s = match tls {
            Some(t) => t.wrap(tcp).await?,
            None => Stream::Plain(tcp),
        };
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&rng.next().to_le_bytes());
        k[8..].copy_from_slice(&rng.next().to_le_bytes());
        let key = base64::engine::general_purpose::STANDARD.encode(k);
        let ext = if offer_deflate {
            format!("Sec-WebSocket-Extensions: {}\r\n", deflate::OFFER)
        } else {
            String::new()
        };
        let req = format!(
            "GET / HTTP/1.1\r\nHost: {host}:{}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{ext}\r\n",
            addr.port()
        );
        s.write_all(req.as_bytes()).await.map_err(|e| format!("write handshake: {e}"))?;
        s.flush().await.map_err(|e| format!("write handshake: {e}"))?;
        let mut buf = Vec::with_capacity(1024);
        let end = loop {
            buf.reserve(1024);
            let n = s.read_buf(&mut buf).await.map_err(|e| format!("read handshake: {e}"))?;
            if n == 0 {
                return Err("EOF during handshake".to_string());
            }
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
        let (mut accept, mut extensions) = (None, None);
        for l in lines {
            if let Some((name, val)) = l.split_once(':') {
                if name.trim().eq_ignore_ascii_case("sec-websocket-accept") {
                    accept = Some(val.trim());
                } else if name.trim().eq_ignore_ascii_case("sec-websocket-extensions") {
                    extensions = Some(val.trim());
                }
            }
        }
        if accept != Some(accept_for(&key).as_str()) {
            return Err("missing or wrong Sec-WebSocket-Accept".to_string());
        }
        if offer_deflate {
            deflate::check_answer(extensions)?;
        } else if let Some(e) = extensions {
            return Err(format!("the server answered an extension not offered: {e}"));
        }
        Ok((s, buf[end..].to_vec()))
    };
    timeout(HANDSHAKE_TIMEOUT, fut).await.map_err(|_| "handshake timeout".to_string())?
}

#[derive(Default)]
struct Totals {
    errors: Cell<u64>,
    first_error: RefCell<Option<String>>,
    messages: Cell<u64>,
    wire_in: Cell<u64>,
    hist: RefCell<Option<Histogram>>,
}

impl Totals {
    fn err(&self, e: String) {
        self.errors.set(self.errors.get() + 1);
        self.first_error.borrow_mut().get_or_insert(e);
    }
    fn first_error_json(&self) -> String {
        self.first_error.borrow().clone().map(|e| format!(",\"first_error\":{:?}", e)).unwrap_or_default()
    }
}

/// Checks one echoed frame against the message it answers (inflating it if RSV1 is set).
fn check_echo(
    plan: &Plan,
    frame: &[u8],
    hl: usize,
    expect: &[u8],
    inflater: &mut Inflater,
    scratch: &mut Vec<u8>,
) -> Res<()> {
    let body = &frame[hl..];
    let got: &[u8] = if frame[0] & 0x40 != 0 {
        if !plan.deflate {
            return Err("RSV1 set without permessage-deflate".into());
        }
        inflater.inflate(body, scratch, expect.len())?;
        scratch
    } else {
        body
    };
    if got != expect {
        return Err(format!("echo mismatch (len {}, expected {})", got.len(), expect.len()));
    }
    Ok(())
}

/// When the echo loop sends: K in flight (closed loop), or one message every `interval`
/// whatever the answers (open loop: a slow server cannot slow the sender down, so every
/// message sent during a stall shows the stall in its latency).
#[derive(Clone, Copy)]
enum Pace {
    InFlight(usize),
    Every(Duration),
}

#[allow(clippy::too_many_arguments)]
async fn echo_conn(
    mut s: Stream,
    mut buf: Vec<u8>,
    plan: Rc<Plan>,
    pace: Pace,
    start: Instant,
    deadline: Instant,
    sh: Rc<Totals>,
    mut rng: Rng,
) {
    let r: Res<()> = async {
        let mut pending: VecDeque<(usize, Instant)> = VecDeque::new();
        let mut hist = Histogram::new();
        let mut inflater = Inflater::new();
        let mut scratch = Vec::new();
        let mut wbuf: Vec<u8> = Vec::new();
        let (mut count, mut wire_in) = (0u64, 0u64);
        let mut next = (rng.next() % plan.pool.len() as u64) as usize;
        let mut push = |wbuf: &mut Vec<u8>, pending: &mut VecDeque<(usize, Instant)>, at: Instant| {
            wbuf.extend_from_slice(&plan.pool[next].frame);
            pending.push_back((next, at));
            next = (next + 1) % plan.pool.len();
        };
        let mut next_send = Instant::now();
        match pace {
            Pace::InFlight(k) => (0..k).for_each(|_| push(&mut wbuf, &mut pending, next_send)),
            // A random phase, so that the connections' sends do not come in bursts.
            Pace::Every(iv) => next_send += iv.mul_f64((rng.next() % 1000) as f64 / 1000.0),
        }
        let max_frame = plan.pool.iter().map(|m| m.frame.len()).max().unwrap_or(16);
        let chunk = (max_frame * 4).clamp(16384, 1 << 20);
        let drain_deadline = tokio::time::Instant::from_std(deadline + DRAIN_TIMEOUT);
        let mut pos = 0usize;
        loop {
            let now = Instant::now();
            while let Some((fin, op, hl, len)) = parse_header(&buf[pos..])? {
                if buf.len() - pos < hl + len {
                    break;
                }
                if !fin || op != plan.opcode {
                    return Err(format!("unexpected frame: fin={fin} opcode={op}"));
                }
                let (i, t) = pending.pop_front().ok_or("echo without a request")?;
                check_echo(
                    &plan,
                    &buf[pos..pos + hl + len],
                    hl,
                    &plan.pool[i].payload,
                    &mut inflater,
                    &mut scratch,
                )?;
                let measured = match pace {
                    Pace::InFlight(_) => now < deadline,
                    Pace::Every(_) => t >= start && t < deadline,
                };
                if measured {
                    wire_in += (hl + len) as u64;
                    count += 1;
                    hist.record(now.duration_since(t).as_micros() as u64);
                }
                pos += hl + len;
                if matches!(pace, Pace::InFlight(_)) && now < deadline {
                    push(&mut wbuf, &mut pending, now);
                }
            }
            if pos == buf.len() {
                buf.clear();
                pos = 0;
            } else if pos > (1 << 20) {
                buf.drain(..pos);
                pos = 0;
            }
            if let Pace::Every(iv) = pace {
                // Stamped when actually sent (the sender never waits for answers, so a slow
                // server cannot delay it; the loadgen's own timer lateness is not the server's).
                let now = Instant::now();
                while next_send <= now && next_send < deadline {
                    push(&mut wbuf, &mut pending, now);
                    next_send += iv;
                }
                if pending.len() > MAX_BEHIND {
                    return Err(format!(
                        "{} echoes owed: the server does not keep up with the offered rate",
                        pending.len()
                    ));
                }
            }
            if !wbuf.is_empty() {
                s.write_all(&wbuf).await.map_err(|e| format!("write: {e}"))?;
                s.flush().await.map_err(|e| format!("write: {e}"))?;
                wbuf.clear();
            }
            let sending = matches!(pace, Pace::Every(_)) && next_send < deadline;
            if pending.is_empty() && !sending {
                break; // past the deadline and everything answered
            }
            buf.reserve(chunk);
            let n = if sending && pending.len() < MAX_BEHIND {
                tokio::select! {
                    r = timeout_at(drain_deadline, s.read_buf(&mut buf)) => r,
                    _ = sleep_until(tokio::time::Instant::from_std(next_send)) => continue,
                }
            } else {
                timeout_at(drain_deadline, s.read_buf(&mut buf)).await
            };
            let n = match n {
                Ok(r) => r.map_err(|e| format!("read: {e}"))?,
                Err(_) => return Err(format!("{} echoes unanswered at the drain timeout", pending.len())),
            };
            if n == 0 {
                return Err("server closed the connection".into());
            }
        }
        sh.messages.set(sh.messages.get() + count);
        sh.wire_in.set(sh.wire_in.get() + wire_in);
        sh.hist.borrow_mut().get_or_insert_with(Histogram::new).merge(&hist);
        buf.drain(..pos);
        close_ws(&mut s, buf, &mut rng).await
    }
    .await;
    if let Err(e) = r {
        sh.err(e);
    }
}

/// Opens `n` connections, at most `concurrency` handshakes at a time; with `echo`, each
/// must have one message echoed (then the server's application knows it). Bounded in time.
async fn open_many(
    a: &Args,
    n: usize,
    concurrency: usize,
    echo: Option<Rc<Plan>>,
    sh: &Rc<Totals>,
    rng: &mut Rng,
) -> Res<Vec<(Stream, Vec<u8>)>> {
    let addr = resolve(a)?;
    let tls = tls_for(a)?;
    let conns = Rc::new(RefCell::new(Vec::new()));
    let next = Rc::new(Cell::new(0usize));
    let limit = tokio::time::Instant::now() + Duration::from_secs(300);
    let mut tasks = Vec::new();
    for _ in 0..n.min(concurrency) {
        let (conns, next, sh, host, tls, echo, deflate) =
            (conns.clone(), next.clone(), sh.clone(), a.host.clone(), tls.clone(), echo.clone(), a.deflate);
        let mut r = Rng(rng.next() | 1);
        tasks.push(tokio::task::spawn_local(async move {
            while next.get() < n && tokio::time::Instant::now() < limit {
                next.set(next.get() + 1);
                let res = async {
                    let (mut s, mut buf) = open(addr, &host, tls.as_deref(), deflate, &mut r).await?;
                    if let Some(plan) = &echo {
                        echo_once(&mut s, &mut buf, plan).await?;
                    }
                    Ok::<_, String>((s, buf))
                }
                .await;
                match res {
                    Ok(c) => conns.borrow_mut().push(c),
                    Err(e) => sh.err(e),
                }
            }
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())?;
    }
    let unstarted = n - next.get();
    if unstarted > 0 {
        sh.err(format!("{unstarted} connections not attempted before the time limit"));
    }
    let v = std::mem::take(&mut *conns.borrow_mut());
    Ok(v)
}

async fn echo_once(s: &mut Stream, buf: &mut Vec<u8>, plan: &Plan) -> Res<()> {
    let msg = &plan.pool[0];
    s.write_all(&msg.frame).await.map_err(|e| format!("write: {e}"))?;
    s.flush().await.map_err(|e| format!("write: {e}"))?;
    let fut = async {
        loop {
            if let Some((fin, op, hl, len)) = parse_header(buf)? {
                if buf.len() >= hl + len {
                    if !fin || op != plan.opcode || buf.len() != hl + len {
                        return Err("bad echo".to_string());
                    }
                    check_echo(
                        plan,
                        &buf[..hl + len],
                        hl,
                        &msg.payload,
                        &mut Inflater::new(),
                        &mut Vec::new(),
                    )?;
                    buf.clear();
                    return Ok(());
                }
            }
            buf.reserve(4096);
            if s.read_buf(buf).await.map_err(|e| format!("read: {e}"))? == 0 {
                return Err("EOF before echo".to_string());
            }
        }
    };
    timeout(HANDSHAKE_TIMEOUT, fut).await.map_err(|_| "echo timeout".to_string())?
}

pub async fn run_echo(a: &Args) -> Res<String> {
    let mut rng = Rng::new();
    let plan = Rc::new(plan(a, &mut rng));
    let sh = Rc::new(Totals::default());
    let conns = open_many(a, a.conns, 200, None, &sh, &mut rng).await?;
    if conns.is_empty() {
        return Err(format!("no connection opened: {}", sh.first_error.borrow().clone().unwrap_or_default()));
    }
    let nconns = conns.len();
    let pace = if a.rate > 0.0 {
        Pace::Every(Duration::from_secs_f64(nconns as f64 / a.rate))
    } else {
        Pace::InFlight(a.inflight)
    };
    let t0 = Instant::now();
    let start = t0 + if a.rate > 0.0 { RATE_WARMUP } else { Duration::ZERO };
    let deadline = start + Duration::from_secs_f64(a.secs);
    let mut tasks = Vec::new();
    for (s, buf) in conns {
        tasks.push(tokio::task::spawn_local(echo_conn(
            s,
            buf,
            plan.clone(),
            pace,
            start,
            deadline,
            sh.clone(),
            Rng(rng.next() | 1),
        )));
    }
    sleep_until(tokio::time::Instant::from_std(start)).await;
    emit("start");
    sleep_until(tokio::time::Instant::from_std(deadline)).await;
    emit("stop");
    let secs = a.secs;
    for t in tasks {
        t.await.map_err(|e| e.to_string())?;
    }
    let hist = sh.hist.borrow_mut().take().unwrap_or_else(Histogram::new);
    let msgs = sh.messages.get();
    let raw: u64 =
        plan.pool.iter().map(|m| m.payload.len() as u64).sum::<u64>() / plan.pool.len() as u64 * msgs.max(1);
    Ok(format!(
        "{{\"messages\":{msgs},\"secs\":{secs:.3},\"msgs_per_sec\":{:.1},\"p50_us\":{},\"p99_us\":{},\"p999_us\":{},\"max_us\":{},\
         \"errors\":{},\"conns\":{nconns},\"size\":{},\"inflight\":{},\"offered_rate\":{},\"binary\":{},\"json\":{},\"deflate\":{},\"tls\":{},\
         \"wire_in_ratio\":{:.3}{}}}",
        msgs as f64 / secs,
        hist.quantile(0.5),
        hist.quantile(0.99),
        hist.quantile(0.999),
        hist.max(),
        sh.errors.get(),
        a.size,
        a.inflight,
        a.rate,
        a.binary,
        a.json,
        a.deflate,
        a.tls_ca.is_some(),
        // bytes received (frames) per payload byte: below 1 when the server compresses
        sh.wire_in.get() as f64 / raw as f64,
        sh.first_error_json()
    ))
}

/// Handshakes (TLS and/or deflate negotiated), each closed with a close handshake.
pub async fn run_handshakes(a: &Args) -> Res<String> {
    let addr = resolve(a)?;
    let tls = tls_for(a)?;
    let mut rng = Rng::new();
    let next = Rc::new(Cell::new(0usize));
    let ok = Rc::new(Cell::new(0u64));
    let sh = Rc::new(Totals::default());
    let limit = tokio::time::Instant::now() + Duration::from_secs(300);
    let t0 = Instant::now();
    emit("start");
    let mut tasks = Vec::new();
    for _ in 0..a.concurrency.min(a.total) {
        let (next, ok, sh, host, tls, deflate, total) =
            (next.clone(), ok.clone(), sh.clone(), a.host.clone(), tls.clone(), a.deflate, a.total);
        let mut r = Rng(rng.next() | 1);
        tasks.push(tokio::task::spawn_local(async move {
            while next.get() < total && tokio::time::Instant::now() < limit {
                next.set(next.get() + 1);
                let res = async {
                    let (mut s, buf) = open(addr, &host, tls.as_deref(), deflate, &mut r).await?;
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
    let unstarted = (a.total - next.get()) as u64;
    Ok(format!(
        "{{\"handshakes\":{},\"secs\":{secs:.3},\"per_sec\":{:.1},\"errors\":{},\"tls\":{},\"deflate\":{}{}}}",
        ok.get(),
        ok.get() as f64 / secs,
        sh.errors.get() + unstarted,
        a.tls_ca.is_some(),
        a.deflate,
        sh.first_error_json()
    ))
}

/// Idle connections (TLS and/or deflate negotiated), each having echoed one message.
pub async fn run_idle(a: &Args) -> Res<(Vec<Stream>, u64, Option<String>)> {
    let mut rng = Rng::new();
    let plan = Rc::new(plan(a, &mut rng));
    let sh = Rc::new(Totals::default());
    let conns = open_many(a, a.conns, 100, Some(plan), &sh, &mut rng).await?;
    let fe = sh.first_error.borrow().clone();
    Ok((conns.into_iter().map(|(s, _)| s).collect(), sh.errors.get(), fe))
}
