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
//! text node. The writer leaves out what the browser does not show (the
//! `hidden` attribute, `aria-hidden="true"`, inline `display: none`) and
//! the [`SKIP_TAGS`]; it never writes a form field's value. A malformed
//! stream reads as well as it can and never panics.

use serde::{Deserialize, Serialize};

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
}

/// Builds a [stream](self#the-stream) (the shape `extract.js` writes).
#[derive(Default, Debug)]
pub struct StreamWriter {
    out: String,
}

impl StreamWriter {
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
            _ => {}
        }
    }
    Dom { els }
}

/// Words of class/id names that mark an element as page chrome.
const CHROME_WORDS: &[&str] = &[
    "ad",
    "ads",
    "adv",
    "advert",
    "advertisement",
    "advertising",
    "sponsor",
    "sponsored",
    "promo",
    "promoted",
    "promotion",
    "banner",
    "cookie",
    "cookies",
    "consent",
    "gdpr",
    "newsletter",
    "subscribe",
    "subscription",
    "signup",
    "share",
    "sharing",
    "social",
    "related",
    "recommended",
    "recommendations",
    "trending",
    "popular",
    "sidebar",
    "widget",
    "menu",
    "navbar",
    "nav",
    "navigation",
    "breadcrumb",
    "breadcrumbs",
    "pagination",
    "pager",
    "masthead",
    "topbar",
    "toolbar",
    "modal",
    "popup",
    "overlay",
    "outbrain",
    "taboola",
    "comments",
    "disqus",
    "signature",
    "editsection",
    "navbox",
    "toc",
    "ticker",
    "skip",
    "sitemap",
    "copyright",
    "legal",
    "feedback",
    "rating",
    "helpful",
    "edit",
    "portal",
    "catlinks",
    "printfooter",
    "references",
    "reflist",
    "noprint",
];
/// Prefixes of class/id words that mark page chrome.
const CHROME_PREFIXES: &[&str] = &[
    "adsby",
    "advert",
    "sponsor",
    "cookie",
    "newsletter",
    "social",
    "share",
    "navbox",
    "sidebar",
    "breadcrumb",
    "promo",
];
/// ARIA roles of page chrome.
const CHROME_ROLES: &[&str] = &[
    "navigation",
    "banner",
    "contentinfo",
    "complementary",
    "search",
    "dialog",
    "alertdialog",
    "menu",
    "menubar",
    "toolbar",
];

/// Whole class names of page chrome (author cards, reply forms) whose
/// words alone say nothing.
const CHROME_CLASSES: &[&str] = &[
    "user-card",
    "usercard",
    "user-info",
    "userinfo",
    "author-card",
    "postprofile",
    "reply-form",
    "replyform",
    "comment-form",
    "respond",
    "more-from",
    "read-more",
];

fn chrome_word(word: &str, inside_content: bool) -> bool {
    match word {
        // An article's own header and footer (title, byline) are content.
        "header" | "footer" => !inside_content,
        _ => CHROME_WORDS.contains(&word) || CHROME_PREFIXES.iter().any(|p| word.starts_with(p)),
    }
}

/// Whether `el` looks like page chrome by its tag, role or names.
fn looks_like_chrome(el: &El, inside_content: bool) -> bool {
    match el.tag.as_ref() {
        "nav" | "aside" => return true,
        // An article's own header and footer (title, byline) are content.
        "header" | "footer" if !inside_content => return true,
        "main" | "article" | "body" | "html" => return false,
        _ => {}
    }
    if CHROME_ROLES
        .iter()
        .any(|r| r.eq_ignore_ascii_case(el.attrs.role))
    {
        return true;
    }
    if el
        .attrs
        .class
        .split_ascii_whitespace()
        .chain([el.attrs.id])
        .any(|c| CHROME_CLASSES.contains(&c.to_ascii_lowercase().as_str()))
    {
        return true;
    }
    el.attrs
        .class
        .split(|c: char| !c.is_ascii_alphanumeric())
        .chain(el.attrs.id.split(|c: char| !c.is_ascii_alphanumeric()))
        .filter(|w| !w.is_empty())
        .any(|w| chrome_word(&w.to_ascii_lowercase(), inside_content))
}

/// Elements that make a table row a layout row (its cells read as blocks).
fn is_container(el: &El) -> bool {
    matches!(
        el.tag.as_ref(),
        "p" | "ul"
            | "ol"
            | "dl"
            | "table"
            | "tr"
            | "pre"
            | "blockquote"
            | "section"
            | "article"
            | "form"
            | "figure"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
    )
}

