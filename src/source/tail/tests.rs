//! Model-based tests of the follower: random write / rotate / truncate /
//! delete / restart sequences on a real directory, checked against an
//! in-memory model of the lines that must come out — each exactly once, in order.
//!
//! The model's one assumption is the follower's own: a rotation is not
//! followed by a second one before the next poll (the harness polls after each
//! rotation, as a 100 ms poll does against a rotation per hour). Lines that no
//! follower could see are expected to be lost, exactly as with `tail -F`:
//! lines written just before a copytruncate and not yet read.

use super::*;
use proptest::prelude::*;
use std::io::Write;

#[derive(Clone, Debug)]
enum Op {
    Write(u8),
    Poll,
    RenameCreate,
    CopyTruncate,
    Delete,
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1u8..20).prop_map(Op::Write),
        3 => Just(Op::Poll),
        1 => Just(Op::RenameCreate),
        1 => Just(Op::CopyTruncate),
        1 => Just(Op::Delete),
        1 => Just(Op::Restart),
    ]
}

/// One incarnation of the file (an inode): its lines and how many were read.
#[derive(Debug, Default)]
struct Inc {
    lines: Vec<String>,
    delivered: usize,
}

#[derive(Default)]
struct Model {
    incs: Vec<Inc>,
    /// Incarnation at the path now.
    current: Option<usize>,
    /// Incarnation the follower has open.
    open: Option<usize>,
    expected: Vec<String>,
    next: u64,
}

impl Model {
    fn poll(&mut self) {
        if let Some(o) = self.open {
            let inc = &mut self.incs[o];
            self.expected
                .extend(inc.lines[inc.delivered..].iter().cloned());
            inc.delivered = inc.lines.len();
        }
        if let Some(c) = self.current {
            if self.open != Some(c) {
                let inc = &mut self.incs[c];
                self.expected
                    .extend(inc.lines[inc.delivered..].iter().cloned());
                inc.delivered = inc.lines.len();
                self.open = Some(c);
            }
        }
    }
}

fn run(ops: &[Op]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.log");
    let mut f = Follower::new(&path, None, 1 << 16);
    let mut got: Vec<Vec<u8>> = Vec::new();
    let mut m = Model::default();
    let poll = |f: &mut Follower, got: &mut Vec<Vec<u8>>| while f.poll(got).unwrap() {};
    for op in ops {
        match op {
            Op::Write(n) => {
                let c = match m.current {
                    Some(c) => c,
                    None => {
                        m.incs.push(Inc::default());
                        m.current = Some(m.incs.len() - 1);
                        m.incs.len() - 1
                    }
                };
                let mut text = String::new();
                for _ in 0..*n {
                    // Unique lines of varied length, some longer than the fingerprint.
                    let l = format!(
                        "line {} {}",
                        m.next,
                        "x".repeat((m.next * 37 % 300) as usize)
                    );
                    m.next += 1;
                    text.push_str(&l);
                    text.push('\n');
                    m.incs[c].lines.push(l);
                }
                use std::io::Write;
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .unwrap();
                file.write_all(text.as_bytes()).unwrap();
            }
            Op::Poll => {
                poll(&mut f, &mut got);
                m.poll();
            }
            Op::RenameCreate => {
                if m.current.is_some() {
                    std::fs::rename(&path, dir.path().join("auth.log.1")).unwrap();
                    File::create(&path).unwrap();
                    m.incs.push(Inc::default());
                    m.current = Some(m.incs.len() - 1);
                    poll(&mut f, &mut got);
                    m.poll();
                }
            }
            Op::CopyTruncate => {
                if let Some(c) = m.current {
                    std::fs::copy(&path, dir.path().join("auth.log.1")).unwrap();
                    std::fs::OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .unwrap()
                        .set_len(0)
                        .unwrap();
                    // Lines written since the last read are gone with the truncation.
                    let inc = &mut m.incs[c];
                    inc.lines.clear();
                    inc.delivered = 0;
                    poll(&mut f, &mut got);
                    m.poll();
                }
            }
            Op::Delete => {
                if m.current.is_some() {
                    std::fs::remove_file(&path).unwrap();
                    m.current = None;
                    poll(&mut f, &mut got);
                    m.poll();
                }
            }
            Op::Restart => {
                // What a real restart does: checkpoint, save, load, resume.
                let mut cps = Checkpoints::default();
                if let Some(p) = f.position() {
                    cps.files.insert("auth.log".into(), p);
                }
                let cp_path = dir.path().join("cp.json");
                cps.save(&cp_path).unwrap();
                let loaded = Checkpoints::load(&cp_path).unwrap();
                assert_eq!(loaded.files, cps.files);
                f = Follower::new(&path, loaded.files.get("auth.log").cloned(), 1 << 16);
                // The new process has no handle on a deleted file; it polls as it starts.
                if m.current != m.open {
                    m.open = None;
                }
                poll(&mut f, &mut got);
                m.poll();
            }
        }
    }
    poll(&mut f, &mut got);
    m.poll();
    let got: Vec<String> = got
        .into_iter()
        .map(|l| String::from_utf8(l).unwrap())
        .collect();
    assert_eq!(got, m.expected);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn follower_matches_model(ops in proptest::collection::vec(op(), 1..60)) {
        run(&ops);
    }
}

