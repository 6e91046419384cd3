//! Reliability of writing runs: one writer at a time, publish mode, and the previous
//! version of every relation surviving a failed run.

mod common;

use std::time::Duration;

use common::{rows, Project};
use mallard::adapter::lock::WriteLock;

#[test]
fn a_second_writer_is_refused_at_once_and_changes_nothing() {
    let p = Project::fixture("chain");
    assert_eq!(p.run(&["seed"]).code, 0);
    std::fs::remove_dir_all(p.path().join("target")).unwrap();
    let before = std::fs::read(p.path().join("test.duckdb")).unwrap();

    let held = WriteLock::acquire(&p.path().join("test.duckdb"), None).unwrap();
    let started = std::time::Instant::now();
    let run = p.run(&["build"]);
    assert_eq!(run.code, 2, "{}", run.text(&p));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused at once, not after a wait"
    );
    let pid = std::process::id().to_string();
    insta::with_settings!({filters => vec![(pid.as_str(), "[PID]"), (r"since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", "since [TIME]")]}, {
        insta::assert_snapshot!("lock_refused", run.text(&p));
    });
    assert!(
        !p.path().join("target").exists(),
        "a refused run writes no artifacts"
    );
    assert_eq!(
        std::fs::read(p.path().join("test.duckdb")).unwrap(),
        before,
        "nor touches the database"
    );

    // Read-only commands do not need the lock.
    assert_eq!(p.run(&["ls"]).code, 0);
    assert_eq!(p.run(&["compile"]).code, 0);

    // With --lock-timeout the run waits for the holder to finish.
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(700));
        drop(held);
    });
    let run = p.run(&["build", "--lock-timeout", "30"]);
    release.join().unwrap();
    assert_eq!(run.code, 0, "{}", run.text(&p));
}

#[test]
fn publish_mode_replaces_the_file_only_after_a_complete_run() {
    let p = Project::fixture("chain");
    assert_eq!(p.run(&["build", "--target", "published"]).code, 0);
    let count = "select count(*) from main_marts.customer_revenue";

    // A reader holds the published file open during the next run and is not in its way.
    let reader = p.db("test.duckdb");
    let run = p.run(&[
        "build",
        "--target",
        "published",
        "--vars",
        "{min_amount_cents: 1000}",
    ]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    assert!(run.stdout.contains("Published "), "{}", run.stdout);
    assert_eq!(
        rows(&reader, count),
        "3",
        "an open reader keeps the version it opened"
    );
    drop(reader);
    assert_eq!(
        rows(&p.db("test.duckdb"), count),
        "1",
        "new readers see the new version"
    );

    // A run that fails publishes nothing.
    p.write(
        "models/marts/customer_revenue.sql",
        "select no_such_column from {{ ref('stg_orders') }}",
    );
    let run = p.run(&["build", "--target", "published"]);
    assert_eq!(run.code, 1, "{}", run.text(&p));
    assert!(run.stdout.contains("Not published"), "{}", run.stdout);
    assert_eq!(rows(&p.db("test.duckdb"), count), "1");
    assert_eq!(
        std::fs::read_dir(p.path().join(".mallard-publish"))
            .unwrap()
            .count(),
        0,
        "the shadow copy is removed"
    );
}
