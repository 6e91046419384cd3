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

/// As dbt: what is in `dbt_packages/` is what a build reads, whatever the folder's or the
/// repository's name; `packages.yml` only counts what must be there.
#[test]
fn installed_packages_are_read_from_dbt_packages_whatever_their_source() {
    let project = Project::fixture("packages");
    let root = project.path();
    // `deps` installed the local package (its source folder is gone) and a git package whose
    // repository is not named like the project it holds (`fake_utils`).
    std::fs::rename(root.join("local_pkg"), root.join("dbt_packages/local_pkg")).unwrap();
    project.write(
        "packages.yml",
        "packages:\n  - local: ../elsewhere/local_pkg\n  - git: \"https://example.com/org/fake-repo.git\"\n    revision: v1\n",
    );
    let r = project.run(&["build"]);
    assert_eq!(r.code, 0, "{}", r.text(&project));
    std::fs::remove_dir_all(root.join("dbt_packages/fake_utils")).unwrap();
    project.write("models/report.sql", "select 1 as x\n");
    let r = project.run(&["build"]);
    let text = r.text(&project);
    assert_eq!(r.code, 2, "{text}");
    assert!(
        text.contains("package `https://example.com/org/fake-repo.git` of packages.yml is not installed"),
        "{text}"
    );
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
    // A profile key of dbt-duckdb that has no effect in Mallard: a warning naming it.
    let profiles = project.read("profiles.yml");
    project.write(
        "profiles.yml",
        &profiles.replace("type: duckdb", "type: duckdb\n      disable_transactions: true"),
    );
    // Constraints on a view: the contract is checked, the constraints cannot be applied, and
    // a warning says so.
    project.write(
        "models/contracted.yml",
        "models:\n  - name: contracted\n    config:\n      contract: {enforced: true}\n    columns:\n      - name: id\n        data_type: integer\n        constraints: [{type: not_null}]\n",
    );
    project.write(
        "models/contracted.sql",
        "{{ config(grants={'select': ['reporter']}) }}\nselect 1 as id",
    );
    let r = project.run(&["parse"]);
    assert_eq!(r.code, 0, "{}", r.text(&project));
    let text = r.text(&project);
    assert!(
        text.contains("profile key `disable_transactions` of target `dev` (profiles.yml:"),
        "{text}"
    );
    assert!(
        text.contains("model `contracted` (models/contracted.sql) declares constraints Mallard does not apply (`not_null`)"),
        "{text}"
    );
    // Grants: DuckDB has none; one warning, as dbt-duckdb's.
    assert!(
        text.contains("Grants for relations are not supported by Mallard")
            && text
                .contains("the `grants` of 1 node(s), first `model.shop.contracted` (models/contracted.sql)"),
        "{text}"
    );
    // A Python model is a node, as in dbt (its `dbt.ref` is an edge, `language: python` in the
    // manifest); building it is an error naming it, and what does not need it still builds.
    project.write(
        "models/scored.py",
        "def model(dbt, session):\n    return dbt.ref(\"contracted\").df()\n",
    );
    let r = project.run(&["parse"]);
    assert_eq!(r.code, 0, "{}", r.text(&project));
    let manifest: serde_json::Value = serde_json::from_str(&project.read("target/manifest.json")).unwrap();
    let scored = manifest["nodes"]
        .as_object()
        .unwrap()
        .values()
        .find(|n| n["name"] == "scored")
        .cloned()
        .unwrap();
    assert_eq!(scored["language"], "python");
    assert_eq!(scored["config"]["materialized"], "table");
    assert_eq!(
        scored["depends_on"]["nodes"][0].as_str().unwrap_or_default(),
        "model.shop.contracted"
    );
    let r = project.run(&["build", "-s", "+scored"]);
    let text = r.text(&project);
    assert_eq!(r.code, 1, "{text}");
    assert!(
        text.contains("model `scored` is a Python model, which Mallard cannot run yet"),
        "{text}"
    );
    let r = project.run(&["build", "--exclude", "scored"]);
    assert_eq!(r.code, 0, "{}", r.text(&project));
    // dbt 1.11's functions: a warning names the folder; a model calling `function()` fails at
    // its line when it runs (dbt-duckdb 1.11 cannot create functions either).
    project.write("functions/double_it.sql", "x * 2\n");
    project.write(
        "functions/double_it.yml",
        "functions:\n  - name: double_it\n    arguments: [{name: x, data_type: integer}]\n    returns: {data_type: integer}\n",
    );
    project.write(
        "models/doubled.sql",
        "select\n  {{ function('double_it') }}(21) as answer\n",
    );
    let r = project.run(&["build", "-s", "doubled"]);
    let text = r.text(&project);
    assert_eq!(r.code, 1, "{text}");
    assert!(
        text.contains(
            "1 dbt 1.11 function(s) in `functions` (first: `functions/double_it.sql`) are not built"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "function(`double_it`): dbt 1.11's user-defined functions are not supported by Mallard"
        ) && text.contains("models/doubled.sql:2"),
        "{text}"
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
    // dbt 1.12's `--sql`: a statement rendered with the project's context and run.
    let sql = p.run(&[
        "run-operation",
        "--sql",
        "insert into ops_log select {{ var('extra', 7) }}",
    ]);
    assert_eq!(sql.code, 0, "{}", sql.text(&p));
    assert!(
        sql.stdout.contains("1 of 1 START executing inline_query"),
        "{}",
        sql.stdout
    );
    assert!(
        sql.stdout.contains("1 of 1 OK executed inline_query"),
        "{}",
        sql.stdout
    );
    let db = p.db("test.duckdb");
    assert_eq!(rows(&db, "select max(x) from ops_log where x = 7"), "7");
    drop(db);
    let broken = p.run(&["run-operation", "--sql", "select * from no_such_table"]);
    assert_eq!(broken.code, 1, "{}", broken.text(&p));
    assert!(
        broken.stdout.contains("1 of 1 ERROR executing inline_query"),
        "{}",
        broken.stdout
    );
    let both = p.run(&["run-operation", "grant_it", "--sql", "select 1"]);
    assert_eq!(both.code, 2, "{}", both.text(&p));
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
         identifier: raw_orders\n        freshness: null\n      - name: wrong_type\n        \
         identifier: raw_orders\n        loaded_at_field: customer\n      - name: by_query\n        \
         identifier: raw_orders\n        loaded_at_query: \"select max(ordered_on) from {{ this }}\"\n        \
         freshness:\n          warn_after: {count: 100000, period: day}\n",
    );
    let none = p.run(&["source", "freshness"]);
    assert_eq!(none.code, 2, "{}", none.text(&p));
    assert_eq!(p.run(&["seed"]).code, 0);
    let run = p.run(&["source", "freshness"]);
    assert_eq!(run.code, 1, "a stale table and a failing query: {}", run.text(&p));
    for line in [
        "of 6 ERROR freshness of shop_raw.broken",
        // dbt 1.10's `loaded_at_query`, rendered with `this` as the table.
        "of 6 PASS freshness of shop_raw.by_query",
        "of 6 PASS freshness of shop_raw.fresh_enough",
        "of 6 WARN freshness of shop_raw.raw_orders",
        "of 6 ERROR STALE freshness of shop_raw.stale_orders",
        "of 6 ERROR freshness of shop_raw.wrong_type",
        "Failure in source stale_orders (models/freshness.yml)",
        "Runtime Error in source broken (models/freshness.yml)",
        "Runtime Error in source wrong_type (models/freshness.yml)\n  Expected a timestamp value when querying \
         field `customer` of table \"test\".\"main\".\"raw_orders\", but it is VARCHAR",
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
            ("source.shop.shop_raw.by_query".to_string(), "pass".to_string()),
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
    let stale = &doc["results"][3];
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
fn source_status_fresher_selects_sources_with_new_rows_and_what_reads_them() {
    let p = Project::fixture("chain");
    p.write(
        "models/freshness.yml",
        "sources:\n  - name: shop_raw\n    schema: main\n    loaded_at_field: ordered_on\n    freshness:\n      \
         warn_after: {count: 100000, period: day}\n    tables:\n      - name: raw_orders\n      - name: also_orders\n        \
         identifier: raw_orders\n        loaded_at_field: ordered_on - interval 1 day\n",
    );
    p.write(
        "models/from_source.sql",
        "select * from {{ source('shop_raw', 'raw_orders') }}\n",
    );
    assert_eq!(p.run(&["seed"]).code, 0);
    let select = [
        "ls",
        "--select",
        "source_status:fresher+",
        "--state",
        "prod-state",
    ];
    // The state folder must hold the earlier freshness results.
    assert_eq!(p.run(&["source", "freshness"]).code, 0);
    std::fs::create_dir_all(p.path().join("prod-state")).unwrap();
    std::fs::copy(
        p.path().join("target/manifest.json"),
        p.path().join("prod-state/manifest.json"),
    )
    .unwrap();
    let missing = p.run(&select);
    assert_eq!(missing.code, 2, "{}", missing.text(&p));
    assert!(
        missing.stderr.contains("the --state folder has no sources.json"),
        "{}",
        missing.stderr
    );
    std::fs::rename(
        p.path().join("target/sources.json"),
        p.path().join("prod-state/sources.json"),
    )
    .unwrap();
    // And this target's: dbt compares the two files, it does not query.
    let no_current = p.run(&select);
    assert_eq!(no_current.code, 2, "{}", no_current.text(&p));
    assert!(
        no_current
            .stderr
            .contains("the target folder has no sources.json"),
        "{}",
        no_current.stderr
    );
    // Nothing loaded since: nothing is fresher.
    assert_eq!(p.run(&["source", "freshness"]).code, 0);
    let same = p.run(&select);
    assert_eq!(same.code, 0, "{}", same.text(&p));
    assert_eq!(same.stdout.trim(), "", "{}", same.stdout);
    // A newer row in raw_orders: both source tables over it are fresher, and the model reads one.
    let db = duckdb::Connection::open(p.path().join("test.duckdb")).unwrap();
    db.execute_batch(
        "insert into main.raw_orders (order_id, customer, amount_cents, status, ordered_on) \
                      select 999, customer, amount_cents, status, current_date from main.raw_orders limit 1",
    )
    .unwrap();
    drop(db);
    assert_eq!(p.run(&["source", "freshness"]).code, 0);
    let fresher = p.run(&select);
    assert_eq!(fresher.code, 0, "{}", fresher.text(&p));
    let listed: Vec<&str> = fresher.stdout.lines().collect();
    assert_eq!(
        listed,
        [
            "shop.from_source",
            "source:shop.shop_raw.also_orders",
            "source:shop.shop_raw.raw_orders"
        ],
        "{}",
        fresher.stdout
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

#[test]
fn clone_makes_views_over_the_state_relations_and_leaves_existing_ones() {
    let p = Project::fixture("chain");
    p.write(
        "profiles.yml",
        "fixture:\n  target: prod\n  outputs:\n    prod:\n      type: duckdb\n      path: test.duckdb\n      \
         schema: main\n    ci:\n      type: duckdb\n      path: test.duckdb\n      schema: ci\n",
    );
    // Without a state to clone from: exit code 2, nothing opened.
    let bad = p.run(&["clone", "--target", "ci"]);
    assert_eq!(bad.code, 2, "{}", bad.text(&p));
    assert!(!p.path().join("test.duckdb").exists());
    assert_eq!(p.run(&["build"]).code, 0);
    std::fs::rename(p.path().join("target"), p.path().join("prod-state")).unwrap();
    // A model production never built has nothing to clone.
    p.write("models/new_model.sql", "select 1 as x\n");
    let run = p.run(&["clone", "--target", "ci", "--state", "prod-state"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    assert!(
        run.stdout
            .contains("No relation found in state manifest for model.shop.new_model"),
        "{}",
        run.stdout
    );
    let db = p.db("test.duckdb");
    assert_eq!(
        rows(&db, "select table_name, table_type from information_schema.tables where table_schema like 'ci%' order by all"),
        "customer_revenue\tVIEW\nraw_orders\tVIEW\nstg_orders\tVIEW\ntop_customer\tVIEW"
    );
    assert_eq!(
        rows(&db, "select * from ci_marts.customer_revenue order by all"),
        rows(&db, "select * from main_marts.customer_revenue order by all"),
    );
    drop(db);
    let doc: serde_json::Value = serde_json::from_str(&p.read("target/run_results.json")).unwrap();
    let messages: Vec<(&str, &str)> = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["unique_id"].as_str().unwrap(), r["message"].as_str().unwrap()))
        .filter(|(id, _)| id.ends_with("new_model") || id.ends_with("stg_orders"))
        .collect();
    assert_eq!(
        messages,
        [("model.shop.new_model", "No-op"), ("model.shop.stg_orders", "OK")]
    );
    // Again: every relation exists, so each is left alone; --full-refresh replaces them.
    let again = p.run(&[
        "clone",
        "--target",
        "ci",
        "--state",
        "prod-state",
        "--select",
        "stg_orders",
    ]);
    assert_eq!(again.code, 0, "{}", again.text(&p));
    assert!(
        again
            .stdout
            .contains("Relation \"test\".\"ci\".\"stg_orders\" already exists"),
        "{}",
        again.stdout
    );
    assert!(
        again
            .stdout
            .contains("Done. PASS=1 WARN=0 ERROR=0 SKIP=0 NO-OP=0 TOTAL=1"),
        "{}",
        again.stdout
    );
}

/// Runs `mallard ARGS` in `dir` with `stdin` as its input and HOME at `home` (so that nothing
/// is written to the real ~/.dbt); returns the exit code, stdout and stderr.
fn run_with_input(
    home: &std::path::Path,
    dir: &std::path::Path,
    args: &[&str],
    stdin: &str,
) -> (i32, String, String) {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mallard"))
        .args(args)
        .current_dir(dir)
        .env("HOME", home)
        .env_remove("DBT_PROFILES_DIR")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn init_asks_for_what_is_missing_and_writes_a_project_that_builds() {
    let dir = tempfile::tempdir().unwrap();
    // A name that is not an identifier is asked again; the database choice is read from stdin.
    let (code, out, err) = run_with_input(dir.path(), dir.path(), &["init", "bad-name"], "shop_dw\n1\n");
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("bad-name is not a valid project name."), "{out}");
    assert!(
        out.contains("Which database would you like to use?\n[1] duckdb"),
        "{out}"
    );
    let profiles = std::fs::read_to_string(dir.path().join(".dbt/profiles.yml")).unwrap();
    assert!(profiles.starts_with("shop_dw:\n  target: dev\n"), "{profiles}");
    let project = std::fs::read_to_string(dir.path().join("shop_dw/dbt_project.yml")).unwrap();
    assert!(
        project.contains("name: 'shop_dw'") && project.contains("profile: 'shop_dw'"),
        "{project}"
    );
    // The new project builds with the profile written for it.
    let project_dir = dir.path().join("shop_dw");
    let (code, out, err) = run_with_input(dir.path(), &project_dir, &["build"], "");
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Done. PASS=6 WARN=0 ERROR=0"), "{out}");
    // Again: the project exists; dbt says so and exits 0, writing nothing.
    let (code, out, _) = run_with_input(dir.path(), dir.path(), &["init", "shop_dw", "-s"], "");
    assert_eq!(code, 0);
    assert!(
        out.contains("A project called shop_dw already exists here."),
        "{out}"
    );
    // Inside the project, only the profile; an existing one is kept unless the answer is yes.
    let (code, out, _) = run_with_input(dir.path(), &project_dir, &["init"], "n\n");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("The profile shop_dw already exists"), "{out}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".dbt/profiles.yml")).unwrap(),
        profiles
    );
    // Non-interactive: no answers on stdin is an error with what to pass, exit code 2.
    let (code, _, err) = run_with_input(dir.path(), dir.path(), &["init"], "");
    assert_eq!(code, 2);
    assert!(err.contains("`init` needs a project name"), "{err}");
    let (code, _, err) = run_with_input(
        dir.path(),
        dir.path(),
        &["init", "other", "--profile", "nope"],
        "",
    );
    assert_eq!(code, 2);
    assert!(err.contains("could not find a profile named `nope`"), "{err}");
    assert!(!dir.path().join("other").exists());
    // --skip-profile-setup with a name asks nothing.
    let (code, out, err) = run_with_input(
        dir.path(),
        dir.path(),
        &["init", "quiet_one", "--skip-profile-setup"],
        "",
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(dir
        .path()
        .join("quiet_one/models/example/first_model.sql")
        .is_file());
    assert!(!std::fs::read_to_string(dir.path().join(".dbt/profiles.yml"))
        .unwrap()
        .contains("quiet_one"));
}

/// A secret's values appear nowhere: not in the output of a failing `CREATE SECRET` (DuckDB's
/// message quoting it), not in `target/` or `logs/`.
/// As dbt: `DBT_ENV_SECRET_*` variables are read only in `profiles.yml` and `packages.yml`,
/// their values are never printed, logged or written, and the lock file keeps a git URL as
/// written, not rendered.
#[test]
fn secret_env_vars_are_read_only_where_dbt_allows_and_never_shown() {
    const TOKEN: &str = "tok-visible-nowhere";
    let project = Project::fixture("chain");
    let leaks = |project: &Project, text: &str| -> Vec<String> {
        let mut found: Vec<String> = Vec::new();
        if text.contains(TOKEN) {
            found.push("the command's output".into());
        }
        for dir in ["target", "logs", "dbt_packages"] {
            for entry in common::files_under(&project.path().join(dir)) {
                if std::fs::read_to_string(&entry)
                    .unwrap_or_default()
                    .contains(TOKEN)
                {
                    found.push(entry.display().to_string());
                }
            }
        }
        if project.path().join("package-lock.yml").is_file()
            && project.read("package-lock.yml").contains(TOKEN)
        {
            found.push("package-lock.yml".into());
        }
        found
    };
    // In a model: refused, as dbt refuses it (SecretEnvVarLocationError).
    project.write(
        "models/leak.sql",
        "select '{{ env_var(\"DBT_ENV_SECRET_TOKEN\") }}' as t\n",
    );
    let env = [("DBT_ENV_SECRET_TOKEN", TOKEN)];
    let r = project.run_with_env(&["build"], &env);
    let text = r.text(&project);
    assert_eq!(r.code, 2, "{text}");
    assert!(
        text.contains("secret environment variables are allowed only in profiles.yml and packages.yml"),
        "{text}"
    );
    assert_eq!(leaks(&project, &text), Vec::<String>::new());
    std::fs::remove_file(project.path().join("models/leak.sql")).unwrap();

    // In packages.yml, a git URL holding the token: the failing clone's error is scrubbed in
    // the text output, the JSON log lines and logs/dbt.log.
    project.write(
        "packages.yml",
        "packages:\n  - git: \"http://{{ env_var('DBT_ENV_SECRET_TOKEN') }}@127.0.0.1:9/org/repo.git\"\n    revision: v1\n",
    );
    for args in [&["deps"][..], &["--log-format", "json", "deps"][..]] {
        let r = project.run_with_env(args, &env);
        let text = r.text(&project);
        assert_ne!(r.code, 0, "{text}");
        assert!(text.contains("*****"), "{text}");
        assert_eq!(leaks(&project, &text), Vec::<String>::new(), "{text}");
    }

    // A repository reached through the secret: installed, and the lock keeps `git:` as written.
    let repo = tempfile::tempdir().unwrap();
    std::fs::write(
        repo.path().join("dbt_project.yml"),
        "name: secret_pkg\nversion: '1.0'\n",
    )
    .unwrap();
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["add", "."][..],
        &[
            "-c",
            "user.email=t@example.com",
            "-c",
            "user.name=t",
            "commit",
            "-qm",
            "one",
        ][..],
    ] {
        let ok = std::process::Command::new("git")
            .args(args)
            .current_dir(repo.path())
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    }
    let secret_dir = repo.path().display().to_string();
    project.write(
        "packages.yml",
        "packages:\n  - git: \"file://{{ env_var('DBT_ENV_SECRET_REPO') }}\"\n    revision: main\n",
    );
    let env = [("DBT_ENV_SECRET_REPO", secret_dir.as_str())];
    let r = project.run_with_env(&["deps"], &env);
    let text = r.text(&project);
    assert_eq!(r.code, 0, "{text}");
    assert!(
        project
            .path()
            .join("dbt_packages/secret_pkg/dbt_project.yml")
            .is_file(),
        "{text}"
    );
    let lock = project.read("package-lock.yml");
    assert!(lock.contains("DBT_ENV_SECRET_REPO"), "{lock}");
    assert!(!lock.contains(&secret_dir), "{lock}");
    assert!(!text.contains(&secret_dir), "{text}");
    // A later deps installs from the lock, rendering the URL again.
    std::fs::remove_dir_all(project.path().join("dbt_packages")).unwrap();
    let r = project.run_with_env(&["deps"], &env);
    assert_eq!(r.code, 0, "{}", r.text(&project));
    assert!(project
        .path()
        .join("dbt_packages/secret_pkg/dbt_project.yml")
        .is_file());
}

/// A runaway loop ends in an error at its line once a render takes more steps than the bound
/// (`MALLARD_MAX_RENDER_STEPS`; the default is far above what real projects take).
#[test]
fn a_render_that_runs_away_stops_at_its_line() {
    let project = Project::fixture("chain");
    project.write(
        "models/loops.sql",
        "select 1 as x\n{% for i in range(3000) %}{% set y = i * 2 %}{% endfor %}\n",
    );
    let r = project.run_with_env(&["compile"], &[("MALLARD_MAX_RENDER_STEPS", "2000")]);
    let text = r.text(&project);
    assert_eq!(r.code, 2, "{text}");
    assert!(text.contains("models/loops.sql:2"), "{text}");
    assert!(
        text.contains("set MALLARD_MAX_RENDER_STEPS=<steps> to allow more"),
        "{text}"
    );
    let r = project.run(&["compile"]);
    assert_eq!(r.code, 0, "{}", r.text(&project));
}

/// Output that grows without end stops at its line once a render writes, or prints from values,
/// more bytes than the bound (`MALLARD_MAX_RENDER_BYTES`; the default is 1 GiB).
#[test]
fn a_render_whose_output_runs_away_stops_at_its_line() {
    let project = Project::fixture("chain");
    let bound = [("MALLARD_MAX_RENDER_BYTES", "100000")];
    // Values printed, in a macro's body (captured, never written out by the node itself).
    project.write(
        "macros/grow.sql",
        "{% macro grow(n) %}{% for i in range(n) %}{{ 'x' * 1000 }}{% endfor %}{% endmacro %}\n",
    );
    project.write(
        "models/printed.sql",
        "select 1 as x\n-- {% set s = grow(500) %}\n",
    );
    let r = project.run_with_env(&["compile", "--select", "printed"], &bound);
    let text = r.text(&project);
    assert_eq!(r.code, 2, "{text}");
    assert!(text.contains("printed more bytes than its bound"), "{text}");
    assert!(
        text.contains("set MALLARD_MAX_RENDER_BYTES=<bytes> to allow more"),
        "{text}"
    );
    // Raw text repeated by a loop: the node's own output.
    std::fs::remove_file(project.path().join("models/printed.sql")).unwrap();
    project.write(
        "models/written.sql",
        "select 1 as x\n{% for i in range(100000) %}\n-- a comment line{% endfor %}\n",
    );
    let r = project.run_with_env(&["compile", "--select", "written"], &bound);
    let text = r.text(&project);
    assert_eq!(r.code, 2, "{text}");
    assert!(text.contains("models/written.sql:3"), "{text}");
    assert!(text.contains("wrote more bytes than its bound"), "{text}");
    let r = project.run(&["compile", "--select", "written"]);
    assert_eq!(r.code, 0, "{}", r.text(&project));
}

#[test]
fn secret_values_are_never_shown() {
    let project = Project::fixture("chain");
    let profiles = project.read("profiles.yml");
    project.write(
        "profiles.yml",
        &profiles.replace(
            "type: duckdb",
            "type: duckdb\n      secrets:\n        - type: s3\n          key_id: AKIA-VISIBLE-NOWHERE\n          \
             secret: s3cr3t-visible-nowhere\n          region: 'not a region: s3cr3t-visible-nowhere'\n          bogus_key: s3cr3t-visible-nowhere",
        ),
    );
    let r = project.run(&["build"]);
    let text = r.text(&project);
    assert_eq!(r.code, 2, "{text}");
    assert!(text.contains("secret `_dbt_secret_1` (type s3) failed"), "{text}");
    assert!(!text.contains("visible-nowhere"), "{text}");
    for dir in ["target", "logs"] {
        for entry in common::files_under(&project.path().join(dir)) {
            let content = std::fs::read_to_string(&entry).unwrap_or_default();
            assert!(
                !content.contains("visible-nowhere"),
                "{} holds a secret value",
                entry.display()
            );
        }
    }
}

/// dbt 1.12's `vars.yml`: the project's vars in a file of their own, read before
/// `dbt_project.yml` (whose `var()` sees them); both files defining vars is an error.
#[test]
fn vars_yml_holds_the_projects_vars() {
    let project = Project::fixture("chain");
    let with_vars = project.read("dbt_project.yml");
    project.write(
        "vars.yml",
        "vars:\n  min_amount_cents: 0\n  greeting: hello\n  tag_name: weekly\n",
    );
    let r = project.run(&["parse"]);
    assert_eq!(r.code, 2, "{}", r.text(&project));
    assert!(
        r.text(&project)
            .contains("vars are defined in both `vars.yml` and `dbt_project.yml`"),
        "{}",
        r.text(&project)
    );
    let without_vars = with_vars
        .replace("vars:\n  min_amount_cents: 0\n", "")
        .replace("+tags: [nightly]", "+tags: [\"{{ var('tag_name') }}\"]");
    project.write("dbt_project.yml", &without_vars);
    project.write("models/greeting.sql", "select '{{ var(\"greeting\") }}' as g\n");
    let r = project.run(&["compile", "--select", "greeting"]);
    assert_eq!(r.code, 0, "{}", r.text(&project));
    assert!(project
        .read("target/compiled/shop/models/greeting.sql")
        .contains("'hello'"));
    let listed = project.run(&["ls", "--select", "tag:weekly"]);
    assert_eq!(listed.code, 0, "{}", listed.text(&project));
    assert!(listed.stdout.contains("marts"), "{}", listed.stdout);
    // `--vars` still wins.
    let r = project.run(&["compile", "--select", "greeting", "--vars", "{greeting: hi}"]);
    assert_eq!(r.code, 0, "{}", r.text(&project));
    assert!(project
        .read("target/compiled/shop/models/greeting.sql")
        .contains("'hi'"));
}

/// dbt 1.11's `DBT_ENGINE_` prefix: a flag's environment variable may be named either way, and
/// the `DBT_ENGINE_` name wins, as in dbt.
#[test]
fn flags_read_dbt_engine_environment_variables() {
    let project = Project::fixture("chain");
    let r = project.run_with_env(&["parse"], &[("DBT_ENGINE_TARGET", "nowhere")]);
    assert_eq!(r.code, 2, "{}", r.text(&project));
    assert!(r.text(&project).contains("nowhere"), "{}", r.text(&project));
    let r = project.run_with_env(
        &["parse"],
        &[("DBT_TARGET", "nowhere"), ("DBT_ENGINE_TARGET", "dev")],
    );
    assert_eq!(r.code, 0, "{}", r.text(&project));
}

/// dbt 1.12's latest version pointer: `latest_version_pointer: {enabled: true}` on a versioned
/// model makes a view named after the model that reads its latest version.
#[test]
fn a_latest_version_pointer_reads_the_latest_version() {
    let project = Project::fixture("chain");
    project.write(
        "models/dim.yml",
        "models:\n  - name: dim\n    latest_version: 2\n    config:\n      latest_version_pointer: {enabled: true}\n    versions:\n      - v: 1\n      - v: 2\n",
    );
    project.write("models/dim_v1.sql", "select 1 as v\n");
    project.write("models/dim_v2.sql", "select 2 as v\n");
    let r = project.run(&["run", "--select", "dim"]);
    assert_eq!(r.code, 0, "{}", r.text(&project));
    let db = project.db("test.duckdb");
    assert_eq!(rows(&db, "select v from main.dim"), "2");
    assert_eq!(rows(&db, "select v from main.dim_v1"), "1");
    assert_eq!(
        rows(
            &db,
            "select table_type from information_schema.tables where table_name = 'dim'"
        ),
        "VIEW"
    );
}

/// `flags:` of dbt_project.yml that Mallard does not honour are named in one warning; those
/// without effect in Mallard, and behavior flags at the value it behaves as, are not.
#[test]
fn project_flags_mallard_does_not_honour_are_named() {
    let project = Project::fixture("chain");
    let text = project.read("dbt_project.yml");
    project.write(
        "dbt_project.yml",
        &format!(
            "{text}flags:\n  send_anonymous_usage_stats: false\n  require_generic_test_arguments_property: true\n  fail_fast: true\n  validate_macro_args: true\n"
        ),
    );
    let r = project.run(&["parse"]);
    assert_eq!(r.code, 0, "{}", r.text(&project));
    let text = r.text(&project);
    assert!(
        text.contains("`flags:` of dbt_project.yml that Mallard does not honour: `fail_fast: true`, `validate_macro_args: true`"),
        "{text}"
    );
    assert!(!text.contains("send_anonymous_usage_stats"), "{text}");
}
