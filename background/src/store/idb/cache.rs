//! The context cache's persistent tier in IndexedDB (`context_cache`, values
//! compressed when large); the statistics are written with the entries.

use paperclip_core::cache::{CacheEntry, CacheStats};
use paperclip_core::protocol::ProtocolError;
use paperclip_core::schema::{self, store};
use rexie::{Direction, KeyRange, TransactionMode};
use wasm_bindgen::JsValue;

use super::super::records;
use super::super::{to_js, META_CACHE_STATS};
use super::{done, meta_put, write_and_commit, IndexedDb};
use crate::store::storage_error;

impl IndexedDb {
    /// The stored entry for `key`; an unreadable one is quarantined.
    pub(super) async fn cache_entry(&self, key: &str) -> Result<Option<CacheEntry>, ProtocolError> {
        let value = {
            let (_tx, s) = self.tx(&[store::CONTEXT_CACHE], TransactionMode::ReadOnly)?;
            s[0].get(key.into()).await.map_err(storage_error)?
        };
        let Some(value) = value else { return Ok(None) };
        match records::decode_cache(&value) {
            Ok(entry) => Ok(Some(entry)),
            Err(e) => {
                self.quarantine(store::CONTEXT_CACHE, &value, &e).await;
                Ok(None)
            }
        }
    }

    /// Writes `entries` (and `stats`) in one transaction.
    pub(super) async fn cache_store(
        &self,
        entries: &[CacheEntry],
        stats: Option<CacheStats>,
    ) -> Result<(), ProtocolError> {
        let rows: Vec<JsValue> = entries.iter().map(records::encode_cache).collect();
        let stats = stats.map(|s| to_js(&s)).transpose()?;
        let (t, s) = self.tx(
            &[store::CONTEXT_CACHE, store::META],
            TransactionMode::ReadWrite,
        )?;
        let meta = async {
            match &stats {
                Some(stats) => meta_put(&s[1], META_CACHE_STATS, stats).await,
                None => Ok(()),
            }
        };
        let both = async {
            let (a, b) = futures::join!(s[0].put_all(rows.into_iter().map(|r| (r, None))), meta);
            a.map_err(storage_error).and(b)
        };
        write_and_commit(t, both).await
    }

    pub(super) async fn cache_drop_prefix(
        &self,
        prefix: &str,
        stats: CacheStats,
    ) -> Result<u32, ProtocolError> {
        let range = KeyRange::bound(
            &prefix.into(),
            &format!("{prefix}\u{10FFFF}").into(),
            Some(false),
            Some(false),
        )
        .map_err(storage_error)?;
        let stats = to_js(&stats)?;
        let (t, s) = self.tx(
            &[store::CONTEXT_CACHE, store::META],
            TransactionMode::ReadWrite,
        )?;
        let keys = s[0]
            .get_all_keys(Some(range), None)
            .await
            .map_err(storage_error)?;
        for key in &keys {
            s[0].delete(key.clone()).await.map_err(storage_error)?;
        }
        meta_put(&s[1], META_CACHE_STATS, &stats).await?;
        done(t).await?;
        Ok(keys.len() as u32)
    }

    /// The most recently used entries (unreadable ones are skipped; the
    /// cleanup job quarantines them).
    pub(super) async fn cache_most_recent(
        &self,
        max: u32,
    ) -> Result<Vec<CacheEntry>, ProtocolError> {
        let rows = {
            let (_tx, s) = self.tx(&[store::CONTEXT_CACHE], TransactionMode::ReadOnly)?;
            s[0].index(schema::BY_LAST_USED.name)
                .map_err(storage_error)?
                .scan(None, Some(max), None, Some(Direction::Prev))
                .await
                .map_err(storage_error)?
        };
        Ok(rows
            .iter()
            .filter_map(|(_, v)| records::decode_cache(v).ok())
            .collect())
    }

    /// Every readable entry; the others are quarantined.
    pub(super) async fn cache_entries(&self) -> Result<Vec<CacheEntry>, ProtocolError> {
        let rows = {
            let (_tx, s) = self.tx(&[store::CONTEXT_CACHE], TransactionMode::ReadOnly)?;
            s[0].get_all(None, None).await.map_err(storage_error)?
        };
        let mut out = Vec::with_capacity(rows.len());
        for v in &rows {
            match records::decode_cache(v) {
                Ok(e) => out.push(e),
                Err(e) => self.quarantine(store::CONTEXT_CACHE, v, &e).await,
            }
        }
        Ok(out)
    }
}
