//! `cargo xtask`: Paperclip's build driver.
//!
//! * `cargo xtask dist` builds every entry crate for wasm32 in release, runs
//!   the pinned wasm-bindgen CLI and wasm-opt, and writes `dist/chromium/`,
//!   `dist/firefox/`, their zip packages and `dist/sizes.json`.
//! * `cargo xtask run [--headless]` builds, then opens Chromium with the
//!   extension on the bundled demo page (or runs the scripted demo).
//! * `cargo xtask test` runs every test: native, wasm in a real browser, and
//!   end-to-end in Chromium and Firefox.
//! * `cargo xtask bench storage` compares Paperclip's storage engine with
//!   raw IndexedDB and Dexie in headless Chromium; `cargo xtask bench
//!   resilience` its breaker, retry decision and recovery with cockatiel
//!   (see [`bench`]).
//!
//! Each command installs what it needs when missing (see [`tools`]).

mod bench;
mod bench_all;
mod checks;
mod cycles;
mod dist;
mod fuzz;
mod size;
mod test;
mod tools;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

fn main() {
    if let Err(e) = run() {
        eprintln!("xtask: error: {e:#}");
        std::process::exit(1);
    }
}

const USAGE: &str = "usage: cargo xtask <command>

commands:
  dist                 build dist/chromium, dist/firefox, their zips and dist/sizes.json
  run [--headless] [--firefox]
                       build, then show the extension on the demo page in Chromium
                       (--headless, or no display: scripted demo, prints the answer,
                       saves dist/demo.png; --firefox: the scripted demo in Firefox)
  size                 build, then per wasm the crates and functions that take the most
                       bytes (twiggy on a build with names kept)
  test [--skip-lint]   every test: core, wasm in Chromium, end-to-end in Chromium and Firefox
  e2e [FILTER]         build, then only the end-to-end tests (those matching FILTER)
  fuzz [SECONDS]       coverage-guided fuzzing (cargo-fuzz, nightly) of the protocol
                       decoder, import parser, event-stream decoder, provider stream
                       parsers, Markdown parser and page extractor, SECONDS each
                       (default 60)
  bench storage [--quick]
                       storage p50/p95/p99 of Paperclip, raw IndexedDB and Dexie in
                       headless Chromium; writes target/bench/storage.json
                       (--quick: fewer iterations, only to check that it runs)
  bench resilience [--quick]
                       breaker check, retry decision, request and recovery time of
                       Paperclip and cockatiel in headless Chromium with the fake
                       provider; writes target/bench/resilience.json
  bench agent [--quick]
                       activation time, page reading on 100 KB / 1 MB pages and bytes
                       added before activation, headless Chromium; writes
                       target/bench/agent.json
  bench soak [--quick]  a long session (1,600 asks on 40 sites with faults, 12,000 stored
                       conversations, export and import) with the built extension in
                       headless Chromium, sampling the worker's and the agent's memory;
                       fails when a memory bound is crossed; writes target/bench/soak.json
  bench all [--quick] [--no-run] [--write-baseline]
                       every bench, then each ratio of ours to a peer or floor of the
                       same run next to bench/baseline.json; fails on a ratio grown by
                       more than 25% or a failed bench (--no-run: only compare the
                       last runs' files; --write-baseline: store the ratios as the
                       baseline)
  bench telemetry [--quick]
                       counter add and histogram record (worker and page paths) next
                       to the OpenTelemetry JS SDK, and a sustained load with its
                       accounting, headless Chromium; writes target/bench/telemetry.json
";

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().any(|a| a == name);
    match args.first().map(String::as_str) {
        Some("dist") => dist::dist().map(|_| ()),
        Some("run") => {
            let headless = flag("--headless")
                || (std::env::var_os("DISPLAY").is_none()
                    && std::env::var_os("WAYLAND_DISPLAY").is_none());
            dist::dist()?;
            dist::test_extensions()?;
            tools::ensure_browsers(false)?;
            let mut demo = cargo();
            demo.args([
                "run",
                "--quiet",
                "-p",
                "paperclip-e2e",
                "--bin",
                "demo",
                "--",
            ]);
            if headless {
                demo.arg("--headless");
            }
            if flag("--firefox") {
                tools::ensure_browsers(true)?;
                tools::ensure_geckodriver()?;
                demo.arg("--firefox");
            }
            demo.env("PAPERCLIP_DIST", root().join("dist"));
            run_cmd(&mut demo)
        }
        Some("test") => test::test(flag("--skip-lint")),
        Some("size") => size::size(),
        Some("bench") if args.get(1).map(String::as_str) == Some("all") => {
            bench_all::all(&args[2..])
        }
        Some("bench") => bench::bench(&args[1..]),
        Some("fuzz") => {
            let seconds = match args.get(1) {
                Some(s) => s
                    .parse()
                    .with_context(|| format!("fuzz: `{s}` is not a number of seconds"))?,
                None => 60,
            };
            fuzz::fuzz(seconds)
        }
        Some("e2e") => {
            dist::dist()?;
            dist::test_extensions_with_fail_points()?;
            test::end_to_end(&args[1..])
        }
        _ => {
            eprint!("{USAGE}");
            bail!("unknown or missing command")
        }
    }
}

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// `cargo`, as invoked by the user (respects `$CARGO`).
pub fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(root());
    c
}

/// Runs `cmd`, failing with its command line when it fails.
pub fn run_cmd(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("could not start {cmd:?}"))?;
    if !status.success() {
        bail!("command failed ({status}): {cmd:?}");
    }
    Ok(())
}

/// Runs `cmd` and returns its stdout, or `None` when it cannot run.
pub fn output_of(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}
