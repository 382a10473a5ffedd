//! Where the flow hands what it produces: a [`Sink`] gets every event, and
//! after each block of lines a [`Boundary`] — what a checkpoint needs to know
//! about that point of the input.
//!
//! The sinks: the aggregate that `stats`, `map`, `chart`, `report` and
//! `timelapse` read (`analyze`), the event writer of `parse`, the store's
//! transaction sink (`store::ingest`), and the live publisher (`serve::feed`,
//! which pushes lines one by one through the same [`super::Stream`]).

use crate::event::Event;
use crate::geo::Enricher;
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
    /// Several events in flow order, all taken out of `evs` (left empty, its
    /// capacity kept or not). One by one unless the sink takes a list at once:
    /// an event moved is ~220 bytes copied, and a list handed on whole copies
    /// none (issue #15). After an error the rest are dropped.
    fn events(&mut self, evs: &mut Vec<Event>) -> Result<(), Self::Error> {
        let mut result = Ok(());
        for ev in evs.drain(..) {
            if result.is_ok() {
                result = self.event(ev);
            }
        }
        result
    }
    /// [`Sink::events`] of events the flow has selected but not enriched:
    /// each gets its `scope` and `geo` from `enricher`, then the list goes to
    /// `events`. A sink that wants only the answer per address may ask the
    /// enricher itself, once an address (the aggregate: issue #15).
    fn enrich_events(
        &mut self,
        evs: &mut Vec<Event>,
        enricher: &mut Enricher<'_>,
    ) -> Result<(), Self::Error> {
        for ev in evs.iter_mut() {
            enricher.enrich(ev);
        }
        self.events(evs)
    }
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

    fn events(&mut self, evs: &mut Vec<Event>) -> Result<(), S::Error> {
        let mut last = self.waiting.last().map_or(0, |ev| ev.src.line);
        let in_order = evs.iter().all(|ev| {
            let ok = ev.src.line >= last;
            last = ev.src.line;
            ok
        });
        if in_order {
            // A log without held events: the list in one copy.
            self.waiting.append(evs);
            return Ok(());
        }
        self.waiting.reserve(evs.len());
        for ev in evs.drain(..) {
            self.event(ev)?;
        }
        Ok(())
    }

    fn boundary(&mut self, b: &Boundary) -> Result<(), S::Error> {
        let h = b.held_since.unwrap_or(u64::MAX);
        let nw = self.waiting.partition_point(|ev| ev.src.line < h);
        let rest = self.waiting.split_off(nw);
        let mut ready = std::mem::replace(&mut self.waiting, rest);
        if !self.late.is_empty() {
            self.late.sort_by_key(|ev| ev.src.line);
            let nl = self.late.partition_point(|ev| ev.src.line < h);
            insert_sorted(&mut ready, self.late.drain(..nl));
        }
        self.inner.events(&mut ready)?;
        self.inner.boundary(b)
    }
}

/// Puts the `late` events (in line order) into `list` (in line order), each
/// after the events of its line and before the later ones. The list is cut
/// at each place (last first) and put back together around them: runs of
/// events move in bulk, not one by one (issue #15).
fn insert_sorted(list: &mut Vec<Event>, late: impl DoubleEndedIterator<Item = Event>) {
    let mut pieces = Vec::new();
    for ev in late.rev() {
        let at = list.partition_point(|e| e.src.line <= ev.src.line);
        pieces.push((ev, list.split_off(at)));
    }
    for (ev, mut after) in pieces.into_iter().rev() {
        list.push(ev);
        list.append(&mut after);
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
    use std::sync::Arc;

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

    /// Lists (`events`, the flow's way) and single events give the same
    /// release: by line, each late event after the in-order ones of its line
    /// (as `merge_by`), up to each boundary's oldest held line.
    #[test]
    fn ordered_lists_release_as_single_events() {
        let mut rnd = crate::testing::xorshift(0x2545_f491_4f6c_dd1d);
        let mut next = move |n: u64| rnd() % n;
        for _ in 0..200 {
            // Mostly rising lines, some late (smaller) ones, ties included.
            let mut line = 0u64;
            let rounds: Vec<(Vec<u64>, Option<u64>)> = (0..1 + next(5))
                .map(|_| {
                    let evs: Vec<u64> = (0..next(40))
                        .map(|_| {
                            if next(6) == 0 {
                                line.saturating_sub(next(10))
                            } else {
                                line += next(3);
                                line
                            }
                        })
                        .collect();
                    let held = (next(3) != 0).then(|| line.saturating_sub(next(8)));
                    (evs, held)
                })
                .collect();
            let run = |as_list: bool| {
                let mut out = Vec::new();
                let mut o = Ordered::new(Each(|e: Event| {
                    out.push(e.src.line);
                    Ok::<(), ()>(())
                }));
                for (evs, held) in &rounds {
                    let mut list: Vec<Event> = evs.iter().map(|&l| ev(l)).collect();
                    if as_list {
                        o.events(&mut list).unwrap();
                        assert!(list.is_empty());
                    } else {
                        for e in list {
                            o.event(e).unwrap();
                        }
                    }
                    let b = Boundary {
                        held_since: *held,
                        ..Boundary::default()
                    };
                    o.boundary(&b).unwrap();
                }
                o.boundary(&Boundary::default()).unwrap();
                drop(o);
                out
            };
            let (one, list) = (run(false), run(true));
            assert_eq!(one, list);
            let mut all: Vec<u64> = rounds.iter().flat_map(|r| r.0.clone()).collect();
            all.sort_unstable();
            let mut got = list.clone();
            got.sort_unstable();
            assert_eq!(got, all, "every event comes out once");
        }
    }

    /// Late events go after the in-order events of their line, in the order
    /// they came, whatever the number of them.
    #[test]
    fn insert_sorted_is_a_stable_merge() {
        let mut list: Vec<Event> = [1, 2, 2, 4, 7].iter().map(|&l| ev(l)).collect();
        let late: Vec<Event> = [0, 2, 2, 5, 9].iter().map(|&l| ev(l)).collect();
        let tag: Vec<*const str> = late.iter().map(|e| Arc::as_ptr(&e.src.input)).collect();
        let want: Vec<u64> = merge_by(
            list.iter().map(|e| e.src.line).collect::<Vec<_>>(),
            late.iter().map(|e| e.src.line).collect::<Vec<_>>(),
            |&l| l,
        )
        .collect();
        insert_sorted(&mut list, late.into_iter());
        assert_eq!(list.iter().map(|e| e.src.line).collect::<Vec<_>>(), want);
        // The two late 2s follow the two in-order ones, in their own order.
        let twos: Vec<*const str> = list
            .iter()
            .filter(|e| e.src.line == 2)
            .map(|e| Arc::as_ptr(&e.src.input))
            .collect();
        assert_eq!(&twos[2..], &tag[1..3]);
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
