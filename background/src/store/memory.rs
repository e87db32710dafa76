//! The fallback [`Backend`]: everything in the worker's memory, for when
//! IndexedDB cannot be opened (a private window that refuses it, a newer
//! or blocked database, a failed migration). It does what the IndexedDB
//! backend does, with the same policy above it, but nothing survives the
//! worker; the UI says so. Records are kept as values, so nothing is ever
//! unreadable and nothing is quarantined.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use paperclip_core::cache::{CacheEntry, CacheStats};
use paperclip_core::conversation::{self, Conversation};
use paperclip_core::export::{plan_import, ExportFile, ImportPlan, MergePolicy};
use paperclip_core::protocol::{ProtocolError, QuarantineItem};
use paperclip_core::query::{self, Cursor, Filter};
use paperclip_core::telemetry::persist::{trim_plan, Row};
use serde_json::Value;
use wasm_bindgen::JsValue;

use super::backend::{Backend, Change, Cleared, MetaChange, Page, StoredSize};
use super::META_CACHE_STATS;

/// Data in memory.
#[derive(Default)]
pub struct Memory {
    conversations: RefCell<BTreeMap<String, Conversation>>,
    cache: RefCell<BTreeMap<String, CacheEntry>>,
    preferences: RefCell<BTreeMap<String, Value>>,
    meta: RefCell<BTreeMap<String, JsValue>>,
    /// Oldest first.
    telemetry: RefCell<Vec<Row>>,
}

#[async_trait(?Send)]
impl Backend for Memory {
    fn persistent(&self) -> bool {
        false
    }

    fn close(self: Box<Self>) {}

    async fn list(
        &self,
        filter: &Filter,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> Result<Page, ProtocolError> {
        let all: Vec<Conversation> = self.conversations.borrow().values().cloned().collect();
        Ok(query::page(&all, filter, cursor.as_ref(), limit as u32))
    }

    async fn get(&self, id: &str) -> Result<Option<Conversation>, ProtocolError> {
        Ok(self.conversations.borrow().get(id).cloned())
    }

    async fn latest_for_site(&self, site: &str) -> Result<Option<Conversation>, ProtocolError> {
        Ok(self
            .conversations
            .borrow()
            .values()
            .filter(|c| c.site == site && !c.imported)
            .max_by(|a, b| a.updated_ms.total_cmp(&b.updated_ms))
            .cloned())
    }

    async fn modify<'a>(
        &self,
        id: &str,
        change: Change<'a>,
    ) -> Result<Conversation, ProtocolError> {
        let existing = self.conversations.borrow().get(id).cloned();
        let c = change(existing)?;
        self.conversations
            .borrow_mut()
            .insert(id.to_string(), c.clone());
        Ok(c)
    }

    async fn save(&self, c: &Conversation) -> Result<(), ProtocolError> {
        self.conversations
            .borrow_mut()
            .insert(c.id.clone(), c.clone());
        Ok(())
    }

    async fn delete(&self, id: &str) -> Result<bool, ProtocolError> {
        Ok(self.conversations.borrow_mut().remove(id).is_some())
    }

    async fn delete_conversations(&self, ids: &[String]) -> Result<(), ProtocolError> {
        let mut all = self.conversations.borrow_mut();
        for id in ids {
            all.remove(id);
        }
        Ok(())
    }

    async fn conversation_ids(&self) -> Result<Vec<String>, ProtocolError> {
        let mut all: Vec<(f64, String)> = self
            .conversations
            .borrow()
            .values()
            .map(|c| (-c.updated_ms, c.id.clone()))
            .collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        Ok(all.into_iter().map(|(_, id)| id).collect())
    }

    async fn read_conversations(
        &self,
        ids: &[String],
        visit: &mut dyn FnMut(Conversation) -> bool,
    ) -> Result<usize, ProtocolError> {
        for (i, id) in ids.iter().enumerate() {
            let found = self.conversations.borrow().get(id).cloned();
            if let Some(c) = found {
                if !visit(c) {
                    return Ok(i + 1);
                }
            }
        }
        Ok(ids.len())
    }

    async fn visit_sizes(&self, visit: &mut dyn FnMut(StoredSize)) -> Result<(), ProtocolError> {
        for c in self.conversations.borrow().values() {
            // What it would take as stored (the same encoding).
            let encoded = conversation::encode(c);
            let bytes = encoded.bytes.len() as u64;
            visit(StoredSize {
                id: c.id.clone(),
                updated_ms: c.updated_ms,
                bytes: bytes + 128,
                saved: if encoded.compressed {
                    (encoded.plain_len as u64).saturating_sub(bytes)
                } else {
                    0
                },
            });
        }
        Ok(())
    }

    async fn import(
        &self,
        file: ExportFile,
        policy: MergePolicy,
    ) -> Result<ImportPlan, ProtocolError> {
        let existing: HashMap<String, f64> = self
            .conversations
            .borrow()
            .values()
            .map(|c| (c.id.clone(), c.updated_ms))
            .collect();
        let plan = plan_import(file, &existing, policy);
        {
            let mut all = self.conversations.borrow_mut();
            for c in &plan.write {
                all.insert(c.id.clone(), c.clone());
            }
        }
        Ok(plan)
    }

    async fn cache_get(&self, key: &str) -> Result<Option<CacheEntry>, ProtocolError> {
        Ok(self.cache.borrow().get(key).cloned())
    }

