//! Size budgets and `cargo xtask size`.
//!
//! The budgets (gzip bytes of each shipped wasm and script) are the only
//! performance numbers `cargo xtask test` asserts: its `dist` stage reads
//! `dist/sizes.json` and fails when a file is over its budget.
//!
//! `cargo xtask size` shows what the bytes are: it rebuilds each wasm of
//! `dist/` exactly as shipped (wasm-bindgen, then `wasm-opt -Oz`) but keeps
//! the function names, and prints, per wasm, the crates and the functions
//! that take the most code, with [twiggy](https://crates.io/crates/twiggy)
//! (installed into `target/tools` on first use).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::{cargo, dist, root, run_cmd, tools};

/// twiggy version installed from crates.io for `cargo xtask size`.
pub const TWIGGY: &str = "0.8.0";

/// Gzip budget of each file of `dist/chromium` that has one: today's
/// ceiling, so the bytes only go down. The targets (background
/// ≤ 350 KB, each page ≤ 180 KB) are further down and not met yet. (The
/// popup's was raised once, 365,000 → 366,500, for the options page's
/// import in parts: +3.2 KB; lowered to 364,000 and the panel's to
/// 432,000 when `platform::call` stopped inlining its sending code into
/// every caller: −4.8 KB and −1.9 KB.)
pub const BUDGETS: &[(&str, u64)] = &[
    ("pkg/background_bg.wasm", 800_000),
    ("pkg/agent_bg.wasm", 315_000),
    ("pkg/popup_bg.wasm", 364_000),
    ("pkg/devtools_bg.wasm", 432_000),
    ("pkg/pdf.wasm", 510_000),
    ("content/loader.js", 4_000),
    ("content/extract.js", 3_000),
];

/// One row of `dist/sizes.json`.
#[derive(Deserialize)]
pub struct Row {
    pub file: String,
    pub gzip: u64,
}

/// The files over their budget (or missing), one sentence each.
pub fn over_budget(rows: &[Row], budgets: &[(&str, u64)]) -> Vec<String> {
    budgets
        .iter()
        .filter_map(
            |(file, budget)| match rows.iter().find(|r| r.file == *file) {
                None => Some(format!("{file}: not in dist/sizes.json")),
                Some(r) if r.gzip > *budget => Some(format!(
                    "{file}: {} bytes gzip, over its budget of {budget} by {}",
                    r.gzip,
                    r.gzip - budget
                )),
                Some(_) => None,
            },
        )
        .collect()
}

