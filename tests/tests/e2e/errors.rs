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
