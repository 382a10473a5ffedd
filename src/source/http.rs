//! `POST /api/ingest` bodies → log lines for the pipeline.
//!
//! Accepted: rsyslog omhttp JSON — one object per request, or batched as a
//! JSON array (`batch.format="jsonarray"`), newline-delimited objects
//! (`"newline"`), `{"records":[{"value":…}]}` (`"kafkarest"`) and
//! `{"streams":[{"values":[[ts, line]]}]}` (`"lokirest"`) — and plain text,
//! one log line per line. An object carries either a whole line (`rawmsg`,
//! `raw`, `line`), journald fields (`MESSAGE`, passed to the journald parser),
//! or rsyslog properties (`msg`/`message`, `hostname`, `programname`/`app-name`,
//! `procid`, `timereported`/`timestamp`) that are put back together as an
//! RFC 3339 syslog line, so every line goes through the same parser.

use serde_json::Value;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("malformed JSON: {0}")]
    Json(String),
    #[error("a JSON object without a message: give msg, message, MESSAGE, rawmsg or line")]
    NoMessage,
    #[error("binary data: the body is not text (NUL bytes or invalid UTF-8)")]
    Binary,
}

impl DecodeError {
    /// The `/metrics` reason.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::Binary => "binary",
            DecodeError::Json(_) => "malformed_json",
            DecodeError::NoMessage => "bad_request",
        }
    }
}

/// One decoded line, as the pipeline will parse it.
#[derive(Debug, PartialEq, Eq)]
pub struct Line {
    pub text: Vec<u8>,
}

impl Line {
    fn raw(text: Vec<u8>) -> Line {
        Line { text }
    }

    /// The host name of the event this line becomes: the host of its parsed
    /// envelope, never a field of the request beside it. A JSON record may
    /// carry `_HOSTNAME` for one host and a Docker `log` line for another; the
    /// parser believes the line, so the check does too (a parse per line: only
    /// tokens limited to some hosts ask).
    pub fn host(&self) -> Option<String> {
        host_of(&self.text)
    }
}

/// Decodes a body by its content type (sniffed when absent).
pub fn decode(content_type: Option<&str>, body: &[u8]) -> Result<Vec<Line>, DecodeError> {
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    let first = body.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let json =
        ct.contains("json") || (!ct.starts_with("text/") && matches!(first, Some(b'{' | b'[')));
    if json {
        decode_json(body)
    } else {
        decode_text(body)
    }
}

fn decode_text(body: &[u8]) -> Result<Vec<Line>, DecodeError> {
    if memchr::memchr(0, body).is_some() || std::str::from_utf8(body).is_err() {
        return Err(DecodeError::Binary);
    }
    Ok(body
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .map(|l| Line::raw(l.to_vec()))
        .collect())
}

/// The host name a line's envelope names.
pub fn host_of(line: &[u8]) -> Option<String> {
    crate::parse::envelope::split(line)
        .ok()
        .and_then(|e| e.host.map(|h| h.into_owned()))
}

fn decode_json(body: &[u8]) -> Result<Vec<Line>, DecodeError> {
    let mut out = Vec::new();
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => top(v, &mut out)?,
        Err(whole) => {
            // omhttp `batch.format="newline"`: one object per line.
            let mut any = false;
            for l in body.split(|&b| b == b'\n') {
                if l.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let v: Value =
                    serde_json::from_slice(l).map_err(|_| DecodeError::Json(whole.to_string()))?;
                item(v, &mut out)?;
                any = true;
            }
            if !any {
                return Err(DecodeError::Json(whole.to_string()));
            }
        }
    }
    Ok(out)
}

