//! GeoIP enrichment end to end: `parse` and `stats` output, `--geoip`/`--asn`
//! from flags, environment and config file, `geoip lookup/info/update` (against
//! a local HTTP server on 127.0.0.1), and the errors for bad database files.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::mmdb_writer::fixtures;

/// `sshmap` with no GeoIP settings inherited and an empty data directory,
/// so a database the developer downloaded does not change the answers.
fn sshmap(data_dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sshmap"));
    for k in [
        "SSHMAP_GEOIP",
        "SSHMAP_ASN",
        "SSHMAP_CONFIG",
        "SSHMAP_DATA_DIR",
    ] {
        c.env_remove(k);
    }
    c.env("SSHMAP_DATA_DIR", data_dir).env("SSHMAP_TZ", "UTC");
    c
}

fn run(c: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = c.output().expect("run sshmap");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// A temp dir with the test databases and a log.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        fixtures::maxmind_city().write(&dir.path().join("city.mmdb"));
        fixtures::maxmind_asn().write(&dir.path().join("asn.mmdb"));
        fixtures::flat_city().write(&dir.path().join("flat-city.mmdb"));
        fixtures::flat_asn().write(&dir.path().join("flat-asn.mmdb"));
        let log = [
            "2026-11-23T07:41:35.000000+00:00 vm sshd[4202]: Failed password for invalid user alice from 81.2.69.142 port 34932 ssh2",
            "2026-11-23T07:41:36.000000+00:00 vm sshd[4203]: Failed password for root from 2a02:d300::1 port 40000 ssh2",
            "2026-11-23T07:41:37.000000+00:00 vm sshd[4204]: Failed password for root from 10.0.0.5 port 40001 ssh2",
            "2026-11-23T07:41:38.000000+00:00 vm sshd[4205]: Failed password for root from 8.8.8.8 port 40002 ssh2",
            "2026-11-23T07:41:39.000000+00:00 vm sshd[4206]: Failed password for root from ::ffff:1.1.1.1 port 40003 ssh2",
            "2026-11-23T07:41:40.000000+00:00 vm sshd[4207]: Failed password for admin from 81.2.69.142 port 34933 ssh2",
            "2026-11-23T07:41:41.000000+00:00 vm sshd[4208]: Failed password for root from 127.0.0.1 port 40004 ssh2",
            "2026-11-23T07:41:42.000000+00:00 vm sshd[4209]: Failed password for root from 203.0.113.9 port 40005 ssh2",
        ];
        std::fs::write(dir.path().join("auth.log"), log.join("\n") + "\n").unwrap();
        fs_mkdir(&dir.path().join("data"));
        Setup { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn cmd(&self) -> Command {
        sshmap(&self.path("data"))
    }

    /// `sshmap parse auth.log` events by IP.
    fn parse(&self, extra: &[&str], env: &[(&str, PathBuf)]) -> Vec<Value> {
        let mut c = self.cmd();
        c.args(extra).arg("parse").arg(self.path("auth.log"));
        for (k, v) in env {
            c.env(k, v);
        }
        let (code, out, err) = run(&mut c);
        assert_eq!(code, 0, "{err}");
        out.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn fs_mkdir(p: &Path) {
    std::fs::create_dir_all(p).unwrap();
}

fn by_ip<'a>(events: &'a [Value], ip: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["ip"] == ip)
        .unwrap_or_else(|| panic!("no event from {ip}"))
}

#[test]
fn parse_with_city_and_asn_databases() {
    let s = Setup::new();
    let city = s.path("city.mmdb");
    let asn = s.path("asn.mmdb");
    let evs = s.parse(
        &[
            "--geoip",
            city.to_str().unwrap(),
            "--asn",
            asn.to_str().unwrap(),
        ],
        &[],
    );
    let gb = by_ip(&evs, "81.2.69.142");
    assert_eq!(gb["scope"], "public");
    assert_eq!(
        gb["geo"],
        serde_json::json!({"country":"GB","country_name":"United Kingdom","city":"London","lat":51.5142,"lon":-0.0931,
                           "asn":20712,"org":"Andrews & Arnold Ltd","precision":"city"})
    );
    let fr = by_ip(&evs, "2a02:d300::1");
    assert_eq!(
        (
            &fr["geo"]["country"],
            &fr["geo"]["city"],
            &fr["geo"]["precision"]
        ),
        (&"FR".into(), &Value::Null, &"country".into())
    );
    assert!(fr["geo"]["lat"].is_f64());
    // Not in the test databases: no geo, but public.
    assert_eq!(
        (
            &by_ip(&evs, "8.8.8.8")["geo"],
            &by_ip(&evs, "8.8.8.8")["scope"]
        ),
        (&Value::Null, &"public".into())
    );
    for (ip, scope) in [
        ("10.0.0.5", "private"),
        ("127.0.0.1", "loopback"),
        ("203.0.113.9", "reserved"),
    ] {
        let e = by_ip(&evs, ip);
        assert_eq!(
            (&e["geo"], &e["scope"]),
            (&Value::Null, &scope.into()),
            "{ip}"
        );
    }
}

#[test]
fn embedded_database_by_default() {
    let s = Setup::new();
    let evs = s.parse(&[], &[]);
    let us = &by_ip(&evs, "8.8.8.8")["geo"];
    assert_eq!(
        (&us["country"], &us["country_name"], &us["precision"]),
        (&"US".into(), &"United States".into(), &"country".into())
    );
    assert!(us["lat"].is_number() && us["lon"].is_number());
    // IPv4-mapped IPv6 is shown and looked up as IPv4.
    assert_eq!(by_ip(&evs, "1.1.1.1")["geo"]["country"], "AU");
    assert_eq!(by_ip(&evs, "10.0.0.5")["geo"], Value::Null);
    let (code, out, err) = run(s.cmd().args([
        "geoip",
        "lookup",
        "8.8.8.8",
        "1.1.1.1",
        "::ffff:1.1.1.1",
        "192.168.1.1",
    ]));
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("8.8.8.8: United States (US)"), "{out}");
    assert!(lines[1].starts_with("1.1.1.1: Australia (AU)"), "{out}");
    assert!(lines[2].starts_with("1.1.1.1: Australia (AU)"), "{out}");
    assert_eq!(lines[3], "192.168.1.1: private address, no location");
}

