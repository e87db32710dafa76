//! Data control: what deleting a site's data covers. A site is an http(s)
//! origin ([`site`] validates and normalises what the user typed); its data
//! is its conversations (their `site` field), the context-cache entries read
//! from its pages or answered about them ([`cache_prefixes`]), the agent's
//! place and hint state for it ([`meta_keys`]), and its entry in the
//! `agent.hint_sites` preference ([`without_site`]). Deleting everything and
//! clearing telemetry need no policy: every store is emptied.
//!
//! ```
//! use paperclip_core::data;
//! let site = data::site(" HTTPS://News.Example/ ").unwrap();
//! assert_eq!(site, "https://news.example");
//! assert_eq!(data::meta_keys(&site), ["place:https://news.example", "hints:https://news.example"]);
//! assert!(data::site("news.example").is_err());
//! ```

use crate::page::context_key;
use crate::protocol::{AllDataDeleted, SiteDataDeleted, TelemetryCleared};
use crate::resilience::fallback::ANSWER_PREFIX;

/// `input` as a normalised http(s) origin, or why it is not one (a
/// sentence for the user).
pub fn site(input: &str) -> Result<String, String> {
    if input.trim().is_empty() {
        return Err("enter a site, such as https://example.com".into());
    }
    crate::prefs::origin(input).map_err(|e| {
        format!(
            "{:?} {e}: enter a site such as https://example.com",
            input.trim()
        )
    })
}

/// The key prefixes of the context-cache entries that belong to `site`:
/// page contexts read on it (`ctx:<site>/…`, see [`context_key`]) and
/// answers about its pages (`answer:<site>#…`, see
/// [`crate::resilience::fallback::answer_key`]).
pub fn cache_prefixes(site: &str) -> [String; 2] {
    let page = context_key(&format!("{site}/"), "");
    let page = page.split_once('#').map_or(page.as_str(), |(p, _)| p);
    [page.to_string(), format!("{ANSWER_PREFIX}{site}#")]
}

/// The `meta` keys of the agent's state on `site`: where it sits and its
/// hint backoff.
pub fn meta_keys(site: &str) -> [String; 2] {
    [place_key(site), hints_key(site)]
}

/// The `meta` key of where the agent sits on `site`.
pub fn place_key(site: &str) -> String {
    format!("place:{site}")
}

/// What kind of `meta` record `key` is, for counting writes without the
/// site in the key: `place`, `hints` or `other`.
pub fn meta_kind(key: &str) -> &'static str {
    match key.split_once(':') {
        Some(("place", _)) => "place",
        Some(("hints", _)) => "hints",
        _ => "other",
    }
}

/// The `meta` key of the hint state on `site`.
pub fn hints_key(site: &str) -> String {
    format!("hints:{site}")
}

/// `sites` without `site`, when it was there (`None`: nothing to change).
pub fn without_site(sites: &[String], site: &str) -> Option<Vec<String>> {
    sites.iter().any(|s| s == site).then(|| {
        sites
            .iter()
            .filter(|s| s.as_str() != site)
            .cloned()
            .collect()
    })
}

/// `n` and the noun for it: "1 conversation", "2 conversations".
fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The sentence the options page shows after everything was deleted.
pub fn all_deleted_report(r: &AllDataDeleted) -> String {
    format!(
        "Deleted everything: {}, {}, {}, {}, {}, {}, {}{}. Paperclip is as freshly installed.",
        count(r.conversations, "conversation", "conversations"),
        count(
            r.cache_entries,
            "cached page or answer",
            "cached pages and answers"
        ),
        count(
            r.providers,
            "provider with its key",
            "providers with their keys"
        ),
        count(r.preferences, "preference", "preferences"),
        count(r.settings, "other setting", "other settings"),
        count(r.telemetry_rows, "telemetry record", "telemetry records"),
        count(
            r.export_batches,
            "telemetry batch waiting to be sent",
            "telemetry batches waiting to be sent"
        ),
        if r.quarantined > 0 {
            format!(
                ", {}",
                count(r.quarantined, "unreadable record", "unreadable records")
            )
        } else {
            String::new()
        },
    )
}

