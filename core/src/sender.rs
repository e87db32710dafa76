//! Who is speaking to the background: [`identify`] turns the browser's
//! `MessageSender` into a [`Caller`], and [`may_call`] / [`may_open_agent_port`]
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

/// Whether `caller` may make `request`. Content scripts run inside
/// untrusted pages and make no requests at all.
pub fn may_call(caller: &Caller, request: &Request) -> Result<(), ProtocolError> {
    match caller {
        Caller::ExtensionPage { .. } => Ok(()),
        Caller::ContentScript { .. } => Err(ProtocolError::new(
            ErrorKind::Forbidden,
            format!("content scripts may not send {}", request.name()),
        )),
    }
}

/// The page that hosts the agent's chat.
pub const AGENT_PAGE: &str = "agent.html";

/// Whether `caller` may open the agent's port; returns the tab it serves.
pub fn may_open_agent_port(caller: &Caller) -> Result<i32, ProtocolError> {
    match caller {
        Caller::ExtensionPage {
            page,
            tab_id: Some(tab),
        } if page == AGENT_PAGE => Ok(*tab),
        _ => Err(ProtocolError::new(
            ErrorKind::Forbidden,
            "only the agent frame inside a tab may open the agent port",
        )),
    }
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
    }
}
