//! The in-page Clippy agent: the chat that runs in `agent.html`, an
//! extension-origin iframe that the content script (`static/content/loader.js`)
//! puts inside a closed shadow root, so page scripts can read neither the
//! conversation nor what is typed, and strict page CSPs do not apply.
//!
//! [`App`] connects the agent port, folds every message into a
//! [`paperclip_core::chat::ChatState`] and renders it. The accessible names
//! `Ask Clippy` (textbox), `Send` (button) and `Conversation` (role=log) are
//! the end-to-end tests' contract.
#![forbid(unsafe_code)]

use std::cell::RefCell;

mod components;
mod device;
mod frame;
mod markdown;
mod stream;

use paperclip_platform::timer::{Interval, Timeout};
use std::rc::Rc;

use components::{
    Composer, Header, HintCard, OnDeviceCard, PreviewPanel, QuickActions, SiteConversations,
    Transcript,
};
use paperclip_core::character::{self, Direction, IdleVariant};
use paperclip_core::chat::ChatState;
use paperclip_core::link::{self, Effect, Received};
use paperclip_core::place::Place;
use paperclip_core::protocol::{self, AgentToBg, BgToAgent, Ping, QuickAction};
use paperclip_platform as platform;
use paperclip_ui::ErrorBoundary;
use platform::sys::Port;
use wasm_bindgen::prelude::*;
use web_sys::HtmlTextAreaElement;
use yew::prelude::*;

/// The chat state as a Yew reducer.
#[derive(Default, PartialEq)]
struct Chat(ChatState);

enum Action {
    Bg(BgToAgent),
    Asked,
    Disconnected,
    ClosePreview,
    CloseConversations,
    Compose(Option<QuickAction>),
    DismissHint,
    OnDeviceDone(String),
}

impl Reducible for Chat {
    type Action = Action;
    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = self.0.clone();
        match action {
            Action::Bg(m) => next.apply(m),
            Action::Asked => next.asked(),
            Action::Disconnected => next.disconnected(),
            Action::ClosePreview => next.close_preview(),
            Action::CloseConversations => next.close_conversations(),
            Action::Compose(action) => next.compose(action),
            Action::DismissHint => next.dismiss_hint(),
            Action::OnDeviceDone(id) => next.on_device_done(&id),
        }
        Rc::new(Chat(next))
    }
}

/// The agent's port, reconnected on demand after the worker stopped: the
/// core's [`link::Link`] decides; this performs its effects.
#[derive(Default)]
struct Link {
    port: Option<Port>,
    state: link::Link,
    /// Pings the background while an answer is awaited or streams
    /// (dropped to stop).
    keepalive: Option<Interval>,
}

thread_local! {
    /// When the answer in progress was asked (for `agent.time_to_first_text`).
    static ASKED_AT: std::cell::Cell<Option<f64>> = const { std::cell::Cell::new(None) };
}

/// How often the agent pings the background while an answer is in progress.
const KEEPALIVE_MS: u32 = 2_000;

/// Performs the link's effects.
fn perform(link: &Rc<RefCell<Link>>, chat: &UseReducerDispatcher<Chat>, effects: Vec<Effect>) {
    for effect in effects {
        match effect {
            Effect::Post(wire) => {
                let port = link.borrow().port.clone();
                let posted = port.is_some_and(|port| platform::post(&port, &wire));
                if !posted {
                    link.borrow_mut().port = None;
                    let again = link.borrow_mut().state.post_failed(wire);
                    perform(link, chat, again);
                }
            }
            Effect::Connect => connect(link.clone(), chat.clone()),
            Effect::KeepAwake => start_keepalive(link),
            Effect::LetSleep => link.borrow_mut().keepalive = None,
            Effect::Disconnected => chat.dispatch(Action::Disconnected),
        }
    }
}

/// Firefox suspends an event page on its idle timeout even while a port is
/// open and busy: port traffic does not count as activity, a runtime message
/// does. So while an answer is in progress the agent sends a `Ping` now and
/// every [`KEEPALIVE_MS`] (Chrome's worker is kept alive the same way).
fn start_keepalive(link: &Rc<RefCell<Link>>) {
    let ping = || {
        wasm_bindgen_futures::spawn_local(async {
            platform::notify(Ping {}).await;
        })
    };
    ping();
    link.borrow_mut().keepalive = Some(Interval::new(KEEPALIVE_MS, ping));
}

