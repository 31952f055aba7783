//! The floors of the crate, kept: every `crate::…` path in `src/` (a `use`,
//! an inline path, a `$crate::` in a macro, a `super::` that leaves its top
//! module) is an arrow from one top-level module to another, and every
//! arrow must point down.
//!
//! A module may import from a lower floor. On floors 0 to 2 a module may
//! also import a sibling of its own floor, as long as the siblings form no
//! circle; on floors 3 to 5 (edges, services, inbound) siblings never import
//! each other: where one must reach another, the lower side owns a trait
//! and `lib.rs` wires the implementation in. Test code (`#[cfg(test)]`
//! modules and `*tests.rs` files) may reach anywhere: it is not the
//! product's structure.
//!
//! `ARCHITECTURE_SRC` points the check at another source tree (e.g. an old
//! checkout's `src/`), to see what it would say there, and
//! `ARCHITECTURE_ALIASES="deliver=delivery,interact=actions"` names that
//! tree's modules by the floors' names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The floors, lowest first; `lib` is the crate root (`lib.rs`, `main.rs`).
const FLOORS: &[(u8, &str, &[&str])] = &[
    (0, "leaves", &["secret", "telemetry", "platform", "clock"]),
    (1, "pure core", &["event", "routing", "redact", "render"]),
    (2, "config", &["config"]),
    (3, "edges", &["store", "stripe", "chat"]),
    (
        4,
        "services",
        &["pipeline", "delivery", "actions", "catch_up"],
    ),
    (5, "inbound", &["http", "listen"]),
    (6, "face", &["lib", "cli", "demo"]),
];

/// Floors whose modules never import each other.
const NO_SIDEWAYS: std::ops::RangeInclusive<u8> = 3..=5;

fn floor_of(module: &str) -> Option<u8> {
    let aliases = std::env::var("ARCHITECTURE_ALIASES").unwrap_or_default();
    let module = aliases
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .find(|(old, _)| *old == module)
        .map_or(module, |(_, new)| new);
    FLOORS
        .iter()
        .find(|(_, _, modules)| modules.contains(&module))
        .map(|(floor, _, _)| *floor)
}

/// One arrow: `file:line` of the source, from module, to module.
#[derive(Debug, Clone)]
struct Arrow {
    file: String,
    line: usize,
    from: String,
    to: String,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file: `src/chat/slack/mod.rs` → `[chat, slack]`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_owned());
    }
    parts
}

/// The top-level modules a line of code names through `crate::` (or
/// `$crate::`), including every name of a `crate::{a, b::c}` group.
fn crate_targets(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = &rest[..at];
        let word_start = before
            .chars()
            .last()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        let after = &rest[at + "crate::".len()..];
        if word_start || before.ends_with('$') {
            if let Some(group) = after.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or_default();
                for item in inner.split(',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        found.push(name);
                    }
                }
            } else {
                let name: String = after
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.push(name);
                }
            }
        }
        rest = after;
    }
    found
}

/// The top-level module a `super::…` path of `module` lands in, when it
/// leaves `module`'s own top-level module.
fn super_target(module: &[String], code: &str) -> Option<String> {
    let at = code.find("super::")?;
    let before = &code[..at];
    if before
        .chars()
        .last()
        .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
    {
        return None;
    }
    let mut path = &code[at..];
    let mut depth = 0;
    while let Some(rest) = path.strip_prefix("super::") {
        depth += 1;
        path = rest;
    }
    if depth < module.len() {
        return None; // Still inside its own top-level module.
    }
    let name: String = path
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// Every arrow between two top-level modules in the product code of `src`.
/// A path to an item of the crate root (`crate::run`) is an arrow to `lib`.
fn arrows(src: &Path) -> Vec<Arrow> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let tops: BTreeSet<String> = files
        .iter()
        .filter_map(|file| module_path(src, file).first().cloned())
        .collect();
    let mut found = Vec::new();
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with("tests.rs") {
            continue;
        }
        let module = module_path(src, &file);
        let from = module.first().cloned().unwrap_or_else(|| "lib".to_owned());
        let text = std::fs::read_to_string(&file).unwrap();
        for (index, raw) in text.lines().enumerate() {
            let code = raw.trim_start();
            if code.starts_with("#[cfg(test)]") {
                break; // Test modules close the file.
            }
            if code.starts_with("//") {
                continue;
            }
            let code = code.split(" //").next().unwrap_or_default();
            let mut targets = crate_targets(code);
            targets.extend(super_target(&module, code));
            for to in targets {
                let to = if tops.contains(&to) {
                    to
                } else {
                    "lib".to_owned()
                };
                if to != from {
                    found.push(Arrow {
                        file: file.strip_prefix(src).unwrap().display().to_string(),
                        line: index + 1,
                        from: from.clone(),
                        to,
                    });
                }
            }
        }
    }
    found
}

