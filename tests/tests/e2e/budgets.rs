//! Resource budgets, set on the options page: with a budget of one
//! question a minute, the second question is refused in the agent with the
//! reason and what to do, and nothing is sent; raised again, the next
//! question is answered. The popup shows no budget warning while every
//! budget holds.

use std::time::Duration;

use anyhow::{ensure, Result};
use paperclip_e2e::scenario::{set_option, Pref};
use paperclip_e2e::{server::Server, Browser};

in_both_browsers!(a_budget_set_in_options_refuses_the_question_over_it);

/// Completed answers in the agent's log.
async fn answers(b: &Browser) -> Result<usize> {
    let v = b
        .client
        .execute(
            "return document.querySelectorAll('[role=log] .message.assistant[data-status=complete]').length;",
            vec![],
        )
        .await?;
    Ok(v.as_u64().unwrap_or(0) as usize)
}

async fn a_budget_set_in_options_refuses_the_question_over_it(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    let page = server.url("/");
    b.client.goto(&page).await?;
    set_option(&b, "performance.budget_asks_per_minute", Pref::Type("1")).await?;
    let first = b.ask_on(&page, "What is this page about?").await?;
    ensure!(!first.is_empty());
    b.enter_agent().await?;
    b.ask("And a second question?").await?;
    let refusal = b
        .poll(Duration::from_secs(10), "the refusal", || async {
            b.text_of("p.error[role=alert]").await
        })
        .await?;
    ensure!(
        refusal.contains("you asked 1 question in the last minute")
            && refusal.contains("Options → Performance"),
        "{refusal}"
    );
    ensure!(answers(&b).await? == 1, "no second answer");
    // Within the memory and storage budgets: no warning in the popup.
    b.top().await?;
    let tab = b.client.window().await?;
    b.open_popup().await?;
    b.poll(Duration::from_secs(10), "the popup's status", || async {
        b.text_of(".provider-status").await
    })
    .await?;
    let warned = b.text_of(".budget-warning").await?;
    b.client.close_window().await?;
    b.client.switch_to_window(tab).await?;
    ensure!(warned.is_none(), "{warned:?}");
    set_option(&b, "performance.budget_asks_per_minute", Pref::Type("60")).await?;
    b.enter_agent().await?;
    b.ask("And now?").await?;
    b.poll(Duration::from_secs(15), "the next answer", || async {
        Ok((answers(&b).await? == 2).then_some(()))
    })
    .await?;
    Ok(b)
}
