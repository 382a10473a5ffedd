//! Unit tests of the message classifier: one per catalogue variant
//! (`shared/reference/sshd-variants.md`, ids in the test names), then the
//! attacker-text injections every user-carrying message must withstand.

use super::*;

fn c(msg: &str) -> Msg {
    classify(msg.as_bytes())
}

fn ip(m: &Msg) -> String {
    m.ip.map(|i| i.to_string()).unwrap_or_default()
}

#[track_caller]
fn check(msg: &str, kind: Kind, user: Option<&str>, invalid: bool, addr: &str, port: Option<u16>) {
    let m = c(msg);
    assert_eq!(m.kind, kind, "kind of {msg}");
    assert_eq!(m.user.as_deref(), user, "user of {msg}");
    assert_eq!(m.invalid_user, invalid, "invalid_user of {msg}");
    assert_eq!(ip(&m), addr, "ip of {msg}");
    assert_eq!(m.port, port, "port of {msg}");
}

#[test]
fn a1_a7_failed_auth() {
    check(
        "Failed password for root from 89.160.20.156 port 29160 ssh2",
        Kind::AuthFailure,
        Some("root"),
        false,
        "89.160.20.156",
        Some(29160),
    );
    check(
        "Failed password for invalid user ROOT from 194.117.26.69 port 50273 ssh2",
        Kind::AuthFailure,
        Some("ROOT"),
        true,
        "194.117.26.69",
        Some(50273),
    );
    let m = c("Failed keyboard-interactive/pam for invalid user jamedds from 205.186.180.77 port 33723 ssh2");
    assert_eq!(
        (m.method.as_deref(), m.user.as_deref(), m.invalid_user),
        (Some("keyboard-interactive/pam"), Some("jamedds"), true)
    );
    let m = c("Failed publickey for git from 192.0.2.1 port 57904 ssh2: ECDSA 0e:ff:aa:bb");
    assert_eq!(
        (m.kind, m.method.as_deref(), ip(&m).as_str()),
        (Kind::AuthFailure, Some("publickey"), "192.0.2.1")
    );
    check(
        "Failed none for invalid user 0 from 5.188.10.180 port 49811 ssh2",
        Kind::AuthFailure,
        Some("0"),
        true,
        "5.188.10.180",
        Some(49811),
    );
    let m = c(
        r#"Failed hostbased for dan from 127.0.0.1 port 45785 ssh2: RSA 8c:e3:aa, client user "dan from 10.0.0.9 port 1 ssh2", client host "localhost.localdomain""#,
    );
    assert_eq!(
        (ip(&m).as_str(), m.user.as_deref()),
        ("127.0.0.1", Some("dan"))
    );
    let m = c("Failed unknown for invalid user redmond from 192.0.2.1 port 59197 ssh2");
    assert_eq!(
        (m.method.as_deref(), m.user.as_deref()),
        (Some("unknown"), Some("redmond"))
    );
    let m = c(
        "Failed keyboard-interactive for <invalid username> from 205.186.180.55 port 42742 ssh2",
    );
    assert_eq!(
        (m.kind, m.user.as_deref(), m.invalid_user, ip(&m).as_str()),
        (Kind::AuthFailure, None, true, "205.186.180.55")
    );
    check(
        "Failed password for invalid user  from 192.0.2.68 port 34916 ssh2",
        Kind::AuthFailure,
        Some(""),
        true,
        "192.0.2.68",
        Some(34916),
    );
    check(
        "Failed password for root from ::ffff:1.2.3.4 port 22 ssh2",
        Kind::AuthFailure,
        Some("root"),
        false,
        "1.2.3.4",
        Some(22),
    );
    check(
        "Failed password for root from 2001:db8::5 port 22 ssh2",
        Kind::AuthFailure,
        Some("root"),
        false,
        "2001:db8::5",
        Some(22),
    );
}

#[test]
fn a9_a14_accepted_and_root_refused() {
    let m = c("Accepted password for vagrant from 192.168.33.1 port 58803 ssh2");
    assert_eq!(
        (m.kind, m.method.as_deref(), m.user.as_deref()),
        (Kind::AuthSuccess, Some("password"), Some("vagrant"))
    );
    check("Accepted publickey for vagrant from 10.0.2.2 port 48274 ssh2: ED25519 SHA256:k1kjhwoH/H3w31MbGOIGd7qxrkSQJnoAN0eYJVHDmmI", Kind::AuthSuccess, Some("vagrant"), false, "10.0.2.2", Some(48274));
    check("Accepted publickey for alice from 192.0.2.9 port 50022 ssh2: ED25519-CERT SHA256:abc ID alice from 6.6.6.6 port 1 ssh2 (serial 7) CA ED25519 SHA256:def", Kind::AuthSuccess, Some("alice"), false, "192.0.2.9", Some(50022));
    assert_eq!(
        c("Partial publickey for bob from 192.0.2.9 port 50022 ssh2: ED25519 SHA256:x").kind,
        Kind::Other
    );
    check(
        "Postponed keyboard-interactive for invalid user warez from 192.241.237.101 port 54197 ssh2 [preauth]",
        Kind::InvalidUser,
        Some("warez"),
        true,
        "192.241.237.101",
        Some(54197),
    );
    check(
        "Postponed publickey for git from 192.0.2.1 port 57904 ssh2 [preauth]",
        Kind::Other,
        None,
        false,
        "192.0.2.1",
        Some(57904),
    );
    check(
        "ROOT LOGIN REFUSED FROM 1.2.3.4 port 12345",
        Kind::Refused,
        Some("root"),
        false,
        "1.2.3.4",
        Some(12345),
    );
    check(
        "ROOT LOGIN REFUSED FROM ::ffff:1.2.3.4",
        Kind::Refused,
        Some("root"),
        false,
        "1.2.3.4",
        None,
    );
}

