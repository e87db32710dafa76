//! `alarms`, which outlive the background (they wake a stopped worker).

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Calls `alarms.<name>(args…)`; `None` where there is no `alarms`.
fn call(name: &str, args: &Array) -> Option<JsValue> {
    let alarms = Reflect::get(&crate::api(), &"alarms".into()).ok()?;
    let f = Reflect::get(&alarms, &name.into())
        .ok()?
        .dyn_into::<Function>()
        .ok()?;
    f.apply(&alarms, args).ok()
}

/// Whether alarm `name` exists.
pub async fn exists(name: &str) -> bool {
    let Some(promise) =
        call("get", &Array::of1(&name.into())).and_then(|p| p.dyn_into::<Promise>().ok())
    else {
        return false;
    };
    JsFuture::from(promise)
        .await
        .is_ok_and(|a| !a.is_undefined() && !a.is_null())
}

/// Creates (or replaces) alarm `name`: first after `delay_minutes` when
/// given, then every `period_minutes`.
pub fn create(name: &str, delay_minutes: Option<f64>, period_minutes: f64) {
    let info = Object::new();
    if let Some(delay) = delay_minutes {
        let _ = Reflect::set(&info, &"delayInMinutes".into(), &delay.into());
    }
    let _ = Reflect::set(&info, &"periodInMinutes".into(), &period_minutes.into());
    call("create", &Array::of2(&name.into(), &info));
}

/// Removes alarm `name`.
pub fn clear(name: &str) {
    call("clear", &Array::of1(&name.into()));
}