fn connect(link: Rc<RefCell<Link>>, chat: UseReducerDispatcher<Chat>) {
    let p = platform::connect_agent(&frame::known_token().unwrap_or_default());
    let on_message = {
        let link = link.clone();
        let chat = chat.clone();
        Closure::<dyn Fn(JsValue)>::new(move |m: JsValue| {
            match platform::decode_js::<BgToAgent>(&m) {
                Ok(m) => {
                    if let BgToAgent::Place { place } = m {
                        // Where the user left the agent on this site.
                        frame::place(place, false);
                    }
                    let received = match m {
                        BgToAgent::History { .. } => Received::History,
                        BgToAgent::AnswerDone { .. }
                        | BgToAgent::Failed { .. }
                        | BgToAgent::Stopped {} => Received::Answered,
                        _ => Received::Other,
                    };
                    if let BgToAgent::AnswerChunk { .. } = &m {
                        if let Some(asked) = ASKED_AT.with(|a| a.take()) {
                            paperclip_platform::telemetry::timing(
                                "agent.time_to_first_text",
                                &[],
                                paperclip_platform::clock::now_ms() - asked,
                            );
                        }
                    }
                    // Answer pieces are joined, one render per frame; any
                    // other message first hands over what waits.
                    if let BgToAgent::AnswerChunk { message_id, text } = m {
                        stream::push(message_id, text, &chat);
                        return;
                    }
                    stream::flush(&chat);
                    // The answer's end first (no reason to keep the
                    // background awake), the history after the chat has it
                    // (then a waiting question goes out).
                    if received == Received::Answered {
                        let effects = link.borrow_mut().state.received(received);
                        perform(&link, &chat, effects);
                    }
                    chat.dispatch(Action::Bg(m));
                    if received == Received::History {
                        let effects = link.borrow_mut().state.received(received);
                        perform(&link, &chat, effects);
                    }
                }
                Err(error) => chat.dispatch(Action::Bg(BgToAgent::Failed { error })),
            }
        })
    };
    let on_disconnect = {
        let link = link.clone();
        let this = p.clone();
        Closure::<dyn Fn(JsValue)>::new(move |_| {
            // A port replaced earlier may report its end late: only the
            // current port's end matters.
            if link.borrow().port.as_ref() != Some(&this) {
                return;
            }
            link.borrow_mut().port = None;
            let effects = link.borrow_mut().state.closed();
            perform(&link, &chat, effects);
        })
    };
    platform::listen(&p.on_message(), on_message);
    platform::listen(&p.on_disconnect(), on_disconnect);
    let mut l = link.borrow_mut();
    l.port = Some(p);
    l.state.connected();
}

/// Sends `message`, reconnecting first when the port has closed.
fn send_message(link: &Rc<RefCell<Link>>, chat: &UseReducerDispatcher<Chat>, message: &AgentToBg) {
    let asks = matches!(message, AgentToBg::Ask { .. } | AgentToBg::Continue { .. });
    if asks {
        ASKED_AT.with(|a| a.set(Some(paperclip_platform::clock::now_ms())));
        paperclip_platform::telemetry::count("agent.asks", &[], 1);
    }
    let effects = link
        .borrow_mut()
        .state
        .send(protocol::encode(message), asks);
    perform(link, chat, effects);
}

