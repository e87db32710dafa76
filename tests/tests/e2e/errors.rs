//! The devtools panel's errors and request log. Errors from everywhere
//! reach the panel with their severity and
//! category: a provider that refuses (a warning: the chain went on), a
//! message of an unknown type (protocol, info); the panel's Severity and
//! Category selects filter them, and its health line names the worker,
//! storage and page reading. A group resolved then seen again shows as
//! regressed; a muted one is hidden (also after a reload) until "Show
//! muted"; the shown groups export as JSON.

use std::time::Duration;

use anyhow::{ensure, Result};
use fantoccini::Locator;
use paperclip_e2e::fake_provider::{FakeProvider, Fault, Route};
use paperclip_e2e::scenario::{add_fake_provider, click_button};
use paperclip_e2e::{server::Server, Browser};
use serde_json::json;

in_both_browsers!(
    errors_from_everywhere_are_classified_and_filtered_in_the_panel,
    the_request_log_shows_each_asks_path_and_trace,
    the_timeline_filters_zooms_and_imports_a_trace,
);

/// The rows shown: (severity, category, summary).
async fn rows(b: &Browser) -> Result<Vec<(String, String, String)>> {
    let v = b
        .client
        .execute(
            "return [...document.querySelectorAll('table.errors tbody tr')].map(r =>
               [r.querySelector('.severity').textContent, r.querySelector('.category').textContent,
                r.querySelector('summary').textContent]);",
            vec![],
        )
        .await?;
    Ok(serde_json::from_value(v)?)
}

/// Chooses `value` in the select labelled `label`, as a user does.
async fn choose(b: &Browser, label: &str, value: &str) -> Result<()> {
    b.control("select", label)
        .await?
        .find(Locator::Css(&format!("option[value='{value}']")))
        .await?
        .click()
        .await?;
    Ok(())
}

async fn errors_from_everywhere_are_classified_and_filtered_in_the_panel(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    let fake = FakeProvider::start()?;
    add_fake_provider(&b, "work", &fake).await?;
    fake.script(Route::ChatCompletions, vec![Fault::Status(401)]);
    let answer = b.ask_on(&server.url("/"), "Who made it?").await?;
    ensure!(
        answer.contains("Answering from the page instead"),
        "{answer}"
    );
    let refused = b.request(json!({"type": "NoSuchRequest"})).await?;
    ensure!(
        refused["body"]["err"]["kind"] == "unknown_type",
        "{refused}"
    );

    let back = b.open_tab("panel.html").await?;
    click_button(&b, "Errors").await?;
    let all = b
        .poll(
            Duration::from_secs(15),
            "both errors in the panel",
            || async {
                let rows = rows(&b).await?;
                let provider = rows.iter().any(|(s, c, t)| {
                    s == "warning" && c == "provider" && t.starts_with("provider.http_4xx: ")
                });
                let protocol = rows.iter().any(|(s, c, t)| {
                    s == "info" && c == "protocol" && t.starts_with("protocol.unknown_type: ")
                });
                Ok((provider && protocol).then_some(rows))
            },
        )
        .await?;

    // Health names every component that did something, with its reason.
    let health = b.text_of("p.health").await?.unwrap_or_default();
    for part in [
        "worker: healthy",
        "storage: healthy",
        "page reading: healthy",
    ] {
        ensure!(health.contains(part), "{part:?} not in {health:?}");
    }

    choose(&b, "Category", "provider").await?;
    let shown = rows(&b).await?;
    ensure!(
        !shown.is_empty() && shown.iter().all(|(_, c, _)| c == "provider"),
        "{shown:?}"
    );
    let status = b
        .text_of(".error-groups [role=status]")
        .await?
        .unwrap_or_default();
    ensure!(
        status == format!("{} of {} error groups", shown.len(), all.len()),
        "{status}"
    );
    choose(&b, "Category", "all").await?;
    choose(&b, "Severity", "info").await?;
    let shown = rows(&b).await?;
    ensure!(
        !shown.is_empty() && shown.iter().all(|(s, _, _)| s == "info"),
        "{shown:?}"
    );
    choose(&b, "Severity", "fatal").await?;
    ensure!(rows(&b).await?.is_empty(), "a fatal error was shown");
    choose(&b, "Severity", "all").await?;

    // Resolved, then seen again: regressed. Muted: hidden unless asked
    // for, and still so after a reload. The shown groups export as JSON.
    let unknown = "protocol.unknown_type: ";
    click_triage(&b, "Resolve", unknown).await?;
    state_becomes(&b, unknown, Some("resolved")).await?;
    b.request(json!({"type": "NoSuchRequest"})).await?;
    state_becomes(&b, unknown, Some("regressed")).await?;
    click_triage(&b, "Mute", unknown).await?;
    state_becomes(&b, unknown, None).await?;
    b.client.refresh().await?;
    b.poll(
        Duration::from_secs(15),
        "the provider row after the reload",
        || async {
            Ok(rows(&b)
                .await?
                .iter()
                .any(|(_, c, _)| c == "provider")
                .then_some(()))
        },
    )
    .await?;
    state_becomes(&b, unknown, None).await?;
    b.control("input", "Show muted").await?.click().await?;
    state_becomes(&b, unknown, Some("muted")).await?;
    b.control("button", "Export shown (JSON)")
        .await?
        .click()
        .await?;
    let exported: serde_json::Value =
        serde_json::from_str(&b.downloaded("paperclip-errors.json").await?)?;
    let muted = exported
        .as_array()
        .into_iter()
        .flatten()
        .find(|g| g["group"]["kind"] == "protocol.unknown_type");
    ensure!(
        muted.is_some_and(|g| g["state"] == "muted" && g["group"]["count"] == 2),
        "{exported}"
    );
    b.close_tab(back).await?;
    Ok(b)
}

