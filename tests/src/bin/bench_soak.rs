//! `cargo xtask bench soak`: a long session in headless Chromium with the
//! built extension, sampling the memory of the worker and of the pages
//! throughout: the wasm memory as each context reports it
//! (`memory.wasm_bytes`, see `paperclip_platform::memory`), and the JS
//! heap (with, for a page, the DOM's: CDP's `embedderHeapUsedSize`) as
//! measured from outside after a full garbage collection, through CDP
//! (`Browser::heap_of`). The extension's pages share one renderer process
//! and so one heap: a page's figure is its own wasm memory and that
//! shared heap, an upper bound of what it holds.
//!
//! The session: 10,000 conversations imported first; the devtools panel
//! open for the whole session in a popup window of its own (as a devtools
//! window: not a tab the toolbar popup could take for the user's), its
//! live telemetry port pushing updates, and from it telemetry at 10,000
//! metric records a minute (counter adds and timings, as a page's
//! batches); then asks, typed into the agent, on one site after another
//! (`sN.site.test`, a fresh agent every [`PER_SITE`] asks) with the fake
//! provider, one ask in ten meeting a fault (a 500, a reset connection, a
//! slow trickle: retried, then answered); halfway, "export all" and an
//! import of 2,000 conversations. Reports the ceiling of each context,
//! and the worker's growth per 1,000 asks after warm-up (the first half of
//! the asks, which ends with the export and import), as the least-squares
//! slope of its samples; fails when a bound is crossed or when the
//! telemetry load did not reach the engine. Writes
//! `target/bench/soak.json`. `--quick`: 100 asks (to check that it runs;
//! no memory bound is checked).

use std::time::Instant;

use anyhow::{anyhow, bail, ensure, Result};
use paperclip_core::protocol::TelemetryAnswer;
use paperclip_core::telemetry::metrics::{InstrumentSnapshot, SnapshotValue};
use paperclip_core::telemetry::panel::PanelAnswer;
use paperclip_e2e::fake_provider::{FakeProvider, Fault, Route};
use paperclip_e2e::scenario::{add_fake_provider, imported, ok};
use paperclip_e2e::server::Server;
use paperclip_e2e::{root, Browser, Kind, SITES_DOMAIN};
use serde_json::json;

/// Asks on one site before the next (a fresh agent each time).
const PER_SITE: usize = 25;
/// Sites visited in turn.
const SITES: usize = 40;
/// Asks between two memory samples.
const SAMPLE_EVERY: usize = 25;
/// The bounds (the issue's), bytes.
const MB: f64 = 1024.0 * 1024.0;
const WORKER_STEADY_MAX: f64 = 16.0 * MB;
const WORKER_PEAK_MAX: f64 = 25.0 * MB;
const PAGE_MAX: f64 = 16.0 * MB;
const GROWTH_PER_1000_MAX: f64 = 1.0 * MB;
/// Telemetry load: metric records a minute (the issue's).
const METRICS_PER_MINUTE: u64 = 10_000;

/// Runs in the panel's window: sends a page batch of metric records every
/// second (half counter adds, half timings, over ten label sets). What
/// reached the engine is read back from its metrics ([`load_records`]).
const TELEMETRY_LOAD: &str = "
    const [perMinute] = arguments;
    const api = globalThis.browser ?? globalThis.chrome;
    const perSecond = Math.round(perMinute / 60);
    globalThis.soakLoad = setInterval(() => {
      const records = [];
      for (let i = 0; i < perSecond; i++) {
        const labels = [['kind', 'k' + (i % 10)]];
        records.push(i % 2
          ? {record: 'count', name: 'soak.load', labels, value: 1}
          : {record: 'timings', name: 'soak.latency', labels, ms: [i % 50]});
      }
      api.runtime.sendMessage({v: 1, body: {type: 'RecordTelemetry', source: 'devtools', records}})
        .catch(() => {});
    }, 1000);";

