//! What the content script reads from a page: [`PageSnapshot`].
//!
//! The content script walks the DOM and sends raw text; [`PageSnapshot::clamp`]
//! bounds every field before any ranking happens, so a hostile page cannot
//! make the background do unbounded work.
//!
//! ```
//! use paperclip_core::page::PageSnapshot;
//! let page = PageSnapshot { title: "t".repeat(10_000), ..Default::default() }.clamp();
//! assert_eq!(page.title.chars().count(), paperclip_core::page::MAX_TITLE_CHARS);
//! ```

use serde::{Deserialize, Serialize};

/// Longest title kept.
pub const MAX_TITLE_CHARS: usize = 500;
/// Longest selection kept.
pub const MAX_SELECTION_CHARS: usize = 20_000;
/// Most headings kept.
pub const MAX_HEADINGS: usize = 200;
/// Longest heading kept.
pub const MAX_HEADING_CHARS: usize = 300;
/// Total characters of body text kept, across blocks.
pub const MAX_BODY_CHARS: usize = 300_000;

/// Text read from a page, in reading order.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
#[serde(default)]
pub struct PageSnapshot {
    /// The page URL.
    pub url: String,
    /// The document title.
    pub title: String,
    /// The selected text, if any.
    pub selection: String,
    /// Headings (h1–h3) in document order.
    pub headings: Vec<String>,
    /// Text blocks (paragraphs, list items, cells) of the main content.
    pub blocks: Vec<String>,
}

impl PageSnapshot {
    /// What of the page may be sent to a provider: the parts the user
    /// turned off (options, *Privacy*) are left empty.
    pub fn shared(&self, sources: &crate::prefs::ContextSources) -> PageSnapshot {
        let keep = |on: bool, s: &str| if on { s.to_string() } else { String::new() };
        PageSnapshot {
            url: keep(sources.page_info, &self.url),
            title: keep(sources.page_info, &self.title),
            selection: keep(sources.selection, &self.selection),
            headings: if sources.headings {
                self.headings.clone()
            } else {
                Vec::new()
            },
            blocks: if sources.main_text {
                self.blocks.clone()
            } else {
                Vec::new()
            },
        }
    }

    /// Bounds every field (see the `MAX_*` constants) and drops empty blocks.
    pub fn clamp(mut self) -> Self {
        self.title = clip(self.title.trim(), MAX_TITLE_CHARS);
        self.selection = clip(self.selection.trim(), MAX_SELECTION_CHARS);
        self.headings = self
            .headings
            .iter()
            .map(|h| clip(h.trim(), MAX_HEADING_CHARS))
            .filter(|h| !h.is_empty())
            .take(MAX_HEADINGS)
            .collect();
        let mut budget = MAX_BODY_CHARS;
        let mut blocks = Vec::new();
        for block in &self.blocks {
            if budget == 0 {
                break;
            }
            let b = clip(block.trim(), budget);
            if !b.is_empty() {
                budget -= b.chars().count();
                blocks.push(b);
            }
        }
        self.blocks = blocks;
        self
    }

    /// True when there is no body text at all.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty() && self.selection.is_empty()
    }
}

fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamp_bounds_everything() {
        let page = PageSnapshot {
            url: "u".into(),
            title: "  T  ".into(),
            selection: "s".repeat(MAX_SELECTION_CHARS + 5),
            headings: vec!["h".into(); MAX_HEADINGS + 10],
            blocks: vec!["b".repeat(100_000); 5],
        }
        .clamp();
        assert_eq!(page.title, "T");
        assert_eq!(page.selection.len(), MAX_SELECTION_CHARS);
        assert_eq!(page.headings.len(), MAX_HEADINGS);
        assert_eq!(page.blocks.len(), 3);
        let total: usize = page.blocks.iter().map(|b| b.len()).sum();
        assert_eq!(total, MAX_BODY_CHARS);
    }

    #[test]
    fn missing_fields_default() {
        let p: PageSnapshot = serde_json::from_str(r#"{"title":"x"}"#).unwrap();
        assert_eq!(p.title, "x");
        assert!(p.is_empty());
    }

    #[test]
    fn turned_off_sources_are_not_shared() {
        let page = PageSnapshot {
            url: "https://a.test/x".into(),
            title: "T".into(),
            selection: "sel".into(),
            headings: vec!["H".into()],
            blocks: vec!["body".into()],
        };
        let all = crate::prefs::ContextSources::default();
        assert_eq!(page.shared(&all), page);
        let none = crate::prefs::ContextSources {
            selection: false,
            page_info: false,
            headings: false,
            main_text: false,
            form_labels: false,
            viewport: false,
        };
        assert_eq!(page.shared(&none), PageSnapshot::default());
        let text = crate::provider::prompt::page_context(&page.shared(&none), 1000);
        assert!(!text.contains("a.test") && !text.contains("sel") && !text.contains("body"));
    }
}
