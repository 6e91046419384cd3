//! dbt parity without Python: each fixture with a `parity.yml` is run through its steps (several
//! `mallard` commands in a row), and after each step every relation, and every node's status in
//! `run_results.json`, must equal what dbt-core with dbt-duckdb gave, as recorded in the fixture's `expected/step-N.txt` by
//! `bash scripts/dbt_parity/run tests/fixtures/<name>` (which also regenerates those files).

mod common;

use common::relations::{self, Floats};
use common::Project;

/// Every table and view of `db` in the parity form (`common::relations::dump`, exact values),
/// as `scripts/dbt_parity/run` records dbt's.
fn dump(db: &std::path::Path) -> String {
    relations::dump(&relations::open_read_only(db), Floats::Exact)
}

/// Each node's status in a `run_results.json`, as `scripts/dbt_parity/statuses.py` prints them.
fn statuses(run_results: &str) -> String {
    common::node_statuses(run_results).join("\n")
}

/// Runs fixture `name`'s steps and compares the database after each with dbt's.
fn check_parity(name: &str) {
    check_parity_with(name, &[]);
}

/// [`check_parity`] with `extra` arguments added to every step (such as `--threads 8`).
fn check_parity_with(name: &str, extra: &[&str]) {
    let project = Project::fixture(name);
    let spec: serde_yaml::Value = serde_yaml::from_str(&project.read("parity.yml")).expect("parity.yml");
    let steps = spec["steps"].as_sequence().expect("parity.yml has steps");
    for (i, step) in steps.iter().enumerate() {
        let n = i + 1;
        let args: Vec<String> = step
            .as_sequence()
            .expect("a step is a list of arguments")
            .iter()
            .map(|a| a.as_str().map(str::to_string).unwrap_or_else(|| format!("{a:?}")))
            .collect();
        let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
        args.extend_from_slice(extra);
        let run = project.run(&args);
        let expected_statuses = project.read(&format!("expected/step-{n}.status.txt"));
        let statuses = statuses(&project.read("target/run_results.json"));
        assert_eq!(
            statuses.trim_end(),
            expected_statuses.trim_end(),
            "step {n} ({args:?}): node statuses differ from dbt's\n{}",
            run.text(&project)
        );
        let db = std::fs::read_dir(project.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "duckdb"))
            .expect("the run wrote a database");
        let expected = project.read(&format!("expected/step-{n}.txt"));
        let actual = dump(&db);
        if actual != expected {
            let diff: Vec<String> = expected
                .lines()
                .zip(actual.lines())
                .enumerate()
                .filter(|(_, (e, a))| e != a)
                .take(10)
                .map(|(line, (e, a))| format!("line {}:\n  dbt:     {e}\n  mallard: {a}", line + 1))
                .collect();
            panic!(
                "step {n} ({args:?}): relations differ from dbt's ({} lines vs {}):\n{}",
                expected.lines().count(),
                actual.lines().count(),
                diff.join("\n")
            );
        }
    }
}

/// Every fixture with a `parity.yml` (found, not listed: a new one runs without touching this
/// file). Each is run whole; the failures of all are reported together.
#[test]
fn every_parity_fixture_builds_what_dbt_built() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut names: Vec<String> = std::fs::read_dir(&fixtures)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("parity.yml").is_file())
        .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    names.sort();
    // What public projects showed dbt doing (dbt_semantics: seeds typed by agate's rules, var()
    // and target in dbt_project.yml, a generate_schema_name override, model versions, a test on
    // an ephemeral model, a custom generic test) is among them, recorded with dbt 1.11.
    for must in [
        "dbt_semantics",
        "dbt_namespace",
        "incremental",
        "snapshots",
        "unit_tests",
        "packages",
        "contracts",
        "microbatch",
    ] {
        assert!(
            names.iter().any(|n| n == must),
            "fixture {must} has no parity.yml: {names:?}"
        );
    }
    let failed: Vec<String> = names
        .iter()
        .filter_map(|name| {
            std::panic::catch_unwind(|| check_parity(name)).err().map(|e| {
                let why = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                format!("{name}: {why}")
            })
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} fixtures differ from dbt:\n{}",
        failed.len(),
        names.len(),
        failed.join("\n\n")
    );
}

/// dbt built these with 1 or 2 threads; 8 workers, each on its own connection with its own
/// temporary tables, must build the same (the races of dbt-duckdb#513 and #748 would show here).
#[test]
fn eight_threads_build_what_dbt_built() {
    for fixture in ["incremental", "snapshots", "unit_tests", "packages"] {
        check_parity_with(fixture, &["--threads", "8"]);
    }
}
