//! Resource budgets: memory, storage, concurrent asks and the ask rate,
//! set in the preferences (`performance.budget_*`, `privacy.storage_budget_mb`).
//!
//! [`BudgetManager`] is told what is in use ([`Usage`], sampled by the
//! worker) and asked before each question ([`BudgetManager::admit`]). A
//! budget crossed is an event ([`BudgetEvent::Crossed`]) and, while it
//! lasts, the worker's health is degraded and the popup and the devtools
//! panel say so. Memory over its budget is shed in a fixed order, one step
//! per sample while it stays over ([`Shed`]): the context cache's memory
//! tier, then the telemetry buffers down to their floor, then new
//! questions are refused with a clear message; one step back per sample
//! once it is under [`RECOVER_RATIO`] of the budget. Because wasm linear
//! memory never shrinks, memory is counted as what is *in use* (the
//! allocator's live bytes plus the JS heap), which shedding can lower.
//!
//! ```
//! use paperclip_core::budget::{BudgetManager, Budgets, Shed, Usage};
//!
//! let mut m = BudgetManager::new(Budgets { memory_bytes: 100, ..Budgets::default() });
//! let over = Usage { memory_bytes: 150, ..Usage::default() };
//! m.observe(&over);
//! assert_eq!(m.shed(), Shed::MemoryCache);
//! m.observe(&over);
//! m.observe(&over);
//! assert_eq!(m.shed(), Shed::RefuseAsks);
//! assert!(m.admit(0.0).is_err());
//! m.observe(&Usage { memory_bytes: 10, ..Usage::default() });
//! assert_eq!(m.shed(), Shed::TelemetryBuffers);
//! assert!(m.admit(0.0).is_ok());
//! ```

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::prefs::Preferences;

/// Memory must fall under this share of its budget before a shedding step
/// is undone (so that it does not flap at the line).
pub const RECOVER_RATIO: f64 = 0.85;

/// The window of the ask rate, ms.
pub const RATE_WINDOW_MS: f64 = 60_000.0;

/// The budgets.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budgets {
    /// Memory in use by the worker (wasm live bytes + JS heap), bytes.
    pub memory_bytes: u64,
    /// Storage used by the extension (`navigator.storage.estimate()`), bytes.
    pub storage_bytes: u64,
    /// Questions answered at the same time.
    pub concurrent_asks: u32,
    /// Questions started in any minute.
    pub asks_per_minute: u32,
}

impl Default for Budgets {
    fn default() -> Self {
        Self::from_prefs(&Preferences::default())
    }
}

impl Budgets {
    /// The budgets the preferences set.
    pub fn from_prefs(p: &Preferences) -> Self {
        Self {
            memory_bytes: u64::from(p.budget_memory_mb) * 1024 * 1024,
            storage_bytes: u64::from(p.storage_budget_mb) * 1024 * 1024,
            concurrent_asks: p.budget_concurrent_asks,
            asks_per_minute: p.budget_asks_per_minute,
        }
    }
}

/// A budgeted resource.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    /// Memory in use.
    Memory,
    /// Storage used.
    Storage,
    /// Questions at the same time.
    Concurrency,
    /// Questions a minute.
    Rate,
}

impl Resource {
    /// Its name in telemetry and in the panel.
    pub fn name(self) -> &'static str {
        match self {
            Resource::Memory => "memory",
            Resource::Storage => "storage",
            Resource::Concurrency => "concurrency",
            Resource::Rate => "rate",
        }
    }
}

/// How much is being shed to bring memory back under its budget, in the
/// order it is done.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
#[serde(rename_all = "snake_case")]
pub enum Shed {
    /// Nothing.
    #[default]
    Nothing,
    /// The context cache's memory tier is emptied (and kept empty).
    MemoryCache,
    /// Also: the telemetry buffers are cut to their floor.
    TelemetryBuffers,
    /// Also: new questions are refused.
    RefuseAsks,
}

impl Shed {
    fn up(self) -> Self {
        match self {
            Shed::Nothing => Shed::MemoryCache,
            Shed::MemoryCache => Shed::TelemetryBuffers,
            Shed::TelemetryBuffers | Shed::RefuseAsks => Shed::RefuseAsks,
        }
    }

    fn down(self) -> Self {
        match self {
            Shed::Nothing | Shed::MemoryCache => Shed::Nothing,
            Shed::TelemetryBuffers => Shed::MemoryCache,
            Shed::RefuseAsks => Shed::TelemetryBuffers,
        }
    }
}

