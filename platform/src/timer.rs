//! Timers: the shells wait and repeat only through these (gloo's timers on
//! the global `setTimeout` / `setInterval`, in pages, workers and event
//! pages alike).

use js_sys::{Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};

pub use gloo_timers::callback::{Interval, Timeout};
pub use gloo_timers::future::TimeoutFuture;

/// Resolves after `ms` milliseconds.
pub fn sleep(ms: u32) -> TimeoutFuture {
    TimeoutFuture::new(ms)
}

/// Calls `callback` (a JS function) after `ms` milliseconds, with the
/// global `setTimeout`.
pub fn set_timeout(callback: &JsValue, ms: i32) {
    let set_timeout = Reflect::get(&js_sys::global(), &"setTimeout".into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok());
    if let Some(set_timeout) = set_timeout {
        let _ = set_timeout.call2(&JsValue::UNDEFINED, callback, &ms.into());
    }
}
