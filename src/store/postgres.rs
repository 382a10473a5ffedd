//! PostgreSQL store (placeholder while the SQLite store is finished).

use super::{Batch, Checkpoint, Filter, HourIpRow, MinuteRow, Result, Store, StoreError};
use crate::event::Event;

pub struct PgStore;

impl PgStore {
    pub fn connect(url: &str) -> Result<PgStore> {
        Err(StoreError::Connect { url: url.into(), detail: "not built yet".into() })
    }
}

impl Store for PgStore {
    fn backend(&self) -> &'static str { "postgres" }
    fn checkpoint(&mut self, _: i64) -> Result<Option<Checkpoint>> { unimplemented!() }
    fn claim(&mut self, _: i64, _: &str, _: u64, _: u64) -> Result<Checkpoint> { unimplemented!() }
    fn checkpoints(&mut self) -> Result<Vec<Checkpoint>> { unimplemented!() }
    fn commit(&mut self, _: Batch<'_>) -> Result<i64> { unimplemented!() }
    fn scan(&mut self, _: &Filter, _: &mut dyn FnMut(Event)) -> Result<()> { unimplemented!() }
    fn minute_country(&mut self, _: i64, _: i64) -> Result<Vec<MinuteRow>> { unimplemented!() }
    fn hour_ip(&mut self, _: i64, _: i64) -> Result<Vec<HourIpRow>> { unimplemented!() }
    fn prune(&mut self, _: i64) -> Result<u64> { unimplemented!() }
    fn count(&mut self) -> Result<u64> { unimplemented!() }
}
