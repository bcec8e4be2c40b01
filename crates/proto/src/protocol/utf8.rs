//! UTF-8 validation that works across fragment and read boundaries, failing fast
//! on the first byte that can never become valid.

/// Validates a whole buffer.
pub fn is_valid(bytes: &[u8]) -> bool {
    // simdutf8 leaves inputs under 64 bytes to core's byte-wise check; short
    // messages are mostly ASCII, which a word-at-a-time scan settles.
    (bytes.len() < 64 && bytes.is_ascii()) || simdutf8::basic::from_utf8(bytes).is_ok()
}

/// Incremental validator: feed chunks, then `finish` at the end of the message.
/// Keeps at most 3 bytes of an unfinished code point between chunks.
#[derive(Debug, Default, Clone)]
pub struct Utf8Validator {
    pending: [u8; 4],
    pending_len: u8,
}

impl Utf8Validator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns false as soon as the input cannot be valid UTF-8.
    pub fn feed(&mut self, mut chunk: &[u8]) -> bool {
        if self.pending_len > 0 {
            // Complete the code point that straddled the previous chunk.
            let have = self.pending_len as usize;
            let need = sequence_len(self.pending[0]);
            let take = (need - have).min(chunk.len());
            self.pending[have..have + take].copy_from_slice(&chunk[..take]);
            let now = have + take;
            chunk = &chunk[take..];
            match simdutf8::compat::from_utf8(&self.pending[..now]) {
                Ok(_) => self.pending_len = 0,
                Err(e) if e.error_len().is_none() => {
                    self.pending_len = now as u8;
                    return true; // still incomplete, chunk exhausted
                }
                Err(_) => return false,
            }
        }
        match simdutf8::compat::from_utf8(chunk) {
            Ok(_) => true,
            Err(e) => {
                if e.error_len().is_some() {
                    return false;
                }
                // An incomplete sequence at the end: keep it for the next chunk.
                let tail = &chunk[e.valid_up_to()..];
                self.pending[..tail.len()].copy_from_slice(tail);
                self.pending_len = tail.len() as u8;
                true
            }
        }
    }

    /// True when everything fed so far ends on a code point boundary.
    pub fn finish(&mut self) -> bool {
        let ok = self.pending_len == 0;
        self.pending_len = 0;
        ok
    }
}

fn sequence_len(first: u8) -> usize {
    match first {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_split(bytes: &[u8], split: usize) -> bool {
        let mut v = Utf8Validator::new();
        v.feed(&bytes[..split]) && v.feed(&bytes[split..]) && v.finish()
    }

    #[test]
    fn valid_at_every_split() {
        let s = "κόσμε 𝄞 hello € done".as_bytes();
        for i in 0..=s.len() {
            assert!(feed_split(s, i), "split {i}");
        }
    }

    #[test]
    fn byte_by_byte() {
        let s = "a€𝄞é".as_bytes();
        let mut v = Utf8Validator::new();
        for b in s {
            assert!(v.feed(std::slice::from_ref(b)));
        }
        assert!(v.finish());
    }

    #[test]
    fn invalid_detected_at_every_split() {
        let bad: &[&[u8]] = &[
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
            b"\xff",
            b"abc\xc0\xaf",
            b"\xf4\x90\x80\x80",
        ];
        for s in bad {
            for i in 0..=s.len() {
                assert!(!feed_split(s, i), "{s:?} split {i}");
            }
        }
    }

    #[test]
    fn incomplete_at_end_fails_on_finish() {
        let mut v = Utf8Validator::new();
        assert!(v.feed(b"ok\xe2\x82"));
        assert!(!v.finish());
    }

    #[test]
    fn fails_fast_inside_a_chunk() {
        // 0xF5 can never start a sequence: rejected before the message ends.
        let mut v = Utf8Validator::new();
        assert!(!v.feed(b"hello\xf5"));
    }
}
