//! Prepared SQLite statements run once per row (or per many rows) with their
//! text bound in place, for the per-row writes of a commit (events, sessions,
//! key rows, rollups), kept prepared from one commit to the next.
//!
//! rusqlite binds every borrowed string as `SQLITE_TRANSIENT`: SQLite first
//! copies it into the parameter's own buffer (`sqlite3VdbeMemGrow`, `memcpy`),
//! then copies it again into the row's record. An event has up to fifteen
//! text columns (BENCHMARKS.md, issue 12, run 7: the copies were 2–4% of a
//! full `ingest`'s instructions). Here text is bound
//! `SQLITE_STATIC` (SQLite reads it where it is), as SQLite allows when the
//! text stays valid until the statement is finalized or the parameter bound
//! anew: a [`RowStatement<'s, 'v>`] takes text that lives for `'v`, and the
//! borrow checker ends the statement (its parameters cleared to NULL, in
//! `Drop`) before `'v` ends.
//!
//! A parameter keeps its value across runs (`sqlite3_reset` leaves bindings
//! alone), so a value bound again unchanged is not bound again: each bind
//! costs ~100 instructions (`vdbeUnbind` and a mutex included), and many
//! columns repeat from one row to the next (the input's name, the program,
//! the NULLs of an event without geolocation). Issue #15: half the binds of
//! an `ingest` are skipped, 5% of its writer thread's instructions.
//!
//! A full batch's statement has thousands of parameters: compiling it and
//! writing its SQL cost ~6M instructions, paid once per connection in a
//! [`RowCache`] rather than once per commit (issue #15: 3% of the writer).

use std::ffi::{c_int, CStr};
use std::marker::PhantomData;
use std::ptr;

use rusqlite::{ffi, Connection};

/// A value bound to one parameter of a [`RowStatement`].
#[derive(Clone, Copy, Debug)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
}

/// Integers as SQLite's 64-bit integers (booleans as 0 and 1).
macro_rules! int_values {
    ($($t:ty),*) => {$(
        impl From<$t> for Value<'_> {
            fn from(v: $t) -> Self {
                Value::Int(i64::from(v))
            }
        }
    )*};
}
int_values!(i64, i32, u32, u16, bool);

impl From<f64> for Value<'_> {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(v: &'a str) -> Self {
        Value::Text(v)
    }
}

impl<'a, T: Into<Value<'a>>> From<Option<T>> for Value<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// What a parameter holds, as far as its [`Prepared`] knows: the value last
/// bound, text by where it lies (all text of one [`RowStatement`] lives, unchanged, until it ends).
#[derive(Clone, Copy, PartialEq)]
enum Bound {
    Unknown,
    Null,
    Int(i64),
    Real(u64),
    Text(*const u8, usize),
}

impl Bound {
    fn of(v: &Value<'_>) -> Bound {
        match *v {
            Value::Null => Bound::Null,
            Value::Int(n) => Bound::Int(n),
            Value::Real(x) => Bound::Real(x.to_bits()),
            Value::Text(s) => Bound::Text(s.as_ptr(), s.len()),
        }
    }
}

/// A statement prepared on a connection, finalized when dropped; run through
/// a [`RowStatement`], between two of which its parameters are all NULL.
pub struct Prepared {
    db: *mut ffi::sqlite3,
    stmt: *mut ffi::sqlite3_stmt,
    bound: Vec<Bound>,
}

// SAFETY: the statement goes with its connection (rusqlite's is `Send`), used
// only through `&mut` and with that connection (checked by `RowStatement::new`).
unsafe impl Send for Prepared {}

impl Prepared {
    /// # Safety
    /// Dropped before `conn` closes.
    pub unsafe fn new(conn: &Connection, sql: &str) -> rusqlite::Result<Prepared> {
        let len = c_int::try_from(sql.len()).map_err(|_| rusqlite::Error::InvalidQuery)?;
        let mut stmt = ptr::null_mut();
        // SAFETY: the handle is the live connection's; the SQL is read for
        // `len` bytes, no terminating NUL needed.
        let rc = unsafe {
            ffi::sqlite3_prepare_v2(
                conn.handle(),
                sql.as_ptr().cast(),
                len,
                &mut stmt,
                ptr::null_mut(),
            )
        };
        if rc != ffi::SQLITE_OK {
            return Err(error(conn, rc));
        }
        if stmt.is_null() {
            return Err(rusqlite::Error::InvalidQuery);
        }
        // SAFETY: a statement just prepared; its parameters start NULL.
        let params = unsafe { ffi::sqlite3_bind_parameter_count(stmt) } as usize;
        Ok(Prepared {
            // SAFETY: only kept to compare.
            db: unsafe { conn.handle() },
            stmt,
            bound: vec![Bound::Null; params],
        })
    }
}

