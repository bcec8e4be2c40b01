//! Engine settings, validated on the JS side and passed in once.

use lws_proto::deflate::DeflateConfig;
use lws_proto::handshake::HandshakeLimits;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Config {
    /// Only upgrades to this path are accepted (others get 404); None accepts any.
    pub path: Option<String>,
    pub max_message_size: u64,
    /// Largest `fragment` event when JS streams messages.
    pub buffer_size: usize,
    pub handshake: HandshakeLimits,
    /// A client that has not finished its request by then is dropped.
    pub handshake_timeout: Duration,
    /// How long a close handshake may take before the socket is dropped.
    pub close_timeout: Duration,
    /// TCP keepalive: idle time, probe interval, probe count.
    pub keepalive: Option<(Duration, Duration, u32)>,
    /// Largest plain HTTP request body delivered to the `http` event.
    pub max_http_body: usize,
    pub threads: usize,
    /// The one worker runs on the JS thread's event loop instead of a thread
    /// of its own (`threads: 0`), as uWebSockets.js does: no hand-off between
    /// threads, but the JS thread does the socket I/O, and none is done while JS is busy.
    pub on_js_thread: bool,
    /// Events waiting for JS, in bytes, beyond which connections stop reading.
    pub max_js_backlog: usize,
    /// A WebSocket silent this long is closed (1001); pinged at half of it. None: off.
    pub idle_timeout: Option<Duration>,
    /// Queued output in bytes beyond which a send drops the client (or the message). 0: no limit.
    pub max_backpressure: usize,
    /// Drop messages instead of the client when over `max_backpressure`.
    pub backpressure_drop: bool,
    /// permessage-deflate offered to clients; None: never negotiated.
    pub deflate: Option<DeflateConfig>,
    /// Pings are answered by the engine; false leaves it to JS (ws's `autoPong: false`).
    pub auto_pong: bool,
    /// Text messages are not checked for UTF-8 (ws's `skipUTF8Validation`).
    pub skip_utf8_validation: bool,
    /// Connections whose request the engine does not upgrade itself (plain HTTP,
    /// malformed or refused upgrades) are handed to JS with their descriptor and
    /// the bytes read (the `httpServer` option) instead of being answered here.
    pub hand_off_http: bool,
    /// TLS for accepted connections (the `ssl` option).
    pub tls: Option<std::sync::Arc<crate::tls::ServerTls>>,
    /// Frames, not messages, go to JS (FRAME_HEAD, FRAME_DATA: `lws/walve`);
    /// `max_message_size` then bounds each frame. Never with permessage-deflate.
    pub frame_events: bool,
    /// With 'fragment' events: a message sent in several frames streams from its first
    /// frame, a piece ending with each frame (`lws/nodejs-websocket`).
    pub fragment_per_frame: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            path: None,
            max_message_size: 16 * 1024 * 1024,
            buffer_size: 64 * 1024,
            handshake: HandshakeLimits::default(),
            handshake_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(5),
            keepalive: None,
            max_http_body: 1024 * 1024,
            threads: 1,
            on_js_thread: false,
            max_js_backlog: 16 * 1024 * 1024,
            idle_timeout: None,
            max_backpressure: 0,
            backpressure_drop: false,
            deflate: None,
            auto_pong: true,
            skip_utf8_validation: false,
            hand_off_http: false,
            tls: None,
            frame_events: false,
            fragment_per_frame: false,
        }
    }
}
