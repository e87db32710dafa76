//! `cargo xtask bench storage [--quick]`: Paperclip's storage engine against
//! raw IndexedDB and Dexie in headless Chromium.
//!
//! Builds `paperclip-background` with the `bench` feature (its `BenchStore`
//! class) for wasm32 in its own target directory (`target/bench-build`, so
//! the extension's build is not invalidated), runs wasm-bindgen and wasm-opt
//! as `dist` does into `target/bench/www/pkg/paperclip_bench{.js,_bg.wasm}`,
//! stages `bench/*.html`, `bench/*.js` and Dexie's `dexie.mjs` (npm) next to
//! it, and runs the `bench_storage` binary of `paperclip-e2e`, which prints
//! the table and writes `target/bench/storage.json`.
//!
//! Dev shortcut: with `PAPERCLIP_BENCH_SKIP_WASM=1` the wasm build is
//! skipped and whatever `target/bench/www/pkg/` holds is used (when it holds
//! nothing, the page skips Paperclip's rows and says so in a note).

use std::fs;

use anyhow::{bail, Context, Result};

use crate::{cargo, dist, root, run_cmd, tools};

/// `cargo xtask bench <what> [args]`.
pub fn bench(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("storage") => storage(&args[1..]),
        _ => bail!("usage: cargo xtask bench storage [--quick]"),
    }
}

fn storage(args: &[String]) -> Result<()> {
    let root = root();
    let www = root.join("target/bench/www");
    tools::ensure_npm()?;
    tools::ensure_browsers(false)?;

    let pkg = www.join("pkg");
    if std::env::var_os("PAPERCLIP_BENCH_SKIP_WASM").is_some() {
        eprintln!(
            "xtask: PAPERCLIP_BENCH_SKIP_WASM is set: not building the wasm; using {}",
            pkg.display()
        );
    } else {
        tools::ensure_wasm_target()?;
        tools::ensure_wasm_bindgen()?;
        run_cmd(cargo().args([
            "build",
            "--release",
            "--target",
            "wasm32-unknown-unknown",
            "-p",
            "paperclip-background",
            "--features",
            "bench",
            "--target-dir",
            "target/bench-build",
        ]))?;
        if pkg.exists() {
            fs::remove_dir_all(&pkg)?;
        }
        dist::bindgen_and_opt(
            &root.join(
                "target/bench-build/wasm32-unknown-unknown/release/paperclip_background.wasm",
            ),
            "paperclip_bench",
            &root.join("target/bench/bindgen"),
            &pkg,
        )?;
    }

    fs::create_dir_all(&www)?;
    let src = root.join("bench");
    for entry in fs::read_dir(&src).with_context(|| format!("reading {}", src.display()))? {
        let path = entry?.path();
        if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("html" | "js")
        ) {
            fs::copy(&path, www.join(path.file_name().expect("a file name")))?;
        }
    }
    fs::copy(
        root.join("node_modules/dexie/dist/dexie.mjs"),
        www.join("dexie.mjs"),
    )
    .context("copying Dexie (npm) into the bench page")?;

    run_cmd(
        cargo()
            .args([
                "run",
                "--quiet",
                "-p",
                "paperclip-e2e",
                "--bin",
                "bench_storage",
                "--",
            ])
            .args(args),
    )
}
