//! `cargo xtask bench resilience`: Paperclip's breaker and retry decision
//! against cockatiel, and recovery after an outage, in headless Chromium.
//!
//! Serves `target/bench/www/` (staged by xtask: `bench/resilience.{html,js}`,
//! cockatiel's ESM build in `cockatiel/` and the bench wasm in `pkg/`) under
//! `/bench/`, starts the fake provider on 127.0.0.1, and runs
//! `runResilienceBench` in a fresh headless Chromium. Prints the table and
//! writes `target/bench/resilience.json` (rows in the storage bench's
//! format) and `target/bench/resilience-extra.json` (bounds, notes).
//!
//! `--quick`: fewer samples and trials, only to check that it runs.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use paperclip_e2e::bench::Row;
use paperclip_e2e::fake_provider::FakeProvider;
use paperclip_e2e::{root, server::Server, Browser, Kind};
use serde::Deserialize;
use serde_json::{json, Value};

/// The cases, in table order.
const CASES: &[&str] = &["breaker_check", "retry_decision", "request", "recovery"];
/// Breaker check target: p95 at most 1 µs.
const MAX_BREAKER_CHECK_MS: f64 = 0.001;
/// A healthy request through the whole resilient path: p95 at most this
/// many times the same request as a bare `fetch`.
const MAX_REQUEST_OVER_FETCH: f64 = 1.1;

#[derive(Deserialize, Debug, Default)]
struct Results {
    rows: Vec<Row>,
    bounds: Value,
    notes: Vec<String>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let www = root().join("target/bench/www");
    if !www.join("resilience.html").exists() {
        bail!(
            "{} is missing: run `cargo xtask bench resilience`",
            www.display()
        );
    }
    let server = Server::start(&root())?;
    let fake = FakeProvider::start()?;
    let page = server.url("/bench/resilience.html");
    let mut config = if quick {
        json!({"samples": 20, "warmup": 2, "batch": 200, "requests": 5, "recovery_trials": 1})
    } else {
        json!({})
    };
    config["fake"] = json!(fake.base_url());

    eprintln!(
        "bench: headless Chromium ({page}), fake provider at {}",
        fake.base_url()
    );
    let browser = Browser::launch_plain(Kind::Chromium, true).await?;
    let result = paperclip_e2e::bench::drive(
        &browser,
        &page,
        "runResilienceBench",
        config,
        Duration::from_secs(30 * 60),
    )
    .await;
    browser.close().await;
    let mut results: Results =
        serde_json::from_value(result?).context("reading runResilienceBench's results")?;
    if quick {
        results
            .notes
            .push("quick run (--quick): fewer samples; its numbers are not the issue's".into());
    }
    results
        .notes
        .push("headless Chromium, one page, fresh profile; fake provider on 127.0.0.1".into());

    print_report(&results);
    let out = root().join("target/bench");
    std::fs::create_dir_all(&out)?;
    std::fs::write(
        out.join("resilience.json"),
        serde_json::to_string_pretty(&results.rows)? + "\n",
    )?;
    std::fs::write(
        out.join("resilience-extra.json"),
        serde_json::to_string_pretty(&json!({"bounds": results.bounds, "notes": results.notes}))?
            + "\n",
    )?;
    println!(
        "\nWrote {} and {}",
        out.join("resilience.json").display(),
        out.join("resilience-extra.json").display()
    );
    Ok(())
}

fn print_report(results: &Results) {
    let get = |case: &str, imp: &str| results.rows.iter().find(|r| r.case == case && r.imp == imp);
    println!(
        "\n{:<16} {:<20} {:>5} {:>12} {:>12} {:>12} {:>14}",
        "case", "impl", "n", "p50 ms", "p95 ms", "p99 ms", "p95 ÷ cockatiel"
    );
    for case in CASES {
        let peer = get(case, "cockatiel").map(|r| r.p95_ms);
        for r in results.rows.iter().filter(|r| r.case == *case) {
            let ratio = peer
                .filter(|_| r.imp != "cockatiel")
                .map_or_else(String::new, |p| format!("{:.3}×", r.p95_ms / p));
            println!(
                "{case:<16} {:<20} {:>5} {:>12.6} {:>12.6} {:>12.6} {ratio:>14}",
                r.imp, r.n, r.p50_ms, r.p95_ms, r.p99_ms
            );
        }
    }
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    if let Some(r) = get("breaker_check", "paperclip") {
        println!(
            "\nbreaker check p95 {:.1} ns (target ≤ 1 µs: {})",
            r.p95_ms * 1e6,
            verdict(r.p95_ms <= MAX_BREAKER_CHECK_MS)
        );
    }
    if let (Some(ours), Some(bare)) = (get("request", "paperclip"), get("request", "fetch")) {
        println!(
            "request through the resilient path ÷ bare fetch: p50 {:.2}×, p95 {:.2}× (n = {}; \
             target p95 ≤ {MAX_REQUEST_OVER_FETCH}×: {})",
            ours.p50_ms / bare.p50_ms,
            ours.p95_ms / bare.p95_ms,
            ours.n,
            verdict(ours.p95_ms <= MAX_REQUEST_OVER_FETCH * bare.p95_ms)
        );
    }
    if let (Some(r), Some(bound)) = (
        get("recovery", "paperclip"),
        results.bounds["recovery_bound_ms"].as_f64(),
    ) {
        println!(
            "recovery p95 {:.0} ms; bound = half-open pause {} ms + one request (p95 {:.1} ms) + one poll = {:.0} ms: {}",
            r.p95_ms,
            results.bounds["half_open_ms"],
            results.bounds["paperclip_request_p95_ms"].as_f64().unwrap_or(0.0),
            bound,
            verdict(r.p95_ms <= bound)
        );
    }
    for note in &results.notes {
        println!("note: {note}");
    }
}
