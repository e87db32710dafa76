//! `cargo xtask fuzz [SECONDS]`: coverage-guided fuzzing (cargo-fuzz,
//! libFuzzer with AddressSanitizer) of the core's parsers — the protocol
//! decoder, the import parser, the event-stream decoder, both providers'
//! stream parsers and error bodies, the Markdown parser and the page
//! extractor (`fuzz/fuzz_targets/`, seeded from `fuzz/seeds/`) — each for
//! SECONDS (default 60). Needs the nightly toolchain (rustup's
//! `nightly`); installs cargo-fuzz when missing. A crash stops the run
//! with the input's path under `fuzz/artifacts/<target>/`; turn it into a
//! regression test in the core before fixing it.

use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{output_of, root, run_cmd, tools};

/// The fuzz targets, in `fuzz/Cargo.toml`.
pub const TARGETS: [&str; 6] = [
    "protocol",
    "import",
    "event_stream",
    "chat_stream",
    "markdown",
    "extract",
];

/// Seconds per target in `cargo xtask test`.
pub const TEST_SECONDS: u32 = 5;

fn have_nightly() -> bool {
    output_of(Command::new("rustup").args(["run", "nightly", "rustc", "--version"]))
        .unwrap_or_default()
        .contains("nightly")
}

/// The `fuzz` stage of `cargo xtask test`: every target for
/// [`TEST_SECONDS`]; without the nightly toolchain (which cannot be
/// installed here) it says it was skipped, and the property tests over
/// arbitrary input in the core stage are what remains.
pub fn fuzz_briefly() -> Result<()> {
    if !have_nightly() {
        eprintln!("xtask: fuzz skipped: rustup has no nightly toolchain");
        return Ok(());
    }
    fuzz(TEST_SECONDS)
}

/// Runs every target for `seconds`.
pub fn fuzz(seconds: u32) -> Result<()> {
    if !have_nightly() {
        bail!("cargo xtask fuzz needs rustup's nightly toolchain (`rustup toolchain list`)");
    }
    tools::ensure_cargo_fuzz()?;
    for target in TARGETS {
        eprintln!("xtask: fuzzing `{target}` for {seconds} s");
        let corpus = root().join("fuzz/corpus").join(target);
        std::fs::create_dir_all(&corpus)
            .with_context(|| format!("creating {}", corpus.display()))?;
        let mut run = Command::new("rustup");
        run.current_dir(root().join("fuzz"))
            .env_remove("RUSTUP_TOOLCHAIN")
            .env_remove("CARGO")
            .args(["run", "nightly", "cargo", "fuzz", "run", target])
            .arg(&corpus);
        // Kept inputs to start from (`fuzz/seeds/<target>/`, in git): read,
        // never written.
        let seeds = root().join("fuzz/seeds").join(target);
        if seeds.is_dir() {
            run.arg(&seeds);
        }
        run.args([
            "--",
            &format!("-max_total_time={seconds}"),
            "-rss_limit_mb=2048",
            "-max_len=65536",
        ]);
        run_cmd(&mut run).with_context(|| {
            format!("fuzz target `{target}` found a crash: see fuzz/artifacts/{target}/")
        })?;
    }
    eprintln!("xtask: {} targets fuzzed, no crash", TARGETS.len());
    Ok(())
}
