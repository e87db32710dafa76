//! Listing conversations: filters and keyset cursors.
//!
//! Lists are ordered newest first, ties by id (ascending): the order of the
//! `(-updated, id)` keys of the IndexedDB indexes. A page's cursor is the
//! `(updated, id)` of its last item and the next page starts strictly after
//! it, so conversations created while someone pages through the list
//! land before the first page and never shift or repeat later pages.
//!
//! ```
//! use paperclip_core::query::{Cursor, Filter};
//!
//! let f = Filter { text: Some("gem CLIP".into()), ..Filter::default() };
//! assert!(f.text_matches(&["The Gem clip", "history"]));
//! let c = Cursor { updated_ms: 5.0, id: "b".into() };
//! assert_eq!(Cursor::parse(&c.to_token()).unwrap(), c);
//! ```

use serde::{Deserialize, Serialize};

use crate::conversation::{Conversation, ConversationSummary};

/// Most conversations in one page.
pub const MAX_PAGE: u32 = 500;

/// What to list. Every field narrows the list; all empty lists everything.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
#[serde(default)]
pub struct Filter {
    /// Words that must all occur (case-insensitively) in the title or a
    /// message.
    pub text: Option<String>,
    /// Site origin, exactly.
    pub site: Option<String>,
    /// Tag, exactly (tags are lower-case).
    pub tag: Option<String>,
    /// Character ("clippy", ...).
    pub agent: Option<String>,
    /// Updated at or after, ms.
    pub from_ms: Option<f64>,
    /// Updated before, ms.
    pub to_ms: Option<f64>,
}

impl Filter {
    /// The search words, lower-cased; empty when there is no text filter.
    pub fn words(&self) -> Vec<String> {
        self.text
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_lowercase)
            .collect()
    }

    /// True when every search word occurs in one of `texts`.
    pub fn text_matches(&self, texts: &[&str]) -> bool {
        let words = self.words();
        if words.is_empty() {
            return true;
        }
        let lower: Vec<String> = texts.iter().map(|t| t.to_lowercase()).collect();
        words.iter().all(|w| lower.iter().any(|t| t.contains(w)))
    }

    /// True when a conversation with these indexed fields passes every
    /// filter except the text search.
    pub fn fields_match(&self, s: &ConversationSummary) -> bool {
        self.site.as_ref().is_none_or(|v| *v == s.site)
            && self.tag.as_ref().is_none_or(|t| s.tags.contains(t))
            && self.agent.as_ref().is_none_or(|a| *a == s.agent)
            && self.from_ms.is_none_or(|t| s.updated_ms >= t)
            && self.to_ms.is_none_or(|t| s.updated_ms < t)
    }

    /// True when the text search needs the messages.
    pub fn needs_text(&self) -> bool {
        !self.words().is_empty()
    }

    /// True when `c` passes every filter.
    pub fn matches(&self, c: &Conversation) -> bool {
        if !self.fields_match(&c.summary()) {
            return false;
        }
        let mut texts: Vec<&str> = vec![&c.title];
        texts.extend(c.messages.iter().map(|m| m.text.as_str()));
        self.text_matches(&texts)
    }

    /// Checks the filter's values.
    pub fn validate(&self) -> Result<(), String> {
        for (name, t) in [("from_ms", self.from_ms), ("to_ms", self.to_ms)] {
            if t.is_some_and(|t| !t.is_finite()) {
                return Err(format!("{name} is not a finite time"));
            }
        }
        if self
            .text
            .as_ref()
            .is_some_and(|t| t.chars().count() > 1_000)
        {
            return Err("search text is longer than 1000 characters".into());
        }
        Ok(())
    }
}

/// Where a page ends: the last item's `(updated, id)`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Cursor {
    /// The last item's update time.
    pub updated_ms: f64,
    /// The last item's id.
    pub id: String,
}

impl Cursor {
    /// The cursor after `s`.
    pub fn after(s: &ConversationSummary) -> Self {
        Cursor {
            updated_ms: s.updated_ms,
            id: s.id.clone(),
        }
    }

    /// The opaque token handed to the UI.
    pub fn to_token(&self) -> String {
        format!("{}:{}", self.updated_ms, self.id)
    }

    /// Reads a token made by [`Cursor::to_token`].
    pub fn parse(token: &str) -> Result<Self, String> {
        let bad = || format!("not a list cursor: {token:?}");
        let (t, id) = token.split_once(':').ok_or_else(bad)?;
        let updated_ms: f64 = t.parse().map_err(|_| bad())?;
        if !updated_ms.is_finite() || id.is_empty() {
            return Err(bad());
        }
        Ok(Cursor {
            updated_ms,
            id: id.to_string(),
        })
    }

    /// True when `s` comes after this cursor in list order.
    pub fn precedes(&self, s: &ConversationSummary) -> bool {
        s.updated_ms < self.updated_ms || (s.updated_ms == self.updated_ms && s.id > self.id)
    }
}

