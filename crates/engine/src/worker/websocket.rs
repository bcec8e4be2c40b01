//! Servicing a WebSocket: writing what is queued, reading into the worker's
//! shared buffers (the raw buffer for plain TCP, `read_buf` under TLS),
//! feeding the connection's session, and holding off reads while JS is behind.
//! `Worker` methods, kept apart from the loop.

use std::io;

use super::timers::idle_tick;
use super::{Worker, READ_BUDGET};
use crate::connection::{Listed, Phase};
use crate::wire::{self, event};

/// A socket whose peer's close frame came and that JS has not answered.
pub(super) struct PeerClosed {
    key: usize,
    id: u32,
    /// Where its PEER_CLOSE record is in `staging`, while `push` is the worker's
    /// last push (it has not gone to JS yet): marked there when the engine answers.
    record: Option<usize>,
    push: u64,
}

/// Staged event bytes past which they go to JS before the turn ends. A turn over many busy
/// sockets could otherwise stage hundreds of MiB (16 B messages cost 32 bytes of records
/// each) as one batch: JS would spend seconds in one call, its event loop stopped, and
/// `max_js_backlog` would not see them (it counts only what was handed over).
const MAX_STAGED: usize = 1024 * 1024;
/// On the JS thread (`threads: 0`), while messages are small (`Worker::small_messages`): a
/// turn's events go to JS as one batch as soon as it ends, and JS handles a batch in one call,
/// its timers waiting (1 MiB of 16 B messages is ~58,000 calls of the 'message' listener).
/// Batches of small messages stay as small as those JS takes from engine threads, whose
/// turns are short and whose pushes the queue coalesces up to 256 KiB...
const MAX_STAGED_SMALL_ON_JS_THREAD: usize = 256 * 1024;
/// ... and one read takes at most this much (it stages up to twice its size). Not while
/// messages are large: a read cut short cuts a message, which is then assembled by copying,
/// and a few large messages are a short call.
const SMALL_MESSAGES_READ_ON_JS_THREAD: usize = 128 * 1024;
/// Messages are small while a read holds one per this many bytes, or more.
const SMALL_MESSAGE: usize = 1024;

/// Events waiting for JS past which a socket streaming a message to JS stops
/// reading (`max_js_backlog` for the others). Reading a message further ahead
/// of JS gains no speed, and each MiB of it is a MiB of the engine's memory:
/// with the streams API, what a large message costs the server is this, the
/// stream's highWaterMark and the copies JS has not yet collected.
const STREAMING_JS_BACKLOG: usize = 1024 * 1024;