fn is_content_tag(el: &El) -> bool {
    matches!(el.tag.as_ref(), "main" | "article") || el.attrs.role.eq_ignore_ascii_case("main")
}

/// Whether byte `b` is ASCII whitespace as `char::is_whitespace` has it
/// (tab, line feed, vertical tab, form feed, carriage return, space).
fn ascii_space(b: u8) -> bool {
    matches!(b, b'\t'..=b'\r' | b' ')
}

/// What page reading needs to know of a text node, found in one pass.
#[derive(Clone, Copy, Debug)]
struct Scan {
    /// Non-whitespace characters.
    chars: u32,
    /// Whether its whitespace is already collapsed: ASCII with single
    /// spaces only, so it is copied whole rather than word by word.
    collapsed: bool,
}

/// Scans `text` (the hot loop of page reading: ASCII text, nearly all of
/// it, by byte).
fn scan(text: &str) -> Scan {
    let mut chars = 0u32;
    let mut collapsed = true;
    let mut after_space = false;
    for &b in text.as_bytes() {
        if !b.is_ascii() {
            return Scan {
                chars: self::chars(text).try_into().unwrap_or(u32::MAX),
                collapsed: false,
            };
        }
        if b == b' ' {
            collapsed &= !after_space;
            after_space = true;
        } else if ascii_space(b) {
            collapsed = false;
            after_space = true;
        } else {
            chars = chars.saturating_add(1);
            after_space = false;
        }
    }
    Scan { chars, collapsed }
}

/// Non-whitespace characters in `text`.
fn chars(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

/// Per element: non-whitespace characters in its subtree, and those inside
/// links. Elements come in pre-order, so children follow their parent.
fn text_mass(dom: &Dom, counted: impl Fn(usize) -> bool) -> (Vec<usize>, Vec<usize>) {
    let n = dom.els.len();
    let mut all = vec![0usize; n];
    let mut link = vec![0usize; n];
    for i in (0..n).rev() {
        let el = &dom.els[i];
        if !counted(i) || matches!(el.kind, Kind::Skip | Kind::Control) {
            all[i] = 0;
            link[i] = 0;
            continue;
        }
        let mut a = 0;
        let mut l = 0;
        for c in &el.children {
            match c {
                Child::Text(_, scan) => a += scan.chars as usize,
                Child::El(j) => {
                    a += all[*j];
                    l += link[*j];
                }
            }
        }
        all[i] = a;
        link[i] = if el.kind == Kind::Link { a } else { l };
    }
    (all, link)
}

struct Analysis {
    /// Elements in a boilerplate subtree.
    chrome: Vec<bool>,
    /// The main content element.
    main: usize,
}

fn analyse(dom: &Dom) -> Analysis {
    let n = dom.els.len();
    let (all, link) = text_mass(dom, |_| true);
    let content = |i: usize| all[i].saturating_sub(link[i]);
    let total = content(0).max(1);
    let mut chrome = vec![false; n];
    let mut in_content = vec![false; n];
    for i in 1..n {
        let el = &dom.els[i];
        let p = el.parent;
        in_content[i] = in_content[p] || is_content_tag(el);
        chrome[i] = chrome[p]
            || (looks_like_chrome(el, in_content[p])
                && (content(i) as f64) <= MAX_BOILERPLATE_SHARE * total as f64);
    }
    let (clean_all, clean_link) = text_mass(dom, |i| !chrome[i]);
    let clean = |i: usize| clean_all[i].saturating_sub(clean_link[i]);
    let clean_total = clean(0);
    // Descend while one child holds most of the page's content.
    let mut main = 0;
    if clean_total > 0 {
        loop {
            let best = dom.els[main]
                .children
                .iter()
                .filter_map(|c| match c {
                    Child::El(j) => Some(*j),
                    Child::Text(..) => None,
                })
                .max_by_key(|j| clean(*j));
            match best {
                Some(j) if clean(j) as f64 >= MAIN_SHARE * clean_total as f64 => main = j,
                _ => break,
            }
        }
    }
    // Prefer the article or main element around it (its title and byline).
    let mut up = main;
    while up != 0 {
        if is_content_tag(&dom.els[up]) {
            main = up;
            break;
        }
        up = dom.els[up].parent;
    }
    Analysis { chrome, main }
}

/// The words of `t`, split at whitespace (ASCII text, nearly all of it, by
/// byte).
fn words(t: &str) -> impl Iterator<Item = &str> {
    let ascii = t.is_ascii();
    let mut rest = t;
    std::iter::from_fn(move || {
        let (start, end) = if ascii {
            let b = rest.as_bytes();
            let start = b.iter().position(|c| !ascii_space(*c))?;
            let len = b[start..].iter().position(|c| ascii_space(*c));
            (start, len.map_or(b.len(), |len| start + len))
        } else {
            let start = rest.find(|c: char| !c.is_whitespace())?;
            let len = rest[start..].find(char::is_whitespace);
            (start, len.map_or(rest.len(), |len| start + len))
        };
        let word = &rest[start..end];
        rest = &rest[end..];
        Some(word)
    })
}

/// A text block being gathered.
#[derive(Default)]
struct Block {
    text: String,
    /// Non-whitespace characters in `text`.
    chars: usize,
    links: usize,
    pre: bool,
}

impl Block {
    /// Appends text node `t` with its whitespace collapsed (kept as is in
    /// `pre`).
    fn push_text(&mut self, t: &str, scan: Scan, in_link: bool) {
        self.text.reserve(t.len());
        if self.pre {
            self.text.push_str(t);
        } else if scan.collapsed {
            // `space` adds at most one, so a lone " " gives one space.
            if t.starts_with(' ') {
                self.space();
            }
            self.text.push_str(t.trim_matches(' '));
            if t.ends_with(' ') {
                self.space();
            }
        } else {
            let mut space = t.starts_with(char::is_whitespace);
            for word in words(t) {
                if space {
                    self.space();
                }
                self.text.push_str(word);
                space = true;
            }
            if t.ends_with(char::is_whitespace) {
                self.space();
            }
        }
        let n = scan.chars as usize;
        self.chars += n;
        if in_link {
            self.links += n;
        }
    }

    fn space(&mut self) {
        if !self.text.is_empty() && !self.text.ends_with(' ') && !self.pre {
            self.text.push(' ');
        }
    }
}

struct Reader<'a> {
    dom: &'a Dom<'a>,
    chrome: &'a [bool],
    /// Which elements contain a block-level descendant (cells that do are
    /// containers, not row cells).
    has_blocks: Vec<bool>,
    blocks: Vec<String>,
    current: Block,
}

