//! Storage tests shared by the page and service-worker test binaries: real
//! IndexedDB in a real browser. `all_storage_tests!()` declares each as a
//! `#[wasm_bindgen_test]` in the including binary.

/// Declares the named tests of this module in the including binary.
#[macro_export]
macro_rules! storage_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[wasm_bindgen_test::wasm_bindgen_test]
            async fn $name() {
                common::$name().await;
            }
        )*
    };
}

/// Declares the tests every backend passes (IndexedDB and the memory
/// fallback alike: the binary's `MEMORY` says which it runs on).
#[macro_export]
macro_rules! backend_tests {
    () => {
        storage_tests!(
            round_trip_and_order,
            latest_for_site_and_delete,
            concurrent_appends_lose_nothing,
            streaming_message_is_replaced_in_place,
            export_then_import_under_each_policy,
            imported_conversations_wait_to_be_opened,
            list_filters_and_stable_pages,
            tags_usage_and_compression,
            status_counts_every_conversation_in_batches,
            cache_tiers_ttl_prefix_and_persisted_stats,
            preferences_are_validated_and_persist,
            maintenance_retention_then_budget,
            telemetry_sink_writes_rows_and_applies_retention,
            delete_everything_leaves_a_fresh_store,
            delete_site_keeps_other_sites,
            clearing_telemetry_keeps_conversations,
            each_answer_keeps_its_usage,
            usage_ledger_by_day_month_and_provider,
        );
    };
}

/// Declares every storage test: the backend tests and those about
/// IndexedDB itself (quarantine, migrations, refusals).
#[macro_export]
macro_rules! all_storage_tests {
    () => {
        backend_tests!();
        storage_tests!(
            corrupt_records_are_quarantined_not_fatal,
            migration_v1_to_v2_transforms_records,
            failing_migration_leaves_old_data_intact,
            newer_database_is_refused_and_left_alone,
            blocked_upgrade_falls_back_to_memory,
            settings_from_an_older_version_are_migrated,
        );
    };
}

use paperclip_background::store::{
    open::open as open_db, records, Budget, Observation, OpenOptions, Store,
};
use paperclip_core::cache::CacheEntry;
use paperclip_core::conversation::{v1, Conversation, Message, MessageStatus, Role, Usage};
use paperclip_core::protocol::ListConversations;
use paperclip_core::query::{self, Cursor, Filter};
use serde_json::json;

fn unique(name: &str) -> String {
    format!("test-{name}-{}", js_sys::Math::random())
}

fn msg(id: &str, role: Role, text: &str, t: f64) -> Message {
    Message::complete(id.into(), role, text.into(), t)
}

/// A new store on the binary's backend (named `name`).
async fn open(name: &str) -> Store {
    if crate::MEMORY {
        return Store::in_memory(None);
    }
    let store = Store::open_named(&unique(name)).await;
    assert!(store.persistent(), "IndexedDB should open in this context");
    store
}

/// A new store on the binary's backend, named exactly `name`.
async fn open_exactly(name: &str) -> Store {
    if crate::MEMORY {
        return Store::in_memory(None);
    }
    Store::open_named(name).await
}

/// `store` as a restarted worker finds it: IndexedDB is closed and opened
/// again (named `name`); memory is the same store (it lives as long as the
/// worker).
async fn reopen(store: Store, name: &str) -> Store {
    if crate::MEMORY {
        return store;
    }
    store.close();
    Store::open_named(name).await
}

pub async fn round_trip_and_order() {
    let store = open("order").await;
    store
        .upsert_message(
            "a",
            "https://a.test",
            msg("1", Role::User, "first", 10.0),
            10.0,
        )
        .await
        .unwrap();
    store
        .upsert_message(
            "b",
            "https://b.test",
            msg("2", Role::User, "second", 20.0),
            20.0,
        )
        .await
        .unwrap();
    let c = store
        .upsert_message(
            "a",
            "https://a.test",
            msg("3", Role::Assistant, "reply", 30.0),
            30.0,
        )
        .await
        .unwrap();
    assert_eq!(c.messages.len(), 2);
    assert_eq!(c.title, "first");

    let list = store.recent(10).await.unwrap();
    let ids: Vec<_> = list.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["a", "b"], "newest first");
    assert_eq!(list[0].message_count, 2);
    assert_eq!(store.recent(1).await.unwrap().len(), 1);

    let got = store.get("a").await.unwrap().unwrap();
    assert_eq!(got, c);
    assert_eq!(store.get("missing").await.unwrap(), None);
}

pub async fn latest_for_site_and_delete() {
    let store = open("site").await;
    for (id, t) in [("old", 1.0), ("new", 5.0)] {
        store
            .upsert_message(id, "https://s.test", msg(id, Role::User, id, t), t)
            .await
            .unwrap();
    }
    store
        .upsert_message(
            "other",
            "https://t.test",
            msg("x", Role::User, "x", 9.0),
            9.0,
        )
        .await
        .unwrap();
    let latest = store
        .latest_for_site("https://s.test")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.id, "new");
    assert_eq!(
        store.latest_for_site("https://none.test").await.unwrap(),
        None
    );

    assert!(store.delete("new").await.unwrap());
    assert!(!store.delete("new").await.unwrap());
    let latest = store
        .latest_for_site("https://s.test")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.id, "old");
}

pub async fn concurrent_appends_lose_nothing() {
    let store = open("concurrent").await;
    let site = "https://c.test";
    futures::join!(
        async {
            for i in 0..10 {
                let m = msg(&format!("a{i}"), Role::User, "from tab A", i as f64);
                store.upsert_message("conv", site, m, 0.0).await.unwrap();
            }
        },
        async {
            for i in 0..10 {
                let m = msg(&format!("b{i}"), Role::User, "from tab B", i as f64);
                store.upsert_message("conv", site, m, 0.0).await.unwrap();
            }
        },
    );
    let c = store.get("conv").await.unwrap().unwrap();
    assert_eq!(
        c.messages.len(),
        20,
        "{:?}",
        c.messages.iter().map(|m| &m.id).collect::<Vec<_>>()
    );
}

