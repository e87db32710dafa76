//! The fallback chain's pure parts: the [`Degradation`] level an answer
//! came from (sent to the agent and shown), and the response cache's key
//! and record ([`answer_key`], [`CachedAnswer`]) for the "cached answer"
//! step between the fallback provider and the offline answer.
//!
//! ```
//! use paperclip_core::page::PageSnapshot;
//! use paperclip_core::resilience::fallback::{answer_key, Degradation};
//!
//! let page = PageSnapshot { url: "https://a.test/x#top".into(), title: "X".into(), ..Default::default() };
//! let moved = PageSnapshot { url: "https://a.test/x".into(), ..page.clone() };
//! // Case, spacing and the URL's fragment do not change the key...
//! assert_eq!(answer_key("What is X?", &page), answer_key("  what is   x? ", &moved));
//! // ...another question does.
//! assert_ne!(answer_key("What is Y?", &page), answer_key("What is X?", &page));
//! assert!(Degradation::Cached > Degradation::Fallback);
//! ```

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3;

use crate::cache::CacheEntry;
use crate::page::PageSnapshot;

/// Where an answer came from, from best to worst.
#[derive(
    Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Degradation {
    /// The primary provider (or the offline provider when it is the only
    /// one configured): nothing is degraded.
    #[default]
    Normal,
    /// The configured fallback provider, because the primary failed.
    Fallback,
    /// An earlier answer to the same question about the same page, because
    /// every provider failed.
    Cached,
    /// The offline answer from the page, because every provider failed and
    /// nothing was cached.
    Offline,
}

impl Degradation {
    /// What the agent shows next to an answer at this level (`None` for
    /// [`Degradation::Normal`]).
    pub fn label(self) -> Option<&'static str> {
        match self {
            Self::Normal => None,
            Self::Fallback => Some("Fallback provider"),
            Self::Cached => Some("Cached answer"),
            Self::Offline => Some("Offline answer · from this page"),
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::Fallback => "fallback",
            Self::Cached => "cached",
            Self::Offline => "offline",
        }
    }
}

/// Where one answer came from: which provider, at which step of the chain.
/// Stored on each assistant message (`Message::provider` and
/// `Message::level`), sent with `AnswerStart`, and rendered by the agent
/// ([`AnswerSource::label`]); nothing parses it back from text.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Hash)]
pub struct AnswerSource {
    /// The provider's name as the user gave it ("offline" for the offline
    /// provider).
    pub provider: String,
    /// The step of the chain it answered at.
    pub level: Degradation,
}

/// The offline provider's name.
pub const OFFLINE: &str = "offline";

impl AnswerSource {
    /// `provider` at `level`.
    pub fn new(provider: impl Into<String>, level: Degradation) -> Self {
        Self {
            provider: provider.into(),
            level,
        }
    }

    /// What the agent shows next to the answer.
    pub fn label(&self) -> String {
        match (self.provider.as_str(), self.level) {
            (OFFLINE, Degradation::Normal) => "Offline answer · from this page".into(),
            (OFFLINE, _) => "Offline answer · from this page (fallback)".into(),
            (p, Degradation::Normal) => format!("Answered by {p}"),
            (p, Degradation::Fallback) => format!("Answered by {p} (fallback)"),
            (p, Degradation::Cached) => format!("Answered by {p} (cached)"),
            (p, Degradation::Offline) => format!("Answered by {p}"),
        }
    }

    /// Reads what records written before the source was typed stored: one
    /// label, the provider's name with " (fallback)" or " (cached)" after
    /// it. Used only to read old records and old export files.
    pub fn from_legacy(label: &str) -> Self {
        if let Some(p) = label.strip_suffix(" (cached)") {
            return Self::new(p, Degradation::Cached);
        }
        match label.strip_suffix(" (fallback)") {
            Some(OFFLINE) => Self::new(OFFLINE, Degradation::Offline),
            Some(p) => Self::new(p, Degradation::Fallback),
            None => Self::new(label, Degradation::Normal),
        }
    }
}

/// The key prefix of cached answers in the context cache.
pub const ANSWER_PREFIX: &str = "answer:";