#[test]
fn u1_u9_invalid_and_refused_users() {
    check(
        "Invalid user test from 10.0.2.2",
        Kind::InvalidUser,
        Some("test"),
        true,
        "10.0.2.2",
        None,
    );
    check(
        "Invalid user ftp from 192.0.2.2 port 37220",
        Kind::InvalidUser,
        Some("ftp"),
        true,
        "192.0.2.2",
        Some(37220),
    );
    check(
        "Invalid user  from 192.0.2.68 port 34916",
        Kind::InvalidUser,
        Some(""),
        true,
        "192.0.2.68",
        Some(34916),
    );
    check(
        "Illegal user test from 10.0.0.1",
        Kind::InvalidUser,
        Some("test"),
        true,
        "10.0.0.1",
        None,
    );
    assert_eq!(
        c("input_userauth_request: invalid user root [preauth]").kind,
        Kind::Other
    );
    check(
        "User root from 192.168.1.1 not allowed because not listed in AllowUsers",
        Kind::Refused,
        Some("root"),
        false,
        "192.168.1.1",
        None,
    );
    check(
        "User root from host.example.com not allowed because listed in DenyUsers",
        Kind::Refused,
        Some("root"),
        false,
        "",
        None,
    );
    check(
        "User root not allowed because account is locked",
        Kind::Refused,
        Some("root"),
        false,
        "",
        None,
    );
    assert_eq!(
        c("User bob not allowed because /etc/nologin exists").kind,
        Kind::Other
    );
    check(
        "administratively prohibited connection for root from 192.0.2.3 port 40022",
        Kind::Refused,
        Some("root"),
        false,
        "192.0.2.3",
        Some(40022),
    );
    check(
        "fatal: Access denied for user bob by PAM account configuration [preauth]",
        Kind::Refused,
        Some("bob"),
        false,
        "",
        None,
    );
}

#[test]
fn m1_m8_too_many_and_disconnecting() {
    check(
        "Disconnecting: Too many authentication failures for root [preauth]",
        Kind::TooManyFailures,
        Some("root"),
        false,
        "",
        None,
    );
    check("Disconnecting: Too many authentication failures for invalid user x from 192.0.2.7 port 4 ssh2 [preauth]", Kind::TooManyFailures, Some("x"), true, "192.0.2.7", Some(4));
    check("error: maximum authentication attempts exceeded for invalid user xxx from 192.0.2.7 port 49941 ssh2 [preauth]", Kind::TooManyFailures, Some("xxx"), true, "192.0.2.7", Some(49941));
    check(
        "maximum authentication attempts exceeded for root from 192.0.2.7 port 49941 ssh2",
        Kind::TooManyFailures,
        Some("root"),
        false,
        "192.0.2.7",
        Some(49941),
    );
    check(
        "Disconnecting: Too many authentication failures [preauth]",
        Kind::TooManyFailures,
        None,
        false,
        "",
        None,
    );
    check("Disconnecting invalid user xxx 192.0.2.7 port 49941: Too many authentication failures [preauth]", Kind::TooManyFailures, Some("xxx"), true, "192.0.2.7", Some(49941));
    check("Disconnecting authenticating user root 192.0.2.7 port 49941: Too many authentication failures [preauth]", Kind::TooManyFailures, Some("root"), false, "192.0.2.7", Some(49941));
    check("Disconnecting invalid user admin 192.0.2.117 port 44004: Change of username or service not allowed: (admin,ssh-connection) -> (user,ssh-connection) [preauth]", Kind::PreauthClose, Some("admin"), true, "192.0.2.117", Some(44004));
    check("Disconnecting: Change of username or service not allowed: (a,ssh-connection) -> (b,ssh-connection) [preauth]", Kind::PreauthClose, None, false, "", None);
}

