//! Typed user preferences: defaults, validation, sanitization and the
//! settings migration.
//!
//! The background stores each preference in the IndexedDB store
//! `preferences` as `{key, value (JSON text), category, updated}` and the
//! options page exchanges them as JSON values. Every key is declared once, in
//! one table (the `table!` invocation; [`KEYS`] lists them in display
//! order); input is *sanitized* (strings trimmed, choices case-folded, whole
//! numbers accepted as `5.0`, origins normalized) or *rejected* with a
//! [`PrefError`] naming the key — never clamped silently.
//!
//! ```
//! use paperclip_core::prefs::{Preferences, Theme};
//! use serde_json::json;
//!
//! let mut prefs = Preferences::default();
//! assert_eq!(prefs.set("ui.theme", &json!(" Dark ")).unwrap(), json!("dark"));
//! assert_eq!(prefs.theme, Theme::Dark);
//! let err = prefs.set("ui.font_scale", &json!(2.5)).unwrap_err();
//! assert_eq!(err.to_string(), "ui.font_scale: 2.5 is outside 0.8..=1.6");
//! ```

use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Current settings schema version (bump when keys are renamed/retyped; see
/// [`migrate`]).
pub const PREFS_VERSION: u32 = 2;

/// Most entries `agent.hint_sites` may hold (after deduplication).
pub const MAX_HINT_SITES: usize = 200;

/// The group a preference is shown (and stored) under.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// The assistant's character and behaviour.
    Agent,
    /// Appearance.
    Ui,
    /// Caches and streaming.
    Performance,
    /// Telemetry, retention, storage and page context.
    Privacy,
}

impl Category {
    /// Every category, in display order.
    pub const ALL: [Category; 4] = [Self::Agent, Self::Ui, Self::Performance, Self::Privacy];

    /// The name stored in the `category` field of a record.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Ui => "ui",
            Self::Performance => "performance",
            Self::Privacy => "privacy",
        }
    }
}

/// A rejected preference value (or a failed migration).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct PrefError {
    /// The preference key (or `version` for a migration error).
    pub key: String,
    /// Why the value was rejected.
    pub reason: String,
}

impl PrefError {
    fn new(key: &str, reason: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

/// One preference as listed to the UI.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PrefEntry {
    /// The key, e.g. `ui.theme`.
    pub key: String,
    /// Its category.
    pub category: Category,
    /// The current (sanitized) value.
    pub value: Value,
    /// The default value.
    pub default: Value,
    /// A one-line description for the options page.
    pub description: String,
    /// What input the value takes.
    pub kind: PrefKind,
}

/// The input a preference takes, so a settings form can be generated.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum PrefKind {
    /// On or off.
    Bool,
    /// One of `options`.
    Choice {
        /// The accepted values, in display order.
        options: Vec<String>,
    },
    /// A whole number in `min..=max`.
    Whole {
        /// Smallest accepted.
        min: u32,
        /// Largest accepted.
        max: u32,
    },
    /// A number in `min..=max`.
    Number {
        /// Smallest accepted.
        min: f64,
        /// Largest accepted.
        max: f64,
    },
    /// A list of at most `max` site origins.
    Origins {
        /// Most entries.
        max: usize,
    },
    /// The user's quick actions (edited in their own section of the
    /// options page, not by the generated form).
    Actions {
        /// Most actions.
        max: usize,
    },
}

/// A type a preference can hold: how input is sanitized and how the value is
/// written back as JSON.
trait PrefType: Sized {
    /// The per-key constraint (a range, a maximum length, or nothing).
    type Rule;
    /// Sanitizes `v`, or says why it is unacceptable.
    fn sanitize(v: &Value, rule: &Self::Rule) -> Result<Self, String>;
    /// The canonical JSON form (accepted unchanged by `sanitize`).
    fn to_json(&self) -> Value;
    /// The input this type takes under `rule`.
    fn kind(rule: &Self::Rule) -> PrefKind;
}

/// A short rendering of `v` for error messages.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) if s.chars().count() > 40 => {
            format!("{:?}…", s.chars().take(40).collect::<String>())
        }
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
        other => other.to_string(),
    }
}

