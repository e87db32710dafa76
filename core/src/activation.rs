//! Showing the agent on a page: which tab the user means ([`target`]),
//! whether the browser lets an extension run there ([`page_access`]), and
//! the sentence the user reads when it does not ([`refusal`]).
//!
//! Browser-extension objects (a `tabs.Tab`) have no JS class, so the shells
//! never test them with `instanceof`: they hand their JSON to
//! [`TabInfo::from_json`], which reads the fields that are used and says
//! which one is missing.
//!
//! ```
//! use paperclip_core::activation::{page_access, target, Access, TabInfo};
//! let page = TabInfo::from_json(r#"{"id": 7, "windowId": 1, "active": true, "url": "https://example.com/"}"#).unwrap();
//! // The toolbar popup is not in a tab: the page is the current window's active tab.
//! assert_eq!(target(None, &[page.clone()]).unwrap().id, 7);
//! assert_eq!(page_access("https://example.com/"), Access::Allowed);
//! assert!(matches!(page_access("chrome://settings/"), Access::Restricted(_)));
//! ```

use serde::Deserialize;

/// The fields of a browser `tabs.Tab` that activation reads.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TabInfo {
    /// The tab's id (absent for tabs of devtools windows and the like).
    pub id: i32,
    /// The window it is in.
    #[serde(default)]
    pub window_id: Option<i32>,
    /// Whether it is its window's active tab.
    #[serde(default)]
    pub active: bool,
    /// Its URL, when the extension may see it (after the user's click on the
    /// toolbar button, `activeTab` shows it).
    #[serde(default)]
    pub url: Option<String>,
    /// When the tab was last active, in ms since the epoch.
    #[serde(default)]
    pub last_accessed: Option<f64>,
    /// Whether it is in a private (incognito) window.
    #[serde(default)]
    pub incognito: bool,
    /// Its position in its window's tab strip.
    #[serde(default)]
    pub index: Option<i32>,
}

/// What the agent says in a private window (where the user allowed the
/// extension there): nothing from it is written to the profile.
pub const PRIVATE_WINDOW: &str = "Private window: this conversation is kept in memory only. \
    Nothing from this window is saved, and it is gone when your private windows close.";

/// Why a tab object could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TabError {
    /// The value is not a tab object, or its `id` is missing or not an integer.
    #[error("the browser gave no usable tab ({0})")]
    Malformed(String),
    /// No tab fits (no window is open, or only the extension's own page).
    #[error("no page is open to show Clippy on: open a web page first")]
    NoPage,
}

impl TabInfo {
    /// Reads a `tabs.Tab` serialised as JSON, checking the fields used.
    pub fn from_json(json: &str) -> Result<TabInfo, TabError> {
        serde_json::from_str(json).map_err(|e| TabError::Malformed(e.to_string()))
    }

    /// Reads an array of tabs (the answer of `tabs.query`).
    pub fn list_from_json(json: &str) -> Result<Vec<TabInfo>, TabError> {
        serde_json::from_str(json).map_err(|e| TabError::Malformed(e.to_string()))
    }
}

/// The tab the user means when they click "Ask Clippy on this page".
///
/// `own` is the tab of the page asking, when it is in one: the toolbar
/// popup is not (`tabs.getCurrent()` gives nothing) and `candidates` are
/// then its window's active tab. A popup page opened in a window or tab of
/// its own passes its own tab and the active tab of every normal window:
/// the most recently used one other than itself is meant.
pub fn target(own: Option<&TabInfo>, candidates: &[TabInfo]) -> Result<TabInfo, TabError> {
    let others = candidates
        .iter()
        .filter(|t| own.is_none_or(|o| o.id != t.id));
    match own {
        None => others.into_iter().find(|t| t.active),
        Some(_) => others.max_by(|a, b| {
            let at = a.last_accessed.unwrap_or(f64::MIN);
            let bt = b.last_accessed.unwrap_or(f64::MIN);
            at.total_cmp(&bt)
        }),
    }
    .cloned()
    .ok_or(TabError::NoPage)
}

