//! Model output as a safe document tree: Markdown parsed by `pulldown-cmark`
//! (CommonMark with tables and strikethrough) into [`Node`]s that can only
//! describe text, structure, code and links with an `http(s)`/`mailto`
//! address. Raw HTML stays text, images become their alternative text,
//! every other link becomes plain text, nesting is bounded. The agent
//! renders the tree as elements one by one, never as HTML, so an answer can
//! neither run script nor load anything nor navigate the page.
//!
//! ```
//! use paperclip_core::markdown::{parse, plain_text, Kind, Node};
//! let doc = parse("Hi **there** <script>alert(1)</script> [x](javascript:alert(1))");
//! let Node::Element { kind: Kind::Paragraph, children } = &doc[0] else { panic!() };
//! assert!(matches!(&children[1], Node::Element { kind: Kind::Strong, .. }));
//! // The tag is text, the link is not a link.
//! assert!(plain_text(&doc).contains("<script>alert(1)</script>"));
//! assert!(!format!("{doc:?}").contains("Link"));
//! ```

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

/// `text` with every character that could start Markdown inline syntax
/// (links, autolinks, emphasis, code, tables, raw HTML) escaped, so it
/// reads as the same text and can never become a link: for words taken
/// from a web page into an answer.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '!' | '&'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Deepest nesting kept; deeper elements are flattened into their parent.
pub const MAX_DEPTH: usize = 24;

/// What an element is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A paragraph.
    Paragraph,
    /// A heading, level 1 to 6.
    Heading(u8),
    /// A block quote.
    Quote,
    /// A list; `Some(start)` when ordered.
    List(Option<u64>),
    /// A list item.
    Item,
    /// A table.
    Table,
    /// The table's head row group.
    TableHead,
    /// A table row.
    TableRow,
    /// A table cell.
    TableCell,
    /// Emphasis.
    Emphasis,
    /// Strong emphasis.
    Strong,
    /// Struck-through text.
    Strike,
    /// A link to an `http`, `https` or `mailto` address.
    Link(String),
    /// An image, shown as its alternative text (never loaded).
    Image,
}

/// A node of the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// Text (raw HTML included, as text).
    Text(String),
    /// Inline code.
    Code(String),
    /// A line break inside a paragraph.
    Break,
    /// A thematic break.
    Rule,
    /// A code block, with its language (may be empty).
    CodeBlock {
        /// The info string's first word.
        lang: String,
        /// The code.
        text: String,
    },
    /// An element and its children.
    Element {
        /// What it is.
        kind: Kind,
        /// Its content.
        children: Vec<Node>,
    },
}

/// The address of a link if it is safe to offer: `http://`, `https://` or
/// `mailto:` (any case), without spaces or control characters.
pub fn safe_href(href: &str) -> Option<&str> {
    let lower = href.get(..8).unwrap_or(href).to_ascii_lowercase();
    let allowed = ["http://", "https://", "mailto:"]
        .iter()
        .any(|scheme| lower.starts_with(scheme));
    let clean = !href.chars().any(|c| c.is_control() || c.is_whitespace());
    (allowed && clean && href.len() <= 2048).then_some(href)
}

/// What the agent shows beside a link, and whether it asks before opening
/// it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// Where it goes: the host (`evil.example`), or the address of a
    /// `mailto:` link.
    pub destination: String,
    /// True when the link carries data in its address (a query) to another
    /// site than the page's: a prompt-injected `[Report](https://evil/?d=…)`
    /// would leak on one click.
    pub confirm: bool,
}

/// [`LinkInfo`] for `href` (a [`safe_href`]) shown on a page of `site`
/// (an origin, or empty).
pub fn link_info(href: &str, site: &str) -> LinkInfo {
    let has_query = href
        .split('#')
        .next()
        .and_then(|h| h.split_once('?'))
        .is_some_and(|(_, q)| !q.is_empty());
    if href
        .get(..7)
        .is_some_and(|s| s.eq_ignore_ascii_case("mailto:"))
    {
        let address = href[7..].split('?').next().unwrap_or_default().to_string();
        return LinkInfo {
            destination: address,
            confirm: has_query,
        };
    }
    let host = crate::net::url_host(href).unwrap_or_default();
    let same_site = crate::net::url_host(site).is_some_and(|s| s == host);
    LinkInfo {
        confirm: has_query && !same_site,
        destination: host,
    }
}

