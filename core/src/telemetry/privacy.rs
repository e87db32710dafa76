//! The privacy gate of telemetry: the [`Scrubber`], applied to every string
//! and attribute before it is kept.
//!
//! - URLs are reduced to their origin (`https://example.com/a?b#c` →
//!   `https://example.com`; user info is dropped), also without a scheme
//!   (`example.com/path` → `example.com`); `data:` URLs to `data:`.
//! - Things that look like credentials are replaced by `[redacted]`: tokens
//!   with a known key prefix (`sk-`, `ghp_`, `AIza`, `eyJ`, ...), long
//!   opaque tokens mixing letters and digits, the value after
//!   `Bearer`/`Basic`, and the value of `api_key=…`, `password: …`,
//!   `"token": "…"` and the like. E-mail addresses become `[email]`.
//! - Strings are bounded ([`PrivacyConfig::max_len`] characters).
//! - Attributes under sensitive keys are dropped (`api_key`,
//!   `authorization`, `token`, `password`, `cookie`, ... and the page's
//!   content: `text`, `selection`, `prompt`, `content`, `body`, `html`,
//!   `title`, `question`, `answer`, ...); `url`-like keys (`url`, `href`,
//!   `referrer`, ...) keep only the origin.
//!
//! ```
//! use paperclip_core::telemetry::privacy::Scrubber;
//! use paperclip_core::telemetry::AttrValue;
//!
//! let s = Scrubber::default();
//! assert_eq!(
//!     s.text("GET https://api.example.com/v1/chat?key=abc failed: Bearer sk-proj-4f9aXk2LmQ81zT"),
//!     "GET https://api.example.com failed: Bearer [redacted]",
//! );
//! assert_eq!(s.attribute("api_key", AttrValue::from("x")), None);
//! assert_eq!(
//!     s.attribute("page_url", AttrValue::from("https://news.example/story/42")),
//!     Some(("page_url".into(), AttrValue::from("https://news.example"))),
//! );
//! ```
//!
//! The rules favour dropping too much over too little: a long identifier
//! such as a 32-digit hex trace id inside a message is redacted as well
//! (identifiers travel as typed fields, never inside strings).

use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

use super::{AttrValue, Attributes, DropReason, DropTally};
use crate::resilience::{check_range, InvalidSetting};

/// What replaces a credential.
pub const REDACTED: &str = "[redacted]";
/// What replaces an e-mail address.
pub const EMAIL: &str = "[email]";
/// What ends a truncated string.
pub const ELLIPSIS: char = '…';

/// The scrubber's settings.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct PrivacyConfig {
    /// The longest text kept, in characters (the ellipsis included).
    pub max_len: u32,
    /// The longest stack trace kept, in characters.
    pub max_stack_len: u32,
    /// The longest attribute key, in characters.
    pub max_key_len: u32,
}

impl PrivacyConfig {
    /// Accepted `max_len`.
    pub const MAX_LEN: RangeInclusive<u32> = 16..=4_096;
    /// Accepted `max_stack_len`.
    pub const MAX_STACK_LEN: RangeInclusive<u32> = 64..=16_384;
    /// Accepted `max_key_len`.
    pub const MAX_KEY_LEN: RangeInclusive<u32> = 8..=256;

    /// Checks every setting against its range.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let (a, b, c) = (Self::MAX_LEN, Self::MAX_STACK_LEN, Self::MAX_KEY_LEN);
        check_range("privacy.max_len", self.max_len, *a.start(), *a.end())?;
        check_range(
            "privacy.max_stack_len",
            self.max_stack_len,
            *b.start(),
            *b.end(),
        )?;
        check_range(
            "privacy.max_key_len",
            self.max_key_len,
            *c.start(),
            *c.end(),
        )
    }
}

impl Default for PrivacyConfig {
    /// 512 characters of text, 4 KiB of stack, 64-character keys.
    fn default() -> Self {
        Self {
            max_len: 512,
            max_stack_len: 4_096,
            max_key_len: 64,
        }
    }
}

