//! sshmap turns SSH server authentication logs into a picture of who is
//! attacking a machine, from where and when.
//!
//! # Layout
//!
//! One event type ([`event::Event`]) flows through one engine ([`flow`]) for
//! every command, batch or live; each stage is a module (ARCHITECTURE.md draws it):
//!
//! - [`source`]   — where lines come from: files (plain, gzip, zstd), rotated series, stdin, the journal, `tail -F`, syslog framing, HTTP ingest bodies.
//! - [`parse`]    — envelope → sshd message → connection correlation. Pure, no I/O.
//! - [`flow`]     — blocks parsed in parallel, correlated in order, enriched, handed to a sink.
//! - [`geo`]      — country, city and ASN for each address (embedded DB-IP database by default).
//! - [`store`]    — SQLite, PostgreSQL or ClickHouse, incremental and checkpointed.
//! - [`analyze`]  — aggregates: top lists, per-hour counts, attack attempts.
//! - [`render`]   — maps, charts and video.
//! - [`report`]   — the self-contained HTML report.
//! - [`serve`]    — the live attack map.
//!
//! Around them: [`cli`] (the command-line surface), [`settings`] (flag > env >
//! file > default, resolved once), [`commands`] (one file per subcommand; the
//! only place that sees `cli` and `settings`), [`escape`] (attacker text made
//! safe for terminals, HTML and SVG), [`duration`] (the one duration parser,
//! checked), [`anonymize`] (`--anonymize-ip`, the one anonymizer).
//!
//! Cargo features (all on by default) leave out optional parts: `serve` (the
//! web server), `postgres` (the PostgreSQL store), `mp4` (OpenH264 compiled in;
//! `mp4-cisco-openh264` loads Cisco's library at run time instead).

pub mod analyze;
pub mod anonymize;
pub mod cli;
pub mod commands;
pub mod duration;
pub mod escape;
pub mod event;
pub mod flow;
pub mod geo;
pub mod parse;
pub mod render;
pub mod report;
#[cfg(feature = "serve")]
pub mod serve;
pub mod settings;
pub mod source;
pub mod store;

/// What the unit tests share.
#[cfg(test)]
pub(crate) mod testing {
    /// A small xorshift generator (no dependency for generated test inputs):
    /// the same sequence for the same seed.
    pub fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        }
    }
}
