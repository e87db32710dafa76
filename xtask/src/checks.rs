//! Source checks that `cargo xtask test` runs before building anything.
//!
//! [`seam`]: the shells reach the network, alarms, timers, the clock and
//! `performance` only through `paperclip-platform` (`net`, `alarms`,
//! `timer`, `clock`), where every request gets the options it must carry.
//!
//! [`extension_casts`]: a `dyn_into` / `dyn_ref` (an `instanceof` check)
//! only on real JS classes (`js_sys::…`, `web_sys::…`). Browser-extension
//! objects (a `tabs.Tab`, a `runtime.Port`, a `MessageSender`, menu click
//! data; the types of `web-extensions-sys` and the hand-written bindings)
//! are plain objects with no class behind them, so such a check is always
//! false: the popup's "Ask Clippy on this page" said "no active tab" for
//! that reason. Their fields are read instead
//! (`paperclip_core::activation::TabInfo`, `Reflect`).
//!
//! [`import_cycles`]: no import cycle between a crate's top-level modules
//! (see [`crate::cycles`]), except the ones still in [`KNOWN_CYCLES`].
//!
//! [`long_file`]: no source file over [`MAX_LINES`] lines before its inline
//! test module (the end-to-end harness and test files are exempt).

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::cycles;

/// The crates whose sources are checked (the wasm shells and the seam).
const SHELLS: &[&str] = &[
    "background",
    "content",
    "popup",
    "devtools-panel",
    "platform",
    "ui",
];

/// The crate that owns the browser seam.
const SEAM: &str = "platform";

/// Browser calls that only the seam makes: what a shell wrote, and where
/// that lives in `paperclip-platform`.
const SEAM_CALLS: &[(&str, &str)] = &[
    ("\"fetch\"", "net::fetch"),
    ("fetch_with_", "net::fetch"),
    ("\"alarms\"", "alarms"),
    ("\"setTimeout\"", "timer"),
    ("\"setInterval\"", "timer"),
    ("\"clearTimeout\"", "timer"),
    ("\"clearInterval\"", "timer"),
    ("set_timeout_with_", "timer"),
    ("set_interval_with_", "timer"),
    ("gloo_timers", "timer"),
    ("Date::now", "clock::now_ms"),
    ("\"performance\"", "clock"),
    (".performance()", "clock"),
];

/// The crates whose top-level modules must not import each other in a
/// circle.
const MODULE_CRATES: &[&str] = &[
    "core",
    "background",
    "content",
    "popup",
    "devtools-panel",
    "platform",
    "ui",
    "tests",
    "xtask",
];

/// Import cycles not fixed yet: (crate, its modules in the cycle, sorted).
/// Each is reported but does not fail the check; a new cycle does, and so
/// does one listed here that is gone (remove it from this list then).
/// Empty now: add an entry only as a stopgap, e.g.
/// `("background", &["builtin", "providers"])`.
const KNOWN_CYCLES: &[(&str, &[&str])] = &[];

/// The most lines a source file may have before its `#[cfg(test)]` module.
pub const MAX_LINES: usize = 800;

/// Calls that test a value's class with `instanceof`.
const CASTS: &[&str] = &[
    "dyn_into",
    "dyn_ref",
    "target_dyn_into",
    "target_dyn_ref",
    "is_instance_of",
    "has_type",
];

/// Where a check failed.
#[derive(Debug, PartialEq, Eq)]
pub struct Finding {
    /// File, relative to the workspace root.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// What is wrong, and what to do instead.
    pub message: String,
}

/// Runs every source check over the shells under `root`.
pub fn run(root: &Path) -> Result<()> {
    let mut findings = Vec::new();
    let mut files = 0;
    for krate in SHELLS {
        for path in rust_files(&root.join(krate)) {
            let text = std::fs::read_to_string(&path)?;
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .display()
                .to_string();
            findings.extend(extension_casts(&rel, &text));
            if *krate != SEAM {
                findings.extend(seam(&rel, &text));
            }
            files += 1;
        }
    }
    findings.extend(import_cycles(root, KNOWN_CYCLES)?);
    for krate in MODULE_CRATES.iter().filter(|k| **k != "tests") {
        for path in rust_files(&root.join(krate).join("src")) {
            let text = std::fs::read_to_string(&path)?;
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .display()
                .to_string();
            findings.extend(long_file(&rel, &text, MAX_LINES));
        }
    }
    if findings.is_empty() {
        eprintln!(
            "source checks: {files} files; no instanceof cast on a browser-extension type; \
             network, alarms, timers, clock and performance only through paperclip-platform; \
             no import cycle between top-level modules; no file over {MAX_LINES} lines \
             before its tests{}",
            match KNOWN_CYCLES.len() {
                0 => String::new(),
                n => format!(" but the {n} in KNOWN_CYCLES"),
            }
        );
        return Ok(());
    }
    for f in &findings {
        eprintln!("{}:{}: {}", f.file, f.line, f.message);
    }
    bail!("{} source check(s) failed", findings.len())
}

