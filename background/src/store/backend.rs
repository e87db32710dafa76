//! The one abstraction the storage engine works through: [`Backend`], what
//! any place that keeps Paperclip's data must do. Two implement it:
//! [`super::idb::IndexedDb`] (the normal case) and [`super::memory::Memory`]
//! (the fallback when IndexedDB cannot be opened; nothing survives the
//! worker). [`super::Store`] holds one of them and never asks which: the
//! policy (what to list, keep, evict or delete) is decided once, above
//! this trait, mostly in `paperclip-core`.
//!
//! Every operation that reads and then writes (a conversation change, an
//! import) is one call, so the IndexedDB backend can do it in one
//! transaction. Records that cannot be decoded are the backend's to
//! quarantine; callers only see the readable ones.

use async_trait::async_trait;
use paperclip_core::cache::{CacheEntry, CacheStats};
use paperclip_core::conversation::{Conversation, ConversationSummary};
use paperclip_core::export::{ExportFile, ImportPlan, MergePolicy};
use paperclip_core::protocol::{ProtocolError, QuarantineItem};
use paperclip_core::query::{Cursor, Filter};
use paperclip_core::telemetry::persist::Row;
use serde_json::Value;
use wasm_bindgen::JsValue;

/// A change to one conversation (given the stored one, if any).
pub type Change<'a> =
    Box<dyn FnOnce(Option<Conversation>) -> Result<Conversation, ProtocolError> + 'a>;

/// A change to one `meta` record (given the stored value, if any): the
/// value to store.
pub type MetaChange<'a> = Box<dyn FnOnce(Option<JsValue>) -> Result<JsValue, ProtocolError> + 'a>;

/// A stored conversation's size, for the cleanup job and the status.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSize {
    /// Its id.
    pub id: String,
    /// Last change, ms.
    pub updated_ms: f64,
    /// Bytes it takes as stored.
    pub bytes: u64,
    /// Bytes compression saved (0 when not compressed).
    pub saved: u64,
}

/// How many records each store held when it was emptied
/// ([`Backend::clear_all`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cleared {
    /// Conversations.
    pub conversations: u64,
    /// Context-cache entries.
    pub cache_entries: u64,
    /// Stored preferences.
    pub preferences: u64,
    /// Telemetry rows.
    pub telemetry_rows: u64,
    /// Quarantined records.
    pub quarantined: u64,
    /// `meta` records.
    pub meta: u64,
}

/// A page of conversation summaries and the cursor after it.
pub type Page = (Vec<ConversationSummary>, Option<Cursor>);

/// What every storage backend does. `Err` is a storage failure (the
/// backend could not do it); an unreadable record is not an error.
#[async_trait(?Send)]
pub trait Backend {
    /// True when data survives the worker.
    fn persistent(&self) -> bool;
    /// Lets go of the database (tests reopen it to prove what persisted).
    fn close(self: Box<Self>);

    // ----- conversations ---------------------------------------------------

    /// Up to `limit` summaries matching `filter` after `cursor`, newest
    /// first, and the cursor of the next page when there is one.
    async fn list(
        &self,
        filter: &Filter,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> Result<Page, ProtocolError>;
    /// Conversation `id`.
    async fn get(&self, id: &str) -> Result<Option<Conversation>, ProtocolError>;
    /// The most recently updated conversation of `site`.
    async fn latest_for_site(&self, site: &str) -> Result<Option<Conversation>, ProtocolError>;
    /// Reads conversation `id`, applies `change` and writes its result, as
    /// one step (nothing is written when `change` fails).
    async fn modify<'a>(&self, id: &str, change: Change<'a>)
        -> Result<Conversation, ProtocolError>;
    /// Saves `c` whole.
    async fn save(&self, c: &Conversation) -> Result<(), ProtocolError>;
    /// Deletes conversation `id`; false when it did not exist.
    async fn delete(&self, id: &str) -> Result<bool, ProtocolError>;
    /// Deletes the conversations `ids` (missing ones are skipped).
    async fn delete_conversations(&self, ids: &[String]) -> Result<(), ProtocolError>;
    /// Every conversation's id, newest first.
    async fn conversation_ids(&self) -> Result<Vec<String>, ProtocolError>;
    /// Reads the conversations `ids` in that order (one at a time, in one
    /// read), handing each to `visit` until it returns false (missing ones
    /// are skipped): how many of `ids` were read.
    async fn read_conversations(
        &self,
        ids: &[String],
        visit: &mut dyn FnMut(Conversation) -> bool,
    ) -> Result<usize, ProtocolError>;
    /// Hands `visit` the size of every conversation, one after another
    /// (the store is never held whole).
    async fn visit_sizes(&self, visit: &mut dyn FnMut(StoredSize)) -> Result<(), ProtocolError>;
    /// Plans `file` under `policy` against what is stored and writes the
    /// plan, all or nothing (a file's preferences are only offered; see
    /// [`paperclip_core::export::offered_preferences`]).
    async fn import(
        &self,
        file: ExportFile,
        policy: MergePolicy,
    ) -> Result<ImportPlan, ProtocolError>;

