//! The real-world parity suite: each public dbt project of `../shared/realworld/` is copied to a
//! temporary folder and run through the commands of its `tests/realworld/<name>/parity.yml`,
//! and after each step every relation (columns, types, a digest of its rows) and every node's
//! status is compared with what dbt-core 1.11 with dbt-duckdb 1.11 (on Mallard's DuckDB) did,
//! as recorded in `tests/realworld/<name>/expected/` by `bash scripts/dbt_parity/realworld
//! --record` (see `scripts/dbt_parity/realworld.py`, which prints dbt's databases with
//! `examples/relations.rs`, the same code as [`digest`] here: `common::relations::digest`).
//!
//! Where Mallard still differs from dbt, the difference is listed in the project's
//! `known_differences.txt`, one per line (`step-N relation <schema.name>`, `step-N status
//! <kind> <name>`, `step-N exit`). The test fails when a difference appears that is not listed
//! (a regression) and when a listed one is gone (progress: shorten the list). A line ending in
//! `*` covers every difference that begins with it, for a step whose outcome still depends on
//! timing. Run with `MALLARD_REALWORLD_BLESS=1` to rewrite the lists from what this run found.
//!
//! After each step, `target/manifest.json` and `target/run_results.json` must be valid against
//! dbt's published JSON schemas (`../shared/schemas/dbt/`).
//!
//! No verdict depends on the day: each Mallard step runs with its clock started at the instant
//! dbt's run was recorded (`expected/clock.txt`; libfaketime preloaded, as the recorder does for
//! dbt), so a relation computed from the date (`current_date`, `dbt_date.today()`, a date spine
//! up to today) is compared row for row. A relation whose rows differed between two dbt runs
//! from that same instant (it reads the time of day, `now()`, `run_started_at` or `random()`) is
//! recorded with `rows=*` and compared by its columns and types only: found by that rule at
//! recording time, not listed by hand. The databases are read at that clock too (a view over
//! `now()` is evaluated when it is read).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(serde::Deserialize)]
struct Spec {
    project: String,
    profile: String,
    database: String,
    steps: Vec<Vec<serde_yaml::Value>>,
    #[serde(default)]
    column_order_free: Vec<String>,
    #[serde(default)]
    status_free: Vec<String>,
}

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/realworld")
}

fn specs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/realworld")
}