/// Clicks the `action` button of the row whose summary starts with `title`.
async fn click_triage(b: &Browser, action: &str, title: &str) -> Result<()> {
    let xpath = format!("//button[starts-with(@aria-label, '{action} {title}')]");
    let button = b
        .poll(Duration::from_secs(10), action, || async {
            Ok(b.client.find(Locator::XPath(&xpath)).await.ok())
        })
        .await?;
    b.click(&button).await
}

/// Waits until the row whose summary starts with `title` shows `state`
/// (`None`: the row is not shown).
async fn state_becomes(b: &Browser, title: &str, state: Option<&str>) -> Result<()> {
    b.wait_until(
        Duration::from_secs(15),
        &format!("{title} {state:?}"),
        || async {
            let v = b
                .client
                .execute(
                    "const row = [...document.querySelectorAll('table.errors tbody tr')]
                   .find(r => r.querySelector('summary').textContent.startsWith(arguments[0]));
                 return row ? row.querySelector('.triage').textContent : null;",
                    vec![json!(title)],
                )
                .await?;
            Ok(v.as_str() == state)
        },
    )
    .await
}

/// The panel's request log: an ask whose first attempt got a 503 (retried,
/// then answered) and one whose provider refused (answered offline), each
/// with its site, its path and, on "Trace", its spans.
async fn the_request_log_shows_each_asks_path_and_trace(
    b: Browser,
    server: Server,
) -> Result<Browser> {
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

    let back = b.open_tab("panel.html").await?;
    click_button(&b, "Asks").await?;
    let rows: Vec<(String, String, String)> = b
        .poll(Duration::from_secs(15), "two asks in the log", || async {
            let v = b
                .client
                .execute(
                    "return [...document.querySelectorAll('table.asks tbody tr')].map(r =>
                       [r.querySelector('.site').textContent, r.querySelector('.path').textContent,
                        r.querySelector('.outcome').textContent]);",
                    vec![],
                )
                .await?;
            let rows: Vec<(String, String, String)> = serde_json::from_value(v)?;
            Ok((rows.len() == 2).then_some(rows))
        })
        .await?;
    let origin = page.trim_end_matches('/');
    ensure!(
        rows.iter()
            .all(|(site, _, outcome)| site == origin && outcome == "ok"),
        "{rows:?}"
    );
    let (newest, older) = (&rows[0].1, &rows[1].1);
    ensure!(
        newest.contains(": http_4xx (") && newest.ends_with("answer: offline"),
        "{newest}"
    );
    ensure!(
        older.contains(": http_5xx (")
            && older.contains(": ok (")
            && older.ends_with("answer: normal"),
        "{older}"
    );
    // The tabs move with the keys: → to the next, End to the last, Home
    // back to the first (the focus follows).
    b.client
        .execute("document.getElementById('tab-asks').focus();", vec![])
        .await?;
    for (key, id) in [
        (fantoccini::key::Key::Right, "tab-dashboard"),
        (fantoccini::key::Key::End, "tab-storage"),
        (fantoccini::key::Key::Home, "tab-asks"),
    ] {
        b.client
            .active_element()
            .await?
            .send_keys(&char::from(key).to_string())
            .await?;
        b.wait_until(Duration::from_secs(5), id, || async {
            let v = b
                .client
                .execute(
                    "const a = document.activeElement;
                     return a && a.id === arguments[0] && a.getAttribute('aria-selected') === 'true';",
                    vec![json!(id)],
                )
                .await?;
            Ok(v == json!(true))
        })
        .await?;
    }
    let trace = b
        .client
        .find(Locator::XPath(
            "(//table[@aria-label='Asks']//button[.='Trace'])[2]",
        ))
        .await?;
    b.click(&trace).await?;
    let spans = b
        .poll(Duration::from_secs(10), "the trace", || async {
            b.text_of(".ask-trace").await
        })
        .await?;
    ensure!(
        spans.contains("ask · ") && spans.matches("provider.request · ").count() == 2,
        "{spans}"
    );
    b.close_tab(back).await?;
    Ok(b)
}

