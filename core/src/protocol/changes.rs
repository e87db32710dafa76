//! Background → every open extension page: [`Broadcast::Changed`] says
//! what changed (conversations, preferences, providers...), so that each
//! page reloads what it shows instead of polling; and [`GetAppearance`],
//! the look every page applies.
//!
//! A broadcast carries no data, only topics: a page that hears one asks
//! the background again through the checked request path, so a forged
//! broadcast can cost a reload and nothing else.

use serde::{Deserialize, Serialize};

use super::Tagged;
pub use crate::prefs::Appearance;

/// What changed.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    /// Conversations were stored, changed or deleted.
    Conversations,
    /// A preference changed (the look among them).
    Preferences,
    /// Providers, their order, prices, resilience settings or a breaker.
    Providers,
    /// Storage health: quarantine, cleanup, budget.
    Storage,
    /// Where telemetry is exported.
    Telemetry,
    /// Tokens and cost recorded.
    Usage,
}

impl Topic {
    /// Every topic.
    pub const ALL: &'static [Topic] = &[
        Topic::Conversations,
        Topic::Preferences,
        Topic::Providers,
        Topic::Storage,
        Topic::Telemetry,
        Topic::Usage,
    ];
}

tagged! {
    /// Background → every open extension page (`runtime.sendMessage`).
    pub enum Broadcast {
        /// Something the pages show changed.
        Changed {
            /// What changed, each once.
            topics: Vec<Topic>,
        },
    }
}

/// Asks for the [`Appearance`] (`ui.*` preferences).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct GetAppearance {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{decode, encode};

    #[test]
    fn a_broadcast_round_trips_and_junk_is_refused() {
        let wire = encode(&Broadcast::Changed {
            topics: vec![Topic::Conversations, Topic::Preferences],
        });
        assert!(
            wire.contains(r#""topics":["conversations","preferences"]"#),
            "{wire}"
        );
        assert_eq!(
            decode::<Broadcast>(&wire).unwrap(),
            Broadcast::Changed {
                topics: vec![Topic::Conversations, Topic::Preferences]
            }
        );
        let junk = wire.replace("preferences", "everything");
        assert!(decode::<Broadcast>(&junk).is_err());
        let request = r#"{"v":1,"body":{"type":"ListConversations","limit":5}}"#;
        assert!(
            decode::<Broadcast>(request).is_err(),
            "a page's request is not a broadcast"
        );
    }
}