/// Every relation of `db`, one line each, in `common::relations::digest`'s form; those of
/// `moving` with `rows=*`. Read by `examples/relations` (the same code) in a process whose
/// clock starts at `clock`, as the recorder reads dbt's: a view over `current_date` is
/// evaluated when it is read.
fn digest(db: &Path, spec: &Spec, moving: &[String], clock: &str) -> Vec<String> {
    let relations = Path::new(env!("CARGO_BIN_EXE_mallard"))
        .parent()
        .expect("target folder")
        .join("examples/relations");
    assert!(
        relations.is_file(),
        "{} is missing: `cargo test` builds it (or `cargo build --example relations`)",
        relations.display()
    );
    let mut cmd = Command::new(&relations);
    cmd.arg("digest").arg(db).arg("--columns-only").args(moving);
    cmd.arg("--column-order-free").args(&spec.column_order_free);
    let out = common::at_clock(&mut cmd, clock)
        .output()
        .expect("run examples/relations");
    assert!(
        out.status.success(),
        "relations digest: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// The relations of a recorded digest whose rows moved between two dbt runs (`rows=*`), by name.
fn moving(recorded: &str) -> Vec<String> {
    recorded
        .lines()
        .filter(|l| l.contains(" | rows=*"))
        .filter_map(|l| {
            key_of_relation(l)
                .split_once('.')
                .map(|(_, name)| name.to_string())
        })
        .collect()
}

/// `<kind> <name> <status>` per node of a run_results.json, sorted (as `statuses.py`), without
/// the tests whose status varies under dbt too.
fn statuses(path: &Path, spec: &Spec) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    common::node_statuses(&text)
        .into_iter()
        .filter(|l| !spec.status_free.iter().any(|s| l.contains(s.as_str())))
        .collect()
}

/// The name of a digest line (`schema.name`) or a status line (`kind name`).
fn key_of_relation(line: &str) -> &str {
    line.split(' ').next().unwrap_or(line)
}

fn key_of_status(line: &str) -> String {
    line.rsplit_once(' ').map(|(k, _)| k).unwrap_or(line).to_string()
}

/// Runs corpus project `name` and returns its differences from dbt, with a score line.
fn differences(name: &str) -> (BTreeSet<String>, String) {
    let spec_dir = specs().join(name);
    let spec: Spec =
        serde_yaml::from_str(&std::fs::read_to_string(spec_dir.join("parity.yml")).expect("parity.yml"))
            .expect("parity.yml is valid");
    let top = spec.project.split('/').next().expect("project path");
    let source = corpus().join(top);
    assert!(
        source.is_dir(),
        "the corpus project {} is missing: ../shared/realworld/ must be beside the repository",
        source.display()
    );
    let work = tempfile::tempdir().expect("temp dir");
    copy_tree(&source, &work.path().join(top));
    let project = work.path().join(&spec.project);
    let profiles = work.path().join("profiles");
    std::fs::create_dir_all(&profiles).unwrap();
    std::fs::write(
        profiles.join("profiles.yml"),
        format!(
            "{}:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: {}\n      threads: 4\n",
            spec.profile, spec.database
        ),
    )
    .unwrap();
    let read = |f: &str| std::fs::read_to_string(spec_dir.join("expected").join(f)).expect(f);
    let clock = read("clock.txt");
    let mut diffs = BTreeSet::new();
    let mut score = Vec::new();
    for (i, step) in spec.steps.iter().enumerate() {
        let n = i + 1;
        let args: Vec<String> = step
            .iter()
            .map(|a| a.as_str().map(str::to_string).unwrap_or_else(|| format!("{a:?}")))
            .collect();
        let _ = std::fs::remove_file(project.join("target/run_results.json"));
        let out = common::at_clock(&mut Command::new(env!("CARGO_BIN_EXE_mallard")), clock.trim())
            .args(&args)
            .arg("--profiles-dir")
            .arg(&profiles)
            .current_dir(&project)
            .env_remove("DBT_PROFILES_DIR")
            .env_remove("MALLARD_DB_PATH")
            .output()
            .expect("run mallard");
        // Every artifact the step wrote is valid against dbt's published schema.
        for (file, schema) in [
            ("manifest.json", "manifest/v12.json"),
            ("run_results.json", "run-results/v6.json"),
        ] {
            let path = project.join("target").join(file);
            if let (true, Some(schema)) = (path.is_file(), common::artifact_schema(schema)) {
                let violations = common::schema_violations(&schema, &path);
                assert!(
                    violations.is_empty(),
                    "{name} step {n}: {file} breaks dbt's schema:\n  {}",
                    violations.join("\n  ")
                );
            }
        }
        let want_exit: i32 = read(&format!("step-{n}.exit.txt")).trim().parse().unwrap();
        // A test on random data may fail under dbt too (`status_free`): when only such tests
        // failed, the exit code says nothing about Mallard.
        let failed_only_status_free = match std::fs::read_to_string(project.join("target/run_results.json")) {
            Err(_) => false,
            Ok(text) => {
                let failed: Vec<String> = common::node_statuses(&text)
                    .into_iter()
                    .filter(|l| l.ends_with(" fail") || l.ends_with(" error"))
                    .collect();
                !failed.is_empty()
                    && failed
                        .iter()
                        .all(|l| spec.status_free.iter().any(|s| l.contains(s.as_str())))
            }
        };
        if out.status.code() != Some(want_exit) && !failed_only_status_free {
            diffs.insert(format!("step-{n} exit"));
        }
        let db = project.join(&spec.database);
        let want = read(&format!("step-{n}.txt"));
        let got: BTreeSet<String> = if db.exists() {
            digest(&db, &spec, &moving(&want), clock.trim())
                .into_iter()
                .collect()
        } else {
            BTreeSet::new()
        };
        let want_keys: BTreeSet<&str> = want.lines().map(key_of_relation).collect();
        let mut same = 0;
        for line in want.lines() {
            if got.contains(line) {
                same += 1;
            } else {
                diffs.insert(format!("step-{n} relation {}", key_of_relation(line)));
            }
        }
        for line in &got {
            if !want_keys.contains(key_of_relation(line)) {
                diffs.insert(format!(
                    "step-{n} relation {} (not built by dbt)",
                    key_of_relation(line)
                ));
            }
        }
        let got_s: BTreeSet<String> = statuses(&project.join("target/run_results.json"), &spec)
            .into_iter()
            .collect();
        let want_s = read(&format!("step-{n}.status.txt"));
        let want_s_keys: BTreeSet<String> = want_s.lines().map(key_of_status).collect();
        let mut same_s = 0;
        for line in want_s.lines().filter(|l| !l.is_empty()) {
            if got_s.contains(line) {
                same_s += 1;
            } else {
                diffs.insert(format!("step-{n} status {}", key_of_status(line)));
            }
        }
        for line in &got_s {
            if !want_s_keys.contains(&key_of_status(line)) {
                diffs.insert(format!(
                    "step-{n} status {} (not run by dbt)",
                    key_of_status(line)
                ));
            }
        }
        score.push(format!(
            "{name} step {n} ({}): exit {:?} (dbt {want_exit}); relations {same}/{}; statuses {same_s}/{}",
            args.join(" "),
            out.status.code(),
            want.lines().count(),
            want_s.lines().filter(|l| !l.is_empty()).count(),
        ));
        if std::env::var_os("MALLARD_REALWORLD_LOG").is_some() {
            eprintln!(
                "--- {name} step {n}\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    (diffs, score.join("\n"))
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        let dest = to.join(entry.file_name());
        if path.is_dir() {
            copy_tree(&path, &dest);
        } else {
            std::fs::copy(&path, &dest).unwrap();
            // The corpus is read-only in CI; the copy must be writable.
            let mut perms = std::fs::metadata(&dest).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            std::fs::set_permissions(&dest, perms).unwrap();
        }
    }
}

/// Compares project `name` with dbt and with its list of known differences.
fn check(name: &str) {
    let (found, score) = differences(name);
    eprintln!("{score}");
    let list = specs().join(name).join("known_differences.txt");
    let written = std::fs::read_to_string(&list).unwrap_or_default();
    let known: BTreeSet<String> = written
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    if std::env::var_os("MALLARD_REALWORLD_BLESS").is_some() {
        // Comments and `*` lines stay; the exact lines become what this run found.
        let kept: String = written
            .lines()
            .filter(|l| l.starts_with('#') || l.ends_with('*'))
            .map(|l| format!("{l}\n"))
            .collect();
        let patterns: Vec<&str> = known.iter().filter_map(|k| k.strip_suffix('*')).collect();
        let exact: String = found
            .iter()
            .filter(|d| !patterns.iter().any(|p| d.starts_with(p)))
            .map(|d| format!("{d}\n"))
            .collect();
        std::fs::write(&list, kept + &exact).unwrap();
        return;
    }
    // A line ending in `*` stands for every difference it begins (a step whose outcome is
    // timing-dependent while it still fails, e.g. with `--fail-fast` on several threads).
    let covered = |d: &String| {
        known.contains(d)
            || known
                .iter()
                .any(|k| k.strip_suffix('*').is_some_and(|prefix| d.starts_with(prefix)))
    };
    let new: Vec<&String> = found.iter().filter(|d| !covered(d)).collect();
    let fixed: Vec<&String> = known
        .iter()
        .filter(|k| match k.strip_suffix('*') {
            Some(prefix) => !found.iter().any(|d| d.starts_with(prefix)),
            None => !found.contains(*k),
        })
        .collect();
    assert!(
        new.is_empty() && fixed.is_empty(),
        "{name}: differences from dbt changed.\n{score}\nnew (not in known_differences.txt): {new:#?}\n\
         gone (remove from known_differences.txt): {fixed:#?}\n\
         (MALLARD_REALWORLD_BLESS=1 rewrites the list; MALLARD_REALWORLD_LOG=1 prints Mallard's output)"
    );
}

#[test]
fn adventureworks() {
    check("adventureworks");
}

#[test]
fn churn_prediction() {
    check("churn_prediction");
}

#[test]
fn dbt_activity_schema() {
    check("dbt_activity_schema");
}

#[test]
fn dbt_artifacts() {
    check("dbt_artifacts");
}

#[test]
fn dbt_assertions() {
    check("dbt_assertions");
}

#[test]
fn dbt_audit_helper() {
    check("dbt_audit_helper");
}

#[test]
fn dbt_date() {
    check("dbt_date");
}

#[test]
fn dbt_expectations() {
    check("dbt_expectations");
}

#[test]
fn dbt_graph_theory() {
    check("dbt_graph_theory");
}

#[test]
fn dbt_jira() {
    check("dbt_jira");
}

#[test]
fn dbt_project_evaluator() {
    check("dbt_project_evaluator");
}

#[test]
fn dbt_unit_testing() {
    check("dbt_unit_testing");
}

#[test]
fn dbt_utils() {
    check("dbt_utils");
}

#[test]
fn elementary() {
    check("elementary");
}

/// Every corpus project has its spec, and every spec a test above.
#[test]
fn every_corpus_project_is_checked() {
    let names = |dir: PathBuf| -> BTreeSet<String> {
        std::fs::read_dir(dir)
            .expect("read dir")
            .map(|e| e.unwrap())
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    };
    assert_eq!(names(corpus()), names(specs()));
    let this = include_str!("realworld.rs");
    for name in names(specs()) {
        assert!(
            this.contains(&format!("check(\"{name}\")")),
            "no test runs {name}"
        );
    }
}
