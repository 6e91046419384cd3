//! Incremental models beyond what dbt agrees with (tests/parity.rs covers that): NULL unique
//! keys, `on_schema_change: fail`, failing increments, and configuration errors.

mod common;

use common::{rows, Project};

/// The incremental fixture with its models replaced by `models` (`(file name, SQL)`).
fn project_with(models: &[(&str, &str)]) -> Project {
    let project = Project::fixture("incremental");
    std::fs::remove_dir_all(project.path().join("models")).unwrap();
    for (name, sql) in models {
        project.write(&format!("models/{name}"), sql);
    }
    project
}

const KEYED: &str =
    "select * from (values (1, 'a', {{ var('run') }}), (null, 'b', {{ var('run') }})) as t(id, code, run)
{% if is_incremental() %} where true {% endif %}";

#[test]
fn a_null_unique_key_replaces_its_row_instead_of_duplicating_it() {
    let project = project_with(&[
        (
            "single_key.sql",
            &format!("{{{{ config(materialized='incremental', unique_key='id') }}}}\n{KEYED}"),
        ),
        (
            "key_list.sql",
            &format!("{{{{ config(materialized='incremental', unique_key=['id', 'code']) }}}}\n{KEYED}"),
        ),
        (
            "merged.sql",
            &format!(
                "{{{{ config(materialized='incremental', incremental_strategy='merge', unique_key='id') }}}}\n{KEYED}"
            ),
        ),
    ]);
    for run in 1..=3 {
        let r = project.run(&["run", "--vars", &format!("{{run: {run}}}")]);
        assert_eq!(r.code, 0, "{}", r.text(&project));
    }
    let db = project.db("incr.duckdb");
    for model in ["single_key", "key_list", "merged"] {
        assert_eq!(
            rows(
                &db,
                &format!("select id, code, run from main.{model} order by all")
            ),
            "1\ta\t3\nNULL\tb\t3",
            "{model}: each key once, from the last run"
        );
    }
}

#[test]
fn on_schema_change_fail_stops_and_keeps_the_table() {
    let sql = "{{ config(materialized='incremental', on_schema_change='fail') }}
select 1 as id{% if var('run') >= 2 %}, 2 as extra{% endif %}";
    let project = project_with(&[("strict.sql", sql)]);
    let r = project.run(&["run", "--vars", "{run: 1}"]);
    assert_eq!(r.code, 0, "{}", r.text(&project));
    let r = project.run(&["run", "--vars", "{run: 2}"]);
    assert_eq!(r.code, 1, "{}", r.text(&project));
    let text = r.text(&project);
    assert!(text.contains("out of sync"), "{text}");
    assert!(
        text.contains("columns of the model not in the table: [extra INTEGER]"),
        "{text}"
    );
    let db = project.db("incr.duckdb");
    assert_eq!(rows(&db, "select * from main.strict"), "1");
}

#[test]
fn a_failing_increment_leaves_the_table_as_it_was() {
    let sql = "{{ config(materialized='incremental', unique_key='id') }}
select 1 as id, 'first' as state
{% if is_incremental() %} union all select 2, cast('not a number' as integer)::varchar {% endif %}";
    let project = project_with(&[("fragile.sql", sql)]);
    assert_eq!(project.run(&["run"]).code, 0);
    let r = project.run(&["run"]);
    assert_eq!(r.code, 1, "{}", r.text(&project));
    assert!(
        r.text(&project).contains("Conversion Error"),
        "{}",
        r.text(&project)
    );
    let db = project.db("incr.duckdb");
    assert_eq!(rows(&db, "select * from main.fragile"), "1\tfirst");
    drop(db);
    // The temporary table went with the rolled-back transaction.
    let r = project.run(&["run", "--full-refresh"]);
    assert_eq!(r.code, 0, "{}", r.text(&project));
}

/// As in dbt, the strategy is checked only when the model builds incrementally: the first
/// build and a full refresh make the table; the next run fails on the strategy, naming it and
/// the valid ones, and leaves the table.
#[test]
fn an_unknown_strategy_is_an_error_when_the_model_builds_incrementally() {
    let project = project_with(&[(
        "odd.sql",
        "-- upserts\n{{ config(materialized='incremental', incremental_strategy='upsert') }}\nselect 1 as id",
    )]);
    let first = project.run(&["run"]);
    assert_eq!(first.code, 0, "{}", first.text(&project));
    let r = project.run(&["run"]);
    assert_eq!(r.code, 1, "{}", r.text(&project));
    let text = r.text(&project);
    assert!(
        text.contains("Runtime Error in model odd (models/odd.sql)"),
        "{text}"
    );
    assert!(text.contains("incremental_strategy `upsert`"), "{text}");
    assert!(text.contains("append, delete+insert, merge"), "{text}");
    assert_eq!(project.run(&["run", "--full-refresh"]).code, 0);
}

#[test]
fn compile_renders_the_first_build_without_a_database() {
    let project = project_with(&[(
        "inc.sql",
        "{{ config(materialized='incremental') }}\nselect 1 as id\n{% if is_incremental() %}where id > (select max(id) from {{ this }}){% endif %}",
    )]);
    let r = project.run(&["compile"]);
    assert_eq!(r.code, 0, "{}", r.text(&project));
    let compiled = project.read("target/compiled/incr/models/inc.sql");
    assert!(!compiled.contains("max(id)"), "{compiled}");
}
