//! End to end with real components: Debian's OpenSSH server logging through a
//! private rsyslogd, `serve --tail` on rsyslog's file and `serve --syslog` fed
//! by rsyslog's `omfwd` (TCP, octet-counted, RFC 5424); real logins by the
//! real OpenSSH client (through `sshpass`); headless Chromium on the page,
//! connected before the real logins happen (from a public address put on `lo`
//! for the test, so the event has a place on the map).
//!
//! Needs root and the Debian packages `openssh-server openssh-client rsyslog
//! sshpass chromium iproute2`. Debian's rsyslog has no omhttp module, so rsyslog
//! writes the JSON of contrib/rsyslog-omhttp.conf's template to a file and the
//! test posts it as omhttp's `jsonarray` batch would (the other omhttp batch
//! formats are posted by the tests in `serve.rs`).
//!
//! The private rsyslogd owns `/dev/log` while the test runs (sshd always logs
//! there); the test waits for a foreign one to go away and removes its own.
//! These tests change the machine (a user, `/dev/log`, an address on `lo`):
//! they run with `SSHMAP_TEST_SYSTEM=1` (and the browser ones with
//! `SSHMAP_TEST_BROWSER=1`), as `.ci/run` sets, and are skipped otherwise.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::serve::{read_sse, Server};
use sshmap::serve::ServeConfig;

const USER: &str = "sshmaplive";
const PASS: &str = "Live-test-Pa55word";
const PACKAGES: &str = "openssh-server openssh-client rsyslog sshpass chromium";

/// Serializes the heavy real-component tests: `/dev/log` has one owner, and a
/// Chromium start-up beside it would skew the one-second latency check.
static DEVLOG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn need(bin: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
        let p = Path::new(dir).join(bin);
        if p.exists() {
            return p;
        }
    }
    panic!("{bin} not found: install the Debian packages {PACKAGES} (see .ci/run)");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something listens on 127.0.0.1:port, without connecting (a probe would be logged).
