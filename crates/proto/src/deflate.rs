//! permessage-deflate (RFC 7692): negotiating the extension, and the raw
//! deflate/inflate a connection uses for its messages. No I/O, no napi.
//!
//! Memory is the reason for the defaults: with no context takeover (both ways)
//! a connection keeps no zlib state at all; each engine thread has one
//! compressor and one inflater that every message resets.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::protocol::{Inflate, ProtocolError};

/// The server's settings (from the `perMessageDeflate` option).
#[derive(Debug, Clone)]
pub struct DeflateConfig {
    pub server_no_context_takeover: bool,
    pub client_no_context_takeover: bool,
    /// Largest window our compressor may use (9-15).
    pub server_max_window_bits: u8,
    /// Asked of clients that offer `client_max_window_bits`.
    pub client_max_window_bits: Option<u8>,
    /// Messages smaller than this are sent uncompressed.
    pub threshold: usize,
    pub level: u32,
    /// Set by lws.WebSocketServer: the offer is not negotiated here but in JS, by
    /// ws's rules (lib/ws/extensions.js), whose answer comes as a
    /// `Sec-WebSocket-Extensions` line among the accept headers (see `agreed_in_headers`).
    pub negotiated_by_js: bool,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 15,
            client_max_window_bits: None,
            threshold: 1024,
            level: 6,
            negotiated_by_js: false,
        }
    }
}

/// What both sides agreed on for one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Agreed {
    pub server_no_context_takeover: bool,
    pub client_no_context_takeover: bool,
    pub server_window_bits: u8,
}

#[derive(Default)]
struct Offer {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// Some(None): offered without a value.
    client_max_window_bits: Option<Option<u8>>,
}

fn window_bits(value: Option<&str>) -> Option<u8> {
    let v = value?.trim_matches('"');
    if v.is_empty() || v.len() > 2 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<u8>().ok().filter(|b| (8..=15).contains(b))
}

/// Parses one `permessage-deflate; param; param=value` offer; None if malformed.
fn parse_offer(params: &[&str]) -> Option<Offer> {
    let mut offer = Offer::default();
    for param in params {
        let (name, value) = match param.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (param.trim(), None),
        };
        match name {
            "server_no_context_takeover" if value.is_none() && !offer.server_no_context_takeover => {
                offer.server_no_context_takeover = true
            }
            "client_no_context_takeover" if value.is_none() && !offer.client_no_context_takeover => {
                offer.client_no_context_takeover = true
            }
            "server_max_window_bits" if offer.server_max_window_bits.is_none() => {
                offer.server_max_window_bits = Some(window_bits(value)?)
            }
            "client_max_window_bits" if offer.client_max_window_bits.is_none() => {
                offer.client_max_window_bits =
                    Some(if value.is_some() { Some(window_bits(value)?) } else { None })
            }
            _ => return None, // unknown or repeated parameter: the offer is declined
        }
    }
    Some(offer)
}

/// Picks the first acceptable permessage-deflate offer from the request's
/// `Sec-WebSocket-Extensions` values. Returns what was agreed and the response
/// header value, or None (the connection then runs uncompressed).
pub fn negotiate(header_values: &[&[u8]], cfg: &DeflateConfig) -> Option<(Agreed, String)> {
    for value in header_values {
        let Ok(text) = std::str::from_utf8(value) else { continue };
        for extension in text.split(',') {
            let mut parts = extension.split(';').map(str::trim);
            if parts.next() != Some("permessage-deflate") {
                continue;
            }
            let params: Vec<&str> = parts.filter(|p| !p.is_empty()).collect();
            let Some(offer) = parse_offer(&params) else { continue };
            let server_bits = offer.server_max_window_bits.unwrap_or(15).min(cfg.server_max_window_bits);
            if server_bits < 9 {
                continue; // raw deflate cannot keep to a 256-byte window
            }
            let agreed = Agreed {
                server_no_context_takeover: cfg.server_no_context_takeover
                    || offer.server_no_context_takeover,
                client_no_context_takeover: cfg.client_no_context_takeover
                    || offer.client_no_context_takeover,
                server_window_bits: server_bits,
            };
            let mut response = String::from("permessage-deflate");
            if agreed.server_no_context_takeover {
                response.push_str("; server_no_context_takeover");
            }
            if agreed.client_no_context_takeover {
                response.push_str("; client_no_context_takeover");
            }
            if offer.server_max_window_bits.is_some() || server_bits < 15 {
                response.push_str(&format!("; server_max_window_bits={server_bits}"));
            }
            if let Some(offered) = offer.client_max_window_bits {
                // Our inflater always uses the largest window, so any client window works;
                // only a configured limit is passed on.
                if let Some(bits) = cfg.client_max_window_bits {
                    response
                        .push_str(&format!("; client_max_window_bits={}", bits.min(offered.unwrap_or(15))));
                }
            }
            return Some((agreed, response));
        }
    }
    None
}

