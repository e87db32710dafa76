//! The agent's port: history when it opens, then streamed answers.
//!
//! [`serve`] checks that the port comes from the agent frame inside a tab,
//! sends the site's conversation ([`BgToAgent::History`]) and answers each
//! [`AgentToBg::Ask`]: the user's message is stored first, then the page is
//! read through the content script; the first configured provider answers
//! (streamed from its server), or, when there is none or it fails before
//! any text arrived, the offline provider does (labelled as a fallback).
//! The answer streams chunk by chunk and is stored when complete (or stored
//! as interrupted when the stream or the agent goes away mid-answer).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use paperclip_core::answer::{self, AnswerSource, Outcome as Attempt};
use paperclip_core::conversation::{Conversation, Message, MessageStatus, Role};
use paperclip_core::hints::{self, HintState, Outcome};
use paperclip_core::offline;
use paperclip_core::page::PageSnapshot;
use paperclip_core::place::Place;
use paperclip_core::protocol::{
    self, Activated, AgentToBg, BgToAgent, ProtocolError, QuickAction, ToContent, AGENT_PORT,
};
use paperclip_core::provider::{prompt, ProviderConfig};
use paperclip_core::resilience::fallback::{answer_key, CachedAnswer, Degradation};
use paperclip_core::sender;
use paperclip_platform as platform;
use paperclip_platform::timer::TimeoutFuture;
use wasm_bindgen::prelude::*;
use web_extensions_sys::Port;

use crate::cancel::Cancel;
use crate::store::Store;
use crate::telemetry;
use crate::{caller_of, store, to_content};
use paperclip_core::telemetry::span::{names, OpenSpan, SpanKind};

/// Characters per streamed chunk, at least.
const CHUNK_CHARS: usize = 24;
/// Pause between chunks, so the answer reads as it streams.
const CHUNK_PAUSE_MS: u32 = 12;

thread_local! {
    /// Open agent sessions, removed when their port disconnects.
    static SESSIONS: RefCell<Vec<(usize, Rc<Session>)>> = const { RefCell::new(Vec::new()) };
    /// Where the latest answer came from.
    static LEVEL: Cell<Degradation> = const { Cell::new(Degradation::Normal) };
}

/// Where the latest answer came from in the fallback chain.
pub fn degradation() -> Degradation {
    LEVEL.with(Cell::get)
}

struct Session {
    port: Port,
    tab_id: i32,
    site: String,
    conversation_id: RefCell<Option<String>>,
    busy: Cell<bool>,
    closed: Cell<bool>,
    /// The stop signal of the answer in progress.
    cancel: RefCell<Rc<Cancel>>,
    /// The ask's `render` span: from its first text sent to the agent to
    /// the answer's end.
    render: RefCell<Option<OpenSpan>>,
}

