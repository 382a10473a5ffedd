//! The store writer: the pipeline's second thread, which commits each group of
//! events with its stream's checkpoint in one transaction, then answers the
//! senders, and prunes old events (`--keep`).
//!
//! Committing is about half of what a line costs (SQLite's B-tree inserts);
//! on its own thread it overlaps with the parsing and publishing of the next
//! group. Events are published before their commit (the live map does not wait
//! for the disk) but a sender's answer — and with it a followed file's
//! checkpoint — comes only after the commit: exactly-once is unchanged.
//! Groups of one stream that queue up while a commit runs, and the one the
//! pipeline is parsing for it when the commit starts, are merged into one
//! transaction.

use std::collections::HashMap;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicI64};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::state::{now_micros, BatchResult, Shared};
use crate::event::Event;
use crate::source::tail::Position;
use crate::store::{self, Checkpoint, Store};

/// Groups waiting for the writer; the pipeline waits beyond that.
const QUEUE: usize = 4;

/// Events merged into one transaction at most.
const MAX_MERGED: usize = 100_000;

/// The longest a commit waits for the group the pipeline is parsing for its stream.
const MAX_MERGE_WAIT: Duration = Duration::from_millis(10);

/// How often `--keep` prunes (and once at start).
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// The events of one group of batches of one stream, and who waits for them.
pub struct Commit {
    /// The stream's checkpoint key.
    pub fingerprint: i64,
    pub events: Vec<Event>,
    /// The stream's last line number after the group.
    pub end_line: u64,
    pub lines: u64,
    /// For a followed file: where reading stopped.
    pub position: Option<Position>,
    pub acks: Vec<(oneshot::Sender<BatchResult>, BatchResult)>,
}

type Call = Box<dyn FnOnce(&mut State) + Send>;

enum Job {
    Commit(Commit),
    Call(Call),
}

/// What the writer thread owns: the store and the checkpoints of open streams.
pub struct State {
    pub store: Box<dyn Store>,
    checkpoints: HashMap<i64, Checkpoint>,
}

impl State {
    /// Loads (or creates) a stream's checkpoint; returns the line number its
    /// events continue from, `None` when the store cannot keep this stream.
    pub fn open(&mut self, fingerprint: i64, name: &str) -> store::Result<u64> {
        let st = &mut self.store;
        let cp = st
            .checkpoint(fingerprint)
            .transpose()
            .unwrap_or_else(|| st.claim(fingerprint, name, 0, 0))?;
        let line = cp.end_line;
        self.checkpoints.insert(fingerprint, cp);
        Ok(line)
    }

    pub fn forget(&mut self, fingerprint: i64) {
        self.checkpoints.remove(&fingerprint);
    }
}

/// Which stream the pipeline is parsing a group for, if any.
#[derive(Default)]
pub struct Busy {
    on: AtomicBool,
    fingerprint: AtomicI64,
}

impl Busy {
    fn is(&self, fingerprint: i64) -> bool {
        self.on.load(SeqCst) && self.fingerprint.load(SeqCst) == fingerprint
    }
}

/// The pipeline's handle on the writer thread.
pub struct Writer {
    busy: Arc<Busy>,
    tx: Option<SyncSender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    /// Moves `store` to a new writer thread.
    pub fn spawn(store: Box<dyn Store>, shared: Arc<Shared>) -> Writer {
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE);
        let state = State {
            store,
            checkpoints: HashMap::new(),
        };
        let busy = Arc::new(Busy::default());
        let b = busy.clone();
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || run(state, rx, shared, b))
            .ok();
        Writer {
            busy,
            tx: Some(tx),
            thread,
        }
    }

    /// The pipeline starts parsing a group of `fingerprint`'s stream: its
    /// commit is on its way (see [`Writer::commit`], which ends this).
    pub fn parsing(&self, fingerprint: i64) {
        self.busy.fingerprint.store(fingerprint, SeqCst);
        self.busy.on.store(true, SeqCst);
    }

    /// Queues a commit (waits while the writer is [`QUEUE`] groups behind).
    /// Without a writer thread the senders are answered at once.
    pub fn commit(&self, c: Commit) {
        let job = Job::Commit(c);
        let failed = match &self.tx {
            Some(tx) => tx.send(job).err().map(|e| e.0),
            None => Some(job),
        };
        // After the send: a writer that sees the flag down finds the job queued.
        self.busy.on.store(false, SeqCst);
        if let Some(Job::Commit(c)) = failed {
            answer(c.acks);
        }
    }

    /// Runs `f` on the writer thread after everything queued before it, and waits for its result.
    pub fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut State) -> R + Send + 'static,
    ) -> Option<R> {
        let (rtx, rrx) = std::sync::mpsc::channel();
        let job = Job::Call(Box::new(move |s: &mut State| {
            let _ = rtx.send(f(s));
        }));
        self.tx.as_ref()?.send(job).ok()?;
        rrx.recv().ok()
    }

    /// Like [`Writer::call`] without waiting; dropped when the queue is full.
    pub fn call_later(&self, f: impl FnOnce(&mut State) + Send + 'static) {
        if let Some(tx) = &self.tx {
            if let Err(TrySendError::Full(job)) = tx.try_send(Job::Call(Box::new(f))) {
                let _ = tx.send(job);
            }
        }
    }
}

