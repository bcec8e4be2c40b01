//! One WebSocket connection after its handshake: the read/write loop, the
//! close handshake and the events it reports.
//!
//! Reads go into the worker's shared buffer, so an idle connection owns no
//! receive buffer; the frame reader keeps only what straddles two reads.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use tokio::net::TcpStream;

use crate::outbox::Outbox;
use crate::protocol::close::encode_close_payload;
use crate::protocol::{encode_header, FrameReader, Opcode, ReaderEvent};
use crate::wire::{event, FLAG_BINARY};
use crate::worker::Worker;

/// A payload to send: borrowed (copied into the outbox) or shared by reference.
#[derive(Clone, Copy)]
pub enum Payload<'a> {
    Bytes(&'a [u8]),
    Shared(&'a std::sync::Arc<Vec<u8>>, usize, usize),
}

/// Reads per wake-up before yielding to other connections.
const MAX_READS_PER_POLL: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// The peer broke the protocol: nothing more is read, and the close frame
    /// waits until JS has answered the messages that came before the error.
    Failing,
    /// Our close frame is queued or sent; waiting for the peer's or for EOF.
    Closing,
    Done,
}

pub struct Connection {
    pub id: u32,
    pub fd: i32,
    stream: TcpStream,
    reader: RefCell<FrameReader>,
    out: RefCell<Outbox>,
    state: Cell<State>,
    waker: RefCell<Option<Waker>>,
    paused: Cell<bool>,
    /// JS was told output is waiting (BUFFERED) and expects a DRAIN.
    reported_backlog: Cell<bool>,
    /// Queued by the current command batch, to be flushed when it ends.
    pub dirty: Cell<bool>,
    sent_close: Cell<bool>,
    shut_write: Cell<bool>,
    /// A fragmented message is being sent (next SEND frames are continuations).
    sending_fragments: Cell<bool>,
    /// Events from a peer that broke the protocol are no longer delivered.
    discard_input: Cell<bool>,
    /// What the CLOSE event will report; `report_final` once the peer's close or an error decided it.
    report_code: Cell<u16>,
    report_error: Cell<u8>,
    report_final: Cell<bool>,
    report_reason: RefCell<Vec<u8>>,
}

impl Connection {
    pub fn new(id: u32, fd: i32, stream: TcpStream) -> Self {
        Connection {
            id,
            fd,
            stream,
            reader: RefCell::new(FrameReader::new()),
            out: RefCell::new(Outbox::default()),
            state: Cell::new(State::Open),
            waker: RefCell::new(None),
            paused: Cell::new(false),
            reported_backlog: Cell::new(false),
            dirty: Cell::new(false),
            sent_close: Cell::new(false),
            shut_write: Cell::new(false),
            sending_fragments: Cell::new(false),
            discard_input: Cell::new(false),
            report_code: Cell::new(1006),
            report_error: Cell::new(0),
            report_final: Cell::new(false),
            report_reason: RefCell::new(Vec::new()),
        }
    }

    pub fn is_open(&self) -> bool {
        self.state.get() == State::Open
    }

    fn wake(&self) {
        if let Some(w) = self.waker.borrow().as_ref() {
            w.wake_by_ref();
        }
    }

    // ---- commands from JS -------------------------------------------------

    /// Queues a data frame. Returns false when the connection no longer sends.
    pub fn queue_data(&self, binary: bool, more: bool, payload: Payload<'_>) -> bool {
        if !self.can_send() {
            return false;
        }
        let opcode = if self.sending_fragments.get() {
            Opcode::Continuation
        } else if binary {
            Opcode::Binary
        } else {
            Opcode::Text
        };
        self.sending_fragments.set(more);
        let mut header = [0u8; 10];
        let len = match payload {
            Payload::Bytes(b) => b.len(),
            Payload::Shared(_, start, end) => end - start,
        };
        let n = encode_header(&mut header, !more, false, opcode, len as u64);
        let mut out = self.out.borrow_mut();
        match payload {
            Payload::Bytes(b) => out.push_bytes(&[&header[..n], b]),
            Payload::Shared(data, start, end) => out.push_shared(&header[..n], data, start, end),
        }
        true
    }

    pub fn queue_control(&self, opcode: Opcode, payload: &[u8]) -> bool {
        if !self.can_send() {
            return false;
        }
        self.push_control(opcode, &payload[..payload.len().min(125)]);
        true
    }