/// Fails when a file of `dist/sizes.json` is over its budget.
pub fn check_budgets(dist: &Path) -> Result<()> {
    let path = dist.join("sizes.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let rows: Vec<Row> = serde_json::from_str(&text)?;
    let over = over_budget(&rows, BUDGETS);
    if !over.is_empty() {
        bail!(
            "size budgets (xtask/src/size.rs) crossed:\n  {}",
            over.join("\n  ")
        );
    }
    eprintln!("xtask: every file within its size budget");
    Ok(())
}

/// The crate a function's code belongs to, from its demangled name: the
/// first path segment, except that generic code instantiated for
/// `serde_json` is counted as serde_json's, and the standard library's
/// crates are one line.
pub fn crate_of(name: &str) -> String {
    if name.starts_with('"') || name.starts_with("custom section") || name.starts_with("data ") {
        return format!("[{name}]");
    }
    if name.contains("serde_json") {
        return "serde_json (instantiated)".into();
    }
    let trimmed = name.trim_start_matches(['<', '&', '(', '[', '*']);
    let trimmed = trimmed
        .strip_prefix("mut ")
        .or_else(|| trimmed.strip_prefix("dyn "))
        .or_else(|| trimmed.strip_prefix("const "))
        .unwrap_or(trimmed);
    let first: String = trimmed
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    match first.as_str() {
        "core" | "alloc" | "std" | "compiler_builtins" | "dlmalloc" => "std (core, alloc)".into(),
        "" => "[other]".into(),
        f => {
            if name.contains("serde") && f.starts_with("paperclip") {
                format!("{f} (serde derives)")
            } else {
                f.to_string()
            }
        }
    }
}

#[derive(Deserialize)]
struct Item {
    name: String,
    shallow_size: u64,
}

/// `cargo xtask size`.
pub fn size() -> Result<()> {
    let dist = dist::dist()?;
    ensure_twiggy()?;
    let twiggy = root().join("target/tools/bin/twiggy");
    let out = root().join("target/size");
    for e in dist::ENTRIES {
        let wasm = root()
            .join("target/wasm32-unknown-unknown/release")
            .join(format!("{}.wasm", e.lib));
        let dir = out.join(e.out);
        std::fs::create_dir_all(&dir)?;
        run_cmd(
            Command::new("wasm-bindgen")
                .args(["--target", "web", "--no-typescript", "--keep-debug"])
                .args(["--out-name", e.out])
                .arg("--out-dir")
                .arg(&dir)
                .arg(&wasm),
        )?;
        let named = dir.join("named.wasm");
        run_cmd(
            Command::new(tools::npm_bin("wasm-opt"))
                .args(["-Oz", "--debuginfo", "--strip-dwarf"])
                .arg(dir.join(format!("{}_bg.wasm", e.out)))
                .arg("-o")
                .arg(&named),
        )?;
        let json = crate::output_of(
            Command::new(&twiggy)
                .args(["top", "-n", "1000000", "-f", "json"])
                .arg(&named),
        )
        .context("twiggy top failed")?;
        let items: Vec<Item> = serde_json::from_str(&json)?;
        report(e.out, &items, &dist)?;
    }
    Ok(())
}

fn report(name: &str, items: &[Item], dist: &Path) -> Result<()> {
    let names_section = |i: &&Item| i.name.starts_with('"') || i.name.starts_with("custom section");
    let shipped: u64 = items
        .iter()
        .filter(|i| !names_section(i))
        .map(|i| i.shallow_size)
        .sum();
    let mut crates: BTreeMap<String, (u64, usize)> = BTreeMap::new();
    for i in items.iter().filter(|i| !names_section(i)) {
        let c = crates.entry(crate_of(&i.name)).or_default();
        c.0 += i.shallow_size;
        c.1 += 1;
    }
    let mut crates: Vec<_> = crates.into_iter().collect();
    crates.sort_by_key(|c| std::cmp::Reverse(c.1 .0));
    let gzip = std::fs::read_to_string(dist.join("sizes.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Vec<Row>>(&t).ok())
        .and_then(|rows| {
            rows.into_iter()
                .find(|r| r.file == format!("pkg/{name}_bg.wasm"))
                .map(|r| r.gzip)
        });
    println!(
        "\n## {name}: {shipped} bytes of code and data (names removed){}",
        gzip.map(|g| format!(", {g} gzip as shipped"))
            .unwrap_or_default()
    );
    println!("\n{:<44} {:>9} {:>6} {:>7}", "crate", "bytes", "%", "items");
    for (c, (bytes, n)) in crates.iter().take(16) {
        println!(
            "{:<44} {:>9} {:>5.1}% {:>7}",
            truncate(c, 44),
            bytes,
            100.0 * *bytes as f64 / shipped as f64,
            n
        );
    }
    println!("\n{:<88} {:>9}", "largest items", "bytes");
    for i in items.iter().filter(|i| !names_section(i)).take(15) {
        println!("{:<88} {:>9}", truncate(&i.name, 88), i.shallow_size);
    }
    Ok(())
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).chain(['…']).collect()
    }
}

/// Installs twiggy at [`TWIGGY`] into `target/tools` when missing.
fn ensure_twiggy() -> Result<()> {
    let bin = root().join("target/tools/bin/twiggy");
    let have = crate::output_of(Command::new(&bin).arg("--version")).unwrap_or_default();
    if !have.contains(TWIGGY) {
        eprintln!("xtask: installing twiggy {TWIGGY} (about 2 minutes, once)");
        run_cmd(
            cargo()
                .args([
                    "install",
                    "twiggy",
                    "--locked",
                    "--version",
                    TWIGGY,
                    "--root",
                ])
                .arg(root().join("target/tools")),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_counted_for_their_crate() {
        assert_eq!(
            crate_of("paperclip_background::handle::{{closure}}::he0ee55b5ad7da72a"),
            "paperclip_background"
        );
        assert_eq!(
            crate_of("<&mut serde_json::de::Deserializer<R> as serde_core::de::Deserializer>::deserialize_struct::h1"),
            "serde_json (instantiated)"
        );
        assert_eq!(
            crate_of("core[c5930c85a12de822]::num::flt2dec::strategy::dragon::format_shortest"),
            "std (core, alloc)"
        );
        assert_eq!(
            crate_of("paperclip_core::protocol::_::<impl serde_core::de::Deserialize for paperclip_core::protocol::Request>::deserialize::hf"),
            "paperclip_core (serde derives)"
        );
        assert_eq!(
            crate_of("data segment \".rodata\""),
            "[data segment \".rodata\"]"
        );
        assert_eq!(crate_of("<dyn js_sys::Function>::call"), "js_sys");
    }

    #[test]
    fn a_file_over_its_budget_or_missing_is_named() {
        let rows = vec![
            Row {
                file: "a.wasm".into(),
                gzip: 100,
            },
            Row {
                file: "b.wasm".into(),
                gzip: 201,
            },
        ];
        assert!(over_budget(&rows, &[("a.wasm", 100)]).is_empty());
        let over = over_budget(&rows, &[("a.wasm", 100), ("b.wasm", 200), ("c.wasm", 1)]);
        assert_eq!(
            over,
            vec![
                "b.wasm: 201 bytes gzip, over its budget of 200 by 1".to_string(),
                "c.wasm: not in dist/sizes.json".to_string()
            ]
        );
    }
}
