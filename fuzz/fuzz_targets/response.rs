//! parse_response (a client reading the server's answer) and chunked_len on
//! arbitrary bytes with small limits.
//!
//! Input layout: [0] max_headers (% 32), [1] max_header_bytes = [1] * 8 (0 => 16 KiB),
//! then the response bytes.
//!
//! Invariants, besides "no panic": Ok(None) only while the input fits
//! max_header_bytes; on Ok(Some(res)), head_len <= input length and <= the limit,
//! at most max_headers headers, and re-parsing exactly the head gives the same
//! response; a chunked body's length is within the bytes after the head.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lws_proto::client_handshake::{chunked_len, parse_response, BodyLength};
use lws_proto::handshake::HandshakeLimits;

fuzz_target!(|input: &[u8]| {
    if input.len() < 2 {
        return;
    }
    let max_headers = (input[0] % 32) as usize;
    let max_header_bytes = if input[1] == 0 { 16 * 1024 } else { input[1] as usize * 8 };
    let limits = HandshakeLimits { max_header_bytes, max_headers };
    let buf = &input[2..];
    // The body parser alone, on anything.
    if let Some(n) = chunked_len(buf) {
        assert!(n <= buf.len(), "chunked length {n} > {} bytes", buf.len());
    }
    match parse_response(buf, &limits) {
        Ok(None) => assert!(buf.len() <= max_header_bytes, "Ok(None) for {} bytes > limit", buf.len()),
        Ok(Some(res)) => {
            assert!(res.head_len <= buf.len() && res.head_len <= max_header_bytes);
            assert!(res.headers.len() <= max_headers);
            let again = parse_response(&buf[..res.head_len], &limits);
            assert_eq!(again, Ok(Some(res.clone())), "re-parsing the head differs");
            if res.body_length() == BodyLength::Chunked {
                if let Some(n) = chunked_len(&buf[res.head_len..]) {
                    assert!(res.head_len + n <= buf.len());
                }
            }
        }
        Err(_) => {}
    }
});