#[test]
fn lookup_json_and_flat_schema() {
    let s = Setup::new();
    let (code, out, err) = run(s
        .cmd()
        .args([
            "geoip",
            "lookup",
            "--json",
            "81.2.69.1",
            "2a02:d300::9",
            "fd00::1",
        ])
        .args([
            "--geoip",
            s.path("flat-city.mmdb").to_str().unwrap(),
            "--asn",
            s.path("flat-asn.mmdb").to_str().unwrap(),
        ]));
    assert_eq!(code, 0, "{err}");
    let v: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(v[0]["geo"]["city"], "London");
    assert_eq!(v[0]["geo"]["lat"], 51.5142);
    assert_eq!(v[1]["geo"]["city"], "Paris");
    assert_eq!(
        (&v[1]["geo"]["asn"], &v[1]["geo"]["org"]),
        (&3215.into(), &"Orange".into())
    );
    assert_eq!(
        (&v[2]["scope"], &v[2]["geo"]),
        (&"private".into(), &Value::Null)
    );
    let (code, _, err) = run(s.cmd().args(["geoip", "lookup", "not-an-ip"]));
    assert_eq!(code, 2);
    assert!(err.contains("not an IP address"), "{err}");
}

#[test]
fn databases_from_environment_and_config_file() {
    let s = Setup::new();
    let evs = s.parse(
        &[],
        &[
            ("SSHMAP_GEOIP", s.path("city.mmdb")),
            ("SSHMAP_ASN", s.path("asn.mmdb")),
        ],
    );
    assert_eq!(by_ip(&evs, "81.2.69.142")["geo"]["city"], "London");
    assert_eq!(by_ip(&evs, "81.2.69.142")["geo"]["asn"], 20712);
    let cfg = s.path("sshmap.toml");
    std::fs::write(
        &cfg,
        format!(
            "geoip = {:?}\nasn = {:?}\n",
            s.path("flat-city.mmdb"),
            s.path("flat-asn.mmdb")
        ),
    )
    .unwrap();
    let evs = s.parse(&["--config", cfg.to_str().unwrap()], &[]);
    assert_eq!(by_ip(&evs, "2a02:d300::1")["geo"]["city"], "Paris");
    // The flag beats the environment.
    let evs = s.parse(
        &["--geoip", s.path("city.mmdb").to_str().unwrap()],
        &[("SSHMAP_GEOIP", s.path("flat-city.mmdb"))],
    );
    assert_eq!(by_ip(&evs, "2a02:d300::1")["geo"]["city"], Value::Null);
}