/// A finding when `text` has more than `limit` lines before its first
/// `#[cfg(test)]` item.
pub fn long_file(file: &str, text: &str, limit: usize) -> Option<Finding> {
    let lines = text
        .lines()
        .position(|l| l.trim_start().starts_with("#[cfg(test)]"))
        .unwrap_or_else(|| text.lines().count());
    (lines > limit).then(|| Finding {
        file: file.to_string(),
        line: limit + 1,
        message: format!(
            "{lines} lines before its tests (at most {limit}): split it by concern into a \
             module directory"
        ),
    })
}

/// The import cycles between the top-level modules of each of
/// [`MODULE_CRATES`] under `root`: a finding for each one not in `known`,
/// and for each one in `known` that is gone. The known ones still there
/// are printed.
pub fn import_cycles(root: &Path, known: &[(&str, &[&str])]) -> Result<Vec<Finding>> {
    let mut findings = Vec::new();
    let mut seen = Vec::new();
    for krate in MODULE_CRATES {
        let src = root.join(krate).join("src");
        let mut files = Vec::new();
        for path in rust_files(&src) {
            let rel = path.strip_prefix(&src).unwrap_or(&path);
            let rel = rel.display().to_string().replace('\\', "/");
            files.push((rel, std::fs::read_to_string(&path)?));
        }
        for cycle in cycles::cycles(&files) {
            let edges: Vec<String> = cycle
                .edges
                .iter()
                .map(|e| format!("{} -> {} ({krate}/src/{}:{})", e.from, e.to, e.file, e.line))
                .collect();
            let what = format!(
                "import cycle between the {krate} modules {}: {}",
                cycle.modules.join(", "),
                edges.join(", ")
            );
            let listed = known
                .iter()
                .any(|(k, m)| k == krate && m.iter().eq(cycle.modules.iter()));
            if listed {
                eprintln!("source checks: known {what}");
                seen.push((krate.to_string(), cycle.modules.clone()));
                continue;
            }
            let first = &cycle.edges[0];
            findings.push(Finding {
                file: format!("{krate}/src/{}", first.file),
                line: first.line,
                message: format!(
                    "{what}; move what they share into one of them (or a module of its \
                     own) so the dependencies point one way"
                ),
            });
        }
    }
    for (krate, modules) in known {
        if !seen
            .iter()
            .any(|(k, m)| k == krate && m.iter().eq(modules.iter()))
        {
            findings.push(Finding {
                file: format!("{krate}/src"),
                line: 0,
                message: format!(
                    "the import cycle between the {krate} modules {} is gone: \
                     remove it from KNOWN_CYCLES in xtask/src/checks.rs",
                    modules.join(", ")
                ),
            });
        }
    }
    Ok(findings)
}

/// Browser calls in a shell that belong to the seam ([`SEAM_CALLS`]).
pub fn seam(file: &str, text: &str) -> Vec<Finding> {
    let code = strip_comments(text);
    let mut findings = Vec::new();
    for (n, line) in code.lines().enumerate() {
        for (call, instead) in SEAM_CALLS {
            if line.contains(call) {
                findings.push(Finding {
                    file: file.to_string(),
                    line: n + 1,
                    message: format!(
                        "`{call}` outside the browser seam: use paperclip_platform::{instead}"
                    ),
                });
            }
        }
    }
    findings
}