/// The cache key of `question` about `page`: the page's site (so a site's
/// data can be deleted, [`crate::data::cache_prefixes`]) and a 128-bit hash
/// of the question (trimmed, lower-cased, whitespace collapsed) and of
/// everything read from the page (URL without its fragment, title,
/// selection, headings, text): `answer:<site>#<hash>`.
pub fn answer_key(question: &str, page: &PageSnapshot) -> String {
    let mut h = Xxh3::new();
    let mut field = |s: &str| {
        h.update(&(s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    };
    let question: Vec<String> = question
        .split_whitespace()
        .map(|w| w.to_lowercase())
        .collect();
    field(&question.join(" "));
    field(page.url.split('#').next().unwrap_or_default());
    field(&page.title);
    field(&page.selection);
    for heading in &page.headings {
        field(heading);
    }
    field("\u{0}blocks");
    for block in &page.blocks {
        field(block);
    }
    let site = crate::net::origin_of_url(&page.url);
    format!("{ANSWER_PREFIX}{site}#{:032x}", h.digest128())
}

/// A provider's complete answer, as kept in the context cache.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct CachedAnswer {
    /// The answer's text.
    pub text: String,
    /// The label of the provider that gave it.
    pub provider: String,
    /// When it was given (ms since the epoch).
    pub answered_ms: u64,
}

impl CachedAnswer {
    /// The cache entry holding this answer under `key` for `ttl_ms`.
    pub fn entry(&self, key: String, provider_id: &str, now_ms: u64, ttl_ms: u64) -> CacheEntry {
        let value = serde_json::to_string(self).expect("plain struct");
        CacheEntry::new(
            key,
            value,
            now_ms,
            ttl_ms,
            0.6,
            vec![provider_id.to_string()],
        )
    }

    /// Reads a cached entry's value; `None` when it is not an answer.
    pub fn read(entry: &CacheEntry) -> Option<Self> {
        serde_json::from_str(&entry.value).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn page(blocks: &[&str]) -> PageSnapshot {
        PageSnapshot {
            url: "https://a.test/doc".into(),
            title: "Doc".into(),
            blocks: blocks.iter().map(|b| b.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn the_page_text_is_part_of_the_key() {
        let q = "summarize";
        assert_ne!(answer_key(q, &page(&["a"])), answer_key(q, &page(&["b"])));
        // Field boundaries count: ["ab"] and ["a", "b"] differ.
        assert_ne!(
            answer_key(q, &page(&["ab"])),
            answer_key(q, &page(&["a", "b"]))
        );
        let mut with_heading = page(&["a"]);
        with_heading.headings = vec!["a".into()];
        assert_ne!(
            answer_key(q, &with_heading),
            answer_key(q, &page(&["a", "a"]))
        );
    }

    #[test]
    fn cached_answers_round_trip() {
        let answer = CachedAnswer {
            text: "yes".into(),
            provider: "Local".into(),
            answered_ms: 5,
        };
        let entry = answer.entry("answer:1".into(), "p1", 10, 100);
        assert_eq!(CachedAnswer::read(&entry), Some(answer));
        assert!(!entry.expired(109));
        assert!(entry.expired(110));
        let other = CacheEntry::new("answer:2", "not json", 0, 0, 0.5, vec![]);
        assert_eq!(CachedAnswer::read(&other), None);
    }

    proptest! {
        #[test]
        fn keys_are_stable_and_well_formed(q in ".{0,80}", blocks in proptest::collection::vec(".{0,40}", 0..5)) {
            let p = PageSnapshot { blocks, ..page(&[]) };
            let key = answer_key(&q, &p);
            prop_assert_eq!(&key, &answer_key(&q, &p.clone()));
            prop_assert_eq!(key.len(), "answer:https://a.test#".len() + 32);
            prop_assert!(key.starts_with("answer:https://a.test#"));
        }
    }

    #[test]
    fn sources_label_themselves_and_old_labels_still_read() {
        use super::{AnswerSource, Degradation, OFFLINE};
        let cases = [
            (
                "offline",
                AnswerSource::new(OFFLINE, Degradation::Normal),
                "Offline answer · from this page",
            ),
            (
                "offline (fallback)",
                AnswerSource::new(OFFLINE, Degradation::Offline),
                "Offline answer · from this page (fallback)",
            ),
            (
                "Local",
                AnswerSource::new("Local", Degradation::Normal),
                "Answered by Local",
            ),
            (
                "Local (fallback)",
                AnswerSource::new("Local", Degradation::Fallback),
                "Answered by Local (fallback)",
            ),
            (
                "Local (cached)",
                AnswerSource::new("Local", Degradation::Cached),
                "Answered by Local (cached)",
            ),
        ];
        for (legacy, source, label) in cases {
            assert_eq!(AnswerSource::from_legacy(legacy), source, "{legacy}");
            assert_eq!(source.label(), label);
        }
    }
}
