//! Answers from providers: streamed from a configured (fake) provider, the
//! labelled offline answer when it fails, the fallback provider when the
//! primary fails, Chrome's built-in AI, feature-detected, and the tokens
//! and cost of answers shown where the user looks.

use std::time::Duration;

use anyhow::{ensure, Result};
use paperclip_e2e::scenario::{
    add_fake_provider, chat_requests, click_button, latest_conversation, ok,
};
use paperclip_e2e::{server::Server, Browser};
use serde_json::json;

in_both_browsers!(
    answers_stream_from_the_provider_and_fall_back_offline,
    the_fallback_provider_answers_when_the_primary_fails,
    chrome_built_in_ai_is_feature_detected,
    tokens_and_cost_are_shown_under_answers_in_lists_and_totals,
);

/// With a provider configured, the answer streams from it (the fake server
/// echoes the question and saw the page in the system prompt); when it
/// fails before any text, the offline answer comes instead, labelled.
async fn answers_stream_from_the_provider_and_fall_back_offline(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    let fake = paperclip_e2e::fake_provider::FakeProvider::start()?;
    add_fake_provider(&b, "Fake", &fake).await?;
    let answer = b.ask_on(&server.url("/"), "What is the Gem clip?").await?;
    ensure!(answer == "Echo: What is the Gem clip?", "{answer}");
    let sent = chat_requests(&fake)
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("no chat request"))?;
    ensure!(
        sent.body.contains("Gem clip") && sent.body.contains("Page title"),
        "{}",
        sent.body
    );

    use paperclip_e2e::fake_provider::{Fault, Route};
    // A 503 is retried (with backoff) and the answer still comes from the provider.
    fake.script(Route::ChatCompletions, vec![Fault::Status(503)]);
    b.enter_agent().await?;
    b.ask("Is it retried?").await?;
    let (retried, _) = b.wait_answer(1).await?;
    ensure!(retried == "Echo: Is it retried?", "{retried}");
    // A 401 is not retried: the labelled offline answer comes instead.
    fake.script(Route::ChatCompletions, vec![Fault::Status(401)]);
    b.ask("Who patented the paper clip?").await?;
    let (fallback, _) = b.wait_answer(2).await?;
    ensure!(
        fallback.starts_with("Fake: ") && fallback.contains("Answering from the page instead"),
        "{fallback}"
    );
    // A server that stays down opens the breaker: then the provider is not
    // even asked, and the offline answer says why.
    fake.set_down(true);
    for n in 3..5 {
        b.ask("Still there?").await?;
        b.wait_answer(n).await?;
    }
    let before = fake.requests().len();
    b.ask("And now?").await?;
    let (paused, _) = b.wait_answer(5).await?;
    ensure!(
        paused.contains("is paused after repeated failures"),
        "{paused}"
    );
    ensure!(
        fake.requests().len() == before,
        "the open breaker still let a request through"
    );
    b.top().await?;
    let c = latest_conversation(&b).await?;
    // Each answer's source: the provider, and where in the chain it
    // answered.
    let sources: Vec<(&str, &str)> = c["conversation"]["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| Some((m["provider"].as_str()?, m["level"].as_str()?)))
        .collect();
    ensure!(sources.first() == Some(&("Fake", "normal")), "{c}");
    ensure!(sources.contains(&("offline", "offline")), "{c}");
    ensure!(
        c["conversation"]["usage"]["tokens_out"].as_u64() > Some(0),
        "usage recorded: {c}"
    );
    Ok(b)
}

/// The fallback chain's second step: when the primary provider fails (a
/// 401: not retried), the configured fallback provider answers, labelled.
async fn the_fallback_provider_answers_when_the_primary_fails(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    use paperclip_e2e::fake_provider::{FakeProvider, Fault, Route};
    let (primary, fallback) = (FakeProvider::start()?, FakeProvider::start()?);
    for (id, fake) in [("primary", &primary), ("backup", &fallback)] {
        add_fake_provider(&b, id, fake).await?;
    }
    primary.script(Route::ChatCompletions, vec![Fault::Status(401)]);
    let answer = b.ask_on(&server.url("/"), "Which one answers?").await?;
    ensure!(answer == "Echo: Which one answers?", "{answer}");
    ensure!(
        primary.requests().len() == 1 && fallback.requests().len() == 1,
        "each asked once"
    );
    let c = latest_conversation(&b).await?;
    ensure!(
        c["conversation"]["messages"][1]["provider"] == json!("backup")
            && c["conversation"]["messages"][1]["level"] == json!("fallback"),
        "{c}"
    );
    Ok(b)
}

