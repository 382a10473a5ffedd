//! Where the flow hands what it produces: a [`Sink`] gets every event, and
//! after each block of lines a [`Boundary`] — what a checkpoint needs to know
//! about that point of the input.
//!
//! The sinks: the aggregate that `stats`, `map`, `chart`, `report` and
//! `timelapse` read (`analyze`), the event writer of `parse`, the store's
//! transaction sink (`store::ingest`), and the live publisher (`serve::feed`,
//! which pushes lines one by one through the same [`super::Stream`]).

use crate::event::Event;
use crate::parse::BlockStats;

/// A point between two blocks of the decompressed input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Boundary {
    /// Where the block before it started.
    pub start: u64,
    /// Where it lies (bytes of the decompressed stream).
    pub offset: u64,
    /// Number of the line that starts here.
    pub line: u64,
    /// Statistics of the block before it (too-long lines skipped included).
    pub stats: BlockStats,
    /// Year inference state here.
    pub year: Option<(i32, u8)>,
    /// Line of the oldest event still held back here: every event of the lines
    /// before it has been passed to the sink.
    pub held_since: Option<u64>,
    /// Hash and length of the block's last bytes (up to 256): a resumed read
    /// checks the input still holds them.
    pub guard_hash: i64,
    pub guard_len: u64,
    /// Journal inputs: the cursor of the block's last entry.
    pub cursor: Option<String>,
    /// The last block of a group parsed together: a good point to commit.
    pub batch_end: bool,
    /// The end of the input: every held event has been released.
    pub eof: bool,
}

/// Takes the events of a flow, in the order the flow releases them.
pub trait Sink {
    type Error;
    fn event(&mut self, ev: Event) -> Result<(), Self::Error>;
    fn boundary(&mut self, _b: &Boundary) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// A sink made of a closure over events (boundaries ignored).
pub struct Each<F>(pub F);

impl<E, F: FnMut(Event) -> Result<(), E>> Sink for Each<F> {
    type Error = E;
    fn event(&mut self, ev: Event) -> Result<(), E> {
        (self.0)(ev)
    }
}

/// Passes events on in input order (by line): a held event that its
/// connection decided late comes out where its line is, as `parse` prints and
/// the store gives back. Events wait only until the next boundary says every
/// earlier line is done, so at most about a block of events is buffered.
pub struct Ordered<S> {
    inner: S,
    waiting: std::collections::BTreeMap<u64, Event>,
}

impl<S: Sink> Ordered<S> {
    pub fn new(inner: S) -> Ordered<S> {
        Ordered {
            inner,
            waiting: std::collections::BTreeMap::new(),
        }
    }

    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Sink> Sink for Ordered<S> {
    type Error = S::Error;

    fn event(&mut self, ev: Event) -> Result<(), S::Error> {
        self.waiting.insert(ev.src.line, ev);
        Ok(())
    }

    fn boundary(&mut self, b: &Boundary) -> Result<(), S::Error> {
        let ready = match b.held_since {
            Some(h) => {
                let later = self.waiting.split_off(&h);
                std::mem::replace(&mut self.waiting, later)
            }
            None => std::mem::take(&mut self.waiting),
        };
        for (_, ev) in ready {
            self.inner.event(ev)?;
        }
        self.inner.boundary(b)
    }
}
