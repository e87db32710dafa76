//! `cargo xtask dist`: the unpacked extensions, their zips and the size
//! table.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::Value;

use crate::{cargo, root, run_cmd, tools};

/// A wasm entry crate and where its output goes.
pub struct Entry {
    package: &'static str,
    pub lib: &'static str,
    pub out: &'static str,
    static_dir: &'static str,
}

pub const ENTRIES: &[Entry] = &[
    Entry {
        package: "paperclip-background",
        lib: "paperclip_background",
        out: "background",
        static_dir: "background/static",
    },
    Entry {
        package: "paperclip-content",
        lib: "paperclip_content",
        out: "agent",
        static_dir: "content/static",
    },
    Entry {
        package: "paperclip-popup",
        lib: "paperclip_popup",
        out: "popup",
        static_dir: "popup/static",
    },
    Entry {
        package: "paperclip-devtools",
        lib: "paperclip_devtools",
        out: "devtools",
        static_dir: "devtools-panel/static",
    },
];

/// The browsers a package is made for; each has `manifest.<name>.json`.
pub const BROWSERS: &[&str] = &["chromium", "firefox"];

/// One row of `dist/sizes.json`.
#[derive(Serialize)]
struct Size {
    file: String,
    bytes: u64,
    gzip: u64,
}

/// Builds everything into `dist/`; returns its path.
pub fn dist() -> Result<PathBuf> {
    tools::ensure_wasm_target()?;
    tools::ensure_wasm_bindgen()?;
    tools::ensure_npm()?;
    let root = root();
    let dist = root.join("dist");
    let staged = root.join("target/xtask/pkg");

    let mut build = cargo();
    build.args(["build", "--release", "--target", "wasm32-unknown-unknown"]);
    for e in ENTRIES {
        build.args(["-p", e.package]);
    }
    run_cmd(&mut build)?;

    fs::create_dir_all(&staged)?;
    for e in ENTRIES {
        let wasm = root
            .join("target/wasm32-unknown-unknown/release")
            .join(format!("{}.wasm", e.lib));
        let bindgen_dir = root.join("target/xtask/bindgen").join(e.out);
        bindgen_and_opt(&wasm, e.out, &bindgen_dir, &staged)?;
    }

    pdf_module(&staged)?;

    let version = env!("CARGO_PKG_VERSION");
    let base: Value = read_json(&root.join("manifest.json"))?;
    for browser in BROWSERS {
        let out = dist.join(browser);
        if out.exists() {
            fs::remove_dir_all(&out)?;
        }
        fs::create_dir_all(&out)?;
        for e in ENTRIES {
            copy_tree(&root.join(e.static_dir), &out)?;
        }
        copy_tree(&root.join("assets"), &out)?;
        copy_tree(&staged, &out.join("pkg"))?;
        let mut manifest = base.clone();
        merge(
            &mut manifest,
            read_json(&root.join(format!("manifest.{browser}.json")))?,
        );
        manifest["version"] = Value::from(version);
        fs::write(
            out.join("manifest.json"),
            serde_json::to_string_pretty(&manifest)? + "\n",
        )?;
        zip_dir(
            &out,
            &dist.join(format!("paperclip-{browser}-{version}.zip")),
        )?;
    }
    sizes(&dist)?;
    Ok(dist)
}

/// The most memory the PDF reader's instance may take (bytes): a
/// document whose streams inflate past it stops the reader (a trap, told
/// as a damaged document) instead of growing the background without end.
const PDF_MAX_MEMORY: u64 = 256 * 1024 * 1024;

/// Builds the PDF reader (`pdf/`), a wasm module of its own that imports
/// nothing (no wasm-bindgen glue: the background instantiates it only when
/// a PDF is read), into `out_dir/pdf.wasm`. Its own target directory:
/// `getrandom` (in `lopdf`) gets the module's own `custom` backend there
/// (see `paperclip_pdf::wasm`), which the other crates' builds must not
/// see.
fn pdf_module(out_dir: &Path) -> Result<()> {
    let root = root();
    let target = root.join("target/pdf");
    let mut build = cargo();
    build
        .args(["build", "--release", "--target", "wasm32-unknown-unknown"])
        .args(["-p", "paperclip-pdf", "--lib"])
        .arg("--target-dir")
        .arg(&target)
        .env(
            "RUSTFLAGS",
            format!("--cfg getrandom_backend=\"custom\" -C link-arg=--max-memory={PDF_MAX_MEMORY}"),
        );
    run_cmd(&mut build)?;
    let wasm = target.join("wasm32-unknown-unknown/release/paperclip_pdf.wasm");
    fs::create_dir_all(out_dir)?;
    run_cmd(
        Command::new(tools::npm_bin("wasm-opt"))
            .args(["-O3", "--strip-debug", "--strip-producers"])
            .arg(&wasm)
            .arg("-o")
            .arg(out_dir.join("pdf.wasm")),
    )
}

