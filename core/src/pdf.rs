//! Asking about a PDF: which documents qualify, the address of the
//! extension page that hosts the agent for one (`pdf.html?src=…`), the
//! answer of the PDF reader module (`pdf/`, a wasm module of its own) and
//! its checks, and the page context made from a document's text.
//!
//! The browsers' PDF viewers let no extension script in, so the agent for
//! a PDF lives in an extension page of its own; the background fetches the
//! document (under the host access the user granted on the popup's click)
//! and reads its text with the reader module.

use serde::{Deserialize, Serialize};

use crate::page::{PageSnapshot, Viewport};

/// The extension page that hosts the agent for a PDF.
pub const PDF_PAGE: &str = "pdf.html";
/// The longest document address taken.
pub const MAX_URL_CHARS: usize = 2048;
/// The largest document fetched and read, in bytes.
pub const MAX_BYTES: usize = 32 * 1024 * 1024;
/// At most this many pages are read.
pub const MAX_PAGES: usize = 1000;
/// At most this much text (characters, all pages) is read: what a page
/// context keeps ([`crate::page::MAX_BODY_CHARS`]); the rest is not parsed.
pub const MAX_CHARS: usize = crate::page::MAX_BODY_CHARS;

/// What the reader module answers for a document.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// The text of each page read.
    Ok(Text),
    /// Why the text could not be read.
    Err(Refusal),
}

/// A document's text.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Text {
    /// The document's own title (its Info dictionary), when it has one.
    pub title: Option<String>,
    /// The pages in the document.
    pub page_count: u32,
    /// The text of the first pages (all of them, unless there are more
    /// than [`MAX_PAGES`] or more than [`MAX_CHARS`] characters).
    pub pages: Vec<String>,
    /// The text stops before the document's end.
    pub truncated: bool,
}

/// Why a document's text could not be read.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// Not a PDF at all (no `%PDF-` header).
    NotPdf,
    /// Over [`MAX_BYTES`].
    TooLarge,
    /// It needs a password to open.
    Encrypted,
    /// Its pages hold no text (scanned pages, images only).
    NoText,
    /// Its structure could not be read.
    Broken {
        /// What the parser said.
        detail: String,
    },
}

impl Refusal {
    /// The sentence the user reads about document `name`.
    pub fn text(&self, name: &str) -> String {
        match self {
            Refusal::NotPdf => format!("“{name}” is not a PDF, so Clippy cannot read it as one."),
            Refusal::TooLarge => format!(
                "“{name}” is larger than the {} MB Clippy reads.",
                MAX_BYTES / (1024 * 1024)
            ),
            Refusal::Encrypted => format!(
                "“{name}” is encrypted: it needs a password to open, so Clippy cannot read its text."
            ),
            Refusal::NoText => format!(
                "“{name}” has no text to read: its pages are images (a scanned document?). Clippy does not recognise text in images."
            ),
            Refusal::Broken { detail } => {
                format!("“{name}” could not be read: its structure is damaged ({detail}).")
            }
        }
    }
}

/// Whether `url` looks like a PDF the popup offers to ask about: a web
/// address whose path ends in `.pdf`.
pub fn looks_like_pdf(url: &str) -> bool {
    document_url(url).is_ok() && {
        let path = url.split(['?', '#']).next().unwrap_or_default();
        path.to_ascii_lowercase().ends_with(".pdf")
    }
}

/// Checks a document address: `http(s)`, no spaces or control
/// characters, at most [`MAX_URL_CHARS`]; without its fragment.
pub fn document_url(url: &str) -> Result<String, String> {
    let url = url.split('#').next().unwrap_or_default();
    if url.chars().count() > MAX_URL_CHARS {
        return Err(format!(
            "the document's address is longer than {MAX_URL_CHARS} characters"
        ));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the document's address has spaces or control characters".into());
    }
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or("only PDFs on the web (http or https) can be read")?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err("the document's address has no host".into());
    }
    Ok(url.to_string())
}

