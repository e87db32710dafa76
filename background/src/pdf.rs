//! Reading a PDF the user asks about (`pdf.html?src=…`, opened by the
//! popup's *Ask about this PDF*): the document is fetched under the host
//! access the user granted on that click, and its text read by the PDF
//! reader, a wasm module of its own (`pkg/pdf.wasm`, built from `pdf/`)
//! that imports nothing. It is compiled the first time a PDF is read and
//! kept compiled; each document gets a fresh instance, dropped after, so
//! the memory a large document took goes with it (wasm memory never
//! shrinks). The page context is cached by the document's bytes.

use std::cell::RefCell;

use js_sys::{Function, Object, Reflect, Uint8Array, WebAssembly};
use paperclip_core::page::PageSnapshot;
use paperclip_core::pdf::{self, Refusal};
use paperclip_core::protocol::ProtocolError;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::store::Store;

/// How much a document's context is worth keeping, against other cache
/// entries (a page's is 0.5: a PDF costs more to read again).
const RELEVANCE: f32 = 0.7;
/// How long fetching a document may take.
const FETCH_TIMEOUT_MS: u32 = 60_000;

thread_local! {
    /// The compiled reader, once a PDF was read.
    static MODULE: RefCell<Option<WebAssembly::Module>> = const { RefCell::new(None) };
}

fn failed(message: impl Into<String>) -> ProtocolError {
    ProtocolError::failed(message)
}

/// The compiled reader module; whether it was compiled now.
async fn module() -> Result<(WebAssembly::Module, bool), ProtocolError> {
    if let Some(m) = MODULE.with(|m| m.borrow().clone()) {
        return Ok((m, false));
    }
    let url = paperclip_platform::base_url() + "pkg/pdf.wasm";
    let unreadable = |e: JsValue| {
        failed(format!(
            "the PDF reader could not be loaded: {}",
            paperclip_platform::error_text(&e)
        ))
    };
    let response = paperclip_platform::net::fetch_document(&url, FETCH_TIMEOUT_MS)
        .await
        .map_err(unreadable)?;
    let buffer = call0(&response, "arrayBuffer")
        .and_then(|p| p.dyn_into::<js_sys::Promise>())
        .map_err(unreadable)?;
    let buffer = JsFuture::from(buffer).await.map_err(unreadable)?;
    let compiled = JsFuture::from(WebAssembly::compile(&buffer))
        .await
        .map_err(unreadable)?
        .unchecked_into::<WebAssembly::Module>();
    MODULE.with(|m| *m.borrow_mut() = Some(compiled.clone()));
    Ok((compiled, true))
}

fn call0(target: &JsValue, method: &str) -> Result<JsValue, JsValue> {
    Reflect::get(target, &method.into())?
        .dyn_into::<Function>()?
        .call0(target)
}

fn export(exports: &JsValue, name: &str) -> Result<Function, JsValue> {
    Reflect::get(exports, &name.into())?.dyn_into::<Function>()
}

/// A wasm32 `usize` as the module's exports return it (a JS number from a
/// signed i32: above 2 GB it is negative).
fn address(value: &JsValue) -> u32 {
    value.as_f64().unwrap_or_default() as i64 as u32
}

/// Runs the reader on `bytes` in a fresh instance of `module`: its JSON
/// answer, or why it stopped (a trap: the document broke the parser).
async fn run(module: &WebAssembly::Module, bytes: &[u8]) -> Result<Vec<u8>, JsValue> {
    let instance = JsFuture::from(WebAssembly::instantiate_module(module, &Object::new()))
        .await?
        .unchecked_into::<WebAssembly::Instance>();
    let exports: JsValue = instance.exports().into();
    let memory = Reflect::get(&exports, &"memory".into())?.unchecked_into::<WebAssembly::Memory>();
    let len = JsValue::from(bytes.len() as u32);
    let ptr = export(&exports, "pdf_alloc")?.call1(&JsValue::NULL, &len)?;
    let at = address(&ptr);
    Uint8Array::new(&memory.buffer()).set(&Uint8Array::from(bytes), at);
    let answer_len = address(&export(&exports, "pdf_read")?.call2(&JsValue::NULL, &ptr, &len)?);
    let answer_at = address(&export(&exports, "pdf_answer")?.call0(&JsValue::NULL)?);
    // The memory may have grown (a new buffer) while reading.
    let view = Uint8Array::new(&memory.buffer());
    if answer_at.saturating_add(answer_len) > view.length() {
        return Err(JsValue::from_str(
            "the reader's answer is out of its memory",
        ));
    }
    Ok(view.subarray(answer_at, answer_at + answer_len).to_vec())
}

