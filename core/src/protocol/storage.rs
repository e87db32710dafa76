//! Preferences, storage health, the cleanup job and the context cache.

use serde::{Deserialize, Serialize};

/// Lists preferences, optionally of one category.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct GetPreferences {
    /// Only this category.
    #[serde(default)]
    pub category: Option<crate::prefs::Category>,
}

/// Preferences with values and defaults.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PreferenceList {
    /// In a stable order.
    pub entries: Vec<crate::prefs::PrefEntry>,
}

/// Sets preference `key` to `value`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SetPreference {
    /// E.g. `ui.theme`.
    pub key: String,
    /// The new value (validated; a bad value is an error and nothing changes).
    pub value: serde_json::Value,
}

/// The stored (sanitised) value.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PreferenceSet {
    /// The key.
    pub key: String,
    /// The value as stored.
    pub value: serde_json::Value,
}

/// Asks for [`StorageStatus`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct GetStorageStatus {}

/// A record that failed to decode, kept aside.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct QuarantineItem {
    /// Store it came from.
    pub store: String,
    /// Its key there.
    pub key: String,
    /// Why it could not be read.
    pub error: String,
    /// When it was quarantined, ms.
    pub time_ms: f64,
    /// Size of the raw record, bytes.
    pub bytes: u64,
}

/// Storage health.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct StorageStatus {
    /// False when storage fell back to memory.
    pub persistent: bool,
    /// Why storage is not persistent, or what went wrong opening it.
    pub notice: Option<String>,
    /// Schema version of the open database (0 in memory).
    pub schema_version: u32,
    /// `navigator.storage.estimate()` usage, bytes.
    pub usage_bytes: u64,
    /// `navigator.storage.estimate()` quota, bytes.
    pub quota_bytes: u64,
    /// Warning level.
    pub quota: crate::maintenance::QuotaLevel,
    /// Stored conversations.
    pub conversations: u64,
    /// Of which compressed.
    pub compressed: u64,
    /// Bytes compression saved on them.
    pub bytes_saved: u64,
    /// Context-cache entries on disk.
    pub cache_entries: u64,
    /// Cache statistics (persisted across restarts).
    pub cache: crate::cache::CacheStats,
    /// Stored telemetry records.
    pub telemetry_records: u64,
    /// Quarantined records, newest first.
    pub quarantine: Vec<QuarantineItem>,
    /// When the cleanup job last ran, ms (0: never).
    pub last_maintenance_ms: f64,
}

/// Asks the background to run the cleanup job now.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct RunMaintenance {}

/// What the cleanup job did.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct MaintenanceReport {
    /// Expired cache entries removed.
    pub expired_cache: u32,
    /// Conversations removed by retention.
    pub retention_deleted: u32,
    /// Cache entries removed for the budget.
    pub budget_cache_evicted: u32,
    /// Conversations removed for the budget (only when allowed).
    pub budget_conversations_deleted: u32,
    /// True when still over the budget.
    pub still_over_budget: bool,
    /// Bytes in use after the job (the engine's own count).
    pub used_bytes: u64,
}

/// Drops cache entries by key prefix.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct InvalidateCache {
    /// Key prefix ("" drops everything).
    pub prefix: String,
}

/// How many entries were dropped.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct CacheInvalidated {
    /// Entries removed from disk.
    pub removed: u32,
}

/// Deletes every piece of data Paperclip keeps (conversations, the context
/// cache, telemetry and its export queue, providers and their keys,
/// preferences and every other setting), leaving it as freshly installed.
/// Refused unless `confirm` is true.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct DeleteAllData {
    /// The user confirmed; without it nothing is deleted.
    pub confirm: bool,
}

