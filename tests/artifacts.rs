//! The artifacts Mallard writes are valid against dbt's published JSON schemas
//! (`../shared/schemas/dbt/`, draft 2020-12), so that tools reading dbt's artifacts read
//! Mallard's: `manifest.json` (v12) for every fixture project and the warehouse, and
//! `run_results.json` (v6) for builds that pass, fail and skip. The corpus projects' artifacts
//! are checked after each step of the real-world parity suite (`tests/realworld.rs`).

mod common;

use common::{artifact_schema, schema_violations, Project};

#[test]
fn every_manifest_is_valid_against_dbts_schema() {
    let Some(schema) = artifact_schema("manifest/v12.json") else {
        eprintln!("skipped: ../shared/schemas is not beside the repository");
        return;
    };
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut names: Vec<String> = std::fs::read_dir(&fixtures)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| fixtures.join(n).join("dbt_project.yml").is_file())
        .collect();
    names.sort();
    let mut checked = 0;
    let mut failures = Vec::new();
    for name in names.iter().map(String::as_str).chain([""]) {
        let project = if name.is_empty() {
            Project::warehouse()
        } else {
            Project::fixture(name)
        };
        // Fixtures made to fail parsing write no manifest.
        if project.run(&["parse"]).code != 0 {
            continue;
        }
        checked += 1;
        let violations = schema_violations(&schema, &project.path().join("target/manifest.json"));
        if !violations.is_empty() {
            failures.push(format!(
                "{}:\n  {}",
                if name.is_empty() { "warehouse" } else { name },
                violations.join("\n  ")
            ));
        }
    }
    assert!(checked >= 10, "only {checked} projects parsed");
    assert!(
        failures.is_empty(),
        "manifest.json breaks dbt's schema:\n{}",
        failures.join("\n")
    );
}

#[test]
fn run_results_are_valid_for_passing_failing_and_skipped_nodes() {
    let Some(schema) = artifact_schema("run-results/v6.json") else {
        eprintln!("skipped: ../shared/schemas is not beside the repository");
        return;
    };
    for (name, args) in [
        ("chain", &["build"][..]),
        ("failing_test", &["build"][..]),
        ("sql_error", &["build"][..]),
        ("unit_tests", &["build"][..]),
        ("snapshots", &["build"][..]),
    ] {
        let project = Project::fixture(name);
        let run = project.run(args);
        let results = project.path().join("target/run_results.json");
        assert!(
            results.is_file(),
            "{name}: no run_results.json\n{}",
            run.text(&project)
        );
        let violations = schema_violations(&schema, &results);
        assert!(
            violations.is_empty(),
            "{name}: run_results.json breaks dbt's schema:\n  {}",
            violations.join("\n  ")
        );
    }
}

#[test]
fn the_catalog_is_valid_for_tables_views_seeds_and_sources() {
    let Some(schema) = artifact_schema("catalog/v1.json") else {
        eprintln!("skipped: ../shared/schemas is not beside the repository");
        return;
    };
    for name in ["chain", "attach", "snapshots"] {
        let project = Project::fixture(name);
        if name == "attach" {
            // The attached databases the fixture's profile names.
            for file in ["other.duckdb", "ro.duckdb"] {
                let conn = duckdb::Connection::open(project.path().join(file)).unwrap();
                conn.execute_batch(if file == "other.duckdb" {
                    "create schema raw; create table raw.events as select range as id, range * 2 as amount from range(5)"
                } else {
                    "create table lookup as select 1 as id, 'one' as name"
                })
                .unwrap();
            }
        }
        let run = project.run(&["build"]);
        assert_eq!(run.code, 0, "{name}: {}", run.text(&project));
        let run = project.run(&["docs", "generate"]);
        assert_eq!(run.code, 0, "{name}: {}", run.text(&project));
        let catalog = project.path().join("target/catalog.json");
        let violations = schema_violations(&schema, &catalog);
        assert!(
            violations.is_empty(),
            "{name}: catalog.json breaks dbt's schema:\n  {}",
            violations.join("\n  ")
        );
        let value: serde_json::Value = serde_json::from_str(&project.read("target/catalog.json")).unwrap();
        assert!(
            !value["nodes"].as_object().unwrap().is_empty(),
            "{name}: an empty catalog"
        );
    }
}
