//! `cargo xtask bench all [--quick] [--no-run] [--write-baseline]`: every
//! bench (with `--no-run`, none: the files of the last runs are read), one
//! after the other, then each ratio of ours to a peer or floor measured
//! in the same run (`ours ÷ peer`, at p50 and p95, from the shared rows
//! `{case, impl, n, p50_ms, p95_ms, p99_ms}` of `target/bench/*.json`)
//! next to the committed baseline, `bench/baseline.json`. A ratio whose p50
//! grew by more than [`TOLERANCE`] is a regression: it is printed, and the
//! command fails (as it does when a bench fails, e.g. the soak crossing a
//! memory bound, after the others ran). Ratios do not depend on how fast
//! the machine is; absolute times do, so benches without a peer in the
//! same run (the agent's, the panel's) are run and printed by their own
//! bench but not compared here. `--write-baseline` stores this run's
//! ratios as the new baseline.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::root;

/// Every bench, in the order run.
const BENCHES: &[&str] = &[
    "storage",
    "resilience",
    "telemetry",
    "agent",
    "devtools",
    "soak",
];
/// How much a ratio's p50 may grow over its baseline before it counts as a
/// regression (1.25: by more than 25%).
pub const TOLERANCE: f64 = 1.25;

/// One row of a bench's table, as every bench writes it.
#[derive(Debug, Clone, Deserialize)]
pub struct Row {
    /// What is measured.
    pub case: String,
    /// Who: ours when it starts with "paperclip", else a peer or floor.
    #[serde(rename = "impl")]
    pub implementation: String,
    /// Median, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
}

/// Ours ÷ a peer, in one case of one bench.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    /// The bench (`storage`, `telemetry`, …).
    pub bench: String,
    /// The case.
    pub case: String,
    /// Our implementation's row.
    pub ours: String,
    /// The peer's (or floor's) row.
    pub peer: String,
    /// p50 ours ÷ p50 peer.
    pub p50: f64,
    /// p95 ours ÷ p95 peer.
    pub p95: f64,
}

impl Ratio {
    fn key(&self) -> (String, String, String, String) {
        (
            self.bench.clone(),
            self.case.clone(),
            self.ours.clone(),
            self.peer.clone(),
        )
    }
}

/// Every ratio of one bench's rows: in each case, each of our rows over
/// each peer row (rows with a time of zero give none).
pub fn ratios(bench: &str, rows: &[Row]) -> Vec<Ratio> {
    let ours = |r: &&Row| r.implementation.starts_with("paperclip");
    let mut out = Vec::new();
    for mine in rows.iter().filter(ours) {
        for peer in rows.iter().filter(|r| r.case == mine.case && !ours(r)) {
            if peer.p50_ms > 0.0 && peer.p95_ms > 0.0 {
                out.push(Ratio {
                    bench: bench.into(),
                    case: mine.case.clone(),
                    ours: mine.implementation.clone(),
                    peer: peer.implementation.clone(),
                    p50: mine.p50_ms / peer.p50_ms,
                    p95: mine.p95_ms / peer.p95_ms,
                });
            }
        }
    }
    out
}

/// A ratio of this run next to its baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Compared {
    /// This run's.
    pub now: Ratio,
    /// The baseline's p50 ratio, when it has this one.
    pub baseline_p50: Option<f64>,
}

impl Compared {
    /// This run's p50 ratio ÷ the baseline's.
    pub fn change(&self) -> Option<f64> {
        self.baseline_p50
            .filter(|b| *b > 0.0)
            .map(|b| self.now.p50 / b)
    }

    /// Grew by more than [`TOLERANCE`].
    pub fn regressed(&self) -> bool {
        self.change().is_some_and(|c| c > TOLERANCE)
    }
}

/// Each ratio of `now` with its baseline (and the baseline's ratios this
/// run did not measure, by key, for the report).
pub fn compare(baseline: &[Ratio], now: &[Ratio]) -> (Vec<Compared>, Vec<Ratio>) {
    let base: BTreeMap<_, _> = baseline.iter().map(|r| (r.key(), r)).collect();
    let compared = now
        .iter()
        .map(|r| Compared {
            now: r.clone(),
            baseline_p50: base.get(&r.key()).map(|b| b.p50),
        })
        .collect();
    let measured: std::collections::BTreeSet<_> = now.iter().map(Ratio::key).collect();
    let missing = baseline
        .iter()
        .filter(|b| !measured.contains(&b.key()))
        .cloned()
        .collect();
    (compared, missing)
}