pub async fn streaming_message_is_replaced_in_place() {
    let store = open("upsert").await;
    let mut answer = msg("ans", Role::Assistant, "par", 2.0);
    answer.status = MessageStatus::Streaming;
    store
        .upsert_message("c", "s", answer.clone(), 1.0)
        .await
        .unwrap();
    answer.text = "partial, then whole".into();
    answer.status = MessageStatus::Complete;
    let c = store
        .upsert_message("c", "s", answer.clone(), 1.0)
        .await
        .unwrap();
    assert_eq!(c.messages, vec![answer]);
}

pub async fn corrupt_records_are_quarantined_not_fatal() {
    paperclip_background::store::observe(note_quarantine);
    let name = unique("corrupt");
    let store = Store::open_named(&name).await;
    store
        .upsert_message(
            "good",
            "https://g.test",
            msg("1", Role::User, "ok", 1.0),
            1.0,
        )
        .await
        .unwrap();
    // Write a record whose data is garbage, behind the store's back.
    let mut bad = Conversation::new("bad".into(), "https://g.test".into(), 9.0);
    bad.push(msg("2", Role::User, "x", 9.0));
    let record = records::encode_conversation(&bad);
    js_sys::Reflect::set(
        &record,
        &"data".into(),
        &js_sys::Uint8Array::from(&[2u8, 0xff, 0xff, 0xff][..]),
    )
    .unwrap();
    put_raw(&name, "conversations", &record).await;

    assert_eq!(
        store.get("bad").await.unwrap(),
        None,
        "unreadable: None, no panic"
    );
    let list = store.recent(10).await.unwrap();
    let ids: Vec<_> = list.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["good"], "the good one is kept");
    let status = store.status().await.unwrap();
    assert_eq!(status.quarantine.len(), 1, "{:?}", status.quarantine);
    assert_eq!(status.quarantine[0].key, "bad");
    assert_eq!(status.quarantine[0].store, "conversations");
    assert!(
        status.quarantine[0].error.contains("corrupt"),
        "{}",
        status.quarantine[0].error
    );
    assert_eq!(
        QUARANTINED.with(|q| q.borrow().clone()),
        ["conversations"],
        "reported to the observer (the worker's telemetry)"
    );
    assert_eq!(status.conversations, 1, "moved out of conversations");
}

