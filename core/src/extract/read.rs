//! Reading the parsed page: text mass, the main content, blocks in order,
//! the outline and the form labels; [`extract`] ties them together.

use super::*;

/// Whether byte `b` is ASCII whitespace as `char::is_whitespace` has it
/// (tab, line feed, vertical tab, form feed, carriage return, space).
pub(super) fn ascii_space(b: u8) -> bool {
    matches!(b, b'\t'..=b'\r' | b' ')
}

/// What page reading needs to know of a text node, found in one pass.
#[derive(Clone, Copy, Debug)]
pub(super) struct Scan {
    /// Non-whitespace characters.
    pub(super) chars: u32,
    /// Whether its whitespace is already collapsed: ASCII with single
    /// spaces only, so it is copied whole rather than word by word.
    pub(super) collapsed: bool,
}

/// Scans `text` (the hot loop of page reading: ASCII text, nearly all of
/// it, by byte).
pub(super) fn scan(text: &str) -> Scan {
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
pub(super) fn chars(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

/// Per element: non-whitespace characters in its subtree, and those inside
/// links. Elements come in pre-order, so children follow their parent.
pub(super) fn text_mass(dom: &Dom, counted: impl Fn(usize) -> bool) -> (Vec<usize>, Vec<usize>) {
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

pub(super) struct Analysis {
    /// Elements in a boilerplate subtree.
    pub(super) chrome: Vec<bool>,
    /// The main content element.
    pub(super) main: usize,
}

pub(super) fn analyse(dom: &Dom) -> Analysis {
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
pub(super) fn words(t: &str) -> impl Iterator<Item = &str> {
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
pub(super) struct Block {
    pub(super) text: String,
    /// Non-whitespace characters in `text`.
    pub(super) chars: usize,
    pub(super) links: usize,
    pub(super) pre: bool,
}

impl Block {
    /// Appends text node `t` with its whitespace collapsed (kept as is in
    /// `pre`).
    pub(super) fn push_text(&mut self, t: &str, scan: Scan, in_link: bool) {
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

    pub(super) fn space(&mut self) {
        if !self.text.is_empty() && !self.text.ends_with(' ') && !self.pre {
            self.text.push(' ');
        }
    }
}

pub(super) struct Reader<'a> {
    dom: &'a Dom<'a>,
    chrome: &'a [bool],
    /// Which elements contain a block-level descendant (cells that do are
    /// containers, not row cells).
    has_blocks: Vec<bool>,
    blocks: Vec<String>,
    current: Block,
}

impl Reader<'_> {
    pub(super) fn flush(&mut self) {
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

    pub(super) fn read(&mut self, i: usize, in_link: bool, in_row: bool) {
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

    pub(super) fn children(&mut self, i: usize, in_link: bool, in_row: bool) {
        for c in &self.dom.els[i].children {
            match c {
                Child::El(j) => self.read(*j, in_link, in_row),
                Child::Text(t, scan) => self.current.push_text(t, *scan, in_link),
            }
        }
    }
}

/// The text of element `i`, whitespace-collapsed, without chrome or controls.
pub(super) fn text_of(dom: &Dom, chrome: &[bool], i: usize, out: &mut Block) {
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

pub(super) fn collapsed(dom: &Dom, chrome: &[bool], i: usize) -> String {
    let mut b = Block::default();
    text_of(dom, chrome, i, &mut b);
    b.text.trim().to_string()
}

pub(super) fn headings(dom: &Dom, chrome: &[bool]) -> Vec<String> {
    (1..dom.els.len())
        .filter(|i| !chrome[*i] && matches!(dom.els[*i].kind, Kind::Heading(1..=3)))
        .filter(|i| !ancestors(dom, *i).any(|a| dom.els[a].kind == Kind::Skip))
        .map(|i| collapsed(dom, chrome, i))
        .filter(|h| !h.is_empty())
        .collect()
}

pub(super) fn ancestors<'a>(dom: &'a Dom<'a>, i: usize) -> impl Iterator<Item = usize> + 'a {
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
pub(super) fn humanise(name: &str) -> String {
    name.replace(['_', '-'], " ").trim().to_string()
}

pub(super) fn forms(dom: &Dom) -> Vec<String> {
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
        cut: dom.cut,
    }
}
