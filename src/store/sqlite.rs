//! The embedded store: one SQLite file in WAL mode (readers never block the
//! writer), versioned migrations in `PRAGMA user_version`.

use std::borrow::Cow;
use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, ErrorCode, OptionalExtension, TransactionBehavior};

use super::rows::{RowBatch, RowCache, Value};
use super::sessions::{self, Acc, Ev, KeyTail, Tracker, Trackers};
use super::{
    Batch, Checkpoint, Events, Filter, HourIpRow, Interner, MinuteRow, Result, Rollups, Row,
    Session, Store, StoreError, COLUMNS, LINE_BITS,
};
use crate::event::{Event, Kind};
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
    // 2: per-connection sessions (see store::sessions), filled from the stored
    // events by `backfill_sessions` right after this runs.
    "ALTER TABLE events ADD COLUMN session INTEGER;
    -- id = the event id of its first event; times in microseconds.
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        input INTEGER NOT NULL,
        host TEXT,
        pid INTEGER,
        ip TEXT,
        users TEXT,
        attempts INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL
    );
    CREATE INDEX sessions_first_seen ON sessions(first_seen);",
    // 3: journal inputs resume after a journalctl cursor.
    "ALTER TABLE inputs ADD COLUMN cursor TEXT;",
    // 4: successful logins by time (the live map's alert history); partial, so
    // inserts of the other events do not maintain it.
    "CREATE INDEX events_logins ON events(ts) WHERE kind = 'auth_success';",
    // 5: inputs are told apart by their first bytes too, not only their first line.
    "ALTER TABLE inputs ADD COLUMN head_hash INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE inputs ADD COLUMN head_len INTEGER NOT NULL DEFAULT 0;
     CREATE INDEX sessions_last_seen ON sessions(last_seen);",
    // 6: the latest session of a connection, for a commit that continues it
    // (store::sessions: a re-run loads the connections it reads, not the last hour's).
    "CREATE INDEX sessions_key ON sessions(pid, host, id);",
    // 7: a honeypot's password of a login attempt and a command typed (issue 14).
    "ALTER TABLE events ADD COLUMN password TEXT;
     ALTER TABLE events ADD COLUMN command TEXT;",
    // 8: the look-ups of 6 go through a key table written once per run, in key
    // order (store::sessions), not an index every commit rewrites all over.
    // `keys_to`: the table holds every session of the input up to this id.
    "CREATE TABLE session_keys (
        input INTEGER NOT NULL,
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        id INTEGER NOT NULL,
        PRIMARY KEY (input, pid, host, id)
    ) WITHOUT ROWID;
    ALTER TABLE inputs ADD COLUMN keys_to INTEGER NOT NULL DEFAULT 0;
    INSERT INTO session_keys (input, pid, host, id)
        SELECT input, pid, coalesce(host, ''), id FROM sessions WHERE pid IS NOT NULL ORDER BY 1, 2, 3, 4;
    UPDATE inputs SET keys_to = coalesce(
        (SELECT max(id) FROM sessions WHERE id >= inputs.id << 40 AND id < (inputs.id + 1) << 40), 0);
    DROP INDEX IF EXISTS sessions_key;",
    // 9: when an input's latest session ended is kept in its row, not found by
    // an index on `sessions(last_seen)` that every session write maintained
    // (about 3% of an ingest's instructions, BENCHMARKS.md run 7). `sessions_until` (µs) is never
    // below that time; a replace that shortens sessions may leave it above,
    // which only makes a tracker look up longer.
    "ALTER TABLE inputs ADD COLUMN sessions_until INTEGER;
    UPDATE inputs SET sessions_until =
        (SELECT max(last_seen) FROM sessions WHERE id >= inputs.id << 40 AND id < (inputs.id + 1) << 40);
    DROP INDEX IF EXISTS sessions_last_seen;",
];

/// Deletes the raw events before ?1 except the provisional ones (from their
/// input's `keep_line` on) and the others of their sessions: the next read
/// replaces the provisional events, uncounts them from the rollups and
/// rebuilds their sessions from the events that remain.
pub(crate) const PRUNE: &str = "DELETE FROM events WHERE ts < ?1
    AND id < (SELECT (i.id << 40) | i.keep_line FROM inputs i WHERE i.id = events.id >> 40)
    AND session NOT IN (SELECT e.session FROM inputs i JOIN events e
        ON e.id >= ((i.id << 40) | i.keep_line) AND e.id < ((i.id + 1) << 40) WHERE e.session IS NOT NULL)";

/// Databases up to this size get a structural check when opened (it reads the whole file).
const QUICK_CHECK_MAX_BYTES: i64 = 64 << 20;

