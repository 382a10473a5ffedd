//! Shipping: help text, completions, man page, config lookup, the systemd unit
//! and the Debian package (issue 17).
//!
//! Tests that change the system (create a user, install a package) run only
//! when `SSHMAP_TEST_SYSTEM=1` (`.ci/run` sets it) and print why they skip
//! otherwise; with it set, a missing tool is a failure, not a skip.

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{fixture, run, sshmap};

/// `sshmap` with no config file from this machine or user: tests see only what they set.
fn isolated(dir: &Path) -> Command {
    let mut c = sshmap();
    c.env("XDG_CONFIG_HOME", dir.join("xdg-config"))
        .env("XDG_DATA_HOME", dir.join("xdg-data"))
        .env("HOME", dir)
        .env_remove("SSHMAP_CONFIG")
        .env_remove("SSHMAP_TZ")
        .env_remove("SSHMAP_YEAR");
    c
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// True when the system-changing tests may run; prints why not otherwise.
pub(crate) fn system_tests_enabled(test: &str) -> bool {
    if std::env::var("SSHMAP_TEST_SYSTEM").as_deref() == Ok("1") {
        return true;
    }
    eprintln!(
        "skipped {test}: it changes the system (users, packages); set SSHMAP_TEST_SYSTEM=1 to run it (.ci/run does)"
    );
    false
}

/// True when the headless-Chromium tests may run (`SSHMAP_TEST_BROWSER=1`, set by
/// `.ci/run` after `npm ci --prefix tests/browser`); prints why not otherwise.
pub(crate) fn browser_tests_enabled(test: &str) -> bool {
    if std::env::var("SSHMAP_TEST_BROWSER").as_deref() == Ok("1") {
        return true;
    }
    eprintln!(
        "skipped {test}: it needs chromium, node and tests/browser's playwright-core; set SSHMAP_TEST_BROWSER=1 to run it (.ci/run does)"
    );
    false
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| text(&o.stdout).trim() == "0")
}

// ---- 2. help ---------------------------------------------------------------

#[test]
fn every_flag_of_every_subcommand_has_help_text() {
    fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if matches!(id, "help" | "version") {
                continue;
            }
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            if help.trim().len() < 10 {
                missing.push(format!("{path} --{id}"));
            }
        }
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let sub_path = format!("{path} {}", sub.get_name());
            if sub.get_about().is_none() {
                missing.push(format!("{sub_path}: no description"));
            }
            let has_subs = sub.get_subcommands().next().is_some();
            let examples = sub
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            if !has_subs && !examples.contains("Examples:") {
                missing.push(format!("{sub_path}: no examples (after_help)"));
            }
            walk(sub, &sub_path, missing);
        }
    }
    let mut cmd = sshmap::cli::command();
    cmd.build();
    let mut missing = Vec::new();
    walk(&cmd, "sshmap", &mut missing);
    assert!(missing.is_empty(), "without help text: {missing:#?}");
    // The forms accepted are spelled out where a user types them.
    // Help is wrapped to the terminal: compare with the line breaks as spaces.
    let serve = text(&run(&["serve", "--help"]).stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for want in [
        "90m, 5h, 2d",
        "127.0.0.1:8022",
        "at least 8 characters",
        "Examples:",
    ] {
        assert!(
            serve.contains(want),
            "serve --help lacks {want:?}:\n{serve}"
        );
    }
    let tl = text(&run(&["timelapse", "--help"]).stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        tl.contains("WIDTHxHEIGHT") && tl.contains("30m (or 30min)") && tl.contains("Examples:"),
        "{tl}"
    );
}

// ---- 3. completions and man page -------------------------------------------