#[test]
fn c1_c16_connection_ends() {
    check(
        "Connection closed by 61.0.0.1 [preauth]",
        Kind::PreauthClose,
        None,
        false,
        "61.0.0.1",
        None,
    );
    check(
        "Connection closed by 118.27.24.104 port 33594 [preauth]",
        Kind::PreauthClose,
        None,
        false,
        "118.27.24.104",
        Some(33594),
    );
    check(
        "Connection closed by authenticating user root 192.0.2.10 port 46038 [preauth]",
        Kind::PreauthClose,
        Some("root"),
        false,
        "192.0.2.10",
        Some(46038),
    );
    check("Connection closed by authenticating user test 127.0.0.1 port 12345 192.0.2.11 port 46039 [preauth]", Kind::PreauthClose, Some("test 127.0.0.1 port 12345"), false, "192.0.2.11", Some(46039));
    check(
        "Connection closed by invalid user  192.0.2.68 port 34916 [preauth]",
        Kind::PreauthClose,
        Some(""),
        true,
        "192.0.2.68",
        Some(34916),
    );
    check(
        "Connection reset by authenticating user root 80.94.92.63 port 49115 [preauth]",
        Kind::PreauthClose,
        Some("root"),
        false,
        "80.94.92.63",
        Some(49115),
    );
    check(
        "Connection reset by 80.94.92.63 port 49115 [preauth]",
        Kind::PreauthClose,
        None,
        false,
        "80.94.92.63",
        Some(49115),
    );
    check(
        "Disconnected from invalid user ftp 92.255.85.135 port 26138 [preauth]",
        Kind::PreauthClose,
        Some("ftp"),
        true,
        "92.255.85.135",
        Some(26138),
    );
    check(
        "Disconnected from 92.255.85.135 port 26138 [preauth]",
        Kind::PreauthClose,
        None,
        false,
        "92.255.85.135",
        Some(26138),
    );
    let m = c("Disconnected from user user 172.18.1.100 port 43042");
    assert_eq!((m.kind, m.conn), (Kind::Other, Conn::Closes));
    check(
        "Received disconnect from 52.80.34.196: 11: Bye Bye [preauth]",
        Kind::PreauthClose,
        None,
        false,
        "52.80.34.196",
        None,
    );
    check(
        "Received disconnect from 198.51.100.76 port 58846:11: Bye Bye [preauth]",
        Kind::PreauthClose,
        None,
        false,
        "198.51.100.76",
        Some(58846),
    );
    check(
        "Received disconnect from 198.51.100.76 port 58846:11:  [preauth]",
        Kind::PreauthClose,
        None,
        false,
        "198.51.100.76",
        Some(58846),
    );
    check("error: Received disconnect from 10.0.0.1 port 7736:3: com.jcraft.jsch.JSchException: Auth fail [preauth]", Kind::PreauthClose, None, false, "10.0.0.1", Some(7736));
    check(
        "Received disconnect from 2001:db8::1 port 5:11: Bye from 1.2.3.4 port 9 [preauth]",
        Kind::PreauthClose,
        None,
        false,
        "2001:db8::1",
        Some(5),
    );
    // Without `[preauth]`: a pre-auth end unless the connection logged in
    // (the correlator knows), and not the connection's last line.
    let m = c("Received disconnect from 1.2.3.4 port 60058:11: disconnected by user");
    assert_eq!((m.kind, m.conn), (Kind::Other, Conn::Closes));
    let m = c("Received disconnect from 1.2.3.4: 11: disconnected by user");
    assert_eq!(m.kind, Kind::Other);
    let m = c("Received disconnect from 89.24.13.192: 3: com.jcraft.jsch.JSchException: Auth fail");
    assert_eq!(
        (m.kind, ip(&m).as_str(), m.maybe_postauth, m.conn),
        (Kind::PreauthClose, "89.24.13.192", true, Conn::None)
    );
    let m = c("error: Received disconnect from 2001:db8::7 port 1684:14: No supported authentication methods available");
    assert_eq!(
        (m.kind, ip(&m).as_str()),
        (Kind::PreauthClose, "2001:db8::7")
    );
    assert_eq!(c("Disconnected from 1.2.3.4 port 60058").kind, Kind::Other);
    let m = c("Connection closed by 192.0.2.5 port 33186");
    assert_eq!(
        (m.kind, m.maybe_postauth, m.conn),
        (Kind::PreauthClose, true, Conn::Closes)
    );
    let m = c("Disconnected from invalid user ftp 92.255.85.135 port 26138");
    assert_eq!(
        (m.kind, m.maybe_postauth, m.user.as_deref(), m.invalid_user),
        (Kind::PreauthClose, false, Some("ftp"), true)
    );
    let m = c("Disconnected from user user 172.18.1.100 port 43042");
    assert_eq!((m.kind, m.user.as_deref()), (Kind::Other, Some("user")));
    let m = c("fatal: Read from socket failed: Connection reset by peer [preauth]");
    assert_eq!(
        (m.kind, m.probe, m.ip),
        (Kind::Other, Some(Kind::BadProtocol), None)
    );
    check(
        "Timeout before authentication for 192.168.9.212",
        Kind::PreauthClose,
        None,
        false,
        "192.168.9.212",
        None,
    );
    check(
        "fatal: Timeout before authentication for 192.168.9.212 port 47056",
        Kind::PreauthClose,
        None,
        false,
        "192.168.9.212",
        Some(47056),
    );
    check(
        "Timeout before authentication for connection from 1.2.3.4 to 192.168.0.2, pid = 35557",
        Kind::PreauthClose,
        None,
        false,
        "1.2.3.4",
        None,
    );
}

