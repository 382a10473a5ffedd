//! The fleet store: PostgreSQL. Events arrive by binary `COPY`, carry a BRIN
//! index on time (appends are nearly time-ordered, so the index stays tiny),
//! and every commit announces itself on [`NOTIFY_CHANNEL`] so `serve`
//! instances fan new events out. Several `ingest`/`serve` processes may write
//! at once: each input's checkpoint row is locked and version-checked per commit,
//! and rollup upserts go in key order.

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{ToSql, Type};
use postgres::{Client, NoTls};

use super::{
    Batch, Checkpoint, Filter, HourIpRow, Interner, MinuteRow, Result, Rollups, Row, Store,
    StoreError, COLUMNS, NOTIFY_CHANNEL,
};
use crate::event::{Event, Ts};
use crate::parse::BlockStats;

/// Schema versions, applied in order under an advisory lock; never edit a released one.
const MIGRATIONS: &[&str] = &[
    // 1: inputs (checkpoints), events, rollups.
    "CREATE TABLE inputs (
        id BIGSERIAL PRIMARY KEY,
        fingerprint BIGINT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        dev BIGINT NOT NULL DEFAULT 0,
        ino BIGINT NOT NULL DEFAULT 0,
        version BIGINT NOT NULL DEFAULT 0,
        end_offset BIGINT NOT NULL DEFAULT 0,
        end_line BIGINT NOT NULL DEFAULT 0,
        keep_offset BIGINT NOT NULL DEFAULT 0,
        keep_line BIGINT NOT NULL DEFAULT 1,
        keep_lines BIGINT NOT NULL DEFAULT 0,
        keep_other BIGINT NOT NULL DEFAULT 0,
        keep_malformed BIGINT NOT NULL DEFAULT 0,
        keep_too_long BIGINT NOT NULL DEFAULT 0,
        warm_offset BIGINT NOT NULL DEFAULT 0,
        warm_line BIGINT NOT NULL DEFAULT 1,
        warm_year INTEGER,
        warm_month INTEGER,
        warm_hash BIGINT NOT NULL DEFAULT 0,
        warm_hash_len BIGINT NOT NULL DEFAULT 0,
        lines BIGINT NOT NULL DEFAULT 0,
        other_programs BIGINT NOT NULL DEFAULT 0,
        malformed BIGINT NOT NULL DEFAULT 0,
        too_long BIGINT NOT NULL DEFAULT 0,
        events BIGINT NOT NULL DEFAULT 0,
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    CREATE TABLE events (
        id BIGINT PRIMARY KEY,
        ts BIGINT NOT NULL,
        ts_offset INTEGER NOT NULL,
        host TEXT,
        program TEXT NOT NULL,
        pid BIGINT,
        kind TEXT NOT NULL,
        method TEXT,
        username TEXT,
        invalid_user BOOLEAN NOT NULL,
        ip TEXT,
        port INTEGER,
        count BIGINT NOT NULL,
        attempts BIGINT NOT NULL,
        has_geo BOOLEAN NOT NULL,
        country TEXT,
        country_name TEXT,
        city TEXT,
        lat DOUBLE PRECISION,
        lon DOUBLE PRECISION,
        asn BIGINT,
        org TEXT,
        geo_precision TEXT,
        scope TEXT,
        src TEXT NOT NULL
    );
    CREATE INDEX events_ts_brin ON events USING brin (ts);
    -- Byte order (COLLATE \"C\"): rows come back in the same order as from SQLite, straight off the index.
    CREATE TABLE rollup_minute (
        minute BIGINT NOT NULL,
        country TEXT COLLATE \"C\" NOT NULL,
        kind TEXT COLLATE \"C\" NOT NULL,
        events BIGINT NOT NULL,
        attempts BIGINT NOT NULL,
        PRIMARY KEY (minute, country, kind)
    );
    CREATE TABLE rollup_hour_ip (
        hour BIGINT NOT NULL,
        ip TEXT COLLATE \"C\" NOT NULL,
        country TEXT NOT NULL,
        events BIGINT NOT NULL,
        attempts BIGINT NOT NULL,
        PRIMARY KEY (hour, ip)
    );",
    // 2: journal inputs resume after a journalctl cursor.
    "ALTER TABLE inputs ADD COLUMN cursor TEXT;",
];

/// Advisory lock key under which migrations run (`sshmap` in ASCII).
const MIGRATION_LOCK: i64 = 0x7373_686d_6170;

const TYPES: [Type; 25] = [
    Type::INT8,
    Type::INT8,
    Type::INT4,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::BOOL,
    Type::TEXT,
    Type::INT4,
    Type::INT8,
    Type::INT8,
    Type::BOOL,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::FLOAT8,
    Type::FLOAT8,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
];

pub struct PgStore {
    client: Client,
}

/// The URL with its password hidden, for messages.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    match (rest.find('@'), rest.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:***{}",
            &url[..scheme_end + 3],
            &rest[..colon],
            &rest[at..]
        ),
        _ => url.to_string(),
    }
}