/// What deleting everything removed, by kind.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct AllDataDeleted {
    /// Conversations.
    pub conversations: u64,
    /// Context-cache entries on disk (page contexts and cached answers).
    pub cache_entries: u64,
    /// Stored telemetry records.
    pub telemetry_rows: u64,
    /// Telemetry batches that waited to be exported.
    pub export_batches: u64,
    /// AI providers (with their keys).
    pub providers: u64,
    /// Preferences changed from their defaults.
    pub preferences: u64,
    /// Other settings and state: reliability settings, prices, telemetry
    /// export settings, where the agent sits and hint state per site,
    /// breakers, statistics.
    pub settings: u64,
    /// Records set aside because they could not be read.
    pub quarantined: u64,
}

/// Deletes one site's data: its conversations, context-cache entries,
/// the agent's place and hint state there, and its place in the hint
/// sites.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct DeleteSiteData {
    /// An http(s) origin, e.g. `https://example.com` (validated).
    pub site: String,
}

/// What deleting a site's data removed.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct SiteDataDeleted {
    /// The site, normalised.
    pub site: String,
    /// Conversations.
    pub conversations: u64,
    /// Context-cache entries (page contexts and cached answers).
    pub cache_entries: u64,
    /// The agent's place and hint state there.
    pub settings: u64,
    /// Whether it was removed from the hint sites.
    pub hint_site: bool,
}

/// Deletes the telemetry: stored records, what the engine holds in memory
/// and the batches waiting for export (the export settings stay).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct ClearTelemetry {}

/// What clearing telemetry removed.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct TelemetryCleared {
    /// Stored telemetry records.
    pub rows: u64,
    /// Batches that waited to be exported.
    pub export_batches: u64,
}

/// The most context-cache entries one [`ListCacheEntries`] answers.
pub const MAX_CACHE_LISTED: u32 = 1_000;

/// Asks for [`CacheEntryList`]: the context cache's entries, most
/// recently used first (the devtools panel's Storage tab).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ListCacheEntries {
    /// At most this many (at most [`MAX_CACHE_LISTED`]).
    pub limit: u32,
}

/// One context-cache entry, without its value.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct CacheEntryInfo {
    /// Its key.
    pub key: String,
    /// Its value's size, bytes.
    pub bytes: u64,
    /// When it was written, ms.
    pub stored_ms: u64,
    /// When it expires, ms (`None`: never).
    pub expires_ms: Option<u64>,
    /// Last used, ms.
    pub last_used_ms: u64,
    /// The providers that produced or used it.
    pub providers: Vec<String>,
}

impl From<&crate::cache::CacheEntry> for CacheEntryInfo {
    fn from(e: &crate::cache::CacheEntry) -> Self {
        Self {
            key: e.key.clone(),
            bytes: e.value.len() as u64,
            stored_ms: e.stored_ms,
            expires_ms: (e.ttl_ms > 0).then(|| e.stored_ms.saturating_add(e.ttl_ms)),
            last_used_ms: e.last_used_ms,
            providers: e.providers.clone(),
        }
    }
}

/// The context cache's entries.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct CacheEntryList {
    /// Most recently used first.
    pub entries: Vec<CacheEntryInfo>,
    /// How many entries there are in all.
    pub total: u64,
}

/// Deletes one context-cache entry (both tiers).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct DeleteCacheEntry {
    /// Its key, exactly.
    pub key: String,
}

/// After [`DeleteCacheEntry`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct CacheEntryDeleted {
    /// The key.
    pub key: String,
}

/// Asks for [`SyncStatus`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct GetSyncStatus {}

/// How settings sync went the last time it ran.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct SyncStatus {
    /// `privacy.sync_settings` is on.
    pub enabled: bool,
    /// When it last ran (ms since the epoch).
    #[serde(default)]
    pub at_ms: Option<f64>,
    /// Settings taken from other devices.
    #[serde(default)]
    pub applied: u32,
    /// Settings written for other devices.
    #[serde(default)]
    pub pushed: u32,
    /// What was found there and not applied, and why.
    #[serde(default)]
    pub refused: Vec<crate::sync::Refused>,
    /// Why it failed, if it did (nothing was written then).
    #[serde(default)]
    pub error: Option<String>,
}
