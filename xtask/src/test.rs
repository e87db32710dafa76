//! `cargo xtask test`: every test, stage by stage, with the time of each.
//!
//! Stages: tools (installs what is missing), lint (rustfmt, clippy with
//! `-D warnings`, native and wasm32), core (native unit, property and doc
//! tests), core-is-browser-free (`cargo tree`), source checks (no
//! `instanceof` cast on a browser-extension type, the browser seam, no
//! import cycle, no file over 800 lines before its tests; see [`checks`]),
//! fuzz (each cargo-fuzz target for a few seconds, where rustup has the
//! nightly toolchain; see [`fuzz`]),
//! wasm (wasm-bindgen-tests of the storage engine in headless Chromium: on
//! IndexedDB in a page and in a service worker, and on the memory
//! backend), dist (with the size budgets of [`size::BUDGETS`]), web-ext lint, and end-to-end (Chromium and Firefox).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::{cargo, checks, dist, fuzz, output_of, root, run_cmd, size, tools};

/// Packages compiled to wasm32.
const WASM_PACKAGES: &[&str] = &[
    "paperclip-platform",
    "paperclip-ui",
    "paperclip-background",
    "paperclip-content",
    "paperclip-popup",
    "paperclip-devtools",
];
/// Packages built natively.
const NATIVE_PACKAGES: &[&str] = &["paperclip-core", "paperclip-pdf", "xtask", "paperclip-e2e"];
/// What the core crate must never depend on.
const BROWSER_CRATES: &[&str] = &[
    "wasm-bindgen",
    "web-sys",
    "js-sys",
    "rexie",
    "web-extensions-sys",
    "yew",
    "gloo",
];

struct Stages {
    done: Vec<(&'static str, Duration, bool)>,
    passed: u64,
    failed: u64,
}

impl Stages {
    fn run(&mut self, name: &'static str, f: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        eprintln!("\n=== {name}");
        let started = Instant::now();
        let result = f(self);
        self.done.push((name, started.elapsed(), result.is_ok()));
        result.map_err(|e| e.context(format!("stage `{name}` failed")))
    }

    fn print(&self) {
        eprintln!("\n{:<24} {:>9}  result", "stage", "seconds");
        for (name, took, ok) in &self.done {
            eprintln!(
                "{name:<24} {:>9.1}  {}",
                took.as_secs_f64(),
                if *ok { "ok" } else { "FAILED" }
            );
        }
        let total: Duration = self.done.iter().map(|s| s.1).sum();
        eprintln!("{:<24} {:>9.1}", "total", total.as_secs_f64());
        // The one closing line, summed over every test binary that ran.
        println!("{} passed, {} failed", self.passed, self.failed);
    }

    /// Runs a test command, echoing its output and adding up its
    /// `test result: ... N passed; M failed` lines.
    fn tests(&mut self, cmd: &mut Command) -> Result<()> {
        let mut child = cmd.stdout(Stdio::piped()).spawn()?;
        let stdout = child.stdout.take().expect("piped");
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            println!("{line}");
            if let Some((passed, failed)) = parse_result(&line) {
                self.passed += passed;
                self.failed += failed;
            }
        }
        let status = child.wait()?;
        if !status.success() {
            bail!("command failed ({status}): {cmd:?}");
        }
        Ok(())
    }
}

/// Reads `test result: ok. 5 passed; 0 failed; ...`.
fn parse_result(line: &str) -> Option<(u64, u64)> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let count = |word: &str| -> Option<u64> {
        rest.split([';', '.'])
            .map(str::trim)
            .find_map(|part| part.strip_suffix(word)?.trim().parse().ok())
    };
    Some((count("passed")?, count("failed")?))
}

/// Runs every test stage; fails on the first failing stage.
pub fn test(skip_lint: bool) -> Result<()> {
    let mut stages = Stages {
        done: Vec::new(),
        passed: 0,
        failed: 0,
    };
    let result = all(&mut stages, skip_lint);
    stages.print();
    result
}

