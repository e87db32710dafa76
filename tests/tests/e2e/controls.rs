//! The options page's and the devtools panel's controls that no other
//! scenario touches, each clicked or typed into as a user does, and
//! checked for what it says it does. Conversations and a provider are put
//! in place through the protocol first (setup, not the thing tested).

use std::time::Duration;

use anyhow::{ensure, Result};
use fantoccini::Locator;
use paperclip_e2e::scenario::{
    add_fake_provider, agent_with_fake_provider, click_button, imported, ok,
};
use paperclip_e2e::{server::Server, Browser};
use serde_json::{json, Value};

in_both_browsers!(
    the_panels_filters_paging_refresh_and_trace_download,
    the_options_pages_cleanup_prices_removal_and_merge_policy,
    the_agents_explain_selection_and_copy_code,
);

/// An export file of `n` conversations on `site`, titled `<prefix> <i>`,
/// the first `tagged` of them tagged "reading".
fn conversations(site: &str, prefix: &str, n: usize, tagged: usize, updated: u64) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let time = updated + i as u64;
            json!({
                "id": format!("{prefix}-{i}"),
                "site": site,
                "title": format!("{prefix} {i}"),
                "created_ms": time,
                "updated_ms": time,
                "messages": [{"id": "m1", "role": "user", "text": format!("{prefix} question {i}"),
                              "time_ms": time, "status": "complete", "provider": null}],
                "tags": if i < tagged { json!(["reading"]) } else { json!([]) },
            })
        })
        .collect()
}

/// Imports `conversations` (setup) and returns the reply.
async fn import(b: &Browser, conversations: Vec<Value>, policy: &str) -> Result<Value> {
    let file = json!({"format": "paperclip-export", "version": 1, "exported_ms": 1,
        "conversations": conversations});
    imported(b, &file.to_string(), policy).await
}

/// Waits until the panel's table holds exactly `n` rows; returns them.
async fn rows(b: &Browser, n: usize) -> Result<Vec<String>> {
    b.poll(Duration::from_secs(10), &format!("{n} rows"), || async {
        let t = b.texts("tr.conversation .title").await?;
        Ok((t.len() == n).then_some(t))
    })
    .await
}

/// Site and tag filters, "Load more" past the first 50, "Refresh" after
/// something changed, and the Chrome trace download.
async fn the_panels_filters_paging_refresh_and_trace_download(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    // One ask first, so that the trace has spans.
    b.ask_on(&server.url("/"), "What is the Gem clip?").await?;
    let mut all = conversations("https://a.example", "A", 52, 3, 1_700_000_000_000);
    all.extend(conversations(
        "https://b.example",
        "B",
        4,
        0,
        1_700_000_100_000,
    ));
    let imported = import(&b, all, "keep_newest").await?;
    ensure!(imported["added"] == json!(56), "{imported}");

    let back = b.open_tab("panel.html").await?;
    rows(&b, 50).await?;
    click_button(&b, "Load more").await?;
    let every = rows(&b, 57).await?;
    ensure!(
        every.iter().any(|t| t == "What is the Gem clip?"),
        "{every:?}"
    );
    ensure!(
        b.client
            .find(Locator::XPath("//button[.='Load more']"))
            .await
            .is_err(),
        "\"Load more\" after the last page"
    );

    b.control("input", "Site")
        .await?
        .send_keys("https://b.example")
        .await?;
    let mut site_b = rows(&b, 4).await?;
    site_b.sort();
    ensure!(site_b == ["B 0", "B 1", "B 2", "B 3"], "{site_b:?}");

    b.client.refresh().await?;
    b.control("input", "Tag")
        .await?
        .send_keys("Reading")
        .await?;
    let mut tagged = rows(&b, 3).await?;
    tagged.sort();
    ensure!(tagged == ["A 0", "A 1", "A 2"], "{tagged:?}");

    // Something changes elsewhere; "Refresh" shows it.
    b.client.refresh().await?;
    rows(&b, 50).await?;
    // Newer than everything, the ask above included (an import may not be
    // in the future).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as u64;
    let newer = conversations("https://c.example", "C", 1, 0, now);
    import(&b, newer, "keep_newest").await?;
    click_button(&b, "Refresh").await?;
    b.wait_until(Duration::from_secs(10), "the new row", || async {
        Ok(b.texts("tr.conversation .title")
            .await?
            .first()
            .map(String::as_str)
            == Some("C 0"))
    })
    .await?;

    // "Download Chrome trace (Perfetto)": a trace-event file with the ask.
    click_button(&b, "Timeline").await?;
    click_button(&b, "Download Chrome trace (Perfetto)").await?;
    let trace: Value = serde_json::from_str(&b.downloaded("paperclip-trace.json").await?)?;
    let events = trace["traceEvents"]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("no traceEvents: {trace}"))?;
    ensure!(
        events.iter().any(|e| e["name"] == "ask"),
        "no ask in the trace: {trace}"
    );
    b.close_tab(back).await?;
    Ok(b)
}

