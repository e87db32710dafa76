//! The small stores in IndexedDB: `preferences` (one record per key, the
//! value as JSON text, with the preferences version in `meta`),
//! `quarantine` (read back for the status) and `telemetry` (rows written by
//! the telemetry sink, trimmed by retention and size).

use paperclip_core::prefs::{self, Category};
use paperclip_core::protocol::{ProtocolError, QuarantineItem};
use paperclip_core::schema::{self, store};
use paperclip_core::telemetry::persist::{trim_plan, Row, RETENTION_MS};
use rexie::{Direction, KeyRange, TransactionMode};
use serde_json::Value;

use super::super::records::{self, PreferenceRecord, QuarantineRecord};
use super::super::{to_js, META_PREFS_VERSION};
use super::{done, meta_get, meta_put, IndexedDb};
use crate::store::storage_error;

/// Puts `entries` into the `preferences` store `prefs` and the current
/// preferences version into the `meta` store `meta` (of one transaction),
/// both requests made when first polled.
pub(super) async fn put_preference_rows(
    prefs: &rexie::Store,
    meta: &rexie::Store,
    entries: &[(String, Value)],
    now_ms: f64,
) -> Result<(), ProtocolError> {
    let rows = entries.iter().map(|(key, value)| {
        let record = records::record(&PreferenceRecord {
            key: key.clone(),
            value: value.to_string(),
            category: prefs::category_of(key)
                .map_or("unknown", Category::as_str)
                .into(),
            updated: now_ms,
        });
        (record, None)
    });
    let version = to_js(&prefs::PREFS_VERSION)?;
    // Both requests are made on the first poll: the caller may commit in
    // the same turn, after which no request may be added.
    let (rows, version) = futures::join!(
        prefs.put_all(rows),
        meta_put(meta, META_PREFS_VERSION, &version)
    );
    rows.map_err(storage_error)?;
    version
}

impl IndexedDb {
    pub(super) async fn stored_preferences(
        &self,
    ) -> Result<(Option<u32>, Vec<(String, Value)>), ProtocolError> {
        let (_tx, s) = self.tx(
            &[store::PREFERENCES, store::META],
            TransactionMode::ReadOnly,
        )?;
        let stored = s[0]
            .get_all(None, None)
            .await
            .map_err(storage_error)?
            .iter()
            .filter_map(|v| records::read::<PreferenceRecord>(v).ok())
            .filter_map(|r| Some((r.key, serde_json::from_str(&r.value).ok()?)))
            .collect();
        let version = meta_get(&s[1], META_PREFS_VERSION)
            .await?
            .and_then(|v| serde_wasm_bindgen::from_value(v).ok());
        Ok((version, stored))
    }

    pub(super) async fn store_preferences(
        &self,
        entries: &[(String, Value)],
        now_ms: f64,
    ) -> Result<(), ProtocolError> {
        let (t, s) = self.tx(
            &[store::PREFERENCES, store::META],
            TransactionMode::ReadWrite,
        )?;
        put_preference_rows(&s[0], &s[1], entries, now_ms).await?;
        done(t).await
    }

    pub(super) async fn quarantined_items(
        &self,
        limit: u32,
    ) -> Result<Vec<QuarantineItem>, ProtocolError> {
        let (_tx, s) = self.tx(&[store::QUARANTINE], TransactionMode::ReadOnly)?;
        let rows = s[0]
            .index(schema::BY_TIME.name)
            .map_err(storage_error)?
            .scan(None, Some(limit), None, Some(Direction::Prev))
            .await
            .map_err(storage_error)?;
        Ok(rows
            .iter()
            .filter_map(|(_, v)| records::read::<QuarantineRecord>(v).ok())
            .map(|q| QuarantineItem {
                store: q.store,
                key: q.key,
                error: q.error,
                time_ms: q.time,
                bytes: q.bytes,
            })
            .collect())
    }

    pub(super) async fn add_rows(&self, rows: &[Row]) -> Result<(), ProtocolError> {
        let (t, s) = self.tx(&[store::TELEMETRY], TransactionMode::ReadWrite)?;
        s[0].add_all(rows.iter().map(|r| (records::record(r), None)))
            .await
            .map_err(storage_error)?;
        done(t).await
    }

    /// Rows past the retention go, then the oldest beyond the size bound
    /// ([`paperclip_core::telemetry::persist`]).
    pub(super) async fn trim_rows(&self, now_ms: f64) -> Result<u32, ProtocolError> {
        let (t, s) = self.tx(&[store::TELEMETRY], TransactionMode::ReadWrite)?;
        let index = s[0].index(schema::BY_TIME.name).map_err(storage_error)?;
        let count = u64::from(s[0].count(None).await.map_err(storage_error)?);
        let old = KeyRange::upper_bound(&(now_ms - RETENTION_MS).into(), Some(true))
            .map_err(storage_error)?;
        let expired = u64::from(index.count(Some(old)).await.map_err(storage_error)?);
        let plan = trim_plan(count, expired, now_ms);
        let n = expired + plan.oldest;
        if n == 0 {
            return done(t).await.map(|_| 0);
        }
        // The expired rows are the oldest: one ascending pass takes both.
        let keys = index
            .get_all_keys(None, Some(u32::try_from(n).unwrap_or(u32::MAX)))
            .await
            .map_err(storage_error)?;
        for key in &keys {
            s[0].delete(key.clone()).await.map_err(storage_error)?;
        }
        done(t).await?;
        Ok(keys.len() as u32)
    }

    pub(super) async fn rows_of(
        &self,
        kind: &str,
        from_ms: f64,
        to_ms: f64,
        limit: u32,
    ) -> Result<Vec<Row>, ProtocolError> {
        let (_tx, s) = self.tx(&[store::TELEMETRY], TransactionMode::ReadOnly)?;
        let range = KeyRange::bound(
            &js_sys::Array::of2(&kind.into(), &from_ms.into()).into(),
            &js_sys::Array::of2(&kind.into(), &to_ms.into()).into(),
            None,
            None,
        )
        .map_err(storage_error)?;
        let rows = s[0]
            .index(schema::BY_KIND_TIME.name)
            .map_err(storage_error)?
            .scan(Some(range), Some(limit), None, Some(Direction::Prev))
            .await
            .map_err(storage_error)?;
        Ok(rows
            .iter()
            .filter_map(|(_, v)| records::read::<Row>(v).ok())
            .collect())
    }
}
