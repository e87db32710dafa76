//! Storage tests shared by the page and service-worker test binaries: real
//! IndexedDB in a real browser. `storage_tests!()` declares each as a
//! `#[wasm_bindgen_test]` in the including binary.

/// Declares every storage test of this module in the including binary.
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

use paperclip_background::store::{encode_record, Store};
use paperclip_core::conversation::{Conversation, Message, MessageStatus, Role};

fn unique(name: &str) -> String {
    format!("test-{name}-{}", js_sys::Math::random())
}

fn msg(id: &str, role: Role, text: &str, t: f64) -> Message {
    Message::complete(id.into(), role, text.into(), t)
}

async fn open(name: &str) -> Store {
    let store = Store::open_named(&unique(name)).await;
    assert!(store.persistent(), "IndexedDB should open in this context");
    store
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

    let list = store.list(10).await.unwrap();
    let ids: Vec<_> = list.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["a", "b"], "newest first");
    assert_eq!(list[0].message_count, 2);
    assert_eq!(store.list(1).await.unwrap().len(), 1);

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

pub async fn corrupt_records_are_skipped_not_fatal() {
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
    let db = Store::open_idb(&name).await.unwrap();
    let tx = db
        .transaction(&["conversations"], rexie::TransactionMode::ReadWrite)
        .unwrap();
    let mut bad = Conversation::new("bad".into(), "https://g.test".into(), 9.0);
    bad.push(msg("2", Role::User, "x", 9.0));
    let record = encode_record(&bad);
    js_sys::Reflect::set(
        &record,
        &"data".into(),
        &js_sys::Uint8Array::from(&[1u8, 0xff, 0xff, 0xff][..]),
    )
    .unwrap();
    tx.store("conversations")
        .unwrap()
        .put(&record, None)
        .await
        .unwrap();
    tx.done().await.unwrap();
    db.close();

    let list = store.list(10).await.unwrap();
    assert_eq!(
        list.len(),
        1,
        "the bad record is skipped, the good one kept"
    );
    assert_eq!(list[0].id, "good");
    assert_eq!(store.get("bad").await.unwrap(), None);
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
    let mine = store.conversations(None).await.unwrap();
    assert_eq!(mine.len(), 1);

    // A file with an older "a", a newer copy would win under KeepNewest, and a new "b".
    let mut older = mine[0].clone();
    older.updated_ms = 5.0;
    older.messages[0].text = "older copy".into();
    let mut fresh = Conversation::new("b".into(), "https://b.test".into(), 1.0);
    fresh.push(msg("2", Role::User, "imported", 1.0));
    let file = export(vec![older.clone(), fresh.clone()], 99.0);

    let plan = store
        .import(
            parse_import(file.as_bytes()).unwrap(),
            MergePolicy::KeepNewest,
        )
        .await
        .unwrap();
    assert_eq!((plan.added, plan.overwritten, plan.skipped), (1, 0, 1));
    assert_eq!(
        store.get("a").await.unwrap().unwrap().messages[0].text,
        "mine"
    );
    assert_eq!(store.get("b").await.unwrap().unwrap(), fresh);

    let plan = store
        .import(
            parse_import(file.as_bytes()).unwrap(),
            MergePolicy::Overwrite,
        )
        .await
        .unwrap();
    assert_eq!((plan.added, plan.overwritten, plan.skipped), (0, 2, 0));
    assert_eq!(
        store.get("a").await.unwrap().unwrap().messages[0].text,
        "older copy"
    );

    // Export of selected ids.
    let only_b = store.conversations(Some(&["b".to_string()])).await.unwrap();
    assert_eq!(only_b, vec![fresh]);
}
