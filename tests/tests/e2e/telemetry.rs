//! Telemetry export to a local OpenTelemetry collector and a custom JSON
//! endpoint: nothing before the user opts in, valid payloads free of page
//! content, and nothing lost or sent twice across a collector outage.

use std::time::Duration;

use anyhow::{ensure, Result};
use paperclip_e2e::scenario::{click_button, ok, set_option, Pref};
use paperclip_e2e::{server::Server, Browser};
use serde_json::json;

in_both_browsers!(telemetry_reaches_a_collector_only_after_opt_in_and_survives_an_outage);

/// Fills the options page's "Telemetry export" form (collector URL, JSON
/// endpoint URL, console box), clicks "Save export settings" and returns
/// what the page says: `(true, "Saved.")` or `(false, the refusal)`.
async fn save_telemetry_export(
    b: &Browser,
    otlp: &str,
    json_url: &str,
    console: bool,
) -> Result<(bool, String)> {
    telemetry_form(b, |b| async move {
        for (id, text) in [("#otlp-url", otlp), ("#json-url", json_url)] {
            let input = b.client.find(fantoccini::Locator::Css(id)).await?;
            input.clear().await?;
            input.send_keys(text).await?;
        }
        let console_box = b
            .client
            .find(fantoccini::Locator::Css("#telemetry-console"))
            .await?;
        if console_box.is_selected().await? != console {
            console_box.click().await?;
        }
        b.control("button", "Save export settings")
            .await?
            .click()
            .await?;
        Ok(())
    })
    .await
}

/// Clicks the options page's "Send now" (telemetry export); returns what
/// the page says.
async fn send_telemetry_now(b: &Browser) -> Result<String> {
    let (sent, said) = telemetry_form(b, |b| async move {
        let button = b.control("button", "Send now").await?;
        ensure!(button.is_enabled().await?, "\"Send now\" is disabled");
        button.click().await?;
        Ok(())
    })
    .await?;
    ensure!(sent, "Send now: {said}");
    Ok(said)
}

/// Runs `act` on the options page's telemetry section (in a tab of its
/// own) and returns its message line as `(is a status, text)`.
async fn telemetry_form<'a, F, Fut>(b: &'a Browser, act: F) -> Result<(bool, String)>
where
    F: FnOnce(&'a Browser) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let back = b.open_tab("options.html").await?;
    let result = async {
        b.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(fantoccini::Locator::Css("#otlp-url"))
            .await?;
        // The section has read the current settings once its line shows.
        b.wait_until(Duration::from_secs(10), "the export settings", || async {
            Ok(b.text_of(".telemetry-export p.meta").await?.is_some())
        })
        .await?;
        act(b).await?;
        b.poll(Duration::from_secs(10), "the export's message", || async {
            if let Some(t) = b.text_of(".telemetry-export [role=status]").await? {
                return Ok(Some((true, t)));
            }
            Ok(b.text_of(".telemetry-export [role=alert]")
                .await?
                .map(|t| (false, t)))
        })
        .await
    }
    .await;
    b.close_tab(back).await?;
    result
}

