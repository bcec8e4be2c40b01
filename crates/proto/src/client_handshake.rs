//! The client side of the HTTP/1.1 upgrade (RFC 6455 4.1): the server's
//! response head, and how much body follows a refusal. Pure: no I/O, no napi.
//! The request itself is written by JS (it knows the URL, the headers and the
//! options, as `ws` does); what the response must contain is checked there too,
//! so the errors are `ws`'s own.

use crate::handshake::HandshakeLimits;

/// A response head as the server sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    /// Header names and values as sent, in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Bytes of the head (frames or the body follow).
    pub head_len: usize,
}

/// How the body of a response that is not a `101` ends (RFC 9112 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLength {
    /// No body: 1xx, 204, 304.
    Empty,
    Exact(usize),
    /// `Transfer-Encoding: chunked`: ends with the last chunk (see `chunked_len`).
    Chunked,
    /// Neither length nor chunks: the body ends when the server closes.
    UntilClose,
}

/// Why a response head could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseError {
    /// Longer than `max_header_bytes`, or more headers than `max_headers`.
    TooLarge,
    /// Not HTTP/1.x.
    Malformed,
}

impl Response {
    /// The first value of a header (`name` in lowercase).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_slice())
    }

    pub fn body_length(&self) -> BodyLength {
        if self.status < 200 || self.status == 204 || self.status == 304 {
            return BodyLength::Empty;
        }
        let chunked = self.header("transfer-encoding").is_some_and(|v| {
            v.rsplit(|&b| b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"))
        });
        if chunked {
            return BodyLength::Chunked;
        }
        match self.header("content-length").and_then(|v| std::str::from_utf8(v).ok()?.trim().parse().ok()) {
            Some(n) => BodyLength::Exact(n),
            None => BodyLength::UntilClose,
        }
    }
}

/// Reads a response head: `Ok(None)` while it is incomplete.
pub fn parse_response(buf: &[u8], limits: &HandshakeLimits) -> Result<Option<Response>, ResponseError> {
    let mut storage = vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut res = httparse::Response::new(&mut storage);
    let head_len = match res.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > limits.max_header_bytes => {
            return Err(ResponseError::TooLarge)
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(ResponseError::TooLarge),
        Err(_) => return Err(ResponseError::Malformed),
    };
    if head_len > limits.max_header_bytes {
        return Err(ResponseError::TooLarge);
    }
    Ok(Some(Response {
        status: res.code.unwrap_or(0),
        reason: res.reason.unwrap_or("").to_string(),
        headers: res.headers.iter().map(|h| (h.name.to_string(), h.value.to_vec())).collect(),
        head_len,
    }))
}

/// The length of a complete chunked body at the start of `buf` (the last chunk
/// and the trailers included), or None while it is incomplete or malformed.
pub fn chunked_len(buf: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        let httparse::Status::Complete((size_end, size)) = httparse::parse_chunk_size(&buf[at..]).ok()?
        else {
            return None;
        };
        at += size_end;
        if size == 0 {
            break;
        }
        at = at.checked_add(usize::try_from(size).ok()?)?.checked_add(2)?;
        if at > buf.len() {
            return None;
        }
    }
    // Trailer lines, then an empty line.
    loop {
        let line_end = buf[at..].windows(2).position(|w| w == b"\r\n")?;
        at += line_end + 2;
        if line_end == 0 {
            return Some(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Option<Response>, ResponseError> {
        parse_response(s.as_bytes(), &HandshakeLimits::default())
    }

    #[test]
    fn switching_protocols() {
        let head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        let r = parse(&format!("{head}\u{81}\u{0}")).unwrap().unwrap();
        assert_eq!(r.status, 101);
        assert_eq!(r.reason, "Switching Protocols");
        assert_eq!(r.head_len, head.len());
        assert_eq!(r.header("sec-websocket-accept"), Some(&b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="[..]));
        assert_eq!(r.body_length(), BodyLength::Empty);
    }

    #[test]
    fn incomplete_too_large_and_malformed() {
        assert_eq!(parse("HTTP/1.1 101 Switching"), Ok(None));
        assert_eq!(parse("SSH-2.0-OpenSSH\r\n\r\n"), Err(ResponseError::Malformed));
        let limits = HandshakeLimits { max_header_bytes: 64, max_headers: 2 };
        let long = format!("HTTP/1.1 200 OK\r\nX: {}", "a".repeat(100));
        assert_eq!(parse_response(long.as_bytes(), &limits), Err(ResponseError::TooLarge));
        let many = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        assert_eq!(parse_response(many.as_bytes(), &limits), Err(ResponseError::TooLarge));
    }

    #[test]
    fn body_lengths() {
        let len = |h: &str| parse(&format!("HTTP/1.1 {h}\r\n\r\n")).unwrap().unwrap().body_length();
        assert_eq!(len("200 OK\r\nContent-Length: 12"), BodyLength::Exact(12));
        assert_eq!(len("404 Not Found\r\nTransfer-Encoding: gzip, chunked"), BodyLength::Chunked);
        assert_eq!(len("500 Oops"), BodyLength::UntilClose);
        assert_eq!(len("304 Not Modified\r\nContent-Length: 5"), BodyLength::Empty);
    }

    #[test]
    fn chunked_bodies() {
        assert_eq!(chunked_len(b"5\r\nhello\r\n0\r\n\r\nNEXT"), Some(15));
        assert_eq!(chunked_len(b"5;ext=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n"), Some(29));
        assert_eq!(chunked_len(b"5\r\nhello\r\n0\r\n"), None);
        assert_eq!(chunked_len(b"5\r\nhel"), None);
        assert_eq!(chunked_len(b"zz\r\n"), None);
        assert_eq!(chunked_len(b"ffffffffffffffff\r\n"), None);
    }
}
