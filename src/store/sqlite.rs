//! The embedded store: one SQLite file in WAL mode (readers never block the
//! writer), versioned migrations in `PRAGMA user_version`.

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, ErrorCode, OptionalExtension, TransactionBehavior};

use super::{
    Batch, Checkpoint, Filter, HourIpRow, Interner, MinuteRow, Result, Rollups, Row, Store,
    StoreError, COLUMNS, LINE_BITS,
};
use crate::event::Event;
use crate::parse::BlockStats;

/// Schema versions, applied in order; never edit a released one, add the next.
const MIGRATIONS: &[&str] = &[
    // 1: inputs (checkpoints), events, rollups.
    "CREATE TABLE inputs (
        id INTEGER PRIMARY KEY,
        fingerprint INTEGER NOT NULL UNIQUE,
        name TEXT NOT NULL,
        dev INTEGER NOT NULL DEFAULT 0,
        ino INTEGER NOT NULL DEFAULT 0,
        version INTEGER NOT NULL DEFAULT 0,
        end_offset INTEGER NOT NULL DEFAULT 0,
        end_line INTEGER NOT NULL DEFAULT 0,
        keep_offset INTEGER NOT NULL DEFAULT 0,
        keep_line INTEGER NOT NULL DEFAULT 1,
        keep_lines INTEGER NOT NULL DEFAULT 0,
        keep_other INTEGER NOT NULL DEFAULT 0,
        keep_malformed INTEGER NOT NULL DEFAULT 0,
        keep_too_long INTEGER NOT NULL DEFAULT 0,
        warm_offset INTEGER NOT NULL DEFAULT 0,
        warm_line INTEGER NOT NULL DEFAULT 1,
        warm_year INTEGER,
        warm_month INTEGER,
        warm_hash INTEGER NOT NULL DEFAULT 0,
        warm_hash_len INTEGER NOT NULL DEFAULT 0,
        lines INTEGER NOT NULL DEFAULT 0,
        other_programs INTEGER NOT NULL DEFAULT 0,
        malformed INTEGER NOT NULL DEFAULT 0,
        too_long INTEGER NOT NULL DEFAULT 0,
        events INTEGER NOT NULL DEFAULT 0,
        updated_at INTEGER NOT NULL DEFAULT 0
    );
    -- id = input id << 40 | line: the idempotency key, and the read order.
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        ts INTEGER NOT NULL,
        ts_offset INTEGER NOT NULL,
        host TEXT,
        program TEXT NOT NULL,
        pid INTEGER,
        kind TEXT NOT NULL,
        method TEXT,
        username TEXT,
        invalid_user INTEGER NOT NULL,
        ip TEXT,
        port INTEGER,
        count INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        has_geo INTEGER NOT NULL,
        country TEXT,
        country_name TEXT,
        city TEXT,
        lat REAL,
        lon REAL,
        asn INTEGER,
        org TEXT,
        geo_precision TEXT,
        scope TEXT,
        src TEXT NOT NULL
    );
    CREATE INDEX events_ts ON events(ts);
    CREATE TABLE rollup_minute (
        minute INTEGER NOT NULL,
        country TEXT NOT NULL,
        kind TEXT NOT NULL,
        events INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        PRIMARY KEY (minute, country, kind)
    ) WITHOUT ROWID;
    CREATE TABLE rollup_hour_ip (
        hour INTEGER NOT NULL,
        ip TEXT NOT NULL,
        country TEXT NOT NULL,
        events INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        PRIMARY KEY (hour, ip)
    ) WITHOUT ROWID;",
    // 2: journal inputs resume after a journalctl cursor.
    "ALTER TABLE inputs ADD COLUMN cursor TEXT;",
];

pub struct SqliteStore {
    conn: Connection,
    path: String,
    busy: Duration,
}