fn kind_of(tag: &Tag<'_>) -> Option<Kind> {
    Some(match tag {
        Tag::Paragraph => Kind::Paragraph,
        Tag::Heading { level, .. } => Kind::Heading(match level {
            HeadingLevel::H1 => 1,
            HeadingLevel::H2 => 2,
            HeadingLevel::H3 => 3,
            HeadingLevel::H4 => 4,
            HeadingLevel::H5 => 5,
            HeadingLevel::H6 => 6,
        }),
        Tag::BlockQuote(_) => Kind::Quote,
        Tag::List(start) => Kind::List(*start),
        Tag::Item => Kind::Item,
        Tag::Table(_) => Kind::Table,
        Tag::TableHead => Kind::TableHead,
        Tag::TableRow => Kind::TableRow,
        Tag::TableCell => Kind::TableCell,
        Tag::Emphasis => Kind::Emphasis,
        Tag::Strong => Kind::Strong,
        Tag::Strikethrough => Kind::Strike,
        Tag::Link { dest_url, .. } => Kind::Link(safe_href(dest_url)?.to_string()),
        Tag::Image { .. } => Kind::Image,
        // Everything else (footnotes, HTML blocks, definition lists, …):
        // its content joins the parent.
        _ => return None,
    })
}

/// An open element while parsing: its kind (`None`: transparent) and
/// children so far.
struct Open {
    kind: Option<Kind>,
    children: Vec<Node>,
}

/// Parses `text` into the document tree.
pub fn parse(text: &str) -> Vec<Node> {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut stack: Vec<Open> = vec![Open {
        kind: None,
        children: Vec::new(),
    }];
    let mut code: Option<(String, String)> = None;
    for event in Parser::new_ext(text, options) {
        let top = stack.len() - 1;
        match event {
            Event::Start(Tag::CodeBlock(kind)) => {
                let lang = match kind {
                    CodeBlockKind::Fenced(info) => {
                        info.split_whitespace().next().unwrap_or("").to_string()
                    }
                    CodeBlockKind::Indented => String::new(),
                };
                code = Some((lang, String::new()));
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some((lang, text)) = code.take() {
                    stack[top].children.push(Node::CodeBlock { lang, text });
                }
            }
            Event::Start(tag) => {
                // Past the depth limit an element is transparent.
                let kind = if stack.len() > MAX_DEPTH {
                    None
                } else {
                    kind_of(&tag)
                };
                stack.push(Open {
                    kind,
                    children: Vec::new(),
                });
            }
            Event::End(_) => {
                if stack.len() > 1 {
                    let open = stack.pop().expect("more than the root");
                    let parent = &mut stack.last_mut().expect("the root").children;
                    match open.kind {
                        Some(kind) => parent.push(Node::Element {
                            kind,
                            children: open.children,
                        }),
                        None => parent.extend(open.children),
                    }
                }
            }
            Event::Text(t) => match &mut code {
                Some((_, text)) => text.push_str(&t),
                None => push_text(&mut stack[top].children, &t),
            },
            Event::Code(t) => stack[top].children.push(Node::Code(t.to_string())),
            Event::Html(t)
            | Event::InlineHtml(t)
            | Event::InlineMath(t)
            | Event::DisplayMath(t) => match &mut code {
                Some((_, text)) => text.push_str(&t),
                None => push_text(&mut stack[top].children, &t),
            },
            Event::FootnoteReference(t) => push_text(&mut stack[top].children, &format!("[{t}]")),
            // Line breaks are kept, as chat apps do (models and the offline
            // answer write one item per line).
            Event::SoftBreak => stack[top].children.push(Node::Break),
            Event::HardBreak => stack[top].children.push(Node::Break),
            Event::Rule => stack[top].children.push(Node::Rule),
            Event::TaskListMarker(done) => {
                push_text(&mut stack[top].children, if done { "☑ " } else { "☐ " })
            }
        }
    }
    // Unclosed elements (never from pulldown-cmark, but cheap to handle).
    while stack.len() > 1 {
        let open = stack.pop().expect("more than the root");
        stack
            .last_mut()
            .expect("the root")
            .children
            .extend(open.children);
    }
    stack.pop().map(|o| o.children).unwrap_or_default()
}

