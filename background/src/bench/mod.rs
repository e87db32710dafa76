//! `BenchStore`: the storage engine driven from JavaScript by
//! `cargo xtask bench storage` (`bench/storage.js`), so Paperclip, raw
//! IndexedDB and Dexie are timed by one harness. Built only with the
//! `bench` feature; never part of the shipped extension.

use std::rc::Rc;

use js_sys::Promise;
use paperclip_core::cache::CacheEntry;
use paperclip_core::conversation::{Conversation, Message, Role};
use paperclip_core::export::{parse_import, MergePolicy};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::store::{self, Store};

mod resilience;
mod telemetry;

/// The epoch of the simulated clock in the benches' loops.
const T0_MS: u64 = 1_764_336_000_000;

pub use resilience::*;
pub use telemetry::*;

struct Inner {
    store: Store,
    prepared: std::cell::RefCell<Vec<Conversation>>,
}

/// The engine on its own database, with conversations prepared in Rust.
#[wasm_bindgen]
pub struct BenchStore {
    inner: Rc<Inner>,
}

fn js_err(e: impl std::fmt::Display) -> JsValue {
    JsValue::from_str(&e.to_string())
}

fn run<F>(inner: &Rc<Inner>, f: impl FnOnce(Rc<Inner>) -> F) -> Promise
where
    F: std::future::Future<Output = Result<JsValue, JsValue>> + 'static,
{
    future_to_promise(f(inner.clone()))
}

#[wasm_bindgen]
impl BenchStore {
    /// Deletes database `name`, then opens the engine on it.
    pub async fn open(name: String) -> Result<BenchStore, JsValue> {
        rexie::Rexie::delete(&name).await.map_err(js_err)?;
        let store = Store::open_named(&name).await;
        if !store.persistent() {
            return Err(js_err(store.notice().unwrap_or("IndexedDB unavailable")));
        }
        Ok(BenchStore {
            inner: Rc::new(Inner {
                store,
                prepared: Default::default(),
            }),
        })
    }

    /// Parses an export file into conversations kept by index; returns how many.
    pub fn prepare(&self, json: &str) -> Result<u32, JsValue> {
        let file =
            parse_import(json.as_bytes(), paperclip_platform::clock::now_ms()).map_err(js_err)?;
        let n = file.conversations.len() as u32;
        *self.inner.prepared.borrow_mut() = file.conversations;
        Ok(n)
    }

    /// Saves prepared conversation `i` whole.
    pub fn save(&self, i: u32) -> Promise {
        run(&self.inner, move |inner| async move {
            let c = inner
                .prepared
                .borrow()
                .get(i as usize)
                .cloned()
                .ok_or_else(|| js_err(format!("no prepared conversation {i}")))?;
            inner.store.save(&c).await.map_err(|e| js_err(e.message))?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Loads and decodes conversation `id`; returns its message count.
    pub fn load(&self, id: String) -> Promise {
        run(&self.inner, move |inner| async move {
            let c = inner.store.get(&id).await.map_err(|e| js_err(e.message))?;
            Ok(c.map_or(0, |c| c.messages.len()).into())
        })
    }

    /// Appends one user message (read-modify-write in one transaction).
    pub fn append(&self, id: String, message_id: String, text: String, time_ms: f64) -> Promise {
        run(&self.inner, move |inner| async move {
            let m = Message::complete(message_id, Role::User, text, time_ms);
            inner
                .store
                .upsert_message(&id, "https://bench.test", m, time_ms)
                .await
                .map_err(|e| js_err(e.message))?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Stores a cache entry (memory tier and IndexedDB).
    pub fn cache_put(&self, key: String, value: String, now_ms: f64) -> Promise {
        run(&self.inner, move |inner| async move {
            let now = now_ms as u64;
            let entry = CacheEntry::new(key, value, now, 0, 0.5, vec!["bench".into()]);
            inner
                .store
                .cache_put(entry, now)
                .await
                .map_err(|e| js_err(e.message))?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Stores the entries `keys[i]` → `values[i]` in one transaction (the
    /// untimed fill before the storage-size measurement).
    pub fn cache_fill(&self, keys: Vec<String>, values: Vec<String>, now_ms: f64) -> Promise {
        run(&self.inner, move |inner| async move {
            let now = now_ms as u64;
            let entries = keys
                .into_iter()
                .zip(values)
                .map(|(k, v)| CacheEntry::new(k, v, now, 0, 0.5, vec!["bench".into()]))
                .collect();
            inner
                .store
                .cache_put_many(entries, now)
                .await
                .map_err(|e| js_err(e.message))?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Closes the database so it can be deleted or upgraded.
    pub fn close(self) {
        if let Ok(inner) = Rc::try_unwrap(self.inner) {
            inner.store.close();
        }
    }

    /// Looks `key` up; with `memory` false the memory tier forgets it first,
    /// so the lookup reads IndexedDB. Returns whether it was found.
    pub fn cache_get(&self, key: String, memory: bool, now_ms: f64) -> Promise {
        run(&self.inner, move |inner| async move {
            if !memory {
                inner.store.cache_forget_in_memory(&key);
            }
            let found = inner
                .store
                .cache_get(&key, now_ms as u64)
                .await
                .map_err(|e| js_err(e.message))?;
            Ok(found.is_some().into())
        })
    }

    /// The newest `limit` conversations; returns how many were listed.
    pub fn list_page(&self, limit: u32) -> Promise {
        run(&self.inner, move |inner| async move {
            let items = inner
                .store
                .recent(limit)
                .await
                .map_err(|e| js_err(e.message))?;
            Ok(items.len().into())
        })
    }

    /// The whole import path: validate, plan, write in one transaction.
    pub fn import_json(&self, json: String) -> Promise {
        run(&self.inner, move |inner| async move {
            let file = parse_import(json.as_bytes(), paperclip_platform::clock::now_ms())
                .map_err(js_err)?;
            let plan = inner
                .store
                .import(file, MergePolicy::KeepNewest)
                .await
                .map_err(|e| js_err(e.message))?;
            Ok((plan.added + plan.overwritten).into())
        })
    }

    /// `navigator.storage.estimate().usage`, bytes.
    pub fn usage(&self) -> Promise {
        future_to_promise(async { Ok((store::estimate().await.0 as f64).into()) })
    }
}
