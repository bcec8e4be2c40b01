//! What a worker hands JS after a turn: the staged event records, and the raw
//! buffer plain-TCP WebSocket reads land in. A long message read whole is lent
//! to JS from that buffer with no copy (`MESSAGE_AT`): the staged records are
//! then appended to it and the whole buffer is the batch. `Worker` methods.

use std::sync::Arc;

use super::Worker;
use crate::bridge::PushMark;
use crate::wire::{self, event};

/// The raw buffer plain-TCP WebSocket reads land in (see `Worker::raw`).
pub(super) const RAW_CAPACITY: usize = 1024 * 1024;
/// Room a read should have; with less, the raw buffer goes to JS and a new one starts.
const RAW_MIN_ROOM: usize = 256 * 1024;
/// Raw buffers lent to JS that the worker keeps a handle on, to reuse them
/// once JS has let go: a new one would cost a page fault per 4 KiB touched.
const RAW_POOL: usize = 4;

impl Worker {
    /// Hands staged events to JS; true if there were any.
    pub(super) fn flush_events(&mut self) -> bool {
        if self.staging.is_empty() {
            return false;
        }
        self.note_staged();
        self.staging_noted = 0;
        self.pushes += 1;
        let mark = PushMark { worker: self.index, seq: self.pushes };
        if !std::mem::take(&mut self.raw_used) {
            self.shared.events.push(&mut self.staging, mark);
            return true;
        }
        // One buffer for JS: the RAW record (the bytes read), then the records.
        let read = (self.raw.len() - wire::RECORD_HEADER) as u32;
        let mut header = Vec::with_capacity(wire::RECORD_HEADER);
        wire::put_header(&mut header, event::RAW, 0, 0, 0, read, 0);
        self.raw[..wire::RECORD_HEADER].copy_from_slice(&header);
        self.raw.extend_from_slice(&self.staging);
        self.staging.clear();
        let next = self.spare_raw();
        let batch = Arc::new(std::mem::replace(&mut self.raw, next));
        if self.raw_lent.len() < RAW_POOL {
            self.raw_lent.push(Arc::clone(&batch));
        }
        self.shared.events.push_shared(batch, mark);
        true
    }

    /// Records, on each socket with an event staged since the last call, that
    /// the next push carries it (see `Conn::may_answer_peer_close`). A peer's
    /// close frame itself does not count: without a 'closing' listener, JS does
    /// nothing with it that the engine's reply could overtake.
    pub(super) fn note_staged(&mut self) {
        let next_push = self.pushes + 1;
        let mut last_id = 0;
        for rec in wire::event_records(&self.staging[self.staging_noted..]) {
            if rec.id == 0 || rec.id == last_id || rec.kind == event::PEER_CLOSE || rec.kind == event::CLOSE {
                continue;
            }
            last_id = rec.id;
            if let Some(conn) = self.ids.get(rec.id).and_then(|key| self.conns.get_mut(key)) {
                conn.note_event_push(next_push);
            }
        }
        self.staging_noted = self.staging.len();
    }

    /// An empty raw buffer (a lent one JS has finished with, or a new one),
    /// with room for its RAW record header.
    fn spare_raw(&mut self) -> Vec<u8> {
        let buf = (0..self.raw_lent.len())
            .find_map(|i| Arc::get_mut(&mut self.raw_lent[i]).map(|b| (i, std::mem::take(b))))
            .map(|(i, b)| {
                self.raw_lent.swap_remove(i);
                b
            })
            .unwrap_or_else(|| Vec::with_capacity(RAW_CAPACITY));
        empty_raw(buf)
    }

    /// Readies `raw` for a read: while no record points into it, it is reused
    /// from the start; after that reads append, and when room runs short the
    /// staged events go to JS with it (flushing early keeps their order).
    pub(super) fn make_raw_room(&mut self) {
        if !self.raw_used {
            self.raw.truncate(wire::RECORD_HEADER);
        } else if self.raw.capacity() - self.raw.len() < RAW_MIN_ROOM {
            self.flush_events();
        }
        if self.raw.capacity() - self.raw.len() < RAW_MIN_ROOM {
            self.raw = self.spare_raw();
        }
    }
}

/// `buf` emptied down to the RAW record header that starts every raw buffer.
pub(super) fn empty_raw(mut buf: Vec<u8>) -> Vec<u8> {
    buf.clear();
    buf.resize(wire::RECORD_HEADER, 0);
    buf
}
