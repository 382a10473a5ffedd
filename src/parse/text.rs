//! A short string kept inline: the user names and methods of parsed lines.
//!
//! Lines are parsed on the worker threads and their events freed on the
//! sequential one. A `String` per name made every user-bearing line pay a
//! malloc on one thread and a free on another, which glibc serves from its
//! slow paths (issue #15: ~500 instructions a line). A [`Text`] holds names of
//! up to [`INLINE`] bytes with no allocation, and events keep them as they
//! are ([`crate::event::Event::user`]): no name is allocated from the line to
//! the aggregate.

use std::fmt;
use std::ops::Deref;

/// Bytes a [`Text`] holds without allocating (`keyboard-interactive/pam`,
/// 24 bytes, is the longest method sshd writes).
pub const INLINE: usize = 30;

/// An immutable UTF-8 string, inline when short.
#[derive(Clone)]
pub struct Text(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, buf: [u8; INLINE] },
    Heap(Box<str>),
}

impl Text {
    pub fn new(s: &str) -> Text {
        let b = s.as_bytes();
        if b.len() <= INLINE {
            let mut buf = [0u8; INLINE];
            buf[..b.len()].copy_from_slice(b);
            Text(Repr::Inline {
                len: b.len() as u8,
                buf,
            })
        } else {
            Text(Repr::Heap(s.into()))
        }
    }

    /// A short text known at compile time (sshd's method names): no copy
    /// made at run time.
    pub const fn from_static(s: &'static str) -> Text {
        let b = s.as_bytes();
        assert!(b.len() <= INLINE);
        let mut buf = [0u8; INLINE];
        let mut i = 0;
        while i < b.len() {
            buf[i] = b[i];
            i += 1;
        }
        Text(Repr::Inline {
            len: b.len() as u8,
            buf,
        })
    }

    /// `raw` as an inline text when it is short, ASCII and holds no `\`
    /// (no escape to decode): the user names and methods of nearly every
    /// line. The words copied into the buffer are checked as they are read,
    /// where checking the bytes for ASCII, then for a backslash, then copying
    /// took three passes (issue #15). `None`: the caller's general path.
    #[inline]
    pub fn plain_inline(raw: &[u8]) -> Option<Text> {
        Text::plain_inline_without(raw, b'\\')
    }

    /// [`Text::plain_inline`] that also refuses the byte `also` (a printable
    /// ASCII byte): the message readers check a name for `:` in the same pass
    /// (issue #15).
    #[inline(always)]
    pub fn plain_inline_without(raw: &[u8], also: u8) -> Option<Text> {
        debug_assert!(also.is_ascii_graphic());
        const HIGH: u64 = 0x8080_8080_8080_8080;
        const ONES: u64 = 0x0101_0101_0101_0101;
        const BACKSLASH: u64 = 0x5c5c_5c5c_5c5c_5c5c;
        let also = u64::from(also) * ONES;
        // The high bits of a word's bytes that are not ASCII, a `\` or
        // `also`: a zero byte in `w ^ BACKSLASH` is a `\` (the test is exact
        // where no byte has its high bit set).
        let bad = |w: u64| {
            let x = w ^ BACKSLASH;
            let y = w ^ also;
            w | (x.wrapping_sub(ONES) & !x) | (y.wrapping_sub(ONES) & !y)
        };
        let n = raw.len();
        if n > INLINE {
            return None;
        }
        // The buffer as four words (its bytes 0..8, 8..16, 16..24, 24..30),
        // each built in a register from loads of `raw` that may overlap, and
        // checked: the buffer is written once, where two copies into a
        // buffer on the stack were read back and copied again into the
        // message (issue #15: ~8 instructions a name). Only the words
        // of the text's length are read.
        let word = |at: usize| u64::from_le_bytes(raw[at..at + 8].try_into().unwrap());
        // `raw[from..]`, 0 to 7 bytes (`n - 7 <= from <= n`, `n >= 8`), in
        // the low bytes of a word, zeros above: the last word shifted down
        // (in two steps, as one shift by 64 bits is none).
        let rest = |from: usize| (word(n - 8) >> (8 * (from + 7 - n))) >> 8;
        // The short names first (`root`, `admin`, `ubuntu`): tested
        // from the longest down, a name of four to seven bytes took five
        // compares to reach its case, three now (issue #15).
        let (w, odd) = if n < 8 {
            if n >= 4 {
                // Two loads that overlap; a byte in both is the same byte.
                let lo = u32::from_le_bytes(raw[..4].try_into().unwrap());
                let hi = u32::from_le_bytes(raw[n - 4..].try_into().unwrap());
                let w = u64::from(lo) | u64::from(hi) << (8 * (n - 4));
                ([w, 0, 0, 0], bad(w))
            } else if n > 0 {
                // The first, middle and last bytes: all of them.
                let w = u64::from(raw[0])
                    | u64::from(raw[n / 2]) << (8 * (n / 2))
                    | u64::from(raw[n - 1]) << (8 * (n - 1));
                ([w, 0, 0, 0], bad(w))
            } else {
                ([0; 4], 0)
            }
        } else if n < 16 {
            let w = [word(0), rest(8), 0, 0];
            (w, bad(w[0]) | bad(w[1]))
        } else if n < 24 {
            let w = [word(0), word(8), rest(16), 0];
            (w, bad(w[0]) | bad(w[1]) | bad(w[2]))
        } else {
            let w = [word(0), word(8), word(16), rest(24)];
            (w, bad(w[0]) | bad(w[1]) | bad(w[2]) | bad(w[3]))
        };
        // (The zero bytes past the text are none of the refused ones.)
        if odd & HIGH != 0 {
            return None;
        }
        let mut buf = [0u8; INLINE];
        buf[..8].copy_from_slice(&w[0].to_le_bytes());
        buf[8..16].copy_from_slice(&w[1].to_le_bytes());
        buf[16..24].copy_from_slice(&w[2].to_le_bytes());
        buf[24..].copy_from_slice(&w[3].to_le_bytes()[..INLINE - 24]);
        Some(Text(Repr::Inline { len: n as u8, buf }))
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Inline { len, buf } => {
                let b = &buf[..usize::from(*len)];
                // SAFETY: only `Text::new` fills `buf`, with the bytes of a
                // `&str` whose length is `len`: `b` is valid UTF-8. (Checking
                // again cost ~90 instructions a name, issue #15.)
                unsafe { std::str::from_utf8_unchecked(b) }
            }
            Repr::Heap(s) => s,
        }
    }
}

