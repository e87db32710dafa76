//! What the user decided about error groups in the devtools panel: a group
//! is resolved (at a time) or muted; a resolved group seen again after
//! that time is shown as regressed. Kept in `meta` by fingerprint,
//! bounded.
//!
//! ```
//! use paperclip_core::telemetry::errors::Fingerprint;
//! use paperclip_core::telemetry::triage::{GroupState, Triage, TriageBook};
//! let mut book = TriageBook::default();
//! book.set(Fingerprint(7), Some(Triage::Resolved { at_ms: 100.0 })).unwrap();
//! assert_eq!(book.state(Fingerprint(7), 90.0), GroupState::Resolved);
//! assert_eq!(book.state(Fingerprint(7), 150.0), GroupState::Regressed);
//! assert_eq!(book.state(Fingerprint(8), 150.0), GroupState::Open);
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::errors::Fingerprint;

/// The most groups a book holds.
pub const MAX_TRIAGED: usize = 1_000;

/// The user's decision about one group.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Triage {
    /// Fixed as of `at_ms`: seen again later, it has regressed.
    Resolved {
        /// When it was marked resolved, ms since the epoch.
        at_ms: f64,
    },
    /// Not to be shown unless asked for.
    Muted {},
}

/// How a group is shown.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum GroupState {
    /// Nothing decided.
    Open,
    /// Resolved, and not seen since.
    Resolved,
    /// Resolved, then seen again.
    Regressed,
    /// Muted.
    Muted,
}

impl GroupState {
    /// Its name (`regressed`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Resolved => "resolved",
            Self::Regressed => "regressed",
            Self::Muted => "muted",
        }
    }
}

/// Why a decision was not kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TriageError {
    /// The book is full.
    #[error("{MAX_TRIAGED} error groups are already resolved or muted: reopen some first")]
    Full,
    /// A time that is not a time.
    #[error("the time a group was resolved must be a finite number of ms")]
    BadTime,
}

/// The decisions, by fingerprint.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct TriageBook {
    /// Each decided group's decision.
    pub groups: BTreeMap<Fingerprint, Triage>,
}

impl TriageBook {
    /// Records `triage` for `fingerprint` (`None` reopens it).
    pub fn set(
        &mut self,
        fingerprint: Fingerprint,
        triage: Option<Triage>,
    ) -> Result<(), TriageError> {
        match triage {
            None => {
                self.groups.remove(&fingerprint);
            }
            Some(Triage::Resolved { at_ms }) if !at_ms.is_finite() => {
                return Err(TriageError::BadTime)
            }
            Some(t) => {
                if !self.groups.contains_key(&fingerprint) && self.groups.len() >= MAX_TRIAGED {
                    return Err(TriageError::Full);
                }
                self.groups.insert(fingerprint, t);
            }
        }
        Ok(())
    }

    /// How the group `fingerprint`, last seen at `last_seen_ms`, is shown.
    pub fn state(&self, fingerprint: Fingerprint, last_seen_ms: f64) -> GroupState {
        match self.groups.get(&fingerprint) {
            None => GroupState::Open,
            Some(Triage::Muted {}) => GroupState::Muted,
            Some(Triage::Resolved { at_ms }) if last_seen_ms > *at_ms => GroupState::Regressed,
            Some(Triage::Resolved { .. }) => GroupState::Resolved,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolved_regresses_muted_stays_and_the_book_is_bounded() {
        let mut book = TriageBook::default();
        book.set(Fingerprint(1), Some(Triage::Muted {})).unwrap();
        assert_eq!(book.state(Fingerprint(1), 1e15), GroupState::Muted);
        book.set(Fingerprint(1), None).unwrap();
        assert_eq!(book.state(Fingerprint(1), 0.0), GroupState::Open);
        assert_eq!(
            book.set(Fingerprint(2), Some(Triage::Resolved { at_ms: f64::NAN })),
            Err(TriageError::BadTime)
        );
        for n in 0..MAX_TRIAGED as u64 {
            book.set(Fingerprint(n), Some(Triage::Muted {})).unwrap();
        }
        assert_eq!(
            book.set(Fingerprint(u64::MAX), Some(Triage::Muted {})),
            Err(TriageError::Full)
        );
        // Changing a decided group is always possible.
        book.set(Fingerprint(3), Some(Triage::Resolved { at_ms: 5.0 }))
            .unwrap();
        assert_eq!(book.state(Fingerprint(3), 5.0), GroupState::Resolved);
        assert_eq!(book.state(Fingerprint(3), 6.0), GroupState::Regressed);
        // It travels as JSON keyed by the fingerprint's hex.
        let json =
            serde_json::to_string(&book.groups.iter().take(1).collect::<BTreeMap<_, _>>()).unwrap();
        assert_eq!(json, r#"{"0000000000000000":{"state":"muted"}}"#);
    }
}