impl SqliteStore {
    /// Opens or creates the database file (and its directory), waiting up to 5 s for a lock.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        SqliteStore::open_with(path, Duration::from_secs(5))
    }

    pub fn open_with(path: &Path, busy: Duration) -> Result<SqliteStore> {
        let display = path.display().to_string();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
                path: display.clone(),
                source: rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(14),
                    Some(e.to_string()),
                ),
            })?;
        }
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: display.clone(),
            source,
        })?;
        let mut s = SqliteStore {
            conn,
            path: display,
            busy,
        };
        s.setup().map_err(|e| s.classify(e))?;
        Ok(s)
    }

    fn setup(&mut self) -> Result<()> {
        self.conn.busy_timeout(self.busy)?;
        // Fails on a file that is not a database: reported as corrupt.
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        let _ = mode;
        // NORMAL in WAL mode: a commit survives a killed process (the test kills
        // ingests), only a power cut may lose the last commits, never consistency.
        self.conn.execute_batch(
            "PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;",
        )?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew {
                found: version,
                known,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql)?;
            tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
        }
        tx.commit()?;
        // A quick structural check: a damaged file fails here rather than mid-ingest.
        let ok: String = self
            .conn
            .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))?;
        if ok != "ok" {
            return Err(StoreError::Corrupt {
                path: self.path.clone(),
                detail: ok,
            });
        }
        Ok(())
    }

    /// Turns SQLite's codes into errors that say what to do.
    fn classify(&self, e: StoreError) -> StoreError {
        match e {
            StoreError::Sqlite(ref err) => match err.sqlite_error_code() {
                Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
                    path: self.path.clone(),
                    detail: err.to_string(),
                },
                Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Locked {
                    path: self.path.clone(),
                    secs: self.busy.as_secs(),
                },
                _ => e,
            },
            e => e,
        }
    }

    fn commit_inner(&mut self, b: &Batch<'_>) -> Result<i64> {
        let cp = b.checkpoint;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: Option<i64> = tx
            .query_row("SELECT version FROM inputs WHERE id = ?1", [cp.id], |r| {
                r.get(0)
            })
            .optional()?;
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
            {
                let mut st = tx.prepare_cached(
                    "SELECT ts, country, kind, ip, attempts FROM events WHERE id >= ?1 AND id < ?2",
                )?;
                let mut rows = st.query(params![lo, hi])?;
                while let Some(r) = rows.next()? {
                    let kind: String = r.get(2)?;
                    let kind =
                        crate::event::Kind::from_name(&kind).ok_or(StoreError::BadValue(kind))?;
                    let country: Option<String> = r.get(1)?;
                    let ip: Option<String> = r.get(3)?;
                    roll.add(
                        r.get(0)?,
                        country.as_deref(),
                        kind,
                        ip.as_deref(),
                        r.get(4)?,
                        -1,
                    );
                }
            }
            deleted = tx.execute(
                "DELETE FROM events WHERE id >= ?1 AND id < ?2",
                params![lo, hi],
            )? as i64;
        }
        {
            let mut st = tx.prepare_cached(&format!(
                "INSERT INTO events ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, \
                 ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25)"
            ))?;
            let mut ip = String::with_capacity(40);
            for ev in b.events {
                roll.add_event(ev, 1);
                // Bound from the event's own fields: no per-row allocation but the address text.
                ip.clear();
                if let Some(a) = ev.ip {
                    use std::fmt::Write as _;
                    let _ = write!(ip, "{a}");
                }
                let g = ev.geo.as_ref();
                st.execute(params![
                    super::event_id(cp.id, ev.src.line),
                    ev.ts.micros,
                    ev.ts.offset,
                    ev.host.as_deref(),
                    &*ev.program,
                    ev.pid,
                    ev.kind.as_str(),
                    ev.method.as_deref(),
                    ev.user.as_deref(),
                    ev.invalid_user,
                    ev.ip.map(|_| ip.as_str()),
                    ev.port,
                    ev.count,
                    ev.attempts,
                    g.is_some(),
                    g.and_then(|g| g.country.as_deref()),
                    g.and_then(|g| g.country_name.as_deref()),
                    g.and_then(|g| g.city.as_deref()),
                    g.and_then(|g| g.lat),
                    g.and_then(|g| g.lon),
                    g.and_then(|g| g.asn),
                    g.and_then(|g| g.org.as_deref()),
                    g.and_then(|g| g.precision),
                    ev.scope.map(super::scope_name),
                    &*ev.src.input
                ])?;
            }
        }
        roll.retain_nonzero();
        {
            let mut up = tx.prepare_cached(
                "INSERT INTO rollup_minute (minute, country, kind, events, attempts) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (minute, country, kind) DO UPDATE
                 SET events = events + excluded.events, attempts = attempts + excluded.attempts",
            )?;
            let mut zero =
                tx.prepare_cached("DELETE FROM rollup_minute WHERE minute = ?1 AND country = ?2 AND kind = ?3 AND events = 0")?;
            for ((minute, country, kind), (n, a)) in &roll.minute {
                up.execute(params![minute, country, kind, n, a])?;
                if *n < 0 {
                    zero.execute(params![minute, country, kind])?;
                }
            }
            let mut up = tx.prepare_cached(
                "INSERT INTO rollup_hour_ip (hour, ip, country, events, attempts) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (hour, ip) DO UPDATE
                 SET events = events + excluded.events, attempts = attempts + excluded.attempts",
            )?;
            let mut zero = tx.prepare_cached(
                "DELETE FROM rollup_hour_ip WHERE hour = ?1 AND ip = ?2 AND events = 0",
            )?;
            for ((hour, ip), (country, n, a)) in &roll.hour_ip {
                up.execute(params![hour, ip, country, n, a])?;
                if *n < 0 {
                    zero.execute(params![hour, ip])?;
                }
            }
        }
        let added = b.events.len() as i64 - deleted;
        write_checkpoint(&tx, cp, b.expected_version + 1, added)?;
        tx.commit()?;
        Ok(added)
    }
}

