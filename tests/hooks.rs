//! Hooks that fail: a post-hook's failure rolls its model back, and a failed `on-run-start`
//! runs nothing. (tests/parity.rs checks working hooks against dbt.)

mod common;

use common::{rows, Project};

#[test]
fn a_failing_post_hook_leaves_the_previous_table() {
    let project = Project::fixture("hooks");
    assert_eq!(project.run(&["build"]).code, 0);
    project.write(
        "models/counted.sql",
        "{{ config(materialized='table', post_hook=['select * from no_such_table']) }}\nselect 99 as n",
    );
    let r = project.run(&["build"]);
    assert_eq!(r.code, 1, "{}", r.text(&project));
    assert!(r.text(&project).contains("no_such_table"), "{}", r.text(&project));
    let db = project.db("hooks.duckdb");
    assert_eq!(
        rows(&db, "select n from main.counted"),
        "11",
        "the model's table is the previous one"
    );
}

#[test]
fn a_failing_on_run_start_runs_no_node() {
    let project = Project::fixture("hooks");
    let yml = project.read("dbt_project.yml").replace(
        "create table if not exists main.audit (event varchar, run integer)",
        "select * from {{ var('missing_table', 'no_such_table') }}",
    );
    project.write("dbt_project.yml", &yml);
    let r = project.run(&["build"]);
    let text = r.text(&project);
    assert_eq!(r.code, 1, "{text}");
    assert!(text.contains("1 of 2 ERROR hook: hooks.on-run-start.0"), "{text}");
    assert!(text.contains("on-run-start failed: no node was run."), "{text}");
    let db = project.db("hooks.duckdb");
    assert_eq!(rows(&db, "select count(*) from information_schema.tables"), "0");
}
