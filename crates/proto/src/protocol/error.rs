//! Protocol violations, each carrying the close code the server answers with.

use std::fmt;

/// Why a peer's bytes were rejected. `close_code()` is what we send back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    /// The RSV bits set (RSV1 = 4, RSV2 = 2, RSV3 = 1) that nothing negotiated.
    ReservedBitsSet(u8),
    ReservedOpcode(u8),
    /// A frame from a client without a mask (the server role's rule).
    UnmaskedFrame,
    /// A masked frame from a server (the client role's rule).
    MaskedFrame,
    /// The 7-bit payload length of a control frame (126 or 127).
    ControlFrameTooLong(u8),
    FragmentedControlFrame,
    UnexpectedContinuation,
    /// A new data frame (its opcode) inside a fragmented message.
    ExpectedContinuation(u8),
    /// The 64-bit length field had its most significant bit set.
    InvalidLength,
    InvalidUtf8,
    MessageTooBig,
    InvalidClosePayload,
    InvalidCloseCode(u16),
    /// A message made of more frames than `ReaderLimits::max_fragments`.
    TooManyFragments,
    /// A permessage-deflate message that does not inflate.
    InvalidCompressedData,
}

impl ProtocolError {
    pub fn close_code(self) -> u16 {
        match self {
            ProtocolError::InvalidUtf8 | ProtocolError::InvalidCompressedData => 1007,
            ProtocolError::MessageTooBig | ProtocolError::TooManyFragments | ProtocolError::InvalidLength => {
                1009
            }
            _ => 1002,
        }
    }

    /// The number the error is about, sent across the bridge with `wire_id` so that
    /// JS words its messages from data, never from this type's prose: the RSV
    /// bits, the opcode, the control frame's length, the close code; 0 otherwise.
    pub fn detail(self) -> u32 {
        match self {
            ProtocolError::ReservedBitsSet(bits) => bits as u32,
            ProtocolError::ReservedOpcode(op) | ProtocolError::ExpectedContinuation(op) => op as u32,
            ProtocolError::ControlFrameTooLong(len) => len as u32,
            ProtocolError::InvalidClosePayload => 1,
            ProtocolError::InvalidCloseCode(code) => code as u32,
            // The MASK bit received (id 3 covers both mask rules; JS tells them apart by this).
            ProtocolError::MaskedFrame => 1,
            _ => 0,
        }
    }

    /// Small stable number sent across the bridge; 0 means "no error".
    pub fn wire_id(self) -> u8 {
        match self {
            ProtocolError::ReservedBitsSet(_) => 1,
            ProtocolError::ReservedOpcode(_) => 2,
            // Shares UnmaskedFrame's id; its detail (1) tells them apart (JS: WS_ERR_UNEXPECTED_MASK).
            ProtocolError::UnmaskedFrame | ProtocolError::MaskedFrame => 3,
            ProtocolError::ControlFrameTooLong(_) => 4,
            ProtocolError::FragmentedControlFrame => 5,
            ProtocolError::UnexpectedContinuation => 6,
            ProtocolError::ExpectedContinuation(_) => 7,
            ProtocolError::InvalidLength => 8,
            ProtocolError::InvalidUtf8 => 9,
            ProtocolError::MessageTooBig => 10,
            ProtocolError::InvalidClosePayload => 11,
            ProtocolError::InvalidCloseCode(_) => 12,
            ProtocolError::TooManyFragments => 13,
            ProtocolError::InvalidCompressedData => 14,
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::ReservedBitsSet(_) => write!(f, "RSV bits must be clear"),
            ProtocolError::ReservedOpcode(op) => write!(f, "invalid opcode {op}"),
            ProtocolError::UnmaskedFrame => write!(f, "client frames must be masked"),
            ProtocolError::MaskedFrame => write!(f, "server frames must not be masked"),
            ProtocolError::ControlFrameTooLong(_) => write!(f, "control frame payload over 125 bytes"),
            ProtocolError::FragmentedControlFrame => {
                write!(f, "control frames must not be fragmented")
            }
            ProtocolError::UnexpectedContinuation => {
                write!(f, "continuation frame without a message")
            }
            ProtocolError::ExpectedContinuation(_) => {
                write!(f, "new data frame inside a fragmented message")
            }
            ProtocolError::InvalidLength => {
                write!(f, "payload length > 2^53 - 1")
            }
            ProtocolError::InvalidUtf8 => write!(f, "invalid UTF-8 in text message"),
            ProtocolError::MessageTooBig => write!(f, "message exceeds maxMessageSize"),
            ProtocolError::InvalidClosePayload => write!(f, "close frame payload of 1 byte"),
            ProtocolError::InvalidCloseCode(c) => write!(f, "invalid close code {c}"),
            ProtocolError::TooManyFragments => write!(f, "message split into too many frames"),
            ProtocolError::InvalidCompressedData => write!(f, "invalid compressed data"),
        }
    }
}

impl std::error::Error for ProtocolError {}
