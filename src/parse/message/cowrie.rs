//! The Cowrie honeypot's JSON log (`cowrie.json`) → the event kinds of sshd.
//!
//! One JSON object per line, `eventid` naming what happened. Each record
//! carries its own `src_ip`, so no correlation is needed. User names,
//! passwords and commands are attacker text, logged as the client sent them:
//! a login attempt keeps its `password`, and `cowrie.command.input` is a
//! [`Kind::Command`] event with the line typed in `command`. A session's
//! records share `src_ip` and `src_port` (one TCP connection), which is how
//! the report joins a login to the passwords and commands around it.

use super::{Conn, Msg, Text};
use crate::event::{Honeypot, Kind};
use crate::parse::ip::parse_ip;

#[derive(serde::Deserialize)]
struct Rec {
    eventid: String,
    src_ip: Option<String>,
    src_port: Option<u32>,
    username: Option<String>,
    password: Option<String>,
    input: Option<String>,
    protocol: Option<String>,
}

/// Classifies one record (the whole JSON line). `None`: not a Cowrie record.
pub fn classify(line: &[u8]) -> Option<Msg> {
    let rec: Rec = serde_json::from_slice(line).ok()?;
    let kind = match rec.eventid.as_str() {
        "cowrie.login.failed" => Kind::AuthFailure,
        "cowrie.login.success" => Kind::AuthSuccess,
        // A record without its `input` is no command to show.
        "cowrie.command.input" if rec.input.is_some() => Kind::Command,
        e if e.starts_with("cowrie.") => Kind::Other,
        _ => return None,
    };
    let mut msg = Msg::new(kind);
    msg.ip = rec.src_ip.as_deref().and_then(|s| parse_ip(s.as_bytes()));
    msg.port = rec.src_port.and_then(|p| u16::try_from(p).ok());
    msg.conn = match rec.eventid.as_str() {
        "cowrie.session.connect" => Conn::Opens,
        "cowrie.session.closed" => Conn::Closes,
        _ => Conn::None,
    };
    if matches!(kind, Kind::AuthFailure | Kind::AuthSuccess) {
        msg.user = rec.username.map(Text::from);
        msg.honeypot = Honeypot::boxed(rec.password, None);
        // Cowrie answers SSH password (and keyboard-interactive) logins and
        // Telnet logins; both are a name and a password.
        msg.method = Some(match rec.protocol.as_deref() {
            Some("telnet") => "telnet".into(),
            _ => "password".into(),
        });
    }
    if kind == Kind::Command {
        msg.honeypot = Honeypot::boxed(None, rec.input);
    }
    Some(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Msg {
        classify(s.as_bytes()).unwrap_or_else(|| panic!("no record: {s}"))
    }

    #[test]
    fn recorded_records() {
        let m = c(
            r#"{"session":"d7093f6ebe88","protocol":"ssh","src_ip":"127.0.0.1","src_port":53944,"dst_ip":"127.0.0.1","dst_port":2224,"username":"root","password":"root","eventid":"cowrie.login.failed","sensor":"vm","timestamp":"2026-12-04T23:29:00.342484Z","message":"login attempt [root/root] failed"}"#,
        );
        assert_eq!(
            (
                m.kind,
                m.user.as_deref(),
                m.ip.map(|i| i.to_string()),
                m.port,
                m.method.as_deref()
            ),
            (
                Kind::AuthFailure,
                Some("root"),
                Some("127.0.0.1".into()),
                Some(53944),
                Some("password")
            )
        );
        assert_eq!(m.honeypot, Honeypot::boxed(Some("root".into()), None));
        let m = c(
            r#"{"session":"a98bbfc0b663","protocol":"ssh","src_ip":"::1","src_port":38616,"username":"x from 203.0.113.7","password":"toor","eventid":"cowrie.login.success","timestamp":"2026-12-04T23:29:01.408038Z"}"#,
        );
        assert_eq!(
            (m.kind, m.user.as_deref(), m.ip.map(|i| i.to_string())),
            (
                Kind::AuthSuccess,
                Some("x from 203.0.113.7"),
                Some("::1".into())
            )
        );
        let m = c(
            r#"{"eventid":"cowrie.session.connect","src_ip":"127.0.0.1","src_port":1,"session":"s"}"#,
        );
        assert_eq!((m.kind, m.conn), (Kind::Other, Conn::Opens));
        let m = c(
            r#"{"eventid":"cowrie.command.input","input":"uname -a","src_ip":"127.0.0.1","src_port":5,"session":"s"}"#,
        );
        assert_eq!(
            (m.kind, m.user, m.honeypot, m.port),
            (
                Kind::Command,
                None,
                Honeypot::boxed(None, Some("uname -a".into())),
                Some(5)
            )
        );
        let m = c(r#"{"eventid":"cowrie.command.input","src_ip":"127.0.0.1"}"#);
        assert_eq!((m.kind, m.honeypot), (Kind::Other, None));
        assert!(classify(br#"{"eventid":"other.thing"}"#).is_none());
        assert!(classify(b"{").is_none());
        assert!(
            classify(br#"{"eventid":"cowrie.login.failed","src_ip":"x","src_port":99999999}"#)
                .is_some()
        );
    }
}
