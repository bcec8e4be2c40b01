//! Publishing to a topic's subscribers on this worker: the message is taken
//! once from the command batch (shared by reference when large) and queued for
//! every subscriber, in command order with that socket's own sends, with the
//! same backpressure rules as a send. A child of `worker`: `Worker` methods.

use std::sync::Arc;

use super::Worker;
use crate::commands::CommandBatch;
use crate::connection::{Listed, Payload};
use crate::events::Event;
use crate::outbox::SHARE_THRESHOLD;
use crate::wire::{self, FLAG_BINARY, FLAG_STASHED};

impl Worker {
    /// PUBLISH: payload = `u32` socket id to skip (0 = none), `u16` topic
    /// length + topic, then the message.
    pub(super) fn publish(&mut self, batch: &CommandBatch, rec: &wire::Record<'_>) {
        let (bytes, base): (&Arc<Vec<u8>>, usize) = match batch.stashed.get(rec.extra as usize) {
            Some(s) if rec.flags & FLAG_STASHED != 0 => (&s.data, s.start),
            _ => (&batch.bytes, rec.payload_offset),
        };
        let payload = match batch.stashed.get(rec.extra as usize) {
            Some(s) if rec.flags & FLAG_STASHED != 0 => s.bytes(),
            _ => rec.payload,
        };
        let Some((skip, topic, message_at)) = parse_publish(payload) else {
            return;
        };
        let Some(subscribers) = self.topics.subscribers(topic) else {
            return;
        };
        let binary = rec.flags & FLAG_BINARY != 0;
        let message = &payload[message_at..];
        let (start, end) = (base + message_at, base + payload.len());
        let max_backpressure = self.shared.config.max_backpressure;
        let mut over_limit = Vec::new();
        for &key in subscribers {
            let conn = &mut self.conns[key];
            if conn.id() == skip {
                continue;
            }
            if max_backpressure > 0 && conn.queued_bytes() > max_backpressure {
                over_limit.push(key);
                continue;
            }
            let payload = if message.len() >= SHARE_THRESHOLD {
                Payload::Shared(bytes, start, end)
            } else {
                Payload::Bytes(message)
            };
            if conn.queue_data(binary, false, payload) && conn.join(Listed::Dirty) {
                self.dirty.push(key);
            }
        }
        // As for a send: a subscriber that does not keep up is skipped ('dropped') or closed.
        for key in over_limit {
            if self.shared.config.backpressure_drop {
                let id = self.conns[key].id();
                Self::sink(&mut self.staging, &self.shared).emit(id, Event::Dropped);
            } else {
                self.conns[key].drop_slow_consumer();
                self.finish(key);
            }
        }
    }
}

/// `(skip, topic, offset of the message)` from a PUBLISH payload.
fn parse_publish(p: &[u8]) -> Option<(u32, &[u8], usize)> {
    let skip = u32::from_le_bytes(p.get(..4)?.try_into().ok()?);
    let len = u16::from_le_bytes(p.get(4..6)?.try_into().ok()?) as usize;
    let topic = p.get(6..6 + len)?;
    Some((skip, topic, 6 + len))
}

#[cfg(test)]
mod tests {
    #[test]
    fn publish_payloads() {
        let mut p = 7u32.to_le_bytes().to_vec();
        p.extend_from_slice(&4u16.to_le_bytes());
        p.extend_from_slice(b"roomhello");
        assert_eq!(super::parse_publish(&p), Some((7, &b"room"[..], 10)));
        assert_eq!(super::parse_publish(&p[..7]), None);
    }
}
