//! The toolbar popup's messages: what the agent does when it appears
//! ([`Arrival`], carried by `ActivateTab`), the popup's status line
//! ([`GetPopupStatus`]: who answers now, this site's setting, a storage
//! warning) and "Clippy on this site" ([`SetSiteAccess`]).

use serde::{Deserialize, Serialize};

use super::{valid_message_id, ErrorKind, ProtocolError};

/// Most characters of a question typed in the popup.
pub const MAX_QUESTION_CHARS: usize = 20_000;

/// What the agent does when it appears, besides showing the site's
/// latest conversation.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(tag = "type")]
pub enum Arrival {
    /// Asks `question` (typed in the popup's "Ask Clippy" field).
    Ask {
        /// The question.
        question: String,
    },
    /// Shows conversation `conversation_id` (a recent conversation the
    /// user opened from the popup).
    Open {
        /// The conversation.
        conversation_id: String,
    },
}

impl Arrival {
    /// The arrival, checked: a question that is not empty and not too
    /// long (trimmed), a well-formed conversation id.
    pub fn validate(self) -> Result<Self, ProtocolError> {
        let bad = |m: String| ProtocolError::new(ErrorKind::Malformed, m);
        match self {
            Arrival::Ask { question } => {
                let question = question.trim().to_string();
                if question.is_empty() {
                    return Err(bad("the question is empty".into()));
                }
                let chars = question.chars().count();
                if chars > MAX_QUESTION_CHARS {
                    return Err(bad(format!(
                        "the question has {chars} characters; at most {MAX_QUESTION_CHARS} fit"
                    )));
                }
                Ok(Arrival::Ask { question })
            }
            Arrival::Open { conversation_id } if valid_message_id(&conversation_id) => {
                Ok(Arrival::Open { conversation_id })
            }
            Arrival::Open { .. } => Err(bad("not a conversation id".into())),
        }
    }
}

/// Asks for the popup's [`PopupStatus`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct GetPopupStatus {
    /// The site (origin) of the tab the popup is over, when known.
    #[serde(default)]
    pub site: Option<String>,
}

/// Who answers now, and how it is doing.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct AnsweringNow {
    /// The provider's name.
    pub provider: String,
    /// Its circuit breaker: `closed`, `open` or `half_open`.
    pub breaker: String,
    /// Time to the first text of its last answer, ms.
    pub last_latency_ms: Option<u64>,
}

/// The popup's status.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PopupStatus {
    /// The provider that answers the next question; `None`: offline
    /// answers only (no provider, or every one paused).
    pub answering: Option<AnsweringNow>,
    /// The site asked about, normalised (`None` when not given or not a
    /// web site).
    pub site: Option<String>,
    /// False when the user set Clippy to "never" on that site.
    pub site_allowed: bool,
    /// A storage problem worth telling the user, if any.
    pub storage_warning: Option<String>,
    /// A resource budget crossed ([`crate::budget::BudgetStatus::warning`]).
    #[serde(default)]
    pub budget_warning: Option<String>,
}

/// Sets whether Clippy may be shown on `site` ("Clippy on this site").
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct SetSiteAccess {
    /// The site (origin).
    pub site: String,
    /// True: never show Clippy there; false: allow it again.
    pub never: bool,
}

/// The site's setting as stored.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct SiteAccessSet {
    /// The site, normalised.
    pub site: String,
    /// Whether Clippy is now never shown there.
    pub never: bool,
}

/// The storage problem the popup tells the user about, if any: storage in
/// memory only, nearly full, or records that could not be read.
pub fn storage_warning(status: &super::StorageStatus) -> Option<String> {
    if !status.persistent {
        return Some(format!(
            "Conversations are kept in memory only and are lost when the browser closes{}.",
            status
                .notice
                .as_deref()
                .map_or(String::new(), |n| format!(" ({n})"))
        ));
    }
    if let crate::maintenance::QuotaLevel::Near { percent } = status.quota {
        return Some(format!(
            "Storage is {percent}% full. Clean up on the options page."
        ));
    }
    match status.quarantine.len() {
        0 => None,
        1 => Some(
            "1 stored record could not be read; it is set aside (see the options page).".into(),
        ),
        n => Some(format!(
            "{n} stored records could not be read; they are set aside (see the options page)."
        )),
    }
}

/// What activation says on a site the user set to "never".
pub fn never_here(site: &str) -> String {
    format!(
        "Clippy is turned off on {site}. To use it here again, open the Paperclip toolbar popup on this page and set \"Clippy on this site\" to On."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals_are_checked() {
        let ask = |q: &str| Arrival::Ask { question: q.into() }.validate();
        assert_eq!(
            ask("  Why?  ").unwrap(),
            Arrival::Ask {
                question: "Why?".into()
            }
        );
        assert!(ask("   ").unwrap_err().message.contains("empty"));
        let long = "a".repeat(MAX_QUESTION_CHARS + 1);
        assert!(ask(&long).unwrap_err().message.contains("at most 20000"));
        let open = |id: &str| {
            Arrival::Open {
                conversation_id: id.into(),
            }
            .validate()
        };
        assert!(open("5f0c-11").is_ok());
        assert!(open("../x").is_err());
        assert!(open("").is_err());
    }

    #[test]
    fn storage_warnings() {
        let ok = crate::protocol::StorageStatus {
            persistent: true,
            notice: None,
            schema_version: 3,
            usage_bytes: 0,
            quota_bytes: 0,
            quota: crate::maintenance::QuotaLevel::Ok,
            conversations: 0,
            compressed: 0,
            bytes_saved: 0,
            cache_entries: 0,
            cache: Default::default(),
            telemetry_records: 0,
            quarantine: vec![],
            last_maintenance_ms: 0.0,
        };
        assert_eq!(storage_warning(&ok), None);
        let memory = crate::protocol::StorageStatus {
            persistent: false,
            notice: Some("IndexedDB is unavailable".into()),
            ..ok.clone()
        };
        assert!(storage_warning(&memory).unwrap().contains(
            "in memory only and are lost when the browser closes (IndexedDB is unavailable)"
        ));
        let full = crate::protocol::StorageStatus {
            quota: crate::maintenance::QuotaLevel::Near { percent: 93 },
            ..ok.clone()
        };
        assert!(storage_warning(&full)
            .unwrap()
            .starts_with("Storage is 93% full"));
    }

    #[test]
    fn the_never_message_says_how_to_undo_it() {
        let m = never_here("https://example.com");
        assert!(
            m.contains("https://example.com") && m.contains("set \"Clippy on this site\" to On")
        );
    }
}
