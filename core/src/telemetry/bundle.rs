//! The session bundle: one JSON file with what the devtools panel shows —
//! asks, error groups, metrics, spans and health — and the environment
//! (extension and browser versions, settings without any secret or site),
//! for a bug report. Everything in it has passed the engine's scrubber;
//! sites appear as origins only (as the asks show them), and the setting
//! lists of sites as their length.
//!
//! [`parse`] reads a bundle back for the panel's read-only view: bounded
//! in bytes and items, with a precise error for anything else.
//!
//! ```
//! use paperclip_core::telemetry::bundle::{parse, SessionBundle, FORMAT};
//! let bundle = SessionBundle::empty(1_700_000_000_000.0);
//! let text = serde_json::to_string(&bundle).unwrap();
//! assert_eq!(parse(&text).unwrap(), bundle);
//! assert!(parse(r#"{"format": "something else"}"#).unwrap_err().to_string().contains(FORMAT));
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

use super::asks::AskRow;
use super::errors::ErrorGroup;
use super::health::HealthSnapshot;
use super::metrics::InstrumentSnapshot;
use super::span::Span;
use crate::prefs::Preferences;

/// The `format` of every bundle.
pub const FORMAT: &str = "paperclip-session/1";
/// The largest bundle read, in bytes.
pub const MAX_BUNDLE_BYTES: usize = 20 * 1024 * 1024;
/// The most spans a bundle holds (asks, errors and metrics are bounded by
/// the engine that made them; a file read is held to these too).
pub const MAX_SPANS: usize = 10_000;
/// The most asks, error groups or metric instruments read.
pub const MAX_ITEMS: usize = 5_000;

/// Where the bundle was made.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Environment {
    /// The extension's version.
    pub extension_version: String,
    /// The browser (its user agent string).
    pub browser: String,
    /// Each preference (`key`, its JSON value); lists of sites as their
    /// length.
    pub settings: Vec<(String, String)>,
}

/// The session bundle.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SessionBundle {
    /// Always [`FORMAT`].
    pub format: String,
    /// When it was made, ms since the epoch.
    pub created_ms: f64,
    /// The range it covers, ms since the epoch.
    pub from_ms: f64,
    /// Where it was made.
    pub environment: Environment,
    /// The asks of the range, newest first.
    pub asks: Vec<AskRow>,
    /// The error groups, most recently seen first.
    pub errors: Vec<ErrorGroup>,
    /// Every instrument's state.
    pub metrics: Vec<InstrumentSnapshot>,
    /// The spans of the range.
    pub spans: Vec<Span>,
    /// Health.
    pub health: Option<HealthSnapshot>,
}

impl SessionBundle {
    /// A bundle with nothing in it yet.
    pub fn empty(created_ms: f64) -> Self {
        Self {
            format: FORMAT.into(),
            created_ms,
            from_ms: created_ms,
            environment: Environment::default(),
            asks: Vec::new(),
            errors: Vec::new(),
            metrics: Vec::new(),
            spans: Vec::new(),
            health: None,
        }
    }

    /// The file name to save it under.
    pub fn filename(&self) -> String {
        format!("paperclip-session-{:.0}.json", self.created_ms)
    }
}

/// The settings as a bundle keeps them: every preference's JSON value,
/// except that lists of sites (where hints are offered, where Clippy is
/// never shown) are given as their length — which sites a user visits is
/// no one else's business.
pub fn settings_of(prefs: &Preferences) -> Vec<(String, String)> {
    crate::prefs::KEYS
        .iter()
        .filter_map(|key| {
            let value = prefs.get(key)?;
            let shown = match value.as_array() {
                Some(sites) if key.ends_with("_sites") => format!("{} sites", sites.len()),
                _ => value.to_string(),
            };
            Some((key.to_string(), shown))
        })
        .collect()
}

/// Why a file is not a bundle.
#[derive(Debug, Clone, PartialEq)]
pub enum BundleError {
    /// Over [`MAX_BUNDLE_BYTES`].
    TooLarge {
        /// Its size.
        bytes: usize,
    },
    /// Not JSON of a bundle's shape.
    Malformed(String),
    /// Another format, or another version.
    Format(String),
    /// More items than a bundle holds.
    TooMany {
        /// Which list.
        what: &'static str,
        /// How many.
        count: usize,
    },
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { bytes } => write!(
                f,
                "the file is {bytes} bytes; a session bundle is at most {MAX_BUNDLE_BYTES}"
            ),
            Self::Malformed(why) => write!(f, "not a session bundle: {why}"),
            Self::Format(found) => write!(
                f,
                "the file's format is {found:?}, not {FORMAT:?} (a session bundle from this version)"
            ),
            Self::TooMany { what, count } => {
                write!(f, "the file holds {count} {what}, more than a bundle holds")
            }
        }
    }
}

