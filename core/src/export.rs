//! Export and import of conversations.
//!
//! [`export`] writes the versioned JSON format ([`ExportFile`], documented in
//! `docs/export-format.md`); [`parse_import`] validates a whole file before
//! anything is written, reporting the path of the offending field
//! ([`ImportError`]); [`plan_import`] decides, under a [`MergePolicy`], which
//! conversations to write, so the background can apply the plan in one
//! transaction (all or nothing). [`to_markdown`] renders one conversation.
//!
//! ```
//! use paperclip_core::conversation::{Conversation, Message, Role};
//! use paperclip_core::export::{export, parse_import};
//!
//! let mut c = Conversation::new("c1".into(), "https://example.org".into(), 0.0);
//! c.push(Message::complete("m1".into(), Role::User, "Hi".into(), 1.0));
//! let json = export(vec![c.clone()], None, 2.0);
//! let back = parse_import(json.as_bytes(), 3.0).unwrap().conversations;
//! assert_eq!(back, vec![Conversation { imported: true, ..c }]);
//! let err = parse_import(br#"{"format":"paperclip-export","version":1,"exported_ms":0,"conversations":[{"id":5}]}"#, 3.0).unwrap_err();
//! assert_eq!(err.path, "$.conversations[0].id");
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write;
use std::time::{Duration, UNIX_EPOCH};

use serde::{de::IgnoredAny, Deserialize, Serialize};

use crate::conversation::{Conversation, Role};

/// The `format` field of every export file.
pub const FORMAT: &str = "paperclip-export";
/// The format version this build writes and reads.
pub const VERSION: u32 = 1;
/// Largest file accepted for import.
pub const MAX_IMPORT_BYTES: usize = 32 * 1024 * 1024;
/// Most conversations in one file.
pub const MAX_CONVERSATIONS: usize = 100_000;
/// Most messages in one conversation.
pub const MAX_MESSAGES: usize = 10_000;
/// Longest message text, in characters.
pub const MAX_TEXT_CHARS: usize = 1_000_000;
/// Longest id, site or title, in characters.
pub const MAX_FIELD_CHARS: usize = 2_048;

/// An export file: `{"format": "paperclip-export", "version": 1, ...}`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ExportFile {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// When the file was written, ms since the epoch.
    pub exported_ms: f64,
    /// The conversations, whole.
    pub conversations: Vec<Conversation>,
    /// Preferences (key → value; see [`crate::prefs`]); optional, absent in
    /// older files. API keys are never part of an export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferences: Option<BTreeMap<String, serde_json::Value>>,
}

/// Writes `conversations` (and `preferences`, when given) as an export
/// file (pretty JSON): [`frame`] around each conversation's [`piece`], as
/// the options page puts the file together from an export in parts.
pub fn export(
    conversations: Vec<Conversation>,
    preferences: Option<&crate::prefs::Preferences>,
    now_ms: f64,
) -> String {
    let (head, tail) = frame(preferences, now_ms);
    let pieces: Vec<String> = conversations.iter().map(piece).collect();
    assemble(&head, &pieces, &tail)
}

/// The file of [`frame`]'s `head` and `tail` around `pieces` (what the
/// options page does part by part, into a `Blob`).
pub fn assemble(head: &str, pieces: &[impl AsRef<str>], tail: &str) -> String {
    let mut out = head.to_string();
    for (i, p) in pieces.iter().enumerate() {
        out.push_str(separator(i));
        out.push_str(p.as_ref());
    }
    out.push_str(closing(pieces.len()));
    out.push_str(tail);
    out
}

/// An export file's text around its conversations: the head ends with
/// the array's `[`, the tail starts with its `]`. Between them go, for
/// each conversation, [`separator`] and its [`piece`], then [`closing`].
pub fn frame(preferences: Option<&crate::prefs::Preferences>, now_ms: f64) -> (String, String) {
    let preferences = preferences.map(|p| {
        p.entries(None)
            .into_iter()
            .map(|e| (e.key, e.value))
            .collect()
    });
    // The same shape as [`ExportFile`], with no conversations.
    #[derive(Serialize)]
    struct Writing {
        format: &'static str,
        version: u32,
        exported_ms: f64,
        conversations: [(); 0],
        #[serde(skip_serializing_if = "Option::is_none")]
        preferences: Option<BTreeMap<String, serde_json::Value>>,
    }
    let file = Writing {
        format: FORMAT,
        version: VERSION,
        exported_ms: now_ms,
        conversations: [],
        preferences,
    };
    let mut text = serde_json::to_string_pretty(&file).expect("export files always serialise");
    // The first occurrence is the field: only the format, version and
    // time come before it.
    const EMPTY: &str = "\"conversations\": []";
    let at = text.find(EMPTY).expect("the field is written") + EMPTY.len() - 1;
    let tail = text.split_off(at);
    (text, tail)
}