#[test]
fn k1_k18_scanners() {
    check(
        "Did not receive identification string from 89.160.20.156",
        Kind::BadProtocol,
        None,
        false,
        "89.160.20.156",
        None,
    );
    check(
        "Did not receive identification string from 5.20.95.202 port 56452",
        Kind::BadProtocol,
        None,
        false,
        "5.20.95.202",
        Some(56452),
    );
    check(
        "Bad protocol version identification 'dummy string' from 69.61.56.115 port 31778",
        Kind::BadProtocol,
        None,
        false,
        "69.61.56.115",
        Some(31778),
    );
    check(
        "Bad protocol version identification 'x' from 1.2.3.4 port 1' from 69.61.56.115 port 31778",
        Kind::BadProtocol,
        None,
        false,
        "69.61.56.115",
        Some(31778),
    );
    check(
        "Protocol major versions differ for 1.2.3.4 port 5: SSH-2.0 vs. SSH-1.5",
        Kind::BadProtocol,
        None,
        false,
        "1.2.3.4",
        Some(5),
    );
    check(
        "error: kex_exchange_identification: Connection closed by remote host",
        Kind::BadProtocol,
        None,
        false,
        "",
        None,
    );
    check(
        "kex_exchange_identification: client sent invalid protocol identifier \"\"",
        Kind::BadProtocol,
        None,
        false,
        "",
        None,
    );
    check(
        "error: kex_exchange_identification: banner line too long",
        Kind::BadProtocol,
        None,
        false,
        "",
        None,
    );
    check(
        "error: kex_exchange_identification: read: Connection reset by peer",
        Kind::BadProtocol,
        None,
        false,
        "",
        None,
    );
    check(
        "error: Bad remote protocol version identification: 'GET /'",
        Kind::BadProtocol,
        None,
        false,
        "",
        None,
    );
    check(
        "banner exchange: Connection from 6.6.6.0 port 65403: invalid format",
        Kind::BadProtocol,
        None,
        false,
        "6.6.6.0",
        Some(65403),
    );
    check("ssh_dispatch_run_fatal: Connection from 192.168.9.213 port 48680: message authentication code incorrect [preauth]", Kind::BadProtocol, None, false, "192.168.9.213", Some(48680));
    check("ssh_dispatch_run_fatal: Connection from authenticating user root 192.0.2.5 port 48680: Broken pipe [preauth]", Kind::BadProtocol, None, false, "192.0.2.5", Some(48680));
    check("fatal: Unable to negotiate with 108.229.36.174: no matching key exchange method found. Their offer: diffie-hellman-group1-sha1 [preauth]", Kind::NegotiationFailure, None, false, "108.229.36.174", None);
    check("Unable to negotiate with 123.57.135.134 port 45626: no matching key exchange method found. Their offer: a,b [preauth]", Kind::NegotiationFailure, None, false, "123.57.135.134", Some(45626));
    check("Unable to negotiate with 2001:db8::7 port 45626: no matching cipher found. Their offer: x [preauth]", Kind::NegotiationFailure, None, false, "2001:db8::7", Some(45626));
    check(
        "probed from 192.0.2.1 port 5555 with Probe-1.0.  Don't panic.",
        Kind::BadProtocol,
        None,
        false,
        "192.0.2.1",
        Some(5555),
    );
    check(
        "scanned from 192.0.2.1 port 5555 with SSH_Version_Mapper.  Don't panic.",
        Kind::BadProtocol,
        None,
        false,
        "192.0.2.1",
        Some(5555),
    );
    check(
        "Bad packet length 4081586742. [preauth]",
        Kind::BadProtocol,
        None,
        false,
        "",
        None,
    );
    check("Magic value check failed (4289475479) on obfuscated handshake from 94.232.46.213 port 62730", Kind::BadProtocol, None, false, "94.232.46.213", Some(62730));
}

