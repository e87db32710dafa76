//! Proactive hints: whether the agent offers one when it opens on a site
//! ([`HintState::visit`]), and which ([`suggest`]). Off by default; only on
//! the sites the user allowed (`agent.proactive_hints`, `agent.hint_sites`).
//!
//! A hint is at most one per visit and only a suggestion shown by the
//! agent: nothing is sent until the user takes it. Each ignored hint
//! doubles the number of visits skipped before the next one; a taken hint
//! resets the backoff.
//!
//! ```
//! use paperclip_core::hints::{HintState, Outcome};
//! let (offer, state) = HintState::default().visit();
//! assert!(offer);
//! let state = state.after(Outcome::Ignored);        // skip the next visit
//! let (offer, state) = state.visit();
//! assert!(!offer);
//! let (offer, _) = state.visit();
//! assert!(offer);
//! ```

use serde::{Deserialize, Serialize};

use crate::page::PageSnapshot;
use crate::prefs::Preferences;
use crate::quick::QuickAction;

/// Most visits skipped after ignored hints.
pub const MAX_SKIP: u32 = 32;
/// Characters of main text from which a page is worth summarising.
pub const LONG_PAGE_CHARS: usize = 3_000;

/// A hint the agent offers.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    /// What the agent says.
    pub text: String,
    /// What taking it does.
    pub action: QuickAction,
}

/// How the user answered a hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The user took it.
    Taken,
    /// The user dismissed it or did something else.
    Ignored,
}

/// Per-site backoff state, stored between visits.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
#[serde(default)]
pub struct HintState {
    /// Hints ignored in a row.
    pub ignored: u32,
    /// Visits still to skip.
    pub skip: u32,
}

impl HintState {
    /// A visit: whether a hint may be offered, and the state after it.
    pub fn visit(self) -> (bool, HintState) {
        if self.skip > 0 {
            (
                false,
                HintState {
                    skip: self.skip - 1,
                    ..self
                },
            )
        } else {
            (true, self)
        }
    }

    /// The state after a hint had `outcome`: ignored hints back off
    /// exponentially (1, 3, 7, … visits skipped, at most [`MAX_SKIP`]).
    pub fn after(self, outcome: Outcome) -> HintState {
        match outcome {
            Outcome::Taken => HintState::default(),
            Outcome::Ignored => {
                let ignored = self.ignored.saturating_add(1);
                let skip = 2u32
                    .checked_pow(ignored)
                    .map_or(MAX_SKIP, |n| (n - 1).min(MAX_SKIP));
                HintState { ignored, skip }
            }
        }
    }
}

/// Whether hints are on for `site` (an origin).
pub fn allowed(preferences: &Preferences, site: &str) -> bool {
    preferences.proactive_hints
        && crate::prefs::origin(site)
            .map(|site| preferences.hint_sites.contains(&site))
            .unwrap_or(false)
}

/// The hint worth offering on `page`, if any: explain the selection, or
/// summarise a long page.
pub fn suggest(page: &PageSnapshot) -> Option<Hint> {
    if !page.selection.trim().is_empty() {
        return Some(Hint {
            text: "You've selected some text. Want me to explain it?".into(),
            action: QuickAction::ExplainSelection,
        });
    }
    let body: usize = page.blocks.iter().map(|b| b.chars().count()).sum();
    (body >= LONG_PAGE_CHARS).then(|| Hint {
        text: format!(
            "This page is long (about {} words). Want a summary?",
            (body / 6).div_ceil(100) * 100
        ),
        action: QuickAction::SummarizePage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn only_on_allowed_sites_when_turned_on() {
        let mut p = Preferences {
            hint_sites: vec!["https://news.test".into()],
            ..Preferences::default()
        };
        assert!(!allowed(&p, "https://news.test"));
        p.proactive_hints = true;
        assert!(allowed(&p, "https://news.test"));
        assert!(allowed(&p, "https://NEWS.test:443/"));
        assert!(!allowed(&p, "https://other.test"));
        assert!(!allowed(&p, "not a site"));
    }

    #[test]
    fn suggestions() {
        let short = PageSnapshot {
            blocks: vec!["short".into()],
            ..PageSnapshot::default()
        };
        assert_eq!(suggest(&short), None);
        let long = PageSnapshot {
            blocks: vec!["word ".repeat(1000)],
            ..PageSnapshot::default()
        };
        assert_eq!(suggest(&long).unwrap().action, QuickAction::SummarizePage);
        let selected = PageSnapshot {
            selection: "x".into(),
            ..long
        };
        assert_eq!(
            suggest(&selected).unwrap().action,
            QuickAction::ExplainSelection
        );
    }

    proptest! {
        /// Ignored hints are offered on at most about log2(visits) + 1 of
        /// the visits; a taken hint brings the next visit's hint back.
        #[test]
        fn backoff(outcomes in proptest::collection::vec(any::<bool>(), 1..200)) {
            let mut state = HintState::default();
            let mut offered_ignored = 0u32;
            let mut visits = 0u32;
            for taken in outcomes {
                visits += 1;
                let (offer, next) = state.visit();
                state = next;
                if offer {
                    if taken {
                        state = state.after(Outcome::Taken);
                        prop_assert!(state.visit().0);
                        offered_ignored = 0;
                        visits = 0;
                    } else {
                        state = state.after(Outcome::Ignored);
                        offered_ignored += 1;
                    }
                }
                prop_assert!(state.skip <= MAX_SKIP);
                // Only hints since the last taken one count.
                prop_assert!(offered_ignored <= 1 + (32 - visits.leading_zeros()) + visits / (MAX_SKIP + 1));
            }
        }
    }
}
