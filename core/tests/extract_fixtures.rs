//! The page reader on saved pages (`tests/fixtures/pages/*.html`), each
//! with its expectations (`NAME.expect`): `body:` phrases in reading order,
//! `heading:` phrases in the outline, `absent:` phrases nowhere in the
//! result, `label:` phrases among the form labels.
//!
//! `SHOW_EXTRACT=1 cargo test -p paperclip-core --test extract_fixtures -- --nocapture`
//! prints what was read.
//!
//! The pages are serialised the way `content/static/content/extract.js`
//! does it in the browser: hidden elements, the skipped tags and form
//! values never enter the stream.

use paperclip_core::extract::{extract, Extracted, StreamWriter, SKIP_TAGS};
use scraper::{Html, Node};

/// What the content script's walker leaves out.
fn hidden(e: &scraper::node::Element) -> bool {
    let style = e.attr("style").unwrap_or("").replace(' ', "");
    SKIP_TAGS.contains(&e.name())
        || e.attr("hidden").is_some()
        || e.attr("aria-hidden") == Some("true")
        || style.contains("display:none")
        || (e.name() == "input" && e.attr("type") == Some("hidden"))
}

fn walk(node: ego_tree::NodeRef<'_, Node>, w: &mut StreamWriter) {
    for child in node.children() {
        match child.value() {
            Node::Text(t) => w.text(t),
            Node::Element(e) if !hidden(e) => {
                let attrs: Vec<(char, &str)> = [
                    ('i', "id"),
                    ('c', "class"),
                    ('r', "role"),
                    ('f', "for"),
                    ('t', "type"),
                    ('l', "aria-label"),
                    ('p', "placeholder"),
                    ('n', "name"),
                ]
                .into_iter()
                .filter_map(|(k, name)| e.attr(name).map(|v| (k, v)))
                .collect();
                w.open(e.name(), &attrs);
                walk(child, w);
                w.close();
            }
            _ => {}
        }
    }
}

fn read(html: &str) -> Extracted {
    let doc = Html::parse_document(html);
    let body = doc
        .select(&scraper::Selector::parse("body").unwrap())
        .next()
        .expect("a body");
    let mut w = StreamWriter::default();
    w.open("body", &[]);
    walk(*body, &mut w);
    w.close();
    extract(&w.finish())
}

fn norm(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn check(name: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pages");
    let html = std::fs::read_to_string(dir.join(format!("{name}.html"))).unwrap();
    let expect = std::fs::read_to_string(dir.join(format!("{name}.expect"))).unwrap();
    let page = read(&html);
    if std::env::var_os("SHOW_EXTRACT").is_some() {
        eprintln!("=== {name}\n{:#?}", page);
    }
    let body = norm(&page.blocks.join("\n"));
    let headings: Vec<String> = page.headings.iter().map(|h| norm(h)).collect();
    let everything = format!("{body}\n{}", headings.join("\n"));
    let mut problems = Vec::new();
    let mut at = 0;
    let mut checked = 0;
    for line in expect.lines().map(str::trim) {
        let Some((directive, phrase)) = line.split_once(':') else {
            continue;
        };
        let phrase = norm(phrase);
        if line.starts_with('#') || phrase.is_empty() {
            continue;
        }
        checked += 1;
        match directive {
            "body" => match body[at..].find(&phrase) {
                Some(i) => at += i + phrase.len(),
                None if body.contains(&phrase) => problems.push(format!("out of order: {phrase}")),
                None => problems.push(format!("missing from the body: {phrase}")),
            },
            "heading" => {
                if !headings.iter().any(|h| h.contains(&phrase)) {
                    problems.push(format!("missing heading: {phrase}"));
                }
            }
            "absent" => {
                if everything.contains(&phrase) {
                    problems.push(format!("should be absent: {phrase}"));
                }
            }
            "label" => {
                if !page.forms.iter().any(|f| norm(f).contains(&phrase)) {
                    problems.push(format!("missing label: {phrase} in {:?}", page.forms));
                }
            }
            other => panic!("{name}.expect: unknown directive {other:?}"),
        }
    }
    assert!(checked >= 10, "{name}.expect checks too little");
    assert!(
        problems.is_empty(),
        "{name}: {} problem(s):\n{}\n--- headings\n{}\n--- body\n{}",
        problems.len(),
        problems.join("\n"),
        headings.join("\n"),
        page.blocks.join("\n")
    );
}

#[test]
fn news_article() {
    check("news");
}

#[test]
fn documentation_page() {
    check("docs");
}

#[test]
fn forum_thread() {
    check("forum");
}

#[test]
fn encyclopedia_page() {
    check("encyclopedia");
}

#[test]
fn page_of_tables() {
    check("tables");
}
