//! The event queue from the engine threads to the JS thread.
//!
//! Engine threads append encoded events; the JS thread takes everything queued
//! in one go. The JS thread is woken only when the queue goes from empty to
//! non-empty while JS is idle, so a busy server pays one wake per batch, not
//! one per event. No napi here: the wake-up is a callback supplied by the binding.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

pub type WakeFn = Box<dyn Fn() + Send + Sync>;

/// Staged events are appended to the last chunk while it is small; a large
/// staging buffer becomes a chunk of its own (moved, not copied).
const COALESCE_LIMIT: usize = 256 * 1024;

struct QueueState {
    /// Shared so a worker can keep a handle on a batch and reuse its memory
    /// once JS is done with it (see `Worker::raw`).
    chunks: std::collections::VecDeque<Arc<Vec<u8>>>,
    /// JS is draining (or has been asked to): pushes need not wake it.
    js_scheduled: bool,
}

pub struct EventQueue {
    state: Mutex<QueueState>,
    wake: WakeFn,
    /// Bytes queued and not yet taken, readable without the lock.
    pending: AtomicUsize,
    /// Some worker stopped reading until JS takes the queue.
    throttled: AtomicBool,
    /// Called when JS takes the queue while throttled (wakes the workers).
    on_resume: OnceLock<WakeFn>,
}

impl EventQueue {
    pub fn new(wake: WakeFn) -> Self {
        EventQueue {
            state: Mutex::new(QueueState { chunks: std::collections::VecDeque::new(), js_scheduled: false }),
            wake,
            pending: AtomicUsize::new(0),
            throttled: AtomicBool::new(false),
            on_resume: OnceLock::new(),
        }
    }

    /// Sets what `take` calls when workers wait for JS to catch up.
    pub fn set_on_resume(&self, f: WakeFn) {
        let _ = self.on_resume.set(f);
    }

    /// A worker paused reading because the queue is over its limit.
    pub fn set_throttled(&self) {
        self.throttled.store(true, Ordering::SeqCst);
    }

    /// Moves `events` (a worker's staged records) into the queue.
    pub fn push(&self, events: &mut Vec<u8>) {
        if events.is_empty() {
            return;
        }
        let added = events.len();
        self.enqueue(added, |chunks| match chunks.back_mut().and_then(Arc::get_mut) {
            Some(last) if last.len() + added <= COALESCE_LIMIT => {
                last.extend_from_slice(events);
                events.clear();
            }
            _ => chunks.push_back(Arc::new(std::mem::take(events))),
        });
    }

    /// Queues a batch the caller keeps a handle on (never appended to).
    pub fn push_shared(&self, batch: Arc<Vec<u8>>) {
        self.enqueue(batch.len(), |chunks| chunks.push_back(batch));
    }

    fn enqueue(&self, added: usize, add: impl FnOnce(&mut std::collections::VecDeque<Arc<Vec<u8>>>)) {
        let wake = {
            let mut st = self.state.lock().unwrap();
            add(&mut st.chunks);
            self.pending.fetch_add(added, Ordering::SeqCst);
            !std::mem::replace(&mut st.js_scheduled, true)
        };
        if wake {
            (self.wake)();
        }
    }

    /// Called on the JS thread: the oldest chunk of events, or `None` when empty,
    /// in which case JS counts as idle again and the next push wakes it.
    pub fn take(&self) -> Option<Arc<Vec<u8>>> {
        let mut st = self.state.lock().unwrap();
        let Some(batch) = st.chunks.pop_front() else {
            st.js_scheduled = false;
            return None;
        };
        self.pending.fetch_sub(batch.len(), Ordering::SeqCst);
        drop(st);
        if self.throttled.swap(false, Ordering::SeqCst) {
            if let Some(resume) = self.on_resume.get() {
                resume();
            }
        }
        Some(batch)
    }

    /// JS stopped draining with events left (to let its event loop turn): wake it again.
    pub fn reschedule(&self) {
        (self.wake)();
    }

    pub fn pending_bytes(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wakes_once_per_batch() {
        let wakes = Arc::new(AtomicUsize::new(0));
        let w = wakes.clone();
        let q = EventQueue::new(Box::new(move || {
            w.fetch_add(1, Ordering::SeqCst);
        }));
        for _ in 0..10 {
            q.push(&mut vec![1, 2, 3]);
        }
        assert_eq!(wakes.load(Ordering::SeqCst), 1);
        assert_eq!(q.take().unwrap().len(), 30);
        // Still draining: a push during the drain does not wake.
        q.push(&mut vec![4]);
        assert_eq!(wakes.load(Ordering::SeqCst), 1);
        assert_eq!(*q.take().unwrap(), vec![4]);
        assert!(q.take().is_none()); // now idle
        q.push(&mut vec![5]);
        assert_eq!(wakes.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_shared_batch_is_never_appended_to() {
        let q = EventQueue::new(Box::new(|| {}));
        let shared = Arc::new(vec![2]);
        q.push_shared(Arc::clone(&shared));
        q.push(&mut vec![3]);
        assert_eq!(q.pending_bytes(), 2);
        assert_eq!(*q.take().unwrap(), vec![2]);
        assert_eq!(*q.take().unwrap(), vec![3]);
        drop(shared);
    }
}