macro_rules! choice {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub enum $name { $($(#[$vm])* #[serde(rename = $s)] $var),+ }

        impl $name {
            /// Every choice, in display order.
            pub const ALL: &'static [Self] = &[$(Self::$var),+];

            /// The stored and displayed name of this choice.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$var => $s),+ }
            }
        }

        impl PrefType for $name {
            type Rule = ();
            fn sanitize(v: &Value, _: &()) -> Result<Self, String> {
                let s = v.as_str().ok_or_else(|| format!("expected a string, got {}", show(v)))?;
                let folded = s.trim().to_lowercase();
                Self::ALL.iter().copied().find(|c| c.as_str() == folded).ok_or_else(|| {
                    let names: Vec<String> = Self::ALL.iter().map(|c| format!("{:?}", c.as_str())).collect();
                    format!("{} is not one of {}", show(v), names.join(", "))
                })
            }
            fn to_json(&self) -> Value {
                Value::from(self.as_str())
            }
            fn kind(_: &()) -> PrefKind {
                PrefKind::Choice { options: Self::ALL.iter().map(|c| c.as_str().to_string()).collect() }
            }
        }
    };
}

choice! {
    /// The assistant's look.
    Character {
        /// The classic paperclip.
        #[default] Clippy = "clippy",
        /// Clippy's colleague.
        Clippette = "clippette",
    }
}

choice! {
    /// How the assistant talks.
    Personality {
        /// Friendly and complete.
        #[default] Helpful = "helpful",
        /// As short as possible.
        Concise = "concise",
        /// Light-hearted.
        Playful = "playful",
        /// Explains step by step.
        Teacher = "teacher",
    }
}

choice! {
    /// Colour scheme.
    Theme {
        /// Follow the browser/OS.
        #[default] System = "system",
        /// Always light.
        Light = "light",
        /// Always dark.
        Dark = "dark",
    }
}

choice! {
    /// Whether animations are reduced.
    ReducedMotion {
        /// Follow `prefers-reduced-motion`.
        #[default] System = "system",
        /// Always reduce motion.
        Always = "always",
        /// Never reduce motion.
        Never = "never",
    }
}

impl Personality {
    /// A short system prompt for this personality.
    pub fn system_prompt(&self) -> &'static str {
        match self {
            Self::Helpful => "You are a friendly, helpful assistant in the user's browser. Answer clearly and accurately, using the page context when it is relevant.",
            Self::Concise => "You are a terse assistant in the user's browser. Answer in as few words as possible: one sentence or a short list, no preamble.",
            Self::Playful => "You are a playful assistant in the user's browser. Be upbeat, with light humour, but keep every answer accurate.",
            Self::Teacher => "You are a patient teacher in the user's browser. Explain step by step, define terms, give an example, and end with a short question to check understanding.",
        }
    }
}

impl PrefType for bool {
    type Rule = ();
    fn sanitize(v: &Value, _: &()) -> Result<Self, String> {
        v.as_bool()
            .ok_or_else(|| format!("expected true or false, got {}", show(v)))
    }
    fn to_json(&self) -> Value {
        Value::from(*self)
    }
    fn kind(_: &()) -> PrefKind {
        PrefKind::Bool
    }
}

impl PrefType for u32 {
    type Rule = RangeInclusive<u32>;
    fn sanitize(v: &Value, r: &Self::Rule) -> Result<Self, String> {
        let x = v
            .as_f64()
            .ok_or_else(|| format!("expected a whole number, got {}", show(v)))?;
        if x.fract() != 0.0 {
            return Err(format!("{v} is not a whole number"));
        }
        if x < f64::from(*r.start()) || x > f64::from(*r.end()) {
            return Err(format!("{v} is outside {}..={}", r.start(), r.end()));
        }
        Ok(x as u32)
    }
    fn to_json(&self) -> Value {
        Value::from(*self)
    }
    fn kind(r: &Self::Rule) -> PrefKind {
        PrefKind::Whole {
            min: *r.start(),
            max: *r.end(),
        }
    }
}

impl PrefType for f64 {
    type Rule = RangeInclusive<f64>;
    fn sanitize(v: &Value, r: &Self::Rule) -> Result<Self, String> {
        let x = v
            .as_f64()
            .ok_or_else(|| format!("expected a number, got {}", show(v)))?;
        if !r.contains(&x) {
            return Err(format!("{v} is outside {}..={}", r.start(), r.end()));
        }
        Ok(x)
    }
    fn to_json(&self) -> Value {
        Value::from(*self)
    }
    fn kind(r: &Self::Rule) -> PrefKind {
        PrefKind::Number {
            min: *r.start(),
            max: *r.end(),
        }
    }
}

/// A list of site origins; the rule is the maximum number of entries.
impl PrefType for Vec<String> {
    type Rule = usize;
    fn sanitize(v: &Value, max: &usize) -> Result<Self, String> {
        let items = v
            .as_array()
            .ok_or_else(|| format!("expected a list of origins, got {}", show(v)))?;
        let mut out: Vec<String> = Vec::with_capacity(items.len().min(*max));
        for (i, item) in items.iter().enumerate() {
            let s = item
                .as_str()
                .ok_or_else(|| format!("entry {i}: expected a string, got {}", show(item)))?;
            let o = origin(s).map_err(|why| format!("entry {i} {}: {why}", show(item)))?;
            if !out.contains(&o) {
                out.push(o);
            }
        }
        if out.len() > *max {
            return Err(format!(
                "{} sites is more than the maximum {max}",
                out.len()
            ));
        }
        Ok(out)
    }
    fn to_json(&self) -> Value {
        Value::from(self.clone())
    }
    fn kind(max: &usize) -> PrefKind {
        PrefKind::Origins { max: *max }
    }
}

