//! Data control on the options page, used as a user does: "Delete all
//! data" behind its confirmation (checked through the protocol and by
//! opening the popup and the options page again), deleting one site's data
//! (another site's stays), clearing telemetry (conversations and export
//! settings stay); and the options page's readability: the Reliability
//! section names providers, the providers table keeps words whole.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use fantoccini::key::Key;
use fantoccini::Locator;
use paperclip_e2e::scenario::{click_button, ok, set_option, Pref};
use paperclip_e2e::{server::Server, Browser};
use serde_json::{json, Value};

in_both_browsers!(
    delete_all_data_leaves_a_fresh_install,
    delete_one_sites_data_keeps_the_others,
    clear_telemetry_keeps_conversations_and_settings,
    reliability_names_providers_and_the_table_keeps_words_whole,
);

/// The ids of the stored conversations.
async fn conversation_sites(b: &Browser) -> Result<Vec<String>> {
    let list = ok(b, json!({"type": "ListConversations", "limit": 100})).await?;
    Ok(list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["site"].as_str().map(str::to_string))
        .collect())
}

/// The telemetry engine's `name` events, as the devtools panel asks.
async fn events(b: &Browser, name: &str) -> Result<usize> {
    let answer = ok(
        b,
        json!({"type": "QueryTelemetry", "query": {"events": {
            "from_ms": 0.0, "to_ms": 1e15, "name": name, "limit": 100}}}),
    )
    .await?;
    Ok(answer["answer"]["events"]
        .as_array()
        .with_context(|| format!("no events in {answer}"))?
        .len())
}

/// The status line of the "Delete data" section once it says `prefix`.
async fn report(b: &Browser, prefix: &str) -> Result<String> {
    b.poll(Duration::from_secs(15), prefix, || async {
        Ok(
            b.text_of(".delete-data [role=status], .delete-data [role=alert]")
                .await?
                .filter(|t| t.starts_with(prefix)),
        )
    })
    .await
}

/// The accessible name of the focused element.
async fn focused(b: &Browser) -> Result<String> {
    let v = b
        .client
        .execute("return document.activeElement.textContent;", vec![])
        .await?;
    Ok(v.as_str().unwrap_or_default().to_string())
}

/// Keeps telemetry batches waiting: export on, to a collector address
/// where nothing listens, then "Send now".
async fn queue_telemetry_batches(b: &Browser) -> Result<u64> {
    ok(
        b,
        json!({"type": "SetTelemetryExport", "otlp_url": "http://127.0.0.1:9", "json_url": null, "console": false}),
    )
    .await?;
    // Ticked on the options page: in Firefox that asks for the data
    // collection consent export needs.
    set_option(b, "privacy.telemetry_remote", Pref::Tick(true)).await?;
    let flushed = ok(b, json!({"type": "FlushTelemetry"})).await?;
    let queued = flushed["export"]["queued"].as_u64().unwrap_or_default();
    ensure!(queued > 0, "no batch waits: {flushed}");
    Ok(queued)
}