    fn push_control(&self, opcode: Opcode, payload: &[u8]) {
        let mut header = [0u8; 10];
        let n = encode_header(&mut header, true, false, opcode, payload.len() as u64);
        self.out.borrow_mut().push_bytes(&[&header[..n], payload]);
    }

    fn can_send(&self) -> bool {
        matches!(self.state.get(), State::Open | State::Failing)
    }

    /// Starts the close handshake (JS `close`, server shutdown, or JS
    /// confirming a protocol error after answering what came before it).
    pub fn close(&self, code: u16, reason: &[u8]) {
        if !self.can_send() {
            return;
        }
        self.send_close(code, reason);
        if !self.report_final.get() {
            self.report_code.set(code);
            *self.report_reason.borrow_mut() = reason.to_vec();
        }
        self.state.set(State::Closing);
        self.wake();
    }

    /// Drops the connection at once, without a close handshake.
    pub fn terminate(&self) {
        if self.state.get() == State::Done {
            return;
        }
        self.set_final_report(1006, b"", 0);
        self.state.set(State::Done);
        self.wake();
    }

    pub fn set_paused(&self, paused: bool) {
        self.paused.set(paused);
        if !paused {
            self.wake();
        }
    }

    fn send_close(&self, code: u16, reason: &[u8]) {
        if self.sent_close.replace(true) {
            return;
        }
        let mut payload = Vec::with_capacity(2 + reason.len());
        encode_close_payload(code, reason, &mut payload);
        self.push_control(Opcode::Close, &payload);
    }

    fn set_final_report(&self, code: u16, reason: &[u8], error: u8) {
        if self.report_final.replace(true) {
            return;
        }
        self.report_code.set(code);
        self.report_error.set(error);
        *self.report_reason.borrow_mut() = reason.to_vec();
    }

