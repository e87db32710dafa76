//! The browser's `storage.sync` area, as JSON: what the background's
//! settings sync (`core::sync`) reads and writes.

use js_sys::{Array, Object, JSON};
use serde_json::{Map, Value};
use wasm_bindgen::{JsCast, JsValue};

fn area() -> web_extensions_sys::StorageArea {
    crate::api().storage().sync()
}

fn message(e: &JsValue) -> String {
    js_sys::Reflect::get(e, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "storage.sync failed".into())
}

/// Every item in the area.
pub async fn get_all() -> Result<Map<String, Value>, String> {
    let all = area().get(&JsValue::NULL).await.map_err(|e| message(&e))?;
    let text = JSON::stringify(&all)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_else(|| "{}".into());
    serde_json::from_str(&text).map_err(|e| format!("storage.sync holds something unreadable: {e}"))
}

/// Writes `items` in one operation.
pub async fn set(items: &[(String, Value)]) -> Result<(), String> {
    let map: Map<String, Value> = items.iter().cloned().collect();
    let object: Object = JSON::parse(&Value::Object(map).to_string())
        .map_err(|e| message(&e))?
        .unchecked_into();
    area()
        .set(&object)
        .await
        .map(|_| ())
        .map_err(|e| message(&e))
}

/// Removes `keys` in one operation.
pub async fn remove(keys: &[String]) -> Result<(), String> {
    let list: Array = keys.iter().map(|k| JsValue::from_str(k)).collect();
    area()
        .remove(&list)
        .await
        .map(|_| ())
        .map_err(|e| message(&e))
}
