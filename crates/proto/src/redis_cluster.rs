//! Redis Cluster routing, as much as sharded pub/sub needs: a channel's hash
//! slot (CRC16 of the key or of its `{hash tag}`, mod 16384), the slot map a
//! `CLUSTER SLOTS` reply gives, the `MOVED slot host:port` redirection, and the
//! errors that mean "not now" rather than "broken".
//! Pure: addresses stay text here; the engine maps them to sockets without DNS.

use crate::resp::Reply;

/// Redis Cluster's number of hash slots.
pub const SLOTS: usize = 16384;

/// CRC16-CCITT (XMODEM: polynomial 0x1021, initial 0), as the cluster spec's `crc16`.
pub fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in bytes {
        crc ^= (b as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
    }
    crc
}

/// The slot of a key (a channel, for sharded pub/sub): only the part between
/// the first `{` and the next `}` counts, when that part is not empty.
pub fn key_slot(key: &[u8]) -> u16 {
    let hashed = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            rest.iter().position(|&b| b == b'}').filter(|&len| len > 0).map(|len| &rest[..len])
        })
        .unwrap_or(key);
    crc16(hashed) % SLOTS as u16
}

/// A master and the slots it serves, from `CLUSTER SLOTS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotRange<'a> {
    pub first: u16,
    pub last: u16,
    /// The master's preferred endpoint (an IP by default, a hostname with
    /// `cluster-preferred-endpoint-type hostname`); empty (or null): the node that was asked.
    pub host: &'a [u8],
    pub port: u16,
    /// The master's IP from the networking metadata (Redis 7 lists it there when the
    /// endpoint is not the IP); None when the reply has none.
    pub ip: Option<&'a [u8]>,
}

/// The ranges of a `CLUSTER SLOTS` reply (`[[first, last, [host, port, id, {metadata}], replicas...], ...]`,
/// the metadata map flattened to `[key, value, ...]` in RESP2); None if the reply is not shaped so.
pub fn parse_slots<'a>(reply: &Reply<'a>) -> Option<Vec<SlotRange<'a>>> {
    let Reply::Array(Some(ranges)) = reply else { return None };
    let mut out = Vec::with_capacity(ranges.len());
    for range in ranges {
        let Reply::Array(Some(items)) = range else { return None };
        let [Reply::Integer(first), Reply::Integer(last), Reply::Array(Some(master)), ..] = items.as_slice()
        else {
            return None;
        };
        let (host, port, ip) = match master.as_slice() {
            [Reply::Bulk(host), Reply::Integer(port), rest @ ..] => {
                (host.unwrap_or_default(), *port, rest.get(1).and_then(metadata_ip))
            }
            _ => return None,
        };
        let slot = |n: i64| u16::try_from(n).ok().filter(|&s| (s as usize) < SLOTS);
        let (first, last) = (slot(*first)?, slot(*last)?);
        if first > last {
            return None;
        }
        out.push(SlotRange { first, last, host, port: u16::try_from(port).ok()?, ip });
    }
    Some(out)
}

/// The `ip` of a node's networking metadata (`[key, value, ...]`); other shapes give None.
fn metadata_ip<'a>(metadata: &Reply<'a>) -> Option<&'a [u8]> {
    let Reply::Array(Some(items)) = metadata else { return None };
    items.chunks_exact(2).find_map(|pair| match pair {
        [Reply::Bulk(Some(b"ip")), Reply::Bulk(Some(ip))] => Some(*ip),
        _ => None,
    })
}

/// `MOVED 3999 127.0.0.1:6381` -> (3999, host, port); None for any other error.
pub fn parse_moved(error: &[u8]) -> Option<(u16, &[u8], u16)> {
    let rest = error.strip_prefix(b"MOVED ")?;
    let space = rest.iter().position(|&b| b == b' ')?;
    let slot: u16 =
        std::str::from_utf8(&rest[..space]).ok()?.parse().ok().filter(|&s: &u16| (s as usize) < SLOTS)?;
    let endpoint = &rest[space + 1..];
    let colon = endpoint.iter().rposition(|&b| b == b':')?;
    let port = std::str::from_utf8(&endpoint[colon + 1..]).ok()?.parse().ok()?;
    Some((slot, &endpoint[..colon], port))
}

