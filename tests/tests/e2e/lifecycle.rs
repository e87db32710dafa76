//! The background's life cycle, with hand-written tests per browser (not
//! `in_both_browsers!`): it wakes for the first message after stopping
//! (both browsers); Chromium's cold worker answers the first message and
//! its storage survives a worker restart; Firefox's agent survives the
//! event page suspending; error groups go on counting after a restart, and
//! the devtools panel's asks and timeline show what happened before it
//! (both browsers).

use std::time::Duration;

use anyhow::{ensure, Result};
use paperclip_e2e::scenario::ok;
use paperclip_e2e::{server::Server, Browser, Kind};
use serde_json::json;

use crate::{with_browser, with_browser_prefs};

#[tokio::test(flavor = "multi_thread")]
async fn chromium_background_wakes_for_the_first_message_after_stopping() -> Result<()> {
    with_browser(
        Kind::Chromium,
        background_wakes_for_the_first_message_after_stopping,
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn firefox_background_wakes_for_the_first_message_after_stopping() -> Result<()> {
    // Suspend the idle event page after 2 s instead of 30 s (the pref is in
    // milliseconds).
    let prefs = json!({"extensions.background.idle.timeout": 2000});
    with_browser_prefs(
        Kind::Firefox,
        prefs,
        background_wakes_for_the_first_message_after_stopping,
    )
    .await
}

/// Chromium: stop the background service worker (CDP), then ask: the first
/// message after the cold start is answered. Prints warm and cold latency
/// from "Send" to the first answer chunk.
#[tokio::test(flavor = "multi_thread")]
async fn chromium_cold_worker_answers_first_message() -> Result<()> {
    with_browser(Kind::Chromium, |b, server| async move {
        let page = server.url("/");
        b.client.goto(&page).await?;
        b.activate(&page).await?;
        b.enter_agent().await?;
        let warm = b.ask_timed("Summarize this page", 0).await?;
        b.wait_answer(0).await?;

        b.top().await?;
        let (before, _) = b.background_instance().await?;
        b.stop_service_workers().await?;

        b.enter_agent().await?;
        let cold = b.ask_timed("What is the Gem clip?", 1).await?;
        let (answer, _) = b.wait_answer(1).await?;
        ensure!(answer.contains("Gem clip"), "{answer}");
        b.top().await?;
        let (after, ready) = b.background_instance().await?;
        ensure!(
            after > before,
            "the worker did not restart ({before}, then {after})"
        );
        println!(
            "cold start of the worker to ready (wasm loaded, storage open): {ready:.0} ms; \
             Send to first answer chunk: warm {warm:.0} ms, after the stop {cold:.0} ms"
        );
        Ok(b)
    })
    .await
}

/// The background stops when idle (Chromium: stopped through CDP; Firefox:
/// the event page suspends after the 2 s idle timeout this test sets) and
/// the first message afterwards is answered by a new instance.
async fn background_wakes_for_the_first_message_after_stopping(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    let (started, _) = b.background_instance().await?;
    b.client.goto(&server.url("/")).await?;
    match b.kind {
        Kind::Chromium => b.stop_service_workers().await?,
        Kind::Firefox => tokio::time::sleep(Duration::from_secs(6)).await,
    }
    let (restarted, ready) = b.background_instance().await?;
    ensure!(
        restarted > started,
        "the background did not restart (started {started}, then {restarted})"
    );
    println!(
        "{:?}: background restarted, ready {ready:.0} ms after its start",
        b.kind
    );
    let list = b
        .request(json!({"type": "ListConversations", "limit": 5}))
        .await?;
    ensure!(
        list["body"]["ok"]["type"] == json!("ConversationList"),
        "{list}"
    );
    Ok(b)
}

/// Firefox suspends an idle event page even while the agent's port is open
/// (here after 5 s instead of 30 s); the agent reconnects on the next send
/// and the question is answered, not lost.
#[tokio::test(flavor = "multi_thread")]
async fn firefox_agent_survives_the_event_page_suspending() -> Result<()> {
    let prefs = json!({"extensions.background.idle.timeout": 5000});
    with_browser_prefs(Kind::Firefox, prefs, |b, server| async move {
        let page = server.url("/");
        b.client.goto(&page).await?;
        b.activate(&page).await?;
        b.enter_agent().await?;
        let (before, _) = b.background_instance().await?;
        b.enter_agent().await?;
        tokio::time::sleep(Duration::from_secs(12)).await;
        b.ask("Who wore paperclips on their lapels?").await?;
        let (answer, _) = b.wait_answer(0).await?;
        ensure!(answer.contains("Norwegians"), "{answer}");
        b.top().await?;
        let (after, _) = b.background_instance().await?;
        ensure!(
            after > before,
            "the event page never suspended, so this tested nothing ({before}, then {after})"
        );
        Ok(b)
    })
    .await
}

/// Everything the storage engine keeps — the conversation, its tags, the
/// preferences — is there after the worker was killed and restarted.
#[tokio::test(flavor = "multi_thread")]
async fn chromium_storage_survives_a_worker_restart() -> Result<()> {
    with_browser(Kind::Chromium, |b, server| async move {
        b.ask_on(&server.url("/"), "What is the Gem clip?").await?;
        let list = ok(&b, json!({"type": "ListConversations", "limit": 10})).await?;
        let id = list["items"][0]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let tags = ok(
            &b,
            json!({"type": "SetTags", "id": id, "tags": [" Reading "]}),
        )
        .await?;
        ensure!(tags["tags"] == json!(["reading"]), "{tags}");
        ok(
            &b,
            json!({"type": "SetPreference", "key": "ui.theme", "value": "dark"}),
        )
        .await?;
        let bad = b
            .request(json!({"type": "SetPreference", "key": "ui.font_scale", "value": 9}))
            .await?;
        let message = bad["body"]["err"]["message"].as_str().unwrap_or_default();
        ensure!(
            message.contains("ui.font_scale") && message.contains("outside"),
            "{bad}"
        );

        let (before, _) = b.background_instance().await?;
        b.stop_service_workers().await?;

        let tagged = ok(
            &b,
            json!({"type": "ListConversations", "limit": 10, "filter": {"tag": "reading"}}),
        )
        .await?;
        ensure!(
            tagged["items"].as_array().map(Vec::len) == Some(1),
            "{tagged}"
        );
        ensure!(tagged["items"][0]["id"] == json!(id), "{tagged}");
        let (after, _) = b.background_instance().await?;
        ensure!(after > before, "the worker did not restart");
        let prefs = ok(&b, json!({"type": "GetPreferences", "category": "ui"})).await?;
        let value = |key: &str| {
            prefs["entries"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|e| e["key"] == json!(key))
                .map(|e| e["value"].clone())
        };
        ensure!(value("ui.theme") == Some(json!("dark")), "{prefs}");
        ensure!(
            value("ui.font_scale").and_then(|v| v.as_f64()) == Some(1.0),
            "the rejected value was not stored: {prefs}"
        );
        let conversation = ok(&b, json!({"type": "GetConversation", "id": id})).await?;
        let messages = conversation["conversation"]["messages"]
            .as_array()
            .map(Vec::len);
        ensure!(messages == Some(2), "{conversation}");
        let status = ok(&b, json!({"type": "GetStorageStatus"})).await?;
        ensure!(
            status["persistent"] == json!(true)
                && status["schema_version"] == json!(2)
                && status["conversations"] == json!(1),
            "{status}"
        );
        Ok(b)
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn chromium_error_groups_go_on_counting_after_a_restart() -> Result<()> {
    with_browser(Kind::Chromium, error_groups_go_on_counting_after_a_restart).await
}

#[tokio::test(flavor = "multi_thread")]
async fn firefox_error_groups_go_on_counting_after_a_restart() -> Result<()> {
    let prefs = json!({"extensions.background.idle.timeout": 2000});
    with_browser_prefs(
        Kind::Firefox,
        prefs,
        error_groups_go_on_counting_after_a_restart,
    )
    .await
}

/// An error recorded and stored before the background stops is in the
/// devtools panel after it starts again, and the same error then counts
/// on from there (2, not 1).
async fn error_groups_go_on_counting_after_a_restart(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    let unknown = json!({"type": "NoSuchRequestHere"});
    let refused = b.request(unknown.clone()).await?;
    ensure!(
        refused["body"]["err"]["kind"] == "unknown_type",
        "{refused}"
    );
    restart(&b, &server).await?;
    b.request(unknown).await?;
    let back = b.open_tab("panel.html").await?;
    paperclip_e2e::scenario::click_button(&b, "Errors").await?;
    let count = b
        .poll(Duration::from_secs(15), "the error group counted twice", || async {
            let v = b
                .client
                .execute(
                    "const row = [...document.querySelectorAll('table.errors tbody tr')]
                       .find(r => r.querySelector('summary').textContent.startsWith('protocol.unknown_type: '));
                     return row ? Number(row.children[4].textContent) : null;",
                    vec![],
                )
                .await?;
            Ok(v.as_u64().filter(|n| *n >= 2))
        })
        .await?;
    b.close_tab(back).await?;
    ensure!(count == 2, "counted {count} times");
    Ok(b)
}

/// Stores the telemetry window, stops the background (Chromium: stops the
/// service worker; Firefox: lets the event page idle out) and checks that
/// a new instance answers.
async fn restart(b: &Browser, server: &Server) -> Result<()> {
    b.request(json!({"type": "FlushTelemetry"})).await?;
    let (started, _) = b.background_instance().await?;
    b.client.goto(&server.url("/")).await?;
    match b.kind {
        Kind::Chromium => b.stop_service_workers().await?,
        Kind::Firefox => tokio::time::sleep(Duration::from_secs(6)).await,
    }
    let (restarted, _) = b.background_instance().await?;
    ensure!(
        restarted > started,
        "the background did not restart ({started}, then {restarted}), so this tested nothing"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn chromium_the_panel_shows_asks_and_spans_from_before_a_restart() -> Result<()> {
    with_browser(
        Kind::Chromium,
        the_panel_shows_asks_and_spans_from_before_a_restart,
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn firefox_the_panel_shows_asks_and_spans_from_before_a_restart() -> Result<()> {
    let prefs = json!({"extensions.background.idle.timeout": 2000});
    with_browser_prefs(
        Kind::Firefox,
        prefs,
        the_panel_shows_asks_and_spans_from_before_a_restart,
    )
    .await
}

/// The paths of the asks the panel lists, newest first.
async fn ask_paths(b: &Browser, n: usize) -> Result<Vec<String>> {
    b.poll(Duration::from_secs(15), &format!("{n} asks"), || async {
        let v = b
            .client
            .execute(
                "return [...document.querySelectorAll('table.asks tbody tr')]
                   .map(r => r.querySelector('.path').textContent);",
                vec![],
            )
            .await?;
        let rows: Vec<String> = serde_json::from_value(v)?;
        Ok((rows.len() == n).then_some(rows))
    })
    .await
}

/// Asks answered after a retry, and from the page after the provider
/// refused; the background stops and starts again; the panel's Asks tab
/// still lists both with their paths (the live range, then "Last hour"
/// read from the store), the Timeline tab still draws their provider
/// requests, and the Dashboard still counts both asks.
async fn the_panel_shows_asks_and_spans_from_before_a_restart(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    use paperclip_e2e::fake_provider::{FakeProvider, Fault, Route};
    use paperclip_e2e::scenario::{add_fake_provider, click_button};
    let fake = FakeProvider::start()?;
    add_fake_provider(&b, "work", &fake).await?;
    let page = server.url("/");
    fake.script(Route::ChatCompletions, vec![Fault::Status(503)]);
    b.ask_on(&page, "Is it retried?").await?;
    fake.script(Route::ChatCompletions, vec![Fault::Status(401)]);
    b.enter_agent().await?;
    b.ask("Who made it?").await?;
    b.wait_answer(1).await?;
    b.top().await?;
    restart(&b, &server).await?;

    let back = b.open_tab("panel.html").await?;
    click_button(&b, "Asks").await?;
    let live = ask_paths(&b, 2).await?;
    ensure!(
        live[0].contains(": http_4xx (") && live[0].ends_with("answer: offline"),
        "{live:?}"
    );
    ensure!(
        live[1].contains(": http_5xx (") && live[1].ends_with("answer: normal"),
        "{live:?}"
    );
    b.control("select", "Time range")
        .await?
        .find(fantoccini::Locator::Css("option[value='hour']"))
        .await?
        .click()
        .await?;
    let stored = ask_paths(&b, 2).await?;
    ensure!(stored == live, "{stored:?} against {live:?}");
    click_button(&b, "Timeline").await?;
    // The range chosen is kept (also for this tab).
    let requests = b
        .poll(
            Duration::from_secs(15),
            "the provider requests drawn",
            || async {
                let v = b
                .client
                .execute(
                    "return [document.querySelector('select[aria-label=\"Time range\"]')?.value,
                             [...document.querySelectorAll('ol.timeline li')]
                               .filter(l => l.textContent.startsWith('provider.request')).length];",
                    vec![],
                )
                .await?;
                let (range, n): (Option<String>, usize) = serde_json::from_value(v)?;
                Ok((range.as_deref() == Some("hour") && n >= 3).then_some(n))
            },
        )
        .await?;
    ensure!(requests >= 3, "{requests}");
    // The counters go on from what was stored: both asks are counted.
    click_button(&b, "Dashboard").await?;
    let asked = b
        .poll(Duration::from_secs(15), "the asks counted", || async {
            let v = b
                .client
                .execute(
                    "return [...document.querySelectorAll('table.metrics tbody tr')]
                       .filter(r => r.children[0].textContent === 'ask.count')
                       .reduce((n, r) => n + Number(r.children[2].textContent), 0);",
                    vec![],
                )
                .await?;
            Ok(v.as_u64().filter(|n| *n >= 2))
        })
        .await?;
    ensure!(asked == 2, "{asked} asks counted");
    b.close_tab(back).await?;
    Ok(b)
}
