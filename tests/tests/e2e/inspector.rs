//! The devtools panel's Storage tab beside the conversations: records per
//! store, a preference edited (a bad value refused with its reason and
//! nothing changed, a good one applied, reset to its default), the
//! preferences exported and imported (a bad file checked whole and
//! refused, a good one applied), and a context-cache entry deleted.

use std::time::Duration;

use anyhow::{ensure, Result};
use fantoccini::Locator;
use paperclip_e2e::scenario::{click_button, ok};
use paperclip_e2e::{server::Server, Browser};
use serde_json::{json, Value};

in_both_browsers!(the_storage_tab_edits_preferences_and_the_cache,);

/// A preference's stored value (setup read, through the protocol).
async fn pref(b: &Browser, key: &str) -> Result<Value> {
    let list = ok(b, json!({"type": "GetPreferences"})).await?;
    Ok(list["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["key"] == key)
        .map(|e| e["value"].clone())
        .unwrap_or(Value::Null))
}

/// Types `value` into the value field of `key` as a user does (clearing
/// it first) and presses Enter.
async fn type_value(b: &Browser, key: &str, value: &str) -> Result<()> {
    let field = b.control("input", &format!("Value of {key}")).await?;
    field.clear().await?;
    field.send_keys(&format!("{value}\u{E007}")).await?;
    Ok(())
}

async fn message(b: &Browser, css: &str) -> Result<String> {
    b.poll(Duration::from_secs(10), css, || async {
        b.text_of(css).await
    })
    .await
}

async fn the_storage_tab_edits_preferences_and_the_cache(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    b.ask_on(&server.url("/"), "What is this page about?")
        .await?;
    let back = b.open_tab("panel.html").await?;
    click_button(&b, "Storage").await?;
    let stores = b
        .poll(Duration::from_secs(15), "records per store", || async {
            let t = b.texts(".store-chart .store .name").await?;
            Ok(t.iter().any(|s| s == "Conversations: 1").then_some(t))
        })
        .await?;
    ensure!(stores.len() == 4, "{stores:?}");

    // One preference, edited in its field.
    type_value(&b, "ui.font_scale", "9").await?;
    let refused = message(&b, ".prefs-inspector [role=alert]").await?;
    ensure!(refused.starts_with("ui.font_scale: "), "{refused}");
    let kept = pref(&b, "ui.font_scale").await?;
    ensure!(
        kept.as_f64() == Some(1.0),
        "changed after a refusal: {kept}"
    );
    type_value(&b, "ui.font_scale", "1.2").await?;
    b.wait_until(Duration::from_secs(10), "saved", || async {
        Ok(pref(&b, "ui.font_scale").await?.as_f64() == Some(1.2))
    })
    .await?;
    b.control("button", "Reset ui.font_scale")
        .await?
        .click()
        .await?;
    b.wait_until(Duration::from_secs(10), "reset", || async {
        Ok(pref(&b, "ui.font_scale").await?.as_f64() == Some(1.0))
    })
    .await?;

    // Exported, then files imported: a bad one changes nothing.
    click_button(&b, "Export preferences (JSON)").await?;
    let exported: Value = serde_json::from_str(&b.downloaded("paperclip-preferences.json").await?)?;
    ensure!(
        exported["ui.font_scale"].as_f64() == Some(1.0) && exported["ui.theme"].is_string(),
        "{exported}"
    );
    let dir = tempfile::tempdir()?;
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"ui.theme": "dark", "ui.font_scale": 9}"#)?;
    b.client
        .find(Locator::Css("#prefs-file"))
        .await?
        .send_keys(&bad.display().to_string())
        .await?;
    let refused = b
        .poll(Duration::from_secs(10), "the file refused", || async {
            Ok(b.text_of(".prefs-inspector [role=alert]")
                .await?
                .filter(|t| t.contains("nothing was changed")))
        })
        .await?;
    ensure!(refused.contains("ui.font_scale: "), "{refused}");
    ensure!(
        pref(&b, "ui.theme").await? != json!("dark"),
        "a bad file applied a part"
    );
    let good = dir.path().join("good.json");
    std::fs::write(&good, r#"{"ui.theme": "dark"}"#)?;
    b.client
        .find(Locator::Css("#prefs-file"))
        .await?
        .send_keys(&good.display().to_string())
        .await?;
    b.wait_until(Duration::from_secs(10), "the file applied", || async {
        Ok(pref(&b, "ui.theme").await? == json!("dark"))
    })
    .await?;

    // The context cache: an entry deleted with its button.
    let count = || async {
        let v = ok(&b, json!({"type": "ListCacheEntries", "limit": 1000})).await?;
        anyhow::Ok(v["total"].as_u64().unwrap_or(0))
    };
    let before = count().await?;
    ensure!(before >= 1, "no cache entry after reading the page");
    let keys = b
        .poll(Duration::from_secs(10), "the cache entries", || async {
            let k = b.texts("table.cache .key").await?;
            Ok((!k.is_empty()).then_some(k))
        })
        .await?;
    b.control("button", &format!("Delete the cache entry {}", keys[0]))
        .await?
        .click()
        .await?;
    b.wait_until(Duration::from_secs(10), "one entry fewer", || async {
        Ok(count().await? == before - 1)
    })
    .await?;
    let gone = b
        .poll(Duration::from_secs(10), "the list updated", || async {
            let k = b.texts("table.cache .key").await?;
            Ok((!k.contains(&keys[0])).then_some(k))
        })
        .await?;
    ensure!(gone.len() + 1 == keys.len(), "{gone:?} after {keys:?}");
    b.close_tab(back).await?;
    Ok(b)
}
