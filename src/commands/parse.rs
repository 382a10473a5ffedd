//! `sshmap parse`: events as JSON lines or CSV, from logs or the store.

use super::*;

pub(super) fn parse(
    settings: &Settings,
    args: &InputArgs,
    format: Format,
    all: bool,
) -> Result<i32> {
    let (inputs, mut failed) = inputs(settings, args)?;
    let stdout = io::stdout().lock();
    let mut w = EventWriter::new(BufWriter::with_capacity(1 << 16, stdout), format)?;
    let mut opts = pipeline_options(settings, all)?;
    opts.range = time_range(settings, args)?;
    opts.host = args.host.clone();
    let reports = flow::run(
        &inputs,
        &opts,
        // In input order, as the store gives them back (`parse --db`).
        &mut flow::Ordered::new(flow::Each(|ev: crate::event::Event| w.write(&ev))),
    )?;
    w.flush().context("writing events")?;
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