/// The version whose migration adds the sessions table (then filled from the events).
const SESSIONS_VERSION: usize = 2;

pub struct SqliteStore {
    /// Started by the first commit; dropped before `conn`, whose close then
    /// checkpoints what is left.
    checkpointer: Option<Checkpointer>,
    /// The row statements of the commits, kept prepared (see `rows`); dropped
    /// before `conn` (fields drop in order), which finalizes them.
    rows: RowCache,
    conn: Connection,
    file: std::path::PathBuf,
    path: String,
    busy: Duration,
    trackers: Trackers,
}

/// Copies the WAL back into the database file from its own connection and
/// thread (a PASSIVE checkpoint never blocks the writer), after each commit,
/// so a large ingest does not pay for it on the commit path.
struct Checkpointer {
    wake: Option<std::sync::mpsc::SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    fn start(path: &Path, busy: Duration) -> Option<Checkpointer> {
        let conn = Connection::open(path).ok()?;
        conn.busy_timeout(busy).ok()?;
        let (wake, rx) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while rx.recv().is_ok() {
                    // Busy or failed: the next commit wakes it again, and the
                    // last connection to close checkpoints everything anyway.
                    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                }
            })
            .ok()?;
        Some(Checkpointer {
            wake: Some(wake),
            thread: Some(thread),
        })
    }

    fn poke(&self) {
        if let Some(w) = &self.wake {
            let _ = w.try_send(());
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.wake = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
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
            checkpointer: None,
            // SAFETY: used with `conn` only, and dropped before it.
            rows: unsafe { RowCache::new() },
            conn,
            file: path.to_path_buf(),
            path: display,
            busy,
            trackers: Trackers::default(),
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
            if i + 1 == SESSIONS_VERSION {
                backfill_sessions(&tx, &mut self.rows)?;
            }
            tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
        }
        tx.commit()?;
        // A quick structural check, so a damaged file fails here rather than
        // mid-ingest; it reads the whole file, so only while that is cheap.
        // Beyond, damage met later is still reported as corrupt (see
        // `classify`) and its transaction rolled back.
        let pages: i64 = self.conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let page_size: i64 = self.conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        if pages.saturating_mul(page_size) <= QUICK_CHECK_MAX_BYTES {
            let ok: String = self
                .conn
                .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))?;
            if ok != "ok" {
                return Err(StoreError::Corrupt {
                    path: self.path.clone(),
                    detail: ok,
                });
            }
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
        let (min_secs, tracker) = self.trackers.take_for(b);
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
        let mut removed = None;
        let mut deleted = 0i64;
        let hi = super::event_id(cp.id + 1, 0);
        if let Some(from) = b.replace_from {
            let lo = super::event_id(cp.id, from);
            let roll = removed.insert(Rollups::default());
            let mut interner = Interner::default();
            let mut touched = std::collections::BTreeSet::new();
            {
                let mut st = tx.prepare_cached(
                    "SELECT ts, country, kind, ip, attempts, session FROM events WHERE id >= ?1 AND id < ?2",
                )?;
                let mut rows = st.query(params![lo, hi])?;
                while let Some(r) = rows.next()? {
                    let country: Option<String> = r.get(1)?;
                    let kind: String = r.get(2)?;
                    let ip: Option<String> = r.get(3)?;
                    roll.remove_stored(
                        r.get(0)?,
                        country.as_deref(),
                        &kind,
                        ip.as_deref(),
                        r.get(4)?,
                        &mut interner,
                    )?;
                    if let Some(s) = r.get::<_, Option<i64>>(5)? {
                        touched.insert(s);
                    }
                }
            }
            deleted = tx.execute(
                "DELETE FROM events WHERE id >= ?1 AND id < ?2",
                params![lo, hi],
            )? as i64;
            rebuild_sessions(&tx, &mut self.rows, &touched, lo)?;
            // Sessions from `lo` on may be gone or new: the key table is
            // complete below only (its rows above are checked at each look-up).
            tx.prepare_cached("UPDATE inputs SET keys_to = min(keys_to, ?2) WHERE id = ?1")?
                .execute(params![cp.id, lo - 1])?;
        }
        let mut tracker = match tracker {
            Some(t) => Some(t),
            None if !b.events.is_empty() => {
                Some(tracker_for(&tx, cp.id, b.expected_version, min_secs)?)
            }
            None => None,
        };
        if let Some(t) = tracker.as_mut() {
            fetch_sessions(&tx, &mut self.rows, t, b.events)?;
            insert_events(&tx, &mut self.rows, cp.id, b.events, t)?;
            if let Some(end) = write_sessions(
                &tx,
                &mut self.rows,
                cp.id,
                t.dirty().into_iter(),
                Some(b.events),
            )? {
                tx.prepare_cached(
                    "UPDATE inputs SET sessions_until = max(coalesce(sessions_until, ?2), ?2) WHERE id = ?1",
                )?
                .execute([cp.id, end])?;
            }
            t.settle(min_secs);
        }
        {
            // Upserts several to a statement; the emptied rows (a delta that
            // took a row to zero: events deleted) go after all of them.
            let rows = b.events.rollups().after(removed.as_ref());
            let (minutes, hours) = (&rows.minute, &rows.hour_ip);
            let mut up = RowBatch::prepare(
                &mut self.rows,
                &tx,
                "INSERT INTO rollup_minute (minute, country, kind, events, attempts)",
                5,
                "ON CONFLICT (minute, country, kind) DO UPDATE
                 SET events = events + excluded.events, attempts = attempts + excluded.attempts",
            )?;
            for d in minutes {
                up.push(&[
                    d.minute.into(),
                    d.country().into(),
                    d.kind.into(),
                    d.events.into(),
                    d.attempts.into(),
                ])?;
            }
            up.finish()?;
            let mut zero =
                tx.prepare_cached("DELETE FROM rollup_minute WHERE minute = ?1 AND country = ?2 AND kind = ?3 AND events = 0")?;
            for d in minutes.iter().filter(|d| d.events < 0) {
                zero.execute(params![d.minute, d.country(), d.kind])?;
            }
            let mut up = RowBatch::prepare(
                &mut self.rows,
                &tx,
                "INSERT INTO rollup_hour_ip (hour, ip, country, events, attempts)",
                5,
                "ON CONFLICT (hour, ip) DO UPDATE
                 SET events = events + excluded.events, attempts = attempts + excluded.attempts",
            )?;
            for d in hours {
                up.push(&[
                    d.hour.into(),
                    (&*d.ip).into(),
                    d.country().into(),
                    d.events.into(),
                    d.attempts.into(),
                ])?;
            }
            up.finish()?;
            let mut zero = tx.prepare_cached(
                "DELETE FROM rollup_hour_ip WHERE hour = ?1 AND ip = ?2 AND events = 0",
            )?;
            for d in hours.iter().filter(|d| d.events < 0) {
                zero.execute(params![d.hour, &*d.ip])?;
            }
        }
        let added = b.events.len() as i64 - deleted;
        write_checkpoint(&tx, cp, b.expected_version + 1, added)?;
        tx.commit()?;
        if let Some(mut t) = tracker {
            t.version = b.expected_version + 1;
            self.trackers.put(t);
        }
        Ok(added)
    }
}