/// The sentence the options page shows after a site's data was deleted.
pub fn site_deleted_report(r: &SiteDataDeleted) -> String {
    format!(
        "Deleted the data of {}: {}, {}, {}{}.",
        r.site,
        count(r.conversations, "conversation", "conversations"),
        count(
            r.cache_entries,
            "cached page or answer",
            "cached pages and answers"
        ),
        count(
            r.settings,
            "setting (where Clippy sits, hints)",
            "settings (where Clippy sits, hints)"
        ),
        if r.hint_site {
            ", and removed it from the hint sites"
        } else {
            ""
        },
    )
}

/// The sentence the options page shows after telemetry was cleared.
pub fn telemetry_cleared_report(r: &TelemetryCleared) -> String {
    format!(
        "Cleared telemetry: {} and {}; what was collected in memory is gone too. Export settings are unchanged.",
        count(r.rows, "stored record", "stored records"),
        count(r.export_batches, "batch waiting to be sent", "batches waiting to be sent"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::PageSnapshot;
    use crate::resilience::fallback::answer_key;

    #[test]
    fn sites_are_validated_and_normalised() {
        assert_eq!(site("https://A.test:443/").unwrap(), "https://a.test");
        assert_eq!(
            site("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        for bad in [
            "",
            "  ",
            "a.test",
            "ftp://a.test",
            "https://a.test/page",
            "https://u@a.test",
        ] {
            let err = site(bad).unwrap_err();
            assert!(err.contains("https://example.com"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_cache_keys_of_a_site_start_with_its_prefixes() {
        let [pages, answers] = cache_prefixes("https://a.test");
        let ctx = context_key("https://a.test/doc?x#top", "<body>");
        assert!(ctx.starts_with(&pages), "{ctx} / {pages}");
        let page = PageSnapshot {
            url: "https://a.test/doc".into(),
            ..Default::default()
        };
        let answer = answer_key("why?", &page);
        assert!(answer.starts_with(&answers), "{answer} / {answers}");
        // Another port or a longer host is another site.
        for other in ["https://a.test:8443/doc", "https://a.test.evil/doc"] {
            assert!(!context_key(other, "").starts_with(&pages));
            let page = PageSnapshot {
                url: other.into(),
                ..Default::default()
            };
            assert!(!answer_key("why?", &page).starts_with(&answers));
        }
    }

    #[test]
    fn a_site_leaves_the_hint_list() {
        let sites = vec!["https://a.test".to_string(), "https://b.test".to_string()];
        assert_eq!(
            without_site(&sites, "https://a.test"),
            Some(vec!["https://b.test".to_string()])
        );
        assert_eq!(without_site(&sites, "https://c.test"), None);
    }

    #[test]
    fn reports_count_each_kind() {
        let all = AllDataDeleted {
            conversations: 3,
            cache_entries: 1,
            providers: 1,
            preferences: 2,
            ..Default::default()
        };
        assert_eq!(
            all_deleted_report(&all),
            "Deleted everything: 3 conversations, 1 cached page or answer, \
             1 provider with its key, 2 preferences, 0 other settings, \
             0 telemetry records, 0 telemetry batches waiting to be sent. \
             Paperclip is as freshly installed."
        );
        let site = SiteDataDeleted {
            site: "https://a.test".into(),
            conversations: 1,
            cache_entries: 2,
            settings: 1,
            hint_site: true,
        };
        assert_eq!(
            site_deleted_report(&site),
            "Deleted the data of https://a.test: 1 conversation, 2 cached pages and answers, \
             1 setting (where Clippy sits, hints), and removed it from the hint sites."
        );
        let t = TelemetryCleared {
            rows: 5,
            export_batches: 0,
        };
        assert!(telemetry_cleared_report(&t)
            .starts_with("Cleared telemetry: 5 stored records and 0 batches"));
    }

    #[test]
    fn meta_kinds_never_carry_the_site() {
        assert_eq!(meta_kind(&place_key("https://a.test")), "place");
        assert_eq!(meta_kind(&hints_key("https://a.test")), "hints");
        assert_eq!(meta_kind("usage.ledger"), "other");
        assert_eq!(meta_kind("placement:x"), "other");
    }
}