impl Reader<'_> {
    fn flush(&mut self) {
        let block = std::mem::take(&mut self.current);
        let n = block.chars;
        if n == 0 || block.links as f64 > MAX_LINK_DENSITY * n as f64 {
            return;
        }
        // Trimmed in place: trailing whitespace, then leading whitespace
        // (only leading line breaks in `pre`).
        let mut text = block.text;
        text.truncate(text.trim_end().len());
        let kept = if block.pre {
            text.trim_start_matches('\n').len()
        } else {
            text.trim_start().len()
        };
        text.drain(..text.len() - kept);
        if self.blocks.last() != Some(&text) {
            self.blocks.push(text);
        }
    }

    fn read(&mut self, i: usize, in_link: bool, in_row: bool) {
        let el = &self.dom.els[i];
        if self.chrome[i] && i != 0 {
            return;
        }
        let in_link = in_link || el.kind == Kind::Link;
        match el.kind {
            Kind::Skip | Kind::Control | Kind::Label | Kind::Heading(_) => return,
            Kind::Break => return self.current.space(),
            Kind::Row if !in_row && !self.has_blocks[i] => {
                self.flush();
                self.children(i, in_link, true);
                self.flush();
                return;
            }
            Kind::Cell if in_row => {
                if self.current.chars > 0 {
                    let kept = self.current.text.trim_end().len();
                    self.current.text.truncate(kept);
                    self.current.text.push_str(" | ");
                    self.current.chars += 1;
                }
                return self.children(i, in_link, true);
            }
            Kind::Pre if !in_row => {
                self.flush();
                self.current.pre = true;
                self.children(i, in_link, false);
                self.flush();
                return;
            }
            Kind::Block | Kind::Row | Kind::Pre if in_row => {
                self.current.space();
            }
            Kind::Block | Kind::Cell | Kind::Row => {
                self.flush();
                self.children(i, in_link, false);
                self.flush();
                return;
            }
            _ => {}
        }
        self.children(i, in_link, in_row);
    }

    fn children(&mut self, i: usize, in_link: bool, in_row: bool) {
        for c in &self.dom.els[i].children {
            match c {
                Child::El(j) => self.read(*j, in_link, in_row),
                Child::Text(t, scan) => self.current.push_text(t, *scan, in_link),
            }
        }
    }
}

