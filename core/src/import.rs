//! Imports in parts, so that no context holds a whole file and everything
//! parsed from it at once: the page splits the file into its header
//! (everything but the conversations, as JSON) and each conversation's
//! JSON text (the options page with the browser's `JSON`; see [`split`]
//! for the same in Rust), [`cut`]s them into parts of at most
//! [`MAX_PART_CONVERSATIONS`] / [`MAX_PART_BYTES`], and sends the header,
//! then the parts, twice. An [`ImportSession`] in the background validates
//! every part of the first pass (nothing is written) and, only when the
//! whole file passed, hands back each part of the second pass validated
//! again and normalised, to be written. The outcome is
//! [`crate::export::parse_import`]'s on the same file: the same
//! conversations, or the same error at the same path (the header is
//! checked first: a file wrong both in its preferences and in a
//! conversation is refused for its preferences here).
//!
//! ```
//! use paperclip_core::conversation::{Conversation, Message, Role};
//! use paperclip_core::export::export;
//! use paperclip_core::import::{split, ImportSession};
//!
//! let mut c = Conversation::new("c1".into(), "https://example.org".into(), 0.0);
//! c.push(Message::complete("m1".into(), Role::User, "Hi".into(), 1.0));
//! let file = export(vec![c], None, 2.0);
//! let (header, texts) = split(&file)?;
//! let mut session = ImportSession::begin(&header, texts.len(), 3.0)?;
//! assert!(session.part(0, &texts)?.is_empty()); // the first pass validates
//! assert!(session.validated());
//! let written = session.part(0, &texts)?; // the second hands them back
//! assert_eq!((written.len(), written[0].imported), (1, true));
//! assert!(session.done());
//! # Ok::<(), paperclip_core::export::ImportError>(())
//! ```

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;
use xxhash_rust::xxh3::xxh3_64;

use crate::conversation::Conversation;
use crate::export::{
    check_count, check_header, check_size, duplicate, err, normalise, validate_conversation,
    validate_preferences, ImportError, OfferedPreference, MAX_IMPORT_BYTES,
};

/// Most conversations in one part.
pub const MAX_PART_CONVERSATIONS: usize = 500;
/// Most bytes of conversation JSON in one part (a single conversation may
/// be larger: it then goes alone).
pub const MAX_PART_BYTES: usize = 1024 * 1024;
/// Longest header (format, version, time and preferences), bytes.
pub const MAX_HEADER_BYTES: usize = 256 * 1024;

/// Cuts conversations of `sizes` bytes into parts of at most
/// [`MAX_PART_CONVERSATIONS`] and [`MAX_PART_BYTES`] (a larger
/// conversation alone): each part's range of indices.
pub fn cut(sizes: &[usize]) -> Vec<std::ops::Range<usize>> {
    let mut out: Vec<std::ops::Range<usize>> = Vec::new();
    let mut bytes = 0;
    for (i, &size) in sizes.iter().enumerate() {
        match out.last_mut() {
            Some(part) if part.len() < MAX_PART_CONVERSATIONS && bytes + size <= MAX_PART_BYTES => {
                bytes += size;
                part.end = i + 1;
            }
            _ => {
                bytes = size;
                out.push(i..i + 1);
            }
        }
    }
    out
}

/// Splits an export file's text into its header and each conversation's
/// JSON (what the options page does with the browser's `JSON`; tests and
/// tools use this). Only the JSON's shape is checked; the background
/// validates everything.
pub fn split(text: &str) -> Result<(String, Vec<String>), ImportError> {
    check_size("file", text.len(), MAX_IMPORT_BYTES)?;
    let mut file: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| err("$", format!("not a JSON object: {e}")))?;
    let conversations = match file.remove("conversations") {
        Some(serde_json::Value::Array(list)) => list,
        Some(_) => return Err(err("$.conversations", "not a list")),
        None => return Err(err("$", "missing field `conversations`")),
    };
    Ok((
        serde_json::Value::Object(file).to_string(),
        conversations.iter().map(|c| c.to_string()).collect(),
    ))
}