/// One conversation as it stands in an export file (pretty JSON indented
/// to its place in the array; JSON strings hold no raw line breaks, so
/// every line break is the layout's).
pub fn piece(c: &Conversation) -> String {
    crate::sized::to_string(c, true)
        .expect("conversations always serialise")
        .replace('\n', "\n    ")
}

/// What goes before the `index`th conversation's [`piece`].
pub fn separator(index: usize) -> &'static str {
    if index == 0 {
        "\n    "
    } else {
        ",\n    "
    }
}

/// What goes after `count` conversations, before the tail of [`frame`].
pub fn closing(count: usize) -> &'static str {
    if count == 0 {
        ""
    } else {
        "\n  "
    }
}

/// Why a file cannot be imported: where (`$.conversations[2].messages[0].role`)
/// and what. Nothing has been written when this is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{path}: {message}")]
pub struct ImportError {
    /// JSON path of the offending field (`$` for the whole file).
    pub path: String,
    /// What is wrong, lowercase.
    pub message: String,
}

pub(crate) fn err(path: impl Into<String>, message: impl Into<String>) -> ImportError {
    ImportError {
        path: path.into(),
        message: message.into(),
    }
}

/// How far in the future an imported time may be, ms (clocks disagree a
/// little between machines).
pub const FUTURE_SKEW_MS: f64 = 10.0 * 60_000.0;

/// Validates a whole import file at `now_ms`; returns it only when every
/// field is acceptable: sites are http(s) origins (or empty, for pages
/// without one), and no time is in the future (a planted conversation
/// would otherwise stay "newest" forever).
pub fn parse_import(bytes: &[u8], now_ms: f64) -> Result<ExportFile, ImportError> {
    check_size("file", bytes.len(), MAX_IMPORT_BYTES)?;
    // The fast path: a well-formed file parses once, without tracking paths.
    // Only a file that fails is parsed again, slowly, to say where and why.
    let file = match serde_json::from_slice::<ExportFile>(bytes) {
        Ok(file) if file.format == FORMAT && file.version == VERSION => file,
        _ => detailed_parse(bytes)?,
    };
    finish(file, now_ms)
}

/// Refuses `what` (a file, a header) of `len` bytes over `limit`.
pub(crate) fn check_size(what: &str, len: usize, limit: usize) -> Result<(), ImportError> {
    if len > limit {
        return Err(err(
            "$",
            format!("{what} is {len} bytes; the limit is {limit}"),
        ));
    }
    Ok(())
}

/// Refuses a file that is not a Paperclip export of [`VERSION`].
pub(crate) fn check_header(
    format: Option<&serde_json::Value>,
    version: Option<&serde_json::Value>,
) -> Result<(), ImportError> {
    match format.and_then(|f| f.as_str()) {
        Some(FORMAT) => {}
        Some(other) => {
            return Err(err(
                "$.format",
                format!("not a Paperclip export (format is {other:?})"),
            ))
        }
        None => return Err(err("$.format", "missing: not a Paperclip export")),
    }
    match version.and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(VERSION) => Ok(()),
        Some(v) => Err(err(
            "$.version",
            format!("version {v} is not supported; this Paperclip reads version {VERSION}"),
        )),
        None => Err(err("$.version", "missing or not a number")),
    }
}

/// Parses `bytes` tracking JSON paths, for a precise error.
fn detailed_parse(bytes: &[u8]) -> Result<ExportFile, ImportError> {
    #[derive(Deserialize)]
    struct Header {
        format: Option<serde_json::Value>,
        version: Option<serde_json::Value>,
        #[serde(flatten)]
        _rest: HashMap<String, IgnoredAny>,
    }
    let header: Header =
        serde_json::from_slice(bytes).map_err(|e| err("$", format!("not a JSON object: {e}")))?;
    check_header(header.format.as_ref(), header.version.as_ref())?;
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let file: ExportFile = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." {
            "$".to_string()
        } else {
            format!("$.{path}")
        };
        err(path, e.into_inner().to_string())
    })?;
    Ok(file)
}