#[test]
fn rename_create_without_poll_in_between_loses_nothing() {
    use Op::*;
    run(&[
        Write(3),
        Poll,
        Write(2),
        RenameCreate,
        Write(4),
        Poll,
        Restart,
        Write(1),
    ]);
}

#[test]
fn delete_then_recreate_reads_both() {
    use Op::*;
    run(&[
        Write(3),
        Delete,
        Write(2),
        Poll,
        Restart,
        Write(2),
        Delete,
        Restart,
        Write(5),
    ]);
}

#[test]
fn restart_resumes_exactly() {
    use Op::*;
    run(&[
        Write(1),
        Poll,
        Write(2),
        Restart,
        Write(3),
        Poll,
        Restart,
        Restart,
        Write(1),
    ]);
}

#[test]
fn giant_lines_are_skipped_and_the_next_line_survives() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.log");
    let mut text = "y".repeat(300);
    text.push('\n');
    text.push_str("ok\n");
    std::fs::write(&path, text).unwrap();
    let mut f = Follower::new(&path, None, 100);
    let mut got = Vec::new();
    f.poll(&mut got).unwrap();
    assert_eq!(got, vec![b"ok".to_vec()]);
    assert_eq!(f.too_long, 1);
}

#[test]
fn damaged_checkpoint_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cp.json");
    std::fs::write(&p, "{not json").unwrap();
    let e = Checkpoints::load(&p).unwrap_err();
    assert!(e.to_string().contains("delete it"), "{e}");
    assert!(Checkpoints::load(&dir.path().join("none.json"))
        .unwrap()
        .files
        .is_empty());
}

/// Regression: stop, append, `mv auth.log auth.log.1`, start a new `auth.log`,
/// restart — the lines appended before the rotation were never read.
#[test]
fn rotation_while_stopped_reads_the_rest_of_the_rotated_file_first() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.log");
    let write = |p: &Path, from: usize, n: usize| {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .unwrap();
        for i in from..from + n {
            writeln!(f, "line {i} {}", "y".repeat(i % 50)).unwrap();
        }
    };
    write(&path, 0, 3);
    let mut f = Follower::new(&path, None, 1 << 16);
    let mut got = Vec::new();
    while f.poll(&mut got).unwrap() {}
    let cp = f.position().unwrap();
    drop(f);
    write(&path, 3, 2000);
    std::fs::rename(&path, dir.path().join("auth.log.1")).unwrap();
    write(&path, 2003, 5);
    // A decoy named like it, with other content, must not be taken for it.
    std::fs::write(dir.path().join("auth.log.2"), "other\n").unwrap();
    let mut f = Follower::new(&path, Some(cp), 1 << 16);
    for _ in 0..10 {
        while f.poll(&mut got).unwrap() {}
    }
    let got: Vec<String> = got
        .into_iter()
        .map(|l| String::from_utf8(l).unwrap())
        .collect();
    let want: Vec<String> = (0..2008)
        .map(|i| format!("line {i} {}", "y".repeat(i % 50)))
        .collect();
    assert_eq!(got.len(), want.len());
    assert_eq!(got, want);
}

fn lines_of(got: Vec<Vec<u8>>) -> Vec<String> {
    got.into_iter()
        .map(|l| String::from_utf8(l).unwrap())
        .collect()
}

fn drain(f: &mut Follower, got: &mut Vec<Vec<u8>>) {
    for _ in 0..5 {
        while f.poll(got).unwrap() {}
    }
}

/// Saves `f`'s position and loads it back, as a restart does.
fn restart(f: Follower, path: &Path, cp: &Path) -> Follower {
    let mut cps = Checkpoints::default();
    cps.files.insert("k".into(), f.position().unwrap());
    cps.save(cp).unwrap();
    Follower::new(
        path,
        Checkpoints::load(cp).unwrap().files.remove("k"),
        1 << 16,
    )
}

