//! Static analysis (issue 29): the catalogue of broken models in
//! `tests/fixtures/static_analysis`, each a mistake dbt finds only when the model runs, each
//! caught before anything runs at the line marked `-- expect: error`; and the modes.

mod common;

use std::collections::BTreeMap;

use common::Project;

/// The nodes static analysis reported as errors in `stdout`, with their location.
fn errors(stdout: &str) -> BTreeMap<String, String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("Static analysis error in "))
        .filter_map(|rest| {
            let (what, at) = rest.split_once(" (")?;
            let name = what.split_once(' ')?.1.to_string();
            Some((name, at.split(')').next()?.to_string()))
        })
        .collect()
}

/// Each file of the fixture with a line marked `-- expect: error`: its node name and the
/// location static analysis must give (`models/x.sql:7`).
fn expected(project: &Project) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for folder in ["models", "tests"] {
        for file in common::files_under(&project.path().join(folder)) {
            let text = std::fs::read_to_string(&file).unwrap();
            let Some(line) = text.lines().position(|l| l.contains("-- expect: error")) else {
                continue;
            };
            let name = file.file_stem().unwrap().to_string_lossy().to_string();
            let rel = file
                .strip_prefix(project.path())
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.insert(name, format!("{rel}:{}", line + 1));
        }
    }
    out
}

#[test]
fn every_broken_model_of_the_catalogue_is_an_error_at_its_line_before_anything_runs() {
    let project = Project::fixture("static_analysis");
    let run = project.run(&["build"]);
    assert_eq!(run.code, 1, "{}", run.text(&project));
    let found = errors(&run.stdout);
    let mut want = expected(&project);
    // The property file's test on a misspelt column: at its entry in schema.yml.
    want.insert(
        "not_null_customer_totals_lifetime_revenu".into(),
        "models/schema.yml:10".into(),
    );
    assert!(want.len() >= 20, "{want:?}");
    // A line that Jinja made is placed at the template lines that made it (`x.sql:3-5`).
    let covers = |at: &str, got: &str| {
        let (file, line) = at.rsplit_once(':').unwrap();
        let line: usize = line.parse().unwrap();
        got == at
            || got
                .strip_prefix(&format!("{file}:"))
                .and_then(|r| r.split_once('-'))
                .is_some_and(|(a, b)| {
                    a.parse::<usize>().is_ok_and(|a| a <= line) && b.parse::<usize>().is_ok_and(|b| line <= b)
                })
    };
    let wrong: Vec<String> = want
        .iter()
        .filter(|(name, at)| !found.get(*name).is_some_and(|got| covers(at, got)))
        .map(|(name, at)| format!("{name}: want {at}, got {:?}", found.get(name)))
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}\n{}", run.stdout);
    assert_eq!(found.len(), want.len(), "no other node is an error: {found:#?}");
    assert!(
        run.stdout.contains("help: did you mean `amount`?"),
        "{}",
        run.stdout
    );
    // Nothing ran: not even the seeds the models read.
    assert!(run.stdout.contains("nothing was run"), "{}", run.stdout);
    assert!(
        !project.path().join("static_analysis.duckdb").exists() || {
            let db = project.db("static_analysis.duckdb");
            common::rows(&db, "select count(*) from information_schema.tables") == "0"
        }
    );
    let results = project.read("target/run_results.json");
    let statuses = common::node_statuses(&results);
    assert!(
        statuses
            .iter()
            .any(|s| s.contains("misspelt_column") && s.contains("error")),
        "{statuses:?}"
    );
    assert!(
        statuses.iter().any(|s| s == "seed orders skipped"),
        "{statuses:?}"
    );
}

