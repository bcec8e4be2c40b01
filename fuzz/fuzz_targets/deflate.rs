//! permessage-deflate: the inflater on hostile input, compress/inflate round
//! trips, and the extension offer parser.
//!
//! Input layout (see fuzz/README.md):
//!   [0] bit 0: context takeover (one inflater kept across messages) instead of a
//!       shared inflater reset for every message; bit 1: also round-trip;
//!       bits 2-3: the window for no context takeover (9, 11, 13 or 15 bits);
//!       bits 4-7: compression level (capped at 9)
//!   [1] limit = [1] * 64 bytes (255 => 1 MiB)
//!   [..] messages, each a u16 little-endian length and that many bytes (a short
//!        last one takes what is left).
//!
//! Each message is (1) inflated as a client's compressed message; (2) when bit 1
//! is set, compressed as the server does (without context takeover, the one-shot
//! encoder where it applies) and inflated back; (3) offered as
//! a `Sec-WebSocket-Extensions` value to `negotiate`.
//! Invariants, besides "no panic" and no runaway memory:
//! - an inflated message never exceeds the limit (1009 instead);
//! - after an error nothing more is inflated on that stream (the connection closes);
//! - a round trip gives back the bytes exactly, with and without context takeover;
//! - an agreed offer's window bits are 9..=15 and the response names the extension.
#![no_main]

use flate2::{Compress, Decompress};
use libfuzzer_sys::fuzz_target;
use lws_proto::deflate::{self, Agreed, ConnInflater, DeflateConfig};
use lws_proto::deflate_oneshot::{self, OneShot};
use lws_proto::protocol::reader::Inflate;
use lws_proto::protocol::ProtocolError;

fn messages(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while data.len() >= 2 {
        let n = u16::from_le_bytes([data[0], data[1]]) as usize;
        let take = n.min(data.len() - 2);
        out.push(&data[2..2 + take]);
        data = &data[2 + take..];
    }
    out
}

fn agreed(takeover: bool) -> Agreed {
    let cfg = DeflateConfig {
        server_no_context_takeover: !takeover,
        client_no_context_takeover: !takeover,
        ..DeflateConfig::default()
    };
    deflate::negotiate(&[b"permessage-deflate"], &cfg).expect("a plain offer is agreed").0
}

fuzz_target!(|input: &[u8]| {
    if input.len() < 2 {
        return;
    }
    let takeover = input[0] & 1 != 0;
    let round_trip = input[0] & 2 != 0;
    let window_bits = 9 + ((input[0] >> 2) & 3) * 2;
    let level = (input[0] >> 4).min(9) as u32;
    let limit: u64 = if input[1] == 255 { 1 << 20 } else { input[1] as u64 * 64 };
    let msgs = messages(&input[2..]);

    // (1) The client's compressed messages, inflated as a connection would.
    let mut own: Option<Box<Decompress>> = None;
    let mut shared = deflate::new_inflater();
    let mut inflater = ConnInflater { own: &mut own, shared: &mut shared, reset_each_message: !takeover };
    for m in &msgs {
        let mut out = Vec::new();
        match inflater.inflate(m, &mut out, limit) {
            Ok(()) => assert!(out.len() as u64 <= limit, "inflated {} bytes past limit {limit}", out.len()),
            Err(e) => {
                assert!(
                    matches!(e, ProtocolError::MessageTooBig | ProtocolError::InvalidCompressedData),
                    "unexpected error {e:?}"
                );
                break; // the connection is closed
            }
        }
    }

    // (2) What the server compresses, the peer's inflater gets back exactly.
    if round_trip {
        let a = agreed(takeover);
        let mut compressor: Compress = deflate::new_compressor(&a, level);
        let mut peer_own: Option<Box<Decompress>> = None;
        let mut peer_shared = deflate::new_inflater();
        let mut oneshot = OneShot::default();
        let mut buf = Vec::new();
        for m in &msgs {
            if !takeover && deflate_oneshot::applies(level, m.len()) {
                oneshot.compress(m, level, window_bits, &mut buf);
            } else {
                if !takeover {
                    compressor.reset();
                }
                deflate::compress_message(&mut compressor, m, &mut buf);
            }
            let mut peer =
                ConnInflater { own: &mut peer_own, shared: &mut peer_shared, reset_each_message: !takeover };
            let mut back = Vec::new();
            peer.inflate(&buf, &mut back, u64::MAX).expect("our own output inflates");
            assert_eq!(&back[..], *m, "round trip changed the message");
        }
    }

    // (3) The offer parser.
    let cfg = DeflateConfig::default();
    for m in &msgs {
        if let Some((a, response)) = deflate::negotiate(&[m], &cfg) {
            assert!((9..=15).contains(&a.server_window_bits), "server bits {}", a.server_window_bits);
            assert!(response.starts_with("permessage-deflate"), "response {response:?}");
        }
    }
});