#[test]
fn geoip_none_turns_enrichment_off_but_keeps_scope() {
    let s = Setup::new();
    let evs = s.parse(&["--geoip", "none"], &[]);
    assert_eq!(by_ip(&evs, "8.8.8.8")["geo"], Value::Null);
    assert_eq!(by_ip(&evs, "8.8.8.8")["scope"], "public");
    assert_eq!(by_ip(&evs, "10.0.0.5")["scope"], "private");
}

#[test]
fn stats_top_countries_and_asns() {
    let s = Setup::new();
    let (code, out, err) = run(s.cmd().args([
        "--geoip",
        s.path("city.mmdb").to_str().unwrap(),
        "--asn",
        s.path("asn.mmdb").to_str().unwrap(),
        "stats",
        "--json",
        s.path("auth.log").to_str().unwrap(),
    ]));
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["top_countries"][0]["country"], "GB");
    assert_eq!(v["top_countries"][0]["country_name"], "United Kingdom");
    assert_eq!(v["top_countries"][0]["attempts"], 2);
    assert_eq!(v["countries"], 2); // GB, FR: the private and reserved ones are not countries
    assert_eq!(v["top_asns"][0]["asn"], 20712);
    assert_eq!(v["top_asns"][0]["org"], "Andrews & Arnold Ltd");
    // Terminal view.
    let (_, out, _) = run(s
        .cmd()
        .args(["stats", s.path("auth.log").to_str().unwrap()]));
    assert!(
        out.contains("Top countries") && out.contains("United States") && out.contains("Australia"),
        "{out}"
    );
}

#[test]
fn bad_database_files_name_the_flag() {
    let s = Setup::new();
    std::fs::write(
        s.path("corrupt.mmdb"),
        b"\x00\x01 definitely not a database",
    )
    .unwrap();
    let cases: [(&[&str], &[&str]); 4] = [
        (
            &["--geoip", "missing.mmdb"],
            &["--geoip", "missing.mmdb", "cannot open"],
        ),
        (
            &["--geoip", "corrupt.mmdb"],
            &[
                "--geoip",
                "corrupt.mmdb",
                "not a MaxMind DB",
                "GeoLite2-City.mmdb",
            ],
        ),
        (
            &["--asn", "city.mmdb"],
            &[
                "--asn",
                "wrong kind of database",
                "GeoLite2-City",
                "--geoip",
            ],
        ),
        (
            &["--geoip", "asn.mmdb"],
            &["--geoip", "wrong kind of database", "GeoLite2-ASN", "--asn"],
        ),
    ];
    for (args, want) in cases {
        let mut c = s.cmd();
        c.current_dir(s.dir.path())
            .args(args)
            .arg("parse")
            .arg("auth.log");
        let (code, out, err) = run(&mut c);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty());
        for w in want {
            assert!(err.contains(w), "{args:?}: {w:?} not in {err}");
        }
    }
}

