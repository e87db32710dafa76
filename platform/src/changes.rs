//! Live updates without polling: the background tells every open extension
//! page what changed ([`broadcast`], `runtime.sendMessage`) and each page
//! listens with [`on_broadcast`]; and [`keep_awake`], the cheap extension
//! API call that keeps a Chrome worker alive while it finishes an answer no
//! page is waiting for.

use js_sys::{Function, Promise, Reflect};
use paperclip_core::protocol::{self, Broadcast};
use wasm_bindgen::{prelude::*, JsCast};

use crate::{api, decode_js, extension_id, listen, to_js};

/// Sends `message` to every open extension page (none listening is fine).
pub fn broadcast(message: &Broadcast) {
    let wire = protocol::encode(message);
    let runtime = api().runtime();
    wasm_bindgen_futures::spawn_local(async move {
        // "Receiving end does not exist" when no page is open: nothing to do.
        let _ = runtime.send_message(None, &to_js(&wire), None).await;
    });
}

/// Calls `f` with each [`Broadcast`] the background sends. Other messages
/// (pages' requests to the background travel the same way) and any sender
/// other than this extension's own privileged pages and background (a
/// content script, an extension frame inside a tab such as the agent) are
/// ignored; the listener never answers, so it never takes a request's
/// reply.
pub fn on_broadcast(f: impl Fn(Broadcast) + 'static) {
    let own = extension_id();
    let listener = Closure::<dyn Fn(JsValue, JsValue) -> JsValue>::new(
        move |message: JsValue, sender: JsValue| {
            let id = Reflect::get(&sender, &"id".into())
                .ok()
                .and_then(|v| v.as_string());
            let in_tab = Reflect::get(&sender, &"tab".into()).is_ok_and(|t| t.is_object());
            if id.as_deref() == Some(own.as_str()) && !in_tab {
                if let Ok(message) = decode_js::<Broadcast>(&message) {
                    f(message);
                }
            }
            JsValue::UNDEFINED
        },
    );
    listen(&api().runtime().on_message(), listener);
}

/// Calls `runtime.getPlatformInfo()`, an extension API call: in Chrome it
/// resets the worker's 30 s idle timer.
pub fn keep_awake() {
    let runtime: JsValue = api().runtime().into();
    let call = Reflect::get(&runtime, &"getPlatformInfo".into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .and_then(|f| f.call0(&runtime).ok());
    if let Some(promise) = call.and_then(|p| p.dyn_into::<Promise>().ok()) {
        wasm_bindgen_futures::spawn_local(async move {
            let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
        });
    }
}
