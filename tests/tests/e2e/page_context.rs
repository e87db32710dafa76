//! What of the page is read and sent: context the user turned off is not
//! sent, saved pages are read by the core (and read again only after a
//! change), and hints appear only where allowed, are never sent, and back
//! off.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use paperclip_e2e::scenario::{
    add_fake_provider, agent_with_fake_provider, chat_requests, click_button, set_option, Pref,
};
use paperclip_e2e::{server::Server, Browser};
use serde_json::json;

in_both_browsers!(
    page_context_the_user_turned_off_is_not_sent,
    saved_pages_are_read_by_the_core_and_reread_only_after_a_change,
    hints_only_where_allowed_never_sent_and_backing_off,
    drafts_tokens_and_hostile_pages_stay_out_of_the_context,
);

/// What the user types in an editor on the page (a contenteditable draft,
/// a `role=textbox` chat box) is never read, and the address's query and
/// fragment (where reset tokens and OAuth codes live) stay out of the
/// context; a page 10,000 elements deep and one with 60 MB of text are read
/// within bounds and answered, and the background stays healthy.
async fn drafts_tokens_and_hostile_pages_stay_out_of_the_context(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    let page = server.url("/pages/editor.html?token=s3cr3t-reset#code=abc");
    // A provider, so that Preview shows the context that would leave.
    let fake = agent_with_fake_provider(&b, &page).await?;
    let shown = preview_context(&b, "What is planned?").await?;
    ensure!(shown.contains("paper clip sorter"), "{shown}");
    ensure!(shown.contains("/pages/editor.html"), "{shown}");
    for secret in [
        "DRAFT-SECRET-4711",
        "TEXTBOX-SECRET-0815",
        "s3cr3t-reset",
        "code=abc",
    ] {
        ensure!(
            !shown.contains(secret),
            "{secret} is in the context: {shown}"
        );
    }
    b.top().await?;
    // Firefox's WebDriver (Marionette) loses the 60 MB page's tab now and
    // then ("Browsing context has been discarded", "Failed to decode
    // response from marionette"; also before this change, about 1 run in
    // 3): the huge page is checked in Chromium only until that is
    // understood.
    let pages: &[(&str, &str)] = match b.kind {
        paperclip_e2e::Kind::Firefox => &[("/pages/deep.html", "What is at the top?")],
        paperclip_e2e::Kind::Chromium => &[
            ("/pages/deep.html", "What is at the top?"),
            ("/pages/huge.html", "What holds paper together?"),
        ],
    };
    for &(path, question) in pages {
        let before = chat_requests(&fake).len();
        b.ask_on(&server.url(path), question)
            .await
            .with_context(|| format!("asking on {path}"))?;
        // The site's conversation goes on: wait for this question's answer.
        let sent = b
            .poll(
                Duration::from_secs(60),
                "the question's request",
                || async {
                    let requests = chat_requests(&fake);
                    Ok((requests.len() > before).then(|| requests[before].body.clone()))
                },
            )
            .await
            .with_context(|| format!("asking on {path}"))?;
        b.enter_agent_now().await?;
        let echo = format!("Echo: {question}");
        b.wait_until(Duration::from_secs(30), "the answer", || async {
            Ok(b.messages().await?.iter().any(|(_, text)| *text == echo))
        })
        .await
        .with_context(|| format!("asking on {path}"))?;
        b.top().await?;
        // The 60 MB page was read up to the bound, and the provider is
        // told that only its beginning came.
        let told = sent.contains("only its beginning was read");
        ensure!(
            told == path.contains("huge"),
            "{path}: cut note sent: {told} ({})",
            sent.chars().take(1500).collect::<String>()
        );
    }
    let pong = b.request(json!({"type": "Ping"})).await?;
    ensure!(!pong["body"]["ok"].is_null(), "{pong}");
    Ok(b)
}

