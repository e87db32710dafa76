//! The IndexedDB [`Backend`]: one database (`paperclip`, layout in
//! [`paperclip_core::schema`]) opened by [`super::open`] and used through
//! rexie. Conversations are in [`conversations`], the context cache's
//! persistent tier in [`cache`], and preferences, `meta`, quarantine and
//! telemetry rows in [`other`]. A record that cannot be decoded is moved
//! to the `quarantine` store ([`IndexedDb::quarantine`]) and reported as an
//! [`Observation::Quarantined`](super::Observation); reads go on without it.

mod cache;
mod conversations;
mod other;

use async_trait::async_trait;
use js_sys::{Array, Reflect};
use paperclip_core::cache::{CacheEntry, CacheStats};
use paperclip_core::conversation::Conversation;
use paperclip_core::export::{ExportFile, ImportPlan, MergePolicy};
use paperclip_core::protocol::{ProtocolError, QuarantineItem};
use paperclip_core::query::{Cursor, Filter};
use paperclip_core::schema::store;
use paperclip_core::telemetry::persist::Row;
use rexie::{KeyRange, Rexie, TransactionMode};
use serde_json::Value;
use wasm_bindgen::prelude::*;

use super::backend::{Backend, Change, Cleared, MetaChange, Page, StoredSize};
use super::records::{self, QuarantineRecord};
use super::{report, storage_error, Observation};

/// The database, at the current schema version.
pub struct IndexedDb {
    db: Rexie,
}

impl IndexedDb {
    /// Works through `db` (opened at the current version).
    pub fn new(db: Rexie) -> Self {
        Self { db }
    }

    fn tx(&self, stores: &[&str], mode: TransactionMode) -> Result<Tx, ProtocolError> {
        let tx = self.db.transaction(stores, mode).map_err(storage_error)?;
        let handles = stores
            .iter()
            .map(|s| tx.store(s))
            .collect::<Result<Vec<_>, _>>()
            .map_err(storage_error)?;
        Ok((tx, handles))
    }

    /// Moves an unreadable record of `from` to quarantine and reports it.
    /// Never fails: a record that cannot even be moved is only logged.
    pub async fn quarantine(&self, from: &str, raw: &JsValue, error: &str) {
        web_sys::console::warn_1(
            &format!("paperclip: unreadable record in {from} quarantined: {error}").into(),
        );
        let key_field = if from == store::CONTEXT_CACHE {
            "key"
        } else {
            "id"
        };
        let key = Reflect::get(raw, &key_field.into()).unwrap_or(JsValue::UNDEFINED);
        let moved: Result<(), ProtocolError> = async {
            let (t, s) = self.tx(&[from, store::QUARANTINE], TransactionMode::ReadWrite)?;
            let q = records::record(&QuarantineRecord {
                store: from.into(),
                key: key.as_string().unwrap_or_else(|| format!("{key:?}")),
                error: error.into(),
                time: paperclip_platform::clock::now_ms(),
                bytes: approx_size(raw),
            });
            Reflect::set(&q, &"raw".into(), raw).map_err(|_| storage_error("quarantine"))?;
            s[1].add(&q, None).await.map_err(storage_error)?;
            if !key.is_undefined() {
                s[0].delete(key).await.map_err(storage_error)?;
            }
            done(t).await
        }
        .await;
        match moved {
            Ok(()) => report(Observation::Quarantined { store: from, error }),
            Err(e) => {
                web_sys::console::error_1(&format!("paperclip: could not quarantine: {e}").into());
            }
        }
    }

    /// Deletes `keys` of store `name` in one transaction.
    async fn delete_keys(&self, name: &str, keys: &[String]) -> Result<(), ProtocolError> {
        if keys.is_empty() {
            return Ok(());
        }
        let (t, s) = self.tx(&[name], TransactionMode::ReadWrite)?;
        for k in keys {
            s[0].delete(k.as_str().into())
                .await
                .map_err(storage_error)?;
        }
        done(t).await
    }

    /// Empties the stores `names` in one transaction; returns how many
    /// records each held.
    async fn clear_stores(&self, names: &[&str]) -> Result<Vec<u64>, ProtocolError> {
        let (t, s) = self.tx(names, TransactionMode::ReadWrite)?;
        let mut counts = Vec::with_capacity(names.len());
        for store in &s {
            counts.push(u64::from(store.count(None).await.map_err(storage_error)?));
            store.clear().await.map_err(storage_error)?;
        }
        done(t).await?;
        Ok(counts)
    }

    async fn count(&self, name: &str) -> Result<u64, ProtocolError> {
        let (_tx, s) = self.tx(&[name], TransactionMode::ReadOnly)?;
        Ok(u64::from(s[0].count(None).await.map_err(storage_error)?))
    }
}

type Tx = (rexie::Transaction, Vec<rexie::Store>);