/// Runs the wasm-bindgen CLI (`--target web`) on `wasm` into `bindgen_dir`,
/// then puts `<out_name>.js` and the `wasm-opt -Oz` output
/// `<out_name>_bg.wasm` into `out_dir`.
pub fn bindgen_and_opt(
    wasm: &Path,
    out_name: &str,
    bindgen_dir: &Path,
    out_dir: &Path,
) -> Result<()> {
    run_cmd(
        Command::new("wasm-bindgen")
            .args(["--target", "web", "--no-typescript"])
            .args(["--remove-name-section", "--remove-producers-section"])
            .args(["--out-name", out_name])
            .arg("--out-dir")
            .arg(bindgen_dir)
            .arg(wasm),
    )?;
    fs::create_dir_all(out_dir)?;
    fs::copy(
        bindgen_dir.join(format!("{out_name}.js")),
        out_dir.join(format!("{out_name}.js")),
    )?;
    run_cmd(
        Command::new(tools::npm_bin("wasm-opt"))
            .args(["-Oz", "--strip-debug"])
            .arg(bindgen_dir.join(format!("{out_name}_bg.wasm")))
            .arg("-o")
            .arg(out_dir.join(format!("{out_name}_bg.wasm"))),
    )
}

/// Reads a JSON file.
pub fn read_json(path: &Path) -> Result<Value> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Deep-merges `overlay` into `base`: objects merge key by key, anything
/// else (arrays included) is replaced.
pub fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, o) => *b = o,
    }
}

/// Copies the files under `from` into `to`, keeping relative paths.
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    for path in files(from)? {
        let dest = to.join(path.strip_prefix(from)?);
        fs::create_dir_all(dest.parent().expect("file has a parent"))?;
        fs::copy(&path, &dest).with_context(|| format!("copying {}", path.display()))?;
    }
    Ok(())
}

/// Every file under `dir`, sorted.
fn files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let p = entry?.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn zip_dir(dir: &Path, zip_path: &Path) -> Result<()> {
    let mut zip = zip::ZipWriter::new(fs::File::create(zip_path)?);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for path in files(dir)? {
        let name = path.strip_prefix(dir)?.to_string_lossy().replace('\\', "/");
        zip.start_file(name, options)?;
        zip.write_all(&fs::read(&path)?)?;
    }
    zip.finish()?;
    Ok(())
}

fn gzip_len(bytes: &[u8]) -> Result<u64> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(bytes)?;
    Ok(gz.finish()?.len() as u64)
}

/// Prints the size table of every .wasm and .js and writes `sizes.json`.
fn sizes(dist: &Path) -> Result<()> {
    let dir = dist.join("chromium");
    let mut rows = Vec::new();
    for path in files(&dir)? {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default();
        if ext != "wasm" && ext != "js" {
            continue;
        }
        let bytes = fs::read(&path)?;
        rows.push(Size {
            file: path.strip_prefix(&dir)?.to_string_lossy().into_owned(),
            bytes: bytes.len() as u64,
            gzip: gzip_len(&bytes)?,
        });
    }
    println!("\n{:<32} {:>10} {:>10}", "file", "bytes", "gzip");
    for r in &rows {
        println!("{:<32} {:>10} {:>10}", r.file, r.bytes, r.gzip);
    }
    let (b, g) = rows
        .iter()
        .fold((0, 0), |(b, g), r| (b + r.bytes, g + r.gzip));
    println!("{:<32} {:>10} {:>10}\n", "total", b, g);
    fs::write(
        dist.join("sizes.json"),
        serde_json::to_string_pretty(&rows)? + "\n",
    )?;
    Ok(())
}