/// `b` as a `&str` when it is ASCII, checked a word at a time: cheaper than
/// `std::str::from_utf8` on the short tokens of a log line (host and user
/// names), which checks byte by byte below 16 bytes. `None`: not ASCII.
pub fn ascii_str(b: &[u8]) -> Option<&str> {
    if b.is_ascii() {
        // SAFETY: ASCII bytes are valid UTF-8.
        Some(unsafe { std::str::from_utf8_unchecked(b) })
    } else {
        None
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text::new(s)
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        if s.len() <= INLINE {
            Text::new(&s)
        } else {
            Text(Repr::Heap(s.into_boxed_str()))
        }
    }
}

impl From<Text> for String {
    fn from(t: Text) -> String {
        match t.0 {
            Repr::Heap(s) => s.into_string(),
            Repr::Inline { .. } => t.as_str().to_owned(),
        }
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::hash::Hash for Text {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.as_str().hash(h)
    }
}

impl PartialOrd for Text {
    fn partial_cmp(&self, other: &Text) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Text {
    fn cmp(&self, other: &Text) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl std::borrow::Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl serde::Serialize for Text {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_texts_keep_their_bytes() {
        for s in [
            "",
            "root",
            "keyboard-interactive/pam",
            "jö用户",
            &"x".repeat(INLINE),
            &"y".repeat(INLINE + 1),
            &"ü".repeat(40),
        ] {
            let t = Text::from(s);
            assert_eq!(t.as_str(), s);
            assert_eq!(&*Text::from(s.to_string()), s);
            assert_eq!(String::from(t.clone()), s);
            assert_eq!(t, Text::new(s));
            assert_eq!(format!("{t:?}"), format!("{s:?}"));
        }
        assert!(matches!(
            Text::new(&"x".repeat(INLINE)).0,
            Repr::Inline { .. }
        ));
        assert!(matches!(
            Text::new(&"x".repeat(INLINE + 1)).0,
            Repr::Heap(_)
        ));
    }

    /// 400,000 names over `alphabet`, up to a little longer than
    /// [`INLINE`]: every other one mostly plain, with a rare odd byte.
    fn hostile_names(mut next: impl FnMut() -> u64, alphabet: &[u8]) -> Vec<Vec<u8>> {
        let pick = move |next: &mut dyn FnMut() -> u64| {
            alphabet[(next() % alphabet.len() as u64) as usize]
        };
        (0..400_000u32)
            .map(|n| {
                let len = (next() % (INLINE as u64 + 6)) as usize;
                let mut raw: Vec<u8> = (0..len).map(|_| pick(&mut next)).collect();
                if n % 2 == 0 {
                    raw.iter_mut().for_each(|b| {
                        if !b.is_ascii_alphanumeric() {
                            *b = b'a';
                        }
                    });
                    if len > 0 && n % 8 == 0 {
                        let i = (next() % len as u64) as usize;
                        raw[i] = pick(&mut next);
                    }
                }
                raw
            })
            .collect()
    }

    /// The one-pass constructor against its definition: inline, ASCII and
    /// without a backslash, else `None`; the text keeps the bytes.
    #[test]
    fn plain_inline_takes_short_plain_ascii_only() {
        let mut x: u64 = 0x0bad_cafe_f00d_1234;
        let next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for raw in hostile_names(next, b"abz09 .-_\\\x7f\x80\xc3\xb6\xff\x00[]") {
            let plain = raw.len() <= INLINE && raw.is_ascii() && !raw.contains(&b'\\');
            match Text::plain_inline(&raw) {
                Some(t) => {
                    assert!(plain, "{raw:?}");
                    assert_eq!(t.as_bytes(), &raw[..]);
                    assert!(matches!(t.0, Repr::Inline { .. }));
                }
                None => assert!(!plain, "{raw:?}"),
            }
        }
    }

    /// [`Text::plain_inline_without`] against its definition, for `:`.
    #[test]
    fn plain_inline_without_refuses_its_byte() {
        let next = crate::testing::xorshift(0x0c01_0a5e_5eed_0001);
        for raw in hostile_names(next, b"abz09 .:-_\\\x7f\x80\xc3\xb6\xff\x00[]") {
            let plain = raw.len() <= INLINE
                && raw.is_ascii()
                && !raw.contains(&b'\\')
                && !raw.contains(&b':');
            match Text::plain_inline_without(&raw, b':') {
                Some(t) => {
                    assert!(plain, "{raw:?}");
                    assert_eq!(t.as_bytes(), &raw[..]);
                }
                None => assert!(!plain, "{raw:?}"),
            }
        }
    }

    #[test]
    fn ascii_str_takes_ascii_only() {
        assert_eq!(ascii_str(b"web-1.example"), Some("web-1.example"));
        assert_eq!(ascii_str(b""), Some(""));
        assert_eq!(ascii_str("jö".as_bytes()), None);
        assert_eq!(ascii_str(b"a\xff"), None);
    }
}