thread_local! {
    static QUARANTINED: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Notes quarantined records (the store's observer in the test above).
fn note_quarantine(o: &Observation) {
    if let Observation::Quarantined { store, .. } = o {
        QUARANTINED.with(|q| q.borrow_mut().push(store.to_string()));
    }
}

/// Puts `record` into `store_name` of database `name` directly.
async fn put_raw(name: &str, store_name: &str, record: &wasm_bindgen::JsValue) {
    let db = open_db(name, OpenOptions::default()).await.unwrap();
    let tx = db
        .transaction(&[store_name], rexie::TransactionMode::ReadWrite)
        .unwrap();
    tx.store(store_name)
        .unwrap()
        .put(record, None)
        .await
        .unwrap();
    tx.done().await.unwrap();
    db.close();
}

pub async fn export_then_import_under_each_policy() {
    use paperclip_core::export::{export, parse_import, MergePolicy};
    let store = open("import").await;
    store
        .upsert_message(
            "a",
            "https://a.test",
            msg("1", Role::User, "mine", 10.0),
            10.0,
        )
        .await
        .unwrap();
    let mine = store.get("a").await.unwrap().unwrap();
    assert_eq!(store.conversation_ids().await.unwrap(), ["a"]);

    // A file with an older "a", a newer copy would win under KeepNewest, and a new "b".
    let mut older = mine.clone();
    older.updated_ms = 5.0;
    older.messages[0].text = "older copy".into();
    let mut fresh = Conversation::new("b".into(), "https://b.test".into(), 1.0);
    fresh.push(msg("2", Role::User, "imported", 1.0));
    let file = export(vec![older.clone(), fresh.clone()], None, 99.0);

    let plan = store
        .import(
            parse_import(file.as_bytes(), paperclip_platform::clock::now_ms()).unwrap(),
            MergePolicy::KeepNewest,
        )
        .await
        .unwrap();
    assert_eq!((plan.added, plan.overwritten, plan.skipped), (1, 0, 1));
    assert_eq!(
        store.get("a").await.unwrap().unwrap().messages[0].text,
        "mine"
    );
    let fresh = Conversation {
        imported: true,
        ..fresh
    };
    assert_eq!(store.get("b").await.unwrap().unwrap(), fresh);

    let plan = store
        .import(
            parse_import(file.as_bytes(), paperclip_platform::clock::now_ms()).unwrap(),
            MergePolicy::Overwrite,
        )
        .await
        .unwrap();
    assert_eq!((plan.added, plan.overwritten, plan.skipped), (0, 2, 0));
    assert_eq!(
        store.get("a").await.unwrap().unwrap().messages[0].text,
        "older copy"
    );

    // Export in parts: every id newest first ("a" now carries its file
    // time 5, "b" 1); read in the order asked, missing ids skipped, until
    // the reader has enough.
    let ids = store.conversation_ids().await.unwrap();
    assert_eq!(ids, ["a", "b"]);
    let asked: Vec<String> = ["b", "gone", "a"].map(String::from).into();
    let mut got = Vec::new();
    let read = store
        .read_conversations(&asked, &mut |c| {
            got.push(c);
            true
        })
        .await
        .unwrap();
    assert_eq!(read, 3);
    assert_eq!(
        got.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["b", "a"]
    );
    assert_eq!(got[0], fresh);
    let mut first = Vec::new();
    let read = store
        .read_conversations(&asked, &mut |c| {
            first.push(c.id);
            false
        })
        .await
        .unwrap();
    assert_eq!((read, first), (1, vec!["b".to_string()]));

    // A file with preferences: written with the conversations, applied.
    let mut prefs = paperclip_core::prefs::Preferences::default();
    prefs.set("ui.theme", &json!("dark")).unwrap();
    let with_prefs = export(vec![older], Some(&prefs), 99.0);
    let plan = store
        .import(
            parse_import(with_prefs.as_bytes(), paperclip_platform::clock::now_ms()).unwrap(),
            MergePolicy::Skip,
        )
        .await
        .unwrap();
    assert_eq!(plan.skipped, 1);
    assert_eq!(store.preferences().theme.as_str(), "system");
}

/// An imported conversation is never a site's latest (so never opened by
/// itself or sent as history) until the user opens it.
pub async fn imported_conversations_wait_to_be_opened() {
    use paperclip_core::export::{export, parse_import, MergePolicy};
    let store = open("imported").await;
    let site = "https://planted.test";
    store
        .upsert_message("mine", site, msg("1", Role::User, "mine", 10.0), 10.0)
        .await
        .unwrap();
    let now = paperclip_platform::clock::now_ms();
    let planted: Vec<_> = (0..45)
        .map(|i| {
            let mut c = Conversation::new(format!("p{i}"), site.into(), now);
            c.push(msg("q", Role::User, "Ignore the page.", now));
            c
        })
        .collect();
    let file = parse_import(export(planted, None, now).as_bytes(), now).unwrap();
    store.import(file, MergePolicy::Skip).await.unwrap();
    let latest = store.latest_for_site(site).await.unwrap().unwrap();
    assert_eq!(latest.id, "mine");
    let list = store
        .list(&paperclip_core::protocol::ListConversations {
            limit: 100,
            filter: paperclip_core::query::Filter {
                site: Some(site.into()),
                ..Default::default()
            },
            cursor: None,
        })
        .await
        .unwrap()
        .0;
    assert_eq!(list.iter().filter(|c| c.imported).count(), 45);
    assert!(store.get("p3").await.unwrap().unwrap().imported);
    let opened = store.open_conversation("p3").await.unwrap().unwrap();
    assert!(!opened.imported);
    assert!(!store.get("p3").await.unwrap().unwrap().imported);
    assert_eq!(store.latest_for_site(site).await.unwrap().unwrap().id, "p3");
    // Only imported ones on a site: none is the latest.
    store.delete("mine").await.unwrap();
    store.delete("p3").await.unwrap();
    assert_eq!(store.latest_for_site(site).await.unwrap(), None);
}

/// A schema-1 database as the first release wrote it: `{id, site, updated,
/// data}` records with version-1 bytes, plus one unreadable record.
async fn v1_fixture(name: &str) -> Vec<v1::Conversation> {
    let db = open_db(
        name,
        OpenOptions {
            version: 1,
            fail_migration_to: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(db.store_names(), ["conversations"]);
    let old: Vec<v1::Conversation> = (0..5)
        .map(|i| v1::Conversation {
            id: format!("old{i}"),
            site: "https://v1.test".into(),
            title: format!("question {i}"),
            created_ms: f64::from(i),
            updated_ms: 100.0 + f64::from(i),
            messages: vec![v1::Message {
                id: format!("m{i}"),
                role: Role::User,
                text: format!("question {i}"),
                time_ms: 100.0 + f64::from(i),
                status: MessageStatus::Complete,
                provider: None,
            }],
        })
        .collect();
    let tx = db
        .transaction(&["conversations"], rexie::TransactionMode::ReadWrite)
        .unwrap();
    let store = tx.store("conversations").unwrap();
    for c in &old {
        let r = js_sys::Object::new();
        let set = |k: &str, v: wasm_bindgen::JsValue| {
            js_sys::Reflect::set(&r, &k.into(), &v).unwrap();
        };
        set("id", c.id.as_str().into());
        set("site", c.site.as_str().into());
        set("updated", c.updated_ms.into());
        set(
            "data",
            js_sys::Uint8Array::from(v1::encode(c).as_slice()).into(),
        );
        store.put(&r, None).await.unwrap();
    }
    let garbage = js_sys::Object::new();
    js_sys::Reflect::set(&garbage, &"id".into(), &"broken".into()).unwrap();
    js_sys::Reflect::set(&garbage, &"site".into(), &"https://v1.test".into()).unwrap();
    js_sys::Reflect::set(&garbage, &"updated".into(), &1.0.into()).unwrap();
    js_sys::Reflect::set(
        &garbage,
        &"data".into(),
        &js_sys::Uint8Array::from(&[1u8, 0xff][..]).into(),
    )
    .unwrap();
    store.put(&garbage, None).await.unwrap();
    tx.done().await.unwrap();
    db.close();
    old
}

pub async fn migration_v1_to_v2_transforms_records() {
    let name = unique("migrate");
    let old = v1_fixture(&name).await;
    let store = Store::open_named(&name).await;
    assert!(store.persistent(), "{:?}", store.notice());
    assert_eq!(store.schema_version(), 2);

    let c = store.get("old3").await.unwrap().unwrap();
    assert_eq!(c.title, old[3].title);
    assert_eq!(c.messages[0].text, old[3].messages[0].text);
    assert_eq!(c.agent, "clippy", "new fields get their defaults");
    // The new compound index lists them, newest first.
    let ids: Vec<String> = store
        .recent(10)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, ["old4", "old3", "old2", "old1", "old0"]);
    // Records were rewritten in the schema-2 encoding (not just decoded on read).
    let status = store.status().await.unwrap();
    assert_eq!(status.conversations, 5);
    assert_eq!(
        status.quarantine.len(),
        1,
        "the unreadable record is set aside"
    );
    assert_eq!(status.quarantine[0].key, "broken");
    assert!(status.quarantine[0].error.contains("during migration"));
    store.close();
    let db = open_db(&name, OpenOptions::default()).await.unwrap();
    let tx = db
        .transaction(&["conversations"], rexie::TransactionMode::ReadOnly)
        .unwrap();
    let raw = tx
        .store("conversations")
        .unwrap()
        .get("old0".into())
        .await
        .unwrap()
        .unwrap();
    let data: js_sys::Uint8Array = js_sys::Reflect::get(&raw, &"data".into()).unwrap().into();
    assert_eq!(
        data.to_vec()[0] & 0x7f,
        paperclip_core::conversation::STORAGE_VERSION,
        "rewritten in the current encoding"
    );
    assert_eq!(
        js_sys::Reflect::get(&raw, &"agent".into())
            .unwrap()
            .as_string()
            .as_deref(),
        Some("clippy")
    );
    drop(tx);
    db.close();
}

pub async fn failing_migration_leaves_old_data_intact() {
    let name = unique("failmig");
    let old = v1_fixture(&name).await;
    let failed = Store::open_with(
        &name,
        OpenOptions {
            fail_migration_to: Some(2),
            ..OpenOptions::default()
        },
    )
    .await;
    assert!(!failed.persistent(), "falls back to memory");
    let notice = failed.notice().unwrap().to_string();
    assert!(
        notice.contains("migration") && notice.contains("left as it was"),
        "{notice}"
    );
    let status = failed.status().await.unwrap();
    assert_eq!(
        status.notice.as_deref(),
        Some(notice.as_str()),
        "reported to the UI"
    );
    failed.close();

    // Still version 1, with every record as it was.
    let db = open_db(
        &name,
        OpenOptions {
            version: 1,
            fail_migration_to: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(db.version().unwrap(), 1);
    assert_eq!(db.store_names(), ["conversations"]);
    let tx = db
        .transaction(&["conversations"], rexie::TransactionMode::ReadOnly)
        .unwrap();
    let store = tx.store("conversations").unwrap();
    assert_eq!(store.count(None).await.unwrap(), 6);
    let raw = store.get("old2".into()).await.unwrap().unwrap();
    let data: js_sys::Uint8Array = js_sys::Reflect::get(&raw, &"data".into()).unwrap().into();
    assert_eq!(data.to_vec(), v1::encode(&old[2]));
    drop(store);
    drop(tx);
    db.close();

    // A later, working upgrade still succeeds.
    let store = Store::open_named(&name).await;
    assert!(store.persistent());
    assert_eq!(
        store.get("old2").await.unwrap().unwrap().title,
        old[2].title
    );
}

pub async fn newer_database_is_refused_and_left_alone() {
    let name = unique("newer");
    let factory = idb::Factory::new().unwrap();
    let db = factory.open(&name, Some(7)).unwrap().await.unwrap();
    db.close();
    let store = Store::open_named(&name).await;
    assert!(!store.persistent());
    assert!(
        store.notice().unwrap().contains("newer"),
        "{:?}",
        store.notice()
    );
    store.close();
    let db = factory.open(&name, None).unwrap().await.unwrap();
    assert_eq!(db.version().unwrap(), 7);
    db.close();
}

pub async fn list_filters_and_stable_pages() {
    let store = open("list").await;
    let mut all = Vec::new();
    for i in 0..40u32 {
        let mut c = Conversation::new(format!("c{i:02}"), format!("https://s{}.test", i % 3), 0.0);
        let text = if i % 5 == 0 {
            "about Rust ownership"
        } else {
            "about knitting"
        };
        c.push(msg(
            &format!("m{i}"),
            Role::User,
            text,
            f64::from(i % 17) * 10.0,
        ));
        if i % 4 == 0 {
            c.tags = vec!["work".into()];
        }
        if i % 7 == 0 {
            c.agent = "clippette".into();
        }
        store.save(&c).await.unwrap();
        all.push(c);
    }
    let filters = [
        Filter::default(),
        Filter {
            text: Some("RUST".into()),
            ..Filter::default()
        },
        Filter {
            site: Some("https://s1.test".into()),
            ..Filter::default()
        },
        Filter {
            tag: Some("work".into()),
            ..Filter::default()
        },
        Filter {
            agent: Some("clippette".into()),
            ..Filter::default()
        },
        Filter {
            from_ms: Some(50.0),
            to_ms: Some(120.0),
            ..Filter::default()
        },
        Filter {
            site: Some("https://s0.test".into()),
            text: Some("knitting".into()),
            ..Filter::default()
        },
    ];
    for filter in filters {
        let mut cursor: Option<String> = None;
        let mut got = Vec::new();
        let mut reference_cursor: Option<Cursor> = None;
        loop {
            let q = ListConversations {
                limit: 6,
                filter: filter.clone(),
                cursor: cursor.clone(),
            };
            let (items, next) = store.list(&q).await.unwrap();
            let (expected, expected_next) =
                query::page(&all, &filter, reference_cursor.as_ref(), 6);
            assert_eq!(items, expected, "{filter:?}");
            assert_eq!(next, expected_next.as_ref().map(Cursor::to_token));
            got.extend(items);
            reference_cursor = expected_next;
            match next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
        let want = all.iter().filter(|c| filter.matches(c)).count();
        assert_eq!(got.len(), want, "{filter:?}");
    }
    // New conversations arriving between pages neither repeat nor skip older ones.
    let first = store
        .list(&ListConversations {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut fresh = Conversation::new("zz-new".into(), "https://s0.test".into(), 0.0);
    fresh.push(msg("n", Role::User, "new", 10_000.0));
    store.save(&fresh).await.unwrap();
    let second = store
        .list(&ListConversations {
            limit: 10,
            cursor: first.1.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(second
        .0
        .iter()
        .all(|s| !first.0.iter().any(|f| f.id == s.id)));
    assert!(second.0.iter().all(|s| s.id != "zz-new"));
    let bad = ListConversations {
        limit: 5,
        cursor: Some("junk".into()),
        ..Default::default()
    };
    assert!(store
        .list(&bad)
        .await
        .unwrap_err()
        .message
        .contains("cursor"));
}

pub async fn tags_usage_and_compression() {
    let store = open("tags").await;
    store
        .upsert_message("t", "https://t.test", msg("1", Role::User, "hi", 1.0), 1.0)
        .await
        .unwrap();
    let tags = store
        .set_tags("t", &[" Work ".into(), "work".into(), "Later".into()])
        .await
        .unwrap();
    assert_eq!(tags, ["work", "later"]);
    assert!(store.set_tags("t", &["x".repeat(100)]).await.is_err());
    assert_eq!(
        store.get("t").await.unwrap().unwrap().tags,
        ["work", "later"],
        "a bad set changes nothing"
    );
    assert!(store.set_tags("missing", &[]).await.is_err());
    store
        .record_usage(
            "t",
            Usage {
                tokens_in: 100,
                tokens_out: 20,
                cost_micro_usd: 7,
            },
        )
        .await
        .unwrap();
    let total = store
        .record_usage(
            "t",
            Usage {
                tokens_in: 1,
                tokens_out: 2,
                cost_micro_usd: 3,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        total,
        Usage {
            tokens_in: 101,
            tokens_out: 22,
            cost_micro_usd: 10
        }
    );
    assert_eq!(
        store.recent(1).await.unwrap()[0].usage,
        total,
        "listed without decoding"
    );

    let mut big = Conversation::new("big".into(), "https://t.test".into(), 0.0);
    for i in 0..50 {
        big.push(msg(
            &i.to_string(),
            Role::Assistant,
            "Clippy says the same helpful thing again. ",
            2.0,
        ));
    }
    store.save(&big).await.unwrap();
    assert_eq!(store.get("big").await.unwrap().unwrap(), big);
    let status = store.status().await.unwrap();
    assert_eq!(status.compressed, 1);
    assert!(status.bytes_saved > 1000, "{}", status.bytes_saved);
}

/// The storage status reads the store's sizes a batch at a time: every
/// conversation is counted once, across batches (250: three of 100).
pub async fn status_counts_every_conversation_in_batches() {
    let store = open("sizes").await;
    let mut expected_saved = 0u64;
    for i in 0..250 {
        let mut c = Conversation::new(format!("c{i:03}"), "https://s.test".into(), f64::from(i));
        let text = if i % 10 == 0 {
            "Clippy says the same helpful thing again. ".repeat(40)
        } else {
            format!("short {i}")
        };
        c.push(msg("1", Role::User, &text, f64::from(i)));
        let encoded = paperclip_core::conversation::encode(&c);
        if encoded.compressed {
            expected_saved += (encoded.plain_len - encoded.bytes.len()) as u64;
        }
        store.save(&c).await.unwrap();
    }
    let status = store.status().await.unwrap();
    assert_eq!(status.conversations, 250);
    assert_eq!(status.compressed, 25, "one in ten is long enough to pack");
    assert_eq!(status.bytes_saved, expected_saved);
}

pub async fn cache_tiers_ttl_prefix_and_persisted_stats() {
    let name = unique("cache");
    let store = open_exactly(&name).await;
    let now = 1_000_000u64;
    let entry = |key: &str, ttl: u64| {
        CacheEntry::new(
            key,
            format!("value of {key} ").repeat(200),
            now,
            ttl,
            0.5,
            vec!["offline".into()],
        )
    };
    store.cache_put(entry("ctx:a", 0), now).await.unwrap();
    store.cache_put(entry("ctx:b", 1000), now).await.unwrap();
    store.cache_put(entry("answer:x", 0), now).await.unwrap();

    assert!(
        store.cache_get("ctx:a", now + 1).await.unwrap().is_some(),
        "memory hit"
    );
    store.cache_forget_in_memory("ctx:a");
    let from_disk = store.cache_get("ctx:a", now + 2).await.unwrap().unwrap();
    assert_eq!(
        from_disk.value,
        entry("ctx:a", 0).value,
        "persistent hit, value intact (it was compressed)"
    );
    assert!(
        store
            .cache_get("ctx:b", now + 1000)
            .await
            .unwrap()
            .is_none(),
        "expired at its TTL"
    );
    store.cache_forget_in_memory("ctx:b");
    assert!(
        store
            .cache_get("ctx:b", now + 1000)
            .await
            .unwrap()
            .is_none(),
        "expired on disk too"
    );
    assert!(store.cache_get("nothing", now).await.unwrap().is_none());
    assert_eq!(
        store.cache_invalidate("ctx:").await.unwrap(),
        1,
        "ctx:a (ctx:b was removed on expiry)"
    );
    assert!(store.cache_get("ctx:a", now + 3).await.unwrap().is_none());
    assert!(store
        .cache_get("answer:x", now + 3)
        .await
        .unwrap()
        .is_some());

    let stats = store.cache_stats();
    assert_eq!(stats.hits, 3);
    assert!(stats.misses >= 3, "{stats:?}");
    assert_eq!(stats.invalidations, 1);
    store.flush_cache_stats().await.unwrap();

    // A new instance (a restarted worker): statistics kept, memory tier warmed.
    let again = reopen(store, &name).await;
    assert_eq!(again.cache_stats().hits, 3);
    assert_eq!(again.cache_memory_len(), 1, "warmed with the live entry");
    assert!(again
        .cache_get("answer:x", now + 4)
        .await
        .unwrap()
        .is_some());
    assert_eq!(again.cache_stats().hits, 4);
}

pub async fn preferences_are_validated_and_persist() {
    let name = unique("prefs");
    let store = open_exactly(&name).await;
    assert_eq!(store.preferences().theme.as_str(), "system", "defaults");
    let err = store
        .set_preference("ui.font_scale", &json!(9))
        .await
        .unwrap_err();
    assert!(err.message.contains("ui.font_scale"), "{}", err.message);
    assert!(store.set_preference("no.such", &json!(true)).await.is_err());
    assert_eq!(
        store
            .set_preference("ui.theme", &json!(" Dark "))
            .await
            .unwrap(),
        json!("dark")
    );
    store
        .set_preference("privacy.retention_days", &json!(30))
        .await
        .unwrap();
    let privacy = store.preference_entries(Some(paperclip_core::prefs::Category::Privacy));
    assert!(privacy
        .iter()
        .all(|e| e.category == paperclip_core::prefs::Category::Privacy));
    assert!(privacy
        .iter()
        .any(|e| e.key == "privacy.retention_days" && e.value == json!(30)));
    let again = reopen(store, &name).await;
    assert_eq!(again.preferences().theme.as_str(), "dark");
    assert_eq!(again.preferences().retention_days, 30);
    assert_eq!(
        again.preferences().font_scale,
        1.0,
        "the rejected value was never stored"
    );
}

pub async fn maintenance_retention_then_budget() {
    let store = open("maint").await;
    let day = 86_400_000.0;
    let now = 100.0 * day;
    for (id, age_days) in [("ancient", 90.0), ("old", 20.0), ("recent", 1.0)] {
        let mut c = Conversation::new(id.into(), "https://m.test".into(), 0.0);
        c.push(msg(
            id,
            Role::User,
            &"words ".repeat(300),
            now - age_days * day,
        ));
        store.save(&c).await.unwrap();
    }
    for i in 0..5 {
        let e = CacheEntry::new(
            format!("ctx:{i}"),
            "x".repeat(2000),
            now as u64,
            0,
            0.1 * f64::from(i) as f32,
            vec![],
        );
        store.cache_put(e, now as u64).await.unwrap();
    }
    let expired = CacheEntry::new("ctx:stale", "y", 0, 10, 1.0, vec![]);
    store.cache_put(expired, 0).await.unwrap();

    // Retention off (0 days) and a roomy budget: nothing but the expired entry goes.
    let roomy = Budget {
        bytes: 10_000_000,
        allow_conversations: false,
        retention_days: 0,
    };
    let r = store.maintain(now, roomy).await.unwrap();
    assert_eq!(
        (r.expired_cache, r.retention_deleted, r.budget_cache_evicted),
        (1, 0, 0)
    );
    assert_eq!(store.recent(10).await.unwrap().len(), 3);

    // Retention of 30 days removes the 90-day-old conversation.
    let r = store
        .maintain(
            now,
            Budget {
                retention_days: 30,
                ..roomy
            },
        )
        .await
        .unwrap();
    assert_eq!(r.retention_deleted, 1);
    assert!(store.get("ancient").await.unwrap().is_none());

    // A tight budget evicts cache first and keeps conversations unless allowed.
    let tight = Budget {
        bytes: 100,
        allow_conversations: false,
        retention_days: 0,
    };
    let r = store.maintain(now, tight).await.unwrap();
    assert_eq!(r.budget_cache_evicted, 5);
    assert_eq!(r.budget_conversations_deleted, 0);
    assert!(r.still_over_budget);
    assert_eq!(store.recent(10).await.unwrap().len(), 2);
    let r = store
        .maintain(
            now,
            Budget {
                allow_conversations: true,
                ..tight
            },
        )
        .await
        .unwrap();
    assert_eq!(r.budget_conversations_deleted, 2);
    let status = store.status().await.unwrap();
    assert!(status.last_maintenance_ms == now);
    assert_eq!(status.cache_entries, 0);
}

pub async fn blocked_upgrade_falls_back_to_memory() {
    let name = unique("blocked");
    v1_fixture(&name).await;
    // An old connection that ignores `versionchange` blocks the upgrade.
    let factory = idb::Factory::new().unwrap();
    let old = factory.open(&name, Some(1)).unwrap().await.unwrap();
    let store = Store::open_named(&name).await;
    assert!(!store.persistent());
    assert!(
        store.notice().unwrap().contains("blocked"),
        "{:?}",
        store.notice()
    );
    old.close();
}

pub async fn settings_from_an_older_version_are_migrated() {
    let name = unique("oldprefs");
    Store::open_named(&name).await.close();
    // What the previous settings version stored: bare keys, "on"/"off".
    let pref = |key: &str, value: &str| {
        records::record(&records::PreferenceRecord {
            key: key.into(),
            value: value.into(),
            category: "ui".into(),
            updated: 1.0,
        })
    };
    put_raw(&name, "preferences", &pref("theme", "\"Dark\"")).await;
    put_raw(&name, "preferences", &pref("telemetry", "\"on\"")).await;
    let version = js_sys::Object::new();
    js_sys::Reflect::set(&version, &"key".into(), &"prefs_version".into()).unwrap();
    js_sys::Reflect::set(&version, &"value".into(), &1.into()).unwrap();
    put_raw(&name, "meta", &version).await;

    let store = Store::open_named(&name).await;
    let p = store.preferences();
    assert_eq!(p.theme.as_str(), "dark");
    assert!(p.telemetry_remote);
}

/// The IndexedDB sink: the engine's rows are written and read back by
/// kind; rows past the retention are trimmed, the rest stay.
pub async fn telemetry_sink_writes_rows_and_applies_retention() {
    use paperclip_core::telemetry::persist::{Row, RETENTION_MS};
    use paperclip_core::telemetry::{AttrValue, Engine, EngineConfig};
    let store = open("telemetry").await;
    let now = paperclip_platform::clock::now_ms();
    let mut engine = Engine::new(EngineConfig::default(), now - 1_000.0).unwrap();
    let h = engine
        .metrics_mut()
        .histogram("provider.total", "ms", "")
        .unwrap();
    for v in [100.0, 200.0, 300.0] {
        engine
            .metrics_mut()
            .record_with(h, &[("provider", "openai")], v);
    }
    engine.event(
        "answer.level",
        &[("level", AttrValue::from("fallback"))],
        now - 10.0,
        0.5,
    );
    // A span with nanosecond times (beyond a JavaScript number's exact
    // range) and attributes, stored whole and read back by time range.
    {
        use paperclip_core::telemetry::span::{names, OpenSpan, SpanKind};
        let ns = ((now - 20.0) * 1e6) as u64;
        let mut ask = OpenSpan::root(names::ASK, SpanKind::Internal, (3, 5), 7, ns);
        ask.set_attribute("site", "https://a.test");
        engine.span(ask.finish(ns + 1_234_567), now - 15.0);
    }
    let rows = engine.rows(now - 1_000.0, now);
    assert!(rows.len() >= 3);
    store.telemetry_add(&rows).await.unwrap();
    let spans = paperclip_core::telemetry::persist::spans_of(
        &store
            .telemetry_between("span", now - 1_000.0, now, 10)
            .await
            .unwrap(),
    );
    let live: Vec<_> = engine
        .spans()
        .between(0, u64::MAX)
        .into_iter()
        .cloned()
        .collect();
    assert_eq!(spans, live, "the span reads back whole");
    assert!(store
        .telemetry_between("span", now - 1_000.0, now - 100.0, 10)
        .await
        .unwrap()
        .is_empty());
    let stale: Vec<Row> = (0..5)
        .map(|i| Row {
            time: now - RETENTION_MS - 1_000.0 - f64::from(i),
            kind: "event".into(),
            name: "old.event".into(),
            value: 1.0,
            dims: Default::default(),
            span: None,
        })
        .collect();
    store.telemetry_add(&stale).await.unwrap();
    assert_eq!(store.telemetry_trim(now).await.unwrap(), 5);
    let metrics = store.telemetry_rows("metric", 10).await.unwrap();
    let total = metrics
        .iter()
        .find(|r| r.name == "provider.total")
        .expect("the histogram row");
    assert_eq!(total.value, 3.0);
    assert!(total.dims.contains_key("p95") && total.dims["provider"] == "openai");
    let events = store.telemetry_rows("event", 10).await.unwrap();
    assert_eq!(events.len(), 1, "only the fresh event stays");
    assert_eq!(events[0].dims["level"], "fallback");
    assert_eq!(store.telemetry_trim(now).await.unwrap(), 0);
}

/// Conversations, cache entries, preferences, `meta` records and telemetry
/// rows on two sites, as a used extension has them.
async fn fill(store: &Store, now: u64) {
    use paperclip_core::data::{cache_prefixes, meta_keys};
    for (i, site) in ["https://a.test", "https://b.test"].iter().enumerate() {
        for n in 0..2 {
            let id = format!("{i}-{n}");
            let t = (10 * i + n) as f64 + 1.0;
            store
                .upsert_message(&id, site, msg(&id, Role::User, "hello", t), t)
                .await
                .unwrap();
        }
        for prefix in cache_prefixes(site) {
            let entry = CacheEntry::new(format!("{prefix}k"), "v", now, 0, 0.5, vec![]);
            store.cache_put(entry, now).await.unwrap();
        }
        for key in meta_keys(site) {
            store.set_meta_json(&key, &json!({"x": 1})).await.unwrap();
        }
    }
    store
        .set_meta_json("providers", &json!([{"id": "p1", "api_key": "sk-secret"}]))
        .await
        .unwrap();
    store.set_meta_json("resilience", &json!({})).await.unwrap();
    store
        .set_preference("ui.theme", &json!("dark"))
        .await
        .unwrap();
    store
        .set_preference(
            "agent.hint_sites",
            &json!(["https://a.test", "https://b.test"]),
        )
        .await
        .unwrap();
    store
        .telemetry_add(&[paperclip_core::telemetry::persist::Row {
            time: now as f64,
            kind: "event".into(),
            name: "ask.started".into(),
            value: 1.0,
            dims: Default::default(),
            span: None,
        }])
        .await
        .unwrap();
}

async fn conversation_ids(store: &Store) -> Vec<String> {
    let mut ids: Vec<String> = store
        .recent(100)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    ids.sort();
    ids
}

async fn cache_has(store: &Store, key: &str, now: u64) -> bool {
    store.cache_get(key, now).await.unwrap().is_some()
}

pub async fn delete_everything_leaves_a_fresh_store() {
    let name = unique("wipe");
    let store = open_exactly(&name).await;
    let now = 1_000_000u64;
    fill(&store, now).await;
    let cleared = store.delete_everything().await.unwrap();
    assert_eq!(cleared.conversations, 4);
    assert_eq!(cleared.cache_entries, 4);
    assert_eq!(cleared.preferences, 2);
    assert_eq!(cleared.telemetry_rows, 1);
    // providers, resilience, 2 places, 2 hint states (and, on IndexedDB,
    // the preferences version; perhaps the cache statistics).
    assert!(cleared.meta >= 6, "{cleared:?}");
    assert_fresh(&store, now).await;
    let store = reopen(store, &name).await;
    assert_fresh(&store, now).await;
}

/// `store` reads as freshly installed (and still stores conversations).
async fn assert_fresh(store: &Store, now: u64) {
    assert!(conversation_ids(store).await.is_empty());
    assert!(!cache_has(store, "ctx:https://a.test/k", now).await);
    assert!(!cache_has(store, "answer:https://b.test#k", now).await);
    assert_eq!(store.cache_memory_len(), 0);
    assert_eq!(
        store.preferences(),
        paperclip_core::prefs::Preferences::default()
    );
    for key in [
        "providers",
        "resilience",
        "place:https://a.test",
        "hints:https://b.test",
        "prefs_version",
    ] {
        let v: Option<serde_json::Value> = store.meta_json(key).await.unwrap();
        assert_eq!(v, None, "meta {key}");
    }
    assert!(store.telemetry_rows("event", 10).await.unwrap().is_empty());
    let status = store.status().await.unwrap();
    assert_eq!(
        (
            status.conversations,
            status.cache_entries,
            status.telemetry_records
        ),
        (0, 0, 0)
    );
    store
        .upsert_message(
            "n",
            "https://c.test",
            msg("n", Role::User, "again", 99.0),
            99.0,
        )
        .await
        .unwrap();
    assert_eq!(conversation_ids(store).await, ["n"]);
    store.delete("n").await.unwrap();
}

pub async fn delete_site_keeps_other_sites() {
    let store = open("site").await;
    let now = 1_000_000u64;
    fill(&store, now).await;
    let err = store.delete_site("a.test").await.unwrap_err();
    assert!(
        err.message.contains("https://example.com"),
        "{}",
        err.message
    );
    assert_eq!(conversation_ids(&store).await.len(), 4, "nothing deleted");
    let report = store.delete_site("HTTPS://A.test/").await.unwrap();
    assert_eq!(report.site, "https://a.test");
    assert_eq!(
        (
            report.conversations,
            report.cache_entries,
            report.settings,
            report.hint_site
        ),
        (2, 2, 2, true)
    );
    assert_eq!(conversation_ids(&store).await, ["1-0", "1-1"]);
    assert!(!cache_has(&store, "ctx:https://a.test/k", now).await);
    assert!(!cache_has(&store, "answer:https://a.test#k", now).await);
    assert!(cache_has(&store, "ctx:https://b.test/k", now).await);
    assert!(cache_has(&store, "answer:https://b.test#k", now).await);
    for (key, kept) in [
        ("place:https://a.test", false),
        ("hints:https://a.test", false),
        ("place:https://b.test", true),
        ("hints:https://b.test", true),
        ("providers", true),
    ] {
        let v: Option<serde_json::Value> = store.meta_json(key).await.unwrap();
        assert_eq!(v.is_some(), kept, "meta {key}");
    }
    assert_eq!(store.preferences().hint_sites, ["https://b.test"]);
    assert_eq!(store.preferences().theme.as_str(), "dark");
    let again = store.delete_site("https://a.test").await.unwrap();
    assert_eq!(
        (
            again.conversations,
            again.cache_entries,
            again.settings,
            again.hint_site
        ),
        (0, 0, 0, false)
    );
}

pub async fn clearing_telemetry_keeps_conversations() {
    let store = open("clear-telemetry").await;
    let now = 1_000_000u64;
    fill(&store, now).await;
    assert_eq!(store.clear_telemetry_rows().await.unwrap(), 1);
    assert!(store.telemetry_rows("event", 10).await.unwrap().is_empty());
    assert_eq!(store.status().await.unwrap().telemetry_records, 0);
    assert_eq!(conversation_ids(&store).await.len(), 4);
    assert!(cache_has(&store, "ctx:https://a.test/k", now).await);
    let v: Option<serde_json::Value> = store.meta_json("providers").await.unwrap();
    assert!(v.is_some());
    assert_eq!(store.preferences().theme.as_str(), "dark");
    assert_eq!(store.clear_telemetry_rows().await.unwrap(), 0);
}
fn usage(tokens_in: u64, tokens_out: u64, cost_micro_usd: u64) -> Usage {
    Usage {
        tokens_in,
        tokens_out,
        cost_micro_usd,
    }
}

pub async fn each_answer_keeps_its_usage() {
    let name = unique("answer-usage");
    let store = open_exactly(&name).await;
    let site = "https://u.test";
    store
        .upsert_message("c", site, msg("q", Role::User, "q", 1.0), 1.0)
        .await
        .unwrap();
    let mut answer = msg("a", Role::Assistant, "a", 2.0);
    answer.usage = Some(usage(312, 148, 2_100));
    store.upsert_message("c", site, answer, 2.0).await.unwrap();
    store
        .upsert_message("c", site, msg("b", Role::Assistant, "offline", 3.0), 3.0)
        .await
        .unwrap();
    let store = reopen(store, &name).await;
    let c = store.get("c").await.unwrap().unwrap();
    assert_eq!(c.messages[1].usage, Some(usage(312, 148, 2_100)));
    assert_eq!(c.messages[2].usage, None, "unknown stays unknown");
}

pub async fn usage_ledger_by_day_month_and_provider() {
    // 2026-12-05T12:00:00Z and days around it.
    const NOON: f64 = 1_796_472_000_000.0;
    const DAY: f64 = 86_400_000.0;
    let name = unique("ledger");
    let store = open_exactly(&name).await;
    let empty = store.usage_report(NOON, 0).await.unwrap();
    assert_eq!((empty.today.as_str(), empty.rows.len()), ("2026-12-05", 0));
    // Two answers at once both count (one transaction each).
    let (a, b) = futures::join!(
        store.record_daily_usage("Work", usage(10, 5, 100), NOON, 0),
        store.record_daily_usage("Work", usage(1, 1, 1), NOON + 1.0, 0),
    );
    a.unwrap();
    b.unwrap();
    store
        .record_daily_usage("Home", usage(7, 3, 0), NOON - 2.0 * DAY, 0)
        .await
        .unwrap();
    // 30 November, 23:30 in UTC: still November there.
    let november = NOON - 5.0 * DAY + 11.5 * 3_600_000.0;
    store
        .record_daily_usage("Work", usage(1_000, 1_000, 9_999), november, 0)
        .await
        .unwrap();
    let store = reopen(store, &name).await;
    let r = store.usage_report(NOON, 0).await.unwrap();
    assert_eq!(
        (r.today.as_str(), r.month.as_str()),
        ("2026-12-05", "2026-12")
    );
    let rows: Vec<_> = r
        .rows
        .iter()
        .map(|row| (row.provider.as_str(), row.today, row.month))
        .collect();
    assert_eq!(
        rows,
        [
            ("Home", Usage::default(), usage(7, 3, 0)),
            ("Work", usage(11, 6, 101), usage(11, 6, 101)),
        ]
    );
    // In Berlin (UTC+1) that November evening was already 1 December.
    assert_eq!(
        store.usage_report(november, 60).await.unwrap().month,
        "2026-12"
    );
    assert_eq!(
        store.usage_report(november, 0).await.unwrap().rows[0].month,
        usage(1_000, 1_000, 9_999)
    );
    // Days past the 400 ending on a recorded day are dropped: 396 days
    // later, 2 December is the first kept.
    store
        .record_daily_usage("Work", usage(1, 0, 0), NOON + 396.0 * DAY, 0)
        .await
        .unwrap();
    assert!(store
        .usage_report(november, 0)
        .await
        .unwrap()
        .rows
        .is_empty());
    assert_eq!(store.usage_report(NOON, 0).await.unwrap().rows.len(), 2);
    // Bad arguments are refused and change nothing.
    assert!(store.usage_report(NOON, 15 * 60).await.is_err());
    assert!(store
        .record_daily_usage("Work", usage(1, 1, 1), f64::NAN, 0)
        .await
        .is_err());
    // A ledger that does not parse is reported, and left for inspection.
    store
        .set_meta_json("usage.ledger", &"not a ledger")
        .await
        .unwrap();
    let e = store.usage_report(NOON, 0).await.unwrap_err();
    assert!(e.message.contains("usage.ledger"), "{}", e.message);
    assert!(store
        .record_daily_usage("Work", usage(1, 1, 1), NOON, 0)
        .await
        .is_err());
    assert_eq!(
        store
            .meta_json::<String>("usage.ledger")
            .await
            .unwrap()
            .as_deref(),
        Some("not a ledger")
    );
}