/// The names of the bars the timeline shows, and its status line.
async fn bars(b: &Browser) -> Result<(Vec<String>, String)> {
    let names = b.texts("ol.timeline .span .name").await?;
    let status = b
        .text_of(".timeline-view > p.meta[role=status]")
        .await?
        .unwrap_or_default();
    Ok((names, status))
}

/// The timeline's window length in ms, from its status line.
fn window_ms(status: &str) -> f64 {
    status
        .split(" · ")
        .nth(1)
        .and_then(|w| w.split(" ms").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(f64::NAN)
}

/// The Timeline tab: filtered by name, zoomed in with its button and back
/// with the "0" key, and a Chrome trace file imported for viewing (a bad
/// file is refused and changes nothing).
async fn the_timeline_filters_zooms_and_imports_a_trace(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    b.ask_on(&server.url("/"), "What is the Gem clip?").await?;
    let back = b.open_tab("panel.html").await?;
    click_button(&b, "Timeline").await?;
    let (all, status) = b
        .poll(Duration::from_secs(15), "the spans", || async {
            let (names, status) = bars(&b).await?;
            Ok((names.iter().any(|n| n.starts_with("context.gather · ")))
                .then_some((names, status)))
        })
        .await?;
    let whole = window_ms(&status);
    ensure!(
        whole > 0.0 && all.iter().any(|n| n.starts_with("ask · ")),
        "{status} {all:?}"
    );

    b.control("input", "Filter spans by name")
        .await?
        .send_keys("context")
        .await?;
    b.wait_until(Duration::from_secs(5), "only context spans", || async {
        let (names, _) = bars(&b).await?;
        Ok(!names.is_empty() && names.iter().all(|n| n.starts_with("context.")))
    })
    .await?;
    // Deleted again as a user does, key by key.
    let backspaces = char::from(fantoccini::key::Key::Backspace)
        .to_string()
        .repeat(7);
    b.control("input", "Filter spans by name")
        .await?
        .send_keys(&backspaces)
        .await?;
    b.wait_until(Duration::from_secs(5), "every span again", || async {
        Ok(bars(&b).await?.0.len() == all.len())
    })
    .await?;

    click_button(&b, "Zoom in").await?;
    let zoomed = window_ms(&bars(&b).await?.1);
    ensure!(
        (zoomed - whole / 2.0).abs() < 0.2,
        "{zoomed} after zooming in on {whole}"
    );
    b.client
        .execute("document.querySelector('ol.timeline').focus();", vec![])
        .await?;
    b.client.active_element().await?.send_keys("0").await?;
    b.wait_until(Duration::from_secs(5), "the whole window again", || async {
        Ok((window_ms(&bars(&b).await?.1) - whole).abs() < 0.2)
    })
    .await?;

    let dir = tempfile::tempdir()?;
    let good = dir.path().join("trace.json");
    std::fs::write(
        &good,
        json!({"traceEvents": [
            {"name": "imported.first", "ph": "X", "ts": 0, "dur": 1000, "tid": 1},
            {"name": "imported.second", "ph": "X", "ts": 500, "dur": 250, "tid": 1,
             "args": {"status": "error"}},
            {"name": "thread_name", "ph": "M", "tid": 1}
        ]})
        .to_string(),
    )?;
    let file = b.client.find(Locator::Css("#trace-file")).await?;
    file.send_keys(&good.display().to_string()).await?;
    let imported = b
        .poll(Duration::from_secs(10), "the imported spans", || async {
            let (names, _) = bars(&b).await?;
            Ok(names
                .iter()
                .all(|n| n.starts_with("imported."))
                .then_some(names))
        })
        .await?;
    ensure!(
        imported == ["imported.first · 1.0 ms", "imported.second · 0.2 ms"],
        "{imported:?}"
    );
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"traceEvents\": 3}")?;
    b.client
        .find(Locator::Css("#trace-file"))
        .await?
        .send_keys(&bad.display().to_string())
        .await?;
    let refused = b
        .poll(Duration::from_secs(10), "the refusal", || async {
            b.text_of(".timeline-view [role=alert]").await
        })
        .await?;
    ensure!(
        refused == "bad.json: the file is not a Chrome trace: it has no traceEvents array",
        "{refused}"
    );
    ensure!(
        bars(&b).await?.0.len() == 2,
        "a refused file changed the timeline"
    );
    click_button(&b, "Back to the live spans").await?;
    b.wait_until(Duration::from_secs(10), "the live spans again", || async {
        Ok(bars(&b).await?.0.iter().any(|n| n.starts_with("ask · ")))
    })
    .await?;
    b.close_tab(back).await?;
    Ok(b)
}