/// Fetches document `url` (at most [`pdf::MAX_BYTES`]).
async fn fetch(url: &str, name: &str) -> Result<Vec<u8>, ProtocolError> {
    let origin = web_sys::Url::new(url)
        .map(|u| u.origin())
        .map_err(|_| failed(format!("“{name}” has no valid address")))?;
    if !paperclip_platform::consent::has_origins(&[format!("{origin}/*")]).await {
        return Err(failed(format!(
            "Clippy may not read pages of {origin}: open the PDF again and choose Ask about this PDF in the toolbar popup, then allow access."
        )));
    }
    let response = paperclip_platform::net::fetch_document(url, FETCH_TIMEOUT_MS)
        .await
        .map_err(|e| {
            failed(format!(
                "“{name}” could not be fetched: {}",
                paperclip_platform::error_text(&e)
            ))
        })?;
    // Redirects are followed, but only within the document's site: another
    // site may be one the user granted for something else (an intranet
    // host), which a redirect must not make Clippy read.
    let landed = Reflect::get(&response, &"url".into())
        .ok()
        .and_then(|u| u.as_string())
        .and_then(|u| web_sys::Url::new(&u).ok())
        .map(|u| u.origin());
    if landed.as_deref().is_some_and(|o| o != origin) {
        return Err(failed(format!(
            "“{name}” moved to another site ({}): open it there and choose Ask about this PDF again.",
            landed.unwrap_or_default()
        )));
    }
    let status = Reflect::get(&response, &"status".into())
        .ok()
        .and_then(|s| s.as_f64())
        .unwrap_or_default() as u16;
    if !(200..300).contains(&status) {
        return Err(failed(format!(
            "“{name}” could not be fetched: the server answered {status}{}",
            if status == 401 || status == 403 {
                " (Clippy asks without your login, so documents behind one cannot be read)"
            } else {
                ""
            }
        )));
    }
    // One byte over the limit tells a document that is too large from one
    // that is exactly at it.
    let (bytes, _) = paperclip_platform::net::bytes_capped(&response, pdf::MAX_BYTES + 1)
        .await
        .map_err(|e| {
            failed(format!(
                "“{name}” could not be fetched: {}",
                paperclip_platform::error_text(&e)
            ))
        })?;
    if bytes.len() > pdf::MAX_BYTES {
        return Err(failed(Refusal::TooLarge.text(name)));
    }
    Ok(bytes)
}

/// Reads document `url`'s text as a page context, from the cache in
/// `store` when the same bytes were read before.
pub async fn read(url: &str, store: &Store) -> Result<PageSnapshot, ProtocolError> {
    let started = paperclip_platform::clock::now_ms();
    let url = pdf::document_url(url).map_err(failed)?;
    let name = pdf::file_name(&url);
    let bytes = fetch(&url, &name).await?;
    let key = pdf::cache_key(&url, &bytes);
    if let Some(page) = crate::context_cache::cached::<PageSnapshot>(store, &key).await {
        crate::telemetry::event("context.read", &[("source", "pdf_cached")]);
        return Ok(page);
    }
    let (module, cold) = module().await?;
    let read_started = paperclip_platform::clock::now_ms();
    let answer = run(&module, &bytes).await.map_err(|e| {
        failed(
            Refusal::Broken {
                detail: paperclip_platform::error_text(&e)
                    .chars()
                    .take(200)
                    .collect(),
            }
            .text(&name),
        )
    })?;
    drop(bytes);
    let text = pdf::parse_answer(&answer).map_err(|r| failed(r.text(&name)))?;
    let page = pdf::snapshot(&url, &text).clamp();
    let done = paperclip_platform::clock::now_ms();
    let module_label = if cold { "cold" } else { "warm" };
    crate::telemetry::timing("pdf.read", &[("module", module_label)], done - read_started);
    crate::telemetry::timing("context.read", &[("source", "pdf")], done - started);
    crate::telemetry::event("context.read", &[("source", "pdf")]);
    crate::context_cache::keep(store, &key, &page, RELEVANCE).await;
    Ok(page)
}
