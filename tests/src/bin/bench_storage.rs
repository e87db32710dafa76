//! `cargo xtask bench storage`: the storage benchmark in headless Chromium.
//!
//! Serves `target/bench/www/` (staged by xtask: `bench/storage.html`,
//! `bench/storage.js`, `dexie.mjs` and the `BenchStore` wasm in `pkg/`) under
//! `/bench/`, opens `storage.html` in headless Chromium with a fresh on-disk
//! profile and runs `runStorageBench` there: first the timing phase (every
//! case for Paperclip, raw IndexedDB and Dexie, interleaved), then, for each
//! implementation in its own fresh browser profile, the usage phase (10,000
//! conversations + 100,000 cache entries, then `navigator.storage.estimate()`).
//!
//! Prints the comparison table and writes `target/bench/storage.json` (the
//! rows) and `target/bench/storage-extra.json` (conversations per second of
//! the import, storage usage, notes).
//!
//! `--quick`: fewer iterations and cache entries, to check that everything
//! runs; its numbers are not the issue's.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use paperclip_e2e::{root, server::Server, Browser, Kind};
use serde::Deserialize;
use serde_json::{json, Value};

/// The implementations compared, in table order.
const IMPLS: &[&str] = &["paperclip", "raw-idb", "dexie"];
/// The cases, in table order.
const CASES: &[&str] = &[
    "save",
    "load",
    "append",
    "cache_put",
    "cache_get_persistent",
    "cache_get_memory",
    "list_50_of_10000",
    "import_1000",
];
/// Paperclip's p95 may be at most this many times raw IndexedDB's.
const MAX_RATIO_TO_RAW: f64 = 1.25;
/// Import target, conversations per second.
const MIN_IMPORT_PER_S: f64 = 5000.0;
/// Storage target for 10,000 conversations + 100,000 cache entries.
const MAX_USAGE_BYTES: f64 = 50e6;
/// Longest a phase may take.
const PHASE_LIMIT: Duration = Duration::from_secs(60 * 60);

use paperclip_e2e::bench::Row;

/// What `runStorageBench` resolves to.
#[derive(Deserialize, Debug, Default)]
struct Results {
    rows: Vec<Row>,
    import_per_s: BTreeMap<String, f64>,
    usage: BTreeMap<String, f64>,
    notes: Vec<String>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let www = root().join("target/bench/www");
    if !www.join("storage.html").exists() {
        bail!(
            "{} is missing: run `cargo xtask bench storage`",
            www.display()
        );
    }
    let server = Server::start(&root())?;
    let page = server.url("/bench/storage.html");
    let base = if quick {
        json!({"n": 30, "warmup": 3, "list_n": 20, "list_warmup": 2, "import_runs": 2,
               "cache_entries": 10000})
    } else {
        json!({})
    };

    eprintln!("bench: timing phase in headless Chromium ({page})");
    let mut config = base.clone();
    config["phases"] = json!(["timing"]);
    let mut results = phase(&page, config).await?;

    let measured: Vec<&str> = IMPLS
        .iter()
        .copied()
        .filter(|i| results.rows.iter().any(|r| r.imp == *i))
        .collect();
    for imp in &measured {
        eprintln!("bench: usage phase for {imp} (fresh browser profile)");
        let mut config = base.clone();
        config["phases"] = json!(["usage"]);
        config["adapters"] = json!([imp]);
        match phase(&page, config).await {
            Ok(usage) => {
                results.usage.extend(usage.usage);
                for note in usage.notes {
                    if !results.notes.contains(&note) {
                        results.notes.push(note);
                    }
                }
            }
            Err(e) => results.notes.push(format!("usage {imp}: failed: {e:#}")),
        }
    }
    if quick {
        results
            .notes
            .push("quick run (--quick): fewer iterations and 10,000 cache entries".into());
    }
    results
        .notes
        .push("headless Chromium, fresh on-disk profile per phase (not incognito)".into());

    print_report(&results, quick);
    let out = root().join("target/bench");
    std::fs::create_dir_all(&out)?;
    std::fs::write(
        out.join("storage.json"),
        serde_json::to_string_pretty(&results.rows)? + "\n",
    )?;
    std::fs::write(
        out.join("storage-extra.json"),
        serde_json::to_string_pretty(&json!({
            "import_per_s": results.import_per_s,
            "usage": results.usage,
            "notes": results.notes,
        }))? + "\n",
    )?;
    println!(
        "\nWrote {} and {}",
        out.join("storage.json").display(),
        out.join("storage-extra.json").display()
    );
    Ok(())
}