#[test]
fn completions_for_bash_zsh_and_fish() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "complete -F _sshmap"),
        ("zsh", "#compdef sshmap"),
        ("fish", "complete -c sshmap"),
    ] {
        let out = run(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        assert!(script.contains(marker), "{shell}: no {marker:?}");
        assert!(
            script.contains("ingest-token") && script.contains("timelapse"),
            "{shell}: subcommands and their flags are completed"
        );
        // The script is valid for its shell, where the shell is installed.
        let file = dir.path().join(shell);
        std::fs::write(&file, &script).unwrap();
        let check: &[&str] = match shell {
            "bash" => &["bash", "-n"],
            "zsh" => &["zsh", "-n"],
            _ => &["fish", "--no-execute"],
        };
        if have(check[0]) {
            let st = Command::new(check[0])
                .args(&check[1..])
                .arg(&file)
                .status()
                .unwrap();
            assert!(st.success(), "{shell} rejects its completion script");
        } else {
            eprintln!(
                "{} not installed: {shell} script syntax not checked",
                check[0]
            );
        }
    }
    // A bad config file does not stop them.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "tz = [").unwrap();
    let out = run(&["completions", "bash", "--config", bad.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn man_pages_come_from_the_same_definitions() {
    let out = run(&["manpage"]);
    assert!(out.status.success());
    let page = text(&out.stdout);
    assert!(
        page.starts_with(".ie") || page.contains(".TH sshmap 1"),
        "{page}"
    );
    assert!(page.contains(".TH sshmap 1"));
    assert!(page.contains("GLOBAL OPTIONS") && page.contains("\\-\\-tz"));
    assert!(page.contains("timelapse") && page.contains("Examples:"));

    let dir = tempfile::tempdir().unwrap();
    let out = run(&["manpage", "--dir", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let serve = std::fs::read_to_string(dir.path().join("sshmap-serve.1")).unwrap();
    assert!(serve.contains("\\-\\-ingest\\-token") && serve.contains("bearer token"));
    assert!(dir.path().join("sshmap-geoip-lookup.1").exists());
    // man renders it, where man is installed.
    if have("man") {
        let out = Command::new("man")
            .args(["-l", "-P", "cat"])
            .arg(dir.path().join("sshmap-serve.1"))
            .env("MANWIDTH", "100")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("--anonymize-ip"));
    }
}

// ---- 5. config file lookup and provenance ----------------------------------

#[test]
fn config_file_is_found_where_people_look_and_config_says_where_each_value_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let xdg = dir.path().join("xdg-config/sshmap");
    std::fs::create_dir_all(&xdg).unwrap();
    std::fs::write(
        xdg.join("config.toml"),
        "tz = \"Europe/Paris\"\nyear = 2019\n[serve]\nwindow = \"2h\"\nlisten = \"127.0.0.1:9999\"\nwindw = \"1h\"\n",
    )
    .unwrap();
    let out = isolated(dir.path()).arg("config").output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    let file = xdg.join("config.toml").display().to_string();
    assert!(
        shown.contains(&format!("config file: {file} (found)")),
        "{shown}"
    );
    let line = |key: &str| {
        shown
            .lines()
            .find(|l| l.starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("no {key} in\n{shown}"))
            .to_string()
    };
    assert!(line("tz").contains("Europe/Paris") && line("tz").ends_with(&format!("# {file}: tz")));
    assert!(line("window").contains("2h") && line("window").contains("[serve] window"));
    assert!(line("geoip").ends_with("# default"));
    assert!(shown.contains("unknown key [serve] windw"), "{shown}");

    // The environment beats the file, a flag beats both.
    let out = isolated(dir.path())
        .args(["config", "--year", "2024"])
        .env("SSHMAP_TZ", "UTC")
        .output()
        .unwrap();
    let shown = text(&out.stdout);
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("tz ") && l.ends_with("# env SSHMAP_TZ")),
        "{shown}"
    );
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("year ") && l.contains("2024") && l.ends_with("# flag")),
        "{shown}"
    );

    // $SSHMAP_CONFIG, then --config, win over the search; `none` turns files off.
    let named = dir.path().join("named.toml");
    std::fs::write(&named, "tz = \"Asia/Tokyo\"\n").unwrap();
    let out = isolated(dir.path())
        .arg("config")
        .env("SSHMAP_CONFIG", &named)
        .output()
        .unwrap();
    assert!(
        text(&out.stdout).contains("($SSHMAP_CONFIG)") && text(&out.stdout).contains("Asia/Tokyo")
    );
    let out = isolated(dir.path())
        .args(["config", "--config", "none"])
        .output()
        .unwrap();
    assert!(
        text(&out.stdout).contains("config file: none (--config none)"),
        "{}",
        text(&out.stdout)
    );

    // The value found in the file is used by the commands.
    let f = fixture("sample/auth.log");
    let out = isolated(dir.path())
        .args(["parse", f.to_str().unwrap()])
        .output()
        .unwrap();
    let first = text(&out.stdout);
    assert!(
        first.lines().next().unwrap().contains("\"ts\":\"2019-"),
        "{first}"
    );
}

