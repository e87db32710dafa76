//! Chrome's on-device AI (Translator, LanguageDetector, Summarizer) through
//! a test-only stand-in installed in the agent's page before the extension
//! looks (the real models cannot run here): absent, "Translate selection"
//! behaves as before; present, the translation comes from it after a
//! model download that only the user's click starts, with its progress
//! shown; "Not now" falls back; the offline summary is the device's.

use std::time::Duration;

use anyhow::{ensure, Result};
use paperclip_e2e::scenario::{click_button, last_answer};
use paperclip_e2e::server::Server;
use paperclip_e2e::Browser;
use serde_json::{json, Value};

in_both_browsers!(on_device_ai_where_the_browser_has_it);

/// Loads the test-only stand-in (`tests/stand-ins/device.js`, in the test
/// build only) into the agent's page as a script of its own, so that it
/// runs in the page's global (Firefox runs WebDriver scripts apart from
/// it): `absent` removes the real APIs, `present` installs the stand-in.
/// Answers what the browser really had.
async fn stand_in(b: &Browser, mode: &str) -> Result<Value> {
    b.client
        .execute(
            "const s = document.createElement('script');
             s.src = 'test/device.js';
             s.dataset.mode = arguments[0];
             document.head.append(s);",
            vec![json!(mode)],
        )
        .await?;
    b.poll(Duration::from_secs(10), "the stand-in to load", || async {
        let v = b
            .client
            .execute(
                "const d = document.documentElement.dataset;
                 return d.deviceStandIn === arguments[0] ? JSON.parse(d.deviceHad) : null;",
                vec![json!(mode)],
            )
            .await?;
        Ok((!v.is_null()).then_some(v))
    })
    .await
}

/// The models the stand-in created so far.
async fn created(b: &Browser) -> Result<Value> {
    let v = b
        .client
        .execute(
            "return JSON.parse(document.documentElement.dataset.deviceCreated || '[]');",
            vec![],
        )
        .await?;
    Ok(v)
}

async fn on_device_ai_where_the_browser_has_it(b: Browser, server: Server) -> Result<Browser> {
    // No provider: what the device cannot do, the offline answer does.
    let page = server.url("/");
    b.client.goto(&page).await?;
    let selected = b.select_paragraph("springy").await?;
    b.activate(&page).await?;
    b.enter_agent().await?;
    let had = stand_in(&b, "absent").await?;
    println!("{:?}: on-device APIs in the agent's page: {had}", b.kind);

    // Absent: today's behaviour.
    click_button(&b, "Translate selection").await?;
    let (before, _) = b.wait_answer(0).await?;
    ensure!(
        before.starts_with("Translating needs an AI provider"),
        "{before}"
    );

    // Present: an offer first; nothing is created before the click.
    stand_in(&b, "present").await?;
    click_button(&b, "Translate selection").await?;
    let offer = b
        .poll(Duration::from_secs(10), "the download offer", || async {
            Ok(b.text_of(".on-device")
                .await?
                .filter(|t| t.contains("download")))
        })
        .await?;
    ensure!(
        offer.contains("needs a one-time model download")
            && offer.contains("Nothing leaves this device"),
        "{offer}"
    );
    let calls = created(&b).await?;
    ensure!(calls == json!([]), "created before the click: {calls}");
    click_button(&b, "Download the model").await?;
    let progress = b
        .poll(Duration::from_secs(10), "the download progress", || async {
            Ok(b.text_of(".on-device")
                .await?
                .filter(|t| t.contains("Downloading the model… 50%")))
        })
        .await?;
    ensure!(progress.contains("50%"), "{progress}");
    let (translated, _) = b.wait_answer(1).await?;
    ensure!(
        translated.starts_with("Translated on this device from French into ")
            && translated.ends_with(&format!("[EN] {selected}")),
        "{translated}"
    );
    let shown = last_answer(&b).await?;
    ensure!(
        shown["label"] == "Answered by Chrome on-device translation",
        "{shown}"
    );
    let calls = created(&b).await?;
    ensure!(
        calls.as_array().map(Vec::len) == Some(1) && calls[0]["source"] == "fr",
        "{calls}"
    );

    // Ready now: no offer, straight to the answer.
    click_button(&b, "Translate selection").await?;
    let (again, _) = b.wait_answer(2).await?;
    ensure!(again.ends_with(&format!("[EN] {selected}")), "{again}");

    // The offline summary is the device's.
    click_button(&b, "Summarize this page").await?;
    let (summary, _) = b.wait_answer(3).await?;
    ensure!(
        summary.starts_with("Summary written on this device:")
            && summary.contains("Device summary of "),
        "{summary}"
    );
    let shown = last_answer(&b).await?;
    ensure!(
        shown["label"] == "Answered by Chrome on-device summary",
        "{shown}"
    );

    // "Not now": the usual answer, and no model is created.
    b.client
        .execute(
            "document.documentElement.dispatchEvent(new Event('device-reset'));",
            vec![],
        )
        .await?;
    click_button(&b, "Translate selection").await?;
    b.control("button", "Not now").await?;
    click_button(&b, "Not now").await?;
    let (declined, _) = b.wait_answer(4).await?;
    ensure!(
        declined.starts_with("Translating needs an AI provider"),
        "{declined}"
    );
    let calls = created(&b).await?;
    ensure!(calls == json!([]), "{calls}");
    ensure!(b.text_of(".on-device").await?.is_none(), "the card stayed");
    Ok(b)
}