impl Drop for Prepared {
    fn drop(&mut self) {
        // SAFETY: its connection is still open (`new`'s contract).
        unsafe {
            ffi::sqlite3_finalize(self.stmt);
        }
    }
}

/// A [`Prepared`] statement lent for one use on its connection (inside its
/// open transaction, if any): it cannot outlive the text (`'v`) bound to it,
/// and sets every parameter back to NULL when dropped, so that the statement
/// keeps no pointer to that text.
pub struct RowStatement<'s, 'v> {
    conn: &'s Connection,
    prep: &'s mut Prepared,
    text: PhantomData<&'v str>,
}

impl<'s, 'v> RowStatement<'s, 'v> {
    /// Panics when `prep` was prepared on another connection.
    pub fn new(conn: &'s Connection, prep: &'s mut Prepared) -> RowStatement<'s, 'v> {
        // SAFETY: the handle is only compared.
        assert!(
            prep.db == unsafe { conn.handle() },
            "a statement run on another connection than its own"
        );
        RowStatement {
            conn,
            prep,
            text: PhantomData,
        }
    }

    /// Binds `values` to parameters 1, 2, … (as many as the statement has),
    /// runs the statement to its end and resets it.
    pub fn run(&mut self, values: &[Value<'v>]) -> rusqlite::Result<()> {
        let stmt = self.prep.stmt;
        if values.len() != self.prep.bound.len() {
            return Err(rusqlite::Error::InvalidParameterCount(
                values.len(),
                self.prep.bound.len(),
            ));
        }
        let mut rc = ffi::SQLITE_OK;
        for (i, (v, bound)) in values.iter().zip(&mut self.prep.bound).enumerate() {
            let now = Bound::of(v);
            if *bound == now {
                continue;
            }
            let col = i as c_int + 1;
            // SAFETY: `stmt` is live; text lives for 'v, longer than the
            // statement keeps the pointer (cleared on drop).
            rc = unsafe {
                match *v {
                    Value::Null => ffi::sqlite3_bind_null(stmt, col),
                    Value::Int(n) => ffi::sqlite3_bind_int64(stmt, col, n),
                    Value::Real(x) => ffi::sqlite3_bind_double(stmt, col, x),
                    // An empty string by a pointer that is surely valid.
                    Value::Text("") => ffi::sqlite3_bind_text64(
                        stmt,
                        col,
                        c"".as_ptr(),
                        0,
                        ffi::SQLITE_STATIC(),
                        ffi::SQLITE_UTF8 as u8,
                    ),
                    Value::Text(s) => ffi::sqlite3_bind_text64(
                        stmt,
                        col,
                        s.as_ptr().cast(),
                        s.len() as u64,
                        ffi::SQLITE_STATIC(),
                        ffi::SQLITE_UTF8 as u8,
                    ),
                }
            };
            if rc != ffi::SQLITE_OK {
                *bound = Bound::Unknown;
                break;
            }
            *bound = now;
        }
        if rc == ffi::SQLITE_OK {
            // SAFETY: as above.
            rc = loop {
                match unsafe { ffi::sqlite3_step(stmt) } {
                    ffi::SQLITE_ROW => continue,
                    rc => break rc,
                }
            };
        }
        // The step's error, read before the reset can touch it.
        let result = if rc == ffi::SQLITE_DONE {
            Ok(())
        } else {
            Err(error(self.conn, rc))
        };
        // SAFETY: as above.
        unsafe {
            ffi::sqlite3_reset(stmt);
        }
        result
    }
}

impl Drop for RowStatement<'_, '_> {
    fn drop(&mut self) {
        // SAFETY: a live statement, reset after each run.
        unsafe {
            ffi::sqlite3_clear_bindings(self.prep.stmt);
        }
        self.prep.bound.fill(Bound::Null);
    }
}

/// The statements of the [`RowBatch`]es run on one connection, kept from
/// one batch (one commit) to the next.
pub struct RowCache(Vec<Cached>);

/// A batch's statements: of one row, and of a full batch once one filled.
struct Cached {
    head: String,
    tail: String,
    params: usize,
    one: Prepared,
    many: Option<Prepared>,
}

impl RowCache {
    /// # Safety
    /// Dropped before each connection it is used with closes.
    pub unsafe fn new() -> RowCache {
        RowCache(Vec::new())
    }
}

/// Rows written many to a statement: `INSERT … VALUES (…), (…), …` of up to
/// [`RowBatch::ROWS`] rows, then the rest one by one, in the order pushed.
/// Each run of a statement has a fixed cost in SQLite (halting and resetting
/// the program, ~2,000 instructions) that a row alone paid in full; and a
/// statement of several rows into a table whose `INTEGER PRIMARY KEY` is given
/// copies each page it touches into a statement journal first, once per
/// statement, so fewer, longer statements copy less (issue #15: 16 rows a
/// statement saved 15% of `ingest`'s instructions, 256 another 6%).
/// Call [`RowBatch::finish`] to write the rows still pending.
pub struct RowBatch<'s, 'v> {
    conn: &'s Connection,
    one: RowStatement<'s, 'v>,
    /// The statement of a full batch, prepared when a batch of these rows
    /// first fills: a connection that only commits a few rows at a time (a
    /// live one) does not pay for compiling it.
    many: Option<RowStatement<'s, 'v>>,
    /// Where `many` goes in the cache, while it is not prepared.
    slot: Option<&'s mut Option<Prepared>>,
    head: &'s str,
    tail: &'s str,
    params: usize,
    /// Rows a full statement takes.
    rows: usize,
    pending: Vec<Value<'v>>,
}

impl<'s, 'v> RowBatch<'s, 'v> {
    pub const ROWS: usize = 256;
    /// SQLite's limit on a statement's parameters (`SQLITE_MAX_VARIABLE_NUMBER`
    /// since 3.32; the bundled SQLite is newer).
    const MAX_PARAMS: usize = 32_766;