/// A file's header as the background reads it.
#[derive(Deserialize)]
struct Header {
    format: Option<serde_json::Value>,
    version: Option<serde_json::Value>,
    exported_ms: Option<f64>,
    #[serde(default)]
    preferences: Option<BTreeMap<String, serde_json::Value>>,
}

/// One import in the background: the first pass validates, the second
/// hands back what to write. Parts come in order; anything else is
/// refused.
#[derive(Debug)]
pub struct ImportSession {
    total: usize,
    next: usize,
    writing: bool,
    now_ms: f64,
    /// The first pass's ids (hashed), to find duplicates.
    seen: HashSet<u64>,
    /// Each conversation's id (hashed), in order, from the first pass: the
    /// second must carry the same.
    ids: Vec<u64>,
    preferences: Option<BTreeMap<String, serde_json::Value>>,
    /// Conversation bytes taken in the first pass.
    bytes: usize,
}

impl ImportSession {
    /// Starts an import of `total` conversations with file header
    /// `header` at `now_ms`; refuses a header [`crate::export::parse_import`]
    /// would refuse.
    pub fn begin(header: &str, total: usize, now_ms: f64) -> Result<Self, ImportError> {
        check_size("the header", header.len(), MAX_HEADER_BYTES)?;
        let h: Header = serde_json::from_str(header)
            .map_err(|e| err("$", format!("not a JSON object: {e}")))?;
        check_header(h.format.as_ref(), h.version.as_ref())?;
        if h.exported_ms.is_none() {
            return Err(err("$", "missing field `exported_ms`"));
        }
        check_count(total)?;
        let mut preferences = h.preferences;
        if let Some(prefs) = &mut preferences {
            validate_preferences(prefs)?;
        }
        Ok(Self {
            total,
            next: 0,
            writing: false,
            now_ms,
            seen: HashSet::new(),
            ids: Vec::new(),
            preferences,
            bytes: header.len(),
        })
    }

    /// Conversations announced.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Whether the whole file passed (the second pass may start).
    pub fn validated(&self) -> bool {
        self.writing
    }

    /// Whether the second pass is complete (for a file without
    /// conversations: the first, one empty part).
    pub fn done(&self) -> bool {
        self.writing && self.next == self.total
    }

    /// The conversation the next part must start at.
    pub fn next(&self) -> usize {
        self.next
    }

    /// Takes the part of the conversations starting at index `first`: in
    /// the first pass validates it and returns nothing; in the second
    /// validates it again and returns it normalised, to be written.
    pub fn part(
        &mut self,
        first: usize,
        texts: &[impl AsRef<str>],
    ) -> Result<Vec<Conversation>, ImportError> {
        let bytes: usize = texts.iter().map(|t| t.as_ref().len()).sum();
        if texts.len() > MAX_PART_CONVERSATIONS
            || (texts.len() > 1 && bytes > MAX_PART_BYTES)
            || bytes > MAX_IMPORT_BYTES
        {
            return Err(err(
                "$.conversations",
                format!(
                    "a part of {} conversations and {bytes} bytes; the limit is \
                     {MAX_PART_CONVERSATIONS} and {MAX_PART_BYTES}",
                    texts.len()
                ),
            ));
        }
        if self.done() {
            return Err(err("$.conversations", "the import is complete"));
        }
        if first != self.next {
            return Err(err(
                "$.conversations",
                format!("a part starts at {first}; the next is {}", self.next),
            ));
        }
        if first + texts.len() > self.total {
            return Err(err(
                "$.conversations",
                format!("more than the {} conversations announced", self.total),
            ));
        }
        if !self.writing {
            self.bytes += bytes;
            if self.bytes > MAX_IMPORT_BYTES {
                return Err(err(
                    "$",
                    format!("file is over {MAX_IMPORT_BYTES} bytes, the limit"),
                ));
            }
        }
        let mut out = Vec::new();
        for (k, text) in texts.iter().enumerate() {
            let i = first + k;
            let mut c = parse_conversation(i, text.as_ref())?;
            validate_conversation(i, &c, self.now_ms)?;
            let id = xxh3_64(c.id.as_bytes());
            if self.writing {
                if self.ids.get(i) != Some(&id) {
                    return Err(err(
                        format!("$.conversations[{i}].id"),
                        "not the conversation validated at this place",
                    ));
                }
                normalise(&mut c);
                out.push(c);
            } else {
                if !self.seen.insert(id) {
                    return Err(duplicate(i, &c.id));
                }
                self.ids.push(id);
            }
        }
        self.next += texts.len();
        if !self.writing && self.next == self.total {
            self.writing = true;
            self.next = 0;
            self.seen = HashSet::new();
        }
        Ok(out)
    }

