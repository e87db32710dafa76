//! Who is speaking to the background: [`identify`] turns the browser's
//! `MessageSender` into a [`Caller`], and [`CAPABILITIES`], checked by
//! [`authorize`], says which caller may use which channel (requests, the
//! agent port, the telemetry port); [`may_call`] / [`may_open_agent_port`]
//! say what each caller may do.
//!
//! Extension pages (popup, options, devtools panel, the agent's iframe) are
//! privileged; content scripts are not; anything else, in particular a web
//! page or another extension, is refused.
//!
//! ```
//! use paperclip_core::sender::{identify, Caller, SenderInfo};
//! let me = "chrome-extension://abc/";
//! let popup = SenderInfo { id: Some("abc".into()), url: Some(format!("{me}popup.html")), ..Default::default() };
//! assert_eq!(identify("abc", me, &popup).unwrap(), Caller::ExtensionPage { page: "popup.html".into(), tab_id: None });
//! let page = SenderInfo { id: None, url: Some("https://evil.test/".into()), tab_id: Some(3), ..Default::default() };
//! assert!(identify("abc", me, &page).is_err());
//! ```

use serde::{Deserialize, Serialize};

use crate::protocol::{ErrorKind, ProtocolError, Request};

/// The fields of the browser's `runtime.MessageSender` that matter here.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct SenderInfo {
    /// Extension id of the sender.
    pub id: Option<String>,
    /// URL of the sending page or frame.
    pub url: Option<String>,
    /// Id of the sender's tab, when it is in one.
    pub tab_id: Option<i32>,
    /// Frame id within the tab.
    pub frame_id: Option<i32>,
}

/// A sender the background recognises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// One of the extension's own pages; `page` is its path, e.g. `popup.html`.
    ExtensionPage {
        /// Path below the extension root, without query or fragment.
        page: String,
        /// The tab the page lives in (the agent iframe's tab), if any.
        tab_id: Option<i32>,
    },
    /// The extension's content script in a web page.
    ContentScript {
        /// The tab.
        tab_id: i32,
        /// The frame (0 is the top frame).
        frame_id: i32,
    },
}

/// Classifies `sender` for the extension `own_id` whose pages live under
/// `own_base_url` (e.g. `chrome-extension://<id>/`, with the trailing slash).
pub fn identify(
    own_id: &str,
    own_base_url: &str,
    sender: &SenderInfo,
) -> Result<Caller, ProtocolError> {
    if sender.id.as_deref() != Some(own_id) {
        return Err(ProtocolError::new(
            ErrorKind::Forbidden,
            "messages from other extensions or web pages are not accepted",
        ));
    }
    let url = sender.url.as_deref().unwrap_or_default();
    if let Some(rest) = url.strip_prefix(own_base_url) {
        let page = rest.split(['?', '#']).next().unwrap_or_default();
        return Ok(Caller::ExtensionPage {
            page: page.to_string(),
            tab_id: sender.tab_id,
        });
    }
    match sender.tab_id {
        Some(tab_id) => Ok(Caller::ContentScript {
            tab_id,
            frame_id: sender.frame_id.unwrap_or(0),
        }),
        None => Err(ProtocolError::new(
            ErrorKind::Forbidden,
            "sender is neither an extension page nor a content script",
        )),
    }
}