/// The indexes of `events` in line order. Nearly all came in order; the few
/// a connection held (and released late) are sorted apart and merged in:
/// a full sort of the indexes cost a tenth of the ingest (issue #15).
fn line_order(events: &[Event]) -> Vec<u32> {
    let line = |k: u32| events[k as usize].src.line;
    let mut main: Vec<u32> = Vec::with_capacity(events.len());
    let mut late: Vec<u32> = Vec::new();
    for k in 0..events.len() as u32 {
        match main.last() {
            Some(&m) if line(k) < line(m) => late.push(k),
            _ => main.push(k),
        }
    }
    if late.is_empty() {
        return main;
    }
    late.sort_by_key(|&k| line(k));
    crate::flow::merge_by(main, late, |&k| line(k)).collect()
}

/// Inserts the new events (each bound straight from the event's fields, many
/// rows a statement), assigning their sessions.
fn insert_events(
    tx: &Connection,
    cache: &mut RowCache,
    input: i64,
    events: &Events,
    t: &mut Tracker,
) -> Result<()> {
    // The sessions are assigned in the order the events came.
    let sessions: Vec<i64> = events
        .iter()
        .map(|ev| t.add(&Ev::of(super::event_id(input, ev.src.line), ev)))
        .collect();
    // Rows go several to a statement (`RowBatch`), in id (line) order: events
    // released late (a held line) would otherwise split the table's pages
    // and leave them half full.
    let mut rows = RowBatch::prepare(
        cache,
        tx,
        &format!("INSERT INTO events ({COLUMNS}, session)"),
        EVENT_PARAMS,
        "",
    )?;
    let mut values: Vec<Value<'_>> = Vec::with_capacity(EVENT_PARAMS);
    for k in line_order(events) {
        let k = k as usize;
        values.clear();
        event_values(&mut values, input, &events[k], events.ip(k), sessions[k]);
        rows.push(&values)?;
    }
    rows.finish()?;
    Ok(())
}

