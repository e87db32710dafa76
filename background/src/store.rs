//! Conversation storage: IndexedDB through rexie, or memory when IndexedDB
//! cannot be opened (then the UI says history will not persist).
//!
//! Each record is `{id, site, updated, data}` where `data` is the postcard
//! encoding from [`paperclip_core::conversation::encode`]; the plain fields
//! exist only to be indexed.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use js_sys::{Array, Object, Reflect, Uint8Array};
use paperclip_core::conversation::{self, Conversation, ConversationSummary, Message};
use paperclip_core::export::{plan_import, ExportFile, ImportPlan, MergePolicy};
use paperclip_core::protocol::ProtocolError;
use rexie::{Direction, Index, KeyRange, ObjectStore, Rexie, TransactionMode};
use wasm_bindgen::prelude::*;

/// Database name.
pub const DB_NAME: &str = "paperclip";
/// Schema version of this build.
pub const DB_VERSION: u32 = 1;
const CONVERSATIONS: &str = "conversations";
const BY_UPDATED: &str = "by_updated";
const BY_SITE_UPDATED: &str = "by_site_updated";

/// Where conversations live.
pub enum Store {
    /// IndexedDB, the normal case.
    Idb(Rexie),
    /// In-memory fallback; nothing survives the worker.
    Memory(RefCell<BTreeMap<String, Conversation>>),
}

fn storage_error(e: impl std::fmt::Display) -> ProtocolError {
    ProtocolError::failed(format!("storage: {e}"))
}

impl Store {
    /// Opens the database, falling back to memory when that fails.
    pub async fn open() -> Store {
        Self::open_named(DB_NAME).await
    }

    /// Opens database `name` (tests use their own), falling back to memory.
    pub async fn open_named(name: &str) -> Store {
        match Self::open_idb(name).await {
            Ok(db) => Store::Idb(db),
            Err(e) => {
                web_sys::console::warn_1(
                    &format!("paperclip: IndexedDB unavailable, keeping history in memory: {e}")
                        .into(),
                );
                Store::Memory(RefCell::default())
            }
        }
    }

    /// Opens (creating or upgrading) the database `name`.
    pub async fn open_idb(name: &str) -> Result<Rexie, rexie::Error> {
        Rexie::builder(name)
            .version(DB_VERSION)
            .add_object_store(
                ObjectStore::new(CONVERSATIONS)
                    .key_path("id")
                    .add_index(Index::new(BY_UPDATED, "updated"))
                    .add_index(Index::new_array(BY_SITE_UPDATED, ["site", "updated"])),
            )
            .build()
            .await
    }

    /// True when data survives the worker.
    pub fn persistent(&self) -> bool {
        matches!(self, Store::Idb(_))
    }

    /// Up to `limit` conversations, most recently updated first.
    pub async fn list(&self, limit: u32) -> Result<Vec<ConversationSummary>, ProtocolError> {
        match self {
            Store::Memory(m) => {
                let mut all: Vec<_> = m.borrow().values().map(Conversation::summary).collect();
                all.sort_by(|a, b| b.updated_ms.total_cmp(&a.updated_ms));
                all.truncate(limit as usize);
                Ok(all)
            }
            Store::Idb(db) => {
                let (_tx, store) = conversation_store(db, TransactionMode::ReadOnly)?;
                let rows = store
                    .index(BY_UPDATED)
                    .map_err(storage_error)?
                    .scan(None, Some(limit), None, Some(Direction::Prev))
                    .await
                    .map_err(storage_error)?;
                Ok(rows
                    .iter()
                    .filter_map(|(_, v)| decode_record(v))
                    .map(|c| c.summary())
                    .collect())
            }
        }
    }

    /// The conversation `id`.
    pub async fn get(&self, id: &str) -> Result<Option<Conversation>, ProtocolError> {
        match self {
            Store::Memory(m) => Ok(m.borrow().get(id).cloned()),
            Store::Idb(db) => {
                let (_tx, store) = conversation_store(db, TransactionMode::ReadOnly)?;
                let v = store.get(id.into()).await.map_err(storage_error)?;
                Ok(v.as_ref().and_then(decode_record))
            }
        }
    }

    /// The most recently updated conversation of `site`.
    pub async fn latest_for_site(&self, site: &str) -> Result<Option<Conversation>, ProtocolError> {
        match self {
            Store::Memory(m) => Ok(m
                .borrow()
                .values()
                .filter(|c| c.site == site)
                .max_by(|a, b| a.updated_ms.total_cmp(&b.updated_ms))
                .cloned()),
            Store::Idb(db) => {
                let lower = Array::of2(&site.into(), &JsValue::from_f64(f64::NEG_INFINITY));
                let upper = Array::of2(&site.into(), &JsValue::from_f64(f64::INFINITY));
                let range = KeyRange::bound(&lower, &upper, None, None).map_err(storage_error)?;
                let (_tx, store) = conversation_store(db, TransactionMode::ReadOnly)?;
                let rows = store
                    .index(BY_SITE_UPDATED)
                    .map_err(storage_error)?
                    .scan(Some(range), Some(1), None, Some(Direction::Prev))
                    .await
                    .map_err(storage_error)?;
                Ok(rows.first().and_then(|(_, v)| decode_record(v)))
            }
        }
    }

