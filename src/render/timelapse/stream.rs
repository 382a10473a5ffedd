//! Ordered parallel frame pipeline: frames are rendered on all cores and handed to the encoder in order.
//!
//! Frame states are made sequentially (each depends on the one before: the
//! fade), a chunk at a time; the chunk is rendered with rayon while the
//! encoder thread is still busy with the previous chunk. At most three chunks
//! exist at once (being rendered, queued, being encoded), so memory is flat
//! whatever the number of frames.

use std::sync::mpsc;

use anyhow::{anyhow, Result};
use rayon::prelude::*;

/// Frames per chunk: enough to keep every core busy, small enough to bound memory.
pub fn chunk_len() -> usize {
    (rayon::current_num_threads() * 2).max(4)
}

/// Makes `count` states with `state` (in order, on this thread), renders them
/// in parallel with `render`, and gives the results to `consume` in order on
/// a thread of its own. Stops at the first error of `consume`.
pub fn run<S, P>(
    count: usize,
    chunk: usize,
    mut state: impl FnMut(usize) -> S,
    render: impl Fn(S) -> P + Sync,
    consume: impl FnMut(P) -> Result<()> + Send,
) -> Result<()>
where
    S: Send,
    P: Send,
{
    let chunk = chunk.max(1);
    // One chunk queued while one is encoded and one rendered.
    let (tx, rx) = mpsc::sync_channel::<Vec<P>>(1);
    std::thread::scope(|scope| {
        let encoder = scope.spawn(move || -> Result<()> {
            let mut consume = consume;
            for batch in rx {
                for p in batch {
                    consume(p)?;
                }
            }
            Ok(())
        });
        let mut start = 0;
        while start < count {
            let end = (start + chunk).min(count);
            let states: Vec<S> = (start..end).map(&mut state).collect();
            let rendered: Vec<P> = states.into_par_iter().map(&render).collect();
            // A send fails only when the encoder stopped on an error: join reports it.
            if tx.send(rendered).is_err() {
                break;
            }
            start = end;
        }
        drop(tx);
        encoder
            .join()
            .map_err(|_| anyhow!("the encoder thread panicked"))?
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn results_arrive_in_order() {
        let mut seen = Vec::new();
        let made = AtomicUsize::new(0);
        run(
            103,
            7,
            |i| {
                made.fetch_add(1, Ordering::Relaxed);
                i
            },
            |i| {
                // Uneven work so that parallel completion order differs from frame order.
                std::thread::sleep(std::time::Duration::from_micros(
                    ((i * 37) % 11) as u64 * 50,
                ));
                i * 2
            },
            |p| {
                seen.push(p);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, (0..103).map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(made.load(Ordering::Relaxed), 103);
    }

    #[test]
    fn an_encoder_error_stops_the_run() {
        let made = AtomicUsize::new(0);
        let err = run(
            10_000,
            4,
            |i| {
                made.fetch_add(1, Ordering::Relaxed);
                i
            },
            |i| i,
            |p| {
                if p == 5 {
                    Err(anyhow!("disk full"))
                } else {
                    Ok(())
                }
            },
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        // Stopped within a few chunks, not after all 10 000 frames.
        assert!(made.load(Ordering::Relaxed) < 40);
    }
}
