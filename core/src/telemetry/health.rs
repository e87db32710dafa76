//! Health per component: the [`HealthBoard`] keeps each component's
//! [`Status`] (healthy, degraded, down), a message and *since when* the
//! status holds (it changes only on a transition), and an overall status:
//! the worst of all.
//!
//! ```
//! use paperclip_core::telemetry::health::{HealthBoard, Status};
//!
//! let mut board = HealthBoard::default();
//! board.set("storage", Status::Healthy, "", 1_000.0)?;
//! board.set("provider.openai", Status::Degraded, "2 of 5 calls failed", 2_000.0)?;
//! board.set("provider.openai", Status::Degraded, "3 of 5 calls failed", 3_000.0)?;
//! let openai = board.get("provider.openai").unwrap();
//! assert_eq!((openai.since_ms, openai.message.as_str()), (2_000.0, "3 of 5 calls failed"));
//! let overall = board.overall();
//! assert_eq!((overall.status, overall.since_ms), (Status::Degraded, 2_000.0));
//! # Ok::<(), paperclip_core::telemetry::health::TooManyComponents>(())
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A component's state, from best to worst (the order is used for
/// "worst").
#[derive(
    Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Works.
    #[default]
    Healthy,
    /// Works partly or slowly (a provider failing some calls, a fallback
    /// in use).
    Degraded,
    /// Does not work.
    Down,
}

/// One component's health.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ComponentHealth {
    /// Its status.
    pub status: Status,
    /// Why (scrubbed by the caller; may be empty).
    pub message: String,
    /// Since when the status holds (ms).
    pub since_ms: f64,
    /// When it was last reported (ms).
    pub updated_ms: f64,
}

/// A change of a component's status.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct HealthTransition {
    /// The component.
    pub component: String,
    /// Its previous status (`None` when first reported).
    pub from: Option<Status>,
    /// Its new status.
    pub to: Status,
    /// When.
    pub at_ms: f64,
}

/// The overall health.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Overall {
    /// The worst status of any component (healthy when there is none).
    pub status: Status,
    /// Since when the overall status holds.
    pub since_ms: f64,
    /// The components at that worst status (none when healthy).
    pub worst: Vec<String>,
}

/// Everything the devtools panel shows about health.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct HealthSnapshot {
    /// The overall status.
    pub overall: Overall,
    /// Each component, by name.
    pub components: Vec<(String, ComponentHealth)>,
}

/// The most components a board tracks.
pub const MAX_COMPONENTS: usize = 64;

/// A component beyond [`MAX_COMPONENTS`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("health board is full ({MAX_COMPONENTS} components): {0} was not added")]
pub struct TooManyComponents(pub String);

/// Component health and the overall status.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct HealthBoard {
    components: BTreeMap<String, ComponentHealth>,
    overall_status: Status,
    overall_since_ms: f64,
}

impl HealthBoard {
    /// Reports a component's status. `since_ms` moves only when the status
    /// changes; the transition is returned then.
    pub fn set(
        &mut self,
        component: &str,
        status: Status,
        message: &str,
        now_ms: f64,
    ) -> Result<Option<HealthTransition>, TooManyComponents> {
        let full = self.components.len() >= MAX_COMPONENTS;
        let transition = match self.components.get_mut(component) {
            Some(c) => {
                c.message = message.to_string();
                c.updated_ms = now_ms;
                let from = c.status;
                (from != status).then(|| {
                    c.status = status;
                    c.since_ms = now_ms;
                    HealthTransition {
                        component: component.to_string(),
                        from: Some(from),
                        to: status,
                        at_ms: now_ms,
                    }
                })
            }
            None if full => {
                return Err(TooManyComponents(component.to_string()));
            }
            None => {
                self.components.insert(
                    component.to_string(),
                    ComponentHealth {
                        status,
                        message: message.to_string(),
                        since_ms: now_ms,
                        updated_ms: now_ms,
                    },
                );
                Some(HealthTransition {
                    component: component.to_string(),
                    from: None,
                    to: status,
                    at_ms: now_ms,
                })
            }
        };
        self.update_overall(now_ms);
        Ok(transition)
    }

