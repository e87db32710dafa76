//! Opening the database: runs the migration plan of
//! [`paperclip_core::schema`] inside the upgrade transaction (idb's
//! `upgradeneeded` hook), then hands the database to rexie.
//!
//! Structural steps run synchronously in the hook; data steps run as a
//! future on the same version-change transaction. Any failure aborts that
//! transaction, so the database stays at its old version with its old data,
//! and the error is returned for the caller to report.

use std::cell::RefCell;
use std::future::IntoFuture;
use std::rc::Rc;

use idb::{
    DatabaseEvent, Event, Factory, IndexParams, KeyPath, ObjectStoreParams, Request, Transaction,
};
use paperclip_core::schema::{self, store, Migration, Step, StoreSpec};
use rexie::{Index, ObjectStore, Rexie};
use wasm_bindgen::JsValue;

use super::records::{self, QuarantineRecord};

/// How long a blocked upgrade may wait before the engine works in memory.
const BLOCKED_MS: u32 = 3_000;

/// How to open: the schema version to reach, and a fault to inject in tests.
#[derive(Debug, Clone, Copy)]
pub struct OpenOptions {
    /// Version to open at ([`schema::SCHEMA_VERSION`] outside tests).
    pub version: u32,
    /// Fail the migration to this version after its data steps ran (tests
    /// prove that a failing migration changes nothing).
    pub fail_migration_to: Option<u32>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            version: schema::SCHEMA_VERSION,
            fail_migration_to: None,
        }
    }
}

fn key_path(fields: &[&str]) -> KeyPath {
    match fields {
        [one] => KeyPath::new_single(one),
        many => KeyPath::new_array(many.iter().copied()),
    }
}

fn create_store(db: &idb::Database, spec: &StoreSpec) -> Result<(), String> {
    let mut params = ObjectStoreParams::new();
    params.key_path(Some(KeyPath::new_single(spec.key_path)));
    params.auto_increment(spec.auto_increment);
    let created = db
        .create_object_store(spec.name, params)
        .map_err(|e| format!("creating store {}: {e}", spec.name))?;
    for index in spec.indexes {
        create_index(&created, index)?;
    }
    Ok(())
}

fn create_index(store: &idb::ObjectStore, index: &schema::IndexSpec) -> Result<(), String> {
    let mut params = IndexParams::new();
    params.multi_entry(index.multi_entry);
    store
        .create_index(index.name, key_path(index.key_path), Some(params))
        .map(|_| ())
        .map_err(|e| format!("creating index {}: {e}", index.name))
}

/// Runs the structural steps of `plan`; true when data steps follow.
fn run_structure(db: &idb::Database, tx: &Transaction, plan: &[Migration]) -> Result<(), String> {
    for step in plan.iter().flat_map(|m| &m.steps) {
        match step {
            Step::CreateStore(spec) => create_store(db, spec)?,
            Step::CreateIndex { store, index } => {
                let os = tx.object_store(store).map_err(|e| e.to_string())?;
                create_index(&os, index)?;
            }
            Step::DeleteIndex { store, index } => tx
                .object_store(store)
                .and_then(|os| os.delete_index(index))
                .map_err(|e| format!("dropping index {index}: {e}"))?,
            Step::RewriteConversations => {}
        }
    }
    Ok(())
}

/// Runs the data steps of `plan` on the upgrade transaction.
async fn run_data(
    tx: &Transaction,
    plan: &[Migration],
    fail_to: Option<u32>,
) -> Result<(), String> {
    for migration in plan {
        for step in &migration.steps {
            if *step == Step::RewriteConversations {
                rewrite_conversations(tx).await?;
            }
        }
        if fail_to == Some(migration.to) {
            return Err(format!(
                "migration to version {} failed (injected by a test)",
                migration.to
            ));
        }
    }
    Ok(())
}