/// Connects, with a message that says what to check.
pub fn connect(url: &str) -> Result<Client> {
    Client::connect(url, NoTls).map_err(|e| StoreError::Connect {
        url: redact(url),
        detail: std::error::Error::source(&e)
            .map_or_else(|| e.to_string(), |s| format!("{e}: {s}")),
    })
}

impl PgStore {
    /// Connects and applies pending migrations.
    pub fn connect(url: &str) -> Result<PgStore> {
        let mut client = connect(url)?;
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS sshmap_schema (version INTEGER NOT NULL)")?;
        let version: i32 = tx
            .query_opt("SELECT version FROM sshmap_schema", &[])?
            .map(|r| r.get(0))
            .unwrap_or_else(|| 0);
        let known = MIGRATIONS.len() as i32;
        if version > known {
            return Err(StoreError::TooNew {
                found: i64::from(version),
                known: i64::from(known),
            });
        }
        for sql in MIGRATIONS.iter().skip(version as usize) {
            tx.batch_execute(sql)?;
        }
        tx.execute("DELETE FROM sshmap_schema", &[])?;
        tx.execute("INSERT INTO sshmap_schema (version) VALUES ($1)", &[&known])?;
        tx.commit()?;
        Ok(PgStore { client })
    }
}

const CP_COLUMNS: &str = "id, fingerprint, name, dev, ino, version, end_offset, end_line, keep_offset, keep_line, \
    keep_lines, keep_other, keep_malformed, keep_too_long, warm_offset, warm_line, warm_year, warm_month, warm_hash, \
    warm_hash_len, lines, other_programs, malformed, too_long, events, cursor";

fn checkpoint_from(r: &postgres::Row) -> Checkpoint {
    let u = |i: usize| r.get::<_, i64>(i) as u64;
    let year: Option<i32> = r.get(16);
    let month: Option<i32> = r.get(17);
    Checkpoint {
        id: r.get(0),
        fingerprint: r.get(1),
        name: r.get(2),
        dev: u(3),
        ino: u(4),
        version: r.get(5),
        end_offset: u(6),
        end_line: u(7),
        keep_offset: u(8),
        keep_line: u(9),
        keep_stats: BlockStats {
            lines: u(10),
            other_programs: u(11),
            malformed: u(12),
            too_long: u(13),
        },
        warm_offset: u(14),
        warm_line: u(15),
        warm_year: year.zip(month.map(|m| m as u8)),
        warm_hash: r.get(18),
        warm_hash_len: u(19),
        stats: BlockStats {
            lines: u(20),
            other_programs: u(21),
            malformed: u(22),
            too_long: u(23),
        },
        events: u(24),
        cursor: r.get(25),
    }
}

