//! `sshmap report`: the self-contained HTML report.

use super::*;

pub(super) fn report(
    settings: &Settings,
    args: &crate::cli::ReportArgs,
    db: Option<&str>,
) -> Result<i32> {
    let mut agg = analyze::Aggregate::new(analyze::AggregateOptions {
        details: true,
        ..Default::default()
    });
    let mut failed = false;
    let reports = if let Some(db) = db {
        if !args.input.inputs.is_empty() {
            bail!("pass either INPUT files or --db, not both");
        }
        let mut st = store::open(&store::Location::parse(Some(db))?)?;
        let range = time_range(settings, &args.input)?;
        let filter = store::Filter {
            from: range.from,
            to: range.to,
            host: args.input.host.clone(),
        };
        st.scan(&filter, &mut |ev| agg.add(&ev))?;
        st.checkpoints()?
            .iter()
            .map(store::Checkpoint::report)
            .collect()
    } else {
        let (inputs, f) = inputs(settings, &args.input)?;
        let mut opts = pipeline_options(settings, false)?;
        opts.range = time_range(settings, &args.input)?;
        opts.host = args.input.host.clone();
        let reports = flow::run(&inputs, &opts, &mut agg)?;
        failed = f | report_inputs(settings, &reports);
        reports
    };
    let summary = agg.summary(10, reports);
    let title = args
        .title
        .clone()
        .unwrap_or_else(|| "SSH attacks".to_string());
    let snap = crate::report::Snapshot::build(
        &agg,
        &crate::report::Options {
            title,
            anonymize_ip: args.anonymize_ip,
            span: None,
        },
        &summary,
    );
    let html = crate::report::render(&snap);
    std::fs::write(&args.output, &html)
        .with_context(|| format!("writing {}", args.output.display()))?;
    if !settings.quiet {
        eprintln!(
            "sshmap: wrote {} ({} KB)",
            crate::escape::terminal(&args.output.display().to_string()),
            html.len() / 1024
        );
    }
    Ok(i32::from(failed))
}