/// `cargo xtask bench all`.
pub fn all(args: &[String]) -> Result<()> {
    let quick = args.iter().any(|a| a == "--quick");
    let write = args.iter().any(|a| a == "--write-baseline");
    let run = !args.iter().any(|a| a == "--no-run");
    let out = root().join("target/bench");
    let mut failed = Vec::new();
    for (i, bench) in BENCHES.iter().enumerate().filter(|_| run) {
        eprintln!("bench all: {bench} ({} of {})", i + 1, BENCHES.len());
        // Rows of an earlier run must not pass for this one's.
        let _ = std::fs::remove_file(out.join(format!("{bench}.json")));
        let mut bench_args = vec![bench.to_string()];
        if quick {
            bench_args.push("--quick".into());
        }
        if let Err(e) = crate::bench::bench(&bench_args) {
            eprintln!("bench all: {bench} failed: {e:#}");
            failed.push(format!("{bench}: {e:#}"));
        }
    }
    let mut now = Vec::new();
    for bench in BENCHES {
        let path = out.join(format!("{bench}.json"));
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        // The soak writes its samples, not rows.
        if let Ok(rows) = serde_json::from_str::<Vec<Row>>(&text) {
            now.extend(ratios(bench, &rows));
        }
    }
    let baseline_path = root().join("bench/baseline.json");
    let baseline: Vec<Ratio> = match std::fs::read_to_string(&baseline_path) {
        Ok(text) => serde_json::from_str(&text)
            .with_context(|| format!("reading {}", baseline_path.display()))?,
        Err(_) => Vec::new(),
    };
    let (compared, missing) = compare(&baseline, &now);
    println!("{}", table(&compared, &missing));
    if quick {
        println!("(--quick: few samples, the ratios are rough)");
    }
    if write {
        std::fs::write(&baseline_path, serde_json::to_string_pretty(&now)? + "\n")?;
        println!("wrote {} ({} ratios)", baseline_path.display(), now.len());
    }
    let regressed: Vec<String> = compared
        .iter()
        .filter(|c| c.regressed())
        .map(|c| {
            format!(
                "{} {} ({} ÷ {}): {:.2}× → {:.2}×",
                c.now.bench,
                c.now.case,
                c.now.ours,
                c.now.peer,
                c.baseline_p50.unwrap_or_default(),
                c.now.p50
            )
        })
        .collect();
    if !regressed.is_empty() {
        println!("regressed by more than {:.0}%:", (TOLERANCE - 1.0) * 100.0);
        for r in &regressed {
            println!("  {r}");
        }
    }
    failed.extend(regressed);
    if !failed.is_empty() {
        bail!(
            "bench all: {} problem(s): {}",
            failed.len(),
            failed.join("; ")
        );
    }
    Ok(())
}

/// The report, in the shared Markdown row format.
pub fn table(compared: &[Compared], missing: &[Ratio]) -> String {
    let mut t = String::from(
        "| bench | case | ours ÷ peer | p50 ratio | p95 ratio | baseline p50 | change | |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for c in compared {
        let (baseline, change, verdict) = match (c.baseline_p50, c.change()) {
            (Some(b), Some(ch)) => (
                format!("{b:.2}×"),
                format!("{:+.0}%", (ch - 1.0) * 100.0),
                if c.regressed() { "regressed" } else { "ok" },
            ),
            _ => ("—".into(), "—".into(), "new"),
        };
        t.push_str(&format!(
            "| {} | {} | {} ÷ {} | {:.2}× | {:.2}× | {baseline} | {change} | {verdict} |\n",
            c.now.bench, c.now.case, c.now.ours, c.now.peer, c.now.p50, c.now.p95
        ));
    }
    for m in missing {
        t.push_str(&format!(
            "| {} | {} | {} ÷ {} | — | — | {:.2}× | — | not measured |\n",
            m.bench, m.case, m.ours, m.peer, m.p50
        ));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(case: &str, who: &str, p50: f64, p95: f64) -> Row {
        Row {
            case: case.into(),
            implementation: who.into(),
            p50_ms: p50,
            p95_ms: p95,
        }
    }

    #[test]
    fn each_of_ours_over_each_peer_in_its_case() {
        let rows = [
            row("request", "paperclip", 3.0, 5.0),
            row("request", "fetch", 2.0, 4.0),
            row("request", "cockatiel", 1.5, 2.5),
            row("check", "paperclip", 1.0, 1.0),
            row("check", "paperclip-per-call", 2.0, 2.0),
            row("alone", "paperclip", 1.0, 1.0),
            row("check", "zero", 0.0, 1.0),
        ];
        let got: Vec<_> = ratios("resilience", &rows)
            .into_iter()
            .map(|r| (r.case, r.ours, r.peer, r.p50, r.p95))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "request".into(),
                    "paperclip".into(),
                    "fetch".into(),
                    1.5,
                    1.25
                ),
                (
                    "request".into(),
                    "paperclip".into(),
                    "cockatiel".into(),
                    2.0,
                    2.0
                ),
            ]
        );
    }

    #[test]
    fn a_ratio_grown_past_the_tolerance_is_a_regression() {
        let ratio = |case: &str, p50: f64| Ratio {
            bench: "b".into(),
            case: case.into(),
            ours: "paperclip".into(),
            peer: "peer".into(),
            p50,
            p95: p50,
        };
        let baseline = [ratio("same", 2.0), ratio("worse", 2.0), ratio("gone", 1.0)];
        let now = [ratio("same", 2.4), ratio("worse", 2.6), ratio("new", 1.0)];
        let (compared, missing) = compare(&baseline, &now);
        let verdicts: Vec<_> = compared
            .iter()
            .map(|c| (c.now.case.as_str(), c.regressed(), c.baseline_p50))
            .collect();
        assert_eq!(
            verdicts,
            [
                ("same", false, Some(2.0)),
                ("worse", true, Some(2.0)),
                ("new", false, None)
            ]
        );
        assert_eq!(missing, [ratio("gone", 1.0)]);
        let t = table(&compared, &missing);
        assert!(
            t.contains(
                "| b | worse | paperclip ÷ peer | 2.60× | 2.60× | 2.00× | +30% | regressed |"
            ),
            "{t}"
        );
        assert!(
            t.contains("| b | new | paperclip ÷ peer | 1.00× | 1.00× | — | — | new |"),
            "{t}"
        );
        assert!(
            t.contains("| b | gone | paperclip ÷ peer | — | — | 1.00× | — | not measured |"),
            "{t}"
        );
    }
}
