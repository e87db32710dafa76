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

use gloo_timers::future::TimeoutFuture;
use paperclip_core::conversation::{Message, MessageStatus, Role};
use paperclip_core::offline;
use paperclip_core::page::PageSnapshot;
use paperclip_core::protocol::{
    self, Activated, AgentToBg, BgToAgent, ProtocolError, QuickAction, ToContent, AGENT_PORT,
};
use paperclip_core::sender;
use paperclip_platform as platform;
use wasm_bindgen::prelude::*;
use web_extensions_sys::Port;

use crate::{sender_info, store, to_content};

/// Characters per streamed chunk, at least.
const CHUNK_CHARS: usize = 24;
/// Pause between chunks, so the answer reads as it streams.
const CHUNK_PAUSE_MS: u32 = 12;

thread_local! {
    /// Open agent sessions, removed when their port disconnects.
    static SESSIONS: RefCell<Vec<(usize, Rc<Session>)>> = const { RefCell::new(Vec::new()) };
}

struct Session {
    port: Port,
    tab_id: i32,
    site: String,
    conversation_id: RefCell<Option<String>>,
    busy: Cell<bool>,
    closed: Cell<bool>,
}

impl Session {
    fn send(&self, message: &BgToAgent) {
        if !platform::post(&self.port, &protocol::encode(message)) {
            self.closed.set(true);
        }
    }

    fn fail(&self, error: ProtocolError) {
        self.send(&BgToAgent::Failed { error });
    }
}

fn now_ms() -> f64 {
    js_sys::Date::now()
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
        let caller = sender::identify(
            &platform::extension_id(),
            &platform::base_url(),
            &sender_info(&sender),
        )?;
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
        });
        send_history(&session).await;
        listen(&session);
        if crate::take_pending_selection(tab_id) {
            let action = QuickAction::ExplainSelection;
            ask(session, None, action.prompt().to_string(), Some(action)).await;
        }
    });
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
        Ok((conversation, persistent)) => {
            *session.conversation_id.borrow_mut() = conversation.as_ref().map(|c| c.id.clone());
            session.send(&BgToAgent::History {
                conversation_id: conversation.as_ref().map(|c| c.id.clone()),
                site: session.site.clone(),
                messages: conversation.map(|c| c.messages).unwrap_or_default(),
                persistent,
            });
        }
        Err(error) => session.fail(error),
    }
}

fn listen(session: &Rc<Session>) {
    let on_message = {
        let session = Rc::downgrade(session);
        Closure::<dyn Fn(JsValue)>::new(move |message: JsValue| {
            let Some(session) = session.upgrade() else {
                return;
            };
            match platform::decode_js::<AgentToBg>(&message) {
                Ok(AgentToBg::Ask { id, text, action }) => {
                    wasm_bindgen_futures::spawn_local(ask(session, Some(id), text, action));
                }
                Ok(AgentToBg::Close {}) => {
                    let tab = session.tab_id;
                    wasm_bindgen_futures::spawn_local(async move {
                        let _ = to_content(tab, &ToContent::Close {}).await;
                    });
                }
                Err(error) => session.fail(error),
            }
        })
    };
    // The session lives in SESSIONS until its port closes; the listeners
    // hold weak references, so nothing outlives the connection.
    let key = Rc::as_ptr(session) as usize;
    SESSIONS.with(|s| s.borrow_mut().push((key, session.clone())));
    let on_disconnect = {
        let session = Rc::downgrade(session);
        Closure::<dyn Fn(JsValue)>::new(move |_| {
            if let Some(session) = session.upgrade() {
                session.closed.set(true);
            }
            SESSIONS.with(|s| s.borrow_mut().retain(|(k, _)| *k != key));
        })
    };
    platform::listen(&session.port.on_message(), on_message);
    platform::listen(&session.port.on_disconnect(), on_disconnect);
}

async fn read_page(tab_id: i32) -> Result<PageSnapshot, ProtocolError> {
    let reply = to_content(tab_id, &ToContent::GetPageContext {}).await?;
    Ok(protocol::decode_reply::<PageSnapshot>(&reply)?.clamp())
}

async fn ask(session: Rc<Session>, id: Option<String>, text: String, action: Option<QuickAction>) {
    let text = text.trim().to_string();
    if text.is_empty() {
        return session.fail(ProtocolError::new(
            protocol::ErrorKind::Malformed,
            "the question is empty",
        ));
    }
    if session.busy.replace(true) {
        return session.fail(ProtocolError::failed(
            "an answer is still streaming; stop it or wait",
        ));
    }
    let id = id
        .filter(|id| protocol::valid_message_id(id))
        .unwrap_or_else(new_id);
    if let Err(error) = answer(&session, id, text, action).await {
        session.fail(error);
    }
    session.busy.set(false);
}

