//! Errors: an [`ErrorRecord`] (message, kind, stack, context, time and
//! source) with a stable [`Fingerprint`], and [`ErrorGroups`], which groups
//! records by fingerprint with a count, first and last seen, and a sample.
//!
//! The fingerprint hashes (xxh3, seedless: the same across runs and
//! machines) the kind, the [`normalize_message`]d message — numbers,
//! hex, UUIDs and quoted strings replaced by placeholders — and the
//! function names of the top [`TOP_FRAMES`] stack frames ([`top_frames`]:
//! no URL paths, no line or column), so the same bug groups together
//! whatever ids, addresses or build offsets its messages carry.
//!
//! ```
//! use paperclip_core::telemetry::errors::{ErrorGroups, ErrorInput, ErrorRecord};
//! use paperclip_core::telemetry::privacy::Scrubber;
//! use paperclip_core::telemetry::DropTally;
//!
//! let (scrubber, mut dropped) = (Scrubber::default(), DropTally::default());
//! let input = |message, line| ErrorInput {
//!     message,
//!     kind: "TypeError",
//!     stack: Some(line),
//!     component: "background",
//!     ..ErrorInput::default()
//! };
//! let a = ErrorRecord::new(input("conversation 17 not found", "at load (chrome-extension://x/bg.js:10:5)"), 1_000.0, &scrubber, &mut dropped);
//! let b = ErrorRecord::new(input("conversation 4242 not found", "at load (chrome-extension://x/bg.js:99:1)"), 2_000.0, &scrubber, &mut dropped);
//! assert_eq!(a.fingerprint, b.fingerprint);
//!
//! let mut groups = ErrorGroups::new(100)?;
//! groups.record(a);
//! groups.record(b);
//! let group = &groups.list()[0];
//! assert_eq!((group.count, group.first_seen_ms, group.last_seen_ms), (2, 1_000.0, 2_000.0));
//! # Ok::<(), paperclip_core::resilience::InvalidSetting>(())
//! ```

use std::collections::HashMap;
use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use super::privacy::{origin, Scrubber};
use super::{AttrValue, Attributes, DropReason, DropTally};
use crate::resilience::{check_range, InvalidSetting};

/// How many top stack frames the fingerprint uses.
pub const TOP_FRAMES: usize = 5;
/// The most context attributes an error keeps.
pub const MAX_CONTEXT: usize = 16;
/// The longest normalised message, in characters.
const MAX_NORMALIZED: usize = 256;

/// A stable hash that groups errors; written as 16 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub u64);

hex_u64!(Fingerprint, "a fingerprint");

/// Where an error came from.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct ErrorSource {
    /// The extension context or part (`background`, `content`, `popup`,
    /// `provider.openai`, ...).
    pub component: String,
    /// The page's origin, when the error concerns a page (never more of
    /// its URL).
    pub origin: Option<String>,
}

/// How bad an error is, least first.
#[derive(
    Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing; nothing failed for the user (a refused message).
    Info,
    /// Something failed and was covered (a provider fell back, a record was
    /// quarantined).
    Warning,
    /// Something the user asked for failed.
    #[default]
    Error,
    /// A part of the extension stopped (a panic).
    Fatal,
}

/// What kind of part failed.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// An AI provider's answer (an error status, a malformed stream).
    Provider,
    /// IndexedDB: a failed operation, a quarantined record.
    Storage,
    /// The network: no connection, a timeout.
    Network,
    /// Reading a page.
    Page,
    /// Messages between the extension's parts (refusals, malformed ones).
    Protocol,
    /// Telemetry itself (an exporter that failed).
    Telemetry,
    /// A page of the extension (the agent, popup, options, panel).
    #[default]
    Ui,
    /// The background worker itself (a panic there).
    Worker,
}

impl Severity {
    /// Every severity, least first.
    pub const ALL: [Severity; 4] = [Self::Info, Self::Warning, Self::Error, Self::Fatal];

