//! The context cache's entries for page contexts (a page's extraction,
//! a PDF's snapshot): read back as their type, and kept for the
//! `performance.context_cache_ttl_minutes` preference's lifetime.

use paperclip_core::cache::CacheEntry;

use crate::store::Store;

/// The page context cached in `store` under `key`, if it is there and
/// still reads as a `T`.
pub async fn cached<T: serde::de::DeserializeOwned>(store: &Store, key: &str) -> Option<T> {
    let entry = store
        .cache_get(key, paperclip_platform::clock::now_ms() as u64)
        .await
        .ok()??;
    serde_json::from_str(&entry.value).ok()
}

/// Caches a page context under `key` for the preference's lifetime, worth
/// `relevance` against other cache entries.
pub async fn keep<T: serde::Serialize>(store: &Store, key: &str, page: &T, relevance: f32) {
    let ttl_ms = crate::store()
        .map(|s| u64::from(s.preferences().context_cache_ttl_minutes) * 60_000)
        .unwrap_or_default();
    let Ok(value) = serde_json::to_string(page) else {
        return;
    };
    let now = paperclip_platform::clock::now_ms() as u64;
    let entry = CacheEntry::new(key, value, now, ttl_ms, relevance, Vec::new());
    let _ = store.cache_put(entry, now).await;
}