/// With `negotiated_by_js`: what the 101's headers, written by JS, agree on: their
/// `Sec-WebSocket-Extensions` line if it names permessage-deflate. The line is
/// already among the headers; the String returned is its value (for OPEN).
pub fn agreed_in_headers(headers: &[u8]) -> Option<(Agreed, String)> {
    let (agreed, _client_bits, value) = agreement_in_headers(headers)?;
    Some((agreed, value))
}

/// For a client: what the server's 101 agreed on (its `Sec-WebSocket-Extensions`
/// line, checked by JS), seen from the client's end. The session reads
/// `Agreed` as the server does (`server_*` is the end that compresses what
/// this connection sends), so the roles are swapped: the client compresses
/// with `client_no_context_takeover` and `client_max_window_bits`, and inflates
/// what the server compressed.
pub fn client_agreed_in_headers(headers: &[u8]) -> Option<(Agreed, String)> {
    let (agreed, client_bits, value) = agreement_in_headers(headers)?;
    let mirrored = Agreed {
        server_no_context_takeover: agreed.client_no_context_takeover,
        client_no_context_takeover: agreed.server_no_context_takeover,
        server_window_bits: client_bits,
    };
    Some((mirrored, value))
}

/// The agreement in a `Sec-WebSocket-Extensions` header line among `headers`,
/// with the client's window bits (15 when not limited) and the line's value.
fn agreement_in_headers(headers: &[u8]) -> Option<(Agreed, u8, String)> {
    let value = headers.split(|&b| b == b'\n').find_map(|line| {
        let colon = line.iter().position(|&b| b == b':')?;
        let name = line[..colon].trim_ascii();
        name.eq_ignore_ascii_case(b"sec-websocket-extensions").then(|| line[colon + 1..].trim_ascii())
    })?;
    let value = std::str::from_utf8(value).ok()?;
    let mut params = value.split(';').map(str::trim);
    if params.next() != Some("permessage-deflate") {
        return None;
    }
    let mut agreed = Agreed {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_window_bits: 15,
    };
    let mut client_bits = 15;
    for param in params {
        let (name, bits) = match param.split_once('=') {
            Some((n, v)) => (n.trim(), v.trim().parse::<u8>().ok()),
            None => (param, None),
        };
        // ws agrees to 8, but raw deflate's smallest window is 9, which zlib (so ws) then uses.
        let window = bits.map_or(15, |b| b.clamp(9, 15));
        match name {
            "server_no_context_takeover" => agreed.server_no_context_takeover = true,
            "client_no_context_takeover" => agreed.client_no_context_takeover = true,
            "server_max_window_bits" => agreed.server_window_bits = window,
            "client_max_window_bits" => client_bits = window,
            _ => {}
        }
    }
    Some((agreed, client_bits, value.to_string()))
}