/// Appends text, merging with a text node just before.
fn push_text(children: &mut Vec<Node>, text: &str) {
    match children.last_mut() {
        Some(Node::Text(last)) => last.push_str(text),
        _ => children.push(Node::Text(text.to_string())),
    }
}

/// The plain text of `nodes` (what a screen reader or the copy of an image's
/// alternative text needs).
pub fn plain_text(nodes: &[Node]) -> String {
    let mut out = String::new();
    fn walk(nodes: &[Node], out: &mut String) {
        for n in nodes {
            match n {
                Node::Text(t) | Node::Code(t) => out.push_str(t),
                Node::CodeBlock { text, .. } => out.push_str(text),
                Node::Break => out.push('\n'),
                Node::Rule => {}
                Node::Element { children, .. } => walk(children, out),
            }
        }
    }
    walk(nodes, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn links(nodes: &[Node], out: &mut Vec<String>) {
        for n in nodes {
            if let Node::Element { kind, children } = n {
                if let Kind::Link(href) = kind {
                    out.push(href.clone());
                }
                links(children, out);
            }
        }
    }

    fn depth(nodes: &[Node]) -> usize {
        nodes
            .iter()
            .map(|n| match n {
                Node::Element { children, .. } => 1 + depth(children),
                _ => 0,
            })
            .max()
            .unwrap_or(0)
    }

    /// Payloads from common XSS cheat sheets, as a model might echo them.
    const CORPUS: &[&str] = &[
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "<svg onload=alert(1)>",
        "<iframe src=\"javascript:alert(1)\"></iframe>",
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click](java\tscript:alert(1))",
        "[click]( javascript:alert(1))",
        "[click](data:text/html,<script>alert(1)</script>)",
        "[click](vbscript:msgbox(1))",
        "[click](//evil.example/x)",
        "[click](/relative)",
        "![x](https://evil.example/track.png)",
        "![x](javascript:alert(1))",
        "<a href=\"javascript:alert(1)\">x</a>",
        "<style>body{display:none}</style>",
        "<meta http-equiv=\"refresh\" content=\"0;url=https://evil.example\">",
        "<form action=https://evil.example><input name=q></form>",
        "[x]: javascript:alert(1)\n\n[y][x]",
        "<details open ontoggle=alert(1)>",
        "```html\n<script>alert(1)</script>\n```",
        "<https://ok.example/?q=<script>>",
        "<javascript:alert(1)>",
    ];

    #[test]
    fn the_xss_corpus_yields_no_unsafe_link_and_keeps_the_text() {
        for payload in CORPUS {
            let doc = parse(payload);
            let mut found = Vec::new();
            links(&doc, &mut found);
            for href in &found {
                assert!(
                    href.starts_with("http://")
                        || href.starts_with("https://")
                        || href.starts_with("mailto:"),
                    "{payload}: {href}"
                );
                assert!(!href.contains("evil"), "{payload}: {href}");
            }
            // Raw HTML is kept as visible text, not dropped (autolinks are
            // not HTML: an unsafe one is left as its bare text).
            let autolink = payload.starts_with("<https") || payload.starts_with("<javascript");
            if payload.starts_with('<') && !autolink {
                assert!(plain_text(&doc).contains('<'), "{payload}: {doc:?}");
            }
        }
    }

    #[test]
    fn structure_is_kept() {
        let doc = parse(
            "# Title\n\n- one\n- **two**\n\n1. a\n\n| h | i |\n|---|---|\n| 1 | 2 |\n\n```rust\nfn x() {}\n```\n\n> quoted\n\n---\n\n[site](https://example.org) and `code`",
        );
        assert!(matches!(
            &doc[0],
            Node::Element {
                kind: Kind::Heading(1),
                ..
            }
        ));
        assert!(
            matches!(&doc[1], Node::Element { kind: Kind::List(None), children } if children.len() == 2)
        );
        assert!(matches!(
            &doc[2],
            Node::Element {
                kind: Kind::List(Some(1)),
                ..
            }
        ));
        assert!(matches!(
            &doc[3],
            Node::Element {
                kind: Kind::Table,
                ..
            }
        ));
        assert_eq!(
            doc[4],
            Node::CodeBlock {
                lang: "rust".into(),
                text: "fn x() {}\n".into()
            }
        );
        assert!(matches!(
            &doc[5],
            Node::Element {
                kind: Kind::Quote,
                ..
            }
        ));
        assert_eq!(doc[6], Node::Rule);
        let mut found = Vec::new();
        links(&doc, &mut found);
        assert_eq!(found, ["https://example.org"]);
    }

    #[test]
    fn images_are_alternative_text() {
        let doc = parse("![a cat](https://example.org/cat.png)");
        let Node::Element { children, .. } = &doc[0] else {
            panic!("{doc:?}")
        };
        assert_eq!(
            children[0],
            Node::Element {
                kind: Kind::Image,
                children: vec![Node::Text("a cat".into())]
            }
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}x", "> ".repeat(500));
        let doc = parse(&deep);
        assert!(depth(&doc) <= MAX_DEPTH, "{}", depth(&doc));
        assert_eq!(plain_text(&doc), "x");
    }

    proptest! {
        #[test]
        fn any_text_parses_within_bounds(text in ".{0,400}") {
            let doc = parse(&text);
            prop_assert!(depth(&doc) <= MAX_DEPTH);
            let mut found = Vec::new();
            links(&doc, &mut found);
            for href in found {
                prop_assert!(safe_href(&href).is_some());
            }
        }
    }

    #[test]
    fn escaped_text_reads_the_same_and_links_nothing() {
        for text in [
            "[Report](https://evil.example/?d=secret)",
            "<https://evil.example/?d=1>",
            "**bold** _it_ `code` ~~gone~~ | a | b |",
            "&lt;b&gt; and \\[x\\](https://e.example)",
            "![pixel](https://evil.example/p.png)",
        ] {
            let doc = parse(&format!(
                "Summary of “{}”:\n• {}",
                escape(text),
                escape(text)
            ));
            assert!(!format!("{doc:?}").contains("Link"), "{text}: {doc:?}");
            assert!(!format!("{doc:?}").contains("Strong"), "{text}: {doc:?}");
            assert!(
                plain_text(&doc).contains(text),
                "{text} reads as {:?}",
                plain_text(&doc)
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn escaped_text_is_always_plain(text in "[ -~]{0,60}") {
            // As page words appear in an answer: after a bullet or a quote.
            let doc = parse(&format!("• {}", escape(&text)));
            let shown = format!("{doc:?}");
            proptest::prop_assert!(!shown.contains("Link") && !shown.contains("Emphasis") && !shown.contains("Code"));
        }
    }

    #[test]
    fn links_say_where_they_go_and_ask_before_sending_data() {
        let site = "https://news.example";
        let info = link_info("https://evil.example/collect?d=secret", site);
        assert_eq!(
            (info.destination.as_str(), info.confirm),
            ("evil.example", true)
        );
        let info = link_info("https://evil.example/page", site);
        assert_eq!(
            (info.destination.as_str(), info.confirm),
            ("evil.example", false)
        );
        let info = link_info("https://news.example/search?q=bridge", site);
        assert!(!info.confirm, "same site");
        let info = link_info("https://EVIL.example/?#frag", site);
        assert!(!info.confirm, "an empty query carries nothing");
        let info = link_info("mailto:x@evil.example?body=secret", site);
        assert_eq!(
            (info.destination.as_str(), info.confirm),
            ("x@evil.example", true)
        );
        let info = link_info("https://user@evil.example/?d=1", "");
        assert_eq!(info.destination, "evil.example");
        assert!(info.confirm);
    }
}