    /// Its name (`warning`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
            Self::Fatal => "fatal",
        }
    }

    /// The severity named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl Category {
    /// Every category.
    pub const ALL: [Category; 8] = [
        Self::Provider,
        Self::Storage,
        Self::Network,
        Self::Page,
        Self::Protocol,
        Self::Telemetry,
        Self::Ui,
        Self::Worker,
    ];

    /// Its name (`provider`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provider => "provider",
            Self::Storage => "storage",
            Self::Network => "network",
            Self::Page => "page",
            Self::Protocol => "protocol",
            Self::Telemetry => "telemetry",
            Self::Ui => "ui",
            Self::Worker => "worker",
        }
    }

    /// The category named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// A raw error as reported, before scrubbing.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ErrorInput<'a> {
    /// How bad it is.
    pub severity: Severity,
    /// What kind of part failed.
    pub category: Category,
    /// The message.
    pub message: &'a str,
    /// The error's type (`TypeError`, `QuotaExceededError`, a Rust error
    /// type, `http.503`, ...).
    pub kind: &'a str,
    /// The stack trace, if any.
    pub stack: Option<&'a str>,
    /// Details (scrubbed; sensitive keys dropped).
    pub context: &'a [(&'a str, AttrValue)],
    /// The reporting component.
    pub component: &'a str,
    /// The page's URL, if the error concerns a page (only its origin is
    /// kept).
    pub page_url: Option<&'a str>,
}

/// A scrubbed error.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ErrorRecord {
    /// The message.
    pub message: String,
    /// The error's type.
    pub kind: String,
    /// The stack trace (extension file names and positions only).
    pub stack: Option<String>,
    /// Details.
    pub context: Attributes,
    /// When, ms since the epoch.
    pub time_ms: f64,
    /// Where it came from.
    pub source: ErrorSource,
    /// Its group.
    pub fingerprint: Fingerprint,
    /// How bad it is (records from before severities: `error`).
    #[serde(default)]
    pub severity: Severity,
    /// What kind of part failed (records from before categories: `ui`).
    #[serde(default)]
    pub category: Category,
}

impl ErrorRecord {
    /// Scrubs `input` and computes its fingerprint; context attributes
    /// dropped are counted in `dropped`.
    pub fn new(
        input: ErrorInput<'_>,
        time_ms: f64,
        scrubber: &Scrubber,
        dropped: &mut DropTally,
    ) -> Self {
        let message = scrubber.text(input.message);
        let kind = scrubber.text_within(input.kind, 128);
        let stack = input.stack.map(|s| scrubber.stack(s));
        let fingerprint = fingerprint(&kind, &message, stack.as_deref());
        let context = scrubber.attributes(input.context.iter().cloned(), MAX_CONTEXT, dropped);
        let source = ErrorSource {
            component: scrubber.text_within(input.component, 64),
            origin: input
                .page_url
                .and_then(|u| origin(u.trim()))
                .map(|o| scrubber.text_within(&o, 256)),
        };
        Self {
            message,
            kind,
            stack,
            context,
            time_ms,
            source,
            fingerprint,
            severity: input.severity,
            category: input.category,
        }
    }
}

/// Replaces the variable parts of a message — UUIDs (`<uuid>`), hex
/// numbers and hex ids (`<hex>`), numbers (`<n>`), quoted strings
/// (`<str>`) — and collapses whitespace.
pub fn normalize_message(message: &str) -> String {
    let chars: Vec<char> = message.chars().collect();
    let mut out = String::with_capacity(message.len());
    let mut i = 0;
    let boundary = |j: usize| j == 0 || !chars[j - 1].is_alphanumeric();
    while i < chars.len() && out.chars().count() < MAX_NORMALIZED {
        let c = chars[i];
        // Quoted strings, closed on the same line.
        if matches!(c, '\'' | '"' | '`') && boundary(i) {
            let close = chars[i + 1..]
                .iter()
                .take(200)
                .take_while(|&&d| d != '\n')
                .position(|&d| d == c);
            if let Some(len) = close {
                let end = i + 1 + len;
                if chars.get(end + 1).is_none_or(|n| !n.is_alphanumeric()) {
                    out.push_str("<str>");
                    i = end + 1;
                    continue;
                }
            }
        }
        if c.is_whitespace() {
            if !out.ends_with(' ') && !out.is_empty() {
                out.push(' ');
            }
            i += 1;
            continue;
        }
        if c.is_ascii_alphanumeric() {
            // A word: letters, digits, `-`, `_` joined.
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '-' | '_'))
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            out.push_str(&normalize_word(&word));
            continue;
        }
        out.push(c);
        i += 1;
    }
    out.trim_end().to_string()
}