/// Compresses one message (raw deflate, sync flush, the 4-byte tail removed).
pub fn compress_message(c: &mut Compress, input: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(input.len() / 2 + 64);
    let start_in = c.total_in();
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(1024));
        }
        let consumed = (c.total_in() - start_in) as usize;
        if c.compress_vec(&input[consumed..], out, FlushCompress::Sync).is_err() {
            break;
        }
        // The flush is complete once all input is taken and the output did not fill up.
        if (c.total_in() - start_in) as usize == input.len() && out.len() < out.capacity() {
            break;
        }
    }
    if out.ends_with(&[0, 0, 0xff, 0xff]) {
        out.truncate(out.len() - 4);
    }
    if out.is_empty() {
        // Nothing was pending: an empty stored block, as RFC 7692 7.2.3.6 writes it.
        out.push(0);
    }
}

pub fn new_compressor(agreed: &Agreed, level: u32) -> Compress {
    Compress::new_with_window_bits(Compression::new(level.min(9)), false, agreed.server_window_bits)
}

pub fn new_inflater() -> Decompress {
    Decompress::new_with_window_bits(false, 15)
}

/// Inflates a whole message into `out`, failing with 1009 past `limit` bytes.
pub fn inflate_message(
    d: &mut Decompress,
    input: &[u8],
    out: &mut Vec<u8>,
    limit: u64,
) -> Result<(), ProtocolError> {
    const TAIL: [u8; 4] = [0, 0, 0xff, 0xff];
    if input.is_empty() {
        return Ok(()); // some peers send an empty message as no bytes at all
    }
    for chunk in [input, &TAIL[..]] {
        let start_in = d.total_in();
        loop {
            if out.capacity() - out.len() < 1024 {
                out.reserve(out.capacity().clamp(4096, 1 << 20));
            }
            let consumed = (d.total_in() - start_in) as usize;
            let status = d
                .decompress_vec(&chunk[consumed..], out, FlushDecompress::Sync)
                .map_err(|_| ProtocolError::InvalidCompressedData)?;
            if out.len() as u64 > limit {
                return Err(ProtocolError::MessageTooBig);
            }
            let all_in = (d.total_in() - start_in) as usize == chunk.len();
            if status == Status::StreamEnd || (all_in && out.len() < out.capacity()) {
                break;
            }
        }
    }
    Ok(())
}

/// The inflater a connection's reader uses: its own (context takeover) or the
/// thread's shared one, reset for every message.
pub struct ConnInflater<'a> {
    pub own: &'a mut Option<Box<Decompress>>,
    pub shared: &'a mut Decompress,
    pub reset_each_message: bool,
}

