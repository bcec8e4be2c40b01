//! What the engine counts for `server.stats()`: connections accepted, upgrades
//! and requests it refused (by status), handshakes that timed out. Only
//! per-connection paths count (messages and bytes are counted by JS, which
//! sees each one anyway), so relaxed atomics shared by the threads cost nothing
//! measurable, and a read sums every thread at once.

use std::sync::atomic::{AtomicU64, Ordering};

/// The statuses refusals are counted by; any other goes to the last slot.
pub const REFUSAL_STATUSES: [u16; 12] = [400, 401, 403, 404, 405, 413, 426, 429, 431, 500, 501, 503];

#[derive(Default)]
pub struct Stats {
    accepted: AtomicU64,
    handshake_timeouts: AtomicU64,
    refused: [AtomicU64; REFUSAL_STATUSES.len() + 1],
}

impl Stats {
    pub fn count_accepted(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_handshake_timeout(&self) {
        self.handshake_timeouts.fetch_add(1, Ordering::Relaxed);
    }

    /// An HTTP refusal the engine wrote (its own verdict or JS's REFUSE).
    pub fn count_refusal(&self, status: u16) {
        let slot = REFUSAL_STATUSES.iter().position(|&s| s == status).unwrap_or(REFUSAL_STATUSES.len());
        self.refused[slot].fetch_add(1, Ordering::Relaxed);
    }

    /// `[accepted, handshake_timeouts, refused by REFUSAL_STATUSES..., refused with another status]`.
    pub fn snapshot(&self) -> Vec<u64> {
        let mut out =
            vec![self.accepted.load(Ordering::Relaxed), self.handshake_timeouts.load(Ordering::Relaxed)];
        out.extend(self.refused.iter().map(|c| c.load(Ordering::Relaxed)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_status() {
        let s = Stats::default();
        s.count_accepted();
        s.count_accepted();
        s.count_refusal(426);
        s.count_refusal(418);
        s.count_handshake_timeout();
        let snap = s.snapshot();
        assert_eq!(snap[0], 2);
        assert_eq!(snap[1], 1);
        assert_eq!(snap[2 + REFUSAL_STATUSES.iter().position(|&x| x == 426).unwrap()], 1);
        assert_eq!(*snap.last().unwrap(), 1);
    }
}
