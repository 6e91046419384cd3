//! The layers of `architecture.md`, checked: each top-level module of `src/` imports only the
//! modules below it, so the module graph has no cycle; only `adapter/` names DuckDB or the
//! Spark client crate; and nothing above the engine asks which engine a target runs on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layers, bottom first: a module may use the modules of lower layers only.
const LAYERS: &[&[&str]] = &[
    &["error"],
    &["relation", "sql", "config"],
    &["log"],
    &["adapter"],
    &["templating"],
    &["project"],
    &["manifest"],
    &["graph", "materialization"],
    &["testing"],
    &["compile", "artifacts", "deps"],
    &["session"],
    &["runner"],
    &["cli"],
];

/// Arrows that the layers would allow but that must not exist: reading the project and
/// selecting nodes never need a database engine.
const NEVER: &[(&str, &str)] = &[
    ("project", "adapter"),
    ("graph", "adapter"),
    ("manifest", "adapter"),
];

/// Where a target's engine may be named as a choice (`Engine::Spark`, `adapter_type() == ..`):
/// the engine itself, the engine settings' types, and the profile readers that build them.
const KNOWS_THE_ENGINE: &[&str] = &["adapter", "config", "project"];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The top-level module a file of `src/` belongs to (`src/runner/mod.rs` -> `runner`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy()
        .to_string();
    first.trim_end_matches(".rs").to_string()
}

/// The code of a Rust file without its `//` comments (doc comments name other layers freely).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules `code` refers to: `crate::x` and each `x` of `crate::{x, y::z}`.
fn uses(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != "self" {
                    out.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.insert(name);
        }
    }
    out
}

#[test]
fn every_module_imports_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut duckdb_outside_adapter = Vec::new();
    let mut engine_branches = Vec::new();
    for entry in walkdir::WalkDir::new(&src) {
        let entry = entry.unwrap();
        if entry.path().extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let module = module_of(&src, entry.path());
        if module == "lib" || module == "main" || module == "bin" {
            continue;
        }
        let text = code(&std::fs::read_to_string(entry.path()).unwrap());
        if module != "adapter" && (text.contains("duckdb::") || text.contains("spark_connect::")) {
            duckdb_outside_adapter.push(entry.path().display().to_string());
        }
        let branches = ["Engine::", "adapter_type() ==", "adapter_type() !="];
        if !KNOWS_THE_ENGINE.contains(&module.as_str()) && branches.iter().any(|b| text.contains(b)) {
            engine_branches.push(entry.path().display().to_string());
        }
        for used in uses(&text) {
            if used != module {
                edges.entry(module.clone()).or_default().insert(used);
            }
        }
    }
    assert!(
        duckdb_outside_adapter.is_empty(),
        "only adapter/ may name DuckDB or the Spark client (the engine interface is adapter::engine): {duckdb_outside_adapter:?}"
    );
    assert!(
        engine_branches.is_empty(),
        "only adapter/ (and the profile readers) may choose by engine; elsewhere ask the engine \
         (adapter::target, Connection, Dialect): {engine_branches:?}"
    );
    let mut wrong = Vec::new();
    for (module, used) in &edges {
        let Some(own) = layer_of(module) else {
            wrong.push(format!(
                "`{module}` is in no layer: add it to LAYERS and architecture.md"
            ));
            continue;
        };
        for u in used {
            match layer_of(u) {
                Some(l) if l < own => {}
                Some(_) => wrong.push(format!("`{module}` uses `{u}`, which is not below it")),
                None => wrong.push(format!("`{module}` uses `{u}`, which is in no layer")),
            }
        }
    }
    for (from, to) in NEVER {
        if edges.get(*from).is_some_and(|used| used.contains(*to)) {
            wrong.push(format!("`{from}` uses `{to}`, which it must never use"));
        }
    }
    assert!(
        wrong.is_empty(),
        "imports across the layers (see architecture.md):\n{}",
        wrong.join("\n")
    );
    // The check sees the imports it checks.
    assert!(
        edges["runner"].contains("adapter") && edges["cli"].contains("runner"),
        "{edges:?}"
    );
}

#[test]
fn the_scan_finds_paths_and_groups_but_not_comments() {
    let found = uses(&code(
        "use crate::adapter::Adapter;\nuse crate::{config::NodeConfig, relation};\n// crate::cli in a comment\nlet x = crate::log::info;",
    ));
    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        ["adapter", "config", "log", "relation"]
    );
}