#[function_component(App)]
fn app() -> Html {
    let chat = use_reducer(Chat::default);
    let link = use_mut_ref(Link::default);
    let input = use_node_ref();

    {
        let chat = chat.dispatcher();
        let link = link.clone();
        // The port is opened once the loader's channel gave the token (a
        // frame no loader made connects without one and is refused, with
        // the reason shown).
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                frame::token().await;
                connect(link, chat);
            })
        });
    }

    let send = {
        let link = link.clone();
        let chat = chat.clone();
        Callback::from(
            move |(text, action, context): (String, Option<QuickAction>, Option<String>)| {
                let text = text.trim().to_string();
                if text.is_empty() || !chat.0.can_send() {
                    return;
                }
                let id = uuid::Uuid::new_v4().to_string();
                send_message(
                    &link,
                    &chat.dispatcher(),
                    &AgentToBg::Ask {
                        id,
                        text,
                        action,
                        context,
                        custom: None,
                    },
                );
                chat.dispatch(Action::Asked);
            },
        )
    };
    let send_typed = {
        let send = send.clone();
        let input = input.clone();
        let compose = chat.0.compose;
        move || {
            if let Some(el) = input.cast::<HtmlTextAreaElement>() {
                let text = el.value();
                if !text.trim().is_empty() {
                    match compose {
                        Some(action) => {
                            let question = action.question(&text, &platform::ui_language());
                            send.emit((question, Some(action), None));
                        }
                        None => send.emit((text, None, None)),
                    }
                    el.set_value("");
                }
            }
        }
    };
    let stop = {
        let link = link.clone();
        let chat = chat.dispatcher();
        Callback::from(move |_| send_message(&link, &chat, &AgentToBg::Stop {}))
    };
    let continue_answer = {
        let link = link.clone();
        let chat = chat.clone();
        Callback::from(move |message_id: String| {
            if !chat.0.can_send() {
                return;
            }
            send_message(
                &link,
                &chat.dispatcher(),
                &AgentToBg::Continue { message_id },
            );
            chat.dispatch(Action::Asked);
        })
    };
    let retry = {
        let link = link.clone();
        let chat = chat.clone();
        Callback::from(move |_| {
            let Some(question) = chat.0.retryable().cloned() else {
                return;
            };
            // The same id: the question is stored once, answered again.
            send_message(
                &link,
                &chat.dispatcher(),
                &AgentToBg::Ask {
                    id: question.id,
                    text: question.text,
                    action: None,
                    context: None,
                    custom: None,
                },
            );
            chat.dispatch(Action::Asked);
        })
    };
    // Questions that wait for the network: cancel one, or try now.
    let cancel_queued = {
        let link = link.clone();
        let chat = chat.dispatcher();
        Callback::from(move |question_id: String| {
            send_message(&link, &chat, &AgentToBg::CancelQueued { question_id })
        })
    };
    let retry_queued = {
        let link = link.clone();
        let chat = chat.dispatcher();
        Callback::from(move |_| send_message(&link, &chat, &AgentToBg::RetryQueued {}))
    };
    // The on-device task ended: the background gets its text or why not.
    let device_done = {
        let link = link.clone();
        let chat = chat.dispatcher();
        Callback::from(move |(message_id, result): components::DeviceDone| {
            let (text, source_language, error) = match result {
                Ok((text, source)) => (Some(text), source, None),
                Err(why) => (None, None, Some(why)),
            };
            send_message(
                &link,
                &chat,
                &AgentToBg::OnDeviceDone {
                    message_id: message_id.clone(),
                    text,
                    source_language,
                    error,
                },
            );
            chat.dispatch(Action::OnDeviceDone(message_id));
        })
    };
    let context_area = use_node_ref();
    let preview = {
        let (link, chat, input) = (link.clone(), chat.clone(), input.clone());
        Callback::from(move |_| {
            let text = input
                .cast::<HtmlTextAreaElement>()
                .map(|el| el.value())
                .unwrap_or_default();
            if chat.0.can_send() {
                send_message(&link, &chat.dispatcher(), &AgentToBg::Preview { text });
            }
        })
    };
    let send_previewed = {
        let (send, input, context_area) = (send.clone(), input.clone(), context_area.clone());
        Callback::from(move |_| {
            let context = context_area
                .cast::<HtmlTextAreaElement>()
                .map(|el| el.value());
            if let Some(el) = input.cast::<HtmlTextAreaElement>() {
                let text = el.value();
                if !text.trim().is_empty() {
                    send.emit((text, None, context));
                    el.set_value("");
                }
            }
        })
    };
    let close_preview = {
        let chat = chat.dispatcher();
        Callback::from(move |_| chat.dispatch(Action::ClosePreview))
    };
    let conversations = {
        let (link, chat) = (link.clone(), chat.clone());
        Callback::from(move |_| {
            if chat.0.conversations.is_some() {
                chat.dispatch(Action::CloseConversations);
            } else {
                send_message(&link, &chat.dispatcher(), &AgentToBg::ListConversations {});
            }
        })
    };
    let open_conversation = {
        let (link, chat) = (link.clone(), chat.clone());
        Callback::from(move |id: Option<String>| {
            if chat.0.can_send() {
                chat.dispatch(Action::CloseConversations);
                send_message(
                    &link,
                    &chat.dispatcher(),
                    &AgentToBg::OpenConversation { id },
                );
            }
        })
    };
    let delete_conversation = {
        let (link, chat) = (link.clone(), chat.clone());
        Callback::from(move |id: String| {
            if chat.0.can_send() {
                send_message(
                    &link,
                    &chat.dispatcher(),
                    &AgentToBg::DeleteConversation { id },
                );
            }
        })
    };
    let greeting = use_state(|| true);
    let idle = use_state(|| IdleVariant::Bob);
    let closing = use_state(|| false);
    let pointing = use_state(|| None::<Direction>);
    let place = use_mut_ref(Place::default);
    {
        // The content script reports where the agent sits (remembered per
        // site once a move ends) and what was highlighted on the page
        // (the character looks and points there for a moment).
        let (place, pointing, link, chat) = (
            place.clone(),
            pointing.setter(),
            link.clone(),
            chat.dispatcher(),
        );
        let stop_pointing = Rc::new(RefCell::new(None::<Timeout>));
        use_effect_with((), move |_| {
            frame::listen(move |message| match message {
                frame::FromPage::Placed { place: at, save } => {
                    *place.borrow_mut() = at;
                    if save {
                        send_message(&link, &chat, &AgentToBg::Place { place: at });
                    }
                }
                frame::FromPage::Look { dx, dy } => {
                    let Some(direction) = Direction::toward(dx, dy) else {
                        return;
                    };
                    pointing.set(Some(direction));
                    let pointing = pointing.clone();
                    *stop_pointing.borrow_mut() =
                        Some(Timeout::new(character::POINT_MS, move || {
                            pointing.set(None)
                        }));
                }
            });
        });
    }
    let covered = use_state(frame::covered);
    {
        let covered = covered.setter();
        use_effect_with((), move |_| {
            let listener = frame::on_covered(move |c| covered.set(c));
            move || drop(listener)
        });
    }
    let drag = use_mut_ref(|| None::<(i32, i32)>);
    let on_handle_down = {
        let drag = drag.clone();
        Callback::from(move |e: PointerEvent| {
            if e.button() != 0 {
                return;
            }
            if let Some(el) = e.target_dyn_into::<web_sys::Element>() {
                let _ = el.set_pointer_capture(e.pointer_id());
            }
            *drag.borrow_mut() = Some((e.screen_x(), e.screen_y()));
        })
    };
    let on_handle_move = {
        let (drag, place) = (drag.clone(), place.clone());
        Callback::from(move |e: PointerEvent| {
            let mut drag = drag.borrow_mut();
            let Some((x, y)) = *drag else { return };
            let (sx, sy) = (e.screen_x(), e.screen_y());
            *drag = Some((sx, sy));
            let at = place.borrow().moved(sx - x, sy - y);
            *place.borrow_mut() = at;
            frame::place(at, false);
        })
    };
    let on_handle_up = {
        let (drag, place) = (drag.clone(), place.clone());
        Callback::from(move |_: PointerEvent| {
            if drag.borrow_mut().take().is_some() {
                frame::place(*place.borrow(), true);
            }
        })
    };
    let on_handle_key = {
        let place = place.clone();
        Callback::from(move |e: KeyboardEvent| {
            let nudged = place.borrow().nudged(&e.key());
            if let Some(at) = nudged {
                e.prevent_default();
                *place.borrow_mut() = at;
                frame::place(at, true);
            }
        })
    };
    {
        // The greeting plays once the chat is ready; then an idle variation,
        // picked by weight, every few seconds.
        let (greeting, idle) = (greeting.clone(), idle.clone());
        use_effect_with(chat.0.ready, move |ready| {
            let timers = ready.then(|| {
                let greeted = Timeout::new(character::GREETING_MS, move || greeting.set(false));
                let rotate = Interval::new(character::IDLE_MS, move || {
                    idle.set(character::pick_idle(js_sys::Math::random()));
                });
                (greeted, rotate)
            });
            move || drop(timers)
        });
    }
    let close = {
        let link = link.clone();
        let chat = chat.dispatcher();
        let closing = closing.clone();
        Callback::from(move |_| {
            // Wave goodbye, then go.
            closing.set(true);
            let (link, chat) = (link.clone(), chat.clone());
            Timeout::new(character::GOODBYE_MS, move || {
                send_message(&link, &chat, &AgentToBg::Close {})
            })
            .forget();
        })
    };
    let onsubmit = {
        let send_typed = send_typed.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            send_typed();
        })
    };
    let onkeydown = {
        let (close, stop, chat) = (close.clone(), stop.clone(), chat.clone());
        Callback::from(move |e: KeyboardEvent| {
            if e.key() == "Enter" && !e.shift_key() {
                e.prevent_default();
                send_typed();
            } else if e.key() == "Escape" {
                e.prevent_default();
                // Escape stops an answer in progress, else closes Clippy.
                if chat.0.can_send() || !chat.0.ready {
                    close.emit(());
                } else {
                    stop.emit(());
                }
            }
        })
    };
    let quick = {
        let send = send.clone();
        Callback::from(move |action: QuickAction| {
            let question = action.question("", &platform::ui_language());
            send.emit((question, Some(action), None))
        })
    };
    // One of the user's own actions: the background fills its prompt from
    // the page (the name is what is sent).
    let custom = {
        let (link, chat) = (link.clone(), chat.clone());
        Callback::from(move |name: String| {
            if !chat.0.can_send() {
                return;
            }
            send_message(
                &link,
                &chat.dispatcher(),
                &AgentToBg::Ask {
                    id: uuid::Uuid::new_v4().to_string(),
                    text: name.clone(),
                    action: None,
                    context: None,
                    custom: Some(name),
                },
            );
            chat.dispatch(Action::Asked);
        })
    };
    let ask_about_selection = {
        let (chat, input) = (chat.dispatcher(), input.clone());
        Callback::from(move |_| {
            chat.dispatch(Action::Compose(Some(QuickAction::AskAboutSelection)));
            if let Some(el) = input.cast::<web_sys::HtmlElement>() {
                let _ = el.focus();
            }
        })
    };
    let take_hint = {
        let (send, link, chat) = (send.clone(), link.clone(), chat.clone());
        Callback::from(move |_| {
            let Some(hint) = chat.0.hint.clone() else {
                return;
            };
            send_message(&link, &chat.dispatcher(), &AgentToBg::HintTaken {});
            if hint.action == QuickAction::AskAboutSelection {
                chat.dispatch(Action::Compose(Some(hint.action)));
                chat.dispatch(Action::DismissHint);
            } else {
                let question = hint.action.question("", &platform::ui_language());
                send.emit((question, Some(hint.action), None));
            }
        })
    };
    let dismiss_hint = {
        let chat = chat.dispatcher();
        Callback::from(move |_| chat.dispatch(Action::DismissHint))
    };
    let cancel_compose = {
        let chat = chat.dispatcher();
        Callback::from(move |_| chat.dispatch(Action::Compose(None)))
    };
    {
        // Marks for `cargo xtask bench agent`: first drawn, then ready.
        use_effect_with((), |_| mark("paperclip-agent-visible"));
        use_effect_with(chat.0.ready, |ready| {
            if *ready {
                mark("paperclip-agent-ready");
            }
        });
    }
    {
        // Focus the input when the chat is ready, and when a quick action
        // waits for the user's words.
        let input = input.clone();
        use_effect_with((chat.0.ready, chat.0.compose), move |_| {
            if let Some(el) = input.cast::<web_sys::HtmlElement>() {
                let _ = el.focus();
            }
        });
    }

    // The user's look, once the background said it (until then, the one
    // saved by the last page).
    use_effect_with((chat.0.ready, chat.0.appearance), |(ready, appearance)| {
        if *ready {
            paperclip_ui::live::apply(appearance);
        }
    });
    let state = &chat.0;
    let animation = character::animation(
        &character::View {
            ready: state.ready,
            greeting: *greeting,
            closing: *closing,
            waiting: state.waiting,
            streaming: state.is_streaming(),
            error: state.error.is_some(),
            level: state.level,
            pointing: *pointing,
        },
        *idle,
    );
    let busy = !state.can_send();
    let continuable = state.continuable().map(|m| m.id.clone());
    let retryable = state.retryable().is_some();

    html! {
        <main class="agent">
            <Header {animation} look={state.look} balloon={components::balloon(state, animation)}
                conversations_open={state.conversations.is_some()} {busy}
                {on_handle_down} {on_handle_move} {on_handle_up} {on_handle_key}
                on_conversations={conversations} on_new={open_conversation.reform(|_| None)}
                on_close={close} />
            if let Some((items, current)) = &state.conversations {
                <ErrorBoundary name="agent.conversations">
                    <SiteConversations items={items.clone()} current={current.clone()} {busy}
                        on_open={open_conversation} on_delete={delete_conversation} />
                </ErrorBoundary>
            }
            if let Some(url) = frame::document() {
                <p class="pdf-document">
                    { "Asking about the PDF " }
                    <a href={url.clone()} target="_blank" rel="noopener noreferrer">
                        { paperclip_core::pdf::file_name(&url) }
                    </a>
                </p>
            }
            if *covered {
                <p class="notice covered" role="status">
                    { "Something on this page covers Clippy or makes it see-through, so it ignores clicks and keys. Move it clear (drag ✥ or use the arrow keys on it) to go on." }
                </p>
            }
            if let Some(label) = state.level.label() {
                <p class="degraded" role="status" data-level={state.level.as_str()}>
                    { format!("Degraded: {label}. Your providers are failing; see Options.") }
                </p>
            }
            if state.ready && state.private {
                <p class="notice private" role="status">{ paperclip_core::activation::PRIVATE_WINDOW }</p>
            } else if state.ready && !state.persistent {
                <p class="notice" role="status">{ "Storage is unavailable here: this conversation will not be saved." }</p>
            }
            <ErrorBoundary name="agent.transcript">
                <Transcript messages={state.messages.clone()} {continuable} on_continue={continue_answer} site={state.site.clone()} />
            </ErrorBoundary>
            if let Some(error) = &state.error {
                <p class="error" role="alert">{ error.clone() }</p>
            }
            if retryable {
                <button type="button" class="retry" onclick={retry}>{ "Retry" }</button>
            }
            if !state.queued.is_empty() {
                <section class="queued" aria-label="Questions waiting for the network">
                    <p class="queued-title" role="status">{ match state.queued.len() {
                        1 => "1 question waits for the network:".to_string(),
                        n => format!("{n} questions wait for the network:"),
                    } }</p>
                    <ul>
                        { for state.queued.iter().map(|q| {
                            let cancel = cancel_queued.reform({
                                let id = q.question_id.clone();
                                move |_| id.clone()
                            });
                            html! {
                                <li key={q.question_id.clone()}>
                                    <span class="excerpt">{ format!("“{}” → {}", q.excerpt, q.provider) }</span>
                                    <button type="button" class="cancel-queued" onclick={cancel}
                                        aria-label={format!("Cancel waiting question “{}”", q.excerpt)}>{ "Cancel" }</button>
                                </li>
                            }
                        }) }
                    </ul>
                    <button type="button" class="retry-queued" onclick={retry_queued}>{ "Try now" }</button>
                </section>
            }
            if let Some((id, task, offer_download)) = &state.on_device {
                <OnDeviceCard key={id.clone()} message_id={id.clone()} task={task.clone()}
                    offer_download={*offer_download} on_done={device_done} />
            }
            if let Some(hint) = &state.hint {
                <HintCard hint={hint.clone()} {busy} on_take={take_hint} on_dismiss={dismiss_hint} />
            }
            <ErrorBoundary name="agent.quick-actions">
                <QuickActions {busy} on_action={quick} on_ask_about_selection={ask_about_selection}
                    actions={state.actions.clone()} on_custom={custom}
                    composing={state.compose == Some(QuickAction::AskAboutSelection)}
                    on_cancel_compose={cancel_compose} />
            </ErrorBoundary>
            if let Some(p) = &state.preview {
                <PreviewPanel preview={p.clone()} {busy} {context_area}
                    on_send={send_previewed} on_cancel={close_preview} />
            }
            <Composer {input} composing={state.compose.is_some()} {busy} ready={state.ready}
                on_submit={onsubmit} on_keydown={onkeydown} on_preview={preview} on_stop={stop} />
        </main>
    }
}

/// `performance.mark(name)`, once per name.
fn mark(name: &str) {
    platform::clock::mark_once(name);
}

/// Mounts the agent into `agent.html`.
#[wasm_bindgen(start)]
pub fn main() {
    // For `cargo xtask bench agent`: the wasm is compiled and running.
    mark("paperclip-agent-start");
    // Panics become error records in the background's telemetry.
    paperclip_ui::install_panic_hook("agent");
    // The look arrives with the history (and `BgToAgent::Appearance`).
    paperclip_ui::live::apply_saved();
    yew::Renderer::<App>::new().render();
}
