//! dbt-duckdb's own surface: profile keys (`extensions`, `settings`, `attach`, ...), external
//! sources and the `external` materialization, each checked against what dbt-duckdb 1.11
//! (dbt-core 1.11, Python `duckdb` 1.5.6) built from the same project.

mod common;

use common::{rows, Project};
use mallard::adapter::lock::WriteLock;

/// The `attach` fixture's two extra databases: `other.duckdb` with `raw.events` (5 rows), and
/// `ro.duckdb` with `lookup`, attached read-only.
fn attach_fixture() -> Project {
    let p = Project::fixture("attach");
    let other = duckdb::Connection::open(p.path().join("other.duckdb")).unwrap();
    other
        .execute_batch("create schema raw; create table raw.events as select range as id, range * 2 as amount from range(5)")
        .unwrap();
    drop(other);
    let ro = duckdb::Connection::open(p.path().join("ro.duckdb")).unwrap();
    ro.execute_batch("create table lookup as select 1 as id, 'one' as name")
        .unwrap();
    drop(ro);
    p
}

/// dbt-duckdb built `other.main_marts.doubled` (a table in the attached database, from a source
/// there and one in a read-only attachment) and `wh.main.local_view`, with these rows; Mallard
/// builds the same, with `extensions` of built-in extensions (which dbt-duckdb 1.11 tries to
/// download again, failing offline) and `settings`.
#[test]
fn attached_databases_serve_as_sources_and_as_a_models_database() {
    let p = attach_fixture();
    let run = p.run(&["build"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    // dbt names the database of a relation outside the target's.
    assert!(
        run.stdout
            .contains("1 of 2 OK created sql table model other.main_marts.doubled ..."),
        "{}",
        run.stdout
    );
    let other = p.db("other.duckdb");
    assert_eq!(
        rows(&other, "select table_schema, table_name, table_type from information_schema.tables where table_catalog = current_database() order by all"),
        "main_marts\tdoubled\tBASE TABLE\nraw\tevents\tBASE TABLE"
    );
    assert_eq!(
        rows(&other, "select * from main_marts.doubled order by id"),
        "0\t0\tNULL\n1\t4\tone\n2\t8\tNULL\n3\t12\tNULL\n4\t16\tNULL"
    );
    drop(other);
    let wh = p.db("wh.duckdb");
    assert_eq!(
        rows(&wh, "select table_schema, table_name, table_type from information_schema.tables where table_catalog = current_database() order by all"),
        "main\tlocal_view\tVIEW"
    );
}

/// An attached database a run writes is locked like the target's own file: while another
/// run holds it, a build is refused at once and writes nothing.
#[test]
fn an_attached_database_being_written_is_locked() {
    let p = attach_fixture();
    let held = WriteLock::acquire(&p.path().join("other.duckdb"), None).unwrap();
    let run = p.run(&["build"]);
    assert_eq!(run.code, 2, "{}", run.text(&p));
    assert!(run.text(&p).contains("other.duckdb"), "{}", run.text(&p));
    assert!(!p.path().join("wh.duckdb").exists(), "nothing was written");
    drop(held);
    assert_eq!(p.run(&["build"]).code, 0);
}

/// `database:` in the profile may name an attached database (dbt-duckdb's rule): models
/// without their own `database` are built there. Any other name is an error at its line.
#[test]
fn the_profiles_database_may_be_an_attached_alias() {
    let p = attach_fixture();
    let profiles = p.read("profiles.yml");
    p.write(
        "profiles.yml",
        &profiles.replace("path: wh.duckdb", "path: wh.duckdb\n      database: other"),
    );
    let run = p.run(&["build"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    let other = p.db("other.duckdb");
    assert_eq!(rows(&other, "select n, db from main.local_view"), "5\tother");
    drop(other);
    p.write(
        "profiles.yml",
        &profiles.replace("path: wh.duckdb", "path: wh.duckdb\n      database: elsewhere"),
    );
    let run = p.run(&["build"]);
    assert_eq!(run.code, 2, "{}", run.text(&p));
    assert!(
        run.text(&p).contains(
            "`database: elsewhere` is neither the catalog of `path` (`wh`) nor an attached database's alias"
        ),
        "{}",
        run.text(&p)
    );
}

/// The bytes of every file under `dir`, by path relative to it.
fn files(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    common::files_under(dir)
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().to_string();
            (rel, std::fs::read(&p).unwrap())
        })
        .collect()
}

/// External models build again over their own files (dbt-duckdb 1.11 fails the second build
/// of a partitioned one: "Directory ... is not empty"), and a build that fails leaves the
/// files of the previous one, byte for byte, with the views reading them.
#[test]
fn an_external_models_partition_by_outside_options_writes_one_file_with_a_warning() {
    // dbt-duckdb partitions files by `options: {partition_by: ...}` only.
    let p = Project::fixture("external_models");
    p.write(
        "models/orders_by_year.sql",
        "{{ config(partition_by='year') }}\nselect * from {{ ref('orders') }}\n",
    );
    let run = p.run(&["build"]);
    let text = run.text(&p);
    assert_eq!(run.code, 0, "{text}");
    assert!(
        text.contains("model `orders_by_year` (models/orders_by_year.sql) is `external` with `partition_by` outside `options`"),
        "{text}"
    );
    assert!(p.path().join("out/orders_by_year.parquet").is_file(), "{text}");
    assert!(!p.path().join("out/orders_by_year").exists(), "{text}");
}

#[test]
fn external_models_rebuild_and_a_failed_build_keeps_their_files() {
    let p = Project::fixture("external_models");
    let run = p.run(&["build"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    let out = p.path().join("out");
    let first = files(&out);
    assert_eq!(
        first.keys().cloned().collect::<Vec<_>>(),
        [
            ".gitkeep",
            "nothing.parquet",
            "orders.parquet",
            "orders_by_year/year=2024/data_0.parquet",
            "orders_by_year/year=2025/data_0.parquet",
            "orders_json.json",
            "orders_pipe.csv"
        ]
    );
    let run = p.run(&["build"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    assert_eq!(files(&out), first, "a second build writes the same files");

    // Every external model now fails while computing its rows (a cast error upstream of all
    // of them). Nothing of the first build may change.
    let orders = p.read("models/orders.sql");
    p.write(
        "models/orders.sql",
        &format!("{orders}\nunion all select 99, 2026, 1.0, cast('x' as integer)::varchar"),
    );
    let run = p.run(&["build"]);
    assert_eq!(run.code, 1, "{}", run.text(&p));
    assert_eq!(files(&out), first, "the failed build left the files as they were");
    let db = p.db("test.duckdb");
    assert_eq!(
        rows(&db, "select count(*), sum(amount) from orders_by_year"),
        "6\t22.5"
    );
    assert_eq!(rows(&db, "select n from read_back where source = 'csv'"), "6");
}
