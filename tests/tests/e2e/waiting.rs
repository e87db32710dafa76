//! Questions that wait for the network: the test cuts the fake provider,
//! the user gets the offline answer at once with the question listed as
//! waiting; with the provider back, "Try now" adds its answer once; a
//! cancelled question is never sent; a question that waited while the
//! worker stopped is answered by the next worker, once; and deleting the
//! site's data drops what waits (hand-written per
//! browser: Firefox's event page is let idle out).

use std::time::Duration;

use anyhow::{ensure, Result};
use paperclip_e2e::fake_provider::{FakeProvider, RecordedRequest};
use paperclip_e2e::scenario::{
    add_fake_provider, click_button, last_answer, latest_conversation, ok, wait_last,
};
use paperclip_e2e::{server::Server, Browser, Kind};
use serde_json::json;

use crate::{with_browser, with_browser_prefs};

#[tokio::test(flavor = "multi_thread")]
async fn chromium_questions_wait_for_the_network() -> Result<()> {
    with_browser(Kind::Chromium, questions_wait_for_the_network).await
}

#[tokio::test(flavor = "multi_thread")]
async fn firefox_questions_wait_for_the_network() -> Result<()> {
    // The idle event page is suspended after 2 s instead of 30 s.
    let prefs = json!({"extensions.background.idle.timeout": 2000});
    with_browser_prefs(Kind::Firefox, prefs, questions_wait_for_the_network).await
}

/// The chat requests the fake provider received that ask `question`
/// (their last message; earlier ones are the conversation's history).
fn asked(fake: &FakeProvider, question: &str) -> usize {
    fake.requests()
        .iter()
        .filter(|r: &&RecordedRequest| r.method == "POST")
        .filter_map(|r| r.json())
        .filter(|body| {
            body["messages"]
                .as_array()
                .and_then(|m| m.last())
                .is_some_and(|last| last["content"] == question)
        })
        .count()
}

