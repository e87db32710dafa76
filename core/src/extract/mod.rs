//! Readability-like page reading: [`extract`] turns a page's serialised DOM
//! (a [`stream`](self#the-stream)) into [`Extracted`] — the main content's
//! text blocks in reading order, the headings outline and the labels of the
//! form fields — leaving navigation, ads, banners, sidebars and footers out.
//!
//! The content script only serialises the DOM (`content/static/content/extract.js`);
//! every decision is made here, so it is tested natively on saved pages
//! (`core/tests/extract_fixtures.rs`).
//!
//! ```
//! use paperclip_core::extract::{extract, StreamWriter};
//!
//! let mut w = StreamWriter::default();
//! w.open("body", &[]);
//! w.open("nav", &[]);
//! w.open("a", &[]); w.text("Home"); w.close(); w.close();
//! w.open("article", &[]);
//! w.open("h1", &[]); w.text("Paper clips"); w.close();
//! w.open("p", &[]); w.text("A paper clip holds   sheets of paper together."); w.close();
//! w.close();
//! w.close();
//! let page = extract(&w.finish());
//! assert_eq!(page.headings, ["Paper clips"]);
//! assert_eq!(page.blocks, ["A paper clip holds sheets of paper together."]);
//! ```
//!
//! # The stream
//!
//! Records separated by `\0`, each starting with its kind:
//! `<tag` + attributes (each `\x1f` + a one-letter key + value: `i` id,
//! `c` class, `r` role, `f` label's `for`, `t` input type, `l` aria-label,
//! `p` placeholder, `n` name) opens an element, `>` closes it, `#text` is a
//! text node, `!cut` says the writer stopped at its size bound (the rest of
//! the page was not read). The writer leaves out what the browser does not show (the
//! `hidden` attribute, `aria-hidden="true"`, inline `display: none`) and
//! the [`SKIP_TAGS`]; it never writes a form field's value. A malformed
//! stream reads as well as it can and never panics.

use serde::{Deserialize, Serialize};

mod chrome;
mod read;

use chrome::*;
pub use read::extract;
use read::*;

/// Elements whose content is never page text.
pub const SKIP_TAGS: &[&str] = &[
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "math",
    "canvas",
    "iframe",
    "object",
    "embed",
    "video",
    "audio",
    "head",
    "paperclip-agent",
];
/// Deepest nesting kept; deeper elements are flattened into their ancestor.
pub const MAX_DEPTH: usize = 256;
/// Most elements read; the rest of the stream is ignored.
pub const MAX_ELEMENTS: usize = 400_000;
/// Most form fields listed.
pub const MAX_FORM_FIELDS: usize = 50;
/// A block whose link text is more than this share of its text is navigation.
pub const MAX_LINK_DENSITY: f64 = 0.5;
/// A boilerplate-looking element holding more than this share of the page's
/// non-link text is kept anyway (it is a wrapper, not a banner).
pub const MAX_BOILERPLATE_SHARE: f64 = 0.5;
/// The main content is the deepest element holding at least this share of
/// the page's (non-boilerplate, non-link) text.
pub const MAIN_SHARE: f64 = 0.75;

/// What [`extract`] read from a page.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
#[serde(default)]
pub struct Extracted {
    /// h1–h3 outside boilerplate, in document order.
    pub headings: Vec<String>,
    /// The main content's text blocks in reading order; a table row is its
    /// cells joined by `" | "`.
    pub blocks: Vec<String>,
    /// Form fields as `label (kind)`, never their values.
    pub forms: Vec<String>,
    /// The page was larger than is read (the writer's `!cut`, or more than
    /// [`MAX_ELEMENTS`] elements): only its beginning is here.
    #[serde(default)]
    pub cut: bool,
}

/// Builds a [stream](self#the-stream) (the shape `extract.js` writes).
#[derive(Default, Debug)]
pub struct StreamWriter {
    out: String,
}

impl StreamWriter {
    /// Says the page was cut here (`!cut`).
    pub fn cut(&mut self) {
        self.sep();
        self.out.push_str("!cut");
    }

    fn sep(&mut self) {
        if !self.out.is_empty() {
            self.out.push('\0');
        }
    }

