//! `cargo xtask bench devtools`: the devtools panel at scale in headless
//! Chromium, with the built extension.
//!
//! Data: 10,000 conversations imported into the extension's IndexedDB (the
//! Storage tab pages through them), and a session bundle at the panel's
//! largest — 10,000 spans (2,000 asks of five spans), 1,000 error groups
//! and 60 instruments with a full time series — opened in the panel, so
//! that every telemetry tab renders that much. (The telemetry store keeps
//! at most 20,000 rows and the panel asks for at most 5,000 spans per
//! range, so a bundle is the most a tab can be given.)
//!
//! Cases, each sampled: a tab's first render (click on the tab → two
//! animation frames later), a filter change (a key typed into the tab's
//! filter → two frames), frame times while scrolling each tab to its end
//! programmatically, and the panel page's JS heap after scrolling.
//! Writes `target/bench/devtools.json` (the shared row format) and prints
//! the table. `--quick`: fewer samples.

use std::time::Duration;

use anyhow::{bail, Result};
use fantoccini::Locator;
use paperclip_core::telemetry::bundle::{settings_of, Environment, SessionBundle};
use paperclip_core::telemetry::errors::{Category, ErrorInput, Severity};
use paperclip_core::telemetry::span::{names, OpenSpan, SpanKind, SpanStatus};
use paperclip_core::telemetry::{Engine, EngineConfig};
use paperclip_e2e::bench::Row;
use paperclip_e2e::{root, Browser, Kind};
use serde_json::json;

/// Targets (the issue's).
const MAX_RENDER_MS: f64 = 100.0;
const MAX_FRAME_P95_MS: f64 = 16.7;

fn row(case: &str, xs: Vec<f64>) -> Row {
    Row::from_samples(case, xs)
}

/// The bundle: 2,000 asks of five spans, 1,000 error groups, 60
/// instruments with their history.
fn bundle() -> Result<String> {
    let now_ms = 1_796_000_000_000.0;
    let config = EngineConfig {
        error_groups: 1_000,
        ..EngineConfig::default()
    };
    let mut engine = Engine::new(config, now_ms - 3_600_000.0)?;
    let mut spans = Vec::new();
    let ms = 1_000_000u64;
    for i in 0..2_000u64 {
        let t0 = ((now_ms - 3_600_000.0) * 1e6) as u64 + i * 1_700 * ms;
        let mut ask = OpenSpan::root(names::ASK, SpanKind::Server, (i + 1, 7), 1, t0);
        ask.set_attribute("site", format!("https://site{}.example", i % 40).as_str());
        ask.set_attribute("level", "normal");
        let gather = ask.child(names::CONTEXT_GATHER, SpanKind::Internal, 2, t0 + ms);
        let call = ask.child(names::PROVIDER_CALL, SpanKind::Client, 3, t0 + 5 * ms);
        let mut first = ask.child(names::PROVIDER_REQUEST, SpanKind::Client, 4, t0 + 5 * ms);
        first.set_attribute("provider.kind", "openai_compatible");
        first.set_attribute("outcome", if i % 7 == 0 { "http_5xx" } else { "ok" });
        first.set_attribute("ttfb_ms", 80.0 + (i % 50) as f64);
        let mut wait = ask.child(names::RETRY_WAIT, SpanKind::Internal, 5, t0 + 400 * ms);
        wait.set_attribute("reason", "http_5xx");
        spans.push(gather.finish(t0 + 4 * ms));
        spans.push(first.finish(t0 + 400 * ms));
        spans.push(wait.finish(t0 + 600 * ms));
        spans.push(call.finish(t0 + 1_200 * ms));
        if i % 11 == 0 {
            ask.set_status(SpanStatus::Error {
                message: "the provider failed".into(),
            });
        }
        spans.push(ask.finish(t0 + 1_300 * ms));
    }
    for i in 0..1_000 {
        let kind = format!("bench.kind_{i}");
        let message = format!("failure number {i} of the bench");
        engine.error(
            ErrorInput {
                severity: [Severity::Error, Severity::Warning, Severity::Info][i % 3],
                category: Category::ALL[i % Category::ALL.len()],
                message: &message,
                kind: &kind,
                component: "bench",
                ..ErrorInput::default()
            },
            now_ms - 1_000.0 * i as f64,
            0.5,
        );
    }
    let mut histograms = Vec::new();
    for i in 0..30 {
        let c = engine
            .metrics_mut()
            .counter(&format!("bench.count_{i}"), "1", "")?;
        let h = engine
            .metrics_mut()
            .histogram(&format!("bench.ms_{i}"), "ms", "")?;
        histograms.push((c, h));
    }
    for w in 0..60 {
        for (j, (c, h)) in histograms.iter().enumerate() {
            engine
                .metrics_mut()
                .add_with(*c, &[("site", "a")], (w + j) as u64);
            for k in 0..20 {
                engine
                    .metrics_mut()
                    .record_with(*h, &[("site", "a")], (k * w + j) as f64);
            }
        }
        engine
            .metrics_mut()
            .collect(now_ms - 3_600_000.0 + 60_000.0 * w as f64);
    }
    let bundle = SessionBundle {
        environment: Environment {
            extension_version: "bench".into(),
            browser: "bench".into(),
            settings: settings_of(&Default::default()),
        },
        asks: paperclip_core::telemetry::asks::asks(&spans, 5_000),
        errors: engine.errors().list().into_iter().cloned().collect(),
        metrics: engine.metrics().snapshot(),
        health: Some(engine.health().snapshot()),
        spans,
        ..SessionBundle::empty(now_ms)
    };
    Ok(serde_json::to_string(&bundle)?)
}