/// Two contents that share their first line and their first 300 bytes (more
/// than the older 256-byte fingerprint) but differ later: the second, written
/// over the first in place (same inode) while stopped, is read from its start
/// and the user is told — not resumed at the first one's offset.
#[test]
fn a_file_rewritten_with_the_same_first_256_bytes_is_not_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.log");
    let cp = dir.path().join("cp.json");
    let common = format!("header line\n{}\n", "h".repeat(300));
    let a = format!("{common}a1\na2\n");
    let b: String = format!(
        "{common}{}",
        (1..=9).map(|i| format!("b{i}\n")).collect::<String>()
    );
    std::fs::write(&path, &a).unwrap();
    let ino = std::fs::metadata(&path).unwrap().ino();
    let mut f = Follower::new(&path, None, 1 << 16);
    let mut got = Vec::new();
    drain(&mut f, &mut got);
    assert_eq!(got.len(), 4);
    let mut f = restart(f, &path, &cp);
    // Rewritten in place while stopped: same inode, same first 300 bytes.
    std::fs::write(&path, &b).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().ino(), ino);
    let mut got = Vec::new();
    drain(&mut f, &mut got);
    let want: Vec<String> = b.lines().map(str::to_string).collect();
    assert_eq!(lines_of(got), want);
    let notes = f.take_notes();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains("content differs"), "{notes:?}");
    // Across a further restart it is followed exactly: nothing again, the new line once.
    let mut f = restart(f, &path, &cp);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(b"b10\n")
        .unwrap();
    let mut got = Vec::new();
    drain(&mut f, &mut got);
    assert_eq!(lines_of(got), ["b10"]);
    assert!(f.take_notes().is_empty());
}

/// The same with the second file a new one (delete, create): whether or not
/// the file system hands it the old inode, it is read whole.
#[test]
fn a_new_file_with_the_same_first_256_bytes_is_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.log");
    let cp = dir.path().join("cp.json");
    let common = format!("header line\n{}\n", "h".repeat(300));
    std::fs::write(&path, format!("{common}a1\na2\n")).unwrap();
    let mut f = Follower::new(&path, None, 1 << 16);
    let mut got = Vec::new();
    drain(&mut f, &mut got);
    let mut f = restart(f, &path, &cp);
    std::fs::remove_file(&path).unwrap();
    let b = format!("{common}b1\nb2\nb3\nb4\nb5\n");
    std::fs::write(&path, &b).unwrap();
    let mut got = Vec::new();
    drain(&mut f, &mut got);
    let want: Vec<String> = b.lines().map(str::to_string).collect();
    assert_eq!(lines_of(got), want);
    assert_eq!(f.take_notes().len(), 1);
}

/// A file shorter than 64 KiB when its checkpoint was taken that grew past it
/// while stopped is the same file: resumed, not read again.
#[test]
fn growth_while_stopped_keeps_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.log");
    let cp = dir.path().join("cp.json");
    std::fs::write(&path, "l0\n").unwrap();
    let mut f = Follower::new(&path, None, 1 << 16);
    let mut got = Vec::new();
    drain(&mut f, &mut got);
    assert_eq!(f.position().unwrap().fingerprint.head_len, 3);
    let mut f = restart(f, &path, &cp);
    let more: String = (1..20_000).map(|i| format!("l{i}\n")).collect();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(more.as_bytes())
        .unwrap();
    let mut got = Vec::new();
    drain(&mut f, &mut got);
    assert_eq!(got.len(), 19_999);
    assert_eq!(got[0], b"l1");
    assert!(f.take_notes().is_empty());
    // The fingerprint grew with what was read: now the first 64 KiB.
    assert_eq!(
        f.position().unwrap().fingerprint,
        Fingerprint::read(&File::open(&path).unwrap(), u64::MAX).unwrap()
    );
}

/// A checkpoint file as sshmap wrote it before the shared fingerprint
/// (version 1: a flat position, rustc-hash's FxHash of the first ≤ 256 bytes).
fn write_v1(cp: &Path, key: &str, file: &Path, offset: u64) {
    use std::hash::Hasher;
    let m = std::fs::metadata(file).unwrap();
    let bytes = std::fs::read(file).unwrap();
    let n = bytes.len().min(256);
    let mut h = rustc_hash::FxHasher::default();
    h.write(&bytes[..n]);
    let v = serde_json::json!({
        "version": 1,
        "files": {
            key: {"dev": m.dev(), "ino": m.ino(), "head": h.finish(), "head_len": n, "offset": offset},
            "journal-cursor:s=abc": {"dev": 0, "ino": 0, "head": 0, "head_len": 0, "offset": 0}
        }
    });
    std::fs::write(cp, serde_json::to_vec(&v).unwrap()).unwrap();
}

