//! `sshmap parse`: events as JSON lines or CSV, from logs or the store.

use super::*;
use crate::event::Event;

pub(super) fn parse(
    settings: &Settings,
    args: &InputArgs,
    format: Format,
    all: bool,
) -> Result<i32> {
    let (inputs, mut failed) = inputs(settings, args)?;
    let mut opts = pipeline_options(settings, all)?;
    opts.range = time_range(settings, args)?;
    opts.host = args.host.clone();
    let mut w = Behind::new(io::stdout(), format);
    let reports = flow::run(
        &inputs,
        &opts,
        // In input order, as the store gives them back (`parse --db`).
        &mut flow::Ordered::new(&mut w),
    );
    // The writer's error first: a closed pipe stops the flow too.
    w.finish().context("writing events")?;
    let reports = reports?;
    failed |= report_inputs(settings, &reports);
    Ok(i32::from(failed))
}

/// `parse --db`: the stored events, in the order a read of the logs gives them.
pub(super) fn parse_db(
    settings: &Settings,
    db: &str,
    args: &InputArgs,
    format: Format,
) -> Result<i32> {
    let (mut st, filter) = open_db_filter(settings, db, args)?;
    let stdout = io::stdout().lock();
    let mut w = EventWriter::new(BufWriter::with_capacity(1 << 16, stdout), format)?;
    let mut res = Ok(());
    st.scan(&filter, &mut |ev| {
        if res.is_ok() {
            res = w.write(&ev);
        }
    })?;
    res?;
    w.flush().context("writing events")?;
    Ok(0)
}

/// Events written on a thread of their own: formatting them and the `write`
/// calls (copying hundreds of megabytes into the kernel) no longer hold up
/// the thread that correlates them (issue #15). They go in batches of
/// [`Behind::BATCH`] through a queue of two. [`Behind::finish`] writes the
/// rest and waits for the thread; its error (a closed pipe, a full disk) is
/// the first the thread met, and [`Behind::push`] reports it as soon as the
/// thread has stopped.
struct Behind {
    batch: Vec<Event>,
    full: Option<std::sync::mpsc::SyncSender<Vec<Event>>>,
    thread: Option<std::thread::JoinHandle<io::Result<()>>>,
    /// The thread's error, once it stopped on one.
    error: Option<(io::ErrorKind, String)>,
}

impl Behind {
    const BATCH: usize = 4096;

    fn new(out: impl Write + Send + 'static, format: Format) -> Behind {
        let (full, batches) = std::sync::mpsc::sync_channel::<Vec<Event>>(2);
        let thread = std::thread::spawn(move || -> io::Result<()> {
            let mut w = EventWriter::new(BufWriter::with_capacity(1 << 20, out), format)?;
            for batch in batches {
                for ev in &batch {
                    w.write(ev)?;
                }
            }
            w.flush()
        });
        Behind {
            batch: Vec::with_capacity(Self::BATCH),
            full: Some(full),
            thread: Some(thread),
            error: None,
        }
    }

    fn push(&mut self, ev: Event) -> io::Result<()> {
        self.batch.push(ev);
        if self.batch.len() >= Self::BATCH {
            self.send()?;
        }
        Ok(())
    }

    /// A list of events: sent as it is when it fills a batch (a block's
    /// events, from the flow), instead of moving each into the batch.
    fn push_all(&mut self, evs: &mut Vec<Event>) -> io::Result<()> {
        if self.batch.is_empty() && evs.len() >= Self::BATCH {
            std::mem::swap(&mut self.batch, evs);
            return self.send();
        }
        self.batch.append(evs);
        if self.batch.len() >= Self::BATCH {
            self.send()?;
        }
        Ok(())
    }

    fn send(&mut self) -> io::Result<()> {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(Self::BATCH));
        match &self.full {
            Some(full) if full.send(batch).is_ok() => Ok(()),
            _ => Err(self.stopped()),
        }
    }

    /// The thread stopped (or must stop now): its error, every time asked.
    fn stopped(&mut self) -> io::Error {
        self.full = None;
        if let Some(t) = self.thread.take() {
            let end = t
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("output thread panicked")));
            self.error = Some(match end {
                Err(e) => (e.kind(), e.to_string()),
                Ok(()) => (io::ErrorKind::Other, "output closed".into()),
            });
        }
        let (kind, msg) = self
            .error
            .clone()
            .unwrap_or((io::ErrorKind::Other, "output closed".into()));
        io::Error::new(kind, msg)
    }

    fn finish(mut self) -> io::Result<()> {
        if self.error.is_some() {
            return Err(self.stopped());
        }
        if !self.batch.is_empty() {
            self.send()?;
        }
        self.full = None;
        match self.thread.take() {
            Some(t) => t
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("output thread panicked"))),
            None => Err(self.stopped()),
        }
    }
}

impl flow::Sink for &mut Behind {
    type Error = io::Error;
    fn event(&mut self, ev: Event) -> io::Result<()> {
        self.push(ev)
    }
    fn events(&mut self, evs: &mut Vec<Event>) -> io::Result<()> {
        self.push_all(evs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Ts;
    use std::sync::{Arc, Mutex};

    fn ev(line: u64) -> Event {
        Event {
            ts: Ts::from_micros(line as i64 * 1_000_000, 0),
            host: Some("h".into()),
            pid: Some(1),
            method: Some("password".into()),
            user: Some("root".into()),
            ip: Some("192.0.2.1".parse().unwrap()),
            port: Some(22),
            ..Event::at_line(line)
        }
    }

    /// What goes in comes out, in order and formatted as the plain writer
    /// does, across batch boundaries, in both formats.
    #[test]
    fn behind_writes_everything_in_order() {
        #[derive(Clone, Default)]
        struct Shared(Arc<Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        for format in [Format::Jsonl, Format::Csv] {
            let sink = Shared::default();
            let mut w = Behind::new(sink.clone(), format);
            let plain = Shared::default();
            let mut want = EventWriter::new(plain.clone(), format).unwrap();
            for line in 1..=3 * Behind::BATCH as u64 + 17 {
                w.push(ev(line)).unwrap();
                want.write(&ev(line)).unwrap();
            }
            // Lists, as the flow passes them: short ones joined to the batch,
            // a long one sent as it is, after what was waiting.
            let mut line = 3 * Behind::BATCH as u64 + 17;
            for n in [5, Behind::BATCH + 3, 1, Behind::BATCH * 2, 0] {
                let mut list: Vec<Event> = (line + 1..=line + n as u64).map(ev).collect();
                for e in &list {
                    want.write(e).unwrap();
                }
                line += n as u64;
                w.push_all(&mut list).unwrap();
                assert!(list.is_empty());
            }
            w.finish().unwrap();
            want.flush().unwrap();
            assert_eq!(*sink.0.lock().unwrap(), *plain.0.lock().unwrap());
        }
    }

    /// A failing output (a closed pipe) is reported, not lost.
    #[test]
    fn behind_reports_the_output_error() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::from(io::ErrorKind::BrokenPipe))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut w = Behind::new(Closed, Format::Jsonl);
        let pushed = (1..100_000).find_map(|l| w.push(ev(l)).err());
        assert_eq!(pushed.expect("an error").kind(), io::ErrorKind::BrokenPipe);
        // And again at the end, where `parse` looks for it.
        assert_eq!(w.finish().unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    }
}