#[test]
fn p1_p3_penalties() {
    check(
        "drop connection #0 from [1.2.3.4]:48602 on [1.1.1.1]:22 penalty: exceeded LoginGraceTime",
        Kind::Penalty,
        None,
        false,
        "1.2.3.4",
        Some(48602),
    );
    check(
        "drop connection #3 from [2001:db8::9]:48602 on [::1]:22 penalty: failed authentication",
        Kind::Penalty,
        None,
        false,
        "2001:db8::9",
        Some(48602),
    );
    check("srclimit_penalise: ipv4: new 198.51.100.7/32 deferred penalty of 5 seconds for penalty: failed authentication", Kind::Penalty, None, false, "198.51.100.7", None);
    check("srclimit_penalise: 127.0.0.1/32: activating ipv4 penalty of 16 seconds for penalty: connections without attempting authentication", Kind::Penalty, None, false, "127.0.0.1", None);
    check("srclimit_penalise: ipv4: new 198.51.100.0/24 deferred penalty of 5.000 seconds for penalty: failed authentication", Kind::Penalty, None, false, "", None);
}

#[test]
fn q1_q9_pam() {
    let m = c("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.113  user=rda");
    assert_eq!(
        (m.kind, ip(&m).as_str(), m.user.as_deref(), m.count),
        (Kind::PamFailure, "192.0.2.113", Some("rda"), 1)
    );
    let m = c("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=5.33.63.161 ");
    assert_eq!((ip(&m).as_str(), m.user.as_deref()), ("5.33.63.161", None));
    let m = c("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=host.example.org user=x");
    assert_eq!((m.kind, m.ip), (Kind::PamFailure, None));
    assert_eq!(
        c("pam_unix(sshd:auth): check pass; user unknown").kind,
        Kind::Other
    );
    assert_eq!(
        c("pam_unix(sshd:session): session opened for user root(uid=0) by (uid=0)").kind,
        Kind::Other
    );
    let m = c("PAM 4 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=202.109.143.106  user=root");
    assert_eq!(
        (m.kind, m.count, ip(&m).as_str(), m.user.as_deref()),
        (Kind::PamFailure, 4, "202.109.143.106", Some("root"))
    );
    let m = c("PAM 1 more authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=202.109.143.106");
    assert_eq!((m.kind, m.count), (Kind::PamFailure, 1));
    assert_eq!(
        c("PAM service(sshd) ignoring max retries; 6 > 3").kind,
        Kind::Other
    );
    let m =
        c("authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4");
    assert_eq!((m.kind, ip(&m).as_str()), (Kind::PamFailure, "218.188.2.4"));
    let m = c("error: PAM: Authentication failure for myhlj1374 from 192.030.0.6");
    assert_eq!(
        (m.kind, m.user.as_deref(), ip(&m).as_str()),
        (Kind::PamFailure, Some("myhlj1374"), "192.30.0.6")
    );
    let m = c("error: PAM: Authentication failure for illegal user bob from 192.0.2.1");
    assert_eq!((m.user.as_deref(), m.invalid_user), (Some("bob"), true));
    let m = c("error: PAM: authentication error for james from example.com via 192.168.1.201");
    assert_eq!(
        (m.kind, m.user.as_deref(), m.ip, m.named_host),
        (Kind::PamFailure, Some("james"), None, true)
    );
    // The text's case varies (Apple's `Authentication error`); never the `via` address.
    for msg in [
        "error: PAM: Authentication error for james from 205.186.180.100 via 192.168.1.201",
        "error: PAM: authentication error for james from 205.186.180.100 via 192.168.1.201",
        "error: PAM: AUTHENTICATION FAILURE for james from 205.186.180.100",
        "error: PAM: Authentication failure for james from 205.186.180.100 via 192.168.1.201 ",
    ] {
        let m = c(msg);
        assert_eq!(
            (m.kind, m.user.as_deref(), ip(&m).as_str(), m.named_host),
            (Kind::PamFailure, Some("james"), "205.186.180.100", false),
            "{msg}"
        );
    }
    // The user name is attacker text: ` from ` and ` via ` in it change nothing.
    let m = c("error: PAM: authentication failure for x via 10.0.0.1 from 6.6.6.6 from 205.186.180.101 via 192.168.1.201");
    assert_eq!(
        (m.user.as_deref(), ip(&m).as_str()),
        (Some("x via 10.0.0.1 from 6.6.6.6"), "205.186.180.101")
    );
    let m = c("User allena from example.com not allowed because not in any group");
    assert_eq!((m.kind, m.ip, m.named_host), (Kind::Refused, None, true));
}

#[test]
fn i_info_lines() {
    let m = c("Connection from 192.0.2.16 port 51280 on 192.0.2.16 port 22 rdomain \"\"");
    assert_eq!(
        (m.kind, m.conn, ip(&m).as_str(), m.port),
        (Kind::Other, Conn::Opens, "192.0.2.16", Some(51280))
    );
    assert_eq!(c("reverse mapping checking getaddrinfo for ns.example.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!").kind, Kind::Other);
    assert_eq!(c("Address 1.2.3.4 maps to x.com, but this does not map back to the address - POSSIBLE BREAK-IN ATTEMPT!").kind, Kind::Other);
    check("refused connect from _U2FsdGVkX19P3BCJmFBHhjLza8BcMH06WCUVwttMHpE=_@::ffff:192.168.1.1 (::ffff:192.168.1.1)", Kind::Refused, None, false, "192.168.1.1", None);
    assert_eq!(
        c("Close session: user ansible from 192.168.1.1 port 34928 id 0").kind,
        Kind::Other
    );
    assert_eq!(c("Server listening on 0.0.0.0 port 22.").kind, Kind::Other);
}

