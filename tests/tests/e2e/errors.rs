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
    a_session_bundle_round_trips_and_keeps_no_secret,
    the_dashboard_charts_metrics_and_keeps_a_view,
    long_lists_show_a_page_then_more,
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
    // The filters chosen are there again when the panel opens again.
    choose(&b, "Severity", "warning").await?;
    b.client.refresh().await?;
    let kept = b
        .poll(Duration::from_secs(15), "the filter kept", || async {
            let v = b
                .client
                .execute(
                    "return document.getElementById('error-severity')?.value ?? null;",
                    vec![],
                )
                .await?;
            let shown = rows(&b).await?;
            Ok((v == json!("warning") && !shown.is_empty()).then_some(shown))
        })
        .await?;
    ensure!(kept.iter().all(|(s, _, _)| s == "warning"), "{kept:?}");
    choose(&b, "Severity", "all").await?;
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
            && older.contains("retry after ")
            && older.contains(": ok (")
            && older.ends_with("answer: normal"),
        "{older}"
    );
    // The answered ask's first byte and text, its tokens and (a loopback
    // provider) its cost; the offline one had no tokens.
    let cells = |row: usize| {
        let b = &b;
        async move {
            let v = b
                .client
                .execute(
                    "const r = document.querySelectorAll('table.asks tbody tr')[arguments[0]];
                     return ['.first', '.tokens', '.cost'].map(c => r.querySelector(c).textContent);",
                    vec![json!(row)],
                )
                .await?;
            anyhow::Ok(serde_json::from_value::<Vec<String>>(v)?)
        }
    };
    let answered = cells(1).await?;
    let numbers = |s: &str| {
        s.split(" / ")
            .map(|p| p.trim_end_matches(" ms").parse::<f64>().is_ok())
            .collect::<Vec<_>>()
    };
    ensure!(
        numbers(&answered[0]) == [true, true]
            && numbers(&answered[1]) == [true, true]
            && answered[2] == "$0.0000",
        "{answered:?}"
    );
    let offline = cells(0).await?;
    ensure!(offline[1] == "–", "{offline:?}");
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
    // Comparison: the offline ask (one request) against the retried one
    // (two), span by span.
    for row in [1, 2] {
        let tick = b
            .client
            .find(Locator::XPath(&format!(
                "(//table[@aria-label='Asks']//input[starts-with(@aria-label, 'Compare the ask')])[{row}]"
            )))
            .await?;
        b.click(&tick).await?;
    }
    let compared: Vec<Vec<String>> = b
        .poll(Duration::from_secs(10), "the comparison", || async {
            let v = b
                .client
                .execute(
                    "return [...document.querySelectorAll('table.comparison tbody tr')]
                       .map(r => [...r.children].map(c => c.textContent));",
                    vec![],
                )
                .await?;
            let rows: Vec<Vec<String>> = serde_json::from_value(v)?;
            Ok((!rows.is_empty()).then_some(rows))
        })
        .await?;
    let row = |name: &str, n: &str| compared.iter().find(|r| r[0] == name && r[1] == n).cloned();
    let ask = row("ask", "1").unwrap_or_default();
    ensure!(
        ask.len() == 5
            && ask[2].ends_with(" ms")
            && ask[3].ends_with(" ms")
            && ask[4].ends_with(" ms"),
        "{compared:?}"
    );
    let second = row("provider.request", "2").unwrap_or_default();
    ensure!(
        second.len() == 5 && second[2] == "–" && second[3].ends_with(" ms") && second[4] == "–",
        "{compared:?}"
    );
    // Paused, the log stays as it was while a third ask is answered;
    // resumed, it shows it.
    click_button(&b, "Pause live updates").await?;
    let panel = b.client.window().await?;
    b.client.switch_to_window(back.clone()).await?;
    b.enter_agent().await?;
    b.ask("And a third?").await?;
    b.wait_answer(2).await?;
    b.top().await?;
    b.client.switch_to_window(panel).await?;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let asks = b.texts("table.asks tbody tr").await?.len();
    ensure!(asks == 2, "{asks} asks shown while paused");
    click_button(&b, "Resume live updates").await?;
    b.poll(Duration::from_secs(10), "the third ask", || async {
        Ok((b.texts("table.asks tbody tr").await?.len() == 3).then_some(()))
    })
    .await?;
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
    // By component.
    choose(&b, "Component", "context").await?;
    b.wait_until(
        Duration::from_secs(5),
        "only the context component",
        || async {
            let (names, _) = bars(&b).await?;
            Ok(!names.is_empty() && names.iter().all(|n| n.starts_with("context.")))
        },
    )
    .await?;
    choose(&b, "Component", "").await?;
    b.wait_until(Duration::from_secs(5), "every component again", || async {
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

    // A note on the first half: listed, it zooms back to its range, it is
    // there after a reload, and it can be deleted; an empty one is refused.
    click_button(&b, "Zoom in").await?;
    click_button(&b, "Add a note").await?;
    let refused = b
        .poll(Duration::from_secs(5), "the refusal", || async {
            b.text_of(".notes [role=alert]").await
        })
        .await?;
    ensure!(refused == "Write the note first.", "{refused}");
    b.control("input", "Note on the window shown")
        .await?
        .send_keys("the <b>first</b> half")
        .await?;
    click_button(&b, "Add a note").await?;
    let note_text = || async { Ok(b.texts(".note-list .note-text").await?.first().cloned()) };
    let noted = b
        .poll(Duration::from_secs(5), "the note", note_text)
        .await?;
    ensure!(noted == "the <b>first</b> half", "{noted}");
    click_button(&b, "Show all").await?;
    b.control(
        "button",
        "Show the window of the note the <b>first</b> half",
    )
    .await?
    .click()
    .await?;
    b.wait_until(Duration::from_secs(5), "the note's window", || async {
        Ok((window_ms(&bars(&b).await?.1) - whole / 2.0).abs() < 0.5)
    })
    .await?;
    b.client.refresh().await?;
    let kept = b
        .poll(
            Duration::from_secs(15),
            "the note after a reload",
            note_text,
        )
        .await?;
    ensure!(kept == noted, "{kept}");
    b.control("button", "Delete the note the <b>first</b> half")
        .await?
        .click()
        .await?;
    b.wait_until(Duration::from_secs(5), "the note deleted", || async {
        Ok(b.texts(".note-list .note-text").await?.is_empty())
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

/// The panel's "Export session bundle": after an ask with a provider key
/// set, on a page with a path and a query, the file holds the ask (its
/// site's origin), the spans, metrics, health and environment, and none of
/// the question, the page's text, its path or query, nor the key. Opened
/// again with "Open a session bundle", the tabs show it read-only (no
/// Resolve buttons) until "Back to live"; a file that is not a bundle is
/// refused with its reason.
async fn a_session_bundle_round_trips_and_keeps_no_secret(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    let fake = FakeProvider::start()?;
    let settings = json!({"id": "work", "kind": "openai_compatible", "label": "work",
        "base_url": fake.base_url(), "model": "fake-model-1", "max_tokens": 256});
    paperclip_e2e::scenario::ok(
        &b,
        json!({"type": "SaveProvider", "settings": settings,
               "key": {"action": "set", "key": "sk-bundle-SECRET-77"}}),
    )
    .await?;
    fake.script(Route::ChatCompletions, vec![Fault::Status(503)]);
    let page = server.url("/index.html?private-query=zebra");
    b.ask_on(&page, "Who invented the quartzite widget?")
        .await?;
    // An error group too (a refused message: protocol).
    b.request(json!({"type": "NoSuchRequestHere"})).await?;

    let back = b.open_tab("panel.html").await?;
    click_button(&b, "Asks").await?;
    b.poll(Duration::from_secs(15), "the ask listed", || async {
        Ok(b.texts("table.asks tbody tr").await?.first().cloned())
    })
    .await?;
    click_button(&b, "Export session bundle").await?;
    let saved = b
        .poll(Duration::from_secs(15), "the bundle saved", || async {
            Ok(b.texts(".bundle-bar [role=status]")
                .await?
                .into_iter()
                .find(|t| t.starts_with("Saved ")))
        })
        .await?;
    let name = saved
        .trim_start_matches("Saved ")
        .trim_end_matches('.')
        .to_string();
    ensure!(
        name.starts_with("paperclip-session-") && name.ends_with(".json"),
        "{saved}"
    );
    let text = b.downloaded(&name).await?;
    for secret in [
        "sk-bundle-SECRET-77",
        "quartzite",
        "Short History",
        "Gem clip",
        "index.html",
        "private-query",
        "zebra",
    ] {
        ensure!(!text.contains(secret), "the bundle holds {secret:?}");
    }
    let bundle: serde_json::Value = serde_json::from_str(&text)?;
    let origin = server.url("/");
    let origin = origin.trim_end_matches('/');
    ensure!(
        bundle["format"] == "paperclip-session/1"
            && bundle["asks"][0]["site"] == origin
            && bundle["asks"][0]["attempts"][0]["outcome"] == "http_5xx"
            && bundle["spans"].as_array().is_some_and(|s| s.len() >= 4)
            && bundle["metrics"].as_array().is_some_and(|m| !m.is_empty())
            && bundle["health"]["components"]
                .as_array()
                .is_some_and(|c| !c.is_empty())
            && bundle["environment"]["extension_version"].is_string()
            && bundle["environment"]["browser"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
            && bundle["errors"]
                .as_array()
                .is_some_and(|e| e.iter().any(|g| g["kind"] == "protocol.unknown_type")),
        "{bundle:#}"
    );

    // Opened again: read-only, in each tab.
    let dir = tempfile::tempdir()?;
    let copy = dir.path().join("bundle.json");
    std::fs::write(&copy, &text)?;
    b.client
        .find(Locator::Css("#bundle-file"))
        .await?
        .send_keys(&copy.display().to_string())
        .await?;
    let banner = b
        .poll(Duration::from_secs(10), "the bundle opened", || async {
            b.text_of(".bundle-open").await
        })
        .await?;
    ensure!(
        banner.contains("read-only") && banner.contains("1 asks"),
        "{banner}"
    );
    let asks = b.texts("table.asks tbody tr").await?;
    ensure!(asks.len() == 1, "{asks:?}");
    ensure!(
        b.text_of("select[aria-label='Time range']")
            .await?
            .is_none(),
        "a bundle has no range to choose"
    );
    click_button(&b, "Errors").await?;
    b.poll(Duration::from_secs(10), "the bundle's errors", || async {
        Ok((!rows(&b).await?.is_empty()).then_some(()))
    })
    .await?;
    ensure!(
        b.client
            .find(Locator::XPath(
                "//table[@aria-label='Errors']//button[.='Resolve']"
            ))
            .await
            .is_err(),
        "a bundle's errors cannot be resolved"
    );
    click_button(&b, "Back to live").await?;
    b.wait_until(Duration::from_secs(10), "back to live", || async {
        Ok(b.text_of(".bundle-open").await?.is_none())
    })
    .await?;
    // Not a bundle: refused, with its reason.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"format\": \"paperclip-session/9\"}")?;
    b.client
        .find(Locator::Css("#bundle-file"))
        .await?
        .send_keys(&bad.display().to_string())
        .await?;
    let refused = b
        .poll(Duration::from_secs(10), "the refusal", || async {
            b.text_of(".bundle-bar [role=alert]").await
        })
        .await?;
    ensure!(refused.contains("paperclip-session/9"), "{refused}");
    ensure!(b.text_of(".bundle-open").await?.is_none(), "{refused}");
    b.close_tab(back).await?;
    Ok(b)
}

/// The charts shown: (instrument, lines drawn).
async fn charts(b: &Browser) -> Result<Vec<(String, usize)>> {
    let v = b
        .client
        .execute(
            "return [...document.querySelectorAll('figure.metric-chart')].map(f =>
               [f.querySelector('figcaption').firstChild.textContent.split(' (')[0],
                f.querySelectorAll('polyline').length]);",
            vec![],
        )
        .await?;
    Ok(serde_json::from_value(v)?)
}

/// The Dashboard tab: after an ask and two collections, each instrument
/// has a chart over time (a counter one line, a histogram its p50, p95
/// and p99); the memory of the worker and of the agent is listed; pinning one and saving it as a view shows that instrument
/// only, also after the panel is opened again; deleting the view shows
/// them all.
async fn the_dashboard_charts_metrics_and_keeps_a_view(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    b.ask_on(&server.url("/"), "What is this page about?")
        .await?;
    for _ in 0..2 {
        b.request(json!({"type": "FlushTelemetry"})).await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let back = b.open_tab("panel.html").await?;
    click_button(&b, "Dashboard").await?;
    let all = b
        .poll(Duration::from_secs(15), "the charts", || async {
            let c = charts(&b).await?;
            let ask = c.iter().any(|(n, lines)| n == "ask.count" && *lines == 1);
            let read = c
                .iter()
                .any(|(n, lines)| n == "context.read" && *lines == 3);
            Ok((ask && read).then_some(c))
        })
        .await?;
    ensure!(all.len() > 2, "{all:?}");
    // The memory of the worker and of the agent page, as they measured it.
    b.poll(Duration::from_secs(15), "the memory gauges", || async {
        let v = b
            .client
            .execute(
                "return [...document.querySelectorAll('table.metrics tbody tr')]
                   .map(r => [...r.cells].slice(0, 3).map(c => c.textContent))
                   .filter(([name]) => name === 'memory.wasm_bytes');",
                vec![],
            )
            .await?;
        let rows: Vec<(String, String, String)> = serde_json::from_value(v)?;
        let measured = |source: &str| {
            rows.iter().any(|(_, labels, value)| {
                labels == &format!("source={source}") && value.parse::<f64>().is_ok_and(|v| v > 0.0)
            })
        };
        Ok((measured("background") && measured("agent")).then_some(()))
    })
    .await?;
    let label = b
        .client
        .execute(
            "return document.querySelector('svg.chart[aria-label^=\"context.read over\"]')
               ?.getAttribute('aria-label') ?? null;",
            vec![],
        )
        .await?;
    ensure!(
        label
            .as_str()
            .is_some_and(|l| l.contains("p50 ") && l.contains("p99 ")),
        "{label}"
    );
    // A view needs a name and a pinned chart.
    click_button(&b, "Save pinned as a view (0)").await?;
    let refused = b
        .poll(Duration::from_secs(5), "the refusal", || async {
            b.text_of(".dashboard [role=alert]").await
        })
        .await?;
    ensure!(refused == "Name the view first.", "{refused}");
    b.control("input", "Pin ask.count").await?.click().await?;
    b.control("input", "New view's name")
        .await?
        .send_keys("Asks only")
        .await?;
    click_button(&b, "Save pinned as a view (1)").await?;
    only_asks(&b).await?;
    b.client.refresh().await?;
    only_asks(&b).await?;
    let chosen = b
        .client
        .execute(
            "return document.getElementById('metric-view').value;",
            vec![],
        )
        .await?;
    ensure!(chosen == json!("Asks only"), "{chosen}");
    click_button(&b, "Delete this view").await?;
    b.poll(Duration::from_secs(10), "all charts again", || async {
        Ok((charts(&b).await?.len() == all.len()).then_some(()))
    })
    .await?;
    b.close_tab(back).await?;
    Ok(b)
}

/// Waits until the Dashboard shows the `ask.count` instrument only.
async fn only_asks(b: &Browser) -> Result<()> {
    b.poll(Duration::from_secs(10), "the view's charts", || async {
        let c = charts(b).await?;
        let rows = b.texts("table.metrics tbody tr td:first-child").await?;
        let only = c.len() == 1
            && c[0].0 == "ask.count"
            && !rows.is_empty()
            && rows.iter().all(|r| r == "ask.count");
        Ok(only.then_some(()))
    })
    .await
}

/// A session bundle with 120 asks and 150 error groups (made with the
/// core, as the background makes one).
fn long_bundle() -> Result<String> {
    use paperclip_core::telemetry::bundle::SessionBundle;
    use paperclip_core::telemetry::errors::{Category, ErrorInput, Severity};
    use paperclip_core::telemetry::span::{names, OpenSpan, SpanKind};
    use paperclip_core::telemetry::{Engine, EngineConfig};
    let now_ms = 1_796_000_000_000.0;
    let mut engine = Engine::new(EngineConfig::default(), now_ms)?;
    for i in 0..150 {
        let kind = format!("bench.kind_{i}");
        engine.error(
            ErrorInput {
                severity: Severity::Error,
                category: Category::Provider,
                message: "a failure",
                kind: &kind,
                component: "test",
                ..ErrorInput::default()
            },
            now_ms,
            0.5,
        );
    }
    // Three spans an ask, in order of their start.
    let spans: Vec<_> = (0..120u64)
        .flat_map(|i| {
            let t0 = (now_ms * 1e6) as u64 + i * 1_000_000_000;
            let root = OpenSpan::root(names::ASK, SpanKind::Server, (i + 1, 1), 1, t0);
            let a = root.child(names::CONTEXT_GATHER, SpanKind::Internal, 2, t0 + 1_000);
            let b = root.child(names::CACHE_LOOKUP, SpanKind::Internal, 3, t0 + 2_000);
            [
                root.finish(t0 + 5_000_000),
                a.finish(t0 + 2_000_000),
                b.finish(t0 + 3_000_000),
            ]
        })
        .collect();
    let bundle = SessionBundle {
        asks: paperclip_core::telemetry::asks::asks(&spans, 1_000),
        errors: engine.errors().list().into_iter().cloned().collect(),
        spans,
        ..SessionBundle::empty(now_ms)
    };
    Ok(serde_json::to_string(&bundle)?)
}

/// Long lists draw a page, then more on "Show more": the Asks tab 50 at a
/// time, the Errors tab 100; "Keep the last 300 spans" keeps the newest
/// 100 asks' spans.
async fn long_lists_show_a_page_then_more(b: Browser, _server: Server) -> Result<Browser> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("long.json");
    std::fs::write(&file, long_bundle()?)?;
    let back = b.open_tab("panel.html").await?;
    click_button(&b, "Asks").await?;
    b.client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#bundle-file"))
        .await?
        .send_keys(&file.display().to_string())
        .await?;
    let count = |css: &'static str, n: usize| {
        let b = &b;
        async move {
            b.poll(
                Duration::from_secs(10),
                &format!("{n} rows of {css}"),
                || async { Ok((b.texts(css).await?.len() == n).then_some(())) },
            )
            .await
        }
    };
    count("table.asks tbody tr", 50).await?;
    choose(&b, "Spans kept", "300").await?;
    b.client
        .find(Locator::XPath("//button[.='Show 50 more of 50']"))
        .await
        .map_err(|_| anyhow::anyhow!("300 spans did not keep 100 asks"))?;
    choose(&b, "Spans kept", "1000").await?;
    click_button(&b, "Show 50 more of 70").await?;
    count("table.asks tbody tr", 100).await?;
    click_button(&b, "Show 20 more of 20").await?;
    count("table.asks tbody tr", 120).await?;
    click_button(&b, "Errors").await?;
    count("table.errors tbody tr", 100).await?;
    click_button(&b, "Show 50 more of 50").await?;
    count("table.errors tbody tr", 150).await?;
    b.close_tab(back).await?;
    Ok(b)
}