fn write_checkpoint(
    tx: &rusqlite::Transaction<'_>,
    cp: &Checkpoint,
    version: i64,
    added: i64,
) -> Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    tx.execute(
        "UPDATE inputs SET name = ?2, dev = ?3, ino = ?4, version = ?5, end_offset = ?6, end_line = ?7,
            keep_offset = ?8, keep_line = ?9, keep_lines = ?10, keep_other = ?11, keep_malformed = ?12,
            keep_too_long = ?13, warm_offset = ?14, warm_line = ?15, warm_year = ?16, warm_month = ?17,
            warm_hash = ?18, warm_hash_len = ?19, lines = ?20, other_programs = ?21, malformed = ?22,
            too_long = ?23, events = events + ?24, updated_at = ?25, cursor = ?26
         WHERE id = ?1",
        params![
            cp.id,
            cp.name,
            cp.dev as i64,
            cp.ino as i64,
            version,
            cp.end_offset as i64,
            cp.end_line as i64,
            cp.keep_offset as i64,
            cp.keep_line as i64,
            cp.keep_stats.lines as i64,
            cp.keep_stats.other_programs as i64,
            cp.keep_stats.malformed as i64,
            cp.keep_stats.too_long as i64,
            cp.warm_offset as i64,
            cp.warm_line as i64,
            cp.warm_year.map(|y| y.0),
            cp.warm_year.map(|y| y.1),
            cp.warm_hash,
            cp.warm_hash_len as i64,
            cp.stats.lines as i64,
            cp.stats.other_programs as i64,
            cp.stats.malformed as i64,
            cp.stats.too_long as i64,
            added,
            now,
            cp.cursor
        ],
    )?;
    Ok(())
}

const CP_COLUMNS: &str = "id, fingerprint, name, dev, ino, version, end_offset, end_line, keep_offset, keep_line, \
    keep_lines, keep_other, keep_malformed, keep_too_long, warm_offset, warm_line, warm_year, warm_month, warm_hash, \
    warm_hash_len, lines, other_programs, malformed, too_long, events, cursor";

fn checkpoint_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<Checkpoint> {
    let u = |i: usize| -> rusqlite::Result<u64> { Ok(r.get::<_, i64>(i)? as u64) };
    let year: Option<i32> = r.get(16)?;
    let month: Option<u8> = r.get(17)?;
    Ok(Checkpoint {
        id: r.get(0)?,
        fingerprint: r.get(1)?,
        name: r.get(2)?,
        dev: u(3)?,
        ino: u(4)?,
        version: r.get(5)?,
        end_offset: u(6)?,
        end_line: u(7)?,
        keep_offset: u(8)?,
        keep_line: u(9)?,
        keep_stats: BlockStats {
            lines: u(10)?,
            other_programs: u(11)?,
            malformed: u(12)?,
            too_long: u(13)?,
        },
        warm_offset: u(14)?,
        warm_line: u(15)?,
        warm_year: year.zip(month),
        warm_hash: r.get(18)?,
        warm_hash_len: u(19)?,
        stats: BlockStats {
            lines: u(20)?,
            other_programs: u(21)?,
            malformed: u(22)?,
            too_long: u(23)?,
        },
        events: u(24)?,
        cursor: r.get(25)?,
    })
}