/// Decodes every conversation (any older encoding) and writes it back in
/// the current one; unreadable records move to quarantine.
async fn rewrite_conversations(tx: &Transaction) -> Result<(), String> {
    let e = |e: idb::Error| format!("rewriting conversations: {e}");
    let conversations = tx.object_store(store::CONVERSATIONS).map_err(e)?;
    let quarantine = tx.object_store(store::QUARANTINE).map_err(e)?;
    let keys = conversations
        .get_all_keys(None, None)
        .map_err(e)?
        .await
        .map_err(e)?;
    let values = conversations
        .get_all(None, None)
        .map_err(e)?
        .await
        .map_err(e)?;
    let now = paperclip_platform::clock::now_ms();
    for (key, value) in keys.iter().zip(&values) {
        match records::decode_conversation(value) {
            Ok(c) => {
                conversations
                    .put(&records::encode_conversation(&c), None)
                    .map_err(e)?
                    .await
                    .map_err(e)?;
            }
            Err(error) => {
                let q = QuarantineRecord {
                    store: store::CONVERSATIONS.into(),
                    key: key.as_string().unwrap_or_else(|| format!("{key:?}")),
                    error: format!("during migration: {error}"),
                    time: now,
                    bytes: super::idb::approx_size(value),
                };
                let raw = records::record(&q);
                js_sys::Reflect::set(&raw, &"raw".into(), value).map_err(|_| "quarantine")?;
                quarantine.add(&raw, None).map_err(e)?.await.map_err(e)?;
                conversations
                    .delete(key.clone())
                    .map_err(e)?
                    .await
                    .map_err(e)?;
            }
        }
    }
    Ok(())
}

/// Opens database `name` at `options.version`, migrating as planned.
pub async fn open(name: &str, options: OpenOptions) -> Result<Rexie, String> {
    let factory = Factory::new().map_err(|e| format!("IndexedDB is unavailable: {e}"))?;
    let mut request = factory
        .open(name, Some(options.version))
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let failure: Rc<RefCell<Option<String>>> = Rc::default();
    let report = failure.clone();
    request.on_upgrade_needed(move |event| {
        let fail = |tx: Option<Transaction>, message: String| {
            *report.borrow_mut() = Some(message);
            if let Some(tx) = tx {
                let _ = tx.abort();
            }
        };
        let old = event.old_version().unwrap_or(0);
        let tx = event.target().ok().and_then(|r| r.transaction());
        let (Ok(db), Some(tx)) = (event.database(), tx) else {
            return fail(None, "the upgrade has no transaction".into());
        };
        let plan = match schema::plan(old, options.version) {
            Ok(plan) => plan,
            Err(e) => return fail(Some(tx), e.to_string()),
        };
        if let Err(e) = run_structure(&db, &tx, &plan) {
            return fail(
                Some(tx),
                format!("migration from version {old} failed: {e}"),
            );
        }
        let report = report.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = run_data(&tx, &plan, options.fail_migration_to).await {
                *report.borrow_mut() = Some(format!(
                    "migration from version {old} failed, the database was left as it was: {e}"
                ));
                let _ = tx.abort();
            }
        });
    });
    let blocked = Rc::new(std::cell::Cell::new(false));
    let flag = blocked.clone();
    request.on_blocked(move |_| {
        flag.set(true);
        web_sys::console::warn_1(&JsValue::from_str(
            "paperclip: database upgrade waits for another Paperclip page to close",
        ));
    });
    // A blocked upgrade (an old connection that does not close) must not
    // hang the background: after BLOCKED_MS the engine gives up for this
    // run and works in memory; the upgrade still happens once unblocked.
    let give_up = async {
        loop {
            paperclip_platform::timer::sleep(100).await;
            if blocked.get() {
                paperclip_platform::timer::sleep(BLOCKED_MS).await;
                return;
            }
        }
    };
    let opened = {
        let request = std::pin::pin!(request.into_future());
        let give_up = std::pin::pin!(give_up);
        match futures::future::select(request, give_up).await {
            futures::future::Either::Left((result, _)) => result,
            futures::future::Either::Right(_) => {
                return Err("the database upgrade is blocked by another open Paperclip page; close it and reload".into())
            }
        }
    };
    match opened {
        Ok(db) => db.close(),
        Err(e) => {
            let detail = failure.borrow_mut().take();
            return Err(detail.unwrap_or_else(|| match e.to_string() {
                s if s.contains("VersionError") || s.contains("version") => format!(
                    "the database is newer than this Paperclip (schema {}); update Paperclip: {s}",
                    options.version
                ),
                s => format!("cannot open the database: {s}"),
            }));
        }
    }
    let mut builder = Rexie::builder(name).version(options.version);
    for spec in schema::stores_at(options.version) {
        builder = builder.add_object_store(rexie_store(spec));
    }
    builder
        .build()
        .await
        .map_err(|e| format!("cannot open the database: {e}"))
}

fn rexie_store(spec: &StoreSpec) -> ObjectStore {
    let mut os = ObjectStore::new(spec.name)
        .key_path(spec.key_path)
        .auto_increment(spec.auto_increment);
    for i in spec.indexes {
        let index = match i.key_path {
            [one] => Index::new(i.name, one),
            many => Index::new_array(i.name, many.iter().copied()),
        };
        os = os.add_index(index.multi_entry(i.multi_entry));
    }
    os
}