    /// `head` is the statement up to `VALUES` (`INSERT INTO t (a, b)`), `tail`
    /// what follows the rows (an `ON CONFLICT` clause, or nothing); each row
    /// has `params` parameters. Its statements are taken from `cache`, or
    /// prepared into it.
    pub fn prepare(
        cache: &'s mut RowCache,
        conn: &'s Connection,
        head: &str,
        params: usize,
        tail: &str,
    ) -> rusqlite::Result<RowBatch<'s, 'v>> {
        let rows = Self::ROWS.min(Self::MAX_PARAMS / params.max(1)).max(1);
        let at = match cache
            .0
            .iter()
            .position(|c| c.head == head && c.tail == tail && c.params == params)
        {
            Some(at) => at,
            None => {
                // SAFETY: kept in the cache, dropped before `conn` closes (its contract).
                let one = unsafe { Prepared::new(conn, &Self::sql(head, params, 1, tail))? };
                cache.0.push(Cached {
                    head: head.to_owned(),
                    tail: tail.to_owned(),
                    params,
                    one,
                    many: None,
                });
                cache.0.len() - 1
            }
        };
        let Cached {
            head,
            tail,
            one,
            many,
            ..
        } = &mut cache.0[at];
        let (many, slot) = if many.is_some() {
            (many.as_mut().map(|m| RowStatement::new(conn, m)), None)
        } else {
            (None, Some(many))
        };
        Ok(RowBatch {
            conn,
            one: RowStatement::new(conn, one),
            many,
            slot,
            head,
            tail,
            params,
            rows,
            pending: Vec::with_capacity(rows * params),
        })
    }

    /// `head VALUES (?1, …), (…), … tail` for `rows` rows.
    fn sql(head: &str, params: usize, rows: usize, tail: &str) -> String {
        let rows: Vec<String> = (0..rows)
            .map(|r| {
                let cols: Vec<String> = (1 + r * params..1 + (r + 1) * params)
                    .map(|c| format!("?{c}"))
                    .collect();
                format!("({})", cols.join(", "))
            })
            .collect();
        format!("{head} VALUES {} {tail}", rows.join(", "))
    }