/// The parameters of an event's row.
const EVENT_PARAMS: usize = 28;

/// The parameters of one event's row: [`COLUMNS`], then its session.
fn event_values<'v>(
    out: &mut Vec<Value<'v>>,
    input: i64,
    ev: &'v Event,
    ip: Option<&'v str>,
    session: i64,
) {
    let g = ev.geo.as_deref();
    out.extend_from_slice(&[
        super::event_id(input, ev.src.line).into(),
        ev.ts.micros.into(),
        ev.ts.offset.into(),
        ev.host.as_deref().into(),
        (&*ev.program).into(),
        ev.pid.into(),
        ev.kind.as_str().into(),
        ev.method.as_deref().into(),
        ev.user.as_deref().into(),
        ev.invalid_user.into(),
        ip.into(),
        ev.port.into(),
        ev.count.into(),
        ev.attempts.into(),
        g.is_some().into(),
        g.and_then(|g| g.country.as_deref()).into(),
        g.and_then(|g| g.country_name.as_deref()).into(),
        g.and_then(|g| g.city.as_deref()).into(),
        g.and_then(|g| g.lat).into(),
        g.and_then(|g| g.lon).into(),
        g.and_then(|g| g.asn).into(),
        g.and_then(|g| g.org.as_deref()).into(),
        g.and_then(|g| g.precision).into(),
        ev.scope.map(super::scope_name).into(),
        (&*ev.src.input).into(),
        ev.password().into(),
        ev.command().into(),
        session.into(),
    ]);
}

/// A tracker of `input` for a batch starting at `min_secs`, filled on demand
/// by [`fetch_sessions`]. Nothing is loaded here: only when the input's
/// latest stored session ended (`inputs.sessions_until`).
fn tracker_for(tx: &Connection, input: i64, version: i64, min_secs: i64) -> Result<Tracker> {
    let floor = Tracker::floor_for(min_secs);
    let until: Option<i64> = tx
        .prepare_cached("SELECT sessions_until FROM inputs WHERE id = ?1")?
        .query_row([input], |r| r.get(0))
        .optional()?
        .flatten();
    // Sessions that ended before the floor cannot continue.
    let until = until.filter(|&u| u >= floor.saturating_mul(1_000_000));
    Ok(Tracker::on_demand(
        input,
        version,
        floor,
        until.map(sessions::secs),
    ))
}

/// Seeds `t` with the latest stored session of each connection of `events`
/// it lacks ([`Tracker::wanted`]): from the sessions stored since the key table
/// was filled ([`KeyTail`], read from their id range), else one key table
/// look-up each. The first look-up of a tracker catches the key table up.
fn fetch_sessions(
    tx: &Connection,
    cache: &mut RowCache,
    t: &mut Tracker,
    events: &[Event],
) -> Result<()> {
    let wanted = t.wanted(events);
    if wanted.is_empty() {
        return Ok(());
    }
    let input = t.input;
    let (lo, hi) = (super::event_id(input, 0), super::event_id(input + 1, 0));
    let keys = match &mut t.keys {
        Some(k) => k,
        None => t.keys.insert(KeyTail::new(fill_keys(tx, cache, input)?)),
    };
    let mut interner = Interner::default();
    {
        let mut st = tx.prepare_cached(
            "SELECT id, host, pid FROM sessions WHERE id > ?1 AND id < ?2 AND pid IS NOT NULL ORDER BY id",
        )?;
        let mut rows = st.query([keys.scanned.max(lo - 1), hi])?;
        while let Some(r) = rows.next()? {
            let host: Option<String> = r.get(1)?;
            keys.add(
                r.get(0)?,
                host.map(|h| interner.get(&h)),
                r.get::<_, i64>(2)? as u32,
            );
        }
    }
    const COLS: &str =
        "s.id, s.host, s.pid, s.ip, s.users, s.attempts, s.outcome, s.first_seen, s.last_seen";
    let mut by_id = tx.prepare_cached(&format!("SELECT {COLS} FROM sessions s WHERE s.id = ?1"))?;
    // A key row whose session was deleted since (or is another connection's
    // now) is skipped: the one before it answers.
    let mut by_key = tx.prepare_cached(&format!(
        "SELECT {COLS} FROM session_keys k JOIN sessions s ON s.id = k.id
         WHERE k.input = ?1 AND k.pid = ?2 AND k.host = ?3 AND k.id <= ?4 AND s.pid = ?2 AND s.host IS ?5
         ORDER BY k.id DESC LIMIT 1"
    ))?;
    let mut found = Vec::new();
    for (host, pid) in wanted {
        let mut rows = match keys.latest(&host, pid) {
            Some(id) => by_id.query([id])?,
            None => by_key.query(params![
                input,
                pid,
                host.as_deref().unwrap_or(""),
                keys.keyed,
                host.as_deref()
            ])?,
        };
        if let Some(r) = rows.next()? {
            let ip: Option<String> = r.get(3)?;
            let users: Option<String> = r.get(4)?;
            let outcome = text(r, 6)?;
            let mut s = Acc::from_stored(
                r.get(0)?,
                None,
                r.get(2)?,
                ip.as_deref(),
                users.as_deref(),
                r.get(5)?,
                outcome,
                r.get(7)?,
                r.get(8)?,
                &mut interner,
            )?;
            // The event's own host (the row's is the same), shared with the tracker's keys.
            s.host = host;
            found.push(s);
        }
    }
    for s in found {
        t.seed(s);
    }
    Ok(())
}

