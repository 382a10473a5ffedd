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