/// `CLUSTERDOWN ...` (a slot without a master, or the cluster down), `TRYAGAIN ...`
/// (a resharding in progress), `LOADING ...` (the node loading its dataset): states a
/// healthy cluster passes through, after which the same command succeeds.
pub fn is_transient(error: &[u8]) -> bool {
    let code = error.split(|&b| b == b' ').next().unwrap_or_default();
    matches!(code, b"CLUSTERDOWN" | b"TRYAGAIN" | b"LOADING")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::parse_reply;

    #[test]
    fn slots_as_the_cluster_spec_computes_them() {
        // The spec's check value, and slots `redis-cli CLUSTER KEYSLOT` gives.
        assert_eq!(crc16(b"123456789"), 0x31c3);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"), "an empty tag: the whole key");
        assert_ne!(key_slot(b"foo{}{bar}"), key_slot(b"bar"));
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
        assert_eq!(key_slot(b"foo{bar}{zap}"), key_slot(b"bar"));
    }

    #[test]
    fn slot_map_and_moved() {
        let reply = b"*2\r\n*3\r\n:0\r\n:8191\r\n*3\r\n$9\r\n127.0.0.1\r\n:7000\r\n$2\r\nid\r\n\
                      *4\r\n:8192\r\n:16383\r\n*3\r\n$0\r\n\r\n:7001\r\n$2\r\nid\r\n*3\r\n$9\r\n127.0.0.1\r\n:7002\r\n$2\r\nid\r\n";
        let (parsed, _) = parse_reply(reply, 1024).unwrap().unwrap();
        let ranges = parse_slots(&parsed).unwrap();
        assert_eq!(ranges.len(), 2);
        assert_eq!(ranges[0], SlotRange { first: 0, last: 8191, host: b"127.0.0.1", port: 7000, ip: None });
        assert_eq!(ranges[1], SlotRange { first: 8192, last: 16383, host: b"", port: 7001, ip: None });
        assert_eq!(parse_slots(&Reply::Integer(1)), None);
        assert_eq!(parse_moved(b"MOVED 3999 127.0.0.1:6381"), Some((3999, &b"127.0.0.1"[..], 6381)));
        assert_eq!(parse_moved(b"MOVED 3999 ::1:6381"), Some((3999, &b"::1"[..], 6381)));
        assert_eq!(parse_moved(b"MOVED 99999 h:1"), None);
        assert_eq!(parse_moved(b"MOVED 8579 localhost:22594"), Some((8579, &b"localhost"[..], 22594)));
        assert_eq!(parse_moved(b"MOVED 8579 :22594"), Some((8579, &b""[..], 22594)));
        assert_eq!(parse_moved(b"ERR unknown"), None);
    }

    #[test]
    fn transient_errors() {
        // As redis-server 7.0.15 answers SPUBLISH / SSUBSCRIBE to a slot no master serves.
        assert!(is_transient(b"CLUSTERDOWN Hash slot not served"));
        assert!(is_transient(b"CLUSTERDOWN The cluster is down"));
        assert!(is_transient(b"TRYAGAIN Multiple keys request during rehashing of slot"));
        assert!(is_transient(b"LOADING Redis is loading the dataset in memory"));
        assert!(is_transient(b"CLUSTERDOWN"));
        assert!(!is_transient(b"MOVED 3999 127.0.0.1:6381"));
        assert!(!is_transient(b"ASK 3999 127.0.0.1:6381"));
        assert!(!is_transient(b"ERR unknown command"));
        assert!(!is_transient(b"CLUSTERDOWNX"));
        assert!(!is_transient(b"LOADINGX y"));
        assert!(!is_transient(b""));
    }

    #[test]
    fn slot_map_with_networking_metadata() {
        // As redis-server 7.0.15 answers: `cluster-preferred-endpoint-type hostname` (one node
        // without a hostname: `?`), then `unknown-endpoint` (null), then `ip` with hostnames set.
        let hostname = b"*2\r\n*3\r\n:0\r\n:5460\r\n*4\r\n$9\r\nlocalhost\r\n:21634\r\n$2\r\nid\r\n\
                         *2\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n\
                         *3\r\n:5461\r\n:16383\r\n*4\r\n$1\r\n?\r\n:22594\r\n$2\r\nid\r\n\
                         *2\r\n$2\r\nip\r\n$9\r\n127.0.0.2\r\n";
        let (parsed, _) = parse_reply(hostname, 1024).unwrap().unwrap();
        assert_eq!(
            parse_slots(&parsed).unwrap(),
            [
                SlotRange { first: 0, last: 5460, host: b"localhost", port: 21634, ip: Some(b"127.0.0.1") },
                SlotRange { first: 5461, last: 16383, host: b"?", port: 22594, ip: Some(b"127.0.0.2") },
            ]
        );
        let unknown = b"*1\r\n*3\r\n:0\r\n:16383\r\n*4\r\n$-1\r\n:21634\r\n$2\r\nid\r\n\
                        *4\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nhostname\r\n$9\r\nlocalhost\r\n";
        let (parsed, _) = parse_reply(unknown, 1024).unwrap().unwrap();
        assert_eq!(
            parse_slots(&parsed).unwrap(),
            [SlotRange { first: 0, last: 16383, host: b"", port: 21634, ip: Some(b"127.0.0.1") }]
        );
        let ip = b"*1\r\n*3\r\n:0\r\n:16383\r\n*4\r\n$9\r\n127.0.0.1\r\n:21634\r\n$2\r\nid\r\n\
                   *2\r\n$8\r\nhostname\r\n$9\r\nlocalhost\r\n";
        let (parsed, _) = parse_reply(ip, 1024).unwrap().unwrap();
        assert_eq!(
            parse_slots(&parsed).unwrap(),
            [SlotRange { first: 0, last: 16383, host: b"127.0.0.1", port: 21634, ip: None }]
        );
    }
}