/// The provider label of every answer read from a file: the file's own
/// label says nothing true about who wrote it.
pub const IMPORTED_PROVIDER: &str = "imported";

/// Validates a parsed file and normalises what may be normalised. Every
/// conversation is marked imported (never opened by itself, never sent as
/// history until the user opens it) and every answer's provider becomes
/// [`IMPORTED_PROVIDER`].
fn finish(mut file: ExportFile, now_ms: f64) -> Result<ExportFile, ImportError> {
    validate(&file, now_ms)?;
    file.conversations.iter_mut().for_each(normalise);
    if let Some(prefs) = &mut file.preferences {
        validate_preferences(prefs)?;
    }
    Ok(file)
}

/// Marks an imported conversation as imported and its answers' provider
/// as [`IMPORTED_PROVIDER`]; normalises its tags.
pub(crate) fn normalise(c: &mut Conversation) {
    c.tags = crate::conversation::normalize_tags(&c.tags).unwrap_or_default();
    c.imported = true;
    for m in &mut c.messages {
        if m.role == Role::Assistant {
            m.provider = Some(IMPORTED_PROVIDER.into());
            m.level = crate::resilience::fallback::Degradation::Normal;
        }
    }
}

/// Validates (and normalises) a file's preferences.
pub(crate) fn validate_preferences(
    prefs: &mut BTreeMap<String, serde_json::Value>,
) -> Result<(), ImportError> {
    for (key, value) in prefs.iter_mut() {
        *value = crate::prefs::Preferences::validate(key, value)
            .map_err(|e| err(format!("$.preferences.{key}"), e.reason))?;
    }
    Ok(())
}

fn check_len(path: &str, value: &str, max: usize, required: bool) -> Result<(), ImportError> {
    let n = value.chars().count();
    if required && value.trim().is_empty() {
        return Err(err(path, "must not be empty"));
    }
    if n > max {
        return Err(err(path, format!("{n} characters; the limit is {max}")));
    }
    Ok(())
}

fn check_time(path: &str, t: f64, now_ms: f64) -> Result<(), ImportError> {
    if !t.is_finite() || t < 0.0 {
        return Err(err(path, format!("{t} is not a valid time")));
    }
    if t > now_ms + FUTURE_SKEW_MS {
        return Err(err(path, format!("{t} is in the future")));
    }
    Ok(())
}

fn validate(file: &ExportFile, now_ms: f64) -> Result<(), ImportError> {
    check_count(file.conversations.len())?;
    let mut ids = HashSet::new();
    for (i, c) in file.conversations.iter().enumerate() {
        validate_conversation(i, c, now_ms)?;
        if !ids.insert(c.id.as_str()) {
            return Err(duplicate(i, &c.id));
        }
    }
    Ok(())
}

/// Refuses more than [`MAX_CONVERSATIONS`].
pub(crate) fn check_count(n: usize) -> Result<(), ImportError> {
    if n > MAX_CONVERSATIONS {
        return Err(err(
            "$.conversations",
            format!("{n} conversations; the limit is {MAX_CONVERSATIONS}"),
        ));
    }
    Ok(())
}

/// The error for conversation `i`'s id seen before in the file.
pub(crate) fn duplicate(i: usize, id: &str) -> ImportError {
    err(
        format!("$.conversations[{i}].id"),
        format!("duplicate conversation id {id:?}"),
    )
}

