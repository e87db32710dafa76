//! Error boundaries, with the test build's fail points
//! (`localStorage["paperclip.fail-point"]`, see `paperclip_ui::boundary`):
//! a part that fails shows "This part stopped working — Reload it" while
//! the rest of its page works, and its error is recorded with its stack; a
//! panic (which stops a page's wasm for good) leaves a notice with a reload
//! link, and its record too.

use std::time::Duration;

use anyhow::{ensure, Result};
use paperclip_e2e::scenario::{click_button, latest_conversation, ok, set_option, Pref};
use paperclip_e2e::{server::Server, Browser};
use serde_json::{json, Value};

in_both_browsers!(
    a_failing_part_of_the_options_page_recovers_alone,
    a_failing_part_of_the_agent_leaves_the_chat_working,
    a_panic_leaves_a_reload_notice_and_a_record,
);

/// Sets (or clears, with `None`) the fail point for the extension's pages.
async fn fail_point(b: &Browser, part: Option<&str>) -> Result<()> {
    b.in_extension_page(
        "options.html",
        "const [part, done] = arguments;
         if (part) localStorage.setItem('paperclip.fail-point', part);
         else localStorage.removeItem('paperclip.fail-point');
         done(true);",
        json!(part),
    )
    .await?;
    Ok(())
}

/// The error groups the background holds whose message contains `needle`.
async fn errors_with(b: &Browser, needle: &str) -> Result<Vec<Value>> {
    let answer = ok(
        b,
        json!({"type": "QueryTelemetry", "query": {"errors": {"limit": 100}}}),
    )
    .await?;
    Ok(answer["answer"]["errors"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|g| g.to_string().contains(needle))
        .collect())
}

/// Waits for an error record containing `needle`, and returns it.
async fn recorded(b: &Browser, needle: &str) -> Result<Value> {
    b.poll(Duration::from_secs(10), needle, || async {
        Ok(errors_with(b, needle).await?.into_iter().next())
    })
    .await
}

/// The options page's providers section fails: its recovery view shows,
/// the preferences still save, the error is recorded with a stack, and
/// "Reload it" brings the section back once it works.
async fn a_failing_part_of_the_options_page_recovers_alone(
    b: Browser,
    _server: Server,
) -> Result<Browser> {
    fail_point(&b, Some("options.providers")).await?;
    let back = b.open_tab("options.html").await?;
    let failed = b
        .poll(Duration::from_secs(10), "the recovery view", || async {
            b.text_of("[data-part='options.providers'].part-failed")
                .await
        })
        .await?;
    ensure!(failed.contains("This part stopped working."), "{failed}");
    // The other parts work.
    ensure!(
        b.text_of("[data-part='options.preferences'] legend")
            .await?
            .is_some(),
        "the preferences are shown"
    );
    b.close_tab(back).await?;
    set_option(&b, "ui.font_scale", Pref::Type("1.2")).await?;
    let record = recorded(&b, "options.providers stopped working").await?;
    ensure!(
        record["kind"] == "ui"
            && record["sample"]["category"] == "ui"
            && record["sample"]["stack"]
                .as_str()
                .is_some_and(|s| !s.is_empty()),
        "recorded with its stack: {record}"
    );
    // Fixed, then reloaded by the user: the section is back.
    let back = b.open_tab("options.html").await?;
    b.poll(Duration::from_secs(10), "the recovery view", || async {
        b.text_of("[data-part='options.providers'].part-failed")
            .await
    })
    .await?;
    fail_point(&b, None).await?;
    click_button(&b, "Reload it").await?;
    b.poll(Duration::from_secs(10), "the providers again", || async {
        Ok(b.text_of("[data-part='options.providers'].part")
            .await?
            .filter(|t| t.contains("AI providers")))
    })
    .await?;
    b.close_tab(back).await?;
    Ok(b)
}

/// The agent's transcript fails: its recovery view shows, and the rest of
/// the agent still asks (the question is stored and answered).
async fn a_failing_part_of_the_agent_leaves_the_chat_working(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    fail_point(&b, Some("agent.transcript")).await?;
    let page = server.url("/");
    b.client.goto(&page).await?;
    b.activate(&page).await?;
    b.enter_agent().await?;
    let failed = b
        .poll(
            Duration::from_secs(10),
            "the transcript's recovery view",
            || async {
                b.text_of("[data-part='agent.transcript'].part-failed")
                    .await
            },
        )
        .await?;
    ensure!(failed.contains("This part stopped working."), "{failed}");
    b.ask("Do you still work?").await?;
    b.top().await?;
    let answered = b
        .poll(
            Duration::from_secs(15),
            "the answer to be stored",
            || async {
                let c = latest_conversation(&b).await?;
                let n = c["conversation"]["messages"].as_array().map_or(0, Vec::len);
                Ok((n == 2).then_some(c))
            },
        )
        .await?;
    ensure!(
        answered["conversation"]["messages"][0]["text"] == "Do you still work?",
        "{answered}"
    );
    recorded(&b, "agent.transcript stopped working").await?;
    fail_point(&b, None).await?;
    Ok(b)
}

/// A panic in the popup (on purpose) stops its page: a notice with a reload
/// link appears and the panic is recorded with its stack.
async fn a_panic_leaves_a_reload_notice_and_a_record(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    b.client.goto(&server.url("/")).await?;
    fail_point(&b, Some("popup.recent:panic")).await?;
    let tab = b.client.window().await?;
    b.open_popup().await?;
    let notice = b
        .poll(Duration::from_secs(10), "the notice", || async {
            b.text_of(".crashed[role=alert]").await
        })
        .await?;
    ensure!(
        notice.contains("Paperclip stopped working on this page.") && notice.contains("Reload it"),
        "{notice}"
    );
    let href = b
        .client
        .execute(
            "return document.querySelector('.crashed a').getAttribute('href');",
            vec![],
        )
        .await?;
    ensure!(
        href.as_str().is_some_and(|h| h.ends_with("popup.html")),
        "{href}"
    );
    b.client.close_window().await?;
    b.client.switch_to_window(tab).await?;
    let record = recorded(&b, "a panic on purpose").await?;
    ensure!(
        record["kind"] == "panic"
            && record["sample"]["severity"] == "fatal"
            && record["sample"]["category"] == "ui",
        "{record}"
    );
    fail_point(&b, None).await?;
    Ok(b)
}