/// The pages whose parts can be made to fail in test builds (the
/// `fail-points` feature of `paperclip_ui::boundary`).
const FAIL_POINT_PAGES: &[&str] = &["paperclip-content", "paperclip-popup", "paperclip-devtools"];

/// [`test_extensions`], with the pages built again with their fail points
/// (test builds only: `dist/` never has them), for the end-to-end tests.
pub fn test_extensions_with_fail_points() -> Result<PathBuf> {
    let out = test_extensions()?;
    let root = root();
    let mut build = cargo();
    build.args(["build", "--release", "--target", "wasm32-unknown-unknown"]);
    for package in FAIL_POINT_PAGES {
        build.args(["-p", package]);
    }
    build.args(["--features", "fail-points"]);
    run_cmd(&mut build)?;
    for e in ENTRIES
        .iter()
        .filter(|e| FAIL_POINT_PAGES.contains(&e.package))
    {
        let wasm = root
            .join("target/wasm32-unknown-unknown/release")
            .join(format!("{}.wasm", e.lib));
        let bindgen_dir = root.join("target/xtask/bindgen-fail-points").join(e.out);
        run_cmd(
            Command::new("wasm-bindgen")
                .args(["--target", "web", "--no-typescript", "--out-name", e.out])
                .arg("--out-dir")
                .arg(&bindgen_dir)
                .arg(&wasm),
        )?;
        for browser in BROWSERS {
            let pkg = out.join(browser).join("pkg");
            for file in [format!("{}.js", e.out), format!("{}_bg.wasm", e.out)] {
                fs::copy(bindgen_dir.join(&file), pkg.join(&file))?;
            }
        }
    }
    Ok(out)
}

/// Writes `target/e2e-ext/<browser>`: `dist/<browser>` plus the test-only
/// overlay `tests/manifest.test.json` (host access to 127.0.0.1 and to
/// `*.site.test`, which Chromium resolves there too, so tests and
/// the headless demo can inject the agent without a user gesture) and the
/// stand-ins of `tests/stand-ins/` under `test/`.
pub fn test_extensions() -> Result<PathBuf> {
    let root = root();
    let out = root.join("target/e2e-ext");
    let overlay = read_json(&root.join("tests/manifest.test.json"))?;
    for browser in BROWSERS {
        let dir = out.join(browser);
        if dir.exists() {
            fs::remove_dir_all(&dir)?;
        }
        copy_tree(&root.join("dist").join(browser), &dir)?;
        // Test-only stand-ins the e2e tests load into extension pages
        // (`tests/stand-ins/`, e.g. Chrome's on-device AI).
        copy_tree(&root.join("tests/stand-ins"), &dir.join("test"))?;
        let mut manifest = read_json(&dir.join("manifest.json"))?;
        merge(&mut manifest, overlay.clone());
        fs::write(
            dir.join("manifest.json"),
            serde_json::to_string_pretty(&manifest)? + "\n",
        )?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn overlays_merge_deeply_and_replace_arrays() {
        let mut base = json!({"a": {"x": 1, "y": [1, 2]}, "b": 1});
        merge(&mut base, json!({"a": {"y": [3], "z": true}, "c": "new"}));
        assert_eq!(
            base,
            json!({"a": {"x": 1, "y": [3], "z": true}, "b": 1, "c": "new"})
        );
    }

    /// The extension pages' CSP: scripts only from the package (and wasm),
    /// no plugins, images from the package, no frames, no form posts, no
    /// `<base>` rewriting (a script bug cannot load or send elsewhere).
    #[test]
    fn the_extension_pages_csp_is_strict() {
        let manifest = read_json(&crate::root().join("manifest.json")).unwrap();
        let csp = manifest["content_security_policy"]["extension_pages"]
            .as_str()
            .unwrap();
        for directive in [
            "script-src 'self' 'wasm-unsafe-eval'",
            "object-src 'none'",
            "img-src 'self' data:",
            "frame-src 'none'",
            "form-action 'none'",
            "base-uri 'none'",
        ] {
            assert!(
                csp.split(';').any(|d| d.trim() == directive),
                "{directive} missing from {csp}"
            );
        }
    }
}
