//! Carrying out a command batch from JS: sends (compressed, shared or copied
//! into the outbox), control frames, close and terminate, pause and resume,
//! and the answers to requests shown to JS. A child of `worker`.

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::{Worker, EARLY_FLUSH, MAX_WORKERS};
use crate::commands::CommandBatch;
use crate::connection::Payload;
use crate::events::Event;
use crate::outbox::SHARE_THRESHOLD;
use crate::wire::{
    self, command, FLAG_BINARY, FLAG_DROP_QUEUED, FLAG_MORE, FLAG_NO_COMPRESS, FLAG_ON, FLAG_STASHED,
    FLAG_WHEN_WRITTEN,
};
use lws_proto::protocol::Opcode;

impl Worker {
    pub(super) fn apply(&mut self, batch: &CommandBatch) {
        let multi = self.shared.config.threads > 1;
        for rec in wire::records(&batch.bytes) {
            if rec.kind == command::PUBLISH {
                self.publish(batch, &rec);
                continue;
            }
            if multi && rec.id & (MAX_WORKERS as u32 - 1) != self.index {
                continue;
            }
            if rec.kind == command::REDIS_SUBSCRIBE || rec.kind == command::REDIS_UNSUBSCRIBE {
                self.redis_interest(rec.kind == command::REDIS_SUBSCRIBE, rec.payload);
                continue;
            }
            if rec.kind == command::CONNECT {
                self.connect(batch, &rec);
                continue;
            }
            let Some(key) = self.ids.get(rec.id) else {
                continue; // already gone: commands for it are no-ops
            };
            if catch_unwind(AssertUnwindSafe(|| self.apply_one(batch, &rec, key))).is_err() {
                self.contain_panic(key);
            }
        }
    }

    /// Carries out one command for the socket in slot `key`.
    fn apply_one(&mut self, batch: &CommandBatch, rec: &wire::Record<'_>, key: usize) {
        let binary = rec.flags & FLAG_BINARY != 0;
        let conn = &mut self.conns[key];
        let max_backpressure = self.shared.config.max_backpressure;
        if max_backpressure > 0
            && matches!(rec.kind, command::SEND | command::SEND_PREPARED)
            && conn.queued_bytes() > max_backpressure
        {
            // The client does not keep up: drop this message, or the client.
            if self.shared.config.backpressure_drop {
                Self::sink(&mut self.staging, &self.shared).emit(rec.id, Event::Dropped);
            } else {
                conn.drop_slow_consumer();
                self.finish(key);
            }
            return;
        }
        let queued = match rec.kind {
            command::SEND if rec.flags & (FLAG_MORE | FLAG_NO_COMPRESS) == 0 && conn.has_deflate() => {
                let stashed = batch.stashed.get(rec.extra as usize).filter(|_| rec.flags & FLAG_STASHED != 0);
                let data: &[u8] = match stashed {
                    Some(d) => d.bytes(),
                    None => rec.payload,
                };
                conn.queue_message(binary, data, self.shared.config.deflate.as_ref(), &mut self.codecs)
            }
            command::SEND => {
                crate::fault::panic_if_triggered(rec.payload);
                let more = rec.flags & FLAG_MORE != 0;
                let payload = payload_of(batch, rec);
                conn.queue_data(binary, more, payload)
            }
            command::SEND_PREPARED => match batch.prepared.get(rec.extra as usize) {
                Some(data) => conn.queue_data(binary, false, Payload::Shared(data, 0, data.len())),
                None => false,
            },
            command::PING => conn.queue_control(Opcode::Ping, rec.payload),
            command::PONG => conn.queue_control(Opcode::Pong, rec.payload),
            command::CLOSE => {
                if conn.close(rec.code, rec.payload) {
                    self.arm_close_timer(key);
                }
                true
            }
            command::TERMINATE if rec.flags & FLAG_WHEN_WRITTEN != 0 => {
                if conn.end_when_written() {
                    self.arm_close_timer(key);
                }
                true
            }
            command::FRAME_HEAD => match rec.payload.get(..8) {
                Some(len) => conn.begin_frame(rec.code as u8, u64::from_le_bytes(len.try_into().unwrap())),
                None => false,
            },
            command::FRAME_DATA => {
                let payload = payload_of(batch, rec);
                conn.queue_frame_piece(payload)
            }
            command::RAW => conn.queue_raw(payload_of(batch, rec)),
            command::TCP_OPTION => {
                conn.set_tcp_option(rec.code, rec.flags & FLAG_ON != 0, rec.extra);
                false
            }
            command::REPORT_WRITTEN => {
                self.written_reports.push((key, rec.id));
                true // flush_dirty writes the socket first
            }
            command::TERMINATE => {
                if conn.is_websocket() {
                    // What was sent before terminate() goes out as far as the socket takes it
                    // at once (as a write before destroy does in Node); the rest is dropped.
                    if rec.flags & FLAG_DROP_QUEUED == 0 {
                        let mut sink = Self::sink(&mut self.staging, &self.shared);
                        conn.write_out(&mut sink);
                    }
                    conn.terminate();
                    self.finish(key);
                } else if conn.is_client() {
                    self.abandon_client(key, 0);
                }
                false
            }
            command::PAUSE | command::RESUME => {
                conn.set_paused(rec.kind == command::PAUSE);
                if rec.kind == command::RESUME {
                    self.queue_ready(key);
                }
                false
            }
            command::SUBSCRIBE => {
                self.topics.subscribe(key, rec.payload);
                false
            }
            command::UNSUBSCRIBE => {
                self.topics.unsubscribe(key, rec.payload);
                false
            }
            command::ACCEPT | command::REFUSE | command::HTTP_RESPONSE | command::HAND_OFF => {
                self.answer_request(key, rec.kind, rec.code, rec.payload);
                false
            }
            _ => false,
        };
        if queued {
            let conn = &mut self.conns[key];
            if conn.queued_bytes() > EARLY_FLUSH {
                // A big batch for one socket: write as we go, so that queued bytes
                // (and maxBackpressure) mean what the kernel would not take.
                let mut sink = Self::sink(&mut self.staging, &self.shared);
                conn.write_out(&mut sink);
            }
            self.mark_dirty(key);
        }
    }
}

/// A SEND's or FRAME_DATA's payload: handed over beside the batch, shared with
/// the batch when large, or borrowed to be copied.
fn payload_of<'a>(batch: &'a CommandBatch, rec: &wire::Record<'a>) -> Payload<'a> {
    let stashed = batch.stashed.get(rec.extra as usize).filter(|_| rec.flags & FLAG_STASHED != 0);
    if let Some(s) = stashed {
        Payload::Shared(&s.data, s.start, s.end)
    } else if rec.payload.len() >= SHARE_THRESHOLD {
        Payload::Shared(&batch.bytes, rec.payload_offset, rec.payload_offset + rec.payload.len())
    } else {
        Payload::Bytes(rec.payload)
    }
}
