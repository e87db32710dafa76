//! Firefox's data collection consent, as the browser keeps it: which kinds
//! this build declares as optional (read from the manifest, so Chromium,
//! whose manifest declares none, is never asked), asking for them inside
//! the user's click, and whether they are allowed now. What each feature
//! needs is decided in `paperclip_core::consent`.

use js_sys::{Array, Function, Object, Promise, Reflect};
use paperclip_core::consent::DataKind;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::{api, error_text, runtime_ext};

/// The kinds the manifest declares as optional
/// (`browser_specific_settings.gecko.data_collection_permissions.optional`).
pub fn declared() -> Vec<DataKind> {
    let optional = [
        "browser_specific_settings",
        "gecko",
        "data_collection_permissions",
        "optional",
    ]
    .iter()
    .try_fold(JsValue::from(runtime_ext().get_manifest()), |v, key| {
        Reflect::get(&v, &(*key).into())
            .ok()
            .filter(|v| v.is_object())
    });
    let Some(optional) = optional.and_then(|v| v.dyn_into::<Array>().ok()) else {
        return Vec::new();
    };
    let names: Vec<String> = optional.iter().filter_map(|v| v.as_string()).collect();
    DataKind::ALL
        .into_iter()
        .filter(|k| names.iter().any(|n| n == k.as_str()))
        .collect()
}

/// Of `kinds`, those this build declares (what there is to ask for).
fn to_ask(kinds: &[DataKind]) -> Vec<DataKind> {
    let declared = declared();
    kinds
        .iter()
        .copied()
        .filter(|k| declared.contains(k))
        .collect()
}

fn permissions_call(method: &str, query: &Object) -> Result<Promise, String> {
    let permissions = Reflect::get(&api(), &"permissions".into())
        .ok()
        .filter(|p| p.is_object())
        .ok_or("the permissions API is unavailable")?;
    let f: Function = Reflect::get(&permissions, &method.into())
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or_else(|| format!("permissions.{method} is unavailable"))?;
    f.call1(&permissions, query)
        .map(Promise::from)
        .map_err(|e| error_text(&e))
}

fn query(origins: &[String], kinds: &[DataKind]) -> Object {
    let query = Object::new();
    let list = |items: Vec<JsValue>| items.into_iter().collect::<Array>();
    if !origins.is_empty() {
        let origins = origins.iter().map(|o| JsValue::from(o.as_str())).collect();
        Reflect::set(&query, &"origins".into(), &list(origins)).expect("plain object");
    }
    if !kinds.is_empty() {
        let kinds = kinds.iter().map(|k| JsValue::from(k.as_str())).collect();
        Reflect::set(&query, &"data_collection".into(), &list(kinds)).expect("plain object");
    }
    query
}

/// Asks for host access to `origins` (match patterns) and for the declared
/// ones of `kinds`, in one prompt. Must run synchronously inside the
/// user's click; `None` when there is nothing to ask.
pub fn request(origins: &[String], kinds: &[DataKind]) -> Option<Result<Promise, String>> {
    let kinds = to_ask(kinds);
    if origins.is_empty() && kinds.is_empty() {
        return None;
    }
    Some(permissions_call("request", &query(origins, &kinds)))
}

/// Awaits what [`request`] returned: whether everything was granted
/// (`true` when nothing had to be asked).
pub async fn granted_after(asked: Option<Result<Promise, String>>) -> Result<bool, String> {
    match asked {
        None => Ok(true),
        Some(Err(e)) => Err(e),
        // A refusal by the browser (not the user's answer) says why.
        Some(Ok(p)) => match JsFuture::from(p).await {
            Ok(granted) => Ok(granted.is_truthy()),
            Err(e) => Err(error_text(&e)),
        },
    }
}

/// Whether host access to all of `origins` (match patterns) is granted.
pub async fn has_origins(origins: &[String]) -> bool {
    match permissions_call("contains", &query(origins, &[])) {
        Ok(p) => JsFuture::from(p).await.is_ok_and(|g| g.is_truthy()),
        Err(_) => false,
    }
}

/// Those of `kinds` that are declared but not allowed now (empty where the
/// browser has no such consent).
pub async fn missing(kinds: &[DataKind]) -> Vec<DataKind> {
    let mut missing = Vec::new();
    for kind in to_ask(kinds) {
        let allowed = match permissions_call("contains", &query(&[], &[kind])) {
            Ok(p) => JsFuture::from(p).await.is_ok_and(|g| g.is_truthy()),
            Err(_) => false,
        };
        if !allowed {
            missing.push(kind);
        }
    }
    missing
}

/// Whether all of `kinds` are allowed (always where there is no consent).
pub async fn allowed(kinds: &[DataKind]) -> bool {
    missing(kinds).await.is_empty()
}
