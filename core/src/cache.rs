//! Policy of the context cache: a bounded in-memory LRU tier in front of the
//! persistent (IndexedDB) tier, which the background writes through to.
//!
//! Entries hold extracted page context and provider answers. Eviction in the
//! memory tier is *relevance-aware LRU*: when over a limit, the
//! [`EVICTION_WINDOW`] least-recently-used entries are examined and the one
//! with the lowest [`score`] goes (ties: the least recently used).
//! [`eviction_plan`] chooses what to delete from the persistent tier when a
//! storage budget is exceeded. Time is always an argument (`now_ms`).
//!
//! ```
//! use paperclip_core::cache::{CacheEntry, CacheLimits, Lookup, MemoryTier};
//! let mut tier = MemoryTier::new(CacheLimits::default());
//! tier.put(CacheEntry::new("ctx:a", "text", 0, 1_000, 0.9, vec![]), 0);
//! assert!(matches!(tier.get("ctx:a", 10), Lookup::Hit(_)));
//! assert_eq!(tier.get("ctx:a", 1_000), Lookup::Expired);
//! ```

use lru::LruCache;
use serde::{Deserialize, Serialize};

/// Half-life of recency in [`score`].
pub const RECENCY_HALF_LIFE_MS: u64 = 30 * 60 * 1000;

/// How many least-recently-used entries are compared when evicting.
pub const EVICTION_WINDOW: usize = 8;

/// Fixed per-entry overhead counted by [`CacheEntry::size`].
const ENTRY_OVERHEAD: usize = 48;

/// One cache entry (what is stored in IndexedDB as well).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct CacheEntry {
    /// Key, e.g. `ctx:<url>#<hash>` or `answer:<provider>:<hash>`.
    pub key: String,
    /// The cached text (JSON or plain).
    pub value: String,
    /// When the entry was written (ms since epoch).
    pub stored_ms: u64,
    /// Lifetime in ms; 0 means the entry never expires.
    pub ttl_ms: u64,
    /// How valuable the content is, in `0.0..=1.0` (higher = keep longer).
    pub relevance: f32,
    /// Ids of the providers that produced or used the entry.
    pub providers: Vec<String>,
    /// Last hit (or `stored_ms`), ms since epoch.
    pub last_used_ms: u64,
}

impl CacheEntry {
    /// A new entry stored (and last used) at `now_ms`; `relevance` is
    /// clamped to `0.0..=1.0` (NaN becomes 0).
    pub fn new(
        key: impl Into<String>,
        value: impl Into<String>,
        now_ms: u64,
        ttl_ms: u64,
        relevance: f32,
        providers: Vec<String>,
    ) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
            stored_ms: now_ms,
            ttl_ms,
            relevance: sanitize_relevance(relevance),
            providers,
            last_used_ms: now_ms,
        }
    }

    /// Whether the entry is expired at `now_ms` (`now >= stored + ttl`;
    /// a ttl of 0 never expires).
    pub fn expired(&self, now_ms: u64) -> bool {
        self.ttl_ms != 0 && now_ms >= self.stored_ms.saturating_add(self.ttl_ms)
    }

    /// Approximate size in bytes: key, value, provider ids and a fixed overhead.
    pub fn size(&self) -> usize {
        let providers: usize = self.providers.iter().map(String::len).sum();
        self.key.len() + self.value.len() + providers + ENTRY_OVERHEAD
    }
}

/// Clamps a relevance to `0.0..=1.0`; NaN becomes 0.
pub fn sanitize_relevance(relevance: f32) -> f32 {
    if relevance.is_nan() {
        0.0
    } else {
        relevance.clamp(0.0, 1.0)
    }
}

/// Hit/miss/eviction/size statistics of the memory tier.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Lookups that found a live entry.
    pub hits: u64,
    /// Lookups that found nothing or an expired entry.
    pub misses: u64,
    /// Entries dropped to stay within the limits.
    pub evictions: u64,
    /// Entries dropped because their ttl ran out.
    pub expirations: u64,
    /// Entries dropped by [`MemoryTier::invalidate_prefix`].
    pub invalidations: u64,
    /// Entries currently held.
    pub entries: u64,
    /// Bytes currently held (sum of [`CacheEntry::size`]).
    pub bytes: u64,
}

