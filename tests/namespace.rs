//! dbt's built-in macro namespace as dbt ships it, differentially: `tests/fixtures/dbt_macro_namespace`
//! has one model per public macro of dbt's global project and of dbt-duckdb (262 in dbt-core 1.11
//! with dbt-duckdb 1.11: adapter implementations `<adapter>__name` and materializations left out),
//! each printing `{{ dbt.<name>(...) }}` with arguments generated from the macro's parameter names,
//! and `expected/compiled.jsonl` holds what `dbt compile` printed for each, or that it failed
//! (both recorded by `scripts/namespace_parity/record.py`). This test runs `mallard seed` and
//! `mallard compile` on the fixture and compares each model's compiled text with dbt's, with SQL
//! line comments left out, white space normalised (runs of white space are one space, none beside brackets and commas) and
//! clock readings (14 digits or more) masked. Cases where dbt's compile failed, or printed a memory
//! address, are not counted.
//!
//! The differences still open are listed in the fixture's `known_differences.jsonl`, one per line
//! as `{"macro": ..., "reason": ...}`. The test fails when a macro differs that is not listed and
//! when a listed one no longer differs; `MALLARD_NAMESPACE_BLESS=1` rewrites the list (keeping the
//! reasons written). It prints the count: `namespace: N of M macros render as dbt`.
//!
//! `tests/fixtures/package_macros` does the same for the public macros of the corpus's packages
//! (`../shared/realworld/`), as `<package>.<name>(...)`: part (a) of the Jinja differential, on
//! real macros.

mod common;

use std::path::Path;

use common::Project;

#[derive(serde::Deserialize)]
struct Case {
    #[serde(rename = "macro")]
    name: String,
    output: Option<String>,
    #[serde(default)]
    error: bool,
    #[serde(default)]
    unprintable: bool,
}

/// `text` without SQL line comments (`--` to the end of the line), with runs of white space made one space, none next to `(`, `)`, `[`, `]` or `,`, and
/// every clock reading (a timestamp, a time of day, 14 digits or more) replaced by `#`.
fn normalised(text: &str) -> String {
    let uncommented: String = text
        .lines()
        .map(|line| line.find("--").map_or(line, |at| &line[..at]))
        .collect::<Vec<_>>()
        .join("\n");
    let mut spaced = uncommented.split_whitespace().collect::<Vec<_>>().join(" ");
    for p in ["(", ")", "[", "]", ","] {
        spaced = spaced.replace(&format!(" {p}"), p).replace(&format!("{p} "), p);
    }
    // A clock reading: a timestamp, a time of day, or 14 digits and more (`%Y%m%d%H%M%S%f`).
    let clock =
        fancy_regex::Regex::new(r"(\d{4}-\d{2}-\d{2} )?\d{2}:\d{2}:\d{2}(\.\d+)?(\+\d{2}:\d{2})?|\d{14,}")
            .expect("clock pattern");
    clock.replace_all(&spaced, "#").into_owned()
}

#[test]
fn normalised_ignores_layout_and_clock_readings() {
    assert_eq!(normalised("\n  length(\n   id\n  )  "), "length(id)");
    assert_eq!(normalised("a ,  b [ 1 ]"), "a,b[1]");
    assert_eq!(normalised("people20261207221112501103 x"), "people# x");
    assert_eq!(normalised("at 2026-12-07 22:42:09.742805+00:00"), "at #");
    assert_eq!(normalised("22:42:18 + None"), "# + None");
}

#[test]
fn dbt_macro_namespace_as_dbt_ships_it() {
    check_fixture("dbt_macro_namespace", "namespace");
}

/// The same comparison for the public macros of the corpus's packages (`corpus_packages.txt`:
/// dbt_utils, dbt_date, dbt_expectations, audit_helper, dbt_activity_schema, dbt_assertions),
/// each called as `<package>.<name>(...)` with its parameters that have no default, the
/// packages read from `dbt_packages/` as dbt reads them.
#[test]
fn corpus_package_macros_as_dbt_renders_them() {
    check_fixture("package_macros", "package macros");
}

/// Runs `mallard seed` and `mallard compile` on fixture `name` (with the corpus packages its
/// `corpus_packages.txt` lists copied into `dbt_packages/`) and compares each model's compiled
/// text with `expected/compiled.jsonl`, failing on a difference that `known_differences.jsonl`
/// does not list or on a listed one that is gone.
fn check_fixture(name: &str, what: &str) {
    let project = Project::fixture(name);
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/realworld");
    for folder in std::fs::read_to_string(fixture.join("corpus_packages.txt"))
        .unwrap_or_default()
        .split_whitespace()
    {
        let source = corpus.join(folder);
        let spec: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(source.join("dbt_project.yml")).expect("package"))
                .expect("dbt_project.yml");
        let package = spec["name"].as_str().expect("a package has a name");
        let installed = project.path().join("dbt_packages").join(package);
        common::copy_dir(&source, &installed);
        for tests in [
            "integration_tests",
            "integration-tests",
            "integration-tests-sub-package",
        ] {
            let _ = std::fs::remove_dir_all(installed.join(tests));
        }
    }
    let seed = project.run(&["seed"]);
    assert_eq!(seed.code, 0, "{}", seed.text(&project));
    project.run(&["compile", "--threads", "1"]);
    let cases: Vec<Case> = common::known::read_jsonl(&fixture.join("expected/compiled.jsonl"));
    assert!(
        cases.len() > 100,
        "expected/compiled.jsonl holds the recorded macros"
    );
    let spec: serde_yaml::Value = serde_yaml::from_str(&project.read("dbt_project.yml")).expect("project");
    let compiled = project
        .path()
        .join("target/compiled")
        .join(spec["name"].as_str().expect("project name"))
        .join("models");
    let mut differing = Vec::new();
    let mut counted = 0;
    for case in cases.iter().filter(|c| !c.error && !c.unprintable) {
        counted += 1;
        let want = case.output.as_deref().unwrap_or_default();
        let file = format!("m__{}.sql", case.name.replace('.', "__"));
        let got = std::fs::read_to_string(compiled.join(file)).ok();
        if got.as_deref().map(normalised) != Some(normalised(want)) {
            differing.push((case.name.clone(), got, want.to_string()));
        }
    }
    eprintln!(
        "{what}: {} of {counted} macros render as dbt",
        counted - differing.len()
    );
    let shown: Vec<(String, String)> = differing
        .iter()
        .map(|(n, got, want)| (n.clone(), format!("{n}: Mallard {got:?}, dbt {want:?}")))
        .collect();
    common::known::check(
        &fixture.join("known_differences.jsonl"),
        "macro",
        &shown,
        "MALLARD_NAMESPACE_BLESS",
        "macro namespace differences from dbt",
    );
}