fn wait_listening(port: u16) {
    let needle = format!("0100007F:{port:04X} 00000000:0000 0A");
    for _ in 0..100 {
        if std::fs::read_to_string("/proc/net/tcp")
            .unwrap_or_default()
            .contains(&needle)
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on port {port}");
}

/// Everything started for the test, stopped and removed on drop.
struct Rig {
    dir: tempfile::TempDir,
    rsyslog: Option<Child>,
    sshd: Option<Child>,
    user_created: bool,
    ssh_port: u16,
}

impl Drop for Rig {
    fn drop(&mut self) {
        for c in [self.sshd.take(), self.rsyslog.take()]
            .into_iter()
            .flatten()
        {
            let mut c = c;
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_file("/dev/log");
        if self.user_created {
            let _ = Command::new("userdel")
                .args(["-r", USER])
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Rig {
    /// rsyslogd writing auth to `auth.log` (RFC 3339) and forwarding to `fwd`; sshd on a spare port.
    fn start(fwd: SocketAddr) -> Rig {
        assert!(
            unsafe_is_root(),
            "the live sshd test needs root (it starts sshd and adds a throwaway user)"
        );
        let rsyslogd = need("rsyslogd");
        let sshd = need("sshd");
        need("sshpass");
        let dir = tempfile::tempdir().unwrap();
        let _ = std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        );
        let w = dir.path();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Path::new("/dev/log").exists() {
            assert!(Instant::now() < deadline, "/dev/log is owned by another syslog daemon (a system rsyslogd started by apt?): stop it first");
            std::thread::sleep(Duration::from_millis(200));
        }
        std::fs::create_dir_all(w.join("spool")).unwrap();
        // The JSON template of contrib/rsyslog-omhttp.conf, written to a file as
        // omhttp would post it (Debian's rsyslog has no omhttp module).
        let contrib = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/rsyslog-omhttp.conf"),
        )
        .unwrap();
        let start = contrib
            .find("template(name=\"sshmap_json\"")
            .expect("template in contrib/rsyslog-omhttp.conf");
        let template = &contrib
            [start..start + contrib[start..].find("\n}\n").expect("end of the template") + 2];
        let conf = format!(
            "global(workDirectory=\"{w}/spool\")\n\
             module(load=\"imuxsock\" SysSock.Name=\"/dev/log\" SysSock.RateLimit.Interval=\"0\")\n\
             {template}\n\
             auth,authpriv.* action(type=\"omfile\" file=\"{w}/omhttp.jsonl\" template=\"sshmap_json\")\n\
             auth,authpriv.* action(type=\"omfile\" file=\"{w}/auth.log\" template=\"RSYSLOG_FileFormat\")\n\
             auth,authpriv.* action(type=\"omfwd\" target=\"{ip}\" port=\"{port}\" protocol=\"tcp\" TCP_Framing=\"octet-counted\" template=\"RSYSLOG_SyslogProtocol23Format\" action.resumeRetryCount=\"-1\" action.resumeInterval=\"1\")\n",
            w = w.display(),
            ip = fwd.ip(),
            port = fwd.port()
        );
        std::fs::write(w.join("rsyslog.conf"), conf).unwrap();
        std::fs::write(w.join("auth.log"), "").unwrap();
        let mut rig = Rig {
            dir,
            rsyslog: None,
            sshd: None,
            user_created: false,
            ssh_port: free_port(),
        };
        let w = rig.dir.path().to_path_buf();
        rig.rsyslog = Some(
            Command::new(rsyslogd)
                .arg("-n")
                .arg("-f")
                .arg(w.join("rsyslog.conf"))
                .arg("-i")
                .arg(w.join("rsyslogd.pid"))
                .spawn()
                .unwrap(),
        );
        for _ in 0..100 {
            if Path::new("/dev/log").exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            Path::new("/dev/log").exists(),
            "rsyslogd did not create /dev/log"
        );

        if Command::new("id")
            .arg(USER)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
        {
            let _ = Command::new("userdel")
                .args(["-r", USER])
                .stderr(Stdio::null())
                .status();
        }
        assert!(Command::new("useradd")
            .args(["-m", "-s", "/bin/sh", USER])
            .status()
            .unwrap()
            .success());
        rig.user_created = true;
        let mut chpasswd = Command::new("chpasswd")
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        chpasswd
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{USER}:{PASS}\n").as_bytes())
            .unwrap();
        assert!(chpasswd.wait().unwrap().success());

        std::fs::create_dir_all("/run/sshd").unwrap();
        let key = w.join("host_ed25519");
        assert!(Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .status()
            .unwrap()
            .success());
        let cfg = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {key}\nPidFile {w}/sshd.pid\nSyslogFacility AUTH\nLogLevel INFO\n\
             UsePAM yes\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\nPermitRootLogin no\nMaxStartups 100\nUseDNS no\n",
            port = rig.ssh_port,
            key = key.display(),
            w = w.display()
        );
        std::fs::write(w.join("sshd_config"), cfg).unwrap();
        rig.sshd = Some(
            Command::new(sshd)
                .arg("-D")
                .arg("-f")
                .arg(w.join("sshd_config"))
                .spawn()
                .unwrap(),
        );
        wait_listening(rig.ssh_port);
        rig
    }

    fn auth_log(&self) -> PathBuf {
        self.dir.path().join("auth.log")
    }

    /// One real login attempt with the real client; true if it got in.
    fn login(&self, password: &str) -> bool {
        self.login_from(password, None)
    }

    /// The same from a local source address (`ssh -b`).
    fn login_from(&self, password: &str, source: Option<&str>) -> bool {
        Command::new("sshpass")
            .args(["-p", password, "ssh", "-p", &self.ssh_port.to_string()])
            .args(source.map(|s| ["-b", s]).into_iter().flatten())
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "LogLevel=ERROR",
            ])
            .args([
                "-o",
                "PubkeyAuthentication=no",
                "-o",
                "PreferredAuthentications=password",
                "-o",
                "NumberOfPasswordPrompts=1",
            ])
            .arg(format!("{USER}@127.0.0.1"))
            .arg("true")
            .stdin(Stdio::null())
            .status()
            .unwrap()
            .success()
    }
}

fn unsafe_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .is_some_and(|l| l.split_whitespace().nth(1) == Some("0"))
}

/// The real-sshd tests log in after one wrong password (each failed real login
/// costs seconds): they lower the address threshold to 1 to see the alert path
/// work end to end. The default (5: a typo then a login is no alert) is held by
/// the unit tests in src/serve/alerts.rs and by the page test (`live.mjs`).
fn sshd_cfg() -> ServeConfig {
    ServeConfig {
        alert_ip_failures: 1,
        ..base_cfg()
    }
}

fn base_cfg() -> ServeConfig {
    ServeConfig {
        tokens: vec![sshmap::serve::Token {
            secret: "test-token-123".into(),
            name: "t".into(),
            hosts: None,
        }],
        ..ServeConfig::default()
    }
}

