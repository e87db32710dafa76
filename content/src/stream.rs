//! Answer text arrives in many small pieces (a hostile provider may send
//! thousands a second). Folding each into the chat would re-render and
//! re-parse the answer's Markdown once per piece and freeze the agent, so
//! pieces of one answer are joined here and handed to the chat at most once
//! per animation frame; any other message first hands over what waits, so
//! the order never changes.

use std::cell::{Cell, RefCell};

use paperclip_core::protocol::BgToAgent;
use wasm_bindgen::prelude::*;
use yew::UseReducerDispatcher;

use crate::{Action, Chat};

thread_local! {
    /// The answer's id and the text waiting for the next frame.
    static PENDING: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
    static SCHEDULED: Cell<bool> = const { Cell::new(false) };
}

/// Adds a piece of answer `message_id`; the chat gets the joined text on
/// the next animation frame.
pub fn push(message_id: String, text: String, chat: &UseReducerDispatcher<Chat>) {
    let other = PENDING.with(|p| {
        let mut p = p.borrow_mut();
        match p.as_mut() {
            Some((id, waiting)) if *id == message_id => {
                waiting.push_str(&text);
                None
            }
            _ => p.replace((message_id, text)),
        }
    });
    if let Some((message_id, text)) = other {
        chat.dispatch(Action::Bg(BgToAgent::AnswerChunk { message_id, text }));
    }
    if SCHEDULED.with(|s| s.replace(true)) {
        return;
    }
    let chat = chat.clone();
    let frame = Closure::once_into_js(move || {
        SCHEDULED.with(|s| s.set(false));
        flush(&chat);
    });
    let requested = web_sys::window()
        .map(|w| w.request_animation_frame(frame.unchecked_ref()).is_ok())
        .unwrap_or(false);
    if !requested {
        SCHEDULED.with(|s| s.set(false));
    }
}

/// Hands over the text that waits, now.
pub fn flush(chat: &UseReducerDispatcher<Chat>) {
    if let Some((message_id, text)) = PENDING.with(|p| p.borrow_mut().take()) {
        chat.dispatch(Action::Bg(BgToAgent::AnswerChunk { message_id, text }));
    }
}
