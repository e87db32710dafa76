//! Installs what the build and tests need, skipping what is already there
//! at the right version.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Result};

use crate::{cargo, output_of, root, run_cmd};

/// wasm-bindgen CLI version; must equal the `wasm-bindgen` crate pin.
pub const WASM_BINDGEN: &str = "0.2.130";
/// geckodriver version installed from crates.io.
pub const GECKODRIVER: &str = "0.37.1";
/// cargo-fuzz version installed from crates.io (`cargo xtask fuzz`).
pub const CARGO_FUZZ: &str = "0.13.2";

/// Adds the wasm32 target when missing.
pub fn ensure_wasm_target() -> Result<()> {
    let installed = output_of(Command::new("rustup").args(["target", "list", "--installed"]))
        .unwrap_or_default();
    if !installed
        .lines()
        .any(|l| l.trim() == "wasm32-unknown-unknown")
    {
        eprintln!("xtask: adding the wasm32-unknown-unknown target");
        run_cmd(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    }
    Ok(())
}

/// Installs wasm-bindgen-cli at [`WASM_BINDGEN`] when missing or different.
pub fn ensure_wasm_bindgen() -> Result<()> {
    let have = output_of(Command::new("wasm-bindgen").arg("--version")).unwrap_or_default();
    if have.trim() != format!("wasm-bindgen {WASM_BINDGEN}") {
        eprintln!("xtask: installing wasm-bindgen-cli {WASM_BINDGEN} (about 5 minutes, once)");
        // Not --locked: a locked dependency of this version is gone from the registry.
        run_cmd(cargo().args(["install", "wasm-bindgen-cli", "--version", WASM_BINDGEN]))?;
    }
    Ok(())
}

/// `npm ci` when the tools in `node_modules` (binaryen, web-ext, Dexie for
/// the storage benchmark, and the official `openai` and `@anthropic-ai/sdk`
/// clients that check the fake provider's streams) are missing.
pub fn ensure_npm() -> Result<()> {
    let modules = root().join("node_modules");
    let bin = modules.join(".bin");
    if !bin.join("wasm-opt").exists()
        || !bin.join("web-ext").exists()
        || !modules.join("dexie/dist/dexie.mjs").exists()
        || !modules.join("openai/package.json").exists()
        || !modules.join("@anthropic-ai/sdk/package.json").exists()
    {
        if output_of(Command::new("npm").arg("--version")).is_none() {
            bail!(
                "npm is missing: install Node.js 20 and npm (e.g. apt-get install -y nodejs npm)"
            );
        }
        eprintln!(
            "xtask: installing npm tools (binaryen, web-ext, dexie, openai, @anthropic-ai/sdk)"
        );
        run_cmd(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(root()),
        )?;
    }
    Ok(())
}

/// Path of a tool from `node_modules/.bin`.
pub fn npm_bin(name: &str) -> PathBuf {
    root().join("node_modules/.bin").join(name)
}

fn is_root() -> bool {
    output_of(Command::new("id").arg("-u")).is_some_and(|s| s.trim() == "0")
}

/// Chromium + chromedriver, and Firefox ESR when `firefox` is set, from
/// Debian's packages (when root; otherwise says what to run).
pub fn ensure_browsers(firefox: bool) -> Result<()> {
    let mut missing = Vec::new();
    if !PathBuf::from("/usr/bin/chromium").exists() {
        missing.push("chromium");
    }
    if !PathBuf::from("/usr/bin/chromedriver").exists() {
        missing.push("chromium-driver");
    }
    if firefox && !PathBuf::from("/usr/bin/firefox-esr").exists() {
        missing.push("firefox-esr");
    }
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() {
        bail!(
            "missing browsers; run: sudo apt-get install -y {}",
            missing.join(" ")
        );
    }
    eprintln!("xtask: installing {}", missing.join(" "));
    run_cmd(Command::new("apt-get").args(["update", "-qq"]))?;
    run_cmd(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// geckodriver at [`GECKODRIVER`], from crates.io.
pub fn ensure_geckodriver() -> Result<()> {
    let have = output_of(Command::new("geckodriver").arg("--version")).unwrap_or_default();
    if !have.starts_with(&format!("geckodriver {GECKODRIVER}")) {
        eprintln!("xtask: installing geckodriver {GECKODRIVER} (about 5 minutes, once)");
        run_cmd(cargo().args(["install", "geckodriver", "--version", GECKODRIVER]))?;
    }
    Ok(())
}

/// Installs cargo-fuzz at [`CARGO_FUZZ`] when missing or different.
pub fn ensure_cargo_fuzz() -> Result<()> {
    let have = output_of(cargo().args(["fuzz", "--version"])).unwrap_or_default();
    if !have.contains(CARGO_FUZZ) {
        eprintln!("xtask: installing cargo-fuzz {CARGO_FUZZ} (about 4 minutes, once)");
        run_cmd(cargo().args(["install", "cargo-fuzz", "--version", CARGO_FUZZ]))?;
    }
    Ok(())
}