#[test]
fn etc_config_is_the_last_place_searched() {
    use sshmap::settings::{FileSource, Layers};
    let dir = tempfile::tempdir().unwrap();
    let user = dir.path().join("user.toml");
    let etc = dir.path().join("etc.toml");
    std::fs::write(&etc, "tz = \"UTC\"\n").unwrap();
    let search = vec![(user.clone(), "$XDG_CONFIG_HOME"), (etc.clone(), "/etc")];
    let l = Layers::find(Default::default(), None, &search).unwrap();
    assert_eq!(l.file_path(), Some(etc.as_path()));
    assert_eq!(l.file_source(), &FileSource::Found("/etc"));
    std::fs::write(&user, "tz = \"UTC\"\n").unwrap();
    let l = Layers::find(Default::default(), None, &search).unwrap();
    assert_eq!(l.file_path(), Some(user.as_path()));
    // A named file must exist; a searched one may not.
    let err = Layers::find(
        Default::default(),
        Some(&dir.path().join("nope.toml")),
        &search,
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("--config"), "{err:#}");
    let paths = sshmap::settings::config_search_path(Some("/x"), Some("/home/u"));
    assert_eq!(paths[0].0, PathBuf::from("/x/sshmap/config.toml"));
    assert_eq!(paths[1].0, PathBuf::from("/etc/sshmap/config.toml"));
    let paths = sshmap::settings::config_search_path(None, Some("/home/u"));
    assert_eq!(
        paths[0].0,
        PathBuf::from("/home/u/.config/sshmap/config.toml")
    );
}

#[test]
fn bad_tz_in_the_config_file_names_the_file_and_key_not_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "tz = \"Mars/Olympus\"\n").unwrap();
    let f = fixture("sample/auth.log");
    let out = isolated(dir.path())
        .args([
            "stats",
            f.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("tz in config file {}", cfg.display()))
            && err.contains("Mars/Olympus"),
        "{err}"
    );
    assert!(!err.contains("--tz"), "{err}");
    // From the flag, the flag is named.
    let out = isolated(dir.path())
        .args([
            "stats",
            f.to_str().unwrap(),
            "--tz",
            "Mars/Olympus",
            "--config",
            "none",
        ])
        .output()
        .unwrap();
    assert!(text(&out.stderr).contains("--tz"), "{}", text(&out.stderr));
    // A year out of range in the file, likewise.
    std::fs::write(&cfg, "year = 12\n").unwrap();
    let out = isolated(dir.path())
        .args([
            "stats",
            f.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        text(&out.stderr).contains("year in config file"),
        "{}",
        text(&out.stderr)
    );
}

// ---- 6. small things that cost trust ---------------------------------------