/// "Clean up now" reports what it removed; "Restore built-in prices"
/// restores them; "Remove" removes a provider; the merge policy decides
/// what an import does to a conversation that exists.
async fn the_options_pages_cleanup_prices_removal_and_merge_policy(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    let fake = paperclip_e2e::fake_provider::FakeProvider::start()?;
    b.client.goto(&server.url("/")).await?;
    add_fake_provider(&b, "Fake", &fake).await?;
    let mine = ok(
        &b,
        json!({"type": "SetPrices", "table": {"entries": [{"pattern": "mine-1", "input_per_mtok": 1, "output_per_mtok": 2}]}}),
    )
    .await?;
    ensure!(
        mine["table"]["entries"].as_array().map(Vec::len) == Some(1),
        "{mine}"
    );
    import(
        &b,
        conversations("https://a.example", "A", 1, 0, 1_700_000_000_000),
        "keep_newest",
    )
    .await?;

    let back = b.open_tab("options.html").await?;
    click_button(&b, "Clean up now").await?;
    let cleaned = b
        .poll(Duration::from_secs(10), "the cleanup's report", || {
            b.text_of(".storage [role=status]")
        })
        .await?;
    ensure!(cleaned.starts_with("Cleanup done: "), "{cleaned}");

    click_button(&b, "Restore built-in prices").await?;
    let restored = b
        .poll(Duration::from_secs(10), "the prices' line", || async {
            Ok(b.text_of("form.prices + [role=status]")
                .await?
                .filter(|t| t.starts_with("Saved") && t.ends_with("prices.")))
        })
        .await?;
    let prices = ok(&b, json!({"type": "GetPrices"})).await?;
    ensure!(prices["defaults"] == json!(true), "{restored}: {prices}");

    let remove = b
        .poll(Duration::from_secs(10), "the provider's row", || async {
            Ok(b.client
                .find(Locator::XPath(
                    "//table[@aria-label='Providers']//button[.='Remove']",
                ))
                .await
                .ok())
        })
        .await?;
    remove.click().await?;
    b.wait_until(Duration::from_secs(10), "the row to go", || async {
        Ok(b.client
            .find(Locator::XPath(
                "//table[@aria-label='Providers']//button[.='Remove']",
            ))
            .await
            .is_err())
    })
    .await?;
    let providers = ok(&b, json!({"type": "ListProviders"})).await?;
    ensure!(providers["providers"] == json!([]), "{providers}");

    // An older copy of "A 0" with another title: "keep the newer one"
    // keeps ours; "replace with the imported one" takes it.
    let mut older = conversations("https://a.example", "A", 1, 0, 1_600_000_000_000);
    older[0]["title"] = json!("A 0, as imported");
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("older.json");
    std::fs::write(
        &file,
        json!({"format": "paperclip-export", "version": 1, "exported_ms": 1, "conversations": older})
            .to_string(),
    )?;
    let import_file = |policy: &'static str| {
        let (b, file) = (&b, file.clone());
        async move {
            b.client
                .wait()
                .at_most(Duration::from_secs(10))
                .for_element(Locator::Css("#merge-policy"))
                .await?
                .select_by_value(policy)
                .await?;
            b.client
                .find(Locator::Css("#import-file"))
                .await?
                .send_keys(&file.display().to_string())
                .await?;
            b.poll(Duration::from_secs(10), "the import's line", || async {
                Ok(b.text_of(".data [role=status]")
                    .await?
                    .filter(|t| t.starts_with("Imported")))
            })
            .await
        }
    };
    let kept = import_file("keep_newest").await?;
    ensure!(
        kept == "Imported: 0 added, 0 replaced, 1 kept as they were.",
        "{kept}"
    );
    b.client.refresh().await?;
    let replaced = import_file("overwrite").await?;
    ensure!(
        replaced == "Imported: 0 added, 1 replaced, 0 kept as they were.",
        "{replaced}"
    );
    b.close_tab(back).await?;
    let stored = ok(&b, json!({"type": "GetConversation", "id": "A-0"})).await?;
    ensure!(
        stored["conversation"]["title"] == json!("A 0, as imported"),
        "{stored}"
    );
    Ok(b)
}

/// The agent's "Explain selection" quick action explains what is selected;
/// a code block's "Copy code" reports "Copied" (the clipboard itself cannot
/// be read back without a permission the extension does not ask for).
async fn the_agents_explain_selection_and_copy_code(b: Browser, server: Server) -> Result<Browser> {
    let page = server.url("/");
    b.client.goto(&page).await?;
    let selected = b.select_paragraph("springy").await?;
    b.activate(&page).await?;
    b.enter_agent().await?;
    click_button(&b, "Explain selection").await?;
    let (answer, _) = b.wait_answer(0).await?;
    let start: String = selected.chars().take(30).collect();
    ensure!(
        answer.starts_with("You selected “") && answer.contains(&start),
        "{answer}"
    );

    // A code block, from a provider that echoes the question.
    b.top().await?;
    let fake = agent_with_fake_provider(&b, &page).await?;
    let input = b.control("textarea", "Ask Clippy").await?;
    let send = b.control("button", "Send").await?;
    b.client
        .execute(
            "arguments[0].value = 'Show code:\\n```rust\\nlet clip = 1;\\n```'; arguments[1].click();",
            vec![serde_json::to_value(&input)?, serde_json::to_value(&send)?],
        )
        .await?;
    b.wait_answer(1).await?;
    ensure!(!fake.requests().is_empty(), "the provider was not asked");
    let copy = b.control("button", "Copy code").await?;
    copy.click().await?;
    let label = b
        .poll(Duration::from_secs(5), "the copy's outcome", || async {
            let t = copy.text().await?;
            Ok((t != "Copy").then_some(t))
        })
        .await?;
    ensure!(label == "Copied", "the button says {label:?}");
    Ok(b)
}
