//! RESP2, the Redis protocol, as much as a pub/sub link needs: commands out
//! (arrays of bulk strings) and replies in (simple strings, errors, integers,
//! bulk strings, arrays), parsed incrementally without copying. Pure.

/// One reply, borrowed from the buffer it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply<'a> {
    Simple(&'a [u8]),
    Error(&'a [u8]),
    Integer(i64),
    /// None: the null bulk string.
    Bulk(Option<&'a [u8]>),
    /// None: the null array.
    Array(Option<Vec<Reply<'a>>>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RespError {
    /// Not RESP: the link must be dropped.
    Malformed,
    /// A bulk string or array over the limit.
    TooLarge,
}

/// Appends a command: `*N\r\n` then `$len\r\nbytes\r\n` per argument.
pub fn encode_command(args: &[&[u8]], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// Parses one reply at the start of `buf`: `Ok(None)` while it is incomplete,
/// else the reply and the bytes it took. Bulk strings over `max_bulk` bytes and
/// arrays over 1,024 elements (a pub/sub link gets 3- or 4-element ones) are refused.
pub fn parse_reply(buf: &[u8], max_bulk: usize) -> Result<Option<(Reply<'_>, usize)>, RespError> {
    parse_at(buf, 0, max_bulk, 0)
}

const MAX_ARRAY: i64 = 1024;
const MAX_DEPTH: usize = 4;

fn parse_at(
    buf: &[u8],
    at: usize,
    max_bulk: usize,
    depth: usize,
) -> Result<Option<(Reply<'_>, usize)>, RespError> {
    let Some(&kind) = buf.get(at) else { return Ok(None) };
    let Some(line_end) = find_crlf(buf, at + 1) else {
        // A line longer than any legitimate one (a number, or an error text) is garbage.
        return if buf.len() - at > 64 * 1024 { Err(RespError::Malformed) } else { Ok(None) };
    };
    let line = &buf[at + 1..line_end];
    let next = line_end + 2;
    match kind {
        b'+' => Ok(Some((Reply::Simple(line), next))),
        b'-' => Ok(Some((Reply::Error(line), next))),
        b':' => Ok(Some((Reply::Integer(number(line)?), next))),
        b'$' => {
            let len = number(line)?;
            if len == -1 {
                return Ok(Some((Reply::Bulk(None), next)));
            }
            let len = usize::try_from(len).map_err(|_| RespError::Malformed)?;
            if len > max_bulk {
                return Err(RespError::TooLarge);
            }
            let end = next + len;
            if buf.len() < end + 2 {
                return Ok(None);
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err(RespError::Malformed);
            }
            Ok(Some((Reply::Bulk(Some(&buf[next..end])), end + 2)))
        }
        b'*' => {
            let n = number(line)?;
            if n == -1 {
                return Ok(Some((Reply::Array(None), next)));
            }
            if !(0..=MAX_ARRAY).contains(&n) || depth >= MAX_DEPTH {
                return Err(RespError::TooLarge);
            }
            let mut items = Vec::with_capacity(n as usize);
            let mut pos = next;
            for _ in 0..n {
                match parse_at(buf, pos, max_bulk, depth + 1)? {
                    Some((item, after)) => {
                        items.push(item);
                        pos = after;
                    }
                    None => return Ok(None),
                }
            }
            Ok(Some((Reply::Array(Some(items)), pos)))
        }
        _ => Err(RespError::Malformed),
    }
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?.windows(2).position(|w| w == b"\r\n").map(|i| from + i)
}

fn number(line: &[u8]) -> Result<i64, RespError> {
    std::str::from_utf8(line).ok().and_then(|s| s.parse().ok()).ok_or(RespError::Malformed)
}

/// A pub/sub message: `message` (SUBSCRIBE) or `smessage` (SSUBSCRIBE) with its
/// channel and payload; None for any other reply (confirmations, PONG, ...).
pub fn as_message<'a>(reply: &Reply<'a>) -> Option<(&'a [u8], &'a [u8])> {
    let Reply::Array(Some(items)) = reply else { return None };
    match items.as_slice() {
        [Reply::Bulk(Some(kind)), Reply::Bulk(Some(channel)), Reply::Bulk(Some(payload))]
            if *kind == b"message" || *kind == b"smessage" =>
        {
            Some((channel, payload))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        let mut out = Vec::new();
        encode_command(&[b"SUBSCRIBE", b"lws:room"], &mut out);
        assert_eq!(out, b"*2\r\n$9\r\nSUBSCRIBE\r\n$8\r\nlws:room\r\n");
    }

    #[test]
    fn replies() {
        assert_eq!(parse_reply(b"+OK\r\n", 10), Ok(Some((Reply::Simple(b"OK"), 5))));
        assert_eq!(parse_reply(b"-WRONGPASS no\r\n", 10), Ok(Some((Reply::Error(b"WRONGPASS no"), 15))));
        assert_eq!(parse_reply(b":42\r\n", 10), Ok(Some((Reply::Integer(42), 5))));
        assert_eq!(parse_reply(b"$-1\r\n", 10), Ok(Some((Reply::Bulk(None), 5))));
        let msg = b"*3\r\n$7\r\nmessage\r\n$8\r\nlws:room\r\n$5\r\nhello\r\n";
        let (reply, used) = parse_reply(msg, 100).unwrap().unwrap();
        assert_eq!(used, msg.len());
        assert_eq!(as_message(&reply), Some((&b"lws:room"[..], &b"hello"[..])));
        let confirm = b"*3\r\n$9\r\nsubscribe\r\n$8\r\nlws:room\r\n:1\r\n";
        assert_eq!(as_message(&parse_reply(confirm, 100).unwrap().unwrap().0), None);
    }

    #[test]
    fn incomplete_and_bad() {
        let msg = b"*3\r\n$7\r\nmessage\r\n$8\r\nlws:room\r\n$5\r\nhello\r\n";
        for i in 0..msg.len() {
            assert_eq!(parse_reply(&msg[..i], 100), Ok(None), "{i}");
        }
        assert_eq!(parse_reply(b"$5\r\nhelloXX", 100), Err(RespError::Malformed));
        assert_eq!(parse_reply(b"$500\r\n", 100), Err(RespError::TooLarge));
        assert_eq!(parse_reply(b"*99999\r\n", 100), Err(RespError::TooLarge));
        assert_eq!(parse_reply(b"?\r\n", 100), Err(RespError::Malformed));
        assert_eq!(parse_reply(b":x\r\n", 100), Err(RespError::Malformed));
        assert_eq!(parse_reply(b"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", 100), Err(RespError::TooLarge));
    }
}