/// One sample: asks done, then wasm and JS heap of the worker, the agent
/// and the panel.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
struct Sample {
    asks: usize,
    worker_wasm: f64,
    worker_live: f64,
    worker_heap: f64,
    agent_wasm: f64,
    agent_live: f64,
    agent_heap: f64,
    panel_wasm: f64,
    panel_heap: f64,
}

impl Sample {
    fn worker(&self) -> f64 {
        self.worker_wasm + self.worker_heap
    }
    fn agent(&self) -> f64 {
        self.agent_wasm + self.agent_heap
    }
    fn panel(&self) -> f64 {
        self.panel_wasm + self.panel_heap
    }
}

/// The metrics instruments as the worker holds them now.
async fn instruments(b: &Browser) -> Result<Vec<InstrumentSnapshot>> {
    let answer = ok(b, json!({"type": "QueryTelemetry", "query": "metrics"})).await?;
    let answer: TelemetryAnswer = serde_json::from_value(answer)?;
    let PanelAnswer::Metrics(instruments) = answer.answer else {
        bail!("not metrics");
    };
    Ok(instruments)
}

/// The wasm gauges as the worker holds them now (a page's are those of
/// its last report, at most ten seconds old) and the heaps measured now:
/// the worker's, the agent's (when `in_agent`: one is shown) and the
/// panel's.
async fn sample(b: &Browser, asks: usize, in_agent: bool) -> Result<Sample> {
    let agent_heap = if in_agent {
        page_heap(b, "agent.html").await?
    } else {
        0.0
    };
    let panel_heap = page_heap(b, "panel.html").await?;
    let worker_heap = b.worker_js_heap().await?;
    let instruments = instruments(b).await?;
    let gauge = |name: &str, source: &str| -> f64 {
        instruments
            .iter()
            .filter(|i| i.descriptor.name == name)
            .flat_map(|i| i.series.iter())
            .filter(|s| s.labels.iter().any(|(k, v)| k == "source" && v == source))
            .find_map(|s| match s.value {
                SnapshotValue::Gauge(v) => v,
                _ => None,
            })
            .unwrap_or(0.0)
    };
    Ok(Sample {
        asks,
        worker_wasm: gauge("memory.wasm_bytes", "background"),
        worker_live: gauge("memory.wasm_live_bytes", "background"),
        worker_heap,
        agent_wasm: gauge("memory.wasm_bytes", "agent"),
        agent_live: gauge("memory.wasm_live_bytes", "agent"),
        agent_heap,
        panel_wasm: gauge("memory.wasm_bytes", "devtools"),
        panel_heap,
    })
}

/// The JS and DOM heap of the extension page (or frame) `page` of this
/// extension after a full collection, bytes.
async fn page_heap(b: &Browser, page: &str) -> Result<f64> {
    let url = format!("{}{page}", b.base);
    let usage = b
        .heap_of(|t| t["url"].as_str().is_some_and(|u| u.starts_with(&url)))
        .await?;
    match (
        usage["usedSize"].as_f64(),
        usage["embedderHeapUsedSize"].as_f64(),
    ) {
        (Some(js), dom) => Ok(js + dom.unwrap_or(0.0)),
        _ => Err(anyhow!("no heap usage for {page}: {usage}")),
    }
}

/// What the metrics hold of the telemetry load: `soak.load`'s total and
/// `soak.latency`'s count, over all label sets.
fn load_records(instruments: &[InstrumentSnapshot]) -> u64 {
    instruments
        .iter()
        .filter(|i| i.descriptor.name == "soak.load" || i.descriptor.name == "soak.latency")
        .flat_map(|i| i.series.iter())
        .map(|s| match &s.value {
            SnapshotValue::Counter(n) => *n,
            SnapshotValue::Histogram(h) => h.count,
            _ => 0,
        })
        .sum()
}