#[test]
fn repeated_wrapper_multiplies_count() {
    let m =
        c("message repeated 5 times: [ Failed password for root from 5.36.59.76 port 42393 ssh2]");
    assert_eq!(
        (m.kind, m.count, ip(&m).as_str()),
        (Kind::AuthFailure, 5, "5.36.59.76")
    );
    let m = c("last message repeated 3 times");
    assert_eq!((m.kind, m.repeat_last), (Kind::Other, Some(3)));
}

#[test]
fn fail2ban_ban_unban() {
    let m = classify_fail2ban(b"NOTICE  [sshd] Ban 1.2.3.4").unwrap();
    assert_eq!((m.kind, ip(&m).as_str()), (Kind::Ban, "1.2.3.4"));
    assert_eq!(
        classify_fail2ban(b"NOTICE  [sshd] Restore Ban 1.2.3.4")
            .unwrap()
            .kind,
        Kind::Ban
    );
    assert_eq!(
        classify_fail2ban(b"NOTICE [sshd] Unban 1.2.3.4")
            .unwrap()
            .kind,
        Kind::Unban
    );
    assert_eq!(
        classify_fail2ban(b"[sshd] Ban 192.0.2.3").unwrap().kind,
        Kind::Ban
    );
    assert!(classify_fail2ban(b"NOTICE  [postfix-sasl] Ban 1.2.3.4").is_none());
    assert!(classify_fail2ban(b"INFO    [sshd] Found 1.2.3.4 - 2024-01-01 00:00:00").is_none());
    assert!(classify_fail2ban(b"NOTICE  [sshd] 1.2.3.4 already banned").is_none());
}

#[test]
fn vis_escapes_are_decoded() {
    assert_eq!(decode_user(br"j\303\266s\303\251"), "jösé");
    assert_eq!(decode_user(br"a\nb\tc\\d"), "a\nb\tc\\d");
    // Not UTF-8 once decoded: kept as sshd wrote it.
    assert_eq!(decode_user(br"x\377y"), r"x\377y");
    assert_eq!(decode_user(b"plain"), "plain");
    let m = c(r"Invalid user \347\224\250\346\210\267 from 192.0.2.1 port 5");
    assert_eq!(m.user.as_deref(), Some("用户"));
}

/// Every message that carries a user name, with a fake ` from 1.2.3.4 port 22`
/// (and friends) inside the name: the address must be the one sshd wrote.
#[test]
fn injected_addresses_in_user_names_are_ignored() {
    let evil = [
        "evil from 1.2.3.4 port 22",
        "evil from 1.2.3.4 port 22 ssh2",
        "x from 1.2.3.4",
        "from 10.10.1.1",
        "a 1.2.3.4 port 22",
        "b 1.2.3.4 port 22 [preauth]",
        "c: Too many authentication failures for root from 1.2.3.4 port 22 ssh2",
    ];
    let real = "198.51.100.23";
    for u in evil {
        let cases = [
            (format!("Failed password for {u} from {real} port 4711 ssh2"), Kind::AuthFailure, false),
            (format!("Failed password for invalid user {u} from {real} port 4711 ssh2"), Kind::AuthFailure, true),
            (format!("Failed publickey for {u} from {real} port 4711 ssh2: RSA SHA256:abc"), Kind::AuthFailure, false),
            (format!("Failed keyboard-interactive/pam for invalid user {u} from {real} port 4711 ssh2"), Kind::AuthFailure, true),
            (format!("Invalid user {u} from {real} port 4711"), Kind::InvalidUser, true),
            (format!("Invalid user {u} from {real}"), Kind::InvalidUser, true),
            (format!("Connection closed by invalid user {u} {real} port 4711 [preauth]"), Kind::PreauthClose, true),
            (format!("Connection closed by authenticating user {u} {real} port 4711 [preauth]"), Kind::PreauthClose, false),
            (format!("Connection reset by invalid user {u} {real} port 4711 [preauth]"), Kind::PreauthClose, true),
            (format!("Disconnected from invalid user {u} {real} port 4711 [preauth]"), Kind::PreauthClose, true),
            (format!("Disconnecting invalid user {u} {real} port 4711: Too many authentication failures [preauth]"), Kind::TooManyFailures, true),
            (format!("error: maximum authentication attempts exceeded for invalid user {u} from {real} port 4711 ssh2 [preauth]"), Kind::TooManyFailures, true),
            (format!("User {u} from {real} not allowed because not listed in AllowUsers"), Kind::Refused, false),
            (format!("administratively prohibited connection for invalid user {u} from {real} port 4711"), Kind::Refused, true),
            (format!("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={real}  user={u}"), Kind::PamFailure, false),
            (format!("error: PAM: Authentication failure for illegal user {u} from {real}"), Kind::PamFailure, true),
        ];
        for (line, kind, invalid) in cases {
            let m = c(&line);
            assert_eq!(m.kind, kind, "{line}");
            assert_eq!(ip(&m), real, "{line}");
            assert_eq!(m.user.as_deref(), Some(u), "{line}");
            assert_eq!(m.invalid_user, invalid, "{line}");
        }
    }
    // Accepted: the name comes from an account and cannot be chosen, but the
    // cert ID after it can: sshd's own address still wins.
    let m = c("Accepted publickey for bob from 203.0.113.4 port 22 ssh2: ED25519-CERT SHA256:x ID x from 1.2.3.4 port 22 ssh2 (serial 1) CA ED25519 SHA256:y");
    assert_eq!(ip(&m), "203.0.113.4");
}