/// Whether the browser lets an extension's script run on a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A web page: Clippy can be shown.
    Allowed,
    /// The browser keeps extensions off this page.
    Restricted(Restriction),
}

/// The kind of page the browser keeps extensions off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restriction {
    /// The browser's own pages (`chrome://`, `about:`, `edge://`, ...).
    BrowserPage,
    /// A page of an extension (this one's included).
    ExtensionPage,
    /// The browser's add-on store.
    Store,
    /// A local file (`file://`), unless the user allowed file access.
    LocalFile,
    /// A `view-source:`, `data:` or `blob:` document, or the like.
    Special,
}

/// Hosts of the add-on stores, where browsers run no extension scripts.
const STORE_HOSTS: [&str; 4] = [
    "chromewebstore.google.com",
    "chrome.google.com",
    "addons.mozilla.org",
    "microsoftedge.microsoft.com",
];

/// Classifies `url` by whether an extension may run a script there.
pub fn page_access(url: &str) -> Access {
    let lower = url.trim().to_ascii_lowercase();
    let scheme = lower.split(':').next().unwrap_or_default();
    let restricted = match scheme {
        "http" | "https" => {
            let host = lower
                .split("://")
                .nth(1)
                .and_then(|rest| rest.split(['/', '?', '#']).next())
                .map(|authority| authority.rsplit('@').next().unwrap_or(authority))
                .map(|h| h.split(':').next().unwrap_or(h))
                .unwrap_or_default();
            let store = STORE_HOSTS.contains(&host)
                && (host != "chrome.google.com" || lower.contains("/webstore"));
            if store {
                Restriction::Store
            } else {
                return Access::Allowed;
            }
        }
        "chrome" | "about" | "edge" | "brave" | "opera" | "vivaldi" | "devtools"
        | "chrome-search" | "chrome-untrusted" | "resource" | "moz" => Restriction::BrowserPage,
        "chrome-extension" | "moz-extension" | "extension" => Restriction::ExtensionPage,
        "file" => Restriction::LocalFile,
        _ => Restriction::Special,
    };
    Access::Restricted(restricted)
}

/// The browser's error when an injection "succeeded" into no frame.
pub const NOT_INJECTED: &str = "the page accepted no script";

/// Checks the answer of `scripting.executeScript` (its JSON): Firefox
/// resolves with no result, or with a result carrying an `error`, for
/// pages it keeps extensions off (`about:support`, `about:addons`) instead
/// of rejecting.
pub fn injected(results_json: &str) -> Result<(), String> {
    #[derive(Deserialize)]
    struct InjectionResult {
        #[serde(default)]
        error: Option<serde_json::Value>,
    }
    let results: Vec<InjectionResult> =
        serde_json::from_str(results_json).map_err(|_| NOT_INJECTED.to_string())?;
    match results.first() {
        None => Err(NOT_INJECTED.into()),
        Some(InjectionResult { error: Some(e) }) if !e.is_null() => Err(match e {
            serde_json::Value::String(s) => s.clone(),
            other => other
                .get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
                .unwrap_or_else(|| NOT_INJECTED.to_string()),
        }),
        Some(_) => Ok(()),
    }
}

