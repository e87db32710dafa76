//! No import cycle between a crate's top-level modules.
//!
//! A crate's top-level modules are the children of its root (`lib.rs` or
//! `main.rs`): in `paperclip-core`, `telemetry`, `protocol`, `provider`,
//! `offline`, `hints`, …; `telemetry/metrics.rs` belongs to `telemetry`.
//! Module `a` depends on module `b` when a file of `a` names `crate::b`
//! (`use crate::b::X`, `use crate::{b, c::{Y}}`, an inline `crate::b::f()`)
//! or reaches `b` through `super::` (`super::b` from `a.rs`,
//! `super::super::b` from `a/x.rs`). Comments, string literals and
//! `#[cfg(test)]` items (tests may use anything) do not count.
//!
//! [`cycles`] reports every strongly connected component of more than one
//! module, with one `file:line` for each dependency inside it, so the fix
//! (moving shared types down, so dependencies point one way) has a place to
//! start.

use std::collections::{BTreeMap, BTreeSet};

/// One dependency between two top-level modules, and a place that makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// The module whose file names the other.
    pub from: String,
    /// The module named.
    pub to: String,
    /// The first file (relative to the crate's `src/`) that names it.
    pub file: String,
    /// 1-based line in `file`.
    pub line: usize,
}

/// Top-level modules that depend on each other, in a circle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    /// The modules, sorted.
    pub modules: Vec<String>,
    /// Every dependency between them (sorted by `from`, then `to`).
    pub edges: Vec<Edge>,
}

