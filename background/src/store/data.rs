//! Deleting data: everything ([`Store::delete_everything`]: every store
//! emptied in one step and the store's memory — preferences, the memory
//! tier, cache statistics — back to a fresh install's), one site's
//! ([`Store::delete_site`], what [`paperclip_core::data`] says belongs to
//! it) and the telemetry rows ([`Store::clear_telemetry_rows`]).

use paperclip_core::cache::{CacheStats, MemoryTier};
use paperclip_core::data;
use paperclip_core::prefs::Preferences;
use paperclip_core::protocol::{ProtocolError, SiteDataDeleted};
use paperclip_core::query::{Filter, MAX_PAGE};

use super::backend::Cleared;
use super::{limits_for, Store};

impl Store {
    /// Empties every store (all or nothing) and resets what the store
    /// keeps in memory; returns what each store held.
    pub async fn delete_everything(&self) -> Result<Cleared, ProtocolError> {
        let cleared = self.backend.clear_all().await?;
        let fresh = Preferences::default();
        *self.cache.borrow_mut() = MemoryTier::new(limits_for(&fresh));
        *self.prefs.borrow_mut() = fresh;
        self.cache_base.set(CacheStats::default());
        self.disk_hits.set(0);
        self.unsaved_stats.set(0);
        Ok(cleared)
    }

    /// Deletes the data of `site` (a normalised origin, see
    /// [`data::site`]): its conversations, its context-cache entries in
    /// both tiers, the agent's place and hint state there, and its entry
    /// in the hint sites.
    pub async fn delete_site(&self, site: &str) -> Result<SiteDataDeleted, ProtocolError> {
        let site = data::site(site).map_err(ProtocolError::failed)?;
        let filter = Filter {
            site: Some(site.clone()),
            ..Filter::default()
        };
        let mut ids = Vec::new();
        let mut cursor = None;
        loop {
            let (page, next) = self
                .backend
                .list(&filter, cursor, MAX_PAGE as usize)
                .await?;
            ids.extend(page.into_iter().map(|s| s.id));
            match next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        self.backend.delete_conversations(&ids).await?;
        let mut cache_entries = 0;
        for prefix in data::cache_prefixes(&site) {
            cache_entries += u64::from(self.cache_invalidate(&prefix).await?);
        }
        let settings = self.backend.meta_delete(&data::meta_keys(&site)).await?;
        let hint_sites = self.prefs.borrow().hint_sites.clone();
        let hint_site = match data::without_site(&hint_sites, &site) {
            Some(rest) => {
                self.set_preference("agent.hint_sites", &serde_json::json!(rest))
                    .await?;
                true
            }
            None => false,
        };
        Ok(SiteDataDeleted {
            site,
            conversations: ids.len() as u64,
            cache_entries,
            settings,
            hint_site,
        })
    }

    /// Deletes every stored telemetry row; returns how many there were.
    pub async fn clear_telemetry_rows(&self) -> Result<u64, ProtocolError> {
        self.backend.telemetry_clear().await
    }
}
