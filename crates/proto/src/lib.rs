//! lws-proto: the WebSocket protocol, pure (no I/O, no napi), tested with
//! `cargo test` and fuzzed (fuzz/ depends on this crate alone).
//!
//! `protocol`: frames, masking, the frame reader, UTF-8, close codes, errors;
//! `handshake`: the HTTP/1.1 upgrade (server side); `client_handshake`: the
//! server's response, read by a client; `deflate`: permessage-deflate; `resp`:
//! the Redis protocol, for pub/sub across processes; `redis_cluster`: hash
//! slots and the slot map, for sharded pub/sub on a Redis Cluster.

pub mod client_handshake;
pub mod deflate;
pub mod deflate_oneshot;
pub mod handshake;
pub mod protocol;
pub mod redis_cluster;
pub mod resp;