impl CacheStats {
    /// Share of lookups that were hits; 0 when there were no lookups.
    pub fn hit_rate(&self) -> f64 {
        let lookups = self.hits.saturating_add(self.misses);
        if lookups == 0 {
            0.0
        } else {
            self.hits as f64 / lookups as f64
        }
    }

    /// Adds the counters of a persisted snapshot (not `entries`/`bytes`).
    pub fn merge_counts(&mut self, persisted: &CacheStats) {
        self.hits = self.hits.saturating_add(persisted.hits);
        self.misses = self.misses.saturating_add(persisted.misses);
        self.evictions = self.evictions.saturating_add(persisted.evictions);
        self.expirations = self.expirations.saturating_add(persisted.expirations);
        self.invalidations = self.invalidations.saturating_add(persisted.invalidations);
    }
}

/// Bounds of the memory tier.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLimits {
    /// Most entries held.
    pub max_entries: usize,
    /// Most bytes held (sum of [`CacheEntry::size`]).
    pub max_bytes: usize,
}

impl Default for CacheLimits {
    /// 512 entries, 8 MiB.
    fn default() -> Self {
        Self {
            max_entries: 512,
            max_bytes: 8 * 1024 * 1024,
        }
    }
}

/// Result of a memory-tier lookup.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Lookup<'a> {
    /// A live entry.
    Hit(&'a CacheEntry),
    /// The entry had expired and was removed.
    Expired,
    /// No entry under that key.
    Miss,
}

impl<'a> Lookup<'a> {
    /// The entry of a hit.
    pub fn hit(self) -> Option<&'a CacheEntry> {
        match self {
            Lookup::Hit(entry) => Some(entry),
            Lookup::Expired | Lookup::Miss => None,
        }
    }
}

/// How valuable an entry is to keep, in `[0, 1]`: its relevance halved
/// every [`RECENCY_HALF_LIFE_MS`] since its last use.
pub fn score(entry: &CacheEntry, now_ms: u64) -> f64 {
    let age = now_ms.saturating_sub(entry.last_used_ms) as f64;
    let decay = 0.5f64.powf(age / RECENCY_HALF_LIFE_MS as f64);
    f64::from(sanitize_relevance(entry.relevance)) * decay
}

/// Keys to delete from the persistent tier to free `bytes_to_free`: expired
/// entries first, then lowest [`score`] first (ties by key), until at least
/// that many bytes are freed or nothing is left.
pub fn eviction_plan(entries: &[CacheEntry], bytes_to_free: u64, now_ms: u64) -> Vec<String> {
    let mut order: Vec<(bool, f64, &CacheEntry)> = entries
        .iter()
        .map(|e| (!e.expired(now_ms), score(e, now_ms), e))
        .collect();
    order.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| a.1.total_cmp(&b.1))
            .then_with(|| a.2.key.cmp(&b.2.key))
    });
    let mut freed = 0u64;
    let mut plan = Vec::new();
    for (_, _, entry) in order {
        if freed >= bytes_to_free {
            break;
        }
        freed = freed.saturating_add(entry.size() as u64);
        plan.push(entry.key.clone());
    }
    plan
}

/// The bounded in-memory tier.
#[derive(Debug)]
pub struct MemoryTier {
    cache: LruCache<String, CacheEntry>,
    limits: CacheLimits,
    bytes: usize,
    stats: CacheStats,
}

impl MemoryTier {
    /// An empty tier with the given limits.
    pub fn new(limits: CacheLimits) -> Self {
        Self {
            cache: LruCache::unbounded(),
            limits,
            bytes: 0,
            stats: CacheStats::default(),
        }
    }