fn row_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        id: r.get(0)?,
        ts: r.get(1)?,
        ts_offset: r.get(2)?,
        host: r.get(3)?,
        program: r.get(4)?,
        pid: r.get(5)?,
        kind: r.get(6)?,
        method: r.get(7)?,
        user: r.get(8)?,
        invalid_user: r.get(9)?,
        ip: r.get(10)?,
        port: r.get(11)?,
        count: r.get(12)?,
        attempts: r.get(13)?,
        has_geo: r.get(14)?,
        country: r.get(15)?,
        country_name: r.get(16)?,
        city: r.get(17)?,
        lat: r.get(18)?,
        lon: r.get(19)?,
        asn: r.get(20)?,
        org: r.get(21)?,
        precision: r.get(22)?,
        scope: r.get(23)?,
        src: r.get(24)?,
    })
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn checkpoint(&mut self, fingerprint: i64) -> Result<Option<Checkpoint>> {
        let sql = format!("SELECT {CP_COLUMNS} FROM inputs WHERE fingerprint = ?1");
        Ok(self
            .conn
            .query_row(&sql, [fingerprint], checkpoint_from)
            .optional()?)
    }

    fn claim(&mut self, fingerprint: i64, name: &str, dev: u64, ino: u64) -> Result<Checkpoint> {
        let r = self.conn.execute(
            "INSERT INTO inputs (fingerprint, name, dev, ino) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (fingerprint) DO NOTHING",
            params![fingerprint, name, dev as i64, ino as i64],
        );
        r.map_err(|e| self.classify(e.into()))?;
        self.checkpoint(fingerprint)?
            .ok_or_else(|| StoreError::BadValue("input vanished".into()))
    }

    fn checkpoints(&mut self) -> Result<Vec<Checkpoint>> {
        let mut st = self
            .conn
            .prepare(&format!("SELECT {CP_COLUMNS} FROM inputs ORDER BY id"))?;
        let rows = st.query_map([], checkpoint_from)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn commit(&mut self, batch: Batch<'_>) -> Result<i64> {
        self.commit_inner(&batch).map_err(|e| self.classify(e))
    }

    fn scan(&mut self, f: &Filter, sink: &mut dyn FnMut(Event)) -> Result<()> {
        let mut sql = format!("SELECT {COLUMNS} FROM events WHERE 1=1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(from) = f.from {
            args.push(from.into());
            sql += &format!(" AND ts >= ?{}", args.len());
        }
        if let Some(to) = f.to {
            args.push(to.into());
            sql += &format!(" AND ts < ?{}", args.len());
        }
        if let Some(h) = &f.host {
            args.push(h.clone().into());
            sql += &format!(" AND host = ?{}", args.len());
        }
        sql += " ORDER BY id";
        let mut st = self.conn.prepare(&sql)?;
        let mut rows = st.query(rusqlite::params_from_iter(args))?;
        let mut interner = Interner::default();
        while let Some(r) = rows.next()? {
            sink(row_from(r)?.into_event(&mut interner)?);
        }
        Ok(())
    }

    fn minute_country(&mut self, from: i64, to: i64) -> Result<Vec<MinuteRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT minute, country, kind, events, attempts FROM rollup_minute
             WHERE minute >= ?1 AND minute < ?2 ORDER BY minute, country, kind",
        )?;
        let rows = st.query_map([from, to], |r| {
            Ok(MinuteRow {
                minute: r.get(0)?,
                country: r.get(1)?,
                kind: r.get(2)?,
                events: r.get(3)?,
                attempts: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn hour_ip(&mut self, from: i64, to: i64) -> Result<Vec<HourIpRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT hour, ip, country, events, attempts FROM rollup_hour_ip
             WHERE hour >= ?1 AND hour < ?2 ORDER BY hour, ip",
        )?;
        let rows = st.query_map([from, to], |r| {
            Ok(HourIpRow {
                hour: r.get(0)?,
                ip: r.get(1)?,
                country: r.get(2)?,
                events: r.get(3)?,
                attempts: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn prune(&mut self, before: i64) -> Result<u64> {
        let n = self
            .conn
            .execute("DELETE FROM events WHERE ts < ?1", [before])
            .map_err(|e| self.classify(e.into()))?;
        Ok(n as u64)
    }

    fn count(&mut self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM events", [], |r| r.get::<_, i64>(0))?
            as u64)
    }
}

/// Reads the line number back out of an event id (tests, tools).
pub fn line_of(id: i64) -> u64 {
    (id & ((1i64 << LINE_BITS) - 1)) as u64
}
