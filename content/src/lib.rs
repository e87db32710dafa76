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

use std::rc::Rc;

use paperclip_core::chat::ChatState;
use paperclip_core::conversation::{MessageStatus, Role};
use paperclip_core::protocol::{self, AgentToBg, BgToAgent, QuickAction};
use paperclip_platform as platform;
use paperclip_ui::{Character, Mood};
use wasm_bindgen::prelude::*;
use platform::sys::Port;
use web_sys::HtmlTextAreaElement;
use yew::prelude::*;

/// The chat state as a Yew reducer.
#[derive(Default, PartialEq)]
struct Chat(ChatState);

enum Action {
    Bg(BgToAgent),
    Asked,
}

impl Reducible for Chat {
    type Action = Action;
    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = self.0.clone();
        match action {
            Action::Bg(m) => next.apply(m),
            Action::Asked => next.asked(),
        }
        Rc::new(Chat(next))
    }
}

#[function_component(App)]
fn app() -> Html {
    let chat = use_reducer(Chat::default);
    let port = use_state(|| None::<Port>);
    let input = use_node_ref();

    {
        let chat = chat.dispatcher();
        let port = port.setter();
        use_effect_with((), move |_| {
            let p = platform::connect_agent();
            let on_message = Closure::<dyn Fn(JsValue)>::new(move |m: JsValue| {
                match platform::decode_js::<BgToAgent>(&m) {
                    Ok(m) => chat.dispatch(Action::Bg(m)),
                    Err(error) => chat.dispatch(Action::Bg(BgToAgent::Failed { error })),
                }
            });
            platform::listen(&p.on_message(), on_message);
            port.set(Some(p));
        });
    }

    let send = {
        let port = port.clone();
        let chat = chat.clone();
        Callback::from(move |(text, action): (String, Option<QuickAction>)| {
            let text = text.trim().to_string();
            if text.is_empty() || !chat.0.can_send() {
                return;
            }
            if let Some(p) = port.as_ref() {
                platform::post(p, &protocol::encode(&AgentToBg::Ask { text, action }));
                chat.dispatch(Action::Asked);
            }
        })
    };
    let send_typed = {
        let send = send.clone();
        let input = input.clone();
        move || {
            if let Some(el) = input.cast::<HtmlTextAreaElement>() {
                let text = el.value();
                if !text.trim().is_empty() {
                    send.emit((text, None));
                    el.set_value("");
                }
            }
        }
    };
    let close = {
        let port = port.clone();
        Callback::from(move |_| {
            if let Some(p) = port.as_ref() {
                platform::post(p, &protocol::encode(&AgentToBg::Close {}));
            }
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
        let close = close.clone();
        Callback::from(move |e: KeyboardEvent| {
            if e.key() == "Enter" && !e.shift_key() {
                e.prevent_default();
                send_typed();
            } else if e.key() == "Escape" {
                close.emit(());
            }
        })
    };
    let quick = |action: QuickAction| {
        let send = send.clone();
        Callback::from(move |_| send.emit((action.prompt().to_string(), Some(action))))
    };

    let state = &chat.0;
    let mood = if state.error.is_some() {
        Mood::Alert
    } else if state.waiting {
        Mood::Thinking
    } else if state.is_streaming() {
        Mood::Speaking
    } else {
        Mood::Idle
    };
    let busy = !state.can_send();

    html! {
        <main class="agent">
            <header>
                <Character {mood} />
                <div class="balloon" aria-hidden="true">
                    { if !state.ready { "Connecting…" }
                      else if state.waiting { "Let me look at this page…" }
                      else if state.is_streaming() { "Here's what I found." }
                      else { "Hi! Ask me about this page." } }
                </div>
                <button class="close" aria-label="Close Clippy" onclick={close.reform(|_| ())}>{ "×" }</button>
            </header>
            if state.ready && !state.persistent {
                <p class="notice" role="status">{ "Storage is unavailable here: this conversation will not be saved." }</p>
            }
            <div class="log" role="log" aria-label="Conversation" aria-live="polite">
                { for state.messages.iter().map(|m| {
                    let role = match m.role { Role::User => "user", Role::Assistant => "assistant" };
                    let status = match m.status {
                        MessageStatus::Complete => "complete",
                        MessageStatus::Streaming => "streaming",
                        MessageStatus::Interrupted => "interrupted",
                    };
                    html! {
                        <div key={m.id.clone()} class={classes!("message", role, status)} data-status={status}>
                            if m.role == Role::Assistant && m.provider.as_deref() == Some("offline") {
                                <span class="label">{ "Offline answer · from this page" }</span>
                            }
                            <p class="text">{ m.text.clone() }</p>
                            if m.status == MessageStatus::Interrupted {
                                <span class="label">{ "Interrupted" }</span>
                            }
                        </div>
                    }
                }) }
            </div>
            if let Some(error) = &state.error {
                <p class="error" role="alert">{ error.clone() }</p>
            }
            <div class="quick">
                <button type="button" disabled={busy} onclick={quick(QuickAction::SummarizePage)}>{ "Summarize this page" }</button>
                <button type="button" disabled={busy} onclick={quick(QuickAction::ExplainSelection)}>{ "Explain selection" }</button>
            </div>
            <form class="ask" {onsubmit}>
                <textarea ref={input} aria-label="Ask Clippy" placeholder="Ask about this page…" rows="2" {onkeydown} />
                <button type="submit" disabled={busy}>{ "Send" }</button>
            </form>
        </main>
    }
}

/// Mounts the agent into `agent.html`.
#[wasm_bindgen(start)]
pub fn main() {
    console_error_panic_hook::set_once();
    yew::Renderer::<App>::new().render();
}
