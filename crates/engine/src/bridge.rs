//! The event queue from the engine threads to the JS thread.
//!
//! Engine threads append encoded events; the JS thread takes them a chunk at a
//! time (`take`). The JS thread is woken only when the queue goes from empty to
//! non-empty while JS is idle, so a busy server pays one wake per batch, not
//! one per event. No napi here: the wake-up is a callback supplied by the binding.
//!
//! Each push is numbered per worker, and the queue tells the workers which of
//! their pushes JS has finished with (`finished`): JS takes a chunk, or goes
//! idle (`finish_and_park`), only after it has handled the one before, promise
//! jobs included, and submitted its commands. A worker uses it to answer a
//! peer's close frame at once when JS has nothing of that socket left to answer
//! (see `Worker::answer_peer_closes`).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

pub type WakeFn = Box<dyn Fn() + Send + Sync>;

/// Staged events are appended to the last chunk while it is small; a large
/// staging buffer becomes a chunk of its own (moved, not copied).
const COALESCE_LIMIT: usize = 256 * 1024;

/// A worker's push: which worker, and its number among that worker's pushes (from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushMark {
    pub worker: u32,
    pub seq: u64,
}

struct Chunk {
    /// Shared so a worker can keep a handle on a batch and reuse its memory
    /// once JS is done with it (see `Worker::raw`).
    bytes: Arc<Vec<u8>>,
    /// The last push of each worker merged into this chunk.
    marks: Vec<PushMark>,
}

struct QueueState {
    chunks: std::collections::VecDeque<Chunk>,
    /// The marks of the chunk JS is handling now.
    in_js: Vec<PushMark>,
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
    /// Per worker: the number of its last push JS has finished with.
    finished: Box<[AtomicU64]>,
}