/// The document's file name, for the user: the last part of its path
/// (percent-decoded when that is UTF-8), or its address.
pub fn file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let last = path.rsplit('/').next().unwrap_or_default();
    let decoded = percent_decode(last).unwrap_or_else(|| last.to_string());
    let name = if decoded.trim().is_empty() {
        url.to_string()
    } else {
        decoded
    };
    name.chars().take(120).collect()
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Checks the reader module's JSON answer: it came out of a parser that
/// read hostile bytes, so its bounds are checked again here.
pub fn parse_answer(json: &[u8]) -> Result<Text, Refusal> {
    let broken = |detail: &str| Refusal::Broken {
        detail: detail.into(),
    };
    let answer: Answer =
        serde_json::from_slice(json).map_err(|_| broken("the reader's answer was malformed"))?;
    let text = match answer {
        Answer::Ok(text) => text,
        Answer::Err(Refusal::Broken { detail }) => {
            return Err(Refusal::Broken {
                detail: detail.chars().take(200).collect(),
            })
        }
        Answer::Err(refusal) => return Err(refusal),
    };
    let chars: usize = text.pages.iter().map(|p| p.chars().count()).sum();
    if text.pages.len() > MAX_PAGES
        || chars > MAX_CHARS
        || text.pages.len() > text.page_count as usize
    {
        return Err(broken("the reader's answer was over its bounds"));
    }
    if text.pages.iter().all(|p| p.trim().is_empty()) {
        return Err(Refusal::NoText);
    }
    Ok(text)
}

/// The page context of document `url` with `text`: its title (its own, or
/// the file name), one block per paragraph, the first of each page
/// starting "Page N:" (so that questions about a page find it). Not yet
/// clamped.
pub fn snapshot(url: &str, text: &Text) -> PageSnapshot {
    let title = text
        .title
        .clone()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| file_name(url));
    let mut blocks = Vec::new();
    for (i, page) in text.pages.iter().enumerate() {
        let mut first = true;
        for paragraph in paragraphs(page) {
            if first {
                blocks.push(format!("Page {}: {paragraph}", i + 1));
                first = false;
            } else {
                blocks.push(paragraph);
            }
        }
    }
    let pages = if text.page_count == 1 {
        "1 page".to_string()
    } else {
        format!("{} pages", text.page_count)
    };
    PageSnapshot {
        url: url.to_string(),
        title,
        description: format!("A PDF document of {pages}."),
        selection: String::new(),
        headings: Vec::new(),
        blocks,
        forms: Vec::new(),
        viewport: Viewport::default(),
        cut: text.truncated,
    }
}

/// The paragraphs of a page's text: runs of non-blank lines, joined by
/// spaces (a PDF breaks lines where the page did).
fn paragraphs(page: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in page.lines().map(str::trim) {
        if line.is_empty() {
            if !current.is_empty() {
                out.push(current.join(" "));
                current.clear();
            }
        } else {
            current.push(line);
        }
    }
    if !current.is_empty() {
        out.push(current.join(" "));
    }
    out
}

