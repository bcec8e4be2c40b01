//! Publishing to a topic's subscribers on this worker: the message is taken
//! once from the command batch (shared by reference when large), deflated at
//! most once for the subscribers without context takeover (`PublishCoding`),
//! and queued for every subscriber, in command order with that socket's own sends, with the
//! same backpressure rules as a send. Worker 0 also keeps the Redis link
//! (`crate::redis`): it forwards publishes to the other processes and fans
//! theirs out here and, through the other workers' inboxes, there.
//! A child of `worker`: `Worker` methods.

use std::sync::Arc;

use super::{Worker, REDIS_FIRST};
use crate::commands::{CommandBatch, WorkerMsg};
use crate::connection::{Listed, Payload, PublishCoding};
use crate::events::Event;
use crate::outbox::SHARE_THRESHOLD;
use crate::redis::{LinkEvent, RedisConfig, RedisLink};
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
        let binary = rec.flags & FLAG_BINARY != 0;
        if let Some(link) = self.redis.as_mut() {
            link.publish(topic, binary, &payload[message_at..]);
        }
        self.fan_out(topic, binary, skip, bytes, base + message_at, base + payload.len());
    }

    /// Queues `bytes[start..end]` for this worker's subscribers of `topic` (but `skip`).
    fn fan_out(
        &mut self,
        topic: &[u8],
        binary: bool,
        skip: u32,
        bytes: &Arc<Vec<u8>>,
        start: usize,
        end: usize,
    ) {
        let Some(subscribers) = self.topics.subscribers(topic) else {
            return;
        };
        let message = &bytes[start..end];
        let max_backpressure = self.shared.config.max_backpressure;
        let deflate = self.shared.config.deflate.as_ref();
        let mut over_limit = Vec::new();
        // The message deflated without context, by window size: once per publish on this worker.
        let mut compressed: [Option<Arc<Vec<u8>>>; 16] = Default::default();
        for &key in subscribers {
            let conn = &mut self.conns[key];
            if conn.id() == skip {
                continue;
            }
            if max_backpressure > 0 && conn.queued_bytes() > max_backpressure {
                over_limit.push(key);
                continue;
            }
            // Mid-way through a fragmented send, the message waits for its end
            // (uncompressed then: a socket's own compressor must see messages in wire order).
            let coding = if conn.is_sending_fragments() {
                PublishCoding::Plain
            } else {
                conn.publish_coding(message.len(), deflate)
            };
            let queued = match coding {
                PublishCoding::Plain => conn.queue_whole(binary, false, shared_or_copied(bytes, start, end)),
                PublishCoding::Stateless(agreed) => {
                    let level = deflate.map_or(6, |c| c.level);
                    let data = compressed[agreed.server_window_bits as usize]
                        .get_or_insert_with(|| self.codecs.compress_shared(&agreed, level, message));
                    conn.queue_whole(binary, true, shared_or_copied(data, 0, data.len()))
                }
                PublishCoding::OwnContext => conn.queue_message(binary, message, deflate, &mut self.codecs),
            };
            if queued && conn.join(Listed::Dirty) {
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

impl Worker {
    /// A message another worker's Redis link received (WorkerMsg::Publish).
    pub(super) fn publish_from_redis(&mut self, topic: &[u8], binary: bool, data: &Arc<Vec<u8>>) {
        self.fan_out(topic, binary, 0, data, 0, data.len());
    }

    /// Worker 0: REDIS_SUBSCRIBE / REDIS_UNSUBSCRIBE (payload = the topic): this
    /// process got its first local subscriber to a topic, or lost its last.
    pub(super) fn redis_interest(&mut self, subscribe: bool, topic: &[u8]) {
        if let Some(link) = self.redis.as_mut() {
            if subscribe {
                link.subscribe(topic);
            } else {
                link.unsubscribe(topic);
            }
        }
    }

    /// Worker 0: starts the Redis link.
    pub(super) fn attach_redis(&mut self, cfg: RedisConfig) {
        self.redis = Some(RedisLink::new(cfg, REDIS_FIRST));
        self.service_redis(None);
    }

    /// The link's sockets were ready (`token`), or a turn ended (None): reconnect
    /// if due, read, write, and act on what it reports.
    pub(super) fn service_redis(&mut self, token: Option<mio::Token>) {
        let Some(link) = self.redis.as_mut() else { return };
        let cluster = link.is_cluster();
        let registry = self.poll.registry();
        let mut events = Vec::new();
        link.retry(registry, std::time::Instant::now(), &mut events);
        if let Some(token) = token {
            link.on_ready(registry, token, &mut events);
        }
        link.flush(registry, &mut events);
        for event in events {
            match event {
                LinkEvent::Up => Self::sink(&mut self.staging, &self.shared)
                    .emit(0, Event::Redis { up: true, errno: 0, reason: b"" }),
                LinkEvent::Down { reason, errno, node } => {
                    let reason = down_reason(reason, errno, node, cluster);
                    Self::sink(&mut self.staging, &self.shared)
                        .emit(0, Event::Redis { up: false, errno, reason: &reason })
                }
                LinkEvent::Message { topic, binary, data } => {
                    let data = Arc::new(data);
                    for worker in 1..self.shared.worker_count() {
                        let msg = WorkerMsg::Publish { topic: topic.clone(), binary, data: data.clone() };
                        self.shared.send_to(worker, msg);
                    }
                    self.publish_from_redis(&topic, binary, &data);
                }
            }
        }
    }
}

/// The text of a REDIS down event. One server: Redis's error text, or nothing
/// (JS names the server it was given). A cluster: the node is named too,
/// alone beside an errno, or before the text.
fn down_reason(reason: Vec<u8>, errno: i32, node: std::net::SocketAddr, cluster: bool) -> Vec<u8> {
    match (cluster, reason.is_empty(), errno) {
        (false, _, _) => reason,
        (true, true, 0) => format!("the connection to {node} closed").into_bytes(),
        (true, true, _) => node.to_string().into_bytes(),
        (true, false, _) => [format!("{node}: ").as_bytes(), &reason].concat(),
    }
}

/// `data[start..end]` by reference when large, else to be copied (small frames coalesce).
fn shared_or_copied(data: &Arc<Vec<u8>>, start: usize, end: usize) -> Payload<'_> {
    if end - start >= SHARE_THRESHOLD {
        Payload::Shared(data, start, end)
    } else {
        Payload::Bytes(&data[start..end])
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
