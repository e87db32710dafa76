//! The agent's port: history when it opens, then streamed answers.
//!
//! [`serve`] checks that the port comes from the agent frame inside a tab,
//! sends the site's conversation ([`BgToAgent::History`]) and answers each
//! [`AgentToBg::Ask`]: the user's message is stored first, then the page is
//! read through the content script, and [`answering`] performs the steps
//! of the core's answer plan (`paperclip_core::answer`): the primary
//! provider, the fallback, a cached answer, then the offline answer, each
//! stored with its `AnswerSource`. The answer streams chunk by chunk and is
//! stored when complete (or as interrupted when the stream breaks or the
//! user stops it). An answer belongs to its conversation ([`running`]):
//! it goes on when the agent closes, and every agent showing the
//! conversation (the same site in two tabs) sees it and the questions.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use paperclip_core::answer::{self, AnswerSource, Outcome as Attempt};
use paperclip_core::conversation::{Conversation, Message, MessageStatus, Role};
use paperclip_core::data::{hints_key, place_key};
use paperclip_core::hints::{self, HintState, Outcome};
use paperclip_core::offline;
use paperclip_core::page::PageSnapshot;
use paperclip_core::pdf;
use paperclip_core::place::Place;
use paperclip_core::protocol::{
    self, Activated, AgentToBg, BgToAgent, ProtocolError, QuickAction, ToContent, AGENT_PORT,
};
use paperclip_core::provider::{prompt, ProviderConfig};
use paperclip_core::resilience::fallback::{answer_key, CachedAnswer, Degradation};
use paperclip_core::sender;
use paperclip_core::throttle::{Offer, Trailing};
use paperclip_platform as platform;
use paperclip_platform::timer::TimeoutFuture;
use wasm_bindgen::prelude::*;
use web_extensions_sys::Port;

use crate::cancel::Cancel;
use crate::store::Store;
use crate::telemetry;
use crate::{caller_of, store, to_content};
use paperclip_core::telemetry::span::{names, OpenSpan, SpanKind};

mod answering;
pub(crate) mod arrival;
mod device;
pub(crate) mod private;
pub(crate) mod queued;
mod running;
use answering::*;
use arrival::Pending;
use running::{catch_up, Running};

/// Pause between the chunks of a local answer, so it reads as it streams.
const CHUNK_PAUSE_MS: u32 = 12;
/// At most two position writes a second per agent.
const PLACE_SAVE_GAP_MS: f64 = 500.0;

thread_local! {
    /// Open agent sessions, removed when their port disconnects.
    static SESSIONS: RefCell<Vec<(usize, Rc<Session>)>> = const { RefCell::new(Vec::new()) };
    /// Where the agent was put, per site, written at most every
    /// [`PLACE_SAVE_GAP_MS`] whatever the number of agents or moves (held
    /// arrow keys report many times a second); a site's throttle is
    /// forgotten once idle, so this holds only the sites moved within the
    /// last gap. Keyed by site and by whether its window is private (the
    /// two keep their place apart).
    static PLACE_SAVES: RefCell<HashMap<(bool, String), Trailing<Place>>> = RefCell::new(HashMap::new());
    /// Where the latest answer came from.
    static LEVEL: Cell<Degradation> = const { Cell::new(Degradation::Normal) };
}

/// Where the latest answer came from in the fallback chain.
pub fn degradation() -> Degradation {
    LEVEL.with(Cell::get)
}

/// One open agent: its port, its tab and site, and the conversation it
/// shows.
struct Session {
    port: Port,
    tab_id: i32,
    site: String,
    /// In a private window: its data is kept in memory only ([`private`]).
    private: bool,
    conversation_id: RefCell<Option<String>>,
    closed: Cell<bool>,
}

impl Session {
    /// Where this agent's conversations, page contexts and agent state are
    /// kept (settings and providers always come from the main store).
    fn keep(&self) -> Result<Rc<Store>, ProtocolError> {
        private::keep(self.private)
    }