#[test]
fn real_sshd_logins_reach_the_stream_within_a_second_and_raise_an_alert() {
    if !crate::ship::system_tests_enabled(
        "real_sshd_logins_reach_the_stream_within_a_second_and_raise_an_alert",
    ) {
        return;
    }
    let _g = DEVLOG.lock().unwrap_or_else(|e| e.into_inner());
    // B receives rsyslog's omfwd stream (the fleet path); A follows rsyslog's file.
    let syslog_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let b = Server::start(ServeConfig {
        syslog: Some(syslog_addr),
        ..sshd_cfg()
    });
    let rig = Rig::start(syslog_addr);
    let a = Server::start(ServeConfig {
        tail: vec![rig.auth_log()],
        ..sshd_cfg()
    });
    let (mut sa, _) = a.stream();
    let (mut sb, _) = b.stream();

    assert!(!rig.login("wrong-password"), "a wrong password must fail");
    let done = Instant::now();
    let got = read_sse(
        &mut sa,
        |t| t.contains("\"kind\":\"auth_failure\"") && t.contains(USER),
        Duration::from_secs(5),
    );
    let took = done.elapsed();
    assert!(
        got.contains("\"kind\":\"auth_failure\"") && got.contains(USER),
        "no auth_failure on the stream:\n{got}\nauth.log:\n{}",
        std::fs::read_to_string(rig.auth_log()).unwrap_or_default()
    );
    assert!(
        took <= Duration::from_secs(1),
        "auth_failure took {took:?} after the client gave up"
    );
    assert!(got.contains("\"ip\":\"127.0.0.1\""), "{got}");

    assert!(rig.login(PASS), "the right password must work");
    let got = read_sse(
        &mut sa,
        |t| t.contains("event: alert"),
        Duration::from_secs(5),
    );
    assert!(got.contains("\"kind\":\"auth_success\""), "{got}");
    assert!(
        got.contains("event: alert") && got.contains("success_after_ip_failures"),
        "no alert:\n{got}"
    );

    // The same through rsyslog omfwd → --syslog.
    let got = read_sse(
        &mut sb,
        |t| t.contains("event: alert"),
        Duration::from_secs(10),
    );
    assert!(
        got.contains("\"kind\":\"auth_failure\"") && got.contains("success_after_ip_failures"),
        "syslog path:\n{got}"
    );

    // The same as rsyslog omhttp would post it: what rsyslog wrote with the
    // contrib template, sent as one `batch.format="jsonarray"` request.
    let c = Server::start(sshd_cfg());
    let (mut sc, _) = c.stream();
    let json = std::fs::read_to_string(rig.dir.path().join("omhttp.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&json)
        .into_iter::<serde_json::Value>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("rsyslog's JSON does not parse: {e}\n{json}"));
    assert!(
        records.iter().any(|r| r["msg"]
            .as_str()
            .is_some_and(|m| m.contains("Failed password"))),
        "{json}"
    );
    let body = serde_json::to_vec(&records).unwrap();
    let resp = super::serve::http(
        c.addr,
        "POST",
        "/api/ingest",
        &[
            ("Authorization", "Bearer test-token-123"),
            ("Content-Type", "application/json"),
        ],
        &body,
    );
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let got = read_sse(
        &mut sc,
        |t| t.contains("event: alert"),
        Duration::from_secs(10),
    );
    assert!(
        got.contains("\"kind\":\"auth_failure\"")
            && got.contains("success_after_ip_failures")
            && got.contains(USER),
        "omhttp JSON path:\n{got}\n{json}"
    );
    drop(rig);
    a.stop();
    b.stop();
    c.stop();
}

/// The repository root, once `tests/browser` has its playwright-core.
fn browser_scripts() -> &'static Path {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .is_dir(),
        "playwright-core is not installed: run `npm ci --prefix tests/browser` (see .ci/run)"
    );
    root
}

