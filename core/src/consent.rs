//! Firefox's built-in data collection consent
//! (`browser_specific_settings.gecko.data_collection_permissions`): which
//! kinds of data a feature sends out of the browser, so that the options
//! page asks for exactly those when the user turns the feature on, and the
//! background sends nothing that the user has not (or no longer) allowed.
//! Chromium has no such consent: there nothing is declared and nothing is
//! asked.
//!
//! ```
//! use paperclip_core::consent::{for_provider, DataKind};
//! use paperclip_core::provider::{ProviderKind, ProviderSettings};
//! let remote = ProviderSettings::new("p", ProviderKind::OpenAiCompatible, "https://api.example", "m");
//! assert_eq!(for_provider(&remote), [DataKind::WebsiteContent, DataKind::BrowsingActivity]);
//! let local = ProviderSettings::new("l", ProviderKind::OpenAiCompatible, "http://127.0.0.1:11434/v1", "m");
//! assert!(for_provider(&local).is_empty());
//! ```

use crate::net::{is_loopback_host, url_host};
use crate::provider::ProviderSettings;

/// A kind of data, as Firefox names it in the manifest and in
/// `permissions.request({data_collection})`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKind {
    /// The page's text (the context sent with a question).
    WebsiteContent,
    /// Which page the user is on (its origin and path, its title).
    BrowsingActivity,
    /// Telemetry: timings, errors, health.
    TechnicalAndInteraction,
}

impl DataKind {
    /// Every kind Paperclip declares as optional.
    pub const ALL: [DataKind; 3] = [
        DataKind::WebsiteContent,
        DataKind::BrowsingActivity,
        DataKind::TechnicalAndInteraction,
    ];

    /// Firefox's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            DataKind::WebsiteContent => "websiteContent",
            DataKind::BrowsingActivity => "browsingActivity",
            DataKind::TechnicalAndInteraction => "technicalAndInteraction",
        }
    }

    /// How Firefox's permission list words it (about:addons).
    pub fn label(self) -> &'static str {
        match self {
            DataKind::WebsiteContent => "website content",
            DataKind::BrowsingActivity => "browsing activity",
            DataKind::TechnicalAndInteraction => "technical and interaction data",
        }
    }
}

/// What asking `settings`'s provider sends out of the browser: the page's
/// text and which page it is, unless the provider runs on this machine
/// (a loopback address) or in the browser (the built-in model).
pub fn for_provider(settings: &ProviderSettings) -> Vec<DataKind> {
    if !settings.kind.is_http() {
        return Vec::new();
    }
    match url_host(&settings.base_url) {
        Some(host) if is_loopback_host(&host) => Vec::new(),
        _ => vec![DataKind::WebsiteContent, DataKind::BrowsingActivity],
    }
}

/// What exporting telemetry to a remote endpoint sends.
pub const TELEMETRY_EXPORT: [DataKind; 1] = [DataKind::TechnicalAndInteraction];

/// What setting preference `key` to `value` turns on that sends data out
/// of the browser (asked for before it is saved).
pub fn for_preference(key: &str, value: &serde_json::Value) -> &'static [DataKind] {
    match (key, value) {
        ("privacy.telemetry_remote", serde_json::Value::Bool(true)) => &TELEMETRY_EXPORT,
        _ => &[],
    }
}

/// Why a feature does not send: `missing` was not allowed in Firefox.
pub fn not_allowed(missing: &[DataKind]) -> String {
    let names: Vec<&str> = missing.iter().map(|k| k.label()).collect();
    format!(
        "Firefox's data collection consent for {} is off, so nothing was sent. \
         Allow it in about:addons → Paperclip → Permissions, or save the setting again.",
        names.join(" and ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::ProviderKind;

    #[test]
    fn only_what_leaves_the_machine_needs_consent() {
        let at = |url: &str| ProviderSettings::new("p", ProviderKind::Anthropic, url, "m");
        for remote in [
            "https://api.anthropic.com",
            "http://192.168.1.2:8080/v1",
            "https://localhost.example.com",
        ] {
            assert_eq!(for_provider(&at(remote)).len(), 2, "{remote}");
        }
        for local in [
            "http://localhost:1234/v1",
            "http://127.0.0.1:8080",
            "http://[::1]:11434",
        ] {
            assert!(for_provider(&at(local)).is_empty(), "{local}");
        }
        let built_in = ProviderSettings::new("b", ProviderKind::ChromeBuiltIn, "", "");
        assert!(for_provider(&built_in).is_empty());
    }

    #[test]
    fn turning_remote_telemetry_on_asks_for_technical_data() {
        use serde_json::json;
        let key = "privacy.telemetry_remote";
        assert_eq!(for_preference(key, &json!(true)), TELEMETRY_EXPORT);
        assert!(for_preference(key, &json!(false)).is_empty());
        assert!(for_preference("ui.theme", &json!("dark")).is_empty());
        // The Firefox manifest declares every kind as optional, none as
        // required.
        let manifest: serde_json::Value =
            serde_json::from_str(include_str!("../../manifest.firefox.json")).unwrap();
        let declared =
            &manifest["browser_specific_settings"]["gecko"]["data_collection_permissions"];
        assert_eq!(declared["required"], json!(["none"]));
        assert_eq!(
            declared["optional"],
            json!(DataKind::ALL.map(DataKind::as_str))
        );
    }

    #[test]
    fn the_message_names_what_is_off_and_where_to_allow_it() {
        let m = not_allowed(&[DataKind::WebsiteContent, DataKind::BrowsingActivity]);
        assert!(m.contains("website content and browsing activity"), "{m}");
        assert!(m.contains("about:addons"), "{m}");
        assert_eq!(
            DataKind::ALL.map(DataKind::as_str),
            [
                "websiteContent",
                "browsingActivity",
                "technicalAndInteraction"
            ]
        );
    }
}
