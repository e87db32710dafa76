//! Telemetry from a page (agent, popup, options, devtools panel): a cheap
//! local buffer that aggregates metrics per series
//! ([`paperclip_core::telemetry::page_buffer`]) sent to the background's
//! engine in batches — every [`FLUSH_MS`], or at once when it holds many
//! series or durations, never one message per metric — and a panic hook
//! that turns a panic into an error record with its stack.
//!
//! ```no_run
//! paperclip_platform::telemetry::init("popup");
//! paperclip_platform::telemetry::count("ui.click", &[("button", "ask")], 1);
//! paperclip_platform::telemetry::timing("ui.render_ms", &[], 3.2);
//! ```

use std::cell::RefCell;

use paperclip_core::protocol::PageRecord;
use paperclip_core::telemetry::page_buffer::PageBuffer;
use wasm_bindgen::prelude::*;

/// Longest a record waits in the page before it is sent, ms.
pub const FLUSH_MS: i32 = 1_000;

/// Least time between two memory samples of a page, ms.
pub const MEMORY_EVERY_MS: f64 = 10_000.0;

#[derive(Default)]
struct Recorder {
    source: &'static str,
    buffer: PageBuffer,
    timer: Option<Closure<dyn FnMut()>>,
    /// When memory was last sampled (ms since the epoch).
    memory_at: f64,
}

thread_local! {
    static RECORDER: RefCell<Recorder> = RefCell::new(Recorder::default());
}

/// Names this page's records and installs the panic hook (it also logs to
/// the console, as `console_error_panic_hook` does).
pub fn init(source: &'static str) {
    RECORDER.with(|r| r.borrow_mut().source = source);
    std::panic::set_hook(Box::new(on_panic));
    sample_memory();
}

/// Records the page's memory (see [`crate::memory`]) unless it was
/// sampled less than [`MEMORY_EVERY_MS`] ago; every flush calls it.
fn sample_memory() {
    let now = js_sys::Date::now();
    let due = RECORDER.with(|r| {
        r.try_borrow_mut().is_ok_and(|mut r| {
            let due = now - r.memory_at >= MEMORY_EVERY_MS;
            if due {
                r.memory_at = now;
            }
            due
        })
    });
    if !due {
        return;
    }
    let memory = crate::memory::sample();
    gauge(crate::memory::WASM_BYTES, &[], memory.wasm_bytes);
    gauge(crate::memory::WASM_LIVE_BYTES, &[], memory.live_bytes);
    if let Some(heap) = memory.js_heap_bytes {
        gauge(crate::memory::JS_HEAP_BYTES, &[], heap);
    }
}

/// Sets gauge `name` to `value`.
pub fn gauge(name: &str, labels: &[(&str, &str)], value: f64) {
    with_buffer(|b| b.gauge(name, labels, value));
}

/// The pages' panic hook: logs to the console, records the panic with its
/// stack, sends it at once and puts the reload notice on the page. (A Yew
/// app must hand it to `yew::set_custom_panic_hook`: its renderer replaces
/// any other hook with its own.)
pub fn on_panic(info: &std::panic::PanicHookInfo) {
    console_error_panic_hook::hook(info);
    let stack = js_sys::Reflect::get(&js_sys::Error::new("panic"), &"stack".into())
        .ok()
        .and_then(|s| s.as_string());
    with_buffer(|b| {
        b.push(PageRecord::Error {
            message: info.to_string(),
            kind: "panic".into(),
            stack,
        })
    });
    // The page is unusable from now on: send at once.
    flush();
    crashed_notice();
}

/// After a panic the page's wasm is stopped for good (a panic aborts it):
/// a notice with a plain reload link (no script needed) replaces nothing
/// and covers nothing but a strip at the bottom.
fn crashed_notice() {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let (Some(body), Ok(notice), Ok(link)) = (
        document.body(),
        document.create_element("div"),
        document.create_element("a"),
    ) else {
        return;
    };
    let _ = notice.set_attribute("class", "crashed");
    let _ = notice.set_attribute("role", "alert");
    notice.set_text_content(Some("Paperclip stopped working on this page. "));
    let here = web_sys::window()
        .and_then(|w| w.location().href().ok())
        .unwrap_or_default();
    let _ = link.set_attribute("href", &here);
    link.set_text_content(Some("Reload it"));
    let _ = notice.append_child(&link);
    let _ = body.append_child(&notice);
}

/// Adds `value` to counter `name`.
pub fn count(name: &str, labels: &[(&str, &str)], value: u64) {
    with_buffer(|b| b.count(name, labels, value));
}

/// Records a duration of `ms` in histogram `name`.
pub fn timing(name: &str, labels: &[(&str, &str)], ms: f64) {
    with_buffer(|b| b.timing(name, labels, ms));
}

/// Records event `name`.
pub fn event(name: &str, properties: &[(&str, &str)]) {
    with_buffer(|b| {
        b.push(PageRecord::Event {
            name: name.to_string(),
            properties: properties
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
        })
    });
}

/// Records an error.
pub fn error(message: &str, kind: &str, stack: Option<String>) {
    with_buffer(|b| {
        b.push(PageRecord::Error {
            message: message.to_string(),
            kind: kind.to_string(),
            stack,
        })
    });
}

/// Runs `f` on the page's buffer (it says whether a batch is due), arms the
/// flush timer, and flushes when due.
fn with_buffer(f: impl FnOnce(&mut PageBuffer) -> bool) {
    let due = RECORDER.with(|r| {
        // A panic while the buffer is borrowed: lost, never panic again.
        let Ok(mut r) = r.try_borrow_mut() else {
            return false;
        };
        if f(&mut r.buffer) {
            return true;
        }
        if r.timer.is_none() && !r.buffer.is_empty() {
            let tick = Closure::<dyn FnMut()>::new(flush);
            crate::set_timeout(tick.as_ref(), FLUSH_MS);
            r.timer = Some(tick);
        }
        false
    });
    if due {
        flush();
    }
}

/// Sends what is buffered now (in batches of at most
/// [`paperclip_core::protocol::MAX_TELEMETRY_BATCH`] records). A batch the
/// background did not take is put back, within the buffer's capacity.
pub fn flush() {
    sample_memory();
    let batches = RECORDER.with(|r| {
        let Ok(mut r) = r.try_borrow_mut() else {
            return Vec::new();
        };
        // The timer closure may be the caller: drop it after this call.
        if let Some(timer) = r.timer.take() {
            wasm_bindgen_futures::spawn_local(async move { drop(timer) });
        }
        let source = r.source;
        r.buffer.take(source)
    });
    for batch in batches {
        wasm_bindgen_futures::spawn_local(async move {
            if crate::call(batch.clone()).await.is_err() {
                // Keep them for the next flush (the worker may be starting).
                RECORDER.with(|r| {
                    if let Ok(mut r) = r.try_borrow_mut() {
                        r.buffer.put_back(batch);
                    }
                });
            }
        });
    }
}
