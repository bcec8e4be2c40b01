//! permessage-deflate (RFC 7692) for the load generator's end: the offer, the check of the
//! server's answer, compressing a message once (the client never uses context takeover, so
//! pre-built frames stay valid), and inflating the server's messages (one inflater per
//! connection, which also serves a server that keeps its context).

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::Res;

/// The offer: the client promises no context takeover; the server chooses its own.
pub const OFFER: &str = "permessage-deflate; client_no_context_takeover";
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Checks the server's Sec-WebSocket-Extensions answer (None: header absent).
pub fn check_answer(answer: Option<&str>) -> Res<()> {
    let a = answer.ok_or("permessage-deflate offered but not negotiated (no Sec-WebSocket-Extensions)")?;
    let mut parts = a.split(';').map(str::trim);
    if parts.next() != Some("permessage-deflate") || a.contains(',') {
        return Err(format!("unexpected Sec-WebSocket-Extensions: {a}"));
    }
    for p in parts {
        let name = p.split('=').next().unwrap_or("").trim();
        match name {
            "client_no_context_takeover" | "server_no_context_takeover" | "server_max_window_bits" => {}
            _ => return Err(format!("unexpected permessage-deflate parameter: {p}")),
        }
    }
    Ok(())
}

/// One message compressed on its own (raw deflate, sync flush, the 4-byte tail removed).
pub fn compress(payload: &[u8]) -> Vec<u8> {
    let mut c = Compress::new(Compression::default(), false);
    let mut out = Vec::with_capacity(payload.len() + 64);
    loop {
        let consumed = c.total_in() as usize;
        c.compress_vec(&payload[consumed..], &mut out, FlushCompress::Sync).expect("deflate");
        if c.total_in() as usize == payload.len() && out.len() < out.capacity() {
            break;
        }
        out.reserve(out.capacity().max(64));
    }
    assert!(out.ends_with(&TAIL), "a sync flush ends with 00 00 ff ff");
    out.truncate(out.len() - TAIL.len());
    out
}

pub struct Inflater {
    d: Decompress,
    input: Vec<u8>,
}

impl Inflater {
    pub fn new() -> Inflater {
        Inflater { d: Decompress::new(false), input: Vec::new() }
    }

    /// Inflates one compressed message into `out` (cleared first); more than `limit` bytes is an error.
    pub fn inflate(&mut self, data: &[u8], out: &mut Vec<u8>, limit: usize) -> Res<()> {
        self.input.clear();
        self.input.extend_from_slice(data);
        self.input.extend_from_slice(&TAIL);
        out.clear();
        out.reserve(limit.min(1 << 20) + 64);
        let mut pos = 0;
        while pos < self.input.len() {
            let (in0, out0) = (self.d.total_in(), self.d.total_out());
            let st = self
                .d
                .decompress_vec(&self.input[pos..], out, FlushDecompress::Sync)
                .map_err(|e| format!("inflate: {e}"))?;
            pos += (self.d.total_in() - in0) as usize;
            if out.len() > limit {
                return Err(format!("inflated message over {limit} bytes"));
            }
            match st {
                // A final block (allowed by RFC 7692): the next message starts a new stream.
                Status::StreamEnd => {
                    self.d.reset(false);
                    return Ok(());
                }
                _ if out.len() == out.capacity() => out.reserve(out.capacity()),
                _ if self.d.total_in() == in0 && self.d.total_out() == out0 => {
                    return Err("inflate made no progress".into());
                }
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compress_then_inflate_many_messages_on_one_inflater() {
        let mut inf = Inflater::new();
        let mut out = Vec::new();
        for i in 0..50 {
            let msg: Vec<u8> = format!("{{\"n\":{i},\"text\":\"{}\"}}", "abc".repeat(i * 10)).into_bytes();
            let z = compress(&msg);
            inf.inflate(&z, &mut out, 1 << 20).unwrap();
            assert_eq!(out, msg);
        }
        assert!(inf.inflate(&compress(&[b'x'; 5000]), &mut out, 100).is_err());
    }

    #[test]
    fn answers() {
        assert!(check_answer(Some("permessage-deflate; client_no_context_takeover")).is_ok());
        assert!(check_answer(Some(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        ))
        .is_ok());
        assert!(check_answer(None).is_err());
        assert!(check_answer(Some("x-webkit-deflate-frame")).is_err());
        assert!(check_answer(Some("permessage-deflate; client_max_window_bits=10")).is_err());
    }
}