impl std::error::Error for BundleError {}

/// Reads a bundle file.
pub fn parse(text: &str) -> Result<SessionBundle, BundleError> {
    if text.len() > MAX_BUNDLE_BYTES {
        return Err(BundleError::TooLarge { bytes: text.len() });
    }
    #[derive(Deserialize)]
    struct Head {
        format: Option<String>,
    }
    let head: Head =
        serde_json::from_str(text).map_err(|e| BundleError::Malformed(e.to_string()))?;
    match head.format.as_deref() {
        Some(FORMAT) => {}
        Some(other) => return Err(BundleError::Format(other.chars().take(80).collect())),
        None => return Err(BundleError::Malformed("it has no \"format\"".into())),
    }
    let bundle: SessionBundle =
        serde_json::from_str(text).map_err(|e| BundleError::Malformed(e.to_string()))?;
    for (what, count, max) in [
        ("spans", bundle.spans.len(), MAX_SPANS),
        ("asks", bundle.asks.len(), MAX_ITEMS),
        ("error groups", bundle.errors.len(), MAX_ITEMS),
        ("metrics", bundle.metrics.len(), MAX_ITEMS),
    ] {
        if count > max {
            return Err(BundleError::TooMany { what, count });
        }
    }
    Ok(bundle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::span::{names, OpenSpan, SpanKind};
    use crate::telemetry::{Engine, EngineConfig};

    fn sample() -> SessionBundle {
        let mut engine = Engine::new(EngineConfig::default(), 0.0).unwrap();
        let t0 = 1_700_000_000_000_000_000u64;
        let mut ask = OpenSpan::root(names::ASK, SpanKind::Internal, (1, 2), 3, t0);
        ask.set_attribute("site", "https://a.example");
        engine.span(ask.finish(t0 + 5_000_000), 1.0);
        let spans: Vec<Span> = engine
            .spans()
            .between(0, u64::MAX)
            .into_iter()
            .cloned()
            .collect();
        let mut prefs = Preferences::default();
        prefs
            .set(
                "agent.hint_sites",
                &serde_json::json!(["https://secret.example", "https://b.example"]),
            )
            .unwrap();
        SessionBundle {
            environment: Environment {
                extension_version: "1.2.3".into(),
                browser: "Test/1".into(),
                settings: settings_of(&prefs),
            },
            asks: crate::telemetry::asks::asks(&spans, 10),
            spans,
            metrics: engine.metrics().snapshot(),
            health: Some(engine.health().snapshot()),
            ..SessionBundle::empty(1_700_000_000_000.0)
        }
    }

    #[test]
    fn a_bundle_round_trips_and_keeps_no_site_list() {
        let bundle = sample();
        let text = serde_json::to_string_pretty(&bundle).unwrap();
        assert_eq!(parse(&text).unwrap(), bundle);
        assert!(!text.contains("secret.example"), "{text}");
        let hints = bundle
            .environment
            .settings
            .iter()
            .find(|(k, _)| k == "agent.hint_sites")
            .unwrap();
        assert_eq!(hints.1, "2 sites");
        assert!(bundle
            .environment
            .settings
            .iter()
            .any(|(k, v)| k == "ui.font_scale" && v == "1.0"));
        assert_eq!(bundle.asks[0].site.as_deref(), Some("https://a.example"));
        assert!(bundle.filename().starts_with("paperclip-session-"));
    }

    #[test]
    fn a_file_that_is_not_a_bundle_is_refused_with_its_reason() {
        let err = |t: &str| parse(t).unwrap_err();
        assert!(matches!(err("[1, 2]"), BundleError::Malformed(_)));
        assert!(matches!(err("{}"), BundleError::Malformed(m) if m.contains("format")));
        assert!(matches!(
            err(r#"{"format": "paperclip-session/9"}"#),
            BundleError::Format(f) if f == "paperclip-session/9"
        ));
        // The right format with the wrong shape.
        assert!(matches!(
            err(&format!(r#"{{"format": "{FORMAT}", "asks": 3}}"#)),
            BundleError::Malformed(_)
        ));
        let big = " ".repeat(MAX_BUNDLE_BYTES + 1);
        assert!(matches!(err(&big), BundleError::TooLarge { .. }));
        let mut many = sample();
        many.spans = vec![many.spans[0].clone(); MAX_SPANS + 1];
        let text = serde_json::to_string(&many).unwrap();
        assert_eq!(
            parse(&text).unwrap_err(),
            BundleError::TooMany {
                what: "spans",
                count: MAX_SPANS + 1
            }
        );
        assert!(parse(&text)
            .unwrap_err()
            .to_string()
            .contains("10001 spans"));
    }
}