impl PrefType for Vec<crate::quick::CustomAction> {
    type Rule = usize;
    fn sanitize(v: &Value, _: &usize) -> Result<Self, String> {
        if !v.is_array() {
            return Err(format!("expected a list of actions, got {}", show(v)));
        }
        let actions: Vec<crate::quick::CustomAction> =
            serde_json::from_value(v.clone()).map_err(|e| {
                format!("not a list of actions ({{name, template, needs_selection}}): {e}")
            })?;
        crate::quick::validate_actions(actions)
    }
    fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Array(Vec::new()))
    }
    fn kind(max: &usize) -> PrefKind {
        PrefKind::Actions { max: *max }
    }
}

/// Normalizes an http(s) origin (`scheme://host[:port]`): trimmed, scheme
/// and host lowercased, one trailing `/` and a default port dropped.
pub fn origin(s: &str) -> Result<String, String> {
    const NOT_ORIGIN: &str = "is not an http(s) origin";
    let (scheme, rest) = s.trim().split_once("://").ok_or(NOT_ORIGIN)?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return Err(NOT_ORIGIN.into()),
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest).to_ascii_lowercase();
    if authority.contains(['/', '?', '#', '\\']) {
        return Err("has a path, query or fragment".into());
    }
    if authority.contains('@') {
        return Err("has credentials".into());
    }
    let (host, port) = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => (&authority[..i], Some(&authority[i + 1..])),
        _ => (authority.as_str(), None),
    };
    let host_ok = if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        !inner.is_empty()
            && inner
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
    } else {
        host.split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    };
    if !host_ok {
        return Err("has no valid host (ASCII letters, digits, '-' and '.')".into());
    }
    let port = match port {
        None => String::new(),
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n != 0 && p.bytes().all(|b| b.is_ascii_digit()) => {
                if n == default_port {
                    String::new()
                } else {
                    format!(":{n}")
                }
            }
            _ => return Err("has an invalid port".into()),
        },
    };
    Ok(format!("{scheme}://{host}{port}"))
}

/// Which page-context providers may send page content to the assistant.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContextSources {
    /// The user's text selection.
    pub selection: bool,
    /// Title, URL and language of the page.
    pub page_info: bool,
    /// The page's headings.
    pub headings: bool,
    /// The page's main text.
    pub main_text: bool,
    /// Labels of form fields (never their values).
    pub form_labels: bool,
    /// The text visible in the viewport.
    pub viewport: bool,
    /// The URL's query and fragment too (reset tokens, OAuth codes, search
    /// terms live there); off: only the origin and path are shared.
    #[serde(default)]
    pub full_url: bool,
}

impl Default for ContextSources {
    fn default() -> Self {
        Self {
            selection: true,
            page_info: true,
            headings: true,
            main_text: true,
            form_labels: true,
            viewport: true,
            full_url: false,
        }
    }
}

/// All preferences, typed. `Default` gives the documented defaults.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Preferences {
    /// `agent.character`.
    pub character: Character,
    /// `agent.personality`.
    pub personality: Personality,
    /// `agent.proactive_hints`: offer hints without being asked.
    pub proactive_hints: bool,
    /// `agent.hint_sites`: normalized origins where hints are offered.
    pub hint_sites: Vec<String>,
    /// `agent.never_sites`: normalized origins where Clippy is never shown.
    pub never_sites: Vec<String>,
    /// `agent.quick_actions`: the user's own quick actions.
    pub quick_actions: Vec<crate::quick::CustomAction>,
    /// `ui.theme`.
    pub theme: Theme,
    /// `ui.font_scale`, in 0.8..=1.6.
    pub font_scale: f64,
    /// `ui.reduced_motion`.
    pub reduced_motion: ReducedMotion,
    /// `performance.memory_cache_entries`, in 16..=5000.
    pub memory_cache_entries: u32,
    /// `performance.context_cache_ttl_minutes`, in 1..=10080.
    pub context_cache_ttl_minutes: u32,
    /// `performance.stream_chunk_chars`, in 1..=400.
    pub stream_chunk_chars: u32,
    /// `performance.budget_memory_mb`, in 8..=1024: the worker's memory
    /// budget ([`crate::budget`]).
    pub budget_memory_mb: u32,
    /// `performance.budget_concurrent_asks`, in 1..=16.
    pub budget_concurrent_asks: u32,
    /// `performance.budget_asks_per_minute`, in 1..=600.
    pub budget_asks_per_minute: u32,
    /// `privacy.telemetry_remote`: remote telemetry export (opt-in).
    pub telemetry_remote: bool,
    /// `privacy.retention_days`, in 0..=3650; 0 keeps conversations forever.
    pub retention_days: u32,
    /// `privacy.storage_budget_mb`, in 10..=4096.
    pub storage_budget_mb: u32,
    /// `privacy.evict_conversations`: the storage budget may delete old conversations.
    pub evict_conversations: bool,
    /// `privacy.context.*`: the page-context providers that are on.
    pub context: ContextSources,
    /// `privacy.sync_settings`: keep the preferences in the browser's
    /// `storage.sync` (`crate::sync`).
    pub sync_settings: bool,
}

