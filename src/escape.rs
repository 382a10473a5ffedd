//! Makes attacker-controlled text (user names, methods, host names) safe to show.
//!
//! Every place that displays such text goes through one of these functions:
//! terminals get control characters made visible, HTML/SVG get entities.

use std::borrow::Cow;

/// Control characters (C0, DEL, C1) and bidi overrides shown as `\xNN` / `\u{..}`,
/// so a user name cannot move the cursor, clear the screen or reorder a line.
pub fn terminal(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_terminal_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs_terminal_escape(c) {
            if (c as u32) < 0x100 {
                out.push_str(&format!("\\x{:02x}", c as u32));
            } else {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn needs_terminal_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// Text for HTML and SVG content and attribute values.
pub fn html(s: &str) -> Cow<'_, str> {
    if !s.bytes().any(|b| {
        matches!(b, b'<' | b'>' | b'&' | b'"' | b'\'') || b < 0x20 && b != b'\t' && b != b'\n'
    }) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // XML 1.0 forbids most C0 controls even as references: show them.
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escapes_controls_and_bidi() {
        assert_eq!(terminal("root"), "root");
        assert_eq!(terminal("a\x1b[2Jb"), "a\\x1b[2Jb");
        assert_eq!(terminal("x\ny\u{7f}"), "x\\x0ay\\x7f");
        assert_eq!(terminal("ab\u{202e}cd"), "ab\\u{202e}cd");
        assert_eq!(terminal("José"), "José");
    }

    #[test]
    fn html_escapes_markup() {
        assert_eq!(
            html("<script>alert(1)</script>"),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(html("a\"b'&"), "a&quot;b&#39;&amp;");
        assert_eq!(html("a\x01"), "a\\x01");
    }
}
