//! Storage maintenance decisions: the quota warning, retention and the
//! storage budget. The background gathers the numbers and executes the
//! plan; what to delete is decided here.
//!
//! ```
//! use paperclip_core::maintenance::{quota_level, QuotaLevel};
//!
//! assert_eq!(quota_level(50, 100), QuotaLevel::Ok);
//! assert_eq!(quota_level(95, 100), QuotaLevel::Near { percent: 95 });
//! ```

use serde::{Deserialize, Serialize};

use crate::cache::{eviction_plan, CacheEntry};

/// Usage at or above this share of the quota warns the user.
pub const WARN_PERCENT: u64 = 80;

/// How close the browser's storage quota is.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case", tag = "level")]
pub enum QuotaLevel {
    /// Plenty left (or the browser reports no quota).
    Ok,
    /// At or above [`WARN_PERCENT`].
    Near {
        /// Percent used, rounded down.
        percent: u64,
    },
}

/// The level for `usage` bytes of `quota`.
pub fn quota_level(usage: u64, quota: u64) -> QuotaLevel {
    if quota == 0 {
        return QuotaLevel::Ok;
    }
    let percent = (u128::from(usage) * 100 / u128::from(quota)).min(100) as u64;
    if percent >= WARN_PERCENT {
        QuotaLevel::Near { percent }
    } else {
        QuotaLevel::Ok
    }
}

const DAY_MS: f64 = 86_400_000.0;

/// Conversations last updated before the returned time are deleted under
/// a retention of `days` (0: keep forever, `None`).
pub fn retention_cutoff(now_ms: f64, days: u32) -> Option<f64> {
    (days > 0).then(|| now_ms - f64::from(days) * DAY_MS)
}

/// A stored conversation as the budget sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredConversation {
    /// Id.
    pub id: String,
    /// Last change, ms.
    pub updated_ms: f64,
    /// Bytes of its record.
    pub bytes: u64,
}

/// What to delete to get under the storage budget.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct BudgetPlan {
    /// Cache keys to delete (first).
    pub cache_keys: Vec<String>,
    /// Conversations to delete (only when allowed), oldest first.
    pub conversation_ids: Vec<String>,
    /// Bytes the plan frees.
    pub bytes_freed: u64,
    /// True when the plan does not reach the budget (conversations not
    /// allowed, or nothing left to delete).
    pub still_over: bool,
}

/// Plans getting `used` bytes under `budget`: cache entries first
/// (expired, then least valuable), then — only with
/// `allow_conversations` — the least recently updated conversations.
pub fn budget_plan(
    used: u64,
    budget: u64,
    cache: &[CacheEntry],
    conversations: &[StoredConversation],
    allow_conversations: bool,
    now_ms: u64,
) -> BudgetPlan {
    let mut plan = BudgetPlan::default();
    let Some(mut over) = used.checked_sub(budget).filter(|o| *o > 0) else {
        return plan;
    };
    plan.cache_keys = eviction_plan(cache, over, now_ms);
    let freed: u64 = cache
        .iter()
        .filter(|e| plan.cache_keys.contains(&e.key))
        .map(|e| e.size() as u64)
        .sum();
    plan.bytes_freed = freed;
    over = over.saturating_sub(freed);
    if over > 0 && allow_conversations {
        let mut oldest: Vec<&StoredConversation> = conversations.iter().collect();
        oldest.sort_by(|a, b| {
            a.updated_ms
                .total_cmp(&b.updated_ms)
                .then_with(|| a.id.cmp(&b.id))
        });
        for c in oldest {
            if over == 0 {
                break;
            }
            plan.conversation_ids.push(c.id.clone());
            plan.bytes_freed += c.bytes;
            over = over.saturating_sub(c.bytes);
        }
    }
    plan.still_over = over > 0;
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(key: &str, bytes: usize, relevance: f32) -> CacheEntry {
        CacheEntry::new(key, "v".repeat(bytes), 0, 0, relevance, vec![])
    }

    fn conv(id: &str, updated_ms: f64, bytes: u64) -> StoredConversation {
        StoredConversation {
            id: id.into(),
            updated_ms,
            bytes,
        }
    }

    #[test]
    fn quota_levels() {
        assert_eq!(quota_level(0, 0), QuotaLevel::Ok);
        assert_eq!(quota_level(79, 100), QuotaLevel::Ok);
        assert_eq!(quota_level(80, 100), QuotaLevel::Near { percent: 80 });
        assert_eq!(quota_level(500, 100), QuotaLevel::Near { percent: 100 });
    }

    #[test]
    fn retention_is_off_by_default() {
        assert_eq!(retention_cutoff(10.0 * DAY_MS, 0), None);
        assert_eq!(retention_cutoff(10.0 * DAY_MS, 3), Some(7.0 * DAY_MS));
    }

    #[test]
    fn cache_goes_first_and_conversations_only_when_allowed() {
        let cache = [entry("a", 1000, 0.1), entry("b", 1000, 0.9)];
        let convs = [conv("new", 20.0, 5000), conv("old", 10.0, 5000)];
        let small = budget_plan(10_500, 10_000, &cache, &convs, false, 0);
        assert_eq!(small.cache_keys, ["a"]);
        assert!(small.conversation_ids.is_empty() && !small.still_over);

        let big = budget_plan(20_000, 10_000, &cache, &convs, false, 0);
        assert_eq!(big.cache_keys.len(), 2);
        assert!(big.conversation_ids.is_empty() && big.still_over);

        let allowed = budget_plan(20_000, 10_000, &cache, &convs, true, 0);
        assert_eq!(allowed.conversation_ids, ["old", "new"]);
        assert!(!allowed.still_over);

        assert_eq!(
            budget_plan(5, 10, &cache, &convs, true, 0),
            BudgetPlan::default()
        );
    }

    proptest! {
        #[test]
        fn plans_free_enough_or_say_so(
            used in 0u64..100_000,
            budget in 0u64..100_000,
            sizes in proptest::collection::vec(1usize..5_000, 0..20),
            conv_sizes in proptest::collection::vec(1u64..20_000, 0..10),
            allow in any::<bool>(),
        ) {
            let cache: Vec<CacheEntry> = sizes.iter().enumerate().map(|(i, s)| entry(&format!("k{i}"), *s, 0.5)).collect();
            let convs: Vec<StoredConversation> = conv_sizes.iter().enumerate().map(|(i, b)| conv(&format!("c{i}"), i as f64, *b)).collect();
            let plan = budget_plan(used, budget, &cache, &convs, allow, 0);
            let over = used.saturating_sub(budget);
            prop_assert_eq!(plan.still_over, plan.bytes_freed < over);
            if !allow {
                prop_assert!(plan.conversation_ids.is_empty());
            }
            if !plan.conversation_ids.is_empty() {
                prop_assert_eq!(plan.cache_keys.len(), cache.len(), "cache is emptied before any conversation");
            }
        }
    }
}
