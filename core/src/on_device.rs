//! Chrome's on-device AI where the browser has it (Chrome 138+:
//! `Translator`, `LanguageDetector`, `Summarizer`): "Translate selection"
//! is translated on the device, and the offline answer to "Summarize this
//! page" is written by the device's summarizer. The agent page (a window,
//! where these APIs live) says which it has with each quick action; the
//! background decides and hands it a [`Task`]; everything falls back to
//! the usual answer where the APIs are absent or refuse.
//!
//! ```
//! use paperclip_core::on_device::{target_language, Task};
//! assert_eq!(target_language("fr-CA"), "fr");
//! let task = Task::translate("Bonjour", "en-US");
//! assert!(matches!(task, Task::Translate { ref target, .. } if target == "en"));
//! ```

use serde::{Deserialize, Serialize};

use crate::resilience::fallback::{AnswerSource, Degradation};

/// At most this much text goes to an on-device translation.
pub const MAX_TRANSLATE_CHARS: usize = 8_000;
/// At most this much of the page goes to an on-device summary.
pub const MAX_SUMMARY_CHARS: usize = 16_000;
/// How long the background waits for the agent's on-device answer
/// (a model download the user starts is included).
pub const WAIT_MS: u32 = 180_000;

/// The name the on-device translation's answers carry.
pub const TRANSLATOR: &str = "Chrome on-device translation";
/// The name the on-device summaries carry.
pub const SUMMARIZER: &str = "Chrome on-device summary";

/// Which on-device APIs the agent's page has (feature detection only).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OnDevice {
    /// `Translator` (with or without `LanguageDetector`).
    #[serde(default)]
    pub translator: bool,
    /// `Summarizer`.
    #[serde(default)]
    pub summarizer: bool,
}

/// What the agent is asked to do on the device.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Task {
    /// Translate `text` into `target` (a BCP 47 language, e.g. `en`); the
    /// source language is detected.
    Translate {
        /// The selection.
        text: String,
        /// The user's language.
        target: String,
    },
    /// Summarize the page's `text` (titled `title`).
    Summarize {
        /// The page's title.
        title: String,
        /// The page's main text.
        text: String,
    },
}

impl Task {
    /// Translating `text` (cut to [`MAX_TRANSLATE_CHARS`]) into the
    /// language of `locale`.
    pub fn translate(text: &str, locale: &str) -> Self {
        Self::Translate {
            text: cut(text.trim(), MAX_TRANSLATE_CHARS),
            target: target_language(locale),
        }
    }

    /// Summarizing `text` (cut to [`MAX_SUMMARY_CHARS`]).
    pub fn summarize(title: &str, text: &str) -> Self {
        Self::Summarize {
            title: cut(title.trim(), 300),
            text: cut(text.trim(), MAX_SUMMARY_CHARS),
        }
    }

    /// Whether it has anything to work on.
    pub fn is_empty(&self) -> bool {
        match self {
            Self::Translate { text, .. } | Self::Summarize { text, .. } => text.trim().is_empty(),
        }
    }

    /// Where its answer comes from (the label under it).
    pub fn source(&self, offline: bool) -> AnswerSource {
        let name = match self {
            Self::Translate { .. } => TRANSLATOR,
            Self::Summarize { .. } => SUMMARIZER,
        };
        let level = if offline {
            Degradation::Offline
        } else {
            Degradation::Normal
        };
        AnswerSource::new(name, level)
    }

    /// The answer around the device's `output` (`source`: the detected
    /// language of a translation). The device's words are text, never
    /// Markdown.
    pub fn answer(&self, output: &str, source: Option<&str>) -> String {
        let output = crate::markdown::escape(output.trim());
        match self {
            Self::Translate { target, .. } => {
                let from =
                    source.map_or_else(String::new, |s| format!(" from {}", language_name(s)));
                format!(
                    "Translated on this device{from} into {}:\n\n{output}",
                    language_name(target)
                )
            }
            Self::Summarize { .. } => format!("Summary written on this device:\n\n{output}"),
        }
    }
}