#[test]
fn verbose_names_the_config_file_and_sums_up_each_input() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "tz = \"UTC\"\n").unwrap();
    let f = fixture("sample/auth.log");
    let out = isolated(dir.path())
        .args(["stats", "-v", f.to_str().unwrap()])
        .env("SSHMAP_CONFIG", &cfg)
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("config file {}", cfg.display())),
        "{err}"
    );
    assert!(
        err.contains(" lines, ") && err.contains(" events, ") && err.contains(" skipped"),
        "{err}"
    );
    let quiet = isolated(dir.path())
        .args(["stats", f.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!text(&quiet.stderr).contains(" lines, "));
    let vv = isolated(dir.path())
        .args(["stats", "-vv", f.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        text(&vv.stderr).contains("# default"),
        "-vv prints the settings"
    );
}

#[test]
fn permission_denied_says_what_to_do() {
    let hinted = sshmap::commands::with_hint("/var/log/auth.log: Permission denied (os error 13)");
    assert!(
        hinted.contains("`adm` group") && hinted.contains("sudo"),
        "{hinted}"
    );
    assert_eq!(
        sshmap::commands::with_hint("x: No such file"),
        "x: No such file"
    );

    // And for real: a log this user may not read.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    std::fs::copy(fixture("sample/auth.log"), &log).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut cmd = if is_root() {
        // root reads everything: run as nobody, which needs no change to the system.
        if !have("setpriv") {
            eprintln!("skipped the real read: running as root and setpriv is missing");
            return;
        }
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_sshmap"));
        c
    } else {
        sshmap()
    };
    let out = cmd
        .args(["stats", "--config", "none", log.to_str().unwrap()])
        .output()
        .unwrap();
    let err = text(&out.stderr);
    if err.contains("Permission denied") {
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("add your user to the `adm` group"), "{err}");
    } else {
        eprintln!("skipped the real read: the binary could not run as another user here: {err}");
    }
}

#[test]
fn ingest_shows_progress_on_a_terminal_for_a_big_log() {
    if !have("script") {
        eprintln!(
            "skipped: `script` (util-linux) is not installed: no terminal to show progress on"
        );
        return;
    }
    // 33 MiB: the sample's sshd lines, then other programs' lines (cheap to skip).
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    let mut body = std::fs::read_to_string(fixture("sample/auth.log")).unwrap();
    let filler = "Nov 22 23:59:01 web1 CRON[4242]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)\n";
    while body.len() < 33 << 20 {
        body.push_str(filler);
    }
    std::fs::write(&log, body).unwrap();
    let db = dir.path().join("s.db");
    let cmd = format!(
        "{} ingest --config none --db {} {}",
        env!("CARGO_BIN_EXE_sshmap"),
        db.display(),
        log.display()
    );
    // On a terminal (script gives the command one): a byte progress bar.
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("TERM", "xterm")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stdout));
    let tty = text(&out.stdout);
    assert!(
        tty.contains("MiB") && tty.contains("[="),
        "no progress on a terminal: {tty}"
    );
    // In a pipe: none, only the summary line.
    std::fs::remove_file(&db).unwrap();
    let out = isolated(dir.path())
        .args(["ingest", "--config", "none", "--db"])
        .arg(&db)
        .arg(&log)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!text(&out.stderr).contains("MiB"), "{}", text(&out.stderr));
}

#[test]
fn serve_db_none_writes_no_checkpoint_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let log = dir.path().join("auth.log");
    std::fs::copy(fixture("sample/auth.log"), &log).unwrap();
    let mut child = isolated(dir.path())
        .args([
            "serve",
            "--config",
            "none",
            "--db",
            "none",
            "--listen",
            "127.0.0.1:0",
            "--tail",
        ])
        .arg(&log)
        .env("SSHMAP_DATA_DIR", &data)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    assert!(first.contains("serving the live map"), "{first}");
    // Checkpoints are saved every second and at shutdown: give it both.
    std::thread::sleep(Duration::from_millis(1500));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let left: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "--db none wrote {left:?}");
    assert!(!dir.path().join("xdg-data/sshmap").exists(), "nor a store");
}

// ---- 1. the systemd unit ----------------------------------------------------

fn unit_text() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/sshmap.service"))
        .unwrap()
}

/// The values of `key=` in the unit, in order.
fn unit_values(unit: &str, key: &str) -> Vec<String> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(str::to_string)
        .collect()
}