/// What the user reads when Clippy cannot be shown on a page: `url` when
/// the browser let the extension see it, and the browser's own error.
pub fn refusal(url: Option<&str>, browser_error: &str) -> String {
    if url.is_some_and(crate::pdf::looks_like_pdf) {
        return PDF_VIEWER.to_string();
    }
    let kind = url.and_then(|u| match page_access(u) {
        Access::Allowed => None,
        Access::Restricted(r) => Some(r),
    });
    let why = match kind {
        Some(Restriction::BrowserPage) => {
            "the browser keeps extensions off its own pages (settings, new tab, about: pages)"
        }
        Some(Restriction::ExtensionPage) => "this is an extension's page",
        Some(Restriction::Store) => "the browser keeps extensions off its add-on store",
        Some(Restriction::LocalFile) => {
            "local files need \"Allow access to file URLs\" in the browser's extension settings"
        }
        Some(Restriction::Special) => "this kind of page cannot hold an extension's script",
        None => {
            let e = browser_error.to_ascii_lowercase();
            if e.contains("chrome://")
                || e.contains("about:")
                || e.contains("missing host permission")
                || e.contains("cannot access")
                || e.contains("cannot be scripted")
                || e.contains("extensions gallery")
                || e.contains(NOT_INJECTED)
            {
                "the browser keeps extensions off this page (browser pages, the add-on store, other extensions' pages)"
            } else {
                return format!("Clippy can't run on this page: {}", one_line(browser_error));
            }
        }
    };
    format!("Clippy can't run on this page: {why}. Open a web page and try again.")
}

/// Why Clippy cannot appear on a PDF's tab, and what to do instead.
pub const PDF_VIEWER: &str = "Clippy can't run inside the browser's PDF viewer. Use Ask about this PDF in the toolbar popup: Clippy opens in a tab next to the PDF and reads it.";

