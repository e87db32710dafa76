//! Preferences (validated on the way in, migrated on the way out of
//! storage, applied at once) and the `meta` records of the engines
//! (JSON text under a key).

use paperclip_core::cache::{CacheLimits, CacheStats, MemoryTier};
use paperclip_core::prefs::{self, Category, PrefEntry, Preferences};
use paperclip_core::protocol::{ProtocolError, Topic};

use super::{report, storage_error, to_js, Observation, Store, META_CACHE_STATS};

/// The `meta` record of [`Store::preference_times`] (one entry per known
/// preference at most).
const META_PREF_TIMES: &str = "preference_times";

/// The memory tier's bounds under `p`.
pub(super) fn limits_for(p: &Preferences) -> CacheLimits {
    CacheLimits {
        max_entries: p.memory_cache_entries as usize,
        ..CacheLimits::default()
    }
}

impl Store {
    /// Reads the stored preferences (migrated from their version; a bad
    /// entry is reported and left out) and the cache statistics.
    pub(super) async fn load_settings(&self) -> Result<(), ProtocolError> {
        let (version, stored) = self.backend.preferences().await?;
        let (prefs, errors) =
            Preferences::from_stored(version.unwrap_or(prefs::PREFS_VERSION), stored);
        for e in errors {
            web_sys::console::warn_1(&format!("paperclip: stored preference ignored: {e}").into());
        }
        *self.cache.borrow_mut() = MemoryTier::new(limits_for(&prefs));
        *self.prefs.borrow_mut() = prefs;
        let stats = self
            .backend
            .meta_get(META_CACHE_STATS)
            .await?
            .and_then(|v| serde_wasm_bindgen::from_value::<CacheStats>(v).ok());
        self.cache_base.set(stats.unwrap_or_default());
        Ok(())
    }

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
        let now = paperclip_platform::clock::now_ms();
        self.set_preference_at(key, value, now).await
    }

    /// [`Store::set_preference`], the change made at `changed_ms` (a
    /// synced change keeps its device's time).
    pub async fn set_preference_at(
        &self,
        key: &str,
        value: &serde_json::Value,
        changed_ms: f64,
    ) -> Result<serde_json::Value, ProtocolError> {
        let clean =
            Preferences::validate(key, value).map_err(|e| ProtocolError::failed(e.to_string()))?;
        self.backend
            .put_preferences(
                &[(key.to_string(), clean.clone())],
                paperclip_platform::clock::now_ms(),
            )
            .await?;
        let mut times = self.preference_times().await;
        times.insert(key.to_string(), changed_ms);
        self.set_meta_json(META_PREF_TIMES, &times).await?;
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
        report(Observation::Changed(Topic::Preferences));
        Ok(clean)
    }

    /// When each preference last changed (ms; one never changed is not
    /// listed), for settings sync's "newest change wins".
    pub async fn preference_times(&self) -> std::collections::BTreeMap<String, f64> {
        self.meta_json(META_PREF_TIMES)
            .await
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    /// The `meta` record `key`, stored as JSON text.
    pub async fn meta_json<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, ProtocolError> {
        let text = self
            .backend
            .meta_get(key)
            .await?
            .and_then(|v| v.as_string());
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
        self.backend.meta_put(&[(key, to_js(&text)?)]).await?;
        report(Observation::MetaWritten { key });
        Ok(())
    }
}