impl EventQueue {
    /// A queue for `workers` workers' pushes.
    pub fn new(wake: WakeFn, workers: usize) -> Self {
        EventQueue {
            state: Mutex::new(QueueState {
                chunks: std::collections::VecDeque::new(),
                in_js: Vec::new(),
                js_scheduled: false,
            }),
            wake,
            pending: AtomicUsize::new(0),
            throttled: AtomicBool::new(false),
            on_resume: OnceLock::new(),
            finished: (0..workers).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// The number of `worker`'s last push that JS has finished handling: the
    /// commands it wrote for those events were submitted before this moved.
    pub fn finished(&self, worker: u32) -> u64 {
        self.finished.get(worker as usize).map_or(0, |f| f.load(Ordering::SeqCst))
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
    pub fn push(&self, events: &mut Vec<u8>, mark: PushMark) {
        if events.is_empty() {
            return;
        }
        let added = events.len();
        self.enqueue(added, |chunks| {
            if let Some(last) = chunks.back_mut() {
                if let Some(bytes) =
                    Arc::get_mut(&mut last.bytes).filter(|b| b.len() + added <= COALESCE_LIMIT)
                {
                    bytes.extend_from_slice(events);
                    events.clear();
                    match last.marks.iter_mut().find(|m| m.worker == mark.worker) {
                        Some(m) => m.seq = mark.seq,
                        None => last.marks.push(mark),
                    }
                    return;
                }
            }
            chunks.push_back(Chunk { bytes: Arc::new(std::mem::take(events)), marks: vec![mark] });
        });
    }

    /// Queues a batch the caller keeps a handle on (never appended to).
    pub fn push_shared(&self, batch: Arc<Vec<u8>>, mark: PushMark) {
        self.enqueue(batch.len(), |chunks| chunks.push_back(Chunk { bytes: batch, marks: vec![mark] }));
    }

    fn enqueue(&self, added: usize, add: impl FnOnce(&mut std::collections::VecDeque<Chunk>)) {
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
    /// JS has finished with the chunk it took before (its commands are submitted).
    pub fn take(&self) -> Option<Arc<Vec<u8>>> {
        let mut st = self.state.lock().unwrap();
        self.finish_in_js(&mut st);
        let Some(Chunk { bytes: batch, marks }) = st.chunks.pop_front() else {
            st.js_scheduled = false;
            return None;
        };
        st.in_js = marks;
        self.pending.fetch_sub(batch.len(), Ordering::SeqCst);
        drop(st);
        if self.throttled.swap(false, Ordering::SeqCst) {
            if let Some(resume) = self.on_resume.get() {
                resume();
            }
        }
        Some(batch)
    }

    /// JS has finished with the chunk it took last (its commands are submitted).
    fn finish_in_js(&self, st: &mut QueueState) {
        for mark in std::mem::take(&mut st.in_js) {
            if let Some(f) = self.finished.get(mark.worker as usize) {
                f.store(mark.seq, Ordering::SeqCst);
            }
        }
    }

    /// Chunks waiting for JS now.
    pub fn queued_chunks(&self) -> usize {
        self.state.lock().unwrap().chunks.len()
    }

    /// Called on the JS thread when it stops taking chunks for this turn of its
    /// event loop, after the promise jobs and nextTick callbacks of the chunk it
    /// took last have run (from a call of its own: what they sent is submitted,
    /// so that chunk is finished). True when none is left: JS is idle again and
    /// the next push wakes it; false when some wait (JS comes back for them).
    pub fn finish_and_park(&self) -> bool {
        let mut st = self.state.lock().unwrap();
        self.finish_in_js(&mut st);
        if !st.chunks.is_empty() {
            return false;
        }
        st.js_scheduled = false;
        true
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

    fn mark(worker: u32, seq: u64) -> PushMark {
        PushMark { worker, seq }
    }

    #[test]
    fn wakes_once_per_batch() {
        let wakes = Arc::new(AtomicUsize::new(0));
        let w = wakes.clone();
        let q = EventQueue::new(
            Box::new(move || {
                w.fetch_add(1, Ordering::SeqCst);
            }),
            1,
        );
        for _ in 0..10 {
            q.push(&mut vec![1, 2, 3], mark(0, 1));
        }
        assert_eq!(wakes.load(Ordering::SeqCst), 1);
        assert_eq!(q.take().unwrap().len(), 30);
        // Still draining: a push during the drain does not wake.
        q.push(&mut vec![4], mark(0, 2));
        assert_eq!(wakes.load(Ordering::SeqCst), 1);
        assert_eq!(*q.take().unwrap(), vec![4]);
        assert!(q.take().is_none()); // now idle
        q.push(&mut vec![5], mark(0, 3));
        assert_eq!(wakes.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn parking_finishes_what_js_took_and_leaves_what_is_waiting() {
        let wakes = Arc::new(AtomicUsize::new(0));
        let w = wakes.clone();
        let q = EventQueue::new(
            Box::new(move || {
                w.fetch_add(1, Ordering::SeqCst);
            }),
            1,
        );
        q.push(&mut vec![1], mark(0, 1));
        assert_eq!(q.queued_chunks(), 1);
        assert_eq!(*q.take().unwrap(), vec![1]);
        q.push_shared(Arc::new(vec![2]), mark(0, 2)); // read while JS had the first
        assert_eq!(q.queued_chunks(), 1);
        assert!(!q.finish_and_park()); // left for the next turn: JS must come back for it
        assert_eq!(q.finished(0), 1);
        assert_eq!(*q.take().unwrap(), vec![2]);
        assert!(q.finish_and_park()); // nothing left: idle
        assert_eq!(q.finished(0), 2);
        assert_eq!(wakes.load(Ordering::SeqCst), 1);
        q.push(&mut vec![3], mark(0, 3));
        assert_eq!(wakes.load(Ordering::SeqCst), 2); // idle JS is woken by the next push
    }

    #[test]
    fn a_shared_batch_is_never_appended_to() {
        let q = EventQueue::new(Box::new(|| {}), 1);
        let shared = Arc::new(vec![2]);
        q.push_shared(Arc::clone(&shared), mark(0, 1));
        q.push(&mut vec![3], mark(0, 2));
        assert_eq!(q.pending_bytes(), 2);
        assert_eq!(*q.take().unwrap(), vec![2]);
        assert_eq!(*q.take().unwrap(), vec![3]);
        drop(shared);
    }

    #[test]
    fn a_push_is_finished_once_js_comes_back_for_more() {
        let q = EventQueue::new(Box::new(|| {}), 2);
        q.push(&mut vec![1], mark(0, 1));
        q.push(&mut vec![2], mark(1, 1));
        q.push(&mut vec![3], mark(0, 2)); // coalesced: one chunk, worker 0 up to push 2
        assert_eq!(q.take().unwrap().len(), 3);
        // JS is handling the chunk: nothing finished yet.
        assert_eq!((q.finished(0), q.finished(1)), (0, 0));
        q.push_shared(Arc::new(vec![4]), mark(1, 2));
        assert_eq!(*q.take().unwrap(), vec![4]);
        assert_eq!((q.finished(0), q.finished(1)), (2, 1));
        assert!(q.take().is_none());
        assert_eq!((q.finished(0), q.finished(1)), (2, 2));
        assert_eq!(q.finished(7), 0); // no such worker
    }
}