    /// Opens element `tag` with `attrs` (`(key letter, value)`).
    pub fn open(&mut self, tag: &str, attrs: &[(char, &str)]) {
        self.sep();
        self.out.push('<');
        self.out.push_str(tag);
        for (k, v) in attrs {
            self.out.push('\x1f');
            self.out.push(*k);
            self.out
                .extend(v.chars().filter(|c| *c != '\0' && *c != '\x1f'));
        }
    }

    /// A text node.
    pub fn text(&mut self, text: &str) {
        self.sep();
        self.out.push('#');
        self.out.extend(text.chars().filter(|c| *c != '\0'));
    }

    /// Closes the innermost open element.
    pub fn close(&mut self) {
        self.sep();
        self.out.push('>');
    }

    /// The stream.
    pub fn finish(self) -> String {
        self.out
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// Starts and ends a text block (p, li, div, …).
    Block,
    /// A heading, h1–h6 (level).
    Heading(u8),
    Pre,
    Row,
    Cell,
    Link,
    /// Line break: a space.
    Break,
    /// Form control or chrome whose text is not page text.
    Control,
    Label,
    Inline,
    Skip,
}

fn kind(tag: &str) -> Kind {
    match tag {
        "p" | "li" | "div" | "section" | "article" | "main" | "body" | "blockquote" | "dd"
        | "dt" | "dl" | "ul" | "ol" | "figcaption" | "figure" | "caption" | "summary"
        | "details" | "address" | "header" | "footer" | "nav" | "aside" | "form" | "fieldset"
        | "legend" | "table" | "thead" | "tbody" | "tfoot" | "hr" | "center" | "menu" | "html" => {
            Kind::Block
        }
        "h1" => Kind::Heading(1),
        "h2" => Kind::Heading(2),
        "h3" => Kind::Heading(3),
        "h4" => Kind::Heading(4),
        "h5" => Kind::Heading(5),
        "h6" => Kind::Heading(6),
        "pre" => Kind::Pre,
        "tr" => Kind::Row,
        "td" | "th" => Kind::Cell,
        "a" => Kind::Link,
        "br" => Kind::Break,
        "button" | "select" | "option" | "optgroup" | "textarea" | "input" | "output"
        | "datalist" => Kind::Control,
        "label" => Kind::Label,
        t if SKIP_TAGS.contains(&t) => Kind::Skip,
        _ => Kind::Inline,
    }
}

/// Attributes, borrowed from the stream (`role` and `type` are compared
/// case-insensitively).
#[derive(Default, Debug)]
struct Attrs<'a> {
    id: &'a str,
    class: &'a str,
    role: &'a str,
    label_for: &'a str,
    input_type: &'a str,
    aria_label: &'a str,
    placeholder: &'a str,
    name: &'a str,
}

#[derive(Debug)]
enum Child<'a> {
    El(usize),
    /// A text node and its [`scan`].
    Text(&'a str, Scan),
}

#[derive(Debug)]
struct El<'a> {
    tag: std::borrow::Cow<'a, str>,
    kind: Kind,
    parent: usize,
    attrs: Attrs<'a>,
    children: Vec<Child<'a>>,
}

/// The parsed stream: elements in document (pre-)order, element 0 the root.
/// Tags, attributes and text are borrowed from the stream.
struct Dom<'a> {
    els: Vec<El<'a>>,
    /// The page was cut (see [`Extracted::cut`]).
    cut: bool,
}