impl Default for Preferences {
    fn default() -> Self {
        Self {
            character: Character::Clippy,
            personality: Personality::Helpful,
            proactive_hints: false,
            hint_sites: Vec::new(),
            never_sites: Vec::new(),
            quick_actions: Vec::new(),
            theme: Theme::System,
            font_scale: 1.0,
            reduced_motion: ReducedMotion::System,
            memory_cache_entries: 512,
            context_cache_ttl_minutes: 1440,
            stream_chunk_chars: 24,
            budget_memory_mb: 32,
            budget_concurrent_asks: 4,
            budget_asks_per_minute: 60,
            telemetry_remote: false,
            retention_days: 0,
            storage_budget_mb: 256,
            evict_conversations: false,
            context: ContextSources::default(),
            sync_settings: false,
        }
    }
}

/// How Paperclip's pages look (`ui.*`): every surface (agent, popup,
/// options page, devtools panel) applies it to its root element, and again
/// whenever the preferences change.
///
/// ```
/// use paperclip_core::prefs::{Appearance, Preferences, Theme};
/// let mut p = Preferences::default();
/// assert_eq!(p.appearance().theme_attribute(), None); // follow the browser
/// p.theme = Theme::Dark;
/// assert_eq!(p.appearance().theme_attribute(), Some("dark"));
/// assert_eq!(p.appearance().font_scale_css(), "1");
/// ```
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct Appearance {
    /// `ui.theme`.
    #[serde(default)]
    pub theme: Theme,
    /// `ui.font_scale`.
    #[serde(default = "one")]
    pub font_scale: f64,
    /// `ui.reduced_motion`.
    #[serde(default)]
    pub reduced_motion: ReducedMotion,
}

fn one() -> f64 {
    1.0
}

impl Default for Appearance {
    fn default() -> Self {
        Preferences::default().appearance()
    }
}

impl Appearance {
    /// The root's `data-theme`: `light` or `dark`, or none to follow the
    /// browser's colour scheme.
    pub fn theme_attribute(&self) -> Option<&'static str> {
        match self.theme {
            Theme::System => None,
            Theme::Light => Some("light"),
            Theme::Dark => Some("dark"),
        }
    }

    /// The root's `data-motion`: `reduce` or `full` (the app's setting wins
    /// over the browser's), or none to follow `prefers-reduced-motion`.
    pub fn motion_attribute(&self) -> Option<&'static str> {
        match self.reduced_motion {
            ReducedMotion::System => None,
            ReducedMotion::Always => Some("reduce"),
            ReducedMotion::Never => Some("full"),
        }
    }

    /// The `--font-scale` CSS value, within the preference's range even if
    /// the value came from elsewhere.
    pub fn font_scale_css(&self) -> String {
        let scale = if self.font_scale.is_finite() {
            self.font_scale.clamp(0.8, 1.6)
        } else {
            1.0
        };
        format!("{}", (scale * 100.0).round() / 100.0)
    }
}

impl Preferences {
    /// The `ui.*` preferences, as every page applies them.
    pub fn appearance(&self) -> Appearance {
        Appearance {
            theme: self.theme,
            font_scale: self.font_scale,
            reduced_motion: self.reduced_motion,
        }
    }
}

/// Declares every preference once: key, category, field, type, rule, description.
macro_rules! table {
    ($($key:literal, $cat:ident, $($field:ident).+ : $ty:ty, $rule:expr, $desc:literal;)+) => {
        /// Every preference key, in display order.
        pub const KEYS: &[&str] = &[$($key),+];

        const SPECS: &[(&str, Category, &str)] = &[$(($key, Category::$cat, $desc)),+];

        impl Preferences {
            /// Validates `value` for `key` and applies it, returning the
            /// sanitized value; on error `self` is unchanged.
            pub fn set(&mut self, key: &str, value: &Value) -> Result<Value, PrefError> {
                match key {
                    $($key => {
                        let typed: $ty = PrefType::sanitize(value, &$rule).map_err(|r| PrefError::new(key, r))?;
                        let json = typed.to_json();
                        self.$($field).+ = typed;
                        Ok(json)
                    })+
                    _ => Err(PrefError::new(key, "unknown preference")),
                }
            }

            /// The input `key` takes.
            fn kind_of(key: &str) -> Option<PrefKind> {
                match key {
                    $($key => Some(<$ty as PrefType>::kind(&$rule)),)+
                    _ => None,
                }
            }

            /// The current value of `key` as JSON, or `None` for an unknown key.
            pub fn get(&self, key: &str) -> Option<Value> {
                match key {
                    $($key => Some(self.$($field).+.to_json()),)+
                    _ => None,
                }
            }
        }
    };
}