#[test]
fn systemd_unit_verifies() {
    if !have("systemd-analyze") {
        eprintln!("skipped: systemd-analyze is not installed (Debian: apt-get install systemd)");
        return;
    }
    // The unit as shipped, pointing at the binary just built (the package's
    // /usr/bin/sshmap is checked by the package test); man pages are checked there too.
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_text().replace("/usr/bin/sshmap", env!("CARGO_BIN_EXE_sshmap"));
    let path = dir.path().join("sshmap.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn systemd_unit_gives_the_service_what_the_documented_install_needs() {
    let unit = unit_text();
    let exec = unit_values(&unit, "ExecStart");
    assert_eq!(exec, ["/usr/bin/sshmap serve --config %d/config.toml"]);
    assert_eq!(
        unit_values(&unit, "LoadCredential"),
        ["config.toml:/etc/sshmap/config.toml"]
    );
    assert_eq!(
        unit_values(&unit, "SupplementaryGroups"),
        ["adm systemd-journal"]
    );
    assert_eq!(unit_values(&unit, "StateDirectory"), ["sshmap"]);
    // The shipped config is valid and sets nothing: the defaults apply.
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/config.toml");
    let out = run(&["config", "--config", cfg.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains("unknown key"));
    assert!(!text(&out.stdout).contains(&format!("{}:", cfg.display())));
}

/// A GET on 127.0.0.1:`port`; the body.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The unit's user, groups and paths, simulated with setpriv: a system user
/// with only the unit's supplementary groups, the config handed over as a
/// credential (0400, owned by that user), a root:adm 0640 log, the state
/// directory owned by the user, and the unit's environment.
#[test]
fn systemd_unit_starts_as_its_user_with_a_real_config_and_log() {
    if !system_tests_enabled("systemd_unit_starts_as_its_user_with_a_real_config_and_log") {
        return;
    }
    assert!(
        is_root(),
        "SSHMAP_TEST_SYSTEM=1 needs root (useradd, setpriv)"
    );
    assert!(
        have("setpriv") && have("useradd"),
        "setpriv and useradd are needed"
    );
    let user = "sshmap-unit-test";
    if !Command::new("id")
        .arg(user)
        .output()
        .unwrap()
        .status
        .success()
    {
        // What DynamicUser= gives: a system user with no home, no login, no groups.
        let st = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                user,
            ])
            .status()
            .unwrap();
        assert!(st.success());
    }
    use std::os::unix::fs::{chown, PermissionsExt};
    let id = |flag: &str| -> u32 {
        text(
            &Command::new("id")
                .args([flag, user])
                .output()
                .unwrap()
                .stdout,
        )
        .trim()
        .parse()
        .unwrap()
    };
    let (uid, gid) = (id("-u"), id("-g"));
    let adm_gid: u32 = text(
        &Command::new("getent")
            .args(["group", "adm"])
            .output()
            .unwrap()
            .stdout,
    )
    .split(':')
    .nth(2)
    .unwrap()
    .parse()
    .unwrap();
    let unit = unit_text();
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // /var/log/auth.log as Debian has it: root:adm 0640.
    let log = root.path().join("auth.log");
    std::fs::copy(fixture("sample/auth.log"), &log).unwrap();
    chown(&log, Some(0), Some(adm_gid)).unwrap();
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o640)).unwrap();
    // /etc/sshmap/config.toml: root-only; LoadCredential= copies it for the service.
    let port = free_port();
    let etc = root.path().join("config.toml");
    std::fs::write(
        &etc,
        format!(
            "[serve]\nlisten = \"127.0.0.1:{port}\"\ntail = [\"{}\"]\nwindow = \"1000d\"\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&etc, std::fs::Permissions::from_mode(0o600)).unwrap();
    let creds = root.path().join("credentials");
    std::fs::create_dir(&creds).unwrap();
    let (cred_name, cred_src) = unit_values(&unit, "LoadCredential")[0]
        .split_once(':')
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .unwrap();
    assert_eq!(cred_src, "/etc/sshmap/config.toml");
    std::fs::copy(&etc, creds.join(&cred_name)).unwrap();
    for p in [&creds, &creds.join(&cred_name)] {
        chown(p, Some(uid), Some(gid)).unwrap();
    }
    std::fs::set_permissions(
        creds.join(&cred_name),
        std::fs::Permissions::from_mode(0o400),
    )
    .unwrap();
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o500)).unwrap();
    // StateDirectory=sshmap under /var/lib, owned by the service's user.
    let var_lib = root.path().join("var-lib");
    let state = var_lib.join(&unit_values(&unit, "StateDirectory")[0]);
    std::fs::create_dir_all(&state).unwrap();
    chown(&state, Some(uid), Some(gid)).unwrap();
    // The unit's command line and environment, its paths moved under `root`.
    let exec = unit_values(&unit, "ExecStart")[0]
        .replace("%d", creds.to_str().unwrap())
        .replace("/usr/bin/sshmap", env!("CARGO_BIN_EXE_sshmap"));
    let groups = unit_values(&unit, "SupplementaryGroups")[0].replace(' ', ",");
    let mut cmd = Command::new("setpriv");
    cmd.arg(format!("--reuid={uid}"))
        .arg(format!("--regid={gid}"))
        .arg(format!("--groups={groups}"))
        .arg("--inh-caps=-all")
        .arg("--no-new-privs")
        .args(exec.split_whitespace())
        .env_clear()
        .env("PATH", "/usr/bin:/bin");
    for e in unit_values(&unit, "Environment") {
        let (k, v) = e.split_once('=').unwrap();
        cmd.env(k, v.replace("/var/lib", var_lib.to_str().unwrap()));
    }
    let mut child = cmd.stderr(Stdio::piped()).spawn().unwrap();
    let started = Instant::now();
    let mut events = 0;
    while started.elapsed() < Duration::from_secs(30) {
        if let Some(body) = http_get(port, "/api/stats") {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            events = v["events"].as_u64().unwrap_or(0);
            if events > 0 {
                break;
            }
        }
        if let Ok(Some(st)) = child.try_wait() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("the service exited ({st}): {err}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        events > 0,
        "the service read no events from the root:adm log: {err}"
    );
    assert!(
        status.success(),
        "SIGTERM ends it cleanly: {status:?} {err}"
    );
    // The store and checkpoints went to the state directory.
    assert!(state.join("sshmap.db").exists(), "{err}");

    // Without the adm group the same log is refused, with the hint.
    let out = Command::new("setpriv")
        .arg(format!("--reuid={uid}"))
        .arg(format!("--regid={gid}"))
        .arg("--clear-groups")
        .arg(env!("CARGO_BIN_EXE_sshmap"))
        .args(["stats", "--config", "none", log.to_str().unwrap()])
        .env("HOME", &state)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("`adm` group"),
        "{}",
        text(&out.stderr)
    );
}

