//! Accessibility: WCAG AA text contrast of everything Paperclip draws, in
//! the default scheme and (Firefox) the dark one, and the agent used with
//! the keyboard only.

use std::time::Duration;

use anyhow::{ensure, Result};
use paperclip_e2e::scenario::{add_fake_provider, ok, wait_last};
use paperclip_e2e::{server::Server, Browser, Kind};
use serde_json::json;

use crate::with_browser_prefs;

in_both_browsers!(text_contrast_meets_wcag_aa, keyboard_only);

/// Keyboard only, with real key events (`Browser::type_keys`): the input
/// has focus when the agent opens, Enter sends, Escape stops an answer in
/// progress, and Escape again closes the agent, removing it from the page.
async fn keyboard_only(b: Browser, server: Server) -> Result<Browser> {
    {
        use fantoccini::key::Key;
        use paperclip_e2e::fake_provider::{FakeProvider, Fault, Route};
        let fake = FakeProvider::start()?;
        let page = server.url("/");
        b.client.goto(&page).await?;
        add_fake_provider(&b, "Fake", &fake).await?;
        b.client.goto(&page).await?;
        b.activate(&page).await?;
        b.enter_agent().await?;
        let focused = b
            .client
            .execute(
                "return document.activeElement.getAttribute('aria-label');",
                vec![],
            )
            .await?;
        ensure!(focused == "Ask Clippy", "focus on open: {focused}");
        let keys = |text: String| {
            let b = &b;
            async move { b.type_keys(&text).await }
        };
        keys(format!("Hello there{}", char::from(Key::Enter))).await?;
        let (answer, _) = b.wait_answer(0).await?;
        ensure!(answer == "Echo: Hello there", "{answer}");
        fake.script(
            Route::ChatCompletions,
            vec![Fault::SlowTrickle {
                delay_ms: 700,
                piece_bytes: None,
            }],
        );
        keys(format!("Slowly please{}", char::from(Key::Enter))).await?;
        wait_last(&b, "the first piece", |v| {
            v["n"] == 2 && v["text"].as_str().is_some_and(|t| !t.is_empty())
        })
        .await?;
        keys(char::from(Key::Escape).to_string()).await?;
        let stopped = wait_last(&b, "the stop", |v| v["status"] == "interrupted").await?;
        ensure!(stopped["alert"].is_null(), "{stopped}");
        // Focus is still in the input: Escape closes the agent.
        keys(char::from(Key::Escape).to_string()).await?;
        b.top().await?;
        b.wait_until(Duration::from_secs(10), "the agent to close", || async {
            let n = b
                .client
                .execute(
                    "return document.querySelectorAll('paperclip-agent').length;",
                    vec![],
                )
                .await?;
            Ok(n == json!(0))
        })
        .await?;
    }
    Ok(b)
}

/// WCAG AA contrast (see `Browser::contrast`) of everything Paperclip
/// draws: the agent with its balloon, a hint, a question and its answer,
/// the quick actions and the input; the popup, the options page and the
/// devtools panel. In the browser's default (light) scheme.
async fn text_contrast_meets_wcag_aa(b: Browser, server: Server) -> Result<Browser> {
    contrast_everywhere(b, server, false).await
}

/// The same in the dark colour scheme (Firefox can be told to prefer it).
#[tokio::test(flavor = "multi_thread")]
async fn firefox_dark_scheme_text_contrast_meets_wcag_aa() -> Result<()> {
    with_browser_prefs(
        Kind::Firefox,
        json!({"layout.css.prefers-color-scheme.content-override": 0}),
        |b, server| contrast_everywhere(b, server, true),
    )
    .await
}

async fn contrast_everywhere(b: Browser, server: Server, dark: bool) -> Result<Browser> {
    let check = |what: &str, c: paperclip_e2e::Contrast| {
        ensure!(
            c.dark == dark,
            "{what}: dark scheme {} (expected {dark})",
            c.dark
        );
        ensure!(
            c.checked >= 5,
            "{what}: only {} elements with text",
            c.checked
        );
        ensure!(
            c.failures.is_empty(),
            "{what}: below WCAG AA: {:#?}",
            c.failures
        );
        Ok(())
    };
    let page = server.url("/fixtures/news.html");
    ok(
        &b,
        json!({"type": "SetPreference", "key": "agent.hint_sites",
        "value": [server.url("/").trim_end_matches('/')]}),
    )
    .await?;
    ok(
        &b,
        json!({"type": "SetPreference", "key": "agent.proactive_hints", "value": true}),
    )
    .await?;
    b.client.goto(&page).await?;
    b.activate(&page).await?;
    b.enter_agent().await?;
    tokio::time::sleep(Duration::from_millis(700)).await;
    ensure!(b.text_of("section.hint").await?.is_some(), "no hint shown");
    check("the agent with a hint", b.contrast().await?)?;
    b.ask("What did the council decide?").await?;
    b.wait_answer(0).await?;
    check("the agent with an answer", b.contrast().await?)?;
    b.top().await?;
    for path in ["popup.html", "options.html", "panel.html"] {
        check(path, b.contrast_of_page(path).await?)?;
    }
    // Every tab of the panel (it opens on the tab chosen last).
    b.request(json!({"type": "FlushTelemetry"})).await?;
    for tab in ["Asks", "Dashboard", "Errors", "Timeline"] {
        b.in_extension_page(
            "panel.html",
            "const done = arguments[arguments.length - 1];
             localStorage.setItem('paperclip.panel.tab', arguments[0]); done(null);",
            json!(tab),
        )
        .await?;
        let c = b.contrast_of_page("panel.html").await?;
        check(&format!("the panel's {tab} tab"), c)?;
    }
    Ok(b)
}
