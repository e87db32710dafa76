//! Notes on the devtools timeline: a text on a time range ("deployed the
//! proxy here", "the Wi-Fi dropped"), kept by the panel between openings.
//! Pure and bounded: at most [`MAX_NOTES`] notes of at most
//! [`MAX_NOTE_CHARS`] characters, each range finite and not backwards; a
//! bad note is refused with its reason and the others stay as they were.
//!
//! ```
//! use paperclip_core::telemetry::annotations::Notes;
//! let mut notes = Notes::default();
//! notes.add(10.0, 20.0, " slow proxy ").unwrap();
//! assert_eq!(notes.overlapping(15.0, 30.0).count(), 1);
//! assert!(notes.add(5.0, 1.0, "backwards").is_err());
//! ```

use serde::{Deserialize, Serialize};

/// The most notes kept.
pub const MAX_NOTES: usize = 200;
/// The longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 280;

/// A note on a time range.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Note {
    /// From, ms since the epoch.
    pub from_ms: f64,
    /// To, ms.
    pub to_ms: f64,
    /// What it says.
    pub text: String,
}

/// The notes, oldest first.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Notes(Vec<Note>);

impl Notes {
    /// Reads notes saved earlier; anything that is not a list of valid
    /// notes gives none (a hand-edited store cannot break the panel).
    pub fn read(text: &str) -> Self {
        let notes: Vec<Note> = serde_json::from_str(text).unwrap_or_default();
        let mut out = Self::default();
        for n in notes {
            let _ = out.add(n.from_ms, n.to_ms, &n.text);
        }
        out
    }

    /// Adds a note on `[from_ms, to_ms]`, its text trimmed.
    pub fn add(&mut self, from_ms: f64, to_ms: f64, text: &str) -> Result<(), String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("Write the note first.".into());
        }
        if text.chars().count() > MAX_NOTE_CHARS {
            return Err(format!("A note is at most {MAX_NOTE_CHARS} characters."));
        }
        if !(from_ms.is_finite() && to_ms.is_finite() && from_ms <= to_ms) {
            return Err("A note needs a time range that does not end before it starts.".into());
        }
        if self.0.len() >= MAX_NOTES {
            return Err(format!(
                "At most {MAX_NOTES} notes are kept; delete one first."
            ));
        }
        self.0.push(Note {
            from_ms,
            to_ms,
            text: text.to_string(),
        });
        Ok(())
    }

    /// Deletes the note at `index` (as [`Notes::all`] lists them).
    pub fn remove(&mut self, index: usize) -> Option<Note> {
        (index < self.0.len()).then(|| self.0.remove(index))
    }

    /// Every note with its index.
    pub fn all(&self) -> impl Iterator<Item = (usize, &Note)> {
        self.0.iter().enumerate()
    }

    /// The notes overlapping `[from_ms, to_ms]`, with their index.
    pub fn overlapping(&self, from_ms: f64, to_ms: f64) -> impl Iterator<Item = (usize, &Note)> {
        self.all()
            .filter(move |(_, n)| n.from_ms <= to_ms && n.to_ms >= from_ms)
    }

    /// As JSON, to save.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "[]".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bad_notes_are_refused_and_the_rest_stay() {
        let mut n = Notes::default();
        n.add(0.0, 10.0, "first").unwrap();
        assert_eq!(n.add(0.0, 1.0, "   ").unwrap_err(), "Write the note first.");
        assert!(n.add(f64::NAN, 1.0, "x").is_err());
        assert!(n.add(0.0, f64::INFINITY, "x").is_err());
        assert!(n.add(0.0, 1.0, &"x".repeat(MAX_NOTE_CHARS + 1)).is_err());
        assert_eq!(n.all().count(), 1);
        for i in 1..MAX_NOTES {
            n.add(i as f64, i as f64, "n").unwrap();
        }
        assert!(n
            .add(0.0, 1.0, "one too many")
            .unwrap_err()
            .contains("delete one"));
        assert_eq!(n.remove(0).unwrap().text, "first");
        assert!(n.remove(MAX_NOTES).is_none());
        assert_eq!(n.all().count(), MAX_NOTES - 1);
    }

    #[test]
    fn saved_notes_read_back_and_a_broken_store_gives_none() {
        let mut n = Notes::default();
        n.add(1.0, 2.0, "a <b>note</b>").unwrap();
        assert_eq!(Notes::read(&n.to_json()), n);
        assert_eq!(Notes::read("{not json"), Notes::default());
        // Valid notes are kept, invalid ones dropped.
        let mixed = r#"[{"from_ms": 1, "to_ms": 2, "text": "ok"}, {"from_ms": 5, "to_ms": 1, "text": "bad"}]"#;
        assert_eq!(Notes::read(mixed).all().count(), 1);
    }

    proptest! {
        #[test]
        fn overlap_is_what_it_says(from in -1e6f64..1e6, len in 0f64..1e5, q in -1e6f64..1e6, qlen in 0f64..1e5) {
            let mut n = Notes::default();
            n.add(from, from + len, "n").unwrap();
            let hit = n.overlapping(q, q + qlen).count() == 1;
            prop_assert_eq!(hit, from <= q + qlen && from + len >= q);
        }
    }
}