/// What the agent shows while the device's model is not ready.
pub fn download_offer(task: &Task, size_hint: Option<&str>) -> String {
    let what = match task {
        Task::Translate { target, .. } => {
            format!("On-device translation into {}", language_name(target))
        }
        Task::Summarize { .. } => "On-device summaries".to_string(),
    };
    let size = size_hint.map_or_else(String::new, |s| format!(" ({s})"));
    format!("{what} needs a one-time model download by Chrome{size}. Nothing leaves this device.")
}

/// The language part of a locale (`en-US` → `en`; `zh-Hant-TW` →
/// `zh`), lower-cased; `en` when there is none.
pub fn target_language(locale: &str) -> String {
    let lang = locale
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if (2..=3).contains(&lang.len()) && lang.chars().all(|c| c.is_ascii_lowercase()) {
        lang
    } else {
        "en".into()
    }
}

/// A readable name for the common languages, else the code itself.
pub fn language_name(code: &str) -> String {
    let name = match target_language(code).as_str() {
        "en" => "English",
        "fr" => "French",
        "de" => "German",
        "es" => "Spanish",
        "it" => "Italian",
        "pt" => "Portuguese",
        "nl" => "Dutch",
        "ja" => "Japanese",
        "zh" => "Chinese",
        "ko" => "Korean",
        "ru" => "Russian",
        "pl" => "Polish",
        "tr" => "Turkish",
        "ar" => "Arabic",
        "hi" => "Hindi",
        _ => return target_language(code),
    };
    name.into()
}

fn cut(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// Reads what the agent answered for a task: the device's text (bounded
/// by the answer limit) or why it could not.
pub fn read_result(text: Option<String>, error: Option<String>) -> Result<String, String> {
    match (text, error) {
        (Some(t), None) if !t.trim().is_empty() => {
            Ok(t.chars().take(crate::answer::MAX_ANSWER_CHARS).collect())
        }
        (_, Some(e)) => Err(e.chars().take(300).collect()),
        _ => Err("the device gave no answer".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_come_from_the_locale() {
        assert_eq!(target_language("en-US"), "en");
        assert_eq!(target_language("pt_BR"), "pt");
        assert_eq!(target_language("zh-Hant-TW"), "zh");
        assert_eq!(target_language(""), "en");
        assert_eq!(target_language("<script>"), "en");
        assert_eq!(language_name("fr-FR"), "French");
        assert_eq!(language_name("sw"), "sw");
    }

    #[test]
    fn tasks_are_bounded_and_answers_are_text() {
        let long = "a".repeat(MAX_TRANSLATE_CHARS + 10);
        let Task::Translate { text, .. } = Task::translate(&long, "de") else {
            panic!()
        };
        assert_eq!(text.chars().count(), MAX_TRANSLATE_CHARS);
        assert!(Task::translate("  ", "de").is_empty());
        let task = Task::summarize("Title", "Body");
        let answer = task.answer("[click](javascript:alert(1)) *hi*", None);
        assert!(answer.starts_with("Summary written on this device"));
        assert!(!answer.contains("[click](javascript"), "{answer}");
        let t = Task::translate("Bonjour", "en-GB");
        assert_eq!(
            t.answer("Hello", Some("fr")),
            "Translated on this device from French into English:\n\nHello"
        );
        assert_eq!(
            t.source(false).label(),
            "Answered by Chrome on-device translation"
        );
    }

    #[test]
    fn results_are_read_carefully() {
        assert_eq!(read_result(Some("x".into()), None), Ok("x".into()));
        assert!(read_result(Some(" ".into()), None).is_err());
        assert!(read_result(None, None).is_err());
        let e = read_result(Some("x".into()), Some("e".repeat(1000))).unwrap_err();
        assert_eq!(e.len(), 300);
        let big = "y".repeat(crate::answer::MAX_ANSWER_CHARS + 5);
        assert_eq!(
            read_result(Some(big), None).unwrap().chars().count(),
            crate::answer::MAX_ANSWER_CHARS
        );
    }

    #[test]
    fn the_download_offer_names_what_and_promises_privacy() {
        let offer = download_offer(&Task::translate("Hola", "fr"), None);
        assert!(offer.contains("into French") && offer.contains("Nothing leaves this device"));
    }
}
