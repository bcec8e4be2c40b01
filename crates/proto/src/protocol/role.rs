//! Which end of the connection we are: one value drives the role rules
//! (RFC 6455 5.1, 5.3, 7.1.1), as tungstenite's `WebSocketContext` does.

use super::ProtocolError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// Reads masked frames only, writes unmasked ones, sends its FIN first after
    /// answering a close. What the engine runs.
    #[default]
    Server,
    /// Reads unmasked frames only, masks every frame it writes with a fresh key.
    Client,
}

impl Role {
    /// Whether frames read in this role must carry a mask (the server's rule);
    /// frames that break the rule are refused with `mask_error()`.
    #[inline]
    pub fn reads_masked(self) -> bool {
        self == Role::Server
    }

    /// The error for a frame whose MASK bit breaks this role's rule.
    #[inline]
    pub fn mask_error(self) -> ProtocolError {
        match self {
            Role::Server => ProtocolError::UnmaskedFrame,
            Role::Client => ProtocolError::MaskedFrame,
        }
    }

    /// Whether frames written in this role are masked (a client masks every one).
    #[inline]
    pub fn masks_output(self) -> bool {
        self == Role::Client
    }

    /// The mask for the next outgoing frame: none for a server; for a client a
    /// fresh key from `fresh_key` (the caller's entropy: this crate does no I/O).
    #[inline]
    pub fn frame_mask(self, fresh_key: impl FnOnce() -> [u8; 4]) -> Option<[u8; 4]> {
        self.masks_output().then(fresh_key)
    }
}