fn row_from(r: &postgres::Row) -> Row {
    Row {
        id: r.get(0),
        ts: r.get(1),
        ts_offset: r.get(2),
        host: r.get(3),
        program: r.get(4),
        pid: r.get(5),
        kind: r.get(6),
        method: r.get(7),
        user: r.get(8),
        invalid_user: r.get(9),
        ip: r.get(10),
        port: r.get(11),
        count: r.get(12),
        attempts: r.get(13),
        has_geo: r.get(14),
        country: r.get(15),
        country_name: r.get(16),
        city: r.get(17),
        lat: r.get(18),
        lon: r.get(19),
        asn: r.get(20),
        org: r.get(21),
        precision: r.get(22),
        scope: r.get(23),
        src: r.get(24),
    }
}

impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn checkpoint(&mut self, fingerprint: i64) -> Result<Option<Checkpoint>> {
        let sql = format!("SELECT {CP_COLUMNS} FROM inputs WHERE fingerprint = $1");
        Ok(self
            .client
            .query_opt(&sql, &[&fingerprint])?
            .as_ref()
            .map(checkpoint_from))
    }

    fn claim(&mut self, fingerprint: i64, name: &str, dev: u64, ino: u64) -> Result<Checkpoint> {
        self.client.execute(
            "INSERT INTO inputs (fingerprint, name, dev, ino) VALUES ($1, $2, $3, $4) ON CONFLICT (fingerprint) DO NOTHING",
            &[&fingerprint, &name, &(dev as i64), &(ino as i64)],
        )?;
        self.checkpoint(fingerprint)?
            .ok_or_else(|| StoreError::BadValue("input vanished".into()))
    }

    fn checkpoints(&mut self) -> Result<Vec<Checkpoint>> {
        let sql = format!("SELECT {CP_COLUMNS} FROM inputs ORDER BY id");
        Ok(self
            .client
            .query(&sql, &[])?
            .iter()
            .map(checkpoint_from)
            .collect())
    }

    fn commit(&mut self, b: Batch<'_>) -> Result<i64> {
        let cp = b.checkpoint;
        let mut tx = self.client.transaction()?;
        // The row lock serializes writers of one input; the version says whether we are still the one.
        let version: Option<i64> = tx
            .query_opt(
                "SELECT version FROM inputs WHERE id = $1 FOR UPDATE",
                &[&cp.id],
            )?
            .map(|r| r.get(0));
        if version != Some(b.expected_version) {
            return Err(StoreError::Concurrent {
                input: cp.name.clone(),
            });
        }
        let mut roll = Rollups::default();
        let mut deleted = 0i64;
        let hi = super::event_id(cp.id + 1, 0);
        if let Some(from) = b.replace_from {
            let lo = super::event_id(cp.id, from);
            let rows = tx.query(
                "DELETE FROM events WHERE id >= $1 AND id < $2 RETURNING ts, country, kind, ip, attempts",
                &[&lo, &hi],
            )?;
            for r in &rows {
                let kind: String = r.get(2);
                let kind =
                    crate::event::Kind::from_name(&kind).ok_or(StoreError::BadValue(kind))?;
                let country: Option<String> = r.get(1);
                let ip: Option<String> = r.get(3);
                roll.add(
                    r.get(0),
                    country.as_deref(),
                    kind,
                    ip.as_deref(),
                    r.get(4),
                    -1,
                );
            }
            deleted = rows.len() as i64;
        }
        if !b.events.is_empty() {
            let w = tx.copy_in(&format!("COPY events ({COLUMNS}) FROM STDIN BINARY"))?;
            let mut w = BinaryCopyInWriter::new(w, &TYPES);
            for ev in b.events {
                roll.add_event(ev, 1);
                let r = Row::from_event(cp.id, ev);
                w.write(&[
                    &r.id,
                    &r.ts,
                    &r.ts_offset,
                    &r.host,
                    &r.program,
                    &r.pid,
                    &r.kind,
                    &r.method,
                    &r.user,
                    &r.invalid_user,
                    &r.ip,
                    &r.port,
                    &r.count,
                    &r.attempts,
                    &r.has_geo,
                    &r.country,
                    &r.country_name,
                    &r.city,
                    &r.lat,
                    &r.lon,
                    &r.asn,
                    &r.org,
                    &r.precision,
                    &r.scope,
                    &r.src,
                ])?;
            }
            w.finish()?;
        }
        roll.retain_nonzero();
        if !roll.minute.is_empty() {
            let mut cols: (Vec<i64>, Vec<&str>, Vec<&str>, Vec<i64>, Vec<i64>) = Default::default();
            for ((m, c, k), (n, a)) in &roll.minute {
                cols.0.push(*m);
                cols.1.push(c);
                cols.2.push(k);
                cols.3.push(*n);
                cols.4.push(*a);
            }
            tx.execute(
                "INSERT INTO rollup_minute (minute, country, kind, events, attempts)
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[])
                 ON CONFLICT (minute, country, kind) DO UPDATE
                 SET events = rollup_minute.events + excluded.events, attempts = rollup_minute.attempts + excluded.attempts",
                &[&cols.0, &cols.1, &cols.2, &cols.3, &cols.4],
            )?;
            tx.execute(
                "DELETE FROM rollup_minute WHERE events = 0 AND minute = ANY($1)",
                &[&cols.0],
            )?;
        }
        if !roll.hour_ip.is_empty() {
            let mut cols: (Vec<i64>, Vec<&str>, Vec<&str>, Vec<i64>, Vec<i64>) = Default::default();
            for ((h, ip), (c, n, a)) in &roll.hour_ip {
                cols.0.push(*h);
                cols.1.push(ip);
                cols.2.push(c);
                cols.3.push(*n);
                cols.4.push(*a);
            }
            tx.execute(
                "INSERT INTO rollup_hour_ip (hour, ip, country, events, attempts)
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[])
                 ON CONFLICT (hour, ip) DO UPDATE
                 SET events = rollup_hour_ip.events + excluded.events, attempts = rollup_hour_ip.attempts + excluded.attempts",
                &[&cols.0, &cols.1, &cols.2, &cols.3, &cols.4],
            )?;
            tx.execute(
                "DELETE FROM rollup_hour_ip WHERE events = 0 AND hour = ANY($1)",
                &[&cols.0],
            )?;
        }
        let added = b.events.len() as i64 - deleted;
        let i = |v: u64| v as i64;
        let year = cp.warm_year.map(|y| y.0);
        let month = cp.warm_year.map(|y| i32::from(y.1));
        tx.execute(
            "UPDATE inputs SET name = $2, dev = $3, ino = $4, version = $5, end_offset = $6, end_line = $7,
                keep_offset = $8, keep_line = $9, keep_lines = $10, keep_other = $11, keep_malformed = $12,
                keep_too_long = $13, warm_offset = $14, warm_line = $15, warm_year = $16, warm_month = $17,
                warm_hash = $18, warm_hash_len = $19, lines = $20, other_programs = $21, malformed = $22,
                too_long = $23, events = events + $24, updated_at = now(), cursor = $25
             WHERE id = $1",
            &[
                &cp.id,
                &cp.name,
                &i(cp.dev),
                &i(cp.ino),
                &(b.expected_version + 1),
                &i(cp.end_offset),
                &i(cp.end_line),
                &i(cp.keep_offset),
                &i(cp.keep_line),
                &i(cp.keep_stats.lines),
                &i(cp.keep_stats.other_programs),
                &i(cp.keep_stats.malformed),
                &i(cp.keep_stats.too_long),
                &i(cp.warm_offset),
                &i(cp.warm_line),
                &year,
                &month,
                &cp.warm_hash,
                &i(cp.warm_hash_len),
                &i(cp.stats.lines),
                &i(cp.stats.other_programs),
                &i(cp.stats.malformed),
                &i(cp.stats.too_long),
                &added,
                &cp.cursor,
            ],
        )?;
        if added != 0 || !b.events.is_empty() {
            let to = b.events.iter().map(|e| e.ts).max().map(Ts::to_rfc3339);
            let payload =
                serde_json::json!({ "input": cp.name, "events": added, "to": to }).to_string();
            // Delivered to listeners at commit, never for a rolled-back batch.
            tx.execute("SELECT pg_notify($1, $2)", &[&NOTIFY_CHANNEL, &payload])?;
        }
        tx.commit()?;
        Ok(added)
    }

    fn scan(&mut self, f: &Filter, sink: &mut dyn FnMut(Event)) -> Result<()> {
        let mut sql = format!("SELECT {COLUMNS} FROM events WHERE true");
        let mut args: Vec<Box<dyn ToSql + Sync>> = Vec::new();
        if let Some(from) = f.from {
            args.push(Box::new(from));
            sql += &format!(" AND ts >= ${}", args.len());
        }
        if let Some(to) = f.to {
            args.push(Box::new(to));
            sql += &format!(" AND ts < ${}", args.len());
        }
        if let Some(h) = &f.host {
            args.push(Box::new(h.clone()));
            sql += &format!(" AND host = ${}", args.len());
        }
        sql += " ORDER BY id";
        let refs: Vec<&(dyn ToSql + Sync)> =
            args.iter().map(|b| &**b as &(dyn ToSql + Sync)).collect();
        let mut rows = self.client.query_raw(&sql, refs)?;
        let mut interner = Interner::default();
        while let Some(r) = rows.next()? {
            sink(row_from(&r).into_event(&mut interner)?);
        }
        Ok(())
    }

    fn minute_country(&mut self, from: i64, to: i64) -> Result<Vec<MinuteRow>> {
        let rows = self.client.query(
            "SELECT minute, country, kind, events, attempts FROM rollup_minute
             WHERE minute >= $1 AND minute < $2",
            &[&from, &to],
        )?;
        // Sorted here: cheaper than the server's sort, which the planner prefers to an index scan.
        let mut v: Vec<MinuteRow> = rows
            .iter()
            .map(|r| MinuteRow {
                minute: r.get(0),
                country: r.get(1),
                kind: r.get(2),
                events: r.get(3),
                attempts: r.get(4),
            })
            .collect();
        v.sort_unstable();
        Ok(v)
    }

    fn hour_ip(&mut self, from: i64, to: i64) -> Result<Vec<HourIpRow>> {
        let rows = self.client.query(
            "SELECT hour, ip, country, events, attempts FROM rollup_hour_ip
             WHERE hour >= $1 AND hour < $2",
            &[&from, &to],
        )?;
        let mut v: Vec<HourIpRow> = rows
            .iter()
            .map(|r| HourIpRow {
                hour: r.get(0),
                ip: r.get(1),
                country: r.get(2),
                events: r.get(3),
                attempts: r.get(4),
            })
            .collect();
        v.sort_unstable();
        Ok(v)
    }

    fn prune(&mut self, before: i64) -> Result<u64> {
        Ok(self
            .client
            .execute("DELETE FROM events WHERE ts < $1", &[&before])?)
    }

    fn count(&mut self) -> Result<u64> {
        Ok(self
            .client
            .query_one("SELECT count(*) FROM events", &[])?
            .get::<_, i64>(0) as u64)
    }
}

/// New events announced by any writer (`serve` instances fan them out).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct Announcement {
    pub input: String,
    pub events: i64,
    /// The newest event's time, RFC 3339.
    pub to: Option<String>,
}

/// A connection that listens on [`NOTIFY_CHANNEL`].
pub struct Listener {
    client: Client,
}

impl Listener {
    pub fn connect(url: &str) -> Result<Listener> {
        let mut client = connect(url)?;
        client.batch_execute(&format!("LISTEN {NOTIFY_CHANNEL}"))?;
        Ok(Listener { client })
    }

    /// The next announcement, waiting at most `timeout`; `None` on timeout.
    pub fn next(&mut self, timeout: std::time::Duration) -> Result<Option<Announcement>> {
        let mut n = self.client.notifications();
        let mut it = n.timeout_iter(timeout);
        match it.next()? {
            Some(note) => serde_json::from_str(note.payload())
                .map(Some)
                .map_err(|_| StoreError::BadValue(note.payload().to_string())),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            super::redact("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(super::redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}
