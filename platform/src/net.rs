//! The network: every request the extension makes leaves through
//! [`fetch`], which sets the options each one must carry: no cookies or
//! other credentials of the browser's (`credentials: "omit"`), no
//! `Referer` (`referrerPolicy: "no-referrer"`), nothing from or into the
//! HTTP cache (`cache: "no-store"`) and no redirect followed
//! (`redirect: "manual"`, answered as an error: a 307 would re-send the
//! prompt and the key to wherever it points). The one other way out is
//! [`fetch_document`], a plain `GET` of a PDF the user asks about.

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// The options every outgoing request carries, whatever the caller set.
pub const REQUIRED: [(&str, &str); 4] = [
    ("credentials", "omit"),
    ("referrerPolicy", "no-referrer"),
    ("cache", "no-store"),
    ("redirect", "manual"),
];

/// The error of a request the server answered with a redirect.
pub const REDIRECTED: &str = "the server answered with a redirect to another address, which \
     Paperclip does not follow (nothing was sent there); enter the final address instead";

/// `fetch(url, init)` with [`REQUIRED`] set on `init`; resolves with the
/// `Response` once its headers arrived, or fails with [`REDIRECTED`] when
/// the answer is a redirect.
pub async fn fetch(url: &str, init: &Object) -> Result<JsValue, JsValue> {
    for (k, v) in REQUIRED {
        Reflect::set(init, &k.into(), &v.into())?;
    }
    let response = global_fetch(url, init).await?;
    let kind = Reflect::get(&response, &"type".into())?.as_string();
    if kind.as_deref() == Some("opaqueredirect") {
        return Err(JsValue::from_str(REDIRECTED));
    }
    Ok(response)
}

/// A `GET` of a document the user is reading (a PDF), for its bytes: as
/// [`fetch`] (no credentials, no `Referer`), except that redirects are
/// followed, since nothing but the address is sent (a document's address
/// often redirects to its current version) and the browser still allows
/// only the sites the extension may reach; the HTTP cache may answer.
/// Given up after `timeout_ms` (`AbortSignal.timeout`, where the browser
/// has it).
pub async fn fetch_document(url: &str, timeout_ms: u32) -> Result<JsValue, JsValue> {
    let init = Object::new();
    let signal = Reflect::get(&js_sys::global(), &"AbortSignal".into())
        .ok()
        .and_then(|a| {
            let timeout = Reflect::get(&a, &"timeout".into())
                .ok()?
                .dyn_into::<Function>()
                .ok()?;
            timeout.call1(&a, &timeout_ms.into()).ok()
        });
    if let Some(signal) = signal {
        Reflect::set(&init, &"signal".into(), &signal)?;
    }
    for (k, v) in [
        ("method", "GET"),
        ("credentials", "omit"),
        ("referrerPolicy", "no-referrer"),
        ("redirect", "follow"),
    ] {
        Reflect::set(&init, &k.into(), &v.into())?;
    }
    global_fetch(url, &init).await
}

/// The browser's `fetch(url, init)`, as it is.
async fn global_fetch(url: &str, init: &Object) -> Result<JsValue, JsValue> {
    let fetch = Reflect::get(&js_sys::global(), &"fetch".into())?
        .dyn_into::<Function>()
        .map_err(|_| JsValue::from_str("fetch is unavailable"))?;
    let promise = fetch
        .call2(&JsValue::UNDEFINED, &url.into(), init)?
        .dyn_into::<Promise>()
        .map_err(|_| JsValue::from_str("fetch returned no promise"))?;
    JsFuture::from(promise).await
}

/// Reads `response`'s body as text (UTF-8, lossy), at most `max_bytes` of
/// it: the rest is never read (the stream is cancelled), so a server
/// cannot make the worker hold an endless body.
pub async fn text_capped(response: &JsValue, max_bytes: usize) -> Result<String, JsValue> {
    let (bytes, _) = bytes_capped(response, max_bytes).await?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Reads `response`'s body, at most `max_bytes` of it (the rest is never
/// read: the stream is cancelled); with whether there was more.
pub async fn bytes_capped(
    response: &JsValue,
    max_bytes: usize,
) -> Result<(Vec<u8>, bool), JsValue> {
    let body = Reflect::get(response, &"body".into())?;
    if body.is_null() || body.is_undefined() {
        return Ok((Vec::new(), false));
    }
    let get_reader = Reflect::get(&body, &"getReader".into())?
        .dyn_into::<Function>()
        .map_err(|_| JsValue::from_str("the body cannot be read"))?;
    let reader = get_reader.call0(&body)?;
    let read = Reflect::get(&reader, &"read".into())?
        .dyn_into::<Function>()
        .map_err(|_| JsValue::from_str("the body cannot be read"))?;
    let mut bytes: Vec<u8> = Vec::new();
    loop {
        let step = JsFuture::from(
            read.call0(&reader)?
                .dyn_into::<Promise>()
                .map_err(|_| JsValue::from_str("the body cannot be read"))?,
        )
        .await?;
        if Reflect::get(&step, &"done".into())?.is_truthy() {
            break;
        }
        let chunk = js_sys::Uint8Array::new(&Reflect::get(&step, &"value".into())?);
        let room = max_bytes.saturating_sub(bytes.len());
        let take = (chunk.length() as usize).min(room);
        bytes.extend(chunk.subarray(0, take as u32).to_vec());
        if chunk.length() as usize > room || bytes.len() >= max_bytes {
            if let Ok(cancel) = Reflect::get(&reader, &"cancel".into())?.dyn_into::<Function>() {
                let _ = cancel.call0(&reader);
            }
            return Ok((bytes, chunk.length() as usize > room));
        }
    }
    Ok((bytes, false))
}