/// The import cycles between the top-level modules of a crate whose
/// sources are `files`: (path relative to `src/`, text).
pub fn cycles(files: &[(String, String)]) -> Vec<Cycle> {
    let edges = dependencies(files);
    let mut next: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for e in edges.values() {
        next.entry(&e.from).or_default().insert(&e.to);
    }
    let reach = |start: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![start];
        while let Some(m) = todo.pop() {
            for &n in next.get(m).into_iter().flatten() {
                if seen.insert(n) {
                    todo.push(n);
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&str, BTreeSet<&str>> = next.keys().map(|&m| (m, reach(m))).collect();
    let mut placed = BTreeSet::new();
    let mut out = Vec::new();
    for (&m, from_m) in &reachable {
        if placed.contains(m) {
            continue;
        }
        // The component of `m`: what `m` reaches that reaches `m` back.
        let component: BTreeSet<&str> = from_m
            .iter()
            .copied()
            .filter(|&n| n != m && reachable.get(n).is_some_and(|r| r.contains(m)))
            .chain([m])
            .collect();
        if component.len() < 2 {
            continue;
        }
        placed.extend(component.iter().copied());
        out.push(Cycle {
            modules: component.iter().map(|s| s.to_string()).collect(),
            edges: edges
                .values()
                .filter(|e| {
                    component.contains(e.from.as_str()) && component.contains(e.to.as_str())
                })
                .cloned()
                .collect(),
        });
    }
    out
}

/// Every dependency between distinct top-level modules, keyed by
/// (from, to), with the first place (by file, then line) that makes it.
pub fn dependencies(files: &[(String, String)]) -> BTreeMap<(String, String), Edge> {
    let mut sorted: Vec<&(String, String)> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    // `#[cfg(test)] mod name;` makes a whole file (and its children) test code.
    let mut test_modules: Vec<Vec<String>> = Vec::new();
    let masked: Vec<(Vec<String>, String)> = sorted
        .iter()
        .map(|(path, text)| {
            let module = module_path(path);
            let code = mask(text);
            test_modules.extend(test_module_files(&code).into_iter().map(|name| {
                let mut m = module.clone();
                m.push(name);
                m
            }));
            (module, without_tests(&code))
        })
        .collect();
    let modules: BTreeSet<&str> = masked
        .iter()
        .filter_map(|(m, _)| m.first().map(String::as_str))
        .collect();
    let mut edges = BTreeMap::new();
    for ((path, _), (module, code)) in sorted.iter().zip(&masked) {
        let Some(from) = module.first() else {
            continue; // the crate root
        };
        if test_modules.iter().any(|t| module.starts_with(t)) {
            continue;
        }
        for (to, line) in references(module, code) {
            if &to == from || !modules.contains(to.as_str()) {
                continue;
            }
            edges.entry((from.clone(), to.clone())).or_insert(Edge {
                from: from.clone(),
                to,
                file: path.clone(),
                line,
            });
        }
    }
    edges
}

/// The module path of a file relative to `src/`: `a.rs` and `a/mod.rs` are
/// `[a]`, `a/x.rs` is `[a, x]`; the crate root (`lib.rs`, `main.rs`) and
/// other crates' roots (`bin/…`) are `[]`.
fn module_path(path: &str) -> Vec<String> {
    let path = path.replace('\\', "/");
    if path == "lib.rs" || path == "main.rs" || path.starts_with("bin/") {
        return Vec::new();
    }
    let mut parts: Vec<String> = path.split('/').map(str::to_string).collect();
    if parts.last().is_some_and(|l| l == "mod.rs") {
        parts.pop();
    } else if let Some(last) = parts.last_mut() {
        if let Some(stem) = last.strip_suffix(".rs") {
            *last = stem.to_string();
        }
    }
    parts
}

/// The top-level modules that `code` (of the module at `module`) names,
/// each with the line where it is named.
fn references(module: &[String], code: &str) -> Vec<(String, usize)> {
    let b = code.as_bytes();
    let mut out = Vec::new();
    let line_of = |at: usize| code[..at].matches('\n').count() + 1;
    let mut i = 0;
    while i < b.len() {
        let Some((word, end)) = word_at(code, i) else {
            i += 1;
            continue;
        };
        let before = code[..i].trim_end();
        let starts_path = !before.ends_with("::") && !before.ends_with('$');
        let root_at = match word {
            "crate" if starts_path && !is_visibility(before) => Some(end),
            "super" if starts_path => {
                // `super::super::…`: up one module each.
                let mut depth = 0;
                let mut at = i;
                let mut after = i;
                while let Some(("super", e)) = word_at(code, at) {
                    let Some(next) = path_sep(code, e) else { break };
                    depth += 1;
                    after = e;
                    at = next;
                }
                (depth == module.len()).then_some(after)
            }
            _ => None,
        };
        if let Some(at) = root_at {
            if let Some(next) = path_sep(code, at) {
                for (name, pos) in first_segments(code, next) {
                    out.push((name, line_of(pos)));
                }
            }
        }
        i = end;
    }
    out
}

/// Whether `before` ends a `pub(in` (so `crate::…` is a visibility).
fn is_visibility(before: &str) -> bool {
    before
        .strip_suffix("in")
        .is_some_and(|b| b.trim_end().ends_with('('))
}

/// The identifier starting at byte `at` (not in the middle of one), and
/// where it ends.
fn word_at(code: &str, at: usize) -> Option<(&str, usize)> {
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let b = code.as_bytes();
    if at >= b.len() || !(b[at].is_ascii_alphabetic() || b[at] == b'_') {
        return None;
    }
    if at > 0 && (ident(b[at - 1]) || b[at - 1] >= 0x80) {
        return None;
    }
    let end = at + b[at..].iter().take_while(|&&c| ident(c)).count();
    Some((&code[at..end], end))
}

/// After `at`, optional whitespace and `::`: where what follows starts.
fn path_sep(code: &str, at: usize) -> Option<usize> {
    let rest = &code[at..];
    let trimmed = rest.trim_start();
    let skipped = rest.len() - trimmed.len();
    trimmed
        .starts_with("::")
        .then(|| at + skipped + 2 + (trimmed[2..].len() - trimmed[2..].trim_start().len()))
}

/// The first segment of the path at `at` (`b` in `b::X`), or of each path
/// of the group there (`a` and `b` in `{a::{x, y}, b}`), with its position.
fn first_segments(code: &str, at: usize) -> Vec<(String, usize)> {
    if let Some((name, _)) = word_at(code, at) {
        return vec![(name.to_string(), at)];
    }
    if !code[at..].starts_with('{') {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut depth = 0;
    let mut item_start = true;
    let mut i = at;
    let b = code.as_bytes();
    while i < b.len() {
        match b[i] {
            b'{' => {
                depth += 1;
                item_start = depth == 1;
            }
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            b',' if depth == 1 => item_start = true,
            c if item_start && !c.is_ascii_whitespace() => {
                item_start = false;
                if let Some((name, end)) = word_at(code, i) {
                    if name != "self" {
                        out.push((name.to_string(), i));
                    }
                    i = end;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// `text` with comments and the insides of string and character literals
/// blanked: same length in lines, every newline kept.
pub fn mask(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |ch: char| if ch == '\n' { '\n' } else { ' ' };
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut i = 0;
    while i < c.len() {
        let at = |k: usize| c.get(i + k).copied().unwrap_or('\0');
        if at(0) == '/' && at(1) == '/' {
            while i < c.len() && c[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if at(0) == '/' && at(1) == '*' {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(c[i]));
                    i += 1;
                }
            }
        } else if at(0) == 'r'
            && (at(1) == '"' || at(1) == '#')
            && (i == 0 || !ident(c[i - 1]) || (c[i - 1] == 'b' && (i < 2 || !ident(c[i - 2]))))
            && raw_string_hashes(&c[i + 1..]).is_some()
        {
            // r"…", r#"…"#, br#"…"#
            let hashes = raw_string_hashes(&c[i + 1..]).unwrap_or(0);
            let close: Vec<char> = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            for _ in 0..hashes + 2 {
                out.push(c[i]);
                i += 1;
            }
            while i < c.len() && !c[i..].starts_with(&close) {
                out.push(blank(c[i]));
                i += 1;
            }
            for _ in 0..close.len().min(c.len() - i) {
                out.push(c[i]);
                i += 1;
            }
        } else if at(0) == '"' {
            out.push('"');
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' && i + 1 < c.len() {
                    out.push(' ');
                    i += 1;
                }
                out.push(blank(c[i]));
                i += 1;
            }
            if i < c.len() {
                out.push('"');
                i += 1;
            }
        } else if at(0) == '\'' && (at(1) == '\\' || (at(1) != '\'' && at(2) == '\'')) {
            // A character literal ('x', '\n', '\u{1F4CE}'); not a lifetime.
            out.push('\'');
            i += 1;
            if c[i] == '\\' {
                // The backslash and the escaped character (maybe a `'`).
                out.push_str("  ");
                i += 2;
            }
            while i < c.len() && c[i] != '\'' && c[i] != '\n' {
                out.push(' ');
                i += 1;
            }
            if i < c.len() && c[i] == '\'' {
                out.push('\'');
                i += 1;
            }
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// After the `r` of a raw string: how many `#` open it, when a `"` follows.
fn raw_string_hashes(after_r: &[char]) -> Option<usize> {
    let hashes = after_r.iter().take_while(|&&c| c == '#').count();
    (after_r.get(hashes) == Some(&'"')).then_some(hashes)
}

/// `code` (masked) with every `#[cfg(test)]` item blanked (a whole file
/// when it starts with `#![cfg(test)]`).
fn without_tests(code: &str) -> String {
    const ATTR: &str = "#[cfg(test)]";
    if code.contains("#![cfg(test)]") {
        return code
            .chars()
            .map(|c| if c == '\n' { '\n' } else { ' ' })
            .collect();
    }
    let mut out = code.to_string();
    let mut from = 0;
    while let Some(at) = out[from..].find(ATTR) {
        let start = from + at;
        let end = item_end(&out, start + ATTR.len());
        let blanked: String = out[start..end]
            .chars()
            .map(|c| if c == '\n' { '\n' } else { ' ' })
            .collect();
        out.replace_range(start..end, &blanked);
        from = end;
    }
    out
}

/// Where the item that starts at `at` (after its attributes) ends: its
/// `;`, or the `}` that closes its body.
fn item_end(code: &str, at: usize) -> usize {
    let b = code.as_bytes();
    let rest = code[at..].trim_start();
    let words: Vec<&str> = rest
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .take(3)
        .collect();
    // These end at their `;` even when a `{` comes first.
    let to_semicolon = words
        .iter()
        .find(|w| !matches!(**w, "pub" | "crate" | "in" | "super" | "self"))
        .is_some_and(|w| matches!(*w, "use" | "const" | "static" | "type" | "extern" | "let"));
    let mut depth = 0i32;
    let mut i = at;
    while i < b.len() {
        match b[i] {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' => depth -= 1,
            b'}' => {
                depth -= 1;
                if depth == 0 && !to_semicolon {
                    return i + 1;
                }
            }
            b';' if depth == 0 => return i + 1,
            _ => {}
        }
        i += 1;
    }
    b.len()
}

/// The names of `#[cfg(test)] mod name;` (test modules in files of their
/// own) in `code`, which is masked but still has its test items.
fn test_module_files(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("#[cfg(test)]") {
        let start = from + at + "#[cfg(test)]".len();
        from = start;
        let mut rest = code[start..].trim_start();
        // Other attributes between.
        while rest.starts_with("#[") {
            let Some(close) = rest.find(']') else { break };
            rest = rest[close + 1..].trim_start();
        }
        let rest = rest.strip_prefix("pub ").unwrap_or(rest).trim_start();
        let Some(rest) = rest.strip_prefix("mod ") else {
            continue;
        };
        let name: String = rest
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if rest.trim_start()[name.len()..]
            .trim_start()
            .starts_with(';')
        {
            out.push(name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crate_of(files: &[(&str, &str)]) -> Vec<(String, String)> {
        files
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect()
    }

    fn sites(c: &Cycle) -> Vec<String> {
        c.edges
            .iter()
            .map(|e| format!("{}->{} {}:{}", e.from, e.to, e.file, e.line))
            .collect()
    }

    #[test]
    fn a_two_module_cycle_is_found_with_its_places() {
        let files = crate_of(&[
            ("lib.rs", "pub mod a;\npub mod b;\nuse crate::a::X;\n"),
            ("a.rs", "//! A.\n\nuse crate::b::Y;\npub struct X;\n"),
            (
                "b/mod.rs",
                "mod inner;\npub struct Y;\nfn f() {\n    crate::a::make();\n}\n",
            ),
            ("b/inner.rs", "use crate::a::X;\n"),
        ]);
        let found = cycles(&files);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].modules, ["a", "b"]);
        assert_eq!(
            sites(&found[0]),
            ["a->b a.rs:3", "b->a b/inner.rs:1"],
            "the first file by path, then line"
        );
    }

    #[test]
    fn a_three_module_cycle_through_super() {
        let files = crate_of(&[
            ("lib.rs", "mod a;\nmod b;\nmod c;\nmod d;\n"),
            ("a.rs", "use super::b;\n"),
            ("b/mod.rs", "mod x;\n"),
            ("b/x.rs", "use super::super::c::Z;\nuse super::Local;\n"),
            ("c.rs", "pub struct Z;\nfn f() -> crate::a::T { todo!() }\n"),
            ("d.rs", "use crate::a;\n"),
        ]);
        let found = cycles(&files);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].modules, ["a", "b", "c"]);
        assert_eq!(
            sites(&found[0]),
            ["a->b a.rs:1", "b->c b/x.rs:1", "c->a c.rs:2"]
        );
    }

    #[test]
    fn nested_groups_name_each_first_segment() {
        let code = "use crate::{\n    a::{x, y::{Z}},\n    b,\n    self,\n};\n";
        assert_eq!(
            references(&["m".to_string()], &mask(code)),
            [("a".to_string(), 2), ("b".to_string(), 3)]
        );
        let files = crate_of(&[
            ("a.rs", "use crate::{b::{self, B}, c};\n"),
            ("b.rs", "use crate::{c::{C, d::{D}}};\n"),
            (
                "c.rs",
                "pub(in crate::c) fn f() {}\npub(crate) use crate::a::A;\n",
            ),
        ]);
        let found = cycles(&files);
        assert_eq!(found.len(), 1);
        assert_eq!(
            sites(&found[0]),
            ["a->b a.rs:1", "a->c a.rs:1", "b->c b.rs:1", "c->a c.rs:2"]
        );
    }

    #[test]
    fn tests_comments_and_strings_do_not_count() {
        let files = crate_of(&[
            ("a.rs", "use crate::b::B;\n"),
            (
                "b.rs",
                "// crate::a::x in a comment\n\
                 /* and crate::a in /* a nested */ block */\n\
                 const S: &str = \"crate::a::y\";\n\
                 const R: &str = r#\"crate::a\"#;\n\
                 const C: char = '{'; const Q: char = '\\''; const B: u8 = b'}';\n\
                 #[cfg(test)]\n\
                 use crate::a::Only;\n\
                 #[cfg(test)]\n\
                 mod tests {\n    use crate::a::A;\n    fn f() { let s = \"}\"; crate::a::g(); }\n}\n\
                 #[cfg(test)]\nmod more;\n\
                 pub fn after<'a>(s: &'a str) -> &'a str { s }\n",
            ),
            ("b/more.rs", "use crate::a::X;\n"),
        ]);
        assert!(cycles(&files).is_empty(), "{:?}", dependencies(&files));
        assert_eq!(dependencies(&files).len(), 1);
        // The same reference outside the test module is a cycle.
        let mut files = files;
        files[1].1.push_str("fn g() { crate::a::f() }\n");
        let found = cycles(&files);
        assert_eq!(sites(&found[0]), ["a->b a.rs:1", "b->a b.rs:16"]);
    }

    #[test]
    fn an_acyclic_crate_passes() {
        let files = crate_of(&[
            ("main.rs", "mod a;\nmod b;\nmod c;\nuse crate::c::C;\n"),
            ("a.rs", "use crate::{b::B, c::C};\nuse super::Root;\n"),
            (
                "b.rs",
                "use crate::c;\nuse paperclip_core::a::X;\nuse crate::VERSION;\n",
            ),
            ("c.rs", "use std::fmt;\nuse self::inner::X;\n"),
            ("bin/tool.rs", "use crate::a::A;\n"),
        ]);
        assert!(cycles(&files).is_empty());
        let deps: Vec<_> = dependencies(&files).into_keys().collect();
        assert_eq!(
            deps,
            [
                ("a".to_string(), "b".to_string()),
                ("a".to_string(), "c".to_string()),
                ("b".to_string(), "c".to_string())
            ]
        );
    }
}
