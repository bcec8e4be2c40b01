//! A worker's clocks: per-connection deadlines (handshake, answer and close
//! timeouts) in one ordered set, the idle sweep (no timer per socket), and
//! shutdown. `Worker` methods, kept apart from the loop.

use std::num::NonZeroU64;
use std::time::{Duration, Instant};

use super::{Worker, IDLE_TICK_MS};
use crate::connection::{Idle, Listed, Phase};

/// A connection's idle clock: tenths of a second since the worker started
/// (fine enough for timeouts of a second, and 13 years before it wraps).
pub(super) fn idle_tick(started: Instant) -> u32 {
    (started.elapsed().as_millis() / IDLE_TICK_MS) as u32
}

/// A deadline as the timers and connections keep it: nanoseconds since the
/// worker started (`started`), never 0.
pub(super) fn deadline_key(started: Instant, at: Instant) -> NonZeroU64 {
    let nanos = u64::try_from(at.saturating_duration_since(started).as_nanos()).unwrap_or(u64::MAX);
    NonZeroU64::new(nanos.max(1)).expect("at least 1")
}

/// The `Instant` of a `deadline_key`.
pub(super) fn deadline_instant(started: Instant, key: NonZeroU64) -> Instant {
    started + Duration::from_nanos(key.get())
}

impl Worker {
    pub(super) fn tick(&self) -> u32 {
        idle_tick(self.started)
    }

    pub(super) fn idle_sweep_interval(&self) -> Option<Duration> {
        self.config().idle_timeout.map(|t| (t / 8).max(Duration::from_millis(IDLE_TICK_MS as u64)))
    }

    /// Pings connections silent for half the idle timeout; closes (1001) those
    /// silent for all of it. One scan every quarter of the timeout, no timer per socket.
    pub(super) fn sweep_idle(&mut self) {
        let Some(timeout) = self.config().idle_timeout else { return };
        let now = Instant::now();
        match self.next_idle_sweep {
            Some(at) if at > now => return,
            _ => {}
        }
        self.next_idle_sweep = self.idle_sweep_interval().map(|i| now + i);
        let tick = self.tick();
        let limit = ((timeout.as_millis() / IDLE_TICK_MS) as u32).max(1);
        let mut expired = Vec::new();
        for (key, conn) in self.conns.iter_mut() {
            match conn.check_idle(tick, limit) {
                Idle::Active => {}
                Idle::Expired => expired.push(key),
                Idle::Pinged => {
                    if conn.join(Listed::Dirty) {
                        self.dirty.push(key);
                    }
                }
            }
        }
        for key in expired {
            if self.conns[key].close(1001, b"idle timeout") {
                self.arm_close_timer(key);
            }
            self.service_websocket(key);
        }
    }

    pub(super) fn set_deadline(&mut self, key: usize, after: Option<Duration>) {
        let at = after.map(|after| deadline_key(self.started, Instant::now() + after));
        if let Some(old) = self.conns[key].replace_deadline(at) {
            self.timers.remove(&(old, key));
        }
        if let Some(at) = at {
            self.timers.insert((at, key));
        }
    }

    /// The close handshake began: the peer has `close_timeout` to finish it.
    pub(super) fn arm_close_timer(&mut self, key: usize) {
        let timeout = self.config().close_timeout;
        self.set_deadline(key, Some(timeout));
    }

    pub(super) fn fire_timers(&mut self) {
        let now = deadline_key(self.started, Instant::now());
        while let Some(&(at, key)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            let Some(conn) = self.conns.get_mut(key) else {
                continue;
            };
            conn.replace_deadline(None);
            match conn.phase() {
                // A slow client (slowloris): dropped.
                Phase::Request(_) => {
                    self.shared.stats.count_handshake_timeout();
                    self.drop_socket(key)
                }
                // An unfinished answer: dropped.
                Phase::Answering => self.drop_socket(key),
                // A server that did not answer our request in time.
                Phase::Connecting(_) | Phase::AwaitResponse(_) => {
                    self.abandon_client(key, crate::wire::client_failure::TIMEOUT)
                }
                // Our close was not answered in time: the report keeps our code.
                Phase::Closing => {
                    conn.close_unanswered();
                    self.finish(key);
                }
                // JS did not reply to the peer's close in time: the engine replies
                // (the peer gets one more close timeout to take it).
                Phase::PeerClosed => {
                    if conn.answer_peer_close() {
                        self.arm_close_timer(key);
                    }
                    self.service_websocket(key);
                }
                _ => {
                    conn.terminate();
                    self.finish(key);
                }
            }
        }
    }

    // ---- shutdown ---------------------------------------------------------------

    /// Stops listening and starts closing every socket; the loop ends when all
    /// are gone or `shutdown_deadline` passes (`shutdown_finished`).
    pub(super) fn begin_shutdown(&mut self) {
        if self.shutdown_deadline.is_some() {
            return;
        }
        self.shutdown_deadline = Some(Instant::now() + self.config().close_timeout + Duration::from_secs(1));
        self.unlisten();
        if let Some(mut link) = self.redis.take() {
            link.close(self.poll.registry());
        }
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for key in keys {
            let conn = &mut self.conns[key];
            match conn.phase() {
                Phase::PeerClosed => {
                    if conn.answer_peer_close() {
                        self.arm_close_timer(key);
                    }
                    self.service_websocket(key);
                }
                Phase::Open | Phase::Failing => {
                    if conn.close(1001, b"server shutting down") {
                        self.arm_close_timer(key);
                    }
                    self.service_websocket(key);
                }
                Phase::Closing | Phase::Answering => {}
                Phase::Connecting(_) | Phase::AwaitResponse(_) => {
                    self.abandon_client(key, crate::wire::client_failure::HANG_UP)
                }
                Phase::AwaitJs(_) if conn.is_client() => {
                    self.abandon_client(key, crate::wire::client_failure::HANG_UP)
                }
                Phase::AwaitJs(_) => self.abort_request(key),
                Phase::Request(_) => self.drop_socket(key),
            }
        }
    }

    /// After a turn: true once a shutdown has finished (every socket gone, or
    /// the rest terminated at the deadline).
    pub(super) fn shutdown_finished(&mut self) -> bool {
        let Some(deadline) = self.shutdown_deadline else {
            return false;
        };
        if self.conns.is_empty() {
            return true;
        }
        if Instant::now() >= deadline {
            let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
            for key in keys {
                self.conns[key].terminate();
                self.finish(key);
            }
            return true;
        }
        false
    }
}