/// The inputs whose key table lacks sessions (one id look-up each).
const BEHIND: &str = "SELECT id FROM inputs i WHERE keys_to <
    coalesce((SELECT max(id) FROM sessions WHERE id >= i.id << 40 AND id < (i.id + 1) << 40), 0)";

/// Adds to the key table the sessions of `input` stored after its `keys_to`,
/// in key order (one pass over the pages they go to), and moves `keys_to` up;
/// returns it.
fn fill_keys(tx: &Connection, cache: &mut RowCache, input: i64) -> Result<i64> {
    let keyed: i64 = tx
        .prepare_cached("SELECT keys_to FROM inputs WHERE id = ?1")?
        .query_row([input], |r| r.get(0))?;
    let from = keyed.max(super::event_id(input, 0) - 1);
    let hi = super::event_id(input + 1, 0);
    let top: Option<i64> = tx
        .prepare_cached("SELECT max(id) FROM sessions WHERE id > ?1 AND id < ?2")?
        .query_row([from, hi], |r| r.get(0))?;
    let Some(top) = top else {
        return Ok(keyed);
    };
    // Sorted here, on integers (the host by its rank among the hosts met):
    // SQLite's sorter costs about four times the rest of the fill.
    let mut hosts: rustc_hash::FxHashMap<Box<str>, u32> = Default::default();
    let mut rows: Vec<(i64, u32, i64)> = Vec::new();
    {
        let mut st = tx.prepare_cached(
            "SELECT pid, coalesce(host, ''), id FROM sessions WHERE id > ?1 AND id <= ?2 AND pid IS NOT NULL",
        )?;
        let mut q = st.query([from, top])?;
        while let Some(r) = q.next()? {
            let host = text(r, 1)?;
            let n = hosts.len() as u32;
            let h = match hosts.get(host) {
                Some(&h) => h,
                None => *hosts.entry(host.into()).or_insert(n),
            };
            rows.push((r.get(0)?, h, r.get(2)?));
        }
    }
    let mut names: Vec<(&str, u32)> = hosts.iter().map(|(h, &i)| (&**h, i)).collect();
    // SQLite's BINARY order of text is the order of its UTF-8 bytes, as `str`'s.
    names.sort_unstable();
    let mut rank = vec![0u32; names.len()];
    for (r, (_, i)) in names.iter().enumerate() {
        rank[*i as usize] = r as u32;
    }
    rows.sort_unstable_by_key(|&(pid, h, id)| (pid, rank[h as usize], id));
    let mut by_index = vec![""; names.len()];
    for (h, i) in &names {
        by_index[*i as usize] = h;
    }
    let mut ins = RowBatch::prepare(
        cache,
        tx,
        "INSERT OR IGNORE INTO session_keys (input, pid, host, id)",
        4,
        "",
    )?;
    for (pid, h, id) in rows {
        ins.push(&[
            input.into(),
            pid.into(),
            by_index[h as usize].into(),
            id.into(),
        ])?;
    }
    ins.finish()?;
    tx.prepare_cached("UPDATE inputs SET keys_to = ?2 WHERE id = ?1")?
        .execute([input, top])?;
    Ok(top)
}