table! {
    "agent.character", Agent, character: Character, (), "The assistant's character.";
    "agent.personality", Agent, personality: Personality, (), "How the assistant talks.";
    "agent.proactive_hints", Agent, proactive_hints: bool, (), "Offer hints without being asked.";
    "agent.hint_sites", Agent, hint_sites: Vec<String>, MAX_HINT_SITES, "Sites (origins) where hints are offered.";
    "agent.never_sites", Agent, never_sites: Vec<String>, MAX_HINT_SITES, "Sites (origins) where Clippy is never shown.";
    "agent.quick_actions", Agent, quick_actions: Vec<crate::quick::CustomAction>, crate::quick::MAX_CUSTOM_ACTIONS, "Your own quick actions.";
    "ui.theme", Ui, theme: Theme, (), "Colour scheme.";
    "ui.font_scale", Ui, font_scale: f64, 0.8..=1.6, "Text size multiplier.";
    "ui.reduced_motion", Ui, reduced_motion: ReducedMotion, (), "Reduce animations.";
    "performance.memory_cache_entries", Performance, memory_cache_entries: u32, 16..=5000, "Entries kept in the in-memory cache.";
    "performance.context_cache_ttl_minutes", Performance, context_cache_ttl_minutes: u32, 1..=10080, "Minutes a page context stays cached.";
    "performance.stream_chunk_chars", Performance, stream_chunk_chars: u32, 1..=400, "Characters per streamed chunk.";
    "performance.budget_memory_mb", Performance, budget_memory_mb: u32, 8..=1024, "Memory budget of the background, in megabytes: over it, Paperclip empties its memory cache, then trims its telemetry buffers, then refuses new questions until it is back under.";
    "performance.budget_concurrent_asks", Performance, budget_concurrent_asks: u32, 1..=16, "Most questions answered at the same time.";
    "performance.budget_asks_per_minute", Performance, budget_asks_per_minute: u32, 1..=600, "Most questions asked in any minute.";
    "privacy.telemetry_remote", Privacy, telemetry_remote: bool, (), "Export telemetry to a remote endpoint (opt-in).";
    "privacy.retention_days", Privacy, retention_days: u32, 0..=3650, "Delete conversations older than this many days (0 = keep forever).";
    "privacy.storage_budget_mb", Privacy, storage_budget_mb: u32, 10..=4096, "Storage budget in megabytes.";
    "privacy.evict_conversations", Privacy, evict_conversations: bool, (), "Let the storage budget delete old conversations.";
    "privacy.context.selection", Privacy, context.selection: bool, (), "Share the selected text.";
    "privacy.context.page_info", Privacy, context.page_info: bool, (), "Share the page title, URL and language.";
    "privacy.context.headings", Privacy, context.headings: bool, (), "Share the page headings.";
    "privacy.context.main_text", Privacy, context.main_text: bool, (), "Share the page's main text.";
    "privacy.context.form_labels", Privacy, context.form_labels: bool, (), "Share form field labels (never values).";
    "privacy.context.viewport", Privacy, context.viewport: bool, (), "Share the visible text.";
    "privacy.context.full_url", Privacy, context.full_url: bool, (), "Share the page address's query and fragment (off: its origin and path only).";
    "privacy.sync_settings", Privacy, sync_settings: bool, (), "Sync these settings and your quick actions through the browser's account (never keys, conversations or telemetry).";
}

impl Preferences {
    /// Validates and sanitizes `value` for `key`, returning the sanitized
    /// JSON value without changing anything (so the caller can store first,
    /// then apply). An unknown key is an error (`unknown preference`).
    pub fn validate(key: &str, value: &Value) -> Result<Value, PrefError> {
        Self::default().set(key, value)
    }

    /// Every preference (or only those of `category`), in [`KEYS`] order.
    pub fn entries(&self, category: Option<Category>) -> Vec<PrefEntry> {
        let defaults = Self::default();
        SPECS
            .iter()
            .filter(|(_, cat, _)| category.is_none_or(|c| c == *cat))
            .map(|&(key, category, description)| PrefEntry {
                key: key.into(),
                category,
                value: self.get(key).unwrap_or(Value::Null),
                default: defaults.get(key).unwrap_or(Value::Null),
                description: description.into(),
                kind: Self::kind_of(key).unwrap_or(PrefKind::Bool),
            })
            .collect()
    }