    /// One row's values (as many as `params`).
    pub fn push(&mut self, values: &[Value<'v>]) -> rusqlite::Result<()> {
        if values.len() != self.params {
            return Err(rusqlite::Error::InvalidParameterCount(
                values.len(),
                self.params,
            ));
        }
        self.pending.extend_from_slice(values);
        if self.pending.len() == self.rows * self.params {
            let many = match &mut self.many {
                Some(many) => many,
                None => {
                    let sql = Self::sql(self.head, self.params, self.rows, self.tail);
                    // SAFETY: kept in the cache, dropped before `conn` closes (its contract).
                    let prep = unsafe { Prepared::new(self.conn, &sql)? };
                    let slot = self
                        .slot
                        .take()
                        .expect("the place of an unprepared statement");
                    self.many
                        .insert(RowStatement::new(self.conn, slot.insert(prep)))
                }
            };
            let run = many.run(&self.pending);
            self.pending.clear();
            run?;
        }
        Ok(())
    }

    /// Writes the rows still pending.
    pub fn finish(mut self) -> rusqlite::Result<()> {
        for r in self.pending.chunks(self.params) {
            self.one.run(r)?;
        }
        Ok(())
    }
}

/// The connection's latest error as rusqlite reports it (so that busy,
/// locked and corrupt are told apart as for rusqlite's own statements).
fn error(conn: &Connection, rc: c_int) -> rusqlite::Error {
    // SAFETY: the live connection's handle; the message is copied at once.
    let (code, msg) = unsafe {
        let db = conn.handle();
        let code = ffi::sqlite3_extended_errcode(db);
        let msg = ffi::sqlite3_errmsg(db);
        let msg = (!msg.is_null()).then(|| CStr::from_ptr(msg).to_string_lossy().into_owned());
        (if code == ffi::SQLITE_OK { rc } else { code }, msg)
    };
    rusqlite::Error::SqliteFailure(ffi::Error::new(code), msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT, c REAL, d TEXT NOT NULL)")
            .unwrap();
        c
    }

    /// Rows pushed through a batch are the rows written one by one, in order,
    /// whatever their number, and so are the next batch's through the same
    /// (cached) statements, with other text; an upsert tail applies to each
    /// row, and an error in a full batch is reported.
    #[test]
    fn batches_write_every_row_in_order() {
        let full = RowBatch::ROWS;
        for n in [0usize, 1, full - 1, full, full + 1, 2 * full + 33] {
            let c = table();
            // SAFETY: dropped before `c` (declared after it).
            let mut cache = unsafe { RowCache::new() };
            let mut want: Vec<(i64, Option<String>, f64, String)> = Vec::new();
            for round in 0..2 {
                let texts: Vec<String> = (0..n).map(|i| format!("t{round}.{i}'\u{0}")).collect();
                let mut b =
                    RowBatch::prepare(&mut cache, &c, "INSERT INTO t (a, b, c, d)", 4, "").unwrap();
                for (i, t) in texts.iter().enumerate() {
                    let i = (round * n + i) as i64;
                    b.push(&[
                        i.into(),
                        (i % 2 == 0).then_some(t.as_str()).into(),
                        (i as f64).into(),
                        t.as_str().into(),
                    ])
                    .unwrap();
                    want.push((i, (i % 2 == 0).then(|| t.clone()), i as f64, t.clone()));
                }
                b.finish().unwrap();
            }
            let got: Vec<(i64, Option<String>, f64, String)> = c
                .prepare("SELECT a, b, c, d FROM t ORDER BY rowid")
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(got, want, "{n} rows");
            assert_eq!(cache.0.len(), 1);
        }
        // Upserts: the second row of a key updates the first, inside one batch too.
        let c = table();
        // SAFETY: dropped before `c` (declared after it).
        let mut cache = unsafe { RowCache::new() };
        let mut b = RowBatch::prepare(
            &mut cache,
            &c,
            "INSERT INTO t (a, b, c, d)",
            4,
            "ON CONFLICT (a) DO UPDATE SET d = excluded.d",
        )
        .unwrap();
        // One full statement: its last ten rows update the rows before them.
        let n = full as i64;
        for i in 0..n {
            let d = if i < n - 10 { "old" } else { "new" };
            b.push(&[(i % 10).into(), Value::Null, 0.0.into(), d.into()])
                .unwrap();
        }
        b.finish().unwrap();
        let d: Vec<String> = c
            .prepare("SELECT d FROM t ORDER BY a")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(d, vec!["new"; 10]);
        // A NOT NULL violation in a full batch is an error.
        let mut b = RowBatch::prepare(&mut cache, &c, "INSERT INTO t (a, b, c, d)", 4, "").unwrap();
        let mut err = None;
        for i in 100..100 + full as i64 {
            let d = if i == 107 { Value::Null } else { "x".into() };
            if let Err(e) = b.push(&[i.into(), Value::Null, 0.0.into(), d]) {
                err = Some(e);
            }
        }
        assert!(err.is_some_and(|e| e.to_string().contains("NOT NULL")));
        assert!(b.push(&[1i64.into()]).is_err());
    }

