//! Chrome's built-in AI through the Prompt API (`LanguageModel`, available
//! to extension service workers from Chrome 138): feature detection, the
//! connection test, and streaming an answer. Browsers without it (Firefox,
//! Chromium builds without the model, unsupported devices) get a clear
//! "unavailable" instead, and the fallback chain moves on. The request's
//! shape comes from [`paperclip_core::provider::builtin`].

use js_sys::{Array, Object, Promise, Reflect};
use paperclip_core::protocol::ProtocolError;
use paperclip_core::provider::builtin::{self, Availability};
use paperclip_core::provider::{ChatRequest, ConnectionReport, ProviderConfig};
use paperclip_core::resilience::limits::{TimeoutWatch, Timeouts};
use paperclip_core::resilience::FailureKind;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::{guarded, now_ms, timeout_text, Interrupt, StreamFailure, Streamed};
use crate::cancel::Cancel;

/// The `LanguageModel` global, when this browser has one.
fn api() -> Option<JsValue> {
    Reflect::get(&js_sys::global(), &"LanguageModel".into())
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

fn call(target: &JsValue, name: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let f: js_sys::Function = Reflect::get(target, &name.into())?.dyn_into()?;
    f.apply(target, &args.iter().collect::<Array>())
}

/// The exception's name (`AbortError`, …) and message.
fn exception(e: &JsValue) -> (String, String) {
    let name = Reflect::get(e, &"name".into())
        .ok()
        .and_then(|n| n.as_string())
        .unwrap_or_default();
    (name, paperclip_platform::error_text(e))
}

/// Whether the model can be used here.
pub async fn availability() -> Availability {
    let Some(api) = api() else {
        return Availability::NoApi;
    };
    let Ok(promise) = call(&api, "availability", &[]) else {
        return Availability::Unavailable;
    };
    match JsFuture::from(Promise::from(promise)).await {
        Ok(v) => Availability::parse(&v.as_string().unwrap_or_default()),
        Err(_) => Availability::Unavailable,
    }
}

/// The connection test: the model's availability.
pub async fn test_connection() -> Result<ConnectionReport, ProtocolError> {
    let started = paperclip_platform::clock::now_ms();
    let available = availability().await;
    if !available.usable() {
        return Err(ProtocolError::failed(available.describe()));
    }
    Ok(ConnectionReport {
        latency_ms: (paperclip_platform::clock::now_ms() - started).max(0.0) as u64,
        models: vec![builtin::MODEL.to_string()],
        model_listed: true,
    })
}

/// Streams the answer to `request` from the built-in model.
pub async fn stream(
    config: &ProviderConfig,
    request: &ChatRequest,
    timeouts: Timeouts,
    cancel: &Cancel,
    on_text: &mut dyn FnMut(&str) -> bool,
) -> Result<Streamed, StreamFailure> {
    let label = config.settings().label.clone();
    let fail = |error: String, kind: FailureKind, streamed: bool| StreamFailure {
        error: format!("{label}: {error}"),
        streamed,
        kind,
        paused_after: None,
    };
    let available = availability().await;
    let Some(api) = api().filter(|_| available.usable()) else {
        return Err(fail(
            available.describe().into(),
            FailureKind::Malformed,
            false,
        ));
    };
    let prompts = builtin::prompts(request)
        .ok_or_else(|| fail("nothing to ask".into(), FailureKind::Malformed, false))?;
    let controller = web_sys::AbortController::new()
        .map_err(|_| fail("no AbortController".into(), FailureKind::Malformed, false))?;
    let thrown = |e: JsValue, streamed: bool| {
        let (name, message) = exception(&e);
        fail(message, builtin::failure_kind(&name), streamed)
    };
    let interrupted = |why: Interrupt, streamed: bool| match why {
        Interrupt::Failed(error) => fail(error, FailureKind::Network, streamed),
        Interrupt::TimedOut(kind) => fail(
            timeout_text(kind, &timeouts),
            FailureKind::Timeout(kind),
            streamed,
        ),
        Interrupt::Stopped => StreamFailure::stopped(streamed),
    };
    let options = Object::new();
    let initial = serde_wasm_bindgen::to_value(&prompts.initial)
        .map_err(|e| fail(e.to_string(), FailureKind::Malformed, false))?;
    let set = |o: &Object, k: &str, v: &JsValue| {
        Reflect::set(o, &k.into(), v).expect("plain object");
    };
    set(&options, "initialPrompts", &initial);
    set(&options, "signal", &controller.signal());
    let mut watch = TimeoutWatch::start(timeouts, now_ms());
    // Creating the session may download the model: it counts as the wait for
    // the first byte.
    let create = call(&api, "create", &[options.into()]).map_err(|e| thrown(e, false))?;
    let session = guarded(
        async {
            JsFuture::from(Promise::from(create))
                .await
                .map_err(|e| exception(&e).1)
        },
        &watch,
        cancel,
        &controller,
    )
    .await
    .map_err(|e| interrupted(e, false))?;
    let result = async {
        let prompt_options = Object::new();
        set(&prompt_options, "signal", &controller.signal());
        let stream = call(
            &session,
            "promptStreaming",
            &[prompts.prompt.as_str().into(), prompt_options.into()],
        )
        .map_err(|e| thrown(e, false))?;
        let reader = call(&stream, "getReader", &[]).map_err(|e| thrown(e, false))?;
        let mut streamed = false;
        let mut guard = super::Guard::new(cancel);
        loop {
            let read = async {
                let p = call(&reader, "read", &[]).map_err(|e| exception(&e).1)?;
                JsFuture::from(Promise::from(p))
                    .await
                    .map_err(|e| exception(&e).1)
            };
            let chunk = guard
                .run(read, &watch, &controller)
                .await
                .map_err(|e| interrupted(e, streamed))?;
            watch.on_chunk(now_ms());
            if Reflect::get(&chunk, &"done".into())
                .map(|d| d.is_truthy())
                .unwrap_or(true)
            {
                return Ok(Streamed { usage: None });
            }
            let text = Reflect::get(&chunk, &"value".into())
                .ok()
                .and_then(|v| v.as_string())
                .unwrap_or_default();
            if text.is_empty() {
                continue;
            }
            streamed = true;
            if !on_text(&text) || cancel.is_stopped() {
                controller.abort();
                return Err(StreamFailure::stopped(true));
            }
        }
    }
    .await;
    let _ = call(&session, "destroy", &[]);
    result
}
