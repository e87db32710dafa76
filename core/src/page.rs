//! What is known of a page: [`PageSnapshot`].
//!
//! The content script answers [`PageRead`]: title, URL, description,
//! selection, what is on screen and the serialised DOM, which
//! [`extract`](crate::extract::extract) turns into headings, main text and
//! form labels. [`PageSnapshot::clamp`] bounds every field before anything
//! else happens, so a hostile page cannot make the background do unbounded
//! work.
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
/// Longest meta description kept.
pub const MAX_DESCRIPTION_CHARS: usize = 1_000;
/// Most on-screen blocks kept.
pub const MAX_VISIBLE: usize = 12;
/// Longest on-screen block kept.
pub const MAX_VISIBLE_CHARS: usize = 600;
/// Longest form-field label kept.
pub const MAX_FORM_LABEL_CHARS: usize = 160;

/// What the content script answers to `GetPageContext`.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
#[serde(default)]
pub struct PageRead {
    /// The page URL.
    pub url: String,
    /// The document title.
    pub title: String,
    /// The meta description.
    pub description: String,
    /// The selected text.
    pub selection: String,
    /// What is on screen.
    pub viewport: Viewport,
    /// The serialised DOM (see [`crate::extract`]); `None` when the page
    /// has not changed since the last read.
    pub dom: Option<String>,
}

/// What is on screen.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
#[serde(default)]
pub struct Viewport {
    /// How far the page is scrolled, 0–100.
    pub scrolled_percent: u8,
    /// The text blocks on screen, top to bottom.
    pub visible: Vec<String>,
}

/// Text read from a page, in reading order.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
#[serde(default)]
pub struct PageSnapshot {
    /// The page URL.
    pub url: String,
    /// The document title.
    pub title: String,
    /// The meta description.
    pub description: String,
    /// The selected text, if any.
    pub selection: String,
    /// Headings (h1–h3) in document order.
    pub headings: Vec<String>,
    /// Text blocks (paragraphs, list items, table rows) of the main content.
    pub blocks: Vec<String>,
    /// Form fields as `label (kind)`; never their values.
    pub forms: Vec<String>,
    /// What is on screen.
    pub viewport: Viewport,
    /// The page is larger than is read: only its beginning is here (the
    /// reader's bound, or [`MAX_BODY_CHARS`]).
    pub cut: bool,
}

/// The line that says a page was cut, in the context sent and in offline
/// answers.
pub const CUT_NOTE: &str = "This page is larger than Clippy reads: only its beginning was read.";

impl PageSnapshot {
    /// What of the page may be sent to a provider: the parts the user
    /// turned off (options, *Privacy*) are left empty.
    pub fn shared(&self, sources: &crate::prefs::ContextSources) -> PageSnapshot {
        let keep = |on: bool, s: &str| if on { s.to_string() } else { String::new() };
        let url = if sources.full_url {
            self.url.as_str()
        } else {
            without_query(&self.url)
        };
        PageSnapshot {
            url: keep(sources.page_info, url),
            title: keep(sources.page_info, &self.title),
            description: keep(sources.page_info, &self.description),
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
            forms: if sources.form_labels {
                self.forms.clone()
            } else {
                Vec::new()
            },
            // What is on screen is main text: it goes only when both are allowed.
            viewport: Viewport {
                scrolled_percent: if sources.viewport {
                    self.viewport.scrolled_percent
                } else {
                    0
                },
                visible: if sources.viewport && sources.main_text {
                    self.viewport.visible.clone()
                } else {
                    Vec::new()
                },
            },
            cut: self.cut && sources.main_text,
        }
    }

    /// The snapshot of a page `read` by the content script, whose DOM gave
    /// `extracted`. Of what is on screen, only the parts of the main
    /// content are kept (not a cookie banner or a sticky ad over it).
    pub fn new(read: PageRead, extracted: crate::extract::Extracted) -> Self {
        let mut viewport = read.viewport;
        let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let content: Vec<String> = extracted
            .blocks
            .iter()
            .chain(&extracted.headings)
            .map(|b| norm(b))
            .collect();
        viewport.visible.retain(|v| {
            let v = norm(v);
            let probe: String = v.chars().take(80).collect();
            !probe.is_empty() && content.iter().any(|b| b.contains(&probe))
        });
        PageSnapshot {
            url: read.url,
            title: read.title,
            description: read.description,
            selection: read.selection,
            headings: extracted.headings,
            blocks: extracted.blocks,
            forms: extracted.forms,
            viewport,
            cut: extracted.cut,
        }
    }

    /// Bounds every field (see the `MAX_*` constants) and drops empty blocks.
    pub fn clamp(mut self) -> Self {
        self.title = clip(self.title.trim(), MAX_TITLE_CHARS);
        self.description = clip(self.description.trim(), MAX_DESCRIPTION_CHARS);
        self.forms = self
            .forms
            .iter()
            .map(|f| clip(f.trim(), MAX_FORM_LABEL_CHARS))
            .filter(|f| !f.is_empty())
            .take(crate::extract::MAX_FORM_FIELDS)
            .collect();
        self.viewport.scrolled_percent = self.viewport.scrolled_percent.min(100);
        self.viewport.visible = self
            .viewport
            .visible
            .iter()
            .map(|v| clip(v.trim(), MAX_VISIBLE_CHARS))
            .filter(|v| !v.is_empty())
            .take(MAX_VISIBLE)
            .collect();
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
                self.cut = true;
                break;
            }
            let trimmed = block.trim();
            let b = clip(trimmed, budget);
            self.cut |= b.len() < trimmed.len();
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

/// Longest URL kept in a [`context_key`].
pub const MAX_KEY_URL_CHARS: usize = 2_000;

/// `url` without its query and fragment.
pub fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or_default()
}