/// Telemetry export to a local OpenTelemetry collector: nothing leaves
/// before the user opts in; then every payload is valid OTLP/JSON, the ask
/// is a trace (ask → context.gather, answer.chain → provider.request), the
/// provider phases are metrics, and no page text, URL path or key is in
/// any payload. The custom JSON endpoint gets the same telemetry as
/// Paperclip's JSON document. The collector goes down (503 with
/// Retry-After) and comes back: nothing is lost and nothing is sent twice.
async fn telemetry_reaches_a_collector_only_after_opt_in_and_survives_an_outage(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    use paperclip_e2e::otlp_receiver::{Down, OtlpReceiver, Signal};
    let collector = OtlpReceiver::start()?;
    let page = server.url("/fixtures/news.html");
    let fake = paperclip_e2e::fake_provider::FakeProvider::start()?;
    const KEY: &str = "sk-test-Secret0123456789abcdefXYZ";
    b.client.goto(&page).await?;
    let settings = json!({"id": "Fake", "kind": "openai_compatible", "label": "Fake",
        "base_url": fake.base_url(), "model": "fake-model-1", "max_tokens": 256});
    ok(
        &b,
        json!({"type": "SaveProvider", "settings": settings, "key": {"action": "set", "key": KEY}}),
    )
    .await?;
    b.client.goto(&page).await?;
    b.activate(&page).await?;
    b.enter_agent().await?;
    let saved = save_telemetry_export(&b, &collector.url(), "", false).await?;
    ensure!(saved == (true, "Saved.".into()), "{saved:?}");
    let status = ok(&b, json!({"type": "GetTelemetryExport"})).await?;
    ensure!(status["enabled"] == false, "{status}");
    let (saved, bad) = save_telemetry_export(&b, "ftp://x", "", false).await?;
    ensure!(!saved && bad.contains("collector URL"), "{bad}");
    // Telemetry never crosses the network in the clear.
    let (saved, bad) =
        save_telemetry_export(&b, "http://collector.example:4318", "", false).await?;
    ensure!(!saved && bad.contains("must use https"), "{bad}");
    b.enter_agent_now().await?;
    b.ask("What did the council decide?").await?;
    b.wait_answer(0).await?;
    // Before the opt-in the page offers no "Send now"; a request sent
    // anyway (the boundary, not a user path) sends nothing.
    b.top().await?;
    let (_, said) = telemetry_form(&b, |b| async move {
        let button = b.control("button", "Send now").await?;
        ensure!(
            !button.is_enabled().await?,
            "\"Send now\" before the opt-in"
        );
        b.control("button", "Save export settings")
            .await?
            .click()
            .await?;
        Ok(())
    })
    .await?;
    ensure!(said == "Saved.", "{said}");
    ok(&b, json!({"type": "FlushTelemetry"})).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    ensure!(
        collector.requests().is_empty(),
        "sent before opting in: {:?}",
        collector.requests()
    );

    b.top().await?;
    set_option(&b, "privacy.telemetry_remote", Pref::Tick(true)).await?;
    b.enter_agent_now().await?;
    b.ask("How much does the pilot cost?").await?;
    b.wait_answer(1).await?;
    b.top().await?;
    let sent = send_telemetry_now(&b).await?;
    ensure!(sent.ends_with("batches still queued."), "{sent}");
    collector.wait_for(Duration::from_secs(15), "one trace exported", |c| {
        c.spans()
            .iter()
            .any(|(_, _, name)| name == "provider.request")
    })?;
    let names: Vec<String> = collector.spans().into_iter().map(|(_, _, n)| n).collect();
    for name in [
        "ask",
        "context.gather",
        "answer.chain",
        "provider.request",
        "render",
    ] {
        ensure!(
            names.iter().any(|n| n == name),
            "no {name} span in {names:?}"
        );
    }
    ensure!(
        names.iter().filter(|n| *n == "ask").count() == 1,
        "the ask before the opt-in was exported: {names:?}"
    );
    collector.wait_for(Duration::from_secs(15), "metrics exported", |c| {
        c.metric_points()
            .iter()
            .any(|(name, ..)| name == "provider.time_to_first_token")
    })?;

    // Beside the collector: the custom JSON endpoint and the console. A
    // bad URL is refused and changes nothing.
    let (saved, bad) =
        save_telemetry_export(&b, &collector.url(), "mailto:telemetry@example.com", false).await?;
    ensure!(!saved && bad.contains("JSON endpoint URL"), "{bad}");
    let kept = ok(&b, json!({"type": "GetTelemetryExport"})).await?;
    ensure!(
        kept["otlp_url"] == json!(collector.url()) && kept["json_url"].is_null(),
        "{kept}"
    );
    let saved = save_telemetry_export(&b, &collector.url(), &collector.json_url(), true).await?;
    ensure!(saved == (true, "Saved.".into()), "{saved:?}");
    let saved = ok(&b, json!({"type": "GetTelemetryExport"})).await?;
    ensure!(
        saved["json_url"] == json!(collector.json_url()) && saved["console"] == true,
        "{saved}"
    );

    // The collector is down: batches wait, then go once it is back.
    collector.set_down(Some(Down::Unavailable {
        retry_after_s: Some(1),
    }));
    b.enter_agent_now().await?;
    b.ask("Who voted against it?").await?;
    b.wait_answer(2).await?;
    b.top().await?;
    send_telemetry_now(&b).await?;
    collector.wait_for(Duration::from_secs(15), "a refused export", |c| {
        c.requests().iter().any(|(_, status)| *status == 503)
    })?;
    let queued = ok(&b, json!({"type": "GetTelemetryExport"})).await?;
    ensure!(queued["queued"].as_u64().unwrap_or(0) > 0, "{queued}");
    collector.set_down(None);
    collector.wait_for(Duration::from_secs(30), "the queued batches", |c| {
        c.spans().iter().filter(|(_, _, n)| n == "ask").count() == 2
    })?;
    let spans = collector.spans();
    let mut ids: Vec<(String, String)> = spans
        .iter()
        .map(|(t, s, _)| (t.clone(), s.clone()))
        .collect();
    ids.sort();
    let before = ids.len();
    ids.dedup();
    ensure!(ids.len() == before, "a span was exported twice");
    // The JSON endpoint got the window with the third ask's spans, once.
    collector.wait_for(
        Duration::from_secs(30),
        "the window as a JSON document",
        |c| {
            c.json_documents().iter().any(|d| {
                d["rows"].as_array().is_some_and(|rows| {
                    rows.iter()
                        .any(|r| r["kind"] == "span" && r["name"] == "ask")
                })
            })
        },
    )?;
    let documents = collector.json_documents();
    let mut span_ids: Vec<String> = documents
        .iter()
        .flat_map(|d| d["rows"].as_array().cloned().unwrap_or_default())
        .filter(|r| r["kind"] == "span")
        .map(|r| r["dims"]["span_id"].to_string())
        .collect();
    let before = span_ids.len();
    span_ids.sort();
    span_ids.dedup();
    ensure!(span_ids.len() == before, "a JSON window was sent twice");
    ensure!(
        documents.iter().any(|d| d["rows"]
            .as_array()
            .is_some_and(|rows| rows.iter().any(|r| r["kind"] == "metric"
                && r["name"] == "provider.time_to_first_token"
                && r["dims"]["p95"].is_string()))),
        "no provider metric in the JSON documents"
    );
    ensure!(
        collector.rejections().is_empty(),
        "{:?}",
        collector.rejections()
    );

    // The agent's own records came through its batched channel.
    b.poll(Duration::from_secs(10), "the agent's records", || async {
        let metrics = ok(&b, json!({"type": "QueryTelemetry", "query": "metrics"})).await?;
        Ok(metrics
            .to_string()
            .contains("agent.time_to_first_text")
            .then_some(()))
    })
    .await?;

    // The devtools panel's live dashboard shows the metrics (its Dashboard
    // tab) and the spans (its Timeline tab).
    let back = b.open_tab("panel.html").await?;
    click_button(&b, "Dashboard").await?;
    b.poll(
        Duration::from_secs(10),
        "the dashboard's metrics",
        || async {
            let t = b
                .client
                .execute("return document.body.innerText;", vec![])
                .await?;
            let t = t.as_str().unwrap_or_default();
            Ok((t.contains("provider.time_to_first_token")
                && t.contains("Overall:")
                && t.contains("answer.completed"))
            .then_some(()))
        },
    )
    .await?;
    click_button(&b, "Timeline").await?;
    b.poll(Duration::from_secs(10), "the timeline's spans", || async {
        Ok((!b.texts(".timeline .span").await?.is_empty()).then_some(()))
    })
    .await?;
    b.close_tab(back).await?;
    let options = b
        .in_extension_page(
            "options.html",
            "const done = arguments[arguments.length - 1];
             const t0 = Date.now();
             (function check() {
               const input = document.querySelector('#otlp-url');
               if (input && input.value) return done({
                 otlp: input.value, json: document.querySelector('#json-url').value,
                 console: document.querySelector('#telemetry-console').checked });
               if (Date.now() - t0 > 8000) return done(null);
               setTimeout(check, 200);
             })();",
            json!(null),
        )
        .await?;
    ensure!(
        options == json!({"otlp": collector.url(), "json": collector.json_url(), "console": true}),
        "options page shows {options}"
    );

    // Privacy: no page text, no URL path, no key, no question.
    let mut everything = String::new();
    for signal in [Signal::Metrics, Signal::Logs, Signal::Traces] {
        for body in collector.raw(signal) {
            everything.push_str(&body.to_string());
        }
    }
    for document in collector.json_documents() {
        everything.push_str(&document.to_string());
    }
    for secret in [
        "fixtures/news.html",
        "floating solar",
        "How much does the pilot cost",
        KEY,
    ] {
        ensure!(!everything.contains(secret), "{secret:?} was exported");
    }
    Ok(b)
}
