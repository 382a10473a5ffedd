//! `sshmap ingest`: logs into the store, each input exactly once.

use super::*;

/// `sshmap ingest`: logs into the store, each input from its checkpoint.
pub(super) fn ingest(settings: &Settings, a: &IngestArgs, db: Option<&str>) -> Result<i32> {
    let keep = match a.keep.as_deref() {
        Some(k) => Some(
            store::parse_duration(k)
                .with_context(|| format!("--keep {k:?}: use a duration such as 90d, 12h or 2w"))?,
        ),
        None => None,
    };
    let loc = store::Location::parse(db)?;
    let (inputs, mut failed) = inputs(
        settings,
        &InputArgs {
            inputs: a.inputs.clone(),
            ..InputArgs::default()
        },
    )?;
    let mut st = store::open(&loc)?;
    let opts = pipeline_options(settings, false)?;
    let reports = store::ingest::run(&mut *st, &inputs, &opts)?;
    for r in &reports {
        if let Some(e) = &r.error {
            eprintln!("sshmap: {}", with_hint(&crate::escape::terminal(e)));
            failed = true;
        } else if !settings.quiet {
            let note = r
                .note
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            eprintln!(
                "sshmap: {}: {:+} events{note}",
                crate::escape::terminal(&r.input),
                r.added
            );
            if settings.verbose >= 1 {
                // What a re-run costs: the new bytes, plus the window re-read
                // before them to rebuild connection state.
                eprintln!(
                    "sshmap: {}: {} new bytes read ({} in all)",
                    crate::escape::terminal(&r.input),
                    r.new_bytes,
                    bytes(r.read_bytes)
                );
            }
        }
    }
    if let Some(secs) = keep {
        let now = jiff::Timestamp::now().as_microsecond();
        let n = st.prune(now - secs * 1_000_000)?;
        if !settings.quiet {
            eprintln!("sshmap: --keep: pruned {n} raw events (rollups and sessions kept)");
        }
    }
    Ok(i32::from(failed))
}

/// A byte count for people: `812 B`, `3.4 MiB`.
pub(super) fn bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.1} KiB", n as f64 / 1024.0),
        1_048_576..1_073_741_824 => format!("{:.1} MiB", n as f64 / 1_048_576.0),
        _ => format!("{:.2} GiB", n as f64 / 1_073_741_824.0),
    }
}
