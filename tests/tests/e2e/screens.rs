//! Every surface at the widths people use (the popup at 360 and 480 px,
//! the options page and the devtools panel at 800 and 1600 px, the agent on
//! a page at 800 and 1600 px): nothing wider than the window, no word
//! broken mid-word, and a screenshot of each saved for a person to look at
//! (`target/e2e-artifacts/screens/<browser>-<surface>-<width>.png`).
//! The personality reaches the provider's system prompt and the offline
//! answer's wording.

use std::time::Duration;

use anyhow::{ensure, Result};
use paperclip_e2e::scenario::{
    add_fake_provider, chat_requests, ok, set_option, Pref, BROKEN_WORDS,
};
use paperclip_e2e::{root, server::Server, Browser};
use serde_json::json;

in_both_browsers!(
    every_surface_reads_well_at_two_widths,
    the_personality_reaches_the_provider_and_the_offline_answer,
);

/// Checks the current frame at `width` and saves its screenshot.
async fn check_and_keep(b: &Browser, surface: &str, width: u32, in_agent: bool) -> Result<()> {
    b.set_viewport_width(width).await?;
    tokio::time::sleep(Duration::from_millis(400)).await;
    if in_agent {
        b.enter_agent_now().await?;
    }
    let broken = b.client.execute(BROKEN_WORDS, vec![]).await?;
    ensure!(
        broken == json!([]),
        "{surface} at {width} px: words broken mid-word: {broken}"
    );
    let overflow = b
        .client
        .execute(
            "const w = document.documentElement.clientWidth;
             const wide = [...document.querySelectorAll('body *')]
                 .filter(e => e.getBoundingClientRect().right > w + 1)
                 .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right));
             return {over: document.documentElement.scrollWidth - w, wide};",
            vec![],
        )
        .await?;
    ensure!(
        overflow["over"].as_f64().unwrap_or_default() <= 1.0,
        "{surface} at {width} px is wider than its window: {overflow}"
    );
    let png = root().join(format!(
        "target/e2e-artifacts/screens/{}-{surface}-{width}.png",
        b.kind.name()
    ));
    b.screenshot(&png).await
}

/// With a provider, an answer and a conversation stored, each surface is
/// checked and photographed at two widths.
async fn every_surface_reads_well_at_two_widths(b: Browser, server: Server) -> Result<Browser> {
    let fake = paperclip_e2e::fake_provider::FakeProvider::start()?;
    ok(
        &b,
        json!({"type": "SaveProvider", "settings": {"id": "fake-long", "kind": "openai_compatible",
            "label": "Fake provider with a long name", "base_url": fake.base_url(),
            "model": "fake-model-1", "max_tokens": 256}, "key": {"action": "keep"}}),
    )
    .await?;
    let page = server.url("/");
    b.ask_on(&page, "What is the Gem clip, and who made it?")
        .await?;
    for width in [800, 1600] {
        check_and_keep(&b, "agent", width, true).await?;
    }
    for (surface, path, widths, ready) in [
        ("popup", "popup.html", [360, 480], ".provider-status"),
        ("options", "options.html", [800, 1600], "table.providers"),
        ("panel", "panel.html", [800, 1600], "table.conversations"),
    ] {
        let back = b.open_tab(path).await?;
        b.poll(Duration::from_secs(10), ready, || async {
            b.text_of(ready).await
        })
        .await?;
        for width in widths {
            check_and_keep(&b, surface, width, false).await?;
        }
        b.close_tab(back).await?;
    }
    Ok(b)
}

/// The chosen personality: the teacher's system prompt reaches the
/// provider; without a provider, the offline answer ends with the
/// teacher's question.
async fn the_personality_reaches_the_provider_and_the_offline_answer(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    set_option(&b, "agent.personality", Pref::Choose("teacher")).await?;
    let page = server.url("/");
    let offline = b.ask_on(&page, "Summarize this page").await?;
    ensure!(
        offline.ends_with("which of these points answers your question best, and why?"),
        "{offline}"
    );
    let fake = paperclip_e2e::fake_provider::FakeProvider::start()?;
    add_fake_provider(&b, "Fake", &fake).await?;
    b.enter_agent().await?;
    b.ask("What is a paper clip?").await?;
    b.wait_answer(1).await?;
    let sent = chat_requests(&fake)
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("no chat request"))?;
    ensure!(
        sent.body.contains("You are a patient teacher"),
        "the system prompt: {}",
        sent.body
    );
    Ok(b)
}
