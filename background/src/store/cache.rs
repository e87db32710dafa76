//! The context cache: a bounded memory tier in front of the backend's
//! persistent tier (write-through; a persistent hit is promoted), and the
//! statistics, kept across worker instances in `meta`.

use paperclip_core::cache::{CacheEntry, CacheStats, Lookup};
use paperclip_core::protocol::ProtocolError;

use super::{limits_for, report, to_js, Observation, Store, META_CACHE_STATS};

/// Cache writes also save the statistics every this many cache operations;
/// lookups schedule a save a few seconds later (see
/// `flush_cache_stats_soon`), and status reads and the cleanup job save them
/// too. No lookup waits for a write.
const STATS_EVERY: u32 = 32;

impl Store {
    /// Stores `entry` in both tiers (write-through).
    pub async fn cache_put(&self, entry: CacheEntry, now_ms: u64) -> Result<(), ProtocolError> {
        self.cache_put_many(vec![entry], now_ms).await
    }

    /// Stores `entries` in both tiers, in one write.
    pub async fn cache_put_many(
        &self,
        entries: Vec<CacheEntry>,
        now_ms: u64,
    ) -> Result<(), ProtocolError> {
        {
            let mut tier = self.cache.borrow_mut();
            for entry in &entries {
                tier.put(entry.clone(), now_ms);
            }
        }
        let stats = self
            .stats_due(entries.len() as u32)
            .then(|| self.cache_stats());
        self.backend.cache_put(&entries, stats).await
    }

    /// Counts `n` cache operations; true when the statistics are due to be
    /// written (the counter then restarts).
    fn stats_due(&self, n: u32) -> bool {
        let pending = self.unsaved_stats.get() + n;
        let due = pending >= STATS_EVERY;
        self.unsaved_stats.set(if due { 0 } else { pending });
        due
    }

    /// The live entry for `key`: the memory tier first, then the backend
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
        // Lookups never wait for a write: the statistics are saved a few
        // seconds later (and by the next cache write that is due).
        self.unsaved_stats.set(self.unsaved_stats.get() + 1);
        crate::flush_cache_stats_soon();
        if found.is_some() {
            found_in("memory");
            return Ok(found);
        }
        let stored = self.backend.cache_get(key).await?;
        found_in(if stored.is_some() { "disk" } else { "miss" });
        match stored {
            None => Ok(None),
            Some(entry) if entry.expired(now_ms) => {
                self.backend.cache_delete(&[key.to_string()]).await?;
                Ok(None)
            }
            Some(mut entry) => {
                self.disk_hits.set(self.disk_hits.get() + 1);
                entry.last_used_ms = entry.last_used_ms.max(now_ms);
                self.cache.borrow_mut().put(entry.clone(), now_ms);
                Ok(Some(entry))
            }
        }
    }

    /// Forgets `key` in the memory tier only (the benchmark reads the
    /// persistent tier this way).
    pub fn cache_forget_in_memory(&self, key: &str) {
        self.cache.borrow_mut().remove(key);
    }

    /// Removes every entry whose key starts with `prefix`, in both tiers;
    /// returns how many were in the persistent tier.
    pub async fn cache_invalidate(&self, prefix: &str) -> Result<u32, ProtocolError> {
        self.cache.borrow_mut().invalidate_prefix(prefix);
        self.backend
            .cache_invalidate(prefix, self.cache_stats())
            .await
    }

    /// At most `max` entries, most recently used first (the panel's list).
    pub async fn cache_list(&self, max: u32) -> Result<Vec<CacheEntry>, ProtocolError> {
        self.backend.cache_recent(max).await
    }

    /// How many entries the persistent tier holds.
    pub async fn cache_total(&self) -> Result<u64, ProtocolError> {
        self.backend.cache_count().await
    }

    /// Deletes the entry `key` (exactly) in both tiers.
    pub async fn cache_remove(&self, key: &str) -> Result<(), ProtocolError> {
        self.cache.borrow_mut().remove(key);
        self.backend.cache_delete(&[key.to_string()]).await
    }

    /// Fills the memory tier with the most recently used live entries.
    pub async fn cache_warm(&self, now_ms: u64) -> Result<(), ProtocolError> {
        let max = self.cache.borrow().stats().entries as u32
            + limits_for(&self.prefs.borrow()).max_entries as u32;
        let entries = self.backend.cache_recent(max).await?;
        self.cache.borrow_mut().warm(entries, now_ms);
        Ok(())
    }

    /// Entries in the memory tier.
    pub fn cache_memory_len(&self) -> usize {
        self.cache.borrow().len()
    }

    /// Holds the memory tier empty (`true`, memory is being shed: its
    /// entries go, lookups fall through to IndexedDB) or gives it back
    /// the limits the preferences set.
    pub fn shed_memory_cache(&self, shed: bool) {
        let limits = if shed {
            paperclip_core::cache::CacheLimits {
                max_entries: 0,
                max_bytes: 0,
            }
        } else {
            limits_for(&self.prefs.borrow())
        };
        let mut tier = self.cache.borrow_mut();
        if tier.limits() != limits {
            tier.set_limits(limits, paperclip_platform::clock::now_ms() as u64);
        }
    }

    /// Bytes held by the memory tier (its entries' sizes).
    pub fn cache_memory_bytes(&self) -> usize {
        self.cache.borrow().bytes()
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
        self.backend
            .meta_put(&[(META_CACHE_STATS, to_js(&self.cache_stats())?)])
            .await
    }
}
