//! Fault injection for tests: proves that a panic inside the engine closes one
//! socket with 1011 and leaves the process and every other socket alone.
//!
//! Compiled in only with the `fault-injection` feature (a separate test build,
//! `scripts/build.js --fault-injection`); release builds get an empty function.
//! There, the environment variable `LWS_TEST_PANIC_ON` names a payload: a text
//! or binary message equal to it makes the engine panic while handling that socket.

#[cfg(feature = "fault-injection")]
pub const ENV_VAR: &str = "LWS_TEST_PANIC_ON";

#[cfg(feature = "fault-injection")]
fn trigger() -> Option<&'static [u8]> {
    use std::sync::OnceLock;
    static TRIGGER: OnceLock<Option<Vec<u8>>> = OnceLock::new();
    TRIGGER
        .get_or_init(|| std::env::var_os(ENV_VAR).filter(|v| !v.is_empty()).map(|v| v.into_encoded_bytes()))
        .as_deref()
}

/// Panics if `payload` is the configured trigger.
#[cfg(feature = "fault-injection")]
#[inline]
pub fn panic_if_triggered(payload: &[u8]) {
    if let Some(t) = trigger() {
        if t == payload {
            panic!("{ENV_VAR}: injected panic");
        }
    }
}

/// Release builds: nothing to check.
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn panic_if_triggered(_payload: &[u8]) {}
