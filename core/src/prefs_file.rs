//! A preferences file, as the devtools panel's Storage tab exports and
//! imports it: one JSON object of `key: value`. Reading checks the whole
//! file first — every key known, every value valid as the options page
//! would take it — so that a bad file changes nothing and says exactly
//! which entry is wrong.
//!
//! ```
//! use paperclip_core::prefs_file::read;
//! let ok = read(r#"{"ui.theme": "dark", "ui.font_scale": 1.2}"#).unwrap();
//! assert_eq!(ok.len(), 2);
//! let err = read(r#"{"ui.theme": "dark", "ui.font_scale": 9}"#).unwrap_err();
//! assert!(err.starts_with("ui.font_scale: "), "{err}");
//! ```

use serde_json::{Map, Value};

use crate::prefs::{Preferences, KEYS};

/// The largest file read, in bytes.
pub const MAX_PREFS_FILE_BYTES: usize = 64 * 1024;

/// The file's entries, each validated and sanitized, in the file's order;
/// or the first problem, naming its key.
pub fn read(text: &str) -> Result<Vec<(String, Value)>, String> {
    if text.len() > MAX_PREFS_FILE_BYTES {
        return Err(format!(
            "the file is {} bytes; a preferences file is at most {MAX_PREFS_FILE_BYTES}",
            text.len()
        ));
    }
    let object: Map<String, Value> = match serde_json::from_str(text) {
        Ok(Value::Object(o)) => o,
        Ok(_) => return Err("a preferences file is one JSON object of key: value".into()),
        Err(e) => return Err(format!("not JSON: {e}")),
    };
    if object.is_empty() {
        return Err("the file has no preferences".into());
    }
    object
        .into_iter()
        .map(|(key, value)| {
            if !KEYS.contains(&key.as_str()) {
                let shown: String = key.chars().take(80).collect();
                return Err(format!("{shown}: not a preference"));
            }
            let value = Preferences::validate(&key, &value).map_err(|e| format!("{key}: {e}"))?;
            Ok((key, value))
        })
        .collect()
}

/// The file for `entries` (`key`, value), pretty-printed.
pub fn write<'a>(entries: impl IntoIterator<Item = (&'a str, &'a Value)>) -> String {
    let object: Map<String, Value> = entries
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    serde_json::to_string_pretty(&Value::Object(object)).unwrap_or_else(|_| "{}".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_written_file_reads_back() {
        let (theme, scale) = (json!("dark"), json!(1.2));
        let text = write([("ui.theme", &theme), ("ui.font_scale", &scale)]);
        assert_eq!(
            read(&text).unwrap(),
            [
                ("ui.font_scale".to_string(), scale),
                ("ui.theme".to_string(), theme)
            ]
        );
    }

    #[test]
    fn a_bad_file_names_its_problem() {
        assert!(read("[1]").unwrap_err().contains("one JSON object"));
        assert!(read("{").unwrap_err().starts_with("not JSON"));
        assert_eq!(read("{}").unwrap_err(), "the file has no preferences");
        assert_eq!(
            read(r#"{"no.such": 1}"#).unwrap_err(),
            "no.such: not a preference"
        );
        assert!(read(r#"{"ui.theme": 3}"#)
            .unwrap_err()
            .starts_with("ui.theme: "));
        let big = format!(r#"{{"ui.theme": "{}"}}"#, "x".repeat(MAX_PREFS_FILE_BYTES));
        assert!(read(&big).unwrap_err().contains("at most"));
    }
}
