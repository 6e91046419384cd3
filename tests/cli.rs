//! The `mallard` binary on the fixture projects in `tests/fixtures/`: exit codes, output,
//! the tables it builds, and its errors.

mod common;

use common::{rows, Project};

#[test]
fn build_runs_a_chain_of_seeds_models_and_tests() {
    let p = Project::fixture("chain");
    let run = p.run(&["build"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    assert_output!("chain_build", run.text(&p));

    let db = p.db("test.duckdb");
    // Custom schemas are `<target schema>_<custom>`; in-file config wins over the folder's.
    assert_eq!(
        rows(&db, "select table_schema, table_name, table_type from information_schema.tables order by all"),
        "main\traw_orders\tBASE TABLE\nmain\tstg_orders\tVIEW\nmain_marts\tcustomer_revenue\tBASE TABLE\nmain_reports\ttop_customer\tVIEW"
    );
    // column_types are honoured, other columns are inferred by DuckDB's CSV reader.
    assert_eq!(
        rows(&db, "select column_name, data_type from information_schema.columns where table_name = 'raw_orders' order by ordinal_position"),
        "order_id\tINTEGER\ncustomer\tVARCHAR\namount_cents\tBIGINT\nordered_on\tDATE\nstatus\tVARCHAR"
    );
    assert_eq!(
        rows(&db, "select * from main_marts.customer_revenue order by customer"),
        "ann\t1\t12.5\nbob\t1\t3.0\ncid\t1\t0.75"
    );
    assert_eq!(rows(&db, "select * from main_reports.top_customer"), "ann");
}

#[test]
fn vars_on_the_command_line_win_over_the_project() {
    let p = Project::fixture("chain");
    let run = p.run(&[
        "build",
        "--vars",
        "{min_amount_cents: 1000}",
        "--select",
        "+customer_revenue",
    ]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    let db = p.db("test.duckdb");
    assert_eq!(
        rows(&db, "select customer, orders from main_marts.customer_revenue"),
        "ann\t1"
    );
}

#[test]
fn compile_writes_rendered_sql_without_a_database() {
    let p = Project::fixture("chain");
    let run = p.run(&["compile"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    assert!(
        !p.path().join("test.duckdb").exists(),
        "compile must not create the database"
    );
    insta::assert_snapshot!(
        "chain_compiled_top_customer",
        p.read("target/compiled/shop/models/marts/top_customer.sql")
    );
    // The relationships test's name is 64 characters or more, so its file has dbt's short
    // name: the first 30 characters and the MD5 of the full name.
    insta::assert_snapshot!(
        "chain_compiled_relationships_test",
        p.read("target/compiled/shop/models/schema.yml/relationships_customer_revenue_e05571da641ad9092f635f06ff5850bd.sql")
    );
}

#[test]
fn compile_leaves_unchanged_compiled_files_alone_and_rewrites_changed_ones() {
    let p = Project::fixture("chain");
    assert_eq!(p.run(&["compile"]).code, 0);
    let compiled = |name: &str| {
        p.path()
            .join(format!("target/compiled/shop/models/marts/{name}.sql"))
    };
    // Mark both files with an old modification time: a rewrite would replace it.
    let old = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
    for name in ["customer_revenue", "top_customer"] {
        let f = std::fs::File::options().write(true).open(compiled(name)).unwrap();
        f.set_modified(old).unwrap();
    }
    p.write(
        "models/marts/top_customer.sql",
        "select customer from {{ ref('customer_revenue') }} order by revenue limit 1",
    );
    let run = p.run(&["compile"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    let modified = |name: &str| std::fs::metadata(compiled(name)).unwrap().modified().unwrap();
    assert_eq!(
        modified("customer_revenue"),
        old,
        "an unchanged compiled file was rewritten"
    );
    assert_ne!(modified("top_customer"), old);
    assert!(
        std::fs::read_to_string(compiled("top_customer"))
            .unwrap()
            .contains("order by revenue limit 1"),
        "the changed model's compiled file holds its new SQL"
    );
}

#[test]
fn ls_selects_like_dbt() {
    let p = Project::fixture("chain");
    let ls = |args: &[&str]| {
        let mut all = vec!["ls"];
        all.extend_from_slice(args);
        let run = p.run(&all);
        assert_eq!(run.code, 0, "{}", run.text(&p));
        run.stdout
    };
    assert_output!("ls_all", ls(&[]));
    assert_eq!(
        ls(&["-s", "+customer_revenue", "--resource-type", "model", "seed"]),
        "shop.marts.customer_revenue\nshop.raw_orders\nshop.staging.stg_orders\n"
    );
    assert_eq!(
        ls(&[
            "-s",
            "stg_orders+",
            "--resource-type",
            "model",
            "--output",
            "name"
        ]),
        "customer_revenue\nstg_orders\ntop_customer\n"
    );
    assert_eq!(
        ls(&[
            "-s",
            "tag:nightly",
            "--exclude",
            "tag:finance",
            "--output",
            "name",
            "--resource-type",
            "model"
        ]),
        "top_customer\n"
    );
    assert_eq!(
        ls(&[
            "-s",
            "path:models/marts",
            "--output",
            "path",
            "--resource-type",
            "model"
        ]),
        "models/marts/customer_revenue.sql\nmodels/marts/top_customer.sql\n"
    );
    assert_eq!(
        ls(&[
            "-s",
            "tag:nightly,config.materialized:table",
            "--output",
            "name",
            "--resource-type",
            "model"
        ]),
        "customer_revenue\n"
    );
    assert_eq!(
        ls(&["-s", "marts", "--output", "name", "--resource-type", "model"]),
        "customer_revenue\ntop_customer\n"
    );
    assert_eq!(
        ls(&[
            "-s",
            "1+top_customer",
            "--output",
            "name",
            "--resource-type",
            "model"
        ]),
        "customer_revenue\ntop_customer\n"
    );
}

#[test]
fn artifacts_have_dbts_shapes() {
    let p = Project::fixture("chain");
    assert_eq!(p.run(&["build"]).code, 0);
    let manifest: serde_json::Value = serde_json::from_str(&p.read("target/manifest.json")).unwrap();
    let node = &manifest["nodes"]["model.shop.customer_revenue"];
    assert_eq!(
        node["depends_on"]["nodes"],
        serde_json::json!(["model.shop.stg_orders"])
    );
    assert_eq!(node["config"]["materialized"], "table");
    assert_eq!(node["tags"], serde_json::json!(["nightly", "finance"]));
    assert_eq!(
        node["relation_name"],
        "\"test\".\"main_marts\".\"customer_revenue\""
    );
    assert_eq!(
        manifest["child_map"]["seed.shop.raw_orders"],
        serde_json::json!(["model.shop.stg_orders"])
    );
    let results: serde_json::Value = serde_json::from_str(&p.read("target/run_results.json")).unwrap();
    let results = results["results"].as_array().unwrap();
    // 1 seed, 3 models, 5 generic tests and 1 singular test.
    assert_eq!(results.len(), 10);
    let seed = results
        .iter()
        .find(|r| r["unique_id"] == "seed.shop.raw_orders")
        .unwrap();
    assert_eq!(seed["status"], "success");
    assert_eq!(seed["adapter_response"]["rows_affected"], 4);
    let test = results
        .iter()
        .find(|r| {
            r["unique_id"]
                .as_str()
                .unwrap()
                .starts_with("test.shop.unique_stg_orders_order_id.")
        })
        .unwrap();
    assert_eq!(
        (test["status"].as_str(), test["failures"].as_i64()),
        (Some("pass"), Some(0))
    );
    assert_eq!(test["timing"].as_array().unwrap().len(), 2);
}

#[test]
fn a_failing_test_skips_descendants_but_not_independent_branches() {
    let p = Project::fixture("failing_test");
    let run = p.run(&["build"]);
    assert_eq!(run.code, 1, "{}", run.text(&p));
    assert_output!("failing_test_build", run.text(&p));
    let results: serde_json::Value = serde_json::from_str(&p.read("target/run_results.json")).unwrap();
    let status = |id: &str| {
        results["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["unique_id"].as_str().unwrap().starts_with(id))
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status("model.checks.users"), "success");
    assert_eq!(status("test.checks.unique_users_id."), "fail");
    assert_eq!(status("test.checks.not_null_users_name."), "warn");
    assert_eq!(status("model.checks.user_names"), "skipped");
    assert_eq!(status("model.checks.independent"), "success");
}

#[test]
fn a_failing_model_keeps_the_previous_table() {
    let p = Project::fixture("sql_error");
    assert_eq!(p.run(&["run"]).code, 0);
    p.write(
        "models/stable.sql",
        "{{ config(materialized='table') }}\nselect 1 as id, no_such_column as label\n",
    );
    // Static analysis finds it before anything runs.
    let run = p.run(&["run"]);
    assert_eq!(run.code, 1);
    assert_output!("sql_error_static", run.text(&p));
    // Without it, the model fails in the database, which keeps the previous table.
    let run = p.run(&["run", "--static-analysis", "off"]);
    assert_eq!(run.code, 1);
    assert_output!("sql_error_run", run.text(&p));
    assert_eq!(
        rows(&p.db("test.duckdb"), "select * from stable"),
        "1\tfirst version"
    );
}

#[test]
fn a_cycle_is_reported_with_each_ref() {
    let p = Project::fixture("cycle");
    let run = p.run(&["build"]);
    assert_eq!(run.code, 2);
    assert_output!("cycle", run.text(&p));
}

#[test]
fn an_unknown_ref_names_the_file_line_and_closest_model() {
    let p = Project::fixture("unknown_ref");
    let run = p.run(&["run"]);
    assert_eq!(run.code, 2);
    assert_output!("unknown_ref", run.text(&p));
}

#[test]
fn yaml_errors_name_line_and_column() {
    let p = Project::fixture("bad_yaml");
    let run = p.run(&["run"]);
    assert_eq!(run.code, 2);
    assert_output!("bad_yaml", run.text(&p));
}

#[test]
fn unknown_project_keys_get_a_did_you_mean() {
    let p = Project::fixture("unknown_key");
    let run = p.run(&["ls"]);
    assert_eq!(run.code, 2);
    assert_output!("unknown_key", run.text(&p));
}

#[test]
fn jinja_errors_name_the_model_file_and_line() {
    let p = Project::fixture("jinja_error");
    let run = p.run(&["compile"]);
    assert_eq!(run.code, 2);
    assert_output!("jinja_error", run.text(&p));
}

#[test]
fn a_missing_target_lists_the_ones_there() {
    let p = Project::fixture("chain");
    let run = p.run(&["run", "--target", "prod"]);
    assert_eq!(run.code, 2);
    assert_output!("missing_target", run.text(&p));
}

#[test]
fn another_target_writes_its_own_database_and_schema() {
    let p = Project::fixture("chain");
    let run = p.run(&["seed", "--target", "other"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    assert_eq!(
        rows(&p.db("other.duckdb"), "select count(*) from analytics.raw_orders"),
        "4"
    );
}

#[test]
fn parallel_workers_share_a_new_schema_without_conflicts() {
    // Twelve tables in a schema that does not exist yet, built by eight workers: before the
    // schemas were created up front, two workers creating `main_wide` at once failed with
    // DuckDB's "Catalog write-write conflict" in four of five runs.
    for _ in 0..3 {
        let p = Project::fixture("parallel");
        let run = p.run(&["run", "--threads", "8"]);
        assert_eq!(run.code, 0, "{}", run.text(&p));
        assert_eq!(rows(&p.db("test.duckdb"), "select count(*), sum(k) from (select k from main_wide.m1 union all select k from main_wide.m12)"), "200000\t1300000");
    }
}

#[test]
fn state_modified_selects_what_changed_since_a_previous_run() {
    let p = Project::fixture("chain");
    assert_eq!(p.run(&["build"]).code, 0);
    std::fs::rename(p.path().join("target"), p.path().join("previous")).unwrap();

    // Nothing changed: nothing to do, and the database is not even opened.
    let run = p.run(&["build", "--select", "state:modified+", "--state", "previous"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    assert!(run.stdout.contains("Nothing to do"), "{}", run.stdout);
    assert!(!p.path().join("target/run_results.json").exists());

    // A changed model and its descendants; a changed config counts too.
    p.write(
        "models/staging/stg_orders.sql",
        &format!("{}-- a comment\n", p.read("models/staging/stg_orders.sql")),
    );
    let ls = p.run(&[
        "ls",
        "--select",
        "state:modified+",
        "--state",
        "previous",
        "--resource-type",
        "model",
        "--output",
        "name",
    ]);
    assert_eq!(ls.stdout, "customer_revenue\nstg_orders\ntop_customer\n");
    p.write(
        "models/marts/top_customer.sql",
        &p.read("models/marts/top_customer.sql")
            .replace("schema='reports'", "schema='report'"),
    );
    let ls = p.run(&[
        "ls",
        "--select",
        "state:modified",
        "--state",
        "previous",
        "--resource-type",
        "model",
        "--output",
        "name",
    ]);
    assert_eq!(ls.stdout, "stg_orders\ntop_customer\n");

    let run = p.run(&["ls", "--select", "state:modified"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("pass `--state DIR`"), "{}", run.stderr);
}

#[test]
fn ephemeral_models_are_inlined_as_ctes_and_build_nothing() {
    let p = Project::fixture("ephemeral");
    let run = p.run(&["build"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    assert_output!("ephemeral_build", run.text(&p));
    let db = p.db("test.duckdb");
    assert_eq!(
        rows(
            &db,
            "select table_name, table_type from information_schema.tables order by 1"
        ),
        "direct\tBASE TABLE\npayments\tBASE TABLE\nreport\tVIEW"
    );
    assert_eq!(
        rows(&db, "select * from report order by id"),
        "2\t41\t40\t183\n3\t61\t60\t183\n4\t81\t80\t183"
    );
    assert_eq!(rows(&db, "select * from direct"), "4");
    // A chain of ephemerals is hoisted in dependency order, after the model's own `with`.
    insta::assert_snapshot!(
        "ephemeral_compiled_report",
        p.read("target/compiled/eph/models/report.sql")
    );
    let manifest: serde_json::Value = serde_json::from_str(&p.read("target/manifest.json")).unwrap();
    assert_eq!(
        manifest["nodes"]["model.eph.eph_a"]["relation_name"],
        serde_json::Value::Null
    );
}

#[test]
fn parse_debug_and_clean() {
    let p = Project::fixture("chain");
    let run = p.run(&["parse"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    assert!(p.path().join("target/manifest.json").exists());
    assert!(
        !p.path().join("test.duckdb").exists(),
        "parse does not touch the database"
    );

    let run = p.run(&["debug"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    assert!(run.stdout.contains("the first run creates it"), "{}", run.stdout);
    assert_eq!(p.run(&["seed"]).code, 0);
    let run = p.run(&["debug"]);
    assert!(
        run.stdout.contains("test.duckdb: OK") && run.stdout.ends_with("All checks passed!\n"),
        "{}",
        run.stdout
    );
    p.write("test.duckdb", "not a database");
    let run = p.run(&["debug"]);
    assert_eq!(run.code, 1, "{}", run.text(&p));
    assert!(run.stdout.contains("FAILED"), "{}", run.stdout);
    // A setting DuckDB refuses fails the check, as it would fail the first run.
    let profiles = p.read("profiles.yml");
    let refused = "type: duckdb\n      settings: {threads: \"many\"}";
    p.write("profiles.yml", &profiles.replacen("type: duckdb", refused, 1));
    let run = p.run(&["debug"]);
    let out = run.stdout.clone();
    assert!(
        run.code == 1
            && out.contains("connection setup: FAILED")
            && out.contains("`settings: threads` failed"),
        "{out}"
    );
    p.write("profiles.yml", &profiles);

    let run = p.run(&["clean"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    assert!(!p.path().join("target").exists());
    p.write(
        "dbt_project.yml",
        &format!("{}clean-targets: [\"../elsewhere\"]\n", p.read("dbt_project.yml")),
    );
    let run = p.run(&["clean"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("is not inside the project folder"),
        "{}",
        run.stderr
    );
}

#[test]
fn empty_builds_models_with_their_columns_and_no_rows() {
    let p = Project::fixture("chain");
    assert_eq!(p.run(&["build"]).code, 0);
    let types = "select table_name, column_name, data_type from information_schema.columns \
                 where table_name in ('stg_orders', 'customer_revenue') order by all";
    let full = rows(&p.db("test.duckdb"), types);
    let run = p.run(&["run", "--empty"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    let db = p.db("test.duckdb");
    assert_eq!(rows(&db, types), full, "the same columns and types");
    assert_eq!(rows(&db, "select count(*) from main_marts.customer_revenue"), "0");
    assert_eq!(
        rows(&db, "select count(*) from raw_orders"),
        "4",
        "seeds are not emptied"
    );
    drop(db);
    // A ref renders as dbt-duckdb renders a relation limited to no rows.
    let compiled = p.read("target/compiled/shop/models/staging/stg_orders.sql");
    assert!(
        compiled.contains("(select * from \"test\".\"main\".\"raw_orders\" where false limit 0)"),
        "{compiled}"
    );
    let seed = p.run(&["seed", "--empty"]);
    assert_eq!(seed.code, 2, "{}", seed.text(&p));
    assert!(
        seed.stderr
            .contains("`--empty` is not an option of `mallard seed`"),
        "{}",
        seed.stderr
    );
}

#[test]
fn resource_types_narrow_build_and_ls_as_dbts_flags() {
    let p = Project::fixture("chain");
    let kinds = |p: &Project| -> Vec<String> {
        let mut k: Vec<String> = common::node_statuses(&p.read("target/run_results.json"))
            .iter()
            .map(|s| s.split(' ').next().unwrap_or_default().to_string())
            .collect();
        k.sort();
        k.dedup();
        k
    };
    let run = p.run(&["build", "--resource-type", "seed", "model"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    assert_eq!(kinds(&p), ["model", "seed"]);
    let run = p.run_with_env(&["build"], &[("DBT_EXCLUDE_RESOURCE_TYPES", "test unit_test")]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    assert_eq!(kinds(&p), ["model", "seed"]);
    let run = p.run(&["build", "--resource-type", "test"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    assert_eq!(kinds(&p), ["test"]);
    let ls = p.run(&["ls", "--exclude-resource-type", "test", "model"]);
    assert_eq!(ls.code, 0, "{}", ls.text(&p));
    assert!(ls.stdout.contains("raw_orders"), "{}", ls.stdout);
    assert!(
        !ls.stdout.contains("customer_revenue") && !ls.stdout.contains("not_null"),
        "{}",
        ls.stdout
    );
    let refused = p.run(&["run", "--resource-type", "model"]);
    assert_eq!(refused.code, 2, "{}", refused.text(&p));
}

#[test]
fn compile_inline_prints_the_rendered_query_as_dbt_does() {
    let p = Project::fixture("chain");
    let run = p.run(&[
        "compile",
        "--inline",
        "select * from {{ ref('raw_orders') }} where amount_cents > {{ var('min_amount_cents') }}",
    ]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    assert!(
        run.stdout.contains(
            "Compiled inline node is:\nselect * from \"test\".\"main\".\"raw_orders\" where amount_cents > 0"
        ),
        "{}",
        run.stdout
    );
    assert!(!p.path().join("test.duckdb").exists(), "nothing is built");
    let unknown = p.run(&["compile", "--inline", "select * from {{ ref('nope') }}"]);
    assert_eq!(unknown.code, 2, "{}", unknown.text(&p));
    assert!(unknown.stderr.contains("nope"), "{}", unknown.stderr);
    assert_eq!(p.run(&["run", "--inline", "select 1"]).code, 2);
}

#[test]
fn junit_xml_reports_each_test_with_its_failures() {
    let p = Project::fixture("failing_test");
    let report = p.path().join("reports/junit.xml");
    let run = p.run(&["build", "--junit-xml", report.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.text(&p));
    let xml = std::fs::read_to_string(&report).expect("the report is written");
    let results: serde_json::Value = serde_json::from_str(&p.read("target/run_results.json")).unwrap();
    let tests: Vec<&serde_json::Value> = results["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["unique_id"].as_str().unwrap().starts_with("test."))
        .collect();
    assert_eq!(xml.matches("<testcase ").count(), tests.len(), "{xml}");
    for t in &tests {
        assert!(
            xml.contains(&format!("classname=\"{}\"", t["unique_id"].as_str().unwrap())),
            "{xml}"
        );
    }
    let failed = tests.iter().filter(|t| t["status"] == "fail").count();
    assert!(failed > 0);
    assert_eq!(xml.matches("<failure").count(), failed, "{xml}");
    assert!(xml.contains("configured to fail if"), "{xml}");
    assert!(
        xml.contains("WARN: Got"),
        "a warning test passes with its message: {xml}"
    );
}
