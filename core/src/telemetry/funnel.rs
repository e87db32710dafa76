//! Funnels: a [`Funnel`] has named, ordered steps (event names) and counts
//! how many journeys (e.g. asks, keyed by an id) reach each step in order;
//! its [`FunnelReport`] gives per-step counts and conversion rates.
//!
//! A step counts for a journey only right after the previous one: journeys
//! start at the first step, repeats and skipped steps are ignored, so each
//! step's count is at most the previous step's. Open journeys are bounded
//! (least recently active evicted first, counted).
//!
//! ```
//! use paperclip_core::telemetry::funnel::{Funnel, FunnelDef};
//!
//! let def = FunnelDef::new("ask", ["ask.opened", "ask.sent", "answer.shown"], "ask_id")?;
//! let mut funnel = Funnel::new(def, 100)?;
//! for ask in 0..4 {
//!     funnel.observe("ask.opened", ask);
//! }
//! for ask in 0..3 {
//!     funnel.observe("ask.sent", ask);
//! }
//! funnel.observe("answer.shown", 0);
//! let report = funnel.report();
//! let counts: Vec<u64> = report.steps.iter().map(|s| s.count).collect();
//! assert_eq!(counts, [4, 3, 1]);
//! assert_eq!(report.steps[1].from_previous, Some(0.75));
//! assert_eq!(report.steps[2].from_start, Some(0.25));
//! # Ok::<(), paperclip_core::telemetry::funnel::FunnelError>(())
//! ```

use std::num::NonZeroUsize;

use lru::LruCache;
use serde::{Deserialize, Serialize};

use super::{DropReason, DropTally};

/// The most steps a funnel has.
pub const MAX_STEPS: usize = 16;
/// The most open journeys a funnel may track.
pub const MAX_JOURNEYS: usize = 100_000;

/// A funnel that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FunnelError {
    /// Fewer than two or more than [`MAX_STEPS`] steps.
    #[error("funnel {0} needs 2 to 16 steps")]
    StepCount(String),
    /// A step named twice.
    #[error("funnel {funnel} names step {step} twice")]
    DuplicateStep {
        /// The funnel.
        funnel: String,
        /// The step.
        step: String,
    },
    /// `max_journeys` outside `1..=MAX_JOURNEYS`.
    #[error("funnel {0} must track 1 to 100000 journeys")]
    Journeys(String),
}

/// A funnel's definition.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct FunnelDef {
    /// Its name.
    pub name: String,
    /// The event names of its steps, in order.
    pub steps: Vec<String>,
    /// The event property that identifies a journey (e.g. `ask_id`).
    pub journey_key: String,
}

impl FunnelDef {
    /// A checked definition.
    pub fn new<I, S>(name: &str, steps: I, journey_key: &str) -> Result<Self, FunnelError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let def = Self {
            name: name.to_string(),
            steps: steps.into_iter().map(Into::into).collect(),
            journey_key: journey_key.to_string(),
        };
        def.validate()?;
        Ok(def)
    }

    /// Checks the step count and that steps are distinct.
    pub fn validate(&self) -> Result<(), FunnelError> {
        if !(2..=MAX_STEPS).contains(&self.steps.len()) {
            return Err(FunnelError::StepCount(self.name.clone()));
        }
        for (i, step) in self.steps.iter().enumerate() {
            if self.steps[..i].contains(step) {
                return Err(FunnelError::DuplicateStep {
                    funnel: self.name.clone(),
                    step: step.clone(),
                });
            }
        }
        Ok(())
    }
}

/// One step in a [`FunnelReport`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct StepReport {
    /// The step's event name.
    pub name: String,
    /// Journeys that reached it.
    pub count: u64,
    /// `count / previous step's count` (`None` for the first step or when
    /// the previous count is 0).
    pub from_previous: Option<f64>,
    /// `count / first step's count` (`None` when that is 0).
    pub from_start: Option<f64>,
}

/// A funnel's counts and conversions.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct FunnelReport {
    /// The funnel.
    pub name: String,
    /// Its steps in order.
    pub steps: Vec<StepReport>,
    /// Journeys started and not yet finished.
    pub open: u64,
    /// Open journeys forgotten because too many were open.
    pub evicted: u64,
}

/// A funnel's counts (see the module docs).
#[derive(Debug, Clone)]
pub struct Funnel {
    def: FunnelDef,
    counts: Vec<u64>,
    /// Journey → the last step it reached.
    journeys: LruCache<u64, usize>,
    evicted: u64,
    dropped: DropTally,
}