fn parse(stream: &str) -> Dom<'_> {
    let root = El {
        tag: "#root".into(),
        kind: Kind::Block,
        parent: 0,
        attrs: Attrs::default(),
        children: Vec::new(),
    };
    let mut els = vec![root];
    let mut cut = false;
    // Open elements; `None` for one flattened away (too deep or too many).
    let mut stack: Vec<Option<usize>> = Vec::new();
    let current = |stack: &[Option<usize>]| stack.iter().rev().find_map(|e| *e).unwrap_or(0);
    for record in stream.split('\0') {
        let Some(kind_char) = record.chars().next() else {
            continue;
        };
        let rest = &record[kind_char.len_utf8()..];
        match kind_char {
            '<' => {
                if stack.len() >= MAX_DEPTH || els.len() >= MAX_ELEMENTS {
                    cut |= els.len() >= MAX_ELEMENTS;
                    stack.push(None);
                    continue;
                }
                let mut parts = rest.split('\x1f');
                let raw = parts.next().unwrap_or("").trim();
                let tag: std::borrow::Cow<'_, str> = if raw.bytes().any(|b| b.is_ascii_uppercase())
                {
                    raw.to_ascii_lowercase().into()
                } else {
                    raw.into()
                };
                let mut attrs = Attrs::default();
                for part in parts {
                    let Some(key) = part.chars().next() else {
                        continue;
                    };
                    let value = &part[key.len_utf8()..];
                    match key {
                        'i' => attrs.id = value,
                        'c' => attrs.class = value,
                        'r' => attrs.role = value,
                        'f' => attrs.label_for = value,
                        't' => attrs.input_type = value,
                        'l' => attrs.aria_label = value,
                        'p' => attrs.placeholder = value,
                        'n' => attrs.name = value,
                        _ => {}
                    }
                }
                let parent = current(&stack);
                let id = els.len();
                els.push(El {
                    kind: kind(&tag),
                    tag,
                    parent,
                    attrs,
                    children: Vec::new(),
                });
                els[parent].children.push(Child::El(id));
                stack.push(Some(id));
            }
            '>' => {
                stack.pop();
            }
            '#' if !rest.is_empty() => {
                let parent = current(&stack);
                els[parent].children.push(Child::Text(rest, scan(rest)));
            }
            '!' if rest == "cut" => cut = true,
            _ => {}
        }
    }
    Dom { els, cut }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn el(w: &mut StreamWriter, tag: &str, attrs: &[(char, &str)], text: &str) {
        w.open(tag, attrs);
        w.text(text);
        w.close();
    }

    #[test]
    fn a_page_cut_by_the_writer_or_by_its_size_says_so() {
        let mut w = StreamWriter::default();
        w.open("body", &[]);
        el(&mut w, "p", &[], "The beginning of a very long page.");
        w.close();
        let whole = extract(&w.finish());
        assert!(!whole.cut);
        let mut w = StreamWriter::default();
        w.open("body", &[]);
        el(&mut w, "p", &[], "The beginning of a very long page.");
        w.close();
        w.cut();
        let page = extract(&w.finish());
        assert!(page.cut);
        assert_eq!(page.blocks, ["The beginning of a very long page."]);
        // More elements than are read: cut too.
        let many = "<b\0>\0".repeat(MAX_ELEMENTS + 1);
        assert!(extract(&many).cut);
        // A page's own text "!cut" is a text node ("#!cut"), not the record.
        let mut w = StreamWriter::default();
        w.open("p", &[]);
        w.text("!cut");
        w.close();
        assert!(!extract(&w.finish()).cut);
    }

    #[test]
    fn boilerplate_and_link_lists_are_left_out() {
        let mut w = StreamWriter::default();
        w.open("body", &[]);
        w.open("div", &[('c', "cookie-banner")]);
        el(
            &mut w,
            "p",
            &[],
            "We use cookies to improve your experience.",
        );
        w.close();
        w.open("ul", &[('c', "links")]);
        for t in ["Home", "World", "Sport"] {
            w.open("li", &[]);
            el(&mut w, "a", &[], t);
            w.close();
        }
        w.close();
        w.open("div", &[('c', "story")]);
        el(&mut w, "h1", &[], "Title");
        for k in 0..5 {
            el(
                &mut w,
                "p",
                &[],
                &format!("Paragraph {k} of the story, long enough."),
            );
        }
        w.close();
        el(&mut w, "div", &[('c', "ad-slot")], "Buy now, limited offer");
        w.close();
        let page = extract(&w.finish());
        assert_eq!(page.blocks.len(), 5, "{:?}", page.blocks);
        assert!(page.blocks[0].starts_with("Paragraph 0"));
        assert_eq!(page.headings, ["Title"]);
    }

    #[test]
    fn a_wrapper_named_like_chrome_is_kept_when_it_holds_the_content() {
        let mut w = StreamWriter::default();
        w.open("body", &[]);
        w.open("div", &[('c', "page-header-and-content")]);
        for k in 0..4 {
            el(
                &mut w,
                "p",
                &[],
                &format!("Body paragraph number {k} with words."),
            );
        }
        w.close();
        w.close();
        assert_eq!(extract(&w.finish()).blocks.len(), 4);
    }

    #[test]
    fn rows_join_cells_and_inline_text_joins_without_spaces() {
        let mut w = StreamWriter::default();
        w.open("table", &[]);
        w.open("tr", &[]);
        el(&mut w, "th", &[], "Stop");
        el(&mut w, "th", &[], "Time");
        w.close();
        w.open("tr", &[]);
        el(&mut w, "td", &[], " Riverside ");
        w.open("td", &[]);
        w.text("07:");
        el(&mut w, "b", &[], "15");
        w.close();
        w.close();
        w.close();
        let page = extract(&w.finish());
        assert_eq!(page.blocks, ["Stop | Time", "Riverside | 07:15"]);
    }

    #[test]
    fn form_labels_never_values() {
        let mut w = StreamWriter::default();
        w.open("form", &[]);
        el(&mut w, "label", &[('f', "e")], "Email address");
        w.open("input", &[('i', "e"), ('t', "email")]);
        w.close();
        w.open("label", &[]);
        w.text("Your reply");
        w.open("textarea", &[]);
        w.text("draft text");
        w.close();
        w.close();
        w.open("input", &[('t', "hidden"), ('n', "csrf")]);
        w.close();
        w.open("input", &[('n', "first_name")]);
        w.close();
        w.close();
        let page = extract(&w.finish());
        assert_eq!(
            page.forms,
            [
                "Email address (email)",
                "Your reply (text area)",
                "first name (text)"
            ]
        );
        assert!(page.blocks.iter().all(|b| !b.contains("draft")));
    }

    #[test]
    fn pre_keeps_its_lines() {
        let mut w = StreamWriter::default();
        el(&mut w, "p", &[], "Run this:");
        w.open("pre", &[]);
        el(&mut w, "code", &[], "\nfn main() {\n    go();\n}\n");
        w.close();
        let page = extract(&w.finish());
        assert_eq!(page.blocks, ["Run this:", "fn main() {\n    go();\n}"]);
    }

    #[test]
    fn depth_and_malformed_records_are_survived() {
        let deep = "<div\0".repeat(MAX_DEPTH * 3) + "#deep text\0" + &">\0".repeat(10);
        assert_eq!(extract(&deep).blocks, ["deep text"]);
        assert_eq!(extract(">\0>\0#x\0<\0\x1f\0?").blocks, ["x"]);
    }

    proptest! {
        /// Copying already-collapsed text whole reads the same as
        /// collapsing it word by word, and the counts match the text.
        #[test]
        fn collapsed_text_copied_whole_reads_as_word_by_word(
            parts in prop::collection::vec("[ a\n\t\u{e9}\u{a0}]{0,12}", 1..6),
        ) {
            let mut whole = Block::default();
            let mut by_word = Block::default();
            for part in &parts {
                let s = scan(part);
                whole.push_text(part, s, false);
                by_word.push_text(part, Scan { collapsed: false, ..s }, false);
            }
            prop_assert_eq!(&whole.text, &by_word.text);
            prop_assert_eq!(whole.chars, chars(&parts.concat()));
        }

        #[test]
        fn never_panics(s in ".{0,400}") {
            let _ = extract(&s);
        }

        #[test]
        fn never_panics_on_structured_noise(
            records in proptest::collection::vec(
                prop_oneof![
                    Just("<div".to_string()), Just("<p".to_string()), Just("<tr".to_string()),
                    Just("<td".to_string()), Just("<a".to_string()), Just("<pre".to_string()),
                    Just("<label\x1ffx".to_string()), Just("<input\x1fix".to_string()),
                    Just(">".to_string()), "#[a-z ]{0,12}",
                ],
                0..200,
            )
        ) {
            let page = extract(&records.join("\0"));
            for b in &page.blocks {
                prop_assert!(!b.trim().is_empty());
            }
        }
    }
}