#[test]
fn info_lists_databases_with_licence_and_attribution() {
    let s = Setup::new();
    let (code, out, err) = run(s.cmd().args(["geoip", "info"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("embedded in the sshmap binary"), "{out}");
    assert!(
        out.contains("IP Geolocation by DB-IP (https://db-ip.com)"),
        "{out}"
    );
    assert!(out.contains("CC BY 4.0"), "{out}");
    assert!(out.contains("(country, IPv6)"), "{out}");
    let (code, out, err) = run(s.cmd().args([
        "geoip",
        "info",
        "--geoip",
        s.path("city.mmdb").to_str().unwrap(),
        "--asn",
        s.path("asn.mmdb").to_str().unwrap(),
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("location database: ") && out.contains("city.mmdb (--geoip)"),
        "{out}"
    );
    assert!(
        out.contains("GeoLite2-City (city, IPv6)") && out.contains("GeoLite2-ASN (asn, IPv6)"),
        "{out}"
    );
    assert!(out.contains("built:       2026-01-01"), "{out}");
    assert!(
        out.contains("records:     5 networks") && out.contains("records:     3 networks"),
        "{out}"
    );
    assert!(out.contains("GeoLite2 End User License Agreement"), "{out}");
}

/// Serves `routes` (path → raw HTTP response) on 127.0.0.1, one request per
/// connection; the thread ends with the test process.
fn serve(routes: Vec<(&'static str, Vec<u8>)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(64) {
            let Ok(mut conn) = conn else { continue };
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let line = String::from_utf8_lossy(&req)
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            let path = line.split(' ').nth(1).unwrap_or("");
            let resp = routes
                .iter()
                .find(|(p, _)| *p == path)
                .map(|(_, r)| r.clone())
                .unwrap_or_else(|| {
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_vec()
                });
            let _ = conn.write_all(&resp);
        }
    });
    format!("http://{addr}")
}

fn response(body: &[u8], declared_len: usize) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/gzip\r\nContent-Length: {declared_len}\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn update_downloads_atomically_and_survives_bad_downloads() {
    let s = Setup::new();
    let good = gzip(&fixtures::flat_country("NL").build());
    let newer = gzip(&fixtures::flat_country("DE").build());
    let plain = fixtures::flat_country("SE").build();
    let asn = gzip(&fixtures::maxmind_asn().build());
    let base = serve(vec![
        ("/good.mmdb.gz", response(&good, good.len())),
        // The connection closes half way through the declared length.
        (
            "/cut-connection.mmdb.gz",
            response(&newer[..newer.len() / 2], newer.len()),
        ),
        // A complete response whose gzip stream stops half way.
        (
            "/cut-gzip.mmdb.gz",
            response(&newer[..newer.len() / 2], newer.len() / 2),
        ),
        // Plain .mmdb cut before its metadata.
        (
            "/cut-plain.mmdb",
            response(&plain[..plain.len() - 40], plain.len() - 40),
        ),
        ("/asn.mmdb.gz", response(&asn, asn.len())),
        ("/plain.mmdb", response(&plain, plain.len())),
    ]);
    let data = s.path("data");
    let lookup = || {
        let (code, out, err) = run(s.cmd().args(["geoip", "lookup", "--json", "8.8.8.8"]));
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<Value>(&out).unwrap()["geo"]["country"].clone()
    };
    assert_eq!(lookup(), "US"); // embedded
    let (code, out, err) =
        run(s
            .cmd()
            .args(["geoip", "update", "--url", &format!("{base}/good.mmdb.gz")]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("dbip-country-lite.mmdb") && out.contains("DB-IP"),
        "{out}"
    );
    assert!(data.join("dbip-country-lite.mmdb").is_file());
    assert_eq!(
        lookup(),
        "NL",
        "the downloaded database is preferred over the embedded one"
    );
    let (_, out, _) = run(s.cmd().args(["geoip", "info"]));
    assert!(
        out.contains("dbip-country-lite.mmdb (sshmap geoip update)"),
        "{out}"
    );

    for bad in [
        "/cut-connection.mmdb.gz",
        "/cut-gzip.mmdb.gz",
        "/cut-plain.mmdb",
        "/missing.mmdb.gz",
    ] {
        let (code, _, err) =
            run(s
                .cmd()
                .args(["geoip", "update", "--url", &format!("{base}{bad}")]));
        assert_eq!(code, 2, "{bad}");
        assert!(
            err.contains("geoip update") && err.contains("is unchanged"),
            "{bad}: {err}"
        );
        assert_eq!(lookup(), "NL", "{bad}: the old database stays in use");
    }
    let (code, _, err) = run(s.cmd().args([
        "geoip",
        "update",
        "--url",
        &format!("{base}/missing.mmdb.gz"),
    ]));
    assert!(code == 2 && err.contains("404"), "{err}");
    // The wrong edition is refused.
    let (code, _, err) =
        run(s
            .cmd()
            .args(["geoip", "update", "--url", &format!("{base}/asn.mmdb.gz")]));
    assert!(
        code == 2 && err.contains("not the country edition"),
        "{err}"
    );
    let (code, _, err) = run(s.cmd().args([
        "geoip",
        "update",
        "--edition",
        "asn",
        "--url",
        &format!("{base}/asn.mmdb.gz"),
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(data.join("dbip-asn-lite.mmdb").is_file());
    // Uncompressed downloads work too.
    let (code, _, err) =
        run(s
            .cmd()
            .args(["geoip", "update", "--url", &format!("{base}/plain.mmdb")]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(lookup(), "SE");
    // No temporary files left behind.
    let mut names: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["dbip-asn-lite.mmdb", "dbip-country-lite.mmdb"]);
}