impl Funnel {
    /// A funnel tracking at most `max_journeys` open journeys.
    pub fn new(def: FunnelDef, max_journeys: usize) -> Result<Self, FunnelError> {
        def.validate()?;
        let cap = NonZeroUsize::new(max_journeys)
            .filter(|n| n.get() <= MAX_JOURNEYS)
            .ok_or_else(|| FunnelError::Journeys(def.name.clone()))?;
        Ok(Self {
            counts: vec![0; def.steps.len()],
            def,
            journeys: LruCache::new(cap),
            evicted: 0,
            dropped: DropTally::default(),
        })
    }

    /// Its definition.
    pub fn def(&self) -> &FunnelDef {
        &self.def
    }

    /// Observes event `name` for `journey`; returns the step index it
    /// counted for, if any.
    pub fn observe(&mut self, name: &str, journey: u64) -> Option<usize> {
        let step = self.def.steps.iter().position(|s| s == name)?;
        if step == 0 {
            // A journey (re)starts.
            if let Some((old, _)) = self.journeys.push(journey, 0) {
                if old != journey {
                    self.evicted += 1;
                    self.dropped.add(DropReason::Evicted, 1);
                }
            }
        } else {
            let last = self.journeys.get_mut(&journey)?;
            if *last + 1 != step {
                return None;
            }
            *last = step;
            if step + 1 == self.def.steps.len() {
                self.journeys.pop(&journey);
            }
        }
        self.counts[step] += 1;
        Some(step)
    }

    /// Counts and conversions.
    pub fn report(&self) -> FunnelReport {
        let ratio = |n: u64, d: u64| (d > 0).then(|| n as f64 / d as f64);
        let first = self.counts[0];
        let steps = self
            .def
            .steps
            .iter()
            .zip(&self.counts)
            .enumerate()
            .map(|(i, (name, count))| StepReport {
                name: name.clone(),
                count: *count,
                from_previous: if i == 0 {
                    None
                } else {
                    ratio(*count, self.counts[i - 1])
                },
                from_start: ratio(*count, first),
            })
            .collect();
        FunnelReport {
            name: self.def.name.clone(),
            steps,
            open: self.journeys.len() as u64,
            evicted: self.evicted,
        }
    }

    /// Evictions not yet taken.
    pub fn take_dropped(&mut self) -> DropTally {
        self.dropped.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn funnel(max: usize) -> Funnel {
        Funnel::new(FunnelDef::new("f", ["a", "b", "c"], "id").unwrap(), max).unwrap()
    }

    #[test]
    fn steps_count_only_in_order() {
        let mut f = funnel(10);
        assert_eq!(f.observe("b", 1), None); // never started
        assert_eq!(f.observe("a", 1), Some(0));
        assert_eq!(f.observe("c", 1), None); // skipped b
        assert_eq!(f.observe("b", 1), Some(1));
        assert_eq!(f.observe("b", 1), None); // repeat
        assert_eq!(f.observe("zzz", 1), None);
        assert_eq!(f.observe("c", 1), Some(2));
        let r = f.report();
        assert_eq!(
            r.steps.iter().map(|s| s.count).collect::<Vec<_>>(),
            [1, 1, 1]
        );
        assert_eq!(r.open, 0); // finished journeys are closed
        assert_eq!(r.steps[0].from_previous, None);
        let empty = funnel(1).report();
        assert_eq!(empty.steps[1].from_start, None);
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<FunnelReport>(&json).unwrap(), r);
    }

    #[test]
    fn open_journeys_are_bounded_and_evictions_counted() {
        let mut f = funnel(2);
        for id in 0..5 {
            f.observe("a", id);
        }
        let r = f.report();
        assert_eq!((r.open, r.evicted), (2, 3));
        assert_eq!(f.take_dropped().get(DropReason::Evicted), 3);
        assert_eq!(f.observe("b", 0), None); // evicted
        assert_eq!(f.observe("b", 4), Some(1));
    }

    #[test]
    fn definitions_are_checked() {
        assert!(matches!(
            FunnelDef::new("f", ["a"], "id"),
            Err(FunnelError::StepCount(_))
        ));
        let dup = FunnelDef::new("f", ["a", "b", "a"], "id").unwrap_err();
        assert_eq!(dup.to_string(), "funnel f names step a twice");
        let def = FunnelDef::new("f", ["a", "b"], "id").unwrap();
        assert!(Funnel::new(def.clone(), 0).is_err());
        assert!(Funnel::new(def, MAX_JOURNEYS + 1).is_err());
    }

    proptest! {
        /// Counts never increase along the funnel, and open journeys stay
        /// within the bound.
        #[test]
        fn counts_never_increase(max in 1usize..20, obs in proptest::collection::vec((0usize..4, 0u64..30), 0..300)) {
            let mut f = funnel(max);
            let names = ["a", "b", "c", "x"];
            for (step, id) in obs {
                f.observe(names[step], id);
                let r = f.report();
                prop_assert!(r.open as usize <= max);
                prop_assert!(r.steps.windows(2).all(|w| w[1].count <= w[0].count));
            }
        }
    }
}