fn is_uuid(w: &str) -> bool {
    let parts: Vec<&str> = w.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn normalize_word(word: &str) -> String {
    if is_uuid(word) {
        return "<uuid>".into();
    }
    let lower = word.to_ascii_lowercase();
    if let Some(hex) = lower.strip_prefix("0x") {
        if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return "<hex>".into();
        }
    }
    // Long hex ids (hashes, trace ids, ...).
    if word.len() >= 8
        && word.bytes().all(|b| b.is_ascii_hexdigit())
        && word.bytes().any(|b| b.is_ascii_digit())
        && word.bytes().any(|b| b.is_ascii_alphabetic())
    {
        return "<hex>".into();
    }
    // Parts joined by `-`/`_` are normalised one by one (`conv_123`).
    let mut out = String::with_capacity(word.len());
    let mut digits = false;
    for c in word.chars() {
        if c.is_ascii_digit() {
            if !digits {
                out.push_str("<n>");
                digits = true;
            }
        } else {
            digits = false;
            out.push(c);
        }
    }
    out
}

/// The function names (or, for anonymous frames, the file name) of the
/// top `n` frames of a V8 (`at f (url:1:2)`), SpiderMonkey (`f@url:1:2`)
/// or scrubbed stack; Rust symbol hashes (`::h0123…`) are removed.
pub fn top_frames(stack: &str, n: usize) -> Vec<String> {
    stack.lines().filter_map(frame_name).take(n).collect()
}

fn frame_name(line: &str) -> Option<String> {
    let line = line.trim();
    let (function, location) = if let Some(rest) = line.strip_prefix("at ") {
        match rest.rfind(" (") {
            Some(p) if rest.ends_with(')') => (rest[..p].trim(), &rest[p + 2..rest.len() - 1]),
            _ => ("", rest),
        }
    } else if let Some(p) = line.find('@') {
        (&line[..p], &line[p + 1..])
    } else {
        return None;
    };
    let function = function
        .trim_start_matches("async ")
        .trim_start_matches("new ");
    let function = strip_rust_hash(function);
    if !function.is_empty() && function != "<anonymous>" {
        return Some(function.to_string());
    }
    // Anonymous: the file name, without position or query.
    let path = location.split(['?', '#']).next().unwrap_or("");
    let file = path.rsplit('/').next().unwrap_or(path);
    let file = file.split(':').next().unwrap_or(file);
    Some(format!("<anonymous>@{file}"))
}

fn strip_rust_hash(f: &str) -> &str {
    match f.rfind("::h") {
        Some(p) if f.len() - p == 19 && f[p + 3..].bytes().all(|b| b.is_ascii_hexdigit()) => {
            &f[..p]
        }
        _ => f,
    }
}

/// The fingerprint of an error (see the module docs).
pub fn fingerprint(kind: &str, message: &str, stack: Option<&str>) -> Fingerprint {
    let mut key = String::new();
    key.push_str(kind.trim());
    key.push('\u{1f}');
    key.push_str(&normalize_message(message));
    for frame in stack.map(|s| top_frames(s, TOP_FRAMES)).unwrap_or_default() {
        key.push('\u{1e}');
        key.push_str(&frame);
    }
    Fingerprint(xxh3_64(key.as_bytes()))
}