fn numbered(from: usize, to: usize) -> String {
    (from..to)
        .map(|i| format!("line {i} {}\n", "y".repeat(i % 50)))
        .collect()
}

/// An older checkpoint is resumed without loss or duplicates — in place, and
/// after a rotation while stopped — and saved in the current version, which
/// resumes again.
#[test]
fn version_1_checkpoints_resume_exactly() {
    for rotate in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.log");
        let cp = dir.path().join("cp.json");
        let first = numbered(0, 30);
        std::fs::write(&path, &first).unwrap();
        write_v1(&cp, "k", &path, first.len() as u64);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(numbered(30, 2030).as_bytes())
            .unwrap();
        if rotate {
            std::fs::rename(&path, dir.path().join("auth.log.1")).unwrap();
            std::fs::write(&path, numbered(2030, 2040)).unwrap();
        }
        let loaded = Checkpoints::load(&cp).unwrap();
        assert_eq!(loaded.version, 1);
        assert!(loaded.files["k"].legacy);
        assert_eq!(loaded.files["journal-cursor:s=abc"].offset, 0);
        let mut f = Follower::new(&path, loaded.files.get("k").cloned(), 1 << 16);
        let mut got = Vec::new();
        drain(&mut f, &mut got);
        let end = if rotate { 2040 } else { 2030 };
        let want: Vec<String> = numbered(30, end).lines().map(str::to_string).collect();
        assert_eq!(lines_of(got), want, "rotate: {rotate}");
        assert!(f.take_notes().is_empty(), "rotate: {rotate}");
        let p = f.position().unwrap();
        assert!(!p.legacy, "fingerprinted anew");
        // Saved in the current version; the next restart resumes from it exactly.
        let mut f = restart(f, &path, &cp);
        let raw: serde_json::Value = serde_json::from_slice(&std::fs::read(&cp).unwrap()).unwrap();
        assert_eq!(raw["version"], VERSION);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"last\n")
            .unwrap();
        let mut got = Vec::new();
        drain(&mut f, &mut got);
        assert_eq!(lines_of(got), ["last"]);
    }
}

/// An older checkpoint whose file changed while stopped is not applied.
#[test]
fn version_1_checkpoint_of_another_content_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.log");
    let cp = dir.path().join("cp.json");
    std::fs::write(&path, "old one\nold two\n").unwrap();
    write_v1(&cp, "k", &path, 16);
    std::fs::write(&path, "new one\nnew two\nnew three\n").unwrap();
    let loaded = Checkpoints::load(&cp).unwrap();
    let mut f = Follower::new(&path, loaded.files.get("k").cloned(), 1 << 16);
    let mut got = Vec::new();
    drain(&mut f, &mut got);
    assert_eq!(lines_of(got), ["new one", "new two", "new three"]);
    assert_eq!(f.take_notes().len(), 1);
}

#[test]
fn newer_checkpoint_versions_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cp.json");
    std::fs::write(&p, r#"{"version": 9, "files": {}}"#).unwrap();
    let e = Checkpoints::load(&p).unwrap_err();
    assert!(e.to_string().contains("newer sshmap"), "{e}");
}

/// An older position saved again before its file was opened (the path was
/// missing) keeps being read as older: it still resumes exactly later.
#[test]
fn version_1_positions_survive_a_save_before_their_file_is_opened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.log");
    let cp = dir.path().join("cp.json");
    let first = numbered(0, 10);
    std::fs::write(&path, &first).unwrap();
    write_v1(&cp, "k", &path, first.len() as u64);
    // Out of its directory, where a rotated file would be looked for.
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let moved = dir.path().join("sub/elsewhere");
    std::fs::rename(&path, &moved).unwrap();
    let mut f = Follower::new(
        &path,
        Checkpoints::load(&cp).unwrap().files.remove("k"),
        1 << 16,
    );
    let mut got = Vec::new();
    drain(&mut f, &mut got);
    assert!(got.is_empty());
    let f = restart(f, &path, &cp);
    let raw: serde_json::Value = serde_json::from_slice(&std::fs::read(&cp).unwrap()).unwrap();
    assert_eq!(raw["files"]["k"]["legacy"], true, "{raw}");
    std::fs::rename(&moved, &path).unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(numbered(10, 12).as_bytes())
        .unwrap();
    let mut f = f;
    let mut got = Vec::new();
    drain(&mut f, &mut got);
    let want: Vec<String> = numbered(10, 12).lines().map(str::to_string).collect();
    assert_eq!(lines_of(got), want);
}
