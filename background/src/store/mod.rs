//! The storage engine: one IndexedDB database (`paperclip`) opened through
//! idb (migrations, see [`open`]) and used through rexie, or memory when
//! IndexedDB cannot be opened (then the UI says history will not persist).
//!
//! Stores (layout in [`paperclip_core::schema`]): `conversations`,
//! `context_cache` (behind a bounded memory tier, write-through),
//! `preferences`, `telemetry`, `quarantine` (records that failed to decode)
//! and `meta` (cache statistics, settings version, last cleanup). Policy —
//! what to list, evict, keep or delete — is decided in `paperclip-core`;
//! this module does the I/O. Nothing here panics on bad data.

pub mod open;
pub mod records;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};

use js_sys::{Array, Reflect};
use paperclip_core::cache::{CacheEntry, CacheLimits, CacheStats, Lookup, MemoryTier};
use paperclip_core::conversation::{Conversation, ConversationSummary, Message, Usage};
use paperclip_core::export::{plan_import, ExportFile, ImportPlan, MergePolicy};
use paperclip_core::maintenance::{self, StoredConversation};
use paperclip_core::prefs::{self, Category, PrefEntry, Preferences};
use paperclip_core::protocol::{
    ListConversations, MaintenanceReport, ProtocolError, QuarantineItem, StorageStatus,
};
use paperclip_core::query::{self, Cursor, Filter};
use paperclip_core::schema::{self, store};
use rexie::{Direction, KeyRange, Rexie, TransactionMode};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

pub use open::OpenOptions;
use paperclip_core::telemetry::persist::Row as TelemetryRow;
use records::{PreferenceRecord, QuarantineRecord};

