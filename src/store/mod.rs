//! Store: events, sessions, rollups and input checkpoints in SQLite or PostgreSQL.
//!
//! Built by the store issue; `ingest` and `--db` report "not implemented yet" until then.