/// Runs `runStorageBench(config)` in a new headless Chromium on `page`,
/// echoing its progress lines, and returns its results.
async fn phase(page: &str, config: Value) -> Result<Results> {
    let browser = Browser::launch_plain(Kind::Chromium, true).await?;
    let result =
        paperclip_e2e::bench::drive(&browser, page, "runStorageBench", config, PHASE_LIMIT).await;
    browser.close().await;
    serde_json::from_value(result?).context("reading runStorageBench's results")
}

fn print_report(results: &Results, quick: bool) {
    let get = |case: &str, imp: &str| results.rows.iter().find(|r| r.case == case && r.imp == imp);
    let num = |x: Option<f64>| x.map_or_else(|| "—".to_string(), |x| format!("{x:.3}"));
    let ratio = |x: Option<f64>| x.map_or_else(|| "—".to_string(), |x| format!("{x:.2}×"));

    println!(
        "\n{:<22} {:>28} {:>12} {:>12} {:>10} {:>12}  target met?",
        "case", "paperclip p50/p95/p99 ms", "raw-idb p95", "dexie p95", "pc÷raw", "pc÷dexie"
    );
    for case in CASES {
        let pc = get(case, "paperclip");
        let raw = get(case, "raw-idb").map(|r| r.p95_ms);
        let dexie = get(case, "dexie").map(|r| r.p95_ms);
        let pcs = pc.map_or_else(
            || "—".to_string(),
            |r| format!("{:.3}/{:.3}/{:.3}", r.p50_ms, r.p95_ms, r.p99_ms),
        );
        let to_raw = pc.zip(raw).map(|(p, r)| p.p95_ms / r);
        let to_dexie = pc.zip(dexie).map(|(p, d)| p.p95_ms / d);
        let met = match (to_raw, to_dexie) {
            (Some(r), Some(d)) if r <= MAX_RATIO_TO_RAW && d <= 1.0 => "yes",
            (Some(_), Some(_)) => "NO",
            _ => "n/a",
        };
        println!(
            "{case:<22} {pcs:>28} {:>12} {:>12} {:>10} {:>12}  {met}",
            num(raw),
            num(dexie),
            ratio(to_raw),
            ratio(to_dexie)
        );
    }
    println!("(target: paperclip p95 ≤ {MAX_RATIO_TO_RAW}× raw-idb p95 and ≤ dexie p95)");

    println!(
        "\n{:<22} {:<10} {:>5} {:>10} {:>10} {:>10}",
        "case", "impl", "n", "p50 ms", "p95 ms", "p99 ms"
    );
    for case in CASES {
        for imp in IMPLS {
            if let Some(r) = get(case, imp) {
                println!(
                    "{case:<22} {imp:<10} {:>5} {:>10.3} {:>10.3} {:>10.3}",
                    r.n, r.p50_ms, r.p95_ms, r.p99_ms
                );
            }
        }
    }

    let imports: Vec<String> = IMPLS
        .iter()
        .filter_map(|i| {
            let v = results.import_per_s.get(*i)?;
            let mark = if *i == "paperclip" {
                if *v >= MIN_IMPORT_PER_S {
                    " (target ≥ 5,000: met)"
                } else {
                    " (target ≥ 5,000: NOT met)"
                }
            } else {
                ""
            };
            Some(format!("{i} {v:.0}/s{mark}"))
        })
        .collect();
    println!(
        "\nimport, conversations per second: {}",
        imports.join(" · ")
    );

    let cache = if quick { "10,000" } else { "100,000" };
    let usage: Vec<String> = IMPLS
        .iter()
        .filter_map(|i| {
            let v = results
                .usage
                .get(&format!("{}_bytes", i.replace('-', "_")))?;
            let mark = if *i == "paperclip" {
                if *v < MAX_USAGE_BYTES {
                    " (target < 50 MB: met)"
                } else {
                    " (target < 50 MB: NOT met)"
                }
            } else {
                ""
            };
            Some(format!("{i} {:.1} MB{mark}", v / 1e6))
        })
        .collect();
    println!(
        "storage for 10,000 conversations + {cache} cache entries \
         (navigator.storage.estimate(), fresh profile each, MB = 10^6 bytes): {}",
        usage.join(" · ")
    );
    for note in &results.notes {
        println!("note: {note}");
    }
}
