//! Report: the self-contained interactive HTML report (`sshmap report`).
//!
//! One file with the CSS, the JavaScript and a JSON snapshot of the data
//! inlined, and the world map as inline SVG projected here in Rust. A
//! Content-Security-Policy meta tag allows only those inline scripts and styles
//! (by hash) and no network request of any kind, so the report opens offline and
//! an injected tag could not run even if some text escaped its escaping.
//!
//! - [`snapshot`] chooses from the aggregate ([`crate::analyze::Aggregate`]) the data the page explores;
//! - [`world`] projects the country outlines;
//! - this file assembles the page from `assets/web/` (compiled in).
//!
//! The page's JavaScript renders from the snapshot object alone, so the live
//! map (`sshmap serve`) can send the same object and append events to it.

pub(crate) mod snapshot;
pub(crate) mod world;

use std::fmt::Write as _;

use base64::Engine as _;
use sha2::{Digest, Sha256};

pub use snapshot::{show_ip, Options, Snapshot};

/// The page template, stylesheet and script (shared with the live map).
pub const TEMPLATE: &str = include_str!("../../assets/web/report.html");
pub const CSS: &str = include_str!("../../assets/web/sshmap.css");
pub const JS: &str = include_str!("../../assets/web/sshmap.js");

/// JSON made safe inside `<script type="application/json">`: no `<`, `>` or `&`
/// (so `</script>` in a user name cannot close the element) and no U+2028/9.
pub fn script_json<T: serde::Serialize>(value: &T) -> String {
    let json = serde_json::to_string(value).expect("snapshot serializes");
    let mut out = String::with_capacity(json.len() + 64);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// `'sha256-…'` source expression for an inline script or style.
fn csp_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The Content-Security-Policy of the page: nothing from the network, only our inline code.
pub fn csp() -> String {
    format!(
        "default-src 'none'; script-src {}; style-src {}; img-src data:; base-uri 'none'; form-action 'none'",
        csp_hash(JS),
        csp_hash(CSS)
    )
}

/// The world map's SVG: ocean, graticule-free outline and one path per country.
fn world_svg() -> String {
    let (w, h) = (world::WIDTH, world::height());
    let mut s = String::with_capacity(600_000);
    let _ = write!(
        s,
        r#"<svg id="map" viewBox="0 0 {w} {h}" preserveAspectRatio="xMidYMid meet" role="img" aria-label="World map of attack sources"><defs><filter id="blur" x="-50%" y="-50%" width="200%" height="200%"><feGaussianBlur stdDeviation="6"/></filter></defs><g id="viewport"><path class="sphere" d="{}"/><g id="countries">"#,
        world::outline()
    );
    for c in world::countries() {
        let _ = write!(
            s,
            r#"<path data-cc="{}" d="{}"/>"#,
            crate::escape::html(&c.iso2),
            c.d
        );
    }
    s.push_str(r#"</g><g id="heat" filter="url(#blur)"></g><g id="points"></g><g id="labels"></g></g></svg>"#);
    s
}

/// The whole page for a snapshot. With `--anonymize-ip` (`snap.anonymized`)
/// this is the boundary where the anonymizer runs over every string of the
/// data: user names, host names of sessions, methods, the title.
pub fn render(snap: &Snapshot) -> String {
    let title = if snap.title.is_empty() {
        "sshmap report".into()
    } else if snap.anonymized {
        crate::anonymize::text(&snap.title)
    } else {
        snap.title.as_str().into()
    };
    let data = if snap.anonymized {
        let mut v = serde_json::to_value(snap).expect("snapshot serializes");
        crate::anonymize::json(&mut v);
        script_json(&v)
    } else {
        script_json(snap)
    };
    let svg = world_svg();
    let mut out =
        String::with_capacity(TEMPLATE.len() + CSS.len() + JS.len() + data.len() + svg.len());
    // One pass over the template: substituted text is never scanned for markers again.
    let mut rest = TEMPLATE;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else {
            out.push_str(&rest[i..]);
            rest = "";
            break;
        };
        match &after[..j] {
            "CSP" => out.push_str(&crate::escape::html(&csp())),
            "TITLE" => out.push_str(&crate::escape::html(&title)),
            "CSS" => out.push_str(CSS),
            "JS" => out.push_str(JS),
            "DATA" => out.push_str(&data),
            "MAP" => out.push_str(&svg),
            other => {
                out.push_str("{{");
                out.push_str(other);
                out.push_str("}}");
            }
        }
        rest = &after[j + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_json_cannot_close_the_script_element() {
        let s =
            script_json(&serde_json::json!({"u": "</script><script>alert(1)</script>&\u{2028}"}));
        assert!(
            !s.contains('<') && !s.contains('>') && !s.contains('&') && !s.contains('\u{2028}'),
            "{s}"
        );
        let back: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back["u"], "</script><script>alert(1)</script>&\u{2028}");
    }

    #[test]
    fn page_has_one_csp_and_inlines_everything() {
        let agg = crate::analyze::Aggregate::default();
        let snap = Snapshot::build(
            &agg,
            &Options {
                title: "<b>t</b>".into(),
                anonymize_ip: false,
                span: None,
            },
            &agg.summary(10, vec![]),
        );
        let html = render(&snap);
        assert_eq!(html.matches("Content-Security-Policy").count(), 1);
        assert!(html.contains("&lt;b&gt;t&lt;/b&gt;"));
        assert!(!html.contains("{{"), "an unfilled marker");
        let without_ns = html.replace("http://www.w3.org/2000/svg", "");
        assert!(
            !without_ns.contains("http://") && !without_ns.contains("https://"),
            "a URL in the page"
        );
        assert!(
            html.contains(csp_hash(JS).trim_matches('\'')),
            "the script's hash is in the CSP"
        );
    }
}
