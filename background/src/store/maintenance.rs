//! The storage's health (quota, counts, cache statistics, quarantine) and
//! the cleanup job: expired cache entries, retention, then the storage
//! budget (cache first; conversations only when allowed), as planned by
//! [`paperclip_core::maintenance`].

use js_sys::Reflect;
use paperclip_core::maintenance::{self, StoredConversation};
use paperclip_core::prefs::Preferences;
use paperclip_core::protocol::{MaintenanceReport, ProtocolError, StorageStatus};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::{report, to_js, Observation, Store, META_CACHE_STATS, META_LAST_MAINTENANCE};

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

impl Store {
    /// Health of the storage: quota, counts, cache statistics, quarantine.
    pub async fn status(&self) -> Result<StorageStatus, ProtocolError> {
        let (usage, quota) = estimate().await;
        let (mut conversations, mut compressed, mut saved) = (0u64, 0u64, 0u64);
        self.backend
            .visit_sizes(&mut |s| {
                conversations += 1;
                compressed += u64::from(s.saved > 0);
                saved += s.saved;
            })
            .await?;
        self.flush_cache_stats().await?;
        let last_maintenance_ms = self
            .backend
            .meta_get(META_LAST_MAINTENANCE)
            .await?
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0);
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
            cache_entries: self.backend.cache_count().await?,
            cache: self.cache_stats(),
            telemetry_records: self.backend.telemetry_count().await?,
            quarantine: self.backend.quarantined(50).await?,
            last_maintenance_ms,
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
        // One pass over the cache: expired entries go, the rest are budget
        // candidates.
        let (expired, live): (Vec<_>, Vec<_>) = self
            .backend
            .cache_all()
            .await?
            .into_iter()
            .partition(|e| e.expired(now));
        let expired: Vec<String> = expired.into_iter().map(|e| e.key).collect();
        report.expired_cache = report.expired_cache.max(expired.len() as u32);
        self.backend.cache_delete(&expired).await?;

        let cutoff = maintenance::retention_cutoff(now_ms, budget.retention_days);
        let mut sizes = Vec::new();
        self.backend.visit_sizes(&mut |s| sizes.push(s)).await?;
        let (old, retained): (Vec<_>, Vec<_>) = sizes
            .into_iter()
            .partition(|s| cutoff.is_some_and(|cut| s.updated_ms < cut));
        let old: Vec<String> = old.into_iter().map(|s| s.id).collect();
        report.retention_deleted = old.len() as u32;
        self.backend.delete_conversations(&old).await?;
        let retained: Vec<StoredConversation> = retained
            .into_iter()
            .map(|s| StoredConversation {
                id: s.id,
                updated_ms: s.updated_ms,
                bytes: s.bytes,
            })
            .collect();

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
        self.backend.cache_delete(&plan.cache_keys).await?;
        self.backend
            .delete_conversations(&plan.conversation_ids)
            .await?;
        report.budget_cache_evicted = plan.cache_keys.len() as u32;
        report.budget_conversations_deleted = plan.conversation_ids.len() as u32;
        report.still_over_budget = plan.still_over;
        report.used_bytes = used.saturating_sub(plan.bytes_freed);

        self.backend
            .meta_put(&[
                (META_LAST_MAINTENANCE, to_js(&now_ms)?),
                (META_CACHE_STATS, to_js(&self.cache_stats())?),
            ])
            .await?;
        self::report(Observation::Maintenance {
            removed: report.retention_deleted
                + report.budget_conversations_deleted
                + report.budget_cache_evicted
                + report.expired_cache,
            still_over_budget: plan.still_over,
        });
        Ok(report)
    }
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