/// Chrome's built-in AI is a provider like the others: where the browser
/// lacks the Prompt API (Firefox; Chromium without the model) the
/// connection test says so and asks fall back to the offline answer,
/// labelled; where it has it, it answers.
async fn chrome_built_in_ai_is_feature_detected(b: Browser, server: Server) -> Result<Browser> {
    b.client.goto(&server.url("/")).await?;
    // Added on the options page: Kind "Chrome built-in AI", a name, Save;
    // then "Test connection" in its row.
    let back = b.open_tab("options.html").await?;
    let find = |css: &'static str| b.client.wait().for_element(fantoccini::Locator::Css(css));
    find("#provider-kind")
        .await?
        .select_by_value("chrome_built_in")
        .await?;
    find("#provider-label").await?.send_keys("Nano").await?;
    ensure!(
        b.client
            .find(fantoccini::Locator::Css("#provider-url"))
            .await
            .is_err(),
        "the built-in provider asks for an address"
    );
    find(".add-provider button[type=submit]")
        .await?
        .click()
        .await?;
    let saved = b
        .poll(Duration::from_secs(10), "saved", || async {
            Ok(b.text_of(".providers [role=status]")
                .await?
                .filter(|t| t.starts_with("Saved")))
        })
        .await?;
    ensure!(saved == "Saved Nano.", "{saved}");
    b.control("button", "Test connection")
        .await?
        .click()
        .await?;
    let (tested, report) = b
        .poll(Duration::from_secs(15), "the connection report", || async {
            if let Some(why) = b.text_of(".providers [role=alert]").await? {
                return Ok(Some((false, why)));
            }
            Ok(b.text_of(".providers [role=status]")
                .await?
                .filter(|t| !t.starts_with("Saved"))
                .map(|t| (true, t)))
        })
        .await?;
    b.close_tab(back).await?;
    let answer = b.ask_on(&server.url("/"), "What is the Gem clip?").await?;
    if tested {
        ensure!(report.starts_with("Connected in "), "{report}");
        ensure!(
            !answer.contains("Answering from the page instead"),
            "{answer}"
        );
    } else {
        ensure!(report.contains("Chrome's built-in"), "{report}");
        ensure!(
            answer.starts_with("Nano: ") && answer.contains("Answering from the page instead"),
            "{answer}"
        );
    }
    Ok(b)
}

/// `n` with thousands separators (the test's own, to check the page's).
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A cost under a dollar in micro-USD as four decimals, trailing zeros
/// trimmed to two (the test's own, to check the page's).
fn under_a_dollar(micro: u64) -> String {
    assert!((50..999_950).contains(&micro), "{micro}");
    let mut decimals = format!("{:04}", (micro + 50) / 100);
    while decimals.len() > 2 && decimals.ends_with('0') {
        decimals.pop();
    }
    format!("$0.{decimals}")
}