impl Drop for Writer {
    /// Waits until everything queued is committed and answered.
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn answer(acks: Vec<(oneshot::Sender<BatchResult>, BatchResult)>) {
    for (ack, r) in acks {
        let _ = ack.send(r);
    }
}

fn run(mut state: State, rx: Receiver<Job>, shared: Arc<Shared>, busy: Arc<Busy>) {
    let keep = shared.cfg.keep;
    let mut next_prune = Instant::now();
    let mut carry: Option<Job> = None;
    loop {
        if let Some(keep) = keep {
            if Instant::now() >= next_prune {
                prune(&mut state, keep);
                next_prune = Instant::now() + PRUNE_EVERY;
            }
        }
        let job = match carry.take() {
            Some(j) => j,
            None if keep.is_some() => {
                match rx.recv_timeout(next_prune.saturating_duration_since(Instant::now())) {
                    Ok(j) => j,
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
            None => match rx.recv() {
                Ok(j) => j,
                Err(_) => return,
            },
        };
        let mut c = match job {
            Job::Call(f) => {
                f(&mut state);
                continue;
            }
            Job::Commit(c) => c,
        };
        // What queued up meanwhile for the same stream joins this transaction,
        // and so does the group the pipeline is parsing for it right now (up
        // to MAX_MERGE_WAIT): a commit of 4,000 lines costs 30% less per line
        // than four of 1,000 (B-tree pages and WAL frames are written once per
        // transaction), and under load the writer is the slowest stage. When
        // nothing is on its way the commit starts at once.
        let merge_until = Instant::now() + MAX_MERGE_WAIT;
        while c.events.len() < MAX_MERGED {
            let next = match rx.try_recv() {
                Ok(j) => Ok(j),
                Err(_) => match merge_until.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() && busy.is(c.fingerprint) => rx
                        .recv_timeout(left.min(Duration::from_millis(1)))
                        .map_err(|e| e == RecvTimeoutError::Disconnected),
                    _ => Err(true),
                },
            };
            match next {
                Err(false) => continue,
                Ok(Job::Commit(more)) if more.fingerprint == c.fingerprint => {
                    c.events.extend(more.events);
                    c.end_line = more.end_line;
                    c.lines += more.lines;
                    c.position = more.position.or(c.position);
                    c.acks.extend(more.acks);
                }
                Ok(other) => {
                    carry = Some(other);
                    break;
                }
                Err(_) => break,
            }
        }
        commit(&mut state, &mut c, &shared);
        answer(c.acks);
    }
}

fn commit(state: &mut State, c: &mut Commit, shared: &Shared) {
    let Some(cp) = state.checkpoints.get_mut(&c.fingerprint) else {
        return;
    };
    if c.events.is_empty() && c.position.is_none() {
        return;
    }
    let mut next = cp.clone();
    next.version += 1;
    next.end_line = c.end_line;
    next.keep_line = c.end_line + 1;
    next.warm_line = c.end_line + 1;
    next.events += c.events.len() as u64;
    next.stats.lines += c.lines;
    if let Some(p) = &c.position {
        super::feed::store_position(&mut next, p);
    }
    let events = store::Events::new(std::mem::take(&mut c.events));
    let b = store::Batch {
        checkpoint: &next,
        expected_version: cp.version,
        replace_from: None,
        events: &events,
    };
    match state.store.commit(b) {
        Ok(_) => *cp = next,
        Err(e) => {
            // Shown anyway (published before): a store outage must not blank the live map.
            eprintln!("sshmap: store: {e}");
            shared.metrics.store_errors.fetch_add(1, Relaxed);
            if let Ok(Some(fresh)) = state.store.checkpoint(cp.fingerprint) {
                *cp = fresh;
            }
        }
    }
}

fn prune(state: &mut State, keep: Duration) {
    let before = now_micros().saturating_sub(keep.as_micros().min(i64::MAX as u128) as i64);
    match state.store.prune(before) {
        Ok(0) => {}
        Ok(n) => eprintln!("sshmap: --keep: pruned {n} raw events (rollups kept)"),
        Err(e) => eprintln!("sshmap: --keep: {e}"),
    }
}