/// Issue #14: the client's auth info after `ssh2: ` is attacker text as much
/// as the user name before it: the first complete `from ADDR port N ssh2`
/// that ends the message or is followed by `: ` is sshd's.
#[test]
fn injection_after_the_ssh2_suffix() {
    let real = "198.51.100.23";
    let tails = [
        ": from 10.10.1.2 port 55555 ssh2",
        ": RSA SHA256:abc from 10.10.1.2 port 55555 ssh2",
        ": ED25519-CERT SHA256:x ID a from 10.10.1.2 port 1 ssh2: b (serial 1) CA ED25519 SHA256:y",
        ": from 10.10.1.2 port 55555 ssh2: from 10.10.1.3 port 1 ssh2",
        ": from 10.10.1.2",
    ];
    for tail in tails {
        for (head, kind) in [
            ("Failed password for invalid user test", Kind::AuthFailure),
            ("Failed publickey for git", Kind::AuthFailure),
            ("Failed hostbased for dan", Kind::AuthFailure),
            ("Accepted password for bob", Kind::AuthSuccess),
            ("Accepted publickey for bob", Kind::AuthSuccess),
        ] {
            let line = format!("{head} from {real} port 4711 ssh2{tail}");
            let m = c(&line);
            assert_eq!(
                (m.kind, ip(&m), m.port),
                (kind, real.into(), Some(4711)),
                "{line}"
            );
        }
        let line = format!("error: maximum authentication attempts exceeded for root from {real} port 4711 ssh2{tail} [preauth]");
        assert_eq!(ip(&c(&line)), real, "{line}");
    }
}

/// Issue #14: old sshd wrote `from ADDR` without `port N`, and `port N`
/// without `ssh2`.
#[test]
fn from_addr_without_port() {
    check(
        "Failed password for invalid user ROOT from aaaa:bbbb:cccc:1234::1:1",
        Kind::AuthFailure,
        Some("ROOT"),
        true,
        "aaaa:bbbb:cccc:1234::1:1",
        None,
    );
    check(
        "Failed password for invalid user ROOT from 194.117.26.70 port 12345",
        Kind::AuthFailure,
        Some("ROOT"),
        true,
        "194.117.26.70",
        Some(12345),
    );
    check(
        "Failed password for root from 192.0.2.7",
        Kind::AuthFailure,
        Some("root"),
        false,
        "192.0.2.7",
        None,
    );
    check(
        "Failed password for invalid user x from 6.6.6.6 port 22 ssh2 from 192.0.2.8",
        Kind::AuthFailure,
        Some("x from 6.6.6.6 port 22 ssh2"),
        true,
        "192.0.2.8",
        None,
    );
    // A line that has no address at all keeps none, whatever the name ends with.
    let m = c("Disconnecting: Too many authentication failures for root from 6.6.6.6 [preauth]");
    assert_eq!(
        (m.kind, m.ip, m.user.as_deref()),
        (Kind::TooManyFailures, None, Some("root from 6.6.6.6"))
    );
}

/// Issue #14: address-less lines that end a probe carry the kind their
/// connection gives them (the correlator decides).
#[test]
fn addressless_probes() {
    for (msg, kind) in [
        (
            "fatal: Read from socket failed: Connection reset by peer [preauth]",
            Kind::BadProtocol,
        ),
        (
            "fatal: Unable to negotiate a key exchange method [preauth]",
            Kind::NegotiationFailure,
        ),
        (
            "fatal: no matching mac found: client hmac-xxx,hmac-yyy server hmac-zzz [preauth]",
            Kind::NegotiationFailure,
        ),
        (
            "fatal: no matching cipher found: client arcfour server aes128-ctr [preauth]",
            Kind::NegotiationFailure,
        ),
    ] {
        let m = c(msg);
        assert_eq!(
            (m.kind, m.probe, m.ip),
            (Kind::Other, Some(kind), None),
            "{msg}"
        );
    }
    let m =
        c("SSH: Server;Ltype: Version;Remote: 127.0.0.1-1780;Protocol: 2.0;Client: libssh2_1.4.3");
    assert_eq!(
        (m.kind, ip(&m).as_str(), m.port),
        (Kind::Other, "127.0.0.1", Some(1780))
    );
    let m = c("SSH: Server;Ltype: Kex;Remote: 2001:db8::1-22;Enc: aes128-ctr [preauth]");
    assert_eq!(ip(&m), "2001:db8::1");
}