impl Session {
    fn send(&self, message: &BgToAgent) {
        match message {
            BgToAgent::AnswerChunk { .. } if self.render.borrow().is_none() => {
                *self.render.borrow_mut() =
                    telemetry::child_of_current(names::RENDER, SpanKind::Internal);
            }
            BgToAgent::AnswerDone { .. } | BgToAgent::Failed { .. } | BgToAgent::Stopped {} => {
                if let Some(span) = self.render.borrow_mut().take() {
                    telemetry::end(span, None);
                }
            }
            _ => {}
        }
        if !platform::post(&self.port, &protocol::encode(message)) {
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
    let checked = (|| {
        if port.name() != AGENT_PORT {
            return Err(ProtocolError::new(
                protocol::ErrorKind::UnknownType,
                format!("unknown port `{}`", port.name()),
            ));
        }
        let sender = port.sender().ok_or_else(|| {
            ProtocolError::new(protocol::ErrorKind::Forbidden, "port has no sender")
        })?;
        let caller = caller_of(&sender)?;
        let tab_id = sender::may_open_agent_port(&caller)?;
        let tab_url = sender.tab().and_then(|t| t.url());
        Ok((tab_id, tab_url))
    })();
    let (tab_id, tab_url) = match checked {
        Ok(x) => x,
        Err(error) => {
            platform::post(&port, &protocol::encode(&BgToAgent::Failed { error }));
            port.disconnect();
            return;
        }
    };
    let inbox = hold_messages(&port);
    wasm_bindgen_futures::spawn_local(async move {
        // Only serve the agent in a tab where the user activated Clippy: a
        // page that embeds agent.html by itself has no loader to answer.
        let hello = to_content(tab_id, &ToContent::Hello {})
            .await
            .and_then(|reply| protocol::decode_reply::<Activated>(&reply));
        if hello.is_err() {
            let error = ProtocolError::new(
                protocol::ErrorKind::Forbidden,
                "Clippy was not activated in this tab",
            );
            platform::post(&port, &protocol::encode(&BgToAgent::Failed { error }));
            port.disconnect();
            return;
        }
        let site = match tab_url.as_deref().and_then(origin_of) {
            Some(site) => site,
            // Without host access the tab's URL is hidden: the page knows it.
            None => match read_page(tab_id).await {
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
            conversation_id: RefCell::new(None),
            busy: Cell::new(false),
            closed: Cell::new(false),
            cancel: RefCell::default(),
            render: RefCell::default(),
        });
        send_history(&session).await;
        send_place(&session).await;
        listen(&session, &inbox);
        let pending = crate::take_pending_action(tab_id);
        if pending.is_none() {
            offer_hint(&session).await;
        }
        if let Some(action) = pending {
            start_action(session, action).await;
        }
    });
}

/// Starts a quick action the user chose outside the agent (a context-menu
/// entry): "Ask about selection" waits for the question, the others ask.
async fn start_action(session: Rc<Session>, action: QuickAction) {
    match action {
        QuickAction::AskAboutSelection => session.send(&BgToAgent::Compose { action }),
        action => {
            let language = paperclip_platform::ui_language();
            let question = action.question("", &language);
            ask(session, None, question, Some(action), None).await;
        }
    }
}

/// Starts `action` in the agent already open in tab `tab_id`; false when
/// none is (the action then waits for the agent to connect).
pub(crate) fn start_in_open_agent(tab_id: i32, action: QuickAction) -> bool {
    let session = SESSIONS.with(|s| {
        s.borrow()
            .iter()
            .map(|(_, s)| s.clone())
            .find(|s| s.tab_id == tab_id && !s.closed.get())
    });
    let Some(session) = session else {
        return false;
    };
    wasm_bindgen_futures::spawn_local(start_action(session, action));
    true
}

fn origin_of(url: &str) -> Option<String> {
    let origin = web_sys::Url::new(url).ok()?.origin();
    (origin != "null").then_some(origin)
}

async fn send_history(session: &Session) {
    let result = async {
        let store = store()?;
        let conversation = store.latest_for_site(&session.site).await?;
        Ok::<_, ProtocolError>((conversation, store.persistent()))
    }
    .await;
    match result {
        Ok((conversation, persistent)) => show(session, conversation, persistent),
        Err(error) => session.fail(error),
    }
}

fn place_key(site: &str) -> String {
    format!("place:{site}")
}

fn hints_key(site: &str) -> String {
    format!("hints:{site}")
}

/// Tells the agent where the user last put it on this site.
async fn send_place(session: &Session) {
    let Ok(store) = store() else { return };
    if let Ok(Some(place)) = store.meta_json::<Place>(&place_key(&session.site)).await {
        if place.validate().is_ok() {
            session.send(&BgToAgent::Place { place });
        }
    }
}

/// Remembers where the user put the agent on this site.
async fn save_place(session: &Session, place: Place) -> Result<(), ProtocolError> {
    let place = place
        .validate()
        .map_err(|e| ProtocolError::new(protocol::ErrorKind::Malformed, e.to_string()))?;
    store()?
        .set_meta_json(&place_key(&session.site), &place)
        .await
}

/// Offers a hint when the user allowed hints on this site and the backoff
/// lets one through. Reading the page stays in the browser; nothing is
/// sent unless the user takes the hint. The hint counts as ignored until
/// the agent reports it taken.
async fn offer_hint(session: &Session) {
    let Ok(store) = store() else { return };
    if !hints::allowed(&store.preferences(), &session.site) {
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
        if let Ok(page) = read_page(session.tab_id).await {
            if let Some(hint) = hints::suggest(&page) {
                session.send(&BgToAgent::Hint { hint });
                state = state.after(Outcome::Ignored);
            }
        }
    }
    let _ = store.set_meta_json(&key, &state).await;
}

/// Makes `conversation` (or a new one) the open one and sends it.
fn show(session: &Session, conversation: Option<Conversation>, persistent: bool) {
    *session.conversation_id.borrow_mut() = conversation.as_ref().map(|c| c.id.clone());
    session.send(&BgToAgent::History {
        conversation_id: conversation.as_ref().map(|c| c.id.clone()),
        site: session.site.clone(),
        messages: conversation.map(|c| c.messages).unwrap_or_default(),
        persistent,
        character: store()
            .map(|s| s.preferences().character)
            .unwrap_or_default(),
    });
}

/// Conversation `id`, if it belongs to this session's site.
async fn own(store: &Store, session: &Session, id: &str) -> Result<Conversation, ProtocolError> {
    store
        .get(id)
        .await?
        .filter(|c| c.site == session.site)
        .ok_or_else(|| ProtocolError::failed("no such conversation on this site"))
}

/// Sends this site's conversations, newest first.
async fn send_conversations(session: &Session) -> Result<(), ProtocolError> {
    let store = store()?;
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
    let store = store()?;
    match message {
        AgentToBg::ListConversations {} => {}
        _ if session.busy.get() => {
            return Err(ProtocolError::failed(
                "an answer is still streaming; stop it or wait",
            ))
        }
        AgentToBg::OpenConversation { id: Some(id) } => {
            let conversation = own(&store, session, &id).await?;
            show(session, Some(conversation), store.persistent());
            return Ok(());
        }
        AgentToBg::OpenConversation { id: None } => {
            show(session, None, store.persistent());
            return Ok(());
        }
        AgentToBg::DeleteConversation { id } => {
            own(&store, session, &id).await?;
            store.delete(&id).await?;
            let open = session.conversation_id.borrow().clone();
            if open.as_deref() == Some(id.as_str()) {
                show(session, None, store.persistent());
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
        }) => {
            wasm_bindgen_futures::spawn_local(ask(session, Some(id), text, action, context));
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
        Ok(AgentToBg::Stop {}) => session.cancel.borrow().stop(),
        Ok(AgentToBg::Place { place }) => {
            wasm_bindgen_futures::spawn_local(async move {
                if let Err(error) = save_place(&session, place).await {
                    session.fail(error);
                }
            });
        }
        Ok(AgentToBg::HintTaken {}) => {
            wasm_bindgen_futures::spawn_local(async move {
                if let Ok(store) = store() {
                    let state = HintState::default().after(Outcome::Taken);
                    let _ = store.set_meta_json(&hints_key(&session.site), &state).await;
                }
            });
        }
        Ok(AgentToBg::Continue { message_id }) => {
            wasm_bindgen_futures::spawn_local(continue_answer(session, message_id));
        }
        Ok(AgentToBg::Close {}) => {
            let tab = session.tab_id;
            wasm_bindgen_futures::spawn_local(async move {
                let _ = to_content(tab, &ToContent::Close {}).await;
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
    // The session lives in SESSIONS until its port closes; the listeners
    // hold weak references, so nothing outlives the connection.
    let key = Rc::as_ptr(session) as usize;
    SESSIONS.with(|s| s.borrow_mut().push((key, session.clone())));
    let on_disconnect = {
        let session = Rc::downgrade(session);
        Closure::<dyn Fn(JsValue)>::new(move |_| {
            if let Some(session) = session.upgrade() {
                session.closed.set(true);
                session.cancel.borrow().stop();
            }
            SESSIONS.with(|s| s.borrow_mut().retain(|(k, _)| *k != key));
        })
    };
    platform::listen(&session.port.on_disconnect(), on_disconnect);
}

async fn read_page(tab_id: i32) -> Result<PageSnapshot, ProtocolError> {
    Ok(crate::page::read(tab_id).await?.0)
}

/// Runs `work` as the session's one answer in progress, with a fresh stop
/// signal; reports its error.
async fn exclusive(
    session: &Session,
    work: impl std::future::Future<Output = Result<(), ProtocolError>>,
) {
    if session.busy.replace(true) {
        return session.fail(ProtocolError::failed(
            "an answer is still streaming; stop it or wait",
        ));
    }
    *session.cancel.borrow_mut() = Rc::new(Cancel::default());
    if let Err(error) = work.await {
        session.fail(error);
    }
    session.busy.set(false);
}

async fn ask(
    session: Rc<Session>,
    id: Option<String>,
    text: String,
    action: Option<QuickAction>,
    context: Option<String>,
) {
    let text = text.trim().to_string();
    if text.is_empty() {
        return session.fail(ProtocolError::new(
            protocol::ErrorKind::Malformed,
            "the question is empty",
        ));
    }
    let id = id
        .filter(|id| protocol::valid_message_id(id))
        .unwrap_or_else(new_id);
    exclusive(&session, answer(&session, id, text, action, context)).await;
}

async fn continue_answer(session: Rc<Session>, message_id: String) {
    exclusive(&session, continuation(&session, message_id)).await;
}

/// One answer to produce: a new one, or the continuation of an interrupted
/// one (`partial`).
struct Job {
    conversation_id: String,
    message_id: String,
    question: String,
    action: Option<QuickAction>,
    /// Complete messages before the question.
    history: Vec<Message>,
    page: PageSnapshot,
    /// The interrupted answer's text, when continuing it.
    partial: Option<String>,
    /// The page context the user reviewed in the preview, sent verbatim.
    context: Option<String>,
}

/// Complete messages of conversation `id` before message `before` (all of
/// them when it is not there).
async fn history_before(store: &Store, id: Option<&str>, before: &str) -> Vec<Message> {
    let Some(id) = id else {
        return Vec::new();
    };
    store
        .get(id)
        .await
        .ok()
        .flatten()
        .map(|c| c.messages)
        .unwrap_or_default()
        .into_iter()
        .take_while(|m| m.id != before)
        .collect()
}

/// Tells the agent what asking `text` would send, and to whom.
async fn preview(session: &Session, text: &str) -> Result<(), ProtocolError> {
    let store = store()?;
    let page = read_page(session.tab_id).await?;
    let conversation_id = session.conversation_id.borrow().clone();
    let history = history_before(&store, conversation_id.as_deref(), "").await;
    let preferences = store.preferences();
    let context = prompt::context_for(
        preferences.personality.system_prompt(),
        &page.shared(&preferences.context),
        &history,
        text,
        prompt::DEFAULT_BUDGET_CHARS,
    );
    let destination = crate::providers::chain(&store)
        .await?
        .first()
        .map(|c| c.settings().label.clone());
    session.send(&BgToAgent::Preview {
        destination,
        context,
    });
    Ok(())
}

async fn answer(
    session: &Session,
    id: String,
    text: String,
    action: Option<QuickAction>,
    context: Option<String>,
) -> Result<(), ProtocolError> {
    let store = store()?;
    let conversation_id = session
        .conversation_id
        .borrow_mut()
        .get_or_insert_with(new_id)
        .clone();
    // The user's message is stored before anything else can fail; a
    // question re-sent after a lost connection (or retried) has the same
    // id, so it is stored once.
    let question = Message::complete(id, Role::User, text, now_ms());
    store
        .upsert_message(&conversation_id, &session.site, question.clone(), now_ms())
        .await?;
    session.send(&BgToAgent::Stored {
        message: question.clone(),
    });
    let history = history_before(&store, Some(&conversation_id), &question.id).await;
    // The ask is one trace: reading the page, then the chain (each
    // provider attempt is a child span).
    let mut trace = telemetry::root("ask");
    trace.set_attribute("action", action.map_or("typed", QuickAction::label));
    let gather = telemetry::child(&trace, "context.gather", SpanKind::Internal);
    let page = read_page(session.tab_id).await;
    telemetry::end(gather, page.as_ref().err().map(|e| e.message.as_str()));
    let job = Job {
        conversation_id,
        message_id: new_id(),
        question: question.text,
        action,
        history,
        page: page?,
        partial: None,
        context,
    };
    telemetry::event("ask.started", &[("ask", &job.message_id)]);
    telemetry::set_current(Some(&trace));
    let chain = telemetry::child(&trace, "answer.chain", SpanKind::Internal);
    let result = run_chain(session, &store, &job).await;
    telemetry::set_current(None);
    let failed = result.as_ref().err().map(|e| e.message.clone());
    telemetry::end(chain, failed.as_deref());
    trace.set_attribute("level", degradation().as_str());
    telemetry::end(trace, failed.as_deref());
    telemetry::count("ask.count", &[("level", degradation().as_str())], 1);
    result
}

async fn continuation(session: &Session, message_id: String) -> Result<(), ProtocolError> {
    let store = store()?;
    let conversation_id = session
        .conversation_id
        .borrow()
        .clone()
        .ok_or_else(|| ProtocolError::failed("there is no answer to continue"))?;
    let messages = store
        .get(&conversation_id)
        .await?
        .map(|c| c.messages)
        .unwrap_or_default();
    let found = answer::continuation(&messages, &message_id).map_err(ProtocolError::failed)?;
    let job = Job {
        conversation_id,
        message_id,
        question: messages[found.question].text.clone(),
        action: None,
        history: messages[..found.question].to_vec(),
        page: read_page(session.tab_id).await?,
        partial: Some(messages[found.answer].text.clone()),
        context: None,
    };
    run_chain(session, &store, &job).await
}

/// Performs the answer chain that `core::answer::Plan` decides: providers
/// in order, then an earlier answer, then the offline answer.
async fn run_chain(session: &Session, store: &Store, job: &Job) -> Result<(), ProtocolError> {
    let cancel = session.cancel.borrow().clone();
    let settings = crate::resilient::settings(store).await;
    let chain = crate::providers::chain(store).await?;
    let names = chain.iter().map(|c| c.settings().label.clone()).collect();
    let cache = answer::cache_allowed(
        settings.answer_cache_ttl_ms,
        job.partial.is_some(),
        job.context.is_some(),
    );
    let mut plan = answer::Plan::new(names, cache);
    loop {
        match plan.step() {
            answer::Step::Provider { index, source } => {
                match answer_with(session, store, &chain[index], &source, job, &cancel).await {
                    Attempt::Answered { .. } => return Ok(()),
                    Attempt::Stopped => plan.stop(),
                    Attempt::Failed(_) if cancel.is_stopped() => plan.stop(),
                    Attempt::Failed(why) => plan.failed(why),
                }
            }
            answer::Step::LookUpCache => {
                let cached = cached_answer(store, job).await;
                match cached {
                    Some(cached) => {
                        let (source, text) = plan.serve_cached(&cached, now_ms() as u64);
                        return stream_local(session, store, job, &source, &text).await;
                    }
                    None => plan.cache_missed(),
                }
            }
            answer::Step::Offline { source, preamble } => {
                let full = offline::answer(&job.question, job.action, &job.page);
                let text = format!("{}{full}", preamble.unwrap_or_default());
                let text = match &job.partial {
                    Some(partial) => offline::continuation(&text, partial).to_string(),
                    None => text,
                };
                return stream_local(session, store, job, &source, &text).await;
            }
            answer::Step::Stopped => {
                session.send(&BgToAgent::Stopped {});
                return Ok(());
            }
        }
    }
}

/// An earlier answer to the job's question about the same page, if one is
/// cached (a telemetry span and counter either way).
async fn cached_answer(store: &Store, job: &Job) -> Option<CachedAnswer> {
    let key = answer_key(&job.question, &job.page);
    let lookup = telemetry::child_of_current("cache.lookup", SpanKind::Internal);
    let cached = store
        .cache_get(&key, now_ms() as u64)
        .await
        .ok()
        .flatten()
        .and_then(|e| CachedAnswer::read(&e));
    telemetry::count(
        "answer_cache.lookups",
        &[("hit", if cached.is_some() { "true" } else { "false" })],
        1,
    );
    if let Some(mut lookup) = lookup {
        lookup.set_attribute("hit", cached.is_some());
        telemetry::end(lookup, None);
    }
    cached
}

/// Records where an answer came from (telemetry, and the level the options
/// page and the agent show).
async fn record_level(store: &Store, level: Degradation) {
    LEVEL.with(|l| l.set(level));
    telemetry::event("answer.level", &[("level", level.as_str())]);
    if level != Degradation::Normal {
        let row = crate::store::records::TelemetryRecord::event(
            "answer.degraded",
            &[("level", level.as_str())],
        );
        let _ = store.telemetry_add(&[row]).await;
    }
}

/// Streams `text` (made here, not by a provider) in chunks and stores it.
async fn stream_local(
    session: &Session,
    store: &Store,
    job: &Job,
    source: &AnswerSource,
    text: &str,
) -> Result<(), ProtocolError> {
    let cancel = session.cancel.borrow().clone();
    record_level(store, source.level).await;
    telemetry::event("answer.started", &[("ask", &job.message_id)]);
    session.send(&BgToAgent::AnswerStart {
        message_id: job.message_id.clone(),
        provider: source.provider.clone(),
        level: source.level,
    });
    let mut streamed = String::new();
    for chunk in offline::stream_chunks(text, CHUNK_CHARS) {
        if session.closed.get() || cancel.is_stopped() {
            break;
        }
        session.send(&BgToAgent::AnswerChunk {
            message_id: job.message_id.clone(),
            text: chunk.to_string(),
        });
        streamed.push_str(chunk);
        TimeoutFuture::new(CHUNK_PAUSE_MS).await;
    }
    let status = if streamed.len() == text.len() {
        MessageStatus::Complete
    } else {
        MessageStatus::Interrupted
    };
    store_answer(session, store, job, source, streamed, status, 0).await?;
    session.send(&BgToAgent::AnswerDone {
        message_id: job.message_id.clone(),
        status,
    });
    if status == MessageStatus::Complete {
        telemetry::event("answer.completed", &[("ask", &job.message_id)]);
    }
    Ok(())
}

/// Stores the answer's text (after the partial one it continues).
async fn store_answer(
    session: &Session,
    store: &Store,
    job: &Job,
    source: &AnswerSource,
    text: String,
    status: MessageStatus,
    tokens: u32,
) -> Result<(), ProtocolError> {
    let text = match &job.partial {
        Some(partial) => format!("{partial}{text}"),
        None => text,
    };
    let mut reply = Message {
        status,
        tokens,
        ..Message::complete(job.message_id.clone(), Role::Assistant, text, now_ms())
    };
    reply.set_source(source.clone());
    store
        .upsert_message(&job.conversation_id, &session.site, reply, now_ms())
        .await
        .map(|_| ())
}

/// Answers `job` with `config`, streaming its text; what the attempt
/// amounts to is decided by `core::answer::outcome`: a failure before any
/// text reached the user is returned (the chain moves on); once text has
/// streamed, a failure stores the answer as interrupted ("Continue" may
/// finish it) and is reported, never retried.
async fn answer_with(
    session: &Session,
    store: &Store,
    config: &ProviderConfig,
    source: &AnswerSource,
    job: &Job,
    cancel: &Cancel,
) -> Attempt {
    let preferences = store.preferences();
    // Only what the user allows leaves the browser.
    let page = job.page.shared(&preferences.context);
    let request = answer::request(&answer::Ask {
        system: preferences.personality.system_prompt(),
        page: &page,
        history: &job.history,
        question: &job.question,
        partial: job.partial.as_deref(),
        context: job.context.as_deref(),
    });
    let mut text = String::new();
    let mut started = false;
    let mut on_text = |piece: &str| {
        if !started {
            started = true;
            telemetry::event("answer.started", &[("ask", &job.message_id)]);
            session.send(&BgToAgent::AnswerStart {
                message_id: job.message_id.clone(),
                provider: source.provider.clone(),
                level: source.level,
            });
        }
        text.push_str(piece);
        session.send(&BgToAgent::AnswerChunk {
            message_id: job.message_id.clone(),
            text: piece.to_string(),
        });
        !session.closed.get()
    };
    let result = crate::resilient::stream(store, config, &request, cancel, &mut on_text).await;
    let usage = result.as_ref().ok().and_then(|done| done.usage);
    let outcome = answer::outcome(
        result.map(|_| ()).map_err(|f| f.error),
        started,
        cancel.is_stopped(),
    );
    let Attempt::Answered { status, error } = &outcome else {
        return outcome;
    };
    let status = *status;
    record_level(store, source.level).await;
    let tokens = usage.map_or(0, |(_, out)| u32::try_from(out).unwrap_or(u32::MAX));
    let stored = store_answer(session, store, job, source, text.clone(), status, tokens).await;
    if stored.is_ok() {
        if let Some((tokens_in, tokens_out)) = usage {
            let prices = crate::providers::prices(store).await;
            let usage = prices.usage(config.settings(), tokens_in, tokens_out);
            let _ = store.record_usage(&job.conversation_id, usage).await;
        }
        let ttl = crate::resilient::settings(store).await.answer_cache_ttl_ms;
        if answer::cacheable(status, ttl, job.context.is_some()) {
            let full = match &job.partial {
                Some(partial) => format!("{partial}{text}"),
                None => text,
            };
            let answer = CachedAnswer {
                text: full,
                provider: config.settings().label.clone(),
                answered_ms: now_ms() as u64,
            };
            let key = answer_key(&job.question, &job.page);
            let entry = answer.entry(key, &config.settings().id, now_ms() as u64, ttl);
            let _ = store.cache_put(entry, now_ms() as u64).await;
        }
    }
    if let Err(e) = stored {
        session.fail(e);
    }
    session.send(&BgToAgent::AnswerDone {
        message_id: job.message_id.clone(),
        status,
    });
    if status == MessageStatus::Complete {
        telemetry::event("answer.completed", &[("ask", &job.message_id)]);
    }
    if let Some(error) = error {
        session.fail(ProtocolError::failed(format!(
            "the answer stopped: {error}. Press Continue to finish it"
        )));
    }
    outcome
}
