//! The platform seam: the one place that knows which browser Paperclip runs
//! in.
//!
//! [`api`] returns the WebExtension namespace (`browser` in Firefox, `chrome`
//! in Chromium) typed as `web_extensions_sys::Browser`; this module adds the
//! bindings that crate lacks (`runtime.getURL`, `runtime.id`,
//! `runtime.onMessageExternal`, ...) and the typed client used by every
//! extension page: [`call`] sends a [`paperclip_core::protocol::Rpc`] request
//! and returns its paired response type.
//!
//! ```no_run
//! # async fn demo() -> Result<(), paperclip_core::protocol::ProtocolError> {
//! use paperclip_core::protocol::ListConversations;
//! let list = paperclip_platform::call(ListConversations { limit: 10, ..Default::default() }).await?;
//! # Ok(()) }
//! ```
//!
//! Everything here is a thin translation; decisions live in
//! `paperclip-core`.
#![forbid(unsafe_code)]

use js_sys::{Function, Object, Reflect, JSON};
use paperclip_core::protocol::{self, ProtocolError, Rpc, Tagged};
use wasm_bindgen::{prelude::*, JsCast};
use web_extensions_sys::{Browser, EventTarget, Port};

pub use web_extensions_sys as sys;

#[wasm_bindgen]
extern "C" {
    /// `runtime` with the members web-extensions-sys does not bind.
    #[wasm_bindgen(extends = Object)]
    pub type RuntimeExt;

    /// `runtime.id`.
    #[wasm_bindgen(method, getter)]
    pub fn id(this: &RuntimeExt) -> String;

    /// `runtime.getURL(path)`.
    #[wasm_bindgen(method, js_name = getURL)]
    pub fn get_url(this: &RuntimeExt, path: &str) -> String;

    /// `runtime.onMessageExternal`.
    #[wasm_bindgen(method, getter, js_name = onMessageExternal)]
    pub fn on_message_external(this: &RuntimeExt) -> EventTarget;

    /// `runtime.onConnectExternal`.
    #[wasm_bindgen(method, getter, js_name = onConnectExternal)]
    pub fn on_connect_external(this: &RuntimeExt) -> EventTarget;

    /// `runtime.getManifest()`.
    #[wasm_bindgen(method, js_name = getManifest)]
    pub fn get_manifest(this: &RuntimeExt) -> Object;
}

pub mod alarms;
pub mod changes;
pub mod clock;
pub mod consent;
pub mod memory;
pub mod net;
pub mod sync_area;
pub mod tabs;
pub mod telemetry;
pub mod timer;

pub use timer::set_timeout;

/// The WebExtension namespace: `browser` where it exists (Firefox), else
/// `chrome`.
pub fn api() -> Browser {
    let global = js_sys::global();
    let browser = Reflect::get(&global, &"browser".into()).unwrap_or(JsValue::UNDEFINED);
    let ns = if browser.is_object() {
        browser
    } else {
        Reflect::get(&global, &"chrome".into()).unwrap_or(JsValue::UNDEFINED)
    };
    ns.unchecked_into()
}

/// `runtime` with the extra bindings of [`RuntimeExt`].
pub fn runtime_ext() -> RuntimeExt {
    api().runtime().unchecked_into()
}

/// This extension's id.
pub fn extension_id() -> String {
    runtime_ext().id()
}

/// The URL prefix of this extension's pages, with a trailing slash.
pub fn base_url() -> String {
    runtime_ext().get_url("/")
}

/// The browser, as its user agent string names it.
pub fn browser() -> String {
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).ok();
    navigator
        .and_then(|n| Reflect::get(&n, &"userAgent".into()).ok())
        .and_then(|v| v.as_string())
        .unwrap_or_default()
}

/// The manifest's `version`.
pub fn version() -> String {
    Reflect::get(&runtime_ext().get_manifest(), &"version".into())
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default()
}

/// Turns a protocol message into the JS value that travels between contexts.
pub fn to_js(wire: &str) -> JsValue {
    JSON::parse(wire).expect("protocol::encode writes valid JSON")
}