/// How an attribute key is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyClass {
    /// A credential (`api_key`, `authorization`, `session_token`, ...):
    /// dropped.
    Secret,
    /// The page's or the user's content (`text`, `selection`, `prompt`,
    /// ...): dropped.
    Content,
    /// A URL (`url`, `page_url`, `href`, ...): reduced to its origin.
    Url,
    /// Anything else: the value is scrubbed like any text.
    Plain,
}

/// Key segments that name a credential.
const SECRET_SEGMENTS: &[&str] = &[
    "key",
    "apikey",
    "token",
    "secret",
    "password",
    "passwd",
    "pwd",
    "authorization",
    "auth",
    "bearer",
    "cookie",
    "cookies",
    "credential",
    "credentials",
    "session",
    "sid",
    "jwt",
    "signature",
    "private",
];

/// Last key segments that name content.
const CONTENT_SEGMENTS: &[&str] = &[
    "text",
    "selection",
    "selected",
    "prompt",
    "content",
    "contents",
    "body",
    "html",
    "markdown",
    "title",
    "question",
    "answer",
    "completion",
    "messages",
    "query",
    "input",
    "output",
    "transcript",
    "snippet",
    "excerpt",
    "clipboard",
];

/// Last key segments that name a URL.
const URL_SEGMENTS: &[&str] = &[
    "url", "uri", "href", "referrer", "referer", "link", "location", "src", "origin",
];

/// Prefixes of well-known credentials (OpenAI, Anthropic, Stripe, GitHub,
/// GitLab, Slack, Google, AWS, Hugging Face, Groq, Perplexity, JWTs, ...).
const KEY_PREFIXES: &[&str] = &[
    "sk-",
    "sk_",
    "pk_",
    "rk_",
    "sess-",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "xoxa-",
    "xoxb-",
    "xoxp-",
    "xoxr-",
    "xoxs-",
    "AIza",
    "AKIA",
    "ASIA",
    "hf_",
    "gsk_",
    "pplx-",
    "r8_",
    "ya29.",
    "eyJ",
];

/// Schemes whose URLs in a stack trace keep their file name.
const EXTENSION_SCHEMES: &[&str] = &[
    "chrome-extension",
    "moz-extension",
    "safari-web-extension",
    "wasm",
];

/// Splits a key into lowercase segments (`x-api-key`, `apiKey`,
/// `page.url` → `[x, api, key]`, `[api, key]`, `[page, url]`).
fn segments(key: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// How an attribute key is treated (see [`KeyClass`]).
pub fn classify_key(key: &str) -> KeyClass {
    if key.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
        // Lowercase ASCII (nearly every key): the segments are its
        // alphanumeric runs, borrowed.
        let segs = key
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|s| !s.is_empty());
        return classify_segments(segs);
    }
    classify_segments(segments(key).iter().map(String::as_str))
}

/// [`classify_key`] of a key split into lowercase `segs`.
fn classify_segments<'a>(segs: impl Iterator<Item = &'a str> + Clone) -> KeyClass {
    // Whether the segments run together spell `word`.
    let joined_len: usize = segs.clone().map(str::len).sum();
    let joined_is = |word: &str| {
        if word.len() != joined_len {
            return false;
        }
        let mut rest = word;
        for s in segs.clone() {
            match rest.strip_prefix(s) {
                Some(r) => rest = r,
                None => return false,
            }
        }
        rest.is_empty()
    };
    if segs.clone().any(|s| SECRET_SEGMENTS.contains(&s))
        || SECRET_SEGMENTS.iter().any(|w| joined_is(w))
    {
        return KeyClass::Secret;
    }
    let last = segs.clone().last().unwrap_or("");
    if CONTENT_SEGMENTS.contains(&last) || joined_is("pagetext") {
        KeyClass::Content
    } else if URL_SEGMENTS.contains(&last) {
        KeyClass::Url
    } else {
        KeyClass::Plain
    }
}

/// Whether `name` (the text before `=` or `:`) names a credential.
fn names_secret(name: &str) -> bool {
    let name = name.trim_matches(|c: char| !c.is_alphanumeric());
    !name.is_empty() && classify_key(name) == KeyClass::Secret
}

