//! RFC 6455 protocol pieces: pure functions and state machines, no I/O, no napi.
//! Everything here is reachable from `cargo test` and from fuzzers.

pub mod close;
pub mod error;
pub mod frame;
pub mod mask;
pub mod reader;
pub mod role;
pub mod utf8;

pub use error::ProtocolError;
pub use frame::{
    encode_head, encode_header, write_frame, FrameHeader, Opcode, MAX_HEADER_LEN, MAX_PAYLOAD_LENGTH,
};
pub use reader::{FrameReader, Inflate, ReaderEvent, ReaderLimits};
pub use role::Role;