    /// Adds or replaces `message` in conversation `id` (created for `site`
    /// at `now_ms` when missing), reading and writing in one transaction so
    /// that two tabs appending at once lose nothing.
    pub async fn upsert_message(
        &self,
        id: &str,
        site: &str,
        message: Message,
        now_ms: f64,
    ) -> Result<Conversation, ProtocolError> {
        let apply = |existing: Option<Conversation>| {
            let mut c = existing
                .unwrap_or_else(|| Conversation::new(id.to_string(), site.to_string(), now_ms));
            c.upsert(message);
            c
        };
        match self {
            Store::Memory(m) => {
                let c = apply(m.borrow().get(id).cloned());
                m.borrow_mut().insert(id.to_string(), c.clone());
                Ok(c)
            }
            Store::Idb(db) => {
                let (tx, store) = conversation_store(db, TransactionMode::ReadWrite)?;
                let existing = store.get(id.into()).await.map_err(storage_error)?;
                let c = apply(existing.as_ref().and_then(decode_record));
                store
                    .put(&encode_record(&c), None)
                    .await
                    .map_err(storage_error)?;
                tx.done().await.map_err(storage_error)?;
                Ok(c)
            }
        }
    }

    /// Every conversation (or those with `ids`), oldest first by update.
    pub async fn conversations(
        &self,
        ids: Option<&[String]>,
    ) -> Result<Vec<Conversation>, ProtocolError> {
        let wanted = |c: &Conversation| ids.is_none_or(|ids| ids.contains(&c.id));
        let mut all: Vec<Conversation> = match self {
            Store::Memory(m) => m.borrow().values().filter(|c| wanted(c)).cloned().collect(),
            Store::Idb(db) => {
                let (_tx, store) = conversation_store(db, TransactionMode::ReadOnly)?;
                store
                    .get_all(None, None)
                    .await
                    .map_err(storage_error)?
                    .iter()
                    .filter_map(decode_record)
                    .filter(|c| wanted(c))
                    .collect()
            }
        };
        all.sort_by(|a, b| a.updated_ms.total_cmp(&b.updated_ms));
        Ok(all)
    }

    /// Applies a validated import file under `policy`: the existing ids are
    /// read and the plan written in one transaction, so the import is all or
    /// nothing and races with no other write.
    pub async fn import(
        &self,
        file: ExportFile,
        policy: MergePolicy,
    ) -> Result<ImportPlan, ProtocolError> {
        match self {
            Store::Memory(m) => {
                let existing = m
                    .borrow()
                    .values()
                    .map(|c| (c.id.clone(), c.updated_ms))
                    .collect();
                let plan = plan_import(file, &existing, policy);
                let mut m = m.borrow_mut();
                for c in &plan.write {
                    m.insert(c.id.clone(), c.clone());
                }
                Ok(plan)
            }
            Store::Idb(db) => {
                let (tx, store) = conversation_store(db, TransactionMode::ReadWrite)?;
                let existing: HashMap<String, f64> = store
                    .get_all(None, None)
                    .await
                    .map_err(storage_error)?
                    .iter()
                    .filter_map(|r| {
                        let id = Reflect::get(r, &"id".into()).ok()?.as_string()?;
                        let updated = Reflect::get(r, &"updated".into()).ok()?.as_f64()?;
                        Some((id, updated))
                    })
                    .collect();
                let plan = plan_import(file, &existing, policy);
                for c in &plan.write {
                    if let Err(e) = store.put(&encode_record(c), None).await {
                        let _ = tx.abort().await;
                        return Err(storage_error(format!("import rolled back: {e}")));
                    }
                }
                tx.done().await.map_err(storage_error)?;
                Ok(plan)
            }
        }
    }

    /// Deletes conversation `id`; false when it did not exist.
    pub async fn delete(&self, id: &str) -> Result<bool, ProtocolError> {
        match self {
            Store::Memory(m) => Ok(m.borrow_mut().remove(id).is_some()),
            Store::Idb(db) => {
                let (tx, store) = conversation_store(db, TransactionMode::ReadWrite)?;
                let existed = store.key_exists(id.into()).await.map_err(storage_error)?;
                store.delete(id.into()).await.map_err(storage_error)?;
                tx.done().await.map_err(storage_error)?;
                Ok(existed)
            }
        }
    }
}

/// A transaction on the conversations store, and the store.
fn conversation_store(
    db: &Rexie,
    mode: TransactionMode,
) -> Result<(rexie::Transaction, rexie::Store), ProtocolError> {
    let tx = db
        .transaction(&[CONVERSATIONS], mode)
        .map_err(storage_error)?;
    let store = tx.store(CONVERSATIONS).map_err(storage_error)?;
    Ok((tx, store))
}

/// The stored form of `c`: `{id, site, updated, data}`.
pub fn encode_record(c: &Conversation) -> JsValue {
    let record = Object::new();
    let set = |k: &str, v: &JsValue| {
        Reflect::set(&record, &k.into(), v).expect("plain object");
    };
    set("id", &c.id.as_str().into());
    set("site", &c.site.as_str().into());
    set("updated", &c.updated_ms.into());
    set(
        "data",
        &Uint8Array::from(conversation::encode(c).as_slice()),
    );
    record.into()
}

/// Decodes a stored record; a bad record is reported and skipped, never a
/// panic.
fn decode_record(v: &JsValue) -> Option<Conversation> {
    let data = Reflect::get(v, &"data".into()).ok()?;
    let bytes = data.dyn_into::<Uint8Array>().ok()?.to_vec();
    match conversation::decode(&bytes) {
        Ok(c) => Some(c),
        Err(e) => {
            web_sys::console::warn_1(
                &format!("paperclip: skipping unreadable conversation: {e}").into(),
            );
            None
        }
    }
}
