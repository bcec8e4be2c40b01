//! HTTP/1.1 request parsing for the upgrade (RFC 6455 section 4.2) and plain
//! HTTP requests, with the 101 and error answers. Pure: no I/O, no napi.

use base64::Engine;

#[derive(Debug, Clone, Copy)]
pub struct HandshakeLimits {
    /// Request line + headers, in bytes (a larger request gets 431).
    pub max_header_bytes: usize,
    /// Header lines (more gets 431).
    pub max_headers: usize,
}

impl Default for HandshakeLimits {
    fn default() -> Self {
        HandshakeLimits { max_header_bytes: 16 * 1024, max_headers: 64 }
    }
}

/// A request that must be answered with an error status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    pub reason: &'static str,
}

impl Rejection {
    fn new(status: u16, reason: &'static str) -> Self {
        Rejection { status, reason }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestKind {
    /// A valid WebSocket upgrade; `key` is Sec-WebSocket-Key.
    Upgrade { key: String },
    /// Anything else (no Upgrade header): served by the `http` event or answered 426.
    Plain { content_length: usize },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// Request target as sent, query included.
    pub url: String,
    /// Header names and values as sent (latin1 bytes), in order; look them up
    /// with `header`/`headers_named`, which ignore case.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Bytes of the request head (the body or first frames follow).
    pub head_len: usize,
    pub kind: RequestKind,
}

impl Request {
    /// The first value of a header (`name` in lowercase).
    pub fn header<'a>(&'a self, name: &'a str) -> Option<&'a [u8]> {
        self.headers_named(name).next()
    }

    /// Every value of a header, in order (`name` in lowercase).
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_slice())
    }

    /// An upgrade every HTTP stack reads the same way: one `Upgrade: websocket`
    /// (no other protocols listed), one key, one version. Node joins repeated
    /// headers, so ws would refuse the others: they are left to it when the
    /// engine hands unserved requests to Node (`hand_off_http`).
    pub fn is_unambiguous_upgrade(&self) -> bool {
        let once = |name: &str| self.headers_named(name).count() == 1;
        once("upgrade")
            && self.header("upgrade").is_some_and(|v| v.trim_ascii().eq_ignore_ascii_case(b"websocket"))
            && once("sec-websocket-key")
            && once("sec-websocket-version")
    }

    /// The URL's path, without the query string.
    pub fn path(&self) -> &str {
        self.url.split('?').next().unwrap_or("")
    }
}

/// Parses a request head. `Ok(None)`: incomplete, read more.
pub fn parse_request(buf: &[u8], limits: &HandshakeLimits) -> Result<Option<Request>, Rejection> {
    let mut storage = vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut req = httparse::Request::new(&mut storage);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if buf.len() > limits.max_header_bytes {
                return Err(Rejection::new(431, "Request Header Fields Too Large"));
            }
            return Ok(None);
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Rejection::new(431, "Request Header Fields Too Large"))
        }
        Err(_) => return Err(Rejection::new(400, "Bad Request")),
    };
    if head_len > limits.max_header_bytes {
        return Err(Rejection::new(431, "Request Header Fields Too Large"));
    }
    if req.version != Some(1) {
        return Err(Rejection::new(505, "HTTP Version Not Supported"));
    }
    let method = req.method.unwrap_or("").to_string();
    let url = req.path.unwrap_or("").to_string();
    let headers: Vec<(String, Vec<u8>)> =
        req.headers.iter().map(|h| (h.name.to_string(), h.value.to_vec())).collect();
    let mut request =
        Request { method, url, headers, head_len, kind: RequestKind::Plain { content_length: 0 } };

    let has_token = |name: &str, token: &str| {
        request
            .headers_named(name)
            .any(|v| v.split(|&b| b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes())))
    };
    if request.header("upgrade").is_none() {
        if request.header("transfer-encoding").is_some() {
            return Err(Rejection::new(501, "Not Implemented"));
        }
        let content_length = match request.header("content-length") {
            None => 0,
            Some(v) => std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.trim().parse::<usize>().ok())
                .ok_or(Rejection::new(400, "Bad Request"))?,
        };
        request.kind = RequestKind::Plain { content_length };
        return Ok(Some(request));
    }
    if !has_token("upgrade", "websocket") {
        return Err(Rejection::new(400, "Bad Request"));
    }
    if request.method != "GET" || !has_token("connection", "upgrade") {
        return Err(Rejection::new(400, "Bad Request"));
    }
    // 13 is RFC 6455; 8 is the HyBi drafts 07-12, whose framing is the same (ws accepts both).
    let version = request.header("sec-websocket-version").map(<[u8]>::trim_ascii);
    if !matches!(version, Some(b"13") | Some(b"8")) {
        return Err(Rejection::new(426, "Upgrade Required"));
    }
    let key = request
        .header("sec-websocket-key")
        .and_then(|k| std::str::from_utf8(k).ok())
        .map(str::trim)
        .filter(|k| is_valid_key(k))
        .ok_or(Rejection::new(400, "Bad Request"))?
        .to_string();
    request.kind = RequestKind::Upgrade { key };
    Ok(Some(request))
}

/// A key is the base64 of 16 bytes: 22 base64 characters and "==" (the last
/// character's unused bits are not checked, as ws does not check them).
fn is_valid_key(key: &str) -> bool {
    let bytes = key.as_bytes();
    bytes.len() == 24
        && bytes[22..] == *b"=="
        && bytes[..22].iter().all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// Sec-WebSocket-Accept for a Sec-WebSocket-Key.
pub fn accept_key(key: &str) -> String {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key.as_bytes());
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(sha.digest().bytes())
}