/// Records of one fingerprint.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ErrorGroup {
    /// The group.
    pub fingerprint: Fingerprint,
    /// The error type.
    pub kind: String,
    /// The normalised message.
    pub title: String,
    /// How many records.
    pub count: u64,
    /// The first record's time.
    pub first_seen_ms: f64,
    /// The latest record's time.
    pub last_seen_ms: f64,
    /// The latest record.
    pub sample: ErrorRecord,
}

/// Error groups, bounded: when full, the group seen least recently is
/// evicted (counted).
#[derive(Debug, Clone)]
pub struct ErrorGroups {
    groups: HashMap<Fingerprint, ErrorGroup>,
    max_groups: usize,
    dropped: DropTally,
}

/// Accepted group counts.
pub const MAX_GROUPS: RangeInclusive<u32> = 1..=10_000;

impl ErrorGroups {
    /// Groups tracking at most `max_groups` fingerprints.
    pub fn new(max_groups: u32) -> Result<Self, InvalidSetting> {
        check_range(
            "telemetry.error_groups",
            max_groups,
            *MAX_GROUPS.start(),
            *MAX_GROUPS.end(),
        )?;
        Ok(Self {
            groups: HashMap::new(),
            max_groups: max_groups as usize,
            dropped: DropTally::default(),
        })
    }

    /// Adds a record to its group; returns whether the group is new.
    pub fn record(&mut self, record: ErrorRecord) -> bool {
        if let Some(g) = self.groups.get_mut(&record.fingerprint) {
            g.count += 1;
            g.first_seen_ms = g.first_seen_ms.min(record.time_ms);
            g.last_seen_ms = g.last_seen_ms.max(record.time_ms);
            g.sample = record;
            return false;
        }
        if self.groups.len() >= self.max_groups {
            let stalest = self
                .groups
                .values()
                .min_by(|a, b| a.last_seen_ms.total_cmp(&b.last_seen_ms))
                .map(|g| g.fingerprint);
            if let Some(fp) = stalest {
                self.groups.remove(&fp);
                self.dropped.add(DropReason::Evicted, 1);
            }
        }
        self.groups.insert(
            record.fingerprint,
            ErrorGroup {
                fingerprint: record.fingerprint,
                kind: record.kind.clone(),
                title: normalize_message(&record.message),
                count: 1,
                first_seen_ms: record.time_ms,
                last_seen_ms: record.time_ms,
                sample: record,
            },
        );
        true
    }

    /// Puts back `group` as an earlier instance kept it (its count and
    /// times), unless its fingerprint is already tracked or the groups are
    /// full; returns whether it was added.
    pub fn restore(&mut self, group: ErrorGroup) -> bool {
        if self.groups.contains_key(&group.fingerprint) || self.groups.len() >= self.max_groups {
            return false;
        }
        self.groups.insert(group.fingerprint, group);
        true
    }

    /// One group.
    pub fn get(&self, fingerprint: Fingerprint) -> Option<&ErrorGroup> {
        self.groups.get(&fingerprint)
    }

    /// Every group, most recently seen first.
    pub fn list(&self) -> Vec<&ErrorGroup> {
        let mut out: Vec<&ErrorGroup> = self.groups.values().collect();
        out.sort_by(|a, b| {
            b.last_seen_ms
                .total_cmp(&a.last_seen_ms)
                .then(a.fingerprint.cmp(&b.fingerprint))
        });
        out
    }

