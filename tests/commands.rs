//! `retry`, `show`, `result:` selection against `--state`, and `selectors.yml`.

mod common;

use common::{rows, Project};

#[test]
fn retry_runs_again_what_failed_or_was_skipped_with_the_same_vars() {
    let project = Project::fixture("unit_tests");
    assert_eq!(project.run(&["seed"]).code, 0);
    assert_eq!(project.run(&["run"]).code, 0);
    // min_amount 8 drops two orders; big_spenders' unit test fails, so big_spenders is skipped.
    let first = project.run(&["build", "--vars", "{min_amount: 8}"]);
    assert_eq!(first.code, 1, "{}", first.text(&project));
    let again = project.run(&["retry"]);
    let text = again.text(&project);
    assert_eq!(again.code, 1, "{text}");
    assert!(
        text.contains("FAIL 1 big_spenders::big_spenders_threshold_is_wrong"),
        "{text}"
    );
    assert!(text.contains("SKIP relation main.big_spenders"), "{text}");
    assert!(
        text.contains("TOTAL=2"),
        "only the failed and the skipped node run again: {text}"
    );
    // The retry ran with the first run's vars, and records them for the next retry.
    let results: serde_json::Value = serde_json::from_str(&project.read("target/run_results.json")).unwrap();
    assert_eq!(results["args"]["vars"], "{min_amount: 8}");
    assert_eq!(results["args"]["command"], "build");
    let db = project.db("unit.duckdb");
    assert_eq!(
        rows(&db, "select count(*) from main.stg_orders"),
        "3",
        "paid orders of 8 or more"
    );
    drop(db);
    // Fix the test; the retry then passes and builds the skipped model.
    let yml = project.read("models/unit_tests.yml").replace(
        "        - {customer_id: 1}\n        - {customer_id: 2}",
        "        - {customer_id: 2}",
    );
    project.write("models/unit_tests.yml", &yml);
    let fixed = project.run(&["retry"]);
    assert_eq!(fixed.code, 0, "{}", fixed.text(&project));
    let done = project.run(&["retry"]);
    assert!(done.stdout.contains("Nothing to retry"), "{}", done.stdout);
}