/// The 101 answer. `extra` holds whole header lines, each ending in CRLF.
pub fn switching_protocols(key: &str, extra: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(160 + extra.len());
    out.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ");
    out.extend_from_slice(accept_key(key).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(extra);
    out.extend_from_slice(b"\r\n");
    out
}

/// A complete error answer that closes the connection.
pub fn error_response(status: u16, reason: &str) -> Vec<u8> {
    error_response_with(status, reason, b"")
}

/// An error answer with extra header lines (each ending in CRLF).
pub fn error_response_with(status: u16, reason: &str, extra: &[u8]) -> Vec<u8> {
    let version = if status == 426 { "Sec-WebSocket-Version: 13, 8\r\nUpgrade: websocket\r\n" } else { "" };
    let mut out = format!("HTTP/1.1 {status} {reason}\r\n{version}Connection: close\r\n").into_bytes();
    out.extend_from_slice(extra);
    out.extend_from_slice(
        format!("Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n{reason}", reason.len()).as_bytes(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "GET /chat?x=1 HTTP/1.1\r\nHost: a\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

    fn parse(s: &str) -> Result<Option<Request>, Rejection> {
        parse_request(s.as_bytes(), &HandshakeLimits::default())
    }

    #[test]
    fn rfc_example_accept_key() {
        assert_eq!(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn valid_upgrade() {
        let r = parse(GOOD).unwrap().unwrap();
        assert_eq!(r.kind, RequestKind::Upgrade { key: "dGhlIHNhbXBsZSBub25jZQ==".into() });
        assert_eq!(r.path(), "/chat");
        assert_eq!(r.url, "/chat?x=1");
        assert_eq!(r.head_len, GOOD.len());
        assert_eq!(r.header("host"), Some(&b"a"[..]));
    }

    #[test]
    fn hybi_version_8_and_loose_key_bits() {
        // Version 8 (HyBi 07-12) frames as 13 does.
        assert!(matches!(
            parse(&GOOD.replace("Version: 13", "Version: 8")).unwrap().unwrap().kind,
            RequestKind::Upgrade { .. }
        ));
        // Non-zero unused bits in the last base64 character: accepted, as by ws.
        let loose = GOOD.replace("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZR==");
        assert!(matches!(parse(&loose).unwrap().unwrap().kind, RequestKind::Upgrade { .. }));
    }

    #[test]
    fn unambiguous_upgrades() {
        assert!(parse(GOOD).unwrap().unwrap().is_unambiguous_upgrade());
        let two_protocols = GOOD.replace("Upgrade: WebSocket", "Upgrade: websocket, foo");
        assert!(!parse(&two_protocols).unwrap().unwrap().is_unambiguous_upgrade());
        let two_keys = GOOD.replace(
            "Sec-WebSocket-Version",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==\r\nSec-WebSocket-Version",
        );
        assert!(!parse(&two_keys).unwrap().unwrap().is_unambiguous_upgrade());
    }

    #[test]
    fn incomplete_until_blank_line() {
        for i in 0..GOOD.len() {
            assert_eq!(parse(&GOOD[..i]), Ok(None), "{i}");
        }
    }

    #[test]
    fn rejections() {
        assert_eq!(parse(&GOOD.replace("Version: 13", "Version: 12")).unwrap_err().status, 426);
        assert_eq!(parse(&GOOD.replace("Version: 13", "Version: 7")).unwrap_err().status, 426);
        assert_eq!(
            parse(&GOOD.replace("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ=")).unwrap_err().status,
            400
        );
        assert_eq!(
            parse(&GOOD.replace("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZ-==")).unwrap_err().status,
            400
        );
        assert_eq!(parse(&GOOD.replace("dGhlIHNhbXBsZSBub25jZQ==", "short")).unwrap_err().status, 400);
        assert_eq!(parse(&GOOD.replace("GET", "POST")).unwrap_err().status, 400);
        assert_eq!(parse(&GOOD.replace("keep-alive, Upgrade", "close")).unwrap_err().status, 400);
        assert_eq!(parse("GARBAGE\r\n\r\n").unwrap_err().status, 400);
        assert_eq!(parse("GET / HTTP/1.0\r\n\r\n").unwrap_err().status, 505);
        let many: String = (0..100).map(|i| format!("X-{i}: v\r\n")).collect();
        assert_eq!(parse(&format!("GET / HTTP/1.1\r\n{many}\r\n")).unwrap_err().status, 431);
        let huge = format!("GET / HTTP/1.1\r\nX: {}\r\n", "a".repeat(20000));
        assert_eq!(parse(&huge).unwrap_err().status, 431);
    }

    #[test]
    fn plain_request() {
        let r = parse("POST /form HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello").unwrap().unwrap();
        assert_eq!(r.kind, RequestKind::Plain { content_length: 5 });
        assert_eq!(r.method, "POST");
        assert_eq!(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap_err().status, 501);
    }

    #[test]
    fn responses() {
        let r = String::from_utf8(switching_protocols("dGhlIHNhbXBsZSBub25jZQ==", b"X: y\r\n")).unwrap();
        assert!(r.starts_with("HTTP/1.1 101 "));
        assert!(r.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert!(r.ends_with("X: y\r\n\r\n"));
        let e = String::from_utf8(error_response(426, "Upgrade Required")).unwrap();
        assert!(e.contains("Sec-WebSocket-Version: 13"));
    }
}
