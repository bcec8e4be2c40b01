//! Fault injection for tests: proves that a panic inside the engine closes one
//! socket with 1011 and leaves the process and every other socket alone.
//!
//! Off unless the environment variable `LWS_TEST_PANIC_ON` is set when the
//! engine first handles a message; then a text or binary message whose payload
//! equals its value makes the engine panic while handling that socket. The
//! check costs one initialised-once load and a length compare per message.

use std::sync::OnceLock;

pub const ENV_VAR: &str = "LWS_TEST_PANIC_ON";

fn trigger() -> Option<&'static [u8]> {
    static TRIGGER: OnceLock<Option<Vec<u8>>> = OnceLock::new();
    TRIGGER
        .get_or_init(|| std::env::var_os(ENV_VAR).filter(|v| !v.is_empty()).map(|v| v.into_encoded_bytes()))
        .as_deref()
}

/// Panics if `payload` is the configured trigger.
#[inline]
pub fn panic_if_triggered(payload: &[u8]) {
    if let Some(t) = trigger() {
        if t == payload {
            panic!("{ENV_VAR}: injected panic");
        }
    }
}