/// Runs `tests/browser/live.mjs` against a fresh `serve`: events posted while
/// the page is open must reach it over SSE (marker, pulse, feed, counter, alert).
fn live_page_in_chromium(anonymize_ip: bool) {
    if !crate::ship::browser_tests_enabled("live_page_in_chromium") {
        return;
    }
    let _g = DEVLOG.lock().unwrap_or_else(|e| e.into_inner());
    need("chromium");
    let root = browser_scripts();
    let srv = Server::start(ServeConfig {
        home: Some((48.85, 2.35)),
        anonymize_ip,
        ..base_cfg()
    });
    let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join("live");
    std::fs::create_dir_all(&keep).unwrap();
    let shot = keep.join(if anonymize_ip {
        "live-anonymized.png"
    } else {
        "live.png"
    });
    let mut cmd = Command::new("node");
    cmd.arg(root.join("tests/browser/live.mjs"))
        .arg(format!("http://{}/", srv.addr))
        .arg("test-token-123")
        .arg(&shot);
    if anonymize_ip {
        cmd.arg("anonymized");
    }
    let o = cmd.output().expect("run node (install nodejs)");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "live page checks failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    eprintln!("screenshot for a person to look at: {}", shot.display());
    srv.stop();
}

#[test]
fn headless_chromium_shows_events_and_alerts_arriving_over_sse() {
    live_page_in_chromium(false);
}

#[test]
fn headless_chromium_live_page_with_anonymized_addresses() {
    live_page_in_chromium(true);
}

/// A public address on the loopback interface while the test runs, so that a
/// real client can connect from it and sshd logs an address GeoIP places.
struct LoopbackAlias(&'static str);

impl LoopbackAlias {
    fn add(addr: &'static str) -> LoopbackAlias {
        let ip = need("ip");
        let _ = Command::new(&ip)
            .args(["addr", "del", &format!("{addr}/32"), "dev", "lo"])
            .stderr(Stdio::null())
            .status();
        let ok = Command::new(&ip)
            .args(["addr", "add", &format!("{addr}/32"), "dev", "lo"])
            .status()
            .unwrap()
            .success();
        assert!(
            ok,
            "cannot add {addr} to lo (the test needs root with CAP_NET_ADMIN; iproute2)"
        );
        LoopbackAlias(addr)
    }
}

impl Drop for LoopbackAlias {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["addr", "del", &format!("{}/32", self.0), "dev", "lo"])
            .status();
    }
}

#[test]
fn headless_chromium_shows_the_marker_and_alert_of_real_sshd_logins() {
    use std::io::BufRead;
    if !crate::ship::system_tests_enabled(
        "headless_chromium_shows_the_marker_and_alert_of_real_sshd_logins",
    ) || !crate::ship::browser_tests_enabled(
        "headless_chromium_shows_the_marker_and_alert_of_real_sshd_logins",
    ) {
        return;
    }
    let _g = DEVLOG.lock().unwrap_or_else(|e| e.into_inner());
    need("chromium");
    let root = browser_scripts();
    const FROM: &str = "8.8.4.4";
    let _alias = LoopbackAlias::add(FROM);
    // rsyslog's forward must be accepted (else rsyslog holds every message back); only the file matters here.
    let sink = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let fwd = sink.local_addr().unwrap();
    std::thread::spawn(move || {
        for c in sink.incoming().flatten() {
            std::thread::spawn(move || std::io::copy(&mut { c }, &mut std::io::sink()));
        }
    });
    let rig = Rig::start(fwd);
    let srv = Server::start(ServeConfig {
        tail: vec![rig.auth_log()],
        home: Some((48.85, 2.35)),
        ..sshd_cfg()
    });
    let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join("live");
    std::fs::create_dir_all(&keep).unwrap();
    let shot = keep.join("live-real-sshd.png");
    let mut node = Command::new("node")
        .arg(root.join("tests/browser/live.mjs"))
        .arg(format!("http://{}/", srv.addr))
        .arg("test-token-123")
        .arg(&shot)
        .arg("external")
        .env("SSHMAP_EXPECT_IP", FROM)
        .stdout(Stdio::piped())
        .spawn()
        .expect("run node (install nodejs)");
    let mut stdout = std::io::BufReader::new(node.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert_eq!(first.trim(), "READY", "the page did not connect");
    assert!(
        !rig.login_from("wrong-password", Some(FROM)),
        "a wrong password must fail"
    );
    assert!(
        rig.login_from(PASS, Some(FROM)),
        "the right password must work"
    );
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let status = node.wait().unwrap();
    assert!(
        status.success(),
        "live page checks failed:\n{rest}\nauth.log:\n{}",
        std::fs::read_to_string(rig.auth_log()).unwrap_or_default()
    );
    eprintln!("screenshot for a person to look at: {}", shot.display());
    drop(rig);
    srv.stop();
}
