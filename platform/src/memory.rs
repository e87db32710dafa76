//! This context's memory, as the browser counts it: the wasm module's
//! linear memory (it only grows: a spike is kept until the context ends)
//! and, where the browser tells it (Chromium's `performance.memory`), the
//! JS heap in use. Sampled into telemetry as the gauges
//! `memory.wasm_bytes` and `memory.js_heap_bytes`.

use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};

/// Gauge of the wasm linear memory, bytes.
pub const WASM_BYTES: &str = "memory.wasm_bytes";
/// Gauge of the JS heap in use, bytes (Chromium only).
pub const JS_HEAP_BYTES: &str = "memory.js_heap_bytes";

/// One sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Memory {
    /// The wasm module's linear memory, bytes.
    pub wasm_bytes: f64,
    /// The JS heap in use, bytes, where the browser says.
    pub js_heap_bytes: Option<f64>,
}

/// Samples this context's memory.
pub fn sample() -> Memory {
    let wasm_bytes = wasm_bindgen::memory()
        .dyn_into::<js_sys::WebAssembly::Memory>()
        .ok()
        .and_then(|m| Reflect::get(&m.buffer(), &"byteLength".into()).ok())
        .and_then(|n| n.as_f64())
        .unwrap_or(0.0);
    let js_heap_bytes = Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .filter(|p| p.is_object())
        .and_then(|p| Reflect::get(&p, &"memory".into()).ok())
        .filter(JsValue::is_object)
        .and_then(|m| Reflect::get(&m, &"usedJSHeapSize".into()).ok())
        .and_then(|n| n.as_f64());
    Memory {
        wasm_bytes,
        js_heap_bytes,
    }
}