/// Clicks the element matching `css` (a tab, or focuses a filter and types
/// `key`), then waits two animation frames: the time it took, ms.
const TIMED: &str = "
    const [css, key, done] = arguments;
    const el = document.querySelector(css);
    if (!el) return done(-1);
    const t0 = performance.now();
    if (key === null) { el.click(); }
    else {
      el.focus();
      el.value = el.value + key;
      el.dispatchEvent(new InputEvent('input', {bubbles: true, data: key, inputType: 'insertText'}));
    }
    requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now() - t0)));";

/// Scrolls the page to its end, a step a frame; the frame times, ms.
const SCROLL: &str = "
    const done = arguments[arguments.length - 1];
    const s = document.scrollingElement;
    s.scrollTop = 0;
    const times = [];
    let last = performance.now();
    function step() {
      const now = performance.now();
      times.push(now - last);
      last = now;
      if (s.scrollTop + s.clientHeight >= s.scrollHeight - 1 || times.length > 600) {
        return done({times: times.slice(1), height: s.scrollHeight,
                     heap: performance.memory ? performance.memory.usedJSHeapSize : null});
      }
      s.scrollTop += 120;
      requestAnimationFrame(step);
    }
    requestAnimationFrame(step);";

#[tokio::main]
async fn main() -> Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let samples = if quick { 5 } else { 20 };
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("bundle.json");
    eprintln!("bench: generating the bundle");
    let text = bundle()?;
    std::fs::write(&file, &text)?;
    eprintln!("bench: bundle of {} bytes", text.len());

    let b = Browser::launch(Kind::Chromium, true).await?;
    eprintln!("bench: importing 10,000 conversations");
    let imported = b
        .import_file(
            &paperclip_e2e::bench::export_file(10_000, "c"),
            "keep_newest",
        )
        .await?;
    if imported["body"]["ok"].is_null() {
        bail!("import: {imported}");
    }
    b.client.goto(&format!("{}panel.html", b.base)).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    // The Storage tab (the default) with 10,000 conversations stored.
    let mut storage = Vec::new();
    for _ in 0..samples {
        b.client
            .execute_async(TIMED, vec![json!("#tab-asks"), json!(null)])
            .await?;
        let ms = b
            .client
            .execute_async(TIMED, vec![json!("#tab-storage"), json!(null)])
            .await?;
        storage.push(ms.as_f64().unwrap_or(f64::NAN));
    }
    rows.push(row("first render: Storage (10,000 conversations)", storage));

    // The bundle opened: every telemetry tab renders it.
    b.client
        .execute_async(TIMED, vec![json!("#tab-asks"), json!(null)])
        .await?;
    b.client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#bundle-file"))
        .await?
        .send_keys(&file.display().to_string())
        .await?;
    b.poll(Duration::from_secs(60), "the bundle opened", || async {
        b.text_of(".bundle-open").await
    })
    .await?;
    for (tab, id, filter) in [
        ("Asks", "#tab-asks", None),
        (
            "Dashboard",
            "#tab-dashboard",
            Some("input[aria-label='Filter metrics by name or label']"),
        ),
        ("Errors", "#tab-errors", None),
        (
            "Timeline",
            "#tab-timeline",
            Some("input[aria-label='Filter spans by name']"),
        ),
    ] {
        eprintln!("bench: {tab}");
        let mut render = Vec::new();
        for _ in 0..samples {
            let other = if id == "#tab-asks" {
                "#tab-errors"
            } else {
                "#tab-asks"
            };
            b.client
                .execute_async(TIMED, vec![json!(other), json!(null)])
                .await?;
            let ms = b
                .client
                .execute_async(TIMED, vec![json!(id), json!(null)])
                .await?;
            render.push(ms.as_f64().unwrap_or(f64::NAN));
        }
        rows.push(row(&format!("first render: {tab} (bundle)"), render));
        if let Some(css) = filter {
            let mut typed = Vec::new();
            for i in 0..samples {
                // Alternately narrow and clear the filter.
                let key = if i % 2 == 0 { "b" } else { "" };
                if key.is_empty() {
                    b.client
                        .execute(
                            "const e = document.querySelector(arguments[0]); e.value = '';
                             e.dispatchEvent(new InputEvent('input', {bubbles: true}));",
                            vec![json!(css)],
                        )
                        .await?;
                    continue;
                }
                let ms = b
                    .client
                    .execute_async(TIMED, vec![json!(css), json!(key)])
                    .await?;
                typed.push(ms.as_f64().unwrap_or(f64::NAN));
            }
            rows.push(row(&format!("filter change: {tab}"), typed));
        }
        let scrolled = b.client.execute_async(SCROLL, vec![]).await?;
        let times: Vec<f64> = scrolled["times"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_f64())
            .collect();
        if times.len() >= 2 {
            rows.push(row(&format!("scroll frame: {tab}"), times));
        }
        notes.push(format!(
            "{tab}: page height {} px, JS heap after scrolling {:.1} MB",
            scrolled["height"],
            scrolled["heap"].as_f64().unwrap_or(f64::NAN) / 1_048_576.0
        ));
    }
    b.close().await;

    println!(
        "\n| case | n | p50 ms | p95 ms | p99 ms | target |\n| --- | --- | --- | --- | --- | --- |"
    );
    for r in &rows {
        let target = if r.case.starts_with("scroll") {
            format!("p95 ≤ {MAX_FRAME_P95_MS}")
        } else {
            format!("≤ {MAX_RENDER_MS}")
        };
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.1} | {target} |",
            r.case, r.n, r.p50_ms, r.p95_ms, r.p99_ms
        );
    }
    for n in &notes {
        println!("- {n}");
    }
    let out = root().join("target/bench/devtools.json");
    std::fs::create_dir_all(out.parent().expect("a parent"))?;
    std::fs::write(&out, serde_json::to_string_pretty(&rows)?)?;
    println!("wrote {}", out.display());
    Ok(())
}
