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
///
/// Nearly every event comes in line order already: those wait in a list in
/// arrival order, and the few that a connection decided late in a second one,
/// sorted at the boundary and merged. A map keyed by line cost a node and a
/// search per event, sorting the whole list moved every event (issue #15).
pub struct Ordered<S> {
    inner: S,
    /// Events in line order.
    waiting: Vec<Event>,
    /// Events that came after a later line (held by the correlator).
    late: Vec<Event>,
}

impl<S: Sink> Ordered<S> {
    pub fn new(inner: S) -> Ordered<S> {
        Ordered {
            inner,
            waiting: Vec::new(),
            late: Vec::new(),
        }
    }

    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Sink> Sink for Ordered<S> {
    type Error = S::Error;

    fn event(&mut self, ev: Event) -> Result<(), S::Error> {
        match self.waiting.last() {
            Some(last) if ev.src.line < last.src.line => self.late.push(ev),
            _ => self.waiting.push(ev),
        }
        Ok(())
    }

    fn boundary(&mut self, b: &Boundary) -> Result<(), S::Error> {
        self.late.sort_by_key(|ev| ev.src.line);
        let h = b.held_since.unwrap_or(u64::MAX);
        let nw = self.waiting.partition_point(|ev| ev.src.line < h);
        let nl = self.late.partition_point(|ev| ev.src.line < h);
        let mut result = Ok(());
        let ready = merge_by(
            self.waiting.drain(..nw),
            self.late.drain(..nl),
            |ev: &Event| ev.src.line,
        );
        for ev in ready {
            if result.is_ok() {
                result = self.inner.event(ev);
            }
        }
        result?;
        self.inner.boundary(b)
    }
}

/// Two sequences, each in `key` order, merged into one in that order; on
/// equal keys `a`'s item first. (The few late items of a list that is nearly
/// in order, sorted apart, go back in this way: `Ordered`, the stores' rows.)
pub(crate) fn merge_by<T, K: Ord>(
    a: impl IntoIterator<Item = T>,
    b: impl IntoIterator<Item = T>,
    key: impl Fn(&T) -> K,
) -> impl Iterator<Item = T> {
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(x), Some(y)) if key(y) < key(x) => b.next(),
        (Some(_), _) => a.next(),
        (None, _) => b.next(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;

    fn ev(line: u64) -> Event {
        Event::at_line(line)
    }

    /// Events come out by line, up to the boundary's oldest held line, however
    /// they arrived; the rest wait for a later boundary.
    #[test]
    fn ordered_releases_by_line_up_to_the_held_line() {
        let mut out = Vec::new();
        let mut o = Ordered::new(Each(|e: Event| {
            out.push(e.src.line);
            Ok::<(), ()>(())
        }));
        for l in [1, 2, 5, 3, 7, 4, 8, 6] {
            o.event(ev(l)).unwrap();
        }
        let at = |held_since| Boundary {
            held_since,
            ..Boundary::default()
        };
        o.boundary(&at(Some(5))).unwrap();
        o.event(ev(9)).unwrap();
        o.event(ev(0)).unwrap();
        o.boundary(&at(Some(9))).unwrap();
        o.event(ev(10)).unwrap();
        o.boundary(&at(None)).unwrap();
        drop(o);
        assert_eq!(out, [1, 2, 3, 4, 0, 5, 6, 7, 8, 9, 10]);
    }

    /// A failing inner sink stops the release and reports its error.
    #[test]
    fn ordered_reports_the_inner_error() {
        let mut o = Ordered::new(Each(
            |e: Event| if e.src.line == 2 { Err(2) } else { Ok(()) },
        ));
        o.event(ev(2)).unwrap();
        o.event(ev(1)).unwrap();
        assert_eq!(o.boundary(&Boundary::default()), Err(2));
    }
}