/// What is in use, as the worker sampled it.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Memory in use, bytes.
    pub memory_bytes: u64,
    /// Storage used, bytes (`None`: not known this time).
    pub storage_bytes: Option<u64>,
}

/// A budget crossed, or back under.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BudgetEvent {
    /// `resource` went over its budget: `used` of `limit`.
    Crossed {
        /// Which.
        resource: Resource,
        /// In use.
        used: u64,
        /// Its budget.
        limit: u64,
    },
    /// `resource` is back under its budget.
    Recovered {
        /// Which.
        resource: Resource,
    },
}

/// Why a question was not started.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// Memory is over its budget even after shedding.
    Memory,
    /// As many questions as the budget allows are being answered.
    Concurrency {
        /// The budget.
        limit: u32,
    },
    /// As many questions as the budget allows were asked this minute.
    Rate {
        /// The budget.
        limit: u32,
        /// When one more may start, ms from now.
        retry_in_ms: u64,
    },
}

impl Refusal {
    /// The sentence the user reads.
    pub fn message(&self) -> String {
        match self {
            Refusal::Memory => "paperclip is over its memory budget and has freed what it can; \
                 try again in a moment, or raise the budget in Options → Performance."
                .into(),
            Refusal::Concurrency { limit } => format!(
                "paperclip is already answering {limit} question{} (the most its budget allows); \
                 ask again when one is done, or raise the budget in Options → Performance.",
                if *limit == 1 { "" } else { "s" }
            ),
            Refusal::Rate { limit, retry_in_ms } => format!(
                "you asked {limit} question{} in the last minute, the most the budget allows; \
                 ask again in {} s, or raise the budget in Options → Performance.",
                if *limit == 1 { "" } else { "s" },
                retry_in_ms.div_ceil(1000).max(1)
            ),
        }
    }
}

/// The state the popup and the panel show.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct BudgetStatus {
    /// The budgets over their line now, with what is in use.
    pub over: Vec<(Resource, u64, u64)>,
    /// What is being shed.
    pub shed: Shed,
}

impl BudgetStatus {
    /// The sentence the popup shows while a budget is crossed.
    pub fn warning(&self) -> Option<String> {
        let mb = |b: u64| format!("{:.0}", b as f64 / (1024.0 * 1024.0));
        let sentences: Vec<String> = self
            .over
            .iter()
            .map(|(resource, used, limit)| match resource {
                Resource::Memory => {
                    let doing = match self.shed {
                        Shed::Nothing => "it is freeing memory",
                        Shed::MemoryCache => "it emptied its memory cache",
                        Shed::TelemetryBuffers => {
                            "it emptied its memory cache and trimmed its telemetry"
                        }
                        Shed::RefuseAsks => {
                            "it emptied its memory cache, trimmed its telemetry and refuses new questions"
                        }
                    };
                    format!(
                        "Paperclip is over its memory budget ({} of {} MB): {doing} until it is back under.",
                        mb(*used),
                        mb(*limit)
                    )
                }
                Resource::Storage => format!(
                    "Paperclip stores {} MB, over its {} MB storage budget: delete conversations or raise the budget in Options.",
                    mb(*used),
                    mb(*limit)
                ),
                Resource::Concurrency | Resource::Rate => String::new(),
            })
            .filter(|s| !s.is_empty())
            .collect();
        (!sentences.is_empty()).then(|| sentences.join(" "))
    }
}

/// The budget manager (pure: the worker gives it the time and the usage).
#[derive(Debug, Clone)]
pub struct BudgetManager {
    budgets: Budgets,
    shed: Shed,
    memory_over: Option<u64>,
    storage_over: Option<u64>,
    running: u32,
    /// Start times of the asks in the last [`RATE_WINDOW_MS`] (at most
    /// `asks_per_minute` of them).
    started: VecDeque<f64>,
}

impl BudgetManager {
    /// A manager with `budgets`, nothing in use.
    pub fn new(budgets: Budgets) -> Self {
        Self {
            budgets,
            shed: Shed::Nothing,
            memory_over: None,
            storage_over: None,
            running: 0,
            started: VecDeque::new(),
        }
    }

    /// The budgets.
    pub fn budgets(&self) -> Budgets {
        self.budgets
    }

    /// New budgets (the preferences changed); what is shed is judged again
    /// at the next sample.
    pub fn set_budgets(&mut self, budgets: Budgets) {
        self.budgets = budgets;
        let keep = budgets.asks_per_minute as usize;
        while self.started.len() > keep {
            self.started.pop_front();
        }
    }