#[test]
fn compile_reports_the_same_errors_and_still_writes_the_compiled_sql() {
    let project = Project::fixture("static_analysis");
    let run = project.run(&["compile"]);
    assert_eq!(run.code, 1, "{}", run.text(&project));
    assert_eq!(
        errors(&run.stdout).len(),
        expected(&project).len() + 1,
        "{}",
        run.stdout
    );
    assert!(project
        .path()
        .join("target/compiled/static_analysis/models/misspelt_column.sql")
        .exists());
    // The manifest has the columns of what bound, typed.
    let manifest: serde_json::Value = serde_json::from_str(&project.read("target/manifest.json")).unwrap();
    let columns = &manifest["nodes"]["model.static_analysis.customer_totals"]["columns"];
    assert_eq!(columns["lifetime_revenue"]["data_type"], "DOUBLE", "{columns}");
    assert_eq!(columns["customer_id"]["data_type"], "INTEGER", "{columns}");
}

#[test]
fn off_skips_the_analysis_and_strict_refuses_what_cannot_be_analysed() {
    let project = Project::fixture("static_analysis");
    let off = project.run(&["compile", "--static-analysis", "off"]);
    assert_eq!(off.code, 0, "{}", off.text(&project));
    assert!(errors(&off.stdout).is_empty());
    // A model's own `static_analysis: off` leaves it out.
    project.write(
        "models/misspelt_column.sql",
        "{{ config(static_analysis='off') }}\nselect amout from {{ ref('orders') }}\n",
    );
    let run = project.run(&["compile", "-s", "misspelt_column"]);
    assert_eq!(run.code, 0, "{}", run.text(&project));
    // A model that reads data while compiling is a note in baseline, an error in strict.
    project.write(
        "models/introspective.sql",
        "{% set n = run_query('select 1') %}\nselect 1 as one\n",
    );
    assert_eq!(project.run(&["seed"]).code, 0);
    let baseline = project.run(&["compile", "-s", "introspective"]);
    assert_eq!(baseline.code, 0, "{}", baseline.text(&project));
    assert!(
        baseline.stdout.contains("1 not analysable"),
        "{}",
        baseline.stdout
    );
    let strict = project.run(&["compile", "-s", "introspective", "--static-analysis", "strict"]);
    assert_eq!(strict.code, 1, "{}", strict.text(&project));
    assert!(
        strict.stdout.contains("reads data while compiling"),
        "{}",
        strict.stdout
    );
}

#[test]
fn a_change_lists_the_downstream_columns_it_breaks_and_docs_has_a_catalog_without_a_build() {
    let project = Project::fixture("static_analysis");
    for dir in ["models", "tests"] {
        std::fs::remove_dir_all(project.path().join(dir)).unwrap();
        std::fs::create_dir(project.path().join(dir)).unwrap();
    }
    project.write(
        "models/customer_totals.sql",
        "select customer_id, sum(amount) as lifetime_revenue\nfrom {{ ref('orders') }}\ngroup by customer_id\n",
    );
    project.write(
        "models/doubled.sql",
        "select customer_id,\n    lifetime_revenue * 2 as doubled\nfrom {{ ref('customer_totals') }}\n",
    );
    assert_eq!(project.run(&["compile"]).code, 0);
    let state = project.path().join("state");
    std::fs::rename(project.path().join("target"), &state).unwrap();
    project.write(
        "models/customer_totals.sql",
        "select customer_id, sum(amount) as revenue\nfrom {{ ref('orders') }}\ngroup by customer_id\n",
    );
    let run = project.run(&[
        "compile",
        "-s",
        "state:modified+",
        "--state",
        state.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{}", run.text(&project));
    assert_eq!(
        errors(&run.stdout)["doubled"],
        "models/doubled.sql:2",
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("did you mean `revenue`?"), "{}", run.stdout);
    // No database: docs generate's catalog is the analysis's shapes.
    let docs = project.run(&["docs", "generate"]);
    assert_eq!(docs.code, 1, "{}", docs.text(&project));
    let catalog: serde_json::Value = serde_json::from_str(&project.read("target/catalog.json")).unwrap();
    let columns = &catalog["nodes"]["model.static_analysis.customer_totals"]["columns"];
    assert_eq!(columns["revenue"]["type"], "DOUBLE", "{catalog}");
    assert_eq!(
        catalog["nodes"]["seed.static_analysis.orders"]["columns"]["ordered_at"]["type"],
        "TIMESTAMP"
    );
}