/// Approximate size of a stored value, bytes (its `data`/`value` bytes
/// plus a little for the fields).
pub(crate) fn approx_size(v: &JsValue) -> u64 {
    ["data", "value"]
        .iter()
        .filter_map(|k| Reflect::get(v, &(*k).into()).ok())
        .filter_map(|d| d.dyn_into::<js_sys::Uint8Array>().ok())
        .map(|d| u64::from(d.length()))
        .sum::<u64>()
        + 128
}

/// Issues the writes of `writes` (futures that make their requests when
/// first polled) and commits in the same turn, so requests and commit
/// reach the database together instead of a round trip apart; then waits
/// until the transaction is durable. A failed write aborts it.
async fn write_and_commit<T>(
    t: rexie::Transaction,
    writes: impl std::future::Future<Output = Result<T, ProtocolError>>,
) -> Result<(), ProtocolError> {
    let (written, committed) = futures::join!(writes, t.commit());
    written?;
    committed.map_err(storage_error)
}

/// Commits a read-write transaction now (rather than when the browser
/// notices it has no more requests) and waits until it is durable.
async fn done(tx: rexie::Transaction) -> Result<(), ProtocolError> {
    tx.commit().await.map_err(storage_error)
}

fn array(items: &[JsValue]) -> JsValue {
    items.iter().collect::<Array>().into()
}

/// The compound key just after cursor `c` under `lead`.
fn after_key(lead: &[JsValue], c: &Cursor) -> JsValue {
    let mut key: Vec<JsValue> = lead.to_vec();
    key.push((-c.updated_ms).into());
    key.push(c.id.as_str().into());
    array(&key)
}

/// The keys of a `(lead, rank, id)` index under `lead`, after `cursor`.
fn prefix_range(lead: &str, cursor: Option<&Cursor>) -> Result<KeyRange, ProtocolError> {
    let upper = array(&[lead.into(), Array::new().into()]);
    let (lower, open) = match cursor {
        Some(c) => (after_key(&[lead.into()], c), true),
        None => (array(&[lead.into()]), false),
    };
    KeyRange::bound(&lower, &upper, Some(open), Some(false)).map_err(storage_error)
}

async fn meta_get(s: &rexie::Store, key: &str) -> Result<Option<JsValue>, ProtocolError> {
    let Some(v) = s.get(key.into()).await.map_err(storage_error)? else {
        return Ok(None);
    };
    Ok(Reflect::get(&v, &"value".into()).ok())
}

async fn meta_put(s: &rexie::Store, key: &str, value: &JsValue) -> Result<(), ProtocolError> {
    let record = js_sys::Object::new();
    Reflect::set(&record, &"key".into(), &key.into()).map_err(|_| storage_error("meta"))?;
    Reflect::set(&record, &"value".into(), value).map_err(|_| storage_error("meta"))?;
    s.put(&record, None).await.map_err(storage_error)?;
    Ok(())
}

#[async_trait(?Send)]
impl Backend for IndexedDb {
    fn persistent(&self) -> bool {
        true
    }

    fn close(self: Box<Self>) {
        self.db.close();
    }

    async fn list(
        &self,
        filter: &Filter,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> Result<Page, ProtocolError> {
        self.list_conversations(filter, cursor, limit).await
    }

    async fn get(&self, id: &str) -> Result<Option<Conversation>, ProtocolError> {
        self.get_conversation(id).await
    }

    async fn latest_for_site(&self, site: &str) -> Result<Option<Conversation>, ProtocolError> {
        self.latest_of_site(site).await
    }

    async fn modify<'a>(
        &self,
        id: &str,
        change: Change<'a>,
    ) -> Result<Conversation, ProtocolError> {
        self.modify_conversation(id, change).await
    }

    async fn save(&self, c: &Conversation) -> Result<(), ProtocolError> {
        self.save_conversation(c).await
    }

    async fn delete(&self, id: &str) -> Result<bool, ProtocolError> {
        self.delete_conversation(id).await
    }

    async fn delete_conversations(&self, ids: &[String]) -> Result<(), ProtocolError> {
        self.delete_keys(store::CONVERSATIONS, ids).await
    }

    async fn conversation_ids(&self) -> Result<Vec<String>, ProtocolError> {
        self.ids_newest_first().await
    }

    async fn read_conversations(
        &self,
        ids: &[String],
        visit: &mut dyn FnMut(Conversation) -> bool,
    ) -> Result<usize, ProtocolError> {
        self.read_in_order(ids, visit).await
    }

    async fn visit_sizes(&self, visit: &mut dyn FnMut(StoredSize)) -> Result<(), ProtocolError> {
        self.visit_conversation_sizes(visit).await
    }

    async fn import(
        &self,
        file: ExportFile,
        policy: MergePolicy,
    ) -> Result<ImportPlan, ProtocolError> {
        self.import_file(file, policy).await
    }

