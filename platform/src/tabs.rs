//! `tabs`, read without `instanceof`: a `tabs.Tab` has no JS class, so
//! every tab the browser hands over is read through its JSON by
//! [`paperclip_core::activation::TabInfo`], which checks the fields used
//! and names a missing one.

use js_sys::{Function, Object, Promise, Reflect, JSON};
use paperclip_core::activation::TabInfo;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::{api, error_text};

/// Calls `tabs.<name>(args…)` and awaits its promise.
async fn call(name: &str, args: &js_sys::Array) -> Result<JsValue, String> {
    let tabs: JsValue = api().tabs().into();
    let f = Reflect::get(&tabs, &name.into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .ok_or_else(|| format!("this browser has no tabs.{name}"))?;
    let promise = f
        .apply(&tabs, args)
        .map_err(|e| error_text(&e))?
        .dyn_into::<Promise>()
        .map_err(|_| format!("tabs.{name} returned no promise"))?;
    JsFuture::from(promise).await.map_err(|e| error_text(&e))
}

/// The JSON text of a value the browser returned (`"null"` for nothing).
fn json_of(value: &JsValue) -> String {
    if value.is_undefined() {
        return "null".into();
    }
    JSON::stringify(value)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_else(|| "null".into())
}

/// The tab this page is in; `None` in the toolbar popup (and in the
/// background), which is in no tab.
pub async fn current() -> Result<Option<TabInfo>, String> {
    let value = call("getCurrent", &js_sys::Array::new()).await?;
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    TabInfo::from_json(&json_of(&value))
        .map(Some)
        .map_err(|e| e.to_string())
}

/// Tab `id`.
pub async fn get(id: i32) -> Result<TabInfo, String> {
    let value = call("get", &js_sys::Array::of1(&id.into())).await?;
    TabInfo::from_json(&json_of(&value)).map_err(|e| e.to_string())
}

/// `tabs.query(filter)`, where `filter` is a list of `(property, value)`.
pub async fn query(filter: &[(&str, JsValue)]) -> Result<Vec<TabInfo>, String> {
    let info = Object::new();
    for (k, v) in filter {
        Reflect::set(&info, &(*k).into(), v).map_err(|e| error_text(&e))?;
    }
    let value = call("query", &js_sys::Array::of1(&info)).await?;
    TabInfo::list_from_json(&json_of(&value)).map_err(|e| e.to_string())
}

/// Makes tab `id` its window's active tab and focuses that window.
pub async fn focus(tab: &TabInfo) -> Result<(), String> {
    let props = Object::new();
    Reflect::set(&props, &"active".into(), &true.into()).map_err(|e| error_text(&e))?;
    call("update", &js_sys::Array::of2(&tab.id.into(), &props)).await?;
    if let Some(window) = tab.window_id {
        let windows: JsValue = Reflect::get(&api(), &"windows".into()).unwrap_or_default();
        let update = Reflect::get(&windows, &"update".into())
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok());
        if let Some(update) = update {
            let focused = Object::new();
            Reflect::set(&focused, &"focused".into(), &true.into()).map_err(|e| error_text(&e))?;
            if let Ok(p) = update.call2(&windows, &window.into(), &focused) {
                if let Ok(p) = p.dyn_into::<Promise>() {
                    let _ = JsFuture::from(p).await;
                }
            }
        }
    }
    Ok(())
}

/// Opens `url` in a new active tab.
pub async fn create(url: &str) -> Result<TabInfo, String> {
    let props = Object::new();
    Reflect::set(&props, &"url".into(), &url.into()).map_err(|e| error_text(&e))?;
    let value = call("create", &js_sys::Array::of1(&props)).await?;
    TabInfo::from_json(&json_of(&value)).map_err(|e| e.to_string())
}

/// Opens `url` in a new active tab right after `next_to`, in its window,
/// with `next_to` as its opener (closing it goes back there).
pub async fn create_next_to(url: &str, next_to: &TabInfo) -> Result<TabInfo, String> {
    let props = Object::new();
    let set = |k: &str, v: JsValue| Reflect::set(&props, &k.into(), &v).map_err(|e| error_text(&e));
    set("url", url.into())?;
    set("openerTabId", next_to.id.into())?;
    if let Some(window) = next_to.window_id {
        set("windowId", window.into())?;
    }
    if let Some(index) = next_to.index {
        set("index", (index + 1).into())?;
    }
    let value = call("create", &js_sys::Array::of1(&props)).await?;
    TabInfo::from_json(&json_of(&value)).map_err(|e| e.to_string())
}

/// Closes tab `id`.
pub async fn remove(id: i32) -> Result<(), String> {
    call("remove", &js_sys::Array::of1(&id.into()))
        .await
        .map(|_| ())
}

/// Reads a tab that the browser passed to a listener (`commands.onCommand`,
/// `contextMenus.onClicked`); `None` when it passed none.
pub fn read(value: &JsValue) -> Result<Option<TabInfo>, String> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    TabInfo::from_json(&json_of(value))
        .map(Some)
        .map_err(|e| e.to_string())
}