/// How many of the conversation's stored messages contain `text`.
async fn stored_with(b: &Browser, text: &str) -> Result<usize> {
    let conversation = latest_conversation(b).await?;
    Ok(conversation["conversation"]["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["text"].as_str().is_some_and(|t| t.contains(text)))
        .count())
}

/// Stops the background (Chromium: the service worker; Firefox: lets the
/// event page idle out), brings the network back, and wakes a new one.
async fn restart(b: &Browser, page: &str, fake: &FakeProvider) -> Result<()> {
    let (started, _) = b.background_instance().await?;
    b.client.goto(page).await?;
    match b.kind {
        Kind::Chromium => b.stop_service_workers().await?,
        Kind::Firefox => tokio::time::sleep(Duration::from_secs(6)).await,
    }
    fake.set_down(false);
    fake.clear();
    let (restarted, _) = b.background_instance().await?;
    ensure!(
        restarted > started,
        "the background did not restart ({started}, then {restarted}), so this tested nothing"
    );
    Ok(())
}

async fn questions_wait_for_the_network(b: Browser, server: Server) -> Result<Browser> {
    let fake = FakeProvider::start()?;
    let page = server.url("/");
    b.client.goto(&page).await?;
    add_fake_provider(&b, "Fake", &fake).await?;
    // One attempt per ask and a breaker that stays closed: each question
    // meets the cut network once.
    let mut settings = ok(&b, json!({"type": "GetResilience"})).await?["settings"].clone();
    settings["retry"]["max_attempts"] = json!(1);
    settings["breaker"]["mode"] = json!({"consecutive": {"threshold": 50}});
    ok(&b, json!({"type": "SetResilience", "settings": settings})).await?;

    // The network is cut: the offline answer comes at once, and says the
    // question waits.
    fake.set_down(true);
    b.client.goto(&page).await?;
    b.activate(&page).await?;
    b.enter_agent().await?;
    b.ask("When does the shop open?").await?;
    let (offline, _) = b.wait_answer(0).await?;
    ensure!(
        offline.contains("Answering from the page instead")
            && offline.contains("waits for the network"),
        "{offline}"
    );
    let shown = last_answer(&b).await?;
    ensure!(
        shown["label"]
            .as_str()
            .is_some_and(|l| l.starts_with("Offline answer")),
        "{shown}"
    );
    let waiting = b
        .poll(Duration::from_secs(10), "the waiting question", || async {
            b.text_of(".queued").await
        })
        .await?;
    ensure!(
        waiting.contains("1 question waits for the network")
            && waiting.contains("When does the shop open?")
            && waiting.contains("Fake"),
        "{waiting}"
    );

    // "Try now" while the network is still cut says so.
    let try_now = b.control("button", "Try now").await?;
    b.click(&try_now).await?;
    let still = b
        .poll(
            Duration::from_secs(15),
            "the still-waiting notice",
            || async { b.text_of("[role=alert]").await },
        )
        .await?;
    ensure!(still.starts_with("Fake still cannot be reached"), "{still}");

    // The network is back; the user presses "Try now": the provider's
    // answer is added, once, and the question no longer waits.
    fake.set_down(false);
    fake.clear();
    let try_now = b.control("button", "Try now").await?;
    b.click(&try_now).await?;
    let late = wait_last(&b, "the answer that waited", |v| {
        v["text"]
            .as_str()
            .is_some_and(|t| t.contains("Echo: When does the shop open?"))
    })
    .await?;
    ensure!(
        late["label"] == "Answered by Fake"
            && late["text"]
                .as_str()
                .is_some_and(|t| t.contains("which waited for the network")),
        "{late}"
    );
    b.wait_until(
        Duration::from_secs(10),
        "the waiting list to empty",
        || async { Ok(b.text_of(".queued").await?.is_none()) },
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    ensure!(
        asked(&fake, "When does the shop open?") == 1,
        "asked {} times",
        asked(&fake, "When does the shop open?")
    );
    b.top().await?;
    ensure!(stored_with(&b, "Echo: When does the shop open?").await? == 1);
    b.enter_agent().await?;

    // A cancelled question is never sent.
    fake.set_down(true);
    b.ask("Is parking free?").await?;
    b.wait_answer(2).await?;
    let cancel = b
        .control("button", "Cancel waiting question “Is parking free?”")
        .await?;
    b.click(&cancel).await?;
    b.wait_until(
        Duration::from_secs(10),
        "the cancelled question to go",
        || async { Ok(b.text_of(".queued").await?.is_none()) },
    )
    .await?;
    fake.set_down(false);
    fake.clear();
    b.ask("Any news?").await?;
    let (news, _) = b.wait_answer(3).await?;
    ensure!(news == "Echo: Any news?", "{news}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    ensure!(
        asked(&fake, "Is parking free?") == 0,
        "a cancelled question was sent"
    );

    // A question waits while the worker stops; the next worker, with the
    // network back, answers it once.
    fake.set_down(true);
    b.ask("Where is the exit?").await?;
    let (offline, _) = b.wait_answer(4).await?;
    ensure!(offline.contains("waits for the network"), "{offline}");
    b.top().await?;
    restart(&b, &page, &fake).await?;
    b.wait_until(
        Duration::from_secs(30),
        "the answer after the restart",
        || async { Ok(stored_with(&b, "Echo: Where is the exit?").await? == 1) },
    )
    .await?;
    b.activate(&page).await?;
    b.enter_agent().await?;
    let shown = b.texts("[role=log] .message.assistant .text").await?;
    let late = shown
        .iter()
        .filter(|t| t.contains("Echo: Where is the exit?"))
        .count();
    ensure!(late == 1, "shown {late} times: {shown:?}");
    ensure!(
        b.text_of(".queued").await?.is_none(),
        "still listed as waiting"
    );
    b.top().await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    ensure!(stored_with(&b, "Echo: Where is the exit?").await? == 1);
    ensure!(
        asked(&fake, "Where is the exit?") == 1,
        "asked {} times",
        asked(&fake, "Where is the exit?")
    );

    // A waiting question holds page text: deleting the site's data on the
    // options page drops it, and nothing is sent when the network is back.
    fake.set_down(true);
    b.enter_agent().await?;
    b.ask("Is there a cafe?").await?;
    let (offline, _) = b.wait_answer(6).await?;
    ensure!(offline.contains("waits for the network"), "{offline}");
    b.top().await?;
    let site = page.trim_end_matches('/').to_string();
    let back = b.open_tab("options.html").await?;
    let input = b
        .client
        .wait()
        .for_element(fantoccini::Locator::Css("#delete-site"))
        .await?;
    input.send_keys(&site).await?;
    click_button(&b, "Delete this site's data").await?;
    b.poll(Duration::from_secs(15), "the deletion report", || async {
        Ok(b.text_of(".delete-data [role=status]")
            .await?
            .filter(|t| t.starts_with("Deleted the data of")))
    })
    .await?;
    b.close_tab(back).await?;
    restart(&b, &page, &fake).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    ensure!(
        asked(&fake, "Is there a cafe?") == 0,
        "a question of deleted data was sent"
    );
    Ok(b)
}
