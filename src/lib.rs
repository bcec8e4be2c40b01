//! lws: a WebSocket server engine for Node.js.
//!
//! This crate is only the napi surface (`binding`): the protocol lives in
//! `lws-proto` (crates/proto) and the sockets in `lws-engine` (crates/engine),
//! neither of which depends on napi.

mod binding;
