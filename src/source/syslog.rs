//! Syslog framing: a TCP stream split into messages — octet-counted
//! (`LEN SP MSG`, RFC 6587) or newline-terminated, as rsyslog's `omfwd` and
//! `tail -F | nc` send them. The listener that feeds `serve` is in
//! `serve::sources`.

use crate::parse::MAX_LINE;

/// Splits a TCP syslog stream into messages: octet-counted (`LEN SP MSG`,
/// RFC 6587) when a frame starts with a digit, else newline-terminated.
/// Returns the messages found and leaves an incomplete tail in `buf`.
pub fn split_frames(buf: &mut Vec<u8>, out: &mut Vec<Vec<u8>>) -> Result<(), &'static str> {
    let mut start = 0;
    loop {
        let rest = &buf[start..];
        if rest.is_empty() {
            break;
        }
        // Octet counting is digits then a space (RFC 6587); a line that starts
        // with a date (`2026-12-04T…`, as `tail -F | nc` sends) is newline-framed.
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits > 0 && (digits == rest.len() || rest[digits] == b' ') {
            let Some(sp) = rest.iter().take(8).position(|&b| b == b' ') else {
                if rest.len() >= 8 {
                    return Err("bad octet count");
                }
                break;
            };
            let len: usize = std::str::from_utf8(&rest[..sp])
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or("bad octet count")?;
            if len > MAX_LINE {
                return Err("frame too large");
            }
            if rest.len() < sp + 1 + len {
                break;
            }
            let msg = &rest[sp + 1..sp + 1 + len];
            out.push(msg.strip_suffix(b"\n").unwrap_or(msg).to_vec());
            start += sp + 1 + len;
        } else if rest[0] == b'\n' || rest[0] == b'\r' || rest[0] == 0 {
            start += 1;
        } else {
            match memchr::memchr(b'\n', rest) {
                Some(i) => {
                    out.push(rest[..i].strip_suffix(b"\r").unwrap_or(&rest[..i]).to_vec());
                    start += i + 1;
                }
                None => {
                    if rest.len() > MAX_LINE {
                        return Err("line too long");
                    }
                    break;
                }
            }
        }
    }
    buf.drain(..start);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octet_counted_and_newline_frames() {
        let a = b"<38>1 2026-11-23T07:41:35Z h sshd 1 - - Invalid user a from 192.0.2.1 port 1";
        let mut buf = format!("{} ", a.len()).into_bytes();
        buf.extend_from_slice(a);
        buf.extend_from_slice(b"<38>Nov 23 07:41:35 h sshd[1]: x\r\n");
        let mut split = format!("{} ", a.len()).into_bytes();
        split.extend_from_slice(&a[..10]);
        buf.extend_from_slice(&split);
        let mut out = Vec::new();
        split_frames(&mut buf, &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0], a.to_vec());
        assert_eq!(out[1], b"<38>Nov 23 07:41:35 h sshd[1]: x".to_vec());
        assert_eq!(buf, split, "the incomplete frame waits");
        buf.extend_from_slice(&a[10..]);
        out.clear();
        split_frames(&mut buf, &mut out).unwrap();
        assert_eq!(out, vec![a.to_vec()]);
        assert!(buf.is_empty());
    }

    /// Regression: a newline-framed line that starts with an RFC 3339 date
    /// (`tail -F auth.log | nc host 514`) was taken for an octet count and the
    /// connection dropped.
    #[test]
    fn a_line_starting_with_a_date_is_newline_framed() {
        let mut buf =
            b"2026-12-04T20:42:01+00:00 h sshd[1]: x\n2026-12-04T20:42:02+00:00 h sshd[2]: y\n"
                .to_vec();
        let mut out = Vec::new();
        split_frames(&mut buf, &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[1], b"2026-12-04T20:42:02+00:00 h sshd[2]: y".to_vec());
    }

    #[test]
    fn hostile_frames_are_refused() {
        let mut out = Vec::new();
        assert!(split_frames(&mut b"99999999 x".to_vec(), &mut out).is_err());
        assert!(split_frames(&mut b"123456789".to_vec(), &mut out).is_err());
        assert!(split_frames(&mut vec![b'a'; MAX_LINE + 1], &mut out).is_err());
    }
}