#[test]
fn result_selection_picks_the_failures_of_an_earlier_run() {
    let project = Project::fixture("unit_tests");
    assert_eq!(project.run(&["seed"]).code, 0);
    assert_eq!(project.run(&["run"]).code, 0);
    assert_eq!(project.run(&["build"]).code, 1);
    std::fs::rename(project.path().join("target"), project.path().join("last")).unwrap();
    let ls = project.run(&[
        "ls",
        "--select",
        "result:fail",
        "result:skipped",
        "--state",
        "last",
        "--output",
        "name",
    ]);
    assert_eq!(ls.code, 0, "{}", ls.text(&project));
    assert_eq!(ls.stdout.trim(), "big_spenders\nbig_spenders_threshold_is_wrong");
    let bad = project.run(&["ls", "--select", "result:broken", "--state", "last"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.text(&project).contains("result:error"),
        "{}",
        bad.text(&project)
    );
}

#[test]
fn selectors_yml_defines_named_and_default_selections() {
    let project = Project::fixture("unit_tests");
    project.write(
        "selectors.yml",
        "selectors:
  - name: totals_upstream
    definition:
      method: fqn
      value: customer_totals
      parents: true
  - name: nightly
    default: true
    definition:
      union:
        - 'resource_type:model'
        - exclude:
            - method: selector
              value: totals_upstream
        - intersection: ['tag:none', 'path:models']
",
    );
    let ls = |args: &[&str]| {
        let mut all = vec!["ls", "--output", "name", "--resource-type", "model", "seed"];
        all.extend_from_slice(args);
        let r = project.run(&all);
        assert_eq!(r.code, 0, "{}", r.text(&project));
        r.stdout.trim().to_string()
    };
    assert_eq!(
        ls(&["--selector", "totals_upstream"]),
        "customer_totals\norders\nstg_orders"
    );
    assert_eq!(
        ls(&[]),
        "big_spenders\ndaily_orders",
        "the default selector applies"
    );
    assert_eq!(
        ls(&["--select", "orders"]),
        "orders",
        "--select wins over the default"
    );
    let r = project.run(&["ls", "--selector", "nightley"]);
    assert_eq!(r.code, 2);
    assert!(
        r.text(&project).contains("did you mean `nightly`?"),
        "{}",
        r.text(&project)
    );
}

#[test]
fn show_prints_the_first_rows_of_a_model_or_a_query() {
    let project = Project::fixture("unit_tests");
    let before = project.run(&["show", "--select", "stg_orders"]);
    assert_eq!(before.code, 2);
    assert!(
        before.text(&project).contains("does not exist yet"),
        "{}",
        before.text(&project)
    );
    assert_eq!(project.run(&["seed"]).code, 0);
    assert_eq!(project.run(&["run"]).code, 0);
    let r = project.run(&["show", "--select", "customer_totals", "--limit", "2"]);
    assert_eq!(r.code, 0, "{}", r.text(&project));
    assert_eq!(
        r.stdout,
        "Previewing node 'customer_totals':
| customer_id | orders | total | last_order |
| ----------- | ------ | ----- | ---------- |
| 1           | 2      | 30    | 2024-01-02 |
| 2           | 1      | 7     | 2024-01-03 |
"
    );
    let r = project.run(&[
        "show",
        "--inline",
        "select count(*) as n from {{ ref('orders') }}",
    ]);
    assert_eq!(r.stdout, "Previewing inline query:\n| n |\n| - |\n| 5 |\n");
}

#[test]
fn deps_replaces_the_install_folder_and_build_names_a_package_that_is_not_installed() {
    let project = Project::fixture("packages");
    let r = project.run(&["deps"]);
    assert_eq!(r.code, 0, "{}", r.text(&project));
    assert!(
        r.stdout
            .contains("Installing local_pkg\nInstalled from <local @ local_pkg>\n"),
        "{}",
        r.stdout
    );
    // As `dbt deps`: the install folder holds what packages.yml asks for, nothing else.
    let installed = project.path().join("dbt_packages");
    assert!(installed
        .join("local_pkg")
        .symlink_metadata()
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(!installed.join("fake_utils").exists());
    assert!(project
        .read("package-lock.yml")
        .contains("  - local: local_pkg\n    name: local_pkg\n"));
    project.write(
        "packages.yml",
        "packages:\n  - local: local_pkg\n  - package: dbt-labs/dbt_utils\n    version: 1.3.0\n",
    );
    let r = project.run(&["build"]);
    assert_eq!(r.code, 2, "{}", r.text(&project));
    let text = r.text(&project);
    assert!(
        text.contains("package `dbt-labs/dbt_utils` of packages.yml is not installed"),
        "{text}"
    );
    assert!(text.contains("run `mallard deps`"), "{text}");
}

#[test]
fn a_ref_to_an_unknown_package_names_the_known_ones() {
    let project = Project::fixture("packages");
    project.write("models/bad.sql", "select * from {{ ref('nope', 'pkg_scaled') }}");
    let r = project.run(&["ls"]);
    assert_eq!(r.code, 2, "{}", r.text(&project));
    assert!(
        r.text(&project).contains("fake_utils, local_pkg, root_proj"),
        "{}",
        r.text(&project)
    );
}

#[test]
fn doc_blocks_fill_descriptions_and_an_unknown_one_is_an_error() {
    let project = Project::fixture("packages");
    assert_eq!(project.run(&["parse"]).code, 0);
    let manifest: serde_json::Value = serde_json::from_str(&project.read("target/manifest.json")).unwrap();
    assert_eq!(
        manifest["nodes"]["model.root_proj.report"]["columns"]["scaled"]["description"],
        "The package's weight, times `pkg_factor`."
    );
    assert_eq!(
        manifest["docs"]["doc.root_proj.report_scaled"]["name"],
        "report_scaled"
    );
    let yml = project
        .read("models/schema.yml")
        .replace("doc('report_scaled')", "doc('report_scaledd')");
    project.write("models/schema.yml", &yml);
    let r = project.run(&["parse"]);
    assert_eq!(r.code, 2, "{}", r.text(&project));
    assert!(
        r.text(&project).contains("no `{% docs report_scaledd %}` block"),
        "{}",
        r.text(&project)
    );
}

#[test]
fn unit_test_inputs_not_built_yet_are_typed_from_their_yaml_data_types() {
    let project = Project::fixture("unit_typed");
    let r = project.run(&["test"]);
    assert_eq!(r.code, 0, "{}", r.text(&project));
    assert!(
        r.stdout.contains("PASS daily_events::counts_per_day"),
        "{}",
        r.stdout
    );
    // Without the types, the timestamp would be text and `date_trunc` would fail.
    let yml = project
        .read("models/schema.yml")
        .replace("        data_type: timestamp\n", "");
    project.write("models/schema.yml", &yml);
    let r = project.run(&["test"]);
    assert_eq!(r.code, 1, "{}", r.text(&project));
}

#[test]
fn what_mallard_does_not_implement_is_named_not_ignored() {
    let project = Project::fixture("chain");
    // A profile key of dbt-duckdb that Mallard does not implement: a warning naming it.
    let profiles = project.read("profiles.yml");
    project.write(
        "profiles.yml",
        &profiles.replace("type: duckdb", "type: duckdb\n      extensions: [httpfs]"),
    );
    // Constraints on a view: the contract is checked, the constraints cannot be applied, and
    // a warning says so.
    project.write(
        "models/contracted.yml",
        "models:\n  - name: contracted\n    config:\n      contract: {enforced: true}\n    columns:\n      - name: id\n        data_type: integer\n        constraints: [{type: not_null}]\n",
    );
    project.write("models/contracted.sql", "select 1 as id");
    let r = project.run(&["parse"]);
    assert_eq!(r.code, 0, "{}", r.text(&project));
    let text = r.text(&project);
    assert!(
        text.contains("profile key `extensions` of target `dev` (profiles.yml:"),
        "{text}"
    );
    assert!(
        text.contains("model `contracted` (models/contracted.sql) declares constraints Mallard does not apply (`not_null`)"),
        "{text}"
    );
    // A Python model: skipping it would build another project, so it is an error.
    project.write("models/scored.py", "def model(dbt, session):\n    return None\n");
    let r = project.run(&["parse"]);
    assert_eq!(r.code, 2, "{}", r.text(&project));
    assert!(
        r.text(&project).contains("`models/scored.py` is a Python model"),
        "{}",
        r.text(&project)
    );
}

#[test]
fn a_broken_contract_fails_with_dbts_table_of_mismatches() {
    let project = Project::fixture("contracts");
    let r = project.run(&["run"]);
    assert_eq!(r.code, 1, "{}", r.text(&project));
    assert!(
        r.stdout.contains(
            "Compilation Error in model bad (models/bad.sql)\n  This model has an enforced contract that failed.\n"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("  | id          | INTEGER         | BIGINT        | data type mismatch    |\n"),
        "{}",
        r.stdout
    );
}

#[test]
fn run_operation_calls_a_macro_with_the_database_as_dbt_does() {
    let p = Project::fixture("chain");
    p.write(
        "macros/ops.sql",
        "{% macro grant_it(role, n=1) %}\n  {% do log('granting to ' ~ role ~ ' n=' ~ n, info=True) %}\n  \
         {% do run_query('create table if not exists ops_log as select 1 as x') %}\n  \
         {% do run_query('insert into ops_log values (' ~ n ~ ')') %}\n  {{ return('done') }}\n{% endmacro %}\n\
         {% macro fail_it() %}\n  {% do run_query('insert into ops_log values (99)') %}\n  \
         {{ exceptions.raise_compiler_error('nope') }}\n{% endmacro %}\n",
    );
    let run = p.run(&["run-operation", "grant_it", "--args", "{role: analyst, n: 5}"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    assert!(run.stdout.contains("granting to analyst n=5"), "{}", run.stdout);
    assert!(
        !run.stdout.contains("done"),
        "the return value is not printed: {}",
        run.stdout
    );
    // A macro that raises: exit code 1; what it ran before raising stays, as under dbt-duckdb.
    let failed = p.run(&["run-operation", "fail_it"]);
    assert_eq!(failed.code, 1, "{}", failed.text(&p));
    assert!(
        failed
            .stdout
            .contains("Encountered an error while running operation"),
        "{}",
        failed.stdout
    );
    assert!(failed.stdout.contains("nope"), "{}", failed.stdout);
    let db = p.db("test.duckdb");
    assert_eq!(rows(&db, "select x from ops_log order by x"), "1\n5\n99");
    drop(db);
    // No such macro, or arguments that are not a YAML mapping: exit code 2, as dbt's.
    let missing = p.run(&["run-operation", "missing_m"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing
            .stderr
            .contains("could not find a macro with the name `missing_m`"),
        "{}",
        missing.stderr
    );
    let bad = p.run(&["run-operation", "grant_it", "--args", "{role: ["]);
    assert_eq!(bad.code, 2, "{}", bad.text(&p));
    assert!(bad.stderr.contains("--args"), "{}", bad.stderr);
}

#[test]
fn source_freshness_checks_each_table_against_its_thresholds() {
    let p = Project::fixture("chain");
    // Without a database there is nothing to read: exit code 2.
    p.write(
        "models/freshness.yml",
        "sources:\n  - name: shop_raw\n    schema: main\n    loaded_at_field: ordered_on\n    freshness:\n      \
         warn_after: {count: 1, period: day}\n    tables:\n      - name: raw_orders\n      - name: stale_orders\n        \
         identifier: raw_orders\n        freshness:\n          error_after: {count: 1, period: day}\n          \
         filter: \"status = 'shipped'\"\n      - name: fresh_enough\n        identifier: raw_orders\n        \
         freshness:\n          warn_after: {count: 100000, period: day}\n      - name: broken\n        \
         identifier: raw_orders\n        loaded_at_field: no_such_column\n      - name: unchecked\n        \
         identifier: raw_orders\n        freshness: null\n",
    );
    let none = p.run(&["source", "freshness"]);
    assert_eq!(none.code, 2, "{}", none.text(&p));
    assert_eq!(p.run(&["seed"]).code, 0);
    let run = p.run(&["source", "freshness"]);
    assert_eq!(run.code, 1, "a stale table and a failing query: {}", run.text(&p));
    for line in [
        "of 4 ERROR freshness of shop_raw.broken",
        "of 4 PASS freshness of shop_raw.fresh_enough",
        "of 4 WARN freshness of shop_raw.raw_orders",
        "of 4 ERROR STALE freshness of shop_raw.stale_orders",
        "Failure in source stale_orders (models/freshness.yml)",
        "Runtime Error in source broken (models/freshness.yml)",
    ] {
        assert!(run.stdout.contains(line), "no `{line}` in:\n{}", run.stdout);
    }
    assert!(!run.stdout.contains("unchecked"), "{}", run.stdout);
    let doc: serde_json::Value = serde_json::from_str(&p.read("target/sources.json")).unwrap();
    let statuses: Vec<(String, String)> = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["unique_id"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            (
                "source.shop.shop_raw.fresh_enough".to_string(),
                "pass".to_string()
            ),
            ("source.shop.shop_raw.raw_orders".to_string(), "warn".to_string()),
            (
                "source.shop.shop_raw.stale_orders".to_string(),
                "error".to_string()
            ),
        ]
    );
    let stale = &doc["results"][2];
    assert_eq!(stale["criteria"]["filter"], "status = 'shipped'");
    assert_eq!(stale["criteria"]["error_after"]["period"], "day");
    assert!(
        stale["max_loaded_at"].as_str().unwrap().starts_with("2024-01-"),
        "{stale}"
    );
    if let Some(schema) = common::artifact_schema("sources/v3.json") {
        let violations = common::schema_violations(&schema, &p.path().join("target/sources.json"));
        assert!(violations.is_empty(), "{violations:#?}");
    }
    // Selection narrows it; a warning alone exits 0.
    let one = p.run(&["source", "freshness", "--select", "source:shop_raw.raw_orders"]);
    assert_eq!(one.code, 0, "{}", one.text(&p));
    assert!(
        one.stdout
            .contains("1 of 1 WARN freshness of shop_raw.raw_orders"),
        "{}",
        one.stdout
    );
}

#[test]
fn defer_builds_one_changed_model_on_top_of_production() {
    // Slim CI on DuckDB: production and CI are schemas of one database file.
    let p = Project::fixture("chain");
    p.write(
        "profiles.yml",
        "fixture:\n  target: prod\n  outputs:\n    prod:\n      type: duckdb\n      path: test.duckdb\n      \
         schema: main\n    ci:\n      type: duckdb\n      path: test.duckdb\n      schema: ci\n",
    );
    assert_eq!(p.run(&["build"]).code, 0);
    std::fs::rename(p.path().join("target"), p.path().join("prod-state")).unwrap();
    // Without deferral, the CI schema has no stg_orders to read.
    let alone = p.run(&["run", "--target", "ci", "--select", "customer_revenue"]);
    assert_eq!(alone.code, 1, "{}", alone.text(&p));
    let ci = p.run(&[
        "run",
        "--target",
        "ci",
        "--select",
        "customer_revenue",
        "--defer",
        "--state",
        "prod-state",
    ]);
    assert_eq!(ci.code, 0, "{}", ci.text(&p));
    let db = p.db("test.duckdb");
    assert_eq!(
        rows(&db, "select * from ci_marts.customer_revenue order by all"),
        rows(&db, "select * from main_marts.customer_revenue order by all"),
    );
    assert_eq!(
        rows(
            &db,
            "select count(*) from information_schema.tables where table_schema = 'ci'"
        ),
        "0"
    );
    drop(db);
    let compiled = p.read("target/compiled/shop/models/marts/customer_revenue.sql");
    assert!(
        compiled.contains("\"test\".\"main\".\"stg_orders\""),
        "{compiled}"
    );
    // --defer without a state to defer to: exit code 2 before anything runs.
    let bad = p.run(&["run", "--target", "ci", "--defer"]);
    assert_eq!(bad.code, 2, "{}", bad.text(&p));
    assert!(
        bad.stderr.contains("`--defer` needs the manifest"),
        "{}",
        bad.stderr
    );
}
