//! A failing provider, survived: every fault the fake provider can inject
//! ends in an answer or a clear choice (Stop, Retry, Continue); cached
//! answers when every provider fails, and the circuit breaker opening and
//! recovering.

use std::time::Duration;

use anyhow::{ensure, Result};
use paperclip_e2e::scenario::{
    add_fake_provider, chat_requests, click_button, last_answer, latest_conversation, ok, wait_last,
};
use paperclip_e2e::{server::Server, Browser};
use serde_json::{json, Value};

in_both_browsers!(
    every_stream_fault_ends_in_an_answer_or_a_clear_choice,
    cached_answers_then_the_breaker_opens_and_recovers,
);

/// Changes the resilience settings through the protocol: `edit` gets the
/// current settings as JSON.
async fn set_resilience(b: &Browser, edit: impl FnOnce(&mut Value)) -> Result<Value> {
    let mut settings = ok(b, json!({"type": "GetResilience"})).await?["settings"].clone();
    edit(&mut settings);
    let saved = ok(
        b,
        json!({"type": "SetResilience", "settings": settings.clone()}),
    )
    .await?;
    ensure!(saved["settings"] == settings, "{saved}");
    Ok(settings)
}

/// One request per fault the fake provider can inject, each with short
/// timeouts: the user always ends with a correct answer, a labelled
/// fallback answer, or an interrupted answer with a clear error and
/// Continue — never a hang, never a lost question. Stop works before and
/// during the stream; Retry and Continue finish the job.
async fn every_stream_fault_ends_in_an_answer_or_a_clear_choice(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    use paperclip_e2e::fake_provider::{FakeProvider, Fault, Route};
    let fake = FakeProvider::start()?;
    b.client.goto(&server.url("/")).await?;
    add_fake_provider(&b, "Fake", &fake).await?;
    let settings = set_resilience(&b, |s| {
        s["timeouts"] = json!({"first_byte_ms": 1500, "idle_ms": 1000, "total_ms": 20000});
        s["retry"]["base_ms"] = json!(20);
        s["retry"]["max_backoff_ms"] = json!(100);
        s["breaker"]["mode"] = json!({"consecutive": {"threshold": 100}});
    })
    .await?;
    // Settings out of range are refused, precisely, and change nothing.
    let mut bad = settings.clone();
    bad["timeouts"]["idle_ms"] = json!(5);
    let refused = b
        .request(json!({"type": "SetResilience", "settings": bad}))
        .await?;
    let message = refused["body"]["err"]["message"].as_str().unwrap_or("");
    ensure!(message.contains("timeouts.idle_ms"), "{refused}");
    let now = ok(&b, json!({"type": "GetResilience"})).await?;
    ensure!(now["settings"] == settings, "{now}");

    // 429 with Retry-After: 1 s — retried after the wait, then answered.
    fake.script(
        Route::ChatCompletions,
        vec![Fault::TooManyRequests { retry_after_s: 1 }],
    );
    let answer = b.ask_on(&server.url("/"), "Rate limited?").await?;
    ensure!(answer == "Echo: Rate limited?", "{answer}");
    let chat = chat_requests(&fake);
    ensure!(chat.len() == 2, "{} chat requests", chat.len());
    let waited = chat[1].at_ms.saturating_sub(chat[0].at_ms);
    ensure!(
        waited >= 900,
        "Retry-After honoured: retried after {waited} ms"
    );

    // A 500, a reset connection, a server that never answers, a slow
    // trickle cut inside UTF-8 characters: retried or waited out, then
    // answered.
    b.enter_agent().await?;
    let cases = [
        (Fault::Status(500), "After a 500?"),
        (Fault::Reset, "After a reset?"),
        (Fault::HangBeforeHeaders, "After a hang?"),
        (
            Fault::SlowTrickle {
                delay_ms: 20,
                piece_bytes: Some(7),
            },
            "Slowly, ünïcödé?",
        ),
    ];
    for (n, (fault, question)) in cases.into_iter().enumerate() {
        fake.script(Route::ChatCompletions, vec![fault.clone()]);
        b.ask(question).await?;
        let (answer, _) = b.wait_answer(n + 1).await?;
        ensure!(answer == format!("Echo: {question}"), "{fault:?}: {answer}");
    }

    // A stream that stalls after two pieces: the idle timeout cuts it, the
    // answer is kept as interrupted, and Continue finishes it.
    fake.script(
        Route::ChatCompletions,
        vec![Fault::StallMidStream {
            after_chunks: 2,
            for_ms: 5_000,
        }],
    );
    b.ask("Stall here?").await?;
    let cut = wait_last(&b, "the stalled answer to be interrupted", |v| {
        v["n"] == 6 && v["status"] == "interrupted" && v["alert"].is_string()
    })
    .await?;
    ensure!(cut["text"] == "Echo: St", "{cut}");
    ensure!(
        cut["alert"].as_str().unwrap_or("").contains("stalled") && cut["cont"] == true,
        "{cut}"
    );
    click_button(&b, "Continue").await?;
    let (continued, _) = b.wait_answer(5).await?;
    ensure!(
        continued.starts_with("Echo: StEcho: Your previous answer was cut off"),
        "{continued}"
    );
    let last = fake.requests().pop().map(|r| r.body).unwrap_or_default();
    ensure!(
        last.contains("\"content\":\"Echo: St\""),
        "the partial answer was sent: {last}"
    );

    // A connection dropped mid-stream: interrupted, with a clear error.
    fake.script(
        Route::ChatCompletions,
        vec![Fault::DropMidStream { after_chunks: 1 }],
    );
    b.ask("Dropped?").await?;
    let dropped = wait_last(&b, "the dropped answer to be interrupted", |v| {
        v["n"] == 7 && v["status"] == "interrupted" && v["alert"].is_string()
    })
    .await?;
    ensure!(
        dropped["text"] == "Echo" && dropped["cont"] == true,
        "{dropped}"
    );

    // A malformed first piece: not retried (a misconfiguration); the
    // offline answer comes instead, labelled, and the agent says it is
    // degraded.
    fake.script(
        Route::ChatCompletions,
        vec![Fault::MalformedChunk { at: 0 }],
    );
    b.ask("Malformed?").await?;
    let (fallback, _) = b.wait_answer(7).await?;
    ensure!(
        fallback.starts_with("Fake: ") && fallback.contains("Answering from the page instead"),
        "{fallback}"
    );
    let shown = last_answer(&b).await?;
    ensure!(
        shown["label"] == "Offline answer · from this page (fallback)"
            && shown["degraded"] == "offline",
        "{shown}"
    );

    // Stop during the stream keeps what arrived and offers Continue.
    fake.script(
        Route::ChatCompletions,
        // (A piece every 700 ms: within the 1 s idle timeout.)
        vec![Fault::SlowTrickle {
            delay_ms: 700,
            piece_bytes: None,
        }],
    );
    b.ask("Stop me?").await?;
    let first = wait_last(&b, "the first piece", |v| {
        v["n"] == 9 && v["text"].as_str().is_some_and(|t| !t.is_empty())
    })
    .await?;
    ensure!(
        first["stop"] == true,
        "Stop is offered while streaming: {first} {:?}",
        fake.requests()
            .iter()
            .map(|r| (r.at_ms, r.fault.clone()))
            .collect::<Vec<_>>()
    );
    click_button(&b, "Stop").await?;
    let stopped = wait_last(&b, "the stopped answer", |v| {
        v["status"] == "interrupted" && v["stop"] == false
    })
    .await?;
    ensure!(
        stopped["alert"].is_null() && stopped["cont"] == true,
        "a stop is not an error: {stopped}"
    );
    ensure!(
        stopped["text"]
            .as_str()
            .is_some_and(|t| t.len() < "Echo: Stop me?".len()),
        "{stopped}"
    );

    // Stop before any text: nothing answered, the question kept, Retry
    // offered; Retry answers it without storing it twice.
    // (Every attempt hangs until stopped.)
    fake.set_down_with(Fault::HangBeforeHeaders);
    b.ask("Hang, then stop?").await?;
    click_button(&b, "Stop").await?;
    let idle = wait_last(&b, "Retry to be offered", |v| v["retry"] == true).await?;
    ensure!(idle["alert"].is_null() && idle["n"] == 9, "{idle}");
    fake.set_down(false);
    click_button(&b, "Retry").await?;
    let (retried, _) = b.wait_answer(9).await?;
    // (The stopped answer is not history, so the two questions reach the
    // provider as one user turn; the fake echoes it.)
    ensure!(
        retried.starts_with("Echo: ") && retried.ends_with("Hang, then stop?"),
        "{retried}"
    );
    b.top().await?;
    let c = latest_conversation(&b).await?;
    let messages = c["conversation"]["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let asked = messages
        .iter()
        .filter(|m| m["text"] == "Hang, then stop?")
        .count();
    ensure!(asked == 1, "the retried question is stored once: {c}");
    let statuses: Vec<&str> = messages
        .iter()
        .filter(|m| m["role"] == "assistant")
        .filter_map(|m| m["status"].as_str())
        .collect();
    ensure!(
        statuses
            == [
                "complete",
                "complete",
                "complete",
                "complete",
                "complete",
                "complete",
                "interrupted",
                "complete",
                "interrupted",
                "complete"
            ],
        "{statuses:?}"
    );
    Ok(b)
}

/// When every provider fails, an earlier answer to the same question about
/// the same page comes back, labelled as cached; failures open the
/// breaker, which then blocks requests; when the server recovers, the
/// breaker half-opens after its pause and closes on the next answer.
async fn cached_answers_then_the_breaker_opens_and_recovers(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    use paperclip_e2e::fake_provider::{FakeProvider, Fault};
    let fake = FakeProvider::start()?;
    b.client.goto(&server.url("/")).await?;
    add_fake_provider(&b, "Fake", &fake).await?;
    set_resilience(&b, |s| {
        s["retry"]["max_attempts"] = json!(1);
        s["breaker"]["mode"] = json!({"consecutive": {"threshold": 3}});
        s["breaker"]["base_break_ms"] = json!(2000);
    })
    .await?;
    let answer = b.ask_on(&server.url("/"), "Cache me?").await?;
    ensure!(answer == "Echo: Cache me?", "{answer}");

    // The server answers 503 (up, but failing): a provider that cannot be
    // reached at all would also keep the questions waiting for the network,
    // and their late answers would interleave with the ones checked here
    // (that path is `waiting::*`).
    fake.set_down_with(Fault::Status(503));
    b.enter_agent().await?;
    b.ask("Cache me?").await?;
    let (cached, _) = b.wait_answer(1).await?;
    ensure!(
        cached.contains("Showing the answer Fake gave") && cached.ends_with("Echo: Cache me?"),
        "{cached}"
    );
    let shown = last_answer(&b).await?;
    ensure!(
        shown["label"] == "Answered by Fake (cached)" && shown["degraded"] == "cached",
        "{shown}"
    );
    for (n, question) in [(2, "Not cached?"), (3, "Third failure?")] {
        b.ask(question).await?;
        let (offline, _) = b.wait_answer(n).await?;
        ensure!(
            offline.contains("Answering from the page instead"),
            "{offline}"
        );
    }
    b.top().await?;
    let status = ok(&b, json!({"type": "GetResilience"})).await?;
    ensure!(
        status["breakers"][0]["state"]["open"].is_object() && status["degradation"] == "offline",
        "three failures open the breaker: {status}"
    );
    let before = fake.requests().len();
    b.enter_agent().await?;
    b.ask("Blocked?").await?;
    let (blocked, _) = b.wait_answer(4).await?;
    ensure!(
        blocked.contains("is paused after repeated failures"),
        "{blocked}"
    );
    ensure!(
        fake.requests().len() == before,
        "the open breaker let a request through"
    );

    fake.set_down(false);
    let wake = status["breakers"][0]["wake_at_ms"].as_f64().unwrap_or(0.0);
    b.poll(Duration::from_secs(10), "the pause to end", || async {
        let now = b.client.execute("return Date.now()", vec![]).await?;
        Ok((now.as_f64().unwrap_or(0.0) > wake).then_some(()))
    })
    .await?;
    b.ask("Recovered?").await?;
    let (recovered, _) = b.wait_answer(5).await?;
    ensure!(recovered == "Echo: Recovered?", "{recovered}");
    let shown = last_answer(&b).await?;
    ensure!(shown["degraded"].is_null(), "no longer degraded: {shown}");
    b.top().await?;
    let status = ok(&b, json!({"type": "GetResilience"})).await?;
    ensure!(
        status["breakers"][0]["state"] == "closed" && status["degradation"] == "normal",
        "{status}"
    );
    Ok(b)
}
