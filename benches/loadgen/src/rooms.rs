//! `loadgen rooms`: a chat's pub/sub load. N connections join rooms of R members
//! (connection i joins room i / R), then publishes come from random members,
//! `concurrency` in flight: each asks the server to publish a B-byte text to its
//! room, the sender included, and is complete once every member got it.
//!
//! Protocol (benches/workloads/pubsub-servers implement it): "join RRRRRR" subscribes
//! the sender to that room and is answered "joined"; a text starting with "pub RRRRRR "
//! is published to that room unchanged; anything else is echoed.
//!
//!   loadgen rooms --conns N --room-size R --size B --concurrency C --secs S [--port P]
//!       -> prints `start` and `stop`, then {deliveries, publishes, secs, per_sec, p50_us,
//!          p99_us, errors, ...}. Every delivery is checked: right room, not twice.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::timeout_at;

use crate::{emit, masked_frame, new_shared, open_echoed, parse_header, pct, resolve, Args, Res, Rng, Shared};

/// "pub RRRRRR SSSSSSSSSS " before the filler: the room and the publish's sequence number.
pub const ROOMS_HEAD: usize = 22;
/// Every connection must have joined its room within this.
const JOIN_TIMEOUT: Duration = Duration::from_secs(60);

struct InFlight {
    /// Deliveries still missing, and when it was sent.
    pending: RefCell<HashMap<u64, (usize, Instant)>>,
    delivered: Cell<u64>,
    completed: Cell<u64>,
    lat_us: RefCell<Vec<u32>>,
    /// Woken when a publish completes or a receiver fails.
    done: tokio::sync::Notify,
}

fn payload(room: usize, seq: u64, size: usize) -> Vec<u8> {
    let mut p = format!("pub {room:06} {seq:010} ").into_bytes();
    let mut j = 0;
    while p.len() < size {
        p.push(b'a' + (j % 26) as u8);
        j += 1;
    }
    p
}

/// Reads one connection's deliveries: each must be for its room, and not seen twice.
async fn receive(mut s: OwnedReadHalf, room: usize, fl: Rc<InFlight>, sh: Rc<Shared>, until: tokio::time::Instant) {
    let r: Res<()> = async {
        let mut buf: Vec<u8> = Vec::with_capacity(256);
        loop {
            let mut pos = 0usize;
            while let Some((fin, op, hl, len)) = parse_header(&buf[pos..])? {
                if buf.len() - pos < hl + len {
                    break;
                }
                let p = &buf[pos + hl..pos + hl + len];
                if !fin || op != 0x1 || p.len() < ROOMS_HEAD || &p[..4] != b"pub " {
                    return Err(format!("room {room}: unexpected frame fin={fin} opcode={op} len={len}"));
                }
                let field = |range: std::ops::Range<usize>| -> Option<u64> {
                    std::str::from_utf8(&p[range]).ok()?.parse().ok()
                };
                let (Some(to), Some(seq)) = (field(4..10), field(11..21)) else {
                    return Err(format!("room {room}: malformed delivery"));
                };
                if to as usize != room {
                    return Err(format!("room {room}: got a publish to room {to}"));
                }
                let mut pending = fl.pending.borrow_mut();
                let Some(entry) = pending.get_mut(&seq) else {
                    return Err(format!("room {room}: publish {seq} delivered more often than the room has members"));
                };
                entry.0 -= 1;
                fl.delivered.set(fl.delivered.get() + 1);
                if entry.0 == 0 {
                    let sent = entry.1;
                    pending.remove(&seq);
                    fl.completed.set(fl.completed.get() + 1);
                    fl.lat_us.borrow_mut().push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
                    fl.done.notify_one();
                }
                pos += hl + len;
            }
            buf.drain(..pos);
            buf.reserve(1024);
            let n = match timeout_at(until, s.read_buf(&mut buf)).await {
                Ok(r) => r.map_err(|e| format!("read: {e}"))?,
                Err(_) => return Ok(()),
            };
            if n == 0 {
                return Err("server closed the connection".into());
            }
        }
    }
    .await;
    if let Err(e) = r {
        sh.err(e);
        fl.done.notify_one();
    }
}