/// Least-squares slope of `y` over `x`.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let (mx, my) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
    let (num, den) = points.iter().fold((0.0, 0.0), |(num, den), (x, y)| {
        (num + (x - mx) * (y - my), den + (x - mx) * (x - mx))
    });
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let asks = if quick { 100 } else { 1_600 };
    let started = Instant::now();
    let server = Server::start(&root())?;
    let fake = FakeProvider::start()?;
    let b = Browser::launch(Kind::Chromium, true).await?;
    b.client.goto(&server.url("/")).await?;
    add_fake_provider(&b, "Fake", &fake).await?;
    let mut resilience = ok(&b, json!({"type": "GetResilience"})).await?["settings"].clone();
    resilience["retry"]["base_ms"] = json!(20);
    resilience["retry"]["max_backoff_ms"] = json!(100);
    resilience["timeouts"]["first_byte_ms"] = json!(1500);
    ok(&b, json!({"type": "SetResilience", "settings": resilience})).await?;
    // As fast as the harness types: over the default budget of questions
    // a minute.
    ok(
        &b,
        json!({"type": "SetPreference", "key": "performance.budget_asks_per_minute", "value": 600}),
    )
    .await?;
    eprintln!("soak: importing 10,000 conversations");
    imported(
        &b,
        &paperclip_e2e::bench::export_file(10_000, "c"),
        "keep_newest",
    )
    .await?;
    // The panel, open in a window of its own, and the telemetry load from it.
    let page = b.client.window().await?;
    b.open_popup_window("panel.html").await?;
    b.client
        .execute(TELEMETRY_LOAD, vec![json!(METRICS_PER_MINUTE)])
        .await?;
    let load_started = Instant::now();
    let load_before = load_records(&instruments(&b).await?);
    b.client.switch_to_window(page).await?;
    let mut samples = vec![sample(&b, 0, false).await?];
    let port = server.url("/").split(':').nth(2).unwrap_or("").to_string();
    let port = port.trim_end_matches('/');
    let faults = [
        Fault::Status(500),
        Fault::Reset,
        Fault::SlowTrickle {
            delay_ms: 5,
            piece_bytes: Some(7),
        },
    ];
    for i in 0..asks {
        if i % PER_SITE == 0 {
            let site = format!("http://s{}.{SITES_DOMAIN}:{port}/", (i / PER_SITE) % SITES);
            b.client.goto(&site).await?;
            b.activate(&site).await?;
            b.enter_agent().await?;
        }
        if i % 10 == 5 {
            fake.script(Route::ChatCompletions, vec![faults[(i / 10) % 3].clone()]);
        }
        let question = format!("Question {i} on this page?");
        b.ask(&question).await?;
        // By its text: a site visited again shows its conversation so far.
        let echo = format!("Echo: {question}");
        paperclip_e2e::scenario::wait_last(&b, &format!("the answer to ask {i}"), |v| {
            v["status"] == "complete" && v["text"] == echo.as_str()
        })
        .await?;
        if i + 1 == asks / 2 {
            eprintln!("soak: export all, then import 2,000 conversations");
            b.top().await?;
            let exported = b.export_all().await?;
            ensure!(exported.len() > 1_000_000, "{} bytes", exported.len());
            imported(
                &b,
                &paperclip_e2e::bench::export_file(2_000, "d"),
                "keep_newest",
            )
            .await?;
            b.enter_agent().await?;
        }
        if (i + 1) % SAMPLE_EVERY == 0 {
            b.top().await?;
            let s = sample(&b, i + 1, true).await?;
            eprintln!(
                "soak: {:>5} asks, worker {:>6.2} MB (wasm {:.2}, of it live {:.2}; heap {:.2}), agent {:>6.2} MB (heap {:.2}), panel {:>6.2} MB (heap {:.2}), {:.0} s",
                s.asks,
                s.worker() / MB,
                s.worker_wasm / MB,
                s.worker_live / MB,
                s.worker_heap / MB,
                s.agent() / MB,
                s.agent_heap / MB,
                s.panel() / MB,
                s.panel_heap / MB,
                started.elapsed().as_secs_f64()
            );
            samples.push(s);
            b.enter_agent().await?;
        }
    }
    b.top().await?;
    let load_minutes = load_started.elapsed().as_secs_f64() / 60.0;
    let load = load_records(&instruments(&b).await?).saturating_sub(load_before);
    b.close().await;
    let load_rate = load as f64 / load_minutes;

    // Warm-up: the first half (the telemetry engine's span store fills in
    // about 1,000 asks, by design), which ends with the export and the
    // import; after it, only asks.
    let warm = asks / 2;
    let steady: Vec<&Sample> = samples.iter().filter(|s| s.asks > warm).collect();
    let peak = samples.iter().map(Sample::worker).fold(0.0, f64::max);
    let steady_max = steady.iter().map(|s| s.worker()).fold(0.0, f64::max);
    let agent_max = samples.iter().map(Sample::agent).fold(0.0, f64::max);
    let panel_max = samples.iter().map(Sample::panel).fold(0.0, f64::max);
    let growth = |f: fn(&Sample) -> f64| {
        slope(
            &steady
                .iter()
                .map(|s| (s.asks as f64, f(s)))
                .collect::<Vec<_>>(),
        ) * 1_000.0
    };
    let growth_all = growth(Sample::worker);
    let growth_wasm = growth(|s| s.worker_wasm);
    let growth_live = growth(|s| s.worker_live);
    let live_max = steady.iter().map(|s| s.worker_live).fold(0.0, f64::max);
    let rows = [
        ("worker peak (wasm + JS heap)", peak, WORKER_PEAK_MAX),
        ("worker after warm-up, max", steady_max, WORKER_STEADY_MAX),
        (
            "worker growth per 1,000 asks",
            growth_all,
            GROWTH_PER_1000_MAX,
        ),
        ("  of which wasm memory", growth_wasm, GROWTH_PER_1000_MAX),
        (
            "  wasm in use (live), growth per 1,000 asks",
            growth_live,
            GROWTH_PER_1000_MAX,
        ),
        (
            "  wasm in use (live) after warm-up, max",
            live_max,
            WORKER_STEADY_MAX,
        ),
        ("agent page max (wasm + JS heap)", agent_max, PAGE_MAX),
        ("devtools panel max (wasm + JS heap)", panel_max, PAGE_MAX),
    ];
    println!(
        "\nsoak: {asks} asks ({} with a fault), 10,000 + 2,000 conversations, \
         telemetry {load} metric records in {load_minutes:.1} min ({load_rate:.0}/min), \
         the panel open, {:.0} s\n",
        asks / 10,
        started.elapsed().as_secs_f64()
    );
    println!("| measure | MB | bound MB | |\n| --- | --- | --- | --- |");
    let mut crossed = Vec::new();
    for (what, value, bound) in rows {
        let over = value > bound;
        println!(
            "| {what} | {:.2} | {:.2} | {} |",
            value / MB,
            bound / MB,
            if over { "over" } else { "met" }
        );
        if over {
            crossed.push(what);
        }
    }
    let out = root().join("target/bench");
    std::fs::create_dir_all(&out)?;
    std::fs::write(
        out.join("soak.json"),
        serde_json::to_string_pretty(
            &json!({"asks": asks, "telemetry_per_minute": load_rate, "samples": samples}),
        )?,
    )?;
    // The load is part of the session: short of it, the figures are not
    // those of the session described.
    ensure!(
        load_rate >= 0.9 * METRICS_PER_MINUTE as f64,
        "soak: the telemetry load reached {load_rate:.0} records a minute, not {METRICS_PER_MINUTE}"
    );
    if !quick && !crossed.is_empty() {
        bail!("soak: bounds crossed: {}", crossed.join(", "));
    }
    Ok(())
}
