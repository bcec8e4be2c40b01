//! A connection's queued output: small frames coalesced into one buffer,
//! large or shared payloads (prepared broadcasts, big sends) kept by reference.
//! Empty, it owns no heap memory.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::sync::Arc;

/// Payloads at least this large are referenced, not copied.
pub const SHARE_THRESHOLD: usize = 16 * 1024;
const MAX_SLICES: usize = 64;

enum Chunk {
    Owned(Vec<u8>),
    Shared { header: [u8; 10], header_len: u8, data: Arc<Vec<u8>>, start: usize, end: usize },
}

impl Chunk {
    fn len(&self) -> usize {
        match self {
            Chunk::Owned(v) => v.len(),
            Chunk::Shared { header_len, start, end, .. } => *header_len as usize + end - start,
        }
    }
}

#[derive(Default)]
pub struct Outbox {
    chunks: VecDeque<Chunk>,
    /// Bytes of the front chunk already written.
    written: usize,
    queued: usize,
}

impl Outbox {
    pub fn is_empty(&self) -> bool {
        self.queued == 0
    }

    /// Bytes waiting to be written.
    pub fn queued_bytes(&self) -> usize {
        self.queued
    }

    /// Queues raw bytes (a frame built by the caller, an HTTP answer).
    pub fn push_bytes(&mut self, parts: &[&[u8]]) {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if len == 0 {
            return;
        }
        self.queued += len;
        let several = self.chunks.len() > 1;
        if let Some(Chunk::Owned(v)) = self.chunks.back_mut() {
            // Coalesce into the last buffer unless it is the one being written and would grow a lot.
            if several || v.len() + len <= 64 * 1024 {
                for p in parts {
                    v.extend_from_slice(p);
                }
                return;
            }
        }
        let mut v = Vec::with_capacity(len.max(256));
        for p in parts {
            v.extend_from_slice(p);
        }
        self.chunks.push_back(Chunk::Owned(v));
    }

    /// Queues a client's frame: `head` (with the mask key in it), then `payload`
    /// masked with `key` as it is copied in (the caller's bytes stay as they are).
    pub fn push_masked(&mut self, head: &[u8], payload: &[u8], key: [u8; 4]) {
        self.push_bytes(&[head, payload]);
        // push_bytes appends to the last owned chunk, so the payload ends it.
        if let Some(Chunk::Owned(v)) = self.chunks.back_mut() {
            let start = v.len() - payload.len();
            lws_proto::protocol::mask::apply_mask(&mut v[start..], key, 0);
        }
    }

    /// Queues a frame whose payload is `data[start..end]`, shared rather than copied.
    pub fn push_shared(&mut self, header: &[u8], data: &Arc<Vec<u8>>, start: usize, end: usize) {
        if end - start < SHARE_THRESHOLD {
            self.push_bytes(&[header, &data[start..end]]);
            return;
        }
        let mut h = [0u8; 10];
        h[..header.len()].copy_from_slice(header);
        let chunk =
            Chunk::Shared { header: h, header_len: header.len() as u8, data: data.clone(), start, end };
        self.queued += chunk.len();
        self.chunks.push_back(chunk);
    }

    /// Writes as much as `write` takes. Ok(()) when everything was written;
    /// `WouldBlock` (or another error) from `write` is returned as is.
    pub fn write_with(
        &mut self,
        mut write: impl FnMut(&[IoSlice<'_>]) -> io::Result<usize>,
    ) -> io::Result<()> {
        while !self.is_empty() {
            let n = {
                let mut slices: [IoSlice<'_>; MAX_SLICES] = std::array::from_fn(|_| IoSlice::new(&[]));
                let mut count = 0;
                let mut skip = self.written;
                'fill: for chunk in &self.chunks {
                    let parts: [&[u8]; 2] = match chunk {
                        Chunk::Owned(v) => [v, &[]],
                        Chunk::Shared { header, header_len, data, start, end } => {
                            [&header[..*header_len as usize], &data[*start..*end]]
                        }
                    };
                    for part in parts {
                        let part = if skip >= part.len() {
                            skip -= part.len();
                            continue;
                        } else {
                            let p = &part[skip..];
                            skip = 0;
                            p
                        };
                        slices[count] = IoSlice::new(part);
                        count += 1;
                        if count == MAX_SLICES {
                            break 'fill;
                        }
                    }
                }
                write(&slices[..count])?
            };
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            self.advance(n);
        }
        Ok(())
    }

    fn advance(&mut self, mut n: usize) {
        self.queued -= n;
        while n > 0 {
            let front_left = self.chunks.front().map(|c| c.len()).unwrap_or(0) - self.written;
            if n >= front_left {
                n -= front_left;
                self.chunks.pop_front();
                self.written = 0;
            } else {
                self.written += n;
                n = 0;
            }
        }
        if self.chunks.is_empty() && self.chunks.capacity() > 0 {
            self.chunks = VecDeque::new(); // an idle connection keeps no output memory
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(out: &mut Outbox, max_per_write: usize) -> Vec<u8> {
        let mut sink = Vec::new();
        out.write_with(|slices| {
            let mut n = 0;
            for s in slices {
                let take = (max_per_write - n).min(s.len());
                sink.extend_from_slice(&s[..take]);
                n += take;
                if n == max_per_write {
                    break;
                }
            }
            Ok(n)
        })
        .unwrap();
        sink
    }

    #[test]
    fn partial_writes_keep_order() {
        let big = Arc::new(vec![7u8; 40_000]);
        for step in [1, 3, 1000, 100_000] {
            let mut out = Outbox::default();
            out.push_bytes(&[b"ab", b"c"]);
            out.push_shared(b"HDR", &big, 100, 30_100);
            out.push_bytes(&[b"tail"]);
            assert_eq!(out.queued_bytes(), 3 + 3 + 30_000 + 4);
            let got = drain(&mut out, step);
            let mut want = b"abcHDR".to_vec();
            want.extend(std::iter::repeat(7).take(30_000));
            want.extend_from_slice(b"tail");
            assert_eq!(got, want, "step {step}");
            assert!(out.is_empty());
        }
    }

    #[test]
    fn would_block_leaves_data_queued() {
        let mut out = Outbox::default();
        out.push_bytes(&[b"hello"]);
        let err = out.write_with(|_| Err(io::ErrorKind::WouldBlock.into())).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        assert_eq!(out.queued_bytes(), 5);
    }
}
