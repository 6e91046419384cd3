//! Snapshot behaviour dbt's parity fixture cannot pin (it stamps with the clock): hard deletes,
//! `check` without `updated_at`, the `snapshot` command, and configuration errors.

mod common;

use common::{rows, Project};

const SOURCE: &str = "select id, name, status, updated_at from {{ ref('customer_versions') }} where version = {{ var('version') }}";

fn project_with(snapshot: &str) -> Project {
    let project = Project::fixture("snapshots");
    std::fs::remove_dir_all(project.path().join("snapshots")).unwrap();
    std::fs::remove_dir_all(project.path().join("models")).unwrap();
    project.write("snapshots/s.sql", snapshot);
    project
}

#[test]
fn hard_deletes_close_the_current_version_and_a_return_opens_a_new_one() {
    let project = project_with(&format!(
        "{{% snapshot by_clock %}}\n{{{{ config(unique_key='id', strategy='check', check_cols=['status'], hard_deletes='invalidate') }}}}\n{SOURCE}\n{{% endsnapshot %}}\n"
    ));
    assert_eq!(project.run(&["seed"]).code, 0);
    for version in 1..=3 {
        let r = project.run(&["snapshot", "--vars", &format!("{{version: {version}}}")]);
        assert_eq!(r.code, 0, "{}", r.text(&project));
        assert!(
            r.stdout.contains("OK snapshotted snapshots.by_clock"),
            "{}",
            r.stdout
        );
    }
    let db = project.db("snap.duckdb");
    // cy (3) is gone in version 2 and back in 3: two versions, the first closed.
    assert_eq!(
        rows(
            &db,
            "select status, dbt_valid_to is null from snapshots.by_clock where id = 3 order by dbt_valid_from"
        ),
        "trial\tfalse\nactive\ttrue"
    );
    // Every key has exactly one current version, stamped by the run's clock.
    assert_eq!(
        rows(
            &db,
            "select count(*), count(distinct id) from snapshots.by_clock where dbt_valid_to is null"
        ),
        "4\t4"
    );
    // 3 first versions, 2 more (ann churned, dee new), 4 more (every status changed or came back).
    assert_eq!(rows(&db, "select count(*) from snapshots.by_clock"), "9");
}

/// dbt 1.9's `hard_deletes: new_record`: a key gone from the query gets a version that records
/// the deletion (`dbt_is_deleted = 'True'`), recorded once however many runs it stays gone, and
/// its return opens a new version. The rows (without the clock's columns) are those dbt-duckdb
/// 1.11 wrote for the same runs (checked by hand, 2026-12-07: the clock stamps them).
#[test]
fn new_record_hard_deletes_record_the_deletion_as_a_version() {
    let project = project_with(&format!(
        "{{% snapshot gone %}}\n{{{{ config(unique_key='id', strategy='timestamp', updated_at='updated_at', hard_deletes='new_record') }}}}\n{SOURCE}\n{{% endsnapshot %}}\n"
    ));
    assert_eq!(project.run(&["seed"]).code, 0);
    // cy (3) is in versions 1 and 3 only; version 2 runs twice.
    for version in [1, 2, 2, 3] {
        let r = project.run(&["snapshot", "--vars", &format!("{{version: {version}}}")]);
        assert_eq!(r.code, 0, "{}", r.text(&project));
    }
    let db = project.db("snap.duckdb");
    assert_eq!(
        rows(
            &db,
            "select status, dbt_is_deleted, dbt_valid_to is null from snapshots.gone where id = 3 order by dbt_valid_from, dbt_is_deleted"
        ),
        // The return is stamped with its `updated_at`, before the deletion's clock time.
        "trial\tFalse\tfalse\nactive\tFalse\ttrue\ntrial\tTrue\tfalse"
    );
    assert_eq!(
        rows(
            &db,
            "select count(*) from snapshots.gone where dbt_valid_to is null and dbt_is_deleted = 'True'"
        ),
        "0"
    );
}

#[test]
fn a_snapshot_without_a_strategy_is_an_error_at_its_config() {
    let project = project_with(&format!(
        "{{% snapshot s %}}\n{{{{ config(unique_key='id') }}}}\n{SOURCE}\n{{% endsnapshot %}}\n"
    ));
    let r = project.run(&["snapshot"]);
    assert_eq!(r.code, 2, "{}", r.text(&project));
    let text = r.text(&project);
    assert!(
        text.contains("snapshot `s`: a snapshot needs a `strategy`"),
        "{text}"
    );
    assert!(text.contains("snapshots/s.sql:2"), "{text}");
}

#[test]
fn an_unclosed_snapshot_block_is_an_error() {
    let project = project_with(&format!("{{% snapshot s %}}\n{SOURCE}\n"));
    let r = project.run(&["ls"]);
    assert_eq!(r.code, 2, "{}", r.text(&project));
    assert!(
        r.text(&project).contains("has no `{% endsnapshot %}`"),
        "{}",
        r.text(&project)
    );
}