/// A used extension (a conversation, a provider with its key, a changed
/// preference, telemetry stored and waiting for export, an export
/// setting), then "Delete all data": Cancel first (nothing goes), then
/// the confirmation, pressed with the keyboard. The page reports what
/// went; the protocol and every surface opened again show a fresh install.
async fn delete_all_data_leaves_a_fresh_install(b: Browser, server: Server) -> Result<Browser> {
    b.ask_on(&server.url("/"), "What is the Gem clip?").await?;
    let fake = paperclip_e2e::fake_provider::FakeProvider::start()?;
    ok(
        &b,
        json!({"type": "SaveProvider", "settings": {"id": "work", "kind": "openai_compatible",
            "label": "Work assistant", "base_url": fake.base_url(), "model": "fake-model-1",
            "max_tokens": 256}, "key": {"action": "set", "key": "sk-test-SECRET-42"}}),
    )
    .await?;
    set_option(&b, "privacy.retention_days", Pref::Type("30")).await?;
    let batches = queue_telemetry_batches(&b).await?;
    ensure!(
        events(&b, "ask.started").await? > 0,
        "the ask left no event"
    );
    let stored = ok(&b, json!({"type": "GetStorageStatus"})).await?;
    ensure!(stored["telemetry_records"].as_u64() > Some(0), "{stored}");

    let back = b.open_tab("options.html").await?;
    // Cancel: the confirmation goes, focus comes back, nothing is deleted.
    click_button(&b, "Delete all data").await?;
    b.control("button", "Delete everything — this cannot be undone")
        .await?;
    ensure!(focused(&b).await? == "Cancel", "focus is not on Cancel");
    click_button(&b, "Cancel").await?;
    b.control("button", "Delete all data").await?;
    b.wait_until(Duration::from_secs(5), "focus back", || async {
        Ok(focused(&b).await? == "Delete all data")
    })
    .await?;
    ensure!(conversation_sites(&b).await?.len() == 1, "Cancel deleted");
    // Confirm with the keyboard.
    click_button(&b, "Delete all data").await?;
    let confirm = b
        .control("button", "Delete everything — this cannot be undone")
        .await?;
    confirm
        .send_keys(&char::from(Key::Enter).to_string())
        .await?;
    let text = report(&b, "Deleted everything").await?;
    ensure!(
        text.starts_with("Deleted everything: 1 conversation, ")
            && text.contains(", 1 provider with its key, 2 preferences, ")
            && text.contains(&format!(
                ", {batches} telemetry batch{} waiting to be sent",
                if batches == 1 { "" } else { "es" }
            ))
            && text.ends_with("Paperclip is as freshly installed."),
        "{text}"
    );
    ensure!(!text.contains(" 0 cached pages"), "{text}");
    // The other sections loaded again: no provider, defaults.
    b.wait_until(Duration::from_secs(10), "the providers section", || async {
        Ok(b.text_of("section.providers")
            .await?
            .is_some_and(|t| t.contains("None yet")))
    })
    .await?;
    let days = b
        .client
        .wait()
        .for_element(Locator::Css("#pref-privacy-retention_days"))
        .await?;
    ensure!(
        days.prop("value").await?.as_deref() != Some("30"),
        "old value shown"
    );
    b.close_tab(back).await?;

    // Through the protocol: nothing left.
    ensure!(conversation_sites(&b).await?.is_empty());
    let providers = ok(&b, json!({"type": "ListProviders"})).await?;
    ensure!(providers["providers"] == json!([]), "{providers}");
    let prefs = ok(&b, json!({"type": "GetPreferences"})).await?;
    for e in prefs["entries"].as_array().context("entries")? {
        ensure!(e["value"] == e["default"], "not a default: {e}");
    }
    let export = ok(&b, json!({"type": "GetTelemetryExport"})).await?;
    ensure!(
        export["otlp_url"].is_null() && export["queued"] == 0 && export["enabled"] == false,
        "{export}"
    );
    ensure!(
        events(&b, "ask.started").await? == 0,
        "telemetry kept the ask"
    );
    let status = ok(&b, json!({"type": "GetStorageStatus"})).await?;
    ensure!(
        status["conversations"] == 0 && status["cache_entries"] == 0,
        "{status}"
    );
    let resilience = ok(&b, json!({"type": "GetResilience"})).await?;
    ensure!(resilience["breakers"] == json!([]), "{resilience}");
    let all = format!("{providers}{prefs}{export}{status}");
    ensure!(!all.contains("SECRET"), "the key is still there");

    // Every surface opened again shows the fresh state.
    let back = b.open_tab("popup.html").await?;
    b.wait_until(Duration::from_secs(10), "the empty list", || async {
        Ok(b.text_of("p.empty").await?.as_deref() == Some("No conversations yet."))
    })
    .await?;
    b.close_tab(back).await?;
    let back = b.open_tab("options.html").await?;
    b.wait_until(Duration::from_secs(10), "no providers", || async {
        Ok(b.text_of("section.providers")
            .await?
            .is_some_and(|t| t.contains("None yet")))
    })
    .await?;
    let days = b
        .client
        .wait()
        .for_element(Locator::Css("#pref-privacy-retention_days"))
        .await?;
    let default = prefs["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["key"] == "privacy.retention_days")
        .map(|e| e["default"].to_string())
        .unwrap_or_default();
    ensure!(
        days.prop("value").await?.as_deref() == Some(default.as_str()),
        "retention shows {:?}, default {default}",
        days.prop("value").await?
    );
    let url = b
        .client
        .find(Locator::Css("#otlp-url"))
        .await?
        .prop("value")
        .await?;
    ensure!(url.as_deref() == Some(""), "collector URL {url:?}");
    b.close_tab(back).await?;
    // Deleting everything without the confirmation is refused.
    let refused = b
        .request(json!({"type": "DeleteAllData", "confirm": false}))
        .await?;
    ensure!(
        refused["body"]["err"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("nothing was deleted")),
        "{refused}"
    );
    Ok(b)
}

/// A conversation asked on the demo site and one imported for another
/// site; deleting the demo site's data (after a refused bad site) removes
/// its conversation and cached page, and keeps the other site's.
async fn delete_one_sites_data_keeps_the_others(b: Browser, server: Server) -> Result<Browser> {
    b.ask_on(&server.url("/"), "What is the Gem clip?").await?;
    let site = conversation_sites(&b)
        .await?
        .pop()
        .context("no conversation")?;
    let mut file: Value = serde_json::from_str(&b.export_all().await?)?;
    let mut other = file["conversations"][0].clone();
    other["id"] = json!("other-site");
    other["site"] = json!("https://other.example");
    file["conversations"] = json!([other]);
    paperclip_e2e::scenario::imported(&b, &file.to_string(), "keep_newest").await?;

    let back = b.open_tab("options.html").await?;
    let input = b
        .client
        .wait()
        .for_element(Locator::Css("#delete-site"))
        .await?;
    input.send_keys("not a site").await?;
    click_button(&b, "Delete this site's data").await?;
    let refused = report(&b, "Nothing was deleted").await?;
    ensure!(refused.contains("https://example.com"), "{refused}");
    ensure!(conversation_sites(&b).await?.len() == 2);
    input.clear().await?;
    input.send_keys(&format!("{site}/")).await?;
    input.send_keys(&char::from(Key::Enter).to_string()).await?;
    let text = report(&b, "Deleted the data of").await?;
    ensure!(
        text.starts_with(&format!("Deleted the data of {site}: 1 conversation, ")),
        "{text}"
    );
    ensure!(
        !text.contains(": 1 conversation, 0 cached"),
        "the page read stayed: {text}"
    );
    b.close_tab(back).await?;
    ensure!(
        conversation_sites(&b).await? == ["https://other.example"],
        "{:?}",
        conversation_sites(&b).await?
    );
    let status = ok(&b, json!({"type": "GetStorageStatus"})).await?;
    ensure!(status["cache_entries"] == 0, "{status}");
    Ok(b)
}

/// Telemetry stored, in memory and waiting for export; "Clear telemetry"
/// removes all three and keeps the conversation and the export settings.
async fn clear_telemetry_keeps_conversations_and_settings(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    b.ask_on(&server.url("/"), "What is the Gem clip?").await?;
    let batches = queue_telemetry_batches(&b).await?;
    let before = ok(&b, json!({"type": "GetStorageStatus"})).await?;
    let rows = before["telemetry_records"].as_u64().unwrap_or_default();
    ensure!(rows > 0, "{before}");
    ensure!(events(&b, "ask.started").await? > 0);

    let back = b.open_tab("options.html").await?;
    click_button(&b, "Clear telemetry").await?;
    let text = report(&b, "Cleared telemetry").await?;
    ensure!(
        text.starts_with("Cleared telemetry: ")
            && text.contains(&format!(" and {batches} batch"))
            && text.ends_with("Export settings are unchanged."),
        "{text}"
    );
    let stored: u64 = text["Cleared telemetry: ".len()..]
        .split(' ')
        .next()
        .unwrap_or_default()
        .parse()?;
    ensure!(stored >= rows, "{text} (there were {rows})");
    b.close_tab(back).await?;
    ensure!(
        events(&b, "ask.started").await? == 0,
        "the ask's event stayed"
    );
    let export = ok(&b, json!({"type": "GetTelemetryExport"})).await?;
    ensure!(
        export["queued"] == 0 && export["otlp_url"] == "http://127.0.0.1:9",
        "{export}"
    );
    ensure!(conversation_sites(&b).await?.len() == 1);
    Ok(b)
}

/// The cells of the providers table with a word drawn on two lines.
const BROKEN_WORDS: &str = "
    const broken = [];
    for (const cell of document.querySelectorAll('table.providers th, table.providers td:not(.long)')) {
        const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
        for (let n = walker.nextNode(); n; n = walker.nextNode()) {
            for (const m of n.data.matchAll(/\\S+/g)) {
                const r = document.createRange();
                r.setStart(n, m.index);
                r.setEnd(n, m.index + m[0].length);
                const lines = new Set([...r.getClientRects()]
                    .filter(x => x.width > 0).map(x => Math.round(x.top)));
                if (lines.size > 1) broken.push(m[0]);
            }
        }
    }
    return broken;";

/// The Reliability section names a provider by its label (not its id),
/// and at 800 and 1600 px no word of the providers table is broken.
async fn reliability_names_providers_and_the_table_keeps_words_whole(
    b: Browser,
    _server: Server,
) -> Result<Browser> {
    let (one, two) = (
        paperclip_e2e::fake_provider::FakeProvider::start()?,
        paperclip_e2e::fake_provider::FakeProvider::start()?,
    );
    for (id, label, fake) in [
        ("p1796473483599", "Work assistant", &one),
        ("p1796473483600", "Home server", &two),
    ] {
        ok(
            &b,
            json!({"type": "SaveProvider", "settings": {"id": id, "kind": "openai_compatible",
                "label": label, "base_url": fake.base_url(), "model": "fake-model-1",
                "max_tokens": 256}, "key": {"action": "set", "key": "sk-test-1"}}),
        )
        .await?;
    }
    let back = b.open_tab("options.html").await?;
    let names = b
        .poll(Duration::from_secs(10), "the breakers' names", || async {
            let names = b.texts("dl.resilience-status dt").await?;
            Ok(names.iter().any(|n| n == "Work assistant").then_some(names))
        })
        .await?;
    ensure!(names.iter().any(|n| n == "Home server"), "{names:?}");
    ensure!(
        !names.iter().any(|n| n.contains("p17964")),
        "an id is shown: {names:?}"
    );
    for width in [800, 1600] {
        b.set_viewport_width(width).await?;
        b.control("button", "Move Home server up").await?;
        let broken = b.client.execute(BROKEN_WORDS, vec![]).await?;
        ensure!(broken == json!([]), "at {width} px, broken words: {broken}");
        let headers = b.texts("table.providers th").await?;
        ensure!(headers.iter().any(|h| h == "Key"), "{headers:?}");
    }
    b.close_tab(back).await?;
    Ok(b)
}