/// Every `.rs` file below `dir` (skipping `target`).
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "target") {
                out.extend(rust_files(&path));
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The `instanceof` casts in `text` whose target is not a real JS class,
/// or not written out.
pub fn extension_casts(file: &str, text: &str) -> Vec<Finding> {
    let imported = js_class_imports(text);
    let mut findings = Vec::new();
    let code = strip_comments(text);
    for cast in CASTS {
        let needle = format!(".{cast}");
        let mut from = 0;
        while let Some(at) = code[from..].find(&needle) {
            let start = from + at;
            let after = start + needle.len();
            from = after;
            // `.dyn_into_foo` or `.dyn_refs` are other names.
            if code[after..]
                .chars()
                .next()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
            {
                continue;
            }
            let line = code[..start].matches('\n').count() + 1;
            let target = turbofish(&code[after..]).or_else(|| annotated(&code[..start]));
            let message = match target {
                None => format!(
                    "`{cast}` without a written target type: write `{cast}::<js_sys::…>()` \
                     (or `web_sys::…`) so this check can see it is a real JS class"
                ),
                Some(t) if is_js_class(&t, &imported) => continue,
                Some(t) => format!(
                    "`{cast}::<{t}>` is an `instanceof` check, and `{t}` has no JS class \
                     (browser-extension objects are plain objects): read the fields used \
                     instead (paperclip_core::activation::TabInfo, Reflect)"
                ),
            };
            findings.push(Finding {
                file: file.to_string(),
                line,
                message,
            });
        }
    }
    findings.sort_by_key(|f| f.line);
    findings
}

/// `text` with `//` comments blanked (line breaks kept, so lines still count).
fn strip_comments(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            // A `//` inside a string literal (a URL) is rare in these casts'
            // lines; an odd number of quotes before it means it is in one.
            Some(at) if l[..at].matches('"').count() % 2 == 0 => &l[..at],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The type in `::<T>` right after a cast's name.
fn turbofish(rest: &str) -> Option<String> {
    let rest = rest.trim_start().strip_prefix("::<")?;
    let mut depth = 1;
    for (i, c) in rest.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => {
                depth -= 1;
                if depth == 0 {
                    return Some(rest[..i].trim().to_string());
                }
            }
            _ => {}
        }
    }
    None
}

/// The type of `let name: T = …` in the statement that ends at the cast.
fn annotated(before: &str) -> Option<String> {
    let stmt_start = before.rfind([';', '{', '}']).map_or(0, |i| i + 1);
    let stmt = before[stmt_start..].trim_start();
    let rest = stmt.strip_prefix("let ")?;
    let (binding, _) = rest.split_once('=')?;
    let (_, ty) = binding.split_once(':')?;
    Some(ty.trim().to_string())
}

/// Names brought in from `js_sys` or `web_sys` by `use` lines.
fn js_class_imports(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for stmt in strip_comments(text).split(';') {
        // The statement's last line that starts a `use` (attributes and
        // other items may come before it in the chunk).
        let Some(at) = stmt
            .match_indices("use ")
            .map(|(i, _)| i)
            .filter(|&i| stmt[..i].ends_with(['\n', ' ', ')']) || i == 0)
            .last()
        else {
            continue;
        };
        let path = stmt[at + 4..].trim();
        if !(path.starts_with("js_sys") || path.starts_with("web_sys")) {
            continue;
        }
        let list = match path.find('{') {
            Some(open) => path[open + 1..].trim_end_matches('}').to_string(),
            None => path.rsplit("::").next().unwrap_or_default().to_string(),
        };
        for name in list.split(',') {
            let name = name.split(" as ").last().unwrap_or(name).trim();
            if !name.is_empty() && name != "self" {
                names.push(name.to_string());
            }
        }
    }
    names
}