/// A way into the background.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Channel<'a> {
    /// A one-shot [`Request`] (`runtime.sendMessage`).
    Request(&'a Request),
    /// A port opened with `runtime.connect`, by its name.
    Port(&'a str),
}

/// Who a [`Capability`] admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Any of the extension's own pages (popup, options, devtools panel,
    /// the agent's frame).
    ExtensionPages,
    /// One page of the extension, wherever it is loaded.
    Page(&'static str),
    /// One page of the extension, loaded inside a tab (the agent's frame:
    /// the tab is the page it serves).
    PageInTab(&'static str),
}

/// What a [`Capability`] opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opens {
    /// Every one-shot request.
    AllRequests,
    /// These one-shot requests (by [`Request::name`]).
    Requests(&'static [&'static str]),
    /// The port of this name.
    Port(&'static str),
}

impl Opens {
    /// Whether this opens `channel`.
    fn admits(self, channel: Channel<'_>) -> bool {
        match (self, channel) {
            (Opens::AllRequests, Channel::Request(_)) => true,
            (Opens::Requests(names), Channel::Request(r)) => names.contains(&r.name()),
            (Opens::Port(name), Channel::Port(wanted)) => name == wanted,
            _ => false,
        }
    }
}

/// The popup.
pub const POPUP_PAGE: &str = "popup.html";
/// The options page.
pub const OPTIONS_PAGE: &str = "options.html";
/// The devtools panel.
pub const PANEL_PAGE: &str = "panel.html";

/// What every extension page may send: a liveness check, its telemetry and
/// the look it applies.
const EVERY_PAGE: &[&str] = &["Ping", "RecordTelemetry", "GetAppearance"];
/// The popup: the recent conversations, "Ask Clippy on this page" (with
/// its question, or a conversation to open), its status line and "Clippy
/// on this site", and the usage today and this month.
const POPUP_REQUESTS: &[&str] = &[
    "ListConversations",
    "ActivateTab",
    "GetPopupStatus",
    "SetSiteAccess",
    "GetUsage",
];
/// The devtools panel: reading conversations, telemetry and storage health
/// (and the cleanup its storage section runs, resolving or muting error
/// groups, the session bundle, and its Storage tab's inspector: editing a
/// preference, listing and deleting context-cache entries).
const PANEL_REQUESTS: &[&str] = &[
    "ListConversations",
    "GetConversation",
    "ExportMarkdown",
    "QueryTelemetry",
    "GetErrorTriage",
    "SetErrorTriage",
    "GetSessionBundle",
    "GetStorageStatus",
    "RunMaintenance",
    "GetPreferences",
    "SetPreference",
    "ListCacheEntries",
    "DeleteCacheEntry",
];

/// One row of [`CAPABILITIES`]: `who` may use `opens`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capability {
    /// The channel.
    pub opens: Opens,
    /// Who may use it.
    pub who: Who,
}

/// Who may use which channel into the background: the one table the
/// background's three entry points (`onMessage`, the agent's port, the
/// telemetry port) consult through [`authorize`]. Each page gets what its
/// controls need and nothing more: the agent's frame, which renders
/// untrusted model output, has its port and its telemetry only; the popup
/// and the panel read and do what their buttons do; the options page
/// (settings, providers, import and export) may send every request. A
/// caller or channel not listed is refused; content scripts are listed
/// nowhere (they run inside untrusted pages and only answer the
/// background).
pub const CAPABILITIES: &[Capability] = &[
    Capability {
        opens: Opens::Requests(EVERY_PAGE),
        who: Who::ExtensionPages,
    },
    Capability {
        opens: Opens::Requests(POPUP_REQUESTS),
        who: Who::Page(POPUP_PAGE),
    },
    Capability {
        opens: Opens::Requests(PANEL_REQUESTS),
        who: Who::Page(PANEL_PAGE),
    },
    Capability {
        opens: Opens::AllRequests,
        who: Who::Page(OPTIONS_PAGE),
    },
    Capability {
        opens: Opens::Port(crate::protocol::AGENT_PORT),
        who: Who::PageInTab(AGENT_PAGE),
    },
    // The agent for a PDF, in an extension page of its own (the
    // browsers' PDF viewers let no extension script in).
    Capability {
        opens: Opens::Port(crate::protocol::AGENT_PORT),
        who: Who::PageInTab(crate::pdf::PDF_PAGE),
    },
    Capability {
        opens: Opens::Port(crate::protocol::TELEMETRY_PORT),
        who: Who::Page(PANEL_PAGE),
    },
];

/// What [`authorize`] grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    /// Who is speaking.
    pub caller: Caller,
    /// The tab the caller serves, for [`Who::PageInTab`] rows.
    pub tab_id: Option<i32>,
}

/// Identifies `sender` and checks [`CAPABILITIES`] for `channel`: the
/// background's entry points call only this.
pub fn authorize(
    own_id: &str,
    own_base_url: &str,
    sender: &SenderInfo,
    channel: Channel<'_>,
) -> Result<Granted, ProtocolError> {
    let caller = identify(own_id, own_base_url, sender)?;
    let tab_id = check(&caller, channel)?;
    Ok(Granted { caller, tab_id })
}

/// Checks [`CAPABILITIES`]: whether `caller` may use `channel`, and the tab
/// it serves for [`Who::PageInTab`] rows.
pub fn check(caller: &Caller, channel: Channel<'_>) -> Result<Option<i32>, ProtocolError> {
    if let Channel::Port(name) = channel {
        if !CAPABILITIES
            .iter()
            .any(|c| matches!(c.opens, Opens::Port(n) if n == name))
        {
            return Err(ProtocolError::new(
                ErrorKind::UnknownType,
                format!("unknown port `{name}`"),
            ));
        }
    }
    for row in CAPABILITIES.iter().filter(|c| c.opens.admits(channel)) {
        match (row.who, caller) {
            (Who::ExtensionPages, Caller::ExtensionPage { .. }) => return Ok(None),
            (Who::Page(want), Caller::ExtensionPage { page, .. }) if page == want => {
                return Ok(None)
            }
            (
                Who::PageInTab(want),
                Caller::ExtensionPage {
                    page,
                    tab_id: Some(tab),
                },
            ) if page == want => return Ok(Some(*tab)),
            _ => {}
        }
    }
    Err(refusal(caller, channel))
}