    /// Writes queued output now, without waiting for the task (used after a
    /// batch of commands so that replies leave in one write per socket).
    pub fn flush_now(&self, worker: &Worker) {
        let result = self
            .out
            .borrow_mut()
            .write_with(|s| self.stream.try_write_vectored(s));
        match result {
            Ok(()) => self.report_drain(worker),
            // Not all written: tell JS how much waits, and let the task wait for writability.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let queued = self.out.borrow().queued_bytes();
                self.reported_backlog.set(true);
                worker.stage(
                    event::BUFFERED,
                    0,
                    0,
                    self.id,
                    queued.min(u32::MAX as usize) as u32,
                    &[],
                );
                self.wake();
            }
            Err(_) => {
                self.set_final_report(1006, b"", 0);
                self.state.set(State::Done);
                self.wake();
            }
        }
    }

    /// After output that JS was told about has all been written: DRAIN.
    fn report_drain(&self, worker: &Worker) {
        if self.reported_backlog.replace(false) {
            worker.stage(event::DRAIN, 0, 0, self.id, 0, &[]);
        }
    }

    // ---- the task ---------------------------------------------------------

    /// Runs the connection until it is finished; `initial` holds bytes read
    /// together with the handshake.
    pub async fn run(&self, worker: &Worker, initial: &mut [u8]) {
        if !initial.is_empty() {
            self.on_input(initial, worker);
        }
        let mut close_deadline: Option<Pin<Box<tokio::time::Sleep>>> = None;
        std::future::poll_fn(|cx| {
            if self.poll_io(cx, worker).is_ready() {
                return Poll::Ready(());
            }
            if matches!(self.state.get(), State::Closing | State::Failing) {
                let timeout = worker.config().close_timeout;
                let sleep =
                    close_deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                if sleep.as_mut().poll(cx).is_ready() {
                    self.state.set(State::Done);
                    return Poll::Ready(());
                }
            }
            Poll::Pending
        })
        .await;
        let reason = std::mem::take(&mut *self.report_reason.borrow_mut());
        worker.stage(
            event::CLOSE,
            self.report_error.get(),
            self.report_code.get(),
            self.id,
            0,
            &reason,
        );
    }

    fn poll_io(&self, cx: &mut Context<'_>, worker: &Worker) -> Poll<()> {
        {
            let mut w = self.waker.borrow_mut();
            if !w.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *w = Some(cx.waker().clone());
            }
        }
        let mut reads = 0;
        loop {
            if self.state.get() == State::Done {
                return Poll::Ready(());
            }
            if !self.out.borrow().is_empty() {
                match self.stream.poll_write_ready(cx) {
                    Poll::Ready(Ok(())) => {
                        let result = self
                            .out
                            .borrow_mut()
                            .write_with(|s| self.stream.try_write_vectored(s));
                        match result {
                            Ok(()) => self.report_drain(worker),
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                            Err(_) => {
                                self.lost();
                                continue;
                            }
                        }
                    }
                    Poll::Ready(Err(_)) => {
                        self.lost();
                        continue;
                    }
                    Poll::Pending => {}
                }
            }
            if self.state.get() == State::Closing && self.out.borrow().is_empty() {
                if self.reader.borrow().is_closed() {
                    // Both close frames are exchanged: the server closes TCP first (RFC 6455 7.1.1).
                    self.state.set(State::Done);
                    continue;
                }
                if !self.shut_write.replace(true) {
                    let _ =
                        socket2::SockRef::from(&self.stream).shutdown(std::net::Shutdown::Write);
                }
            }
            if (self.paused.get() && self.state.get() == State::Open)
                || self.state.get() == State::Failing
            {
                return Poll::Pending;
            }
            if worker.js_is_behind(cx) {
                return Poll::Pending; // JS has a backlog: let TCP push back on the client
            }
            match self.stream.poll_read_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(_)) => self.lost(),
                Poll::Ready(Ok(())) => {
                    if reads == MAX_READS_PER_POLL {
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                    let mut buf = worker.read_buffer();
                    match self.stream.try_read(&mut buf) {
                        Ok(0) => {
                            if self.state.get() == State::Closing {
                                self.state.set(State::Done);
                            } else {
                                self.lost();
                            }
                        }
                        Ok(n) => {
                            reads += 1;
                            self.on_input(&mut buf[..n], worker);
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(_) => self.lost(),
                    }
                }
            }
        }
    }

    /// The peer went away without a close handshake (or I/O failed).
    fn lost(&self) {
        self.set_final_report(1006, b"", 0);
        self.state.set(State::Done);
    }

    fn on_input(&self, data: &mut [u8], worker: &Worker) {
        let limits = worker.reader_limits();
        let id = self.id;
        let deliver = !self.discard_input.get();
        let hooks = worker.hooks();
        let mut reader = self.reader.borrow_mut();
        let result = reader.feed(data, &limits, &mut |ev| match ev {
            ReaderEvent::Message { binary, data } if deliver => {
                worker.stage(event::MESSAGE, binary as u8 * FLAG_BINARY, 0, id, 0, data);
            }
            ReaderEvent::Fragment {
                binary,
                data,
                remaining,
            } if deliver => {
                let extra = remaining.min(u32::MAX as u64) as u32;
                worker.stage(
                    event::FRAGMENT,
                    binary as u8 * FLAG_BINARY,
                    0,
                    id,
                    extra,
                    data,
                );
            }
            ReaderEvent::Ping(payload) => {
                if self.state.get() == State::Open {
                    self.push_control(Opcode::Pong, payload);
                }
                if deliver && hooks.ping {
                    worker.stage(event::PING, 0, 0, id, 0, payload);
                }
            }
            ReaderEvent::Pong(payload) if deliver && hooks.ping => {
                worker.stage(event::PONG, 0, 0, id, 0, payload);
            }
            ReaderEvent::Close { code, reason } => {
                if !self.discard_input.get() {
                    self.set_final_report(code, reason, 0);
                }
                // Echo the peer's code (RFC 6455 5.5.1); an empty close gets an empty reply.
                self.send_close(code, b"");
                if self.state.get() == State::Open {
                    self.state.set(State::Closing);
                }
            }
            _ => {}
        });
        drop(reader);
        if let Err(err) = result {
            let reason = err.to_string();
            self.set_final_report(err.close_code(), reason.as_bytes(), err.wire_id());
            self.discard_input.set(true);
            if self.state.get() == State::Open {
                // JS answers the messages staged before this one, then sends CLOSE
                // with this code: replies and close frame leave in the right order.
                self.state.set(State::Failing);
                worker.stage(
                    event::FAIL,
                    err.wire_id(),
                    err.close_code(),
                    self.id,
                    0,
                    reason.as_bytes(),
                );
            } else {
                self.send_close(err.close_code(), reason.as_bytes());
            }
        }
    }

    /// Bytes queued for this socket.
    pub fn buffered_amount(&self) -> usize {
        self.out.borrow().queued_bytes()
    }
}
