//! This context's memory: the wasm module's linear memory as the browser
//! counts it (it only grows: a spike is kept until the context ends), the
//! part of it the allocator has handed out and not got back (the global
//! allocator is wrapped by `cap`, which counts), and, where the browser
//! tells it (Chromium's `performance.memory`, in pages only), the JS heap
//! in use. Sampled into telemetry as the gauges `memory.wasm_bytes`,
//! `memory.wasm_live_bytes` and `memory.js_heap_bytes`.

use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};

/// Gauge of the wasm linear memory, bytes.
pub const WASM_BYTES: &str = "memory.wasm_bytes";
/// Gauge of the wasm memory in use (allocated, not freed), bytes.
pub const WASM_LIVE_BYTES: &str = "memory.wasm_live_bytes";
/// Gauge of the JS heap in use, bytes (Chromium only).
pub const JS_HEAP_BYTES: &str = "memory.js_heap_bytes";

/// Every context's allocator: the standard one, counted.
#[global_allocator]
static ALLOCATOR: cap::Cap<std::alloc::System> = cap::Cap::new(std::alloc::System, usize::MAX);

/// One sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Memory {
    /// The wasm module's linear memory, bytes.
    pub wasm_bytes: f64,
    /// The part of it in use (allocated and not freed), bytes.
    pub live_bytes: f64,
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
        live_bytes: ALLOCATOR.allocated() as f64,
        js_heap_bytes,
    }
}

impl Memory {
    /// What is in use: the live wasm bytes and the JS heap where known.
    pub fn in_use(&self) -> f64 {
        self.live_bytes + self.js_heap_bytes.unwrap_or(0.0)
    }
}