fn top(v: Value, out: &mut Vec<Line>) -> Result<(), DecodeError> {
    match v {
        Value::Array(a) => a.into_iter().try_for_each(|v| item(v, out)),
        Value::Object(mut o) => {
            if let Some(Value::Array(records)) = o.remove("records") {
                // kafkarest
                for r in records {
                    match r {
                        Value::Object(mut r) => {
                            item(r.remove("value").unwrap_or(Value::Null), out)?
                        }
                        other => item(other, out)?,
                    }
                }
                Ok(())
            } else if let Some(Value::Array(streams)) = o.remove("streams") {
                // lokirest: values are [timestamp, line] pairs.
                for s in streams {
                    let values = s
                        .get("values")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    for pair in values {
                        match pair.get(1) {
                            Some(l) => item(l.clone(), out)?,
                            None => {
                                return Err(DecodeError::Json(
                                    "lokirest value without a line".into(),
                                ))
                            }
                        }
                    }
                }
                Ok(())
            } else {
                item(Value::Object(o), out)
            }
        }
        other => item(other, out),
    }
}

fn item(v: Value, out: &mut Vec<Line>) -> Result<(), DecodeError> {
    match v {
        Value::String(s) => {
            // A JSON string holding a line, or holding the JSON of an object (some templates).
            if s.trim_start().starts_with('{') {
                if let Ok(inner @ Value::Object(_)) = serde_json::from_str::<Value>(&s) {
                    return item(inner, out);
                }
            }
            out.push(Line::raw(s.into_bytes()));
            Ok(())
        }
        Value::Object(o) => {
            let text_of = |keys: &[&str]| -> Option<String> {
                keys.iter().find_map(|k| match o.get(*k) {
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(Value::Number(n)) => Some(n.to_string()),
                    _ => None,
                })
            };
            if let Some(raw) = text_of(&["rawmsg", "raw", "line"]) {
                out.push(Line::raw(raw.into_bytes()));
                return Ok(());
            }
            if o.contains_key("MESSAGE") {
                out.push(Line::raw(Value::Object(o).to_string().into_bytes()));
                return Ok(());
            }
            let msg = text_of(&["msg", "message"]).ok_or(DecodeError::NoMessage)?;
            let host = text_of(&["hostname", "host", "fromhost", "source"]);
            let ts = text_of(&[
                "timereported",
                "timestamp",
                "@timestamp",
                "time",
                "timegenerated",
            ])
            .filter(|t| t.len() >= 19 && t.as_bytes()[4] == b'-' && !t.contains(' '))
            .unwrap_or_else(|| jiff::Timestamp::now().to_string());
            let mut program = text_of(&[
                "programname",
                "app-name",
                "appname",
                "program",
                "syslogtag",
                "tag",
            ])
            .unwrap_or_else(|| "sshd".into());
            // syslogtag is `sshd[42]:`.
            let mut pid = text_of(&["procid", "pid"])
                .filter(|p| p.bytes().all(|b| b.is_ascii_digit()) && !p.is_empty());
            let tag = program.trim_end_matches(':').to_string();
            if let Some((name, rest)) = tag.split_once('[') {
                pid = pid.or_else(|| Some(rest.trim_end_matches(']').to_string()));
                program = name.to_string();
            } else {
                program = tag;
            }
            // Attacker text lives in msg only; host and program must stay one token each.
            let clean = |s: &str| {
                s.chars()
                    .filter(|c| !c.is_whitespace() && !c.is_control())
                    .collect::<String>()
            };
            let h = host
                .as_deref()
                .map(clean)
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "-".into());
            let mut line = format!("{ts} {h} {}", clean(&program));
            if let Some(p) = pid {
                line.push_str(&format!("[{p}]"));
            }
            line.push_str(": ");
            line.push_str(
                msg.strip_prefix(' ')
                    .unwrap_or(&msg)
                    .trim_end_matches(['\n', '\r']),
            );
            out.push(Line::raw(line.into_bytes()));
            Ok(())
        }
        _ => Err(DecodeError::Json(
            "expected an object, a string or an array of them".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = "2026-11-23T07:41:35.123456+00:00 web1 sshd[42]: Failed password for root from 203.0.113.9 port 4242 ssh2";

    fn texts(v: &[Line]) -> Vec<String> {
        v.iter()
            .map(|l| String::from_utf8(l.text.clone()).unwrap())
            .collect()
    }

    #[test]
    fn omhttp_single_object_with_rsyslog_properties() {
        let body = br#"{"timereported":"2026-11-23T07:41:35.123456+00:00","hostname":"web1","programname":"sshd","procid":"42","msg":" Failed password for root from 203.0.113.9 port 4242 ssh2"}"#;
        let v = decode(Some("application/json"), body).unwrap();
        assert_eq!(texts(&v), vec![LINE.to_string()]);
        assert_eq!(v[0].host().as_deref(), Some("web1"));
        let raw = crate::parse::parse_line(&v[0].text, 1, false)
            .unwrap()
            .unwrap();
        assert_eq!(raw.msg.kind, crate::event::Kind::AuthFailure);
    }

    #[test]
    fn omhttp_batch_formats() {
        let obj = format!(r#"{{"rawmsg":"{LINE}"}}"#);
        let array = format!("[{obj},{obj}]");
        let newline = format!("{obj}\n{obj}\n");
        let kafka = format!(r#"{{"records":[{{"value":{obj}}},{{"value":"{LINE}"}}]}}"#);
        let loki = format!(
            r#"{{"streams":[{{"stream":{{"job":"x"}},"values":[["1","{LINE}"],["2","{LINE}"]]}}]}}"#
        );
        for body in [array, newline, kafka, loki] {
            let v = decode(Some("application/json"), body.as_bytes()).unwrap();
            assert_eq!(
                texts(&v),
                vec![LINE.to_string(), LINE.to_string()],
                "{body}"
            );
        }
        // syslogtag carries the pid.
        let v = decode(None, br#"{"hostname":"h","syslogtag":"sshd[7]:","msg":"x","timestamp":"2026-11-23T07:41:35Z"}"#).unwrap();
        assert_eq!(
            texts(&v),
            vec!["2026-11-23T07:41:35Z h sshd[7]: x".to_string()]
        );
    }

    #[test]
    fn plain_text_lines() {
        let body = format!("{LINE}\r\n\n{LINE}");
        let v = decode(Some("text/plain"), body.as_bytes()).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].host().as_deref(), Some("web1"));
    }

    #[test]
    fn garbage_is_refused() {
        assert!(matches!(
            decode(Some("application/json"), b"{\"msg\": "),
            Err(DecodeError::Json(_))
        ));
        assert_eq!(
            decode(Some("text/plain"), b"\x00\x01\xff\xfe"),
            Err(DecodeError::Binary)
        );
        assert_eq!(
            decode(None, b"\x89PNG\r\n\x1a\n\x00\x00"),
            Err(DecodeError::Binary)
        );
        assert_eq!(decode(None, b"{\"a\":1}"), Err(DecodeError::NoMessage));
        assert!(decode(None, b"[1,2]").is_err());
    }

    #[test]
    fn hostile_host_and_program_stay_one_token() {
        let v = decode(None, br#"{"hostname":"a b\nsshd[1]: Accepted","programname":"ss hd","msg":"x","timestamp":"2026-11-23T07:41:35Z"}"#).unwrap();
        assert_eq!(
            texts(&v),
            vec!["2026-11-23T07:41:35Z absshd[1]:Accepted sshd: x".to_string()]
        );
    }

    #[test]
    fn the_host_is_the_parsed_lines_not_a_field_beside_it() {
        // journald fields claim web1, the Docker `log` line the parser reads says evil.
        let body = br#"{"_HOSTNAME":"web1","MESSAGE":"x","_COMM":"sshd","log":"Dec  4 20:42:01 evil sshd[1]: Accepted password for root from 221.28.46.22 port 22 ssh2"}"#;
        let v = decode(None, body).unwrap();
        assert_eq!(v[0].host().as_deref(), Some("evil"));
        let raw = crate::parse::parse_line(&v[0].text, 1, false)
            .unwrap()
            .unwrap();
        assert_eq!(raw.host.as_deref(), Some("evil"));
    }
}