/// Reads a JS value as wire JSON (so that `paperclip_core` validates it).
pub fn from_js(value: &JsValue) -> Result<String, ProtocolError> {
    JSON::stringify(value)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or_else(|| {
            ProtocolError::new(
                protocol::ErrorKind::Malformed,
                "message is not serialisable as JSON",
            )
        })
}

/// Decodes an enveloped message of type `T` from a JS value.
pub fn decode_js<T: Tagged>(value: &JsValue) -> Result<T, ProtocolError> {
    protocol::decode(&from_js(value)?)
}

/// The readable text of a JS error value.
pub fn error_text(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

/// Sends `request` to the background and returns its paired response.
///
/// A message that races with the background being suspended (Firefox's
/// event page on its idle timeout, Chrome's worker stopping) fails with
/// "Receiving end does not exist"; it is sent again, up to twice, 100 ms
/// apart, which wakes the background.
pub async fn call<R: Rpc>(request: R) -> Result<R::Response, ProtocolError> {
    // Boxed: one copy of the sending code for every request type (inlined
    // into each caller's future, it cost every page kilobytes).
    let sending: std::pin::Pin<Box<dyn std::future::Future<Output = _>>> =
        Box::pin(send(to_js(&request.to_wire())));
    R::read_reply(&sending.await?)
}

/// [`call`]'s sending, with its retries: the reply as JSON text.
async fn send(message: JsValue) -> Result<String, ProtocolError> {
    let mut attempt = 0;
    let reply = loop {
        match api().runtime().send_message(None, &message, None).await {
            Ok(reply) => break reply,
            Err(e) => {
                let text = error_text(&e);
                if attempt < 2 && text.contains("Receiving end does not exist") {
                    attempt += 1;
                    timer::sleep(100).await;
                    continue;
                }
                return Err(ProtocolError::failed(format!(
                    "background unreachable: {text}"
                )));
            }
        }
    };
    from_js(&reply)
}

/// Sends `request` and ignores the reply (used for pings, whose only
/// purpose is to be an event for the background); saves the caller the code
/// that decodes every response type.
pub async fn notify<R: Rpc>(request: R) {
    let message = to_js(&request.to_wire());
    let _ = api().runtime().send_message(None, &message, None).await;
}

/// The browser's UI language (`navigator.language`, e.g. `fr-FR`), in a
/// page or a worker; `en` when unknown.
pub fn ui_language() -> String {
    js_sys::Reflect::get(&js_sys::global(), &"navigator".into())
        .and_then(|n| js_sys::Reflect::get(&n, &"language".into()))
        .ok()
        .and_then(|l| l.as_string())
        .filter(|l| !l.is_empty() && l.len() <= 35)
        .unwrap_or_else(|| "en".into())
}

/// Opens the agent's port to the background, presenting the token its
/// loader gave it (empty when none did: the background then refuses).
pub fn connect_agent(token: &str) -> Port {
    connect_port(&protocol::agent_port_name(token))
}

/// Opens a port named `name` to the background.
pub fn connect_port(name: &str) -> Port {
    let info = Object::new();
    Reflect::set(&info, &"name".into(), &name.into()).expect("plain object");
    api().runtime().connect(None, &info)
}

/// Adds `f` as a listener of `event` for the lifetime of the page.
pub fn listen<F: ?Sized + wasm_bindgen::closure::WasmClosure>(event: &EventTarget, f: Closure<F>) {
    event.add_listener(f.as_ref().unchecked_ref::<Function>());
    f.forget();
}

#[wasm_bindgen]
extern "C" {
    /// A `runtime.Port` whose `postMessage` reports failure instead of throwing.
    #[wasm_bindgen(extends = Object)]
    type PortExt;

    #[wasm_bindgen(method, catch, js_name = postMessage)]
    fn try_post_message(this: &PortExt, value: &JsValue) -> Result<(), JsValue>;
}

/// Posts a wire message on `port`; false when the port is already closed.
pub fn post(port: &Port, wire: &str) -> bool {
    port.unchecked_ref::<PortExt>()
        .try_post_message(&to_js(wire))
        .is_ok()
}