    /// What is being shed now.
    pub fn shed(&self) -> Shed {
        self.shed
    }

    /// Takes a sample of what is in use: returns the budgets crossed and
    /// recovered since the last one, and moves the shedding one step.
    pub fn observe(&mut self, usage: &Usage) -> Vec<BudgetEvent> {
        let mut events = Vec::new();
        let limit = self.budgets.memory_bytes;
        let used = usage.memory_bytes;
        if used > limit {
            self.shed = self.shed.up();
            if self.memory_over.is_none() {
                events.push(BudgetEvent::Crossed {
                    resource: Resource::Memory,
                    used,
                    limit,
                });
            }
            self.memory_over = Some(used);
        } else {
            if (used as f64) < limit as f64 * RECOVER_RATIO {
                self.shed = self.shed.down();
            }
            if self.memory_over.is_some() && self.shed == Shed::Nothing {
                self.memory_over = None;
                events.push(BudgetEvent::Recovered {
                    resource: Resource::Memory,
                });
            } else if self.memory_over.is_some() {
                self.memory_over = Some(used);
            }
        }
        if let Some(used) = usage.storage_bytes {
            let limit = self.budgets.storage_bytes;
            match (used > limit, self.storage_over.is_some()) {
                (true, false) => events.push(BudgetEvent::Crossed {
                    resource: Resource::Storage,
                    used,
                    limit,
                }),
                (false, true) => events.push(BudgetEvent::Recovered {
                    resource: Resource::Storage,
                }),
                _ => {}
            }
            self.storage_over = (used > limit).then_some(used);
        }
        events
    }

    /// May a question start at `now_ms`? If so it counts as running until
    /// [`BudgetManager::finished`].
    pub fn admit(&mut self, now_ms: f64) -> Result<(), Refusal> {
        if self.shed == Shed::RefuseAsks {
            return Err(Refusal::Memory);
        }
        let limit = self.budgets.concurrent_asks;
        if self.running >= limit {
            return Err(Refusal::Concurrency { limit });
        }
        while self
            .started
            .front()
            .is_some_and(|t| now_ms - t >= RATE_WINDOW_MS || *t > now_ms)
        {
            self.started.pop_front();
        }
        let limit = self.budgets.asks_per_minute;
        if self.started.len() >= limit as usize {
            let oldest = self.started.front().copied().unwrap_or(now_ms);
            let retry_in_ms = (oldest + RATE_WINDOW_MS - now_ms).max(0.0).ceil() as u64;
            return Err(Refusal::Rate { limit, retry_in_ms });
        }
        self.started.push_back(now_ms);
        self.running += 1;
        Ok(())
    }

    /// A question [`admit`](Self::admit)ted earlier ended.
    pub fn finished(&mut self) {
        self.running = self.running.saturating_sub(1);
    }

    /// Questions running now.
    pub fn running(&self) -> u32 {
        self.running
    }