/// Validates conversation `i` of a file by itself (ids across the file
/// are the caller's to check).
pub(crate) fn validate_conversation(
    i: usize,
    c: &Conversation,
    now_ms: f64,
) -> Result<(), ImportError> {
    let at = format!("$.conversations[{i}]");
    check_len(&format!("{at}.id"), &c.id, MAX_FIELD_CHARS, true)?;
    check_len(&format!("{at}.site"), &c.site, MAX_FIELD_CHARS, false)?;
    if !c.site.is_empty() {
        match crate::prefs::origin(&c.site) {
            Ok(origin) if origin == c.site => {}
            Ok(origin) => {
                return Err(err(
                    format!("{at}.site"),
                    format!(
                        "{:?} is not written as an origin (expected {origin:?})",
                        c.site
                    ),
                ))
            }
            Err(e) => return Err(err(format!("{at}.site"), format!("{:?} {e}", c.site))),
        }
    }
    check_len(&format!("{at}.title"), &c.title, MAX_FIELD_CHARS, false)?;
    check_len(&format!("{at}.agent"), &c.agent, MAX_FIELD_CHARS, false)?;
    check_len(
        &format!("{at}.personality"),
        &c.personality,
        MAX_FIELD_CHARS,
        false,
    )?;
    crate::conversation::normalize_tags(&c.tags).map_err(|e| err(format!("{at}.tags"), e))?;
    check_time(&format!("{at}.created_ms"), c.created_ms, now_ms)?;
    check_time(&format!("{at}.updated_ms"), c.updated_ms, now_ms)?;
    if c.messages.len() > MAX_MESSAGES {
        return Err(err(
            format!("{at}.messages"),
            format!("{} messages; the limit is {MAX_MESSAGES}", c.messages.len()),
        ));
    }
    let mut message_ids = HashSet::new();
    for (j, m) in c.messages.iter().enumerate() {
        let at = format!("{at}.messages[{j}]");
        check_len(&format!("{at}.id"), &m.id, MAX_FIELD_CHARS, true)?;
        if !message_ids.insert(m.id.as_str()) {
            return Err(err(
                format!("{at}.id"),
                format!("duplicate message id {:?}", m.id),
            ));
        }
        check_len(&format!("{at}.text"), &m.text, MAX_TEXT_CHARS, false)?;
        check_time(&format!("{at}.time_ms"), m.time_ms, now_ms)?;
        if let Some(p) = &m.provider {
            check_len(&format!("{at}.provider"), p, MAX_FIELD_CHARS, false)?;
        }
    }
    Ok(())
}

/// A preference an import file carries that differs from the current
/// value: listed to the user, applied only when they confirm.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct OfferedPreference {
    /// The key, e.g. `privacy.retention_days`.
    pub key: String,
    /// Its one-line description.
    pub description: String,
    /// Its category (privacy settings are pointed out).
    pub category: crate::prefs::Category,
    /// The file's (validated) value.
    pub value: serde_json::Value,
    /// The value in effect now.
    pub current: serde_json::Value,
}

/// The preferences of `file` (already validated by [`parse_import`]) that
/// would change something against `current`, in the options page's order.
pub fn offered_preferences(
    file: &ExportFile,
    current: &crate::prefs::Preferences,
) -> Vec<OfferedPreference> {
    offered(file.preferences.as_ref(), current)
}

/// The preferences of `prefs` (validated) that differ from `current`.
pub(crate) fn offered(
    prefs: Option<&BTreeMap<String, serde_json::Value>>,
    current: &crate::prefs::Preferences,
) -> Vec<OfferedPreference> {
    let Some(prefs) = prefs else {
        return Vec::new();
    };
    current
        .entries(None)
        .into_iter()
        .filter_map(|e| {
            let value = prefs.get(&e.key)?;
            (*value != e.value).then(|| OfferedPreference {
                key: e.key,
                description: e.description,
                category: e.category,
                value: value.clone(),
                current: e.value,
            })
        })
        .collect()
}

/// What to do when an imported conversation's id already exists.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MergePolicy {
    /// Keep what is stored.
    Skip,
    /// Replace what is stored.
    Overwrite,
    /// Keep whichever was updated last (stored wins ties).
    KeepNewest,
}

/// The writes an import makes, and their counts.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportPlan {
    /// Conversations to write.
    pub write: Vec<Conversation>,
    /// New ids.
    pub added: u32,
    /// Existing ids replaced.
    pub overwritten: u32,
    /// Existing ids kept as they were.
    pub skipped: u32,
}

/// Plans the import of `file` against `existing` (id → updated_ms).
pub fn plan_import(
    file: ExportFile,
    existing: &HashMap<String, f64>,
    policy: MergePolicy,
) -> ImportPlan {
    let mut plan = ImportPlan {
        write: Vec::new(),
        added: 0,
        overwritten: 0,
        skipped: 0,
    };
    for c in file.conversations {
        match existing.get(&c.id) {
            None => {
                plan.added += 1;
                plan.write.push(c);
            }
            Some(&stored) => {
                let replace = match policy {
                    MergePolicy::Skip => false,
                    MergePolicy::Overwrite => true,
                    MergePolicy::KeepNewest => c.updated_ms > stored,
                };
                if replace {
                    plan.overwritten += 1;
                    plan.write.push(c);
                } else {
                    plan.skipped += 1;
                }
            }
        }
    }
    plan
}