/// Whether `ty` names a class of `js_sys` or `web_sys`.
fn is_js_class(ty: &str, imported: &[String]) -> bool {
    let ty = ty.trim_start_matches("::");
    ty.starts_with("js_sys::") || ty.starts_with("web_sys::") || imported.iter().any(|n| n == ty)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<usize> {
        extension_casts("x.rs", text)
            .into_iter()
            .map(|f| f.line)
            .collect()
    }

    #[test]
    fn real_js_classes_pass() {
        let ok = "use js_sys::{Function, Promise};\nuse web_sys::HtmlElement;\n\
                  fn f(v: JsValue) {\n\
                  let f = v.dyn_into::<js_sys::Function>();\n\
                  let g: Function = v.dyn_into()?;\n\
                  let p = v.dyn_ref::<Promise>();\n\
                  let e = ev.target_dyn_into::<web_sys::Element>();\n\
                  let h: HtmlElement = x.dyn_into().unwrap();\n\
                  // v.dyn_into::<Tab>() in a comment is fine\n\
                  let u = v.unchecked_into::<Tab>();\n}";
        assert_eq!(lines(ok), Vec::<usize>::new());
    }

    #[test]
    fn extension_types_and_unwritten_targets_fail() {
        let bad = "use platform::sys::Tab;\nfn f(v: JsValue) {\n\
                   let t = v.dyn_into::<platform::sys::Tab>();\n\
                   let p = v.dyn_ref::<Port>();\n\
                   let s: MessageSender = v.dyn_into().unwrap();\n\
                   takes(v.dyn_into().unwrap());\n\
                   let ok = v.is_instance_of::<web_extensions_sys::Port>();\n}";
        assert_eq!(lines(bad), vec![3, 4, 5, 6, 7]);
        let f = &extension_casts("x.rs", bad)[0];
        assert!(f.message.contains("has no JS class"), "{}", f.message);
        assert!(extension_casts("x.rs", bad)[3]
            .message
            .contains("without a written target type"));
    }

    #[test]
    fn the_popup_bug_is_caught() {
        // The code that made "Ask Clippy on this page" say "no active tab".
        let popup =
            "Array::from(&tabs)\n    .get(0)\n    .dyn_into::<platform::sys::Tab>()\n    .ok()";
        assert_eq!(lines(popup), vec![3]);
    }

    #[test]
    fn browser_calls_outside_the_seam_fail() {
        let shell = "let f = Reflect::get(&global, &\"fetch\".into());\n\
                     let t = js_sys::Date::now();\n\
                     // a comment about setInterval and \"fetch\" is fine\n\
                     gloo_timers::future::TimeoutFuture::new(5).await;\n\
                     let p = window.performance();\n\
                     let now = paperclip_platform::clock::now_ms();";
        let found: Vec<usize> = seam("x.rs", shell).iter().map(|f| f.line).collect();
        assert_eq!(found, vec![1, 2, 4, 5]);
        assert!(seam("x.rs", shell)[0].message.contains("net::fetch"));
    }

    #[test]
    fn import_cycles_new_known_and_gone() {
        let root = std::env::temp_dir().join(format!("xtask-cycles-{}", std::process::id()));
        let src = root.join("core").join("src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("lib.rs"), "mod a;\nmod b;\n").unwrap();
        std::fs::write(src.join("a.rs"), "use crate::b::B;\npub struct A;\n").unwrap();
        std::fs::write(src.join("b.rs"), "pub struct B;\n\nuse crate::a::A;\n").unwrap();
        let new = import_cycles(&root, &[]).unwrap();
        assert_eq!(new.len(), 1);
        assert_eq!((new[0].file.as_str(), new[0].line), ("core/src/a.rs", 1));
        assert!(
            new[0]
                .message
                .contains("a -> b (core/src/a.rs:1), b -> a (core/src/b.rs:3)"),
            "{}",
            new[0].message
        );
        assert!(import_cycles(&root, &[("core", &["a", "b"])])
            .unwrap()
            .is_empty());
        let gone = import_cycles(&root, &[("core", &["a", "b"]), ("ui", &["x", "y"])]).unwrap();
        assert_eq!(gone.len(), 1);
        assert!(gone[0].message.contains("remove it from KNOWN_CYCLES"));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn the_shells_pass() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        run(&root).unwrap();
    }

    #[test]
    fn long_files_fail_and_tests_do_not_count() {
        let code = "fn f() {}\n".repeat(5);
        assert_eq!(long_file("a.rs", &code, 5), None);
        let long = long_file("a.rs", &code, 4).expect("5 lines > 4");
        assert_eq!((long.file.as_str(), long.line), ("a.rs", 5));
        assert!(long.message.contains("5 lines"), "{}", long.message);
        let tested = format!(
            "{}#[cfg(test)]\nmod tests {{\n{}}}\n",
            "fn f() {}\n".repeat(3),
            "// t\n".repeat(50)
        );
        assert_eq!(
            long_file("b.rs", &tested, 3),
            None,
            "the test module is not counted"
        );
    }
}