    async fn cache_put(
        &self,
        entries: &[CacheEntry],
        stats: Option<CacheStats>,
    ) -> Result<(), ProtocolError> {
        {
            let mut cache = self.cache.borrow_mut();
            for e in entries {
                cache.insert(e.key.clone(), e.clone());
            }
        }
        if let Some(stats) = stats {
            self.meta_put(&[(META_CACHE_STATS, super::to_js(&stats)?)])
                .await?;
        }
        Ok(())
    }

    async fn cache_delete(&self, keys: &[String]) -> Result<(), ProtocolError> {
        let mut cache = self.cache.borrow_mut();
        for k in keys {
            cache.remove(k);
        }
        Ok(())
    }

    async fn cache_invalidate(
        &self,
        prefix: &str,
        stats: CacheStats,
    ) -> Result<u32, ProtocolError> {
        let gone = {
            let mut cache = self.cache.borrow_mut();
            let before = cache.len();
            cache.retain(|k, _| !k.starts_with(prefix));
            (before - cache.len()) as u32
        };
        self.meta_put(&[(META_CACHE_STATS, super::to_js(&stats)?)])
            .await?;
        Ok(gone)
    }

    async fn cache_recent(&self, max: u32) -> Result<Vec<CacheEntry>, ProtocolError> {
        let mut all: Vec<CacheEntry> = self.cache.borrow().values().cloned().collect();
        all.sort_by_key(|e| std::cmp::Reverse(e.last_used_ms));
        all.truncate(max as usize);
        Ok(all)
    }

    async fn cache_all(&self) -> Result<Vec<CacheEntry>, ProtocolError> {
        Ok(self.cache.borrow().values().cloned().collect())
    }

    async fn cache_count(&self) -> Result<u64, ProtocolError> {
        Ok(self.cache.borrow().len() as u64)
    }

    async fn preferences(&self) -> Result<(Option<u32>, Vec<(String, Value)>), ProtocolError> {
        let stored = self
            .preferences
            .borrow()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok((Some(paperclip_core::prefs::PREFS_VERSION), stored))
    }

    async fn put_preferences(
        &self,
        entries: &[(String, Value)],
        _now_ms: f64,
    ) -> Result<(), ProtocolError> {
        let mut prefs = self.preferences.borrow_mut();
        for (k, v) in entries {
            prefs.insert(k.clone(), v.clone());
        }
        Ok(())
    }

    async fn meta_get(&self, key: &str) -> Result<Option<JsValue>, ProtocolError> {
        Ok(self.meta.borrow().get(key).cloned())
    }

    async fn meta_modify<'a>(
        &self,
        key: &str,
        change: MetaChange<'a>,
    ) -> Result<JsValue, ProtocolError> {
        let current = self.meta.borrow().get(key).cloned();
        let value = change(current)?;
        self.meta
            .borrow_mut()
            .insert(key.to_string(), value.clone());
        Ok(value)
    }

    async fn meta_put(&self, entries: &[(&str, JsValue)]) -> Result<(), ProtocolError> {
        let mut meta = self.meta.borrow_mut();
        for (k, v) in entries {
            meta.insert((*k).to_string(), v.clone());
        }
        Ok(())
    }

    async fn meta_delete(&self, keys: &[String]) -> Result<u64, ProtocolError> {
        let mut meta = self.meta.borrow_mut();
        Ok(keys.iter().filter(|k| meta.remove(*k).is_some()).count() as u64)
    }

    async fn quarantined(&self, _limit: u32) -> Result<Vec<QuarantineItem>, ProtocolError> {
        Ok(vec![])
    }

    async fn telemetry_add(&self, rows: &[Row]) -> Result<(), ProtocolError> {
        let mut all = self.telemetry.borrow_mut();
        all.extend(rows.iter().cloned());
        all.sort_by(|a, b| a.time.total_cmp(&b.time));
        Ok(())
    }

    async fn telemetry_trim(&self, now_ms: f64) -> Result<u32, ProtocolError> {
        let mut all = self.telemetry.borrow_mut();
        let before = all.len();
        let cut = now_ms - paperclip_core::telemetry::persist::RETENTION_MS;
        let expired = all.iter().take_while(|r| r.time <= cut).count();
        let plan = trim_plan(before as u64, expired as u64, now_ms);
        let n = (expired as u64 + plan.oldest).min(before as u64) as usize;
        all.drain(..n);
        Ok(n as u32)
    }

    async fn telemetry_rows(
        &self,
        kind: &str,
        from_ms: f64,
        to_ms: f64,
        limit: u32,
    ) -> Result<Vec<Row>, ProtocolError> {
        Ok(self
            .telemetry
            .borrow()
            .iter()
            .rev()
            .filter(|r| r.kind == kind && r.time >= from_ms && r.time <= to_ms)
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn telemetry_count(&self) -> Result<u64, ProtocolError> {
        Ok(self.telemetry.borrow().len() as u64)
    }

    async fn telemetry_clear(&self) -> Result<u64, ProtocolError> {
        Ok(std::mem::take(&mut *self.telemetry.borrow_mut()).len() as u64)
    }

    async fn clear_all(&self) -> Result<Cleared, ProtocolError> {
        fn take<K: Ord, V>(map: &RefCell<BTreeMap<K, V>>) -> u64 {
            std::mem::take(&mut *map.borrow_mut()).len() as u64
        }
        Ok(Cleared {
            conversations: take(&self.conversations),
            cache_entries: take(&self.cache),
            preferences: take(&self.preferences),
            telemetry_rows: self.telemetry_clear().await?,
            quarantined: 0,
            meta: take(&self.meta),
        })
    }
}
