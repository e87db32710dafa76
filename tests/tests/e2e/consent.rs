//! Firefox's data collection consent (`data_collection_permissions`):
//! declared optional, asked for on the options page when the user turns on
//! what sends data (saving a remote provider; exporting telemetry), and
//! obeyed by the background when the user takes it back in about:addons
//! (here `permissions.remove`, what that page calls). Firefox only:
//! Chromium has no such consent and asks nothing.

use std::time::Duration;

use anyhow::{ensure, Result};
use paperclip_e2e::fake_provider::FakeProvider;
use paperclip_e2e::scenario::chat_requests;
use paperclip_e2e::{server::Server, Browser, Kind};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread")]
async fn firefox_data_collection_consent_is_asked_for_and_obeyed() -> Result<()> {
    crate::with_browser(Kind::Firefox, consent_asked_and_obeyed).await
}

/// What `permissions.getAll()` says is allowed to be collected.
async fn collection(b: &Browser) -> Result<Value> {
    let all = b
        .in_extension_page(
            "options.html",
            "const [, done] = arguments;
             browser.permissions.getAll().then(p => done(p.data_collection ?? null), e => done(String(e)));",
            Value::Null,
        )
        .await?;
    Ok(all)
}

/// Calls `permissions.<method>({data_collection: kinds})` in an extension page.
async fn permissions(b: &Browser, method: &str, kinds: Value) -> Result<Value> {
    b.in_extension_page(
        "options.html",
        "const [[method, kinds], done] = arguments;
         browser.permissions[method]({data_collection: kinds}).then(done, e => done(String(e)));",
        json!([method, kinds]),
    )
    .await
}

async fn consent_asked_and_obeyed(b: Browser, server: Server) -> Result<Browser> {
    ensure!(
        collection(&b).await? == json!([]),
        "something was allowed before anything was asked: {}",
        collection(&b).await?
    );
    // Saving a remote provider asks for its address and for consent to send
    // it the page (the harness grants what is asked, as a user would).
    let fake = FakeProvider::start()?;
    paperclip_e2e::scenario::save_provider_in_options(&b, "Remote", &fake.remote_base_url())
        .await?;
    let back = b.open_tab("options.html").await?;
    let find = |css: &'static str| b.client.wait().for_element(fantoccini::Locator::Css(css));
    // Turning remote telemetry export on asks for technical data.
    let export = find("#pref-privacy-telemetry_remote").await?;
    export.click().await?;
    let said = b
        .poll(Duration::from_secs(10), "the preference saved", || async {
            b.text_of(".preferences [role=status], .preferences [role=alert]")
                .await
        })
        .await?;
    ensure!(said == "Saved privacy.telemetry_remote = true.", "{said}");
    b.close_tab(back).await?;
    let allowed = collection(&b).await?;
    for kind in [
        "websiteContent",
        "browsingActivity",
        "technicalAndInteraction",
    ] {
        ensure!(
            allowed.as_array().is_some_and(|a| a.contains(&json!(kind))),
            "{kind} was not asked for: {allowed}"
        );
    }

    // With consent, a question goes to the provider.
    let page = server.url("/");
    b.ask_on(&page, "What is this page about?").await?;
    ensure!(
        chat_requests(&fake).len() == 1,
        "the provider was not asked"
    );

    // Taken back (as about:addons does): nothing more reaches the provider;
    // the answer comes from the browser, and says why.
    let removed = permissions(&b, "remove", json!(["websiteContent"])).await?;
    ensure!(removed == json!(true), "{removed}");
    fake.clear();
    b.enter_agent().await?;
    b.ask("And what else?").await?;
    let (answer, _) = b.wait_answer(1).await?;
    b.top().await?;
    ensure!(
        chat_requests(&fake).is_empty(),
        "the page went to the provider without consent"
    );
    ensure!(!answer.is_empty(), "no answer without the provider");
    let stored = paperclip_e2e::scenario::latest_conversation(&b).await?;
    let messages = stored["conversation"]["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    ensure!(messages.len() == 4, "{stored}");
    ensure!(
        messages[1]["provider"] == json!("Remote") && messages[3]["provider"] == json!("offline"),
        "the answers' sources: {} then {}",
        messages[1]["provider"],
        messages[3]["provider"]
    );

    // Technical data taken back too: the options page says that export is
    // off and why, although the preference is still ticked.
    permissions(&b, "remove", json!(["technicalAndInteraction"])).await?;
    let back = b.open_tab("options.html").await?;
    let notice = b
        .poll(Duration::from_secs(10), "the consent notice", || async {
            b.text_of(".telemetry-export .notice").await
        })
        .await?;
    let state = b
        .text_of(".telemetry-export p.meta")
        .await?
        .unwrap_or_default();
    b.close_tab(back).await?;
    ensure!(
        notice.contains("technical and interaction data is off") && notice.contains("about:addons"),
        "{notice}"
    );
    ensure!(state.starts_with("Remote export is off"), "{state}");
    Ok(b)
}
