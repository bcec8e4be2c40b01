//! parse_request on arbitrary bytes with small limits.
//!
//! Input layout: [0] max_headers (% 32), [1] max_header_bytes = [1] * 8 (0 => 16 KiB),
//! then the request bytes.
//!
//! Invariants, besides "no panic": Ok(None) only while the input fits
//! max_header_bytes; on Ok(Some(req)), head_len <= input length and <= the limit,
//! at most max_headers headers, re-parsing exactly the head gives the same request,
//! and for an upgrade the key is a 24-char base64 key for which accept_key and
//! switching_protocols work.
#![no_main]

use base64::Engine;
use libfuzzer_sys::fuzz_target;
use lws_proto::handshake::{accept_key, parse_request, switching_protocols, HandshakeLimits, RequestKind};

fuzz_target!(|input: &[u8]| {
    if input.len() < 2 {
        return;
    }
    let max_headers = (input[0] % 32) as usize;
    let max_header_bytes = if input[1] == 0 { 16 * 1024 } else { input[1] as usize * 8 };
    let limits = HandshakeLimits { max_header_bytes, max_headers };
    let buf = &input[2..];
    match parse_request(buf, &limits) {
        Ok(None) => assert!(buf.len() <= max_header_bytes, "Ok(None) for {} bytes > limit", buf.len()),
        Ok(Some(req)) => {
            assert!(req.head_len <= buf.len(), "head_len {} > input {}", req.head_len, buf.len());
            assert!(req.head_len <= max_header_bytes);
            assert!(req.headers.len() <= max_headers);
            let again = parse_request(&buf[..req.head_len], &limits);
            assert_eq!(again, Ok(Some(req.clone())), "re-parsing the head differs");
            let _ = req.path();
            if let RequestKind::Upgrade { key } = &req.kind {
                assert_eq!(req.method, "GET");
                assert_eq!(key.len(), 24);
                let accept = accept_key(key);
                assert_eq!(accept.len(), 28);
                let digest =
                    base64::engine::general_purpose::STANDARD.decode(&accept).expect("accept is base64");
                assert_eq!(digest.len(), 20);
                let response = switching_protocols(key, b"");
                assert!(response.starts_with(b"HTTP/1.1 101"));
                assert!(response.windows(accept.len()).any(|w| w == accept.as_bytes()));
            }
        }
        Err(rejection) => {
            assert!(matches!(rejection.status, 400 | 426 | 431 | 501 | 505), "status {}", rejection.status)
        }
    }
});