    /// How many groups.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Evictions not yet taken.
    pub fn take_dropped(&mut self) -> DropTally {
        self.dropped.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record(message: &str, stack: Option<&str>, t: f64) -> ErrorRecord {
        ErrorRecord::new(
            ErrorInput {
                message,
                kind: "Error",
                stack,
                component: "background",
                ..ErrorInput::default()
            },
            t,
            &Scrubber::default(),
            &mut DropTally::default(),
        )
    }

    #[test]
    fn messages_normalise() {
        let check =
            |input: &str, expected: &str| assert_eq!(normalize_message(input), expected, "{input}");
        check("timeout after 3000 ms", "timeout after <n> ms");
        check("bad ptr 0xDEADbeef at 12.5", "bad ptr <hex> at <n>.<n>");
        check(
            "id 123e4567-e89b-12d3-a456-426614174000 gone",
            "id <uuid> gone",
        );
        check(
            "key \"foo bar\" and 'x' missing",
            "key <str> and <str> missing",
        );
        check("can't read `thing`", "can't read <str>");
        check("hash 9f86d081884c7d65 ok", "hash <hex> ok");
        check("conv_123 and v2", "conv_<n> and v<n>");
        // Long numbers are numbers, not hex ids.
        check("took 10000000 ms, then 0 ms", "took <n> ms, then <n> ms");
        check("  many   spaces\n\there ", "many spaces here");
        check("unclosed \"quote", "unclosed \"quote");
        assert!(normalize_message(&"word ".repeat(200)).chars().count() <= MAX_NORMALIZED + 8);
    }

    #[test]
    fn frames_from_each_engine() {
        let v8 = "TypeError: x is undefined\n    at Object.send (chrome-extension://abc/dist/bg.js:10:5)\n    at async run (bg.js:3:1)\n    at chrome-extension://abc/dist/worker.js:7:9\n    at new Foo (x.js:1:1)";
        assert_eq!(
            top_frames(v8, 5),
            ["Object.send", "run", "<anonymous>@worker.js", "Foo"]
        );
        let spidermonkey =
            "send@moz-extension://u/bg.js:10:5\n@moz-extension://u/dir/worker.js?v=1:7:9\n";
        assert_eq!(
            top_frames(spidermonkey, 5),
            ["send", "<anonymous>@worker.js"]
        );
        let wasm = "    at paperclip_core::chat::run::h0123456789abcdef (wasm://wasm/pc-1a:wasm-function[42]:0x1f)";
        assert_eq!(top_frames(wasm, 5), ["paperclip_core::chat::run"]);
        assert_eq!(top_frames(v8, 2).len(), 2);
    }

    #[test]
    fn fingerprints_are_stable_and_discriminating() {
        // A fixed value: the same across runs, machines and builds.
        assert_eq!(
            fingerprint("Error", "boom", None),
            fingerprint("Error", "boom", None)
        );
        assert_eq!(
            fingerprint("Error", "boom", None).to_string(),
            format!("{:016x}", xxh3_64("Error\u{1f}boom".as_bytes()))
        );
        let a = record(
            "HTTP 503 from provider",
            Some("at call (chrome-extension://a/bg.js:1:2)"),
            1.0,
        );
        let b = record(
            "HTTP 429 from provider",
            Some("at call (chrome-extension://b/bg.js:99:7)"),
            2.0,
        );
        let c = record(
            "HTTP 503 from provider",
            Some("at render (chrome-extension://a/bg.js:1:2)"),
            3.0,
        );
        assert_eq!(a.fingerprint, b.fingerprint);
        assert_ne!(a.fingerprint, c.fingerprint);
        assert_ne!(
            fingerprint("TypeError", "x", None),
            fingerprint("RangeError", "x", None)
        );
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<ErrorRecord>(&json).unwrap(), a);
        assert!(serde_json::from_str::<Fingerprint>("\"12\"").is_err());
    }

    #[test]
    fn records_are_scrubbed() {
        let ctx = [
            ("api_key", AttrValue::from("sk-abcdefghijklmnop")),
            ("attempt", AttrValue::Int(2)),
        ];
        let mut dropped = DropTally::default();
        let r = ErrorRecord::new(
            ErrorInput {
                severity: Severity::Warning,
                category: Category::Network,
                message: "fetch https://api.example.com/v1/x?key=sk-abcdefghijklmnop failed",
                kind: "NetworkError",
                stack: Some("at f (https://site.example/app/main.js:1:1)"),
                context: &ctx,
                component: "provider.openai",
                page_url: Some("https://news.example/story/1?ref=x"),
            },
            5.0,
            &Scrubber::default(),
            &mut dropped,
        );
        assert_eq!(r.message, "fetch https://api.example.com failed");
        assert_eq!(r.stack.as_deref(), Some("at f (https://site.example)"));
        assert_eq!(r.context, [("attempt".to_string(), AttrValue::Int(2))]);
        assert_eq!(r.source.origin.as_deref(), Some("https://news.example"));
        assert_eq!(dropped.get(DropReason::Redacted), 1);
        assert_eq!(
            (r.severity, r.category),
            (Severity::Warning, Category::Network)
        );
        // Records kept before severities and categories read as errors of
        // the extension's pages.
        let mut old = serde_json::to_value(&r).unwrap();
        old.as_object_mut()
            .unwrap()
            .retain(|k, _| k != "severity" && k != "category");
        let old: ErrorRecord = serde_json::from_value(old).unwrap();
        assert_eq!(
            (old.severity, old.category),
            (Severity::Error, Category::Ui)
        );
    }