fn all(stages: &mut Stages, skip_lint: bool) -> Result<()> {
    stages.run("tools", |_| {
        tools::ensure_wasm_target()?;
        tools::ensure_wasm_bindgen()?;
        tools::ensure_npm()?;
        tools::ensure_browsers(true)?;
        tools::ensure_geckodriver()
    })?;
    if !skip_lint {
        stages.run("lint", |_| lint())?;
    }
    stages.run("core", |s| {
        s.tests(cargo().args([
            "test",
            "-p",
            "paperclip-core",
            "-p",
            "paperclip-pdf",
            "--features",
            "paperclip-pdf/samples",
            "-p",
            "xtask",
        ]))
    })?;
    stages.run("core-is-browser-free", |_| core_is_browser_free())?;
    stages.run("source checks", |_| checks::run(&root()))?;
    stages.run("fuzz", |_| fuzz::fuzz_briefly())?;
    stages.run("wasm (Chromium)", |s| {
        s.tests(
            cargo()
                .args(["test", "--target", "wasm32-unknown-unknown"])
                .args(["-p", "paperclip-background", "--tests"])
                .env("CHROMEDRIVER", "/usr/bin/chromedriver"),
        )
    })?;
    stages.run("dist", |_| {
        let dist = dist::dist()?;
        size::check_budgets(&dist)?;
        dist::test_extensions_with_fail_points().map(|_| ())
    })?;
    stages.run("web-ext lint", |_| web_ext_lint())?;
    stages.run("end-to-end", |s| s.tests(&mut e2e_command(&[])))
}

/// `cargo test -p paperclip-e2e` with the browsers and drivers set.
fn e2e_command(filter: &[String]) -> Command {
    let mut c = cargo();
    c.args(["test", "-p", "paperclip-e2e", "--", "--test-threads=1"])
        .args(filter)
        .env("CHROMEDRIVER", "/usr/bin/chromedriver")
        .env("CHROMIUM", "/usr/bin/chromium")
        .env("FIREFOX", "/usr/bin/firefox-esr")
        .env("GECKODRIVER", geckodriver_path());
    c
}

/// Only the end-to-end tests (`cargo xtask e2e [FILTER]`).
pub fn end_to_end(filter: &[String]) -> Result<()> {
    tools::ensure_browsers(true)?;
    tools::ensure_geckodriver()?;
    run_cmd(&mut e2e_command(filter))
}

fn geckodriver_path() -> PathBuf {
    output_of(Command::new("sh").args(["-c", "command -v geckodriver"]))
        .map(|s| PathBuf::from(s.trim()))
        .filter(|p| p.exists())
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo/bin/geckodriver")
        })
}

fn lint() -> Result<()> {
    run_cmd(cargo().args(["fmt", "--all", "--", "--check"]))?;
    let mut native = cargo();
    native.args(["clippy", "--all-targets"]);
    for p in NATIVE_PACKAGES {
        native.args(["-p", p]);
    }
    run_cmd(native.args(["--", "-D", "warnings"]))?;
    let mut wasm = cargo();
    wasm.args([
        "clippy",
        "--all-targets",
        "--target",
        "wasm32-unknown-unknown",
    ]);
    for p in WASM_PACKAGES {
        wasm.args(["-p", p]);
    }
    run_cmd(wasm.args(["--", "-D", "warnings"]))
}

fn core_is_browser_free() -> Result<()> {
    let tree = output_of(cargo().args([
        "tree",
        "-p",
        "paperclip-core",
        "-e",
        "normal,build",
        "--prefix",
        "none",
    ]))
    .ok_or_else(|| anyhow::anyhow!("cargo tree failed"))?;
    let found: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| {
            BROWSER_CRATES
                .iter()
                .any(|b| name == b || name.starts_with(&format!("{b}-")))
        })
        .collect();
    if !found.is_empty() {
        bail!("paperclip-core depends on browser crates: {found:?}");
    }
    eprintln!("paperclip-core depends on none of {BROWSER_CRATES:?}");
    Ok(())
}

fn web_ext_lint() -> Result<()> {
    let out = Command::new(tools::npm_bin("web-ext"))
        .args(["lint", "--output", "json", "--source-dir"])
        .arg(root().join("dist/firefox"))
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let start = text.find('{').unwrap_or(0);
    let report: serde_json::Value = serde_json::from_str(&text[start..])
        .map_err(|e| anyhow::anyhow!("web-ext lint printed no JSON report ({e}): {text}"))?;
    for kind in ["errors", "warnings", "notices"] {
        for m in report[kind].as_array().into_iter().flatten() {
            eprintln!("web-ext {kind}: {} {}", m["code"], m["message"]);
        }
    }
    let errors = report["summary"]["errors"].as_u64().unwrap_or(u64::MAX);
    if errors != 0 {
        bail!("web-ext lint reports {errors} errors on dist/firefox");
    }
    eprintln!("web-ext lint: 0 errors");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_result;

    #[test]
    fn reads_cargo_and_wasm_bindgen_result_lines() {
        assert_eq!(
            parse_result("test result: ok. 29 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.95s"),
            Some((29, 0))
        );
        assert_eq!(
            parse_result("test result: FAILED. 4 passed; 1 failed; 0 ignored; 0 filtered out; finished in 0.40s"),
            Some((4, 1))
        );
        assert_eq!(parse_result("running 5 tests"), None);
    }
}