/// Writes sessions whole (insert or replace the row with that id); returns
/// when the latest of them ended (µs), if any. `known`: the events of the
/// commit, whose address texts are not formatted again (issue #15).
fn write_sessions<'a>(
    tx: &Connection,
    cache: &mut RowCache,
    input: i64,
    list: impl Iterator<Item = &'a Acc>,
    known: Option<&Events>,
) -> Result<Option<i64>> {
    let mut until = None;
    // The address and user texts first: the statement reads them where they lie.
    let list: Vec<_> = list
        .map(|s| {
            let ip = s.ip.map(|a| match known.and_then(|e| e.ip_text(a)) {
                Some(t) => Cow::Borrowed(t),
                None => Cow::Owned(crate::event::ip_string(a)),
            });
            (s, ip, s.users_text())
        })
        .collect();
    let mut st = RowBatch::prepare(
        cache,
        tx,
        "INSERT INTO sessions (id, input, host, pid, ip, users, attempts, outcome, first_seen, last_seen)",
        10,
        "ON CONFLICT (id) DO UPDATE SET ip = excluded.ip, users = excluded.users, attempts = excluded.attempts,
            outcome = excluded.outcome, first_seen = excluded.first_seen, last_seen = excluded.last_seen",
    )?;
    for (s, ip, users) in &list {
        st.push(&[
            s.id.into(),
            input.into(),
            s.host.as_deref().into(),
            s.pid.into(),
            ip.as_deref().into(),
            users.as_deref().into(),
            s.attempts.into(),
            s.outcome.as_str().into(),
            s.start.into(),
            s.end.into(),
        ])?;
        until = until.max(Some(s.end));
    }
    st.finish()?;
    Ok(until)
}

/// After the events from `lo` on were deleted: recomputes the sessions they
/// belonged to (`touched`) from their remaining events, and deletes the empty ones.
fn rebuild_sessions(
    tx: &Connection,
    cache: &mut RowCache,
    touched: &std::collections::BTreeSet<i64>,
    lo: i64,
) -> Result<()> {
    let Some(&first) = touched.first() else {
        return Ok(());
    };
    let mut rebuilt = {
        let mut st = tx.prepare_cached(
            "SELECT id, session, ts, host, pid, ip, username, kind, attempts FROM events
             WHERE id >= ?1 AND id < ?2 ORDER BY id",
        )?;
        let mut rows = st.query([first, lo])?;
        let mut kept = Vec::new();
        let mut interner = Interner::default();
        while let Some(r) = rows.next()? {
            let Some(session) = r.get::<_, Option<i64>>(1)? else {
                continue;
            };
            if !touched.contains(&session) {
                continue;
            }
            let host: Option<String> = r.get(3)?;
            let ip: Option<String> = r.get(5)?;
            let kind: String = r.get(7)?;
            kept.push((
                session,
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(2)?,
                host.map(|h| interner.get(&h)),
                r.get::<_, Option<i64>>(4)?,
                sessions::parse_ip(ip.as_deref())?,
                r.get::<_, Option<String>>(6)?,
                Kind::from_name(&kind).ok_or(StoreError::BadValue(kind))?,
                r.get::<_, i64>(8)?,
            ));
        }
        sessions::rebuild(kept.iter().map(|k| {
            (
                k.0,
                Ev {
                    id: k.1,
                    micros: k.2,
                    host: k.3.as_ref(),
                    pid: k.4.map(|p| p as u32),
                    ip: k.5,
                    user: k.6.as_deref(),
                    kind: k.7,
                    attempts: k.8,
                },
            )
        }))
    };
    let mut del = tx.prepare_cached("DELETE FROM sessions WHERE id = ?1")?;
    for s in touched {
        if !rebuilt.contains_key(s) {
            del.execute([s])?;
        }
    }
    let input = first >> LINE_BITS;
    let mut list: Vec<&Acc> = rebuilt.values().collect();
    list.sort_unstable_by_key(|s| s.id);
    write_sessions(tx, cache, input, list.into_iter(), None)?;
    rebuilt.clear();
    Ok(())
}