async fn answer(
    session: &Session,
    id: String,
    text: String,
    action: Option<QuickAction>,
) -> Result<(), ProtocolError> {
    let store = store()?;
    let conversation_id = session
        .conversation_id
        .borrow_mut()
        .get_or_insert_with(new_id)
        .clone();
    // The user's message is stored before anything else can fail; a
    // question re-sent after a lost connection has the same id, so it is
    // stored once.
    let question = Message::complete(id, Role::User, text, now_ms());
    store
        .upsert_message(&conversation_id, &session.site, question.clone(), now_ms())
        .await?;
    session.send(&BgToAgent::Stored {
        message: question.clone(),
    });

    let page = read_page(session.tab_id).await?;
    let message_id = new_id();
    // The fallback chain: the primary provider, the fallback provider, then
    // the offline answer. Each step is tried only if the one before failed
    // before any text reached the user.
    let mut fallback_note: Option<String> = None;
    for (step, config) in crate::providers::chain(&store).await?.iter().enumerate() {
        let label = if step == 0 {
            config.settings().label.clone()
        } else {
            format!("{} (fallback)", config.settings().label)
        };
        let turn = Turn {
            conversation_id: &conversation_id,
            message_id: &message_id,
            question: &question,
            page: &page,
        };
        match answer_with(session, &store, config, &label, turn).await {
            Ok(()) => return Ok(()),
            Err(error) => {
                fallback_note = Some(match fallback_note {
                    Some(earlier) => format!("{earlier}; {error}"),
                    None => error,
                })
            }
        }
    }
    // The offline provider: always there, and the last step of the fallback chain.
    let full = offline::answer(&question.text, action, &page);
    let provider = match &fallback_note {
        Some(_) => format!("{} (fallback)", offline::PROVIDER),
        None => offline::PROVIDER.to_string(),
    };
    session.send(&BgToAgent::AnswerStart {
        message_id: message_id.clone(),
        provider: provider.clone(),
    });
    let full = match &fallback_note {
        Some(why) => format!("{why}. Answering from the page instead:\n\n{full}"),
        None => full,
    };
    let mut streamed = String::new();
    for chunk in offline::stream_chunks(&full, CHUNK_CHARS) {
        if session.closed.get() {
            break;
        }
        session.send(&BgToAgent::AnswerChunk {
            message_id: message_id.clone(),
            text: chunk.to_string(),
        });
        streamed.push_str(chunk);
        TimeoutFuture::new(CHUNK_PAUSE_MS).await;
    }
    let status = if streamed.len() == full.len() {
        MessageStatus::Complete
    } else {
        MessageStatus::Interrupted
    };
    let reply = Message {
        id: message_id.clone(),
        role: Role::Assistant,
        text: streamed,
        time_ms: now_ms(),
        status,
        provider: Some(provider),
        tokens: 0,
    };
    store
        .upsert_message(&conversation_id, &session.site, reply, now_ms())
        .await?;
    session.send(&BgToAgent::AnswerDone { message_id });
    Ok(())
}

/// What one answer is for.
struct Turn<'a> {
    conversation_id: &'a str,
    message_id: &'a str,
    question: &'a Message,
    page: &'a PageSnapshot,
}

/// Answers with `config`, streaming its text. An error before any text
/// reached the user is returned (the caller falls back to the offline
/// answer); once text has streamed, a failure stores the answer as
/// interrupted and is reported, never retried.
async fn answer_with(
    session: &Session,
    store: &crate::store::Store,
    config: &paperclip_core::provider::ProviderConfig,
    label: &str,
    turn: Turn<'_>,
) -> Result<(), String> {
    let Turn {
        conversation_id,
        message_id,
        question,
        page,
    } = turn;
    let history = store
        .get(conversation_id)
        .await
        .ok()
        .flatten()
        .map(|c| c.messages)
        .unwrap_or_default();
    let earlier: Vec<Message> = history
        .into_iter()
        .filter(|m| m.id != question.id)
        .collect();
    let personality = store.preferences().personality;
    let request = paperclip_core::provider::prompt::build(
        personality.system_prompt(),
        page,
        &earlier,
        &question.text,
        paperclip_core::provider::prompt::DEFAULT_BUDGET_CHARS,
    );
    let label = label.to_string();
    let mut text = String::new();
    let mut started = false;
    let mut on_text = |piece: &str| {
        if !started {
            started = true;
            session.send(&BgToAgent::AnswerStart {
                message_id: message_id.to_string(),
                provider: label.clone(),
            });
        }
        text.push_str(piece);
        session.send(&BgToAgent::AnswerChunk {
            message_id: message_id.to_string(),
            text: piece.to_string(),
        });
        !session.closed.get()
    };
    let result = crate::resilient::stream(store, config, &request, &mut on_text).await;
    let (status, usage, failure) = match result {
        Ok(done) => (MessageStatus::Complete, done.usage, None),
        Err(f) if !f.streamed => return Err(f.error),
        Err(f) => (MessageStatus::Interrupted, None, Some(f.error)),
    };
    let reply = Message {
        id: message_id.to_string(),
        role: Role::Assistant,
        text,
        time_ms: now_ms(),
        status,
        provider: Some(label),
        tokens: usage.map_or(0, |(_, out)| out as u32),
    };
    let stored = store
        .upsert_message(conversation_id, &session.site, reply, now_ms())
        .await;
    if let (Some((tokens_in, tokens_out)), Ok(_)) = (usage, &stored) {
        let usage = paperclip_core::provider::price::PriceTable::defaults().usage(
            config.settings(),
            tokens_in,
            tokens_out,
        );
        let _ = store.record_usage(conversation_id, usage).await;
    }
    if let Err(e) = stored {
        session.fail(e);
    }
    session.send(&BgToAgent::AnswerDone {
        message_id: message_id.to_string(),
    });
    if let Some(error) = failure {
        session.fail(ProtocolError::failed(format!(
            "the answer stopped: {error}"
        )));
    }
    Ok(())
}