/// Why an arrow breaks the floors, if it does.
fn broken(arrow: &Arrow) -> Option<String> {
    let (Some(from), Some(to)) = (floor_of(&arrow.from), floor_of(&arrow.to)) else {
        return Some(format!(
            "{} or {} is on no floor: add it to FLOORS in tests/it/architecture.rs",
            arrow.from, arrow.to
        ));
    };
    if to > from {
        return Some(format!(
            "runs back up: {} (floor {from}) imports {} (floor {to})",
            arrow.from, arrow.to
        ));
    }
    if to == from && NO_SIDEWAYS.contains(&from) {
        return Some(format!(
            "runs sideways on floor {from}: {} imports {}; let the lower side own a trait and wire it in lib.rs",
            arrow.from, arrow.to
        ));
    }
    None
}

/// A circle among the modules of one floor (sideways arrows are allowed on
/// floors 0 to 2, circles are not).
fn circle(arrows: &[Arrow]) -> Option<Vec<String>> {
    let mut edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for arrow in arrows {
        if floor_of(&arrow.from).is_some() && floor_of(&arrow.from) == floor_of(&arrow.to) {
            edges.entry(&arrow.from).or_default().insert(&arrow.to);
        }
    }
    fn visit<'a>(
        node: &'a str,
        edges: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        stack: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| *n == node) {
            let mut found: Vec<String> = stack[at..].iter().map(|s| s.to_string()).collect();
            found.push(node.to_owned());
            return Some(found);
        }
        if !done.insert(node) {
            return None;
        }
        stack.push(node);
        for next in edges.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, edges, stack, done) {
                return Some(found);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        if let Some(found) = visit(node, &edges, &mut Vec::new(), &mut done) {
            return Some(found);
        }
    }
    None
}

fn source_dir() -> PathBuf {
    std::env::var_os("ARCHITECTURE_SRC")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
}

#[test]
fn every_import_points_down_the_floors() {
    let src = source_dir();
    println!("floors enforced on {} (lowest first):", src.display());
    for (floor, name, modules) in FLOORS {
        let sideways = if NO_SIDEWAYS.contains(floor) {
            "never import each other"
        } else {
            "may import each other, without circles"
        };
        println!("  {floor} {name}: {} ({sideways})", modules.join(", "));
    }
    let arrows = arrows(&src);
    assert!(
        arrows.len() > 50,
        "the check reads the code: {} arrows",
        arrows.len()
    );
    let bad: Vec<String> = arrows
        .iter()
        .filter_map(|arrow| {
            broken(arrow).map(|why| format!("{}:{}: {why}", arrow.file, arrow.line))
        })
        .collect();
    if let Some(first) = bad.first() {
        panic!(
            "{} arrows break the floors; the first: {first}\nall of them:\n  {}",
            bad.len(),
            bad.join("\n  ")
        );
    }
    if let Some(found) = circle(&arrows) {
        panic!("a circle on one floor: {}", found.join(" → "));
    }
    let mut tops = BTreeSet::new();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for file in &files {
        tops.insert(
            module_path(&src, file)
                .first()
                .cloned()
                .unwrap_or_else(|| "lib".to_owned()),
        );
    }
    for top in tops {
        assert!(
            floor_of(&top).is_some(),
            "src/{top} is on no floor: add it to FLOORS"
        );
    }
}

#[test]
fn the_reader_finds_every_kind_of_arrow() {
    assert_eq!(crate_targets("use crate::config::Config;"), ["config"]);
    assert_eq!(
        crate_targets("use crate::{config::X, store};"),
        ["config", "store"]
    );
    assert_eq!(
        crate_targets("tracing::error!(error = %crate::telemetry::chain(&e))"),
        ["telemetry"]
    );
    assert_eq!(
        crate_targets("impl $crate::store::outbox::Outbox for $s"),
        ["store"]
    );
    assert!(crate_targets("use my_crate::x;").is_empty());
    let pipeline = vec!["pipeline".to_owned()];
    assert_eq!(
        super_target(&pipeline, "use super::store::Store;").as_deref(),
        Some("store")
    );
    let nested = vec!["chat".to_owned(), "slack".to_owned()];
    assert_eq!(super_target(&nested, "use super::Chat;"), None);
    assert_eq!(
        super_target(&nested, "use super::super::config::X;").as_deref(),
        Some("config")
    );
    let up = Arrow {
        file: "render/context.rs".into(),
        line: 1,
        from: "render".into(),
        to: "config".into(),
    };
    assert!(broken(&up).unwrap().contains("runs back up"));
    let sideways = Arrow {
        from: "delivery".into(),
        to: "actions".into(),
        ..up.clone()
    };
    assert!(broken(&sideways).unwrap().contains("sideways"));
    let down = Arrow {
        from: "chat".into(),
        to: "render".into(),
        ..up
    };
    assert!(broken(&down).is_none());
}