    /// Builds preferences from stored `(key, value)` pairs written by settings
    /// version `version`: [`migrate`]s them, then applies each in order.
    /// Invalid or unknown values are skipped (the default stays) and
    /// reported. If migration fails (a newer version), that is reported too
    /// and the pairs are applied as they are, best effort.
    pub fn from_stored(
        version: u32,
        stored: Vec<(String, Value)>,
    ) -> (Preferences, Vec<PrefError>) {
        let mut errors = Vec::new();
        let pairs = match migrate(version, stored.clone()) {
            Ok(pairs) => pairs,
            Err(e) => {
                errors.push(e);
                stored
            }
        };
        let mut prefs = Self::default();
        errors.extend(pairs.iter().filter_map(|(k, v)| prefs.set(k, v).err()));
        (prefs, errors)
    }
}

/// The category of `key`, if known.
pub fn category_of(key: &str) -> Option<Category> {
    SPECS.iter().find(|(k, _, _)| *k == key).map(|&(_, c, _)| c)
}

/// Settings migration: rewrites stored pairs from version `from` to
/// [`PREFS_VERSION`]. Version 1 used `theme` (→ `ui.theme`), `personality`
/// (→ `agent.personality`) and `telemetry` = `"on"`/`"off"` (→
/// `privacy.telemetry_remote`); other v1 keys are dropped. Values are not
/// validated here (an unrecognized `telemetry` value is passed on as is, to
/// be reported when applied). Version 0 and versions newer than
/// [`PREFS_VERSION`] are errors (no downgrade).
pub fn migrate(from: u32, stored: Vec<(String, Value)>) -> Result<Vec<(String, Value)>, PrefError> {
    if from == 0 || from > PREFS_VERSION {
        return Err(PrefError::new(
            "version",
            format!("cannot migrate settings version {from} to {PREFS_VERSION}"),
        ));
    }
    let mut pairs = stored;
    for version in from..PREFS_VERSION {
        pairs = match version {
            1 => pairs.into_iter().filter_map(v1_to_v2).collect(),
            _ => pairs,
        };
    }
    Ok(pairs)
}

