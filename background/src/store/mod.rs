//! The storage engine. [`Store`] is what the rest of the worker uses; it
//! works through one [`Backend`](backend::Backend): IndexedDB
//! ([`idb::IndexedDb`], the database `paperclip` opened and migrated by
//! [`open`]) or, when IndexedDB cannot be opened, memory
//! ([`memory::Memory`]; then the UI says history will not persist). It
//! never asks which one it has.
//!
//! Stores (layout in [`paperclip_core::schema`]): `conversations`,
//! `context_cache` (behind a bounded memory tier, write-through),
//! `preferences`, `telemetry`, `quarantine` (records that failed to decode)
//! and `meta` (cache statistics, settings version, last cleanup, the usage
//! ledger). Policy —
//! what to list, evict, keep or delete — is decided in `paperclip-core`;
//! the store applies it and the backend does the I/O. The store's parts:
//! [`conversations`](self::conversations) (listing, changes, import),
//! [`cache`](self::cache) (the two tiers), [`settings`] (preferences and
//! `meta`), [`maintenance`] (status and the cleanup job), [`data`]
//! (deleting everything, a site's data, the telemetry rows),
//! [`telemetry_rows`] (the telemetry sink's store) and [`usage`] (tokens
//! and cost per day and provider). It reports what it did as
//! [`Observation`]s and writes no telemetry itself. Nothing here
//! panics on bad data.

pub mod backend;
mod cache;
mod conversations;
mod data;
pub mod idb;
mod maintenance;
pub mod memory;
pub mod open;
pub mod records;
mod settings;
mod telemetry_rows;
pub mod usage;

use std::cell::{Cell, RefCell};

use paperclip_core::cache::{CacheLimits, CacheStats, MemoryTier};
use paperclip_core::prefs::Preferences;
use paperclip_core::protocol::ProtocolError;
use wasm_bindgen::JsValue;

use backend::Backend;
pub use maintenance::{estimate, Budget};
pub use open::OpenOptions;
use settings::limits_for;

/// Database name.
pub const DB_NAME: &str = "paperclip";

const META_CACHE_STATS: &str = "cache_stats";
const META_PREFS_VERSION: &str = "prefs_version";
const META_LAST_MAINTENANCE: &str = "last_maintenance";

/// What the storage engine reports about itself. The worker turns these
/// into telemetry ([`observe`]); the store writes no telemetry of its own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Observation<'a> {
    /// An operation took `ms` and succeeded or not.
    Operation { op: &'static str, ok: bool, ms: f64 },
    /// A context-cache lookup was answered by `tier` (`memory`, `disk`,
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
    /// What the pages show changed: conversations or preferences.
    Changed(paperclip_core::protocol::Topic),
    /// The `meta` record `key` was written.
    MetaWritten { key: &'a str },
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

/// The storage engine.
pub struct Store {
    backend: Box<dyn Backend>,
    /// Why storage is not persistent (or what opening it reported).
    notice: Option<String>,
    version: u32,
    cache: RefCell<MemoryTier>,
    /// Counters persisted by earlier instances.
    cache_base: Cell<CacheStats>,
    /// Lookups the memory tier missed but the backend answered.
    disk_hits: Cell<u64>,
    /// Cache operations since the statistics were last written.
    unsaved_stats: Cell<u32>,
    prefs: RefCell<Preferences>,
}

fn storage_error(e: impl std::fmt::Display) -> ProtocolError {
    ProtocolError::failed(format!("storage: {e}"))
}

/// `value` as a JavaScript value (plain objects), for `meta`.
fn to_js<T: serde::Serialize>(value: &T) -> Result<JsValue, ProtocolError> {
    serde_wasm_bindgen::to_value(value).map_err(storage_error)
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
                let store = Self::new(Box::new(idb::IndexedDb::new(db)), None, options.version);
                store.load_state().await;
                store
            }
            Err(e) => {
                web_sys::console::warn_1(&format!("paperclip: {e}").into());
                Self::in_memory(Some(format!(
                    "{e}. History is kept in memory and will not persist."
                )))
            }
        }
    }

    /// A store in memory (the fallback), saying `notice` to the UI.
    pub fn in_memory(notice: Option<String>) -> Store {
        Self::new(Box::<memory::Memory>::default(), notice, 0)
    }

    fn new(backend: Box<dyn Backend>, notice: Option<String>, version: u32) -> Store {
        Store {
            backend,
            notice,
            version,
            cache: RefCell::new(MemoryTier::new(CacheLimits::default())),
            cache_base: Cell::default(),
            disk_hits: Cell::new(0),
            unsaved_stats: Cell::new(0),
            prefs: RefCell::default(),
        }
    }

    /// Closes the database (tests reopen it to prove what persisted).
    pub fn close(self) {
        self.backend.close();
    }

    /// True when data survives the worker.
    pub fn persistent(&self) -> bool {
        self.backend.persistent()
    }

    /// Why storage is not persistent, if it is not.
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    /// The database's schema version (0 in memory).
    pub fn schema_version(&self) -> u32 {
        self.version
    }

    /// Loads preferences and cache statistics, and warms the memory tier.
    async fn load_state(&self) {
        if let Err(e) = self.load_settings().await {
            web_sys::console::warn_1(&format!("paperclip: could not load settings: {e}").into());
        }
        if let Err(e) = self
            .cache_warm(paperclip_platform::clock::now_ms() as u64)
            .await
        {
            web_sys::console::warn_1(&format!("paperclip: cache warm-up failed: {e}").into());
        }
    }
}
