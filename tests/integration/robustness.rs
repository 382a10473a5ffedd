//! Bad input policy (DESIGN §6): arbitrary bytes, NULs, invalid UTF-8 and
//! gigantic lines are skipped and counted, never a panic.

use std::io::Write;

use proptest::prelude::*;
use sshmap::parse::{parse_block, Correlator, Options};

use crate::util::run;

/// Real line starts, so random tails reach deep into the message parsers.
const PREFIXES: &[&str] = &[
    "Nov 23 07:41:35 vm sshd[4202]: Failed password for ",
    "Nov 23 07:41:35 vm sshd[4202]: Invalid user ",
    "Nov 23 07:41:35 vm sshd[4202]: Connection closed by invalid user ",
    "Nov 23 07:41:35 vm sshd[4202]: Disconnecting invalid user ",
    "Nov 23 07:41:35 vm sshd[4202]: Received disconnect from ",
    "Nov 23 07:41:35 vm sshd[4202]: drop connection #",
    "Nov 23 07:41:35 vm sshd[4202]: message repeated ",
    "Nov 23 07:41:35 vm sshd[4202]: pam_unix(sshd:auth): authentication failure; rhost=",
    "Nov 23 07:41:35 vm sshd[4202]: PAM ",
    "Nov 23 07:41:35 vm sshd[4202]: srclimit_penalise: ",
    "<38>1 2019-07-08T17:40:16Z h sshd 1 - [",
    "2023-11-14T00:20:42.738197+01:00 myserver sshd[1]: User ",
    "{\"MESSAGE\":",
    "2006-02-13 15:52:30,388 fail2ban.actions [1]: NOTICE [sshd] ",
    "",
];

fn exercise(bytes: &[u8]) {
    let block = parse_block(bytes, 1, true);
    let mut c = Correlator::new("p".into(), Options::default());
    let mut n = 0usize;
    for raw in block.lines {
        c.push(raw, &mut |_| n += 1);
    }
    c.finish_all(&mut |_| n += 1);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        exercise(&bytes);
    }

    #[test]
    fn sshd_prefixes_with_hostile_tails_never_panic(
        idx in 0..PREFIXES.len(),
        tail in proptest::collection::vec(prop_oneof![
            Just(b' '), Just(b'\\'), Just(b'['), Just(b']'), Just(b':'), Just(b'.'), Just(0u8), Just(0xffu8),
            Just(b'"'), Just(b'1'), Just(b'9'), any::<u8>()
        ], 0..300),
        words in proptest::collection::vec(prop_oneof![
            Just(" from 1.2.3.4"), Just(" port 22"), Just(" ssh2"), Just(" [preauth]"), Just(" invalid user "),
            Just(" user="), Just(" rhost=::1"), Just(" times: [ "), Just("::ffff:"), Just(" for "),
        ], 0..8),
    ) {
        let mut line = PREFIXES[idx].as_bytes().to_vec();
        for w in words { line.extend_from_slice(w.as_bytes()); }
        line.extend_from_slice(&tail);
        exercise(&line);
        let mut two = line.clone();
        two.push(b'\n');
        two.extend_from_slice(&line);
        exercise(&two);
    }
}

#[test]
fn megabyte_lines_nuls_and_binary_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("hostile.log");
    let mut f = std::fs::File::create(&p).unwrap();
    writeln!(
        f,
        "Nov 23 07:41:35 vm sshd[1]: Invalid user a from 192.0.2.1 port 1"
    )
    .unwrap();
    let mut huge = b"Nov 23 07:41:35 vm sshd[2]: Invalid user ".to_vec();
    huge.extend(std::iter::repeat_n(b'A', 1 << 20));
    huge.extend_from_slice(b" from 192.0.2.2 port 2\n");
    f.write_all(&huge).unwrap();
    f.write_all(&[0u8; 4096]).unwrap();
    f.write_all(b"\n\xff\xfe\xfd garbage \x00\x01\n").unwrap();
    let mut giant = vec![b'x'; 3 << 20];
    giant.push(b'\n');
    f.write_all(&giant).unwrap();
    writeln!(
        f,
        "Nov 23 07:41:36 vm sshd[3]: Invalid user b from 192.0.2.3 port 3"
    )
    .unwrap();
    drop(f);
    let out = run(&["stats", "--json", "--year", "2026", p.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["events"], 2);
    let input = &v["inputs"][0];
    assert_eq!(input["lines"], 6);
    assert_eq!(input["too_long"], 2);
    assert_eq!(input["malformed"], 2);
    assert_eq!(input["skipped"], 4);
}