impl Worker {
    pub(super) fn service_websocket(&mut self, key: usize) {
        let limits = self.limits();
        let mut taken = 0;
        loop {
            let conn = &mut self.conns[key];
            let mut sink = Self::sink(&mut self.staging, &self.shared);
            conn.write_out(&mut sink);
            if conn.is_done() {
                return self.finish(key);
            }
            conn.end_tcp_when_closed();
            if !conn.wants_input() {
                return;
            }
            // Reads go round the sockets in turn: a socket that just read would
            // otherwise read again on its next edge, ahead of the queued ones,
            // and under JS backpressure the same few would take all the room.
            if taken == 0 && conn.awaits_read_turn() {
                return;
            }
            if taken >= READ_BUDGET {
                return self.queue_ready(key);
            }
            let in_place = !conn.is_tls();
            let max_staged = if self.small_messages { MAX_STAGED_SMALL_ON_JS_THREAD } else { MAX_STAGED };
            if self.staging.len() >= max_staged {
                self.flush_events();
            }
            let backlog = self.backlog_limit(key);
            if self.shared.events.pending_bytes() > backlog {
                // One that has read this turn (its events filled the queue) waits behind
                // those that have not: they resume first (`resume_blocked`).
                if taken > 0 {
                    return self.queue_ready(key);
                }
                return self.block_on_js(key, backlog);
            }
            if in_place {
                self.make_raw_room();
            }
            let staged = self.staging.len();
            let conn = &mut self.conns[key];
            let raw_start = self.raw.len();
            let mut left = READ_BUDGET - taken;
            if self.small_messages {
                left = left.min(SMALL_MESSAGES_READ_ON_JS_THREAD);
            }
            let read = if in_place {
                conn.read_spare(&mut self.raw, left)
            } else {
                let len = left.min(self.read_buf.len());
                conn.read_into(&mut self.read_buf[..len])
            };
            match read {
                Ok(0) => {
                    conn.on_eof();
                    return self.finish(key);
                }
                Ok(n) => {
                    taken += n;
                    conn.note_input(idle_tick(self.started));
                    let mut sink = Self::sink(&mut self.staging, &self.shared);
                    let input = if in_place {
                        sink.raw = Some((self.raw.as_ptr() as usize, self.raw.len()));
                        &mut self.raw[raw_start..]
                    } else {
                        &mut self.read_buf[..n]
                    };
                    let closing = conn.on_input(input, &limits, &mut sink, &mut self.codecs);
                    self.raw_used |= sink.raw_used;
                    if self.shared.config.on_js_thread {
                        // Records, not their bytes: a large message cut by a read is staged whole.
                        let records = wire::event_records(&self.staging[staged..]).count();
                        self.small_messages = records * SMALL_MESSAGE > n;
                    }
                    if closing {
                        if matches!(conn.phase(), Phase::PeerClosed) && !self.shared.hooks().closing {
                            let id = conn.id();
                            let record = wire::event_records(&self.staging[staged..])
                                .find(|r| r.kind == event::PEER_CLOSE && r.id == id)
                                .map(|r| staged + r.payload_offset - wire::RECORD_HEADER);
                            self.peer_closed.push(PeerClosed { key, id, record, push: self.pushes });
                        }
                        self.arm_close_timer(key);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    conn.lost();
                    return self.finish(key);
                }
            }
        }
    }

    /// How far JS may fall behind before socket `key` stops reading.
    fn backlog_limit(&self, key: usize) -> usize {
        let max = self.shared.config.max_js_backlog;
        if self.conns[key].is_streaming_in() {
            max.min(STREAMING_JS_BACKLOG)
        } else {
            max
        }
    }

    /// Stops reading a socket until JS takes its backlog down to `limit`. The
    /// flag is set before the second look, so a take in between is never missed.
    fn block_on_js(&mut self, key: usize, limit: usize) {
        self.shared.events.set_throttled();
        if self.shared.events.pending_bytes() <= limit {
            return self.queue_ready(key);
        }
        let conn = &mut self.conns[key];
        if conn.join(Listed::Blocked) {
            self.blocked.push(key);
        }
    }

    /// The end of a turn: answers the close frames of peers whose events JS
    /// has all handled (what it sent in answer is in the inbox, applied first),
    /// as ws answers at once. The others wait for JS's CLOSE, or a later turn
    /// by which JS has caught up, or the close timeout.
    pub(super) fn answer_peer_closes(&mut self) {
        if self.peer_closed.is_empty() {
            return;
        }
        self.note_staged();
        // Read before draining the inbox: JS submits a batch's commands before it
        // takes the next batch, so the commands for what it finished are there now.
        let finished = self.shared.events.finished(self.index);
        // JS may be closing one of these sockets itself: its CLOSE decides.
        let js_writing = self.shared.commands_pending.load(std::sync::atomic::Ordering::SeqCst)
            || self.shared.hooks().closing;
        self.drain_inbox();
        let mut waiting = Vec::new();
        for entry in std::mem::take(&mut self.peer_closed) {
            let Some(conn) = self.conns.get_mut(entry.key).filter(|c| c.id() == entry.id) else {
                continue;
            };
            if !matches!(conn.phase(), Phase::PeerClosed) {
                continue; // answered by JS (or by the close timeout)
            }
            if js_writing || !conn.may_answer_peer_close(finished) {
                waiting.push(entry);
                continue;
            }
            if conn.answer_peer_close() {
                if let Some(at) = entry.record.filter(|_| entry.push == self.pushes) {
                    self.staging[at + 1] |= wire::FLAG_ANSWERED; // JS need not send CLOSE
                }
                self.arm_close_timer(entry.key);
                self.service_websocket(entry.key);
            }
        }
        self.peer_closed.append(&mut waiting);
    }
}