/// Authentication schemes whose following word is a credential.
fn is_auth_scheme(word: &str) -> bool {
    ["bearer", "basic", "digest", "token"]
        .iter()
        .any(|s| word.eq_ignore_ascii_case(s))
}

fn is_scheme_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-')
}

/// Characters that end a URL.
fn ends_url(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '"' | '\'' | '<' | '>' | '(' | ')' | '[' | ']' | '{' | '}' | '`' | '|' | '\\' | '^'
        )
}

/// Characters that make up a word (a possible credential, e-mail or path).
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+' | '/' | '=' | '@' | '%' | '~')
}

/// The origin of a URL (`scheme://host[:port]`, lowercase, without user
/// info), or `None` when `url` has no `scheme://`.
pub fn origin(url: &str) -> Option<String> {
    let at = url.find("://")?;
    let scheme = &url[..at];
    if scheme.is_empty()
        || !scheme.as_bytes()[0].is_ascii_alphabetic()
        || !scheme.bytes().all(is_scheme_char)
    {
        return None;
    }
    let rest = &url[at + 3..];
    let end = rest
        .find(|c: char| matches!(c, '/' | '?' | '#') || ends_url(c))
        .unwrap_or(rest.len());
    let authority = &rest[..end];
    let host = authority.rsplit('@').next().unwrap_or("");
    Some(format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        host.to_ascii_lowercase()
    ))
}

/// Whether `word` reads like a credential.
fn looks_secret(word: &str) -> bool {
    // A known prefix at the start of the word or of one of its parts.
    let prefixed = word
        .split(['.', '/', '=', '@', '+'])
        .chain(std::iter::once(word))
        .any(|part| {
            KEY_PREFIXES
                .iter()
                .any(|p| part.len() >= p.len() + 8 && part.starts_with(p))
        });
    if prefixed {
        return true;
    }
    // A long opaque mix of letters and digits.
    let alnum = word.bytes().filter(u8::is_ascii_alphanumeric).count();
    alnum >= 20
        && word.bytes().any(|b| b.is_ascii_digit())
        && word.bytes().any(|b| b.is_ascii_alphabetic())
}

/// Whether `word` is an e-mail address.
fn looks_email(word: &str) -> bool {
    let Some((local, domain)) = word.rsplit_once('@') else {
        return false;
    };
    !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
}

/// `example.com/path` → `Some("example.com")`.
fn schemeless_host(word: &str) -> Option<&str> {
    let (host, rest) = word.split_once('/')?;
    if rest.is_empty() {
        return None;
    }
    let host_only = host.rsplit('@').next().unwrap_or(host);
    let name = host_only.split(':').next().unwrap_or(host_only);
    let labels: Vec<&str> = name.split('.').collect();
    let tld = labels.last()?;
    let ok = labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        && tld.len() >= 2
        && tld.bytes().all(|b| b.is_ascii_alphabetic());
    ok.then_some(host_only)
}

/// The scrubber (see the module docs).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scrubber {
    config: PrivacyConfig,
}

/// How URLs are rewritten.
#[derive(Clone, Copy, PartialEq)]
enum UrlMode {
    /// To their origin.
    Origin,
    /// Extension and wasm URLs keep their file name and position (a stack
    /// frame); others become their origin.
    Frame,
}

impl Scrubber {
    /// A scrubber with validated settings.
    pub fn new(config: PrivacyConfig) -> Result<Self, InvalidSetting> {
        config.validate()?;
        Ok(Self { config })
    }

    /// Its settings.
    pub fn config(&self) -> &PrivacyConfig {
        &self.config
    }

    /// Scrubs free text: URLs to origins, credentials and e-mails
    /// redacted, bounded to `max_len` characters.
    pub fn text(&self, s: &str) -> String {
        truncate(scrub(s, UrlMode::Origin), self.config.max_len as usize)
    }

    /// Scrubs text bounded to `max` characters instead of `max_len`.
    pub fn text_within(&self, s: &str, max: usize) -> String {
        truncate(scrub(s, UrlMode::Origin), max.max(1))
    }