    /// What the popup and the panel show.
    pub fn status(&self) -> BudgetStatus {
        let mut over = Vec::new();
        if let Some(used) = self.memory_over {
            over.push((Resource::Memory, used, self.budgets.memory_bytes));
        }
        if let Some(used) = self.storage_over {
            over.push((Resource::Storage, used, self.budgets.storage_bytes));
        }
        BudgetStatus {
            over,
            shed: self.shed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn budgets() -> Budgets {
        Budgets {
            memory_bytes: 1_000,
            storage_bytes: 10_000,
            concurrent_asks: 2,
            asks_per_minute: 3,
        }
    }

    fn memory(bytes: u64) -> Usage {
        Usage {
            memory_bytes: bytes,
            storage_bytes: None,
        }
    }

    #[test]
    fn memory_over_sheds_in_order_then_recovers_step_by_step() {
        let mut m = BudgetManager::new(budgets());
        assert_eq!(m.observe(&memory(900)), vec![]);
        assert_eq!(
            m.observe(&memory(1_200)),
            vec![BudgetEvent::Crossed {
                resource: Resource::Memory,
                used: 1_200,
                limit: 1_000
            }]
        );
        assert_eq!(m.shed(), Shed::MemoryCache);
        assert_eq!(m.observe(&memory(1_100)), vec![], "crossed once");
        assert_eq!(m.shed(), Shed::TelemetryBuffers);
        m.observe(&memory(1_100));
        assert_eq!(m.shed(), Shed::RefuseAsks);
        assert_eq!(m.admit(0.0), Err(Refusal::Memory));
        m.observe(&memory(1_100));
        assert_eq!(m.shed(), Shed::RefuseAsks, "the last step");
        assert_eq!(m.status().over, vec![(Resource::Memory, 1_100, 1_000)]);
        let big = BudgetStatus {
            over: vec![(Resource::Memory, 40 << 20, 32 << 20)],
            shed: Shed::RefuseAsks,
        };
        let warning = big.warning().unwrap_or_default();
        assert!(
            warning.contains("(40 of 32 MB)") && warning.contains("refuses new questions"),
            "{warning}"
        );
        // Under the budget but above the recovery line: held.
        m.observe(&memory(900));
        assert_eq!(m.shed(), Shed::RefuseAsks);
        m.observe(&memory(500));
        assert_eq!(m.shed(), Shed::TelemetryBuffers);
        assert!(m.admit(0.0).is_ok());
        m.observe(&memory(500));
        assert_eq!(
            m.observe(&memory(500)),
            vec![BudgetEvent::Recovered {
                resource: Resource::Memory
            }]
        );
        assert_eq!(m.shed(), Shed::Nothing);
        assert_eq!(m.status(), BudgetStatus::default());
    }

    #[test]
    fn storage_is_reported_not_shed() {
        let mut m = BudgetManager::new(budgets());
        let storage = |b| Usage {
            memory_bytes: 0,
            storage_bytes: Some(b),
        };
        assert_eq!(
            m.observe(&storage(20_000)),
            vec![BudgetEvent::Crossed {
                resource: Resource::Storage,
                used: 20_000,
                limit: 10_000
            }]
        );
        assert_eq!(m.shed(), Shed::Nothing);
        assert_eq!(m.observe(&memory(0)), vec![], "unknown: unchanged");
        assert_eq!(m.status().over.len(), 1);
        assert_eq!(
            m.observe(&storage(5_000)),
            vec![BudgetEvent::Recovered {
                resource: Resource::Storage
            }]
        );
    }

    #[test]
    fn concurrency_and_rate_refuse_with_the_wait() {
        let mut m = BudgetManager::new(budgets());
        assert!(m.admit(0.0).is_ok());
        assert!(m.admit(1.0).is_ok());
        assert_eq!(m.admit(2.0), Err(Refusal::Concurrency { limit: 2 }));
        m.finished();
        assert!(m.admit(3.0).is_ok());
        m.finished();
        m.finished();
        assert_eq!(
            m.admit(10_000.0),
            Err(Refusal::Rate {
                limit: 3,
                retry_in_ms: 50_000
            })
        );
        assert!(m.admit(60_000.0).is_ok(), "the first left the window");
        let message = Refusal::Rate {
            limit: 3,
            retry_in_ms: 50_000,
        }
        .message();
        assert!(
            message.contains("3 questions") && message.contains("50 s"),
            "{message}"
        );
        assert!(Refusal::Memory.message().contains("memory budget"));
    }

    #[test]
    fn budgets_come_from_the_preferences() {
        let p = Preferences {
            budget_memory_mb: 20,
            storage_budget_mb: 100,
            ..Preferences::default()
        };
        let b = Budgets::from_prefs(&p);
        assert_eq!(b.memory_bytes, 20 * 1024 * 1024);
        assert_eq!(b.storage_bytes, 100 * 1024 * 1024);
        assert_eq!(b.concurrent_asks, p.budget_concurrent_asks);
    }

    proptest! {
        /// Whatever the samples and asks: shedding only moves one step at a
        /// time, asks are refused exactly while the last step holds, the
        /// running count never exceeds the budget, and the rate window
        /// never holds more than the budget.
        #[test]
        fn the_manager_keeps_its_bounds(
            steps in proptest::collection::vec((0u64..3_000, 0u8..3, 0u32..2_000), 1..200)
        ) {
            let mut m = BudgetManager::new(budgets());
            let mut now = 0.0;
            for (used, action, dt) in steps {
                now += f64::from(dt);
                let before = m.shed();
                match action {
                    0 => {
                        m.observe(&memory(used));
                        let moved = (m.shed() as i8 - before as i8).abs();
                        prop_assert!(moved <= 1);
                        if used > 1_000 { prop_assert!(m.shed() >= before); }
                    }
                    1 => {
                        let admitted = m.admit(now);
                        if before == Shed::RefuseAsks {
                            prop_assert_eq!(admitted, Err(Refusal::Memory));
                        }
                    }
                    _ => m.finished(),
                }
                prop_assert!(m.running() <= 2);
                prop_assert!(m.started.len() <= 3);
            }
        }
    }
}