/// The privacy options decide what of the page reaches a provider: with
/// the page's text and its title/URL turned off, the request carries the
/// headings only.
async fn page_context_the_user_turned_off_is_not_sent(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    let fake = paperclip_e2e::fake_provider::FakeProvider::start()?;
    b.client.goto(&server.url("/")).await?;
    add_fake_provider(&b, "Fake", &fake).await?;
    // Unticked on the options page, as a user does.
    for key in ["privacy.context.main_text", "privacy.context.page_info"] {
        set_option(&b, key, Pref::Tick(false)).await?;
    }
    let answer = b.ask_on(&server.url("/"), "What is this about?").await?;
    ensure!(answer == "Echo: What is this about?", "{answer}");
    let sent = chat_requests(&fake)
        .into_iter()
        .next()
        .map(|r| r.body)
        .unwrap_or_default();
    ensure!(sent.contains("The Gem design"), "headings are sent: {sent}");
    // (The title is also the page's first heading, so only its label is
    // looked for.)
    for private in ["Gem Manufacturing Company", "Page title:", &server.url("/")] {
        ensure!(!sent.contains(private), "{private:?} was sent: {sent}");
    }
    Ok(b)
}

/// Types `question` and opens the preview; returns the page context shown
/// and closes the preview (inside the agent frame).
async fn preview_context(b: &Browser, question: &str) -> Result<String> {
    let input = b.control("textarea", "Ask Clippy").await?;
    b.client
        .execute(
            "arguments[0].value = arguments[1];",
            vec![serde_json::to_value(&input)?, json!(question)],
        )
        .await?;
    click_button(b, "Preview what will be sent").await?;
    let area = b.control("textarea", "Page context").await?;
    let shown = b
        .client
        .execute(
            "return arguments[0].value;",
            vec![serde_json::to_value(&area)?],
        )
        .await?;
    click_button(b, "Cancel").await?;
    Ok(shown.as_str().unwrap_or_default().to_string())
}

/// How each page read was served (`extracted`, `cached`, `unchanged`), in
/// order: the `context.read` events, asked of the telemetry engine the way
/// the devtools panel asks.
async fn page_reads(b: &Browser) -> Result<Vec<String>> {
    let reply = b
        .request(json!({"type": "QueryTelemetry", "query": {"events": {
            "from_ms": 0.0, "to_ms": 1e15, "name": "context.read", "limit": 100}}}))
        .await?;
    let events = reply["body"]["ok"]["answer"]["events"]
        .as_array()
        .with_context(|| format!("no events in {reply}"))?;
    let mut reads: Vec<(f64, String)> = events
        .iter()
        .map(|e| {
            let source = e["properties"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p[0] == "source")
                .and_then(|p| p[1]["str"].as_str())
                .unwrap_or("?");
            (e["time_ms"].as_f64().unwrap_or(0.0), source.to_string())
        })
        .collect();
    reads.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(reads.into_iter().map(|(_, s)| s).collect())
}