/// The text of element `i`, whitespace-collapsed, without chrome or controls.
fn text_of(dom: &Dom, chrome: &[bool], i: usize, out: &mut Block) {
    for c in &dom.els[i].children {
        match c {
            Child::Text(t, scan) => out.push_text(t, *scan, false),
            Child::El(j) => {
                let el = &dom.els[*j];
                if chrome[*j] || matches!(el.kind, Kind::Skip | Kind::Control) {
                    continue;
                }
                if matches!(el.kind, Kind::Break | Kind::Block) {
                    out.space();
                }
                text_of(dom, chrome, *j, out);
            }
        }
    }
}

fn collapsed(dom: &Dom, chrome: &[bool], i: usize) -> String {
    let mut b = Block::default();
    text_of(dom, chrome, i, &mut b);
    b.text.trim().to_string()
}

fn headings(dom: &Dom, chrome: &[bool]) -> Vec<String> {
    (1..dom.els.len())
        .filter(|i| !chrome[*i] && matches!(dom.els[*i].kind, Kind::Heading(1..=3)))
        .filter(|i| !ancestors(dom, *i).any(|a| dom.els[a].kind == Kind::Skip))
        .map(|i| collapsed(dom, chrome, i))
        .filter(|h| !h.is_empty())
        .collect()
}

fn ancestors<'a>(dom: &'a Dom<'a>, i: usize) -> impl Iterator<Item = usize> + 'a {
    let mut at = i;
    std::iter::from_fn(move || {
        if at == 0 {
            return None;
        }
        at = dom.els[at].parent;
        Some(at)
    })
}

/// Humanises a field name: `first_name` → `first name`.
fn humanise(name: &str) -> String {
    name.replace(['_', '-'], " ").trim().to_string()
}

fn forms(dom: &Dom) -> Vec<String> {
    let no_chrome = vec![false; dom.els.len()];
    let mut by_for = std::collections::HashMap::new();
    for (i, el) in dom.els.iter().enumerate() {
        if el.kind == Kind::Label && !el.attrs.label_for.is_empty() {
            by_for
                .entry(el.attrs.label_for)
                .or_insert_with(|| collapsed(dom, &no_chrome, i));
        }
    }
    let mut out = Vec::new();
    for (i, el) in dom.els.iter().enumerate() {
        let input_type = el.attrs.input_type.to_ascii_lowercase();
        let field_kind = match el.tag.as_ref() {
            "input" => match input_type.as_str() {
                "hidden" | "submit" | "button" | "reset" | "image" => continue,
                "" => "text",
                t => t,
            },
            "select" => "choice",
            "textarea" => "text area",
            _ => continue,
        };
        let wrapping = ancestors(dom, i)
            .find(|a| dom.els[*a].kind == Kind::Label)
            .map(|a| collapsed(dom, &no_chrome, a));
        let label = [
            by_for
                .get(el.attrs.id)
                .cloned()
                .filter(|_| !el.attrs.id.is_empty()),
            wrapping,
            Some(el.attrs.aria_label.trim().to_string()),
            Some(el.attrs.placeholder.trim().to_string()),
            Some(humanise(el.attrs.name)),
        ]
        .into_iter()
        .flatten()
        .find(|l| !l.is_empty());
        if let Some(label) = label {
            let label: String = label.chars().take(120).collect();
            out.push(format!("{label} ({field_kind})"));
            if out.len() == MAX_FORM_FIELDS {
                break;
            }
        }
    }
    out
}

/// Reads the page serialised in `stream`: its main content, headings and
/// form-field labels.
pub fn extract(stream: &str) -> Extracted {
    let dom = parse(stream);
    let Analysis { chrome, main } = analyse(&dom);
    let n = dom.els.len();
    let mut has_blocks = vec![false; n];
    for i in (1..n).rev() {
        let el = &dom.els[i];
        if is_container(el) || has_blocks[i] {
            has_blocks[el.parent] = true;
        }
    }
    let mut reader = Reader {
        dom: &dom,
        chrome: &chrome,
        has_blocks,
        blocks: Vec::new(),
        current: Block::default(),
    };
    reader.read(main, false, false);
    reader.flush();
    Extracted {
        headings: headings(&dom, &chrome),
        blocks: reader.blocks,
        forms: forms(&dom),
    }
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