/// The first line of `s`, at most 200 characters.
fn one_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or_default().trim();
    match line.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tab(id: i32, window: i32, active: bool, last: f64) -> TabInfo {
        TabInfo {
            id,
            window_id: Some(window),
            active,
            url: None,
            last_accessed: Some(last),
            incognito: false,
            index: None,
        }
    }

    #[test]
    fn reads_the_fields_it_uses_and_names_what_is_missing() {
        let t = TabInfo::from_json(
            r#"{"id": 3, "windowId": 9, "active": true, "url": "https://a.test/", "lastAccessed": 12.5, "title": "x", "pinned": false, "index": 2}"#,
        )
        .unwrap();
        assert_eq!(
            t,
            TabInfo {
                id: 3,
                window_id: Some(9),
                active: true,
                url: Some("https://a.test/".into()),
                last_accessed: Some(12.5),
                incognito: false,
                index: Some(2),
            }
        );
        // A private window's tab says so.
        let private = TabInfo::from_json(r#"{"id": 4, "incognito": true}"#).unwrap();
        assert!(private.incognito);
        // Without the `tabs` permission the URL is simply absent.
        assert_eq!(TabInfo::from_json(r#"{"id": 3}"#).unwrap().url, None);
        for bad in [
            "null",
            "{}",
            r#"{"id": "3"}"#,
            r#"{"id": 1.5}"#,
            "[]",
            "undefined",
        ] {
            let e = TabInfo::from_json(bad).unwrap_err();
            assert!(matches!(e, TabError::Malformed(_)), "{bad}: {e}");
        }
        assert!(TabInfo::from_json("{}")
            .unwrap_err()
            .to_string()
            .contains("missing field `id`"));
        assert_eq!(TabInfo::list_from_json("[]").unwrap(), vec![]);
    }

    #[test]
    fn the_toolbar_popup_means_its_windows_active_tab() {
        let tabs = [tab(1, 1, false, 50.0), tab(2, 1, true, 10.0)];
        assert_eq!(target(None, &tabs).unwrap().id, 2);
        assert_eq!(target(None, &[]), Err(TabError::NoPage));
    }

    #[test]
    fn a_popup_page_in_a_window_of_its_own_means_the_last_used_other_tab() {
        let own = tab(5, 2, true, 100.0);
        let tabs = [
            tab(1, 1, true, 40.0),
            own.clone(),
            tab(3, 3, true, 60.0),
            TabInfo {
                last_accessed: None,
                ..tab(4, 4, true, 0.0)
            },
        ];
        assert_eq!(target(Some(&own), &tabs).unwrap().id, 3);
        assert_eq!(
            target(Some(&own), std::slice::from_ref(&own)),
            Err(TabError::NoPage)
        );
    }

    #[test]
    fn classifies_pages() {
        for url in [
            "https://example.com/",
            "http://127.0.0.1:8080/a?b#c",
            "HTTPS://Example.com",
            "https://chrome.google.com/search",
            "https://user@addons.mozilla.org.evil.test/",
        ] {
            assert_eq!(page_access(url), Access::Allowed, "{url}");
        }
        let r = |u| match page_access(u) {
            Access::Restricted(r) => Some(r),
            Access::Allowed => None,
        };
        assert_eq!(r("chrome://version/"), Some(Restriction::BrowserPage));
        assert_eq!(r("about:addons"), Some(Restriction::BrowserPage));
        assert_eq!(r("edge://settings"), Some(Restriction::BrowserPage));
        assert_eq!(
            r("moz-extension://x/popup.html"),
            Some(Restriction::ExtensionPage)
        );
        assert_eq!(
            r("chrome-extension://abc/agent.html"),
            Some(Restriction::ExtensionPage)
        );
        assert_eq!(
            r("https://chromewebstore.google.com/detail/x"),
            Some(Restriction::Store)
        );
        assert_eq!(
            r("https://chrome.google.com/webstore/detail/x"),
            Some(Restriction::Store)
        );
        assert_eq!(
            r("https://addons.mozilla.org:443/en-US/firefox/"),
            Some(Restriction::Store)
        );
        assert_eq!(r("file:///tmp/a.html"), Some(Restriction::LocalFile));
        assert_eq!(r("view-source:https://a.test/"), Some(Restriction::Special));
        assert_eq!(r("data:text/html,hi"), Some(Restriction::Special));
        assert_eq!(r(""), Some(Restriction::Special));
    }

    #[test]
    fn an_injection_into_no_frame_is_a_refusal() {
        assert_eq!(injected(r#"[{"frameId": 0, "result": true}]"#), Ok(()));
        assert_eq!(injected(r#"[{"frameId": 0}]"#), Ok(()));
        assert_eq!(injected(r#"[{"frameId": 0, "error": null}]"#), Ok(()));
        assert_eq!(injected("[]"), Err(NOT_INJECTED.into()));
        assert_eq!(injected("null"), Err(NOT_INJECTED.into()));
        assert_eq!(
            injected(r#"[{"frameId": 0, "error": "Missing host permission"}]"#),
            Err("Missing host permission".into())
        );
        assert_eq!(
            injected(r#"[{"frameId": 0, "error": {"message": "boom"}}]"#),
            Err("boom".into())
        );
        assert!(refusal(None, NOT_INJECTED).contains("keeps extensions off this page"));
    }

    #[test]
    fn refusals_say_why_in_plain_words() {
        let m = refusal(Some("chrome://settings/"), "Cannot access a chrome:// URL");
        assert!(
            m.starts_with(
                "Clippy can't run on this page: the browser keeps extensions off its own pages"
            ),
            "{m}"
        );
        assert!(m.ends_with("Open a web page and try again."), "{m}");
        // Without the URL, the browser's error decides.
        for e in [
            "Cannot access a chrome:// URL",
            "Missing host permission for the tab",
            "Cannot access contents of the page. Extension manifest must request permission to access the respective host.",
            "The extensions gallery cannot be scripted.",
        ] {
            let m = refusal(None, e);
            assert!(m.contains("the browser keeps extensions off this page"), "{e}: {m}");
        }
        let m = refusal(None, "No tab with id: 5.\nsecond line");
        assert_eq!(m, "Clippy can't run on this page: No tab with id: 5.");
        assert!(refusal(None, &"x".repeat(500)).chars().count() < 260);
        assert!(refusal(Some("file:///a"), "").contains("Allow access to file URLs"));
        assert!(!refusal(Some("https://a.test/"), "boom").contains("keeps"));
        assert_eq!(
            refusal(Some("https://a.test/paper.pdf"), "Cannot access contents"),
            PDF_VIEWER
        );
    }
}