// ---- 4. the Debian package ---------------------------------------------------

#[test]
fn debian_package_installs_binary_man_page_unit_and_completions() {
    if !system_tests_enabled("debian_package_installs_binary_man_page_unit_and_completions") {
        return;
    }
    assert!(is_root(), "dpkg -i needs root");
    assert!(
        have("cargo-deb") || have("cargo"),
        "cargo-deb is needed (.ci/run installs it)"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("bash")
        .arg(root.join("scripts/package-deb.sh"))
        .current_dir(root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "package-deb.sh: {}",
        text(&out.stderr)
    );
    let deb = text(&out.stdout)
        .lines()
        .rev()
        .find(|l| l.trim_end().ends_with(".deb"))
        .map(|l| PathBuf::from(l.trim()))
        .unwrap_or_else(|| panic!("no .deb named in {}", text(&out.stdout)));
    let deb = if deb.is_absolute() {
        deb
    } else {
        root.join(deb)
    };
    let out = Command::new("dpkg").arg("-i").arg(&deb).output().unwrap();
    assert!(
        out.status.success(),
        "dpkg -i: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let check = || {
        let v = Command::new("/usr/bin/sshmap")
            .arg("--version")
            .output()
            .unwrap();
        assert!(
            text(&v.stdout).starts_with("sshmap "),
            "{}",
            text(&v.stdout)
        );
        for f in [
            "/usr/share/man/man1/sshmap.1.gz",
            "/usr/share/man/man1/sshmap-serve.1.gz",
            "/lib/systemd/system/sshmap.service",
            "/usr/share/bash-completion/completions/sshmap",
            "/usr/share/zsh/vendor-completions/_sshmap",
            "/usr/share/fish/vendor_completions.d/sshmap.fish",
            "/etc/sshmap/config.toml",
            "/usr/share/doc/sshmap/examples/rsyslog-omhttp.conf",
        ] {
            assert!(Path::new(f).exists(), "{f} not installed");
        }
        let list = text(
            &Command::new("dpkg")
                .args(["-L", "sshmap"])
                .output()
                .unwrap()
                .stdout,
        );
        assert!(list.contains("/usr/share/doc/sshmap/copyright"), "{list}");
        if have("man") {
            let m = Command::new("man")
                .args(["-P", "cat", "sshmap-serve"])
                .output()
                .unwrap();
            assert!(
                text(&m.stdout).contains("--ingest-token"),
                "{}",
                text(&m.stderr)
            );
        }
        if have("systemd-analyze") {
            // The installed unit, as installed (with its man pages present).
            let v = Command::new("systemd-analyze")
                .args(["verify", "/lib/systemd/system/sshmap.service"])
                .output()
                .unwrap();
            assert!(
                v.status.success() && v.stderr.is_empty(),
                "{}",
                text(&v.stderr)
            );
        }
    };
    let result = std::panic::catch_unwind(check);
    // Leave the machine as it was.
    let purge = Command::new("dpkg")
        .args(["--purge", "sshmap"])
        .output()
        .unwrap();
    assert!(purge.status.success(), "{}", text(&purge.stderr));
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

#[test]
fn bad_serve_value_in_the_config_file_names_the_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[serve]\nwindow = \"5 fortnights\"\n").unwrap();
    let out = isolated(dir.path())
        .args(["serve", "--db", "none", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("[serve] window in config file {}", cfg.display())),
        "{err}"
    );
    // `sshmap config` checks the [serve] table as serve would.
    let out = isolated(dir.path())
        .args(["config", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("[serve] window"),
        "{}",
        text(&out.stderr)
    );
}

// ---- 8. README ------------------------------------------------------------------

#[test]
fn docs_link_only_inside_the_repository_and_readme_keeps_its_two_commands() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md"), root.join("CONTRIBUTING.md")];
    for e in std::fs::read_dir(root.join("docs")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "md") {
            files.push(p);
        }
    }
    for f in &files {
        let md = std::fs::read_to_string(f).unwrap();
        let dir = f.parent().unwrap();
        for (i, _) in md.match_indices("](") {
            let rest = &md[i + 2..];
            let target = &rest[..rest.find(')').unwrap()];
            if target.starts_with('#') {
                continue;
            }
            let path = target.split('#').next().unwrap();
            assert!(
                !target.contains("://") && !path.starts_with('/'),
                "{}: link {target} leaves the repository",
                f.display()
            );
            let resolved = dir
                .join(path)
                .canonicalize()
                .unwrap_or_else(|_| panic!("{}: link {target} points to nothing", f.display()));
            assert!(
                resolved.starts_with(root.canonicalize().unwrap()),
                "{}: link {target} leaves the repository",
                f.display()
            );
        }
    }
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(readme.contains("cargo run --release -- stats tests/fixtures/sample/auth.log"));
    assert!(readme.contains("bash .ci/run"));
    // Users first: install, quick start, service, troubleshooting and licence come before the reference.
    let at = |h: &str| readme.find(h).unwrap_or_else(|| panic!("README lacks {h}"));
    let order = [
        "## Install",
        "## Quick start",
        "## Run it as a service",
        "## Troubleshooting",
        "## Licence and data attribution",
        "# Reference",
    ];
    for w in order.windows(2) {
        assert!(at(w[0]) < at(w[1]), "{} should come before {}", w[0], w[1]);
    }
}