    /// Text bound in place is what is stored: each row its own, the empty
    /// string, NUL and quotes included, and NULL for `None`.
    #[test]
    fn rows_hold_their_own_text() {
        let c = table();
        let texts: Vec<(String, String)> = (0..100)
            .map(|i| ("é\u{0}x'\"".repeat(i % 7), format!("row {i}")))
            .collect();
        // SAFETY: dropped before `c` (declared after it).
        let mut p =
            unsafe { Prepared::new(&c, "INSERT INTO t (a, b, c, d) VALUES (?1, ?2, ?3, ?4)") }
                .unwrap();
        let mut st = RowStatement::new(&c, &mut p);
        for (i, (b, d)) in texts.iter().enumerate() {
            let i = i as i64;
            let b = (i % 3 != 0).then_some(b.as_str());
            st.run(&[
                i.into(),
                b.into(),
                (i as f64 / 4.0).into(),
                d.as_str().into(),
            ])
            .unwrap();
        }
        drop(st);
        let mut q = c.prepare("SELECT a, b, c, d FROM t ORDER BY a").unwrap();
        let rows: Vec<(i64, Option<String>, f64, String)> = q
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows.len(), 100);
        for (i, (a, b, cc, d)) in rows.into_iter().enumerate() {
            let i = i as i64;
            assert_eq!(a, i);
            let want = (i % 3 != 0).then(|| "é\u{0}x'\"".repeat(i as usize % 7));
            assert_eq!(b, want);
            assert_eq!(cc, i as f64 / 4.0);
            assert_eq!(d, format!("row {i}"));
        }
    }

    /// Each row stores its own values whether or not the row before it bound
    /// the same ones: text at the same place (kept), an equal copy, a shorter
    /// prefix, the empty string, and a NULL between.
    #[test]
    fn values_bound_again_or_kept_store_each_rows_own() {
        let c = table();
        let same = String::from("same");
        let copy = same.clone();
        // SAFETY: dropped before `c` (declared after it).
        let mut p =
            unsafe { Prepared::new(&c, "INSERT INTO t (a, b, c, d) VALUES (?1, ?2, ?3, ?4)") }
                .unwrap();
        let mut st = RowStatement::new(&c, &mut p);
        let rows: Vec<[Value<'_>; 4]> = vec![
            [1i64.into(), same.as_str().into(), 1.5.into(), "x".into()],
            [2i64.into(), same.as_str().into(), 1.5.into(), "x".into()],
            [3i64.into(), copy.as_str().into(), Value::Null, "x".into()],
            [4i64.into(), Value::Null, Value::Null, "".into()],
            [5i64.into(), same[..2].into(), 2.5.into(), "".into()],
            [6i64.into(), "".into(), 2.5.into(), same.as_str().into()],
            [7i64.into(), Value::Null, 2.5.into(), same.as_str().into()],
        ];
        for r in &rows {
            st.run(r).unwrap();
        }
        drop(st);
        let got: Vec<(i64, Option<String>, Option<f64>, String)> = c
            .prepare("SELECT a, b, c, d FROM t ORDER BY a")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            got,
            vec![
                (1, s("same"), Some(1.5), "x".into()),
                (2, s("same"), Some(1.5), "x".into()),
                (3, s("same"), None, "x".into()),
                (4, None, None, "".into()),
                (5, s("sa"), Some(2.5), "".into()),
                (6, s(""), Some(2.5), "same".into()),
                (7, None, Some(2.5), "same".into()),
            ]
        );
    }

    /// A failing row is an error rusqlite's way (the code kept), and the
    /// statement runs the next row as if nothing happened.
    #[test]
    fn a_failing_row_reports_sqlites_error_and_the_next_row_runs() {
        let c = table();
        // SAFETY: dropped before `c` (declared after it).
        let mut p = unsafe { Prepared::new(&c, "INSERT INTO t (a, d) VALUES (?1, ?2)") }.unwrap();
        let mut st = RowStatement::new(&c, &mut p);
        st.run(&[1i64.into(), "x".into()]).unwrap();
        let dup = st.run(&[1i64.into(), "y".into()]).unwrap_err();
        assert_eq!(
            dup.sqlite_error_code(),
            Some(rusqlite::ErrorCode::ConstraintViolation),
            "{dup}"
        );
        assert!(dup.to_string().contains("UNIQUE"), "{dup}");
        let null = st.run(&[2i64.into(), Value::Null]).unwrap_err();
        assert!(null.to_string().contains("NOT NULL"), "{null}");
        let count = st.run(&[2i64.into()]).unwrap_err();
        assert!(
            matches!(count, rusqlite::Error::InvalidParameterCount(1, 2)),
            "{count}"
        );
        st.run(&[2i64.into(), "z".into()]).unwrap();
        drop(st);
        let n: i64 = c
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 2);
        // SAFETY: not prepared.
        assert!(unsafe { Prepared::new(&c, "INSERT INTO nowhere VALUES (1)") }.is_err());
    }
}
