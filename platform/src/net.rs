//! The network: every request the extension makes leaves through
//! [`fetch`], which sets the options each one must carry: no cookies or
//! other credentials of the browser's (`credentials: "omit"`), no
//! `Referer` (`referrerPolicy: "no-referrer"`) and nothing from or into
//! the HTTP cache (`cache: "no-store"`).

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// The options every outgoing request carries, whatever the caller set.
pub const REQUIRED: [(&str, &str); 3] = [
    ("credentials", "omit"),
    ("referrerPolicy", "no-referrer"),
    ("cache", "no-store"),
];

/// `fetch(url, init)` with [`REQUIRED`] set on `init`; resolves with the
/// `Response` once its headers arrived.
pub async fn fetch(url: &str, init: &Object) -> Result<JsValue, JsValue> {
    for (k, v) in REQUIRED {
        Reflect::set(init, &k.into(), &v.into())?;
    }
    let fetch = Reflect::get(&js_sys::global(), &"fetch".into())?
        .dyn_into::<Function>()
        .map_err(|_| JsValue::from_str("fetch is unavailable"))?;
    let promise = fetch
        .call2(&JsValue::UNDEFINED, &url.into(), init)?
        .dyn_into::<Promise>()
        .map_err(|_| JsValue::from_str("fetch returned no promise"))?;
    JsFuture::from(promise).await
}