fn v1_to_v2((key, value): (String, Value)) -> Option<(String, Value)> {
    match key.as_str() {
        "theme" => Some(("ui.theme".into(), value)),
        "personality" => Some(("agent.personality".into(), value)),
        "telemetry" => {
            let flag = match value
                .as_str()
                .map(|s| s.trim().to_ascii_lowercase())
                .as_deref()
            {
                Some("on") => Value::Bool(true),
                Some("off") => Value::Bool(false),
                _ => value,
            };
            Some(("privacy.telemetry_remote".into(), flag))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn rejects(key: &str, value: Value) -> PrefError {
        let mut p = Preferences::default();
        p.set("ui.theme", &json!("dark")).unwrap();
        let before = p.clone();
        let err = p.set(key, &value).unwrap_err();
        assert_eq!(err.key, key, "{err}");
        assert_eq!(p, before, "set changed prefs on error");
        assert_eq!(Preferences::validate(key, &value), Err(err.clone()));
        err
    }

    fn accepts(key: &str, value: Value, sanitized: Value) {
        let mut p = Preferences::default();
        assert_eq!(Preferences::validate(key, &value), Ok(sanitized.clone()));
        assert_eq!(p.set(key, &value), Ok(sanitized.clone()));
        assert_eq!(p.get(key), Some(sanitized));
    }

    #[test]
    fn quick_actions_are_validated_whole() {
        let good =
            json!([{"name": " Tweet ", "template": "Tweet {selection}", "needs_selection": true}]);
        accepts(
            "agent.quick_actions",
            good,
            json!([{"name": "Tweet", "template": "Tweet {selection}", "needs_selection": true}]),
        );
        // needs_selection may be left out.
        accepts(
            "agent.quick_actions",
            json!([{"name": "A", "template": "{title}"}]),
            json!([{"name": "A", "template": "{title}", "needs_selection": false}]),
        );
        let e = rejects(
            "agent.quick_actions",
            json!([{"name": "A", "template": "{secret}"}]),
        );
        assert!(e.reason.contains("{secret} is not a placeholder"), "{e}");
        let e = rejects("agent.quick_actions", json!({"name": "A"}));
        assert!(e.reason.contains("expected a list of actions"), "{e}");
        let e = rejects("agent.quick_actions", json!([{"name": 3, "template": "x"}]));
        assert!(e.reason.contains("not a list of actions"), "{e}");
        let e = rejects(
            "agent.quick_actions",
            json!([{"name": "A", "template": "x"}, {"name": "a", "template": "y"}]),
        );
        assert!(e.reason.contains("two actions are named"), "{e}");
    }

    #[test]
    fn defaults_match_the_table() {
        let p = Preferences::default();
        let expected = [
            ("agent.character", json!("clippy")),
            ("agent.personality", json!("helpful")),
            ("agent.proactive_hints", json!(false)),
            ("agent.hint_sites", json!([])),
            ("agent.never_sites", json!([])),
            ("agent.quick_actions", json!([])),
            ("ui.theme", json!("system")),
            ("ui.font_scale", json!(1.0)),
            ("ui.reduced_motion", json!("system")),
            ("performance.memory_cache_entries", json!(512)),
            ("performance.context_cache_ttl_minutes", json!(1440)),
            ("performance.stream_chunk_chars", json!(24)),
            ("performance.budget_memory_mb", json!(32)),
            ("performance.budget_concurrent_asks", json!(4)),
            ("performance.budget_asks_per_minute", json!(60)),
            ("privacy.telemetry_remote", json!(false)),
            ("privacy.retention_days", json!(0)),
            ("privacy.storage_budget_mb", json!(256)),
            ("privacy.evict_conversations", json!(false)),
            ("privacy.context.selection", json!(true)),
            ("privacy.context.page_info", json!(true)),
            ("privacy.context.headings", json!(true)),
            ("privacy.context.main_text", json!(true)),
            ("privacy.context.form_labels", json!(true)),
            ("privacy.context.viewport", json!(true)),
            ("privacy.context.full_url", json!(false)),
            ("privacy.sync_settings", json!(false)),
        ];
        assert_eq!(KEYS.len(), expected.len());
        for (key, value) in expected {
            assert_eq!(p.get(key), Some(value), "{key}");
        }
        assert_eq!(p.get("nope"), None);
    }

    #[test]
    fn entries_list_every_key_once_with_its_category() {
        let p = Preferences::default();
        let all = p.entries(None);
        let keys: Vec<&str> = all.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, KEYS);
        for e in &all {
            let prefix = e.key.split('.').next().unwrap_or_default();
            assert_eq!(prefix, e.category.as_str());
            assert_eq!(category_of(&e.key), Some(e.category));
            assert_eq!(e.value, e.default);
            assert!(!e.description.is_empty());
        }
        for cat in Category::ALL {
            let some = p.entries(Some(cat));
            assert!(!some.is_empty() && some.iter().all(|e| e.category == cat));
        }
        assert_eq!(
            Category::ALL
                .iter()
                .map(|c| p.entries(Some(*c)).len())
                .sum::<usize>(),
            KEYS.len()
        );
        assert_eq!(category_of("ui"), None);
        assert_eq!(
            serde_json::to_value(Category::Performance).unwrap(),
            json!("performance")
        );
    }

    #[test]
    fn sanitizes_acceptable_input() {
        accepts("ui.theme", json!(" Dark "), json!("dark"));
        accepts("agent.character", json!("CLIPPETTE"), json!("clippette"));
        accepts("agent.personality", json!("teacher\n"), json!("teacher"));
        accepts("ui.reduced_motion", json!("Never"), json!("never"));
        accepts("agent.proactive_hints", json!(true), json!(true));
        accepts("ui.font_scale", json!(1.6), json!(1.6));
        accepts("ui.font_scale", json!(1), json!(1.0));
        accepts("performance.stream_chunk_chars", json!(5.0), json!(5));
        accepts("privacy.retention_days", json!(0), json!(0));
        accepts(
            "performance.context_cache_ttl_minutes",
            json!(10080),
            json!(10080),
        );
        accepts(
            "agent.hint_sites",
            json!([
                "HTTPS://Example.org/",
                " http://a.test:8080 ",
                "https://example.org",
                "https://X.test:443",
                "http://[::1]:80"
            ]),
            json!([
                "https://example.org",
                "http://a.test:8080",
                "https://x.test",
                "http://[::1]"
            ]),
        );
        let many: Vec<String> = (0..MAX_HINT_SITES)
            .map(|i| format!("https://s{i}.test"))
            .collect();
        accepts("agent.hint_sites", json!(many), json!(many));
    }

    #[test]
    fn rejects_unacceptable_input() {
        assert_eq!(
            rejects("ui.font_scale", json!(2.5)).to_string(),
            "ui.font_scale: 2.5 is outside 0.8..=1.6"
        );
        rejects("ui.font_scale", json!("1.0"));
        rejects("ui.font_scale", json!(1e300));
        rejects("ui.font_scale", json!(f64::NAN)); // becomes null
        rejects("ui.theme", json!("blue"));
        rejects("ui.theme", json!(1));
        rejects("agent.proactive_hints", json!("true"));
        rejects("agent.proactive_hints", json!(null));
        rejects("performance.memory_cache_entries", json!(15));
        rejects("performance.memory_cache_entries", json!(5001));
        rejects("performance.stream_chunk_chars", json!(2.5));
        rejects("performance.stream_chunk_chars", json!(1e300));
        rejects("privacy.retention_days", json!(-1));
        rejects("privacy.storage_budget_mb", json!(i64::MIN));
        rejects("privacy.storage_budget_mb", json!(u64::MAX));
        rejects("privacy.context.viewport", json!([true]));
        assert_eq!(rejects("no.such", json!(true)).reason, "unknown preference");
        for bad in [
            json!("https://example.org"),
            json!(["https://example.org/path"]),
            json!(["javascript:alert(1)"]),
            json!(["javascript://x.test"]),
            json!(["ftp://x.test"]),
            json!(["https://user@x.test"]),
            json!(["https://x.test?q"]),
            json!(["https://"]),
            json!(["https://x..test"]),
            json!(["https://x.test:99999"]),
            json!(["https://x.test:"]),
            json!(["https://exämple.org"]),
            json!([7]),
        ] {
            rejects("agent.hint_sites", bad);
        }
        let too_many: Vec<String> = (0..=MAX_HINT_SITES)
            .map(|i| format!("https://s{i}.test"))
            .collect();
        rejects("agent.hint_sites", json!(too_many));
    }

    #[test]
    fn migrates_v1() {
        let v1 = vec![
            ("theme".to_string(), json!("Dark")),
            ("personality".to_string(), json!("concise")),
            ("telemetry".to_string(), json!("on")),
            ("sidebar".to_string(), json!(true)),
        ];
        assert_eq!(
            migrate(1, v1.clone()),
            Ok(vec![
                ("ui.theme".to_string(), json!("Dark")),
                ("agent.personality".to_string(), json!("concise")),
                ("privacy.telemetry_remote".to_string(), json!(true)),
            ])
        );
        assert_eq!(
            migrate(1, vec![("telemetry".into(), json!("off"))]),
            Ok(vec![("privacy.telemetry_remote".into(), json!(false))])
        );
        assert_eq!(migrate(PREFS_VERSION, v1.clone()), Ok(v1.clone()));
        assert_eq!(
            migrate(PREFS_VERSION + 1, v1.clone()).unwrap_err().key,
            "version"
        );
        assert!(migrate(0, vec![]).is_err());

        let (p, errors) = Preferences::from_stored(1, v1);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            (p.theme, p.personality, p.telemetry_remote),
            (Theme::Dark, Personality::Concise, true)
        );

        let bad = vec![
            ("theme".to_string(), json!("neon")),
            ("telemetry".to_string(), json!("maybe")),
            ("personality".to_string(), json!("playful")),
        ];
        let (p, errors) = Preferences::from_stored(1, bad);
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["ui.theme", "privacy.telemetry_remote"]);
        assert_eq!(
            (p.theme, p.telemetry_remote, p.personality),
            (Theme::System, false, Personality::Playful)
        );

        let (p, errors) = Preferences::from_stored(
            PREFS_VERSION + 1,
            vec![
                ("ui.theme".into(), json!("light")),
                ("new.key".into(), json!(1)),
            ],
        );
        assert_eq!(p.theme, Theme::Light);
        assert_eq!(errors.len(), 2);
    }

    #[test]
    fn personalities_have_prompts() {
        for p in Personality::ALL {
            assert!(p.system_prompt().len() > 20);
        }
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            (-10i64..12_000).prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            (0.0f64..3.0).prop_map(Value::from),
            (0u32..500).prop_map(|n| Value::from(f64::from(n))),
            "[ a-zA-Z:/.\\[\\]0-9@?-]{0,24}".prop_map(Value::from),
            prop::sample::select(vec![
                " Dark",
                "LIGHT ",
                "system",
                "clippette",
                "Teacher",
                "never",
                "HTTPS://A.test/",
                "http://b.test:80"
            ])
            .prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map("[a-z]{0,3}", inner, 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn set_is_all_or_nothing_and_idempotent(ops in prop::collection::vec((prop::sample::select(KEYS), json_value()), 1..6)) {
            let mut p = Preferences::default();
            for (key, value) in ops {
                let before = p.clone();
                match p.set(key, &value) {
                    Err(e) => {
                        prop_assert_eq!(&p, &before);
                        prop_assert_eq!(e.key.as_str(), key);
                    }
                    Ok(sanitized) => {
                        let got = p.get(key);
                        prop_assert_eq!(got.as_ref(), Some(&sanitized));
                        prop_assert_eq!(Preferences::validate(key, &sanitized), Ok(sanitized.clone()));
                    }
                }
            }
            let stored = p.entries(None).into_iter().map(|e| (e.key, e.value)).collect();
            let (back, errors) = Preferences::from_stored(PREFS_VERSION, stored);
            prop_assert!(errors.is_empty());
            prop_assert_eq!(back, p);
        }
    }
}