    // ----- the context cache's persistent tier ------------------------------

    /// The stored entry for `key` (expired or not).
    async fn cache_get(&self, key: &str) -> Result<Option<CacheEntry>, ProtocolError>;
    /// Stores `entries` and, when given, the cache statistics.
    async fn cache_put(
        &self,
        entries: &[CacheEntry],
        stats: Option<CacheStats>,
    ) -> Result<(), ProtocolError>;
    /// Deletes the entries `keys`.
    async fn cache_delete(&self, keys: &[String]) -> Result<(), ProtocolError>;
    /// Deletes every entry whose key starts with `prefix` and stores
    /// `stats`; returns how many went.
    async fn cache_invalidate(&self, prefix: &str, stats: CacheStats)
        -> Result<u32, ProtocolError>;
    /// Up to `max` entries, most recently used first.
    async fn cache_recent(&self, max: u32) -> Result<Vec<CacheEntry>, ProtocolError>;
    /// Every entry.
    async fn cache_all(&self) -> Result<Vec<CacheEntry>, ProtocolError>;
    /// How many entries there are.
    async fn cache_count(&self) -> Result<u64, ProtocolError>;

    // ----- preferences and meta ---------------------------------------------

    /// The stored preferences (as written, not yet validated) and the
    /// preferences version they were written under, if recorded.
    async fn preferences(&self) -> Result<(Option<u32>, Vec<(String, Value)>), ProtocolError>;
    /// Stores `entries` (validated) with the current preferences version.
    async fn put_preferences(
        &self,
        entries: &[(String, Value)],
        now_ms: f64,
    ) -> Result<(), ProtocolError>;
    /// The `meta` record `key`'s value.
    async fn meta_get(&self, key: &str) -> Result<Option<JsValue>, ProtocolError>;
    /// Stores `entries` as `meta` records, together.
    async fn meta_put(&self, entries: &[(&str, JsValue)]) -> Result<(), ProtocolError>;
    /// Deletes the `meta` records `keys`, together; returns how many existed.
    async fn meta_delete(&self, keys: &[String]) -> Result<u64, ProtocolError>;
    /// Reads the `meta` record `key`, stores what `change` makes of it and
    /// returns that, in one transaction (a failed change writes nothing).
    async fn meta_modify<'a>(
        &self,
        key: &str,
        change: MetaChange<'a>,
    ) -> Result<JsValue, ProtocolError>;

    // ----- quarantine and telemetry rows ------------------------------------

    /// Records set aside because they could not be read, newest first.
    async fn quarantined(&self, limit: u32) -> Result<Vec<QuarantineItem>, ProtocolError>;
    /// Appends telemetry rows.
    async fn telemetry_add(&self, rows: &[Row]) -> Result<(), ProtocolError>;
    /// Applies the telemetry bounds at `now_ms`; returns how many rows went.
    async fn telemetry_trim(&self, now_ms: f64) -> Result<u32, ProtocolError>;
    /// Rows of `kind`, newest first, at most `limit`.
    async fn telemetry_rows(
        &self,
        kind: &str,
        from_ms: f64,
        to_ms: f64,
        limit: u32,
    ) -> Result<Vec<Row>, ProtocolError>;
    /// How many telemetry rows there are.
    async fn telemetry_count(&self) -> Result<u64, ProtocolError>;
    /// Deletes every telemetry row; returns how many there were.
    async fn telemetry_clear(&self) -> Result<u64, ProtocolError>;

    // ----- deleting everything ----------------------------------------------

    /// Empties every store, all or nothing; returns what each held.
    async fn clear_all(&self) -> Result<Cleared, ProtocolError>;
}