    fn send(&self, message: &BgToAgent) {
        self.post(&protocol::encode(message));
    }

    fn post(&self, wire: &str) {
        if !self.closed.get() && !platform::post(&self.port, wire) {
            self.closed.set(true);
        }
    }

    fn fail(&self, error: ProtocolError) {
        self.send(&BgToAgent::Failed { error });
    }
}

fn now_ms() -> f64 {
    paperclip_platform::clock::now_ms()
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Serves a newly connected port.
pub fn serve(port: Port) {
    let name = port.name();
    let (channel, token) = protocol::split_port_name(&name);
    let token = token.to_string();
    let checked = (|| {
        if channel != AGENT_PORT {
            return Err(ProtocolError::new(
                protocol::ErrorKind::UnknownType,
                format!("unknown port `{channel}`"),
            ));
        }
        let sender = port.sender().ok_or_else(|| {
            ProtocolError::new(protocol::ErrorKind::Forbidden, "port has no sender")
        })?;
        let caller = caller_of(&sender)?;
        let tab_id = sender::may_open_agent_port(&caller)?;
        // A private window's agent keeps nothing in the profile.
        let mut private = sender.tab().is_some_and(|t| t.incognito());
        let tab_url = sender.tab().and_then(|t| t.url());
        // The agent page of a PDF (`pdf.html?src=…`, which only the
        // extension opens: it is not web-accessible) serves that document.
        let document = match &caller {
            sender::Caller::ExtensionPage { page, .. } if page == pdf::PDF_PAGE => Some(
                document_of(sender.url().as_deref().unwrap_or_default())
                    .map_err(|e| ProtocolError::new(protocol::ErrorKind::Malformed, e))?,
            ),
            _ => None,
        };
        // A PDF from a private window (its page opened in a normal one,
        // where the browser cannot show it in the private one) stays
        // private: the flag can only make a session keep less.
        if document.is_some() {
            private |= sender
                .url()
                .and_then(|u| web_sys::Url::new(&u).ok())
                .and_then(|u| u.search_params().get("private"))
                .is_some_and(|p| p == "1");
        }
        Ok((tab_id, tab_url, private, document))
    })();
    let (tab_id, tab_url, private, document) = match checked {
        Ok(x) => x,
        Err(error) => {
            crate::errors::refused("agent port", &error);
            platform::post(&port, &protocol::encode(&BgToAgent::Failed { error }));
            port.disconnect();
            return;
        }
    };
    let inbox = hold_messages(&port);
    wasm_bindgen_futures::spawn_local(async move {
        // Only serve the agent frame its loader made: the loader confirms
        // the token it handed that frame over their private channel. A
        // frame some page embedded by itself (in any tab, activated or
        // not) has no token to present.
        let hello = match &document {
            Some(_) => Ok(Activated {}),
            None => to_content(tab_id, &ToContent::Hello { token })
                .await
                .and_then(|reply| protocol::decode_reply::<Activated>(&reply)),
        };
        if hello.is_err() {
            let error = ProtocolError::new(
                protocol::ErrorKind::Forbidden,
                "Clippy was not activated here. Use the toolbar button (or Alt+Shift+K) to show it.",
            );
            crate::errors::refused("agent port", &error);
            platform::post(&port, &protocol::encode(&BgToAgent::Failed { error }));
            port.disconnect();
            return;
        }
        crate::page::set_document(tab_id, document.clone());
        let site_url = document.as_deref().or(tab_url.as_deref());
        let site = match site_url.and_then(origin_of) {
            Some(site) => site,
            // Without host access the tab's URL is hidden: the page knows it.
            None => match read_page(tab_id, private).await {
                Ok(page) => origin_of(&page.url).unwrap_or_default(),
                Err(error) => {
                    platform::post(&port, &protocol::encode(&BgToAgent::Failed { error }));
                    port.disconnect();
                    return;
                }
            },
        };
        let session = Rc::new(Session {
            port: port.clone(),
            tab_id,
            site,
            private,
            conversation_id: RefCell::new(None),
            closed: Cell::new(false),
        });
        // Registered before the history is read, so that no message about
        // its conversation (an answer streaming from another tab) is missed.
        register(&session);
        let pending = arrival::take(tab_id);
        match &pending {
            Some(Pending::Arrival(protocol::Arrival::Open { conversation_id })) => {
                open_history(&session, conversation_id).await;
            }
            _ => send_history(&session).await,
        }
        send_place(&session).await;
        listen(&session, &inbox);
        match pending {
            None => offer_hint(&session).await,
            Some(pending) => arrival::start(session, pending).await,
        }
    });
}

/// The document a PDF agent page's address (`pdf.html?src=…`) names.
fn document_of(page_url: &str) -> Result<String, String> {
    let src = web_sys::Url::new(page_url)
        .ok()
        .and_then(|u| u.search_params().get("src"))
        .ok_or("the PDF page names no document")?;
    pdf::document_url(&src)
}

/// The open agents.
/// A handle on `session` (while its port is open) that does not keep it.
fn session_handle(session: &Session) -> Option<std::rc::Weak<Session>> {
    SESSIONS.with(|s| {
        s.borrow()
            .iter()
            .find(|(_, open)| std::ptr::eq(open.as_ref(), session))
            .map(|(_, open)| Rc::downgrade(open))
    })
}

fn sessions() -> Vec<Rc<Session>> {
    SESSIONS.with(|s| {
        s.borrow()
            .iter()
            .map(|(_, s)| s.clone())
            .filter(|s| !s.closed.get())
            .collect()
    })
}

fn origin_of(url: &str) -> Option<String> {
    let origin = web_sys::Url::new(url).ok()?.origin();
    (origin != "null").then_some(origin)
}

async fn send_history(session: &Session) {
    let result = async { session.keep()?.latest_for_site(&session.site).await }.await;
    match result {
        Ok(conversation) => show(session, conversation),
        Err(error) => session.fail(error),
    }
}

/// Shows conversation `id` of this site (opened from the popup), or the
/// site's latest when it is not there.
async fn open_history(session: &Session, id: &str) {
    let opened = async { open_own(&*session.keep()?, session, id).await }.await;
    match opened {
        Ok(conversation) => show(session, Some(conversation)),
        Err(_) => send_history(session).await,
    }
}

/// After data was deleted (everything, or `site`'s): the open agents of
/// those sites show an empty conversation, and the latest answer's level
/// is forgotten when everything went.
pub fn forget_conversations(site: Option<&str>) {
    if site.is_none() {
        LEVEL.with(|l| l.set(Degradation::Normal));
    }
    for session in sessions() {
        if site.is_none_or(|site| session.site == site) {
            show(&session, None);
        }
    }
}

/// Before data is deleted (everything, or `site`'s): the answers in
/// progress there stop and store nothing, and a place still waiting to be
/// written there is dropped.
pub fn discard_answers(site: Option<&str>) {
    running::discard(site);
    queued::forget_site(site);
    PLACE_SAVES.with(|saves| {
        saves
            .borrow_mut()
            .retain(|(_, s), _| site.is_some_and(|site| site != s))
    });
}

/// Tells the agent where the user last put it on this site.
async fn send_place(session: &Session) {
    let Ok(store) = session.keep() else { return };
    if let Ok(Some(place)) = store.meta_json::<Place>(&place_key(&session.site)).await {
        if place.validate().is_ok() {
            session.send(&BgToAgent::Place { place });
        }
    }
}

/// The user put the agent at `place`: remembered for this site, at most
/// every [`PLACE_SAVE_GAP_MS`] (the latest place wins, and the last one is
/// written when the gap has passed, whether or not the agent is still open).
fn place_moved(session: Rc<Session>, place: Place) {
    let place = match place.validate() {
        Ok(place) => place,
        Err(e) => {
            let error = ProtocolError::new(protocol::ErrorKind::Malformed, e.to_string());
            return session.fail(error);
        }
    };
    let now = now_ms();
    let offer = PLACE_SAVES.with(|saves| {
        let mut saves = saves.borrow_mut();
        saves.retain(|_, t| !t.is_idle(now));
        saves
            .entry((session.private, session.site.clone()))
            .or_insert_with(|| Trailing::new(PLACE_SAVE_GAP_MS))
            .offer(now, place)
    });
    match offer {
        Offer::Now(place) => save_place(session, place),
        Offer::Later {
            schedule: false, ..
        } => {}
        Offer::Later {
            at_ms,
            schedule: true,
        } => {
            let wait = (at_ms - now).clamp(0.0, PLACE_SAVE_GAP_MS) as u32;
            wasm_bindgen_futures::spawn_local(async move {
                TimeoutFuture::new(wait).await;
                let held = PLACE_SAVES.with(|saves| {
                    let mut saves = saves.borrow_mut();
                    saves
                        .get_mut(&(session.private, session.site.clone()))?
                        .fire(now_ms())
                });
                if let Some(place) = held {
                    save_place(session, place);
                }
            });
        }
    }
}

/// Writes where the user put the agent on this site.
fn save_place(session: Rc<Session>, place: Place) {
    wasm_bindgen_futures::spawn_local(async move {
        let saved = match session.keep() {
            Ok(store) => store.set_meta_json(&place_key(&session.site), &place).await,
            Err(error) => Err(error),
        };
        if let Err(error) = saved {
            session.fail(error);
        }
    });
}

/// Offers a hint when the user allowed hints on this site and the backoff
/// lets one through. Reading the page stays in the browser; nothing is
/// sent unless the user takes the hint. The hint counts as ignored until
/// the agent reports it taken.
async fn offer_hint(session: &Session) {
    let (Ok(settings), Ok(store)) = (store(), session.keep()) else {
        return;
    };
    if !hints::allowed(&settings.preferences(), &session.site) {
        return;
    }
    let key = hints_key(&session.site);
    let state: HintState = store
        .meta_json(&key)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    let (offer, mut state) = state.visit();
    if offer {
        if let Ok(page) = read_page(session.tab_id, session.private).await {
            if let Some(hint) = hints::suggest(&page) {
                session.send(&BgToAgent::Hint { hint });
                state = state.after(Outcome::Ignored);
            }
        }
    }
    let _ = store.set_meta_json(&key, &state).await;
}

/// Makes `conversation` (or a new one) the open one and sends it, with
/// the answer streaming there, if any.
fn show(session: &Session, conversation: Option<Conversation>) {
    *session.conversation_id.borrow_mut() = conversation.as_ref().map(|c| c.id.clone());
    let preferences = store().map(|s| s.preferences()).unwrap_or_default();
    let persistent = session.keep().is_ok_and(|s| s.persistent());
    session.send(&BgToAgent::History {
        conversation_id: conversation.as_ref().map(|c| c.id.clone()),
        site: session.site.clone(),
        messages: conversation.map(|c| c.messages).unwrap_or_default(),
        persistent,
        private: session.private,
        character: preferences.character,
        appearance: preferences.appearance(),
        actions: preferences.quick_actions,
    });
    queued::send_views(session);
    catch_up(session);
}

/// A conversation was just started on its site by agent `by`: every agent
/// of that site still showing a new, empty conversation shows this one, so
/// that two tabs of one site see each other's messages (a private window's
/// and a normal window's never share one).
fn adopt(by: &Session, conversation_id: &str, question: &Message) {
    for other in sessions() {
        if other.site == by.site
            && other.private == by.private
            && other.conversation_id.borrow().is_none()
        {
            let conversation = Conversation {
                messages: vec![question.clone()],
                ..Conversation::new(conversation_id.to_string(), by.site.clone(), now_ms())
            };
            show(&other, Some(conversation));
        }
    }
}

/// Sends the look the user chose, and their quick actions, to every open
/// agent.
pub(crate) fn appearance_changed() {
    let Ok(store) = store() else { return };
    let preferences = store.preferences();
    let message = BgToAgent::Appearance {
        appearance: preferences.appearance(),
        character: preferences.character,
        actions: preferences.quick_actions,
    };
    for session in sessions() {
        session.send(&message);
    }
}

/// Conversation `id`, if it belongs to this session's site.
async fn own(store: &Store, session: &Session, id: &str) -> Result<Conversation, ProtocolError> {
    store
        .get(id)
        .await?
        .filter(|c| c.site == session.site)
        .ok_or_else(|| ProtocolError::failed("no such conversation on this site"))
}

/// Conversation `id` of this site, opened by the user (an imported one
/// loses its mark: it is theirs from now on).
async fn open_own(
    store: &Store,
    session: &Session,
    id: &str,
) -> Result<Conversation, ProtocolError> {
    let c = own(store, session, id).await?;
    if !c.imported {
        return Ok(c);
    }
    store
        .open_conversation(id)
        .await?
        .ok_or_else(|| ProtocolError::failed("no such conversation on this site"))
}

/// Sends this site's conversations, newest first.
async fn send_conversations(session: &Session) -> Result<(), ProtocolError> {
    let store = session.keep()?;
    let query = protocol::ListConversations {
        limit: 50,
        filter: paperclip_core::query::Filter {
            site: Some(session.site.clone()),
            ..Default::default()
        },
        cursor: None,
    };
    let (items, _) = store.list(&query).await?;
    session.send(&BgToAgent::Conversations {
        items,
        current: session.conversation_id.borrow().clone(),
    });
    Ok(())
}

/// Handles the conversation-list messages (not while an answer is in
/// progress).
async fn manage(session: &Session, message: AgentToBg) -> Result<(), ProtocolError> {
    let store = session.keep()?;
    match message {
        AgentToBg::ListConversations {} => {}
        AgentToBg::DeleteConversation { ref id } if Running::of(id).is_some() => {
            return Err(ProtocolError::failed(
                "an answer is still streaming there; stop it or wait",
            ))
        }
        AgentToBg::OpenConversation { id: Some(id) } => {
            let conversation = open_own(&store, session, &id).await?;
            show(session, Some(conversation));
            return Ok(());
        }
        AgentToBg::OpenConversation { id: None } => {
            show(session, None);
            return Ok(());
        }
        AgentToBg::DeleteConversation { id } => {
            own(&store, session, &id).await?;
            store.delete(&id).await?;
            queued::forget_conversation(&id);
            let open = session.conversation_id.borrow().clone();
            if open.as_deref() == Some(id.as_str()) {
                show(session, None);
            }
        }
        _ => return Ok(()),
    }
    send_conversations(session).await
}

/// The agent's messages on one port: held from the moment the port
/// connects until its session is ready, so that none is lost while the
/// session is set up (the agent re-sends its question as soon as it sees the
/// history, which can be before the setup's last storage read finished).
enum Inbox {
    Waiting(Vec<JsValue>),
    Open(std::rc::Weak<Session>),
}

/// Listens to `port` at once, holding messages in the returned inbox.
fn hold_messages(port: &Port) -> Rc<RefCell<Inbox>> {
    let inbox = Rc::new(RefCell::new(Inbox::Waiting(Vec::new())));
    let on_message = {
        let inbox = inbox.clone();
        Closure::<dyn Fn(JsValue)>::new(move |message: JsValue| {
            let session = match &mut *inbox.borrow_mut() {
                Inbox::Waiting(held) => return held.push(message),
                Inbox::Open(session) => session.upgrade(),
            };
            if let Some(session) = session {
                handle(session, &message);
            }
        })
    };
    platform::listen(&port.on_message(), on_message);
    inbox
}

/// Serves one message from the agent.
fn handle(session: Rc<Session>, message: &JsValue) {
    match platform::decode_js::<AgentToBg>(message) {
        Ok(AgentToBg::Ask {
            id,
            text,
            action,
            context,
            custom,
        }) => {
            let asked = ask(session, Some(id), text, action, context, custom);
            wasm_bindgen_futures::spawn_local(asked);
        }
        Ok(
            m @ (AgentToBg::ListConversations {}
            | AgentToBg::OpenConversation { .. }
            | AgentToBg::DeleteConversation { .. }),
        ) => {
            wasm_bindgen_futures::spawn_local(async move {
                if let Err(error) = manage(&session, m).await {
                    session.fail(error);
                }
            });
        }
        Ok(AgentToBg::Preview { text }) => {
            wasm_bindgen_futures::spawn_local(async move {
                if let Err(error) = preview(&session, &text).await {
                    session.fail(error);
                }
            });
        }
        Ok(AgentToBg::Stop {}) => {
            let open = session.conversation_id.borrow().clone();
            if let Some(running) = open.as_deref().and_then(Running::of) {
                running.cancel.stop();
            }
        }
        Ok(AgentToBg::Place { place }) => place_moved(session, place),
        Ok(AgentToBg::HintTaken {}) => {
            wasm_bindgen_futures::spawn_local(async move {
                if let Ok(store) = session.keep() {
                    let state = HintState::default().after(Outcome::Taken);
                    let _ = store.set_meta_json(&hints_key(&session.site), &state).await;
                }
            });
        }
        Ok(AgentToBg::CancelQueued { question_id }) => {
            wasm_bindgen_futures::spawn_local(async move {
                if let Err(error) = queued::cancel(&session, &question_id).await {
                    session.fail(error);
                }
            });
        }
        Ok(AgentToBg::RetryQueued {}) => {
            wasm_bindgen_futures::spawn_local(async move { queued::retry(&session).await })
        }
        Ok(AgentToBg::OnDeviceDone {
            message_id,
            text,
            source_language,
            error,
        }) => device::done(&session, &message_id, text, source_language, error),
        Ok(AgentToBg::Continue { message_id }) => {
            wasm_bindgen_futures::spawn_local(continue_answer(session, message_id));
        }
        Ok(AgentToBg::Close {}) => {
            let tab = session.tab_id;
            wasm_bindgen_futures::spawn_local(async move {
                // A PDF's agent page is its tab: closing Clippy closes it.
                if crate::page::document(tab).is_some() {
                    let _ = platform::tabs::remove(tab).await;
                } else {
                    let _ = to_content(tab, &ToContent::Close {}).await;
                }
            });
        }
        Err(error) => session.fail(error),
    }
}

/// Opens `inbox` to `session`: the messages held so far are served in
/// order, later ones as they come.
fn listen(session: &Rc<Session>, inbox: &RefCell<Inbox>) {
    let held = std::mem::replace(
        &mut *inbox.borrow_mut(),
        Inbox::Open(Rc::downgrade(session)),
    );
    if let Inbox::Waiting(held) = held {
        for message in held {
            handle(session.clone(), &message);
        }
    }
}

/// Adds `session` to the open agents until its port closes.
fn register(session: &Rc<Session>) {
    // The session lives in SESSIONS until its port closes; the listeners
    // hold weak references, so nothing outlives the connection. An answer
    // in progress goes on without it (see `running`).
    let key = Rc::as_ptr(session) as usize;
    SESSIONS.with(|s| s.borrow_mut().push((key, session.clone())));
    let on_disconnect = {
        let session = Rc::downgrade(session);
        Closure::<dyn Fn(JsValue)>::new(move |_| {
            let private = session.upgrade().is_some_and(|session| {
                session.closed.set(true);
                session.private
            });
            SESSIONS.with(|s| s.borrow_mut().retain(|(k, _)| *k != key));
            if private {
                wasm_bindgen_futures::spawn_local(private::release_if_unused());
            }
        })
    };
    platform::listen(&session.port.on_disconnect(), on_disconnect);
}