/// Pages `all` (any order) as the store does: newest first (ties by id), after
/// `cursor`, `limit` items; returns the page and the next cursor. The
/// reference the IndexedDB implementation is tested against.
pub fn page(
    all: &[Conversation],
    filter: &Filter,
    cursor: Option<&Cursor>,
    limit: u32,
) -> (Vec<ConversationSummary>, Option<Cursor>) {
    let mut items: Vec<ConversationSummary> = all
        .iter()
        .filter(|c| filter.matches(c))
        .map(Conversation::summary)
        .filter(|s| cursor.is_none_or(|k| k.precedes(s)))
        .collect();
    items.sort_by(|a, b| {
        b.updated_ms
            .total_cmp(&a.updated_ms)
            .then_with(|| a.id.cmp(&b.id))
    });
    let limit = limit.clamp(1, MAX_PAGE) as usize;
    let more = items.len() > limit;
    items.truncate(limit);
    let next = if more {
        items.last().map(Cursor::after)
    } else {
        None
    };
    (items, next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::{Message, Role};
    use proptest::prelude::*;

    fn conv(id: &str, updated: f64, site: &str, tags: &[&str], text: &str) -> Conversation {
        let mut c = Conversation::new(id.into(), site.into(), 0.0);
        c.push(Message::complete(
            format!("{id}m"),
            Role::User,
            text.into(),
            updated,
        ));
        c.tags = tags.iter().map(|t| t.to_string()).collect();
        c
    }

    #[test]
    fn filters_narrow() {
        let all = vec![
            conv("a", 1.0, "https://a.test", &["work"], "Rust ownership"),
            conv("b", 2.0, "https://b.test", &[], "rust traits and ownership"),
            conv("c", 3.0, "https://a.test", &["work", "later"], "Knitting"),
        ];
        let ids = |f: Filter| -> Vec<String> {
            page(&all, &f, None, 50)
                .0
                .into_iter()
                .map(|s| s.id)
                .collect()
        };
        assert_eq!(ids(Filter::default()), ["c", "b", "a"]);
        let text = |t: &str| Filter {
            text: Some(t.into()),
            ..Filter::default()
        };
        assert_eq!(ids(text("OWNERSHIP rust")), ["b", "a"]);
        assert_eq!(ids(text("traits")), ["b"]);
        let site = Filter {
            site: Some("https://a.test".into()),
            ..Filter::default()
        };
        assert_eq!(ids(site), ["c", "a"]);
        let tag = Filter {
            tag: Some("later".into()),
            ..Filter::default()
        };
        assert_eq!(ids(tag), ["c"]);
        let range = Filter {
            from_ms: Some(2.0),
            to_ms: Some(3.0),
            ..Filter::default()
        };
        assert_eq!(ids(range), ["b"]);
        let agent = Filter {
            agent: Some("clippette".into()),
            ..Filter::default()
        };
        assert!(ids(agent).is_empty());
    }

    #[test]
    fn bad_cursors_and_filters_are_errors() {
        assert!(Cursor::parse("nonsense").is_err());
        assert!(Cursor::parse("NaN:x").is_err());
        assert!(Cursor::parse("5:").is_err());
        assert_eq!(Cursor::parse("5:a:b").unwrap().id, "a:b");
        let f = Filter {
            from_ms: Some(f64::INFINITY),
            ..Filter::default()
        };
        assert!(f.validate().is_err());
    }

    proptest! {
        /// Paging through while new conversations arrive (newer than
        /// everything) yields every original conversation exactly once.
        #[test]
        fn pages_are_stable_under_inserts(
            times in proptest::collection::vec(0u32..50, 1..60),
            limit in 1u32..8,
            inserts_per_page in 0usize..4,
        ) {
            let mut all: Vec<Conversation> = times
                .iter()
                .enumerate()
                .map(|(i, t)| conv(&format!("c{i:03}"), f64::from(*t), "s", &[], "x"))
                .collect();
            let original: Vec<String> = all.iter().map(|c| c.id.clone()).collect();
            let mut seen = Vec::new();
            let mut cursor = None;
            let mut fresh = 0;
            loop {
                let (items, next) = page(&all, &Filter::default(), cursor.as_ref(), limit);
                seen.extend(items.into_iter().map(|s| s.id));
                for _ in 0..inserts_per_page {
                    fresh += 1;
                    all.push(conv(&format!("new{fresh}"), 1000.0 + f64::from(fresh), "s", &[], "x"));
                }
                match next {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
            let mut sorted = seen.clone();
            sorted.sort();
            sorted.dedup();
            prop_assert_eq!(sorted.len(), seen.len(), "no repeats");
            let mut expected = original;
            expected.sort();
            prop_assert_eq!(sorted, expected);
        }

        #[test]
        fn cursor_tokens_round_trip(t in 0u64..(1u64 << 53), id in "[a-z0-9:-]{1,40}") {
            let c = Cursor { updated_ms: t as f64, id };
            prop_assert_eq!(Cursor::parse(&c.to_token()).unwrap(), c);
        }
    }
}
