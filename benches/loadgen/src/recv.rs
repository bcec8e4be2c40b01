//! `loadgen recv`: the client receive workloads' ceiling, a minimal client in Rust on
//! one thread. It opens N connections to a push server (benches/servers/uws-push.js or
//! `ceiling --push`), starts them all at once (one "go" message each), and reads the
//! numbered messages they are sent: every one is checked (type, size, sequence number)
//! and counted, nothing else is done with it.
//!
//!   loadgen recv --conns N --size B [--binary] --secs S [--host H] [--port P]
//!       -> 0.5 s after the start, prints `start`; S seconds later `stop`; then
//!          {client, messages, secs, msgs_per_sec, mb_per_sec, conns, min_conn_msgs,
//!          max_conn_msgs, stop_lag_s, errors, ...}: what benches/clients/harness.js prints.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedReadHalf;

use crate::{connect_ws, emit, masked_frame, new_shared, parse_header, resolve, Args, Res, Rng, Shared};

/// Messages are received this long before the measured window opens (as harness.js does).
const WARM_UP: Duration = Duration::from_millis(500);
/// Room for many small frames, or a few large ones, per read.
const READ_BUFFER: usize = 256 * 1024;

/// The sequence number a pushed message carries (see uws-push.js), or None if malformed.
fn sequence(payload: &[u8], binary: bool) -> Option<u32> {
    if binary {
        (payload.last() == Some(&0x5a))
            .then(|| u32::from_le_bytes([payload[0], payload[1], payload[2], payload[3]]))
    } else {
        Some(payload[..4].iter().enumerate().fold(0, |n, (i, b)| n | (u32::from(b & 63) << (6 * i))))
    }
}

/// Reads one connection's messages until the process ends, counting them in `total` and `mine`.
async fn receive(
    mut s: OwnedReadHalf,
    mut buf: Vec<u8>,
    a: (usize, bool),
    total: Rc<Cell<u64>>,
    mine: Rc<Cell<u64>>,
    sh: Rc<Shared>,
) {
    let (size, binary) = a;
    let (opcode, wrap) = if binary { (0x2, u64::from(u32::MAX) + 1) } else { (0x1, 1 << 24) };
    let mut next = 0u64;
    let r: Res<()> = async {
        loop {
            let mut pos = 0;
            while let Some((fin, op, hl, len)) = parse_header(&buf[pos..])? {
                if buf.len() - pos < hl + len {
                    break;
                }
                let payload = &buf[pos + hl..pos + hl + len];
                if !fin || op != opcode || len != size {
                    return Err(format!(
                        "message {next}: fin={fin} opcode={op} {len} B; expected {size} B, opcode {opcode}"
                    ));
                }
                match sequence(payload, binary) {
                    Some(seq) if u64::from(seq) == next % wrap => {}
                    Some(seq) => return Err(format!("message number {seq} where {} was due", next % wrap)),
                    None => return Err(format!("message {next} does not end with 0x5a (the marker)")),
                }
                next += 1;
                pos += hl + len;
            }
            buf.drain(..pos);
            let counted = next - mine.get();
            mine.set(next);
            total.set(total.get() + counted);
            if buf.capacity() - buf.len() < READ_BUFFER / 2 {
                buf.reserve(READ_BUFFER);
            }
            if s.read_buf(&mut buf).await.map_err(|e| format!("read: {e}"))? == 0 {
                return Err("the server closed the connection".into());
            }
        }
    }
    .await;
    if let Err(e) = r {
        sh.err(e);
    }
}

pub async fn run(a: &Args) -> Res<String> {
    if a.size < 4 {
        return Err("recv needs --size >= 4 (each message carries its number)".into());
    }
    let addr = resolve(a)?;
    let mut rng = Rng::new();
    let sh = new_shared();
    let total = Rc::new(Cell::new(0u64));
    let mut writers = Vec::with_capacity(a.conns);
    let mut counts = Vec::with_capacity(a.conns);
    for _ in 0..a.conns {
        let (s, rest) = connect_ws(addr, &a.host, &mut rng).await?;
        let (r, w) = s.into_split();
        let mut buf = Vec::with_capacity(READ_BUFFER);
        buf.extend_from_slice(&rest);
        let mine = Rc::new(Cell::new(0u64));
        tokio::task::spawn_local(receive(
            r,
            buf,
            (a.size, a.binary),
            total.clone(),
            mine.clone(),
            sh.clone(),
        ));
        writers.push(w);
        counts.push(mine);
    }
    // The server pushes on a connection once it has heard from it: all start together, now.
    for w in &mut writers {
        let m = rng.next().to_le_bytes();
        w.write_all(&masked_frame(0x1, b"go", [m[0], m[1], m[2], m[3]]))
            .await
            .map_err(|e| format!("write: {e}"))?;
    }
    tokio::time::sleep(WARM_UP).await;
    let (m0, t0) = (total.get(), Instant::now());
    emit("start");
    tokio::time::sleep(Duration::from_secs_f64(a.secs)).await;
    let (m1, secs) = (total.get(), t0.elapsed().as_secs_f64());
    emit("stop");
    let messages = m1 - m0;
    let per_conn: Vec<u64> = counts.iter().map(|c| c.get()).collect();
    let min = per_conn.iter().copied().min().unwrap_or(0);
    if min == 0 {
        sh.err(format!("{} connections received nothing", per_conn.iter().filter(|&&n| n == 0).count()));
    }
    let first_error = sh.first_error.borrow().clone();
    Ok(format!(
        "{{\"client\":\"rust-tokio\",\"messages\":{messages},\"secs\":{secs:.3},\"msgs_per_sec\":{:.1},\"mb_per_sec\":{:.1},\"conns\":{},\"min_conn_msgs\":{min},\"max_conn_msgs\":{},\"stop_lag_s\":0,\"errors\":{}{}}}",
        messages as f64 / secs,
        (messages * a.size as u64) as f64 / secs / 1e6,
        a.conns,
        per_conn.iter().copied().max().unwrap_or(0),
        sh.errors.get(),
        first_error.map(|e| format!(",\"first_error\":{e:?}")).unwrap_or_default(),
    ))
}
