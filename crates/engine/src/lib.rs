//! lws-engine: the sockets and threads of lws, with no napi (the root crate's
//! `binding` is the only N-API code). Frames themselves are `lws_proto`'s.
//!
//! Where things are: the loop in `worker` (its children: `listener`, `timers`,
//! `http_phase`, `websocket`, `apply`, `batches`); one socket's state machine in
//! `connection` (`connection::http` the HTTP phase, `connection::session` the
//! WebSocket session and close handshake); typed events in `events`; the queue
//! of event batches to JS in `bridge`, their record format in `wire`; what JS
//! sends in `commands`; threads and routing in `engine`.
//!
//! `wire`, `events`, `bridge`, `outbox` are pure and tested with `cargo test`; `engine`,
//! `worker`, `connection` own the sockets; `js_loop` drives a worker from the
//! JS thread's libuv loop (`threads: 0`). Imports go one way: `engine` (and
//! `js_loop`) -> `worker` -> `connection` -> `events` -> `wire`, with `shared`
//! (config, hooks, event queue, inboxes) and `commands` (what JS sends) below
//! the worker. Connections emit typed `events::Event`s; `events::EventSink`
//! alone writes them as records.

pub mod bridge;
pub mod commands;
pub mod config;
pub mod conn_ids;
pub mod connection;
pub mod connector;
pub mod engine;
pub mod entropy;
pub mod events;
pub mod fault;
pub mod js_loop;
pub mod outbox;
pub mod redis;
pub mod shared;
pub mod stats;
pub mod tls;
pub mod topics;
pub mod wire;
pub mod worker;
