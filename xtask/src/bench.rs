//! `cargo xtask bench storage [--quick]`: Paperclip's storage engine against
//! raw IndexedDB and Dexie in headless Chromium; `cargo xtask bench
//! resilience [--quick]`: its breaker and retry decision against cockatiel,
//! and recovery after an outage; `cargo xtask bench telemetry [--quick]`:
//! its telemetry engine against the OpenTelemetry JS metrics SDK, and a
//! sustained load with its loss accounting; `cargo xtask bench devtools
//! [--quick]`: the devtools panel's tabs at scale (see `bench_devtools`).
//!
//! Builds `paperclip-background` with the `bench` feature (its `BenchStore`
//! class) for wasm32 in its own target directory (`target/bench-build`, so
//! the extension's build is not invalidated), runs wasm-bindgen and wasm-opt
//! as `dist` does into `target/bench/www/pkg/paperclip_bench{.js,_bg.wasm}`,
//! stages `bench/*.html`, `bench/*.js`, Dexie's `dexie.mjs` and cockatiel's
//! ESM build (npm) next to it (for `telemetry`, also the OpenTelemetry
//! SDK's ESM builds in `otel/`), and runs the `bench_storage` (or
//! `bench_resilience`, `bench_telemetry`) binary of `paperclip-e2e`, which
//! prints the table and writes `target/bench/storage.json` (or
//! `resilience.json`, `telemetry.json`).
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
        Some("storage") => {
            stage()?;
            run_bin("bench_storage", &args[1..])
        }
        Some("resilience") => {
            stage()?;
            run_bin("bench_resilience", &args[1..])
        }
        Some("telemetry") => {
            stage()?;
            stage_otel()?;
            run_bin("bench_telemetry", &args[1..])
        }
        Some("agent") => {
            crate::dist::dist()?;
            crate::dist::test_extensions()?;
            stage()?;
            fs::copy(
                root().join("content/static/content/extract.js"),
                root().join("target/bench/www/extract.js"),
            )?;
            // The PDF reader module, as the extension ships it.
            fs::copy(
                root().join("dist/chromium/pkg/pdf.wasm"),
                root().join("target/bench/www/pdf.wasm"),
            )?;
            run_bin("bench_agent", &args[1..])
        }
        Some("soak") => {
            crate::dist::dist()?;
            crate::dist::test_extensions()?;
            run_bin("bench_soak", &args[1..])
        }
        Some("devtools") => {
            crate::dist::dist()?;
            crate::dist::test_extensions()?;
            run_bin("bench_devtools", &args[1..])
        }
        _ => {
            bail!("usage: cargo xtask bench storage|resilience|telemetry|agent|devtools|soak|all [--quick]")
        }
    }
}

fn run_bin(name: &str, args: &[String]) -> Result<()> {
    run_cmd(
        cargo()
            .args(["run", "--quiet", "-p", "paperclip-e2e", "--bin", name, "--"])
            .args(args),
    )
}

/// cockatiel's ESM build imports `./x` for `./x.js`, which a browser does
/// not resolve: copies `from` to `to` adding the extension to relative
/// import specifiers.
fn stage_esm(from: &std::path::Path, to: &std::path::Path) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let path = entry?.path();
        let target = to.join(path.file_name().expect("a file name"));
        if path.is_dir() {
            stage_esm(&path, &target)?;
        } else if path.extension().and_then(|e| e.to_str()) == Some("js") {
            let text = fs::read_to_string(&path)?;
            let mut out = String::with_capacity(text.len() + 256);
            for line in text.lines() {
                out.push_str(&with_js_extension(line));
                out.push('\n');
            }
            fs::write(&target, out)?;
        }
    }
    Ok(())
}

/// `line` with `from './x'` (or `"../x"`) turned into `from './x.js'`.
fn with_js_extension(line: &str) -> String {
    for quote in ['\'', '"'] {
        for dots in ["./", "../"] {
            let needle = format!("from {quote}{dots}");
            if let Some(at) = line.find(&needle) {
                let start = at + needle.len() - dots.len();
                if let Some(len) = line[start..].find(quote) {
                    let spec = &line[start..start + len];
                    if !spec.ends_with(".js") {
                        return format!("{}{spec}.js{}", &line[..start], &line[start + len..]);
                    }
                }
            }
        }
    }
    line.to_string()
}

/// Builds the bench wasm and stages the pages and peer libraries.
fn stage() -> Result<()> {
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

    stage_esm(
        &root.join("node_modules/cockatiel/dist/esm"),
        &www.join("cockatiel"),
    )
    .context("staging cockatiel (npm) for the bench page")
}

/// The OpenTelemetry JS packages the telemetry bench page loads (the
/// metrics SDK and what it imports), from `node_modules/@opentelemetry/`.
const OTEL_PACKAGES: [&str; 5] = [
    "api",
    "core",
    "resources",
    "semantic-conventions",
    "sdk-metrics",
];

/// Stages the OpenTelemetry metrics SDK (npm) for `bench/telemetry.html`:
/// each package's ESM build (`dist/**/*.mjs`, whose relative imports carry
/// their extension) and `package.json` (its version) under
/// `target/bench/www/otel/<package>/`; the page's import map resolves the
/// bare specifiers between them.
fn stage_otel() -> Result<()> {
    let root = root();
    let modules = root.join("node_modules/@opentelemetry");
    if !modules.join("sdk-metrics/package.json").exists() {
        eprintln!("xtask: installing npm tools (@opentelemetry/sdk-metrics for the bench)");
        run_cmd(
            std::process::Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&root),
        )?;
    }
    let otel = root.join("target/bench/www/otel");
    if otel.exists() {
        fs::remove_dir_all(&otel)?;
    }
    for package in OTEL_PACKAGES {
        let from = modules.join(package);
        let to = otel.join(package);
        copy_mjs(&from.join("dist"), &to).with_context(|| {
            format!("staging @opentelemetry/{package} (npm) for the bench page")
        })?;
        fs::copy(from.join("package.json"), to.join("package.json"))?;
    }
    Ok(())
}

/// Copies the `.mjs` files under `from` to `to`, keeping the tree.
fn copy_mjs(from: &std::path::Path, to: &std::path::Path) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let path = entry?.path();
        let target = to.join(path.file_name().expect("a file name"));
        if path.is_dir() {
            copy_mjs(&path, &target)?;
        } else if path.extension().and_then(|e| e.to_str()) == Some("mjs") {
            fs::copy(&path, &target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::with_js_extension;

    #[test]
    fn relative_imports_get_their_extension() {
        assert_eq!(
            with_js_extension("export * from './backoff/Backoff';"),
            "export * from './backoff/Backoff.js';"
        );
        assert_eq!(
            with_js_extension("import { a } from \"../common/Event\";"),
            "import { a } from \"../common/Event.js\";"
        );
        assert_eq!(
            with_js_extension("import x from './x.js';"),
            "import x from './x.js';"
        );
        assert_eq!(with_js_extension("const from = 1;"), "const from = 1;");
    }
}
