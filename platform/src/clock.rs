//! The clock: wall time, a monotonic clock and performance marks. The
//! shells read time only here, and pass it to the core as an argument.

use js_sys::{Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};

/// Milliseconds since the Unix epoch (`Date.now()`).
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// This machine's offset from UTC at `ms`, in minutes east of UTC (the
/// negation of `Date.getTimezoneOffset()`): the user's days for usage.
pub fn utc_offset_min(ms: f64) -> i32 {
    -(js_sys::Date::new(&ms.into()).get_timezone_offset() as i32)
}

/// `performance` of this context (a page, a worker or an event page).
fn performance() -> Option<JsValue> {
    Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .filter(|p| p.is_object())
}

/// Calls `performance.<name>(arg?)`.
fn call(name: &str, arg: Option<&JsValue>) -> Option<JsValue> {
    let p = performance()?;
    let f = Reflect::get(&p, &name.into())
        .ok()?
        .dyn_into::<Function>()
        .ok()?;
    match arg {
        Some(a) => f.call1(&p, a).ok(),
        None => f.call0(&p).ok(),
    }
}

/// Milliseconds on this context's monotonic clock (`performance.now()`),
/// 0 where there is none.
pub fn monotonic_ms() -> f64 {
    call("now", None)
        .and_then(|v| v.as_f64())
        .unwrap_or_default()
}

/// Nanoseconds since the Unix epoch, sub-millisecond where `performance`
/// has its time origin (spans' timestamps).
pub fn now_ns() -> u64 {
    let precise = performance().and_then(|p| {
        let origin = Reflect::get(&p, &"timeOrigin".into()).ok()?.as_f64()?;
        Some(origin + call("now", None)?.as_f64()?)
    });
    (precise.unwrap_or_else(now_ms) * 1e6) as u64
}

/// `performance.mark(name)`, once per name in this context.
pub fn mark_once(name: &str) {
    let seen = call("getEntriesByName", Some(&name.into()))
        .map(|list| js_sys::Array::from(&list).length() > 0)
        .unwrap_or(false);
    if !seen {
        call("mark", Some(&name.into()));
    }
}