/// The context-cache key of the serialised DOM `dom` read at `url`:
/// `ctx:<url without its fragment>#<128-bit xxh3 of dom, hex>`.
pub fn context_key(url: &str, dom: &str) -> String {
    let url = url.split('#').next().unwrap_or_default();
    let url: String = url.chars().take(MAX_KEY_URL_CHARS).collect();
    let hash = xxhash_rust::xxh3::xxh3_128(dom.as_bytes());
    format!("ctx:{url}#{hash:032x}")
}

fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_over_the_body_bound_is_marked_cut() {
        let small = PageSnapshot {
            blocks: vec!["a".repeat(10)],
            ..Default::default()
        };
        assert!(!small.clamp().cut);
        let big = PageSnapshot {
            blocks: vec!["a".repeat(MAX_BODY_CHARS - 5), "b".repeat(10)],
            ..Default::default()
        };
        let clamped = big.clamp();
        assert!(clamped.cut);
        // The reader's mark goes with what may be sent only with the text.
        let mut sources = crate::prefs::ContextSources::default();
        assert!(clamped.shared(&sources).cut);
        sources.main_text = false;
        assert!(!clamped.shared(&sources).cut);
    }

    #[test]
    fn clamp_bounds_everything() {
        let page = PageSnapshot {
            url: "u".into(),
            title: "  T  ".into(),
            description: "d".repeat(MAX_DESCRIPTION_CHARS * 2),
            selection: "s".repeat(MAX_SELECTION_CHARS + 5),
            headings: vec!["h".into(); MAX_HEADINGS + 10],
            blocks: vec!["b".repeat(100_000); 5],
            forms: vec!["f".repeat(1000); 100],
            viewport: Viewport {
                scrolled_percent: 250,
                visible: vec!["v".repeat(5000); 20],
            },
            cut: false,
        }
        .clamp();
        assert!(page.cut, "500,000 characters of text are over the bound");
        assert_eq!(page.description.len(), MAX_DESCRIPTION_CHARS);
        assert_eq!(page.forms.len(), crate::extract::MAX_FORM_FIELDS);
        assert!(page.forms.iter().all(|f| f.len() == MAX_FORM_LABEL_CHARS));
        assert_eq!(page.viewport.scrolled_percent, 100);
        assert_eq!(page.viewport.visible.len(), MAX_VISIBLE);
        assert_eq!(page.title, "T");
        assert_eq!(page.selection.len(), MAX_SELECTION_CHARS);
        assert_eq!(page.headings.len(), MAX_HEADINGS);
        assert_eq!(page.blocks.len(), 3);
        let total: usize = page.blocks.iter().map(|b| b.len()).sum();
        assert_eq!(total, MAX_BODY_CHARS);
    }

    #[test]
    fn only_main_content_counts_as_on_screen() {
        let read = PageRead {
            viewport: Viewport {
                scrolled_percent: 10,
                visible: vec![
                    "We use cookies. Accept all".into(),
                    "The  council voted".into(),
                    "Chapter two".into(),
                ],
            },
            ..PageRead::default()
        };
        let extracted = crate::extract::Extracted {
            headings: vec!["Chapter two".into()],
            blocks: vec!["The council voted on Tuesday.".into()],
            forms: Vec::new(),
            cut: false,
        };
        let page = PageSnapshot::new(read, extracted);
        assert_eq!(page.viewport.visible, ["The  council voted", "Chapter two"]);
    }

    #[test]
    fn context_keys_follow_content_not_fragments() {
        let a = context_key("https://a.test/p#top", "<body\0#x\0>");
        assert_eq!(a, context_key("https://a.test/p#end", "<body\0#x\0>"));
        assert_ne!(a, context_key("https://a.test/p", "<body\0#y\0>"));
        assert_ne!(a, context_key("https://a.test/q", "<body\0#x\0>"));
        assert!(
            a.starts_with("ctx:https://a.test/p#") && a.len() == "ctx:https://a.test/p#".len() + 32
        );
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
            description: "about".into(),
            selection: "sel".into(),
            headings: vec!["H".into()],
            blocks: vec!["body".into()],
            forms: vec!["Email (email)".into()],
            viewport: Viewport {
                scrolled_percent: 40,
                visible: vec!["on screen".into()],
            },
            cut: false,
        };
        let all = crate::prefs::ContextSources {
            full_url: true,
            ..Default::default()
        };
        assert_eq!(page.shared(&all), page);
        let none = crate::prefs::ContextSources {
            selection: false,
            page_info: false,
            headings: false,
            main_text: false,
            form_labels: false,
            viewport: false,
            full_url: false,
        };
        assert_eq!(page.shared(&none), PageSnapshot::default());
        let text = crate::provider::prompt::page_context(&page.shared(&none), 1000);
        assert!(!text.contains("a.test") && !text.contains("sel") && !text.contains("body"));
        let text = crate::provider::prompt::page_context(&page, 1000);
        for part in ["about", "Email (email)", "on screen", "40%"] {
            assert!(text.contains(part), "{part} missing from {text}");
        }
    }

    #[test]
    fn the_query_and_fragment_stay_unless_allowed() {
        let page = PageSnapshot {
            url: "https://id.example/reset?token=s3cr3t&u=me#code=abc".into(),
            ..Default::default()
        };
        let default = crate::prefs::ContextSources::default();
        assert_eq!(page.shared(&default).url, "https://id.example/reset");
        let full = crate::prefs::ContextSources {
            full_url: true,
            ..default
        };
        assert_eq!(page.shared(&full).url, page.url);
    }
}