    /// Looks `key` up, counting a hit or a miss. An expired entry is removed
    /// and counted as an expiration and a miss; a hit refreshes its recency.
    pub fn get(&mut self, key: &str, now_ms: u64) -> Lookup<'_> {
        if self.cache.peek(key).is_some_and(|e| e.expired(now_ms)) {
            self.take(key);
            self.stats.expirations += 1;
            self.stats.misses += 1;
            return Lookup::Expired;
        }
        match self.cache.get_mut(key) {
            Some(entry) => {
                self.stats.hits += 1;
                entry.last_used_ms = entry.last_used_ms.max(now_ms);
                Lookup::Hit(entry)
            }
            None => {
                self.stats.misses += 1;
                Lookup::Miss
            }
        }
    }

    /// The entry under `key`, without touching stats or recency.
    pub fn peek(&self, key: &str) -> Option<&CacheEntry> {
        self.cache.peek(key)
    }

    /// Inserts or replaces an entry as the most recently used, then evicts
    /// until within limits; returns the evicted keys. An entry that alone
    /// exceeds the limits is not kept (its key is returned as evicted).
    pub fn put(&mut self, mut entry: CacheEntry, now_ms: u64) -> Vec<String> {
        entry.relevance = sanitize_relevance(entry.relevance);
        self.take(&entry.key);
        if entry.size() > self.limits.max_bytes || self.limits.max_entries == 0 {
            self.stats.evictions += 1;
            return vec![entry.key];
        }
        let key = entry.key.clone();
        self.insert(entry);
        let mut evicted = Vec::new();
        while self.over_limits() {
            match self.victim(&key, now_ms) {
                Some(victim) => {
                    self.take(&victim);
                    self.stats.evictions += 1;
                    evicted.push(victim);
                }
                None => break,
            }
        }
        evicted
    }

    /// New limits (e.g. none at all while memory is shed): entries beyond
    /// them go, the least valuable first, counted as evictions; returns
    /// their keys.
    pub fn set_limits(&mut self, limits: CacheLimits, now_ms: u64) -> Vec<String> {
        self.limits = limits;
        let mut evicted = Vec::new();
        while self.over_limits() {
            let Some(victim) = self.victim("", now_ms) else {
                break;
            };
            self.take(&victim);
            self.stats.evictions += 1;
            evicted.push(victim);
        }
        evicted
    }

    /// The limits.
    pub fn limits(&self) -> CacheLimits {
        self.limits
    }

    /// Removes the entry under `key` (not counted in the stats); whether it existed.
    pub fn remove(&mut self, key: &str) -> bool {
        self.take(key).is_some()
    }

    /// Removes every entry whose key starts with `prefix`, counting
    /// invalidations; returns the removed keys.
    pub fn invalidate_prefix(&mut self, prefix: &str) -> Vec<String> {
        let removed = self.remove_where(|e| e.key.starts_with(prefix));
        self.stats.invalidations += removed.len() as u64;
        removed
    }

    /// Removes every expired entry, counting expirations; returns their keys.
    pub fn purge_expired(&mut self, now_ms: u64) -> Vec<String> {
        let removed = self.remove_where(|e| e.expired(now_ms));
        self.stats.expirations += removed.len() as u64;
        removed
    }

    /// Fills the tier from persisted entries: skips expired ones and keys
    /// already held, and takes the highest-[`score`] entries while they fit.
    /// Recency follows `last_used_ms`. Counts nothing.
    pub fn warm(&mut self, entries: Vec<CacheEntry>, now_ms: u64) {
        let mut candidates: Vec<(f64, CacheEntry)> = entries
            .into_iter()
            .filter(|e| !e.expired(now_ms) && !self.cache.contains(&e.key))
            .map(|mut e| {
                e.relevance = sanitize_relevance(e.relevance);
                (score(&e, now_ms), e)
            })
            .collect();
        candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.key.cmp(&b.1.key)));
        let mut chosen: Vec<CacheEntry> = Vec::new();
        let (mut len, mut bytes) = (self.cache.len(), self.bytes);
        for (_, entry) in candidates {
            let fits = len < self.limits.max_entries
                && bytes + entry.size() <= self.limits.max_bytes
                && !chosen.iter().any(|c| c.key == entry.key);
            if fits {
                len += 1;
                bytes += entry.size();
                chosen.push(entry);
            }
        }
        chosen.sort_by(|a, b| {
            a.last_used_ms
                .cmp(&b.last_used_ms)
                .then_with(|| a.key.cmp(&b.key))
        });
        for entry in chosen {
            self.insert(entry);
        }
    }

    /// Statistics, with the current entry count and bytes.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            entries: self.cache.len() as u64,
            bytes: self.bytes as u64,
            ..self.stats
        }
    }

    /// Number of entries held.
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }

    /// Bytes held (sum of [`CacheEntry::size`]).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn insert(&mut self, entry: CacheEntry) {
        self.bytes += entry.size();
        if let Some((_, old)) = self.cache.push(entry.key.clone(), entry) {
            self.bytes -= old.size();
        }
    }

    fn take(&mut self, key: &str) -> Option<CacheEntry> {
        let entry = self.cache.pop(key)?;
        self.bytes -= entry.size();
        Some(entry)
    }

    fn over_limits(&self) -> bool {
        self.cache.len() > self.limits.max_entries || self.bytes > self.limits.max_bytes
    }

    /// Lowest-score entry among the least recently used (ties: least recent),
    /// never `protected`.
    fn victim(&self, protected: &str, now_ms: u64) -> Option<String> {
        self.cache
            .iter()
            .rev()
            .filter(|(k, _)| k.as_str() != protected)
            .take(EVICTION_WINDOW)
            .map(|(k, e)| (k, score(e, now_ms)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(k, _)| k.clone())
    }

    fn remove_where(&mut self, pred: impl Fn(&CacheEntry) -> bool) -> Vec<String> {
        let keys: Vec<String> = self
            .cache
            .iter()
            .filter(|(_, e)| pred(e))
            .map(|(k, _)| k.clone())
            .collect();
        for key in &keys {
            self.take(key);
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MIN: u64 = 60_000;

    fn entry(key: &str, value_len: usize, now: u64, ttl: u64, relevance: f32) -> CacheEntry {
        CacheEntry::new(key, "x".repeat(value_len), now, ttl, relevance, vec![])
    }

    fn limits(max_entries: usize, max_bytes: usize) -> CacheLimits {
        CacheLimits {
            max_entries,
            max_bytes,
        }
    }

    #[test]
    fn new_sanitizes_relevance_and_sizes() {
        let e = CacheEntry::new("k", "vv", 5, 0, f32::NAN, vec!["ab".into()]);
        assert_eq!(
            (e.relevance, e.last_used_ms, e.size()),
            (0.0, 5, 1 + 2 + 2 + 48)
        );
        assert_eq!(entry("k", 0, 0, 0, 7.0).relevance, 1.0);
        assert_eq!(entry("k", 0, 0, 0, -1.0).relevance, 0.0);
    }

    #[test]
    fn new_limits_evict_and_no_limits_keep_nothing() {
        let mut tier = MemoryTier::new(limits(10, 1 << 20));
        for i in 0..10 {
            tier.put(entry(&format!("ctx:{i}"), 100, 0, 0, 0.5), 0);
        }
        assert_eq!(tier.set_limits(limits(4, 1 << 20), 1).len(), 6);
        assert_eq!(tier.len(), 4);
        assert_eq!(tier.set_limits(limits(0, 0), 1).len(), 4);
        assert!(tier.is_empty() && tier.bytes() == 0);
        assert_eq!(tier.put(entry("ctx:x", 1, 0, 0, 1.0), 2), vec!["ctx:x"]);
        assert!(tier.is_empty(), "nothing is kept while the limits are zero");
        assert_eq!(tier.stats().evictions, 11);
        tier.set_limits(limits(10, 1 << 20), 3);
        tier.put(entry("ctx:y", 1, 0, 0, 1.0), 3);
        assert_eq!(tier.len(), 1);
    }

    #[test]
    fn ttl_boundary_and_zero_ttl() {
        let e = entry("k", 1, 1_000, 500, 1.0);
        assert!(!e.expired(1_499));
        assert!(e.expired(1_500));
        assert!(!entry("k", 1, 1_000, 0, 1.0).expired(u64::MAX));
        assert!(!entry("k", 1, u64::MAX - 1, u64::MAX, 1.0).expired(u64::MAX - 1));
        let mut tier = MemoryTier::new(CacheLimits::default());
        tier.put(e, 1_000);
        assert!(matches!(tier.get("k", 1_499), Lookup::Hit(_)));
        assert_eq!(tier.get("k", 1_500), Lookup::Expired);
        assert_eq!(tier.get("k", 1_500), Lookup::Miss);
        let s = tier.stats();
        assert_eq!((s.hits, s.misses, s.expirations, s.entries), (1, 2, 1, 0));
    }

    #[test]
    fn relevance_aware_eviction_in_window() {
        let mut tier = MemoryTier::new(limits(3, usize::MAX));
        tier.put(entry("old-high", 1, 0, 0, 1.0), 0);
        tier.put(entry("new-low", 1, 1, 0, 0.1), 1);
        tier.put(entry("c", 1, 2, 0, 0.9), 2);
        assert_eq!(tier.put(entry("d", 1, 3, 0, 0.9), 3), vec!["new-low"]);
        assert!(tier.peek("old-high").is_some());
        // Equal scores: the least recently used goes.
        let mut tier = MemoryTier::new(limits(2, usize::MAX));
        tier.put(entry("a", 1, 0, 0, 0.5), 0);
        tier.put(entry("b", 1, 0, 0, 0.5), 0);
        assert_eq!(tier.put(entry("c", 1, 0, 0, 0.5), 0), vec!["a"]);
        // A hit refreshes recency.
        assert!(tier.get("b", 0).hit().is_some());
        assert_eq!(tier.put(entry("d", 1, 0, 0, 0.5), 0), vec!["c"]);
    }

    #[test]
    fn entry_outside_window_is_not_evicted_first() {
        let n = EVICTION_WINDOW + 2;
        let mut tier = MemoryTier::new(limits(n, usize::MAX));
        for i in 0..n {
            let relevance = if i == n - 1 { 0.0 } else { 0.5 };
            tier.put(entry(&format!("k{i:02}"), 1, 0, 0, relevance), 0);
        }
        // The zero-relevance entry is the most recent, outside the window.
        assert_eq!(tier.put(entry("new", 1, 0, 0, 0.5), 0), vec!["k00"]);
        assert_eq!(tier.put(entry("new2", 1, 0, 0, 0.5), 0), vec!["k01"]);
        // Now the zero-relevance entry is inside the window.
        let evicted = tier.put(entry("new3", 1, 0, 0, 0.5), 0);
        assert_eq!(evicted, vec![format!("k{:02}", n - 1)]);
    }

    #[test]
    fn byte_limit_replace_and_oversized() {
        let mut tier = MemoryTier::new(limits(10, 200));
        tier.put(entry("a", 50, 0, 0, 1.0), 0);
        tier.put(entry("a", 10, 0, 0, 1.0), 0);
        assert_eq!(tier.bytes(), 1 + 10 + 48);
        assert_eq!(tier.put(entry("big", 500, 0, 0, 1.0), 0), vec!["big"]);
        assert_eq!(tier.stats().evictions, 1);
        assert_eq!(tier.put(entry("b", 100, 0, 0, 0.2), 0), vec!["a"]);
        assert_eq!((tier.len(), tier.bytes()), (1, 149));
        assert!(tier.remove("b") && !tier.remove("b") && tier.is_empty());
    }

    #[test]
    fn invalidate_prefix_removes_exactly_prefixed() {
        let mut tier = MemoryTier::new(CacheLimits::default());
        for key in ["ctx:a", "ctx:b", "answer:x:1", "ctxa", "answer:ctx:"] {
            tier.put(entry(key, 1, 0, 0, 1.0), 0);
        }
        let mut removed = tier.invalidate_prefix("ctx:");
        removed.sort();
        assert_eq!(removed, vec!["ctx:a", "ctx:b"]);
        assert_eq!(tier.len(), 3);
        assert_eq!(tier.stats().invalidations, 2);
    }

    #[test]
    fn purge_expired_counts() {
        let mut tier = MemoryTier::new(CacheLimits::default());
        tier.put(entry("a", 1, 0, 10, 1.0), 0);
        tier.put(entry("b", 1, 0, 0, 1.0), 0);
        assert_eq!(tier.purge_expired(10), vec!["a"]);
        assert_eq!(tier.stats().expirations, 1);
    }

    #[test]
    fn warm_skips_expired_respects_limits_keeps_best() {
        let now = 100 * MIN;
        let mut tier = MemoryTier::new(limits(2, usize::MAX));
        tier.warm(
            vec![
                entry("expired", 1, 0, MIN, 1.0),
                entry("low", 1, now, 0, 0.1),
                entry("best", 1, now - MIN, 0, 1.0),
                entry("stale", 1, 0, 0, 1.0),
                entry("good", 1, now, 0, 0.8),
            ],
            now,
        );
        assert!(tier.peek("best").is_some() && tier.peek("good").is_some());
        let s = tier.stats();
        assert_eq!((s.hits, s.misses, s.evictions, s.entries), (0, 0, 0, 2));
        let mut tier = MemoryTier::new(limits(10, 170));
        tier.warm(
            vec![
                entry("a", 60, now, 0, 1.0),
                entry("b", 60, now, 0, 0.9),
                entry("c", 10, now, 0, 0.5),
            ],
            now,
        );
        assert_eq!((tier.len(), tier.bytes()), (2, 109 + 59));
        assert!(tier.peek("b").is_none());
    }

    #[test]
    fn score_decays_with_age() {
        let e = entry("k", 1, 0, 0, 0.8);
        assert_eq!(score(&e, 0), f64::from(0.8f32));
        assert!((score(&e, RECENCY_HALF_LIFE_MS) - f64::from(0.8f32) / 2.0).abs() < 1e-9);
        assert!(score(&e, u64::MAX) >= 0.0);
    }

    #[test]
    fn eviction_plan_order_and_amount() {
        let now = 10 * MIN;
        let entries = vec![
            entry("fresh-high", 10, now, 0, 1.0),
            entry("fresh-low", 10, now, 0, 0.1),
            entry("expired", 10, 0, MIN, 1.0),
            entry("tie-b", 10, now, 0, 0.5),
            entry("tie-a", 10, now, 0, 0.5),
        ];
        let size = |i: usize| entries[i].size() as u64;
        assert!(eviction_plan(&entries, 0, now).is_empty());
        assert_eq!(eviction_plan(&entries, 1, now), vec!["expired"]);
        assert_eq!(
            eviction_plan(&entries, size(2) + 1, now),
            vec!["expired", "fresh-low"]
        );
        let three = size(2) + size(1) + size(4);
        let all = eviction_plan(&entries, three, now);
        assert_eq!(all, vec!["expired", "fresh-low", "tie-a"]);
        let mut reversed = entries.clone();
        reversed.reverse();
        assert_eq!(eviction_plan(&reversed, three, now), all);
        assert_eq!(eviction_plan(&entries, u64::MAX, now).len(), 5);
    }

    #[test]
    fn hit_rate_and_merge_counts() {
        assert_eq!(CacheStats::default().hit_rate(), 0.0);
        let mut s = CacheStats {
            hits: 3,
            misses: 1,
            entries: 7,
            bytes: 9,
            ..Default::default()
        };
        assert_eq!(s.hit_rate(), 0.75);
        let persisted = CacheStats {
            hits: 1,
            misses: 3,
            evictions: 2,
            expirations: 4,
            invalidations: 5,
            entries: 100,
            bytes: 100,
        };
        s.merge_counts(&persisted);
        let expected = CacheStats {
            hits: 4,
            misses: 4,
            evictions: 2,
            expirations: 4,
            invalidations: 5,
            entries: 7,
            bytes: 9,
        };
        assert_eq!(s, expected);
        assert_eq!(s.hit_rate(), 0.5);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Put(usize, usize, u64, f32),
        Get(usize),
        Remove(usize),
        Invalidate(usize),
        Purge,
    }

    const KEYS: [&str; 8] = [
        "ctx:a", "ctx:b", "ctx:c", "ans:x:1", "ans:x:2", "ans:y:1", "a", "b",
    ];
    const PREFIXES: [&str; 4] = ["ctx:", "ans:x:", "a", "zzz"];

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0..KEYS.len(), 0usize..300, prop_oneof![Just(0u64), 1u64..5_000], any::<f32>())
                .prop_map(|(k, len, ttl, rel)| Op::Put(k, len, ttl, rel)),
            3 => (0..KEYS.len()).prop_map(Op::Get),
            1 => (0..KEYS.len()).prop_map(Op::Remove),
            1 => (0..PREFIXES.len()).prop_map(Op::Invalidate),
            1 => Just(Op::Purge),
        ]
    }

    proptest! {
        #[test]
        fn invariants_hold(
            max_entries in 0usize..6,
            max_bytes in 0usize..500,
            ops in proptest::collection::vec((op(), 0u64..2_000), 0..60),
        ) {
            let mut tier = MemoryTier::new(limits(max_entries, max_bytes));
            let (mut now, mut gets) = (0u64, 0u64);
            for (op, dt) in ops {
                now += dt;
                match op {
                    Op::Put(key, len, ttl, rel) => {
                        let e = CacheEntry::new(KEYS[key], "v".repeat(len), now, ttl, rel, vec!["p".into()]);
                        tier.put(e, now);
                    }
                    Op::Get(key) => {
                        gets += 1;
                        if let Lookup::Hit(e) = tier.get(KEYS[key], now) {
                            prop_assert!(!e.expired(now));
                            prop_assert_eq!(e.last_used_ms, now);
                        }
                    }
                    Op::Remove(key) => { tier.remove(KEYS[key]); }
                    Op::Invalidate(p) => {
                        tier.invalidate_prefix(PREFIXES[p]);
                        prop_assert!(KEYS.iter().all(|k| !k.starts_with(PREFIXES[p]) || tier.peek(k).is_none()));
                    }
                    Op::Purge => {
                        tier.purge_expired(now);
                        prop_assert!(KEYS.iter().filter_map(|k| tier.peek(k)).all(|e| !e.expired(now)));
                    }
                }
                let held: Vec<&CacheEntry> = KEYS.iter().filter_map(|k| tier.peek(k)).collect();
                let sum: usize = held.iter().map(|e| e.size()).sum();
                let stats = tier.stats();
                prop_assert!(tier.len() <= max_entries && tier.bytes() <= max_bytes);
                prop_assert_eq!((held.len(), sum), (tier.len(), tier.bytes()));
                prop_assert_eq!((stats.entries, stats.bytes), (tier.len() as u64, tier.bytes() as u64));
                prop_assert_eq!(stats.hits + stats.misses, gets);
            }
        }

        #[test]
        fn eviction_plan_frees_enough(
            specs in proptest::collection::vec((0usize..100, 0u64..3, 0.0f32..=1.0, 0u64..10_000), 0..20),
            to_free in 0u64..3_000,
        ) {
            let now = 10_000;
            let entries: Vec<CacheEntry> = specs.iter().enumerate()
                .map(|(i, &(len, ttl, rel, used))| {
                    let mut e = entry(&format!("k{i}"), len, 0, ttl * 5_000, rel);
                    e.last_used_ms = used;
                    e
                })
                .collect();
            let plan = eviction_plan(&entries, to_free, now);
            let size_of = |k: &String| entries.iter().find(|e| &e.key == k).map_or(0, |e| e.size() as u64);
            let freed: u64 = plan.iter().map(size_of).sum();
            let total: u64 = entries.iter().map(|e| e.size() as u64).sum();
            prop_assert!(freed >= to_free.min(total));
            let first_live = plan.iter().position(|k| entries.iter().any(|e| &e.key == k && !e.expired(now)));
            if let Some(i) = first_live {
                prop_assert!(plan[i..].iter().all(|k| entries.iter().any(|e| &e.key == k && !e.expired(now))));
            }
        }
    }
}
