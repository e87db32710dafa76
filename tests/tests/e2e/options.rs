//! The options page, used as a user does: export and import (and the
//! panel's Markdown export), the preferences form and storage health,
//! adding and testing a provider whose key never comes back out, and the
//! reliability settings.

use std::time::Duration;

use anyhow::{ensure, Result};
use paperclip_e2e::scenario::{add_fake_provider, click_button, ok};
use paperclip_e2e::{server::Server, Browser};
use serde_json::{json, Value};

in_both_browsers!(
    export_and_import_through_the_options_page,
    preferences_and_storage_on_the_options_page,
    providers_on_the_options_page,
    resilience_settings_on_the_options_page,
);

/// Export, then import through the options page's file picker (a copy with
/// one new conversation), a hostile file that changes nothing, and a
/// Markdown export.
async fn export_and_import_through_the_options_page(b: Browser, server: Server) -> Result<Browser> {
    b.ask_on(&server.url("/"), "What is the Gem clip?").await?;
    let back = b.open_tab("options.html").await?;
    let export = b.control("button", "Export all conversations").await?;
    export.click().await?;
    // Past the progress line ("Exporting… 0 of 1 conversations").
    let status = b
        .poll(Duration::from_secs(10), "[role=status]", || async {
            Ok(b.text_of(".data [role=status]")
                .await?
                .filter(|t| !t.starts_with("Exporting")))
        })
        .await?;
    ensure!(status == "Exported 1 conversations.", "{status}");
    let text = b.downloaded("paperclip-export.json").await?;
    let mut file: Value = serde_json::from_str(&text)?;
    ensure!(
        file["format"] == json!("paperclip-export") && file["version"] == json!(1),
        "{file}"
    );
    ensure!(
        file["conversations"].as_array().map(Vec::len) == Some(1),
        "{file}"
    );
    let mut copy = file["conversations"][0].clone();
    copy["id"] = json!("imported-conversation");
    copy["title"] = json!("An imported conversation");
    file["conversations"]
        .as_array_mut()
        .expect("array")
        .push(copy);

    let dir = tempfile::tempdir()?;
    let good = dir.path().join("paperclip-export.json");
    std::fs::write(&good, serde_json::to_string(&file)?)?;
    let bad = dir.path().join("garbage.json");
    std::fs::write(&bad, b"\x00\x01 definitely not an export")?;

    let input = b
        .client
        .wait()
        .for_element(fantoccini::Locator::Css("#import-file"))
        .await?;
    input.send_keys(&good.display().to_string()).await?;
    let status = b
        .poll(Duration::from_secs(10), "[role=status]", || async {
            Ok(b.text_of(".data [role=status]")
                .await?
                .filter(|t| t.starts_with("Imported")))
        })
        .await?;
    ensure!(
        status == "Imported: 1 added, 0 replaced, 1 kept as they were.",
        "{status}"
    );
    let input = b
        .client
        .find(fantoccini::Locator::Css("#import-file"))
        .await?;
    input.send_keys(&bad.display().to_string()).await?;
    let alert = b
        .poll(Duration::from_secs(10), "[role=alert]", || {
            b.text_of("[role=alert]")
        })
        .await?;
    ensure!(
        alert.starts_with("import refused, nothing changed: $: not a JSON object"),
        "{alert}"
    );
    b.close_tab(back).await?;

    let list = b
        .request(json!({"type": "ListConversations", "limit": 10}))
        .await?;
    let titles: Vec<&str> = list["body"]["ok"]["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["title"].as_str())
        .collect();
    ensure!(
        titles.len() == 2 && titles.contains(&"An imported conversation"),
        "{list}"
    );

    // The Markdown export: the devtools panel's "Export as Markdown" on
    // the conversation opened from its list.
    let back = b.open_tab("panel.html").await?;
    let open = b.control("button.link", "What is the Gem clip?").await?;
    open.click().await?;
    let export = b.control("button", "Export as Markdown").await?;
    export.click().await?;
    let markdown = b.downloaded("what-is-the-gem-clip.md").await?;
    ensure!(
        markdown.starts_with("# What is the Gem clip?\n"),
        "{markdown}"
    );
    b.close_tab(back).await?;
    Ok(b)
}

/// The options page's generated preferences form saves a choice, refuses a
/// bad number with the background's message, and shows storage health.
async fn preferences_and_storage_on_the_options_page(
    b: Browser,
    _server: Server,
) -> Result<Browser> {
    let back = b.open_tab("options.html").await?;
    let dark = b
        .client
        .wait()
        .for_element(fantoccini::Locator::Css(
            "#pref-ui-theme option[value=dark]",
        ))
        .await?;
    dark.click().await?;
    let saved = b
        .poll(Duration::from_secs(10), "saved status", || async {
            Ok(b.text_of(".preferences [role=status]")
                .await?
                .filter(|t| t.contains("ui.theme")))
        })
        .await?;
    ensure!(saved == "Saved ui.theme = \"dark\".", "{saved}");

    let scale = b
        .client
        .find(fantoccini::Locator::Css("#pref-ui-font_scale"))
        .await?;
    scale.clear().await?;
    scale.send_keys("9").await?;
    b.client
        .execute(
            "arguments[0].dispatchEvent(new Event('change', {bubbles: true}))",
            vec![serde_json::to_value(&scale)?],
        )
        .await?;
    let alert = b
        .poll(Duration::from_secs(10), "refusal", || async {
            Ok(b.text_of(".preferences [role=alert]")
                .await?
                .filter(|t| t.contains("outside")))
        })
        .await?;
    ensure!(
        alert.contains("ui.font_scale") && alert.contains("outside 0.8..=1.6"),
        "{alert}"
    );

    let persistent = b
        .poll(Duration::from_secs(10), "storage status", || {
            b.text_of("dl.storage-status dd")
        })
        .await?;
    ensure!(persistent == "yes", "{persistent}");

    b.client.refresh().await?;
    b.client
        .wait()
        .for_element(fantoccini::Locator::Css("#pref-ui-theme"))
        .await?;
    let theme = b
        .client
        .execute(
            "return document.querySelector('#pref-ui-theme').value",
            vec![],
        )
        .await?;
    ensure!(theme == json!("dark"), "after a reload: {theme}");
    let scale = b
        .client
        .execute(
            "return document.querySelector('#pref-ui-font_scale').value",
            vec![],
        )
        .await?;
    ensure!(
        scale.as_str().and_then(|s| s.parse::<f64>().ok()) == Some(1.0),
        "the refused value is not shown as saved: {scale}"
    );
    b.close_tab(back).await?;
    Ok(b)
}

/// A provider is added on the options page (host access requested on the
/// click), tested against the fake provider server, and its key never
/// comes back out: not in the list, not in an export, not in a reply.
async fn providers_on_the_options_page(b: Browser, _server: Server) -> Result<Browser> {
    let fake = paperclip_e2e::fake_provider::FakeProvider::start()?;
    let back = b.open_tab("options.html").await?;
    let find = |css: &'static str| b.client.wait().for_element(fantoccini::Locator::Css(css));
    find("#provider-label")
        .await?
        .send_keys("Fake local")
        .await?;
    find("#provider-url")
        .await?
        .send_keys(&fake.base_url())
        .await?;
    find("#provider-model")
        .await?
        .send_keys("fake-model-1")
        .await?;
    find("#provider-key")
        .await?
        .send_keys("sk-test-SECRET-123")
        .await?;
    find(".add-provider button[type=submit]")
        .await?
        .click()
        .await?;
    let saved = b
        .poll(Duration::from_secs(10), "saved", || async {
            Ok(b.text_of(".providers [role=status]")
                .await?
                .filter(|t| t.starts_with("Saved")))
        })
        .await?;
    ensure!(saved == "Saved Fake local.", "{saved}");
    let test = b
        .poll(Duration::from_secs(10), "the provider row", || async {
            Ok(b.client
                .find(fantoccini::Locator::XPath(
                    "//table[@aria-label='Providers']//button[.='Test connection']",
                ))
                .await
                .ok())
        })
        .await?;
    test.click().await?;
    let report = b
        .poll(Duration::from_secs(15), "connection report", || async {
            Ok(
                b.text_of(".providers [role=status], .providers [role=alert]")
                    .await?
                    .filter(|t| !t.starts_with("Saved")),
            )
        })
        .await?;
    ensure!(
        report.starts_with("Connected in ")
            && report.ends_with("Models: fake-model-1, fake-model-2"),
        "{report}"
    );
    // The key typed in the form is stored, sent to its provider, shown as
    // "set", and never shown again, even after a reload.
    let key_cell = b
        .text_of("table[aria-label='Providers'] tbody tr td:nth-child(6)")
        .await?;
    ensure!(key_cell.as_deref() == Some("set"), "key cell {key_cell:?}");
    b.client.refresh().await?;
    b.control("button", "Test connection").await?;
    let page = b
        .client
        .execute(
            "return document.documentElement.outerHTML + [...document.querySelectorAll('input')].map(i => i.value).join(' ');",
            vec![],
        )
        .await?;
    ensure!(
        !page.to_string().contains("SECRET"),
        "the options page shows the key"
    );
    b.close_tab(back).await?;
    let models = fake.requests();
    let models = models
        .iter()
        .find(|r| r.path == "/v1/models")
        .ok_or_else(|| anyhow::anyhow!("the fake server was not asked"))?;
    ensure!(
        models.headers.get("authorization").map(String::as_str) == Some("Bearer <redacted>"),
        "the key did not go to its provider: {:?}",
        models.headers
    );
    let list = ok(&b, json!({"type": "ListProviders"})).await?;
    ensure!(list["providers"][0]["has_key"] == json!(true), "{list}");
    let export = b.export_all().await?;
    for (what, text) in [("list", list.to_string()), ("export", export.to_string())] {
        ensure!(
            !text.contains("SECRET"),
            "the key leaked into the {what}: {text}"
        );
    }
    let bad = b
        .request(json!({"type": "SaveProvider", "settings": {"id": "x", "kind": "openai_compatible", "label": "x", "base_url": "ftp://nope", "model": "m", "max_tokens": 10}, "key": {"action": "keep"}}))
        .await?;
    ensure!(
        bad["body"]["err"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{bad}"
    );
    let again = ok(&b, json!({"type": "ListProviders"})).await?;
    ensure!(
        again["providers"].as_array().map(Vec::len) == Some(1),
        "a bad save changed nothing: {again}"
    );
    Ok(b)
}

/// The options page's reliability form saves a valid value and refuses an
/// out-of-range one with its name and range; the provider order changes
/// which provider is primary; the price table refuses a bad line.
async fn resilience_settings_on_the_options_page(b: Browser, _server: Server) -> Result<Browser> {
    use fantoccini::Locator;
    use paperclip_e2e::fake_provider::FakeProvider;
    let (one, two) = (FakeProvider::start()?, FakeProvider::start()?);
    b.client.goto(&format!("{}options.html", b.base)).await?;
    add_fake_provider(&b, "first", &one).await?;
    add_fake_provider(&b, "second", &two).await?;
    b.client.refresh().await?;
    let change = |id: &'static str, value: &'static str| {
        let b = &b;
        async move {
            let input = b
                .client
                .wait()
                .for_element(Locator::Css(&format!("#{id}")))
                .await?;
            b.client
                .execute(
                    "arguments[0].value = arguments[1];
                     arguments[0].dispatchEvent(new Event('change', {bubbles: true}))",
                    vec![serde_json::to_value(&input)?, json!(value)],
                )
                .await?;
            anyhow::Ok(())
        }
    };
    change("res-retry-max_attempts", "4").await?;
    b.wait_until(Duration::from_secs(10), "the save", || async {
        let s = ok(&b, json!({"type": "GetResilience"})).await?;
        Ok(s["settings"]["retry"]["max_attempts"] == 4)
    })
    .await?;
    change("res-retry-max_attempts", "40").await?;
    let alert = b
        .poll(Duration::from_secs(10), "the refusal", || async {
            b.text_of(".resilience > [role=alert]").await
        })
        .await?;
    ensure!(
        alert.contains("retry.max_attempts") && alert.contains("1..=10"),
        "{alert}"
    );
    let s = ok(&b, json!({"type": "GetResilience"})).await?;
    ensure!(s["settings"]["retry"]["max_attempts"] == 4, "{s}");

    // Move "second" up: it becomes the primary.
    click_button(&b, "Move second up").await?;
    b.wait_until(Duration::from_secs(10), "the new order", || async {
        let l = ok(&b, json!({"type": "ListProviders"})).await?;
        Ok(l["providers"][0]["settings"]["id"] == "second")
    })
    .await?;
    let bad_order = b
        .request(json!({"type": "SetProviderOrder", "ids": ["second"]}))
        .await?;
    ensure!(bad_order["body"]["err"].is_object(), "{bad_order}");

    // A price line without its output price is refused, naming the line.
    let prices = b.client.wait().for_element(Locator::Css("#prices")).await?;
    prices.clear().await?;
    prices.send_keys("my-model 1 2\nbroken 1\n").await?;
    click_button(&b, "Save prices").await?;
    let refused = b
        .poll(Duration::from_secs(10), "the price refusal", || async {
            b.text_of("form.prices + [role=alert]").await
        })
        .await?;
    ensure!(refused.contains("line 2"), "{refused}");
    let table = ok(&b, json!({"type": "GetPrices"})).await?;
    ensure!(table["defaults"] == true, "nothing changed: {table}");
    prices.clear().await?;
    prices.send_keys("my-model 1 2\n").await?;
    click_button(&b, "Save prices").await?;
    b.wait_until(Duration::from_secs(10), "the prices", || async {
        let t = ok(&b, json!({"type": "GetPrices"})).await?;
        Ok(t["table"]["entries"] == json!([{"pattern": "my-model", "input_per_mtok": 1_000_000, "output_per_mtok": 2_000_000}]))
    })
    .await?;
    Ok(b)
}