    /// The file's preferences that differ from `current` (see
    /// [`crate::export::offered_preferences`]).
    pub fn offered_preferences(
        &self,
        current: &crate::prefs::Preferences,
    ) -> Vec<OfferedPreference> {
        crate::export::offered(self.preferences.as_ref(), current)
    }
}

/// Parses conversation `i`, saying where it is wrong.
fn parse_conversation(i: usize, text: &str) -> Result<Conversation, ImportError> {
    if let Ok(c) = serde_json::from_str::<Conversation>(text) {
        return Ok(c);
    }
    let de = &mut serde_json::Deserializer::from_str(text);
    let e = match serde_path_to_error::deserialize::<_, Conversation>(de) {
        Ok(c) => return Ok(c),
        Err(e) => e,
    };
    let path = e.path().to_string();
    let path = if path == "." {
        format!("$.conversations[{i}]")
    } else {
        format!("$.conversations[{i}].{path}")
    };
    Err(err(path, e.into_inner().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::{Message, Role};
    use crate::export::{export, parse_import};
    use proptest::prelude::*;

    /// Runs `file` through split and both passes in parts of `size`.
    fn chunked(file: &str, size: usize, now_ms: f64) -> Result<Vec<Conversation>, ImportError> {
        let (header, texts) = split(file)?;
        let mut session = ImportSession::begin(&header, texts.len(), now_ms)?;
        if texts.is_empty() {
            // One empty part completes it.
            assert!(!session.done());
            assert!(session.part(0, &[] as &[&str])?.is_empty());
            assert!(session.done());
            return Ok(Vec::new());
        }
        for (n, chunk) in texts.chunks(size.max(1)).enumerate() {
            assert!(session.part(n * size.max(1), chunk)?.is_empty());
        }
        assert!(session.validated());
        let mut out = Vec::new();
        for (n, chunk) in texts.chunks(size.max(1)).enumerate() {
            out.extend(session.part(n * size.max(1), chunk)?);
        }
        assert!(session.done());
        Ok(out)
    }

    fn conversation(i: usize, site: &str, t: f64) -> Conversation {
        let mut c = Conversation::new(format!("c{i}"), site.into(), t);
        c.push(Message::complete(
            format!("q{i}"),
            Role::User,
            "Hi".into(),
            t,
        ));
        c.push(Message::complete(
            format!("a{i}"),
            Role::Assistant,
            "Hello".into(),
            t + 1.0,
        ));
        c
    }

    #[test]
    fn a_file_in_parts_imports_as_a_whole_file_does() {
        let list: Vec<_> = (0..7)
            .map(|i| conversation(i, "https://a.example", 10.0))
            .collect();
        let file = export(list, None, 20.0);
        let whole = parse_import(file.as_bytes(), 30.0).unwrap().conversations;
        for size in [1, 2, 3, 7, 500] {
            assert_eq!(chunked(&file, size, 30.0).unwrap(), whole);
        }
    }

    #[test]
    fn the_header_is_checked_like_a_whole_file() {
        for (file, path) in [
            (
                r#"{"format":"other","version":1,"exported_ms":0,"conversations":[]}"#,
                "$.format",
            ),
            (
                r#"{"version":1,"exported_ms":0,"conversations":[]}"#,
                "$.format",
            ),
            (
                r#"{"format":"paperclip-export","version":2,"exported_ms":0,"conversations":[]}"#,
                "$.version",
            ),
            (
                r#"{"format":"paperclip-export","version":1,"conversations":[]}"#,
                "$",
            ),
            (
                r#"{"format":"paperclip-export","version":1,"exported_ms":0}"#,
                "$",
            ),
            (
                r#"{"format":"paperclip-export","version":1,"exported_ms":0,"conversations":[],"preferences":{"privacy.retention_days":-4}}"#,
                "$.preferences.privacy.retention_days",
            ),
            ("[1,2]", "$"),
            ("{", "$"),
        ] {
            assert_eq!(chunked(file, 2, 1.0).unwrap_err().path, path, "{file}");
            assert_eq!(
                parse_import(file.as_bytes(), 1.0).unwrap_err().path,
                path,
                "{file}"
            );
        }
    }

    #[test]
    fn parts_out_of_order_too_many_or_too_large_are_refused() {
        let list: Vec<_> = (0..4).map(|i| conversation(i, "", 1.0)).collect();
        let file = export(list, None, 2.0);
        let (header, texts) = split(&file).unwrap();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let mut s = ImportSession::begin(&header, 4, 3.0).unwrap();
        assert!(s
            .part(1, &texts[1..2])
            .unwrap_err()
            .message
            .contains("the next is 0"));
        s.part(0, &texts[..2]).unwrap();
        assert!(s
            .part(2, &texts)
            .unwrap_err()
            .message
            .contains("more than the 4"));
        let many = vec![texts[0]; MAX_PART_CONVERSATIONS + 1];
        assert!(s.part(2, &many).is_err());
        let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(MAX_PART_BYTES));
        assert!(s.part(2, &[big.as_str(), texts[2]]).is_err());
        // Nothing is handed back before the whole file passed.
        assert!(!s.validated());
        s.part(2, &texts[2..]).unwrap();
        assert!(s.validated());
        // The second pass must carry the same conversations in the same places.
        assert_eq!(
            s.part(0, &[texts[1]]).unwrap_err().path,
            "$.conversations[0].id"
        );
        assert_eq!(s.part(0, &texts[..3]).unwrap().len(), 3);
        assert_eq!(s.part(3, &texts[3..]).unwrap().len(), 1);
        assert!(s.done());
        assert!(s.part(4, &[texts[0]]).is_err());
    }

    #[test]
    fn parts_are_cut_by_count_and_by_bytes() {
        let cut_sizes = |sizes: &[usize]| cut(sizes).iter().map(|r| r.len()).collect::<Vec<_>>();
        assert_eq!(cut_sizes(&[100; 1_200]), [500, 500, 200]);
        assert_eq!(cut(&[100; 1_200])[2], 1_000..1_200);
        assert_eq!(cut_sizes(&[700_000, 700_000, 300_000, 10]), [1, 3]);
        assert_eq!(cut_sizes(&[700_000, 700_000, 400_000]), [1, 1, 1]);
        assert_eq!(cut_sizes(&[2 * MAX_PART_BYTES, 1]), [1, 1]);
        assert!(cut(&[]).is_empty());
    }

    fn site() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just("https://a.example".to_string()),
            Just("https://A.example/path".to_string()),
            Just("ftp://b.example".to_string()),
        ]
    }

    proptest! {
        /// For any file (valid or not) and any part size, the parts give
        /// the whole file's outcome: the same conversations, or the same
        /// error at the same path.
        #[test]
        fn parts_agree_with_the_whole_file(
            items in prop::collection::vec((0usize..6, site(), prop_oneof![Just(5.0), Just(1e15)]), 0..12),
            size in 1usize..6,
        ) {
            let list: Vec<_> = items
                .iter()
                .map(|(id, site, t)| conversation(*id, site, *t))
                .collect();
            let file = export(list, None, 1.0);
            let whole = parse_import(file.as_bytes(), 100.0);
            let parts = chunked(&file, size, 100.0);
            match (whole, parts) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a.conversations, b),
                (Err(a), Err(b)) => prop_assert_eq!(a, b),
                (a, b) => prop_assert!(false, "whole {:?} vs parts {:?}", a.map(|_| ()), b.map(|_| ())),
            }
        }
    }
}