/// Migration 2: groups the events already stored into sessions.
fn backfill_sessions(tx: &Connection, cache: &mut RowCache) -> Result<()> {
    let mut interner = Interner::default();
    let mut tracker: Option<Tracker> = None;
    let mut after = i64::MIN;
    loop {
        let mut rows = Vec::new();
        {
            let mut st = tx.prepare(
                "SELECT id, ts, host, pid, ip, username, kind, attempts FROM events WHERE id > ?1 ORDER BY id LIMIT 100000",
            )?;
            let mut q = st.query([after])?;
            while let Some(r) = q.next()? {
                let host: Option<String> = r.get(2)?;
                let ip: Option<String> = r.get(4)?;
                let kind: String = r.get(6)?;
                rows.push((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    host.map(|h| interner.get(&h)),
                    r.get::<_, Option<i64>>(3)?,
                    sessions::parse_ip(ip.as_deref())?,
                    r.get::<_, Option<String>>(5)?,
                    Kind::from_name(&kind).ok_or(StoreError::BadValue(kind))?,
                    r.get::<_, i64>(7)?,
                ));
            }
        }
        let Some(last) = rows.last() else { break };
        after = last.0;
        let mut set = tx.prepare_cached("UPDATE events SET session = ?2 WHERE id = ?1")?;
        for r in &rows {
            let input = r.0 >> LINE_BITS;
            if tracker.as_ref().map(|t| t.input) != Some(input) {
                if let Some(t) = tracker.take() {
                    write_sessions(tx, cache, t.input, t.dirty().into_iter(), None)?;
                }
                tracker = Some(Tracker::new(input, 0, i64::MIN / 4));
            }
            let t = tracker.as_mut().expect("just set");
            let e = Ev {
                id: r.0,
                micros: r.1,
                host: r.2.as_ref(),
                pid: r.3.map(|p| p as u32),
                ip: r.4,
                user: r.5.as_deref(),
                kind: r.6,
                attempts: r.7,
            };
            let session = t.add(&e);
            set.execute([r.0, session])?;
        }
        if let Some(t) = tracker.as_mut() {
            write_sessions(tx, cache, t.input, t.dirty().into_iter(), None)?;
            t.settle(i64::MIN / 4);
        }
    }
    if let Some(t) = tracker {
        write_sessions(tx, cache, t.input, t.dirty().into_iter(), None)?;
    }
    Ok(())
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
            too_long = ?23, events = events + ?24, updated_at = ?25, cursor = ?26, head_hash = ?27,
            head_len = ?28
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
            cp.cursor,
            cp.head_hash,
            cp.head_len as i64
        ],
    )?;
    Ok(())
}

