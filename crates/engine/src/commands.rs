//! What JS sends the workers: command batches (the records of one JS flush,
//! with the payloads handed over beside them) and the other worker messages.
//! Plain data below both `engine` (which routes them) and `worker` (which
//! carries them out), so neither imports the other's types.

use std::net::TcpListener;
use std::sync::Arc;

/// Commands from one JS flush, shared by reference with the connections that
/// send from it (large payloads are written straight from `bytes`).
pub struct CommandBatch {
    pub bytes: Arc<Vec<u8>>,
    pub prepared: Vec<Arc<Vec<u8>>>,
    /// Large payloads handed over beside the commands.
    pub stashed: Vec<Stashed>,
}

/// A payload JS sent: a copy made when it was sent, or, when JS forwards bytes
/// of the event batch it was lent, a range of that batch (kept alive by the Arc).
pub struct Stashed {
    pub data: Arc<Vec<u8>>,
    pub start: usize,
    pub end: usize,
}

impl Stashed {
    pub fn copied(bytes: &[u8]) -> Stashed {
        Stashed { data: Arc::new(bytes.to_vec()), start: 0, end: bytes.len() }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }
}

pub enum WorkerMsg {
    Commands(Arc<CommandBatch>),
    Listen(TcpListener),
    /// Stop accepting; connections stay.
    Unlisten,
    /// A socket accepted elsewhere, with bytes already read from it: by another
    /// worker (false), or by Node's http server (true: any TLS was Node's).
    Adopt(std::net::TcpStream, Vec<u8>, bool),
    /// A client connection whose handshake Node did (an agent, a proxy, a unix
    /// socket): it opens at once as a client WebSocket with the id JS chose,
    /// the bytes read past the 101 and the agreed extensions (a header line).
    AdoptClient {
        id: u32,
        stream: std::net::TcpStream,
        leftover: Vec<u8>,
        extensions: Vec<u8>,
    },
    Shutdown,
}