    async fn cache_get(&self, key: &str) -> Result<Option<CacheEntry>, ProtocolError> {
        self.cache_entry(key).await
    }

    async fn cache_put(
        &self,
        entries: &[CacheEntry],
        stats: Option<CacheStats>,
    ) -> Result<(), ProtocolError> {
        self.cache_store(entries, stats).await
    }

    async fn cache_delete(&self, keys: &[String]) -> Result<(), ProtocolError> {
        self.delete_keys(store::CONTEXT_CACHE, keys).await
    }

    async fn cache_invalidate(
        &self,
        prefix: &str,
        stats: CacheStats,
    ) -> Result<u32, ProtocolError> {
        self.cache_drop_prefix(prefix, stats).await
    }

    async fn cache_recent(&self, max: u32) -> Result<Vec<CacheEntry>, ProtocolError> {
        self.cache_most_recent(max).await
    }

    async fn cache_all(&self) -> Result<Vec<CacheEntry>, ProtocolError> {
        self.cache_entries().await
    }

    async fn cache_count(&self) -> Result<u64, ProtocolError> {
        self.count(store::CONTEXT_CACHE).await
    }

    async fn preferences(&self) -> Result<(Option<u32>, Vec<(String, Value)>), ProtocolError> {
        self.stored_preferences().await
    }

    async fn put_preferences(
        &self,
        entries: &[(String, Value)],
        now_ms: f64,
    ) -> Result<(), ProtocolError> {
        self.store_preferences(entries, now_ms).await
    }

    async fn meta_get(&self, key: &str) -> Result<Option<JsValue>, ProtocolError> {
        let (_tx, s) = self.tx(&[store::META], TransactionMode::ReadOnly)?;
        meta_get(&s[0], key).await
    }

    async fn meta_put(&self, entries: &[(&str, JsValue)]) -> Result<(), ProtocolError> {
        let (t, s) = self.tx(&[store::META], TransactionMode::ReadWrite)?;
        for (key, value) in entries {
            meta_put(&s[0], key, value).await?;
        }
        done(t).await
    }

    async fn meta_delete(&self, keys: &[String]) -> Result<u64, ProtocolError> {
        let (t, s) = self.tx(&[store::META], TransactionMode::ReadWrite)?;
        let mut existed = 0;
        for key in keys {
            if s[0]
                .key_exists(key.as_str().into())
                .await
                .map_err(storage_error)?
            {
                s[0].delete(key.as_str().into())
                    .await
                    .map_err(storage_error)?;
                existed += 1;
            }
        }
        done(t).await?;
        Ok(existed)
    }

    async fn meta_modify<'a>(
        &self,
        key: &str,
        change: MetaChange<'a>,
    ) -> Result<JsValue, ProtocolError> {
        let (t, s) = self.tx(&[store::META], TransactionMode::ReadWrite)?;
        let value = match change(meta_get(&s[0], key).await?) {
            Ok(value) => value,
            Err(e) => {
                let _ = t.abort().await;
                return Err(e);
            }
        };
        write_and_commit(t, meta_put(&s[0], key, &value)).await?;
        Ok(value)
    }

    async fn quarantined(&self, limit: u32) -> Result<Vec<QuarantineItem>, ProtocolError> {
        self.quarantined_items(limit).await
    }

    async fn telemetry_add(&self, rows: &[Row]) -> Result<(), ProtocolError> {
        self.add_rows(rows).await
    }

    async fn telemetry_trim(&self, now_ms: f64) -> Result<u32, ProtocolError> {
        self.trim_rows(now_ms).await
    }

    async fn telemetry_rows(
        &self,
        kind: &str,
        from_ms: f64,
        to_ms: f64,
        limit: u32,
    ) -> Result<Vec<Row>, ProtocolError> {
        self.rows_of(kind, from_ms, to_ms, limit).await
    }

    async fn telemetry_count(&self) -> Result<u64, ProtocolError> {
        self.count(store::TELEMETRY).await
    }

    async fn telemetry_clear(&self) -> Result<u64, ProtocolError> {
        Ok(self.clear_stores(&[store::TELEMETRY]).await?[0])
    }

    async fn clear_all(&self) -> Result<Cleared, ProtocolError> {
        let names = [
            store::CONVERSATIONS,
            store::CONTEXT_CACHE,
            store::PREFERENCES,
            store::TELEMETRY,
            store::QUARANTINE,
            store::META,
        ];
        debug_assert_eq!(names.len(), paperclip_core::schema::STORES.len());
        let n = self.clear_stores(&names).await?;
        Ok(Cleared {
            conversations: n[0],
            cache_entries: n[1],
            preferences: n[2],
            telemetry_rows: n[3],
            quarantined: n[4],
            meta: n[5],
        })
    }
}