/// What the storage engine reports about itself. The worker turns these
/// into telemetry ([`observe`]); the store writes no telemetry of its own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Observation<'a> {
    /// An operation took `ms` and succeeded or not.
    Operation { op: &'static str, ok: bool, ms: f64 },
    /// A context-cache lookup was answered by `tier` (`memory`, `indexeddb`,
    /// `miss`) in `ms`.
    CacheLookup { tier: &'a str, ms: f64 },
    /// A record of `store` could not be decoded and was quarantined.
    Quarantined { store: &'a str, error: &'a str },
    /// The cleanup job removed `removed` items (and whether storage is
    /// still over its budget).
    Maintenance {
        removed: u32,
        still_over_budget: bool,
    },
}

thread_local! {
    static OBSERVER: Cell<Option<fn(&Observation)>> = const { Cell::new(None) };
}

/// Sends every [`Observation`] to `observer` from now on.
pub fn observe(observer: fn(&Observation)) {
    OBSERVER.with(|o| o.set(Some(observer)));
}

fn report(observation: Observation) {
    if let Some(observer) = OBSERVER.with(Cell::get) {
        observer(&observation);
    }
}

/// Database name.
pub const DB_NAME: &str = "paperclip";

const META_CACHE_STATS: &str = "cache_stats";
const META_PREFS_VERSION: &str = "prefs_version";
const META_LAST_MAINTENANCE: &str = "last_maintenance";
/// Cache writes also save the statistics every this many cache operations;
/// lookups schedule a save a few seconds later (see
/// `flush_cache_stats_soon`), and status reads and the cleanup job save them
/// too. No lookup waits for a write.
const STATS_EVERY: u32 = 32;

/// Where data lives.
enum Backend {
    /// IndexedDB, the normal case.
    Idb(Rexie),
    /// The fallback; nothing survives the worker.
    Memory(RefCell<BTreeMap<String, Conversation>>),
}

/// The storage engine.
pub struct Store {
    backend: Backend,
    /// Why storage is not persistent (or what opening it reported).
    notice: Option<String>,
    version: u32,
    cache: RefCell<MemoryTier>,
    /// Counters persisted by earlier instances.
    cache_base: Cell<CacheStats>,
    /// Lookups the memory tier missed but IndexedDB answered.
    disk_hits: Cell<u64>,
    /// Cache operations since the statistics were last written.
    unsaved_stats: Cell<u32>,
    prefs: RefCell<Preferences>,
    /// `meta` records when IndexedDB is unavailable.
    memory_meta: RefCell<BTreeMap<String, String>>,
}

fn storage_error(e: impl std::fmt::Display) -> ProtocolError {
    ProtocolError::failed(format!("storage: {e}"))
}

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

type Tx = (rexie::Transaction, Vec<rexie::Store>);

fn tx(db: &Rexie, stores: &[&str], mode: TransactionMode) -> Result<Tx, ProtocolError> {
    let tx = db.transaction(stores, mode).map_err(storage_error)?;
    let handles = stores
        .iter()
        .map(|s| tx.store(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(storage_error)?;
    Ok((tx, handles))
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

/// The index key `[...lead, -updated, id]` of the cursor's item.
fn after_key(lead: &[JsValue], c: &Cursor) -> JsValue {
    let mut key = lead.to_vec();
    key.push((-c.updated_ms).into());
    key.push(c.id.as_str().into());
    array(&key)
}

/// The keys of a `(lead, rank, id)` index led by `lead`, after `cursor`.
fn prefix_range(lead: &str, cursor: Option<&Cursor>) -> Result<KeyRange, ProtocolError> {
    let upper = array(&[lead.into(), Array::new().into()]);
    let (lower, open) = match cursor {
        Some(c) => (after_key(&[lead.into()], c), true),
        None => (array(&[lead.into()]), false),
    };
    KeyRange::bound(&lower, &upper, Some(open), Some(false)).map_err(storage_error)
}

impl Store {
    /// Opens the database, falling back to memory when that fails.
    pub async fn open() -> Store {
        Self::open_with(DB_NAME, OpenOptions::default()).await
    }

    /// Opens database `name` (tests use their own), falling back to memory.
    pub async fn open_named(name: &str) -> Store {
        Self::open_with(name, OpenOptions::default()).await
    }

    /// Opens database `name` as `options` say, falling back to memory.
    pub async fn open_with(name: &str, options: OpenOptions) -> Store {
        match open::open(name, options).await {
            Ok(db) => {
                let store = Self::new(Backend::Idb(db), None, options.version);
                store.load_state().await;
                store
            }
            Err(e) => {
                web_sys::console::warn_1(&format!("paperclip: {e}").into());
                Self::new(
                    Backend::Memory(RefCell::default()),
                    Some(format!(
                        "{e}. History is kept in memory and will not persist."
                    )),
                    0,
                )
            }
        }
    }

    fn new(backend: Backend, notice: Option<String>, version: u32) -> Store {
        Store {
            backend,
            notice,
            version,
            cache: RefCell::new(MemoryTier::new(CacheLimits::default())),
            cache_base: Cell::default(),
            disk_hits: Cell::new(0),
            unsaved_stats: Cell::new(0),
            prefs: RefCell::default(),
            memory_meta: RefCell::default(),
        }
    }

    /// Closes the database (tests reopen it to prove what persisted).
    pub fn close(self) {
        if let Backend::Idb(db) = self.backend {
            db.close();
        }
    }

    /// True when data survives the worker.
    pub fn persistent(&self) -> bool {
        matches!(self.backend, Backend::Idb(_))
    }

    /// Why storage is not persistent, if it is not.
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    /// The database's schema version (0 in memory).
    pub fn schema_version(&self) -> u32 {
        self.version
    }

    /// The database when it has the current layout.
    fn db(&self) -> Option<&Rexie> {
        match &self.backend {
            Backend::Idb(db) if self.version >= 2 => Some(db),
            _ => None,
        }
    }

    /// Loads preferences and cache statistics, and warms the memory tier.
    async fn load_state(&self) {
        let Some(db) = self.db() else { return };
        let loaded: Result<(), ProtocolError> = async {
            let (_tx, s) = tx(
                db,
                &[store::PREFERENCES, store::META],
                TransactionMode::ReadOnly,
            )?;
            let stored: Vec<(String, serde_json::Value)> = s[0]
                .get_all(None, None)
                .await
                .map_err(storage_error)?
                .iter()
                .filter_map(|v| records::read::<PreferenceRecord>(v).ok())
                .filter_map(|r| Some((r.key, serde_json::from_str(&r.value).ok()?)))
                .collect();
            let version = meta_get::<u32>(&s[1], META_PREFS_VERSION)
                .await?
                .unwrap_or(prefs::PREFS_VERSION);
            let (prefs, errors) = Preferences::from_stored(version, stored);
            for e in errors {
                web_sys::console::warn_1(
                    &format!("paperclip: stored preference ignored: {e}").into(),
                );
            }
            *self.cache.borrow_mut() = MemoryTier::new(limits_for(&prefs));
            *self.prefs.borrow_mut() = prefs;
            self.cache_base.set(
                meta_get::<CacheStats>(&s[1], META_CACHE_STATS)
                    .await?
                    .unwrap_or_default(),
            );
            Ok(())
        }
        .await;
        if let Err(e) = loaded {
            web_sys::console::warn_1(&format!("paperclip: could not load settings: {e}").into());
        }
        if let Err(e) = self
            .cache_warm(paperclip_platform::clock::now_ms() as u64)
            .await
        {
            web_sys::console::warn_1(&format!("paperclip: cache warm-up failed: {e}").into());
        }
    }

    // ----- conversations -------------------------------------------------

    /// A page of conversations matching `q`, newest first, and the cursor of
    /// the next page.
    pub async fn list(
        &self,
        q: &ListConversations,
    ) -> Result<(Vec<ConversationSummary>, Option<String>), ProtocolError> {
        q.filter.validate().map_err(ProtocolError::failed)?;
        let cursor = q
            .cursor
            .as_deref()
            .map(Cursor::parse)
            .transpose()
            .map_err(ProtocolError::failed)?;
        let limit = q.limit.clamp(1, query::MAX_PAGE) as usize;
        let Some(db) = self.idb() else {
            let all: Vec<Conversation> = self.memory().borrow().values().cloned().collect();
            let (items, next) = query::page(&all, &q.filter, cursor.as_ref(), q.limit);
            return Ok((items, next.map(|c| c.to_token())));
        };
        let mut items = Vec::new();
        if let Some(tag) = &q.filter.tag {
            self.list_by_tag(db, tag, &q.filter, cursor.as_ref(), &mut items)
                .await?;
        } else {
            self.list_scan(db, &q.filter, cursor, limit, &mut items)
                .await?;
        }
        let next = (items.len() > limit).then(|| Cursor::after(&items[limit - 1]).to_token());
        items.truncate(limit);
        Ok((items, next))
    }

    /// Reads a `(…, rank, id)` index in ascending key order (newest
    /// first), a batch per `getAll`, until `limit + 1` matches.
    async fn list_scan(
        &self,
        db: &Rexie,
        filter: &Filter,
        mut cursor: Option<Cursor>,
        limit: usize,
        items: &mut Vec<ConversationSummary>,
    ) -> Result<(), ProtocolError> {
        let batch = if filter.needs_text() {
            100
        } else {
            limit as u32 + 1
        };
        let (index, lead) = match (&filter.site, &filter.agent) {
            (Some(site), _) => (schema::BY_SITE_RECENT.name, Some(site.clone())),
            (None, Some(agent)) => (schema::BY_AGENT_RECENT.name, Some(agent.clone())),
            (None, None) => (schema::BY_RECENT.name, None),
        };
        if cursor.is_none() {
            if let Some(to) = filter.to_ms {
                // Starts at `to` (items updated at `to` are filtered below).
                cursor = Some(Cursor {
                    updated_ms: to,
                    id: String::new(),
                });
            }
        }
        loop {
            let range = match &lead {
                Some(lead) => Some(prefix_range(lead, cursor.as_ref())?),
                None => cursor
                    .as_ref()
                    .map(|c| KeyRange::lower_bound(&after_key(&[], c), Some(true)))
                    .transpose()
                    .map_err(storage_error)?,
            };
            let rows = {
                let (_tx, s) = tx(db, &[store::CONVERSATIONS], TransactionMode::ReadOnly)?;
                s[0].index(index)
                    .map_err(storage_error)?
                    .get_all(range, Some(batch))
                    .await
                    .map_err(storage_error)?
            };
            let exhausted = (rows.len() as u32) < batch;
            for value in &rows {
                let head = match records::decode_head(value) {
                    Ok(h) => h,
                    Err(e) => {
                        self.quarantine(store::CONVERSATIONS, value, &e).await;
                        continue;
                    }
                };
                let summary = head.summary();
                cursor = Some(Cursor::after(&summary));
                if filter.from_ms.is_some_and(|from| summary.updated_ms < from) {
                    return Ok(());
                }
                if !filter.fields_match(&summary) {
                    continue;
                }
                if filter.needs_text() {
                    match records::decode_conversation(value) {
                        Ok(c) if filter.matches(&c) => {}
                        Ok(_) => continue,
                        Err(e) => {
                            self.quarantine(store::CONVERSATIONS, value, &e).await;
                            continue;
                        }
                    }
                }
                items.push(summary);
                if items.len() > limit {
                    return Ok(());
                }
            }
            if exhausted {
                return Ok(());
            }
        }
    }

    /// Lists the conversations with `tag` (the multi-entry index), sorted
    /// and paged in memory: tags are selective.
    async fn list_by_tag(
        &self,
        db: &Rexie,
        tag: &str,
        filter: &Filter,
        cursor: Option<&Cursor>,
        items: &mut Vec<ConversationSummary>,
    ) -> Result<(), ProtocolError> {
        let rows = {
            let (_tx, s) = tx(db, &[store::CONVERSATIONS], TransactionMode::ReadOnly)?;
            let range = KeyRange::only(&tag.into()).map_err(storage_error)?;
            s[0].index(schema::BY_TAG.name)
                .map_err(storage_error)?
                .get_all(Some(range), None)
                .await
                .map_err(storage_error)?
        };
        let mut found = Vec::new();
        for value in &rows {
            match records::decode_conversation(value) {
                Ok(c) => found.push(c),
                Err(e) => self.quarantine(store::CONVERSATIONS, value, &e).await,
            }
        }
        let (page, _) = query::page(&found, filter, cursor, query::MAX_PAGE);
        items.extend(page);
        Ok(())
    }

    /// Up to `limit` conversations, most recently updated first.
    pub async fn recent(&self, limit: u32) -> Result<Vec<ConversationSummary>, ProtocolError> {
        let q = ListConversations {
            limit,
            ..Default::default()
        };
        Ok(self.list(&q).await?.0)
    }

    /// The conversation `id`.
    pub async fn get(&self, id: &str) -> Result<Option<Conversation>, ProtocolError> {
        let Some(db) = self.idb() else {
            return Ok(self.memory().borrow().get(id).cloned());
        };
        let value = {
            let (_tx, s) = tx(db, &[store::CONVERSATIONS], TransactionMode::ReadOnly)?;
            s[0].get(id.into()).await.map_err(storage_error)?
        };
        self.decode_or_quarantine(value).await
    }

    async fn decode_or_quarantine(
        &self,
        value: Option<JsValue>,
    ) -> Result<Option<Conversation>, ProtocolError> {
        let Some(value) = value else { return Ok(None) };
        match records::decode_conversation(&value) {
            Ok(c) => Ok(Some(c)),
            Err(e) => {
                self.quarantine(store::CONVERSATIONS, &value, &e).await;
                Ok(None)
            }
        }
    }

    /// The most recently updated conversation of `site`.
    pub async fn latest_for_site(&self, site: &str) -> Result<Option<Conversation>, ProtocolError> {
        let Some(db) = self.idb() else {
            return Ok(self
                .memory()
                .borrow()
                .values()
                .filter(|c| c.site == site)
                .max_by(|a, b| a.updated_ms.total_cmp(&b.updated_ms))
                .cloned());
        };
        let rows = {
            let (_tx, s) = tx(db, &[store::CONVERSATIONS], TransactionMode::ReadOnly)?;
            s[0].index(schema::BY_SITE_RECENT.name)
                .map_err(storage_error)?
                .get_all(Some(prefix_range(site, None)?), Some(1))
                .await
                .map_err(storage_error)?
        };
        self.decode_or_quarantine(rows.into_iter().next()).await
    }

    /// Reads conversation `id`, applies `change` and writes the result, in
    /// one transaction: two tabs changing one conversation lose nothing.
    pub async fn modify(
        &self,
        id: &str,
        change: impl FnOnce(Option<Conversation>) -> Result<Conversation, ProtocolError>,
    ) -> Result<Conversation, ProtocolError> {
        let Some(db) = self.idb() else {
            let c = change(self.memory().borrow().get(id).cloned())?;
            self.memory().borrow_mut().insert(id.to_string(), c.clone());
            return Ok(c);
        };
        let (t, s) = tx(db, &[store::CONVERSATIONS], TransactionMode::ReadWrite)?;
        let existing = s[0].get(id.into()).await.map_err(storage_error)?;
        let existing = existing.and_then(|v| records::decode_conversation(&v).ok());
        let c = match change(existing) {
            Ok(c) => c,
            Err(e) => {
                let _ = t.abort().await;
                return Err(e);
            }
        };
        let record = records::encode_conversation(&c);
        write_and_commit(t, async {
            s[0].put(&record, None).await.map_err(storage_error)
        })
        .await?;
        Ok(c)
    }

    /// Adds or replaces `message` in conversation `id` (created for `site`
    /// at `now_ms` when missing).
    pub async fn upsert_message(
        &self,
        id: &str,
        site: &str,
        message: Message,
        now_ms: f64,
    ) -> Result<Conversation, ProtocolError> {
        let started = paperclip_platform::clock::now_ms();
        let result = self
            .modify(id, |existing| {
                let mut c = existing
                    .unwrap_or_else(|| Conversation::new(id.to_string(), site.to_string(), now_ms));
                c.upsert(message);
                Ok(c)
            })
            .await;
        report(Observation::Operation {
            op: "upsert_message",
            ok: result.is_ok(),
            ms: paperclip_platform::clock::now_ms() - started,
        });
        result
    }

    /// Replaces the tags of conversation `id`; returns them normalised.
    pub async fn set_tags(&self, id: &str, tags: &[String]) -> Result<Vec<String>, ProtocolError> {
        let tags =
            paperclip_core::conversation::normalize_tags(tags).map_err(ProtocolError::failed)?;
        let c = self
            .modify(id, |existing| {
                let mut c = existing
                    .ok_or_else(|| ProtocolError::failed(format!("no conversation {id:?}")))?;
                c.tags = tags;
                Ok(c)
            })
            .await?;
        Ok(c.tags)
    }

    /// Adds one request's tokens and cost to conversation `id`.
    pub async fn record_usage(&self, id: &str, usage: Usage) -> Result<Usage, ProtocolError> {
        let c = self
            .modify(id, |existing| {
                let mut c = existing
                    .ok_or_else(|| ProtocolError::failed(format!("no conversation {id:?}")))?;
                c.record_usage(usage);
                Ok(c)
            })
            .await?;
        Ok(c.usage)
    }

    /// Saves `c` whole (replacing any conversation with its id).
    pub async fn save(&self, c: &Conversation) -> Result<(), ProtocolError> {
        let Some(db) = self.idb() else {
            self.memory().borrow_mut().insert(c.id.clone(), c.clone());
            return Ok(());
        };
        let record = records::encode_conversation(c);
        let (t, s) = tx(db, &[store::CONVERSATIONS], TransactionMode::ReadWrite)?;
        write_and_commit(t, async {
            s[0].put(&record, None).await.map_err(storage_error)
        })
        .await
    }

    /// Every conversation (or those with `ids`), oldest first by update.
    pub async fn conversations(
        &self,
        ids: Option<&[String]>,
    ) -> Result<Vec<Conversation>, ProtocolError> {
        let wanted = |c: &Conversation| ids.is_none_or(|ids| ids.contains(&c.id));
        let mut all: Vec<Conversation> = match self.idb() {
            None => self
                .memory()
                .borrow()
                .values()
                .filter(|c| wanted(c))
                .cloned()
                .collect(),
            Some(db) => {
                let rows = {
                    let (_tx, s) = tx(db, &[store::CONVERSATIONS], TransactionMode::ReadOnly)?;
                    s[0].get_all(None, None).await.map_err(storage_error)?
                };
                let mut out = Vec::new();
                for v in &rows {
                    match records::decode_conversation(v) {
                        Ok(c) if wanted(&c) => out.push(c),
                        Ok(_) => {}
                        Err(e) => self.quarantine(store::CONVERSATIONS, v, &e).await,
                    }
                }
                out
            }
        };
        all.sort_by(|a, b| a.updated_ms.total_cmp(&b.updated_ms));
        Ok(all)
    }

    /// Applies a validated import file under `policy`: existing ids are
    /// read and the plan (and the file's preferences) written in one
    /// transaction, so the import is all or nothing and races with no other
    /// write.
    pub async fn import(
        &self,
        file: ExportFile,
        policy: MergePolicy,
    ) -> Result<ImportPlan, ProtocolError> {
        let preferences = file.preferences.clone().unwrap_or_default();
        let Some(db) = self.idb() else {
            let existing = self
                .memory()
                .borrow()
                .values()
                .map(|c| (c.id.clone(), c.updated_ms))
                .collect();
            let plan = plan_import(file, &existing, policy);
            let mut m = self.memory().borrow_mut();
            for c in &plan.write {
                m.insert(c.id.clone(), c.clone());
            }
            drop(m);
            self.apply_preferences(&preferences);
            return Ok(plan);
        };
        let with_prefs = self.version >= 2 && !preferences.is_empty();
        let stores: &[&str] = if with_prefs {
            &[store::CONVERSATIONS, store::PREFERENCES]
        } else {
            &[store::CONVERSATIONS]
        };
        let (t, s) = tx(db, stores, TransactionMode::ReadWrite)?;
        let keys: std::collections::HashSet<String> = s[0]
            .get_all_keys(None, None)
            .await
            .map_err(storage_error)?
            .iter()
            .filter_map(JsValue::as_string)
            .collect();
        let mut existing: HashMap<String, f64> = HashMap::new();
        if file.conversations.iter().any(|c| keys.contains(&c.id)) {
            for v in s[0]
                .get_all(None, None)
                .await
                .map_err(storage_error)?
                .iter()
            {
                let id = Reflect::get(v, &"id".into())
                    .ok()
                    .and_then(|v| v.as_string());
                let updated = Reflect::get(v, &"updated".into())
                    .ok()
                    .and_then(|v| v.as_f64());
                if let (Some(id), Some(updated)) = (id, updated) {
                    existing.insert(id, updated);
                }
            }
        }
        let plan = plan_import(file, &existing, policy);
        let now = paperclip_platform::clock::now_ms();
        let writes = plan
            .write
            .iter()
            .map(|c| (records::encode_conversation(c), None));
        let prefs = async {
            if with_prefs {
                let rows = preferences
                    .iter()
                    .map(|(k, v)| (pref_record(k, v, now), None));
                s[1].put_all(rows).await.map_err(storage_error)
            } else {
                Ok(())
            }
        };
        let both = async {
            let (a, b) = futures::join!(s[0].put_all(writes), prefs);
            a.map_err(storage_error).and(b)
        };
        write_and_commit(t, both)
            .await
            .map_err(|e| storage_error(format!("import rolled back: {}", e.message)))?;
        self.apply_preferences(&preferences);
        Ok(plan)
    }

    fn apply_preferences(&self, preferences: &BTreeMap<String, serde_json::Value>) {
        let mut p = self.prefs.borrow_mut();
        for (k, v) in preferences {
            let _ = p.set(k, v);
        }
    }

    /// Deletes conversation `id`; false when it did not exist.
    pub async fn delete(&self, id: &str) -> Result<bool, ProtocolError> {
        let Some(db) = self.idb() else {
            return Ok(self.memory().borrow_mut().remove(id).is_some());
        };
        let (t, s) = tx(db, &[store::CONVERSATIONS], TransactionMode::ReadWrite)?;
        let existed = s[0].key_exists(id.into()).await.map_err(storage_error)?;
        s[0].delete(id.into()).await.map_err(storage_error)?;
        done(t).await?;
        Ok(existed)
    }

    fn idb(&self) -> Option<&Rexie> {
        match &self.backend {
            Backend::Idb(db) => Some(db),
            Backend::Memory(_) => None,
        }
    }

    fn memory(&self) -> &RefCell<BTreeMap<String, Conversation>> {
        match &self.backend {
            Backend::Memory(m) => m,
            Backend::Idb(_) => unreachable!("memory() is only called without IndexedDB"),
        }
    }

    // ----- quarantine and telemetry --------------------------------------

    /// Moves an unreadable record of `from` to quarantine and reports it
    /// (console and a telemetry error record). Never fails: a record that
    /// cannot even be moved is only reported.
    pub async fn quarantine(&self, from: &str, raw: &JsValue, error: &str) {
        web_sys::console::warn_1(
            &format!("paperclip: unreadable record in {from} quarantined: {error}").into(),
        );
        let Some(db) = self.db() else { return };
        let key_field = if from == store::CONTEXT_CACHE {
            "key"
        } else {
            "id"
        };
        let key = Reflect::get(raw, &key_field.into()).unwrap_or(JsValue::UNDEFINED);
        let moved: Result<(), ProtocolError> = async {
            let (t, s) = tx(db, &[from, store::QUARANTINE], TransactionMode::ReadWrite)?;
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

    /// Quarantined records, newest first (at most `limit`).
    pub async fn quarantined(&self, limit: u32) -> Result<Vec<QuarantineItem>, ProtocolError> {
        let Some(db) = self.db() else {
            return Ok(vec![]);
        };
        let (_tx, s) = tx(db, &[store::QUARANTINE], TransactionMode::ReadOnly)?;
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

    /// Appends telemetry records.
    pub async fn telemetry_add(&self, rows: &[TelemetryRow]) -> Result<(), ProtocolError> {
        let Some(db) = self.db() else { return Ok(()) };
        let (t, s) = tx(db, &[store::TELEMETRY], TransactionMode::ReadWrite)?;
        s[0].add_all(rows.iter().map(|r| (records::record(r), None)))
            .await
            .map_err(storage_error)?;
        done(t).await
    }

    /// Applies the telemetry store's bounds at `now_ms`: rows past the
    /// retention go, then the oldest beyond the size bound
    /// ([`paperclip_core::telemetry::persist`]). Returns how many went.
    pub async fn telemetry_trim(&self, now_ms: f64) -> Result<u32, ProtocolError> {
        use paperclip_core::telemetry::persist::{trim_plan, RETENTION_MS};
        let Some(db) = self.db() else { return Ok(0) };
        let (t, s) = tx(db, &[store::TELEMETRY], TransactionMode::ReadWrite)?;
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

    /// Telemetry rows of `kind` (`metric`, `event`, `error`, `span`),
    /// newest first, at most `limit`.
    pub async fn telemetry_rows(
        &self,
        kind: &str,
        limit: u32,
    ) -> Result<Vec<TelemetryRow>, ProtocolError> {
        let Some(db) = self.db() else {
            return Ok(vec![]);
        };
        let (_tx, s) = tx(db, &[store::TELEMETRY], TransactionMode::ReadOnly)?;
        let range = KeyRange::bound(
            &js_sys::Array::of2(&kind.into(), &f64::NEG_INFINITY.into()).into(),
            &js_sys::Array::of2(&kind.into(), &f64::INFINITY.into()).into(),
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
            .filter_map(|(_, v)| records::read::<TelemetryRow>(v).ok())
            .collect())
    }

    async fn count(&self, name: &str) -> Result<u64, ProtocolError> {
        let Some(db) = self.idb() else { return Ok(0) };
        let (_tx, s) = tx(db, &[name], TransactionMode::ReadOnly)?;
        Ok(u64::from(s[0].count(None).await.map_err(storage_error)?))
    }

    // ----- context cache --------------------------------------------------

    /// Stores `entry` in the memory tier and IndexedDB (write-through).
    pub async fn cache_put(&self, entry: CacheEntry, now_ms: u64) -> Result<(), ProtocolError> {
        self.cache_put_many(vec![entry], now_ms).await
    }

    /// Stores `entries` in both tiers, in one transaction.
    pub async fn cache_put_many(
        &self,
        entries: Vec<CacheEntry>,
        now_ms: u64,
    ) -> Result<(), ProtocolError> {
        let rows: Vec<JsValue> = entries.iter().map(records::encode_cache).collect();
        {
            let mut tier = self.cache.borrow_mut();
            for entry in entries {
                tier.put(entry, now_ms);
            }
        }
        let Some(db) = self.db() else { return Ok(()) };
        let save_stats = self.stats_due(rows.len() as u32);
        let (t, s) = tx(
            db,
            &[store::CONTEXT_CACHE, store::META],
            TransactionMode::ReadWrite,
        )?;
        let stats = self.cache_stats();
        let meta = async {
            if save_stats {
                meta_put(&s[1], META_CACHE_STATS, &stats).await
            } else {
                Ok(())
            }
        };
        let both = async {
            let (a, b) = futures::join!(s[0].put_all(rows.into_iter().map(|r| (r, None))), meta);
            a.map_err(storage_error).and(b)
        };
        write_and_commit(t, both).await
    }

    /// Counts `n` cache operations; true when the statistics are due to be
    /// written (the counter then restarts).
    fn stats_due(&self, n: u32) -> bool {
        let pending = self.unsaved_stats.get() + n;
        let due = pending >= STATS_EVERY;
        self.unsaved_stats.set(if due { 0 } else { pending });
        due
    }

    /// The live entry for `key`: the memory tier first, then IndexedDB
    /// (promoting what it finds). Expired entries are removed.
    pub async fn cache_get(
        &self,
        key: &str,
        now_ms: u64,
    ) -> Result<Option<CacheEntry>, ProtocolError> {
        let started = paperclip_platform::clock::now_ms();
        let found = match self.cache.borrow_mut().get(key, now_ms) {
            Lookup::Hit(e) => Some(e.clone()),
            Lookup::Expired | Lookup::Miss => None,
        };
        let found_in = |tier: &str| {
            report(Observation::CacheLookup {
                tier,
                ms: paperclip_platform::clock::now_ms() - started,
            });
        };
        if found.is_some() {
            found_in("memory");
        }
        // Lookups never wait for a write: the statistics are saved a few
        // seconds later (and by the next cache write that is due).
        self.unsaved_stats.set(self.unsaved_stats.get() + 1);
        crate::flush_cache_stats_soon();
        if found.is_some() {
            return Ok(found);
        }
        let Some(db) = self.db() else {
            found_in("miss");
            return Ok(None);
        };
        let value = {
            let (_tx, s) = tx(db, &[store::CONTEXT_CACHE], TransactionMode::ReadOnly)?;
            s[0].get(key.into()).await.map_err(storage_error)?
        };
        found_in(if value.is_some() { "disk" } else { "miss" });
        let Some(value) = value else { return Ok(None) };
        match records::decode_cache(&value) {
            Ok(entry) if entry.expired(now_ms) => {
                self.cache_delete(db, key).await?;
                Ok(None)
            }
            Ok(mut entry) => {
                self.disk_hits.set(self.disk_hits.get() + 1);
                entry.last_used_ms = entry.last_used_ms.max(now_ms);
                self.cache.borrow_mut().put(entry.clone(), now_ms);
                Ok(Some(entry))
            }
            Err(e) => {
                self.quarantine(store::CONTEXT_CACHE, &value, &e).await;
                Ok(None)
            }
        }
    }

    async fn cache_delete(&self, db: &Rexie, key: &str) -> Result<(), ProtocolError> {
        let (t, s) = tx(db, &[store::CONTEXT_CACHE], TransactionMode::ReadWrite)?;
        s[0].delete(key.into()).await.map_err(storage_error)?;
        done(t).await
    }

    /// Forgets `key` in the memory tier only (the benchmark reads the
    /// persistent tier this way).
    pub fn cache_forget_in_memory(&self, key: &str) {
        self.cache.borrow_mut().remove(key);
    }

    /// Removes every entry whose key starts with `prefix`, in both tiers;
    /// returns how many were on disk.
    pub async fn cache_invalidate(&self, prefix: &str) -> Result<u32, ProtocolError> {
        let in_memory = self.cache.borrow_mut().invalidate_prefix(prefix).len() as u32;
        let Some(db) = self.db() else {
            return Ok(in_memory);
        };
        let range = KeyRange::bound(
            &prefix.into(),
            &format!("{prefix}\u{10FFFF}").into(),
            Some(false),
            Some(false),
        )
        .map_err(storage_error)?;
        let (t, s) = tx(
            db,
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
        meta_put(&s[1], META_CACHE_STATS, &self.cache_stats()).await?;
        done(t).await?;
        Ok(keys.len() as u32)
    }

    /// Fills the memory tier with the most recently used live entries.
    pub async fn cache_warm(&self, now_ms: u64) -> Result<(), ProtocolError> {
        let Some(db) = self.db() else { return Ok(()) };
        let max = self.cache.borrow().stats().entries as u32
            + limits_for(&self.prefs.borrow()).max_entries as u32;
        let rows = {
            let (_tx, s) = tx(db, &[store::CONTEXT_CACHE], TransactionMode::ReadOnly)?;
            s[0].index(schema::BY_LAST_USED.name)
                .map_err(storage_error)?
                .scan(None, Some(max), None, Some(Direction::Prev))
                .await
                .map_err(storage_error)?
        };
        let entries = rows
            .iter()
            .filter_map(|(_, v)| records::decode_cache(v).ok())
            .collect();
        self.cache.borrow_mut().warm(entries, now_ms);
        Ok(())
    }

    /// Entries in the memory tier.
    pub fn cache_memory_len(&self) -> usize {
        self.cache.borrow().len()
    }

    /// Statistics, including those of earlier worker instances.
    pub fn cache_stats(&self) -> CacheStats {
        let mut s = self.cache.borrow().stats();
        let disk = self.disk_hits.get();
        s.hits += disk;
        s.misses = s.misses.saturating_sub(disk);
        s.merge_counts(&self.cache_base.get());
        s
    }

    /// Writes the statistics to `meta` (also done every [`STATS_EVERY`]
    /// cache operations, by status reads and by the cleanup job).
    pub async fn flush_cache_stats(&self) -> Result<(), ProtocolError> {
        self.unsaved_stats.set(0);
        let Some(db) = self.db() else { return Ok(()) };
        let (t, s) = tx(db, &[store::META], TransactionMode::ReadWrite)?;
        meta_put(&s[0], META_CACHE_STATS, &self.cache_stats()).await?;
        done(t).await
    }

    // ----- engine state -----------------------------------------------------

    /// The `meta` record `key`, stored as JSON text (memory: this instance only).
    pub async fn meta_json<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, ProtocolError> {
        let text = match self.db() {
            Some(db) => {
                let (_tx, s) = tx(db, &[store::META], TransactionMode::ReadOnly)?;
                meta_get::<String>(&s[0], key).await?
            }
            None => self.memory_meta.borrow().get(key).cloned(),
        };
        match text {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| storage_error(format!("meta {key}: {e}"))),
        }
    }

    /// Stores `value` as the `meta` record `key`.
    pub async fn set_meta_json<T: serde::Serialize>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), ProtocolError> {
        let text = serde_json::to_string(value).map_err(storage_error)?;
        match self.db() {
            Some(db) => {
                let (t, s) = tx(db, &[store::META], TransactionMode::ReadWrite)?;
                meta_put(&s[0], key, &text).await?;
                done(t).await
            }
            None => {
                self.memory_meta.borrow_mut().insert(key.to_string(), text);
                Ok(())
            }
        }
    }

    // ----- preferences ----------------------------------------------------

    /// The current preferences.
    pub fn preferences(&self) -> Preferences {
        self.prefs.borrow().clone()
    }

    /// Preferences as listed to the UI.
    pub fn preference_entries(&self, category: Option<Category>) -> Vec<PrefEntry> {
        self.prefs.borrow().entries(category)
    }

    /// Validates `value` for `key`, stores it, then applies it; a bad value
    /// is an error and nothing changes.
    pub async fn set_preference(
        &self,
        key: &str,
        value: &serde_json::Value,
    ) -> Result<serde_json::Value, ProtocolError> {
        let clean =
            Preferences::validate(key, value).map_err(|e| ProtocolError::failed(e.to_string()))?;
        if let Some(db) = self.db() {
            let (t, s) = tx(
                db,
                &[store::PREFERENCES, store::META],
                TransactionMode::ReadWrite,
            )?;
            s[0].put(
                &pref_record(key, &clean, paperclip_platform::clock::now_ms()),
                None,
            )
            .await
            .map_err(storage_error)?;
            meta_put(&s[1], META_PREFS_VERSION, &prefs::PREFS_VERSION).await?;
            done(t).await?;
        }
        let before = limits_for(&self.prefs.borrow());
        self.prefs
            .borrow_mut()
            .set(key, &clean)
            .map_err(|e| ProtocolError::failed(e.to_string()))?;
        let after = limits_for(&self.prefs.borrow());
        if before != after {
            *self.cache.borrow_mut() = MemoryTier::new(after);
            self.cache_warm(paperclip_platform::clock::now_ms() as u64)
                .await?;
        }
        Ok(clean)
    }

    // ----- maintenance ------------------------------------------------------

    /// Health of the storage: quota, counts, cache statistics, quarantine.
    pub async fn status(&self) -> Result<StorageStatus, ProtocolError> {
        let (usage, quota) = estimate().await;
        let (mut conversations, mut compressed, mut saved) = (0, 0, 0);
        if let Some(db) = self.db() {
            let rows = {
                let (_tx, s) = tx(db, &[store::CONVERSATIONS], TransactionMode::ReadOnly)?;
                s[0].get_all(None, None).await.map_err(storage_error)?
            };
            for v in &rows {
                conversations += 1;
                if let Ok(head) = records::decode_head(v) {
                    let stored = records::data_of(v).map_or(0, |d| u64::from(d.length()));
                    let (_, s) = head.sizes(stored);
                    if s > 0 {
                        compressed += 1;
                        saved += s;
                    }
                }
            }
        } else if let Backend::Memory(m) = &self.backend {
            conversations = m.borrow().len() as u64;
        }
        self.flush_cache_stats().await?;
        Ok(StorageStatus {
            persistent: self.persistent(),
            notice: self.notice.clone(),
            schema_version: self.version,
            usage_bytes: usage,
            quota_bytes: quota,
            quota: maintenance::quota_level(usage, quota),
            conversations,
            compressed,
            bytes_saved: saved,
            cache_entries: if self.db().is_some() {
                self.count(store::CONTEXT_CACHE).await?
            } else {
                self.cache_memory_len() as u64
            },
            cache: self.cache_stats(),
            telemetry_records: if self.db().is_some() {
                self.count(store::TELEMETRY).await?
            } else {
                0
            },
            quarantine: self.quarantined(50).await?,
            last_maintenance_ms: match self.db() {
                Some(db) => {
                    let (_tx, s) = tx(db, &[store::META], TransactionMode::ReadOnly)?;
                    meta_get::<f64>(&s[0], META_LAST_MAINTENANCE)
                        .await?
                        .unwrap_or(0.0)
                }
                None => 0.0,
            },
        })
    }

    /// The cleanup job: expired cache entries, retention, then the storage
    /// budget (cache first; conversations only when allowed).
    pub async fn maintain(
        &self,
        now_ms: f64,
        budget: Budget,
    ) -> Result<MaintenanceReport, ProtocolError> {
        let mut report = MaintenanceReport::default();
        let now = now_ms as u64;
        report.expired_cache = self.cache.borrow_mut().purge_expired(now).len() as u32;
        let Some(db) = self.db() else {
            if let Some(cutoff) = maintenance::retention_cutoff(now_ms, budget.retention_days) {
                let mut m = self.memory().borrow_mut();
                let before = m.len();
                m.retain(|_, c| c.updated_ms >= cutoff);
                report.retention_deleted = (before - m.len()) as u32;
            }
            return Ok(report);
        };
        // One pass over the cache: expired entries go, the rest are budget candidates.
        let cache_rows = {
            let (_tx, s) = tx(db, &[store::CONTEXT_CACHE], TransactionMode::ReadOnly)?;
            s[0].get_all(None, None).await.map_err(storage_error)?
        };
        let mut live = Vec::new();
        let mut expired = Vec::new();
        for v in &cache_rows {
            match records::decode_cache(v) {
                Ok(e) if e.expired(now) => expired.push(e.key),
                Ok(e) => live.push(e),
                Err(e) => self.quarantine(store::CONTEXT_CACHE, v, &e).await,
            }
        }
        report.expired_cache = report.expired_cache.max(expired.len() as u32);
        self.delete_keys(db, store::CONTEXT_CACHE, &expired).await?;

        let mut retained = Vec::new();
        let cutoff = maintenance::retention_cutoff(now_ms, budget.retention_days);
        let mut old = Vec::new();
        {
            let rows = {
                let (_tx, s) = tx(db, &[store::CONVERSATIONS], TransactionMode::ReadOnly)?;
                s[0].get_all(None, None).await.map_err(storage_error)?
            };
            for v in &rows {
                let Ok(head) = records::decode_head(v) else {
                    continue;
                };
                let bytes = records::data_of(v).map_or(0, |d| u64::from(d.length()));
                let s = head.summary();
                if cutoff.is_some_and(|cut| s.updated_ms < cut) {
                    old.push(s.id);
                } else {
                    retained.push(StoredConversation {
                        id: s.id,
                        updated_ms: s.updated_ms,
                        bytes: bytes + 128,
                    });
                }
            }
        }
        report.retention_deleted = old.len() as u32;
        self.delete_keys(db, store::CONVERSATIONS, &old).await?;

        let used: u64 = retained.iter().map(|c| c.bytes).sum::<u64>()
            + live.iter().map(|e| e.size() as u64).sum::<u64>();
        let plan = maintenance::budget_plan(
            used,
            budget.bytes,
            &live,
            &retained,
            budget.allow_conversations,
            now,
        );
        for key in &plan.cache_keys {
            self.cache.borrow_mut().remove(key);
        }
        self.delete_keys(db, store::CONTEXT_CACHE, &plan.cache_keys)
            .await?;
        self.delete_keys(db, store::CONVERSATIONS, &plan.conversation_ids)
            .await?;
        report.budget_cache_evicted = plan.cache_keys.len() as u32;
        report.budget_conversations_deleted = plan.conversation_ids.len() as u32;
        report.still_over_budget = plan.still_over;
        report.used_bytes = used.saturating_sub(plan.bytes_freed);

        let (t, s) = tx(db, &[store::META], TransactionMode::ReadWrite)?;
        meta_put(&s[0], META_LAST_MAINTENANCE, &now_ms).await?;
        meta_put(&s[0], META_CACHE_STATS, &self.cache_stats()).await?;
        done(t).await?;
        self::report(Observation::Maintenance {
            removed: report.retention_deleted
                + report.budget_conversations_deleted
                + report.budget_cache_evicted
                + report.expired_cache,
            still_over_budget: plan.still_over,
        });
        Ok(report)
    }

    async fn delete_keys(
        &self,
        db: &Rexie,
        name: &str,
        keys: &[String],
    ) -> Result<(), ProtocolError> {
        if keys.is_empty() {
            return Ok(());
        }
        let (t, s) = tx(db, &[name], TransactionMode::ReadWrite)?;
        for k in keys {
            s[0].delete(k.as_str().into())
                .await
                .map_err(storage_error)?;
        }
        done(t).await
    }
}

/// What the cleanup job may delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Bytes the engine may use.
    pub bytes: u64,
    /// Whether old conversations may be deleted to stay under it.
    pub allow_conversations: bool,
    /// Delete conversations older than this many days (0: never).
    pub retention_days: u32,
}

impl Budget {
    /// The budget the user's preferences set.
    pub fn from_preferences(p: &Preferences) -> Self {
        Budget {
            bytes: u64::from(p.storage_budget_mb) * 1024 * 1024,
            allow_conversations: p.evict_conversations,
            retention_days: p.retention_days,
        }
    }
}

fn limits_for(p: &Preferences) -> CacheLimits {
    CacheLimits {
        max_entries: p.memory_cache_entries as usize,
        ..CacheLimits::default()
    }
}

fn pref_record(key: &str, value: &serde_json::Value, now: f64) -> JsValue {
    records::record(&PreferenceRecord {
        key: key.into(),
        value: value.to_string(),
        category: prefs::category_of(key)
            .map_or("unknown", Category::as_str)
            .into(),
        updated: now,
    })
}

async fn meta_get<T: for<'de> serde::Deserialize<'de>>(
    s: &rexie::Store,
    key: &str,
) -> Result<Option<T>, ProtocolError> {
    let Some(v) = s.get(key.into()).await.map_err(storage_error)? else {
        return Ok(None);
    };
    let value = Reflect::get(&v, &"value".into()).unwrap_or(JsValue::UNDEFINED);
    Ok(serde_wasm_bindgen::from_value(value).ok())
}

async fn meta_put<T: serde::Serialize>(
    s: &rexie::Store,
    key: &str,
    value: &T,
) -> Result<(), ProtocolError> {
    let record = js_sys::Object::new();
    let v = serde_wasm_bindgen::to_value(value).map_err(storage_error)?;
    Reflect::set(&record, &"key".into(), &key.into()).map_err(|_| storage_error("meta"))?;
    Reflect::set(&record, &"value".into(), &v).map_err(|_| storage_error("meta"))?;
    s.put(&record, None).await.map_err(storage_error)?;
    Ok(())
}

/// `navigator.storage.estimate()`: (usage, quota) in bytes; zeros when the
/// browser does not say.
pub async fn estimate() -> (u64, u64) {
    let result: Option<JsValue> = async {
        let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).ok()?;
        let storage = Reflect::get(&navigator, &"storage".into()).ok()?;
        let f = Reflect::get(&storage, &"estimate".into()).ok()?;
        let promise = f.dyn_ref::<js_sys::Function>()?.call0(&storage).ok()?;
        JsFuture::from(js_sys::Promise::from(promise)).await.ok()
    }
    .await;
    let field = |name: &str| {
        result
            .as_ref()
            .and_then(|r| Reflect::get(r, &name.into()).ok())
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0) as u64
    };
    (field("usage"), field("quota"))
}