    #[test]
    fn severities_and_categories_have_names() {
        for s in Severity::ALL {
            assert_eq!(Severity::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(c));
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
        assert!(Severity::Fatal > Severity::Error && Severity::Warning > Severity::Info);
        assert_eq!(Category::parse("nope"), None);
    }

    #[test]
    fn groups_count_and_evict_the_stalest() {
        let mut g = ErrorGroups::new(2).unwrap();
        assert!(g.record(record("a 1", None, 10.0)));
        assert!(!g.record(record("a 2", None, 5.0))); // out of order: first_seen moves back
        assert!(g.record(record("b", None, 20.0)));
        let a = g.get(fingerprint("Error", "a 1", None)).unwrap();
        assert_eq!(
            (a.count, a.first_seen_ms, a.last_seen_ms, a.title.as_str()),
            (2, 5.0, 10.0, "a <n>")
        );
        assert_eq!(a.sample.message, "a 2");
        assert!(g.record(record("c", None, 30.0))); // evicts "a" (last seen 10)
        assert_eq!(g.len(), 2);
        assert!(g.get(fingerprint("Error", "a", None)).is_none());
        assert_eq!(g.take_dropped().get(DropReason::Evicted), 1);
        assert_eq!(
            g.list()
                .iter()
                .map(|x| x.title.as_str())
                .collect::<Vec<_>>(),
            ["c", "b"]
        );
    }

    proptest! {
        /// Numbers, hex and ids in messages and positions in stacks do not
        /// change the fingerprint.
        #[test]
        fn fingerprint_ignores_variable_parts(
            n1 in any::<u32>(), n2 in any::<u32>(),
            h1 in any::<u64>(), h2 in any::<u64>(),
            l1 in 1u32..5000, l2 in 1u32..5000,
            id1 in "[a-z]{3}", id2 in "[a-z]{3}",
        ) {
            let msg = |n: u32, h: u64| format!("request {n} failed at 0x{h:x} for 'user {n}'");
            let stack = |l: u32, id: &str| format!("Error\n    at send (chrome-extension://{id}/dist/bg.js:{l}:{l})\n    at {id}@moz-extension://{id}/x.js:{l}:1");
            let a = record(&msg(n1, h1), Some(&stack(l1, &id1)), 0.0);
            let b = record(&msg(n2, h2), Some(&stack(l2, &id1)), 0.0);
            prop_assert_eq!(a.fingerprint, b.fingerprint);
            // A different function name is a different group.
            let c = record(&msg(n1, h1), Some(&stack(l1, &id2)), 0.0);
            prop_assert_eq!(id1 == id2, a.fingerprint == c.fingerprint);
        }

        /// The group count never exceeds its bound; every record is counted
        /// in a group or its group's eviction is counted.
        #[test]
        fn groups_are_bounded(max in 1u32..10, kinds in proptest::collection::vec(0u8..20, 0..100)) {
            let mut g = ErrorGroups::new(max).unwrap();
            for (t, k) in kinds.iter().enumerate() {
                g.record(record(&format!("kind {}", (b'a' + k) as char), None, t as f64));
                prop_assert!(g.len() <= max as usize);
            }
        }
    }
}