    /// Scrubs a stack trace: like [`Scrubber::text`], but the URLs of the
    /// extension's own scripts keep their file name, line and column
    /// (`chrome-extension://id/dir/background.js:12:3` →
    /// `background.js:12:3`); bounded to `max_stack_len`.
    pub fn stack(&self, s: &str) -> String {
        truncate(scrub(s, UrlMode::Frame), self.config.max_stack_len as usize)
    }

    /// A bounded attribute key (keys come from code; bounded all the same).
    pub fn key(&self, key: &str) -> String {
        truncate(
            scrub(key, UrlMode::Origin),
            self.config.max_key_len as usize,
        )
    }

    /// Scrubs one attribute: `None` when its key is sensitive
    /// ([`KeyClass::Secret`] or [`KeyClass::Content`]); a URL key keeps
    /// only the origin; text is scrubbed; a non-finite number becomes text.
    pub fn attribute(&self, key: &str, value: AttrValue) -> Option<(String, AttrValue)> {
        let value = match (classify_key(key), value) {
            (KeyClass::Secret | KeyClass::Content, _) => return None,
            (KeyClass::Url, AttrValue::Str(s)) => AttrValue::Str(match origin(s.trim()) {
                Some(o) => self.text(&o),
                None => self.text(&s),
            }),
            (_, AttrValue::Str(s)) => AttrValue::Str(self.text(&s)),
            (_, AttrValue::Float(x)) if !x.is_finite() => AttrValue::Str(x.to_string()),
            (_, v) => v,
        };
        Some((self.key(key), value))
    }

    /// Scrubs attributes, keeping at most `max` of them; dropped ones are
    /// counted in `dropped` ([`DropReason::Redacted`] for sensitive keys,
    /// [`DropReason::AttributeLimit`] beyond `max`).
    pub fn attributes<'a, I>(&self, raw: I, max: usize, dropped: &mut DropTally) -> Attributes
    where
        I: IntoIterator<Item = (&'a str, AttrValue)>,
    {
        let mut out = Attributes::new();
        for (key, value) in raw {
            match self.attribute(key, value) {
                None => dropped.add(DropReason::Redacted, 1),
                Some(_) if out.len() >= max => dropped.add(DropReason::AttributeLimit, 1),
                Some(kv) => out.push(kv),
            }
        }
        out
    }
}

/// Truncates to at most `max` characters, the last being [`ELLIPSIS`].
fn truncate(mut s: String, max: usize) -> String {
    if s.chars().count() <= max {
        return s;
    }
    let cut = s
        .char_indices()
        .nth(max.saturating_sub(1))
        .map_or(s.len(), |(i, _)| i);
    s.truncate(cut);
    s.push(ELLIPSIS);
    s
}

/// Finds the URL spans (`start..end`, scheme included) in `s`.
fn url_spans(s: &str) -> Vec<(usize, usize)> {
    let bytes = s.as_bytes();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut from = 0;
    while let Some(found) = s[from..].find("://") {
        let sep = from + found;
        let mut start = sep;
        while start > 0 && is_scheme_char(bytes[start - 1]) {
            start -= 1;
        }
        // A scheme starts with a letter.
        while start < sep && !bytes[start].is_ascii_alphabetic() {
            start += 1;
        }
        let end = s[sep + 3..].find(ends_url).map_or(s.len(), |i| sep + 3 + i);
        if start < sep && spans.last().is_none_or(|(_, e)| *e <= start) {
            spans.push((start, end));
        }
        from = end.max(sep + 3);
    }
    // `data:` URLs carry content: keep only the scheme.
    let mut from = 0;
    while let Some(found) = s[from..].to_ascii_lowercase().find("data:") {
        let start = from + found;
        let preceded = start > 0 && is_scheme_char(bytes[start - 1]);
        let end = s[start..]
            .find(char::is_whitespace)
            .map_or(s.len(), |i| start + i);
        let inside = spans.iter().any(|(a, b)| *a <= start && start < *b);
        if !preceded && !inside {
            spans.push((start, end));
        }
        from = end.max(start + 5);
    }
    spans.sort_unstable();
    spans
}

/// The rewrite of one URL span.
fn rewrite_url(url: &str, mode: UrlMode) -> String {
    if url
        .get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case("data:"))
    {
        return "data:".into();
    }
    let Some(origin) = origin(url) else {
        return String::new();
    };
    if mode == UrlMode::Frame {
        let scheme = &url[..url.find("://").unwrap_or(0)];
        if EXTENSION_SCHEMES
            .iter()
            .any(|e| scheme.eq_ignore_ascii_case(e))
        {
            let rest = &url[scheme.len() + 3..];
            let path = rest.split(['?', '#']).next().unwrap_or("");
            let file = path.rsplit('/').next().unwrap_or("");
            // Only a file name and `:line:col` survive, scrubbed like words.
            if !file.is_empty() && !rest.starts_with(file) {
                return scrub_words(file);
            }
        }
    }
    origin
}

