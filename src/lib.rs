//! lws: a WebSocket server engine for Node.js.
//!
//! `protocol`, `handshake`, `wire`, `bridge`, `outbox` are pure and tested with
//! `cargo test`; `engine`, `worker`, `connection` own the sockets; `binding`
//! is the napi surface.

pub mod bridge;
pub mod config;
pub mod connection;
pub mod deflate;
pub mod engine;
pub mod fault;
pub mod handshake;
mod js_loop;
pub mod outbox;
pub mod protocol;
pub mod tls;
pub mod wire;
pub mod worker;

mod binding;