/// The context-cache key of document `url` whose bytes are `bytes`: a
/// page context's key (`ctx:<url>#…`, so that deleting the site's data
/// deletes it) with the bytes' hash.
pub fn cache_key(url: &str, bytes: &[u8]) -> String {
    let page = crate::page::context_key(url, "");
    let prefix = page.rsplit_once('#').map_or(page.as_str(), |(p, _)| p);
    format!("{prefix}#pdf-{:032x}", xxhash_rust::xxh3::xxh3_128(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text(pages: &[&str]) -> Text {
        Text {
            title: None,
            page_count: pages.len() as u32,
            pages: pages.iter().map(|p| p.to_string()).collect(),
            truncated: false,
        }
    }

    #[test]
    fn only_web_pdfs_are_offered() {
        assert!(looks_like_pdf(
            "https://example.com/papers/a.PDF?dl=1#page=2"
        ));
        assert!(looks_like_pdf("http://127.0.0.1:8080/doc.pdf"));
        assert!(!looks_like_pdf("https://example.com/a.pdf.html"));
        assert!(!looks_like_pdf("file:///home/me/a.pdf"));
        assert!(!looks_like_pdf("chrome-extension://x/a.pdf"));
        assert!(!looks_like_pdf("https:///a.pdf"));
        assert!(document_url("javascript:alert(1)//.pdf").is_err());
        assert!(document_url("https://a.test/a b.pdf").is_err());
        assert!(document_url(&format!("https://a.test/{}.pdf", "x".repeat(3000))).is_err());
        assert_eq!(
            document_url("https://a.test/x.pdf#page=3").as_deref(),
            Ok("https://a.test/x.pdf")
        );
    }

    #[test]
    fn names_the_file() {
        assert_eq!(
            file_name("https://a.test/docs/Annual%20report.pdf?x=1"),
            "Annual report.pdf"
        );
        assert_eq!(file_name("https://a.test/"), "https://a.test/");
        assert_eq!(file_name("https://a.test/bad%zz.pdf"), "bad%zz.pdf");
        assert_eq!(file_name("https://a.test/cut%2"), "cut%2");
    }

    #[test]
    fn the_readers_answer_is_checked() {
        let ok = serde_json::to_vec(&Answer::Ok(text(&["Hello.\nWorld.", ""]))).unwrap();
        assert_eq!(parse_answer(&ok).unwrap().pages.len(), 2);
        let encrypted = serde_json::to_vec(&Answer::Err(Refusal::Encrypted)).unwrap();
        assert_eq!(parse_answer(&encrypted), Err(Refusal::Encrypted));
        assert!(matches!(
            parse_answer(b"{not json"),
            Err(Refusal::Broken { .. })
        ));
        let mut over = text(&["a"]);
        over.page_count = 0;
        let over = serde_json::to_vec(&Answer::Ok(over)).unwrap();
        assert!(matches!(parse_answer(&over), Err(Refusal::Broken { .. })));
        let blank = serde_json::to_vec(&Answer::Ok(text(&[" ", "\n"]))).unwrap();
        assert_eq!(parse_answer(&blank), Err(Refusal::NoText));
        let long = "x".repeat(MAX_CHARS + 1);
        let long = serde_json::to_vec(&Answer::Ok(text(&[&long]))).unwrap();
        assert!(matches!(parse_answer(&long), Err(Refusal::Broken { .. })));
        let detail = serde_json::to_vec(&Answer::Err(Refusal::Broken {
            detail: "d".repeat(5000),
        }))
        .unwrap();
        let Err(Refusal::Broken { detail }) = parse_answer(&detail) else {
            panic!()
        };
        assert_eq!(detail.len(), 200);
    }

    #[test]
    fn the_context_marks_each_page() {
        let mut t = text(&["Intro line one\nline two\n\nSecond para.", "Next page."]);
        t.title = Some("Report".into());
        let page = snapshot("https://a.test/r.pdf", &t);
        assert_eq!(page.title, "Report");
        assert_eq!(
            page.blocks,
            [
                "Page 1: Intro line one line two",
                "Second para.",
                "Page 2: Next page."
            ]
        );
        assert_eq!(page.description, "A PDF document of 2 pages.");
        let untitled = snapshot("https://a.test/r%C3%A9sum%C3%A9.pdf", &text(&["x"]));
        assert_eq!(untitled.title, "résumé.pdf");
    }

    #[test]
    fn refusals_say_what_happened() {
        assert!(Refusal::Encrypted.text("a.pdf").contains("password"));
        assert!(Refusal::NoText.text("a.pdf").contains("scanned"));
        assert!(Refusal::TooLarge.text("a.pdf").contains("32 MB"));
    }

    #[test]
    fn cache_keys_follow_the_bytes() {
        let a = cache_key("https://a.test/x.pdf#p=1", b"one");
        assert_eq!(a, cache_key("https://a.test/x.pdf", b"one"));
        assert_ne!(a, cache_key("https://a.test/x.pdf", b"two"));
        assert!(a.starts_with(
            &crate::page::context_key("https://a.test/", "")
                .split('#')
                .next()
                .unwrap()
                .to_string()
        ));
        assert!(a.starts_with("ctx:https://a.test/x.pdf#pdf-"), "{a}");
    }

    proptest! {
        #[test]
        fn any_answer_bytes_are_checked_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_answer(&bytes);
        }

        #[test]
        fn names_never_panic(url in "\\PC{0,200}") {
            let name = file_name(&url);
            prop_assert!(name.chars().count() <= 120);
            let _ = looks_like_pdf(&url);
        }
    }
}
