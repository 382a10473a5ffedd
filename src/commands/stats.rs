//! `sshmap stats`: the terminal tables or the `stats --json` object.

use super::*;

pub(super) fn stats(settings: &Settings, args: &InputArgs, top: usize, json: bool) -> Result<i32> {
    let (inputs, mut failed) = inputs(settings, args)?;
    let mut opts = pipeline_options(settings, false)?;
    opts.range = time_range(settings, args)?;
    opts.host = args.host.clone();
    let mut stats = Aggregate::default();
    let reports = flow::run(&inputs, &opts, &mut stats)?;
    failed |= report_inputs(settings, &reports);
    let summary = stats.summary(top, reports);
    print_summary(&summary, json)?;
    // The process ends with this command: its tables go back to the system
    // whole, not freed a node at a time (issue #15: 2.0M instructions on
    // 200k lines, all but the freeing the same).
    std::mem::forget((stats, summary, opts));
    Ok(i32::from(failed))
}

pub(super) fn print_summary(summary: &analyze::Summary, json: bool) -> Result<()> {
    let mut out = io::stdout().lock();
    if json {
        // One write: stdout is line-buffered, and the pretty object has a
        // line per field (issue #15: `print_summary` 14.8M -> 3.6M Ir
        // on 200k lines).
        let mut text = Vec::new();
        summary.write_json_pretty(&mut text);
        text.push(b'\n');
        out.write_all(&text)?;
    } else {
        out.write_all(analyze::table::render(summary).as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

/// `stats --db`: the same summary, fed from the store.
pub(super) fn stats_db(
    settings: &Settings,
    db: &str,
    args: &InputArgs,
    top: usize,
    json: bool,
) -> Result<i32> {
    let (mut st, filter) = open_db_filter(settings, db, args)?;
    let mut stats = Aggregate::default();
    st.scan(&filter, &mut |ev| stats.add(&ev))?;
    let reports = st
        .checkpoints()?
        .iter()
        .map(store::Checkpoint::report)
        .collect();
    print_summary(&stats.summary(top, reports), json)?;
    Ok(0)
}