/// A saved news page: what the preview shows is the core's reading of it
/// (article text, outline, form labels, what is on screen; no banner, no
/// form value). Asked again unchanged, the page sends no DOM; changed, it
/// is read again; reloaded unchanged, the context cache answers.
async fn saved_pages_are_read_by_the_core_and_reread_only_after_a_change(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    let page = server.url("/fixtures/news.html");
    let _fake = agent_with_fake_provider(&b, &page).await?;
    b.top().await?;
    b.client
        .execute(
            "document.querySelector('article h2').scrollIntoView({block: 'center'});",
            vec![],
        )
        .await?;
    b.enter_agent_now().await?;
    let first = preview_context(&b, "What was decided?").await?;
    for part in [
        "Page description: The city council voted 7-2",
        "After nearly two years of hearings, the Port Elridge city council voted",
        "- Concerns from anglers and ecologists",
        "Form fields on the page:\n- Email address (email)",
    ] {
        ensure!(first.contains(part), "{part:?} missing from:\n{first}");
    }
    let on_screen = first
        .split("On screen (scrolled ")
        .nth(1)
        .and_then(|s| s.split("Form fields").next())
        .unwrap_or_default();
    ensure!(
        on_screen.contains("How the array would work") && !on_screen.contains("cookies"),
        "on screen: {on_screen:?}"
    );
    for absent in [
        "reader@example.com",
        "We use cookies and similar technologies",
        "Subscribe for $1 a week",
        "Real Estate Listings",
    ] {
        ensure!(!first.contains(absent), "{absent:?} sent:\n{first}");
    }
    let second = preview_context(&b, "What was decided?").await?;
    ensure!(second == first, "an unchanged page reads the same");
    b.top().await?;
    b.client
        .execute(
            "document.querySelector('article').insertAdjacentHTML('beforeend',
               '<p>Correction appended after publication: the vote was seven to two.</p>');",
            vec![],
        )
        .await?;
    b.enter_agent_now().await?;
    let third = preview_context(&b, "What was decided?").await?;
    ensure!(
        third.contains("Correction appended after publication"),
        "{third}"
    );
    b.client.goto(&page).await?;
    b.activate(&page).await?;
    b.enter_agent().await?;
    preview_context(&b, "What was decided?").await?;
    let reads = page_reads(&b).await?;
    // Each agent start may read the page once more; the order of the
    // four previews' reads is what matters.
    let tail: Vec<&str> = reads.iter().map(String::as_str).rev().take(4).collect();
    ensure!(
        tail[0] == "cached"
            && tail[1] == "extracted"
            && tail[2] == "unchanged"
            && matches!(tail[3], "extracted" | "cached" | "unchanged"),
        "reads: {reads:?}"
    );
    ensure!(
        !reads[..reads.len() - 1].iter().any(|r| r == "cached"),
        "nothing was cached before the reload: {reads:?}"
    );
    Ok(b)
}

/// Hints are off by default and only on allowed sites; offering one sends
/// nothing; an ignored hint skips the next visit; a taken one asks.
async fn hints_only_where_allowed_never_sent_and_backing_off(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    let page = server.url("/fixtures/news.html");
    let fake = agent_with_fake_provider(&b, &page).await?;
    let reopen = || async {
        b.client.goto(&page).await?;
        b.activate(&page).await?;
        b.enter_agent().await?;
        // The hint, if any, follows the history at once.
        tokio::time::sleep(Duration::from_millis(700)).await;
        b.text_of("section.hint p").await
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    ensure!(
        b.text_of("section.hint").await?.is_none(),
        "hints are off by default"
    );
    // Both set on the options page, as a user does.
    b.top().await?;
    set_option(
        &b,
        "agent.hint_sites",
        Pref::Type(server.url("/").trim_end_matches('/')),
    )
    .await?;
    ensure!(reopen().await?.is_none(), "allowed, but not turned on");
    b.top().await?;
    set_option(&b, "agent.proactive_hints", Pref::Tick(true)).await?;
    let hint = reopen().await?.unwrap_or_default();
    ensure!(hint.starts_with("This page is long"), "{hint:?}");
    ensure!(
        chat_requests(&fake).is_empty(),
        "offering a hint sent something"
    );
    click_button(&b, "Not now").await?;
    ensure!(b.text_of("section.hint").await?.is_none());
    ensure!(
        reopen().await?.is_none(),
        "the visit after an ignored hint is skipped"
    );
    ensure!(reopen().await?.is_some(), "then hints come back");
    click_button(&b, "Yes: Summarize this page").await?;
    let (answer, _) = b.wait_answer(0).await?;
    ensure!(answer == "Echo: Summarize this page", "{answer}");
    ensure!(chat_requests(&fake).len() == 1);
    ensure!(reopen().await?.is_some(), "a taken hint resets the backoff");
    Ok(b)
}