/// Sends "join RRRRRR" and waits for "joined" (frames before it would be a server bug).
async fn join(s: &mut tokio::net::TcpStream, room: usize, rng: &mut Rng) -> Res<()> {
    let m = rng.next().to_le_bytes();
    s.write_all(&masked_frame(0x1, format!("join {room:06}").as_bytes(), [m[0], m[1], m[2], m[3]]))
        .await
        .map_err(|e| format!("write join: {e}"))?;
    let mut buf = Vec::with_capacity(64);
    loop {
        if let Some((_, op, hl, len)) = parse_header(&buf)? {
            if buf.len() >= hl + len {
                return if op == 0x1 && &buf[hl..hl + len] == b"joined" && buf.len() == hl + len {
                    Ok(())
                } else {
                    Err("join: an answer other than \"joined\"".into())
                };
            }
        }
        if s.read_buf(&mut buf).await.map_err(|e| format!("read joined: {e}"))? == 0 {
            return Err("EOF before joined".into());
        }
    }
}

pub async fn run(a: &Args) -> Res<String> {
    let addr = resolve(a)?;
    let mut rng = Rng::new();
    let sh = new_shared();
    let room_size = a.room_size;
    let (mut conns, unstarted) = open_echoed(addr, &a.host, a.conns, a.concurrency.max(100), &sh, &mut rng).await?;
    if unstarted > 0 || conns.len() < a.conns {
        return Err(format!("opened {} of {} connections: {}", conns.len(), a.conns, sh.first_error.borrow().clone().unwrap_or_default()));
    }
    let joined = tokio::time::Instant::now() + JOIN_TIMEOUT;
    for (i, s) in conns.iter_mut().enumerate() {
        timeout_at(joined, join(s, i / room_size, &mut rng)).await.map_err(|_| "joining rooms: time limit".to_string())??;
    }
    let rooms = a.conns.div_ceil(room_size);
    let members = |room: usize| room_size.min(a.conns - room * room_size);
    let fl = Rc::new(InFlight {
        pending: RefCell::new(HashMap::new()),
        delivered: Cell::new(0),
        completed: Cell::new(0),
        lat_us: RefCell::new(Vec::with_capacity(1 << 16)),
        done: tokio::sync::Notify::new(),
    });
    let until = tokio::time::Instant::now() + Duration::from_secs_f64(a.secs);
    let mut writers: Vec<OwnedWriteHalf> = Vec::with_capacity(conns.len());
    for (i, s) in conns.into_iter().enumerate() {
        let (r, w) = s.into_split();
        writers.push(w);
        tokio::task::spawn_local(receive(r, i / room_size, fl.clone(), sh.clone(), until + Duration::from_secs(5)));
    }

    let mut seq: u64 = 0;
    let t0 = Instant::now();
    emit("start");
    while tokio::time::Instant::now() < until && sh.errors.get() == 0 {
        while fl.pending.borrow().len() < a.concurrency {
            let from = (rng.next() % writers.len() as u64) as usize;
            let room = from / room_size;
            seq += 1;
            fl.pending.borrow_mut().insert(seq, (members(room), Instant::now()));
            let m = rng.next().to_le_bytes();
            let frame = masked_frame(0x1, &payload(room, seq, a.size), [m[0], m[1], m[2], m[3]]);
            writers[from].write_all(&frame).await.map_err(|e| format!("write publish: {e}"))?;
        }
        if timeout_at(until, fl.done.notified()).await.is_err() {
            break;
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    emit("stop");
    let (deliveries, completed) = (fl.delivered.get(), fl.completed.get());
    let mut lat = std::mem::take(&mut *fl.lat_us.borrow_mut());
    lat.sort_unstable();
    let fe = sh.first_error.borrow().clone().map(|e| format!(",\"first_error\":{:?}", e)).unwrap_or_default();
    Ok(format!(
        "{{\"deliveries\":{deliveries},\"publishes\":{completed},\"rooms\":{rooms},\"room_size\":{room_size},\
         \"size\":{},\"secs\":{secs:.3},\"per_sec\":{:.1},\"p50_us\":{},\"p99_us\":{},\"errors\":{}{fe}}}",
        a.size,
        deliveries as f64 / secs,
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        sh.errors.get(),
    ))
}