    /// Forgets a component (e.g. a provider removed by the user).
    pub fn remove(&mut self, component: &str, now_ms: f64) -> bool {
        let removed = self.components.remove(component).is_some();
        self.update_overall(now_ms);
        removed
    }

    fn worst(&self) -> Status {
        self.components
            .values()
            .map(|c| c.status)
            .max()
            .unwrap_or_default()
    }

    fn update_overall(&mut self, now_ms: f64) {
        let worst = self.worst();
        if worst != self.overall_status {
            self.overall_status = worst;
            self.overall_since_ms = now_ms;
        }
    }

    /// One component's health.
    pub fn get(&self, component: &str) -> Option<&ComponentHealth> {
        self.components.get(component)
    }

    /// The overall status: the worst component's.
    pub fn overall(&self) -> Overall {
        let worst = if self.overall_status == Status::Healthy {
            Vec::new()
        } else {
            self.components
                .iter()
                .filter(|(_, c)| c.status == self.overall_status)
                .map(|(name, _)| name.clone())
                .collect()
        };
        Overall {
            status: self.overall_status,
            since_ms: self.overall_since_ms,
            worst,
        }
    }

    /// Everything, for the devtools panel.
    pub fn snapshot(&self) -> HealthSnapshot {
        HealthSnapshot {
            overall: self.overall(),
            components: self
                .components
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn since_moves_only_on_transitions() {
        let mut b = HealthBoard::default();
        let t = b
            .set("cache", Status::Healthy, "ok", 10.0)
            .unwrap()
            .unwrap();
        assert_eq!((t.from, t.to), (None, Status::Healthy));
        assert_eq!(
            b.set("cache", Status::Healthy, "still ok", 20.0).unwrap(),
            None
        );
        let c = b.get("cache").unwrap();
        assert_eq!(
            (c.since_ms, c.updated_ms, c.message.as_str()),
            (10.0, 20.0, "still ok")
        );
        let t = b
            .set("cache", Status::Down, "quota", 30.0)
            .unwrap()
            .unwrap();
        assert_eq!(
            (t.from, t.to, t.at_ms),
            (Some(Status::Healthy), Status::Down, 30.0)
        );
        assert_eq!(b.overall().status, Status::Down);
        assert_eq!(b.overall().worst, ["cache"]);
        // Another component degrading does not change the overall "since".
        b.set("provider", Status::Degraded, "", 40.0).unwrap();
        assert_eq!(b.overall().since_ms, 30.0);
        b.set("cache", Status::Healthy, "", 50.0).unwrap();
        assert_eq!(
            (b.overall().status, b.overall().since_ms),
            (Status::Degraded, 50.0)
        );
        assert!(b.remove("provider", 60.0));
        assert_eq!(
            (b.overall().status, b.overall().since_ms),
            (Status::Healthy, 60.0)
        );
        assert!(b.overall().worst.is_empty());
        let snap = b.snapshot();
        let json = serde_json::to_string(&snap).unwrap();
        assert_eq!(serde_json::from_str::<HealthSnapshot>(&json).unwrap(), snap);
        let bytes = postcard::to_allocvec(&snap).unwrap();
        assert_eq!(
            postcard::from_bytes::<HealthSnapshot>(&bytes).unwrap(),
            snap
        );
    }

    #[test]
    fn board_is_bounded() {
        let mut b = HealthBoard::default();
        for i in 0..MAX_COMPONENTS {
            b.set(&format!("c{i}"), Status::Healthy, "", 0.0).unwrap();
        }
        let err = b.set("one.more", Status::Down, "", 0.0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "health board is full (64 components): one.more was not added"
        );
        assert!(b.set("c0", Status::Down, "", 1.0).is_ok());
    }

    proptest! {
        /// Overall is always the worst component status.
        #[test]
        fn overall_is_the_worst(reports in proptest::collection::vec((0usize..5, 0u8..3), 0..50)) {
            let mut b = HealthBoard::default();
            for (i, (c, s)) in reports.iter().enumerate() {
                let status = [Status::Healthy, Status::Degraded, Status::Down][*s as usize];
                b.set(&format!("c{c}"), status, "", i as f64).unwrap();
                let worst = b.snapshot().components.iter().map(|(_, h)| h.status).max().unwrap_or_default();
                prop_assert_eq!(b.overall().status, worst);
            }
        }
    }
}