/// After an answer from a provider that reports usage, the agent shows its
/// tokens in and out and its cost under the answer (priced by the table:
/// $10 and $30 per million tokens here; the fake is reached under a name
/// that is not this machine's, as a remote provider is), the agent's
/// conversation list and the devtools panel's table show the
/// conversation's totals, and the popup and the options page show today's
/// total for that provider, by its name.
async fn tokens_and_cost_are_shown_under_answers_in_lists_and_totals(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    let fake = paperclip_e2e::fake_provider::FakeProvider::start()?;
    let page = server.url("/");
    b.client.goto(&page).await?;
    // Saved on the options page: in Firefox a remote provider needs the
    // data collection consent the form asks for.
    paperclip_e2e::scenario::save_provider_in_options(&b, "Fake", &fake.remote_base_url()).await?;
    // Setup: a price for the fake's model.
    let prices = json!({"entries": [
        {"pattern": "fake-model-*", "input_per_mtok": 10_000_000u64, "output_per_mtok": 30_000_000u64}
    ]});
    ok(&b, json!({"type": "SetPrices", "table": prices})).await?;
    let answer = b.ask_on(&page, "What is the Gem clip?").await?;
    ensure!(answer == "Echo: What is the Gem clip?", "{answer}");
    // What the fake provider reported: words in the request, words out.
    let sent = chat_requests(&fake)
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("no chat request"))?;
    let body: serde_json::Value = serde_json::from_str(&sent.body)?;
    let tokens_in: u64 = body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            m["content"]
                .as_str()
                .unwrap_or_default()
                .split_whitespace()
                .count() as u64
        })
        .sum();
    let tokens_out = answer.split_whitespace().count() as u64;
    let cost = under_a_dollar(tokens_in * 10 + tokens_out * 30);
    let line = format!("{} in · {tokens_out} out · {cost}", thousands(tokens_in));
    let short = format!("{cost} · {} tokens", thousands(tokens_in + tokens_out));

    // Under the answer, in the agent.
    b.enter_agent().await?;
    let shown = b
        .poll(Duration::from_secs(10), "the answer's usage", || async {
            b.text_of("[role=log] .message.assistant .usage").await
        })
        .await?;
    ensure!(shown == line, "shown {shown:?}, expected {line:?}");

    // The conversation's totals in the agent's list.
    click_button(&b, "Conversations on this site").await?;
    let listed = b
        .poll(Duration::from_secs(10), "the list's totals", || async {
            b.text_of(".site-conversations li .usage").await
        })
        .await?;
    ensure!(
        listed == format!(" · {line}"),
        "{listed:?}, expected {line:?}"
    );
    let contrast = b.contrast().await?;
    ensure!(
        contrast.failures.is_empty(),
        "the agent: {:#?}",
        contrast.failures
    );
    b.top().await?;

    // The popup: today and this month for "Fake".
    let back = b.open_tab("popup.html").await?;
    let popup = b
        .poll(Duration::from_secs(10), "the popup's usage", || async {
            b.text_of(".usage .provider-usage").await
        })
        .await;
    b.close_tab(back).await?;
    let popup = popup?;
    ensure!(
        popup == format!("Fake Today: {short} · This month: {short}"),
        "{popup:?}, expected {short:?}"
    );

    // The devtools panel's conversation table: the conversation's totals.
    let back = b.open_tab("panel.html").await?;
    let in_panel = b
        .poll(Duration::from_secs(10), "the panel's totals", || async {
            b.text_of("tr.conversation .usage").await
        })
        .await;
    b.close_tab(back).await?;
    let in_panel = in_panel?;
    ensure!(in_panel == line, "{in_panel:?}, expected {line:?}");

    // The options page's table: the row named "Fake".
    let back = b.open_tab("options.html").await?;
    let row = b
        .poll(
            Duration::from_secs(10),
            "the options page's usage",
            || async {
                let cells = b.texts("table.usage tbody tr > *").await?;
                Ok((!cells.is_empty()).then_some(cells))
            },
        )
        .await;
    b.close_tab(back).await?;
    let row = row?;
    ensure!(
        row == [String::from("Fake"), line.clone(), line.clone()],
        "{row:?}, expected {line:?}"
    );

    // The usage text is readable (WCAG AA) where it is shown.
    for path in ["popup.html", "options.html"] {
        let contrast = b.contrast_of_page(path).await?;
        ensure!(
            contrast.failures.is_empty(),
            "{path}: {:#?}",
            contrast.failures
        );
    }

    // What is stored agrees: the answer's usage and the conversation's.
    let c = latest_conversation(&b).await?;
    let stored = &c["conversation"]["messages"][1]["usage"];
    ensure!(
        stored["tokens_in"] == json!(tokens_in) && stored["tokens_out"] == json!(tokens_out),
        "{c}"
    );
    ensure!(c["conversation"]["usage"] == *stored, "{c}");
    Ok(b)
}
