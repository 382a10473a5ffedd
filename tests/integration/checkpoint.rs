//! `serve --tail` checkpoints across restarts, with the one content
//! fingerprint `ingest` uses too: files that start alike are not confused,
//! and checkpoints written by an older sshmap (a 256-byte hash, in the
//! checkpoint file or in the store) resume without loss or duplicates.

use std::hash::Hasher;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use sshmap::serve::ServeConfig;

use super::serve::{cfg, http, Server};

fn config() -> ServeConfig {
    ServeConfig {
        db: None,
        checkpoint: None,
        poll: Duration::from_millis(50),
        ..cfg()
    }
}

/// A failed password from `ip`, `i` seconds into the last hour.
fn line(ip: &str, i: u32) -> String {
    let ts = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() - 3600 + i64::from(i))
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%S+00:00")
        .to_string();
    format!(
        "{ts} web1 sshd[{}]: Failed password for root from {ip} port {} ssh2\n",
        1000 + i,
        2000 + i
    )
}

fn lines(ip: &str, from: u32, to: u32) -> String {
    (from..to).map(|i| line(ip, i)).collect()
}

fn append(p: &Path, text: &str) {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

/// Events per source address in `/api/events`.
fn by_ip(srv: &Server) -> std::collections::BTreeMap<String, usize> {
    let resp = http(srv.addr, "GET", "/api/events?limit=100000", &[], b"");
    let body = &resp[resp.find("\r\n\r\n").map_or(0, |i| i + 4)..];
    let mut out = std::collections::BTreeMap::new();
    for piece in body.split("\"ip\":\"").skip(1) {
        let ip = &piece[..piece.find('"').unwrap()];
        *out.entry(ip.to_string()).or_default() += 1;
    }
    out
}

/// Waits until `ip` has `n` events (or 20 s passed) and returns the counts.
fn wait_for(srv: &Server, ip: &str, n: usize) -> std::collections::BTreeMap<String, usize> {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let got = by_ip(srv);
        if got.get(ip).copied().unwrap_or(0) >= n || Instant::now() > end {
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn counts(pairs: &[(&str, usize)]) -> std::collections::BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// Two contents that share their first line and their first 256 bytes (the
/// older tail fingerprint's reach) but differ later: the second, written over
/// the first in place while `serve` is stopped, is read whole — not resumed at
/// the first one's offset, which loses its lines — and restarts after that
/// neither lose nor repeat a line. With the position in the store and in the
/// checkpoint file.
#[test]
fn serve_tail_does_not_confuse_files_that_share_their_first_256_bytes() {
    for store in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("auth.log");
        let mut c = config();
        c.tail = vec![log.clone()];
        if store {
            c.db = Some(dir.path().join("sshmap.db").display().to_string());
        } else {
            c.checkpoint = Some(dir.path().join("cp.json"));
        }
        // The same first lines (well over 256 bytes) in both contents.
        let header = lines("198.51.100.1", 0, 4);
        assert!(header.len() > 300);
        let a = format!("{header}{}", lines("203.0.113.10", 10, 13));
        let b = format!("{header}{}", lines("203.0.113.20", 20, 30));
        std::fs::write(&log, &a).unwrap();
        let ino = std::fs::metadata(&log).unwrap().ino();
        let srv = Server::start(c.clone());
        let got = wait_for(&srv, "203.0.113.10", 3);
        assert_eq!(got, counts(&[("198.51.100.1", 4), ("203.0.113.10", 3)]));
        srv.stop();

        std::fs::write(&log, &b).unwrap();
        assert_eq!(
            std::fs::metadata(&log).unwrap().ino(),
            ino,
            "rewritten in place"
        );
        let srv = Server::start(c.clone());
        let got = wait_for(&srv, "203.0.113.20", 10);
        // The store keeps the first run's events; the in-memory window does not.
        let (h, x) = if store { (8, 3) } else { (4, 0) };
        let mut want = counts(&[("198.51.100.1", h), ("203.0.113.20", 10)]);
        if x > 0 {
            want.insert("203.0.113.10".into(), x);
        }
        assert_eq!(got, want, "store: {store}");
        srv.stop();

        // Another restart, then one more line: it alone is added.
        let srv = Server::start(c.clone());
        append(&log, &line("203.0.113.30", 40));
        let got = wait_for(&srv, "203.0.113.30", 1);
        if store {
            want.insert("203.0.113.30".into(), 1);
        } else {
            want = counts(&[("203.0.113.30", 1)]);
        }
        assert_eq!(got, want, "store: {store}");
        srv.stop();
    }
}

/// The older `serve --tail` fingerprint: rustc-hash's FxHash of a file's
/// first (at most) 256 bytes.
fn old_head(p: &Path) -> (u64, u64) {
    let bytes = std::fs::read(p).unwrap();
    let n = bytes.len().min(256);
    let mut h = rustc_hash::FxHasher::default();
    h.write(&bytes[..n]);
    (h.finish(), n as u64)
}

/// A checkpoint file written by an older sshmap (version 1) is resumed: the
/// lines it had read do not come again, the ones written since all come — in
/// place and after a rotation while stopped.
#[test]
fn serve_resumes_a_version_1_checkpoint_file_exactly() {
    for rotate in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("auth.log");
        let cps = dir.path().join("cp.json");
        let read = lines("203.0.113.40", 0, 30);
        std::fs::write(&log, &read).unwrap();
        let m = std::fs::metadata(&log).unwrap();
        let (head, head_len) = old_head(&log);
        let old = serde_json::json!({
            "version": 1,
            "files": { log.display().to_string(): {
                "dev": m.dev(), "ino": m.ino(), "head": head, "head_len": head_len,
                "offset": read.len(),
            }}
        });
        std::fs::write(&cps, serde_json::to_vec(&old).unwrap()).unwrap();
        append(&log, &lines("203.0.113.41", 30, 60));
        if rotate {
            std::fs::rename(&log, dir.path().join("auth.log.1")).unwrap();
            std::fs::write(&log, lines("203.0.113.42", 60, 65)).unwrap();
        }
        let mut c = config();
        c.tail = vec![log.clone()];
        c.checkpoint = Some(cps.clone());
        let srv = Server::start(c.clone());
        let last = if rotate {
            "203.0.113.42"
        } else {
            "203.0.113.41"
        };
        let got = wait_for(&srv, last, if rotate { 5 } else { 30 });
        let mut want = counts(&[("203.0.113.41", 30)]);
        if rotate {
            want.insert("203.0.113.42".into(), 5);
        }
        // Lines are read in file order: any re-read line would have come first.
        assert_eq!(got, want, "rotate: {rotate}");
        srv.stop();
        let saved: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&cps).unwrap()).unwrap();
        assert_eq!(saved["version"], 2, "{saved}");
    }
}

/// A stream position stored by an older `serve` (the 256-byte hash in the
/// stream's row) is resumed without loss or duplicates.
#[test]
fn serve_resumes_a_position_stored_by_an_older_sshmap() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    let db = dir.path().join("sshmap.db");
    std::fs::write(&log, lines("203.0.113.50", 0, 3)).unwrap();
    let mut c = config();
    c.tail = vec![log.clone()];
    c.db = Some(db.display().to_string());
    let srv = Server::start(c.clone());
    assert_eq!(
        wait_for(&srv, "203.0.113.50", 3),
        counts(&[("203.0.113.50", 3)])
    );
    srv.stop();
    // What the older writer stored in the stream's row.
    let (head, head_len) = old_head(&log);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let n = conn
        .execute(
            "UPDATE inputs SET warm_hash = ?1, warm_hash_len = ?2",
            rusqlite::params![head as i64, head_len as i64],
        )
        .unwrap();
    assert_eq!(n, 1);
    drop(conn);
    append(&log, &lines("203.0.113.51", 10, 15));
    let srv = Server::start(c);
    assert_eq!(
        wait_for(&srv, "203.0.113.51", 5),
        counts(&[("203.0.113.50", 3), ("203.0.113.51", 5)])
    );
    srv.stop();
}