impl Inflate for ConnInflater<'_> {
    fn inflate(&mut self, compressed: &[u8], out: &mut Vec<u8>, limit: u64) -> Result<(), ProtocolError> {
        if self.reset_each_message {
            self.shared.reset(false);
            let result = inflate_message(self.shared, compressed, out, limit);
            self.shared.reset(false);
            result
        } else {
            let d = self.own.get_or_insert_with(|| Box::new(new_inflater()));
            inflate_message(d, compressed, out, limit)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_agreement_is_mirrored() {
        let line = b"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_max_window_bits=10\r\n";
        let (a, value) = client_agreed_in_headers(line).unwrap();
        assert_eq!(value, "permessage-deflate; server_no_context_takeover; client_max_window_bits=10");
        // The client compresses with its own window and keeps its context; it inflates
        // the server's messages afresh each time (the server keeps no context).
        assert_eq!(
            a,
            Agreed {
                server_no_context_takeover: false,
                client_no_context_takeover: true,
                server_window_bits: 10
            }
        );
        assert_eq!(client_agreed_in_headers(b"X: y\r\n"), None);
    }

    fn neg(offer: &str, cfg: &DeflateConfig) -> Option<(Agreed, String)> {
        negotiate(&[offer.as_bytes()], cfg)
    }

    #[test]
    fn negotiation() {
        let d = DeflateConfig::default();
        let (a, r) = neg("permessage-deflate; client_max_window_bits", &d).unwrap();
        assert!(a.server_no_context_takeover && a.client_no_context_takeover);
        assert_eq!(r, "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
        let keep = DeflateConfig {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            ..d.clone()
        };
        assert_eq!(neg("permessage-deflate", &keep).unwrap().1, "permessage-deflate");
        let (a, r) = neg("permessage-deflate; server_max_window_bits=10", &keep).unwrap();
        assert_eq!(a.server_window_bits, 10);
        assert_eq!(r, "permessage-deflate; server_max_window_bits=10");
        // 8 cannot be honoured: that offer is skipped, the next one taken.
        let (a, _) = neg("permessage-deflate; server_max_window_bits=8, permessage-deflate", &keep).unwrap();
        assert_eq!(a.server_window_bits, 15);
        assert!(neg("permessage-deflate; server_max_window_bits=8", &keep).is_none());
        assert!(neg("permessage-deflate; bogus", &d).is_none());
        assert!(neg("permessage-deflate; server_max_window_bits=16", &d).is_none());
        assert!(
            neg("permessage-deflate; server_no_context_takeover; server_no_context_takeover", &d).is_none()
        );
        assert!(neg("x-webkit-deflate-frame", &d).is_none());
        let limited = DeflateConfig { client_max_window_bits: Some(10), ..keep };
        assert_eq!(
            neg("permessage-deflate; client_max_window_bits", &limited).unwrap().1,
            "permessage-deflate; client_max_window_bits=10"
        );
    }

    #[test]
    fn agreement_written_by_js() {
        let headers = b"Sec-WebSocket-Protocol: chat\r\nsec-websocket-extensions:  permessage-deflate; \
            client_max_window_bits=10; server_no_context_takeover; server_max_window_bits=8\r\nX-A: b\r\n";
        let (a, r) = agreed_in_headers(headers).unwrap();
        assert_eq!(
            a,
            Agreed {
                server_no_context_takeover: true,
                client_no_context_takeover: false,
                server_window_bits: 9
            }
        );
        assert_eq!(r, "permessage-deflate; client_max_window_bits=10; server_no_context_takeover; server_max_window_bits=8");
        let (a, r) = agreed_in_headers(b"Sec-WebSocket-Extensions: permessage-deflate\r\n").unwrap();
        assert_eq!(
            a,
            Agreed {
                server_no_context_takeover: false,
                client_no_context_takeover: false,
                server_window_bits: 15
            }
        );
        assert_eq!(r, "permessage-deflate");
        let (a, _) =
            agreed_in_headers(b"Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_max_window_bits=11\r\n")
                .unwrap();
        assert!(a.client_no_context_takeover && !a.server_no_context_takeover);
        assert_eq!(a.server_window_bits, 11);
        assert!(agreed_in_headers(b"Sec-WebSocket-Protocol: chat\r\n").is_none());
        assert!(agreed_in_headers(b"").is_none());
        assert!(agreed_in_headers(b"Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n").is_none());
    }

    #[test]
    fn round_trip_with_and_without_context() {
        let agreed = Agreed {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_window_bits: 15,
        };
        let mut c = new_compressor(&agreed, 6);
        let mut d = new_inflater();
        let msgs: Vec<Vec<u8>> = vec![
            b"hello hello hello hello".to_vec(),
            (0..100_000u32).map(|i| (i % 251) as u8).collect(),
            Vec::new(),
            b"hello hello hello hello".to_vec(),
        ];
        for m in &msgs {
            let mut z = Vec::new();
            compress_message(&mut c, m, &mut z);
            let mut out = Vec::new();
            inflate_message(&mut d, &z, &mut out, 1 << 30).unwrap();
            assert_eq!(&out, m);
        }
    }

    #[test]
    fn inflate_limit_and_garbage() {
        let agreed = Agreed {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_window_bits: 15,
        };
        let mut c = new_compressor(&agreed, 6);
        let mut z = Vec::new();
        compress_message(&mut c, &vec![0u8; 1 << 20], &mut z);
        assert!(z.len() < 10_000);
        let mut out = Vec::new();
        assert_eq!(
            inflate_message(&mut new_inflater(), &z, &mut out, 1000),
            Err(ProtocolError::MessageTooBig)
        );
        let mut out = Vec::new();
        assert_eq!(
            inflate_message(&mut new_inflater(), &[0xff, 0xff, 0xff, 0x00, 0x12], &mut out, 1000),
            Err(ProtocolError::InvalidCompressedData)
        );
    }
}
