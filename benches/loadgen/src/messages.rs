//! Payloads for the echo workloads: JSON-like text records of an exact size, varied from one
//! message to the next (random ids, names, numbers) but compressible as real JSON traffic is.

use crate::Rng;

const USERS: &[&str] =
    &["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "oscar"];
const EVENTS: &[&str] =
    &["click", "view", "purchase", "scroll", "login", "logout", "search", "add_to_cart", "share"];
const TAGS: &[&str] =
    &["new", "promo", "mobile", "desktop", "eu", "us", "beta", "returning", "vip", "organic"];

fn pick<'a>(rng: &mut Rng, list: &[&'a str]) -> &'a str {
    list[(rng.next() % list.len() as u64) as usize]
}

fn record(rng: &mut Rng) -> String {
    format!(
        "{{\"id\":{},\"user\":\"{}\",\"event\":\"{}\",\"ts\":{},\"price\":{}.{:02},\"tags\":[\"{}\",\"{}\"],\"ok\":{}}}",
        rng.next() % 10_000_000,
        pick(rng, USERS),
        pick(rng, EVENTS),
        1_764_000_000_000u64 + rng.next() % 100_000_000,
        rng.next() % 1000,
        rng.next() % 100,
        pick(rng, TAGS),
        pick(rng, TAGS),
        rng.next() % 2 == 0
    )
}

/// A JSON-like text message of exactly `size` bytes (ASCII): `{"seq":N,"records":[...],"pad":"..."}`,
/// the pad made of lowercase letters so the size comes out exact.
pub fn json_like(rng: &mut Rng, seq: usize, size: usize) -> Vec<u8> {
    let mut s = format!("{{\"seq\":{seq},\"records\":[");
    let tail = "],\"pad\":\"\"}";
    let mut first = true;
    loop {
        let r = record(rng);
        if s.len() + r.len() + 1 + tail.len() > size {
            break;
        }
        if !first {
            s.push(',');
        }
        s.push_str(&r);
        first = false;
    }
    s.push_str("],\"pad\":\"");
    while s.len() + 2 < size {
        s.push((b'a' + (rng.next() % 26) as u8) as char);
    }
    s.push_str("\"}");
    let mut v = s.into_bytes();
    v.resize(size, b' '); // only for sizes too small for the frame above
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_size_and_varied() {
        let mut rng = Rng(12345);
        let a = json_like(&mut rng, 0, 1024);
        let b = json_like(&mut rng, 1, 1024);
        assert_eq!(a.len(), 1024);
        assert_eq!(b.len(), 1024);
        assert_ne!(a, b);
        assert!(std::str::from_utf8(&a).unwrap().starts_with("{\"seq\":0,\"records\":[{\"id\":"));
        assert_eq!(json_like(&mut rng, 2, 10).len(), 10);
    }
}
