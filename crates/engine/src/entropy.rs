//! Masking keys for the frames a client sends (RFC 6455 5.3: from a strong
//! source of entropy, a fresh key per frame). The kernel's generator fills a
//! per-thread buffer of keys, so a frame costs no system call.

use std::cell::RefCell;

/// Keys taken from the kernel at once (one getrandom call per 1024 frames).
const KEYS_PER_FILL: usize = 1024;

struct Keys {
    buf: Box<[u8; KEYS_PER_FILL * 4]>,
    next: usize,
}

thread_local! {
    static KEYS: RefCell<Keys> = RefCell::new(Keys { buf: Box::new([0; KEYS_PER_FILL * 4]), next: KEYS_PER_FILL });
}

/// A fresh masking key.
pub fn mask_key() -> [u8; 4] {
    KEYS.with(|keys| {
        let mut keys = keys.borrow_mut();
        if keys.next == KEYS_PER_FILL {
            fill(&mut keys.buf[..]);
            keys.next = 0;
        }
        let at = keys.next * 4;
        keys.next += 1;
        [keys.buf[at], keys.buf[at + 1], keys.buf[at + 2], keys.buf[at + 3]]
    })
}

fn fill(buf: &mut [u8]) {
    let mut filled = 0;
    while filled < buf.len() {
        // SAFETY: the kernel writes at most `len` bytes into memory `buf` owns.
        let n = unsafe { libc::getrandom(buf[filled..].as_mut_ptr().cast(), buf.len() - filled, 0) };
        if n > 0 {
            filled += n as usize;
        } else if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            panic!("getrandom failed: {}", std::io::Error::last_os_error());
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_differ() {
        let keys: std::collections::HashSet<[u8; 4]> = (0..3000).map(|_| super::mask_key()).collect();
        // 3000 random 32-bit keys: a collision or two is possible, hundreds are not.
        assert!(keys.len() > 2990, "{} distinct keys of 3000", keys.len());
    }
}
