//! What the benchmark binaries (`bench_storage`, `bench_resilience`) share:
//! the row format of `target/bench/*.json` and the driver that runs a
//! page's `window.run…Bench(config)` in a browser, echoing its progress.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::Browser;

/// One row of a benchmark's JSON: a case measured for one implementation.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Row {
    /// What was measured.
    pub case: String,
    /// Who did it (`paperclip`, a peer library, …).
    #[serde(rename = "impl")]
    pub imp: String,
    /// Samples.
    pub n: u32,
    /// Median, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
}

impl Row {
    /// The row of `case` for Paperclip from its samples, ms (nearest-rank
    /// percentiles). `xs` must not be empty.
    pub fn from_samples(case: &str, mut xs: Vec<f64>) -> Self {
        xs.sort_by(f64::total_cmp);
        let p = |q: f64| {
            let i = ((q / 100.0) * xs.len() as f64).ceil() as usize;
            xs[i.clamp(1, xs.len()) - 1]
        };
        Row {
            case: case.into(),
            imp: "paperclip".into(),
            n: xs.len() as u32,
            p50_ms: p(50.0),
            p95_ms: p(95.0),
            p99_ms: p(99.0),
        }
    }
}

/// Opens `page`, waits for `window[function]`, calls it with `config` and
/// polls until it settles, echoing `window.benchLog` lines; returns what it
/// resolved to.
pub async fn drive(
    browser: &Browser,
    page: &str,
    function: &str,
    config: Value,
    limit: Duration,
) -> Result<Value> {
    load(browser, page).await?;
    browser
        .poll(Duration::from_secs(20), function, || async {
            let v = browser
                .client
                .execute("return typeof window[arguments[0]];", vec![function.into()])
                .await?;
            Ok((v == "function").then_some(()))
        })
        .await?;
    // Started with `execute` and then polled (rather than one long
    // `execute_async`) so that progress shows while it runs.
    browser
        .client
        .execute(
            "window.benchRun = {done: false};
             window[arguments[0]](arguments[1]).then(
               (r) => { benchRun.result = r; benchRun.done = true; },
               (e) => { benchRun.error = String(e && e.stack || e); benchRun.done = true; });",
            vec![function.into(), config],
        )
        .await?;
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let v = browser
            .client
            .execute(
                "return {log: (window.benchLog || []).splice(0), done: benchRun.done,
                         result: benchRun.result || null, error: benchRun.error || null};",
                vec![],
            )
            .await?;
        for line in v["log"].as_array().into_iter().flatten() {
            eprintln!("  {}", line.as_str().unwrap_or_default());
        }
        if let Some(e) = v["error"].as_str() {
            bail!("{function} failed: {e}");
        }
        if v["done"] == true {
            return Ok(v["result"].clone());
        }
        if started.elapsed() > limit {
            bail!("{function} did not finish within {limit:?}");
        }
    }
}

/// Opens `page`, waiting at most a minute for it to load. Now and then
/// (one run in several, on a busy machine) Chromium's renderer never
/// reports the load and the driver gave up only after its 300 s ("Timed
/// out receiving message from renderer"), failing the whole bench: the
/// page is then loaded once more in a new tab.
async fn load(browser: &Browser, page: &str) -> Result<()> {
    let minute = fantoccini::wd::TimeoutConfiguration::new(
        Some(Duration::from_secs(60)),
        Some(Duration::from_secs(60)),
        None,
    );
    browser.client.update_timeouts(minute).await?;
    let Err(e) = browser.client.goto(page).await else {
        return Ok(());
    };
    eprintln!("bench: {page} did not load ({e}); once more in a new tab");
    let tab = browser.new_window(true).await?;
    browser.client.switch_to_window(tab).await?;
    browser.client.goto(page).await?;
    Ok(())
}

/// `n` conversations (ids `{prefix}-0`, `{prefix}-1`, …, on 40 sites, one
/// question and one answer each) as an export file, for a bench to import.
pub fn export_file(n: usize, prefix: &str) -> String {
    let t = 1_700_000_000_000.0;
    let list: Vec<_> = (0..n)
        .map(|i| {
            let at = t + i as f64 * 1_000.0;
            json!({"id": format!("{prefix}-{i}"), "site": format!("https://site{}.example", i % 40),
                "title": format!("Conversation {i}"), "created_ms": at, "updated_ms": at,
                "messages": [
                    {"id": format!("q-{prefix}-{i}"), "role": "user", "text": "What is this page about?", "time_ms": at, "status": "complete"},
                    {"id": format!("a-{prefix}-{i}"), "role": "assistant", "text": "A page about paperclips and their history.", "time_ms": at + 1.0, "status": "complete"}
                ]})
        })
        .collect();
    json!({"format": "paperclip-export", "version": 1, "exported_ms": t, "conversations": list})
        .to_string()
}