const CP_COLUMNS: &str = "id, fingerprint, name, dev, ino, version, end_offset, end_line, keep_offset, keep_line, \
    keep_lines, keep_other, keep_malformed, keep_too_long, warm_offset, warm_line, warm_year, warm_month, warm_hash, \
    warm_hash_len, lines, other_programs, malformed, too_long, events, cursor, head_hash, head_len";

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
        head_hash: r.get(26)?,
        head_len: u(27)?,
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
        password: r.get(25)?,
        command: r.get(26)?,
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
        if self.checkpointer.is_none() {
            self.checkpointer = Checkpointer::start(&self.file, self.busy);
            if self.checkpointer.is_some() {
                self.conn
                    .execute_batch("PRAGMA wal_autocheckpoint=0")
                    .map_err(|e| self.classify(e.into()))?;
            }
        }
        let added = self.commit_inner(&batch).map_err(|e| self.classify(e))?;
        if let Some(c) = &self.checkpointer {
            c.poke();
        }
        Ok(added)
    }

    fn finish(&mut self) -> Result<()> {
        let r = (|| -> Result<()> {
            let behind: Vec<i64> = {
                let mut st = self.conn.prepare_cached(BEHIND)?;
                let rows = st.query_map([], |r| r.get(0))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            for input in behind {
                let tx = self
                    .conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)?;
                fill_keys(&tx, &mut self.rows, input)?;
                tx.commit()?;
            }
            Ok(())
        })();
        r.map_err(|e| self.classify(e))?;
        if let Some(c) = &self.checkpointer {
            c.poke();
        }
        Ok(())
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
        let mut rows = st.query([from, to])?;
        let mut out = Vec::new();
        // Country and kind repeat on every minute: shared, not allocated per row.
        let mut interner = super::RunInterner::default();
        while let Some(r) = rows.next()? {
            out.push(MinuteRow {
                minute: r.get(0)?,
                country: interner.get(text(r, 1)?),
                kind: super::kind_name(text(r, 2)?)?,
                events: r.get(3)?,
                attempts: r.get(4)?,
            });
        }
        Ok(out)
    }

    fn hour_ip(&mut self, from: i64, to: i64) -> Result<Vec<HourIpRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT hour, ip, country, events, attempts FROM rollup_hour_ip
             WHERE hour >= ?1 AND hour < ?2 ORDER BY hour, ip",
        )?;
        let mut rows = st.query([from, to])?;
        let mut out = Vec::new();
        let mut interner = super::RunInterner::default();
        while let Some(r) = rows.next()? {
            out.push(HourIpRow {
                hour: r.get(0)?,
                ip: text(r, 1)?.to_string(),
                country: interner.get(text(r, 2)?),
                events: r.get(3)?,
                attempts: r.get(4)?,
            });
        }
        Ok(out)
    }

    fn attempt_span(&mut self, from: i64, to: i64) -> Result<super::AttemptSpan> {
        // The rows `minute_country` returns with attempts, summed here.
        let mut st = self.conn.prepare_cached(
            "SELECT min(minute), max(minute), sum(attempts) FROM rollup_minute
             WHERE minute >= ?1 AND minute < ?2 AND attempts > 0",
        )?;
        let (first, last, n): (Option<i64>, Option<i64>, Option<i64>) =
            st.query_row([from, to], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(super::AttemptSpan {
            first,
            last,
            attempts: n.unwrap_or(0).max(0) as u64,
        })
    }

    fn top_ips(&mut self, from: i64, to: i64, n: usize) -> Result<super::TopIps> {
        // Every address with at least the n-th largest count (its ties included), and the sum of all.
        let mut st = self.conn.prepare_cached(
            "WITH per AS (SELECT ip, sum(attempts) AS s FROM rollup_hour_ip
                          WHERE hour >= ?1 AND hour < ?2 AND attempts > 0 GROUP BY ip)
             SELECT ip, s, (SELECT sum(s) FROM per) FROM per
             WHERE s >= (SELECT min(s) FROM (SELECT s FROM per ORDER BY s DESC LIMIT ?3))",
        )?;
        let mut rows = st.query([from, to, n.max(1).min(i64::MAX as usize) as i64])?;
        let (mut ips, mut all) = (Vec::new(), 0);
        while let Some(r) = rows.next()? {
            ips.push((text(r, 0)?.to_string(), r.get::<_, i64>(1)? as u64));
            all = r.get::<_, i64>(2)? as u64;
        }
        let mut top = super::TopIps::cut(ips, usize::MAX);
        top.attempts = all;
        Ok(top)
    }

    fn sessions(&mut self, f: &Filter) -> Result<Vec<Session>> {
        let mut sql = "SELECT host, pid, ip, users, attempts, outcome, first_seen, last_seen FROM sessions WHERE 1=1"
            .to_string();
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(from) = f.from {
            args.push(from.into());
            sql += &format!(" AND first_seen >= ?{}", args.len());
        }
        if let Some(to) = f.to {
            args.push(to.into());
            sql += &format!(" AND first_seen < ?{}", args.len());
        }
        if let Some(h) = &f.host {
            args.push(h.clone().into());
            sql += &format!(" AND host = ?{}", args.len());
        }
        let mut st = self.conn.prepare(&sql)?;
        let rows = st.query_map(rusqlite::params_from_iter(args), |r| {
            Ok(Session {
                host: r.get(0)?,
                pid: r.get(1)?,
                ip: r.get(2)?,
                users: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                attempts: r.get(4)?,
                outcome: r.get(5)?,
                start: sessions::secs(r.get(6)?),
                end: sessions::secs(r.get(7)?),
            })
        })?;
        let mut v: Vec<Session> = rows.collect::<rusqlite::Result<_>>()?;
        v.sort_unstable();
        Ok(v)
    }

    fn prune(&mut self, before: i64) -> Result<u64> {
        let n = self
            .conn
            .execute(PRUNE, [before])
            .map_err(|e| self.classify(e.into()))?;
        Ok(n as u64)
    }

    fn count(&mut self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM events", [], |r| r.get::<_, i64>(0))?
            as u64)
    }

    fn logins(&mut self, from: i64, to: i64) -> Result<Vec<(String, String)>> {
        let mut st = self.conn.prepare_cached(
            "SELECT DISTINCT username, country FROM events
             WHERE ts >= ?1 AND ts < ?2 AND kind = 'auth_success' AND username IS NOT NULL AND country IS NOT NULL",
        )?;
        let rows = st.query_map([from, to], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// A text column, borrowed from the row.
fn text<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> Result<&'r str> {
    r.get_ref(i)?
        .as_str()
        .map_err(|e| StoreError::BadValue(format!("column {i}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// In line order whatever came late, as sorting every index gave.
    #[test]
    fn line_order_is_a_sort_by_line() {
        let ev = Event::at_line;
        let mut x: u64 = 7;
        for n in [0usize, 1, 2, 50, 1000] {
            for late_every in [1u64, 3, 17, 1000] {
                let mut lines: Vec<u64> = (0..n as u64).map(|i| i * 10).collect();
                // Some lines released late: moved further on.
                for i in 0..n {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    if (x >> 33) % late_every == 0 {
                        let to = (i + (x >> 40) as usize % 40).min(n.saturating_sub(1));
                        let v = lines.remove(i);
                        lines.insert(to, v);
                    }
                }
                let events: Vec<Event> = lines.iter().map(|&l| ev(l)).collect();
                let got: Vec<u64> = line_order(&events)
                    .into_iter()
                    .map(|k| events[k as usize].src.line)
                    .collect();
                let mut want = lines.clone();
                want.sort_unstable();
                assert_eq!(got, want);
            }
        }
    }
}