/// The whole rewrite, before truncation.
fn scrub(s: &str, mode: UrlMode) -> String {
    if s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        // One plain token (most names and label values): no URL, no
        // `name=value`, no e-mail, no path, so all that can apply is what
        // `scrub_word` does last.
        return if looks_secret(s) {
            REDACTED.into()
        } else {
            s.to_string()
        };
    }
    scrub_general(s, mode)
}

/// [`scrub`] of any text.
fn scrub_general(s: &str, mode: UrlMode) -> String {
    let mut out = String::with_capacity(s.len().min(1024));
    let mut at = 0;
    for (start, end) in url_spans(s) {
        if start < at {
            continue;
        }
        out.push_str(&scrub_words(&s[at..start]));
        out.push_str(&rewrite_url(&s[start..end], mode));
        at = end;
    }
    out.push_str(&scrub_words(&s[at..]));
    out
}

/// What is pending after a word that announces a credential.
#[derive(Clone, Copy, PartialEq)]
enum Pending {
    /// Nothing.
    None,
    /// A secret's name (`api_key`): the next word is its value if `:` or
    /// `=` comes first.
    Name { separated: bool },
    /// An auth scheme (`Bearer`): the next word is the credential.
    Scheme,
}

/// Scrubs text without URLs, word by word.
fn scrub_words(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending = Pending::None;
    let mut word_start: Option<usize> = None;
    // After `example.com/path`, the rest of the URL (`?q=1`) goes too.
    let mut skipping = false;
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    for (n, &(i, c)) in chars.iter().enumerate() {
        if skipping {
            if !ends_url(c) {
                continue;
            }
            skipping = false;
        }
        // `host:8080/x` and `key:value` stay one word when a digit or a
        // word character follows the colon directly.
        let joins = c == ':'
            && word_start.is_some()
            && chars
                .get(n + 1)
                .is_some_and(|(_, next)| next.is_ascii_alphanumeric());
        if is_token_char(c) || joins {
            word_start.get_or_insert(i);
            continue;
        }
        if let Some(w) = word_start.take() {
            skipping = flush_word(&mut out, &s[w..i], &mut pending);
            if skipping && !ends_url(c) {
                continue;
            }
            skipping = false;
        }
        pending = match (pending, c) {
            (Pending::Name { .. }, ':' | '=') => Pending::Name { separated: true },
            (Pending::Name { separated }, ' ' | '\t' | '"' | '\'') => Pending::Name { separated },
            (Pending::Scheme, ' ' | '\t' | '"' | '\'' | ':' | '=') => Pending::Scheme,
            _ => Pending::None,
        };
        out.push(c);
    }
    if let Some(w) = word_start {
        flush_word(&mut out, &s[w..], &mut pending);
    }
    out
}