/// Journals that relay kernel-style prefixes (fail2ban's sshd-journal tests).
#[test]
fn kernel_prefix_is_not_part_of_the_message() {
    for msg in [
        "kernel: [  970.699397] Failed password for user admin from 192.0.2.10 port 42745 ssh2",
        "kernel:[  970.699396]: Failed password for user admin from 192.0.2.10 port 42745 ssh2",
        "kernel:[12970.699398] Failed password for user admin from 192.0.2.10 port 42745 ssh2",
    ] {
        let m = c(msg);
        assert_eq!(
            (m.kind, m.user.as_deref(), ip(&m).as_str()),
            (Kind::AuthFailure, Some("user admin"), "192.0.2.10"),
            "{msg}"
        );
    }
    let _ = c("kernel:[");
    let _ = c("kernel: [x");
}

#[test]
fn hostile_bytes_never_panic() {
    for s in [
        &b""[..],
        b"Failed ",
        b"Failed  for ",
        b"Failed x for  from  port  ssh2",
        b"Invalid user ",
        b"Connection closed by ",
        b"Disconnecting ",
        b"Received disconnect from ",
        b"drop connection #",
        b"drop connection #1 from [",
        b"srclimit_penalise: ",
        b"PAM ",
        b"PAM 99999999999 more authentication failures;",
        b"message repeated 4294967295 times: [ message repeated 4294967295 times: [ Failed password for a from 1.1.1.1 port 1 ssh2]]",
        b"\xff\xfe\x00Failed password for \xff from 1.2.3.4 port 1 ssh2",
        b"Failed password for a\\",
        b"Invalid user \\777\\ from 1.2.3.4",
        b"Postponed ",
        b"Postponed x for ",
        b"SSH: Server;Ltype: ",
        b"SSH: Server;Ltype: x;Remote: -",
        b"SSH: Server;Ltype: x;Remote: 1.2.3.4-99999999999",
        b"error: PAM: authentication error for  from ",
        b"no matching  found: client ",
    ] {
        let _ = classify(s);
        let _ = classify_bare(s);
        let _ = classify_fail2ban(s);
    }
}

/// [`rhost_ip`] against [`parse_ip`] on the host's word (to the first
/// space): addresses, near addresses, IPv6 with and without a zone, host
/// names, spaces, texts shorter and longer than 16 bytes, and bytes before
/// the host that could join an address.
#[test]
fn rhost_ip_is_parse_ip_of_the_word() {
    let mut next = crate::testing::xorshift(0x7705_0001);
    let heads: &[&[u8]] = &[
        b" logname= uid=0 euid=0 tty=ssh ruser= rhost=",
        b" ruser= rhost=",
        b"ruser=12345678 rhost=",
        b"0123456789.0123456789",
        b"0123456789 abcdef:",
        b"rhost=",
        b"",
        b"1",
        b"1.",
        b":",
        b"a ",
        b"9 ",
    ];
    let pieces: &[&[u8]] = &[
        b"1.2.3.4",
        b"203.0.113.254",
        b"255.255.255.255",
        b"256.1.1.1",
        b"01.2.3.4",
        b"1.2.3.4567",
        b"1234.1.2.3",
        b"1.2.3.",
        b"2001:db8::1",
        b"2001:bc8:617f:ce7a::e07",
        b"::ffff:1.2.3.4",
        b"fe80::1%eth0",
        b"::",
        b"host.example",
        b" ",
        b"  user=root",
        b".",
        b":",
        b"0",
        b"9",
        b"x",
        b"\xff",
    ];
    let mut found = [0; 2];
    for _ in 0..300_000 {
        let mut r = heads[(next() % heads.len() as u64) as usize].to_vec();
        let at = r.len();
        for _ in 0..(next() % 4) {
            r.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
        }
        let v = &r[at..];
        let end = v.iter().position(|&b| b == b' ').unwrap_or(v.len());
        let general = parse_ip(&v[..end]);
        match general {
            Some(IpAddr::V4(_)) => found[0] += 1,
            Some(IpAddr::V6(_)) => found[1] += 1,
            None => {}
        }
        assert_eq!(
            rhost_ip(&r, at),
            general,
            "{:?}",
            String::from_utf8_lossy(&r)
        );
    }
    assert!(found.iter().all(|&n| n > 5_000), "{found:?}");
}