/// Why `caller` may not use `channel`.
fn refusal(caller: &Caller, channel: Channel<'_>) -> ProtocolError {
    let message = match (caller, channel) {
        (Caller::ContentScript { .. }, Channel::Request(r)) => {
            format!("content scripts may not send {}", r.name())
        }
        (_, Channel::Port(name)) if name == crate::protocol::AGENT_PORT => {
            "only the agent frame inside a tab may open the agent port".to_string()
        }
        (_, Channel::Port(name)) => format!("this sender may not open the `{name}` port"),
        (Caller::ExtensionPage { page, .. }, Channel::Request(r)) => {
            format!(
                "{page} may not send {} (it is not one of its controls)",
                r.name()
            )
        }
    };
    ProtocolError::new(ErrorKind::Forbidden, message)
}

/// Whether `caller` may make `request` ([`CAPABILITIES`]).
pub fn may_call(caller: &Caller, request: &Request) -> Result<(), ProtocolError> {
    check(caller, Channel::Request(request)).map(|_| ())
}

/// The page that hosts the agent's chat.
pub const AGENT_PAGE: &str = "agent.html";

/// Whether `caller` may open the agent's port; returns the tab it serves.
pub fn may_open_agent_port(caller: &Caller) -> Result<i32, ProtocolError> {
    let port = Channel::Port(crate::protocol::AGENT_PORT);
    check(caller, port)?.ok_or_else(|| refusal(caller, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Ping;

    const ID: &str = "abcdef";
    const BASE: &str = "moz-extension://1234-uuid/";

    fn sender(id: Option<&str>, url: &str, tab: Option<i32>) -> SenderInfo {
        SenderInfo {
            id: id.map(Into::into),
            url: Some(url.into()),
            tab_id: tab,
            frame_id: tab.map(|_| 0),
        }
    }

    #[test]
    fn classifies_senders() {
        assert_eq!(
            identify(
                ID,
                BASE,
                &sender(Some(ID), &format!("{BASE}agent.html?x=1"), Some(4))
            ),
            Ok(Caller::ExtensionPage {
                page: "agent.html".into(),
                tab_id: Some(4)
            })
        );
        assert_eq!(
            identify(ID, BASE, &sender(Some(ID), "https://site.test/a", Some(4))),
            Ok(Caller::ContentScript {
                tab_id: 4,
                frame_id: 0
            })
        );
        for bad in [
            sender(None, "https://site.test/", Some(1)),
            sender(Some("other"), &format!("{BASE}popup.html"), None),
            sender(Some(ID), "https://site.test/", None),
        ] {
            assert_eq!(
                identify(ID, BASE, &bad).unwrap_err().kind,
                ErrorKind::Forbidden
            );
        }
        // A look-alike prefix is not our origin.
        assert_eq!(
            identify(
                ID,
                BASE,
                &sender(Some(ID), "moz-extension://1234-uuid-evil/popup.html", None)
            )
            .unwrap_err()
            .kind,
            ErrorKind::Forbidden
        );
    }

    #[test]
    fn permissions() {
        let cs = Caller::ContentScript {
            tab_id: 1,
            frame_id: 0,
        };
        assert_eq!(
            may_call(&cs, &Request::Ping(Ping {})).unwrap_err().kind,
            ErrorKind::Forbidden
        );
        let popup = Caller::ExtensionPage {
            page: "popup.html".into(),
            tab_id: None,
        };
        assert!(may_call(&popup, &Request::Ping(Ping {})).is_ok());
        assert!(may_open_agent_port(&popup).is_err());
        assert!(may_open_agent_port(&cs).is_err());
        let agent = Caller::ExtensionPage {
            page: AGENT_PAGE.into(),
            tab_id: Some(9),
        };
        assert_eq!(may_open_agent_port(&agent), Ok(9));
        let pdf = Caller::ExtensionPage {
            page: crate::pdf::PDF_PAGE.into(),
            tab_id: Some(7),
        };
        assert_eq!(may_open_agent_port(&pdf), Ok(7));
        let pdf_in_no_tab = Caller::ExtensionPage {
            page: crate::pdf::PDF_PAGE.into(),
            tab_id: None,
        };
        assert!(may_open_agent_port(&pdf_in_no_tab).is_err());
    }

    #[test]
    fn one_table_for_every_channel() {
        use crate::protocol::{AGENT_PORT, TELEMETRY_PORT};
        let page = |p: &str, tab| sender(Some(ID), &format!("{BASE}{p}"), tab);
        let ping = Request::Ping(Ping {});
        let ask = |s: &SenderInfo, c| authorize(ID, BASE, s, c);
        // Ping: every extension page, no content script.
        for p in ["popup.html", "options.html", "panel.html", "agent.html"] {
            assert!(ask(&page(p, None), Channel::Request(&ping)).is_ok(), "{p}");
        }
        // Each page what its controls need.
        use crate::protocol::{
            ActivateTab, DeleteProvider, ExportBegin, GetUsage, ListConversations,
        };
        let list = Request::ListConversations(ListConversations::default());
        let export = Request::ExportBegin(ExportBegin {});
        let remove = Request::DeleteProvider(DeleteProvider { id: "p".into() });
        let activate = Request::ActivateTab(ActivateTab {
            tab_id: 4,
            then: None,
        });
        let usage = Request::GetUsage(GetUsage::default());
        for (p, request, allowed) in [
            ("agent.html", &usage, false),
            ("popup.html", &usage, true),
            ("options.html", &usage, true),
            ("panel.html", &usage, false),
            ("agent.html", &list, false),
            ("agent.html", &export, false),
            ("agent.html", &remove, false),
            ("popup.html", &list, true),
            ("popup.html", &activate, true),
            ("popup.html", &export, false),
            ("popup.html", &remove, false),
            ("panel.html", &list, true),
            ("panel.html", &remove, false),
            ("options.html", &export, true),
            ("options.html", &remove, true),
            ("bench.html", &list, false),
        ] {
            let got = ask(&page(p, Some(4)), Channel::Request(request));
            assert_eq!(got.is_ok(), allowed, "{p} {}: {got:?}", request.name());
            if let Err(e) = got {
                assert_eq!(e.kind, ErrorKind::Forbidden);
                assert!(
                    e.message.contains(p) && e.message.contains(request.name()),
                    "{}",
                    e.message
                );
            }
        }
        let script = sender(Some(ID), "https://site.test/", Some(3));
        let e = ask(&script, Channel::Request(&ping)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Forbidden);
        assert_eq!(e.message, "content scripts may not send Ping");
        // The agent port: agent.html inside a tab, and the tab it serves.
        let granted = ask(&page("agent.html", Some(7)), Channel::Port(AGENT_PORT)).unwrap();
        assert_eq!(granted.tab_id, Some(7));
        for refused in [
            page("agent.html", None),
            page("popup.html", Some(7)),
            script.clone(),
        ] {
            let e = ask(&refused, Channel::Port(AGENT_PORT)).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Forbidden, "{refused:?}");
        }
        // Deleting data: the options page only.
        use crate::protocol::{ClearTelemetry, DeleteAllData, DeleteSiteData};
        let wipe = [
            Request::DeleteAllData(DeleteAllData { confirm: true }),
            Request::DeleteSiteData(DeleteSiteData {
                site: "https://a.test".into(),
            }),
            Request::ClearTelemetry(ClearTelemetry {}),
        ];
        for request in &wipe {
            assert!(ask(&page("options.html", None), Channel::Request(request)).is_ok());
            for p in ["popup.html", "panel.html", "agent.html", "bench.html"] {
                let e = ask(&page(p, Some(4)), Channel::Request(request)).unwrap_err();
                assert_eq!(e.kind, ErrorKind::Forbidden, "{p} {}", request.name());
            }
            let e = ask(&script, Channel::Request(request)).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Forbidden);
        }
        // The telemetry port: the devtools panel only.
        assert!(ask(&page("panel.html", None), Channel::Port(TELEMETRY_PORT)).is_ok());
        assert!(ask(&page("agent.html", Some(7)), Channel::Port(TELEMETRY_PORT)).is_err());
        assert_eq!(
            ask(&script, Channel::Port(TELEMETRY_PORT))
                .unwrap_err()
                .kind,
            ErrorKind::Forbidden
        );
        // Unknown ports, and strangers, are refused.
        assert_eq!(
            ask(&page("panel.html", None), Channel::Port("other"))
                .unwrap_err()
                .kind,
            ErrorKind::UnknownType
        );
        let stranger = sender(Some("other"), &format!("{BASE}popup.html"), None);
        assert_eq!(
            ask(&stranger, Channel::Request(&ping)).unwrap_err().kind,
            ErrorKind::Forbidden
        );
    }
}