/// Writes one word's rewrite and updates `pending`; `true` when the word
/// was a URL without a scheme (the rest of the URL must be skipped).
fn flush_word(out: &mut String, word: &str, pending: &mut Pending) -> bool {
    if matches!(pending, Pending::Name { .. } | Pending::Scheme) && is_auth_scheme(word) {
        // `Authorization: Bearer xyz`: the scheme stays, `xyz` goes.
        out.push_str(word);
        *pending = Pending::Scheme;
        return false;
    }
    if matches!(pending, Pending::Scheme | Pending::Name { separated: true }) {
        out.push_str(REDACTED);
        *pending = Pending::None;
        return false;
    }
    // `api_key=…` in one word.
    if let Some(at) = word.find(['=', ':']) {
        let (name, value) = (&word[..at], &word[at + 1..]);
        if names_secret(name) && schemeless_host(word).is_none() {
            out.push_str(&word[..=at]);
            *pending = if value.is_empty() {
                Pending::Name { separated: true }
            } else if is_auth_scheme(value) {
                out.push_str(value);
                Pending::Scheme
            } else {
                out.push_str(REDACTED);
                Pending::None
            };
            return false;
        }
    }
    let (rewritten, was_url) = scrub_word(word);
    out.push_str(&rewritten);
    *pending = if is_auth_scheme(word) {
        Pending::Scheme
    } else if names_secret(word) {
        Pending::Name { separated: false }
    } else {
        Pending::None
    };
    was_url
}

