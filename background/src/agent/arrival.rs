//! What an agent does when it appears, besides showing its site's latest
//! conversation: a quick action chosen in the context menu, a question
//! typed in the popup's "Ask Clippy" field, or a conversation opened from
//! the popup's recent list. It is held per tab ([`hold`]) until that tab's
//! agent connects, or given at once to the agent already open there.
//!
//! [`show`] is the popup's way in (`ActivateTab`): a conversation of
//! another site opens in a tab of that site, focused if the extension may
//! see one, or a new one.

use super::*;
use paperclip_core::protocol::Arrival;

/// What waits for a tab's agent.
pub(crate) enum Pending {
    /// A context-menu entry.
    Action(QuickAction),
    /// A context-menu entry of the user's own quick action (its name).
    Custom(String),
    /// From the popup.
    Arrival(Arrival),
}

thread_local! {
    static PENDING: RefCell<Vec<(i32, Pending)>> = const { RefCell::new(Vec::new()) };
}

/// Gives `pending` to the agent open in tab `tab_id`, or holds it until
/// one connects there.
pub(crate) fn hold(tab_id: i32, pending: Pending) {
    let Some(session) = sessions().into_iter().find(|s| s.tab_id == tab_id) else {
        return PENDING.with(|p| {
            let mut p = p.borrow_mut();
            p.retain(|(id, _)| *id != tab_id);
            p.push((tab_id, pending));
        });
    };
    wasm_bindgen_futures::spawn_local(async move {
        match pending {
            Pending::Arrival(Arrival::Open { conversation_id }) => {
                let opened = async {
                    let store = session.keep()?;
                    let conversation = open_own(&store, &session, &conversation_id).await?;
                    show(&session, Some(conversation));
                    Ok::<_, ProtocolError>(())
                }
                .await;
                if let Err(error) = opened {
                    session.fail(error);
                }
            }
            other => start(session, other).await,
        }
    });
}

/// Takes what waits for tab `tab_id`'s agent.
pub(super) fn take(tab_id: i32) -> Option<Pending> {
    PENDING.with(|p| {
        let mut p = p.borrow_mut();
        let at = p.iter().position(|(t, _)| *t == tab_id)?;
        Some(p.remove(at).1)
    })
}

/// Starts a quick action or asks a question in `session` (opening a
/// conversation happens with the history, in `serve`).
pub(super) async fn start(session: Rc<Session>, pending: Pending) {
    match pending {
        Pending::Action(QuickAction::AskAboutSelection) => session.send(&BgToAgent::Compose {
            action: QuickAction::AskAboutSelection,
        }),
        Pending::Action(action) => {
            let language = paperclip_platform::ui_language();
            let question = action.question("", &language);
            ask(session, None, question, Some(action), None, None).await;
        }
        Pending::Custom(name) => ask(session, None, name.clone(), None, None, Some(name)).await,
        Pending::Arrival(Arrival::Ask { question }) => {
            ask(session, None, question, None, None, None).await;
        }
        Pending::Arrival(Arrival::Open { .. }) => {}
    }
}

/// The popup's "Ask Clippy on this page" (with its question, or a recent
/// conversation to open): shows the agent in tab `tab_id`, or, for a
/// conversation of another site, in a tab of that site.
pub(crate) async fn show_agent(
    store: &Store,
    tab_id: i32,
    then: Option<Arrival>,
) -> Result<(), ProtocolError> {
    let Some(then) = then else {
        return crate::activate(tab_id).await;
    };
    let site = match &then {
        Arrival::Open { conversation_id } => store
            .get(conversation_id)
            .await?
            .map(|c| c.site)
            .ok_or_else(|| ProtocolError::failed("that conversation no longer exists"))?,
        Arrival::Ask { .. } => {
            hold(tab_id, Pending::Arrival(then));
            return crate::activate(tab_id).await;
        }
    };
    let here = platform::tabs::get(tab_id)
        .await
        .ok()
        .and_then(|t| t.url)
        .and_then(|u| origin_of(&u));
    if here.as_deref() == Some(site.as_str()) {
        hold(tab_id, Pending::Arrival(then));
        return crate::activate(tab_id).await;
    }
    // Another site: a tab of it the extension may see (it has access to
    // that site), else a new one, where the conversation opens as soon as
    // Clippy is shown (at once when the extension may act there).
    let pattern = format!("{site}/*");
    let open = platform::tabs::query(&[("url", pattern.as_str().into())])
        .await
        .unwrap_or_default();
    let tab = match open.into_iter().next() {
        Some(tab) => {
            platform::tabs::focus(&tab)
                .await
                .map_err(ProtocolError::failed)?;
            tab
        }
        None => platform::tabs::create(&site)
            .await
            .map_err(ProtocolError::failed)?,
    };
    hold(tab.id, Pending::Arrival(then));
    // Without access to the site the agent waits for the user's click on
    // the toolbar button there; that is not an error.
    let _ = crate::activate(tab.id).await;
    Ok(())
}
