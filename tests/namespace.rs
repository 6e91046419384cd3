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

mod common;

use std::collections::BTreeSet;
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

/// One line of `known_differences.jsonl`.
#[derive(serde::Deserialize, serde::Serialize)]
struct Known {
    #[serde(rename = "macro")]
    name: String,
    reason: String,
}

fn read_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Vec<T> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display())))
        .collect()
}

/// `text` without SQL line comments (`--` to the end of the line), with runs of white space made one space, none next to `(`, `)`, `[`, `]` or `,`, and
/// every run of 14 or more digits (a clock reading) replaced by `#`.
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
    let mut out = String::new();
    let mut rest = spaced.as_str();
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
        let len = rest[start..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len() - start);
        out.push_str(&rest[..start]);
        let digits = &rest[start..start + len];
        out.push_str(if len >= 14 { "#" } else { digits });
        rest = &rest[start + len..];
    }
    out + rest
}

#[test]
fn normalised_ignores_layout_and_clock_readings() {
    assert_eq!(normalised("\n  length(\n   id\n  )  "), "length(id)");
    assert_eq!(normalised("a ,  b [ 1 ]"), "a,b[1]");
    assert_eq!(normalised("people20261207221112501103 x"), "people# x");
}

#[test]
fn dbt_macro_namespace_as_dbt_ships_it() {
    let project = Project::fixture("dbt_macro_namespace");
    let seed = project.run(&["seed"]);
    assert_eq!(seed.code, 0, "{}", seed.text(&project));
    project.run(&["compile", "--threads", "1"]);
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dbt_macro_namespace");
    let cases: Vec<Case> = read_jsonl(&fixture.join("expected/compiled.jsonl"));
    assert!(
        cases.len() > 200,
        "expected/compiled.jsonl holds the recorded macros"
    );
    let compiled = project.path().join("target/compiled/namespace_macros/models");
    let mut differing = Vec::new();
    let mut counted = 0;
    for case in cases.iter().filter(|c| !c.error && !c.unprintable) {
        counted += 1;
        let want = case.output.as_deref().unwrap_or_default();
        let got = std::fs::read_to_string(compiled.join(format!("m__{}.sql", case.name))).ok();
        if got.as_deref().map(normalised) != Some(normalised(want)) {
            differing.push((case.name.clone(), got, want.to_string()));
        }
    }
    eprintln!(
        "namespace: {} of {counted} macros render as dbt",
        counted - differing.len()
    );
    let list = fixture.join("known_differences.jsonl");
    let listed: Vec<Known> = read_jsonl(&list);
    if std::env::var_os("MALLARD_NAMESPACE_BLESS").is_some() {
        let text: String = differing
            .iter()
            .map(|(name, _, _)| {
                let reason = listed
                    .iter()
                    .find(|k| k.name == *name)
                    .map_or("not yet explained", |k| k.reason.as_str());
                let line = Known {
                    name: name.clone(),
                    reason: reason.to_string(),
                };
                serde_json::to_string(&line).unwrap() + "\n"
            })
            .collect();
        std::fs::write(&list, text).unwrap();
        return;
    }
    assert!(
        listed.iter().all(|k| !k.reason.trim().is_empty()),
        "every known difference gives its reason"
    );
    let known: BTreeSet<&str> = listed.iter().map(|k| k.name.as_str()).collect();
    let found: BTreeSet<&str> = differing.iter().map(|(n, _, _)| n.as_str()).collect();
    let new: Vec<String> = differing
        .iter()
        .filter(|(n, _, _)| !known.contains(n.as_str()))
        .map(|(n, got, want)| format!("{n}: Mallard {got:?}, dbt {want:?}"))
        .collect();
    let gone: Vec<&&str> = known.iter().filter(|k| !found.contains(*k)).collect();
    assert!(
        new.is_empty() && gone.is_empty(),
        "macro namespace differences from dbt changed.\nnew ({}):\n  {}\ngone (remove from known_differences.jsonl): {gone:?}\n\
         (MALLARD_NAMESPACE_BLESS=1 rewrites the list)",
        new.len(),
        new.join("\n  ")
    );
}