/// Scrubs one word (a run of [`is_token_char`]); `true` when it was a URL
/// without a scheme.
fn scrub_word(word: &str) -> (String, bool) {
    // `name=value`, `name:value`: a secret's value goes; others are
    // scrubbed as words.
    if let Some(at) = word.find(['=', ':']) {
        let (name, value) = (&word[..at], &word[at + 1..]);
        if !name.is_empty() && schemeless_host(word).is_none() {
            let value = if names_secret(name) && !value.is_empty() {
                REDACTED.to_string()
            } else {
                scrub_word(value).0
            };
            return (
                format!("{}{}{value}", scrub_word(name).0, &word[at..at + 1]),
                false,
            );
        }
    }
    if looks_email(word) {
        (EMAIL.into(), false)
    } else if let Some(host) = schemeless_host(word) {
        (host.to_ascii_lowercase(), true)
    } else if looks_secret(word) {
        (REDACTED.into(), false)
    } else {
        (word.to_string(), false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(input: &str, expected: &str) {
        assert_eq!(Scrubber::default().text(input), expected, "{input}");
    }

    #[test]
    fn urls_keep_only_their_origin() {
        check("https://example.com/a/b?c=d#e", "https://example.com");
        check(
            "see HTTPS://User:Pw@Example.COM:8443/x.",
            "see https://example.com:8443",
        );
        check("(http://localhost:3000/api)", "(http://localhost:3000)");
        check("file:///home/alice/notes.txt", "file://");
        check(
            "blob:https://example.com/1f0c-22",
            "blob:https://example.com",
        );
        check("img data:text/html,<b>secret</b> end", "img data: end");
        check("example.com/private/page?q=1 ok", "example.com ok");
        check(
            "foo@moz-extension://a-b/bg.js:1:2",
            "foo@moz-extension://a-b",
        );
        check("src/lib.rs and v1.2/x stay", "src/lib.rs and v1.2/x stay");
    }

    #[test]
    fn credentials_and_emails_are_redacted() {
        check("key sk-proj-abcdefghijklmnop", "key [redacted]");
        check(
            "Authorization: Bearer abc.def",
            "Authorization: Bearer [redacted]",
        );
        check(
            "authorization=Basic dXNlcjpwYXNz",
            "authorization=Basic [redacted]",
        );
        check(r#"{"api_key": "short"}"#, r#"{"api_key": "[redacted]"}"#);
        check("x-api-key: hunter2 ok", "x-api-key: [redacted] ok");
        check("?a=1&token=xyz&b=2", "?a=1&token=[redacted]&b=2");
        check("password=", "password=");
        check("AIzaSyD-1234567890abcdefghijkl", "[redacted]");
        check(
            "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
            "jwt [redacted]",
        );
        check(
            "id 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
            "id [redacted]",
        );
        check("mail alice.b@example.org now", "mail [email] now");
        // Ordinary words after a secret's name without `:`/`=` stay.
        check(
            "the session expired after 30 s",
            "the session expired after 30 s",
        );
        check("sk-learn is a package", "sk-learn is a package");
    }

    #[test]
    fn text_is_bounded() {
        let s = Scrubber::new(PrivacyConfig {
            max_len: 16,
            ..PrivacyConfig::default()
        })
        .unwrap();
        let out = s.text(&"é".repeat(40));
        assert_eq!(out.chars().count(), 16);
        assert!(out.ends_with(ELLIPSIS));
        assert_eq!(s.text("short"), "short");
        assert_eq!(s.text_within("abcdef", 3), "ab…");
    }

    #[test]
    fn stack_frames_keep_file_names_of_the_extension_only() {
        let s = Scrubber::default();
        let stack = "Error: boom\n    at send (chrome-extension://abcdef/dist/background.js:12:34)\n    at https://evil.example/page/script.js?x=1:5:6\n    at foo@moz-extension://1234-5678/content.js:7:8\n    at paperclip::run::h0123 (wasm://wasm/paperclip-9a1b:wasm-function[12]:0x4f)";
        assert_eq!(
            s.stack(stack),
            "Error: boom\n    at send (background.js:12:34)\n    at https://evil.example\n    at foo@content.js:7:8\n    at paperclip::run::h0123 (paperclip-9a1b:wasm-function[12]:0x4f)"
        );
    }

    #[test]
    fn attributes_by_key() {
        let s = Scrubber::default();
        for key in [
            "api_key",
            "apiKey",
            "x-api-key",
            "Authorization",
            "session_token",
            "password",
            "cookie",
            "text",
            "selection",
            "prompt",
            "page_text",
            "pageText",
            "body",
            "title",
        ] {
            assert_eq!(s.attribute(key, AttrValue::from("v")), None, "{key}");
        }
        assert_eq!(classify_key("referrer"), KeyClass::Url);
        assert_eq!(classify_key("tokens_in"), KeyClass::Plain);
        assert_eq!(classify_key("provider"), KeyClass::Plain);
        assert_eq!(
            s.attribute("url", AttrValue::from("not a url /a/b")),
            Some(("url".into(), AttrValue::from("not a url /a/b")))
        );
        assert_eq!(
            s.attribute("ratio", AttrValue::Float(f64::NAN)),
            Some(("ratio".into(), AttrValue::from("NaN")))
        );
        assert_eq!(
            s.attribute("count", AttrValue::Int(3)),
            Some(("count".into(), AttrValue::Int(3)))
        );
        let mut dropped = DropTally::default();
        let raw = [
            ("a", AttrValue::Int(1)),
            ("prompt", AttrValue::from("secret words")),
            ("b", AttrValue::Int(2)),
            ("c", AttrValue::Int(3)),
        ];
        let kept = s.attributes(raw, 2, &mut dropped);
        assert_eq!(kept.len(), 2);
        assert_eq!(dropped.get(DropReason::Redacted), 1);
        assert_eq!(dropped.get(DropReason::AttributeLimit), 1);
    }

    #[test]
    fn scrubbing_is_idempotent_on_examples() {
        let s = Scrubber::default();
        for input in [
            "https://example.com/a Bearer x api_key=1 mail a@b.co sk-abcdefghijklmnopq",
            "plain words",
            &"long ".repeat(200),
        ] {
            let once = s.text(input);
            assert_eq!(s.text(&once), once);
        }
    }

    #[test]
    fn settings_are_validated() {
        assert!(Scrubber::new(PrivacyConfig {
            max_len: 1,
            ..PrivacyConfig::default()
        })
        .is_err());
    }

    fn word() -> impl Strategy<Value = String> {
        "[a-z]{1,8}"
    }

    fn separator() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            " ", ", ", ": ", " = ", "\n", " (", ") ", "; ", "\t", "\" ",
        ])
    }

    fn filler() -> impl Strategy<Value = String> {
        proptest::collection::vec((word(), separator()), 0..6)
            .prop_map(|v| v.into_iter().map(|(w, s)| format!("{w}{s}")).collect())
    }

    proptest! {
        /// The shortcut for one plain token rewrites it as the general
        /// path does (credential prefixes included).
        #[test]
        fn a_plain_token_is_scrubbed_as_by_the_general_path(
            prefix in prop::sample::select(vec!["", "sk-", "ghp_", "AKIA", "eyJ", "hf_", "ya29."]),
            rest in "[A-Za-z0-9_.-]{0,32}",
        ) {
            let token = format!("{prefix}{rest}");
            prop_assert_eq!(scrub(&token, UrlMode::Origin), scrub_general(&token, UrlMode::Origin));
        }

        /// Lowercase keys are classified without allocating, as the
        /// general path classifies them.
        #[test]
        fn a_lowercase_key_is_classified_as_by_the_general_path(
            key in "[a-z0-9._ -]{0,24}|(x-)?(api|page|auth|session)[._-]?(key|text|url|token|id)",
        ) {
            prop_assert_eq!(
                classify_key(&key),
                classify_segments(segments(&key).iter().map(String::as_str))
            );
        }

        /// No generated credential survives, wherever it sits in the text.
        #[test]
        fn no_key_survives(
            before in filler(),
            after in filler(),
            prefix in prop::sample::select(KEY_PREFIXES.to_vec()),
            body in "[A-Za-z0-9]{16,40}",
            glue in prop::sample::select(vec!["", "key=", "Bearer ", "api_key: ", "\"", "token="]),
        ) {
            let key = format!("{prefix}{body}");
            let input = format!("{before}{glue}{key} {after}");
            let out = Scrubber::default().text(&input);
            prop_assert!(!out.contains(&body), "{} -> {}", input, out);
        }

        /// Opaque mixed tokens (no known prefix) are redacted too.
        #[test]
        fn no_opaque_token_survives(
            before in filler(),
            body in "[a-z]{6,20}[0-9]{2,6}[A-Za-z0-9]{12,30}",
        ) {
            let out = Scrubber::default().text(&format!("{before}{body}"));
            prop_assert!(!out.contains(&body));
        }

        /// No URL path or query survives; the origin does.
        #[test]
        fn no_url_path_survives(
            before in filler(),
            after in filler(),
            scheme in prop::sample::select(vec!["http", "https", "chrome-extension", "moz-extension", "ws", "ftp"]),
            host in "[a-z]{2,10}\\.(com|org|example)",
            port in proptest::option::of(1u16..65535),
            segments in proptest::collection::vec("[A-Za-z0-9_~-]{3,12}", 1..4),
            query in proptest::option::of("[a-z]{1,5}=[A-Za-z0-9]{1,10}"),
            schemeless in any::<bool>(),
        ) {
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            let path = format!("/{}", segments.join("/"));
            let query = query.map(|q| format!("?{q}")).unwrap_or_default();
            let url = if schemeless {
                format!("{host}{port}{path}{query}")
            } else {
                format!("{scheme}://{host}{port}{path}{query}")
            };
            let input = format!("{before}{url} {after}");
            let s = Scrubber::default();
            let out = s.text(&input);
            prop_assert!(!out.contains(&path), "{} -> {}", input, out);
            if !query.is_empty() {
                prop_assert!(!out.contains(&query));
            }
            prop_assert!(out.contains(&host));
            // Stack traces keep at most the file name of the extension's scripts.
            let stack = s.stack(&input);
            prop_assert!(!stack.contains(&path), "{} -> {}", input, stack);
            prop_assert!(s.attribute("url", AttrValue::from(url.as_str())).is_some_and(|(_, v)| !v.to_string().contains(&path)));
        }

        /// Output never exceeds the bound, whatever the input.
        #[test]
        fn output_is_bounded(input in ".{0,300}", max in 16u32..64) {
            let s = Scrubber::new(PrivacyConfig { max_len: max, ..PrivacyConfig::default() }).unwrap();
            prop_assert!(s.text(&input).chars().count() <= max as usize);
            prop_assert!(s.stack(&input).chars().count() <= s.config().max_stack_len as usize);
            let _ = s.attribute("url", AttrValue::from(input.as_str()));
        }
    }
}