fn rfc3339(ms: f64) -> String {
    let ms = if ms.is_finite() && ms > 0.0 {
        ms as u64
    } else {
        0
    };
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// One conversation as Markdown: a heading, the site and times, then each
/// message under its author.
pub fn to_markdown(c: &Conversation) -> String {
    let mut out = String::new();
    let title = if c.title.is_empty() {
        "Conversation"
    } else {
        &c.title
    };
    let _ = writeln!(out, "# {title}\n");
    let _ = writeln!(out, "- Site: {}", c.site);
    let _ = writeln!(out, "- Started: {}", rfc3339(c.created_ms));
    let _ = writeln!(out, "- Updated: {}", rfc3339(c.updated_ms));
    let _ = writeln!(out, "- Messages: {}", c.messages.len());
    if c.usage != crate::conversation::Usage::default() {
        let _ = writeln!(out, "- Usage: {}", crate::usage::format_usage(&c.usage));
    }
    for m in &c.messages {
        let who = match m.role {
            Role::User => "You",
            Role::Assistant => "Clippy",
        };
        let _ = writeln!(
            out,
            "\n## {who} · {}\n\n{}",
            rfc3339(m.time_ms),
            m.text.trim_end()
        );
        // Where the answer came from, and what it cost when known.
        let source = m.source().map(|s| s.label());
        let usage = m.usage.as_ref().map(crate::usage::format_usage);
        let about: Vec<String> = source.into_iter().chain(usage).collect();
        if !about.is_empty() {
            let _ = writeln!(out, "\n*{}*", crate::markdown::escape(&about.join(" · ")));
        }
    }
    out
}

/// A file name for [`to_markdown`]'s output: the title's letters and digits,
/// dashes between words, `.md`.
pub fn markdown_filename(c: &Conversation) -> String {
    let words: Vec<String> = c
        .title
        .split(|ch: char| !ch.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(8)
        .map(str::to_lowercase)
        .collect();
    if words.is_empty() {
        "paperclip-conversation.md".into()
    } else {
        format!("{}.md", words.join("-"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::Message;
    use proptest::prelude::*;

    fn conv(id: &str, updated: f64) -> Conversation {
        let mut c = Conversation::new(id.into(), "https://s.test".into(), 1.0);
        c.push(Message::complete(
            format!("{id}-m"),
            Role::User,
            "q".into(),
            updated,
        ));
        c
    }

    fn file_json(conversations: &str) -> String {
        format!(
            r#"{{"format":"paperclip-export","version":1,"exported_ms":5,"conversations":{conversations}}}"#
        )
    }

    /// "Now" in the tests: after every time they use.
    const NOW: f64 = 2e13;

    fn check(input: &[u8], path: &str, needle: &str) {
        let e = parse_import(input, NOW).unwrap_err();
        assert_eq!(e.path, path, "{e}");
        assert!(e.message.contains(needle), "`{e}` lacks `{needle}`");
    }

    #[test]
    fn hostile_files_get_precise_errors() {
        check(b"", "$", "not a JSON object");
        check(b"\x00\x9f\x92\x96garbage", "$", "not a JSON object");
        check(b"[1,2,3]", "$", "not a JSON object");
        check(
            br#"{"format":"other","version":1}"#,
            "$.format",
            "not a Paperclip export",
        );
        check(br#"{"version":1}"#, "$.format", "missing");
        check(
            br#"{"format":"paperclip-export","version":9}"#,
            "$.version",
            "version 9",
        );
        check(
            br#"{"format":"paperclip-export","version":"1"}"#,
            "$.version",
            "not a number",
        );
        let truncated = file_json(
            r#"[{"id":"a","site":"s","title":"t","created_ms":1,"updated_ms":1,"messages":["#,
        );
        check(truncated.as_bytes(), "$", "line 1 column");
        check(
            file_json(r#"[{"id":"a","site":"s","title":"t","created_ms":1,"updated_ms":1,"messages":[{"id":"m","role":"robot","text":"x","time_ms":1,"status":"complete","provider":null}]}]"#).as_bytes(),
            "$.conversations[0].messages[0].role",
            "unknown variant",
        );
        check(
            file_json(r#"[{"id":"a","site":"s","title":"t","created_ms":"yesterday","updated_ms":1,"messages":[]}]"#).as_bytes(),
            "$.conversations[0].created_ms",
            "invalid type",
        );
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        check(file_json(&deep).as_bytes(), "$", "recursion limit");
        let dup = serde_json::to_string(&vec![conv("x", 1.0), conv("x", 2.0)]).unwrap();
        check(
            file_json(&dup).as_bytes(),
            "$.conversations[1].id",
            "duplicate",
        );
        let mut long = conv("y", 1.0);
        long.title = "t".repeat(MAX_FIELD_CHARS + 1);
        let long = serde_json::to_string(&vec![long]).unwrap();
        check(
            file_json(&long).as_bytes(),
            "$.conversations[0].title",
            "limit",
        );
        let mut bad_time = conv("z", 1.0);
        bad_time.messages[0].time_ms = -5.0;
        let bad_time = serde_json::to_string(&vec![bad_time]).unwrap();
        check(
            file_json(&bad_time).as_bytes(),
            "$.conversations[0].messages[0].time_ms",
            "not a valid time",
        );
        let big = vec![b' '; MAX_IMPORT_BYTES + 1];
        check(&big, "$", "limit");
    }

    #[test]
    fn a_50_mb_file_and_a_huge_message_are_refused() {
        let mut c = conv("big", 1.0);
        c.messages[0].text = "x".repeat(50 * 1024 * 1024);
        check(export(vec![c.clone()], None, 0.0).as_bytes(), "$", "limit");
        c.messages[0].text = "x".repeat(MAX_TEXT_CHARS + 1);
        check(
            export(vec![c], None, 0.0).as_bytes(),
            "$.conversations[0].messages[0].text",
            "limit",
        );
    }

    #[test]
    fn merge_policies() {
        let existing: HashMap<String, f64> =
            [("old".to_string(), 10.0), ("new".to_string(), 10.0)].into();
        let file = || ExportFile {
            format: FORMAT.into(),
            version: VERSION,
            exported_ms: 0.0,
            conversations: vec![conv("old", 5.0), conv("new", 20.0), conv("fresh", 1.0)],
            preferences: None,
        };
        let p = plan_import(file(), &existing, MergePolicy::Skip);
        assert_eq!((p.added, p.overwritten, p.skipped), (1, 0, 2));
        let p = plan_import(file(), &existing, MergePolicy::Overwrite);
        assert_eq!((p.added, p.overwritten, p.skipped), (1, 2, 0));
        let p = plan_import(file(), &existing, MergePolicy::KeepNewest);
        assert_eq!((p.added, p.overwritten, p.skipped), (1, 1, 1));
        let ids: Vec<_> = p.write.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["new", "fresh"]);
    }

    #[test]
    fn markdown_lists_messages_under_their_authors() {
        let mut c = conv("m", 1_700_000_000_000.0);
        c.push(Message::complete(
            "a".into(),
            Role::Assistant,
            "answer\n".into(),
            1_700_000_001_000.0,
        ));
        let md = to_markdown(&c);
        assert!(md.starts_with("# q\n\n- Site: https://s.test\n"), "{md}");
        assert!(md.contains("## You · 2023-11-14T22:13:20Z\n\nq\n"), "{md}");
        assert!(
            md.contains("## Clippy · 2023-11-14T22:13:21Z\n\nanswer\n"),
            "{md}"
        );
    }

    #[test]
    fn markdown_filenames() {
        let mut c = conv("f", 1.0);
        c.title = "What is the Gem clip? / 1870s".into();
        assert_eq!(markdown_filename(&c), "what-is-the-gem-clip-1870s.md");
        c.title = "***".into();
        assert_eq!(markdown_filename(&c), "paperclip-conversation.md");
    }

    proptest! {
        /// The file put together from its frame and pieces (as the options
        /// page does from an export in parts) is serde's pretty JSON of
        /// the whole file, whatever the texts hold (line breaks, quotes,
        /// non-ASCII) and with or without preferences.
        #[test]
        fn the_parts_make_the_whole_file(
            texts in proptest::collection::vec("(\\PC|[\n\r\t\"\\\\])*", 0..4),
            with_preferences: bool,
        ) {
            let cs: Vec<_> = texts.iter().enumerate().map(|(i, text)| {
                let mut c = conv(&format!("c{i}"), 2.0);
                c.title = text.clone();
                c.push(Message::complete(format!("a{i}"), Role::Assistant, text.clone(), 3.0));
                c
            }).collect();
            let p = crate::prefs::Preferences::default();
            let file = ExportFile {
                format: FORMAT.into(),
                version: VERSION,
                exported_ms: 5.0,
                conversations: cs.clone(),
                preferences: with_preferences.then(|| {
                    p.entries(None).into_iter().map(|e| (e.key, e.value)).collect()
                }),
            };
            let whole = export(cs, with_preferences.then_some(&p), 5.0);
            prop_assert_eq!(whole, serde_json::to_string_pretty(&file).unwrap());
        }

        #[test]
        // Times are whole milliseconds (Date.now()), which JSON carries
        // exactly.
        fn export_round_trips(n in 0usize..20, t in 1u64..10_000_000_000_000) {
            let t = t as f64;
            let cs: Vec<_> = (0..n).map(|i| conv(&format!("c{i}"), t + i as f64)).collect();
            let back = parse_import(export(cs.clone(), None, t).as_bytes(), NOW).unwrap();
            let marked: Vec<_> = cs.into_iter().map(|c| Conversation { imported: true, ..c }).collect();
            prop_assert_eq!(back.conversations, marked);
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_import(&bytes, NOW);
        }

        #[test]
        fn keep_newest_never_writes_older(stored in proptest::collection::vec(0.0f64..100.0, 1..20),
                                          incoming in proptest::collection::vec(0.0f64..100.0, 1..20)) {
            let existing: HashMap<String, f64> =
                stored.iter().enumerate().map(|(i, t)| (format!("c{i}"), *t)).collect();
            let file = ExportFile {
                format: FORMAT.into(), version: VERSION, exported_ms: 0.0, preferences: None,
                conversations: incoming.iter().enumerate().map(|(i, t)| {
                    let mut c = conv(&format!("c{i}"), *t);
                    c.updated_ms = *t;
                    c
                }).collect(),
            };
            let n = file.conversations.len() as u32;
            let plan = plan_import(file, &existing, MergePolicy::KeepNewest);
            prop_assert_eq!(plan.added + plan.overwritten + plan.skipped, n);
            for c in &plan.write {
                if let Some(&s) = existing.get(&c.id) {
                    prop_assert!(c.updated_ms > s);
                }
            }
        }
    }

    #[test]
    fn planted_sites_and_future_times_are_refused() {
        let one = |site: &str, updated: f64| {
            let mut c = conv("p", 1.0);
            c.site = site.into();
            c.updated_ms = updated;
            file_json(&serde_json::to_string(&vec![c]).unwrap())
        };
        for site in [
            "javascript:alert(1)",
            "data:text/html,x",
            "file:///etc/passwd",
            "https://a.test/path",
            "https://user@a.test",
            "HTTPS://A.TEST",
        ] {
            let e = parse_import(one(site, 1.0).as_bytes(), NOW).unwrap_err();
            assert_eq!(e.path, "$.conversations[0].site", "{site}: {e}");
        }
        for site in ["", "https://a.test", "http://127.0.0.1:8080"] {
            assert!(
                parse_import(one(site, 1.0).as_bytes(), NOW).is_ok(),
                "{site}"
            );
        }
        let e =
            parse_import(one("https://a.test", NOW + 86_400_000.0).as_bytes(), NOW).unwrap_err();
        assert_eq!(e.path, "$.conversations[0].updated_ms");
        assert!(e.message.contains("in the future"), "{e}");
        assert!(
            parse_import(one("https://a.test", NOW + 1_000.0).as_bytes(), NOW).is_ok(),
            "a little clock skew is fine"
        );
    }

    #[test]
    fn preferences_travel_validated_and_bad_ones_refuse_the_file() {
        let mut p = crate::prefs::Preferences::default();
        p.set("ui.theme", &serde_json::json!("dark")).unwrap();
        let text = export(vec![], Some(&p), 1.0);
        assert!(!text.contains("api_key"));
        let back = parse_import(text.as_bytes(), NOW).unwrap();
        assert_eq!(back.preferences.unwrap()["ui.theme"], "dark");
        let bad = text.replace("\"dark\"", "\"neon\"");
        let e = parse_import(bad.as_bytes(), NOW).unwrap_err();
        assert_eq!(e.path, "$.preferences.ui.theme");
    }

    #[test]
    fn a_files_preferences_are_offered_not_applied() {
        let mut theirs = crate::prefs::Preferences::default();
        theirs
            .set("privacy.retention_days", &serde_json::json!(1))
            .unwrap();
        theirs
            .set("privacy.telemetry_remote", &serde_json::json!(true))
            .unwrap();
        let text = export(vec![], Some(&theirs), 1.0);
        let file = parse_import(text.as_bytes(), NOW).unwrap();
        let mine = crate::prefs::Preferences::default();
        let offered = offered_preferences(&file, &mine);
        let keys: Vec<_> = offered.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["privacy.telemetry_remote", "privacy.retention_days"]);
        assert_eq!(offered[1].value, serde_json::json!(1));
        assert_eq!(offered[1].current, serde_json::json!(0));
        assert_eq!(offered[1].category, crate::prefs::Category::Privacy);
        // Nothing differs from a copy of the same settings.
        assert!(offered_preferences(&file, &theirs).is_empty());
    }

    #[test]
    fn imported_answers_say_they_were_imported_and_conversations_are_marked() {
        let json = file_json(
            r#"[{"id":"a","site":"https://s.test","title":"t","created_ms":1,"updated_ms":1,"messages":[
                {"id":"q","role":"user","text":"x","time_ms":1,"status":"complete","provider":null},
                {"id":"m","role":"assistant","text":"y","time_ms":1,"status":"complete","provider":"Work (fallback)"},
                {"id":"n","role":"assistant","text":"z","time_ms":1,"status":"complete","provider":"Home","level":"cached"}]}]"#,
        );
        let file = parse_import(json.as_bytes(), NOW).unwrap();
        assert!(file.conversations[0].imported);
        let m = &file.conversations[0].messages;
        use crate::resilience::fallback::{AnswerSource, Degradation};
        assert_eq!(m[0].source(), None);
        for answer in &m[1..] {
            assert_eq!(
                answer.source(),
                Some(AnswerSource::new(IMPORTED_PROVIDER, Degradation::Normal))
            );
        }
    }

    #[test]
    fn markdown_shows_each_answers_usage_and_the_total() {
        use crate::conversation::Usage;
        use crate::resilience::fallback::{AnswerSource, Degradation};
        let mut c = conv("m", 1_700_000_000_000.0);
        let mut a = Message::complete(
            "a".into(),
            Role::Assistant,
            "answer".into(),
            1_700_000_001_000.0,
        );
        a.set_source(AnswerSource::new("Work", Degradation::Normal));
        a.usage = Some(Usage {
            tokens_in: 1_312,
            tokens_out: 148,
            cost_micro_usd: 2_100,
        });
        c.push(a);
        let mut b = Message::complete(
            "b".into(),
            Role::Assistant,
            "offline".into(),
            1_700_000_002_000.0,
        );
        b.set_source(AnswerSource::new("offline", Degradation::Offline));
        c.push(b);
        c.record_usage(Usage {
            tokens_in: 1_312,
            tokens_out: 148,
            cost_micro_usd: 2_100,
        });
        let md = to_markdown(&c);
        assert!(
            md.contains("- Usage: 1,312 in · 148 out · $0.0021\n"),
            "{md}"
        );
        assert!(
            md.contains("answer\n\n*Answered by Work · 1,312 in · 148 out · $0.0021*\n"),
            "{md}"
        );
        let offline = AnswerSource::new("offline", Degradation::Offline).label();
        assert!(
            md.contains(&format!(
                "offline\n\n*{}*\n",
                crate::markdown::escape(&offline)
            )),
            "{md}"
        );
        // Without usage, no usage line.
        assert!(!to_markdown(&conv("n", 1.0)).contains("Usage"));
    }

    #[test]
    fn files_with_and_without_per_answer_usage_read() {
        let json = file_json(
            r#"[{"id":"a","site":"https://s.test","title":"t","created_ms":1,"updated_ms":1,"messages":[
                {"id":"m","role":"assistant","text":"y","time_ms":1,"status":"complete","provider":"Work","tokens":5},
                {"id":"n","role":"assistant","text":"z","time_ms":1,"status":"complete","provider":"Work","level":"normal",
                 "usage":{"tokens_in":10,"tokens_out":4,"cost_micro_usd":30}}]}]"#,
        );
        let file = parse_import(json.as_bytes(), 10.0).unwrap();
        let m = &file.conversations[0].messages;
        assert_eq!(m[0].usage, None);
        assert_eq!(
            m[1].usage
                .map(|u| (u.tokens_in, u.tokens_out, u.cost_micro_usd)),
            Some((10, 4, 30))
        );
        // What this build writes reads back the same.
        let written = serde_json::to_string(&file).unwrap();
        assert_eq!(
            parse_import(written.as_bytes(), 10.0)
                .unwrap()
                .conversations,
            file.conversations
        );
    }
}
